-- The cluster agency's shared state (crates/cluster/src/db). Every bytea called `sealed`,
-- `record`, `doc` or `header` is sealed by the agency before it reaches this database
-- (age to the agency key, or AEAD): the database learns sizes and times, never content.
-- Keys (`lookup`, `digest`, `key`, `member`) are keyed digests computed by the agency, never
-- an address, a name or a token.

-- The agency this database belongs to: exactly one row.
CREATE TABLE agency (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id uuid NOT NULL,
    root_fingerprint text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    header bytea NOT NULL
);

-- The agency journal: records 0.. with no gaps, appended only under the journal's
-- advisory lock (JournalLock), so replicas appending at once give one sequence.
CREATE TABLE journal (
    seq bigint PRIMARY KEY CHECK (seq >= 0),
    record bytea NOT NULL
);

-- Credentials the agency issued.
CREATE TABLE issued (
    serial uuid PRIMARY KEY,
    sealed bytea NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now()
);

-- The current signed revocation list: at most one row; `version` counts replacements so a
-- replica replaces it only over the version it read (compare-and-swap).
CREATE TABLE revocation (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version bigint NOT NULL CHECK (version >= 1),
    doc bytea NOT NULL
);

-- Receipts, one per bundle: the first stored wins.
CREATE TABLE receipts (
    bundle_id uuid PRIMARY KEY,
    doc bytea NOT NULL
);

-- Invites: `lookup` is a keyed digest of the invite's secret (NULL when it has none).
CREATE TABLE invites (
    id uuid PRIMARY KEY,
    sealed bytea NOT NULL,
    lookup bytea UNIQUE,
    used boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Sessions by the SHA-256 of their token (never the token).
CREATE TABLE sessions (
    digest bytea PRIMARY KEY,
    sealed bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Login challenges: taken (deleted) exactly once.
CREATE TABLE challenges (
    id uuid PRIMARY KEY,
    sealed bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);

-- Limits. `failures` are the recent failures of a key; `lockouts` holds one row per key that
-- has failed (its row lock serialises the key's failures) and, when locked, until when.
CREATE TABLE failures (
    key bytea NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX failures_key_at ON failures (key, at);
CREATE TABLE lockouts (
    key bytea PRIMARY KEY,
    until timestamptz
);
-- A token bucket per key: `tokens` as of `at`; `granted`: whether the last take got one.
CREATE TABLE buckets (
    key bytea PRIMARY KEY,
    tokens double precision NOT NULL,
    granted boolean NOT NULL,
    at timestamptz NOT NULL
);

-- Uploads in progress: `member` is the agency's opaque key for the member (for quotas),
-- `sealed` the upload's sealed state, `received` how many bytes arrived so far.
CREATE TABLE uploads (
    id uuid PRIMARY KEY,
    member bytea NOT NULL,
    sealed bytea NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    received bigint NOT NULL CHECK (received >= 0),
    updated_at timestamptz NOT NULL,
    state text NOT NULL
);
CREATE INDEX uploads_member ON uploads (member);
