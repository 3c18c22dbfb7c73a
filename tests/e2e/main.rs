//! End-to-end tests of the `casebridge` binary: real files in temp dirs, the real binary, no
//! mocks. Each module is one property the issue demands; `harness` is the shared toolkit.
//!
//! Run with `cargo test -p casebridge-cli --test e2e`. Seeded tests print their seed when they
//! fail; set `CASEBRIDGE_TEST_SEED` to replay one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Profiles with cheap KDF settings, a command runner with readable failures, files, RNG.
mod harness;

/// Police staff's views, exports and redactions are in the access log; volunteers' are not.
mod access;
/// The endpoint's access rules as a matrix over real HTTPS.
mod acl;
/// The cluster agency: PostgreSQL, an S3 bucket and two replicas behind HAProxy.
mod cluster;
/// A second process gets "store is in use", promptly.
mod concurrency;
/// The crash campaign: SIGKILL at random points of every write path loses nothing acknowledged.
mod crash;
/// `casebridge demo`: every review state, receipts, idempotent, serves until SIGTERM.
mod demo;
/// A real `agency serve` process and a fault-injecting TCP proxy.
mod endpoint;
/// Media type sniffed from content; EXIF time, place and camera, also from real phone photos.
mod exif;
/// `casebridge init` through the real CLI, then `whoami`.
mod init;
/// The database and the object store stopped under a running replica: 503, retries, nothing lost.
mod outage;
/// A wrong passphrase changes nothing; passphrase change survives SIGKILL.
mod passphrase;
/// A new passphrase is checked against the policy before the store is unlocked.
mod passphrase_policy;
/// Deleting the index and rebuilding it from the journal gives the same state.
mod rebuild;
/// Retention and legal hold: rules, `retention run`, tombstones on every device (also one
/// offline during the deletion), withdrawal, court packages with deletions.
mod retention;
/// Bytes in equal bytes out, from 0 bytes to 300 MB; export never overwrites.
mod roundtrip;
/// Full-text search (`case list --search`), editable tags, note amendments (issue 17).
mod search;
/// Nothing readable lands on disk or in logs.
mod secrecy;
/// The whole loop over HTTPS: enrol, brief, submit, review, receipts; cuts and restarts.
mod sync;
/// Flipped bits in objects, journal and index are found and named; nothing panics.
mod tamper;
/// Exact user-facing error transcripts (stdout, stderr, exit code).
mod transcripts;
/// Agency, credential, sealed bundle, import and receipt through the CLI; every rejection's code.
mod trust;
