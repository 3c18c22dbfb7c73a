//! Issue 13, "Quotas and cleanup": a member filling the endpoint's disk. Each attack is a
//! request the honest client never makes (beginning upload after upload, abandoning uploads,
//! bundles refused after their content was stored), answered with its own reason code, next
//! to the honest variant that still works; a full disk is answered 507 and damages nothing.

use std::path::Path;

use casebridge_agency::{GcReport, Limits};
use casebridge_core::{EvidenceOptions, NewCase, Passphrase, Role};
use casebridge_protocol::{UploadBegin, UploadOutcome, UploadState};
use reqwest::StatusCode;
use uuid::Uuid;

use super::{refused, upload};
use crate::harness::*;

const HOUR: i64 = 3600;

fn limits() -> Limits {
    Limits {
        max_open_uploads_per_member: 3,
        max_pending_bytes_per_member: 1 << 20,
        max_bundle_bytes: 2 << 20,
        upload_expiry_secs: HOUR as u64,
        ..Limits::default()
    }
}

async fn begin(env: &Env, token: &str, bundle_id: Uuid, size: u64) -> reqwest::Response {
    env.post("/v1/uploads", token, &UploadBegin { bundle_id, size }).await
}

/// Whether the agency keeps the upload's state record (a file, or a cluster database row).
fn state_kept(env: &Env, id: Uuid) -> bool {
    casebridge_testkit::deployment::upload_state_kept(&env.dir, id)
}

/// Whether the agency keeps received bytes of the upload (a part file, or parts in the bucket).
fn bytes_kept(env: &Env, id: Uuid) -> bool {
    casebridge_testkit::deployment::upload_bytes_kept(&env.dir, id)
}

/// The sealed content objects the agency keeps (files, or keys in the cluster's bucket).
fn objects(env: &Env) -> Vec<String> {
    casebridge_testkit::deployment::object_names(&env.dir)
}

/// After the server stopped: the agency store checks clean (every object read back) and holds
/// no unreferenced object.
fn assert_store_clean(env: &Env) {
    let mut store = casebridge_testkit::deployment::open_store(&env.dir);
    let report = store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.orphan_objects, 0);
}

/// A sealed bundle of a new case with two 300 KiB files, altered near its end: the first
/// file's content verifies and is stored, then the bundle is refused (`seal_damaged`).
fn refused_after_storing(env: &mut Env, inv: &mut Member, name: &str, seed: u64) -> (Uuid, Vec<u8>) {
    let case = inv.store.create_case(NewCase { title: format!("Case {name}"), ..Default::default() }).unwrap();
    for i in 0..2 {
        let file = env.tmp.path().join(format!("{name}-{i}.bin"));
        std::fs::write(&file, noise(300 << 10, seed * 10 + i)).unwrap();
        inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    }
    let (id, mut bytes) = export_case(env, inv, case, false, name);
    let at = bytes.len() - 100;
    bytes[at] ^= 0x40;
    (id, bytes)
}

/// The upload id the endpoint derives for a member's bundle (docs/ENDPOINT.md).
fn upload_id(member: Uuid, bundle: Uuid) -> Uuid {
    let mut m = b"casebridge/v1/upload\x00".to_vec();
    m.extend_from_slice(member.as_bytes());
    m.extend_from_slice(bundle.as_bytes());
    let d = casebridge_core::sha256(&m);
    uuid::Builder::from_random_bytes(d[..16].try_into().unwrap()).into_uuid()
}

/// Beginning upload after upload (never completing) is refused past the member's quotas, each
/// with its own code; resuming one is never refused; other members are not affected; a slot
/// frees when an upload ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beginning_uploads_past_the_quota_is_refused() {
    let mut env = Env::start_with(limits()).await;
    let vol = env.enrol(Role::Volunteer).await;
    let token = env.login(&vol).await;
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let mut begun = Vec::new();
    for id in &ids[..3] {
        begun.push(ok::<UploadState>(begin(&env, &token, *id, 1000).await).await);
    }
    let message = refused(begin(&env, &token, ids[3], 1000).await, StatusCode::TOO_MANY_REQUESTS, "too_many_uploads").await;
    assert!(message.contains("complete them"), "{message}");
    assert!(!state_kept(&env, upload_id(vol.id, ids[3])), "nothing was kept of the refused upload");
    // Resuming is never refused, at the quota or not.
    let again: UploadState = ok(begin(&env, &token, ids[0], 1000).await).await;
    assert_eq!(again.upload_id, begun[0].upload_id);

    // Bytes: one upload alone may declare up to max_bundle_bytes; beside others, the open
    // uploads together at most max_pending_bytes_per_member.
    let other = env.enrol(Role::Volunteer).await;
    let other_token = env.login(&other).await;
    refused(begin(&env, &other_token, Uuid::now_v7(), (2 << 20) + 1).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    ok::<UploadState>(begin(&env, &other_token, Uuid::now_v7(), 1536 << 10).await).await;
    let message = refused(begin(&env, &other_token, Uuid::now_v7(), 1000).await, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
    assert!(message.contains("complete them"), "{message}");

    // An upload that ends (here refused at complete, and discarded) frees its slot.
    let junk = sealed_junk(1000);
    ok::<UploadState>(env.put(&format!("/v1/uploads/{}?offset=0", begun[1].upload_id), &token, junk).await).await;
    refused(complete(&env, &token, begun[1].upload_id).await, StatusCode::UNPROCESSABLE_ENTITY, "seal_damaged").await;
    ok::<UploadState>(begin(&env, &token, ids[3], 1000).await).await;
    refused(begin(&env, &token, Uuid::now_v7(), 1000).await, StatusCode::TOO_MANY_REQUESTS, "too_many_uploads").await;

    // The control: an honest member uploads as before.
    let mut inv = env.enrol(Role::Investigator).await;
    let inv_token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Bike thefts".into(), ..Default::default() }).unwrap();
    let (id, bytes) = export_case(&env, &mut inv, case, false, "honest.cbb");
    assert_eq!(ok::<UploadOutcome>(upload(&env, &inv_token, id, &bytes).await).await.outcome.as_str(), "accepted");
    env.stop().await;
}

/// An upload left without a chunk for upload_expiry_secs expires: a later chunk, status or
/// complete is `404 upload_expired` and its bytes are gone; beginning again starts from zero.
/// The cleanup expires the ones nobody asks about, frees their quota, and removes the records
/// after a while; a completed upload answers its outcome again until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_upload_expires() {
    let mut env = Env::start_with(limits()).await;
    let vol = env.enrol(Role::Volunteer).await;
    let token = env.login(&vol).await;
    let junk = sealed_junk(2000);
    let (b1, b2) = (Uuid::now_v7(), Uuid::now_v7());
    let u1: UploadState = ok(begin(&env, &token, b1, 2000).await).await;
    ok::<UploadState>(env.put(&format!("/v1/uploads/{}?offset=0", u1.upload_id), &token, junk[..1000].to_vec()).await).await;
    let u2: UploadState = ok(begin(&env, &token, b2, 2000).await).await;
    ok::<UploadState>(env.put(&format!("/v1/uploads/{}?offset=0", u2.upload_id), &token, junk[..1000].to_vec()).await).await;
    assert!(bytes_kept(&env, u1.upload_id));

    // Nearly an expiry later the upload still resumes (sessions last less: log in again).
    env.clock.advance(HOUR - 60);
    let token = env.login(&vol).await;
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{}", u1.upload_id), &token).await).await;
    assert_eq!(state.received, 1000);
    env.clock.advance(120);
    let token = env.login(&vol).await;
    let put = env.put(&format!("/v1/uploads/{}?offset=1000", u1.upload_id), &token, junk[1000..].to_vec()).await;
    let message = refused(put, StatusCode::NOT_FOUND, "upload_expired").await;
    assert!(message.contains("begin it again"), "{message}");
    assert!(!bytes_kept(&env, u1.upload_id), "the expired upload's bytes are removed");
    refused(env.get(&format!("/v1/uploads/{}", u1.upload_id), &token).await, StatusCode::NOT_FOUND, "upload_expired").await;
    refused(complete(&env, &token, u1.upload_id).await, StatusCode::NOT_FOUND, "upload_expired").await;
    let fresh: UploadState = ok(begin(&env, &token, b1, 2000).await).await;
    assert_eq!((fresh.upload_id, fresh.received), (u1.upload_id, 0));

    // The other one nobody asked about: it no longer counts against the quota, and the
    // cleanup removes its bytes.
    for _ in 0..2 {
        ok::<UploadState>(begin(&env, &token, Uuid::now_v7(), 1000).await).await;
    }
    let report = gc(&env).await;
    assert_eq!((report.uploads_expired, report.upload_bytes), (1, 1000), "{report:?}");
    assert!(!bytes_kept(&env, u2.upload_id));
    refused(env.get(&format!("/v1/uploads/{}", u2.upload_id), &token).await, StatusCode::NOT_FOUND, "upload_expired").await;

    // A completed upload answers its outcome again for an expiry after completing; then its
    // record goes (as do tombstones), and beginning again uploads anew: a duplicate of the
    // bundle already held.
    let mut inv = env.enrol(Role::Investigator).await;
    let inv_token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Bike thefts".into(), ..Default::default() }).unwrap();
    let (id, bytes) = export_case(&env, &mut inv, case, false, "honest.cbb");
    let first: UploadOutcome = ok(upload(&env, &inv_token, id, &bytes).await).await;
    let done_id = upload_id(inv.id, id);
    env.clock.advance(HOUR - 60);
    let inv_token = env.login(&inv).await;
    assert_eq!(ok::<UploadOutcome>(complete(&env, &inv_token, done_id).await).await, first);
    env.clock.advance(120);
    let inv_token = env.login(&inv).await;
    let report = gc(&env).await;
    assert!(report.records_removed >= 2, "the completed record and u2's tombstone: {report:?}");
    assert!(!state_kept(&env, done_id) && !state_kept(&env, u2.upload_id));
    refused(complete(&env, &inv_token, done_id).await, StatusCode::NOT_FOUND, "not_found").await;
    let again: UploadOutcome = ok(upload(&env, &inv_token, id, &bytes).await).await;
    assert_eq!((again.outcome.as_str(), again.bundle_id), ("duplicate", first.bundle_id));
    env.stop().await;
    assert_store_clean(&env);
}

/// Content stored while a bundle was verified, then refused, is named by no event: the
/// cleanup removes it once older than upload_expiry_secs (never sooner: an upload may be about
/// to name it), keeps every object an event names, and the store checks clean. The same
/// without a running endpoint (`casebridge agency gc`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_of_refused_bundles_is_collected() {
    let mut env = Env::start_with(limits()).await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Kept".into(), ..Default::default() }).unwrap();
    let kept = env.tmp.path().join("kept.bin");
    let kept_content = noise(5000, 99);
    std::fs::write(&kept, &kept_content).unwrap();
    inv.store.add_evidence(case, &kept, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let (id, bytes) = export_case(&env, &mut inv, case, false, "kept.cbb");
    assert_eq!(ok::<UploadOutcome>(upload(&env, &token, id, &bytes).await).await.outcome.as_str(), "accepted");
    let held = objects(&env).len();

    let (id, bytes) = refused_after_storing(&mut env, &mut inv, "refused1.cbb", 1);
    refused(upload(&env, &token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "seal_damaged").await;
    let orphans = objects(&env).len() - held;
    assert!(orphans >= 1, "the refused bundle's first file was stored before the refusal");

    // Young: kept.
    let report = gc(&env).await;
    assert_eq!((report.orphan_objects, report.orphans_kept), (0, orphans), "{report:?}");
    // Older than upload_expiry_secs: removed; what events name stays.
    env.clock.advance(HOUR + 1);
    let report = gc(&env).await;
    assert_eq!(report.orphan_objects, orphans, "{report:?}");
    assert!(report.orphan_bytes > 300 << 10, "{report:?}");
    assert_eq!(objects(&env).len(), held);
    let token = env.login(&inv).await;
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(&kept_content));
    let got = env.get(&format!("/v1/content/{sha}"), &token).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), kept_content.as_slice());

    if is_cluster() {
        // The offline half ages object files by their modification time; a bucket's objects
        // cannot be aged from outside, and `agency gc` without a replica runs the same
        // cleanup as the one above.
        env.stop().await;
        assert_store_clean(&env);
        return;
    }
    // Without an endpoint: another refused bundle's content, made old, is removed offline.
    let (id, bytes) = refused_after_storing(&mut env, &mut inv, "refused2.cbb", 2);
    refused(upload(&env, &token, id, &bytes).await, StatusCode::UNPROCESSABLE_ENTITY, "seal_damaged").await;
    let orphans = objects(&env).len() - held;
    assert!(orphans >= 1);
    env.stop().await;
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * HOUR as u64);
    for f in objects(&env) {
        std::fs::File::open(f).unwrap().set_modified(old).unwrap();
    }
    let report = casebridge_agency::collect_offline(&env.dir, &Passphrase::new(AGENCY_PASS), limits()).unwrap();
    assert_eq!(report.orphan_objects, orphans, "{report:?}");
    assert_eq!(objects(&env).len(), held);
    assert_store_clean(&env);
}

/// A full disk (here: the upload state written to /dev/full, which answers every write with
/// ENOSPC) is `507 insufficient_storage`; nothing already received is lost or miscounted, and
/// once there is room the upload resumes and completes, the store checking clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_and_damages_nothing() {
    if is_cluster() {
        eprintln!("embedded only: a cluster agency keeps upload state in PostgreSQL, not in the directory's files");
        return;
    }
    let mut env = Env::start_with(limits()).await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Disk full".into(), ..Default::default() }).unwrap();
    let file = env.tmp.path().join("evidence.bin");
    std::fs::write(&file, noise(200 << 10, 7)).unwrap();
    inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let (bundle, bytes) = export_case(&env, &mut inv, case, false, "full.cbb");
    let id = upload_id(inv.id, bundle);
    // write_atomic writes `.ID.state.new` and renames it: make that file /dev/full.
    let staging = env.dir.join(casebridge_agency::UPLOADS_DIR).join(format!(".{id}.state.new"));
    let disk_full = || std::os::unix::fs::symlink("/dev/full", &staging).unwrap();
    let room = || std::fs::remove_file(&staging).unwrap();
    let size = bytes.len() as u64;

    disk_full();
    let message = refused(begin(&env, &token, bundle, size).await, StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage").await;
    assert!(message.contains("try again later"), "{message}");
    assert!(!state_kept(&env, id));
    room();
    let begun: UploadState = ok(begin(&env, &token, bundle, size).await).await;
    let half = bytes.len() / 2;
    ok::<UploadState>(env.put(&format!("/v1/uploads/{id}?offset=0"), &token, bytes[..half].to_vec()).await).await;

    disk_full();
    let put = env.put(&format!("/v1/uploads/{id}?offset={half}"), &token, bytes[half..].to_vec()).await;
    refused(put, StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage").await;
    room();
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{}", begun.upload_id), &token).await).await;
    assert_eq!(state.received, half as u64, "the refused chunk counts for nothing");
    ok::<UploadState>(env.put(&format!("/v1/uploads/{id}?offset={half}"), &token, bytes[half..].to_vec()).await).await;
    let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    env.stop().await;
    assert_store_clean(&env);
}

/// The cleanup report is plain data for `casebridge agency gc --json`.
#[test]
fn the_report_is_json() {
    let v = serde_json::to_value(GcReport::default()).unwrap();
    for key in ["uploads_expired", "upload_bytes", "records_removed", "orphan_objects", "orphan_bytes", "orphans_kept"] {
        assert!(v.get(key).is_some(), "{key}");
    }
}

/// A small tmpfs mounted for one test, unmounted when dropped. `None` where mounting is not
/// permitted (not root, or no CAP_SYS_ADMIN in a container).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk but for `free` bytes with a file `filler`.
    fn fill(&self, free: u64) {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let block = vec![0u8; 1 << 20];
        while f.write_all(&block).is_ok() {}
        let len = std::fs::metadata(&path).unwrap().len();
        f.set_len(len.saturating_sub(free)).unwrap();
    }

    fn make_room(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A disk that really fills up while a complete stores the bundle's content (ENOSPC from the
/// kernel, through the bundle reader and the store): 507 `insufficient_storage`, the upload
/// kept; once there is room, completing again records it and the store checks clean. Needs a
/// small tmpfs, so root: skipped (with a note) where mounting is not permitted; the /dev/full
/// test above covers the 507 path everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_during_complete_is_507_and_damages_nothing() {
    let Some(disk) = SmallDisk::mount("48m") else {
        eprintln!("skipped: mounting a small tmpfs is not permitted here (needs root); a_full_disk_is_507_and_damages_nothing covers 507");
        return;
    };
    let mut env = Env::start_at(tempfile::tempdir().unwrap(), disk.path().join("agency"), limits()).await;
    let mut inv = env.enrol(Role::Investigator).await;
    let token = env.login(&inv).await;
    let case = inv.store.create_case(NewCase { title: "Disk full".into(), ..Default::default() }).unwrap();
    let file = env.tmp.path().join("evidence.bin");
    std::fs::write(&file, noise(1536 << 10, 11)).unwrap();
    inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let (bundle, bytes) = export_case(&env, &mut inv, case, false, "full.cbb");
    let begun: UploadState = ok(begin(&env, &token, bundle, bytes.len() as u64).await).await;
    let id = begun.upload_id;
    ok::<UploadState>(env.put(&format!("/v1/uploads/{id}?offset=0"), &token, bytes.clone()).await).await;

    // Room for small writes, not for the content.
    disk.fill(256 << 10);
    let message = refused(complete(&env, &token, id).await, StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage").await;
    assert!(message.contains("try again later"), "{message}");
    let state: UploadState = ok(env.get(&format!("/v1/uploads/{id}"), &token).await).await;
    assert_eq!((state.received, state.complete), (bytes.len() as u64, false), "the upload is kept");
    disk.make_room();
    let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    env.stop().await;
    assert_store_clean(&env);
}

/// Content a verification in progress has stored is named by no event yet: however old the
/// cleanup's clock says it is, the cleanup spares it while that upload is being verified, and
/// the upload completes with its content whole. (A large bundle is verified while it arrives:
/// its content is stored long before `complete`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_of_an_upload_being_verified_is_never_collected() {
    let mut env = Env::start_with(Limits { max_bundle_bytes: 64 << 20, max_pending_bytes_per_member: 64 << 20, ..limits() }).await;
    let mut inv = env.enrol(Role::Investigator).await;
    let case = inv.store.create_case(NewCase { title: "Large".into(), ..Default::default() }).unwrap();
    let file = env.tmp.path().join("large.bin");
    let content = noise(20 << 20, 5);
    std::fs::write(&file, &content).unwrap();
    inv.store.add_evidence(case, &file, &EvidenceOptions::default(), &mut |_| true).unwrap();
    let (bundle, bytes) = export_case(&env, &mut inv, case, false, "large.cbb");
    let token = env.login(&inv).await;
    let begun: UploadState = ok(begin(&env, &token, bundle, bytes.len() as u64).await).await;
    let id = begun.upload_id;
    let put = |token: String, from: usize, to: usize| {
        let (env, bytes) = (&env, &bytes);
        async move {
            let mut at = from;
            while at < to {
                let end = (at + (4 << 20)).min(to);
                ok::<UploadState>(env.put(&format!("/v1/uploads/{id}?offset={at}"), &token, bytes[at..end].to_vec()).await).await;
                at = end;
            }
        }
    };
    let half = bytes.len() / 2;
    put(token, 0, half).await;
    // Chunks keep coming (within the expiry of each other), while the clock moves on.
    env.clock.advance(HOUR - 600);
    let token = env.login(&inv).await;
    put(token, half, bytes.len()).await;
    if is_cluster() {
        // A cluster does not verify while the upload arrives (replicas share no verifier): it
        // falls back to verifying at complete, so nothing is stored before, nothing is
        // collected, and complete stores the content whole.
        assert!(objects(&env).is_empty(), "a cluster stores no content before complete");
        env.clock.advance(HOUR - 600);
        let report = gc(&env).await;
        assert_eq!((report.orphan_objects, report.uploads_expired), (0, 0), "{report:?}");
        assert!(bytes_kept(&env, id), "the cleanup keeps the parts of an upload in progress");
        let token = env.login(&inv).await;
        let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
        assert_eq!(done.outcome.as_str(), "accepted");
        assert_eq!(objects(&env).len(), 1);
        env.stop().await;
        assert_store_clean(&env);
        return;
    }
    let mut waited = 0;
    while objects(&env).is_empty() && waited < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(objects(&env).len(), 1, "the early verifier stored the content before complete");
    env.clock.advance(HOUR - 600);
    let report = gc(&env).await;
    assert_eq!((report.orphan_objects, report.orphans_kept, report.uploads_expired), (0, 1, 0), "{report:?}");
    let token = env.login(&inv).await;
    let done: UploadOutcome = ok(complete(&env, &token, id).await).await;
    assert_eq!(done.outcome.as_str(), "accepted");
    let sha = casebridge_core::to_hex(&casebridge_core::sha256(&content));
    let got = env.get(&format!("/v1/content/{sha}"), &token).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert!(got.bytes().await.unwrap().as_ref() == content.as_slice(), "the content comes back whole");
    env.stop().await;
    assert_store_clean(&env);
}
