//! The endpoint's calls into the agency store and the bundle reader, in one place: the
//! feed and content access (under the rules of [`crate::access`]), opening an uploaded bundle under the contribution policy and
//! recording custody "received".

use std::path::Path;
use std::sync::RwLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{Role, Store};
use casebridge_trust::bundle::{self, Anchor, BlobSink, Manifest, Opened, Verified};
use casebridge_trust::{Reason, TrustError};
use uuid::Uuid;

use crate::access;
use crate::api::ApiError;
use crate::state::read;

/// A store error as an HTTP error: refused input is the client's mistake (400), an object
/// store that does not answer is unavailable for now (503, logged), the rest is the
/// endpoint's (500, logged).
fn store_error(e: casebridge_core::Error) -> ApiError {
    match e {
        casebridge_core::Error::Invalid { field, reason } => ApiError::bad_request(format!("{field}: {reason}")),
        // A cluster's bucket that does not answer: 503, and the member retries.
        e @ casebridge_core::Error::ObjectStorage { .. } => ApiError::unavailable(e),
        e => ApiError::internal(e),
    }
}

/// What `member` with `role` may see of the events after `after`: the events (staff) or the
/// notices of agency `agency_id` (volunteers).
pub(crate) fn feed(
    store: &Store,
    agency_id: Uuid,
    member: Uuid,
    role: Role,
    after: u64,
    limit: usize,
) -> Result<access::FeedPage, ApiError> {
    access::feed(store, agency_id, member, role, after, limit).map_err(store_error)
}

/// The credentials the agency store holds for the authors of `events` (each once, base64 as
/// kept: the embedded credential of the author's last bundle received), and the name
/// disclosures kept with them (base64 of their JSON). Staff only.
pub(crate) fn author_credentials(store: &Store, events: &[casebridge_core::SignedEvent]) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let authors: std::collections::BTreeSet<Uuid> = events.iter().map(|e| e.body().author).collect();
    let (mut out, mut names) = (Vec::new(), Vec::new());
    // Every key of each author: a member with several devices has a credential per key.
    for author in authors {
        for rec in store.member_credentials(author).map_err(store_error)? {
            out.push(rec.document);
            if let Some(name) = rec.name {
                names.push(B64.encode(name));
            }
        }
    }
    Ok((out, names))
}

/// The size of content `sha256` when an item names it and `member` may fetch it, by the
/// records alone (whether it is held: [`content_held`], asked without the store's lock).
pub(crate) fn content_allowed(store: &Store, sha256: &str, member: Uuid, role: Role) -> Result<Option<u64>, ApiError> {
    access::content_allowed(store, sha256, member, role).map_err(store_error)
}

/// The item (evidence id, case id) the agency holds with content `sha256`, if any.
pub(crate) fn item_with_content(store: &Store, sha256: &str) -> Result<Option<(Uuid, Uuid)>, ApiError> {
    Ok(store.records().evidence_with_content(sha256).map_err(store_error)?.map(|e| (e.id, e.case_id)))
}

/// What a feed page served, for the endpoint's access log: the evidence ids its events name,
/// and their cases, each once, in order (a volunteer's notices are counted, not itemized).
pub(crate) fn served_by(store: &Store, page: &crate::access::FeedPage) -> Result<(Vec<Uuid>, Vec<Uuid>), ApiError> {
    let records = store.records();
    let (mut items, mut cases) = (Vec::new(), Vec::new());
    for ev in &page.events {
        let kind = &ev.body().kind;
        if let Some(e) = kind.evidence_id() {
            if !items.contains(&e) {
                items.push(e);
            }
        }
        if let Some(c) = records.case_of(kind).map_err(store_error)? {
            if !cases.contains(&c) {
                cases.push(c);
            }
        }
    }
    Ok((items, cases))
}

/// Whether content `sha256` is held, asked of the objects without the store (in a cluster a
/// request to the bucket: a bucket that does not answer is 503).
pub(crate) fn content_held(objects: &casebridge_core::ContentImporter, sha256: &str) -> Result<bool, ApiError> {
    objects.content_held(sha256).map_err(store_error)
}

/// The first half of opening an uploaded bundle, run without holding the store so that
/// several uploads are verified at once: verifies the bundle at `path` (signature, credential,
/// revocation, every event and blob), checks that `uploader` signed it and that it is the
/// bundle `declared` when the upload began (before any content is stored), and stores its
/// content into the agency store's objects. The store's lock is taken only for a moment, to
/// read the sender's last bundle. A bundle already held verifies as a replay and stores
/// nothing. (Messages never name the endpoint's own files: they go back to the member.)
pub(crate) fn verify_upload(
    path: &Path,
    anchor: &Anchor<'_>,
    store: &RwLock<Store>,
    uploader: Uuid,
    declared: Uuid,
) -> Result<Verified, TrustError> {
    let file = std::fs::File::open(path).map_err(|e| TrustError::new(Reason::Io, format!("opening the uploaded bundle: {e}")))?;
    verify_upload_stream(std::io::BufReader::with_capacity(256 * 1024, file), anchor, store, uploader, declared)
}

/// [`verify_upload`] over any reader of the bundle's bytes (the early verifier's, which follows
/// the upload as its chunks arrive).
pub(crate) fn verify_upload_stream<R: std::io::BufRead>(
    input: R,
    anchor: &Anchor<'_>,
    store: &RwLock<Store>,
    uploader: Uuid,
    declared: Uuid,
) -> Result<Verified, TrustError> {
    let content = read(store).content_importer();
    // The manifest is the uploader's own, then the sequence, the contribution policy and the
    // creations, all before any content is stored: a refused bundle leaves nothing behind.
    let replay = |v: &Verified| {
        upload_check(&v.manifest, uploader, declared)?;
        bundle::precheck(&read(store), v, &bundle::contribution_policy)
    };
    bundle::verify_stream(input, anchor, BlobSink::Objects { content: &content, replay: &replay }, &mut |_| true)
}

/// Right after the manifest's signature: the bundle is the uploader's own and the one declared
/// when the upload began (before any content is stored).
fn upload_check(m: &Manifest, uploader: Uuid, declared: Uuid) -> Result<(), TrustError> {
    if m.sender != uploader {
        return Err(TrustError::new(Reason::WrongHolder, "the bundle was signed by another member; upload only your own bundles"));
    }
    if m.bundle_id != declared {
        return Err(TrustError::new(
            Reason::ManifestInvalid,
            format!("the bundle's id is {}, not {declared} as declared when the upload began", m.bundle_id),
        ));
    }
    Ok(())
}

/// The second half, under the store's write lock: the sequence check again (a concurrent
/// upload may have brought the bundle meanwhile: a duplicate), the contribution policy, and
/// the bundle's events with custody "received by the agency endpoint" for the evidence it
/// brought, in one durable append. Nothing is recorded when a check refuses.
pub(crate) fn import_upload(store: &mut Store, verified: &Verified) -> Result<Opened, TrustError> {
    bundle::import_verified(store, verified, &bundle::contribution_policy, true)
}
