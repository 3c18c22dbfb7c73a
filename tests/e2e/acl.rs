//! The endpoint's access rules as a matrix: for each kind of caller and each resource,
//! allowed or refused, as docs/ENDPOINT.md says; checked over real HTTPS with the real client.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{EventKind, Notice, NoticeKind, Passphrase, Role, SignedEvent, Store};
use casebridge_protocol::UploadBegin;
use casebridge_sync::{Auth, HttpTransport, SyncError, Transport};
use uuid::Uuid;

use crate::endpoint::{self, member, new_agency, run, Endpoint};
use crate::harness::{in_process, s, str_field, Profile, PASS};

/// An invite for a member named "Member".
fn invite(admin: &Profile, dir: &std::path::Path, role: &str, extra: &[&str]) -> String {
    endpoint::invite(admin, dir, role, "Member", extra)
}

/// The real client for profile `p`, signing with its key (the store stays open in-process).
fn client(p: &Profile, url: &str, cert: &str, agency: Uuid) -> (HttpTransport, Arc<Mutex<Store>>) {
    let store = in_process(|| Store::open(&p.store, &Passphrase::new(PASS)).expect("open"));
    let me = store.whoami().clone();
    let store = Arc::new(Mutex::new(store));
    let st = Arc::clone(&store);
    let auth = Auth {
        agency_id: agency,
        member_id: me.member_id,
        key_hex: me.public_key,
        signer: Arc::new(move |c: &[u8], m: &[u8]| st.lock().unwrap().sign_detached(c, m)),
    };
    (HttpTransport::new(url, cert, auth).expect("transport"), store)
}

/// The HTTP status of a failed call (0 for a connection failure), 200 for success.
fn status<T>(r: Result<T, SyncError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

/// The agency's notices in a feed page (their signatures are checked by the client:
/// crates/agency/tests/attacks/notices.rs).
fn notices(feed: &casebridge_protocol::Feed) -> Vec<Notice> {
    feed.notices
        .iter()
        .map(|n| {
            let doc: serde_json::Value = serde_json::from_slice(&B64.decode(n).unwrap()).unwrap();
            assert_eq!(doc["type"], "notice");
            serde_json::from_slice(&B64.decode(doc["body"].as_str().unwrap()).unwrap()).unwrap()
        })
        .collect()
}

fn kinds(feed: &casebridge_protocol::Feed) -> Vec<EventKind> {
    feed.events.iter().map(|e| SignedEvent::from_envelope(B64.decode(e).unwrap()).unwrap().body().kind.clone()).collect()
}

#[test]
fn access_matrix() {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let ep = Endpoint::start(&agency);
    let inv = member(Role::Investigator, "Vera");
    inv.cmd(&["enrol", &invite(&admin, &agency, "investigator", &[])]).ok();
    // A second investigator on the case's team sees it (a member's own events are never sent
    // back); a third, off the team, gets nothing of it; a supervisor gets every case (issue 16).
    let inv2 = member(Role::Investigator, "Ole");
    inv2.cmd(&["enrol", &invite(&admin, &agency, "investigator", &[])]).ok();
    let inv3 = member(Role::Investigator, "Ines");
    inv3.cmd(&["enrol", &invite(&admin, &agency, "investigator", &[])]).ok();
    let sup = member(Role::Supervisor, "Sam");
    sup.cmd(&["enrol", &invite(&admin, &agency, "supervisor", &[])]).ok();
    let inv2_id = str_field(&inv2.json(&["whoami", "--json"]), "member_id");
    let (a, b, revoked, expired) =
        (member(Role::Volunteer, "A"), member(Role::Volunteer, "B"), member(Role::Volunteer, "C"), member(Role::Volunteer, "D"));
    for v in [&a, &b, &revoked] {
        v.cmd(&["enrol", &invite(&admin, &agency, "volunteer", &[])]).ok();
    }
    expired.cmd(&["enrol", &invite(&admin, &agency, "volunteer", &["--valid-for", "2s"])]).ok();
    let a_id = str_field(&a.json(&["whoami", "--json"]), "member_id");
    let case = inv.new_case("Internal case title");
    inv.cmd(&["note", "add", &case, "internal note"]).ok();
    // Only the lead or a supervisor changes the team: Ole cannot add himself (he does not even
    // hold the case), Vera (the lead) adds him.
    inv2.cmd(&["case", "assign", &case, &inv2_id]).fails_with("no case matches");
    inv.cmd(&["case", "assign", &case, &inv2_id]).ok();
    let open = inv.cmd(&["brief", "publish", &case, "--title", "for all", "--body", "x"]).ok().stdout.trim().to_string();
    let only_a =
        inv.cmd(&["brief", "publish", &case, "--title", "for A", "--body", "y", "--audience", &a_id]).ok().stdout.trim().to_string();
    inv.cmd(&["sync"]).ok();
    a.cmd(&["sync"]).ok();
    let photo = a.random_file("a.jpg", 10_000, 1);
    let sub = a.json(&["submit", &open, s(&photo), "--json"]);
    let sha = sub["items"][0]["sha256"].as_str().unwrap().to_string();
    a.cmd(&["sync"]).ok();
    let revoked_id = str_field(&revoked.json(&["whoami", "--json"]), "member_id");
    run(&admin, &["agency", "revoke", "--dir", s(&agency), &revoked_id]).ok();
    std::thread::sleep(Duration::from_millis(2500));

    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(agency.join("serve.json")).unwrap()).unwrap();
    let cert = info["cert_fp"].as_str().unwrap().to_string();
    let agency_id: Uuid =
        str_field(&run(&admin, &["agency", "show", "--dir", s(&agency), "--json"]).ok().json(), "agency_id").parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let begin = || UploadBegin { bundle_id: Uuid::now_v7(), size: 10 };

    // name, profile, feed, content of A's photo, begin an upload
    let rows: [(&str, &Profile, u16, u16, u16); 7] = [
        ("investigator", &inv2, 200, 200, 200),
        ("investigator off the team", &inv3, 200, 404, 200),
        ("supervisor", &sup, 200, 200, 200),
        ("volunteer A", &a, 200, 200, 200),
        ("volunteer B", &b, 200, 404, 200),
        ("revoked", &revoked, 401, 401, 401),
        ("expired", &expired, 401, 401, 401),
    ];
    for (name, p, want_feed, want_content, want_upload) in rows {
        let (t, store) = client(p, &ep.url, &cert, agency_id);
        let feed = rt.block_on(t.feed(0, 500));
        let got = (
            feed.as_ref().map_or_else(|e| e.status().unwrap_or(0), |_| 200),
            status(rt.block_on(t.content(&sha, &mut tokio::io::sink()))),
            status(rt.block_on(t.begin(begin()))),
        );
        assert_eq!(got, (want_feed, want_content, want_upload), "{name}: (feed, content, upload)");
        if let Ok(feed) = feed {
            let k = kinds(&feed);
            // Staff are sent the investigator's brief events; a volunteer the agency's notices.
            let mut briefs: Vec<Uuid> =
                k.iter().filter_map(|k| if let EventKind::BriefPublished { brief_id, .. } = k { Some(*brief_id) } else { None }).collect();
            briefs.extend(notices(&feed).iter().filter_map(|n| match &n.kind {
                NoticeKind::BriefPublished { brief_id, .. } => Some(*brief_id),
                _ => None,
            }));
            let internal = k.iter().any(|k| matches!(k, EventKind::CaseCreated { .. } | EventKind::NoteAdded { .. }));
            let subs = k.iter().filter(|k| matches!(k, EventKind::SubmissionMade { .. })).count();
            match name {
                "investigator off the team" => {
                    assert!(!internal, "nothing of a case for an investigator off its team");
                    assert_eq!((subs, briefs.len()), (0, 0), "nor its briefs and submissions");
                }
                "investigator" | "supervisor" => {
                    assert!(internal, "investigators see their cases");
                    assert_eq!(subs, 1, "investigators see submissions");
                }
                "volunteer A" => {
                    assert!(k.is_empty(), "a volunteer is sent no events, only the agency's notices");
                    assert!(notices(&feed).iter().all(|n| n.to == a_id.parse::<Uuid>().unwrap() && n.agency_id == agency_id));
                    assert!(!internal, "no internal case data for volunteers");
                    assert_eq!(briefs.len(), 2, "A sees both briefs");
                }
                _ => {
                    assert!(!internal, "no internal case data for volunteers");
                    assert_eq!(briefs, vec![open.parse::<Uuid>().unwrap()], "B sees only the brief for all, not {only_a}");
                    assert_eq!(subs, 0, "never another volunteer's submissions");
                    let authors: Vec<String> = feed
                        .events
                        .iter()
                        .map(|e| SignedEvent::from_envelope(B64.decode(e).unwrap()).unwrap().body().author.to_string())
                        .collect();
                    assert!(!authors.contains(&a_id), "never another volunteer's identity");
                }
            }
        }
        in_process(|| drop(store));
    }

    // A volunteer may send only submissions: a bundle carrying a case of their own making (a
    // case and a note) is refused as forbidden and nothing of it is stored.
    let public = b.path("agency-public.json");
    run(&admin, &["agency", "export-public", "--dir", s(&agency), "--out", s(&public)]).ok();
    let fake = b.new_case("forged case");
    b.cmd(&["note", "add", &fake, "forged note"]).ok();
    let forged = b.path("forged.cbb");
    let exported = b.json(&["bundle", "export", "--case", &fake, "--to", s(&public), "--out", s(&forged), "--json"]);
    let bundle_id: Uuid = str_field(&exported, "bundle_id").parse().unwrap();
    let bytes = std::fs::read(&forged).unwrap();
    let (t, store) = client(&b, &ep.url, &cert, agency_id);
    let st = rt.block_on(t.begin(UploadBegin { bundle_id, size: bytes.len() as u64 })).unwrap();
    rt.block_on(t.put(st.upload_id, 0, bytes.into())).unwrap();
    let refused = rt.block_on(t.complete(st.upload_id)).unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    assert_eq!(refused.code(), "forbidden", "{refused}");
    in_process(|| drop(store));
    inv2.cmd(&["sync"]).ok();
    let cases = inv2.json(&["case", "list", "--json"]);
    assert!(cases.as_array().unwrap().iter().all(|c| c["title"] != "forged case"), "nothing of a refused bundle is stored");

    // Removed from the team, Ole gets his removal and nothing new of the case; his desk says
    // so. He can no longer add to it: the agency refuses his note (not_on_team).
    inv2.cmd(&["sync"]).ok();
    let before = inv2.json(&["case", "show", &case, "--json"]);
    assert_eq!(before["on_team"], true);
    let sup_id = str_field(&sup.json(&["whoami", "--json"]), "member_id");
    inv.cmd(&["case", "unassign", &case, &inv2_id]).ok();
    inv.cmd(&["case", "unassign", &case, &sup_id]).fails_with("is not on the team");
    inv.cmd(&["note", "add", &case, "after Ole left"]).ok();
    inv.cmd(&["sync"]).ok();
    inv2.cmd(&["sync"]).ok();
    let after = inv2.json(&["case", "show", &case, "--json"]);
    assert_eq!(after["on_team"], false, "{after}");
    assert_eq!(after["notes"].as_array().unwrap().len(), before["notes"].as_array().unwrap().len(), "no new note after the removal");
    assert!(inv2.cmd(&["case", "show", &case]).ok().stdout.contains("you are not on this case's team"));
    inv2.cmd(&["note", "add", &case, "Ole's late note"]).ok();
    assert!(inv2.cmd(&["sync"]).ok().stdout.contains("1 bundle(s) refused by the agency"));
    let status = inv2.json(&["sync", "status", "--json"]);
    let refused = &status["refused"][0];
    assert_eq!((refused["code"].as_str(), refused["status"].as_u64()), (Some("not_on_team"), Some(403)), "{status}");
    sup.cmd(&["sync"]).ok();
    let notes = sup.json(&["case", "show", &case, "--json"])["notes"].as_array().unwrap().clone();
    assert!(notes.iter().any(|n| n["text"] == "after Ole left"), "a supervisor gets every case");
    assert!(notes.iter().all(|n| n["text"] != "Ole's late note"), "nothing of a refused bundle is stored");
    // Ole may not change a team either; a supervisor may.
    inv2.cmd(&["case", "assign", &case, &sup_id]).fails_with("only a supervisor or the case's lead");
    sup.cmd(&["case", "assign", &case, &inv2_id]).ok();
    // A legal hold: supervisors only, with a reason; the team sees it after a sync.
    inv.cmd(&["case", "hold", &case, "--reason", "12 Js 345/26"]).fails_with("only supervisors");
    sup.cmd(&["case", "hold", &case, "--reason", ""]).fails_with("reason");
    sup.cmd(&["case", "release", &case, "--reason", "none placed"]).fails_with("not under legal hold");
    sup.cmd(&["case", "hold", &case, "--reason", "12 Js 345/26"]).ok();
    sup.cmd(&["case", "hold", &case, "--reason", "again"]).fails_with("already under legal hold");
    sup.cmd(&["sync"]).ok();
    inv.cmd(&["sync"]).ok();
    let held = inv.json(&["case", "show", &case, "--json"]);
    assert_eq!(held["hold"]["reason"], "12 Js 345/26", "{held}");
    assert_eq!(held["hold"]["by"].as_str(), Some(sup_id.as_str()));
    assert!(inv.cmd(&["case", "show", &case]).ok().stdout.contains("legal hold"));
    sup.cmd(&["case", "release", &case, "--reason", "proceedings closed"]).ok();
    sup.cmd(&["sync"]).ok();
    inv.cmd(&["sync"]).ok();
    assert!(inv.json(&["case", "show", &case, "--json"])["hold"].is_null());

    // Without a session: everything but health, the OpenAPI document, enrolment and the
    // revocation list is 401.
    let http = reqwest::blocking::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    for (method, path, want) in [
        ("GET", "/v1/health", 200),
        ("GET", "/v1/openapi.json", 200),
        ("GET", "/v1/revocation", 200),
        ("GET", "/v1/feed", 401),
        ("GET", &format!("/v1/content/{sha}") as &str, 401),
        ("POST", "/v1/uploads", 401),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{}{path}", ep.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "anonymous {method} {path}");
    }
    ep.stop();
}

/// Issue 12: a member id belongs to the key that enrolled with it. An invite for an existing
/// member (a new device) must say what happens to the old key, and another profile cannot
/// use it to take that member's id.
#[test]
fn an_invite_for_an_existing_member_binds_only_that_member() {
    let admin = Profile::empty();
    let agency = admin.root().join("agency");
    new_agency(&agency);
    let _ep = Endpoint::start(&agency);
    let vol = member(Role::Volunteer, "Mila");
    vol.cmd(&["enrol", &invite(&admin, &agency, "volunteer", &[])]).ok();
    let id = str_field(&vol.json(&["whoami", "--json"]), "member_id");
    run(&admin, &["agency", "invite", "--dir", s(&agency), "--role", "volunteer", "--name", "Mila, new phone", "--member", &id])
        .fails_with("--old-key");
    let code = invite(&admin, &agency, "volunteer", &["--member", &id, "--old-key", "keep"]);
    // Another member's profile (its own member id, a credential of its own) cannot take the
    // member's id with it; the invite stays unused. (A fresh profile may: it becomes the
    // member's new device, tests/e2e/sync.rs.)
    let other = member(Role::Volunteer, "Mallory");
    other.cmd(&["enrol", &invite(&admin, &agency, "volunteer", &[])]).ok();
    let other_id = str_field(&other.json(&["whoami", "--json"]), "member_id");
    other.cmd(&["enrol", &code]).fails_with("holds case work or a credential of its own");
    assert_eq!(str_field(&other.json(&["whoami", "--json"]), "member_id"), other_id, "the profile keeps its own id");
    // Control: the invite is still unused, and a new profile becomes the member's new device.
    let phone = member(Role::Volunteer, "Mila, new phone");
    phone.cmd(&["enrol", &code]).ok();
    assert_eq!(str_field(&phone.json(&["whoami", "--json"]), "member_id"), id);
}
