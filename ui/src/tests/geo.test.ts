import { describe, it, expect, beforeEach } from 'vitest';
import {
  boundsOf,
  circleRing,
  clampView,
  destination,
  distanceMetres,
  eastOf,
  fitBounds,
  loadTileTemplate,
  metresPerPixel,
  metresToPixels,
  pixelsToMetres,
  project,
  saveTileTemplate,
  tileTemplateProblem,
  tilesFor,
  toScreen,
  toWorld,
  unproject,
  zoomAround,
  panBy,
  nearestCopy,
  wrapLon,
  wrappedBoundsOf,
  TILE_SETTING_KEY,
} from '../lib/geo';

describe('Web Mercator projection', () => {
  it('puts known points where slippy maps put them', () => {
    expect(project({ lat: 0, lon: 0 })).toEqual({ x: 128, y: 128 });
    const nw = project({ lat: 85.0511287798066, lon: -180 });
    expect(nw.x).toBeCloseTo(0, 9);
    expect(nw.y).toBeCloseTo(0, 6);
    // Berlin: tile 8802/5373 at zoom 14 (as OpenStreetMap numbers it).
    const b = project({ lat: 52.52, lon: 13.405 });
    expect(Math.floor((b.x / 256) * 2 ** 14)).toBe(8802);
    expect(Math.floor((b.y / 256) * 2 ** 14)).toBe(5373);
  });

  it('round-trips latitude and longitude', () => {
    for (const p of [
      { lat: 52.52, lon: 13.405 },
      { lat: -33.8688, lon: 151.2093 },
      { lat: 64.1466, lon: -21.9426 },
      { lat: 0, lon: -179.999 },
    ]) {
      const q = unproject(project(p));
      expect(q.lat).toBeCloseTo(p.lat, 9);
      expect(q.lon).toBeCloseTo(p.lon, 9);
    }
  });

  it('clamps latitudes past the square world', () => {
    expect(project({ lat: 90, lon: 0 }).y).toBeCloseTo(0, 6);
    expect(project({ lat: -90, lon: 0 }).y).toBeCloseTo(256, 6);
  });
});

describe('metres and pixels', () => {
  it('uses the standard ground resolution', () => {
    // 156543.03 m per pixel at the equator at zoom 0.
    expect(metresPerPixel(0, 0)).toBeCloseTo(156543.034, 2);
    expect(metresPerPixel(60, 1)).toBeCloseTo(156543.034 / 2 / 2, 2);
  });

  it('round-trips metres -> pixels -> metres at any latitude and zoom', () => {
    for (const lat of [0, 45, 52.52, -70])
      for (const zoom of [2, 10.5, 17])
        for (const m of [1, 500, 25_000]) expect(pixelsToMetres(metresToPixels(m, lat, zoom), lat, zoom)).toBeCloseTo(m, 6);
  });

  it('draws a ground circle whose projected radius matches metresToPixels', () => {
    const c = { lat: 52.52, lon: 13.405 };
    const zoom = 14;
    const ring = circleRing(c, 500, 36);
    const centre = project(c);
    for (const p of ring) {
      const r = Math.hypot(p.x - centre.x, p.y - centre.y) * 2 ** zoom;
      expect(r).toBeGreaterThan(metresToPixels(500, c.lat, zoom) * 0.99);
      expect(r).toBeLessThan(metresToPixels(500, c.lat, zoom) * 1.01);
    }
    // Every ring point is 500 m from the centre on the ground.
    for (const p of ring) expect(distanceMetres(c, unproject(p))).toBeCloseTo(500, 3);
  });

  it('finds the point east of a centre at an exact distance', () => {
    const c = { lat: 48.85, lon: 2.35 };
    expect(distanceMetres(c, eastOf(c, 1234))).toBeCloseTo(1234, 6);
    expect(distanceMetres(c, destination(c, 200, 9000))).toBeCloseTo(9000, 4);
  });

  it('keeps a ring across the antimeridian continuous', () => {
    const ring = circleRing({ lat: -17, lon: 179.9 }, 50_000, 36);
    const xs = ring.map((p) => p.x);
    expect(Math.max(...xs) - Math.min(...xs)).toBeLessThan(2);
  });
});

describe('views', () => {
  const size = { width: 800, height: 400 };

  it('converts screen <-> world both ways', () => {
    const v = { cx: 137.5, cy: 83.9, zoom: 9.3 };
    const p = { x: 123, y: 321 };
    const w = toWorld(p, v, size);
    const s = toScreen(w, v, size);
    expect(s.x).toBeCloseTo(p.x, 6);
    expect(s.y).toBeCloseTo(p.y, 6);
  });

  it('zooms around the pointer and pans with it', () => {
    const v = clampView({ cx: 137.5, cy: 83.9, zoom: 9 }, size);
    const anchor = { x: 600, y: 100 };
    const before = toWorld(anchor, v, size);
    const z = zoomAround(v, size, 1.5, anchor);
    const after = toWorld(anchor, z, size);
    expect(z.zoom).toBe(10.5);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
    const p = panBy(v, size, 100, 0);
    expect(toScreen({ x: v.cx, y: v.cy }, p, size).x).toBeCloseTo(500, 6);
  });

  it('never zooms out past a world as tall as the viewport, and wraps sideways', () => {
    const v = clampView({ cx: 0, cy: 0, zoom: -3 }, size);
    expect(2 ** v.zoom * 256).toBeCloseTo(400, 6);
    expect(v.cy).toBe(128);
    const z = clampView({ cx: 300, cy: 0, zoom: 4 }, size);
    expect(z.cx).toBeCloseTo(44, 9);
    expect(toScreen({ x: 0, y: 0 }, z, size).y).toBeCloseTo(0, 6);
    expect(nearestCopy({ x: 250, y: 1 }, 3).x).toBe(-6);
    expect(wrapLon(190)).toBe(-170);
    expect(wrapLon(-180)).toBe(-180);
  });

  it('fits content across the antimeridian by its narrow side', () => {
    const b = wrappedBoundsOf([project({ lat: -17, lon: 179 }), project({ lat: -18, lon: -179 })])!;
    expect(b.maxX - b.minX).toBeCloseTo((2 / 360) * 256, 9);
    expect(b.minX).toBeCloseTo(project({ lat: 0, lon: 179 }).x, 9);
    const n = wrappedBoundsOf([project({ lat: 0, lon: -10 }), project({ lat: 0, lon: 10 })])!;
    expect(n.minX).toBeLessThan(n.maxX);
    expect(n.maxX - n.minX).toBeCloseTo((20 / 360) * 256, 9);
  });

  it('fits bounds with padding and a zoom cap', () => {
    const b = boundsOf([project({ lat: 52.5, lon: 13.3 }), project({ lat: 52.55, lon: 13.5 })]);
    const v = fitBounds(b, size, 20);
    const a = toScreen({ x: b!.minX, y: b!.minY }, v, size);
    const c = toScreen({ x: b!.maxX, y: b!.maxY }, v, size);
    expect(a.x).toBeGreaterThanOrEqual(19.99);
    expect(c.x).toBeLessThanOrEqual(780.01);
    expect(a.y).toBeGreaterThanOrEqual(19.99);
    expect(c.y).toBeLessThanOrEqual(380.01);
    expect(Math.max(c.x - a.x - 760, c.y - a.y - 360)).toBeCloseTo(0, 6);
    const single = fitBounds(boundsOf([project({ lat: 1, lon: 1 })]), size, 20, 15);
    expect(single.zoom).toBe(15);
    expect(fitBounds(null, size).zoom).toBeCloseTo(Math.log2(400 / 256), 9);
  });
});

describe('tiles', () => {
  it('covers the view with tiles of the nearest zoom', () => {
    const size = { width: 512, height: 512 };
    const t = tilesFor({ cx: 128, cy: 128, zoom: 1 }, size, 'https://t.example/{z}/{x}/{y}.png');
    expect(t.map((x) => x.url).sort()).toEqual([
      'https://t.example/1/0/0.png',
      'https://t.example/1/0/1.png',
      'https://t.example/1/1/0.png',
      'https://t.example/1/1/1.png',
    ]);
    expect(t.every((x) => x.size === 256)).toBe(true);
  });

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
