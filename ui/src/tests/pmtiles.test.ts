/// <reference types="node" />
// The test suite's own street map (tests/fixtures/make_test_pmtiles.py) read back with the reader the
// map uses (`pmtiles`) and MapLibre's vector-tile decoder: the file the Rust tests and the desktop E2E
// use is a real PMTiles v3 file of vector tiles, with the road, water and building in it.
// @vitest-environment node
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PMTiles, TileType, type RangeResponse, type Source } from 'pmtiles';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';

const BUILDER = resolve(__dirname, '../../../tests/fixtures/make_test_pmtiles.py');

class BufferSource implements Source {
  constructor(private readonly bytes: Uint8Array) {}
  getKey() {
    return 'test';
  }
  async getBytes(offset: number, length: number): Promise<RangeResponse> {
    const b = this.bytes.slice(offset, offset + length);
    return { data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
  }
}

function tileOf(lon: number, lat: number, z: number): [number, number] {
  const n = 2 ** z;
  const s = Math.sin((lat * Math.PI) / 180);
  return [Math.floor(((lon + 180) / 360) * n), Math.floor((0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * n)];
}

describe('the test PMTiles file', () => {
  it('is PMTiles v3 vector tiles with the test streets at every zoom', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cb-pmtiles-'));
    try {
      const out = join(dir, 'test.pmtiles');
      execFileSync('python3', [BUILDER, out]);
      const p = new PMTiles(new BufferSource(new Uint8Array(readFileSync(out))));
      const h = await p.getHeader();
      expect(h.specVersion).toBe(3);
      expect(h.tileType).toBe(TileType.Mvt);
      expect([h.minZoom, h.maxZoom]).toEqual([0, 15]);
      expect(h.centerLat).toBeCloseTo(52.52, 5);
      const meta = (await p.getMetadata()) as { vector_layers: { id: string }[] };
      expect(meta.vector_layers.map((l) => l.id).sort()).toEqual(['buildings', 'landuse', 'places', 'roads', 'water']);
      for (const z of [0, 8, 14, 15]) {
        const [x, y] = tileOf(13.405, 52.52, z);
        const t = await p.getZxy(z, x, y);
        expect(t, `tile ${z}/${x}/${y}`).toBeDefined();
        const vt = new VectorTile(new PbfReader(new Uint8Array(t!.data)));
        const roads = vt.layers.roads;
        const names = Array.from({ length: roads.length }, (_, i) => roads.feature(i).properties.name).sort();
        expect(names).toEqual(['Probeweg', 'Teststrasse']);
        expect(roads.feature(0).type).toBe(2);
        expect(vt.layers.water.feature(0).type).toBe(3);
        expect(vt.layers.buildings.feature(0).properties.kind).toBe('building');
        // The road runs along 52.52 N: at its tile's zoom its points lie on one row of the tile.
        const line = roads.feature(0).loadGeometry()[0];
        expect(line).toHaveLength(2);
        expect(line[0].y).toBe(line[1].y);
      }
      // Outside the area there is no tile.
      expect(await p.getZxy(15, 0, 0)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
