// What the MapLibre map draws: the bundled world outlines (world-atlas, as GeoJSON) always, an https
// raster tile server when one is set, and the street layers of the agency's PMTiles vector tiles when
// a file is set or shipped. The PMTiles file is read through the desktop (`map_tiles_range`, raw
// bytes over IPC) by the `pmtiles` reader registered as MapLibre's `pmtiles://` protocol: the webview
// never fetches it, and no style URL, glyph or sprite points at the network.

import { feature, mesh } from 'topojson-client';
import type { FeatureCollection, Geometry, MultiLineString } from 'geojson';
import type { LayerSpecification, SourceSpecification, StyleSpecification } from 'maplibre-gl';
import { PMTiles, Protocol, type RangeResponse, type Source } from 'pmtiles';
import * as api from './api';
import type { MapTiles } from './bindings';

type Topo = Parameters<typeof feature>[0];

/** The world outlines at one detail level as GeoJSON: land polygons and country borders. */
export interface World {
  land: FeatureCollection;
  borders: MultiLineString;
}

const worlds: Partial<Record<'110m' | '50m', Promise<World>>> = {};

/** The bundled Natural Earth outlines (110m for the world, 50m once zoomed in), loaded once per run. */
export function loadWorld(level: '110m' | '50m'): Promise<World> {
  const p =
    worlds[level] ??
    (level === '110m' ? import('world-atlas/countries-110m.json') : import('world-atlas/countries-50m.json')).then((m) => {
      const topo = m.default as unknown as Topo;
      const objects = topo.objects as Record<string, Parameters<typeof feature>[1]>;
      const land = feature(topo, objects.land) as unknown as FeatureCollection;
      const borders = mesh(topo, objects.countries as Parameters<typeof mesh>[1], (a, b) => a !== b) as unknown as MultiLineString;
      return { land, borders };
    });
  worlds[level] = p;
  return p;
}

/** A pmtiles `Source` whose bytes come from the desktop session (the unlocked profile's file). */
export class DesktopSource implements Source {
  constructor(private readonly key: string) {}
  getKey(): string {
    return this.key;
  }
  async getBytes(offset: number, length: number): Promise<RangeResponse> {
    const data = await api.mapTilesRange(offset, length);
    return { data };
  }
}

let protocol: Protocol | null = null;

/**
 * Registers the `pmtiles://` protocol with MapLibre (once) and the desktop's file under `key`;
 * returns the vector source URL. Every key is registered before a style names it, so the reader
 * never falls back to fetching the key as a URL.
 */
export function registerTiles(addProtocol: (name: string, fn: Protocol['tile']) => void, key: string): string {
  if (!protocol) {
    protocol = new Protocol();
    addProtocol('pmtiles', protocol.tile);
  }
  if (!protocol.tiles.has(key)) protocol.add(new PMTiles(new DesktopSource(key)));
  return `pmtiles://${key}`;
}

/** Colours of the map (the app's palette: pale land, blue water). */
export const COLOURS = {
  ocean: '#dbe7f2',
  land: '#f6f4ee',
  coast: '#a9b6c4',
  border: '#c4c9d1',
  water: '#aac6e3',
  park: '#d5e8c8',
  landuse: '#efece3',
  building: '#d9d3c9',
  buildingLine: '#c2b9ab',
  road: '#ffffff',
  roadCase: '#c9c2b5',
  major: '#fbe2a6',
  area: '#b45309',
  muted: '#8a8f98',
  edit: '#1d4f8f',
};

/** The ids of the street layers (those drawn from the PMTiles file). */
export const STREET_LAYERS = [
  'streets-earth',
  'streets-landuse',
  'streets-park',
  'streets-water',
  'streets-waterway',
  'streets-buildings',
  'streets-roads-case',
  'streets-roads',
  'streets-roads-major',
  'streets-building',
];

/**
 * The street layers for vector tiles in either common schema: Protomaps' basemap (earth, landuse,
 * water, roads, buildings) and OpenMapTiles' (landcover, landuse, park, water, waterway,
 * transportation, building). A layer whose source layer the file lacks draws nothing.
 */
export function streetLayers(source: string): LayerSpecification[] {
  const major = ['in', ['get', 'kind'], ['literal', ['highway', 'major_road', 'motorway', 'trunk', 'primary', 'secondary']]];
  const majorOmt = ['in', ['get', 'class'], ['literal', ['motorway', 'trunk', 'primary', 'secondary']]];
  const width = ['interpolate', ['exponential', 1.6], ['zoom'], 10, 0.5, 14, 3, 18, 18];
  return [
    { id: 'streets-earth', type: 'fill', source, 'source-layer': 'earth', paint: { 'fill-color': COLOURS.land } },
    { id: 'streets-landuse', type: 'fill', source, 'source-layer': 'landuse', paint: { 'fill-color': ['match', ['get', 'kind'], ['park', 'forest', 'wood', 'grass', 'garden'], COLOURS.park, COLOURS.landuse] } },
    { id: 'streets-park', type: 'fill', source, 'source-layer': 'park', paint: { 'fill-color': COLOURS.park } },
    { id: 'streets-water', type: 'fill', source, 'source-layer': 'water', paint: { 'fill-color': COLOURS.water } },
    { id: 'streets-waterway', type: 'line', source, 'source-layer': 'waterway', paint: { 'line-color': COLOURS.water, 'line-width': 2 } },
    {
      id: 'streets-buildings',
      type: 'fill',
      source,
      'source-layer': 'buildings',
      minzoom: 13,
      paint: { 'fill-color': COLOURS.building, 'fill-outline-color': COLOURS.buildingLine },
    },
    {
      id: 'streets-roads-case',
      type: 'line',
      source,
      'source-layer': 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': COLOURS.roadCase, 'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 10, 1, 14, 4.5, 18, 21] },
    },
    {
      id: 'streets-roads',
      type: 'line',
      source,
      'source-layer': 'roads',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['case', major, COLOURS.major, COLOURS.road], 'line-width': width },
    },
    {
      id: 'streets-roads-major',
      type: 'line',
      source,
      'source-layer': 'transportation',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['case', majorOmt, COLOURS.major, COLOURS.road], 'line-width': width },
    },
    // OpenMapTiles calls its buildings `building`: drawn by the same rule.
    { id: 'streets-building', type: 'fill', source, 'source-layer': 'building', minzoom: 13, paint: { 'fill-color': COLOURS.building } },
  ] as LayerSpecification[];
}

/** What the style is built from. */
export interface StyleInput {
  world: World | null;
  /** The `pmtiles://` URL of the street tiles, when a file is set or shipped. */
  streets: string | null;
  /** An https raster tile template, when a tile server is set. */
  raster: string | null;
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** The whole style: ocean, world outlines, raster tiles, street layers, then the app's overlays. */
export function buildStyle(input: StyleInput): StyleSpecification {
  const sources: Record<string, SourceSpecification> = {
    'world-land': { type: 'geojson', data: input.world?.land ?? EMPTY },
    'world-borders': {
      type: 'geojson',
      data: input.world ? { type: 'Feature', properties: {}, geometry: input.world.borders as Geometry } : EMPTY,
    },
    areas: { type: 'geojson', data: EMPTY },
    edit: { type: 'geojson', data: EMPTY },
  };
  const layers: LayerSpecification[] = [
    { id: 'ocean', type: 'background', paint: { 'background-color': COLOURS.ocean } },
    { id: 'world-land', type: 'fill', source: 'world-land', paint: { 'fill-color': COLOURS.land, 'fill-outline-color': COLOURS.coast } },
    { id: 'world-borders', type: 'line', source: 'world-borders', paint: { 'line-color': COLOURS.border, 'line-width': 0.7 } },
  ];
  if (input.raster) {
    sources.raster = { type: 'raster', tiles: [input.raster], tileSize: 256, maxzoom: 19 };
    layers.push({ id: 'raster', type: 'raster', source: 'raster' });
  }
  if (input.streets) {
    sources.streets = { type: 'vector', url: input.streets };
    layers.push(...streetLayers('streets'));
  }
  layers.push(
    {
      id: 'areas-fill',
      type: 'fill',
      source: 'areas',
      paint: {
        'fill-color': ['case', ['get', 'muted'], COLOURS.muted, COLOURS.area],
        'fill-opacity': ['case', ['get', 'selected'], 0.28, ['get', 'muted'], 0.1, 0.16],
      },
    },
    {
      id: 'areas-line',
      type: 'line',
      source: 'areas',
      paint: { 'line-color': ['case', ['get', 'muted'], COLOURS.muted, COLOURS.area], 'line-width': ['case', ['get', 'selected'], 3, 2] },
    },
    { id: 'edit-fill', type: 'fill', source: 'edit', paint: { 'fill-color': COLOURS.edit, 'fill-opacity': 0.14 } },
    { id: 'edit-line', type: 'line', source: 'edit', paint: { 'line-color': COLOURS.edit, 'line-width': 2, 'line-dasharray': [3, 2] } },
  );
  return { version: 8, sources, layers };
}

/** The profile's street tiles file as the map uses it: the file, or why it cannot be used. */
export interface StreetTiles {
  tiles: MapTiles | null;
  /** Why the file set or shipped cannot be used now ('' when it can, or when there is none). */
  problem: string;
}

let current: Promise<StreetTiles> | null = null;

/** The profile's street tiles (asked once per unlock; Settings forgets it after a change). */
export function streetTiles(): Promise<StreetTiles> {
  current ??= api.mapTiles().then(
    (tiles) => ({ tiles, problem: '' }),
    (e) => {
      const err = api.toAppError(e);
      // Outside the desktop (the demo, a browser) there is no file and nothing to say.
      return { tiles: null, problem: err.code === 'no_desktop' || err.code === 'locked' ? '' : err.message };
    },
  );
  const p = current;
  // A refusal because the profile was locked is not kept: the next map asks again.
  void p.then((r) => {
    if (!r.tiles && !r.problem && current === p) current = null;
  });
  return p;
}

/** Forgets the street tiles read before (after Settings changed them, or a lock). */
export function forgetStreetTiles(): void {
  current = null;
}
