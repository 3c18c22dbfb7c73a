// Map geometry the MapLibre map does not do itself (ground distances and circles for brief areas, a
// content's bounds) and the tile-server setting. Coordinates are degrees (WGS 84).

import { t } from './i18n';

/** WGS 84 equatorial radius in metres (the sphere Web Mercator uses). */
export const EARTH_RADIUS_M = 6_378_137;
/** Latitude where Web Mercator's square world ends. */
export const MAX_LAT = 85.0511287798066;
const DEG = Math.PI / 180;

export interface LatLon {
  lat: number;
  lon: number;
}

/** West, south, east, north in degrees (east may exceed 180 when content crosses the antimeridian). */
export type LonLatBounds = [number, number, number, number];

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
 * A circle of `radiusM` metres on the ground as a closed ring of [lon, lat] (a GeoJSON polygon ring,
 * counter-clockwise): a ground circle is not a circle in Mercator once it is large. Longitudes stay
 * continuous with the centre's, so a ring across the antimeridian does not jump across the map.
 */
export function circlePolygon(centre: LatLon, radiusM: number, steps = 72): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < steps; i++) {
    const p = destination(centre, 360 - (360 * i) / steps, radiusM);
    let lon = p.lon;
    while (lon - centre.lon > 180) lon -= 360;
    while (lon - centre.lon < -180) lon += 360;
    out.push([lon, Math.max(-MAX_LAT, Math.min(MAX_LAT, p.lat))]);
  }
  out.push(out[0]);
  return out;
}

/**
 * The bounds of points and ground circles, taking the narrower way round the world (content on both
 * sides of the antimeridian is one group, not the whole world). Null when there is nothing.
 */
export function contentBounds(points: LatLon[], circles: { lat: number; lon: number; radius_m: number }[] = []): LonLatBounds | null {
  const pts: [number, number][] = points.map((p) => [p.lon, p.lat]);
  for (const c of circles) pts.push(...circlePolygon(c, c.radius_m, 16));
  if (pts.length === 0) return null;
  const lats = pts.map((p) => p[1]);
  const lons = pts.map((p) => wrapLon(p[0])).sort((a, b) => a - b);
  // The widest gap between neighbouring longitudes (round the world) is what the bounds leave out.
  let gap = lons[0] + 360 - lons[lons.length - 1];
  let west = lons[0];
  let east = lons[lons.length - 1];
  for (let i = 1; i < lons.length; i++) {
    const g = lons[i] - lons[i - 1];
    if (g > gap) {
      gap = g;
      west = lons[i];
      east = lons[i - 1] + 360;
    }
  }
  return [west, Math.min(...lats), east, Math.max(...lats)];
}

/** A longitude brought onto [-180, 180). */
export function wrapLon(lon: number): number {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
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
