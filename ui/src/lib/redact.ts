// Pure geometry of the redaction panel (no I/O): where on the image, in its natural pixels, a
// pointer is, whatever the zoom or CSS scaling the image is drawn at, and the rectangle two such
// points span. Regions are what crates/app's `PixelRegion` takes: whole pixels of the upright
// image (the webview draws a JPEG upright by its EXIF orientation, as the court crate reads it).
import type { PixelRegion } from './bindings';
import { t } from './i18n';

/** The most regions one redaction takes (crates/court `MAX_REGIONS`). */
export const MAX_REGIONS = 64;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/**
 * The natural-pixel point under client coordinates `(cx, cy)` on an image drawn in `shown`
 * (its bounding box on screen) whose natural size is `natural`; clamped to the image.
 */
export function toImagePoint(cx: number, cy: number, shown: Box, natural: Size): Point {
  const sx = shown.width > 0 ? natural.width / shown.width : 1;
  const sy = shown.height > 0 ? natural.height / shown.height : 1;
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  return { x: clamp((cx - shown.left) * sx, natural.width), y: clamp((cy - shown.top) * sy, natural.height) };
}

/** The whole-pixel rectangle spanned by two points (any corner order), rounded outward so it covers both. */
export function regionBetween(a: Point, b: Point): PixelRegion {
  const x = Math.floor(Math.min(a.x, b.x));
  const y = Math.floor(Math.min(a.y, b.y));
  return { x, y, w: Math.ceil(Math.max(a.x, b.x)) - x, h: Math.ceil(Math.max(a.y, b.y)) - y };
}

/** Why a region typed by hand cannot be used on an image of `natural` size, or null when it can. */
export function regionProblem(r: PixelRegion, natural: Size | null): string | null {
  for (const [name, v] of [
    ['X', r.x],
    ['Y', r.y],
    [t('redact.width'), r.w],
    [t('redact.height'), r.h],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) return t('redact.notWhole', { name });
  }
  if (r.w === 0 || r.h === 0) return t('redact.tooSmall');
  if (natural && (r.x + r.w > natural.width || r.y + r.h > natural.height)) {
    return t('redact.outside', { size: `${natural.width}×${natural.height}` });
  }
  return null;
}

/** `X,Y,W,H`, as the provenance records a region. */
export function regionText(r: PixelRegion): string {
  return `${r.x},${r.y},${r.w},${r.h}`;
}
