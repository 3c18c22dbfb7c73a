//! The shared harness: an agency in a temp dir served on 127.0.0.1:0 with a test clock, a
//! reqwest client pinned to the endpoint's certificate, and enrolled members.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_agency::{admin, serve, Limits, Server};
use casebridge_core::{Role, Store};
use casebridge_protocol::{
    auth_message, Challenge, ChallengeRequest, EnrolRequest, EnrolResponse, ErrorBody, Feed, InviteCode, Session, SessionRequest,
    UploadState, AUTH_CONTEXT,
};
use casebridge_testkit::endpoint::serve_config;
pub use casebridge_testkit::endpoint::{pinned_client, TestClock};
#[allow(unused_imports)]
pub use casebridge_testkit::fixtures::AGENCY_PASS;
use casebridge_trust::{profile, Agency, AgencyPublicFile, SignedDoc};
use chrono::Duration;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

// Re-exported for the suites; each target that includes this file uses a part of them.
#[allow(unused_imports)]
pub use casebridge_testkit::bytes::noise;

pub const MEMBER_PASS: &str = "member passphrase for tests";

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub server: Option<Server>,
    pub url: String,
    pub clock: Arc<TestClock>,
    pub client: reqwest::Client,
    pub agency_id: Uuid,
    members: usize,
}

/// An enrolled member with its own store.
pub struct Member {
    pub store: Store,
    pub id: Uuid,
    pub credential: SignedDoc,
}

/// A new agency at `dir`, deployed as `CASEBRIDGE_TEST_DEPLOYMENT` says (embedded, or a
/// cluster agency on its own database and bucket): scripts/test runs these suites once each.
pub fn new_agency(dir: &Path) {
    drop(casebridge_testkit::deployment::new_agency(dir, "Test Police"));
}

/// The agency at `dir`, unlocked for what an admin command does, whichever its deployment.
pub fn open_agency(dir: &Path) -> Agency {
    casebridge_testkit::deployment::open_agency(dir)
}

/// Whether this process's agencies are cluster agencies.
pub fn is_cluster() -> bool {
    casebridge_testkit::deployment::Deployment::current().is_cluster()
}

pub async fn start_server(dir: &Path, clock: Arc<TestClock>) -> Server {
    start_server_with(dir, clock, Limits::default()).await
}

pub async fn start_server_with(dir: &Path, clock: Arc<TestClock>, limits: Limits) -> Server {
    let mut config = serve_config(dir);
    config.clock = clock;
    config.limits = limits;
    serve(config).await.unwrap()
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(Limits::default()).await
    }

    /// An endpoint serving under `limits`.
    pub async fn start_with(limits: Limits) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("agency");
        Env::start_at(tmp, dir, limits).await
    }

    /// An endpoint serving a new agency at `dir` under `limits` (member stores in `tmp`).
    pub async fn start_at(tmp: tempfile::TempDir, dir: PathBuf, limits: casebridge_agency::Limits) -> Env {
        new_agency(&dir);
        let clock = Arc::new(TestClock::default());
        let server = start_server_with(&dir, clock.clone(), limits).await;
        let url = server.url().to_string();
        let fp = casebridge_agency::tls::cert_fingerprint(&dir).unwrap();
        let (public, _) = Agency::read_public(&dir).unwrap();
        Env { tmp, dir, server: Some(server), url, clock, client: pinned_client(&fp), agency_id: public.agency_id, members: 0 }
    }

    /// An `Env` over an endpoint started elsewhere (a cluster replica serving `dir` at
    /// `url`): members' stores go in `tmp`; it stops no server.
    pub fn from_parts(
        tmp: tempfile::TempDir,
        dir: PathBuf,
        url: String,
        clock: Arc<TestClock>,
        client: reqwest::Client,
        agency_id: Uuid,
    ) -> Env {
        Env { tmp, dir, server: None, url, clock, client, agency_id, members: 0 }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    /// A client like `self.client` whose connections come from `ip` (another loopback
    /// address: an attacker, or a member on another machine).
    pub fn client_from(&self, ip: &str) -> reqwest::Client {
        casebridge_testkit::endpoint::pinned_client_from(&casebridge_agency::tls::cert_fingerprint(&self.dir).unwrap(), ip)
    }

    /// The endpoint's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("the server runs").local_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// An invite made through the admin socket; returns the secret.
    pub async fn invite(&self, role: casebridge_protocol::Role, expires_in_secs: u64) -> String {
        let answer = casebridge_testkit::endpoint::invite(&self.dir, role, expires_in_secs).await;
        let code = InviteCode::decode(&answer.code).unwrap();
        assert_eq!(code.url, self.url);
        code.secret
    }

    /// A fresh member store (not enrolled).
    pub fn new_store(&mut self, role: Role) -> Store {
        self.members += 1;
        let dir = self.tmp.path().join(format!("member{}", self.members));
        casebridge_testkit::fixtures::create_store(&dir, MEMBER_PASS, &format!("Member {}", self.members), role)
    }

    pub async fn enrol_request(&self, secret: &str, store: &Store) -> reqwest::Response {
        let request = B64.encode(profile::request_credential(store).to_bytes());
        self.client.post(self.url("/v1/enrol")).json(&EnrolRequest { invite_secret: secret.into(), request }).send().await.unwrap()
    }

    /// Enrols a new member with `role` and installs the credential in its store.
    pub async fn enrol(&mut self, role: Role) -> Member {
        let wire = match role {
            Role::Volunteer => casebridge_protocol::Role::Volunteer,
            Role::Supervisor => casebridge_protocol::Role::Supervisor,
            _ => casebridge_protocol::Role::Investigator,
        };
        let secret = self.invite(wire, 3600).await;
        let mut store = self.new_store(role);
        let resp = self.enrol_request(&secret, &store).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let answer: EnrolResponse = resp.json().await.unwrap();
        let credential = SignedDoc::parse(&B64.decode(&answer.credential).unwrap()).unwrap();
        let file: AgencyPublicFile = serde_json::from_slice(&B64.decode(&answer.agency).unwrap()).unwrap();
        let cred = profile::install_credential(&mut store, &credential, Some(&file)).unwrap();
        assert_eq!(cred.member_id, answer.member_id);
        Member { id: answer.member_id, store, credential }
    }

    /// A member issued a credential by the agency directly (no server may be running).
    pub fn enrol_offline(&mut self) -> Uuid {
        let store = self.new_store(Role::Volunteer);
        let agency = open_agency(&self.dir);
        let (cred, _, _) = agency.issue(&profile::request_credential(&store), Role::Volunteer, None, Duration::days(1)).unwrap();
        cred.member_id
    }

    pub async fn challenge(&self, member: &Member) -> reqwest::Response {
        let key = hex::encode(member.store.public_key());
        self.client.post(self.url("/v1/auth/challenge")).json(&ChallengeRequest { member_id: member.id, key }).send().await.unwrap()
    }

    /// Authenticates: returns the bearer token.
    pub async fn login(&self, member: &Member) -> String {
        let resp = self.challenge(member).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let ch: Challenge = resp.json().await.unwrap();
        assert_eq!(ch.agency_id, self.agency_id);
        let nonce = hex::decode(&ch.nonce).unwrap();
        let sig = member.store.sign_detached(AUTH_CONTEXT, &auth_message(ch.agency_id, &nonce));
        let resp = self.session(ch.challenge_id, &hex::encode(sig)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let s: Session = resp.json().await.unwrap();
        s.token
    }

    pub async fn session(&self, challenge_id: Uuid, signature: &str) -> reqwest::Response {
        self.client
            .post(self.url("/v1/auth/session"))
            .json(&SessionRequest { challenge_id, signature: signature.into() })
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &impl serde::Serialize) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }
}

/// Exports the member's case as a sealed bundle; returns (bundle id, bytes).
pub fn export_case(env: &Env, member: &mut Member, case: Uuid, own_only: bool, name: &str) -> (Uuid, Vec<u8>) {
    let (public, _) = Agency::read_public(&env.dir).unwrap();
    let out = env.tmp.path().join(name);
    let opts = casebridge_trust::bundle::ExportOptions {
        case,
        since: None,
        agency: &public,
        credential: &member.credential,
        seal: true,
        own_only,
        bundle_id: None,
        sync_point: None,
        held: None,
    };
    let summary = casebridge_trust::bundle::export(&mut member.store, &opts, &out, &mut |_| true).unwrap();
    (summary.bundle_id, std::fs::read(out).unwrap())
}

/// `len` bytes that begin like a bundle sealed to the agency (the age header line) and are
/// junk after it: the endpoint keeps them as upload bytes (only sealed bundles are accepted)
/// and refuses them when the upload completes.
pub fn sealed_junk(len: usize) -> Vec<u8> {
    let magic = casebridge_trust::bundle::AGE_MAGIC;
    let mut out: Vec<u8> = magic.iter().copied().cycle().take(len.min(magic.len())).collect();
    out.resize(len, 0);
    out
}

/// Asserts the status and that the body is a JSON error; returns its code.
pub async fn expect_error(resp: reqwest::Response, status: StatusCode) -> String {
    let got = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not a JSON error body: {text}"));
    assert!(!body.error.message.is_empty());
    body.error.code
}

/// Asserts 200 and parses the body.
pub async fn ok<T: DeserializeOwned>(resp: reqwest::Response) -> T {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

/// One cleanup now, through the admin socket (`POST /admin/gc`).
pub async fn gc(env: &Env) -> casebridge_agency::GcReport {
    let answer = admin::call(&env.dir, "POST", "/admin/gc", None).await.unwrap().expect("the endpoint is running");
    serde_json::from_value(answer).unwrap()
}

/// Asks the endpoint to complete an upload.
pub async fn complete(env: &Env, token: &str, upload: Uuid) -> reqwest::Response {
    env.client.post(env.url(&format!("/v1/uploads/{upload}/complete"))).bearer_auth(token).send().await.unwrap()
}

/// Sends `bytes[from..to]` in PUTs of `chunk` bytes; returns the last state.
pub async fn put_range(env: &Env, token: &str, upload: Uuid, bytes: &[u8], from: usize, to: usize, chunk: usize) -> UploadState {
    let mut at = from;
    let mut state = None;
    while at < to {
        let end = (at + chunk).min(to);
        state = Some(ok::<UploadState>(env.put(&format!("/v1/uploads/{upload}?offset={at}"), token, bytes[at..end].to_vec()).await).await);
        at = end;
    }
    state.unwrap()
}

/// The agency's notices (signed documents) in a member's whole feed, oldest first, read in
/// pages of `limit` records (the endpoint's default without one).
pub async fn feed_docs(env: &Env, token: &str, limit: Option<usize>) -> Vec<SignedDoc> {
    let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let page: Feed = ok(env.get(&format!("/v1/feed?after={after}{limit}"), token).await).await;
        out.extend(page.notices.iter().map(|n| SignedDoc::parse(&B64.decode(n).unwrap()).unwrap()));
        after = page.cursor;
        if !page.more {
            return out;
        }
    }
}
