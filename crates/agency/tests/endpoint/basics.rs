//! Health, the OpenAPI document, JSON 404/405, and the certificate pin.

use casebridge_protocol::Health;
use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_with_the_agency_id() {
    let mut env = Env::start().await;
    let h: Health = ok(env.client.get(env.url("/v1/health")).send().await.unwrap()).await;
    assert_eq!(h.status, "ok");
    assert_eq!(h.agency_id, env.agency_id);
    assert!(!h.version.is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_and_names_every_route() {
    let mut env = Env::start().await;
    let doc: serde_json::Value = ok(env.client.get(env.url("/v1/openapi.json")).send().await.unwrap()).await;
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/v1/health", "/v1/enrol", "/v1/auth/challenge", "/v1/auth/session", "/v1/revocation", "/v1/uploads", "/v1/feed"] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_json_errors() {
    let mut env = Env::start().await;
    let code = expect_error(env.client.get(env.url("/v1/nothing")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    let code = expect_error(env.client.get(env.url("/")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    let code = expect_error(env.client.delete(env.url("/v1/health")).send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(code, "method_not_allowed");
    let code = expect_error(env.client.get(env.url("/v1/enrol")).send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(code, "method_not_allowed");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pinned_to_another_certificate_cannot_connect() {
    let mut env = Env::start().await;
    let wrong = pinned_client(&"0".repeat(64));
    assert!(wrong.get(env.url("/v1/health")).send().await.is_err());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revocation_list_is_served_signed() {
    let mut env = Env::start().await;
    let doc: casebridge_protocol::Document = ok(env.client.get(env.url("/v1/revocation")).send().await.unwrap()).await;
    use base64::Engine as _;
    let doc = casebridge_trust::SignedDoc::parse(&base64::engine::general_purpose::STANDARD.decode(doc.document).unwrap()).unwrap();
    let (public, _) = casebridge_trust::Agency::read_public(&env.dir).unwrap();
    let list = casebridge_trust::RevocationList::verify(&doc, &public.root_key_bytes().unwrap(), public.agency_id).unwrap();
    assert!(list.entries.is_empty());
    env.stop().await;
}

/// A log sink shared by the whole test binary (the subscriber is global).
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_names_route_templates_and_never_tokens() {
    let sink = Sink::default();
    let writer = sink.clone();
    let installed = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).try_init().is_ok();
    let mut env = Env::start().await;
    let member = env.enrol(casebridge_core::Role::Investigator).await;
    let token = env.login(&member).await;
    let upload = uuid::Uuid::new_v4();
    let _ = env.get(&format!("/v1/uploads/{upload}"), &token).await;
    env.stop().await;
    if !installed {
        return; // another subscriber was set first; nothing to inspect
    }
    let log = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
    assert!(log.contains("route=\"/v1/uploads/{id}\"") || log.contains("route=/v1/uploads/{id}"), "{log}");
    assert!(log.contains(&format!("member={}", member.id)), "{log}");
    assert!(!log.contains(&upload.to_string()), "raw paths are not logged");
    assert!(!log.contains(&token), "tokens are never logged");
}
