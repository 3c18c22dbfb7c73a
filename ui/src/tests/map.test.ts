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
import { metresToPixels, TILE_SETTING_KEY } from '../lib/geo';

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

beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
});

// jsdom has no layout: the map falls back to 640 px wide; its box starts at (0, 0).
describe('Map', () => {
  it('renders a marker per point and a circle per area, sized in metres', async () => {
    const onselect = vi.fn();
    render(Map, {
      markers: [
        { id: 'e1', lat: 52.52, lon: 13.405, title: 'IMG_1.jpg' },
        { id: 'e2', lat: 52.5, lon: 13.37, title: 'VID_2.mp4' },
      ],
      areas: [{ id: 'b1', lat: 52.51, lon: 13.39, radius_m: 2000, title: 'Depot fire' }],
      height: 400,
      onselect,
    });
    const pins = screen.getAllByTestId('map-marker');
    expect(pins).toHaveLength(2);
    expect(pins[0]).toHaveAccessibleName('IMG_1.jpg');
    expect(pins[0].querySelector('title')).toHaveTextContent('IMG_1.jpg');
    const area = screen.getByTestId('map-area');
    const zoom = Number(screen.getByTestId('map').dataset.zoom);
    const expected = metresToPixels(2000, 52.51, zoom); // (data-zoom is rounded to 1/100)
    expect(Number(area.dataset.radiusPx) / expected).toBeCloseTo(1, 2);
    // The drawn ring's half-width is that radius (to a pixel).
    const xs = [...(area.querySelector('path')?.getAttribute('d') ?? '').matchAll(/[ML]([-\d.]+),/g)].map((m) => Number(m[1]));
    expect(xs.length).toBeGreaterThan(10);
    expect((Math.max(...xs) - Math.min(...xs)) / 2 / expected).toBeCloseTo(1, 2);
    // Everything was fitted into view.
    for (const p of pins) {
      const [, x, y] = /translate\(([-\d.]+) ([-\d.]+)\)/.exec(p.getAttribute('transform') ?? '') ?? [];
      expect(Number(x)).toBeGreaterThan(0);
      expect(Number(x)).toBeLessThan(640);
      expect(Number(y)).toBeGreaterThan(0);
      expect(Number(y)).toBeLessThan(400);
    }
    await fireEvent.click(pins[1]);
    expect(onselect).toHaveBeenCalledWith('e2', 'marker');
    await fireEvent.keyDown(area, { key: 'Enter' });
    expect(onselect).toHaveBeenCalledWith('b1', 'area');
  });

  it('zooms with the buttons and keys, pans with arrows, and makes no tile requests by default', async () => {
    render(Map, { markers: [{ id: 'e1', lat: 10, lon: 10, title: 'x' }], height: 400 });
    const map = screen.getByTestId('map');
    const z0 = Number(map.dataset.zoom);
    await fireEvent.click(screen.getByTestId('map-zoom-out'));
    expect(Number(map.dataset.zoom)).toBeCloseTo(z0 - 1, 5);
    await fireEvent.keyDown(map, { key: '+' });
    expect(Number(map.dataset.zoom)).toBeCloseTo(z0, 5);
    const pin = screen.getByTestId('map-marker');
    const before = pin.getAttribute('transform');
    await fireEvent.keyDown(map, { key: 'ArrowRight' });
    expect(pin.getAttribute('transform')).not.toBe(before);
    expect(screen.queryByTestId('map-tiles')).toBeNull();
    expect(document.querySelectorAll('img')).toHaveLength(0);
  });

  it('draws configured tiles under the vector layers', () => {
    render(Map, { tileTemplate: 'https://tiles.example.org/{z}/{x}/{y}.png', height: 400 });
    const imgs = screen.getByTestId('map-tiles').querySelectorAll('img');
    expect(imgs.length).toBeGreaterThan(0);
    expect(imgs[0].getAttribute('src')).toMatch(/^https:\/\/tiles\.example\.org\/\d+\/\d+\/\d+\.png$/);
    expect(imgs[0].getAttribute('referrerpolicy')).toBe('no-referrer');
  });
});

describe('brief compose on the map', () => {
  const setup = () => {
    m.evidenceList.mockResolvedValue([]);
    render(BriefCompose, { caseId: 'c1', onpublished: vi.fn(), oncancel: vi.fn() });
  };

  it('clicking the map sets the centre fields (and a default radius)', async () => {
    setup();
    const map = screen.getByTestId('map');
    // Nothing to fit: the world is as tall as the 300 px map, centred on 0°, 0°; 64 px right of the
    // centre is 64 / 300 of 360°, 76.8° east.
    await fireEvent.pointerDown(map, { button: 0, clientX: 384, clientY: 150, pointerId: 1 });
    await fireEvent.pointerUp(map, { button: 0, clientX: 384, clientY: 150, pointerId: 1 });
    expect(screen.getByTestId('brief-lat')).toHaveValue('0');
    expect(screen.getByTestId('brief-lon')).toHaveValue('76.8');
    expect(screen.getByTestId('brief-radius')).toHaveValue('500');
    expect(screen.getByTestId('map-edit-centre')).toHaveAttribute('cx', '384');
  });

  it('typing the fields moves the circle; the slider and the handle set the radius', async () => {
    const user = userEvent.setup();
    setup();
    expect(screen.queryByTestId('map-edit')).toBeNull();
    await user.type(screen.getByTestId('brief-lat'), '0');
    await user.type(screen.getByTestId('brief-lon'), '36');
    await user.type(screen.getByTestId('brief-radius'), '200000');
    const centre = screen.getByTestId('map-edit-centre');
    expect(Number(centre.getAttribute('cx'))).toBeCloseTo(320 + (36 / 360) * 300, 5);
    expect(Number(centre.getAttribute('cy'))).toBeCloseTo(150, 5);
    await user.clear(screen.getByTestId('brief-lon'));
    await user.type(screen.getByTestId('brief-lon'), '-36');
    expect(Number(screen.getByTestId('map-edit-centre').getAttribute('cx'))).toBeCloseTo(320 - 30, 5);
    const slider = screen.getByTestId('brief-radius-slider') as HTMLInputElement;
    await fireEvent.input(slider, { target: { value: '400' } });
    expect(screen.getByTestId('brief-radius')).toHaveValue('1000'); // 10^(1 + 5 * 0.4) m
    // Drag the edge handle to 5 px east of the centre: 5 px of a 300 px world is 6° of longitude,
    // 668 km at the equator (shown to two significant figures).
    const handle = screen.getByTestId('map-edit-handle');
    const hx = Number(handle.getAttribute('cx'));
    await fireEvent.pointerDown(handle, { button: 0, clientX: hx, clientY: 150, pointerId: 2 });
    await fireEvent.pointerMove(screen.getByTestId('map'), { clientX: 290 + 5, clientY: 150, pointerId: 2 });
    await fireEvent.pointerUp(screen.getByTestId('map'), { clientX: 290 + 5, clientY: 150, pointerId: 2 });
    const r = Number((screen.getByTestId('brief-radius') as HTMLInputElement).value);
    expect(r).toBe(670_000);
  });

  it('publishes the typed area', async () => {
    const user = userEvent.setup();
    m.briefPublish.mockResolvedValue('b9' as never);
    setup();
    await user.type(screen.getByTestId('brief-title-input'), 'Look here');
    await user.type(screen.getByTestId('brief-body-input'), 'Photos please');
    await fireEvent.pointerDown(screen.getByTestId('map'), { button: 0, clientX: 320, clientY: 150, pointerId: 1 });
    await fireEvent.pointerUp(screen.getByTestId('map'), { button: 0, clientX: 320, clientY: 150, pointerId: 1 });
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
