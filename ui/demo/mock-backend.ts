// A stand-in for the desktop shell, for looking at the UI in a plain browser (npm run demo:build).
// Never part of ui/dist. URL query: ?role=investigator|volunteer&locked=1&fresh=1
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type { AppInfo, BriefView, CaseView, Redacted, RedactRequest, SearchHit, Submission, WhoAmI, ReceiptView, SyncStatus } from '../src/lib/bindings';

const q = new URLSearchParams(location.search);
const role = (q.get('role') ?? 'investigator') as WhoAmI['role'];
let unlocked = q.get('locked') !== '1';
const fresh = q.get('fresh') === '1';
let wrong = 0;
let notifications = true;

const who: WhoAmI = {
  member_id: '0190c1d2-7a00-7000-8000-00000000a001',
  name: role === 'volunteer' ? 'Sam Volunteer' : 'Dana Weber',
  role,
  fingerprint: '3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809',
  device_id: '0190c1d2-7a00-7000-8000-0000000000d1',
  public_key: '00'.repeat(32),
};

const ev = (i: number, name: string, mt: string, size: number) => ({
  id: `0190c1d2-7a00-7000-8000-00000000e00${i}`,
  case_id: 'c1',
  sha256: `${i}f3a9c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f8`.slice(0, 64),
  size,
  media_type: mt,
  original_name: name,
  captured_at: '2026-03-01T22:14:00+01:00',
  location: { lat: 52.5219, lon: 13.4132 },
  camera: { make: 'Google', model: 'Pixel 8' },
  description: null,
  claimed: { captured_at: null, location: null },
  extracted: { captured_at: '2026-03-01T22:14:00+01:00', location: { lat: 52.5219, lon: 13.4132 }, camera: { make: 'Google', model: 'Pixel 8' } },
  contributor: who.member_id,
  contributor_name: i === 3 ? 'Volunteer 7f3a' : 'Dana Weber',
  added_at: '2026-03-02T09:10:00+01:00',
  derived_from: null,
  review_state: null,
});

const detail: CaseView = {
  id: 'c1',
  reference: 'BER-2026-000123',
  title: 'Depot fire, Rummelsburg',
  summary: 'Fire at the bus depot on 1 March around 22:15. Two vehicles destroyed. Looking for witnesses and footage from the bridge and the S-Bahn platform.',
  status: 'active',
  tags: ['arson', 'lichtenberg', 'priority'],
  created_by: who.member_id,
  created_at: '2026-03-02T08:00:00+01:00',
  updated_at: '2026-03-02T11:30:00+01:00',
  evidence_count: 3,
  evidence: [
    ev(1, 'depot-north-gate.jpg', 'image/jpeg', 3_482_112),
    ev(2, 'cctv-export-2214.mp4', 'video/mp4', 148_000_000),
    ev(3, 'bridge-witness.jpg', 'image/jpeg', 2_100_224),
  ],
  notes: [
    {
      id: 'n1',
      text: 'Fire brigade report requested. Arrival 22:31.',
      author: who.member_id,
      author_name: 'Dana Weber',
      at: '2026-03-02T10:00:00+01:00',
      original_text: 'Fire brigade report requested. Arrival 22:13.',
      amendments: [{ text: 'Fire brigade report requested. Arrival 22:31.', reason: 'time transposed', at: '2026-03-02T10:05:00+01:00' }],
    },
  ],
  team: [{ id: 'u1', name: 'Vera Investigator', lead: true }],
  on_team: true,
  hold: null,
  acted_by: [],
};

const briefs: BriefView[] = [
  {
    id: 'b1',
    title: 'Footage of the depot fire',
    body: 'Did you film or photograph the bus depot in Rummelsburg between 22:00 and 22:45 on 1 March? We are looking for anything showing people or vehicles near the north gate.',
    area: { lat: 52.4985, lon: 13.4931, radius_m: 800 },
    from: '2026-03-01T22:00:00+01:00',
    until: '2026-03-01T22:45:00+01:00',
    case_id: 'c1',
    audience: [],
    published_by: who.member_id,
    published_at: '2026-03-02T09:00:00+01:00',
    withdrawn: false,
    from_agency: true,
  },
  {
    id: 'b2',
    title: 'Stolen cargo bikes, Mitte',
    body: 'Red and green cargo bikes offered for sale online since February.',
    area: null,
    from: null,
    until: null,
    case_id: 'c2',
    audience: [],
    published_by: who.member_id,
    published_at: '2026-02-20T09:00:00+01:00',
    withdrawn: false,
    from_agency: true,
  },
];

const subs: Submission[] = [
  {
    id: 's1',
    brief_id: 'b1',
    brief_title: 'Footage of the depot fire',
    case_id: 'c1',
    submitter: '0190c1d2-7a00-7000-8000-00000000f7a3',
    submitted_at: '2026-03-02T10:40:00+01:00',
    state: role === 'volunteer' ? 'info_requested' : 'pending',
    items: [
      { evidence_id: 'e10', name: 'IMG_20260301_2216.jpg', media_type: 'image/jpeg', size: 2_812_000, sha256: 'ab'.repeat(32), state: role === 'volunteer' ? 'info_requested' : 'pending', reason: role === 'volunteer' ? 'Which direction were you facing when you took this?' : null, held: true },
      { evidence_id: 'e11', name: 'VID_20260301_2217.mp4', media_type: 'video/mp4', size: 31_000_000, sha256: 'cd'.repeat(32), state: 'pending', reason: null, held: false },
    ],
    description: 'Taken from the Rummelsburg bridge. Two people running towards the tram stop.',
    decisions: [],
    refused: null,
  },
  {
    id: 's2',
    brief_id: 'b2',
    brief_title: 'Stolen cargo bikes, Mitte',
    case_id: 'c2',
    submitter: '0190c1d2-7a00-7000-8000-00000000f7a3',
    submitted_at: '2026-02-25T18:00:00+01:00',
    state: 'accepted',
    items: [{ evidence_id: '0190c1d2-7a00-7000-8000-00000000e003', name: 'listing.png', media_type: 'image/png', size: 412_000, sha256: 'ef'.repeat(32), state: 'accepted', reason: null, held: true }],
    description: 'Screenshot of the listing.',
    decisions: [],
    refused: null,
  },
];

const receipts: ReceiptView[] = [
  { agency_id: 'a', bundle_id: '0190c1d2-b001-7000-8000-000000000001', manifest_hash: '9a'.repeat(32), sender: who.member_id, seq: 2, received_at: '2026-03-02T10:41:10+01:00', outcome: 'accepted', events: 4, blobs: 2, verified: true },
  { agency_id: 'a', bundle_id: '0190c1d2-b002-7000-8000-000000000002', manifest_hash: '7c'.repeat(32), sender: who.member_id, seq: 1, received_at: '2026-02-25T18:00:30+01:00', outcome: 'accepted', events: 3, blobs: 1, verified: true },
];

const status: SyncStatus = {
  pending: 2,
  pending_bytes: 33_812_000,
  last_success: new Date(Date.now() - 4 * 60_000).toISOString(),
  last_error: null,
  last_attempt: new Date(Date.now() - 60_000).toISOString(),
  cursor: 42,
  online: true,
  running: false,
  refused: [],
};

const info = (): AppInfo => ({
  store_dir: '/home/dana/.local/share/casebridge/profile',
  profile_exists: !fresh,
  unlocked,
  whoami: unlocked ? who : null,
  idle_lock_secs: 900,
  notifications,
  failed_attempts: wrong,
  locked_out_until: wrong >= 5 ? new Date(Date.now() + 10 * 60_000).toISOString() : null,
  enrolled: true,
});

const cases = [
  { id: 'c1', reference: 'BER-2026-000123', title: 'Depot fire, Rummelsburg', status: 'active', updated_at: '2026-03-02T11:30:00+01:00', evidence_count: 3, on_team: true },
  { id: 'c2', reference: 'BER-2026-000097', title: 'Stolen cargo bikes, Mitte', status: 'open', updated_at: '2026-02-27T16:00:00+01:00', evidence_count: 12, on_team: true },
  { id: 'c3', reference: 'BER-2025-004410', title: 'Graffiti series, S-Bahn Ostkreuz', status: 'suspended', updated_at: '2026-01-12T09:00:00+01:00', evidence_count: 41, on_team: true },
  { id: 'c4', reference: null, title: 'Missing person sighting, Treptower Park', status: 'closed', updated_at: '2025-11-03T09:00:00+01:00', evidence_count: 7, on_team: false },
];

mockWindows('main');
mockIPC(
  (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    switch (cmd) {
      case 'app_info':
        return info();
      case 'unlock':
        if (a.passphrase === 'correct horse battery') {
          unlocked = true;
          wrong = 0;
          return who;
        }
        if (wrong >= 5) throw { code: 'locked_out', message: 'Too many wrong passphrases: unlocking is paused for 10 minutes.' };
        wrong++;
        throw { code: 'wrong_passphrase', message: `Wrong passphrase. ${5 - wrong} attempts left before a 10-minute pause.` };
      case 'profile_create':
        unlocked = true;
        return who;
      case 'passphrase_strength': {
        const p = String(a.passphrase);
        const score = Math.min(4, Math.floor(p.length / 5));
        return { score, label: ['very weak', 'weak', 'fair', 'strong', 'very strong'][score], meets_policy: p.length >= 10 };
      }
      case 'lock':
        unlocked = false;
        return null;
      case 'cases_list': {
        let out = cases.filter((c) => !a.status || c.status === a.status).filter((c) => !a.search || c.title.toLowerCase().includes(String(a.search).toLowerCase()));
        if (a.sort === 'title') out = [...out].sort((x, y) => x.title.localeCompare(y.title));
        return out;
      }
      case 'search': {
        // A stand-in for the engine: the demo's notes and titles, word prefix, first match only.
        const words = String(a.query ?? '').toLowerCase().split(/\W+/).filter(Boolean);
        if (words.length === 0) return [];
        const hits: SearchHit[] = [];
        const find = (text: string) => {
          const lower = text.toLowerCase();
          const at = lower.search(new RegExp(`\\b${words[words.length - 1].replace(/[^a-z0-9]/g, '')}`));
          return at < 0 ? null : { start: at, end: at + (lower.slice(at).match(/^\w+/)?.[0].length ?? 0) };
        };
        for (const n of detail.notes) {
          const r = find(n.text);
          if (r) hits.push({ kind: 'note', id: n.id, case_id: detail.id, case_title: detail.title, brief_id: null, score: 2, matches: [{ field: 'note', snippet: n.text, ranges: [r] }] });
        }
        for (const c of cases) {
          const r = find(c.title);
          if (r) hits.push({ kind: 'case', id: c.id, case_id: c.id, case_title: c.title, brief_id: null, score: 3, matches: [{ field: 'title', snippet: c.title, ranges: [r] }] });
        }
        return hits.sort((x, y) => y.score - x.score);
      }
      case 'note_amend': {
        const n = detail.notes.find((x) => x.id === a.noteId);
        if (n) {
          n.original_text = n.original_text ?? n.text;
          n.amendments.push({ text: String(a.text), reason: (a.reason as string | null) ?? null, at: new Date().toISOString() });
          n.text = String(a.text);
        }
        return null;
      }
      case 'case_set_tags':
        detail.tags = (a.tags as string[]).map((t) => t.trim()).filter((t) => t !== '');
        return null;
      case 'case_get':
        return detail;
      case 'case_create':
        return 'c1';
      case 'evidence_custody':
        return [
          { at: '2026-03-02T09:10:00+01:00', action: 'imported', actor: who.member_id, actor_name: 'Dana Weber', device: who.device_id, reason: null, sha256: detail.evidence[0].sha256, event_hash: '11'.repeat(32) },
          { at: '2026-03-02T11:00:00+01:00', action: 'viewed', actor: who.member_id, actor_name: 'Dana Weber', device: who.device_id, reason: null, sha256: detail.evidence[0].sha256, event_hash: '22'.repeat(32) },
        ];
      case 'evidence_open': {
        const item = detail.evidence.find((e) => e.id === a.id);
        if (item?.media_type.startsWith('image/')) {
          // A drawn street scene stands in for the photo (the redaction panel draws on it).
          const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800"><rect width="1200" height="800" fill="#8aa4c0"/><rect y="520" width="1200" height="280" fill="#555"/><rect x="380" y="380" width="420" height="200" rx="30" fill="#e8e8e8"/><rect x="500" y="520" width="180" height="44" fill="#fff" stroke="#000"/><text x="590" y="552" font-size="30" text-anchor="middle" font-family="monospace">B-KX 4711</text><circle cx="220" cy="330" r="60" fill="#e0b08a"/></svg>`;
          return { evidence_id: a.id, url: `data:image/svg+xml;base64,${btoa(svg)}`, media_type: item.media_type, size: item.size, stream_url: null };
        }
        // The demo has no store: a data: URL of a short text stands in for the cbmedia:// URL.
        const body = 'Content is decrypted on demand and streamed to the viewer.\nThis demo has no real files.';
        return { evidence_id: a.id, url: `data:text/plain;base64,${btoa(body)}`, media_type: 'text/plain; charset=utf-8', size: body.length, stream_url: null };
      }
      case 'evidence_preview':
        return { media_type: 'text/plain', data_base64: btoa('Preview content is decrypted on demand.\nThis demo has no real files.'), too_large: false };
      case 'evidence_import': {
        const job = 'job-1';
        const paths = a.paths as string[];
        paths.forEach((p, i) => {
          let done = 0;
          const total = 5_000_000 + i * 2_000_000;
          const t = setInterval(() => {
            done = Math.min(total, done + 700_000);
            void emit('job-progress', { job, item: i, name: p.split('/').pop(), done, total });
            if (done >= total) clearInterval(t);
          }, 300);
        });
        return job;
      }
      case 'briefs_list':
        return briefs.filter((b) => a.includeWithdrawn || !b.withdrawn);
      case 'submissions_list':
        return subs;
      case 'submission_withdraw': {
        const s = subs.find((x) => x.id === a.id) ?? subs[0];
        s.withdrawn_at = new Date().toISOString();
        return s;
      }
      case 'review_decide':
        return { ...subs[0], state: a.decision };
      case 'receipts_list':
        return receipts;
      case 'conduct_accepted':
        return false;
      case 'sync_status':
        return status;
      case 'sync_now':
        status.running = true;
        setTimeout(() => void emit('sync-event', { event: 'progress', bundle_id: '0190c1d2-b003-7000-8000-000000000003', done: 12_000_000, total: 33_812_000 }), 200);
        return null;
      case 'access_log':
        return [
          { at: '2026-03-02T10:00:00+01:00', actor: who.member_id, actor_name: 'Dana Weber', device: who.device_id, action: 'viewed', case_id: 'c1', evidence_id: detail.evidence[0].id, item_ids: [], reason: 'review', access_seq: 1, status: 'chained' },
          { at: '2026-03-02T10:05:00+01:00', actor: who.member_id, actor_name: 'Dana Weber', device: who.device_id, action: 'listed_evidence', case_id: 'c1', evidence_id: null, item_ids: detail.evidence.map((e) => e.id), reason: null, access_seq: 2, status: 'chained' },
        ];
      case 'access_log_export':
        return 2;
      case 'evidence_redact': {
        // As crates/app's `Session::evidence_redact`: a new item with its provenance; the original is unchanged.
        const orig = detail.evidence.find((e) => e.id === a.id) ?? detail.evidence[0];
        const req = a.request as RedactRequest;
        if (role === 'volunteer') throw { code: 'not_allowed', message: 'redaction from the desktop: it is court material, made by police staff; nothing was added' };
        if (req.regions.length === 0 && !req.strip_metadata) throw { code: 'nothing_to_redact', message: 'nothing to redact: ask for metadata stripping, regions to blur, or both; nothing was added' };
        const n = detail.evidence.length + 1;
        const id = `0190c1d2-7a00-7000-8000-00000000e0${String(n).padStart(2, '0')}`;
        const provenance = {
          evidence_id: id,
          original_id: orig.id,
          original_sha256: orig.sha256,
          sha256: `${n}e`.repeat(32).slice(0, 64),
          operations: ['strip-metadata', ...req.regions.map((r) => `${req.mode} ${r.x},${r.y},${r.w},${r.h}`)],
          by: who.member_id,
          at: new Date().toISOString(),
          event_hash: '33'.repeat(32),
        };
        const stem = orig.original_name.replace(/\.[^.]*$/, '');
        const item = {
          ...orig,
          id,
          sha256: provenance.sha256,
          original_name: `${stem}-redacted.jpg`,
          location: null,
          camera: null,
          extracted: { captured_at: null, location: null, camera: null },
          description: `derivative of ${orig.id}: ${provenance.operations.join('; ')}`,
          added_at: provenance.at,
          derived_from: provenance,
          review_state: null,
        };
        detail.evidence.push(item);
        detail.evidence_count = detail.evidence.length;
        return { item, provenance, original_name: orig.original_name, by_name: who.name } satisfies Redacted;
      }
      case 'court_info':
        return { agency_name: 'Polizei Berlin', agency_root_fingerprint: '9c1e7a5b3d2f4e6a8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a' };
      case 'court_report':
      case 'court_package': {
        const job = `${cmd === 'court_report' ? 'report' : 'package'}-1`;
        setTimeout(() => void emit('job-progress', { job, item: 0, name: 'out', done: 50, total: 100 }), 200);
        setTimeout(() => void emit('job-done', { job, ok: true, error: null }), 600);
        return job;
      }
      case 'bundle_verify':
        // The demo has no agency: a file named like "tampered" is rejected as the trust layer would.
        if (String(a.path).includes('tamper'))
          return { verdict: 'rejected', reason: 'seal_damaged', message: 'the sealed bundle does not open: it was changed or cut short', agency_id: 'a1', agency_name: 'Polizei Berlin', bundle_id: null, sender: null, sender_name: null, role: null, case_id: null, seq: null, manifest_hash: null, events: null, blobs: null, bytes: null, sealed: null };
        return { verdict: 'verified', reason: null, message: 'signed by a field officer with a valid, unrevoked credential from Polizei Berlin; every event signature and blob hash checks', agency_id: 'a1', agency_name: 'Polizei Berlin', bundle_id: '0190c1d2-b001-7000-8000-000000000001', sender: '0190c1d2-7a00-7000-8000-00000000a002', sender_name: 'Tom Streife', role: 'investigator', case_id: 'c1', seq: 3, manifest_hash: 'ab'.repeat(32), events: 12, blobs: 2, bytes: 5_582_336, sealed: true };
      case 'bundle_open':
        return { outcome: 'accepted', bundle_id: '0190c1d2-b001-7000-8000-000000000001', sender: '0190c1d2-7a00-7000-8000-00000000a002', seq: 3, case_id: 'c1', events: 12, events_added: 12, blobs: 2, manifest_hash: 'ab'.repeat(32), receipt_path: String(a.receiptOut), receipt_error: null };
      case 'receipt_import':
        return { receipt: receipts[0], agency_name: 'Polizei Berlin' };
      case 'bundles_export': {
        const job = 'files-export-1';
        setTimeout(() => void emit('job-progress', { job, item: 0, name: 'usb', done: 20_000_000, total: 33_812_000 }), 200);
        return [{ bundle_id: '0190c1d2-b003-7000-8000-000000000003', path: `${String(a.dir)}/0190c1d2-b003-7000-8000-000000000003.cbb`, bytes: 33_812_000 }];
      }
      case 'map_tiles':
      case 'set_map_tiles':
        // The demo has no street tiles file: maps draw the world outlines.
        return null;
      case 'set_notifications':
        notifications = (args as { enabled: boolean }).enabled;
        return null;
      case 'set_language':
        return (args as { tag: string }).tag;
      default:
        return null;
    }
  },
  { shouldMockEvents: true },
);
(globalThis as unknown as { isTauri: boolean }).isTauri = true;
