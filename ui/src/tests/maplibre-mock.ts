// maplibre-gl replaced at its module boundary (jsdom has no WebGL): a Map that keeps the style it
// was given (sources, layers, the data set on GeoJSON sources), its camera calls and its event
// handlers; Markers that put their element into the map's container. Tests read `maps` and fire
// the events MapLibre would (load, click, idle).
import { vi } from 'vitest';

type Handler = (e?: unknown) => void;
interface StyleIn {
  sources: Record<string, Record<string, unknown>>;
  layers: { id: string; type: string; source?: string; 'source-layer'?: string }[];
}

export interface FakeSource {
  spec: Record<string, unknown>;
  data: unknown;
  setData: (d: unknown) => void;
}

export class Map {
  options: Record<string, unknown>;
  style: StyleIn;
  sources: Record<string, FakeSource> = {};
  handlers: Record<string, Handler[]> = {};
  container: HTMLElement;
  zoom = 1;
  center = { lng: 0, lat: 0 };
  fitted: { bounds: unknown; options: Record<string, unknown> } | null = null;
  removed = false;
  /** What queryRenderedFeatures answers (a test sets it). */
  rendered: { layer: { id: string }; properties: Record<string, unknown> }[] = [];
  touchZoomRotate = { disableRotation: () => {} };
  canvas = document.createElement('canvas');

  /** Set to make the next map fail as MapLibre does without WebGL. */
  static failNext = false;

  constructor(options: Record<string, unknown>) {
    if (Map.failNext) {
      Map.failNext = false;
      throw new Error('Failed to initialize WebGL');
    }
    this.options = options;
    this.style = options.style as StyleIn;
    this.container = options.container as HTMLElement;
    this.container.appendChild(this.canvas);
    for (const [id, spec] of Object.entries(this.style.sources)) {
      const src: FakeSource = { spec, data: spec.data, setData: (d) => (src.data = d) };
      this.sources[id] = src;
    }
    maps.push(this);
  }
  on(type: string, fn: Handler) {
    (this.handlers[type] ??= []).push(fn);
    return this;
  }
  fire(type: string, e?: unknown) {
    for (const fn of this.handlers[type] ?? []) fn(e);
  }
  getSource(id: string) {
    return this.sources[id];
  }
  getLayer(id: string) {
    return this.style.layers.find((l) => l.id === id);
  }
  addControl() {
    return this;
  }
  getCanvas() {
    return this.canvas;
  }
  remove() {
    this.removed = true;
  }
  getZoom() {
    return this.zoom;
  }
  getCenter() {
    return this.center;
  }
  jumpTo(o: { center: [number, number]; zoom: number }) {
    this.center = { lng: o.center[0], lat: o.center[1] };
    this.zoom = o.zoom;
  }
  fitBounds(bounds: number[], options: Record<string, unknown>) {
    this.fitted = { bounds, options };
    this.center = { lng: (bounds[0] + bounds[2]) / 2, lat: (bounds[1] + bounds[3]) / 2 };
    this.zoom = Math.min(Number(options.maxZoom ?? 22), 15);
  }
  getBounds() {
    const d = 180 / 2 ** this.zoom;
    const c = this.center;
    return { getWest: () => c.lng - d, getEast: () => c.lng + d, getSouth: () => c.lat - d / 2, getNorth: () => c.lat + d / 2 };
  }
  zoomIn() {
    this.zoom += 1;
    this.fire('zoom');
  }
  zoomOut() {
    this.zoom -= 1;
    this.fire('zoom');
  }
  panBy([dx, dy]: [number, number]) {
    const deg = 360 / (512 * 2 ** this.zoom);
    this.center = { lng: this.center.lng + dx * deg, lat: this.center.lat - dy * deg };
  }
  queryRenderedFeatures(_point?: unknown, options?: { layers?: string[] }) {
    return this.rendered.filter((f) => !options?.layers || options.layers.includes(f.layer.id));
  }
}

export class Marker {
  element: HTMLElement;
  draggable: boolean;
  lngLat = { lng: 0, lat: 0 };
  handlers: Record<string, Handler[]> = {};
  constructor(options: { element?: HTMLElement; draggable?: boolean } = {}) {
    this.element = options.element ?? document.createElement('div');
    this.draggable = !!options.draggable;
    markers.push(this);
  }
  setLngLat(ll: [number, number]) {
    this.lngLat = { lng: ll[0], lat: ll[1] };
    this.element.dataset.lngLat = `${ll[0].toFixed(6)},${ll[1].toFixed(6)}`;
    return this;
  }
  getLngLat() {
    return this.lngLat;
  }
  addTo(map: Map) {
    map.container.appendChild(this.element);
    return this;
  }
  remove() {
    this.element.remove();
    return this;
  }
  on(type: string, fn: Handler) {
    (this.handlers[type] ??= []).push(fn);
    return this;
  }
  /** A drag as MapLibre reports it: the marker moved to `ll`, then `drag`. */
  dragTo(ll: [number, number]) {
    this.setLngLat(ll);
    for (const fn of this.handlers.drag ?? []) fn();
    for (const fn of this.handlers.dragend ?? []) fn();
  }
}

export class ScaleControl {}

export const maps: Map[] = [];
export const markers: Marker[] = [];
export const addProtocol = vi.fn();
export const setWorkerUrl = vi.fn();

/** The last map made, after MapLibre's `load`. */
export function lastMap(): Map {
  const m = maps[maps.length - 1];
  if (!m) throw new Error('no map was made');
  return m;
}
