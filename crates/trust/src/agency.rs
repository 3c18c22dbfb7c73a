//! An agency as data: its directory, keys at rest, public identity, issued credentials,
//! revocation list and receipts.
//!
//! ```text
//! AGENCY/
//!   agency.json        signed document "agency-identity" (self-signed by the root key)
//!   keys.cbk           key file (Argon2id + AES-256-GCM, label "agency-keys"): root PKCS#8 + age X25519 identity
//!   revocation.json    the current signed revocation list (version 1 at init, empty)
//!   issued/SERIAL.cred credentials issued (audit trail), sealed to the agency's own sealing
//!                      key (age): an issued record `{"credential": DOC, "name": DISCLOSURE}`
//!                      (the credential commits to the name; the disclosure opens it), or a
//!                      bare credential document from an older version; names are never
//!                      readable at rest; older SERIAL.json files are sealed when the agency
//!                      is next unlocked
//!   receipts/ID.json   receipts signed for bundles opened
//!   lock               flock while a command changes the directory
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, FixedOffset};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::credential::{now, Credential, CredentialRequest, NameDisclosure, CREDENTIAL, CREDENTIAL_REQUEST};
use crate::doc::{fingerprint, SignedDoc};
use crate::error::{io_err, Reason, Result, TrustError};
use crate::receipt::{Receipt, RECEIPT};
use crate::records::{write_atomic, LocalRecords, RecordStore};
use crate::revocation::{RevocationList, Revoked, LIST_VALIDITY_DAYS, REVOCATION_LIST};
use casebridge_core::{KdfParams, Passphrase, Role};

/// Document type of an agency's public identity.
pub const AGENCY_IDENTITY: &str = "agency-identity";
const KEYS_LABEL: &str = "agency-keys";

/// What issuing a credential gives: the credential, its signed document, and the name
/// disclosure that opens its name commitment.
pub type Issued = (Credential, SignedDoc, NameDisclosure);

/// An issued record as the agency keeps it (sealed, in `issued/SERIAL.cred`).
#[derive(Serialize, Deserialize)]
struct IssuedRecord {
    credential: SignedDoc,
    #[serde(default)]
    name: Option<NameDisclosure>,
}

impl IssuedRecord {
    /// An issued record, or a bare credential document (older versions kept only that).
    fn parse(bytes: &[u8]) -> Result<IssuedRecord> {
        if let Ok(r) = serde_json::from_slice::<IssuedRecord>(bytes) {
            return Ok(r);
        }
        Ok(IssuedRecord { credential: SignedDoc::parse(bytes)?, name: None })
    }
}

/// The agency's public identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyPublic {
    /// Agency id.
    pub agency_id: Uuid,
    /// Name.
    pub name: String,
    /// Ed25519 root signing key, hex.
    pub root_key: String,
    /// X25519 sealing key as an age recipient (`age1...`).
    pub sealing_recipient: String,
    /// When created.
    pub created_at: DateTime<FixedOffset>,
}

impl AgencyPublic {
    /// Root key bytes.
    pub fn root_key_bytes(&self) -> Result<Vec<u8>> {
        hex::decode(&self.root_key)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| TrustError::new(Reason::ManifestInvalid, "agency root key is malformed"))
    }

    /// SHA-256 of the root key, hex.
    pub fn root_fingerprint(&self) -> String {
        self.root_key_bytes().map(|k| fingerprint(&k)).unwrap_or_default()
    }

    /// SHA-256 of the sealing recipient string, hex.
    pub fn sealing_fingerprint(&self) -> String {
        casebridge_core::to_hex(&casebridge_core::sha256(self.sealing_recipient.as_bytes()))
    }

    /// The sealing key as an age recipient.
    pub fn recipient(&self) -> Result<age::x25519::Recipient> {
        age::x25519::Recipient::from_str(&self.sealing_recipient)
            .map_err(|_| TrustError::new(Reason::ManifestInvalid, "agency sealing key is malformed"))
    }
}

/// What members pin: the identity and the current revocation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyPublicFile {
    /// The self-signed identity document.
    pub agency: SignedDoc,
    /// The current revocation list document.
    pub revocation: SignedDoc,
}

impl AgencyPublicFile {
    /// Reads and verifies a public file.
    pub fn read(path: &Path) -> Result<(AgencyPublicFile, AgencyPublic, RevocationList)> {
        let bytes = fs::read(path).map_err(io_err("reading", path))?;
        if bytes.len() > crate::doc::MAX_DOC_LEN {
            return Err(TrustError::new(Reason::DeclaredSizeTooLarge, "agency public file is larger than 4 MiB"));
        }
        let f: AgencyPublicFile = serde_json::from_slice(&bytes)
            .map_err(|_| TrustError::new(Reason::ManifestInvalid, format!("{} is not an agency public file", path.display())))?;
        let (public, list) = f.verify()?;
        Ok((f, public, list))
    }

    /// Verifies the identity (self-signed by the root key it names) and the list (by that key).
    pub fn verify(&self) -> Result<(AgencyPublic, RevocationList)> {
        let public = verify_identity(&self.agency)?;
        let list = RevocationList::verify(&self.revocation, &public.root_key_bytes()?, public.agency_id)?;
        Ok((public, list))
    }
}

/// Verifies a self-signed agency identity document.
pub fn verify_identity(doc: &SignedDoc) -> Result<AgencyPublic> {
    let key = doc.signer()?;
    let public: AgencyPublic = doc.open(AGENCY_IDENTITY, Some(&key))?;
    if public.root_key != hex::encode(&key) {
        return Err(TrustError::new(Reason::UnknownSigner, "agency identity is not signed by its own root key"));
    }
    Ok(public)
}

#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct Keys {
    root_pkcs8: String,
    sealing: String,
}

/// An agency directory, unlocked.
pub struct Agency {
    dir: PathBuf,
    /// The agency directory's lock (none for a cluster agency: its records are shared through
    /// the database, and its replicas and admin commands run at once).
    _lock: Option<File>,
    records: std::sync::Arc<dyn RecordStore>,
    public: AgencyPublic,
    public_doc: SignedDoc,
    root: Ed25519KeyPair,
    sealing: age::x25519::Identity,
}

fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("lock");
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err("opening", &path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(TrustError::new(Reason::Store, format!("agency directory {} is in use by another process", dir.display())))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_err("locking", &path)(e)),
    }
}

/// File extension of a sealed issued credential.
const ISSUED_EXT: &str = "cred";
/// The records of issued credentials (`issued/SERIAL.cred`, sealed).
pub const ISSUED_FOLDER: &str = "issued";
/// The record of the current revocation list.
pub const REVOCATION_RECORD: &str = "revocation.json";
/// The records of receipts (`receipts/BUNDLE.json`).
pub const RECEIPTS_FOLDER: &str = "receipts";
/// Signed-document type of an entry of the endpoint's own access log.
pub const ENDPOINT_ACCESS: &str = "endpoint-access";

/// The record name of the receipt for `bundle`.
pub fn receipt_record(bundle: Uuid) -> String {
    format!("{RECEIPTS_FOLDER}/{bundle}.json")
}

/// Seals `plain` to an agency's own sealing key (age, X25519 + ChaCha20-Poly1305): what the
/// agency directory keeps at rest (issued credentials, invites, upload state). Needs only the
/// public key, so files can be written without the passphrase; reading them needs the agency
/// unlocked ([`open_at_rest`]).
pub fn seal_at_rest(recipient: &age::x25519::Recipient, plain: &[u8]) -> Result<Vec<u8>> {
    let enc = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|_| TrustError::new(Reason::Store, "could not seal to the agency key"))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = enc.wrap_output(&mut out).map_err(|e| TrustError::new(Reason::Io, format!("sealing: {e}")))?;
    w.write_all(plain).map_err(|e| TrustError::new(Reason::Io, format!("sealing: {e}")))?;
    w.finish().map_err(|e| TrustError::new(Reason::Io, format!("sealing: {e}")))?;
    Ok(out)
}

/// Opens what [`seal_at_rest`] sealed. A file altered or sealed to another key fails with
/// [`Reason::SealDamaged`].
pub fn open_at_rest(identity: &age::x25519::Identity, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let damaged = || TrustError::new(Reason::SealDamaged, "a sealed agency file fails authentication (altered, or sealed to another key)");
    let dec = age::Decryptor::new_buffered(sealed).map_err(|_| damaged())?;
    let mut r = dec.decrypt(std::iter::once(identity as &dyn age::Identity)).map_err(|_| damaged())?;
    let mut out = Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(&mut r, &mut out).map_err(|_| damaged())?;
    Ok(out)
}

impl Agency {
    /// Creates an agency directory (which must not exist or be empty).
    pub fn init(dir: &Path, name: &str, passphrase: &Passphrase, kdf: KdfParams) -> Result<Agency> {
        passphrase.check_policy().map_err(|e| TrustError::new(Reason::ManifestInvalid, e.to_string()))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(TrustError::new(Reason::ManifestInvalid, "the agency name is empty"));
        }
        if dir.join("agency.json").exists() {
            return Err(TrustError::new(Reason::Store, format!("an agency already exists at {}; nothing was changed", dir.display())));
        }
        if dir.exists() && fs::read_dir(dir).map_err(io_err("reading", dir))?.next().is_some() {
            return Err(TrustError::new(Reason::Store, format!("{} is not empty; choose an empty or new directory", dir.display())));
        }
        for sub in ["issued", "receipts"] {
            // Owner-only whatever the umask (the directory and what `agency init` makes).
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir.join(sub)).map_err(io_err("creating", dir))?;
        }
        let _lock = lock(dir)?;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| TrustError::new(Reason::Store, "could not generate a key"))?;
        let root = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| TrustError::new(Reason::Store, "could not load the new key"))?;
        let sealing = age::x25519::Identity::generate();
        let keys = Keys { root_pkcs8: B64.encode(pkcs8.as_ref()), sealing: sealing.to_string().expose_secret().to_string() };
        let payload = Zeroizing::new(serde_json::to_vec(&keys).expect("keys serialize"));
        casebridge_core::write_keyfile(&dir.join("keys.cbk"), KEYS_LABEL, passphrase, kdf, &payload, false)?;
        let public = AgencyPublic {
            agency_id: Uuid::now_v7(),
            name: name.to_string(),
            root_key: hex::encode(root.public_key().as_ref()),
            sealing_recipient: sealing.to_public().to_string(),
            created_at: now(),
        };
        let public_doc = SignedDoc::sign(AGENCY_IDENTITY, &public, &root);
        let records: std::sync::Arc<dyn RecordStore> = std::sync::Arc::new(LocalRecords::new(dir));
        let agency = Agency { dir: dir.to_path_buf(), _lock: Some(_lock), records, public, public_doc, root, sealing };
        agency.write_revocation(&RevocationList {
            agency_id: agency.public.agency_id,
            version: 1,
            issued_at: now(),
            expires_at: now() + Duration::days(LIST_VALIDITY_DAYS),
            entries: vec![],
        })?;
        // The identity is written last: its presence marks a complete agency directory.
        write_atomic(&dir.join("agency.json"), &agency.public_doc.to_bytes())?;
        Ok(agency)
    }

    /// Reads the public identity (no passphrase needed).
    pub fn read_public(dir: &Path) -> Result<(AgencyPublic, SignedDoc)> {
        let path = dir.join("agency.json");
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                TrustError::new(Reason::Store, format!("no agency at {}: create the agency there first", dir.display()))
            }
            _ => io_err("reading", &path)(e),
        })?;
        let doc = SignedDoc::parse(&bytes)?;
        Ok((verify_identity(&doc)?, doc))
    }

    /// Reads the current revocation list of the embedded agency in `dir` (no passphrase
    /// needed).
    pub fn read_revocation(dir: &Path) -> Result<(RevocationList, SignedDoc)> {
        let (public, _) = Self::read_public(dir)?;
        Self::revocation_in(&LocalRecords::new(dir), &public)
    }

    /// Reads and verifies the current revocation list in `records` (no passphrase needed).
    pub fn revocation_in(records: &dyn RecordStore, public: &AgencyPublic) -> Result<(RevocationList, SignedDoc)> {
        let bytes = records
            .read(REVOCATION_RECORD)?
            .ok_or_else(|| TrustError::new(Reason::Store, "the agency has no revocation list (revocation.json is missing)"))?;
        let doc = SignedDoc::parse(&bytes)?;
        Ok((RevocationList::verify(&doc, &public.root_key_bytes()?, public.agency_id)?, doc))
    }

    /// The public file members pin, of the embedded agency in `dir`.
    pub fn public_file(dir: &Path) -> Result<AgencyPublicFile> {
        Self::public_file_in(dir, &LocalRecords::new(dir))
    }

    /// The public file members pin: the identity in `dir`, the revocation list in `records`.
    pub fn public_file_in(dir: &Path, records: &dyn RecordStore) -> Result<AgencyPublicFile> {
        let (public, agency) = Self::read_public(dir)?;
        let (_, revocation) = Self::revocation_in(records, &public)?;
        Ok(AgencyPublicFile { agency, revocation })
    }

    /// Unlocks the agency directory (holding its lock), its records as files in it.
    pub fn open(dir: &Path, passphrase: &Passphrase) -> Result<Agency> {
        let _lock = lock(dir)?;
        Self::unlock(dir, passphrase, Some(_lock), std::sync::Arc::new(LocalRecords::new(dir)))
    }

    /// Unlocks a cluster agency: the keys in `dir`, the records in `records` (the cluster's
    /// database). Takes no lock: replicas and admin commands share the records.
    pub fn open_shared(dir: &Path, passphrase: &Passphrase, records: std::sync::Arc<dyn RecordStore>) -> Result<Agency> {
        Self::unlock(dir, passphrase, None, records)
    }

    /// The records this agency keeps (files in its directory, or the cluster's database).
    pub fn records(&self) -> &dyn RecordStore {
        self.records.as_ref()
    }

    /// The records, shared.
    pub fn records_arc(&self) -> std::sync::Arc<dyn RecordStore> {
        self.records.clone()
    }

    fn unlock(dir: &Path, passphrase: &Passphrase, _lock: Option<File>, records: std::sync::Arc<dyn RecordStore>) -> Result<Agency> {
        let (public, public_doc) = Self::read_public(dir)?;
        let payload = casebridge_core::read_keyfile(&dir.join("keys.cbk"), KEYS_LABEL, passphrase).map_err(|e| match e {
            casebridge_core::Error::WrongPassphrase => {
                TrustError::new(Reason::Store, "wrong agency passphrase: the agency keys could not be unlocked (nothing was changed)")
            }
            e => TrustError::from(e),
        })?;
        let keys: Keys = serde_json::from_slice(&payload).map_err(|_| TrustError::new(Reason::Store, "agency keys do not parse"))?;
        let pkcs8 =
            Zeroizing::new(B64.decode(&keys.root_pkcs8).map_err(|_| TrustError::new(Reason::Store, "agency root key is malformed"))?);
        let root = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| TrustError::new(Reason::Store, "agency root key is malformed"))?;
        let sealing = age::x25519::Identity::from_str(&keys.sealing)
            .map_err(|_| TrustError::new(Reason::Store, "agency sealing key is malformed"))?;
        if hex::encode(root.public_key().as_ref()) != public.root_key || sealing.to_public().to_string() != public.sealing_recipient {
            return Err(TrustError::new(Reason::Store, "agency keys do not match agency.json"));
        }
        let agency = Agency { dir: dir.to_path_buf(), _lock, records, public, public_doc, root, sealing };
        agency.seal_legacy_issued()?;
        Ok(agency)
    }

    /// Seals issued credentials an older version kept as plain `issued/SERIAL.json`.
    fn seal_legacy_issued(&self) -> Result<()> {
        for name in self.records.list(ISSUED_FOLDER)? {
            let Some(serial) = name.strip_suffix(".json") else { continue };
            let Some(bytes) = self.records.read(&format!("{ISSUED_FOLDER}/{name}"))? else { continue };
            let sealed = seal_at_rest(&self.public.recipient()?, &bytes)?;
            self.records.write(&format!("{ISSUED_FOLDER}/{serial}.{ISSUED_EXT}"), &sealed)?;
            self.records.remove(&format!("{ISSUED_FOLDER}/{name}"))?;
        }
        Ok(())
    }

    /// The agency directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The public identity.
    pub fn public(&self) -> &AgencyPublic {
        &self.public
    }

    /// The public identity document.
    pub fn public_doc(&self) -> &SignedDoc {
        &self.public_doc
    }

    /// The sealing identity (opens bundles).
    pub fn sealing_identity(&self) -> &age::x25519::Identity {
        &self.sealing
    }

    fn write_revocation(&self, list: &RevocationList) -> Result<SignedDoc> {
        let doc = SignedDoc::sign(REVOCATION_LIST, list, &self.root);
        self.records.write(REVOCATION_RECORD, &doc.to_bytes())?;
        Ok(doc)
    }

    /// The current list; when it has expired, a fresh one (next version, same entries) is
    /// signed first, so an unlocked agency never decides on a stale list.
    pub fn current_revocation(&self) -> Result<(RevocationList, SignedDoc)> {
        let (list, doc) = Self::revocation_in(self.records.as_ref(), &self.public)?;
        if now() <= list.expires_at {
            return Ok((list, doc));
        }
        self.next_revocation(|list| list.entries.clone())?;
        Self::revocation_in(self.records.as_ref(), &self.public)
    }

    /// Signs the next list version with the entries `entries` makes from the current list,
    /// replacing the current one only if no other writer (another replica of a cluster
    /// agency) replaced it meanwhile; on such a race it starts again from the newer list, so
    /// no revocation is ever lost.
    fn next_revocation(&self, entries: impl Fn(&RevocationList) -> Vec<Revoked>) -> Result<RevocationList> {
        for _ in 0..64 {
            let (list, doc) = Self::revocation_in(self.records.as_ref(), &self.public)?;
            let next = RevocationList {
                agency_id: list.agency_id,
                version: list.version + 1,
                issued_at: now(),
                expires_at: now() + Duration::days(LIST_VALIDITY_DAYS),
                entries: entries(&list),
            };
            let signed = SignedDoc::sign(REVOCATION_LIST, &next, &self.root);
            if self.records.replace(REVOCATION_RECORD, &doc.to_bytes(), &signed.to_bytes())? {
                return Ok(next);
            }
        }
        Err(TrustError::new(Reason::Store, "the revocation list kept changing under this writer; try again"))
    }

    /// Issues a credential for a member's signed request. A member id belongs to the first key
    /// that enrolled with it: a request naming an id already issued to another key is refused
    /// ([`Reason::MemberIdTaken`]), as is a key already enrolled under another id. A new key
    /// for an existing member goes through [`Agency::issue_for_member`].
    ///
    /// Returns the credential (which commits to the name), its signed document, and the name
    /// disclosure that opens the commitment (for the member; the agency keeps it sealed).
    pub fn issue(&self, request: &SignedDoc, role: Role, name: Option<&str>, valid_for: Duration) -> Result<Issued> {
        self.issue_checked(request, None, role, name, valid_for)
    }

    /// Issues a credential to the existing member `member` for the (possibly new) key of the
    /// request, which must name that member: a new device or a lost key, through an invite
    /// made for that member. Earlier keys stay valid unless revoked ([`Agency::revoke_keys`]).
    pub fn issue_for_member(
        &self,
        request: &SignedDoc,
        member: Uuid,
        role: Role,
        name: Option<&str>,
        valid_for: Duration,
    ) -> Result<Issued> {
        self.issue_checked(request, Some(member), role, name, valid_for)
    }

    fn issue_checked(
        &self,
        request: &SignedDoc,
        rebind: Option<Uuid>,
        role: Role,
        name: Option<&str>,
        valid_for: Duration,
    ) -> Result<Issued> {
        let key = request.signer()?;
        let req: CredentialRequest = request.open(CREDENTIAL_REQUEST, Some(&key))?;
        if req.key != hex::encode(&key) {
            return Err(TrustError::new(Reason::KeyMismatch, "the request names a different key than the one that signed it"));
        }
        if let Some(member) = rebind {
            if req.member_id != member {
                return Err(TrustError::new(
                    Reason::MemberIdTaken,
                    format!("this invite is for member {member}; the request names member {}", req.member_id),
                ));
            }
        }
        let issued = self.issued()?;
        if let Some(member) = rebind {
            if !issued.iter().any(|c| c.member_id == member) {
                return Err(TrustError::new(
                    Reason::UnknownMember,
                    format!("no credential was ever issued to member {member}; a new member enrols with an ordinary invite"),
                ));
            }
        }
        for c in issued {
            if c.member_id == req.member_id && c.key != req.key && rebind.is_none() {
                return Err(TrustError::new(
                    Reason::MemberIdTaken,
                    format!(
                        "member id {} is already enrolled with another key; a new device needs an invite made for that member (agency invite --member)",
                        req.member_id
                    ),
                ));
            }
            if c.key == req.key && c.member_id != req.member_id {
                return Err(TrustError::new(Reason::MemberIdTaken, "this key is already enrolled under another member id"));
            }
        }
        let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(&req.name).to_string();
        let issued_at = now();
        let serial = Uuid::now_v7();
        let disclosure = NameDisclosure::new(serial, req.member_id, &name)?;
        let cred = Credential {
            agency_id: self.public.agency_id,
            serial,
            member_id: req.member_id,
            name_commitment: disclosure.commitment()?,
            role,
            key: req.key,
            scopes: Credential::scopes_for(role),
            not_before: issued_at,
            not_after: issued_at + valid_for,
            issued_at,
        };
        let doc = SignedDoc::sign(CREDENTIAL, &cred, &self.root);
        let record = IssuedRecord { credential: doc.clone(), name: Some(disclosure.clone()) };
        let sealed = seal_at_rest(&self.public.recipient()?, &serde_json::to_vec(&record).expect("an issued record serializes"))?;
        self.records.write(&format!("{ISSUED_FOLDER}/{}.{ISSUED_EXT}", cred.serial), &sealed)?;
        Ok((cred, doc, disclosure))
    }

    /// Every credential issued, each unsealed and verified with the root key.
    pub fn issued(&self) -> Result<Vec<Credential>> {
        Ok(self.issued_with_names()?.into_iter().map(|(c, _)| c).collect())
    }

    /// Every credential issued with the name disclosure the agency keeps for it (none for a
    /// credential an older version issued), each unsealed, verified with the root key and
    /// checked against its commitment.
    pub fn issued_with_names(&self) -> Result<Vec<(Credential, Option<NameDisclosure>)>> {
        let root = self.public.root_key_bytes()?;
        let mut out = Vec::new();
        for name in self.records.list(ISSUED_FOLDER)? {
            let Some(bytes) = self.records.read(&format!("{ISSUED_FOLDER}/{name}"))? else { continue };
            let record = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some(ISSUED_EXT) => IssuedRecord::parse(&open_at_rest(&self.sealing, &bytes)?)?,
                Some("json") => IssuedRecord::parse(&bytes)?,
                _ => continue,
            };
            let cred = Credential::verify(&record.credential, &root, self.public.agency_id)?;
            let disclosure = record.name.filter(|d| d.check(&cred).is_ok());
            out.push((cred, disclosure));
        }
        out.sort_by_key(|(c, _)| c.serial);
        Ok(out)
    }

    /// The name disclosures the agency keeps, by credential serial.
    pub fn names(&self) -> Result<std::collections::BTreeMap<Uuid, NameDisclosure>> {
        Ok(self.issued_with_names()?.into_iter().filter_map(|(c, d)| d.map(|d| (c.serial, d))).collect())
    }

    /// Revokes every key issued to `member`: publishes the next list version.
    pub fn revoke(&self, member: Uuid, reason: Option<String>) -> Result<RevocationList> {
        let keys: Vec<String> = self.issued()?.into_iter().filter(|c| c.member_id == member).map(|c| c.key).collect();
        if keys.is_empty() {
            return Err(TrustError::new(Reason::Store, format!("no credential was issued to member {member}; see the issued/ folder")));
        }
        self.revoke_keys(member, keys, reason)
    }

    /// Revokes the keys `keys` (hex) of `member` (a lost device): publishes the next list
    /// version. The member's other keys stay valid.
    pub fn revoke_keys(&self, member: Uuid, keys: Vec<String>, reason: Option<String>) -> Result<RevocationList> {
        self.next_revocation(|list| {
            let mut entries = list.entries.clone();
            for key in &keys {
                if !entries.iter().any(|e| &e.key == key) {
                    entries.push(Revoked { member_id: member, key: key.clone(), revoked_at: now(), reason: reason.clone() });
                }
            }
            entries
        })
    }

    /// Signs and files a receipt.
    pub fn sign_receipt(&self, receipt: &Receipt) -> Result<SignedDoc> {
        let doc = self.sign_receipt_unfiled(receipt);
        self.records.write(&receipt_record(receipt.bundle_id), &doc.to_bytes())?;
        Ok(doc)
    }

    /// Signs a receipt without filing it (a cluster agency files it in the same database
    /// transaction as the bundle's events, under [`receipt_record`]).
    pub fn sign_receipt_unfiled(&self, receipt: &Receipt) -> SignedDoc {
        SignedDoc::sign(RECEIPT, receipt, &self.root)
    }

    /// Signs a notice to one volunteer with the agency's root key (the key members pinned).
    pub fn sign_notice(&self, notice: &casebridge_core::Notice) -> SignedDoc {
        SignedDoc::sign(crate::notice::NOTICE, notice, &self.root)
    }

    /// Signs a tombstone (an item this agency deleted) with the root key.
    pub fn sign_tombstone(&self, t: &casebridge_core::Tombstone) -> SignedDoc {
        SignedDoc::sign(crate::retention::TOMBSTONE, t, &self.root)
    }

    /// Signs `rules` as the agency's retention rules (the next version) and keeps them as its
    /// current rules (`retention.json`). The rules are checked first
    /// ([`crate::RulesFile::check`]); nothing is written when they are refused.
    pub fn set_retention(&self, rules: &crate::RulesFile) -> Result<(crate::RetentionRules, SignedDoc)> {
        rules.check()?;
        for _ in 0..64 {
            let current = self.records.read(crate::retention::RETENTION_RECORD)?;
            let version = match &current {
                Some(bytes) => crate::RetentionRules::verify(&SignedDoc::parse(bytes)?, &self.public)?.version + 1,
                None => 1,
            };
            let next = crate::RetentionRules { agency_id: self.public.agency_id, version, issued_at: now(), rules: rules.rules.clone() };
            let signed = SignedDoc::sign(crate::retention::RETENTION_RULES, &next, &self.root);
            let written = match &current {
                Some(bytes) => self.records.replace(crate::retention::RETENTION_RECORD, bytes, &signed.to_bytes())?,
                None => self.records.create(crate::retention::RETENTION_RECORD, &signed.to_bytes())?,
            };
            if written {
                return Ok((next, signed));
            }
        }
        Err(TrustError::new(Reason::Store, "the retention rules kept changing under this writer; try again"))
    }

    /// The agency's current retention rules in `records`, verified (no passphrase needed);
    /// `None` when none were set.
    pub fn retention_in(records: &dyn RecordStore, public: &AgencyPublic) -> Result<Option<(crate::RetentionRules, SignedDoc)>> {
        match records.read(crate::retention::RETENTION_RECORD)? {
            None => Ok(None),
            Some(bytes) => {
                let doc = SignedDoc::parse(&bytes)?;
                Ok(Some((crate::RetentionRules::verify(&doc, public)?, doc)))
            }
        }
    }

    /// Signs one entry of the endpoint's own access log with the agency's root key (type
    /// [`ENDPOINT_ACCESS`]; crates/agency `endpoint_log` chains and files them).
    pub fn sign_endpoint_access<T: Serialize>(&self, entry: &T) -> SignedDoc {
        SignedDoc::sign(ENDPOINT_ACCESS, entry, &self.root)
    }

    /// The receipt on file for `bundle`, as signed when it first arrived.
    pub fn receipt_on_file(&self, bundle: Uuid) -> Result<Option<SignedDoc>> {
        match self.records.read(&receipt_record(bundle))? {
            Some(bytes) => Ok(Some(SignedDoc::parse(&bytes)?)),
            None => Ok(None),
        }
    }
}
