//! Issue 15: "PostgreSQL restarted and the object store stopped mid-run: members get 503 and
//! retry, and nothing acknowledged is lost". A cluster agency on a PostgreSQL and a SeaweedFS
//! of this test's own (casebridge-testkit's `OwnServices`: the shared ones serve every other
//! test at the same time and are never stopped), one `agency serve` replica, members running
//! the real `casebridge sync`. Each outage is taken down and brought back under the running
//! replica, which is never restarted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casebridge_core::{Passphrase, Role, Store};
use casebridge_protocol::UploadBegin;
use casebridge_sync::{Auth, HttpTransport, SyncError, Transport};
use casebridge_testkit::services::OwnServices;
use serde_json::Value;
use uuid::Uuid;

use crate::endpoint::{member, sync, Endpoint, Faults, Proxy, AGENCY_PASS};
use crate::harness::{in_process, s, str_field, Output, Profile, PASS};

/// An admin command on the agency, with the own services' `AWS_*`.
fn admin(own: &OwnServices, p: &Profile, args: &[&str]) -> Output {
    p.cmd_with(args, |c| {
        c.env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS);
        c.envs(own.aws_env());
    })
}

/// `agency check --read-data` passes: chains, signatures, every object re-hashed, no orphan.
fn check_clean(own: &OwnServices, p: &Profile, dir: &std::path::Path) -> Value {
    let out = admin(own, p, &["agency", "check", "--dir", s(dir), "--read-data", "--json"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["orphan_objects"], 0, "{v}");
    v
}

/// Calls of profile `p`'s, sent by the real client pinned to the endpoint's certificate (the
/// member's store is open only meanwhile), one request at a time, so the test sees each
/// answer.
fn call<T>(
    p: &Profile,
    at: &Pinned,
    calls: impl FnOnce(&HttpTransport) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SyncError>> + '_>>,
) -> Result<T, SyncError> {
    let store = in_process(|| Store::open(&p.store, &Passphrase::new(PASS)).expect("open"));
    let me = store.whoami().clone();
    let store = Arc::new(Mutex::new(store));
    let st = Arc::clone(&store);
    let auth = Auth {
        agency_id: at.agency,
        member_id: me.member_id,
        key_hex: me.public_key,
        signer: Arc::new(move |c: &[u8], m: &[u8]| st.lock().unwrap().sign_detached(c, m)),
    };
    let http = HttpTransport::new(&at.url, &at.cert, auth).expect("transport");
    let r = at.rt.block_on(calls(&http));
    drop(http);
    in_process(|| drop(store));
    r
}

/// [`call`]'s answer: its status and code.
fn request<T>(
    p: &Profile,
    at: &Pinned,
    calls: impl FnOnce(&HttpTransport) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SyncError>> + '_>>,
) -> (u16, String) {
    answer(call(p, at, calls))
}

/// The one bundle waiting in `p`'s outbox: its id and bytes.
fn outbox_bundle(p: &Profile) -> (Uuid, Vec<u8>) {
    let mut found: Vec<_> = crate::harness::walk_files(&p.store)
        .into_iter()
        .filter(|f| {
            f.extension().is_some_and(|e| e == casebridge_sync::BUNDLE_EXTENSION)
                && f.parent().and_then(|d| d.file_name()).is_some_and(|d| d == casebridge_sync::OUTBOX_DIR)
        })
        .collect();
    assert_eq!(found.len(), 1, "one bundle in the outbox: {found:?}");
    let path = found.pop().unwrap();
    let id = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    (id, std::fs::read(&path).unwrap())
}

/// Where the replica is and how a client pins it.
struct Pinned {
    url: String,
    cert: String,
    agency: Uuid,
    rt: tokio::runtime::Runtime,
}

/// The status and code of a failed call (`(200, "")` for success, 0 for no answer).
fn answer<T>(r: Result<T, SyncError>) -> (u16, String) {
    match r {
        Ok(_) => (200, String::new()),
        Err(e) => (e.status().unwrap_or(0), e.code().to_string()),
    }
}

/// The errors of the `retrying` events a `sync --json` printed.
fn retries(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "retrying")
        .map(|v| str_field(&v, "error"))
        .collect()
}

/// A sync that met the storage outage retried, and every retry was for a 503 `unavailable`
/// (not a 500, not a connection cut: the replica stayed up).
fn assert_retried_on_503(out: &Output, what: &str) {
    out.no_panic();
    let errors = retries(out);
    assert!(errors.len() >= 2, "the sync retried while {what}\n{out}");
    for e in &errors {
        assert!(e.contains("503") && e.contains("unavailable"), "each retry while {what} was for a 503 unavailable: {e}\n{out}");
    }
}

/// The bundle ids of a member's receipts, each verified; asserts none is there twice.
fn receipts(p: &Profile) -> Vec<String> {
    let list = p.json(&["receipt", "list", "--json"]);
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["verified"], true, "{r}");
            str_field(r, "bundle_id")
        })
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a bundle has two receipts\n{list}");
    ids
}

#[test]
fn members_get_503_while_the_database_or_the_bucket_is_down_and_nothing_acknowledged_is_lost() {
    let started = Instant::now();
    let mut own = OwnServices::start();
    let database = own.fresh_database();
    let bucket = "outage";
    own.create_bucket(bucket);
    let boss = Profile::empty();
    let dir = boss.root().join("agency");
    let objects = format!("s3://{bucket}/agency");
    admin(&own, &boss, &["agency", "init", "--dir", s(&dir), "--name", "Test Police", "--database", &database, "--objects", &objects]).ok();
    let replica = Endpoint::start_with(&dir, "127.0.0.1:0", &own.aws_env());
    // Members reach the replica through a proxy that counts (and, later, slows) their bytes.
    let proxy = Proxy::start(replica.addr);
    let url = proxy.url();
    let invite = |role: &str, name: &str| -> String {
        let out = admin(&own, &boss, &["agency", "invite", "--dir", s(&dir), "--role", role, "--name", name, "--url", &url]);
        out.ok();
        out.stdout.lines().last().unwrap().trim().to_string()
    };

    // Before: a brief, two bundles acknowledged with receipts.
    let inv = member(Role::Investigator, "Vera Brandt");
    inv.cmd(&["enrol", &invite("investigator", "Vera Brandt")]).ok();
    let case = inv.new_case("Bike thefts");
    let brief = inv.cmd(&["brief", "publish", &case, "--title", "Footage wanted", "--body", "b"]).ok().stdout.trim().to_string();
    sync(&inv);
    let vol = member(Role::Volunteer, "Mila Jansen");
    vol.cmd(&["enrol", &invite("volunteer", "Mila Jansen")]).ok();
    sync(&vol);
    for n in 0..2 {
        let photo = vol.random_file(&format!("photo{n}.jpg"), 200_000, n);
        vol.cmd(&["submit", &brief, s(&photo)]).ok();
    }
    assert_eq!(sync(&vol)["uploaded"], 2);
    let acknowledged = receipts(&vol);
    let vol2 = member(Role::Volunteer, "Ines Vogel");
    vol2.cmd(&["enrol", &invite("volunteer", "Ines Vogel")]).ok();
    sync(&vol2);
    assert_eq!(sync(&inv)["content_fetched"], 2);

    let info: Value = serde_json::from_slice(&std::fs::read(dir.join("serve.json")).unwrap()).unwrap();
    let cert = info["cert_fp"].as_str().unwrap().to_string();
    let agency_id: Uuid =
        str_field(&admin(&own, &boss, &["agency", "show", "--dir", s(&dir), "--json"]).ok().json(), "agency_id").parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let at = Pinned { url: replica.url.clone(), cert, agency: agency_id, rt };
    let health = || at.rt.block_on(casebridge_sync::health(&at.url, &at.cert)).map(|h| h.status);
    let feed = |p: &Profile| request(p, &at, |h| Box::pin(h.feed(0, 10)));

    eprintln!("outage: before the outages done at {:?}", started.elapsed());
    // ---- PostgreSQL stops (fast shutdown: open connections are cut) ----
    own.stop_postgres();
    let photo = vol.random_file("during-db-outage.jpg", 300_000, 10);
    vol.cmd(&["submit", &brief, s(&photo)]).ok();
    // A request is answered 503 `unavailable` (with Retry-After), not a 500 and not a hang;
    // the replica process is alive and answers what needs no storage.
    let asked = Instant::now();
    assert_eq!(feed(&vol), (503, "unavailable".to_string()), "the feed while the database is down");
    let waited = asked.elapsed();
    eprintln!("outage: a request while the database is down was answered 503 after {waited:?}");
    assert!(waited < Duration::from_secs(20), "the 503 came after {waited:?}");
    assert_eq!(health().unwrap(), "ok", "the replica stays up while its database is down\n{}", replica.log());
    // A sync begun while the database is down meets 503s and retries; PostgreSQL starts
    // again under the same replica (not restarted), and the same sync completes.
    let unavailable = || replica.log().matches("storage unavailable").count();
    let seen = unavailable();
    let out = std::thread::scope(|scope| {
        let syncing = scope.spawn(|| vol.cmd(&["sync", "--json"]));
        let deadline = Instant::now() + Duration::from_secs(120);
        while unavailable() < seen + 2 {
            assert!(Instant::now() < deadline && !syncing.is_finished(), "the sync met no 503 while the database was down");
            std::thread::sleep(Duration::from_millis(50));
        }
        own.start_postgres();
        syncing.join().unwrap()
    });
    out.ok();
    assert_retried_on_503(&out, "the database was down");
    let r: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(r["uploaded"], 1, "the bundle submitted during the outage went up once the database was back\n{r}\n{}", replica.log());
    assert_eq!(feed(&vol), (200, String::new()));
    let after_db = receipts(&vol);
    assert_eq!(after_db.len(), acknowledged.len() + 1, "{after_db:?}");
    assert!(acknowledged.iter().all(|id| after_db.contains(id)), "every receipt acknowledged before is kept");
    assert_eq!(sync(&inv)["content_fetched"], 1);
    check_clean(&own, &boss, &dir);

    eprintln!("outage: the database outage done at {:?}", started.elapsed());
    // ---- the object store stops in the middle of a large upload ----
    // A second volunteer's bundle has every byte on the endpoint but is not completed yet.
    let photo = vol2.random_file("photo.jpg", 300_000, 12);
    vol2.cmd(&["submit", &brief, s(&photo)]).ok();
    let (waiting, bytes) = outbox_bundle(&vol2);
    let size2 = bytes.len() as u64;
    let upload = call(&vol2, &at, |h| {
        Box::pin(async move {
            let begun = h.begin(UploadBegin { bundle_id: waiting, size: size2 }).await?;
            let state = h.put(begun.upload_id, 0, bytes.into()).await?;
            assert_eq!((state.received, state.complete), (size2, false), "every byte is on the endpoint");
            Ok(begun.upload_id)
        })
    })
    .unwrap();
    let size = 40_000_000u64;
    let video = vol.random_file("video.mp4", size, 11);
    vol.cmd(&["submit", &brief, s(&video)]).ok();
    // Slowed, so that the store goes away in the middle of the upload. Chunks are 4 MiB, then
    // 8 MiB once one went through: 20 MB in, at least 12.6 MB (two chunks) are stored, so the
    // upload resumed later sends under 28 MB of 40.
    proxy.set_default(Faults { cut_after: None, delay: Duration::from_millis(5) });
    let (before, _) = proxy.bytes();
    let (out, at_stop) = std::thread::scope(|scope| {
        let syncing = scope.spawn(|| vol.cmd(&["sync", "--json"]));
        let deadline = Instant::now() + Duration::from_secs(120);
        while proxy.bytes().0 - before < 20_000_000 {
            assert!(Instant::now() < deadline && !syncing.is_finished(), "the upload did not get 20 MB in");
            std::thread::sleep(Duration::from_millis(20));
        }
        own.stop_objects();
        let at_stop = proxy.bytes().0 - before;
        (syncing.join().unwrap(), at_stop)
    });
    proxy.set_default(Faults::default());
    // The bucket stays down longer than a sync retries: this one gives up, saying why, and
    // the bundle stays in the outbox.
    assert!(!out.success(), "{out}");
    assert_retried_on_503(&out, "the object store was down");
    assert!(at_stop < size, "the store stopped mid-upload ({at_stop} of {size} bytes sent)");
    // Reading content is 503 too (the investigator's fetch of a photo acknowledged before).
    // Postmortem: this was 404 `not_found`, which a sync does not retry: the store's
    // has_content took the bucket's failure for "not held" (now Store::content_held).
    let list = inv.json(&["review", "list", "--json"]);
    let sha = list[0]["items"][0]["sha256"].as_str().unwrap().to_string();
    let content = |p: &Profile| {
        let sha = sha.clone();
        request(p, &at, |h| {
            Box::pin(async move {
                let mut sink = Vec::new();
                h.content(&sha, &mut sink).await
            })
        })
    };
    assert_eq!(content(&inv), (503, "unavailable".to_string()), "content while the bucket is down");
    // Completing the bundle whose bytes are all there (it reads them from the bucket) is 503.
    // Postmortem: this was 500 `internal` (reading the parts failed as an I/O error).
    assert_eq!(
        request(&vol2, &at, |h| Box::pin(h.complete(upload))),
        (503, "unavailable".to_string()),
        "completing an upload while the bucket is down\n{}",
        replica.log()
    );
    assert_eq!(health().unwrap(), "ok", "the replica stays up while its bucket is down\n{}", replica.log());

    eprintln!("outage: the object store outage done at {:?}", started.elapsed());
    // ---- the object store starts again: the upload resumes where it stopped ----
    own.start_objects();
    let (before, _) = proxy.bytes();
    let r = sync(&vol);
    assert_eq!(r["uploaded"], 1, "{r}\n{}", replica.log());
    let sent = proxy.bytes().0 - before;
    eprintln!("outage: the object store was stopped {at_stop} bytes into the upload; {sent} bytes were sent after its restart");
    assert!(sent < size - 8_000_000, "the upload resumed ({sent} bytes sent after the restart for a {size}-byte bundle)");
    assert_eq!(content(&inv), (200, String::new()));
    // The second volunteer's sync completes the waiting bundle without sending it again.
    let (before, _) = proxy.bytes();
    assert_eq!(sync(&vol2)["uploaded"], 1);
    assert!(proxy.bytes().0 - before < size2, "the waiting bundle was not sent again");
    assert_eq!(receipts(&vol2), vec![waiting.to_string()]);

    eprintln!("outage: the object store restart done at {:?}", started.elapsed());
    // Nothing acknowledged was lost, nothing recorded twice: five bundles, five receipts, each
    // once; the investigator has every item and each verifies; the agency checks clean with
    // every object re-hashed; every member is still issued.
    let all = receipts(&vol);
    assert_eq!(all.len(), acknowledged.len() + 2, "{all:?}");
    assert!(after_db.iter().all(|id| all.contains(id)));
    assert_eq!(sync(&inv)["content_fetched"], 2);
    let list = inv.json(&["review", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 5, "five submissions, none twice\n{list}");
    for sub in list.as_array().unwrap() {
        for item in sub["items"].as_array().unwrap() {
            inv.cmd(&["evidence", "verify", item["evidence_id"].as_str().unwrap()]).ok();
        }
    }
    let v = check_clean(&own, &boss, &dir);
    assert!(v["receipts"].as_u64().unwrap() >= 5, "{v}");
    let issued = admin(&own, &boss, &["agency", "issued", "--dir", s(&dir), "--json"]);
    issued.ok();
    let issued = issued.json();
    assert_eq!(issued.as_array().unwrap().len(), 3, "{issued}");
    for c in issued.as_array().unwrap() {
        assert_eq!(c["status"], "valid", "{issued}");
    }
    assert!(!replica.log().contains("panicked"), "{}", replica.log());
    drop(proxy);
    replica.stop();
    eprintln!("outage test took {:?}", started.elapsed());
}
