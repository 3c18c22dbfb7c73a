//! Byte layouts of the store, mirrored from docs/FORMAT.md. Every file starts with a magic
//! and a version that is checked before anything else is parsed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::crypto::KdfParams;
use crate::error::{Error, Result};

/// Name of the header file inside a store directory.
pub const HEADER_FILE: &str = "casebridge.store";
/// Name of the lock file.
pub const LOCK_FILE: &str = "lock";
/// Journal directory and file.
pub const JOURNAL_DIR: &str = "journal";
/// The journal file inside [`JOURNAL_DIR`].
pub const JOURNAL_FILE: &str = "journal.cbj";
/// Object directory.
pub const OBJECTS_DIR: &str = "objects";
/// Temp directory (sealed bytes only).
pub const TMP_DIR: &str = "tmp";
/// sled directory.
pub const INDEX_DIR: &str = "index";

/// `HEADER_MAGIC || VERSION (u32 LE) || LEN (u32 LE) || JSON`.
pub const HEADER_MAGIC: &[u8; 8] = b"CBSTORE\x00";
/// Header format version.
pub const HEADER_VERSION: u32 = 1;
/// Upper bound on the header JSON (an altered length cannot make us allocate more).
pub const HEADER_MAX_LEN: u32 = 64 * 1024;

/// `JOURNAL_MAGIC || VERSION (u32 LE) || STORE_ID (16)`, then records.
pub const JOURNAL_MAGIC: &[u8; 8] = b"CBJRNL\x00\x00";
/// Journal format version.
pub const JOURNAL_VERSION: u32 = 1;
/// Bytes before the first journal record.
pub const JOURNAL_HEADER_LEN: u64 = 8 + 4 + 16;
/// A record: `LEN (u32 LE) || NONCE (12) || CIPHERTEXT || TAG (16)`; LEN counts from NONCE on.
pub const JOURNAL_RECORD_MAX: u32 = 16 * 1024 * 1024;

/// `OBJECT_MAGIC || VERSION (u32 LE) || CHUNK_SIZE (u32 LE) || NONCE_PREFIX (7) || RESERVED (1)
/// || WRAPPED_ITEM_KEY (12 + 32 + 16)`, then chunks `CIPHERTEXT || TAG`.
pub const OBJECT_MAGIC: &[u8; 8] = b"CBOBJCT\x00";
/// Object format version.
pub const OBJECT_VERSION: u32 = 1;
/// Plaintext bytes per chunk. 1 MiB: large enough that per-chunk costs vanish, small enough
/// that a few buffers in flight keep memory flat.
pub const CHUNK_SIZE: u32 = 1024 * 1024;
/// Length of the fixed object header.
pub const OBJECT_HEADER_LEN: usize = 8 + 4 + 4 + 7 + 1 + 60;

/// Associated-data labels (domain separation).
pub mod aad {
    /// Master key wrapped by the passphrase key.
    pub const MASTER_KEY: &[u8] = b"casebridge/v1/header/master-key";
    /// Sealed profile (identity key, member id, name) in the header.
    pub const PROFILE: &[u8] = b"casebridge/v1/header/profile";
    /// A journal record.
    pub const JOURNAL: &[u8] = b"casebridge/v1/journal/record";
    /// An index (sled) value.
    pub const INDEX: &[u8] = b"casebridge/v1/index";
    /// An object's wrapped per-item key.
    pub const OBJECT_KEY: &[u8] = b"casebridge/v1/object/key";
    /// An object chunk.
    pub const OBJECT_CHUNK: &[u8] = b"casebridge/v1/object/chunk";
}

/// HKDF purposes for subkeys of the master key.
pub mod purpose {
    /// Seals the header profile record.
    pub const PROFILE: &[u8] = b"casebridge/v1/key/profile";
    /// Seals journal records.
    pub const JOURNAL: &[u8] = b"casebridge/v1/key/journal";
    /// Seals index values.
    pub const INDEX: &[u8] = b"casebridge/v1/key/index";
    /// Keys index keys: HMAC-SHA-256 of each key component (docs/FORMAT.md, "Index keys").
    pub const INDEX_KEY: &[u8] = b"casebridge/v1/key/index-key";
    /// Wraps per-item object keys.
    pub const OBJECT_WRAP: &[u8] = b"casebridge/v1/key/object-wrap";
    /// Names objects: HMAC of the content hash.
    pub const OBJECT_NAME: &[u8] = b"casebridge/v1/key/object-name";
    /// Keys the per-case pseudonyms of members in court material.
    pub const PSEUDONYM: &[u8] = b"casebridge/v1/key/pseudonym";
}

/// Context prefix of a pseudonym's HMAC input (see `Store::pseudonym_tag`).
pub const PSEUDONYM_CONTEXT: &[u8] = b"casebridge/v1/pseudonym";

/// The header's JSON body. Nothing in it is readable evidence: the profile is sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// Random id of this store (binds the journal to it).
    pub store_id: String,
    /// Always "argon2id".
    pub kdf: String,
    /// Argon2id parameters.
    pub kdf_params: KdfParams,
    /// Salt, base64.
    pub salt: String,
    /// `NONCE || CT(master key) || TAG`, base64; AAD binds store id and KDF parameters.
    pub wrapped_master_key: String,
    /// `NONCE || CT(profile JSON) || TAG`, base64, under the profile subkey.
    pub sealed_profile: String,
}

impl Header {
    /// Associated data for the wrapped master key: the label, the store id and the KDF
    /// parameters, so that a header with lowered parameters does not unwrap.
    pub fn master_key_aad(&self) -> Vec<u8> {
        let mut ad = aad::MASTER_KEY.to_vec();
        ad.extend_from_slice(self.store_id.as_bytes());
        ad.extend_from_slice(self.kdf.as_bytes());
        for v in [self.kdf_params.m_kib(), self.kdf_params.t(), self.kdf_params.p()] {
            ad.extend_from_slice(&v.to_le_bytes());
        }
        ad
    }

    /// Decodes a base64 field.
    pub fn b64(field: &str) -> Result<Vec<u8>> {
        B64.decode(field).map_err(|_| Error::corrupt("store header: a field is not base64"))
    }

    /// Encodes to base64.
    pub fn to_b64(bytes: &[u8]) -> String {
        B64.encode(bytes)
    }

    /// Reads and parses the header file; the magic and version are checked first.
    pub fn read(dir: &Path) -> Result<Header> {
        let path = dir.join(HEADER_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoStore { path: dir.to_path_buf() }),
            Err(e) => return Err(Error::io("reading", &path)(e)),
        };
        Self::parse(&bytes)
    }

    /// Parses header bytes.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        if bytes.len() < 16 || &bytes[..8] != HEADER_MAGIC {
            return Err(Error::corrupt("store header: not a Casebridge store header"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != HEADER_VERSION {
            return Err(Error::UnsupportedVersion { what: "store header", found: version, supported: HEADER_VERSION });
        }
        let len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
        if len > HEADER_MAX_LEN || bytes.len() != 16 + len as usize {
            return Err(Error::corrupt("store header: length field does not match the file"));
        }
        let h: Header = serde_json::from_slice(&bytes[16..]).map_err(|_| Error::corrupt("store header: body does not parse"))?;
        if h.kdf != "argon2id" {
            return Err(Error::corrupt("store header: unknown KDF"));
        }
        h.kdf_params.validate()?;
        Ok(h)
    }

    /// Serializes the header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("header serializes");
        let mut out = Vec::with_capacity(16 + json.len());
        out.extend_from_slice(HEADER_MAGIC);
        out.extend_from_slice(&HEADER_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out
    }

    /// Writes the header atomically: temp file, fsync, rename over, fsync the directory.
    /// A crash at any point leaves either the old or the new header in place.
    pub fn write_atomic(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{HEADER_FILE}.new"));
        let path = dir.join(HEADER_FILE);
        {
            let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(Error::io("writing", &tmp))?;
            f.write_all(&self.to_bytes()).map_err(Error::io("writing", &tmp))?;
            f.sync_all().map_err(Error::io("syncing", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(Error::io("renaming", &path))?;
        sync_dir(dir)
    }
}

/// fsyncs a directory so that a rename or create inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("syncing directory", dir))
}
