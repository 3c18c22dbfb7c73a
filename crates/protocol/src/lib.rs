//! # casebridge-protocol
//!
//! The `/v1` wire types of the agency endpoint, shared by the server (`casebridge-agency`) and
//! the client (`casebridge-sync`). Plain data with serde and utoipa derives; no I/O. The OpenAPI
//! document served at `/v1/openapi.json` is generated from these types ([`openapi`]), so the
//! description cannot drift from the code.
//!
//! Signed documents (credential requests, credentials, revocation lists, receipts, the
//! agency's public file) and signed events travel as base64 of their exact bytes: the receiver
//! verifies the signature over those bytes before parsing anything further.
//!
//! See docs/ENDPOINT.md for the routes and the access rules.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

/// The API version prefix.
pub const PREFIX: &str = "/v1";

/// Domain-separation label of the authentication signature: the member signs
/// `AUTH_CONTEXT || agency_id (16 bytes) || nonce (32 bytes)`.
pub const AUTH_CONTEXT: &[u8] = b"casebridge/v1/auth\0";

/// The message a member signs to answer a challenge (after [`AUTH_CONTEXT`]).
pub fn auth_message(agency_id: Uuid, nonce: &[u8]) -> Vec<u8> {
    [agency_id.as_bytes().as_slice(), nonce].concat()
}

/// Largest JSON request body the endpoint accepts.
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest single upload chunk (`PUT /v1/uploads/{id}`).
pub const MAX_CHUNK: usize = 8 * 1024 * 1024;
/// The chunk size clients use by default.
pub const DEFAULT_CHUNK: usize = 4 * 1024 * 1024;
/// Largest bundle the endpoint accepts.
pub const MAX_BUNDLE: u64 = 64 * 1024 * 1024 * 1024;
/// Most events one feed page returns.
pub const MAX_FEED_PAGE: usize = 500;

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `unauthenticated`, `forbidden`, `not_found`, `bad_request`.
    pub code: String,
    /// What was wrong, for people. Never contains a secret or evidence content.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: code.into(), message: message.into() } }
    }
}

/// `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always "ok" when the endpoint answers.
    pub status: String,
    /// The agency this endpoint serves.
    pub agency_id: Uuid,
    /// Endpoint software version.
    pub version: String,
}

/// A member's role: the one definition, used by credentials, signed events, the store
/// (`casebridge_core::Role` is this type) and the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Police investigator.
    Investigator,
    /// Police supervisor or agency admin.
    Supervisor,
    /// Vetted citizen volunteer.
    Volunteer,
}

impl Role {
    /// The lowercase name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Investigator => "investigator",
            Role::Supervisor => "supervisor",
            Role::Volunteer => "volunteer",
        }
    }

    /// Police staff (investigators and supervisors), as opposed to volunteers.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Investigator | Role::Supervisor)
    }
}

/// A word that names no [`Role`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not one of investigator, supervisor, volunteer")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "investigator" => Ok(Role::Investigator),
            "supervisor" => Ok(Role::Supervisor),
            "volunteer" => Ok(Role::Volunteer),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

/// What the agency did with a bundle it received: stored it, or found it already held (nothing
/// added). Carried by [`UploadOutcome`] and by the agency's signed receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BundleOutcome {
    /// Verified and stored.
    Accepted,
    /// Already held: nothing was added.
    Duplicate,
}

impl BundleOutcome {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleOutcome::Accepted => "accepted",
            BundleOutcome::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for BundleOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /v1/enrol`: an invite holder sends its credential request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrolRequest {
    /// The secret from the invite code.
    pub invite_secret: String,
    /// The signed credential request (proof of possession of the member key), base64.
    pub request: String,
}

/// The answer to an enrolment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrolResponse {
    /// The member id the credential names.
    pub member_id: Uuid,
    /// The issued credential (a signed document), base64.
    pub credential: String,
    /// The agency's public file (identity and revocation list), base64.
    pub agency: String,
    /// The name disclosure opening the credential's name commitment (name, salt, serial),
    /// base64 of its JSON: the member keeps it with the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /v1/auth/challenge`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChallengeRequest {
    /// The member.
    pub member_id: Uuid,
    /// The member's Ed25519 public key, hex.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub key: String,
}

/// A challenge to sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    /// Names the challenge in the answer.
    pub challenge_id: Uuid,
    /// 32 random bytes, hex.
    pub nonce: String,
    /// The agency id that goes into the signed message.
    pub agency_id: Uuid,
    /// The challenge is refused after this.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<FixedOffset>,
}

/// `POST /v1/auth/session`: the signed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionRequest {
    /// The challenge answered.
    pub challenge_id: Uuid,
    /// Ed25519 signature over `AUTH_CONTEXT || agency_id || nonce`, hex.
    pub signature: String,
}

/// A session: send `Authorization: Bearer TOKEN` on every other request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// The bearer token (secret).
    pub token: String,
    /// The member's role.
    pub role: Role,
    /// The token is refused after this.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<FixedOffset>,
}

/// A signed document, base64 of its exact bytes (`GET /v1/revocation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Document {
    /// base64 of the signed document.
    pub document: String,
}

/// Most hashes one `POST /v1/held` may ask about (the client asks in batches of this many;
/// 500 hashes stay well inside the endpoint's JSON body limit).
pub const MAX_HELD_QUERY: usize = 500;

/// `POST /v1/held` (staff only): which of these contents does the agency already hold? A
/// staff member's bundle then names them without carrying their bytes ("no byte twice").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldRequest {
    /// SHA-256 of each content, hex (at most [`MAX_HELD_QUERY`]).
    pub sha256: Vec<String>,
}

/// The answer to [`HeldRequest`]: the asked hashes the agency holds (lower case), in the
/// order asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldResponse {
    /// The hashes held.
    pub held: Vec<String>,
}

/// `POST /v1/uploads`: begin (or resume) the upload of one sealed bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadBegin {
    /// The bundle's id (from its file name); the same id resumes the same upload.
    pub bundle_id: Uuid,
    /// Total bytes of the bundle file.
    pub size: u64,
}

/// Where an upload stands: the server says what it already has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadState {
    /// The upload.
    pub upload_id: Uuid,
    /// Bytes durably received so far; the next chunk must start here.
    pub received: u64,
    /// Total bytes expected.
    pub size: u64,
    /// True when the bundle was already completed (then `receipt` is set).
    pub complete: bool,
    /// The receipt, when complete, base64 of the signed document.
    pub receipt: Option<String>,
}

/// `PUT /v1/uploads/{id}?offset=N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct ChunkQuery {
    /// Where this chunk starts; must equal the upload's `received`.
    pub offset: u64,
}

/// `POST /v1/uploads/{id}/complete`: the bundle was verified and stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UploadOutcome {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Stored, or already held.
    pub outcome: BundleOutcome,
    /// Events the agency store added.
    pub events_added: u64,
    /// The agency's signed receipt, base64.
    pub receipt: String,
}

/// `GET /v1/feed?after=CURSOR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, IntoParams, Default)]
pub struct FeedQuery {
    /// Only events after this cursor (0 or absent: from the start).
    pub after: Option<u64>,
    /// Most events to return (at most [`MAX_FEED_PAGE`]).
    pub limit: Option<usize>,
}

/// A page of the feed: signed events this member may see (staff), or the notices the agency
/// signed for this member (volunteers, who are sent no events).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Feed {
    /// Signed event envelopes, base64, oldest first.
    pub events: Vec<String>,
    /// Pass as `after` to continue.
    pub cursor: u64,
    /// True when more events follow this page.
    pub more: bool,
    /// Staff only: the credentials the agency holds for the authors of these events (base64
    /// signed documents), so that a case exported for court carries every author's
    /// credential. Volunteers are sent none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<String>,
    /// Staff only: the name disclosures (base64 of their JSON) the agency keeps with those
    /// credentials, each opening one credential's name commitment. Volunteers are sent none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Volunteers only: what the agency tells this member (a brief addressed to them, its
    /// withdrawal, the decisions on their submissions and their custody) as signed documents
    /// of type `notice` (base64), signed with the agency's root key, oldest first. The client
    /// verifies each against the agency key it pinned before keeping it. Staff are sent none:
    /// they get the events themselves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// The agency's signed tombstones (documents of type `tombstone`, base64, oldest first) of
    /// items this member may see (staff: of their cases; volunteers: of their own
    /// submissions): each item was deleted at the agency, and the client verifies the
    /// tombstone against the pinned agency key and destroys its own copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tombstones: Vec<String>,
}

/// Admin: make an invite (`agency invite`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InviteRequest {
    /// Role the credential will carry.
    pub role: Role,
    /// The member's display name.
    pub name: String,
    /// Seconds until the invite expires.
    pub expires_in_secs: u64,
    /// Endpoint address to put in the code; by default the one the server listens on.
    pub url: Option<String>,
    /// Seconds the issued credential stays valid (default 365 days).
    pub valid_for_secs: Option<u64>,
    /// An invite for an existing member (a new device or a lost key): the enrolment must name
    /// this member id, and gets a credential for its new key. `None`: a new member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Uuid>,
    /// With `member`: what happens to the member's earlier keys at enrolment (required then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_keys: Option<OldKeys>,
}

/// What an invite for an existing member does with the member's earlier keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OldKeys {
    /// The earlier keys stay valid (a second device).
    Keep,
    /// The earlier keys are revoked when the new key enrols (a lost or stolen device).
    Revoke,
}

/// Admin: an invite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InviteResponse {
    /// The invite's id (not secret).
    pub invite_id: Uuid,
    /// The code to hand to the member (secret, one use).
    pub code: String,
    /// When it stops working.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<FixedOffset>,
}

/// Admin: revoke a member (`agency revoke`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// The member.
    pub member_id: Uuid,
    /// Why.
    pub reason: Option<String>,
}

/// Admin: the revocation list after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevokeResponse {
    /// The new list version.
    pub version: u64,
    /// Members revoked in total.
    pub revoked: usize,
}

/// What an invite code carries. Encoded as `cbinv1.` + base64url(JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCode {
    /// The endpoint's address, `https://HOST:PORT`.
    pub url: String,
    /// SHA-256 fingerprint of the agency root key (hex), pinned at enrolment.
    pub agency_fp: String,
    /// SHA-256 of the endpoint's TLS certificate (DER, hex), pinned at enrolment.
    pub cert_fp: String,
    /// The one-time secret.
    pub secret: String,
    /// For an invite made for an existing member (`agency invite --member ID`): that member's
    /// id. The enrolling profile (a new device, or a replacement for a lost key) names it in
    /// its credential request and adopts it. Absent for a new member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Uuid>,
}

const INVITE_PREFIX: &str = "cbinv1.";

impl InviteCode {
    /// The printable code.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parses a code; the error says what is wrong with it.
    pub fn decode(code: &str) -> Result<InviteCode, String> {
        let body = code
            .trim()
            .strip_prefix(INVITE_PREFIX)
            .ok_or_else(|| format!("an invite code starts with {INVITE_PREFIX:?}; check that it was copied whole"))?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| "the invite code is damaged (not base64url); copy it again".to_string())?;
        let code: InviteCode =
            serde_json::from_slice(&json).map_err(|_| "the invite code is damaged (unreadable contents); copy it again".to_string())?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64(&code.agency_fp) || !hex64(&code.cert_fp) {
            return Err("the invite code is damaged (bad fingerprint)".into());
        }
        if !code.url.starts_with("https://") {
            return Err(format!("the invite code names {:?}, which is not an https address", code.url));
        }
        Ok(code)
    }
}

/// The OpenAPI document of the `/v1` API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Casebridge agency endpoint", version = "1", description = "Enrolment, authentication, bundle uploads, the member feed and content. See docs/ENDPOINT.md."),
    paths(
        paths::health,
        paths::openapi_json,
        paths::enrol,
        paths::challenge,
        paths::session,
        paths::revocation,
        paths::upload_begin,
        paths::upload_status,
        paths::upload_chunk,
        paths::upload_complete,
        paths::feed,
        paths::content,
        paths::held
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        Health,
        Role,
        BundleOutcome,
        EnrolRequest,
        EnrolResponse,
        ChallengeRequest,
        Challenge,
        SessionRequest,
        Session,
        Document,
        UploadBegin,
        UploadState,
        UploadOutcome,
        Feed,
        HeldRequest,
        HeldResponse
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The OpenAPI document as JSON.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Path descriptions for the OpenAPI document (the handlers live in casebridge-agency).
#[allow(dead_code)]
mod paths {
    use super::*;

    #[utoipa::path(get, path = "/v1/health", responses((status = 200, body = Health)))]
    pub fn health() {}

    #[utoipa::path(get, path = "/v1/openapi.json", responses((status = 200, description = "This document")))]
    pub fn openapi_json() {}

    #[utoipa::path(post, path = "/v1/enrol", request_body = EnrolRequest,
        responses((status = 200, body = EnrolResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
    pub fn enrol() {}

    #[utoipa::path(post, path = "/v1/auth/challenge", request_body = ChallengeRequest,
        responses((status = 200, body = Challenge), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
    pub fn challenge() {}

    #[utoipa::path(post, path = "/v1/auth/session", request_body = SessionRequest,
        responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
    pub fn session() {}

    #[utoipa::path(get, path = "/v1/revocation", responses((status = 200, body = Document)))]
    pub fn revocation() {}

    #[utoipa::path(post, path = "/v1/uploads", request_body = UploadBegin, security(("bearer" = [])),
        responses((status = 200, body = UploadState), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
    pub fn upload_begin() {}

    #[utoipa::path(get, path = "/v1/uploads/{id}", params(("id" = Uuid, Path, description = "upload id")), security(("bearer" = [])),
        responses((status = 200, body = UploadState), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
    pub fn upload_status() {}

    #[utoipa::path(put, path = "/v1/uploads/{id}", params(("id" = Uuid, Path, description = "upload id"), ChunkQuery), security(("bearer" = [])),
        request_body(content = Vec<u8>, content_type = "application/octet-stream"),
        responses((status = 200, body = UploadState), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
    pub fn upload_chunk() {}

    #[utoipa::path(post, path = "/v1/uploads/{id}/complete", params(("id" = Uuid, Path, description = "upload id")), security(("bearer" = [])),
        responses((status = 200, body = UploadOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
    pub fn upload_complete() {}

    #[utoipa::path(get, path = "/v1/feed", params(FeedQuery), security(("bearer" = [])),
        responses((status = 200, body = Feed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
    pub fn feed() {}

    #[utoipa::path(get, path = "/v1/content/{sha256}", params(("sha256" = String, Path, description = "SHA-256 of the content, hex", pattern = "^[0-9a-fA-F]{64}$")), security(("bearer" = [])),
        responses((status = 200, description = "The content", content_type = "application/octet-stream"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
    pub fn content() {}

    #[utoipa::path(post, path = "/v1/held", request_body = HeldRequest, security(("bearer" = [])),
        responses((status = 200, body = HeldResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
    pub fn held() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_code_round_trips_and_names_damage() {
        let c = InviteCode {
            url: "https://127.0.0.1:8443".into(),
            agency_fp: "a".repeat(64),
            cert_fp: "b".repeat(64),
            secret: "s3cret".into(),
            member: None,
        };
        let text = c.encode();
        assert!(text.starts_with("cbinv1."));
        assert_eq!(InviteCode::decode(&text).unwrap(), c);
        // An invite for an existing member carries the member's id; one without it is read
        // as before (codes made by earlier versions).
        let m = InviteCode { member: Some(Uuid::from_u128(7)), ..c.clone() };
        assert_eq!(InviteCode::decode(&m.encode()).unwrap(), m);
        assert!(!text.contains("member") && !String::from_utf8(URL_SAFE_NO_PAD.decode(&text[7..]).unwrap()).unwrap().contains("member"));
        assert!(InviteCode::decode("hello").unwrap_err().contains("starts with"));
        assert!(InviteCode::decode("cbinv1.!!!").unwrap_err().contains("base64url"));
        let bad = InviteCode { url: "http://x".into(), ..c };
        assert!(InviteCode::decode(&bad.encode()).unwrap_err().contains("not an https"));
    }

    #[test]
    fn openapi_names_every_route() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/v1/health",
            "/v1/enrol",
            "/v1/auth/challenge",
            "/v1/auth/session",
            "/v1/uploads",
            "/v1/uploads/{id}",
            "/v1/uploads/{id}/complete",
            "/v1/feed",
            "/v1/content/{sha256}",
        ] {
            assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
        }
    }
}
