//! The sync engine's tests, one binary. Table of contents:
//!
//! - `fake`: an in-memory agency with scripted faults, and a clock that never sleeps
//! - `machine`: the upload state machine, driven synchronously (resume, 409, backoff, give-up)
//! - `engine`: push and pull over the in-memory agency (order, sent/, cancel, feed paging)
//! - `files`: the outbox directory and the state file
//! - `http`: the HTTPS transport against a real TLS server on 127.0.0.1:0 (pinning, auth, uploads)

#![allow(clippy::unwrap_used)]

mod engine;
mod fake;
mod files;
mod http;
mod machine;
