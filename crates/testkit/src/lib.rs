//! casebridge-testkit: the helpers Casebridge's test suites share, written once.
//!
//! **Dev-only.** Crates name it in `[dev-dependencies]` and nowhere else: it turns on the cheap
//! `test-kdf` parameters of core and trust, which no production build may carry (the bench
//! stays off it for the same reason; it pins certificates with
//! `casebridge_sync::pinned_client_config`, as this kit does).
//!
//! - [`bytes`]: seeded pseudo-random bytes (xorshift64), the same stream for the same seed,
//!   so a failing test sees the same content again.
//! - [`fixtures`]: member stores and agency directories with the cheap test KDF, and a member
//!   enrolled offline (a credential issued by the agency and installed in the store).
//! - [`files`]: copying directories.
//! - `services` (feature `services`): PostgreSQL, SeaweedFS (S3) and HAProxy on 127.0.0.1 for
//!   the cluster agency's tests, a database and a bucket per test.
//! - `deployment` (feature `cluster`): the deployment a suite's agencies run as, embedded or
//!   a cluster agency, picked for the test process by `CASEBRIDGE_TEST_DEPLOYMENT`.
//! - `endpoint` (feature `endpoint`): an agency endpoint served in-process on 127.0.0.1:0 with a clock tests move,
//!   invites through its admin socket, and HTTP and TLS clients pinned to its certificate.
//!
//! Helpers panic with a message instead of returning errors: a failed setup is a failed test.
//! What a single suite alone needs (its worlds, its assertions) stays in that suite.
//!
//! ```no_run
//! use casebridge_core::Role;
//! use casebridge_testkit::{bytes, fixtures};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let mut store = fixtures::new_store(&tmp.path().join("vera"), "Vera Brandt", Role::Investigator);
//! let agency = fixtures::new_agency(&tmp.path().join("agency"), "Test Police");
//! fixtures::enrol_offline(&mut store, &agency, &tmp.path().join("agency"), Role::Investigator, chrono::Duration::days(30));
//! std::fs::write(tmp.path().join("photo.bin"), bytes::pseudo_random(4096, 7)).unwrap();
//! ```
#![warn(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bytes;
#[cfg(feature = "cluster")]
pub mod deployment;
#[cfg(feature = "endpoint")]
pub mod endpoint;
pub mod files;
pub mod fixtures;
#[cfg(feature = "services")]
pub mod services;
