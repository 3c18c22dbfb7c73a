//! The endpoint's own working records sealed at rest with a symmetric key: an upload's state
//! (an `uploads/ID.state` file, a cluster's `uploads.sealed`) and, in a cluster, challenges
//! and sessions (`challenges.sealed`, `sessions.sealed`).
//!
//! These records are written and read only by the endpoint, which holds the agency's sealing
//! key whenever it runs; sealing them to the agency's age recipient (as `issued/` and
//! `invites/` are, which commands write without the passphrase) cost two X25519 operations per
//! write and one per read, several times per bundle (docs/PERFORMANCE.md, "Where the
//! endpoint's CPU per bundle goes"). They are sealed instead with AES-256-GCM under a key
//! derived from the sealing key (HKDF-SHA-256, its own label), bound to what they are and whose
//! they are (docs/FORMAT.md, "Endpoint records sealed at rest"):
//!
//! ```text
//! MAGIC "cbrec\x00\x00\x01" (8) || NONCE (12, random) || CIPHERTEXT || TAG (16)
//! AAD = MAGIC || KIND (its label) || 0x00 || BOUND (the upload id, the token's SHA-256, the challenge id)
//! ```
//!
//! The magic is checked first. A record from before this format (an age file, it starts with
//! `age-encryption.org/v1`) is still opened with the sealing identity, so states and sessions
//! written by an earlier version keep working; every new write uses this format. A record
//! copied onto another upload, token or challenge (someone with write access to the directory
//! or the database) fails authentication: the bound is in the AAD.

use age::secrecy::ExposeSecret;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The first bytes of every record in this format (the last byte is its version).
pub(crate) const MAGIC: &[u8; 8] = b"cbrec\x00\x00\x01";
/// The HKDF label of the records' key (distinct from every other key derived from the sealing
/// key, e.g. the member digests' `casebridge/v1/member-key`).
const KEY_LABEL: &[u8] = b"casebridge/v1/endpoint-records-key";
const TAG_LEN: usize = 16;

/// What a record is: part of the AAD, so one kind never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An upload's state, bound to its upload id.
    UploadState,
    /// A cluster's session, bound to its token's SHA-256.
    Session,
    /// A cluster's challenge, bound to its id.
    Challenge,
}

impl Kind {
    fn label(self) -> &'static [u8] {
        match self {
            Kind::UploadState => b"upload-state",
            Kind::Session => b"session",
            Kind::Challenge => b"challenge",
        }
    }
}

/// Why a record could not be opened (nothing more is said: the bytes were altered, belong to
/// another record, or were sealed under another agency's key).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Damaged;

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sealed endpoint record fails authentication (altered, moved to another record, or sealed under another key)")
    }
}

/// The records' key, derived from the agency's sealing identity. No `Debug`; ring keeps the
/// expanded key, the derived bytes are zeroized at once.
pub(crate) struct RecordKey {
    key: LessSafeKey,
    /// The identity, for records sealed with age by earlier versions.
    identity: age::x25519::Identity,
}

impl RecordKey {
    /// Derives the key from the agency's sealing identity.
    pub(crate) fn new(identity: &age::x25519::Identity) -> RecordKey {
        struct Len;
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let secret = identity.to_string();
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"casebridge/v1/hkdf-salt");
        let prk = salt.extract(secret.expose_secret().as_bytes());
        let info = [KEY_LABEL];
        let okm = prk.expand(&info, Len).expect("HKDF output length is fixed and valid");
        let mut bytes = Zeroizing::new([0u8; 32]);
        okm.fill(bytes.as_mut()).expect("HKDF output length is fixed and valid");
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes.as_ref()).expect("AES-256 key length"));
        RecordKey { key, identity: identity.clone() }
    }

    fn aad(kind: Kind, bound: &[u8]) -> Vec<u8> {
        [MAGIC.as_slice(), kind.label(), &[0], bound].concat()
    }

    /// Seals `plain` as a record of `kind` bound to `bound`.
    pub(crate) fn seal(&self, kind: Kind, bound: &[u8], plain: &[u8]) -> Result<Vec<u8>, Damaged> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Damaged)?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let start = MAGIC.len() + NONCE_LEN;
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(Self::aad(kind, bound)), &mut out[start..])
            .map_err(|_| Damaged)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens a record of `kind` bound to `bound`: this format, or (an upload state only) an age
    /// file sealed to the agency by an earlier version. Anything else fails with [`Damaged`].
    ///
    /// Sessions and challenges in the age format are refused: anyone holding the agency's
    /// public `agency.json` can seal to its recipient, so a database writer could have forged
    /// a session for any member; an upgrade ends the sessions open (members authenticate again,
    /// as when one expires).
    pub(crate) fn open(&self, kind: Kind, bound: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Damaged> {
        if kind == Kind::UploadState && sealed.starts_with(casebridge_trust::bundle::AGE_MAGIC) {
            return casebridge_trust::open_at_rest(&self.identity, sealed).map_err(|_| Damaged);
        }
        let Some(rest) = sealed.strip_prefix(MAGIC.as_slice()) else { return Err(Damaged) };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(Damaged);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Damaged)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self.key.open_in_place(nonce, Aad::from(Self::aad(kind, bound)), &mut buf).map_err(|_| Damaged)?.len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (RecordKey, age::x25519::Identity) {
        let id = age::x25519::Identity::generate();
        (RecordKey::new(&id), id)
    }

    #[test]
    fn a_record_opens_as_itself_only() {
        let (k, _) = key();
        let sealed = k.seal(Kind::UploadState, b"upload-1", b"{\"state\":1}").unwrap();
        assert!(sealed.starts_with(MAGIC));
        assert_eq!(k.open(Kind::UploadState, b"upload-1", &sealed).unwrap().as_slice(), b"{\"state\":1}");
        // Moved onto another upload, or read as another kind: refused.
        assert_eq!(k.open(Kind::UploadState, b"upload-2", &sealed), Err(Damaged));
        assert_eq!(k.open(Kind::Session, b"upload-1", &sealed), Err(Damaged));
        // Sealed under another agency's key: refused.
        let (other, _) = key();
        assert_eq!(other.open(Kind::UploadState, b"upload-1", &sealed), Err(Damaged));
    }

    #[test]
    fn altered_truncated_or_unknown_records_are_refused() {
        let (k, _) = key();
        let sealed = k.seal(Kind::Session, b"t", b"secret plaintext").unwrap();
        // The plaintext is nowhere in the record.
        assert!(!sealed.windows(b"secret".len()).any(|w| w == b"secret"));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(k.open(Kind::Session, b"t", &bad), Err(Damaged), "byte {i} flipped");
        }
        for n in 0..sealed.len() {
            assert_eq!(k.open(Kind::Session, b"t", &sealed[..n]), Err(Damaged), "cut to {n} bytes");
        }
        // A later version's magic is not read as this one.
        let mut later = sealed.clone();
        later[7] = 2;
        assert_eq!(k.open(Kind::Session, b"t", &later), Err(Damaged));
        assert_eq!(k.open(Kind::Session, b"t", b""), Err(Damaged));
    }

    #[test]
    fn upload_states_sealed_with_age_by_earlier_versions_still_open() {
        let (k, id) = key();
        let old = casebridge_trust::seal_at_rest(&id.to_public(), b"old state").unwrap();
        assert_eq!(k.open(Kind::UploadState, b"any", &old).unwrap().as_slice(), b"old state");
        // A session or challenge sealed with age (which needs only the agency's public
        // recipient: a forgery by whoever can write the database) is refused.
        assert_eq!(k.open(Kind::Session, b"any", &old), Err(Damaged));
        assert_eq!(k.open(Kind::Challenge, b"any", &old), Err(Damaged));
        // An age file for another agency is refused like any damage.
        let (other, _) = key();
        assert_eq!(other.open(Kind::UploadState, b"any", &old), Err(Damaged));
    }

    #[test]
    fn two_seals_of_the_same_record_differ() {
        let (k, _) = key();
        let a = k.seal(Kind::Challenge, b"c", b"same").unwrap();
        let b = k.seal(Kind::Challenge, b"c", b"same").unwrap();
        assert_ne!(a, b, "a fresh nonce per seal");
    }
}
