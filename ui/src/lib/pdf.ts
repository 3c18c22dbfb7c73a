// PDF evidence with pdf.js (pdfjs-dist), loaded only when a PDF is opened. The worker is bundled
// with the app (no CDN); the document is read by ranges from its `cbmedia://` URL, so a large PDF
// is not fetched whole before its first page shows. Script in a PDF never runs: the CSP allows no eval,
// and pdf.js runs no PDF JavaScript (no scripting sandbox is loaded).

import { getDocument, GlobalWorkerOptions, PDFDataRangeTransport, type PDFDocumentProxy } from 'pdfjs-dist';
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import { fetchRange } from './media';
import { t } from './i18n';

GlobalWorkerOptions.workerSrc = workerUrl;

/** Bytes fetched first (pdf.js reads the trailer and the first page from them when the file is small). */
const FIRST = 256 * 1024;

/** Opens the PDF of `size` bytes at `url`. `onerror` hears of a range that failed after opening. */
export async function openPdf(url: string, size: number, onerror: (e: Error) => void): Promise<PDFDocumentProxy> {
  if (size === 0) throw new Error(t('media.empty'));
  const first = await fetchRange(url, 0, Math.min(size, FIRST));
  class Ranges extends PDFDataRangeTransport {
    requestDataRange(begin: number, end: number): void {
      fetchRange(url, begin, end).then(
        (chunk) => this.onDataRange(begin, chunk),
        (e: unknown) => onerror(e instanceof Error ? e : new Error(String(e))),
      );
    }
  }
  const range = new Ranges(size, first, size <= FIRST);
  return getDocument({ range, enableXfa: false, disableAutoFetch: true, disableStream: true }).promise;
}

/** Renders page `n` (1-based) of `doc` into `canvas`, fitted to `width` CSS pixels. */
export async function renderPage(doc: PDFDocumentProxy, n: number, canvas: HTMLCanvasElement, width: number): Promise<void> {
  const page = await doc.getPage(n);
  const base = page.getViewport({ scale: 1 });
  const scale = Math.max(0.25, Math.min(4, width / base.width));
  const ratio = window.devicePixelRatio || 1;
  const viewport = page.getViewport({ scale: scale * ratio });
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
  canvas.style.height = `${Math.floor(viewport.height / ratio)}px`;
  await page.render({ canvas, viewport }).promise;
}
