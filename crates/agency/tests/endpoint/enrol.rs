//! Enrolment with invite codes: one use, expiry, rate limiting of wrong codes.

use casebridge_agency::{admin, invites};
use casebridge_core::Role;
use casebridge_protocol::{EnrolRequest, InviteCode, InviteRequest, Role as WireRole};
use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_issues_a_credential_that_installs_and_uses_the_invite_once() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Volunteer).await;
    // The running endpoint lists what it issued over its admin socket (sealed at rest).
    let issued = admin::call(&env.dir, "GET", "/admin/issued", None).await.unwrap().unwrap();
    let issued: Vec<casebridge_trust::NamedCredential> = serde_json::from_value(issued).unwrap();
    let cred = issued.iter().find(|c| c.credential.member_id == member.id).unwrap();
    assert_eq!(cred.credential.role, Role::Volunteer);
    assert_eq!(cred.name.as_deref(), Some("Test Member"), "the invite's name wins over the request's");
    // The credential itself commits to the name and does not hold it.
    assert!(!serde_json::to_string(&cred.credential).unwrap().contains("Test Member"));

    // The same code again.
    let secret = env.invite(WireRole::Investigator, 3600).await;
    let store = env.new_store(Role::Investigator);
    assert_eq!(env.enrol_request(&secret, &store).await.status(), StatusCode::OK);
    let other = env.new_store(Role::Investigator);
    assert_eq!(expect_error(env.enrol_request(&secret, &other).await, StatusCode::FORBIDDEN).await, "invite_used");
    env.stop().await;

    let agency = open_agency(&env.dir);
    let used: Vec<_> =
        invites::list(agency.records(), agency.sealing_identity()).unwrap().into_iter().filter(|i| i.used_at.is_some()).collect();
    assert_eq!(used.len(), 2);
    assert_eq!(used[0].member_id, Some(member.id));
    // Invite records, issued credentials and upload state are sealed: no member name, role
    // or member id is readable in them (files of an embedded agency, rows of a cluster's
    // database: read through the deployment's record store).
    let records = agency.records();
    let mut seen = 0;
    for sub in ["invites", "issued", "uploads"] {
        for name in records.list(sub).unwrap() {
            let name = format!("{sub}/{name}");
            let bytes = records.read(&name).unwrap().unwrap();
            // Invites and credentials are age files sealed to the agency; upload states are the
            // endpoint's own records, AES-256-GCM under a key derived from the sealing key
            // (docs/FORMAT.md, "Endpoint records sealed at rest").
            let magic: &[u8] = if sub == "uploads" { b"cbrec\x00\x00\x01" } else { b"age-encryption.org/v1" };
            assert!(bytes.starts_with(magic), "{name} is not sealed");
            let text = String::from_utf8_lossy(&bytes);
            for needle in ["Test Member", "volunteer", "secret_sha256", &member.id.to_string()] {
                assert!(!text.contains(needle), "{name} shows {needle}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "the invites and credentials are there to check ({seen} records)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invite_is_refused() {
    let mut env = Env::start().await;
    let secret = env.invite(WireRole::Volunteer, 60).await;
    env.clock.advance(61);
    let store = env.new_store(Role::Volunteer);
    assert_eq!(expect_error(env.enrol_request(&secret, &store).await, StatusCode::FORBIDDEN).await, "invite_expired");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_credential_request_is_refused_without_using_the_invite() {
    let mut env = Env::start().await;
    let secret = env.invite(WireRole::Volunteer, 3600).await;
    let req = EnrolRequest { invite_secret: secret.clone(), request: "bm90IGEgZG9jdW1lbnQ=".into() };
    let resp = env.client.post(env.url("/v1/enrol")).json(&req).send().await.unwrap();
    assert_eq!(expect_error(resp, StatusCode::BAD_REQUEST).await, "bad_request");
    let req = EnrolRequest { invite_secret: secret.clone(), request: "%%%".into() };
    let resp = env.client.post(env.url("/v1/enrol")).json(&req).send().await.unwrap();
    assert_eq!(expect_error(resp, StatusCode::BAD_REQUEST).await, "bad_request");
    let store = env.new_store(Role::Volunteer);
    assert_eq!(env.enrol_request(&secret, &store).await.status(), StatusCode::OK);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_made_in_process_carry_the_pins_and_work() {
    let mut env = Env::start().await;
    let req = InviteRequest {
        role: WireRole::Volunteer,
        name: "Offline".into(),
        expires_in_secs: 600,
        url: None,
        valid_for_secs: Some(86_400),
        member: None,
        old_keys: None,
    };
    let answer = admin::create_invite(&env.dir, &req, &env.url).unwrap();
    let code = InviteCode::decode(&answer.code).unwrap();
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    assert_eq!(code.agency_fp, public.root_fingerprint());
    assert_eq!(code.cert_fp, casebridge_agency::tls::cert_fingerprint(&env.dir).unwrap());
    let store = env.new_store(Role::Volunteer);
    assert_eq!(env.enrol_request(&code.secret, &store).await.status(), StatusCode::OK);
    // Invalid admin requests name what is wrong.
    let bad = InviteRequest { name: " ".into(), ..req.clone() };
    assert!(admin::create_invite(&env.dir, &bad, &env.url).unwrap_err().to_string().contains("name"));
    let err = admin::call(&env.dir, "POST", "/admin/invite", Some(json(&InviteRequest { expires_in_secs: 0, ..req }))).await.unwrap_err();
    assert!(matches!(err, casebridge_agency::AgencyError::Admin { status: 400, .. }), "{err}");
    env.stop().await;
}
