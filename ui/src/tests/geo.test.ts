import { describe, it, expect, beforeEach } from 'vitest';
import {
  circlePolygon,
  contentBounds,
  destination,
  distanceMetres,
  eastOf,
  loadTileTemplate,
  saveTileTemplate,
  tileTemplateProblem,
  wrapLon,
  TILE_SETTING_KEY,
} from '../lib/geo';

describe('ground distances and circles', () => {
  it('finds the point east of a centre at an exact distance', () => {
    const c = { lat: 48.85, lon: 2.35 };
    expect(distanceMetres(c, eastOf(c, 1234))).toBeCloseTo(1234, 6);
    expect(distanceMetres(c, destination(c, 200, 9000))).toBeCloseTo(9000, 4);
  });

  it('draws a ground circle as a closed counter-clockwise ring of points at the radius', () => {
    const c = { lat: 52.52, lon: 13.405 };
    const ring = circlePolygon(c, 500, 36);
    expect(ring).toHaveLength(37);
    expect(ring[36]).toEqual(ring[0]);
    for (const [lon, lat] of ring) expect(distanceMetres(c, { lat, lon })).toBeCloseTo(500, 3);
    // Shoelace area > 0: counter-clockwise (GeoJSON's exterior rings).
    let area = 0;
    for (let i = 0; i < 36; i++) area += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
    expect(area).toBeGreaterThan(0);
  });

  it('keeps a ring across the antimeridian continuous', () => {
    const ring = circlePolygon({ lat: -17, lon: 179.9 }, 50_000, 36);
    const lons = ring.map((p) => p[0]);
    expect(Math.max(...lons) - Math.min(...lons)).toBeLessThan(2);
    expect(wrapLon(181)).toBeCloseTo(-179, 9);
  });
});

describe('content bounds', () => {
  it('covers points and circles, and is null for nothing', () => {
    expect(contentBounds([])).toBeNull();
    const b = contentBounds([{ lat: 52.5, lon: 13.4 }, { lat: 52.6, lon: 13.2 }], [{ lat: 52.52, lon: 13.405, radius_m: 1000 }])!;
    expect(b[0]).toBeCloseTo(13.2, 6);
    expect(b[2]).toBeGreaterThan(13.405 + 0.01);
    expect(b[1]).toBeCloseTo(52.5, 6);
    expect(b[3]).toBeCloseTo(52.6, 6);
  });

  it('takes the narrow way across the antimeridian', () => {
    const b = contentBounds([{ lat: -17, lon: 179.5 }, { lat: -18, lon: -179.5 }])!;
    expect(b[0]).toBeCloseTo(179.5, 6);
    expect(b[2]).toBeCloseTo(180.5, 6);
  });
});

describe('tile server setting', () => {
  it('validates tile templates', () => {
    expect(tileTemplateProblem('')).toBeNull();
    expect(tileTemplateProblem('https://tile.example.org/{z}/{x}/{y}.png')).toBeNull();
    expect(tileTemplateProblem('http://tile.example.org/{z}/{x}/{y}.png')).toMatch(/https/);
    expect(tileTemplateProblem('https://tile.example.org/{z}/{x}.png')).toMatch(/\{y\}/);
    expect(tileTemplateProblem('https:///{z}/{x}/{y}')).not.toBeNull();
    expect(tileTemplateProblem('https://u:p@tile.example.org/{z}/{x}/{y}.png')).toMatch(/password/);
    expect(tileTemplateProblem('javascript:alert(1)//{z}{x}{y}')).toMatch(/https/);
  });

  describe('setting', () => {
    beforeEach(() => localStorage.clear());
    it('is offline by default and ignores a bad stored value', () => {
      expect(loadTileTemplate()).toBeNull();
      localStorage.setItem(TILE_SETTING_KEY, 'http://bad/{z}/{x}/{y}');
      expect(loadTileTemplate()).toBeNull();
      saveTileTemplate(' https://t.example/{z}/{x}/{y}.png ');
      expect(loadTileTemplate()).toBe('https://t.example/{z}/{x}/{y}.png');
      saveTileTemplate('');
      expect(localStorage.getItem(TILE_SETTING_KEY)).toBeNull();
    });
  });
});
