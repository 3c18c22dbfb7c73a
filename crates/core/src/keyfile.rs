//! A passphrase-sealed key file: the same KDF and wrapping rules as the store header, for
//! secrets that live outside a profile store (an agency's root and sealing keys).
//!
//! ```text
//! KEYFILE_MAGIC "CBKEYS\0\0" (8) || KEYFILE_VERSION u32 = 1 || LEN u32 || JSON
//! JSON = {kdf: "argon2id", kdf_params, salt, sealed}
//! sealed = NONCE || AES-256-GCM(KEK, payload) || TAG,
//!          AAD = "casebridge/v1/keyfile" || LABEL || kdf || m_kib || t || p
//! ```
//! The label names what the file holds, so a key file of one kind cannot be passed off as
//! another. Writes are atomic (temp file, fsync, rename, fsync directory).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{fill_random, KdfParams, Passphrase};
use crate::error::{Error, Result};
use crate::format::{sync_dir, Header};

/// Magic of a key file.
pub const KEYFILE_MAGIC: &[u8; 8] = b"CBKEYS\x00\x00";
/// Key file format version.
pub const KEYFILE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct KeyFileBody {
    kdf: String,
    kdf_params: KdfParams,
    salt: String,
    sealed: String,
}

fn aad(label: &str, p: &KdfParams) -> Vec<u8> {
    let mut ad = b"casebridge/v1/keyfile".to_vec();
    ad.extend_from_slice(label.as_bytes());
    ad.extend_from_slice(b"argon2id");
    for v in [p.m_kib(), p.t(), p.p()] {
        ad.extend_from_slice(&v.to_le_bytes());
    }
    ad
}

/// Seals `payload` under `passphrase` into `path` (atomically; refuses to overwrite unless
/// `replace`).
pub fn write_keyfile(path: &Path, label: &str, passphrase: &Passphrase, kdf: KdfParams, payload: &[u8], replace: bool) -> Result<()> {
    passphrase.check_policy()?;
    if !replace && path.exists() {
        return Err(Error::AlreadyExists { path: path.to_path_buf() });
    }
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let kek = kdf.derive(passphrase, &salt)?;
    let sealed = kek.aead().seal(&aad(label, &kdf), payload)?;
    let body = KeyFileBody { kdf: "argon2id".into(), kdf_params: kdf, salt: Header::to_b64(&salt), sealed: Header::to_b64(&sealed) };
    let json = serde_json::to_vec(&body).expect("key file serializes");
    let mut bytes = Vec::with_capacity(16 + json.len());
    bytes.extend_from_slice(KEYFILE_MAGIC);
    bytes.extend_from_slice(&KEYFILE_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&json);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.new", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
    {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        // Owner-only whatever the umask: the file is sealed, but who may even copy it is the
        // owner's business.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(Error::io("writing", &tmp))?;
        f.write_all(&bytes).map_err(Error::io("writing", &tmp))?;
        f.sync_all().map_err(Error::io("syncing", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(Error::io("writing", path))?;
    sync_dir(dir)
}

/// Opens a key file; a wrong passphrase gives [`Error::WrongPassphrase`].
pub fn read_keyfile(path: &Path, label: &str, passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>> {
    let bytes = fs::read(path).map_err(Error::io("reading", path))?;
    if bytes.len() < 16 || &bytes[..8] != KEYFILE_MAGIC {
        return Err(Error::corrupt(format!("{} is not a Casebridge key file", path.display())));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != KEYFILE_VERSION {
        return Err(Error::UnsupportedVersion { what: "key file", found: version, supported: KEYFILE_VERSION });
    }
    let len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    if len > 64 * 1024 || bytes.len() != 16 + len {
        return Err(Error::corrupt("key file: length field does not match the file"));
    }
    let body: KeyFileBody = serde_json::from_slice(&bytes[16..]).map_err(|_| Error::corrupt("key file: body does not parse"))?;
    if body.kdf != "argon2id" {
        return Err(Error::corrupt("key file: unknown KDF"));
    }
    let salt = Header::b64(&body.salt)?;
    let sealed = Header::b64(&body.sealed)?;
    let kek = body.kdf_params.derive(passphrase, &salt)?;
    kek.aead().open(&aad(label, &body.kdf_params), &sealed).map_err(|_| Error::WrongPassphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_wrong_passphrase_and_label() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let pass = Passphrase::new("agency passphrase!");
        write_keyfile(&p, "agency", &pass, KdfParams::INSECURE_FOR_TESTS, b"secret", false).unwrap();
        assert_eq!(&*read_keyfile(&p, "agency", &pass).unwrap(), b"secret");
        assert!(matches!(read_keyfile(&p, "agency", &Passphrase::new("wrong passphrase")), Err(Error::WrongPassphrase)));
        assert!(read_keyfile(&p, "other", &pass).is_err());
        assert!(matches!(write_keyfile(&p, "agency", &pass, KdfParams::INSECURE_FOR_TESTS, b"x", false), Err(Error::AlreadyExists { .. })));
    }
}
