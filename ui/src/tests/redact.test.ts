// Redaction from the desktop (issue 17): the panel maps a mouse drag on the image, at any zoom, to
// natural image pixels; the keyboard's typed-in region is checked before it is added; save sends the
// regions, mode, metadata stripping and reason as crates/app's RedactRequest and shows the
// derivative's provenance; a refusal shows the backend's message. The viewer offers "Redact…" to
// police staff on images only, and shows a derivative's provenance.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, fireEvent, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { EvidenceItem, MediaSource, Redacted, WhoAmI } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import { session } from '../lib/session.svelte';
import { regionBetween, regionProblem, toImagePoint } from '../lib/redact';
import { locale } from '../lib/i18n';
import RedactPanel from '../components/RedactPanel.svelte';
import EvidenceViewer from '../components/EvidenceViewer.svelte';

const m = vi.mocked(api);
const URL = `cbmedia://localhost/${'cd'.repeat(32)}`;
const ORIGINAL = '0190c1d2-e001-7000-8000-000000000001';
const COPY = '0190c1d2-e001-7000-8000-000000000002';

function item(over: Partial<EvidenceItem> = {}): EvidenceItem {
  return {
    id: ORIGINAL,
    case_id: 'c1',
    sha256: 'ab'.repeat(32),
    size: 26_133,
    media_type: 'image/jpeg',
    original_name: 'IMG_0042.jpg',
    captured_at: null,
    location: null,
    camera: null,
    description: null,
    claimed: { captured_at: null, location: null },
    extracted: { captured_at: null, location: null, camera: null },
    contributor: '0190a000-0000-7000-8000-000000000001',
    contributor_name: 'Ada Investigator',
    added_at: '2026-03-01T10:00:00+01:00',
    derived_from: null,
    review_state: null,
    ...over,
  };
}

const source: MediaSource = { evidence_id: ORIGINAL, url: URL, media_type: 'image/jpeg', size: 26_133, stream_url: null };

const provenance = {
  evidence_id: COPY,
  original_id: ORIGINAL,
  original_sha256: 'ab'.repeat(32),
  sha256: 'ef'.repeat(32),
  operations: ['strip-metadata', 'fill 200,100,100,100'],
  by: '0190a000-0000-7000-8000-000000000001',
  at: '2026-03-02T10:00:00+01:00',
  event_hash: '11'.repeat(32),
};

const redacted: Redacted = {
  item: item({ id: COPY, sha256: 'ef'.repeat(32), original_name: 'IMG_0042-redacted.jpg', derived_from: provenance }),
  provenance,
  original_name: 'IMG_0042.jpg',
  by_name: 'Ada Investigator',
};

/** Makes the panel's image an 800x600 picture drawn at `zoom`, its top-left corner at (10, 20) on screen. */
async function loadImage(zoom: number) {
  const img = (await screen.findByTestId('redact-image')) as HTMLImageElement;
  Object.defineProperty(img, 'naturalWidth', { configurable: true, value: 800 });
  Object.defineProperty(img, 'naturalHeight', { configurable: true, value: 600 });
  img.getBoundingClientRect = () => ({ left: 10, top: 20, width: 800 * zoom, height: 600 * zoom, right: 0, bottom: 0, x: 10, y: 20, toJSON: () => ({}) });
  await fireEvent.load(img);
  return img;
}

async function drag(from: [number, number], to: [number, number]) {
  const surface = screen.getByTestId('redact-surface');
  await fireEvent.mouseDown(surface, { clientX: from[0], clientY: from[1], button: 0 });
  await fireEvent.mouseMove(window, { clientX: (from[0] + to[0]) / 2, clientY: (from[1] + to[1]) / 2 });
  await fireEvent.mouseMove(window, { clientX: to[0], clientY: to[1] });
  await fireEvent.mouseUp(window, { clientX: to[0], clientY: to[1] });
}

function regionTexts(): string[] {
  return screen.queryAllByTestId('redact-region-text').map((e) => e.textContent ?? '');
}

beforeEach(() => {
  vi.clearAllMocks();
  session.whoami = null;
});

describe('redaction geometry', () => {
  it('maps screen points to natural pixels at any zoom and clamps to the image', () => {
    const natural = { width: 800, height: 600 };
    expect(toImagePoint(110, 70, { left: 10, top: 20, width: 400, height: 300 }, natural)).toEqual({ x: 200, y: 100 });
    expect(toImagePoint(110, 70, { left: 10, top: 20, width: 1600, height: 1200 }, natural)).toEqual({ x: 50, y: 25 });
    expect(toImagePoint(-50, 9999, { left: 10, top: 20, width: 400, height: 300 }, natural)).toEqual({ x: 0, y: 600 });
    // Any corner order; rounded outward to whole pixels.
    expect(regionBetween({ x: 30.6, y: 40.2 }, { x: 10.4, y: 20.9 })).toEqual({ x: 10, y: 20, w: 21, h: 21 });
  });
});

describe('RedactPanel', () => {
  it('turns a drag at 50% zoom into natural image pixels, and saves it with the chosen mode', async () => {
    const onsaved = vi.fn();
    render(RedactPanel, { evidence: item(), source, onclose: vi.fn(), onsaved });
    await loadImage(0.5);
    // Screen (110, 70) -> (160, 120) at half size is image (200, 100) -> (300, 200).
    await drag([110, 70], [160, 120]);
    expect(regionTexts()).toEqual(['200,100,100,100']);
    expect(screen.getAllByTestId('redact-region')).toHaveLength(1);

    // A click without a drag draws nothing.
    await drag([300, 200], [300, 200]);
    expect(regionTexts()).toHaveLength(1);

    const user = userEvent.setup();
    await user.click(screen.getByTestId('redact-mode-fill'));
    await user.type(screen.getByTestId('redact-reason'), 'public appeal');
    m.evidenceRedact.mockResolvedValue(redacted);
    await user.click(screen.getByTestId('redact-save'));
    expect(m.evidenceRedact).toHaveBeenCalledWith(ORIGINAL, {
      regions: [{ x: 200, y: 100, w: 100, h: 100 }],
      mode: 'fill',
      strip_metadata: true,
      reason: 'public appeal',
    });
    expect(await screen.findByTestId('redact-saved')).toHaveTextContent('Saved as IMG_0042-redacted.jpg');
    const prov = screen.getByTestId('redact-provenance');
    expect(prov).toHaveTextContent(`IMG_0042.jpg ${ORIGINAL}`);
    expect(prov).toHaveTextContent('fill 200,100,100,100');
    expect(prov).toHaveTextContent('Ada Investigator');
    expect(onsaved).toHaveBeenCalledWith(redacted);
  });

  it('maps a drag after zooming in with the zoom buttons', async () => {
    render(RedactPanel, { evidence: item(), source, onclose: vi.fn() });
    await loadImage(1);
    const user = userEvent.setup();
    await user.click(screen.getByLabelText('Zoom in'));
    expect(screen.getByTestId('redact-zoom')).toHaveTextContent('125%');
    expect(screen.getByTestId('redact-surface').style.width).toBe('1000px');
    // The image is now drawn 1000x750: screen (10+250, 20+125) is image (200, 100).
    (screen.getByTestId('redact-image') as HTMLImageElement).getBoundingClientRect = () =>
      ({ left: 10, top: 20, width: 1000, height: 750, right: 0, bottom: 0, x: 10, y: 20, toJSON: () => ({}) }) as DOMRect;
    await drag([260, 145], [135, 70]);
    expect(regionTexts()).toEqual(['100,40,100,60']);
  });

  it('adds a region typed in from the keyboard, and refuses one outside the image', async () => {
    render(RedactPanel, { evidence: item(), source, onclose: vi.fn() });
    await loadImage(1);
    const user = userEvent.setup();
    const typeIn = async (x: string, y: string, w: string, h: string) => {
      for (const [id, v] of [
        ['redact-x', x],
        ['redact-y', y],
        ['redact-w', w],
        ['redact-h', h],
      ]) {
        // Set as a keyboard user leaves it (user-event cannot select a number input's text in jsdom).
        await fireEvent.input(screen.getByTestId(id), { target: { value: v } });
      }
      await fireEvent.click(screen.getByTestId('redact-add'));
    };
    await typeIn('700', '10', '200', '20');
    expect(screen.getByTestId('redact-form-error')).toHaveTextContent('inside the 800×600 image');
    expect(regionTexts()).toEqual([]);
    await typeIn('10', '10', '0', '20');
    expect(screen.getByTestId('redact-form-error')).toHaveTextContent('at least 1 pixel');
    await typeIn('600', '10', '200', '20');
    expect(screen.queryByTestId('redact-form-error')).toBeNull();
    expect(regionTexts()).toEqual(['600,10,200,20']);
    await user.click(screen.getByLabelText('Remove region 1'));
    expect(regionTexts()).toEqual([]);
  });

  it("shows the backend's refusal and keeps the regions", async () => {
    render(RedactPanel, { evidence: item(), source, onclose: vi.fn() });
    await loadImage(2);
    await drag([10, 20], [210, 220]);
    expect(regionTexts()).toEqual(['0,0,100,100']);
    m.evidenceRedact.mockRejectedValue({ code: 'not_allowed', message: 'redaction from the desktop: it is court material; nothing was added' });
    await userEvent.setup().click(screen.getByTestId('redact-save'));
    expect(await screen.findByTestId('redact-error')).toHaveTextContent('nothing was added');
    expect(regionTexts()).toEqual(['0,0,100,100']);
    expect(screen.queryByTestId('redact-saved')).toBeNull();
  });

  it('previews: fill paints regions, blur blurs them', async () => {
    render(RedactPanel, { evidence: item(), source, onclose: vi.fn() });
    await loadImage(1);
    await drag([10, 20], [110, 120]);
    const user = userEvent.setup();
    await user.click(screen.getByTestId('redact-preview'));
    expect(screen.getByTestId('redact-region')).toHaveClass('blur');
    await user.click(screen.getByTestId('redact-mode-fill'));
    expect(screen.getByTestId('redact-region')).toHaveClass('fill');
    // Placed in percent of the natural size, so it follows any zoom.
    expect(screen.getByTestId('redact-region').getAttribute('style')).toContain('width: 12.5%');
  });
});

describe('EvidenceViewer and redaction', () => {
  const staff = { member_id: 'm', name: 'Ada', role: 'investigator', fingerprint: '', device_id: 'd', public_key: '' } as WhoAmI;

  it('offers "Redact…" to police staff on an image, and opens the panel on its cbmedia URL', async () => {
    session.whoami = staff;
    m.evidenceOpen.mockResolvedValue(source);
    m.evidenceCustody.mockResolvedValue([]);
    const onchange = vi.fn();
    render(EvidenceViewer, { evidence: item(), onclose: vi.fn(), onchange });
    await userEvent.setup().click(await screen.findByTestId('viewer-redact'));
    expect(await screen.findByTestId('redact-panel')).toBeInTheDocument();
    expect(screen.getByTestId('redact-image').getAttribute('src')).toBe(URL);
  });

  it('offers no redaction to a volunteer, nor on anything but an image', async () => {
    session.whoami = { ...staff, role: 'volunteer' };
    m.evidenceOpen.mockResolvedValue(source);
    m.evidenceCustody.mockResolvedValue([]);
    const { unmount } = render(EvidenceViewer, { evidence: item(), onclose: vi.fn() });
    await screen.findByTestId('viewer-image');
    expect(screen.queryByTestId('viewer-redact')).toBeNull();
    unmount();
    session.whoami = staff;
    m.evidenceOpen.mockResolvedValue({ ...source, media_type: 'video/mp4' });
    render(EvidenceViewer, { evidence: item({ media_type: 'video/mp4' }), onclose: vi.fn() });
    await screen.findByTestId('viewer-video');
    expect(screen.queryByTestId('viewer-redact')).toBeNull();
  });

  it("shows a derivative's provenance: derived from the original", async () => {
    session.whoami = staff;
    m.evidenceOpen.mockResolvedValue({ ...source, evidence_id: COPY });
    m.evidenceCustody.mockResolvedValue([]);
    render(EvidenceViewer, { evidence: redacted.item, onclose: vi.fn(), originalName: 'IMG_0042.jpg' });
    const prov = await screen.findByTestId('viewer-provenance');
    expect(prov).toHaveTextContent('Derived from');
    expect(prov).toHaveTextContent('IMG_0042.jpg');
    expect(prov).toHaveTextContent('strip-metadata; fill 200,100,100,100');
    await waitFor(() => expect(prov).toHaveTextContent('ab'.repeat(32)));
  });
});

describe('redaction messages per language', () => {
  it('the typed-in region checks speak the UI language', () => {
    try {
      expect(regionProblem({ x: 0, y: 0, w: -1, h: 1 }, null)).toBe('Width must be a whole number of pixels, 0 or more.');
      locale.set('de');
      expect(regionProblem({ x: 0, y: 0, w: -1, h: 1 }, null)).toBe('Breite muss eine ganze Zahl von Pixeln sein, 0 oder mehr.');
      expect(regionProblem({ x: 700, y: 0, w: 200, h: 1 }, { width: 800, height: 600 })).toBe('Der Bereich muss innerhalb des Bildes (800×600) liegen.');
      locale.set('nl');
      expect(regionProblem({ x: 0, y: 0, w: 0, h: 1 }, null)).toBe('Breedte en hoogte moeten minstens 1 pixel zijn.');
    } finally {
      locale.set('en');
    }
  });
});
