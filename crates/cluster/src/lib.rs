//! # casebridge-cluster
//!
//! The cluster agency's shared state (docs/DEPLOY.md): any number of `agency serve` replicas
//! on any number of machines share one PostgreSQL database and one S3-compatible bucket.
//!
//! What each holds is what the embedded agency holds on its disk, no more: the database holds
//! the agency journal's sealed records, sealed member and upload records, session digests and
//! limit counters; the bucket holds sealed objects under keyed names. No plaintext case data,
//! names or content hashes.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
pub mod objects;
