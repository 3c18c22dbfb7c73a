// Pure map geometry (no I/O except the tile-template setting at the bottom): Web Mercator (EPSG:3857)
// projection, metres <-> pixels, geodesic circles, fitting a view to content, slippy-map tile ranges.
//
// Coordinates: "world units" are Web Mercator pixels at zoom 0, a 256 x 256 square with (0, 0) at
// 180°W / 85.05°N. At zoom z a world unit is 2^z screen pixels.

import { t } from './i18n';

/** Side of the zoom-0 world square and of one raster tile, in pixels. */
export const TILE_SIZE = 256;
/** WGS 84 equatorial radius in metres (the sphere Web Mercator uses). */
export const EARTH_RADIUS_M = 6_378_137;
/** Latitude where Web Mercator's square world ends. */
export const MAX_LAT = 85.0511287798066;
/** Zoom range of the map (19 is about 0.3 m per pixel at the equator). */
export const MIN_ZOOM = 0;
export const MAX_ZOOM = 19;

export interface LatLon {
  lat: number;
  lon: number;
}

/** A point in world units (zoom-0 Web Mercator pixels) or on screen. */
export interface Point {
  x: number;
  y: number;
}

/** What the map shows: the world-unit point at the centre of the viewport, and the zoom. */
export interface View {
  cx: number;
  cy: number;
  zoom: number;
}

export interface Size {
  width: number;
  height: number;
}

export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

const DEG = Math.PI / 180;

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** Latitude/longitude to world units. Latitudes past ±85.05° are clamped; longitudes are not wrapped. */
export function project(p: LatLon): Point {
  const lat = clamp(p.lat, -MAX_LAT, MAX_LAT) * DEG;
  return {
    x: ((p.lon + 180) / 360) * TILE_SIZE,
    y: ((1 - Math.log(Math.tan(Math.PI / 4 + lat / 2)) / Math.PI) / 2) * TILE_SIZE,
  };
}

/** World units back to latitude/longitude. */
export function unproject(p: Point): LatLon {
  const lon = (p.x / TILE_SIZE) * 360 - 180;
  const n = Math.PI * (1 - (2 * p.y) / TILE_SIZE);
  const lat = Math.atan(Math.sinh(n)) / DEG;
  return { lat, lon };
}

/** Screen pixels per world unit at a zoom. */
export function scaleOf(zoom: number): number {
  return 2 ** zoom;
}

/** Ground metres covered by one screen pixel at a latitude and zoom. */
export function metresPerPixel(lat: number, zoom: number): number {
  return (Math.cos(clamp(lat, -MAX_LAT, MAX_LAT) * DEG) * 2 * Math.PI * EARTH_RADIUS_M) / (TILE_SIZE * scaleOf(zoom));
}

/** A ground distance at a latitude as screen pixels at a zoom (exact for small distances). */
export function metresToPixels(m: number, lat: number, zoom: number): number {
  return m / metresPerPixel(lat, zoom);
}

/** Screen pixels at a latitude and zoom as ground metres. */
export function pixelsToMetres(px: number, lat: number, zoom: number): number {
  return px * metresPerPixel(lat, zoom);
}

/** Great-circle distance in metres (haversine). */
export function distanceMetres(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * DEG;
  const dLon = (b.lon - a.lon) * DEG;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * DEG) * Math.cos(b.lat * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The point `m` metres from `from` along an initial bearing (degrees clockwise from north). */
export function destination(from: LatLon, bearingDeg: number, m: number): LatLon {
  const d = m / EARTH_RADIUS_M;
  const b = bearingDeg * DEG;
  const la1 = from.lat * DEG;
  const lo1 = from.lon * DEG;
  const la2 = Math.asin(Math.sin(la1) * Math.cos(d) + Math.cos(la1) * Math.sin(d) * Math.cos(b));
  const lo2 = lo1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la1), Math.cos(d) - Math.sin(la1) * Math.sin(la2));
  return { lat: la2 / DEG, lon: lo2 / DEG };
}

/**
 * The point at the same latitude `m` metres east of `from` (by great-circle distance): where a
 * circle's radius handle sits, so dragging it sideways measures exactly the distance shown.
 */
export function eastOf(from: LatLon, m: number): LatLon {
  const c = Math.max(1e-12, Math.cos(from.lat * DEG));
  const s = Math.min(1, Math.sin(m / EARTH_RADIUS_M / 2) / c);
  return { lat: from.lat, lon: from.lon + (2 * Math.asin(s)) / DEG };
}

/**
 * A circle of `radiusM` metres on the ground as a ring of world-unit points (a polygon, because a
 * ground circle is not a circle in Mercator once it is large). Longitudes are kept continuous with
 * the centre's, so a ring that crosses the antimeridian does not jump across the map.
 */
export function circleRing(centre: LatLon, radiusM: number, steps = 72): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < steps; i++) {
    const p = destination(centre, (360 * i) / steps, radiusM);
    let lon = p.lon;
    while (lon - centre.lon > 180) lon -= 360;
    while (lon - centre.lon < -180) lon += 360;
    out.push(project({ lat: p.lat, lon }));
  }
  return out;
}

/** World units to screen pixels for a view of a given size. */
export function toScreen(p: Point, view: View, size: Size): Point {
  const s = scaleOf(view.zoom);
  return { x: (p.x - view.cx) * s + size.width / 2, y: (p.y - view.cy) * s + size.height / 2 };
}

/** Screen pixels to world units. */
export function toWorld(p: Point, view: View, size: Size): Point {
  const s = scaleOf(view.zoom);
  return { x: (p.x - size.width / 2) / s + view.cx, y: (p.y - size.height / 2) / s + view.cy };
}

/**
 * The smallest zoom: the world as tall as the viewport. A viewport wider than that shows the world
 * repeated side by side, as slippy maps do.
 */
export function minZoomFor(size: Size): number {
  return clamp(Math.log2(Math.max(1, size.height) / TILE_SIZE), MIN_ZOOM, MAX_ZOOM);
}

/** Keeps the zoom in range, the viewport's top and bottom on the world, and the centre's x on [0, 256). */
export function clampView(v: View, size: Size): View {
  const zoom = clamp(v.zoom, minZoomFor(size), MAX_ZOOM);
  const hh = size.height / 2 / scaleOf(zoom);
  const cy = 2 * hh >= TILE_SIZE ? TILE_SIZE / 2 : clamp(v.cy, hh, TILE_SIZE - hh);
  const cx = ((v.cx % TILE_SIZE) + TILE_SIZE) % TILE_SIZE;
  return { cx, cy, zoom };
}

/** The copy of a world point (shifted by whole worlds east or west) nearest to x = `cx`. */
export function nearestCopy(p: Point, cx: number): Point {
  return { x: p.x + TILE_SIZE * Math.round((cx - p.x) / TILE_SIZE), y: p.y };
}

/** A longitude brought onto [-180, 180). */
export function wrapLon(lon: number): number {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/** Changes the zoom by `dz` keeping the world point under the screen point `anchor` where it is. */
export function zoomAround(v: View, size: Size, dz: number, anchor: Point): View {
  const before = toWorld(anchor, v, size);
  const zoom = clamp(v.zoom + dz, minZoomFor(size), MAX_ZOOM);
  const s = scaleOf(zoom);
  const next = { cx: before.x - (anchor.x - size.width / 2) / s, cy: before.y - (anchor.y - size.height / 2) / s, zoom };
  return clampView(next, size);
}

/** Moves the view by a screen-pixel offset (content moves with the pointer: drag right shows what is west). */
export function panBy(v: View, size: Size, dx: number, dy: number): View {
  const s = scaleOf(v.zoom);
  return clampView({ cx: v.cx - dx / s, cy: v.cy - dy / s, zoom: v.zoom }, size);
}

/**
 * Bounds of world-unit points on the round world: the narrowest span, which may cross the
 * antimeridian (then maxX is past 256). Null for none.
 */
export function wrappedBoundsOf(points: Point[]): Bounds | null {
  const b = boundsOf(points);
  if (!b || points.length < 2) return b;
  const xs = points.map((p) => ((p.x % TILE_SIZE) + TILE_SIZE) % TILE_SIZE).sort((a, c) => a - c);
  let gap = xs[0] + TILE_SIZE - xs[xs.length - 1];
  let at = -1;
  for (let i = 0; i + 1 < xs.length; i++) {
    if (xs[i + 1] - xs[i] > gap) {
      gap = xs[i + 1] - xs[i];
      at = i;
    }
  }
  if (at < 0) return { ...b, minX: xs[0], maxX: xs[xs.length - 1] };
  return { ...b, minX: xs[at + 1], maxX: xs[at] + TILE_SIZE };
}

/** Bounds of world-unit points; null for none. */
export function boundsOf(points: Point[]): Bounds | null {
  if (points.length === 0) return null;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of points) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  return { minX, minY, maxX, maxY };
}

/**
 * The view that shows `b` whole with `padding` screen pixels around it, zoomed in no further than
 * `maxZoom` (a single point would otherwise zoom to the street). No bounds: the whole world.
 */
export function fitBounds(b: Bounds | null, size: Size, padding = 32, maxZoom = 15): View {
  const min = minZoomFor(size);
  if (!b) return { cx: TILE_SIZE / 2, cy: TILE_SIZE / 2, zoom: min };
  const w = Math.max(1, size.width - 2 * padding);
  const h = Math.max(1, size.height - 2 * padding);
  const bw = b.maxX - b.minX;
  const bh = b.maxY - b.minY;
  const zx = bw > 0 ? Math.log2(w / bw) : Infinity;
  const zy = bh > 0 ? Math.log2(h / bh) : Infinity;
  const zoom = clamp(Math.min(zx, zy, maxZoom), min, MAX_ZOOM);
  return clampView({ cx: (b.minX + b.maxX) / 2, cy: (b.minY + b.maxY) / 2, zoom }, size);
}

/** True when the world-unit bounds lie inside the viewport (less `margin` pixels at each edge). */
export function boundsVisible(b: Bounds, v: View, size: Size, margin = 0): boolean {
  const a = toScreen({ x: b.minX, y: b.minY }, v, size);
  const c = toScreen({ x: b.maxX, y: b.maxY }, v, size);
  return a.x >= margin && a.y >= margin && c.x <= size.width - margin && c.y <= size.height - margin;
}

/** One raster tile to draw: its address and where it goes on screen. */
export interface TilePlacement {
  /** Unique among the tiles of one view (x before wrapping). */
  key: string;
  z: number;
  x: number;
  y: number;
  left: number;
  top: number;
  size: number;
  url: string;
}

/**
 * The slippy-map tiles that cover a view, at the integer zoom nearest the view's, with x wrapped
 * around the world and rows off the world skipped. At most `limit` tiles.
 */
export function tilesFor(v: View, size: Size, template: string, maxTileZoom = MAX_ZOOM, limit = 100): TilePlacement[] {
  const z = clamp(Math.round(v.zoom), 0, maxTileZoom);
  const n = 2 ** z;
  const tilePx = TILE_SIZE * scaleOf(v.zoom - z);
  const unitsPerTile = TILE_SIZE / n;
  const tl = toWorld({ x: 0, y: 0 }, v, size);
  const br = toWorld({ x: size.width, y: size.height }, v, size);
  // A hair of tolerance so rounding at an exact tile edge does not add a row or column off screen.
  const eps = 1e-9;
  const x0 = Math.floor(tl.x / unitsPerTile + eps);
  const x1 = Math.ceil(br.x / unitsPerTile - eps) - 1;
  const y0 = Math.max(0, Math.floor(tl.y / unitsPerTile + eps));
  const y1 = Math.min(n - 1, Math.ceil(br.y / unitsPerTile - eps) - 1);
  const out: TilePlacement[] = [];
  for (let ty = y0; ty <= y1; ty++) {
    for (let tx = x0; tx <= x1; tx++) {
      if (out.length >= limit) return out;
      const wx = ((tx % n) + n) % n;
      const at = toScreen({ x: tx * unitsPerTile, y: ty * unitsPerTile }, v, size);
      out.push({ key: `${z}/${tx}/${ty}`, z, x: wx, y: ty, left: at.x, top: at.y, size: tilePx, url: tileUrl(template, z, wx, ty) });
    }
  }
  return out;
}

export function tileUrl(template: string, z: number, x: number, y: number): string {
  return template.replace(/\{z\}/g, String(z)).replace(/\{x\}/g, String(x)).replace(/\{y\}/g, String(y));
}

/**
 * Why a tile URL template is unusable, or null when it is fine: it must be an https URL with a host
 * and contain {z}, {x} and {y}. The empty string is fine (it means offline only).
 */
export function tileTemplateProblem(template: string): string | null {
  const tpl = template.trim();
  if (tpl === '') return null;
  if (!/^https:\/\//i.test(tpl)) return t('geo.tileHttps');
  if (!/^https:\/\/[^/?#]/i.test(tpl)) return t('geo.tileServerAfter');
  for (const k of ['{z}', '{x}', '{y}']) if (!tpl.includes(k)) return t('geo.tilePlaceholder', { k });
  let u: URL;
  try {
    u = new URL(tileUrl(tpl, 0, 0, 0));
  } catch {
    return t('geo.tileInvalid');
  }
  if (u.protocol !== 'https:' || u.hostname === '') return t('geo.tileServer');
  if (u.username || u.password) return t('geo.tileCredentials');
  return null;
}

/** localStorage key of the tile URL template (absent or empty: offline basemap only). */
export const TILE_SETTING_KEY = 'casebridge.map.tileTemplate';

/** The configured tile template, or null for offline only (also when the stored value is invalid). */
export function loadTileTemplate(): string | null {
  let t: string | null = null;
  try {
    t = globalThis.localStorage?.getItem(TILE_SETTING_KEY) ?? null;
  } catch {
    return null;
  }
  if (!t || t.trim() === '' || tileTemplateProblem(t) !== null) return null;
  return t.trim();
}

/** Stores the tile template (validated by the caller); empty removes it. */
export function saveTileTemplate(template: string): void {
  const t = template.trim();
  if (t === '') globalThis.localStorage?.removeItem(TILE_SETTING_KEY);
  else globalThis.localStorage?.setItem(TILE_SETTING_KEY, t);
}

/** A ring of world-unit points as an SVG path (screen coordinates for the view), closed. */
export function ringPath(ring: Point[], v: View, size: Size): string {
  if (ring.length === 0) return '';
  const parts = ring.map((p, i) => {
    const s = toScreen(p, v, size);
    return `${i === 0 ? 'M' : 'L'}${s.x.toFixed(1)},${s.y.toFixed(1)}`;
  });
  return parts.join('') + 'Z';
}
