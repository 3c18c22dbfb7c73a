-- Per-member caps on open login challenges and sessions, counted across every replica
-- (the agency's Limits::challenges_per_member and sessions_per_member). `member` is the
-- agency's keyed digest of the member id, never the id; NULL on rows written before this
-- migration (they expire within a session's lifetime and are then never counted).
ALTER TABLE sessions ADD COLUMN member bytea;
ALTER TABLE challenges ADD COLUMN member bytea;
CREATE INDEX sessions_member ON sessions (member, expires_at);
CREATE INDEX challenges_member ON challenges (member, expires_at);
