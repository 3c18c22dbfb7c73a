-- The agency's small records (casebridge_trust::RecordStore): issued credentials (sealed),
-- the revocation list, receipts, invites (sealed) and upload states (sealed), by the same
-- names the embedded agency gives its files (`issued/SERIAL.cred`, `revocation.json`, ...).
-- Values are opaque bytes: what is secret is sealed to the agency key before it gets here.
CREATE TABLE agency_records (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
