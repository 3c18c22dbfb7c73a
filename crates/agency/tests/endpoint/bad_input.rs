//! Every client mistake is a 4xx JSON error, never a 500 or a dropped connection.

use casebridge_core::Role;
use casebridge_protocol::{UploadBegin, UploadState, MAX_CHUNK, MAX_JSON_BODY};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_table() {
    let mut env = Env::start().await;
    let member = env.enrol(Role::Investigator).await;
    let token = env.login(&member).await;
    let state: UploadState = ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id: Uuid::now_v7(), size: 100 }).await).await;
    let id = state.upload_id;
    let big: UploadState =
        ok(env.post("/v1/uploads", &token, &UploadBegin { bundle_id: Uuid::now_v7(), size: 4 * MAX_CHUNK as u64 }).await).await;
    // A body without a Content-Length (chunked): counted as it streams.
    let pieces = (0..9).map(|i| Ok::<_, std::io::Error>(if i == 0 { sealed_junk(MAX_CHUNK / 8) } else { vec![0u8; MAX_CHUNK / 8] }));
    let unsized_body = reqwest::Body::wrap_stream(futures_util::stream::iter(pieces));
    let c = &env.client;
    let u = |p: &str| env.url(p);
    let json_ct = "application/json";
    let big_json = format!("{{\"invite_secret\":\"{}\",\"request\":\"x\"}}", "a".repeat(MAX_JSON_BODY + 10));

    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            c.post(u("/v1/enrol")).header("content-type", json_ct).body("{not json"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "JSON of the wrong shape",
            c.post(u("/v1/auth/challenge")).header("content-type", json_ct).body("{\"member\":1}"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "wrong content type",
            c.post(u("/v1/enrol")).header("content-type", "text/plain").body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        ("no content type", c.post(u("/v1/auth/session")).body("{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (
            "oversized JSON body",
            c.post(u("/v1/enrol")).header("content-type", json_ct).body(big_json),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "bad key hex",
            c.post(u("/v1/auth/challenge")).json(&serde_json::json!({"member_id": Uuid::nil(), "key": "zz"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "bad signature hex",
            c.post(u("/v1/auth/session")).json(&serde_json::json!({"challenge_id": Uuid::nil(), "signature": "zz"})),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        ("unknown upload id", c.get(u(&format!("/v1/uploads/{}", Uuid::new_v4()))).bearer_auth(&token), StatusCode::NOT_FOUND, "not_found"),
        ("upload id not a UUID", c.get(u("/v1/uploads/not-a-uuid")).bearer_auth(&token), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "complete unknown upload",
            c.post(u(&format!("/v1/uploads/{}/complete", Uuid::new_v4()))).bearer_auth(&token),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("bad sha", c.get(u("/v1/content/xyz")).bearer_auth(&token), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "bad sha of the right length",
            c.get(u(&format!("/v1/content/{}", "g".repeat(64)))).bearer_auth(&token),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "bad offset",
            c.put(u(&format!("/v1/uploads/{id}?offset=50")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![1u8; 10]),
            StatusCode::CONFLICT,
            "offset_mismatch",
        ),
        (
            "offset not a number",
            c.put(u(&format!("/v1/uploads/{id}?offset=abc")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![1u8; 10]),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "offset missing",
            c.put(u(&format!("/v1/uploads/{id}")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![1u8; 10]),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "chunk that is not a sealed bundle",
            c.put(u(&format!("/v1/uploads/{id}?offset=0")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![1u8; 10]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_sealed",
        ),
        (
            "chunk beyond the size",
            c.put(u(&format!("/v1/uploads/{id}?offset=0")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(vec![1u8; 101]),
            StatusCode::CONFLICT,
            "beyond_size",
        ),
        (
            "chunk with a JSON content type",
            c.put(u(&format!("/v1/uploads/{id}?offset=0"))).bearer_auth(&token).header("content-type", json_ct).body(vec![1u8; 10]),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "oversized chunk",
            c.put(u(&format!("/v1/uploads/{id}?offset=0")))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(sealed_junk(MAX_CHUNK + 1)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "oversized chunk without a length",
            c.put(u(&format!("/v1/uploads/{}?offset=0", big.upload_id)))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(unsized_body),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "empty bundle",
            c.post(u("/v1/uploads")).bearer_auth(&token).json(&UploadBegin { bundle_id: Uuid::now_v7(), size: 0 }),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "huge bundle",
            c.post(u("/v1/uploads")).bearer_auth(&token).json(&UploadBegin { bundle_id: Uuid::now_v7(), size: u64::MAX }),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "size changed on resume",
            c.post(u("/v1/uploads")).bearer_auth(&token).json(&serde_json::json!({"bundle_id": Uuid::nil(), "size": 5})),
            StatusCode::OK,
            "",
        ),
        ("feed cursor not a number", c.get(u("/v1/feed?after=abc")).bearer_auth(&token), StatusCode::BAD_REQUEST, "bad_request"),
        ("feed cursor beyond the end", c.get(u("/v1/feed?after=999999")).bearer_auth(&token), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "uploads without a token",
            c.post(u("/v1/uploads")).json(&UploadBegin { bundle_id: Uuid::now_v7(), size: 1 }),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
    ];
    for (what, req, status, code) in cases {
        let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(resp.status() != StatusCode::INTERNAL_SERVER_ERROR, "{what}: 500");
        if status == StatusCode::OK {
            assert_eq!(resp.status(), StatusCode::OK, "{what}");
            continue;
        }
        let got = expect_error(resp, status).await;
        assert_eq!(got, code, "{what}");
    }
    let resp =
        c.post(u("/v1/uploads")).bearer_auth(&token).json(&serde_json::json!({"bundle_id": Uuid::nil(), "size": 6})).send().await.unwrap();
    assert_eq!(expect_error(resp, StatusCode::CONFLICT).await, "size_mismatch");
    // The upload is untouched by all of that.
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{id}"), &token).await).await;
    assert_eq!(state.received, 0);
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{}", big.upload_id), &token).await).await;
    assert_eq!(state.received, 0, "nothing of a refused chunk is kept");
    env.stop().await;
}
