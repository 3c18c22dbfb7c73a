// Types of the desktop command contract (issue 5). They mirror the Rust serde names exactly (snake_case).
// When the generated ts-rs bindings land in ./bindings/*.ts, these re-declarations are replaced by
// re-exports of them; every other module imports its types from here only.

/** Every command error: `code` is a stable machine word, `message` is for people. */
export interface AppError {
  code: string;
  message: string;
}

export type Role = 'investigator' | 'volunteer' | 'supervisor';
export type CaseStatus = 'open' | 'active' | 'suspended' | 'closed';
export type CaseSort = 'updated' | 'title' | 'created';
export type ReviewDecision = 'accepted' | 'rejected' | 'info_requested';

export interface WhoAmI {
  member_id: string;
  name: string;
  role: Role;
  fingerprint: string;
  device_id: string;
  public_key: string;
}

export interface AppInfo {
  store_dir: string;
  profile_exists: boolean;
  unlocked: boolean;
  whoami: WhoAmI | null;
  idle_lock_secs: number;
  failed_attempts: number;
  locked_out_until: string | null;
  enrolled: boolean;
}

export interface Strength {
  score: number;
  label: string;
  meets_policy: boolean;
}

export interface Enrolled {
  agency_id: string;
  agency: string;
  member_id: string;
  role: Role;
  endpoint: string;
  valid_until: string;
}

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface Area {
  lat: number;
  lon: number;
  radius_m: number;
}

export interface Camera {
  make: string | null;
  model: string | null;
}

export interface Extracted {
  captured_at: string | null;
  location: GeoPoint | null;
  camera: Camera | null;
}

export interface Claimed {
  captured_at: string | null;
  location: GeoPoint | null;
}

export interface CaseSummary {
  id: string;
  reference: string | null;
  title: string;
  status: CaseStatus;
  updated_at: string | null;
  evidence_count: number;
}

export interface EvidenceView {
  id: string;
  case_id: string;
  sha256: string;
  size: number;
  media_type: string;
  original_name: string;
  captured_at: string | null;
  location: GeoPoint | null;
  camera: Camera | null;
  description: string | null;
  claimed: Claimed;
  extracted: Extracted;
  contributor: string;
  contributor_name: string | null;
  added_at: string;
  /** For a derivative (e.g. a redacted copy): where it came from. */
  derived_from: Provenance | null;
  /** For an item a volunteer submitted: `pending`, `accepted`, `rejected` or `info_requested`; null when imported by staff. */
  review_state?: string | null;
}

export interface Provenance {
  evidence_id: string;
  original_id: string;
  original_sha256: string;
  sha256: string;
  operations: string[];
  by: string;
  at: string;
  event_hash: string;
}

export interface NoteView {
  id: string;
  text: string;
  author: string;
  author_name: string | null;
  at: string;
}

export interface CaseDetail {
  id: string;
  reference: string | null;
  title: string;
  summary: string | null;
  status: CaseStatus;
  tags: string[];
  created_by: string | null;
  created_at: string | null;
  updated_at: string | null;
  evidence_count: number;
  evidence: EvidenceView[];
  notes: NoteView[];
  /** Members who acted on the case (the store has no assignment; this is who did something). */
  team?: CaseMember[];
}

/** A member who acted on a case; `acted`: `opened`, `noted`, `added_evidence`, `submitted`, `reviewed`. */
export interface CaseMember {
  member_id: string;
  name: string | null;
  acted: string[];
}

/** What a file on this computer says about itself (read from its head, before import or submission). */
export interface FileMeta {
  path: string;
  captured_at: string | null;
  location: GeoPoint | null;
  media_type: string;
  size: number;
}

/** A small downscaled copy of an image item; `data_url` null with a `reason` when there is none. */
export interface Thumbnail {
  media_type: string;
  data_url: string | null;
  reason: string | null;
}

export interface CustodyView {
  at: string;
  action: string;
  actor: string;
  actor_name: string | null;
  device: string;
  reason: string | null;
  sha256: string;
  event_hash: string;
}

export interface Preview {
  media_type: string;
  data_base64: string | null;
  too_large: boolean;
}

export interface BriefView {
  id: string;
  title: string;
  body: string;
  area: Area | null;
  from: string | null;
  until: string | null;
  case_id: string;
  audience: string[];
  published_by: string | null;
  published_at: string | null;
  withdrawn: boolean;
}

export interface SubmissionItem {
  evidence_id: string;
  name: string;
  media_type: string;
  size: number;
  sha256: string;
  /** `pending`, `accepted`, `rejected` or `info_requested`; `refused` when the agency refused the bundle that carried it. */
  state: string;
  reason: string | null;
  held: boolean;
}

/** The agency's refusal of the bundle that carried a submission. */
export interface AgencyRefusal {
  bundle_id: string;
  code: string;
  /** The endpoint's reason, e.g. "brief … was withdrawn". */
  message: string;
  refused_at: string;
}

/** One review decision on a submission. */
export interface Decision {
  submission_id: string;
  items: string[];
  decision: ReviewDecision;
  reason: string | null;
  by: string;
  at: string;
}

export interface SubmissionView {
  id: string;
  brief_id: string;
  brief_title: string | null;
  case_id: string;
  submitter: string;
  submitted_at: string;
  /** `pending`, `accepted`, `rejected`, `info_requested`, or `mixed` when items differ; `refused` when the agency refused the bundle that carried it. */
  state: string;
  items: SubmissionItem[];
  description: string | null;
  decisions: Decision[];
  /** Set when the agency refused the bundle that carried this submission; `state` is then `refused`. */
  refused?: AgencyRefusal | null;
}

export interface ReceiptView {
  agency_id: string;
  bundle_id: string;
  manifest_hash: string;
  sender: string;
  seq: number;
  received_at: string;
  outcome: string;
  events: number;
  blobs: number;
  verified: boolean;
}

export interface SyncStatus {
  pending: number;
  pending_bytes: number;
  last_success: string | null;
  last_error: string | null;
  last_attempt: string | null;
  cursor: number;
  online: boolean;
  running: boolean;
  /** Bundles the agency refused for good, set aside (never sent again) with the reason, oldest first. */
  refused: RefusedBundle[];
}

/** A bundle the agency refused for good; sync set it aside and went on with the next. */
export interface RefusedBundle {
  bundle_id: string;
  /** HTTP status of the refusal (0 when its record could not be read). */
  status: number;
  code: string;
  message: string;
  refused_at: string;
  size: number;
  case_id: string | null;
  /** Submissions it carried, when known. */
  submissions: string[];
}

/** Payload of the `job-progress` event. */
export interface JobProgress {
  job: string;
  item: number;
  name: string;
  done: number;
  total: number;
}

/** Payload of the `job-done` event. */
export interface JobDone {
  job: string;
  ok: boolean;
  error: AppError | null;
}

/** Payload of the `sync-event` event: the sync crate's `Event`, tagged by `event`. */
export type SyncEvent =
  | { event: 'progress'; bundle_id: string; done: number; total: number }
  | { event: 'uploaded'; bundle_id: string; outcome: UploadOutcome }
  | { event: 'refused'; bundle_id: string; status: number; code: string; message: string }
  | { event: 'retrying'; bundle_id: string | null; attempt: number; after_ms: number; error: string }
  | { event: 'pulled'; events: number; cursor: number };

/** What one sync round did. */
export interface RoundReport {
  exported: number;
  uploaded: number;
  /** Bundles the agency refused for good in this round (set aside). */
  refused: number;
  receipts: number;
  pulled: number;
  imported: number;
  content_fetched: number;
  cursor: number;
}

/** Payload of the `sync-done` event. */
export interface SyncDone {
  ok: boolean;
  error: AppError | null;
  report: RoundReport | null;
}

/** Payload of the `locked` event. */
export interface Locked {
  reason: string;
}

export interface UploadOutcome {
  bundle_id: string;
  outcome: string;
  events_added: number;
  receipt: string;
}
