//! Cryptographic building blocks, all from `ring` except the Argon2id KDF.
//!
//! Secrets are types: [`SecretKey`] and [`Passphrase`] have no `Debug`, `Display` or
//! `Serialize`, are zeroized on drop, and their bytes are reached only through one
//! explicit accessor (`expose_secret`), so `grep expose_secret` finds every use.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// Length of every symmetric key we use (AES-256, HMAC-SHA-256, HKDF output).
pub const KEY_LEN: usize = 32;
/// Length of an AES-GCM authentication tag.
pub const TAG_LEN: usize = 16;
/// Minimum passphrase length in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// A 256-bit symmetric key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A fresh random key.
    pub fn random() -> Result<Self> {
        let mut k = [0u8; KEY_LEN];
        fill_random(&mut k)?;
        Ok(SecretKey(k))
    }

    pub(crate) fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::Crypto)?;
        Ok(SecretKey(arr))
    }

    /// The raw key bytes. Every use is a place where key material is handled.
    pub(crate) fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Derives an independent subkey for `purpose` (HKDF-SHA-256, RFC 5869).
    pub(crate) fn derive(&self, purpose: &[u8]) -> SecretKey {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"casebridge/v1/hkdf-salt");
        let prk = salt.extract(self.expose_secret());
        let info = [purpose];
        let okm = prk.expand(&info, Len).expect("HKDF output length is fixed and valid");
        let mut out = [0u8; KEY_LEN];
        okm.fill(&mut out).expect("HKDF output length is fixed and valid");
        SecretKey(out)
    }

    /// An AES-256-GCM sealing key.
    pub(crate) fn aead(&self) -> AeadKey {
        let unbound = UnboundKey::new(&AES_256_GCM, self.expose_secret()).expect("AES-256 key length");
        AeadKey(LessSafeKey::new(unbound))
    }

    /// HMAC-SHA-256 of `data` under this key.
    pub(crate) fn hmac(&self, data: &[u8]) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.expose_secret());
        let tag = hmac::sign(&key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// An HMAC-SHA-256 key for many short messages (the index's keyed sled keys).
    pub(crate) fn mac(&self) -> MacKey {
        MacKey(hmac::Key::new(hmac::HMAC_SHA256, self.expose_secret()))
    }
}

/// An HMAC-SHA-256 key ready for use. Like [`AeadKey`], it holds `ring`'s expanded key and has
/// no way to print or export it.
pub(crate) struct MacKey(hmac::Key);

impl MacKey {
    /// HMAC-SHA-256 over the concatenation of `parts` (no allocation).
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

/// A passphrase typed by a person. Zeroized on drop; never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase (no policy check: see [`Passphrase::check_policy`]).
    pub fn new(s: impl Into<String>) -> Self {
        Passphrase(Zeroizing::new(s.into()))
    }

    /// Refuses passphrases shorter than [`MIN_PASSPHRASE_CHARS`] characters.
    pub fn check_policy(&self) -> Result<()> {
        let len = self.0.chars().count();
        if len < MIN_PASSPHRASE_CHARS {
            return Err(Error::PassphraseTooShort { len, min: MIN_PASSPHRASE_CHARS });
        }
        Ok(())
    }

    pub(crate) fn expose_secret(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// An AES-256-GCM key ready for use.
pub(crate) struct AeadKey(LessSafeKey);

impl AeadKey {
    /// Seals `plaintext` with a fresh random nonce: returns `NONCE || CIPHERTEXT || TAG`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[NONCE_LEN..])
            .map_err(|_| Error::Crypto)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens `NONCE || CIPHERTEXT || TAG` produced by [`AeadKey::seal`] with the same `aad`.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::Crypto);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| Error::Crypto)?;
        let mut buf = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
        let len = self.0.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| Error::Crypto)?.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Seals a buffer in place with an explicit nonce; returns the tag.
    pub(crate) fn seal_in_place(&self, nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let tag = self.0.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf).map_err(|_| Error::Crypto)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens `CIPHERTEXT || TAG` in place with an explicit nonce; returns the plaintext length.
    pub(crate) fn open_in_place(&self, nonce: [u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<usize> {
        let pt = self.0.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf).map_err(|_| Error::Crypto)?;
        Ok(pt.len())
    }
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Crypto)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Verifies an Ed25519 signature (RFC 8032, as implemented by ring). Every signature check in
/// Casebridge goes through here.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key).verify(message, signature).is_ok()
}

/// Compares two secrets (or MACs) in constant time.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    #[allow(deprecated)]
    ring::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Argon2id parameters; recorded in the store header so an unlock uses what `init` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
///
/// The fields are private: production code can only name [`KdfParams::INTERACTIVE`] (or read
/// parameters from a header), so cheap parameters cannot be chosen by accident.
pub struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl KdfParams {
    /// Memory in KiB.
    pub fn m_kib(&self) -> u32 {
        self.m_kib
    }

    /// Passes.
    pub fn t(&self) -> u32 {
        self.t
    }

    /// Lanes.
    pub fn p(&self) -> u32 {
        self.p
    }

    /// The production parameters, tuned on the reference machine (2-core AMD EPYC, one pass
    /// over 19 MiB takes about 7.5 ms) so that an unlock takes roughly 0.5 s. Memory is kept at
    /// 19 MiB (the OWASP recommendation for Argon2id) so that a whole import, KDF included,
    /// stays under 32 MiB of peak RSS; the time cost is raised instead. See docs/FORMAT.md.
    pub const INTERACTIVE: KdfParams = KdfParams { m_kib: 19 * 1024, t: 60, p: 1 };

    /// Cheap parameters for tests. Only test code enables the `test-kdf` feature, and no
    /// production code path names this constant.
    #[cfg(any(test, feature = "test-kdf"))]
    pub const INSECURE_FOR_TESTS: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    /// Validates parameters read from a header before they are used (bounds the work an
    /// altered header can make us do).
    pub(crate) fn validate(&self) -> Result<()> {
        let ok =
            self.m_kib >= 8 * self.p.max(1) && self.m_kib <= 4 * 1024 * 1024 && (1..=1024).contains(&self.t) && (1..=16).contains(&self.p);
        if ok {
            Ok(())
        } else {
            Err(Error::corrupt("store header: KDF parameters out of range"))
        }
    }

    /// Derives the key-encryption key from a passphrase and salt.
    pub(crate) fn derive(&self, passphrase: &Passphrase, salt: &[u8]) -> Result<SecretKey> {
        self.validate()?;
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN))
            .map_err(|_| Error::corrupt("store header: invalid KDF parameters"))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; KEY_LEN];
        argon.hash_password_into(passphrase.expose_secret(), salt, &mut out).map_err(|_| Error::corrupt("store header: KDF failed"))?;
        let key = SecretKey::from_bytes(out);
        out.zeroize();
        Ok(key)
    }
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = SecretKey::random().unwrap().aead();
        let sealed = k.seal(b"tree/key", b"hello").unwrap();
        assert_eq!(&*k.open(b"tree/key", &sealed).unwrap(), b"hello");
        assert!(matches!(k.open(b"tree/other", &sealed), Err(Error::Crypto)));
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN] ^= 1;
        assert!(matches!(k.open(b"tree/key", &flipped), Err(Error::Crypto)));
    }

    #[test]
    fn subkeys_differ_by_purpose() {
        let k = SecretKey::random().unwrap();
        assert_ne!(k.derive(b"a").expose_secret(), k.derive(b"b").expose_secret());
        assert_eq!(k.derive(b"a").expose_secret(), k.derive(b"a").expose_secret());
    }

    #[test]
    fn short_passphrase_is_refused_with_reason() {
        let err = Passphrase::new("short").check_policy().unwrap_err();
        assert!(err.to_string().contains("at least 10"), "{err}");
        Passphrase::new("ten chars!").check_policy().unwrap();
    }

    /// Known answer (NIST CAVP, gcmEncryptExtIV256, Count 0 with 128-bit plaintext) through
    /// our in-place wrapper.
    #[test]
    fn aes_256_gcm_known_answer() {
        let key = hex::decode("31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22").unwrap();
        let nonce: [u8; 12] = hex::decode("0d18e06c7c725ac9e362e1ce").unwrap().try_into().unwrap();
        let mut pt = hex::decode("2db5168e932556f8089a0622981d017d").unwrap();
        let k = SecretKey::from_slice(&key).unwrap().aead();
        let tag = k.seal_in_place(nonce, b"", &mut pt).unwrap();
        assert_eq!(hex::encode(&pt), "fa4362189661d163fcd6a56d8bf0405a");
        assert_eq!(hex::encode(tag), "d636ac1bbedd5cc3ee727dc2ab4a9489");
    }

    #[test]
    fn argon2id_is_deterministic_and_salted() {
        let p = KdfParams::INSECURE_FOR_TESTS;
        let pw = Passphrase::new("correct horse battery");
        let a = p.derive(&pw, b"0123456789abcdef").unwrap();
        let b = p.derive(&pw, b"0123456789abcdef").unwrap();
        let c = p.derive(&pw, b"fedcba9876543210").unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
    }
}

/// Wycheproof vectors through our wrappers: every AES-256-GCM case with a 96-bit nonce and a
/// 128-bit tag (the only parameters we use) and every Ed25519 verification case.
#[cfg(test)]
mod wycheproof_tests {
    use super::*;
    use wycheproof::TestResult;

    #[test]
    fn aes_256_gcm_wycheproof() {
        let set = wycheproof::aead::TestSet::load(wycheproof::aead::TestName::AesGcm).unwrap();
        let mut ran = 0;
        for g in set.test_groups.iter().filter(|g| g.key_size == 256 && g.nonce_size == 96 && g.tag_size == 128) {
            for t in &g.tests {
                let key = SecretKey::from_slice(&t.key).unwrap().aead();
                let nonce: [u8; 12] = t.nonce.as_slice().try_into().unwrap();
                let mut buf = t.pt.to_vec();
                let tag = key.seal_in_place(nonce, &t.aad, &mut buf).unwrap();
                let matches = buf == t.ct.as_slice() && tag.as_slice() == t.tag.as_slice();
                let mut sealed = t.ct.to_vec();
                sealed.extend_from_slice(&t.tag);
                let opened = key.open_in_place(nonce, &t.aad, &mut sealed).map(|n| sealed[..n] == t.pt[..]);
                match t.result {
                    TestResult::Valid => {
                        assert!(matches, "tc {} seal", t.tc_id);
                        assert_eq!(opened.ok(), Some(true), "tc {} open", t.tc_id);
                    }
                    TestResult::Invalid => assert!(opened.is_err() || !matches, "tc {} must be rejected", t.tc_id),
                    TestResult::Acceptable => {}
                }
                ran += 1;
            }
        }
        assert!(ran > 50, "only {ran} AES-256-GCM vectors ran");
    }

    #[test]
    fn ed25519_wycheproof() {
        let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
        let mut ran = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                let ok = verify_signature(&g.key.pk, &t.msg, &t.sig);
                match t.result {
                    TestResult::Valid => assert!(ok, "tc {} valid signature refused", t.tc_id),
                    TestResult::Invalid => assert!(!ok, "tc {} invalid signature accepted", t.tc_id),
                    TestResult::Acceptable => {}
                }
                ran += 1;
            }
        }
        assert!(ran > 100, "only {ran} Ed25519 vectors ran");
    }
}
