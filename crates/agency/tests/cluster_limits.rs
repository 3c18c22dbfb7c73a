//! Issue 15: a member's limits hold across a cluster agency's replicas. Two in-process
//! endpoints serve one cluster agency (real PostgreSQL and S3 from casebridge-testkit's
//! services); a member spreading requests over both gets no more than one endpoint gives:
//! - uploads begun on both replicas count against one quota (`429 too_many_uploads`,
//!   `429 quota_exceeded`, the codes the embedded agency answers), also when begun all at once;
//! - challenges and sessions opened on both replicas stay within the member's caps (a new one
//!   ends the oldest, wherever it was opened);
//! - the same chunk sent to both replicas at once is accepted once (the other request gets a
//!   409 the client resynchronises on), also with chunks of different lengths at one offset,
//!   and the upload then completes with the right bytes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use casebridge_agency::deployment::ClusterConfig;
use casebridge_agency::{serve, Limits, Server};
use casebridge_core::{EvidenceOptions, NewCase, Role};
use casebridge_protocol::{
    auth_message, Challenge, ChallengeRequest, Session, SessionRequest, UploadBegin, UploadOutcome, UploadState, AUTH_CONTEXT,
};
use casebridge_testkit::endpoint::{pinned_client, serve_config, TestClock};
use reqwest::StatusCode;
use uuid::Uuid;

#[allow(dead_code)]
#[path = "endpoint/harness.rs"]
mod harness;

use harness::{expect_error, export_case, ok, sealed_junk, Member};

/// Two replicas of one cluster agency, each in its own directory, with one test clock.
struct Pair {
    /// Holds the directories and the members' stores.
    _tmp: tempfile::TempDir,
    /// The `harness::Env` the member helpers take (replica a's directory and client).
    env: harness::Env,
    servers: Vec<Server>,
    urls: [String; 2],
    /// The cluster's database (superuser URL), for a test that holds an upload's row itself.
    database: String,
}

impl Pair {
    async fn start(limits: Limits) -> Pair {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("agency-a");
        let b = tmp.path().join("agency-b");
        // The cluster agency on its own database and bucket; its replicas get the S3
        // settings in code (testkit's serve_config), never from this process's environment.
        {
            let a = a.clone();
            tokio::task::spawn_blocking(move || drop(casebridge_testkit::deployment::new_cluster_agency(&a, "Test Police"))).await.unwrap();
        }
        let database = ClusterConfig::load(&a).unwrap().unwrap().database;
        casebridge_testkit::files::copy_for_replica(&a, &b);
        let clock = Arc::new(TestClock::default());
        let mut servers = Vec::new();
        for dir in [&a, &b] {
            let mut config = serve_config(dir);
            config.clock = clock.clone();
            config.limits = limits.clone();
            servers.push(serve(config).await.unwrap());
        }
        let urls = [servers[0].url().to_string(), servers[1].url().to_string()];
        let fp = casebridge_agency::tls::cert_fingerprint(&a).unwrap();
        let (public, _) = casebridge_trust::Agency::read_public(&a).unwrap();
        let member_tmp = tempfile::tempdir().unwrap();
        let env = harness::Env::from_parts(member_tmp, a, urls[0].clone(), clock, pinned_client(&fp), public.agency_id);
        Pair { _tmp: tmp, env, servers, urls, database }
    }

    async fn stop(self) {
        for s in self.servers {
            s.shutdown().await.unwrap();
        }
    }

    fn url(&self, replica: usize, path: &str) -> String {
        format!("{}{path}", self.urls[replica])
    }

    async fn enrol(&mut self, role: Role) -> Member {
        self.env.enrol(role).await
    }

    async fn challenge(&self, replica: usize, member: &Member) -> Challenge {
        let key = hex::encode(member.store.public_key());
        let resp = self
            .env
            .client
            .post(self.url(replica, "/v1/auth/challenge"))
            .json(&ChallengeRequest { member_id: member.id, key })
            .send()
            .await
            .unwrap();
        ok(resp).await
    }

    async fn answer(&self, replica: usize, member: &Member, ch: &Challenge) -> reqwest::Response {
        let nonce = hex::decode(&ch.nonce).unwrap();
        let sig = member.store.sign_detached(AUTH_CONTEXT, &auth_message(ch.agency_id, &nonce));
        self.env
            .client
            .post(self.url(replica, "/v1/auth/session"))
            .json(&SessionRequest { challenge_id: ch.challenge_id, signature: hex::encode(sig) })
            .send()
            .await
            .unwrap()
    }

    /// Logs in through `replica`: the bearer token.
    async fn login(&self, replica: usize, member: &Member) -> String {
        let ch = self.challenge(replica, member).await;
        ok::<Session>(self.answer(replica, member, &ch).await).await.token
    }

    async fn begin(&self, replica: usize, token: &str, bundle_id: Uuid, size: u64) -> reqwest::Response {
        self.env
            .client
            .post(self.url(replica, "/v1/uploads"))
            .bearer_auth(token)
            .json(&UploadBegin { bundle_id, size })
            .send()
            .await
            .unwrap()
    }

    async fn put(&self, replica: usize, token: &str, upload: Uuid, offset: usize, bytes: Vec<u8>) -> reqwest::Response {
        self.env
            .client
            .put(self.url(replica, &format!("/v1/uploads/{upload}?offset={offset}")))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    async fn status(&self, replica: usize, token: &str, upload: Uuid) -> UploadState {
        ok(self.env.client.get(self.url(replica, &format!("/v1/uploads/{upload}"))).bearer_auth(token).send().await.unwrap()).await
    }

    async fn feed_status(&self, replica: usize, token: &str) -> StatusCode {
        self.env.client.get(self.url(replica, "/v1/feed")).bearer_auth(token).send().await.unwrap().status()
    }

    async fn complete(&self, replica: usize, token: &str, upload: Uuid) -> reqwest::Response {
        self.env.client.post(self.url(replica, &format!("/v1/uploads/{upload}/complete"))).bearer_auth(token).send().await.unwrap()
    }
}

fn quota_limits() -> Limits {
    Limits { max_open_uploads_per_member: 3, max_pending_bytes_per_member: 1 << 20, max_bundle_bytes: 2 << 20, ..Limits::default() }
}

/// A volunteer beginning uploads alternately on the two replicas gets the quota once, not
/// once per replica: the fourth upload is refused on either replica with the embedded
/// agency's code, resuming one is never refused, and bytes count across replicas too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_spread_over_both_replicas_count_against_one_quota() {
    let mut p = Pair::start(quota_limits()).await;
    let vol = p.enrol(Role::Volunteer).await;
    let tokens = [p.login(0, &vol).await, p.login(1, &vol).await];
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        ok::<UploadState>(p.begin(i % 2, &tokens[i % 2], *id, 1000).await).await;
    }
    for (r, token) in tokens.iter().enumerate() {
        let code = expect_error(p.begin(r, token, Uuid::now_v7(), 1000).await, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(code, "too_many_uploads", "replica {r}");
    }
    // Resuming is never refused, on either replica.
    for (r, token) in tokens.iter().enumerate() {
        ok::<UploadState>(p.begin(r, token, ids[0], 1000).await).await;
    }

    // Bytes: an upload of 1.5 MiB begun on one replica leaves no room for more on the other.
    let other = p.enrol(Role::Volunteer).await;
    let other_tokens = [p.login(0, &other).await, p.login(1, &other).await];
    ok::<UploadState>(p.begin(0, &other_tokens[0], Uuid::now_v7(), 1536 << 10).await).await;
    let code = expect_error(p.begin(1, &other_tokens[1], Uuid::now_v7(), 1000).await, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "quota_exceeded");

    // An upload that ends (refused at complete, on the other replica) frees its slot on both.
    let first: UploadState = ok(p.begin(0, &tokens[0], ids[1], 1000).await).await;
    ok::<UploadState>(p.put(0, &tokens[0], first.upload_id, 0, sealed_junk(1000)).await).await;
    let code = expect_error(p.complete(1, &tokens[1], first.upload_id).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "seal_damaged");
    ok::<UploadState>(p.begin(1, &tokens[1], Uuid::now_v7(), 1000).await).await;
    let code = expect_error(p.begin(0, &tokens[0], Uuid::now_v7(), 1000).await, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "too_many_uploads");
    p.stop().await;
}

/// One bundle begun six times at once on both replicas is one upload; then twelve uploads
/// begun at the same moment, six on each replica: exactly the two the quota has left are
/// accepted (checking and counting are one step in the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_begun_at_once_on_both_replicas_cannot_pass_the_quota_together() {
    let mut p = Pair::start(quota_limits()).await;
    let vol = p.enrol(Role::Volunteer).await;
    let tokens = [p.login(0, &vol).await, p.login(1, &vol).await];
    // One bundle begun six times at once (a client retrying on new connections): one upload.
    let bundle = Uuid::now_v7();
    let same = futures_util::future::join_all((0..6).map(|i| p.begin(i % 2, &tokens[i % 2], bundle, 1000))).await;
    let mut ids = std::collections::BTreeSet::new();
    for resp in same {
        let state: UploadState = ok(resp).await;
        assert_eq!(state.received, 0);
        ids.insert(state.upload_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let begins = (0..12).map(|i| p.begin(i % 2, &tokens[i % 2], Uuid::now_v7(), 1000));
    let answers = futures_util::future::join_all(begins).await;
    let mut accepted = 0;
    for resp in answers {
        match resp.status() {
            StatusCode::OK => accepted += 1,
            _ => assert_eq!(expect_error(resp, StatusCode::TOO_MANY_REQUESTS).await, "too_many_uploads"),
        }
    }
    assert_eq!(accepted, 2, "the member's quota is 3 uploads open (one begun above), whichever replicas they were begun on");
    p.stop().await;
}

/// Sessions and challenges opened on both replicas stay within the member's caps: a new one
/// ends the member's oldest wherever it was opened, also when opened all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_and_sessions_on_both_replicas_stay_within_the_caps() {
    let limits = Limits { sessions_per_member: 2, challenges_per_member: 2, ..Limits::default() };
    let mut p = Pair::start(limits).await;
    let vol = p.enrol(Role::Volunteer).await;

    // Sessions: three logins, on a, b, a. The first ends, on both replicas.
    let t1 = p.login(0, &vol).await;
    let t2 = p.login(1, &vol).await;
    let t3 = p.login(0, &vol).await;
    for r in 0..2 {
        assert_eq!(p.feed_status(r, &t1).await, StatusCode::UNAUTHORIZED, "the oldest session ended (replica {r})");
        assert_eq!(p.feed_status(r, &t2).await, StatusCode::OK, "replica {r}");
        assert_eq!(p.feed_status(r, &t3).await, StatusCode::OK, "replica {r}");
    }

    // Challenges: three asked, on a, b, a, none answered yet. The first is gone.
    let c1 = p.challenge(0, &vol).await;
    let c2 = p.challenge(1, &vol).await;
    let c3 = p.challenge(0, &vol).await;
    expect_error(p.answer(1, &vol, &c1).await, StatusCode::UNAUTHORIZED).await;
    ok::<Session>(p.answer(1, &vol, &c2).await).await;
    ok::<Session>(p.answer(0, &vol, &c3).await).await;

    // Sessions opened two at a time, one on each replica at the same moment (challenges are
    // capped too, so they are asked two at a time): afterwards the member holds two sessions.
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let (ca, cb) = (p.challenge(0, &vol).await, p.challenge(1, &vol).await);
        let (a, b) = tokio::join!(p.answer(0, &vol, &ca), p.answer(1, &vol, &cb));
        tokens.push(ok::<Session>(a).await.token);
        tokens.push(ok::<Session>(b).await.token);
    }
    let mut live = 0;
    for t in tokens.iter().chain([&t1, &t2, &t3]) {
        if p.feed_status(0, t).await == StatusCode::OK {
            assert_eq!(p.feed_status(1, t).await, StatusCode::OK, "a session is the same on every replica");
            live += 1;
        }
    }
    assert_eq!(live, 2, "the member's cap is 2 sessions, whichever replicas they were opened on");
    p.stop().await;
}

/// An investigator's sealed bundle of a new case with two files of `kib` KiB each.
fn bundle(p: &mut Pair, vol: &mut Member, kib: usize, name: &str) -> (Uuid, Vec<u8>) {
    let case = vol.store.create_case(NewCase { title: format!("Case {name}"), ..Default::default() }).unwrap();
    for i in 0..2 {
        let file = p.env.tmp.path().join(format!("{name}-{i}.bin"));
        std::fs::write(&file, harness::noise(kib << 10, i as u64 + 7)).unwrap();
        vol.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }
    export_case(&p.env, vol, case, false, name)
}

/// Sends one PUT of `first` to replica a and one of `second` to replica b at the same offset,
/// at once; returns the statuses and error codes (none for a 200).
async fn race(
    p: &Pair,
    tokens: &[String; 2],
    upload: Uuid,
    offset: usize,
    first: Vec<u8>,
    second: Vec<u8>,
) -> [(StatusCode, Option<String>); 2] {
    let (a, b) = tokio::join!(p.put(0, &tokens[0], upload, offset, first), p.put(1, &tokens[1], upload, offset, second));
    let mut out = Vec::new();
    for resp in [a, b] {
        let status = resp.status();
        let code = if status == StatusCode::OK { None } else { Some(expect_error(resp, status).await) };
        out.push((status, code));
    }
    [out[0].clone(), out[1].clone()]
}

/// The same chunk PUT on both replicas at once, chunk after chunk: every time exactly one is
/// accepted and the other gets a 409 (`upload_busy` while the winner writes, or
/// `offset_mismatch` once it has); then the same race with chunks of different lengths at one
/// offset. The upload completes with exactly the bundle's bytes (it verifies: `accepted`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_chunk_sent_to_both_replicas_at_once_is_accepted_once() {
    let mut p = Pair::start(Limits::default()).await;
    let mut vol = p.enrol(Role::Investigator).await;
    let tokens = [p.login(0, &vol).await, p.login(1, &vol).await];
    let (bundle_id, bytes) = bundle(&mut p, &mut vol, 1024, "race.cbb");
    let state: UploadState = ok(p.begin(0, &tokens[0], bundle_id, bytes.len() as u64).await).await;
    let id = state.upload_id;
    let chunk = 128 << 10;
    let check = |answers: &[(StatusCode, Option<String>); 2], at: usize| {
        let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert_eq!(accepted, 1, "exactly one of two PUTs at byte {at} is accepted: {answers:?}");
        for (s, code) in answers {
            if *s != StatusCode::OK {
                assert_eq!(*s, StatusCode::CONFLICT, "{answers:?}");
                let code = code.as_deref().unwrap();
                assert!(["upload_busy", "offset_mismatch"].contains(&code), "{answers:?}");
            }
        }
    };
    // Half the bundle: same chunk, same offset, both replicas.
    let mut at = 0;
    while at < bytes.len() / 2 {
        let end = (at + chunk).min(bytes.len());
        let answers = race(&p, &tokens, id, at, bytes[at..end].to_vec(), bytes[at..end].to_vec()).await;
        check(&answers, at);
        at = end;
        assert_eq!(p.status(1, &tokens[1], id).await.received, at as u64);
    }
    // The rest: chunks of different lengths at one offset (a client that changed its chunk
    // size on retry). Whichever wins, the next chunk starts where the state says.
    while at < bytes.len() {
        let long = (at + 2 * chunk).min(bytes.len());
        let short = (at + chunk / 3).min(bytes.len());
        let answers = race(&p, &tokens, id, at, bytes[at..long].to_vec(), bytes[at..short].to_vec()).await;
        check(&answers, at);
        let received = p.status(0, &tokens[0], id).await.received as usize;
        assert!(received == long || received == short, "{received} is one request's end ({short} or {long})");
        at = received;
    }
    let outcome: UploadOutcome = ok(p.complete(1, &tokens[1], id).await).await;
    assert_eq!((outcome.outcome.as_str(), outcome.bundle_id), ("accepted", bundle_id));
    p.stop().await;
}

/// An upload left past its expiry expires once for the whole cluster, by the cleanup of any
/// replica (here not the one it was begun on), and never over a chunk being stored: while its
/// row is claimed (here by the test itself, as a replica storing a chunk would), the cleanup
/// leaves it (`uploads_busy`) and a chunk or begin is told `409 upload_busy`; released, the
/// cleanup expires it, and a chunk is then `404 upload_expired` and beginning again starts
/// over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_expires_once_and_never_under_a_chunk_being_stored() {
    const HOUR: i64 = 3600;
    let mut p = Pair::start(Limits { upload_expiry_secs: HOUR as u64, ..Limits::default() }).await;
    let vol = p.enrol(Role::Volunteer).await;
    // Begun and sent to replica b only; the cleanup runs on replica a.
    let token_b = p.login(1, &vol).await;
    let bundle = Uuid::now_v7();
    let state: UploadState = ok(p.begin(1, &token_b, bundle, 2000).await).await;
    let id = state.upload_id;
    ok::<UploadState>(p.put(1, &token_b, id, 0, sealed_junk(2000)[..1000].to_vec()).await).await;

    p.env.clock.advance(HOUR + 60);
    let db = casebridge_cluster::db::Db::connect(&p.database).await.unwrap();
    let claim = db.claim_upload(id, std::time::Duration::from_secs(30)).await.unwrap();
    let report = tokio::time::timeout(std::time::Duration::from_secs(20), harness::gc(&p.env))
        .await
        .expect("the cleanup neither waits for nor writes over an upload in use");
    assert_eq!((report.uploads_expired, report.uploads_busy), (0, 1), "an upload in use is not expired: {report:?}");
    // Meanwhile a chunk or a begin of it (which would expire it) is told it is busy.
    let token_b = p.login(1, &vol).await;
    let put = p.put(1, &token_b, id, 1000, sealed_junk(2000)[1000..].to_vec());
    let put = tokio::time::timeout(std::time::Duration::from_secs(20), put).await.expect("a chunk is answered at once");
    assert_eq!(expect_error(put, StatusCode::CONFLICT).await, "upload_busy");
    assert_eq!(expect_error(p.begin(1, &token_b, bundle, 2000).await, StatusCode::CONFLICT).await, "upload_busy");
    claim.release().await;
    let report = harness::gc(&p.env).await;
    assert_eq!((report.uploads_expired, report.upload_bytes), (1, 1000), "{report:?}");

    let code = expect_error(p.put(1, &token_b, id, 1000, sealed_junk(2000)[1000..].to_vec()).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "upload_expired");
    let again: UploadState = ok(p.begin(1, &token_b, bundle, 2000).await).await;
    assert_eq!((again.upload_id, again.received), (id, 0));
    db.close().await;
    p.stop().await;
}

/// Issue 15, "what each component sees": whoever can write the cluster's database cannot make
/// a session of their own. Sessions are sealed under a key derived from the agency's sealing
/// key and bound to their token's digest (crates/agency/src/at_rest.rs): a member's sealed
/// session copied under another token's digest does not open, and neither does one sealed with
/// age to the agency's public recipient (which anyone holding `agency.json` can do: the format
/// earlier versions used). Each is answered as no session at all (`401 unauthenticated`), on
/// both replicas, and the member's own session keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_copied_or_forged_in_the_database_does_not_authenticate() {
    let mut p = Pair::start(Limits::default()).await;
    let vol = p.enrol(Role::Volunteer).await;
    let token = p.login(0, &vol).await;
    let db = casebridge_cluster::db::Db::connect(&p.database).await.unwrap();
    let sha = |t: &str| casebridge_core::sha256(t.as_bytes());
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);

    // The member's sealed session, copied under a token the attacker chose.
    let sealed = db.session(&sha(&token), chrono::Utc::now()).await.unwrap().expect("the member's session is in the database");
    assert!(sealed.starts_with(b"cbrec\x00\x00\x01"), "a session is sealed with the endpoint's records key");
    let copied = "copied-session-token-0000000000000000000000";
    db.insert_session(&sha(copied), &sealed, expires).await.unwrap();

    // A session forged with age for the member's credential (all of it public or guessable
    // but the token, which the attacker picks).
    let agency = harness::open_agency(&p.env.dir);
    let public = agency.public().clone();
    let root = public.root_key_bytes().unwrap();
    let serial = casebridge_trust::Credential::verify(&vol.credential, &root, public.agency_id).unwrap().serial;
    let plain = serde_json::json!({ "member": vol.id, "serial": serial, "key": "", "nonce": "", "expires_at": expires.fixed_offset() });
    let forged_sealed = casebridge_trust::seal_at_rest(&public.recipient().unwrap(), plain.to_string().as_bytes()).unwrap();
    let forged = "forged-session-token-0000000000000000000000";
    db.insert_session(&sha(forged), &forged_sealed, expires).await.unwrap();

    for replica in [0, 1] {
        for bad in [copied, forged] {
            let resp = p.begin(replica, bad, Uuid::now_v7(), 1000).await;
            assert_eq!(expect_error(resp, StatusCode::UNAUTHORIZED).await, "unauthenticated", "{bad} on replica {replica}");
        }
        // The member's own session is untouched.
        ok::<UploadState>(p.begin(replica, &token, Uuid::now_v7(), 1000).await).await;
    }
    db.close().await;
    p.stop().await;
}

/// Issue 15: "early verification of large uploads works across replicas or falls back
/// cleanly". A cluster verifies a large upload at complete (replicas share no verifier): a
/// bundle of more than `early::MIN_SIZE` (16 MiB) whose chunks go to both replicas in turn,
/// each replica receiving chunks the other began, completes on either replica as accepted,
/// and completing it again on the other answers the same receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_spread_over_both_replicas_completes_on_either() {
    let mut p = Pair::start(Limits::default()).await;
    let mut inv = p.enrol(Role::Investigator).await;
    let case = inv.store.create_case(NewCase { title: "Spread".into(), ..Default::default() }).unwrap();
    // 18 MiB that do not compress (a xorshift stream).
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let content: Vec<u8> = (0..18 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let file = p.env.tmp.path().join("spread.bin");
    std::fs::write(&file, &content).unwrap();
    inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let (bundle_id, bytes) = export_case(&p.env, &mut inv, case, false, "spread.cbb");
    assert!(bytes.len() > 16 << 20, "large enough to be verified early by an embedded agency");

    let tokens = [p.login(0, &inv).await, p.login(1, &inv).await];
    let state: UploadState = ok(p.begin(0, &tokens[0], bundle_id, bytes.len() as u64).await).await;
    let id = state.upload_id;
    for (i, start) in (0..bytes.len()).step_by(4 << 20).enumerate() {
        let end = (start + (4 << 20)).min(bytes.len());
        let replica = i % 2;
        let got: UploadState = ok(p.put(replica, &tokens[replica], id, start, bytes[start..end].to_vec()).await).await;
        assert_eq!(got.received, end as u64, "chunk {i} on replica {replica}");
    }
    let done: UploadOutcome = ok(p.complete(1, &tokens[1], id).await).await;
    assert_eq!((done.outcome.as_str(), done.bundle_id), ("accepted", bundle_id));
    let again: UploadOutcome = ok(p.complete(0, &tokens[0], id).await).await;
    assert_eq!(again.receipt, done.receipt, "the other replica answers the same receipt");
    p.stop().await;
}
