import type { AppInfo, CaseSummary, Submission, WhoAmI, BriefView } from '../lib/bindings';

export const investigator: WhoAmI = {
  member_id: '0190a000-0000-7000-8000-000000000001',
  name: 'Ada Investigator',
  role: 'investigator',
  fingerprint: 'ab'.repeat(32),
  device_id: '0190a000-0000-7000-8000-0000000000d1',
  public_key: 'cd'.repeat(32),
};

export function info(over: Partial<AppInfo> = {}): AppInfo {
  return {
    store_dir: '/tmp/store',
    profile_exists: true,
    unlocked: false,
    whoami: null,
    idle_lock_secs: 900,
    notifications: true,
    failed_attempts: 0,
    locked_out_until: null,
    enrolled: true,
    ...over,
  };
}

export const cases: CaseSummary[] = [
  { id: 'c1', reference: 'BER-2026-000123', title: 'Bike thefts Mitte', status: 'open', updated_at: '2026-03-01T10:00:00+01:00', evidence_count: 3, on_team: true },
  { id: 'c2', reference: null, title: 'Arson at the depot', status: 'closed', updated_at: '2026-02-01T10:00:00+01:00', evidence_count: 0, on_team: true },
];

export const submission: Submission = {
  id: 's1',
  brief_id: 'b1',
  brief_title: 'Witnesses to the depot fire',
  case_id: 'c2',
  submitter: '0190a000-0000-7000-8000-0000000000v1',
  submitted_at: '2026-03-02T09:00:00+01:00',
  state: 'pending',
  items: [
    { evidence_id: 'e1', name: 'IMG_1.jpg', media_type: 'image/jpeg', size: 2048, sha256: 'aa'.repeat(32), state: 'pending', reason: null, held: true },
  ],
  description: 'Smoke seen from the bridge',
  decisions: [],
  refused: null,
};

export const brief: BriefView = {
  id: 'b1',
  title: 'Witnesses to the depot fire',
  body: 'Photos or videos of the depot between 22:00 and 23:00.',
  area: { lat: 52.52, lon: 13.405, radius_m: 500 },
  from: '2026-03-01T22:00:00+01:00',
  until: '2026-03-01T23:00:00+01:00',
  case_id: 'c2',
  audience: [],
  published_by: null,
  from_agency: false,
  published_at: '2026-03-02T08:00:00+01:00',
  withdrawn: false,
};
