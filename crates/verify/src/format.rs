//! The parts of docs/FORMAT.md the verifier reads, re-implemented from the text of the spec:
//! event envelopes ("Events"), signed documents ("Signed documents") and RFC 3339 times. Every
//! function checks a signature *before* it parses the signed bytes, as the spec requires.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ED25519};
use serde::Deserialize;
use serde_json::Value;

/// `ENVELOPE_VERSION`: the first byte of an event envelope.
pub const ENVELOPE_VERSION: u8 = 1;
/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes before `BODY` in an envelope.
pub const ENVELOPE_HEADER_LEN: usize = 1 + PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Event bodies are journal records, which are at most 16 MiB.
pub const MAX_EVENT_LEN: u64 = 16 * 1024 * 1024;
/// Signed documents (credentials, lists, identities, receipts) are at most 4 MiB.
pub const MAX_DOC_LEN: u64 = 4 * 1024 * 1024;
/// `prev` of an author's first event.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Document types (the `type` field, which is inside the signed bytes).
pub mod doc_type {
    /// The package manifest.
    pub const COURT_PACKAGE: &str = "court-package";
    /// An agency's self-signed identity.
    pub const AGENCY_IDENTITY: &str = "agency-identity";
    /// An agency's revocation list.
    pub const REVOCATION_LIST: &str = "revocation-list";
    /// A member's credential.
    pub const CREDENTIAL: &str = "credential";
    /// A receipt for a bundle.
    pub const RECEIPT: &str = "receipt";
    /// The agency's statement that it deleted an item (retention, withdrawal).
    pub const TOMBSTONE: &str = "tombstone";
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A key's fingerprint: hex SHA-256 of the 32 key bytes.
pub fn fingerprint(key: &[u8]) -> String {
    sha256_hex(key)
}

fn signature_verifies(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    key.len() == PUBLIC_KEY_LEN && sig.len() == SIGNATURE_LEN && UnparsedPublicKey::new(&ED25519, key).verify(message, sig).is_ok()
}

/// An event whose signature verified; its body is parsed only as far as the envelope rules need.
#[derive(Clone, Debug)]
pub struct Event {
    /// The signer's public key.
    pub key: Vec<u8>,
    /// SHA-256 of the body bytes: the event hash.
    pub hash: String,
    /// The body, parsed.
    pub body: Value,
    /// `author` (member id).
    pub author: String,
    /// `seq`.
    pub seq: u64,
    /// `prev`.
    pub prev: String,
    /// `at`.
    pub at: String,
    /// `type`.
    pub kind: String,
}

impl Event {
    /// A string field of the body.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// Checks the version, verifies the signature over `BODY` with `PUBLIC_KEY`, and only then
/// parses `BODY` and checks that its `key` names `PUBLIC_KEY`.
pub fn open_envelope(bytes: &[u8]) -> Result<Event, String> {
    let Some(&version) = bytes.first() else {
        return Err("is empty, not an event envelope".into());
    };
    if version != ENVELOPE_VERSION {
        return Err(format!("has envelope version {version}; this verifier reads version {ENVELOPE_VERSION}"));
    }
    if bytes.len() < ENVELOPE_HEADER_LEN {
        return Err(format!("is {} bytes, shorter than an envelope header", bytes.len()));
    }
    let key = &bytes[1..1 + PUBLIC_KEY_LEN];
    let sig = &bytes[1 + PUBLIC_KEY_LEN..ENVELOPE_HEADER_LEN];
    let body_bytes = &bytes[ENVELOPE_HEADER_LEN..];
    if !signature_verifies(key, body_bytes, sig) {
        return Err("signature does not verify over its body".into());
    }
    let body: Value = serde_json::from_slice(body_bytes).map_err(|_| "signed body is not JSON".to_string())?;
    if body.get("v").and_then(Value::as_u64) != Some(1) {
        return Err("body version is not 1".into());
    }
    if body.get("key").and_then(Value::as_str) != Some(hex::encode(key).as_str()) {
        return Err("body names a different key than the one that signed it".into());
    }
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("body has no `{name}`"));
    let author = text("author")?;
    let prev = text("prev")?;
    let at = text("at")?;
    let kind = text("type")?;
    let seq = body.get("seq").and_then(Value::as_u64).filter(|s| *s >= 1).ok_or_else(|| "body has no `seq` of 1 or more".to_string())?;
    if !is_uuid(&author) {
        return Err("body `author` is not a member id".into());
    }
    if !is_hex_digest(&prev) {
        return Err("body `prev` is not 64 lowercase hex digits".into());
    }
    if parse_time(&at).is_none() {
        return Err("body `at` is not an RFC 3339 time".into());
    }
    Ok(Event { key: key.to_vec(), hash: sha256_hex(body_bytes), body, author, seq, prev, at, kind })
}

/// The signed-document container.
#[derive(Deserialize)]
struct Container {
    casebridge: String,
    v: u64,
    #[serde(rename = "type")]
    doc_type: String,
    key: String,
    sig: String,
    body: String,
}

/// A signed document whose signature verified.
#[derive(Clone, Debug)]
pub struct Doc {
    /// The signer's public key.
    pub key: Vec<u8>,
    /// The body bytes (as signed).
    pub body: Vec<u8>,
}

impl Doc {
    /// Parses the body into `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("signed body does not match the format ({e})"))
    }
}

/// What can be wrong with a signed document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocError {
    /// Not a signed-document container of version 1 (or its fields are malformed).
    Malformed(String),
    /// The container holds another type of document.
    WrongType(String),
    /// Signed by a key other than the one expected.
    WrongSigner,
    /// The signature does not verify.
    BadSignature,
}

impl std::fmt::Display for DocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocError::Malformed(m) => f.write_str(m),
            DocError::WrongType(t) => write!(f, "is a signed `{t}`, not the document expected here"),
            DocError::WrongSigner => f.write_str("is not signed by the expected key"),
            DocError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

/// Opens a signed document: container version, type, expected signer (else the key it names),
/// signature over `"casebridge/v1/doc/" || TYPE || 0x00 || BODY`; the body is not parsed here.
pub fn open_doc(container: &Value, expected_type: &str, expected_key: Option<&[u8]>) -> Result<Doc, DocError> {
    let c: Container =
        serde_json::from_value(container.clone()).map_err(|_| DocError::Malformed("is not a Casebridge signed document".into()))?;
    if c.casebridge != "signed-document" {
        return Err(DocError::Malformed("is not a Casebridge signed document".into()));
    }
    if c.v != 1 {
        return Err(DocError::Malformed(format!("is a signed document of version {}; this verifier reads version 1", c.v)));
    }
    if c.doc_type != expected_type {
        return Err(DocError::WrongType(c.doc_type));
    }
    let key = hex::decode(&c.key)
        .ok()
        .filter(|k| k.len() == PUBLIC_KEY_LEN && c.key == hex::encode(k))
        .ok_or_else(|| DocError::Malformed("names a signer key that is not 32 bytes of lowercase hex".into()))?;
    if expected_key.is_some_and(|k| k != key.as_slice()) {
        return Err(DocError::WrongSigner);
    }
    let sig = B64.decode(&c.sig).map_err(|_| DocError::Malformed("signature is not base64".into()))?;
    let body = B64.decode(&c.body).map_err(|_| DocError::Malformed("body is not base64".into()))?;
    let mut signed = b"casebridge/v1/doc/".to_vec();
    signed.extend_from_slice(c.doc_type.as_bytes());
    signed.push(0);
    signed.extend_from_slice(&body);
    if !signature_verifies(&key, &signed, &sig) {
        return Err(DocError::BadSignature);
    }
    Ok(Doc { key, body })
}

/// True for a canonical (lowercase, hyphenated) UUID.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_digit() || ('a'..='f').contains(&c) })
}

/// True for 64 lowercase hex digits.
pub fn is_hex_digest(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// An RFC 3339 time as (seconds since the Unix epoch, nanoseconds), so that times written with
/// different UTC offsets compare correctly. `None` when it is not RFC 3339.
pub fn parse_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        for (k, d) in b[start..end].iter().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - k as u32);
        }
        i = end;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset, nanos))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    #[test]
    fn times_with_different_offsets_compare_as_instants() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_time("2026-03-14T09:30:00+01:00"), parse_time("2026-03-14T08:30:00Z"));
        assert_eq!(parse_time("2026-03-14T09:30:00.25-02:30").unwrap(), (parse_time("2026-03-14T12:00:00Z").unwrap().0, 250_000_000));
        assert_eq!(parse_time("2024-02-29T00:00:00Z").unwrap().0, 1_709_164_800);
        for bad in ["2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-14T09:30:00", "2026-03-14 09:30", "", "2026-03-14T09:30:00.Z"]
        {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn uuids_and_digests_are_canonical() {
        assert!(is_uuid("0195f2a4-1c2b-7d3e-8f40-0123456789ab"));
        assert!(!is_uuid("0195F2A4-1C2B-7D3E-8F40-0123456789AB"));
        assert!(!is_uuid("../../../../etc/passwd-0000000000000"));
        assert!(is_hex_digest(GENESIS_PREV));
        assert!(!is_hex_digest(&"A".repeat(64)));
    }

    #[test]
    fn every_bit_flip_of_an_envelope_is_rejected() {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        let key = hex::encode(pair.public_key().as_ref());
        let body = format!(
            r#"{{"v":1,"author":"0195f2a4-1c2b-7d3e-8f40-0123456789ab","key":"{key}","seq":1,"prev":"{GENESIS_PREV}","hlc":{{"ms":1,"c":0}},"at":"2026-01-01T10:00:00+01:00","device":"0195f2a4-1c2b-7d3e-8f40-0123456789ac","type":"note_added"}}"#
        );
        let mut env = vec![ENVELOPE_VERSION];
        env.extend_from_slice(pair.public_key().as_ref());
        env.extend_from_slice(pair.sign(body.as_bytes()).as_ref());
        env.extend_from_slice(body.as_bytes());
        let ev = open_envelope(&env).unwrap();
        assert_eq!(ev.hash, sha256_hex(body.as_bytes()));
        assert_eq!((ev.seq, ev.kind.as_str()), (1, "note_added"));
        for i in 0..env.len() * 8 {
            let mut b = env.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(open_envelope(&b).is_err(), "flip of bit {i} accepted");
        }
    }
}
