//! Commands through Tauri's IPC on the mock runtime (no display needed): argument names as the
//! UI sends them (camelCase), results and `{code, message}` errors as it receives them, and
//! events through the real emitter. The use cases themselves are tested in casebridge-app.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use casebridge_core::KdfParams;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY};
use tauri::{Listener, WebviewWindow};

use super::*;

const PASS: &str = "correct horse battery staple";

struct Env {
    _tmp: tempfile::TempDir,
    _app: tauri::App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    events: Receiver<(String, Value)>,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profile");
    let mut app =
        setup(mock_builder(), None, move |emitter| Session::new(dir).with_kdf(KdfParams::INSECURE_FOR_TESTS).with_emitter(emitter))
            .build(mock_context(noop_assets()))
            .unwrap();
    // The setup hook (the session, the emitter, the idle ticker) runs on the first iteration.
    // Deprecated only as a busy loop; one call is what the mock runtime needs to run setup.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let (tx, rx) = channel();
    for name in ["job-progress", "job-done", "sync-event", "sync-done", "locked"] {
        let tx = tx.clone();
        app.listen_any(name, move |e| {
            let _ = tx.send((name.to_string(), serde_json::from_str(e.payload()).unwrap_or(Value::Null)));
        });
    }
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Env { _tmp: tmp, _app: app, webview, events: rx }
}

/// Invokes `cmd` as the UI does; Ok(its answer's body) or Err(the error value).
fn invoke(env: &Env, cmd: &str, args: Value) -> Result<tauri::ipc::InvokeResponseBody, Value> {
    get_ipc_response(
        &env.webview,
        tauri::webview::InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            // The local origin on Linux and macOS (`http://tauri.localhost` counts as remote there).
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
}

/// Invokes `cmd` as the UI does; Ok(result) or Err(the error value).
fn call(env: &Env, cmd: &str, args: Value) -> Result<Value, Value> {
    invoke(env, cmd, args).map(|b| b.deserialize::<Value>().unwrap())
}

fn code(r: Result<Value, Value>) -> String {
    let err = r.expect_err("the command should have failed");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "an error carries a message: {err}");
    err["code"].as_str().unwrap().to_string()
}

fn event(env: &Env, name: &str) -> Value {
    loop {
        let (n, payload) = env.events.recv_timeout(Duration::from_secs(30)).expect("the event did not come");
        if n == name {
            return payload;
        }
    }
}

#[test]
fn unlock_with_a_wrong_then_the_right_passphrase() {
    let env = env();
    let info = call(&env, "app_info", json!({})).unwrap();
    assert_eq!((info["profile_exists"].as_bool(), info["unlocked"].as_bool()), (Some(false), Some(false)));
    assert_eq!(
        code(call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": "short"}))),
        "passphrase_too_short"
    );
    // Arguments that do not fit the command's types are refused by Tauri before any use case.
    assert!(call(&env, "profile_create", json!({"name": "Vera", "role": "detective", "passphrase": PASS})).unwrap_err().is_string());
    let me = call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    assert_eq!(me["role"], "investigator");

    call(&env, "lock", json!({})).unwrap();
    assert_eq!(event(&env, "locked"), json!({"reason": "manual"}));
    let err = call(&env, "unlock", json!({"passphrase": "not the passphrase"})).unwrap_err();
    assert_eq!(err["code"], "wrong_passphrase");
    assert!(err["message"].as_str().unwrap().contains("4 tries left"), "{err}");
    assert_eq!(call(&env, "app_info", json!({})).unwrap()["failed_attempts"], 1);
    let again = call(&env, "unlock", json!({"passphrase": PASS})).unwrap();
    assert_eq!(again["member_id"], me["member_id"]);
    let info = call(&env, "app_info", json!({})).unwrap();
    assert_eq!((info["unlocked"].as_bool(), info["failed_attempts"].as_u64()), (Some(true), Some(0)));
    let strength = call(&env, "passphrase_strength", json!({"passphrase": PASS})).unwrap();
    assert_eq!(strength["meets_policy"], true);
}

#[test]
fn cases_are_created_and_listed_with_the_uis_argument_names() {
    let env = env();
    assert_eq!(code(call(&env, "cases_list", json!({"search": null, "status": null, "sort": "updated"}))), "locked");
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let id = call(&env, "case_create", json!({"title": "Bike thefts", "summary": null, "reference": "BER-1", "tags": ["bikes"]})).unwrap();
    let id = id.as_str().unwrap().to_string();
    call(&env, "note_add", json!({"caseId": id, "text": "white van"})).unwrap();
    let list = call(&env, "cases_list", json!({"search": "bike", "status": null, "sort": "title"})).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["reference"], "BER-1");
    assert_eq!(list[0]["status"], "open");
    let detail = call(&env, "case_get", json!({"id": id})).unwrap();
    assert_eq!(detail["notes"][0]["text"], "white van");
    assert!(call(&env, "cases_list", json!({"search": null, "status": null, "sort": "sideways"})).unwrap_err().is_string());
    assert_eq!(code(call(&env, "case_get", json!({"id": "nope"}))), "invalid_input");
    assert_eq!(call(&env, "briefs_list", json!({"includeWithdrawn": true})).unwrap(), json!([]));
    // Sync runs in the background and reports its end as an event.
    call(&env, "sync_now", json!({})).unwrap();
    let done = event(&env, "sync-done");
    assert_eq!((done["ok"].as_bool(), done["error"]["code"].as_str()), (Some(false), Some("not_enrolled")));
}

#[test]
fn an_import_reports_through_events() {
    let env = env();
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let id = call(&env, "case_create", json!({"title": "Bike thefts", "summary": null, "reference": null, "tags": []})).unwrap();
    let file = env._tmp.path().join("photo.jpg");
    std::fs::write(&file, b"not really a photo").unwrap();
    let job = call(&env, "evidence_import", json!({"caseId": id, "paths": [file.display().to_string()]})).unwrap();
    let progress = event(&env, "job-progress");
    assert_eq!(progress["job"], job);
    assert_eq!(progress["name"], "photo.jpg");
    let done = event(&env, "job-done");
    assert_eq!(done, json!({"job": job, "ok": true, "error": null}));
    let items = call(&env, "evidence_list", json!({"caseId": id})).unwrap();
    assert_eq!(items[0]["original_name"], "photo.jpg");
    let preview = call(&env, "evidence_preview", json!({"id": items[0]["id"], "maxBytes": 1024})).unwrap();
    assert_eq!(preview["too_large"], false);
    assert_eq!(code(call(&env, "job_cancel", json!({"job": job}))), "unknown_job");
}

#[test]
fn status_thumbnails_file_metadata_and_export_with_the_uis_argument_names() {
    let env = env();
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let id = call(&env, "case_create", json!({"title": "Bike thefts", "summary": null, "reference": null, "tags": []})).unwrap();
    call(&env, "case_set_status", json!({"caseId": id, "status": "closed"})).unwrap();
    let detail = call(&env, "case_get", json!({"id": id})).unwrap();
    assert_eq!(detail["status"], "closed");
    assert_eq!(detail["acted_by"][0]["acted"], json!(["opened"]));
    assert_eq!(detail["team"][0]["lead"], json!(true));
    assert_eq!(detail["on_team"], json!(true));
    assert!(call(&env, "case_set_status", json!({"caseId": id, "status": "shelved"})).unwrap_err().is_string());

    let file = env._tmp.path().join("note.jpg");
    std::fs::write(&file, b"not really a photo").unwrap();
    let metas = call(&env, "file_metadata", json!({"paths": [file.display().to_string()]})).unwrap();
    assert_eq!(metas[0]["media_type"], "text/plain");
    assert_eq!(metas[0]["captured_at"], Value::Null);
    let dir = env._tmp.path().display().to_string();
    assert_eq!(code(call(&env, "file_metadata", json!({"paths": [dir]}))), "bad_file");

    let job = call(&env, "evidence_import", json!({"caseId": id, "paths": [file.display().to_string()]})).unwrap();
    loop {
        let done = event(&env, "job-done");
        if done["job"] == job {
            break;
        }
    }
    let items = call(&env, "evidence_list", json!({"caseId": id})).unwrap();
    assert_eq!(items[0]["review_state"], Value::Null);
    let thumb = call(&env, "evidence_thumbnail", json!({"id": items[0]["id"], "maxPx": 96})).unwrap();
    assert_eq!((thumb["data_url"].clone(), thumb["reason"].is_string()), (Value::Null, true));

    let out = env._tmp.path().join("case.cbb").display().to_string();
    assert_eq!(code(call(&env, "case_export", json!({"caseId": id, "path": out}))), "not_enrolled");
}

#[test]
fn the_viewer_scheme_serves_ranges_of_an_opened_item_to_the_main_window_only() {
    use tauri::Manager as _;
    let env = env();
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let id = call(&env, "case_create", json!({"title": "Dash-cam", "summary": null, "reference": null, "tags": []})).unwrap();
    let file = env._tmp.path().join("clip.txt");
    let content: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    call(&env, "evidence_import", json!({"caseId": id, "paths": [file.display().to_string()]})).unwrap();
    event(&env, "job-done");
    let items = call(&env, "evidence_list", json!({"caseId": id})).unwrap();
    let src = call(&env, "evidence_open", json!({"id": items[0]["id"]})).unwrap();
    let url = src["url"].as_str().unwrap();
    assert!(url.starts_with("cbmedia://localhost/"), "{url}");
    assert_eq!(src["size"], 5000);

    let session = Arc::clone(&env._app.state::<AppState>().session);
    let request = |range: &str| {
        tauri::http::Request::builder()
            .method("GET")
            .uri(url)
            .header("Range", range)
            .header("Origin", "tauri://localhost")
            .body(Vec::new())
            .unwrap()
    };
    let r = media_response(Some(&session), true, &request("bytes=100-199"));
    assert_eq!(r.status(), 206);
    assert_eq!(r.body(), &content[100..200]);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/5000");
    assert_eq!(r.headers()["access-control-allow-origin"], "tauri://localhost");
    let r = media_response(Some(&session), true, &request("bytes=6000-"));
    assert_eq!(
        (r.status().as_u16(), &r.headers()["x-casebridge-reason"]),
        (416, &"range_unsatisfiable".parse::<tauri::http::HeaderValue>().unwrap())
    );
    // Another webview (not the main window) is refused, whatever the token.
    let r = media_response(Some(&session), false, &request("bytes=0-9"));
    assert_eq!(r.status(), 403);
    assert!(r.body().is_empty() || !r.body().windows(10).any(|w| w == &content[..10]));
    // Locking forgets the token.
    call(&env, "lock", json!({})).unwrap();
    let r = media_response(Some(&session), true, &request("bytes=0-9"));
    assert_eq!((r.status().as_u16(), r.headers()["x-casebridge-reason"].to_str().unwrap()), (403, "token_unknown"));
}

/// Issue 17: the redaction command with the UI's argument names (`id`, `request` with
/// `strip_metadata`): a real phone photo gives a derivative that names its original; a crafted
/// region comes back as `{code, message}` with its own code.
#[test]
fn a_redaction_with_the_uis_argument_names() {
    let env = env();
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let case = call(&env, "case_create", json!({"title": "Bike thefts", "summary": null, "reference": null, "tags": []})).unwrap();
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/photos/iphone4s-sanfrancisco.jpg");
    let job = call(&env, "evidence_import", json!({"caseId": case, "paths": [photo.display().to_string()]})).unwrap();
    while event(&env, "job-done")["job"] != job {}
    let original = call(&env, "evidence_list", json!({"caseId": case})).unwrap()[0]["id"].clone();

    let request = json!({"regions": [{"x": 10, "y": 20, "w": 30, "h": 40}], "mode": "fill", "strip_metadata": true, "reason": "appeal"});
    let done = call(&env, "evidence_redact", json!({"id": original, "request": request})).unwrap();
    assert_eq!(done["provenance"]["original_id"], original);
    assert_eq!(done["provenance"]["operations"], json!(["strip-metadata", "fill 10,20,30,40"]));
    assert_eq!(done["item"]["derived_from"]["original_id"], original);
    assert_eq!(done["original_name"], "iphone4s-sanfrancisco.jpg");
    assert_eq!(call(&env, "evidence_list", json!({"caseId": case})).unwrap().as_array().unwrap().len(), 2);

    let crafted = json!({"regions": [{"x": -5, "y": 0, "w": 10, "h": 10}], "mode": "blur", "strip_metadata": false, "reason": null});
    assert_eq!(code(call(&env, "evidence_redact", json!({"id": original, "request": crafted}))), "bad_region");
    let outside = json!({"regions": [{"x": 170, "y": 0, "w": 20, "h": 10}], "mode": "blur", "strip_metadata": true, "reason": null});
    assert_eq!(code(call(&env, "evidence_redact", json!({"id": original, "request": outside}))), "region_outside_image");
    assert_eq!(call(&env, "evidence_list", json!({"caseId": case})).unwrap().as_array().unwrap().len(), 2, "nothing added");
}

#[test]
fn file_exchange_commands_take_the_uis_argument_names_and_refuse_with_codes() {
    let env = env();
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    let tmp = env._tmp.path();
    let junk = tmp.join("junk.receipt");
    std::fs::write(&junk, b"%PDF-1.7 not a receipt").unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    assert_eq!(code(call(&env, "receipt_import", json!({"path": s(&junk)}))), "not_a_receipt");
    assert_eq!(code(call(&env, "bundles_export", json!({"dir": s(&junk)}))), "not_a_folder");
    // A directory without an agency, named with the UI's keys (agencyDir, agencyPassphrase, receiptOut).
    let args = json!({"agencyDir": s(tmp), "agencyPassphrase": "agency passphrase", "path": s(&junk)});
    assert_eq!(code(call(&env, "bundle_verify", args.clone())), "not_an_agency");
    let mut open = args;
    open["receiptOut"] = json!(s(&tmp.join("r.receipt")));
    assert_eq!(code(call(&env, "bundle_open", open)), "not_an_agency");
    assert!(call(&env, "receipts_list", json!({})).unwrap().as_array().unwrap().is_empty(), "nothing was kept");
}

#[test]
fn the_notification_plugin_is_registered_and_the_page_is_granted_none_of_it() {
    let env = env();
    assert!(
        env._app.try_state::<tauri_plugin_notification::Notification<MockRuntime>>().is_some(),
        "the notification plugin is registered"
    );
    // The page may listen to the app's events and open the two dialogs; nothing of the
    // notification plugin (notifications are shown from Rust, after a sync round).
    let cap: Value = serde_json::from_str(include_str!("../capabilities/default.json")).unwrap();
    assert_eq!(cap["windows"], json!(["main"]));
    assert_eq!(
        cap["permissions"],
        json!(["core:event:allow-listen", "core:event:allow-unlisten", "dialog:allow-open", "dialog:allow-save"])
    );
    let conf: Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
    assert_eq!(conf["app"]["security"]["capabilities"], json!(["default"]), "no other capability file is in use");
    // The setting is a command of the app's own, kept with the profile.
    assert_eq!(code(call(&env, "set_notifications", json!({"enabled": false}))), "no_store");
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    assert_eq!(call(&env, "app_info", json!({})).unwrap()["notifications"], json!(true), "on by default");
    call(&env, "set_notifications", json!({"enabled": false})).unwrap();
    assert_eq!(call(&env, "app_info", json!({})).unwrap()["notifications"], json!(false));
    assert!(call(&env, "set_notifications", json!({"enabled": "yes"})).unwrap_err().is_string());
    // The UI's language for the notifications: one of the three, else refused.
    assert_eq!(call(&env, "set_language", json!({"tag": "nl"})).unwrap(), json!("nl"));
    assert_eq!(code(call(&env, "set_language", json!({"tag": "fr"}))), "invalid_input");
}

/// Invokes `cmd` and returns the raw bytes of its answer (commands answering with `ipc::Response`).
fn call_raw(env: &Env, cmd: &str, args: Value) -> Result<Vec<u8>, Value> {
    invoke(env, cmd, args).map(|b| match b {
        tauri::ipc::InvokeResponseBody::Raw(bytes) => bytes,
        tauri::ipc::InvokeResponseBody::Json(j) => panic!("expected raw bytes, got JSON {j}"),
    })
}

#[test]
fn the_map_tiles_file_is_set_and_read_in_raw_ranges_with_the_uis_argument_names() {
    let env = env();
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("city.pmtiles");
    let mut bytes = casebridge_app::map_tiles::test_header(10, 100);
    bytes.extend(std::iter::repeat_n(9u8, 110));
    std::fs::write(&good, &bytes).unwrap();
    let photo = tmp.path().join("photo.pmtiles");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 not tiles").unwrap();
    // Locked (no profile yet): nothing is read.
    assert_eq!(code(call_raw(&env, "map_tiles_range", json!({"offset": 0, "length": 127})).map(|_| Value::Null)), "locked");
    call(&env, "profile_create", json!({"name": "Vera", "role": "investigator", "passphrase": PASS})).unwrap();
    assert_eq!(call(&env, "map_tiles", json!({})).unwrap(), Value::Null);
    assert_eq!(code(call(&env, "set_map_tiles", json!({"path": photo.display().to_string()}))), "not_pmtiles");
    let set = call(&env, "set_map_tiles", json!({"path": good.display().to_string()})).unwrap();
    assert_eq!((set["max_zoom"].as_u64(), set["from_settings"].as_bool()), (Some(14), Some(true)));
    assert_eq!(call_raw(&env, "map_tiles_range", json!({"offset": 0, "length": 16384})).unwrap(), bytes);
    assert_eq!(call_raw(&env, "map_tiles_range", json!({"offset": 230, "length": 100})).unwrap(), bytes[230..]);
    assert_eq!(code(call_raw(&env, "map_tiles_range", json!({"offset": 237, "length": 1})).map(|_| Value::Null)), "invalid_input");
    call(&env, "lock", json!({})).unwrap();
    assert_eq!(code(call_raw(&env, "map_tiles_range", json!({"offset": 0, "length": 7})).map(|_| Value::Null)), "locked");
}
