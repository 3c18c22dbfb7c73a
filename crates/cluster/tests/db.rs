//! The cluster agency's PostgreSQL layer against a real PostgreSQL (crates/testkit's
//! `services`), each test on its own fresh database. The concurrency tests run on a
//! multi-thread runtime with separate pools (one per simulated replica), so the database, not
//! a process, is what serialises them.
//!
//! Sections: connecting and migrating; the journal; credentials, revocation, receipts,
//! invites, sessions and challenges; limits; uploads.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use casebridge_cluster::db::{redacted, Begun, Db, DbError, Quota, Upload};
use casebridge_testkit::services::{fresh_database, psql, services};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A fresh database, migrated: (its URL, a pool on it).
async fn db() -> (String, Db) {
    let url = fresh_database();
    let db = Db::open(&url).await.unwrap();
    (url, db)
}

/// `n` pools on the same database: `n` replicas.
async fn replicas(url: &str, n: usize, connections: u32) -> Vec<Db> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Db::connect_with(url, connections).await.unwrap());
    }
    out
}

fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// The superuser URL with another password, user or database.
fn with(url: &str, f: impl FnOnce(&mut url::Url)) -> String {
    let mut u = url::Url::parse(url).unwrap();
    f(&mut u);
    u.to_string()
}

// ---------------------------------------------------------------- connecting and migrating

mod connecting {
    use super::*;

    #[tokio::test]
    async fn a_wrong_password_is_named_and_never_shown() {
        let url = with(&services().database_url, |u| u.set_password(Some("wrong-Pa55word-xyz")).unwrap());
        let err = Db::connect(&url).await.unwrap_err();
        assert!(matches!(&err, DbError::Auth { user } if user == "casebridge"), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("wrong-Pa55word-xyz"), "{shown}");
        assert!(shown.contains("refused user casebridge"), "{shown}");
    }

    #[tokio::test]
    async fn a_wrong_user_is_an_auth_refusal() {
        let url = with(&services().database_url, |u| u.set_username("nobody-here").unwrap());
        let err = Db::connect(&url).await.unwrap_err();
        assert!(matches!(&err, DbError::Auth { user } if user == "nobody-here"), "{err:?}");
    }

    #[tokio::test]
    async fn an_unreachable_port_is_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = with(&services().database_url, |u| u.set_port(Some(port)).unwrap());
        let started = std::time::Instant::now();
        let err = Db::connect(&url).await.unwrap_err();
        assert!(matches!(&err, DbError::Unreachable { host_port } if *host_port == format!("127.0.0.1:{port}")), "{err:?}");
        // Refused at once, not after a pool's retry timeout.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(!format!("{err} {err:?}").contains("casebridge-test"), "the password leaked: {err:?}");
    }

    #[tokio::test]
    async fn a_missing_database_is_named() {
        let url = with(&services().database_url, |u| u.set_path("/no_such_casebridge_db"));
        let err = Db::connect(&url).await.unwrap_err();
        assert!(matches!(&err, DbError::NoDatabase { name } if name == "no_such_casebridge_db"), "{err:?}");
        assert!(err.to_string().contains("no database no_such_casebridge_db"), "{err}");
    }

    #[tokio::test]
    async fn a_url_that_is_not_postgres_is_refused_without_its_password() {
        for bad in ["postgres://u:s3cretpw@[::1/db", "this is s3cretpw not a url", "postgres://u:s3cretpw@h:notaport/db"] {
            let err = Db::connect(bad).await.unwrap_err();
            assert!(matches!(err, DbError::BadUrl { .. }), "{bad}: {err:?}");
            assert!(!format!("{err} {err:?}").contains("s3cretpw"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn redacted_replaces_the_password() {
        let url = &services().database_url;
        let shown = redacted(url);
        assert!(!shown.contains("casebridge-test@"), "{shown}");
        assert!(shown.contains(":***@127.0.0.1"), "{shown}");
    }

    #[tokio::test]
    async fn migrating_twice_and_at_once_is_harmless() {
        let url = fresh_database();
        let dbs = replicas(&url, 4, 2).await;
        let runs = futures_util::future::join_all(dbs.iter().map(|d| d.migrate())).await;
        for r in runs {
            r.unwrap();
        }
        dbs[0].migrate().await.unwrap();
        // Each migration of this build applied once, however many replicas migrated at once.
        let known = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
        let applied = psql(&url, "SELECT count(*) FROM _sqlx_migrations");
        assert_eq!(applied.trim(), known.to_string());
        assert_eq!(psql(&url, "SELECT max(version) FROM _sqlx_migrations").trim(), Db::schema_version().to_string());
    }

    #[tokio::test]
    async fn a_database_migrated_by_a_newer_version_is_refused() {
        let (url, _db) = db().await;
        psql(
            &url,
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (20990101000000, 'from the future', true, '\\x00', 0)",
        );
        let db = Db::connect(&url).await.unwrap();
        let err = db.migrate().await.unwrap_err();
        assert!(matches!(err, DbError::NewerSchema { version: 20990101000000 }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the database was migrated by a newer version of Casebridge (migration 20990101000000); upgrade this replica"
        );
        let err = Db::open(&url).await.unwrap_err();
        assert!(matches!(err, DbError::NewerSchema { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_second_init_is_refused_and_changes_nothing() {
        let (_url, db) = db().await;
        assert_eq!(db.agency().await.unwrap(), None);
        let first = Uuid::new_v4();
        db.init_agency(first, "fp-1", b"header-1").await.unwrap();
        let err = db.init_agency(Uuid::new_v4(), "fp-2", b"header-2").await.unwrap_err();
        assert!(matches!(err, DbError::AlreadyInitialised { agency } if agency == first), "{err:?}");
        assert_eq!(err.to_string(), format!("this database already holds agency {first}"));
        // The same agency again is refused too: init never lands on existing state.
        assert!(matches!(db.init_agency(first, "fp-1", b"header-1").await, Err(DbError::AlreadyInitialised { .. })));
        let row = db.agency().await.unwrap().unwrap();
        assert_eq!((row.id, row.root_fingerprint.as_str(), row.header.as_slice()), (first, "fp-1", &b"header-1"[..]));
        db.set_agency_header(b"header-1b").await.unwrap();
        assert_eq!(db.agency().await.unwrap().unwrap().header, b"header-1b");
    }

    #[tokio::test]
    async fn two_replicas_initialising_at_once_one_wins() {
        let url = fresh_database();
        let dbs = replicas(&url, 2, 1).await;
        dbs[0].migrate().await.unwrap();
        let (a, b) = tokio::join!(dbs[0].init_agency(Uuid::new_v4(), "a", b"a"), dbs[1].init_agency(Uuid::new_v4(), "b", b"b"));
        assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
        assert!(matches!(a.or(b), Ok(())));
    }

    /// What the database can hold in the clear: every column that is not bytea (sealed
    /// records, keyed digests), an id, a number or a time is listed here, and a new one fails
    /// this test until someone decides it holds no case data, name or content hash.
    #[tokio::test]
    async fn only_reviewed_columns_hold_anything_but_sealed_bytes() {
        let (url, _db) = db().await;
        let clear = psql(
            &url,
            "SELECT table_name || '.' || column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
             AND data_type NOT IN ('bytea', 'uuid', 'bigint', 'boolean', 'double precision', 'timestamp with time zone') \
             ORDER BY 1",
        );
        // The root key's fingerprint (public, what a replica's keys must match), the agency
        // records' names (the embedded agency's file names: a folder and an id, e.g.
        // `receipts/BUNDLE.json`) and an upload's state word (receiving, completing).
        assert_eq!(clear.lines().collect::<Vec<_>>(), ["agency.root_fingerprint", "agency_records.name", "uploads.state"]);
    }

    #[tokio::test]
    async fn header_before_init_is_not_found() {
        let (_url, db) = db().await;
        assert!(matches!(db.set_agency_header(b"h").await, Err(DbError::NotFound { .. })));
    }
}

// ---------------------------------------------------------------- the journal

mod journal {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appenders_give_one_gap_free_chain() {
        let url = fresh_database();
        let dbs = replicas(&url, 3, 4).await;
        dbs[0].migrate().await.unwrap();
        const TASKS: usize = 12;
        const EACH: usize = 8;
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let db = dbs[t % dbs.len()].clone();
            handles.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let mut lock = db.lock_journal().await.unwrap();
                    let n = lock.next_seq().await.unwrap();
                    // Chain onto the tail: the previous record must be the one at n - 1.
                    let prev = if n == 0 { Vec::new() } else { lock.after(n - 1).await.unwrap().pop().unwrap() };
                    assert_eq!(lock.after(n).await.unwrap(), Vec::<Vec<u8>>::new());
                    // Give the others a chance to interleave if the lock did not hold them.
                    tokio::task::yield_now().await;
                    let record = format!("{n}|{t}-{i}|{}", prev.len()).into_bytes();
                    lock.append(n, &[record]).await.unwrap();
                    lock.commit().await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let db = &dbs[1];
        assert_eq!(db.journal_len().await.unwrap(), (TASKS * EACH) as u64);
        let records = db.journal_after(0, 10_000).await.unwrap();
        let mut seen = BTreeSet::new();
        let mut prev_len = 0;
        for (seq, r) in records.iter().enumerate() {
            let text = String::from_utf8(r.clone()).unwrap();
            let parts: Vec<&str> = text.split('|').collect();
            assert_eq!(parts[0], seq.to_string(), "record {seq} was written for another place: {text}");
            assert_eq!(parts[2], prev_len.to_string(), "record {seq} chained onto a stale tail: {text}");
            assert!(seen.insert(parts[1].to_string()), "record {text} twice");
            prev_len = r.len();
        }
        assert_eq!(seen.len(), TASKS * EACH, "a record was lost");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lock_excludes_a_second_appender_until_commit() {
        let (url, db) = db().await;
        let other = Db::connect(&url).await.unwrap();
        let mut lock = db.lock_journal().await.unwrap();
        let waiting = tokio::spawn(async move {
            let mut l = other.lock_journal().await.unwrap();
            let n = l.next_seq().await.unwrap();
            l.append(n, &[b"second".to_vec()]).await.unwrap();
            l.commit().await.unwrap();
            n
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "a second appender got the lock while the first held it");
        lock.append(0, &[b"first".to_vec()]).await.unwrap();
        lock.commit().await.unwrap();
        assert_eq!(tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap(), 1);
        assert_eq!(db.journal_after(0, 10).await.unwrap(), vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_held_too_long_is_a_conflict_for_the_waiter() {
        let (url, db) = db().await;
        let other = Db::connect(&url).await.unwrap();
        let mut lock = db.lock_journal().await.unwrap();
        let started = std::time::Instant::now();
        let err = other.lock_journal_within(Duration::from_millis(300)).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        // The holder is unaffected, and the waiter's pool recovers.
        lock.append(0, &[b"a".to_vec()]).await.unwrap();
        lock.commit().await.unwrap();
        let mut l = other.lock_journal_within(Duration::from_millis(300)).await.unwrap();
        assert_eq!(l.next_seq().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_dropped_lock_leaves_nothing_and_releases() {
        let (_url, db) = db().await;
        let mut lock = db.lock_journal().await.unwrap();
        lock.append(0, &[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]).await.unwrap();
        assert_eq!(lock.next_seq().await.unwrap(), 3, "the lock sees its own appends");
        assert_eq!(db.journal_len().await.unwrap(), 0, "others do not see uncommitted appends");
        drop(lock);
        let mut again = tokio::time::timeout(Duration::from_secs(10), db.lock_journal()).await.expect("the lock was not released").unwrap();
        assert_eq!(again.next_seq().await.unwrap(), 0);
        again.rollback().await.unwrap();
        assert_eq!(db.journal_len().await.unwrap(), 0);
        assert_eq!(db.journal_after(0, 10).await.unwrap(), Vec::<Vec<u8>>::new());
    }

    #[tokio::test]
    async fn an_append_not_at_the_tail_is_refused() {
        let (_url, db) = db().await;
        let mut lock = db.lock_journal().await.unwrap();
        lock.append(0, &[b"0".to_vec(), b"1".to_vec()]).await.unwrap();
        for wrong in [0, 1, 3, u64::MAX] {
            let err = lock.append(wrong, &[b"x".to_vec()]).await.unwrap_err();
            assert!(matches!(err, DbError::Conflict { .. }), "{wrong}: {err:?}");
        }
        lock.append(2, &[]).await.unwrap();
        lock.append(2, &[b"2".to_vec()]).await.unwrap();
        lock.commit().await.unwrap();
        assert_eq!(db.journal_len().await.unwrap(), 3);
        assert_eq!(db.journal_after(1, 1).await.unwrap(), vec![b"1".to_vec()]);
        assert_eq!(db.journal_after(1, 0).await.unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(db.journal_after(5, 10).await.unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(db.journal_after(0, u64::MAX).await.unwrap().len(), 3);
        assert!(matches!(db.journal_after(u64::MAX, 1).await, Err(DbError::Invalid { .. })));
    }

    #[tokio::test]
    async fn receipt_and_upload_change_with_the_append_or_not_at_all() {
        let (_url, db) = db().await;
        let (bundle, upload_id) = (Uuid::new_v4(), Uuid::new_v4());
        db.put_upload(&upload(upload_id, b"m", 10)).await.unwrap();

        let mut lock = db.lock_journal().await.unwrap();
        lock.append(0, &[b"complete".to_vec()]).await.unwrap();
        assert_eq!(lock.insert_receipt(bundle, b"receipt").await.unwrap(), b"receipt");
        assert!(lock.delete_upload(upload_id).await.unwrap());
        drop(lock);
        let mut lock = db.lock_journal().await.unwrap(); // waits for the rollback
        assert_eq!(db.receipt(bundle).await.unwrap(), None);
        assert!(db.upload(upload_id).await.unwrap().is_some());

        lock.append(0, &[b"complete".to_vec()]).await.unwrap();
        lock.insert_receipt(bundle, b"receipt").await.unwrap();
        lock.delete_upload(upload_id).await.unwrap();
        lock.commit().await.unwrap();
        assert_eq!(db.receipt(bundle).await.unwrap().as_deref(), Some(&b"receipt"[..]));
        assert_eq!(db.upload(upload_id).await.unwrap(), None);
        assert_eq!(db.journal_len().await.unwrap(), 1);
    }

    /// The replica's connection dies while it holds the lock (PostgreSQL restarted, the
    /// network cut): its appends are lost, it is told the database is unavailable, and the
    /// next appender gets the lock.
    #[tokio::test]
    async fn a_connection_lost_mid_append_is_unavailable_and_leaves_nothing() {
        let (url, db) = db().await;
        let mut lock = db.lock_journal().await.unwrap();
        lock.append(0, &[b"doomed".to_vec()]).await.unwrap();
        let name = url.rsplit('/').next().unwrap();
        psql(
            &services().database_url,
            &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"),
        );
        let err = lock.commit().await.unwrap_err();
        assert!(matches!(err, DbError::Unavailable), "{err:?}");
        assert_eq!(err.to_string(), "the database is unavailable right now; try again shortly");
        // The pool replaces the dead connection.
        assert_eq!(db.journal_len().await.unwrap(), 0);
        let mut lock = tokio::time::timeout(Duration::from_secs(10), db.lock_journal()).await.unwrap().unwrap();
        lock.append(0, &[b"kept".to_vec()]).await.unwrap();
        lock.commit().await.unwrap();
        assert_eq!(db.journal_after(0, 9).await.unwrap(), vec![b"kept".to_vec()]);
    }
}

// ---------------------------------------------------------------- records

mod records {
    use super::*;

    #[tokio::test]
    async fn issued_credentials_are_listed_and_a_serial_is_recorded_once() {
        let (_url, db) = db().await;
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        db.insert_issued(a, b"cred-a").await.unwrap();
        db.insert_issued(b, b"cred-b").await.unwrap();
        let err = db.insert_issued(a, b"other").await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
        let list = db.list_issued().await.unwrap();
        let got: BTreeSet<(Uuid, Vec<u8>)> = list.into_iter().map(|i| (i.serial, i.sealed)).collect();
        assert_eq!(got, BTreeSet::from([(a, b"cred-a".to_vec()), (b, b"cred-b".to_vec())]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_revocation_list_changes_only_over_the_version_read() {
        let (url, db) = db().await;
        assert_eq!(db.revocation().await.unwrap(), None);
        assert_eq!(db.set_revocation(0, b"v1").await.unwrap(), 1);
        assert!(matches!(db.set_revocation(0, b"again").await, Err(DbError::Conflict { .. })));
        assert!(matches!(db.set_revocation(5, b"future").await, Err(DbError::Conflict { .. })));
        assert_eq!(db.set_revocation(1, b"v2").await.unwrap(), 2);
        let r = db.revocation().await.unwrap().unwrap();
        assert_eq!((r.version, r.doc.as_slice()), (2, &b"v2"[..]));

        // Eight replicas revoking at once over version 2: exactly one wins.
        let dbs = replicas(&url, 8, 1).await;
        let tries = futures_util::future::join_all(dbs.iter().enumerate().map(|(i, d)| {
            let doc = format!("by-{i}").into_bytes();
            async move { d.set_revocation(2, &doc).await }
        }))
        .await;
        let won: Vec<usize> = tries.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
        assert_eq!(won.len(), 1, "{tries:?}");
        assert!(tries.iter().all(|r| matches!(r, Ok(3) | Err(DbError::Conflict { .. }))), "{tries:?}");
        assert_eq!(db.revocation().await.unwrap().unwrap().doc, format!("by-{}", won[0]).into_bytes());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_first_receipt_for_a_bundle_wins_everywhere() {
        let (url, db) = db().await;
        let bundle = Uuid::new_v4();
        assert_eq!(db.receipt(bundle).await.unwrap(), None);
        let dbs = replicas(&url, 8, 1).await;
        let got = futures_util::future::join_all(dbs.iter().enumerate().map(|(i, d)| {
            let doc = format!("receipt-{i}").into_bytes();
            async move { d.insert_receipt(bundle, &doc).await.unwrap() }
        }))
        .await;
        let stored = db.receipt(bundle).await.unwrap().unwrap();
        assert!(got.iter().all(|g| *g == stored), "replicas handed out different receipts: {got:?}");
        assert_eq!(db.insert_receipt(bundle, b"late").await.unwrap(), stored);
        assert_eq!(db.receipt(Uuid::new_v4()).await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_single_use_invite_enrols_exactly_once() {
        let (url, db) = db().await;
        let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
        db.insert_invite(id, b"invite", Some(b"lookup-1")).await.unwrap();
        db.insert_invite(other, b"no-secret", None).await.unwrap();
        db.insert_invite(Uuid::new_v4(), b"no-secret-either", None).await.unwrap();
        assert!(matches!(db.insert_invite(Uuid::new_v4(), b"x", Some(b"lookup-1")).await, Err(DbError::Conflict { .. })));
        assert!(matches!(db.insert_invite(id, b"x", Some(b"lookup-2")).await, Err(DbError::Conflict { .. })));
        let found = db.find_invite(b"lookup-1").await.unwrap().unwrap();
        assert_eq!((found.id, found.sealed.as_slice(), found.used), (id, &b"invite"[..], false));
        assert_eq!(db.find_invite(b"lookup-9").await.unwrap(), None);
        assert_eq!(db.list_invites().await.unwrap().len(), 3);

        let dbs = replicas(&url, 8, 1).await;
        let tries = futures_util::future::join_all(dbs.iter().map(|d| d.mark_invite_used(id))).await;
        assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
        assert!(tries.iter().all(|r| matches!(r, Ok(()) | Err(DbError::Conflict { .. }))), "{tries:?}");
        assert!(db.invite(id).await.unwrap().unwrap().used);
        assert!(!db.invite(other).await.unwrap().unwrap().used);
        assert!(matches!(db.mark_invite_used(Uuid::new_v4()).await, Err(DbError::NotFound { .. })));
        assert!(db.delete_invite(other).await.unwrap());
        assert!(!db.delete_invite(other).await.unwrap());
    }

    #[tokio::test]
    async fn a_session_lives_until_it_expires_or_ends() {
        let (_url, db) = db().await;
        let (a, b) = ([1u8; 32], [2u8; 32]);
        db.insert_session(&a, b"sess-a", t0() + secs(60)).await.unwrap();
        db.insert_session(&b, b"sess-b", t0() + secs(10)).await.unwrap();
        assert!(matches!(db.insert_session(&a, b"again", t0()).await, Err(DbError::Conflict { .. })));
        assert_eq!(db.session(&a, t0()).await.unwrap().as_deref(), Some(&b"sess-a"[..]));
        assert_eq!(db.session(&b, t0() + secs(10)).await.unwrap(), None, "expired at its expiry");
        assert_eq!(db.session(&[3u8; 32], t0()).await.unwrap(), None);
        assert_eq!(db.delete_expired_sessions(t0() + secs(30)).await.unwrap(), 1);
        assert_eq!(db.session(&b, t0()).await.unwrap(), None, "the expired one was deleted");
        assert!(db.delete_session(&a).await.unwrap());
        assert!(!db.delete_session(&a).await.unwrap());
        assert_eq!(db.session(&a, t0()).await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_challenge_is_taken_exactly_once() {
        let (url, db) = db().await;
        let (live, stale) = (Uuid::new_v4(), Uuid::new_v4());
        db.insert_challenge(live, b"nonce", t0() + secs(60)).await.unwrap();
        db.insert_challenge(stale, b"old", t0() - secs(1)).await.unwrap();
        assert!(matches!(db.insert_challenge(live, b"x", t0()).await, Err(DbError::Conflict { .. })));
        let dbs = replicas(&url, 8, 1).await;
        let got = futures_util::future::join_all(dbs.iter().map(|d| d.take_challenge(live, t0()))).await;
        let taken: Vec<Vec<u8>> = got.into_iter().filter_map(|r| r.unwrap()).collect();
        assert_eq!(taken, vec![b"nonce".to_vec()]);
        assert_eq!(db.take_challenge(stale, t0()).await.unwrap(), None, "an expired challenge is not handed out");
        db.insert_challenge(stale, b"old", t0() - secs(1)).await.unwrap();
        assert_eq!(db.delete_expired_challenges(t0()).await.unwrap(), 1);
    }
}

// ---------------------------------------------------------------- limits

mod limits {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn max_failures_within_the_window_lock_for_the_window() {
        let (_url, db) = db().await;
        let key = b"ip-digest-1";
        assert_eq!(db.failure(key, 3, MIN, t0()).await.unwrap(), None);
        assert_eq!(db.failure(key, 3, MIN, t0() + secs(10)).await.unwrap(), None);
        assert_eq!(db.locked(key, t0() + secs(10)).await.unwrap(), None);
        assert_eq!(db.failure(key, 3, MIN, t0() + secs(20)).await.unwrap(), Some(60));
        assert_eq!(db.locked(key, t0() + secs(20)).await.unwrap(), Some(60));
        assert_eq!(db.locked(key, t0() + secs(79)).await.unwrap(), Some(1));
        assert_eq!(db.locked(key, t0() + secs(80)).await.unwrap(), None, "locked for the window, no longer");
        assert_eq!(db.locked(b"another-key", t0() + secs(20)).await.unwrap(), None, "keys are independent");
    }

    #[tokio::test]
    async fn failures_older_than_the_window_do_not_count() {
        let (_url, db) = db().await;
        let key = b"k";
        for at in [0, 40, 80, 120] {
            assert_eq!(db.failure(key, 3, MIN, t0() + secs(at)).await.unwrap(), None, "at {at}");
        }
        db.failure(key, 3, MIN, t0() + secs(130)).await.unwrap().unwrap();
        db.clear_failures(key).await.unwrap();
        assert_eq!(db.locked(key, t0() + secs(131)).await.unwrap(), None);
        assert_eq!(db.failure(key, 3, MIN, t0() + secs(132)).await.unwrap(), None, "cleared failures start over");
    }

    /// Ten replicas failing the same key at once are all counted: with `max` 10 the key is
    /// locked, with `max` 11 it is not (a count that lost a concurrent failure would be 9 or
    /// less and fail the first; one that counted one twice would fail the second).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_failures_are_counted_exactly() {
        let (url, db) = db().await;
        let dbs = replicas(&url, 10, 1).await;
        for (max, key, locked) in [(10, &b"ten"[..], true), (11, &b"eleven"[..], false)] {
            let got = futures_util::future::join_all(dbs.iter().map(|d| d.failure(key, max, MIN, t0()))).await;
            let refusals = got.into_iter().map(|r| r.unwrap()).filter(Option::is_some).count();
            assert_eq!(refusals, usize::from(locked), "max {max}");
            assert_eq!(db.locked(key, t0()).await.unwrap().is_some(), locked, "max {max}");
        }
    }

    #[tokio::test]
    async fn the_token_bucket_refills_at_its_rate() {
        let (_url, db) = db().await;
        let key = b"src";
        for _ in 0..3 {
            assert_eq!(db.take_token(key, 3, t0()).await.unwrap(), None);
        }
        assert_eq!(db.take_token(key, 3, t0()).await.unwrap(), Some(20), "one token every 20 s");
        assert_eq!(db.take_token(key, 3, t0() + secs(10)).await.unwrap(), Some(10));
        assert_eq!(db.take_token(key, 3, t0() + secs(20)).await.unwrap(), None);
        assert_eq!(db.take_token(key, 3, t0() + secs(20)).await.unwrap(), Some(20));
        // A clock behind the last take refills nothing (and does not go negative).
        assert_eq!(db.take_token(key, 3, t0()).await.unwrap(), Some(20));
        // Long idle: full again, never more than full.
        for _ in 0..3 {
            assert_eq!(db.take_token(key, 3, t0() + secs(3600)).await.unwrap(), None);
        }
        assert!(db.take_token(key, 3, t0() + secs(3600)).await.unwrap().is_some());
        assert_eq!(db.take_token(b"other", 3, t0()).await.unwrap(), None, "keys are independent");
        assert_eq!(db.take_token(b"closed", 0, t0()).await.unwrap(), Some(60));
        assert!(db.prune_limits(Duration::from_secs(60), t0() + secs(7200)).await.unwrap() >= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_takes_share_one_bucket() {
        let (url, db) = db().await;
        let dbs = replicas(&url, 10, 2).await;
        let got = futures_util::future::join_all((0..20).map(|i| dbs[i % 10].take_token(b"busy", 5, t0()))).await;
        let granted = got.into_iter().map(|r| r.unwrap()).filter(Option::is_none).count();
        assert_eq!(granted, 5, "a bucket of 5 gave out {granted}");
        assert!(db.take_token(b"busy", 5, t0()).await.unwrap().is_some());
    }
}

// ---------------------------------------------------------------- uploads

fn upload(id: Uuid, member: &[u8], size: u64) -> Upload {
    Upload { id, member: member.to_vec(), sealed: b"state-0".to_vec(), size, received: 0, updated_at: t0(), state: "receiving".into() }
}

mod uploads {
    use super::*;

    #[tokio::test]
    async fn uploads_are_stored_listed_and_counted_per_member() {
        let (_url, db) = db().await;
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        db.put_upload(&upload(a, b"m1", 100)).await.unwrap();
        db.put_upload(&upload(b, b"m1", 50)).await.unwrap();
        db.put_upload(&upload(c, b"m2", 7)).await.unwrap();
        db.advance_upload(a, 0, 30, b"state-1", t0() + secs(1)).await.unwrap();
        let got = db.upload(a).await.unwrap().unwrap();
        assert_eq!((got.received, got.sealed.as_slice(), got.updated_at), (30, &b"state-1"[..], t0() + secs(1)));
        let usage = db.upload_usage(b"m1").await.unwrap();
        assert_eq!((usage.count, usage.size, usage.received), (2, 150, 30));
        assert_eq!(db.upload_usage(b"nobody").await.unwrap().count, 0);
        assert_eq!(db.list_uploads().await.unwrap().len(), 3);
        // Upsert replaces.
        let mut again = upload(c, b"m2", 9);
        again.state = "completing".into();
        db.put_upload(&again).await.unwrap();
        assert_eq!(db.upload(c).await.unwrap().unwrap(), again);
        assert!(db.delete_upload(c).await.unwrap());
        assert!(!db.delete_upload(c).await.unwrap());
        assert_eq!(db.upload(c).await.unwrap(), None);
    }

    #[tokio::test]
    async fn bad_progress_is_refused() {
        let (_url, db) = db().await;
        let id = Uuid::new_v4();
        db.put_upload(&upload(id, b"m", 100)).await.unwrap();
        assert!(matches!(db.advance_upload(id, 0, 101, b"s", t0()).await, Err(DbError::Invalid { .. })));
        assert!(matches!(db.advance_upload(id, 10, 5, b"s", t0()).await, Err(DbError::Invalid { .. })));
        assert!(matches!(db.advance_upload(id, 10, 20, b"s", t0()).await, Err(DbError::Conflict { .. })));
        assert!(matches!(db.advance_upload(Uuid::new_v4(), 0, 1, b"s", t0()).await, Err(DbError::NotFound { .. })));
        assert!(matches!(db.advance_upload(id, 0, u64::MAX, b"s", t0()).await, Err(DbError::Invalid { .. })));
        let mut over = upload(id, b"m", 10);
        over.received = 11;
        assert!(matches!(db.put_upload(&over).await, Err(DbError::Invalid { .. })));
        assert_eq!(db.upload(id).await.unwrap().unwrap().received, 0, "nothing changed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_replicas_cannot_append_the_same_range_or_complete_twice() {
        let (url, db) = db().await;
        let id = Uuid::new_v4();
        db.put_upload(&upload(id, b"m", 1000)).await.unwrap();
        let dbs = replicas(&url, 8, 1).await;
        let tries = futures_util::future::join_all(dbs.iter().enumerate().map(|(i, d)| {
            let sealed = format!("by-{i}").into_bytes();
            async move { d.advance_upload(id, 0, 100, &sealed, t0()).await }
        }))
        .await;
        assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
        assert!(tries.iter().all(|r| matches!(r, Ok(()) | Err(DbError::Conflict { .. }))), "{tries:?}");
        let winner = tries.iter().position(Result::is_ok).unwrap();
        let got = db.upload(id).await.unwrap().unwrap();
        assert_eq!((got.received, got.sealed), (100, format!("by-{winner}").into_bytes()));

        let tries = futures_util::future::join_all(dbs.iter().map(|d| d.set_upload_state(id, "receiving", "completing", t0()))).await;
        assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
        assert_eq!(db.upload(id).await.unwrap().unwrap().state, "completing");
        assert!(matches!(db.set_upload_state(Uuid::new_v4(), "a", "b", t0()).await, Err(DbError::NotFound { .. })));
    }

    const QUOTA: Quota = Quota { max_count: 3, max_size: 1000 };

    /// Quotas: open uploads of the member changed since the cutoff count; other members,
    /// other states and stale ones do not; resuming (the same id) is not a new upload; one
    /// upload alone may be larger than the byte quota.
    #[tokio::test]
    async fn begin_upload_checks_and_counts_the_members_quota() {
        let (_url, db) = db().await;
        let since = t0() - secs(60);
        let mut ids = Vec::new();
        for size in [400, 400, 100] {
            let id = Uuid::new_v4();
            assert_eq!(db.begin_upload(&upload(id, b"m", size), "receiving", since, QUOTA).await.unwrap(), Begun::Recorded);
            ids.push(id);
        }
        let fourth = upload(Uuid::new_v4(), b"m", 1);
        assert!(matches!(db.begin_upload(&fourth, "receiving", since, QUOTA).await.unwrap(), Begun::TooMany(u) if u.count == 3));
        assert_eq!(db.upload(fourth.id).await.unwrap(), None, "nothing recorded of a refused upload");
        // The same id again, still in progress: nothing changes (its progress stays).
        db.advance_upload(ids[0], 0, 10, b"state-10", t0()).await.unwrap();
        assert_eq!(db.begin_upload(&upload(ids[0], b"m", 400), "receiving", since, QUOTA).await.unwrap(), Begun::InProgress);
        assert_eq!(db.upload(ids[0]).await.unwrap().unwrap().received, 10);
        // Bytes: 900 declared; 200 more would pass 1000.
        db.set_upload_state(ids[2], "receiving", "completed", t0()).await.unwrap();
        let big = upload(Uuid::new_v4(), b"m", 201);
        assert!(matches!(db.begin_upload(&big, "receiving", since, QUOTA).await.unwrap(), Begun::OverQuota(u) if u.size == 800));
        // A stale upload (no change since the cutoff) no longer counts.
        let later = t0() + secs(120) - secs(60);
        assert_eq!(db.begin_upload(&big, "receiving", later, QUOTA).await.unwrap(), Begun::Recorded);
        // An id whose row is not in progress (a tombstone) begins again, from zero.
        db.set_upload_state(ids[0], "receiving", "expired", t0()).await.unwrap();
        let again = upload(ids[0], b"m", 400);
        assert_eq!(db.begin_upload(&again, "receiving", later, QUOTA).await.unwrap(), Begun::Recorded);
        assert_eq!(db.upload(ids[0]).await.unwrap().unwrap(), again);
        // Another member is not affected; one upload alone may pass the byte quota.
        assert_eq!(db.begin_upload(&upload(Uuid::new_v4(), b"n", 5000), "receiving", since, QUOTA).await.unwrap(), Begun::Recorded);
    }

    /// Twenty-four uploads begun at once by one member from eight pools (replicas): exactly
    /// the quota's three are recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn uploads_begun_at_once_on_replicas_cannot_pass_the_quota_together() {
        let (url, db) = db().await;
        let dbs = replicas(&url, 8, 2).await;
        let tries = futures_util::future::join_all((0..24).map(|i| {
            let d = &dbs[i % 8];
            async move { d.begin_upload(&upload(Uuid::new_v4(), b"m", 10), "receiving", t0(), QUOTA).await }
        }))
        .await;
        let recorded = tries.iter().filter(|r| matches!(r, Ok(Begun::Recorded))).count();
        assert_eq!(recorded, 3, "{tries:?}");
        assert!(tries.iter().all(|r| matches!(r, Ok(Begun::Recorded | Begun::TooMany(_)))), "{tries:?}");
        assert_eq!(db.list_uploads().await.unwrap().len(), 3);
    }

    /// One upload begun from eight pools at once: one begin records it, the others find it
    /// in progress.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_upload_begun_at_once_on_replicas_is_recorded_once() {
        let (url, db) = db().await;
        let dbs = replicas(&url, 8, 1).await;
        let id = Uuid::new_v4();
        let u = upload(id, b"m", 10);
        let tries = futures_util::future::join_all(dbs.iter().map(|d| d.begin_upload(&u, "receiving", t0(), QUOTA))).await;
        assert_eq!(tries.iter().filter(|r| matches!(r, Ok(Begun::Recorded))).count(), 1, "{tries:?}");
        assert!(tries.iter().all(|r| matches!(r, Ok(Begun::Recorded | Begun::InProgress))), "{tries:?}");
        assert_eq!(db.list_uploads().await.unwrap().len(), 1);
    }

    /// A claim holds the upload's row: a second claim, on any pool, is refused at once; the
    /// holder's advance moves the progress and frees it; a claim released, or refused by its
    /// advance, changes nothing and frees it at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_claimed_upload_is_refused_to_others_until_it_moves() {
        let (url, db) = db().await;
        let other = Db::connect(&url).await.unwrap();
        let id = Uuid::new_v4();
        db.put_upload(&upload(id, b"m", 100)).await.unwrap();
        let hold = Duration::from_secs(30);
        let claim = db.claim_upload(id, hold).await.unwrap();
        assert_eq!(claim.upload().received, 0);
        assert!(matches!(other.claim_upload(id, hold).await, Err(DbError::Conflict { .. })));
        assert!(matches!(db.claim_upload(id, hold).await, Err(DbError::Conflict { .. })), "also on the holder's own pool");
        claim.advance(40, b"state-40", "receiving", t0()).await.unwrap();
        let got = db.upload(id).await.unwrap().unwrap();
        assert_eq!((got.received, got.sealed.as_slice()), (40, &b"state-40"[..]));

        let claim = other.claim_upload(id, hold).await.unwrap();
        assert_eq!(claim.upload().received, 40);
        claim.release().await;
        let claim = db.claim_upload(id, hold).await.unwrap();
        assert!(matches!(claim.advance(30, b"s", "receiving", t0()).await, Err(DbError::Invalid { .. })));
        let claim = db.claim_upload(id, hold).await.unwrap();
        assert!(matches!(claim.advance(101, b"s", "receiving", t0()).await, Err(DbError::Invalid { .. })));
        assert_eq!(db.upload(id).await.unwrap().unwrap().received, 40, "nothing changed");
        assert!(matches!(db.claim_upload(Uuid::new_v4(), hold).await, Err(DbError::NotFound { .. })));
    }

    /// A claim's replace writes every field (an expiry's tombstone, progress back to 0) and
    /// frees the row; a replacement of another upload is refused and changes nothing.
    #[tokio::test]
    async fn a_claim_replaces_the_whole_upload_or_nothing() {
        let (_url, db) = db().await;
        let id = Uuid::new_v4();
        db.put_upload(&upload(id, b"m", 100)).await.unwrap();
        db.advance_upload(id, 0, 50, b"state-50", t0()).await.unwrap();
        let hold = Duration::from_secs(30);
        let wrong = upload(Uuid::new_v4(), b"m", 100);
        assert!(matches!(db.claim_upload(id, hold).await.unwrap().replace(&wrong).await, Err(DbError::Invalid { .. })));
        assert_eq!(db.upload(id).await.unwrap().unwrap().received, 50, "nothing changed");
        let mut tomb = upload(id, b"m", 100);
        tomb.state = "expired".into();
        tomb.sealed = b"tomb".to_vec();
        db.claim_upload(id, hold).await.unwrap().replace(&tomb).await.unwrap();
        assert_eq!(db.upload(id).await.unwrap().unwrap(), tomb);
        db.claim_upload(id, hold).await.unwrap().release().await;
    }

    /// A claim left idle past its hold (a replica frozen mid-chunk) is ended by PostgreSQL:
    /// the upload can be claimed again and the frozen claim's advance fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frozen_claim_is_ended_after_its_hold() {
        let (url, db) = db().await;
        let other = Db::connect(&url).await.unwrap();
        let id = Uuid::new_v4();
        db.put_upload(&upload(id, b"m", 100)).await.unwrap();
        let frozen = db.claim_upload(id, Duration::from_millis(300)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let claim = other.claim_upload(id, Duration::from_secs(30)).await.unwrap();
        claim.advance(10, b"s", "receiving", t0()).await.unwrap();
        assert!(frozen.advance(20, b"late", "receiving", t0()).await.is_err());
        assert_eq!(db.upload(id).await.unwrap().unwrap().received, 10);
    }
}

mod caps {
    use super::*;

    fn digest(i: u8) -> Vec<u8> {
        vec![i; 32]
    }

    /// Sessions of one member are capped: a new one ends the member's soonest to expire;
    /// expired ones go first and count for nothing; other members are not affected.
    #[tokio::test]
    async fn sessions_are_capped_per_member() {
        let (_url, db) = db().await;
        for i in 0..3u8 {
            let ended = db.insert_session_capped(&digest(i), b"m", b"s", t0() + secs(60 + i64::from(i)), 2, t0()).await.unwrap();
            assert_eq!(ended, u64::from(i == 2));
        }
        assert_eq!(db.session(&digest(0), t0()).await.unwrap(), None, "the oldest ended");
        assert!(db.session(&digest(1), t0()).await.unwrap().is_some() && db.session(&digest(2), t0()).await.unwrap().is_some());
        db.insert_session_capped(&digest(9), b"other", b"s", t0() + secs(60), 2, t0()).await.unwrap();
        assert!(db.session(&digest(1), t0()).await.unwrap().is_some(), "another member's session ends none of this one's");
        // Later, both expired: a new one ends no live session.
        let later = t0() + secs(100);
        assert_eq!(db.insert_session_capped(&digest(3), b"m", b"s", later + secs(60), 2, later).await.unwrap(), 0);
        assert!(matches!(db.insert_session_capped(&digest(4), b"m", b"s", later, 0, later).await, Err(DbError::Invalid { .. })));
    }

    /// Challenges of one member opened at once from eight pools (replicas): the member holds
    /// at most the cap afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn challenges_opened_at_once_on_replicas_stay_within_the_cap() {
        let (url, db) = db().await;
        let dbs = replicas(&url, 8, 2).await;
        let ids: Vec<Uuid> = (0..24).map(|_| Uuid::new_v4()).collect();
        let tries = futures_util::future::join_all(ids.iter().enumerate().map(|(i, id)| {
            let d = &dbs[i % 8];
            async move { d.insert_challenge_capped(*id, b"m", b"c", t0() + secs(60), 3, t0()).await }
        }))
        .await;
        assert!(tries.iter().all(Result::is_ok), "{tries:?}");
        let mut live = 0;
        for id in &ids {
            if db.take_challenge(*id, t0()).await.unwrap().is_some() {
                live += 1;
            }
        }
        assert_eq!(live, 3);
    }
}
