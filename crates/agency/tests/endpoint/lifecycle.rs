//! Starting, stopping and restarting the endpoint; admin fallbacks when it is not running.

use std::sync::Arc;

use casebridge_agency::{admin, read_serve_info, serve};
use casebridge_core::{Passphrase, Role};
use casebridge_protocol::{RevokeRequest, UploadBegin, UploadState};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cleans_up_and_a_restart_keeps_state() {
    let mut env = Env::start().await;
    let info = read_serve_info(&env.dir).unwrap().unwrap();
    assert_eq!(info.url, env.url);
    assert_eq!(info.pid, std::process::id());
    let sock = env.dir.join(admin::ADMIN_SOCKET);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);

    let member = env.enrol(Role::Investigator).await;
    let token = env.login(&member).await;
    let bundle_id = Uuid::now_v7();
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: 20 }).await).await;
    let _: UploadState = ok(env.put(&format!("/v1/uploads/{}?offset=0", state.upload_id), &token, sealed_junk(8)).await).await;

    env.stop().await;
    assert!(read_serve_info(&env.dir).unwrap().is_none());
    assert!(!sock.exists());
    assert!(admin::call(&env.dir, "GET", "/admin/status", None).await.unwrap().is_none(), "no server: the caller falls back");

    // In-process revoke works while no server runs (it takes the agency lock).
    let pass = Passphrase::new(AGENCY_PASS);
    let other = env.enrol_offline();
    let answer = admin::revoke(&env.dir, &pass, &RevokeRequest { member_id: other, reason: None }).unwrap();
    assert_eq!(answer.revoked, 1);

    // Restart: same certificate, same store, the upload resumes. Sessions of an embedded
    // agency live in its process and do not survive; a cluster's live in its database (a
    // token works on every replica) and do.
    let server = start_server(&env.dir, env.clock.clone()).await;
    env.url = server.url().to_string();
    env.server = Some(server);
    let old_session = env.get(&format!("/v1/uploads/{}", state.upload_id), &token).await;
    if is_cluster() {
        assert_eq!(ok::<UploadState>(old_session).await.received, 8);
    } else {
        assert_eq!(expect_error(old_session, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    }
    let token = env.login(&member).await;
    let resumed: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id, size: 20 }).await).await;
    assert_eq!(resumed.received, 8);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_directory_and_a_wrong_passphrase_are_refused() {
    let mut env = Env::start().await;
    let config = casebridge_testkit::endpoint::serve_config(&env.dir);
    let err = serve(config).await.err().unwrap();
    assert!(err.to_string().contains("in use"), "{err}");
    env.stop().await;
    let mut config = casebridge_testkit::endpoint::serve_config(&env.dir);
    config.passphrase = Passphrase::new("not the passphrase");
    config.clock = Arc::new(TestClock::default());
    let err = serve(config).await.err().unwrap();
    assert!(err.to_string().contains("wrong agency passphrase"), "{err}");
    assert!(read_serve_info(&env.dir).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Investigator).await;
    let token = env.login(&member).await;
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id: Uuid::now_v7(), size: 4000 }).await).await;
    // A chunk sent slowly, in four pieces.
    let pieces = futures_util::stream::unfold(0u32, |i| async move {
        if i == 4 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let piece = if i == 0 { sealed_junk(1000) } else { vec![i as u8; 1000] };
        Some((Ok::<_, std::io::Error>(piece), i + 1))
    });
    let request = env
        .client
        .put(env.url(&format!("/v1/uploads/{}?offset=0", state.upload_id)))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .header("content-length", "4000")
        .body(reqwest::Body::wrap_stream(pieces))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let server = env.server.take().unwrap();
    let stopping = tokio::spawn(server.shutdown());
    let resp = in_flight.await.unwrap().unwrap();
    let done: UploadState = ok(resp).await;
    assert_eq!(done.received, 4000);
    stopping.await.unwrap().unwrap();
    assert!(read_serve_info(&env.dir).unwrap().is_none());
    // New connections are refused once stopped.
    assert!(env.client.get(env.url("/v1/health")).send().await.is_err());
}
