//! Challenge/response authentication, sessions, and revocation taking effect at once.

use casebridge_agency::{admin, admin::AdminStatus, SESSION_TTL_SECS};
use casebridge_core::Role;
use casebridge_protocol::{auth_message, Challenge, ChallengeRequest, RevokeRequest, RevokeResponse, AUTH_CONTEXT};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_authenticates_and_a_wrong_signature_is_refused() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Volunteer).await;
    let token = env.login(&member).await;
    assert_eq!(env.get("/v1/feed", &token).await.status(), StatusCode::OK);

    // Wrong signature (signed by another key, and over the wrong message).
    let ch: Challenge = ok(env.challenge(&member).await).await;
    let other = env.new_store(Role::Volunteer);
    let nonce = hex::decode(&ch.nonce).unwrap();
    let sig = other.sign_detached(AUTH_CONTEXT, &auth_message(ch.agency_id, &nonce));
    assert_eq!(expect_error(env.session(ch.challenge_id, &hex::encode(sig)).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    // The challenge was used up by the failed attempt.
    let sig = member.store.sign_detached(AUTH_CONTEXT, &auth_message(ch.agency_id, &nonce));
    assert_eq!(expect_error(env.session(ch.challenge_id, &hex::encode(sig)).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    let ch: Challenge = ok(env.challenge(&member).await).await;
    let sig = member.store.sign_detached(b"another context\0", &auth_message(ch.agency_id, &hex::decode(&ch.nonce).unwrap()));
    assert_eq!(expect_error(env.session(ch.challenge_id, &hex::encode(sig)).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");

    // An expired challenge.
    let ch: Challenge = ok(env.challenge(&member).await).await;
    env.clock.advance(61);
    let sig = member.store.sign_detached(AUTH_CONTEXT, &auth_message(ch.agency_id, &hex::decode(&ch.nonce).unwrap()));
    assert_eq!(expect_error(env.session(ch.challenge_id, &hex::encode(sig)).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_members_and_wrong_keys_get_the_same_answer() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Volunteer).await;
    let unknown = ChallengeRequest { member_id: Uuid::new_v4(), key: hex::encode(member.store.public_key()) };
    let a = env.client.post(env.url("/v1/auth/challenge")).json(&unknown).send().await.unwrap();
    let a_text = a.text().await.unwrap();
    let wrong_key = ChallengeRequest { member_id: member.id, key: "ab".repeat(32) };
    let b = env.client.post(env.url("/v1/auth/challenge")).json(&wrong_key).send().await.unwrap();
    assert_eq!(b.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a_text, b.text().await.unwrap());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_and_expire() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Volunteer).await;
    let token = env.login(&member).await;
    let no_token = env.client.get(env.url("/v1/feed")).send().await.unwrap();
    assert_eq!(expect_error(no_token, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    assert_eq!(expect_error(env.get("/v1/feed", "made-up-token").await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    let basic = env.client.get(env.url("/v1/feed")).header("authorization", format!("Basic {token}")).send().await.unwrap();
    assert_eq!(expect_error(basic, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    assert_eq!(env.get("/v1/feed", &token).await.status(), StatusCode::OK);
    env.clock.advance(SESSION_TTL_SECS + 1);
    assert_eq!(expect_error(env.get("/v1/feed", &token).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_through_the_admin_socket_takes_effect_on_the_next_request() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Volunteer).await;
    let bystander = env.enrol(Role::Volunteer).await;
    let token = env.login(&member).await;
    let other_token = env.login(&bystander).await;
    assert_eq!(env.get("/v1/feed", &token).await.status(), StatusCode::OK);

    let status: AdminStatus = serde_json::from_value(admin::call(&env.dir, "GET", "/admin/status", None).await.unwrap().unwrap()).unwrap();
    assert_eq!(status.url, env.url);
    assert_eq!(status.sessions, 2);
    let before = status.revocation_version;

    let req = RevokeRequest { member_id: member.id, reason: Some("left the programme".into()) };
    let answer: RevokeResponse =
        serde_json::from_value(admin::call(&env.dir, "POST", "/admin/revoke", Some(json(&req))).await.unwrap().unwrap()).unwrap();
    assert_eq!(answer.version, before + 1);
    assert_eq!(answer.revoked, 1);

    assert_eq!(expect_error(env.get("/v1/feed", &token).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    assert_eq!(expect_error(env.challenge(&member).await, StatusCode::UNAUTHORIZED).await, "unauthenticated");
    assert_eq!(env.get("/v1/feed", &other_token).await.status(), StatusCode::OK, "others are not affected");

    // The served list names the member.
    let doc: casebridge_protocol::Document = ok(env.client.get(env.url("/v1/revocation")).send().await.unwrap()).await;
    use base64::Engine as _;
    let doc = casebridge_trust::SignedDoc::parse(&base64::engine::general_purpose::STANDARD.decode(doc.document).unwrap()).unwrap();
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    let list = casebridge_trust::RevocationList::verify(&doc, &public.root_key_bytes().unwrap(), public.agency_id).unwrap();
    assert!(list.find(member.id, &hex::encode(member.store.public_key())).is_some());

    // Unknown members and bad requests are JSON errors.
    let unknown = RevokeRequest { member_id: Uuid::new_v4(), reason: None };
    let err = admin::call(&env.dir, "POST", "/admin/revoke", Some(json(&unknown))).await.unwrap_err();
    assert!(matches!(err, casebridge_agency::AgencyError::Admin { status: 404, .. }), "{err}");
    let err = admin::call(&env.dir, "POST", "/admin/revoke", Some(serde_json::json!({"member": 1}))).await.unwrap_err();
    assert!(matches!(err, casebridge_agency::AgencyError::Admin { status: 400, .. }), "{err}");
    let err = admin::call(&env.dir, "GET", "/admin/nothing", None).await.unwrap_err();
    assert!(matches!(err, casebridge_agency::AgencyError::Admin { status: 404, .. }), "{err}");
    env.stop().await;
}
