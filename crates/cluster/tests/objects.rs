//! S3Objects against a real S3 server (SeaweedFS from scripts/services): a store whose
//! objects live in a bucket, what the bucket then holds, the failures an operator meets, the
//! threads it is called from, and upload parts.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use casebridge_cluster::objects::{ObjectsError, S3Config, S3Objects};
use casebridge_core::{EvidenceOptions, KdfParams, NewCase, ObjectBackend, Passphrase, Role, Store};
use casebridge_testkit::services::{create_bucket, fresh_bucket, services};
use uuid::Uuid;

const PASS: &str = "correct horse battery staple";

fn config() -> S3Config {
    let s = services();
    S3Config::new(Some(s.s3_endpoint.clone()), s.s3_access_key.clone(), s.s3_secret_key.clone(), Some("us-east-1".into()))
}

/// A new bucket and S3Objects on it under `prefix`.
fn bucket(prefix: &str) -> (String, S3Objects) {
    let bucket = fresh_bucket();
    create_bucket(&bucket);
    let s3 = S3Objects::new(&format!("s3://{bucket}/{prefix}"), &config()).unwrap();
    s3.check().unwrap();
    (bucket, s3)
}

/// Plaintext that would be recognised: a phrase repeated, with a counter.
fn telltale(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("WITNESS-ANNA-KARLSSON-{i:08} ").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn read_all(s3: &S3Objects, name: &str) -> Vec<u8> {
    let (len, mut r) = s3.open(name).unwrap().unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out.len() as u64, len);
    out
}

#[test]
fn a_store_in_a_bucket_keeps_only_sealed_objects_under_keyed_names() {
    let (_bucket, s3) = bucket("agency-a");
    let s3 = Arc::new(s3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut store =
        Store::create_with(&dir, &Passphrase::new(PASS), "Agency", Role::Investigator, KdfParams::INSECURE_FOR_TESTS, s3.clone()).unwrap();
    let case = store.create_case(NewCase { title: "bucket case".into(), ..Default::default() }).unwrap();

    // One small object (one request) and one past SINGLE_PUT_MAX (a multipart upload).
    let small = telltale(200_000);
    let large = telltale(casebridge_cluster::objects::SINGLE_PUT_MAX as usize * 2 + 12_345);
    let mut ids = Vec::new();
    for (name, data) in [("small.txt", &small), ("large.txt", &large)] {
        let path = tmp.path().join(name);
        std::fs::write(&path, data).unwrap();
        ids.push(store.add_evidence(case, &path, &EvidenceOptions::default(), &mut |_| true).unwrap());
    }
    // The same content again is held already: nothing new in the bucket.
    let again = tmp.path().join("again.txt");
    std::fs::write(&again, &small).unwrap();
    store.add_evidence(case, &again, &EvidenceOptions::default(), &mut |_| true).unwrap();

    // Read back through the store, which reads the bucket.
    for (added, data) in ids.iter().zip([&small, &large]) {
        let out = tmp.path().join(format!("export-{}", added.id));
        store.export_evidence(added.id, &out, None, &mut |_| true).unwrap();
        assert_eq!(&std::fs::read(&out).unwrap(), data);
    }
    let report = store.check(true, &mut |_| {}).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.objects_checked, 3);
    assert_eq!(report.orphan_objects, 0);
    // Nothing on the local disk but the temp dir, empty.
    assert_eq!(std::fs::read_dir(dir.join(casebridge_core::OBJECTS_DIR)).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dir.join(casebridge_core::TMP_DIR)).unwrap().count(), 0);

    // The bucket: two objects, keyed names, sealed bytes.
    let listed = s3.list().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for data in [&small, &large] {
        let sha = casebridge_core::sha256(data);
        let sha_hex = casebridge_core::to_hex(&sha);
        for o in &listed {
            assert_ne!(o.name, sha_hex);
            let bytes = read_all(&s3, &o.name);
            assert!(!contains(&bytes, b"WITNESS-ANNA-KARLSSON"), "plaintext in object {}", o.name);
            assert!(!contains(&bytes, sha_hex.as_bytes()), "hex hash in object {}", o.name);
            assert!(!contains(&bytes, &sha), "raw hash in object {}", o.name);
        }
    }
    let sizes: Vec<u64> = listed.iter().map(|o| o.size).collect();
    assert!(sizes.iter().any(|s| *s > large.len() as u64), "{sizes:?}");

    // A second replica (its own S3Objects, a copy of the directory) reads the same objects.
    drop(store);
    let copy = tmp.path().join("replica");
    casebridge_testkit::files::copy_dir(&dir, &copy);
    let s3b = S3Objects::new(&format!("s3://{}/agency-a", s3.location().bucket), &config()).unwrap();
    let mut replica = Store::open_with(&copy, &Passphrase::new(PASS), Arc::new(s3b)).unwrap();
    let out = tmp.path().join("from-replica");
    replica.export_evidence(ids[1].id, &out, None, &mut |_| true).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), large);
}

#[test]
fn collection_goes_by_the_later_of_the_object_and_its_refresh() {
    let (_bucket, s3) = bucket("gc");
    let tmp = tempfile::tempdir().unwrap();
    let name = "ab".repeat(32);
    let sealed = tmp.path().join("sealed.partial");
    std::fs::write(&sealed, b"sealed bytes").unwrap();
    assert!(s3.publish(&sealed, &name).unwrap());
    assert!(!sealed.exists(), "the temp file is consumed");
    assert!(s3.exists(&name).unwrap());
    // Publishing the same name again keeps the held object.
    std::fs::write(&sealed, b"another sealing").unwrap();
    assert!(!s3.publish(&sealed, &name).unwrap());
    assert!(!sealed.exists());
    assert_eq!(read_all(&s3, &name), b"sealed bytes");

    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    assert_eq!(s3.remove_if_older(&name, hour_ago).unwrap(), None, "too recent");
    assert!(s3.touch(&name).unwrap());
    assert!(!s3.touch(&"cd".repeat(32)).unwrap(), "not held");
    let later = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(s3.remove_if_older(&name, later).unwrap(), Some(12));
    assert!(!s3.exists(&name).unwrap());
    assert!(s3.open(&name).unwrap().is_none());
    assert!(s3.list().unwrap().is_empty(), "the refresh marker went with the object");

    // Names that are not keyed names never become keys.
    for bad in ["../../etc/passwd", "AB".repeat(32).as_str(), "", "held/x"] {
        assert!(!s3.exists(bad).unwrap());
        assert!(s3.open(bad).is_err());
        std::fs::write(&sealed, b"x").unwrap();
        assert!(s3.publish(&sealed, bad).is_err());
    }
}

/// Crypto-shredding in a bucket (issue 16): every key the content has goes, the sealed object
/// and its refresh marker, whatever their age; a marker left without its object goes too; a
/// shred of nothing held, or of a name that is not a keyed name, deletes nothing else.
#[test]
fn shredding_deletes_the_object_and_its_marker_whatever_their_age() {
    let (bucket, s3) = bucket("shred");
    let tmp = tempfile::tempdir().unwrap();
    let (name, other) = ("ab".repeat(32), "cd".repeat(32));
    for n in [&name, &other] {
        let sealed = tmp.path().join("sealed.partial");
        std::fs::write(&sealed, b"sealed bytes").unwrap();
        assert!(s3.publish(&sealed, n).unwrap());
        assert!(s3.touch(n).unwrap(), "a refresh marker beside it");
    }
    let keys = || casebridge_testkit::services::bucket_keys(&bucket, "shred/");
    assert_eq!(keys().len(), 4, "{:?}", keys());
    assert_eq!(s3.shred(&name).unwrap(), Some(12), "just published, still destroyed");
    assert_eq!(keys(), [format!("shred/held/{other}"), format!("shred/objects/{other}")], "only the other content's keys stay");
    assert_eq!(s3.shred(&name).unwrap(), None, "nothing held any more");
    // A marker whose object is gone (an interrupted removal) is removed by a shred.
    casebridge_testkit::services::s3_put(&bucket, &format!("shred/held/{name}"), b"");
    assert_eq!(s3.shred(&name).unwrap(), None);
    assert_eq!(keys().len(), 2);
    for bad in ["../held/x", "AB".repeat(32).as_str(), ""] {
        assert_eq!(s3.shred(bad).unwrap(), None);
    }
    assert_eq!(keys().len(), 2);
}

#[test]
fn wrong_secret_missing_bucket_and_unreachable_endpoint_each_say_so() {
    let s = services();
    let (bucket, _) = bucket("x");

    let wrong = S3Config::new(Some(s.s3_endpoint.clone()), s.s3_access_key.clone(), "not-the-secret-key-0123".into(), None);
    let err = S3Objects::new(&format!("s3://{bucket}"), &wrong).unwrap().check().unwrap_err();
    assert!(matches!(err, ObjectsError::Credentials { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&s.s3_endpoint) && msg.contains(&bucket) && msg.contains("credentials"), "{msg}");
    assert!(!msg.contains("not-the-secret-key-0123") && !msg.contains(&s.s3_secret_key), "{msg}");

    let missing = fresh_bucket();
    let err = S3Objects::new(&format!("s3://{missing}/p"), &config()).unwrap().check().unwrap_err();
    assert!(matches!(err, ObjectsError::NoBucket { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let nowhere = S3Config::new(Some(endpoint.clone()), s.s3_access_key.clone(), s.s3_secret_key.clone(), None);
    let started = std::time::Instant::now();
    let s3 = S3Objects::new(&format!("s3://{bucket}"), &nowhere).unwrap();
    let err = s3.check().unwrap_err();
    assert!(matches!(err, ObjectsError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&endpoint), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    // Through the store's trait: an error naming the object, never the secret.
    let err = s3.exists(&"ab".repeat(32)).unwrap_err();
    assert!(matches!(err, casebridge_core::Error::ObjectStorage { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&"ab".repeat(32)) && msg.contains("unreachable") && !msg.contains(&s.s3_secret_key), "{msg}");
}

#[test]
fn works_from_plain_threads_and_from_spawn_blocking_and_drops_anywhere() {
    let (_bucket, s3) = bucket("threads");
    let s3 = Arc::new(s3);
    let tmp = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..4u8).map(|i| format!("{i:02x}").repeat(32)).collect();
    std::thread::scope(|sc| {
        for (i, name) in names.iter().enumerate() {
            let s3 = Arc::clone(&s3);
            let path = tmp.path().join(format!("t{i}"));
            sc.spawn(move || {
                std::fs::write(&path, vec![i as u8; 1000 + i]).unwrap();
                assert!(s3.publish(&path, name).unwrap());
                assert_eq!(read_all(&s3, name), vec![i as u8; 1000 + i]);
            });
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let s3 = Arc::clone(&s3);
            let name = name.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                assert_eq!(read_all(&s3, &name), vec![i as u8; 1000 + i]);
                s3.put_part(Uuid::nil(), i as u64, Bytes::from(vec![1u8])).unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // The last handle dropped inside an async task: no panic, no hang.
        let s3 = Arc::try_unwrap(s3).unwrap();
        drop(s3);
    });
}

#[test]
fn upload_parts_are_listed_read_in_order_and_deleted() {
    let (bucket, s3) = bucket("parts");
    let upload = Uuid::new_v4();
    let data = telltale(3000);
    // Out of order, one retried.
    s3.put_part(upload, 1000, Bytes::copy_from_slice(&data[1000..2500])).unwrap();
    s3.put_part(upload, 0, Bytes::copy_from_slice(&data[..1000])).unwrap();
    s3.put_part(upload, 2500, Bytes::from_static(b"wrong")).unwrap();
    s3.put_part(upload, 2500, Bytes::copy_from_slice(&data[2500..])).unwrap();
    assert_eq!(s3.parts(upload).unwrap(), vec![(0, 1000), (1000, 1500), (2500, 500)]);
    // Another replica (its own client) resumes: it sees the same parts.
    let other = S3Objects::new(&format!("s3://{bucket}/parts"), &config()).unwrap();
    let mut got = Vec::new();
    other.read_parts(upload).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, data);
    // Another upload's parts are its own.
    assert!(s3.parts(Uuid::new_v4()).unwrap().is_empty());

    // A gap is refused, not read across.
    let gappy = Uuid::new_v4();
    s3.put_part(gappy, 0, Bytes::from_static(b"abc")).unwrap();
    s3.put_part(gappy, 10, Bytes::from_static(b"xyz")).unwrap();
    let err = s3.read_parts(gappy).err().unwrap();
    assert!(matches!(err, ObjectsError::Parts { .. }) && err.to_string().contains("gap at byte 3"), "{err}");
    let overlap = Uuid::new_v4();
    s3.put_part(overlap, 0, Bytes::from_static(b"abcdef")).unwrap();
    s3.put_part(overlap, 3, Bytes::from_static(b"xyz")).unwrap();
    let err = s3.read_parts(overlap).err().unwrap();
    assert!(err.to_string().contains("overlap"), "{err}");

    for u in [upload, gappy, overlap] {
        s3.delete_parts(u).unwrap();
        assert!(s3.parts(u).unwrap().is_empty());
    }
    s3.delete_parts(upload).unwrap();
    // Parts never show up as objects.
    assert!(s3.list().unwrap().is_empty());
}
