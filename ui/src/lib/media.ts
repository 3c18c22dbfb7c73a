// The viewer's reading of evidence content from its `cbmedia://` URL (see crates/app/src/media.rs):
// byte ranges with fetch (the scheme answers 206 with at most 8 MiB per response, so a longer range
// takes several requests), and the words for what a media element could not play.

import * as api from './api';
import { t } from './i18n';

/** Most bytes one answer carries (crates/app/src/media.rs MAX_RANGE_BYTES). */
const MAX_RANGE = 8 * 1024 * 1024;

/** Set once a fetch from the scheme failed outright: the rest goes through the desktop's `media_range` command. */
let fetchBlocked = false;

/** The same bytes through the desktop's command (same token, same checks), in pieces of at most MAX_RANGE. */
async function viaCommand(url: string, begin: number, end: number, out: Uint8Array, at0: number): Promise<Uint8Array> {
  for (let at = at0; at < end; ) {
    const stop = Math.min(end, at + MAX_RANGE);
    let part: Uint8Array;
    try {
      part = new Uint8Array(await api.mediaRange(url, at, stop));
    } catch (e) {
      const err = api.toAppError(e);
      throw new Error(err.code === 'corruption' ? t('media.damaged') : err.message);
    }
    if (part.length === 0) throw new Error(t('media.endedEarly'));
    out.set(part.subarray(0, end - at), at - begin);
    at += part.length;
  }
  return out;
}

/** Bytes `begin .. end` of the content at `url`, however many responses the scheme splits them into. */
export async function fetchRange(url: string, begin: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
  const out = new Uint8Array(Math.max(0, end - begin));
  let at = begin;
  while (at < end) {
    if (fetchBlocked) return viaCommand(url, begin, end, out, at);
    let res: Response;
    try {
      res = await fetch(url, { headers: { Range: `bytes=${at}-${end - 1}` }, signal });
    } catch (e) {
      // A webview that does not let page script fetch from a custom scheme (CORS): the command instead.
      if (signal?.aborted) throw e;
      fetchBlocked = true;
      continue;
    }
    if (!res.ok) {
      const reason = res.headers.get('X-Casebridge-Reason');
      throw new Error(reason === 'corruption' ? t('media.damaged') : t('media.unreadable', { reason: reason ?? res.status }));
    }
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length === 0) throw new Error(t('media.endedEarly'));
    // A server ignoring the range (a 200) sends from byte 0.
    const from = res.status === 200 ? at : 0;
    const part = buf.subarray(from, from + (end - at));
    out.set(part, at - begin);
    at += part.length;
    if (part.length === 0) throw new Error(t('media.endedEarly'));
  }
  return out;
}

const KINDS = new Set(['video', 'audio', 'image']);

/** What to tell the user when a media element reports an error (its `MediaError` code, if any). */
export function mediaErrorMessage(mediaType: string, code: number | null | undefined): string {
  const top = mediaType.split('/')[0];
  const kind = t(`media.kind.${KINDS.has(top) ? top : 'file'}`);
  switch (code) {
    case 3: // MEDIA_ERR_DECODE
      return t('media.decode', { kind, mediaType });
    case 2: // MEDIA_ERR_NETWORK
      return t('media.network', { kind, mediaType });
    case 4: // MEDIA_ERR_SRC_NOT_SUPPORTED
    default:
      return t('media.unsupported', { kind, mediaType });
  }
}
