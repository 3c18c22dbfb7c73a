// The evidence viewer (issue 17): every type opens from its cbmedia:// URL (never a data: URL of the file):
// images, video and audio as native elements with their controls, PDF through pdf.js page by page, text
// escaped and size-limited; a format that cannot play, a damaged file or a refused open says so in the
// viewer. `fetch` stands in for the scheme (it answers byte ranges as crates/app/src/media.rs does); pdf.js
// itself cannot draw in jsdom, so its module is replaced by a document of three pages.
import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { render, screen, waitFor, fireEvent, cleanup } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { EvidenceItem, MediaSource } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
vi.mock('pdfjs-dist/build/pdf.worker.min.mjs?url', () => ({ default: './assets/pdf.worker.min.mjs' }));
const pdfjs = vi.hoisted(() => ({
  getDocument: vi.fn(),
  rendered: [] as number[],
}));
vi.mock('pdfjs-dist', () => ({
  GlobalWorkerOptions: { workerSrc: '' },
  PDFDataRangeTransport: class {
    constructor(
      public length: number,
      public initialData: Uint8Array | null,
      public progressiveDone = false,
    ) {}
    onDataRange() {}
  },
  getDocument: pdfjs.getDocument,
}));
import * as api from '../lib/api';
import EvidenceViewer from '../components/EvidenceViewer.svelte';

const m = vi.mocked(api);
const URL = `cbmedia://localhost/${'ab'.repeat(32)}`;

function item(media_type: string, size = 2048, name = 'item.bin'): EvidenceItem {
  return {
    id: '0190c1d2-e001-7000-8000-000000000001',
    case_id: 'c1',
    sha256: 'ab'.repeat(32),
    size,
    media_type,
    original_name: name,
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
  };
}

/** The scheme, as fetch sees it: `content` served by byte ranges; `status` to refuse instead. */
function serve(content: Uint8Array, refuse?: { status: number; reason: string }) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (url: string, init?: RequestInit) => {
    expect(url).toBe(URL);
    const range = new Headers(init?.headers).get('Range') ?? '';
    calls.push(range);
    if (refuse) return new Response(`${refuse.reason}: refused`, { status: refuse.status, headers: { 'X-Casebridge-Reason': refuse.reason } });
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(range) ?? [];
    const first = Number(a);
    const last = Math.min(Number(b), content.length - 1);
    return new Response(content.slice(first, last + 1), {
      status: 206,
      headers: { 'Content-Range': `bytes ${first}-${last}/${content.length}` },
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

function open(evidence: EvidenceItem, media_type = evidence.media_type, stream_url: string | null = null) {
  const source: MediaSource = { evidence_id: evidence.id, url: URL, media_type, size: evidence.size, stream_url };
  m.evidenceOpen.mockResolvedValue(source);
  m.evidenceCustody.mockResolvedValue([]);
  return render(EvidenceViewer, { evidence, onclose: vi.fn() });
}

function fakePdf(pages: number) {
  const getPage = vi.fn(async (n: number) => ({
    getViewport: ({ scale }: { scale: number }) => ({ width: 600 * scale, height: 800 * scale }),
    render: vi.fn(() => {
      pdfjs.rendered.push(n);
      return { promise: Promise.resolve() };
    }),
  }));
  return { numPages: pages, getPage, destroy: vi.fn(() => Promise.resolve()) };
}

beforeEach(() => {
  vi.clearAllMocks();
  pdfjs.rendered = [];
});
afterEach(() => vi.unstubAllGlobals());

describe('EvidenceViewer', () => {
  it('shows an image from its cbmedia URL, and says so when it cannot be decoded', async () => {
    open(item('image/heic', 5000, 'IMG_0042.HEIC'));
    const img = await screen.findByTestId('viewer-image');
    expect(img.getAttribute('src')).toBe(URL);
    expect(m.evidenceOpen).toHaveBeenCalledWith('0190c1d2-e001-7000-8000-000000000001');
    await fireEvent.error(img);
    const alert = await screen.findByTestId('viewer-media-error');
    expect(alert).toHaveTextContent('This image (image/heic) cannot be played here');
    expect(screen.queryByTestId('viewer-image')).toBeNull();
  });

  it('plays video and audio from the loopback stream when the desktop runs one (same token)', async () => {
    const stream = 'http://127.0.0.1:40123/' + 'ab'.repeat(32);
    open(item('video/mp4', 2_000_000_000, 'dashcam.mp4'), 'video/mp4', stream);
    const video = (await screen.findByTestId('viewer-video')) as HTMLVideoElement;
    expect(video.getAttribute('src')).toBe(stream);
    cleanup();
    open(item('audio/wav', 40_000, 'interview.wav'), 'audio/wav', stream);
    const audio = (await screen.findByTestId('viewer-audio')) as HTMLAudioElement;
    expect(audio.getAttribute('src')).toBe(stream);
  });

  it('plays video with native controls (seekable: the scheme answers ranges) and names a format that cannot play', async () => {
    open(item('video/mp4', 2_000_000_000, 'dashcam.mp4'));
    const video = (await screen.findByTestId('viewer-video')) as HTMLVideoElement;
    expect(video.getAttribute('src')).toBe(URL);
    expect(video.hasAttribute('controls')).toBe(true);
    expect(document.body.innerHTML).not.toContain('data:');
    Object.defineProperty(video, 'error', { value: { code: 3 } });
    await fireEvent.error(video);
    expect(await screen.findByTestId('viewer-media-error')).toHaveTextContent('This video (video/mp4) could not be decoded: the file is damaged, or it uses a codec');
  });

  it('plays audio, and an unsupported audio format says which', async () => {
    open(item('audio/x-ms-wma', 40_000, 'call.wma'));
    const audio = (await screen.findByTestId('viewer-audio')) as HTMLAudioElement;
    expect(audio.getAttribute('src')).toBe(URL);
    expect(audio.hasAttribute('controls')).toBe(true);
    Object.defineProperty(audio, 'error', { value: { code: 4 } });
    await fireEvent.error(audio);
    expect(await screen.findByTestId('viewer-media-error')).toHaveTextContent('This audio recording (audio/x-ms-wma) cannot be played here: the format is not supported');
  });

  it('renders a PDF page by page with pdf.js, reading it by ranges', async () => {
    const bytes = new TextEncoder().encode('%PDF-1.7\n' + 'x'.repeat(300_000));
    const calls = serve(bytes);
    const doc = fakePdf(3);
    pdfjs.getDocument.mockReturnValue({ promise: Promise.resolve(doc) });
    open(item('application/pdf', bytes.length, 'report.pdf'));
    const page = await screen.findByTestId('viewer-pdf-page');
    expect(page).toHaveTextContent('Page 1 of 3');
    await waitFor(() => expect(page.getAttribute('data-rendered')).toBe('1'));
    expect(screen.getByTestId('viewer-pdf-canvas').tagName).toBe('CANVAS');
    // The first 256 KiB by range, not the whole file; no XFA forms.
    expect(calls[0]).toBe('bytes=0-262143');
    const opts = pdfjs.getDocument.mock.calls[0][0];
    expect(opts.enableXfa).toBe(false);
    expect(opts.range.length).toBe(bytes.length);
    expect(opts.range.initialData.length).toBe(262144);
    expect(screen.getByTestId('viewer-pdf-prev')).toBeDisabled();
    await userEvent.click(screen.getByTestId('viewer-pdf-next'));
    await waitFor(() => expect(page).toHaveTextContent('Page 2 of 3'));
    await waitFor(() => expect(page.getAttribute('data-rendered')).toBe('2'));
    expect(doc.getPage).toHaveBeenLastCalledWith(2);
    expect(pdfjs.rendered).toEqual([1, 2]);
  });

  it('a damaged PDF shows a clear message instead of a blank page', async () => {
    serve(new TextEncoder().encode('not a pdf at all'));
    pdfjs.getDocument.mockReturnValue({ promise: Promise.reject(new Error('Invalid PDF structure.')) });
    open(item('application/pdf', 16, 'broken.pdf'));
    const alert = await screen.findByTestId('viewer-media-error');
    expect(alert).toHaveTextContent('This PDF (application/pdf) could not be shown: it is damaged or not a PDF (Invalid PDF structure.)');
    expect(screen.queryByTestId('viewer-pdf-canvas')).toBeNull();
  });

  it('content the store refuses as damaged is named, not shown', async () => {
    serve(new Uint8Array(), { status: 500, reason: 'corruption' });
    open(item('application/pdf', 1000, 'report.pdf'));
    expect(await screen.findByTestId('viewer-media-error')).toHaveTextContent('damaged (it fails its authentication)');
    expect(pdfjs.getDocument).not.toHaveBeenCalled();
  });

  it('shows text escaped, and only its first 256 KiB', async () => {
    const body = '<img src=x onerror=alert(1)><script>alert(2)</script> witness statement\n' + 'y'.repeat(300 * 1024);
    const bytes = new TextEncoder().encode(body);
    const calls = serve(bytes);
    open(item('text/plain', bytes.length, 'statement.txt'), 'text/plain; charset=utf-8');
    const pre = await screen.findByTestId('viewer-text');
    expect(pre.textContent?.startsWith('<img src=x onerror=alert(1)><script>alert(2)</script> witness statement')).toBe(true);
    expect(pre.querySelector('img, script')).toBeNull();
    expect(pre.textContent?.length).toBe(256 * 1024);
    expect(calls).toEqual(['bytes=0-262143']);
    expect(screen.getByTestId('viewer-text-cut')).toHaveTextContent('The first');
  });

  it('reads through the desktop command when the webview refuses script a fetch from the scheme', async () => {
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('Cross origin requests are only supported for HTTP.'))));
    m.mediaRange.mockImplementation(async (_url: string, begin: number, end: number) => new TextEncoder().encode('hello from the store'.slice(begin, end)).buffer as ArrayBuffer);
    open(item('text/plain', 20, 'note.txt'), 'text/plain; charset=utf-8');
    expect(await screen.findByTestId('viewer-text')).toHaveTextContent('hello from the store');
    expect(m.mediaRange).toHaveBeenCalledWith(URL, 0, 20);
  });

  it('a type with no view says so, naming it', async () => {
    open(item('application/zip', 100, 'export.zip'), 'application/octet-stream');
    expect(await screen.findByTestId('viewer-unsupported')).toHaveTextContent('This type (application/zip) cannot be shown here');
  });

  it('a refused open (the profile locked) shows the reason', async () => {
    m.evidenceOpen.mockRejectedValue({ code: 'locked', message: 'The profile is locked.' });
    m.evidenceCustody.mockResolvedValue([]);
    render(EvidenceViewer, { evidence: item('video/mp4'), onclose: vi.fn() });
    expect(await screen.findByTestId('viewer-open-error')).toHaveTextContent('The profile is locked.');
    expect(screen.queryByTestId('viewer-video')).toBeNull();
  });
});
