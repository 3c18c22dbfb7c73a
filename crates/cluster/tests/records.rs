//! ClusterRecords against a real PostgreSQL (casebridge-testkit's services): the same
//! contract as the embedded agency's files, and the races a cluster adds.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use casebridge_cluster::records::ClusterRecords;
use casebridge_testkit::services;
use casebridge_trust::RecordStore;

fn records() -> (tokio::runtime::Runtime, Arc<ClusterRecords>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let url = services::fresh_database();
    let pool = rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(&url).await.unwrap();
        sqlx::query(include_str!("../migrations/0100_agency_records.sql")).execute(&pool).await.unwrap();
        pool
    });
    let r = Arc::new(ClusterRecords::new(pool, rt.handle().clone()));
    (rt, r)
}

#[test]
fn records_keep_the_file_contract() {
    let (_rt, r) = records();
    assert!(r.read("revocation.json").unwrap().is_none());
    r.write("revocation.json", b"v1").unwrap();
    r.write("revocation.json", b"v2").unwrap();
    assert_eq!(r.read("revocation.json").unwrap().unwrap(), b"v2");
    assert!(r.create("receipts/a.json", b"first").unwrap());
    assert!(!r.create("receipts/a.json", b"second").unwrap(), "the first receipt wins");
    assert_eq!(r.read("receipts/a.json").unwrap().unwrap(), b"first");
    r.write("receipts/b.json", b"x").unwrap();
    r.write("receipts/sub/c.json", b"y").unwrap();
    r.write("receiptsX/d.json", b"z").unwrap();
    let mut names = r.list("receipts").unwrap();
    names.sort();
    assert_eq!(names, ["a.json", "b.json"], "only the folder's own records");
    r.remove("receipts/a.json").unwrap();
    r.remove("receipts/a.json").unwrap();
    assert!(r.read("receipts/a.json").unwrap().is_none());
    for bad in ["../x", "/etc/passwd", "a//b", ""] {
        assert!(r.read(bad).is_err(), "{bad:?} is refused");
    }
}

#[test]
fn of_writers_racing_to_replace_one_record_exactly_one_wins_each_round() {
    let (_rt, r) = records();
    r.write("invites/x.inv", b"unused").unwrap();
    let winners: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn({
                    let r = r.clone();
                    move || r.replace("invites/x.inv", b"unused", format!("used by {i}").as_bytes()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "one enrolment claims the invite: {winners:?}");
    let held = String::from_utf8(r.read("invites/x.inv").unwrap().unwrap()).unwrap();
    let winner = winners.iter().position(|w| *w).unwrap();
    assert_eq!(held, format!("used by {winner}"));
}

#[test]
fn a_wrong_password_is_named_without_the_password() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = services::services().database_url.replace(":casebridge-test@", ":not-the-password@");
    let e = rt.block_on(sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url)).unwrap_err();
    let text = casebridge_cluster::describe_sqlx(&e);
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}
