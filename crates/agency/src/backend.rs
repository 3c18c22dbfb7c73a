//! The endpoint's calls into the agency store and the bundle reader, in one place: the
//! feed, content access, opening an uploaded bundle under the contribution policy and
//! recording custody "received".

use std::path::Path;

use casebridge_core::{FeedPage, Role, Store};
use casebridge_trust::bundle::{self, Anchor, Opened, Verified};
use casebridge_trust::{Reason, TrustError};
use uuid::Uuid;

use crate::api::ApiError;

/// A store error as an HTTP error: refused input is the client's mistake (400), the rest is
/// the endpoint's (500, logged).
fn store_error(e: casebridge_core::Error) -> ApiError {
    match e {
        casebridge_core::Error::Invalid { field, reason } => ApiError::bad_request(format!("{field}: {reason}")),
        e => ApiError::internal(e),
    }
}

/// The events after `after` that `member` with `role` may see.
pub(crate) fn feed(store: &mut Store, member: Uuid, role: Role, after: u64, limit: usize) -> Result<FeedPage, ApiError> {
    store.feed(member, role, after, limit).map_err(store_error)
}

/// The size of content `sha256` when `member` may fetch it and it is held.
pub(crate) fn content_access(store: &mut Store, sha256: &str, member: Uuid, role: Role) -> Result<Option<u64>, ApiError> {
    store.content_access(sha256, member, role).map_err(store_error)
}

/// Verifies the bundle at `path`, checks that `uploader` signed it and that it is the bundle
/// `declared` when the upload began, runs the contribution policy, and imports it into
/// `store`. Nothing is imported when a check refuses. A bundle already held is reported as a
/// duplicate (its sender and id are checked all the same).
pub(crate) fn open_bundle(
    path: &Path,
    anchor: &Anchor<'_>,
    store: &mut Store,
    uploader: Uuid,
    declared: Uuid,
) -> Result<Opened, TrustError> {
    let check = |sender: Uuid, bundle_id: Uuid| -> Result<(), TrustError> {
        if sender != uploader {
            return Err(TrustError::new(Reason::WrongHolder, "the bundle was signed by another member; upload only your own bundles"));
        }
        if bundle_id != declared {
            return Err(TrustError::new(
                Reason::ManifestInvalid,
                format!("the bundle's id is {bundle_id}, not {declared} as declared when the upload began"),
            ));
        }
        Ok(())
    };
    let policy = |s: &Store, v: &Verified| -> Result<(), TrustError> {
        check(v.manifest.sender, v.manifest.bundle_id)?;
        bundle::contribution_policy(s, v)
    };
    let opened = bundle::open_into_checked(path, anchor, store, &policy, &mut |_| true)?;
    // A replay skips the policy (nothing is imported); its sender and id still must match.
    check(opened.sender, opened.bundle_id)?;
    Ok(opened)
}

/// Records custody "received by the agency endpoint" for the evidence an opened bundle brought.
pub(crate) fn record_received(store: &mut Store, opened: &Opened) -> Result<(), ApiError> {
    store.record_received(&opened.received).map_err(ApiError::internal)
}
