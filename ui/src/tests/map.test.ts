import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, fireEvent, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { brief } from './fixtures';
import type { BriefView, EvidenceItem } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import Map from '../components/Map.svelte';
import BriefCompose from '../components/BriefCompose.svelte';
import CaseMap from '../components/CaseMap.svelte';
import VolBriefs from '../screens/VolBriefs.svelte';
import Settings from '../screens/Settings.svelte';
import { nav } from '../lib/session.svelte';
import { TILE_SETTING_KEY } from '../lib/geo';
import { DesktopSource, forgetStreetTiles, STREET_LAYERS } from '../lib/streetmap';
import * as maplibre from 'maplibre-gl';
import { lastMap, Map as FakeMap, maps, markers as pins, type Marker as FakeMarker } from './maplibre-mock';
import type { MapTiles } from '../lib/bindings';

const m = vi.mocked(api);

function evidence(id: string, name: string, location: { lat: number; lon: number } | null): EvidenceItem {
  return {
    id,
    case_id: 'c1',
    sha256: 'ab'.repeat(32),
    size: 10,
    media_type: 'image/jpeg',
    original_name: name,
    captured_at: null,
    location,
    camera: null,
    description: null,
    claimed: { captured_at: null, location: null },
    extracted: { captured_at: null, location: null, camera: null },
    contributor: 'm1',
  } as unknown as EvidenceItem;
}

const CITY: MapTiles = {
  path: '/srv/maps/berlin.pmtiles',
  from_settings: true,
  size: 12734,
  min_zoom: 0,
  max_zoom: 15,
  bounds: [13.395, 52.514, 13.415, 52.526],
  center: [13.405, 52.52, 15],
};

beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
  forgetStreetTiles();
  maps.length = 0;
  pins.length = 0;
  // No tiles file unless a test sets one.
  m.mapTiles.mockResolvedValue(null);
});

/** The map once made (after the tiles file is known) and loaded. */
async function loaded(): Promise<FakeMap> {
  await waitFor(() => expect(maps.length).toBeGreaterThan(0));
  const map = lastMap();
  map.fire('load');
  await Promise.resolve();
  return map;
}

function layerIds(map: FakeMap): string[] {
  return map.style.layers.map((l) => l.id);
}


describe('Map', () => {
  it('draws the world outlines and no street or network source when nothing is set', async () => {
    render(Map, { height: 400 });
    const map = await loaded();
    expect(Object.keys(map.style.sources).sort()).toEqual(['areas', 'edit', 'world-borders', 'world-land']);
    expect(layerIds(map)).toEqual(['ocean', 'world-land', 'world-borders', 'areas-fill', 'areas-line', 'edit-fill', 'edit-line']);
    // The outlines arrive as GeoJSON from the bundled world-atlas file.
    await waitFor(() => {
      const land = map.sources['world-land'].data as { features: { geometry: { type: string; coordinates: unknown[] } }[] };
      expect(land.features[0].geometry.type).toBe('MultiPolygon');
      expect(land.features[0].geometry.coordinates.length).toBeGreaterThan(100);
    });
    expect(maplibre.setWorkerUrl).toHaveBeenCalled();
    expect(String(vi.mocked(maplibre.setWorkerUrl).mock.calls[0][0])).not.toMatch(/^(blob|data|https?):/);
    expect(maplibre.addProtocol).not.toHaveBeenCalled();
    expect(screen.getByTestId('map')).toHaveAttribute('data-tiles', 'none');
    expect(screen.queryByTestId('map-tiles-problem')).toBeNull();
  });

  it('puts a focusable pin per point and an area per brief, fitted, and selects them', async () => {
    const onselect = vi.fn();
    render(Map, {
      markers: [
        { id: 'e1', lat: 52.52, lon: 13.405, title: 'IMG_1.jpg' },
        { id: 'e2', lat: 52.5, lon: 13.37, title: 'VID_2.mp4' },
      ],
      areas: [{ id: 'b1', lat: 52.51, lon: 13.39, radius_m: 2000, title: 'Depot fire' }],
      selected: 'b1',
      height: 400,
      onselect,
    });
    const map = await loaded();
    const markers = screen.getAllByTestId('map-marker');
    expect(markers).toHaveLength(2);
    expect(markers[0]).toHaveAccessibleName('IMG_1.jpg');
    expect(markers[0].dataset.lngLat).toBe('13.405000,52.520000');
    const area = screen.getByTestId('map-area');
    expect(area).toHaveAccessibleName('Brief area: Depot fire');
    // The area is a ground circle polygon in the areas source, marked selected.
    const fc = map.sources.areas.data as { features: { properties: Record<string, unknown>; geometry: { coordinates: number[][][] } }[] };
    expect(fc.features).toHaveLength(1);
    expect(fc.features[0].properties).toEqual({ id: 'b1', muted: false, selected: true });
    const ring = fc.features[0].geometry.coordinates[0];
    expect(ring.length).toBe(73);
    const east = Math.max(...ring.map((p) => p[0]));
    expect(east).toBeGreaterThan(13.39 + 0.029);
    expect(east).toBeLessThan(13.39 + 0.03);
    // Everything fitted, at street zoom at most.
    const [w, s, e, n] = map.fitted!.bounds as number[];
    expect(w).toBeLessThanOrEqual(13.37);
    expect(e).toBeGreaterThanOrEqual(13.405);
    expect(s).toBeLessThan(52.5);
    expect(n).toBeGreaterThan(52.52);
    expect(map.fitted!.options.maxZoom).toBe(16);
    await fireEvent.click(markers[1]);
    expect(onselect).toHaveBeenCalledWith('e2', 'marker');
    await fireEvent.click(area);
    expect(onselect).toHaveBeenCalledWith('b1', 'area');
    // A click on the drawn circle selects it too.
    map.rendered = [{ layer: { id: 'areas-fill' }, properties: { id: 'b1' } }];
    map.fire('click', { point: { x: 5, y: 5 }, lngLat: { lng: 13.39, lat: 52.51 } });
    expect(onselect).toHaveBeenLastCalledWith('b1', 'area');
  });

  it('zooms with the buttons and keys, pans with arrows, and fits with 0', async () => {
    render(Map, { markers: [{ id: 'e1', lat: 10, lon: 10, title: 'x' }], height: 400 });
    const map = await loaded();
    const host = screen.getByTestId('map');
    const z0 = map.getZoom();
    await fireEvent.click(screen.getByTestId('map-zoom-out'));
    expect(map.getZoom()).toBe(z0 - 1);
    await fireEvent.keyDown(host, { key: '+' });
    expect(map.getZoom()).toBe(z0);
    expect(host.dataset.zoom).toBe(z0.toFixed(2));
    const before = map.getCenter().lng;
    await fireEvent.keyDown(host, { key: 'ArrowRight' });
    expect(map.getCenter().lng).toBeGreaterThan(before);
    map.fitted = null;
    await fireEvent.keyDown(host, { key: '0' });
    expect(map.fitted).not.toBeNull();
    expect(host).toHaveAttribute('role', 'application');
    expect(host).toHaveAccessibleName('Map');
  });

  it('reads street tiles from the profile file through the desktop, and says when they were drawn', async () => {
    m.mapTiles.mockResolvedValue(CITY);
    render(Map, { markers: [{ id: 'e1', lat: 52.52, lon: 13.405, title: 'IMG_1.jpg' }], height: 400 });
    const map = await loaded();
    const src = map.style.sources.streets as { type: string; url: string };
    expect(src.type).toBe('vector');
    expect(src.url).toMatch(/^pmtiles:\/\/casebridge-map-12734-[0-9a-f]+$/);
    expect(maplibre.addProtocol).toHaveBeenCalledWith('pmtiles', expect.any(Function));
    for (const id of ['streets-water', 'streets-roads', 'streets-buildings', 'streets-landuse']) expect(layerIds(map)).toContain(id);
    // Street layers lie over the outlines and under the app's areas.
    expect(layerIds(map).indexOf('streets-roads')).toBeGreaterThan(layerIds(map).indexOf('world-land'));
    expect(layerIds(map).indexOf('streets-roads')).toBeLessThan(layerIds(map).indexOf('areas-fill'));
    // No layer asks for glyphs or sprites (nothing from the network).
    expect(map.style).not.toHaveProperty('glyphs');
    expect(map.style).not.toHaveProperty('sprite');
    const host = screen.getByTestId('map');
    expect(host).toHaveAttribute('data-tiles', 'file');
    expect(host).toHaveAttribute('data-tiles-loaded', 'false');
    map.rendered = [
      { layer: { id: 'streets-roads' }, properties: { name: 'Teststrasse' } },
      { layer: { id: 'streets-water' }, properties: { name: 'Testspree' } },
      { layer: { id: 'areas-fill' }, properties: { id: 'x' } },
    ];
    map.fire('idle');
    await waitFor(() => expect(host).toHaveAttribute('data-tiles-loaded', 'true'));
    expect(host).toHaveAttribute('data-street-features', '2');
    expect(host).toHaveAttribute('data-roads', 'Testspree,Teststrasse');
    expect(screen.getByTestId('map-attribution')).toHaveTextContent('streets: berlin.pmtiles');
    expect(STREET_LAYERS.every((id) => layerIds(map).includes(id))).toBe(true);
  });

  it('a tiles file the desktop refuses now is named, and the map draws the outlines', async () => {
    m.mapTiles.mockRejectedValue({ code: 'not_pmtiles', message: 'the map tiles file /srv/x.pmtiles is not a PMTiles file' });
    render(Map, { height: 400 });
    const map = await loaded();
    expect(map.style.sources).not.toHaveProperty('streets');
    expect(screen.getByTestId('map-tiles-problem')).toHaveTextContent('Street tiles not shown: the map tiles file /srv/x.pmtiles is not a PMTiles file');
  });

  it('the PMTiles reader gets its bytes from the desktop command, never from a URL', async () => {
    const buf = new Uint8Array([80, 77, 84]).buffer;
    m.mapTilesRange.mockResolvedValue(buf);
    const src = new DesktopSource('casebridge-map/1/x');
    expect(await src.getBytes(127, 3)).toEqual({ data: buf });
    expect(m.mapTilesRange).toHaveBeenCalledWith(127, 3);
    expect(src.getKey()).toBe('casebridge-map/1/x');
  });

  it('draws a configured tile server as a raster source', async () => {
    render(Map, { tileTemplate: 'https://tiles.example.org/{z}/{x}/{y}.png', streets: null, height: 400 });
    const map = await loaded();
    expect(map.style.sources.raster).toMatchObject({ type: 'raster', tiles: ['https://tiles.example.org/{z}/{x}/{y}.png'], tileSize: 256 });
    expect(screen.getByTestId('map-attribution')).toHaveTextContent('tiles: tiles.example.org');
  });

  it('without WebGL says so instead of breaking', async () => {
    FakeMap.failNext = true;
    render(Map, { streets: null, height: 400 });
    expect(await screen.findByTestId('map-failed')).toHaveTextContent('cannot draw the map (no WebGL)');
    // The zoom buttons do nothing rather than throw.
    await fireEvent.click(screen.getByTestId('map-zoom-in'));
  });
});

describe('brief compose on the map', () => {
  const setup = async () => {
    m.evidenceList.mockResolvedValue([]);
    render(BriefCompose, { caseId: 'c1', onpublished: vi.fn(), oncancel: vi.fn() });
    return loaded();
  };
  const editMarkers = () => pins.filter((p: FakeMarker) => p.element.isConnected && /cb-edit/.test(p.element.className));

  it('clicking the map sets the centre fields (and a default radius)', async () => {
    const map = await setup();
    map.fire('click', { point: { x: 10, y: 10 }, lngLat: { lng: 76.8000004, lat: 0.0000001 } });
    await waitFor(() => expect(screen.getByTestId('brief-lat')).toHaveValue('0'));
    expect(screen.getByTestId('brief-lon')).toHaveValue('76.8');
    expect(screen.getByTestId('brief-radius')).toHaveValue('500');
    expect(screen.getByTestId('map-edit-centre').dataset.lngLat).toBe('76.800000,0.000000');
    // Enter on the focused map picks its centre.
    map.center = { lng: 13.405, lat: 52.52 };
    await fireEvent.keyDown(screen.getByTestId('map'), { key: 'Enter' });
    expect(screen.getByTestId('brief-lat')).toHaveValue('52.52');
  });

  it('typing the fields moves the circle; dragging the handle sets the radius and the centre moves it', async () => {
    const user = userEvent.setup();
    const map = await setup();
    expect(screen.queryByTestId('map-edit-centre')).toBeNull();
    await user.type(screen.getByTestId('brief-lat'), '0');
    await user.type(screen.getByTestId('brief-lon'), '36');
    await user.type(screen.getByTestId('brief-radius'), '200000');
    expect(screen.getByTestId('map-edit-centre').dataset.lngLat).toBe('36.000000,0.000000');
    const ring = (map.sources.edit.data as { features: { geometry: { coordinates: number[][][] } }[] }).features[0].geometry.coordinates[0];
    expect(Math.max(...ring.map((p) => p[0]))).toBeCloseTo(36 + 1.7966, 3);
    // The handle sits on the east edge, 200 km away.
    const [lon] = (screen.getByTestId('map-edit-handle').dataset.lngLat ?? '').split(',').map(Number);
    expect(lon).toBeCloseTo(36 + 1.7966, 3);
    const slider = screen.getByTestId('brief-radius-slider') as HTMLInputElement;
    await fireEvent.input(slider, { target: { value: '400' } });
    expect(screen.getByTestId('brief-radius')).toHaveValue('1000'); // 10^(1 + 5 * 0.4) m
    const [centre, handle] = editMarkers();
    expect(centre.draggable && handle.draggable).toBe(true);
    // 6° east of the centre on the equator: 668 km (shown to two significant figures).
    handle.dragTo([42, 0]);
    await waitFor(() => expect(screen.getByTestId('brief-radius')).toHaveValue('670000'));
    centre.dragTo([13.405, 52.52]);
    await waitFor(() => expect(screen.getByTestId('brief-lat')).toHaveValue('52.52'));
    expect(screen.getByTestId('brief-lon')).toHaveValue('13.405');
  });

  it('publishes the picked area', async () => {
    const user = userEvent.setup();
    m.briefPublish.mockResolvedValue('b9' as never);
    const map = await setup();
    await user.type(screen.getByTestId('brief-title-input'), 'Look here');
    await user.type(screen.getByTestId('brief-body-input'), 'Photos please');
    map.fire('click', { point: { x: 10, y: 10 }, lngLat: { lng: 0, lat: 0 } });
    await user.click(screen.getByTestId('brief-publish'));
    await waitFor(() => expect(m.briefPublish).toHaveBeenCalled());
    expect(m.briefPublish.mock.calls[0][3]).toEqual({ lat: 0, lon: 0, radius_m: 500 });
  });
});

describe('volunteer briefs map', () => {
  it('switches to the map and opens a brief from its area', async () => {
    const user = userEvent.setup();
    const other: BriefView = { ...brief, id: 'b2', title: 'Anywhere brief', area: null };
    m.briefsList.mockResolvedValue([brief, other]);
    render(VolBriefs);
    await screen.findAllByTestId('vol-brief-row');
    await user.click(screen.getByTestId('vol-briefs-show-map'));
    expect(screen.getByTestId('vol-briefs-show-map')).toHaveAttribute('aria-pressed', 'true');
    const areas = screen.getAllByTestId('map-area');
    expect(areas).toHaveLength(1);
    expect(screen.getByTestId('vol-brief-anywhere')).toHaveTextContent('Anywhere brief');
    await user.click(areas[0]);
    expect(nav.route).toEqual({ name: 'vol-brief', id: 'b1' });
  });
});

describe('case map', () => {
  it('shows located evidence and brief areas, and says what is not on it', async () => {
    const user = userEvent.setup();
    m.evidenceList.mockResolvedValue([evidence('e1', 'IMG_1.jpg', { lat: 52.52, lon: 13.4 }), evidence('e2', 'notes.txt', null)]);
    m.briefsList.mockResolvedValue([brief, { ...brief, id: 'bx', case_id: 'other' }]);
    render(CaseMap, { caseId: 'c2' });
    await screen.findByTestId('case-map');
    expect(m.evidenceList).toHaveBeenCalledWith('c2');
    expect(screen.getAllByTestId('map-marker')).toHaveLength(1);
    expect(screen.getAllByTestId('map-area')).toHaveLength(1);
    expect(screen.getByTestId('case-map-unlocated')).toHaveTextContent('1 item has no location');
    await user.click(screen.getByTestId('map-marker'));
    expect(within(screen.getByTestId('case-map-selected')).getByText('IMG_1.jpg')).toBeInTheDocument();
  });
});

describe('map tiles file setting', () => {
  it('a file that is not PMTiles is refused with the desktop\'s message, and the old file stays', async () => {
    const user = userEvent.setup();
    m.mapTiles.mockResolvedValue(CITY);
    m.setMapTiles.mockRejectedValue({ code: 'not_pmtiles', message: 'the map tiles file /home/vera/photo.jpg is not a PMTiles file (it does not begin with "PMTiles"); the map setting is unchanged' });
    render(Settings);
    expect(screen.getByRole('heading', { name: 'Map tiles (PMTiles file)' })).toBeInTheDocument();
    const field = screen.getByTestId('pmtiles-path');
    await waitFor(() => expect(field).toHaveValue('/srv/maps/berlin.pmtiles'));
    expect(screen.getByTestId('pmtiles-now')).toHaveTextContent('Maps use /srv/maps/berlin.pmtiles');
    await user.clear(field);
    await user.type(field, '/home/vera/photo.jpg');
    await user.click(screen.getByTestId('pmtiles-save'));
    expect(await screen.findByTestId('pmtiles-error')).toHaveTextContent('/home/vera/photo.jpg is not a PMTiles file');
    expect(m.setMapTiles).toHaveBeenCalledWith('/home/vera/photo.jpg');
    expect(screen.getByTestId('pmtiles-now')).toHaveTextContent('Maps use /srv/maps/berlin.pmtiles');
  });

  it('a good file is saved and maps read it from then on; clearing falls back to none', async () => {
    const user = userEvent.setup();
    m.setMapTiles.mockResolvedValueOnce(CITY).mockResolvedValueOnce(null);
    render(Settings);
    await waitFor(() => expect(screen.getByTestId('pmtiles-now')).toHaveTextContent('No tiles file'));
    await user.type(screen.getByTestId('pmtiles-path'), '/srv/maps/berlin.pmtiles');
    await user.click(screen.getByTestId('pmtiles-save'));
    await waitFor(() => expect(screen.getByTestId('pmtiles-now')).toHaveTextContent('zoom 0 to 15'));
    expect(screen.queryByTestId('pmtiles-error')).toBeNull();
    await user.clear(screen.getByTestId('pmtiles-path'));
    await user.click(screen.getByTestId('pmtiles-save'));
    await waitFor(() => expect(m.setMapTiles).toHaveBeenLastCalledWith(null));
    expect(screen.getByTestId('pmtiles-now')).toHaveTextContent('No tiles file');
  });
});

describe('tile setting', () => {
  it('rejects a non-https template and stores a good one', async () => {
    const user = userEvent.setup();
    m.setTileServer.mockResolvedValue(undefined);
    render(Settings);
    const field = screen.getByTestId('map-tiles-url');
    await user.type(field, 'http://tiles.example.org/{{z}/{{x}/{{y}.png');
    await user.click(screen.getByTestId('map-tiles-save'));
    expect(screen.getByTestId('map-tiles-error')).toHaveTextContent(/https/);
    expect(localStorage.getItem(TILE_SETTING_KEY)).toBeNull();
    expect(m.setTileServer).not.toHaveBeenCalled();
    await user.clear(field);
    await user.type(field, 'https://tiles.example.org/{{z}/{{x}/{{y}.png');
    await user.click(screen.getByTestId('map-tiles-save'));
    await waitFor(() => expect(localStorage.getItem(TILE_SETTING_KEY)).toBe('https://tiles.example.org/{z}/{x}/{y}.png'));
    expect(screen.queryByTestId('map-tiles-error')).toBeNull();
    // The desktop keeps it too: its CSP allows that server's images (and no other https images).
    expect(m.setTileServer).toHaveBeenCalledWith('https://tiles.example.org/{z}/{x}/{y}.png');
    expect(screen.getByTestId('map-tiles-warning')).toHaveTextContent(/learns which areas you look at/);
    await user.click(screen.getByTestId('map-tiles-clear'));
    await waitFor(() => expect(localStorage.getItem(TILE_SETTING_KEY)).toBeNull());
    expect(m.setTileServer).toHaveBeenLastCalledWith(null);
  });

  it('a template the desktop refuses is not stored, and says why', async () => {
    const user = userEvent.setup();
    m.setTileServer.mockRejectedValue({ code: 'invalid_input', message: 'tile server: the address must name a server' });
    render(Settings);
    await user.type(screen.getByTestId('map-tiles-url'), 'https://tiles.example.org/{{z}/{{x}/{{y}.png');
    await user.click(screen.getByTestId('map-tiles-save'));
    expect(await screen.findByTestId('map-tiles-error')).toHaveTextContent('must name a server');
    expect(localStorage.getItem(TILE_SETTING_KEY)).toBeNull();
  });
});
