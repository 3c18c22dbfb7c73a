//! Challenges and sessions: in memory for the embedded agency, in the database for a cluster
//! agency (so a challenge asked of one replica is answered on another and a token works on
//! every replica). Session tokens are kept only as their SHA-256.
//!
//! A member's open challenges and sessions are capped: a new one replaces their oldest, so
//! someone who read a member's id and key can keep at most that many challenges open, and
//! never lock the member out. In a cluster the caps are counted in the database, by a keyed
//! digest of the member ([`member_digest`]), across every replica.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

use crate::api::ApiError;
use crate::at_rest::Kind;
use crate::state::lock;

/// A challenge asked and not yet answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    pub member: Uuid,
    pub serial: Uuid,
    pub key: Vec<u8>,
    pub nonce: [u8; 32],
    pub expires_at: DateTime<FixedOffset>,
}

/// A session: the member and the credential it was opened with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionEntry {
    pub member: Uuid,
    pub serial: Uuid,
    pub expires_at: DateTime<FixedOffset>,
}

#[derive(Default)]
pub(crate) struct AuthState {
    challenges: HashMap<Uuid, Pending>,
    /// Keyed by SHA-256 of the token: the tokens themselves are never kept.
    sessions: HashMap<[u8; 32], SessionEntry>,
}

impl AuthState {
    fn prune(&mut self, now: DateTime<FixedOffset>) {
        self.challenges.retain(|_, c| c.expires_at >= now);
        self.sessions.retain(|_, s| s.expires_at >= now);
    }
}

/// Where challenges and sessions live.
pub(crate) enum Sessions {
    /// In this process (the embedded agency).
    Memory(Mutex<AuthState>),
    /// In the cluster's database, sealed to the agency key (the database sees the token's
    /// SHA-256, an expiry and a keyed digest of the member, never a member id, a key or a
    /// nonce). The per-member caps hold across replicas: the database counts them.
    Cluster(Box<ClusterSessions>),
}

/// The cluster's sessions: the database, the key they are sealed with
/// ([`crate::at_rest`]) and the agency's sealing identity (the member digests' key).
pub(crate) struct ClusterSessions {
    pub db: casebridge_cluster::db::Db,
    pub key: crate::at_rest::RecordKey,
    pub identity: age::x25519::Identity,
}

/// A challenge or session as sealed in the database.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    member: Uuid,
    serial: Uuid,
    #[serde(default)]
    key: String,
    #[serde(default)]
    nonce: String,
    expires_at: DateTime<FixedOffset>,
}

impl ClusterSessions {
    /// Seals a challenge or session, bound to its row (`kind`, and the challenge's id or the
    /// token's SHA-256): a sealed record copied onto another row does not open.
    fn seal(&self, kind: Kind, bound: &[u8], s: &Sealed) -> Result<Vec<u8>, ApiError> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(s).map_err(ApiError::internal)?);
        self.key.seal(kind, bound, &plain).map_err(ApiError::internal)
    }

    /// Opens a challenge or session; `None` when it does not open (sealed by an earlier
    /// version, altered, forged or copied from another row): as good as absent, so the member
    /// authenticates again, and logged.
    fn open(&self, kind: Kind, bound: &[u8], sealed: &[u8]) -> Result<Option<Sealed>, ApiError> {
        let Ok(plain) = self.key.open(kind, bound, sealed) else {
            tracing::warn!(record = ?kind, "a sealed record in the database does not open (earlier version, altered, forged or moved); treated as absent");
            return Ok(None);
        };
        serde_json::from_slice(&plain).map(Some).map_err(ApiError::internal)
    }
}

fn db_failed(e: casebridge_cluster::db::DbError) -> ApiError {
    ApiError::unavailable(e)
}

/// The keyed digest by which a cluster's database counts a member's challenges, sessions and
/// uploads: HMAC-SHA-256 of the member id under a key derived from the agency's sealing key,
/// so the database never holds a member id and its digests say nothing to anyone without the
/// agency's keys (the same member always gets the same digest, on every replica).
pub(crate) fn member_digest(identity: &age::x25519::Identity, member: Uuid) -> Vec<u8> {
    use age::secrecy::ExposeSecret;
    let secret = identity.to_string();
    let derived =
        casebridge_core::sha256([b"casebridge/v1/member-key\x00".as_slice(), secret.expose_secret().as_bytes()].concat().as_slice());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &derived);
    ring::hmac::sign(&key, member.as_bytes()).as_ref().to_vec()
}

/// A cap as the database takes it (the limits refuse a cap of zero; a cap beyond `u32` is
/// no cap at all).
fn db_cap(cap: usize) -> u32 {
    u32::try_from(cap).unwrap_or(u32::MAX).max(1)
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::Memory(Mutex::default())
    }
}

impl Sessions {
    /// Keeps a challenge (at most `cap` per member: a member's oldest goes first).
    pub(crate) async fn put_challenge(&self, id: Uuid, p: Pending, cap: usize, now: DateTime<FixedOffset>) -> Result<(), ApiError> {
        match self {
            Sessions::Memory(m) => {
                let mut auth = lock(m);
                auth.prune(now);
                make_room(&mut auth.challenges, cap, |c| (c.member == p.member).then_some(c.expires_at));
                auth.challenges.insert(id, p);
                Ok(())
            }
            Sessions::Cluster(c) => {
                let sealed = c.seal(
                    Kind::Challenge,
                    id.as_bytes(),
                    &Sealed {
                        member: p.member,
                        serial: p.serial,
                        key: hex::encode(&p.key),
                        nonce: hex::encode(p.nonce),
                        expires_at: p.expires_at,
                    },
                )?;
                let member = member_digest(&c.identity, p.member);
                c.db.insert_challenge_capped(id, &member, &sealed, p.expires_at.to_utc(), db_cap(cap), now.to_utc())
                    .await
                    .map(|_| ())
                    .map_err(db_failed)
            }
        }
    }

    /// Takes a challenge: it is gone whatever the outcome (single use, on every replica).
    pub(crate) async fn take_challenge(&self, id: Uuid, now: DateTime<FixedOffset>) -> Result<Option<Pending>, ApiError> {
        match self {
            Sessions::Memory(m) => Ok(lock(m).challenges.remove(&id)),
            Sessions::Cluster(c) => {
                let Some(sealed) = c.db.take_challenge(id, now.to_utc()).await.map_err(db_failed)? else { return Ok(None) };
                let Some(s) = c.open(Kind::Challenge, id.as_bytes(), &sealed)? else { return Ok(None) };
                let nonce: [u8; 32] = hex::decode(&s.nonce)
                    .ok()
                    .and_then(|n| n.try_into().ok())
                    .ok_or_else(|| ApiError::internal("a sealed challenge's nonce"))?;
                let key = hex::decode(&s.key).map_err(|_| ApiError::internal("a sealed challenge's key"))?;
                Ok(Some(Pending { member: s.member, serial: s.serial, key, nonce, expires_at: s.expires_at }))
            }
        }
    }

    /// Keeps a session under the SHA-256 of its token (at most `cap` per member).
    pub(crate) async fn put_session(
        &self,
        digest: [u8; 32],
        s: SessionEntry,
        cap: usize,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ApiError> {
        match self {
            Sessions::Memory(m) => {
                let mut auth = lock(m);
                auth.prune(now);
                make_room(&mut auth.sessions, cap, |e| (e.member == s.member).then_some(e.expires_at));
                auth.sessions.insert(digest, s);
                Ok(())
            }
            Sessions::Cluster(c) => {
                let sealed = c.seal(
                    Kind::Session,
                    &digest,
                    &Sealed { member: s.member, serial: s.serial, key: String::new(), nonce: String::new(), expires_at: s.expires_at },
                )?;
                let member = member_digest(&c.identity, s.member);
                c.db.insert_session_capped(&digest, &member, &sealed, s.expires_at.to_utc(), db_cap(cap), now.to_utc())
                    .await
                    .map(|_| ())
                    .map_err(db_failed)
            }
        }
    }

    /// The session of a token's digest.
    pub(crate) async fn session(&self, digest: &[u8; 32], now: DateTime<FixedOffset>) -> Result<Option<SessionEntry>, ApiError> {
        match self {
            Sessions::Memory(m) => Ok(lock(m).sessions.get(digest).cloned()),
            Sessions::Cluster(c) => {
                let Some(sealed) = c.db.session(digest, now.to_utc()).await.map_err(db_failed)? else { return Ok(None) };
                let Some(s) = c.open(Kind::Session, digest, &sealed)? else { return Ok(None) };
                Ok(Some(SessionEntry { member: s.member, serial: s.serial, expires_at: s.expires_at }))
            }
        }
    }

    /// Ends one session.
    pub(crate) async fn end(&self, digest: &[u8; 32]) -> Result<(), ApiError> {
        match self {
            Sessions::Memory(m) => {
                lock(m).sessions.remove(digest);
                Ok(())
            }
            Sessions::Cluster(c) => c.db.delete_session(digest).await.map(|_| ()).map_err(db_failed),
        }
    }

    /// Ends the sessions opened with any of `serials` (after a revocation). Every request
    /// checks its credential anyway; this only frees them sooner.
    pub(crate) fn end_of(&self, serials: &[Uuid]) {
        match self {
            Sessions::Memory(m) => lock(m).sessions.retain(|_, s| !serials.contains(&s.serial)),
            // Every request checks its session's credential against the current list.
            Sessions::Cluster(_) => {}
        }
    }

    /// Sessions open now (for `GET /admin/status`).
    pub(crate) async fn count(&self, now: DateTime<FixedOffset>) -> Result<usize, ApiError> {
        match self {
            Sessions::Memory(m) => {
                let mut auth = lock(m);
                auth.prune(now);
                Ok(auth.sessions.len())
            }
            Sessions::Cluster(c) => {
                c.db.delete_expired_sessions(now.to_utc()).await.map_err(db_failed)?;
                c.db.delete_expired_challenges(now.to_utc()).await.map_err(db_failed)?;
                Ok(c.db.session_count().await.map_err(db_failed)? as usize)
            }
        }
    }
}

/// Removes the oldest entries of one member (those `of` gives an expiry for) until fewer
/// than `cap` are left.
fn make_room<K: Copy + Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>, cap: usize, of: impl Fn(&V) -> Option<DateTime<FixedOffset>>) {
    let mut mine: Vec<(DateTime<FixedOffset>, K)> = map.iter().filter_map(|(k, v)| of(v).map(|t| (t, *k))).collect();
    if mine.len() < cap {
        return;
    }
    mine.sort_by_key(|(t, _)| *t);
    let excess = mine.len() + 1 - cap;
    for (_, k) in mine.iter().take(excess) {
        map.remove(k);
    }
}
