//! The endpoint's integration tests: a real TLS server on 127.0.0.1:0 over a temp agency
//! directory, a reqwest client pinned to its certificate, real member stores.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod harness;

mod abuse;
mod auth;
mod bad_input;
mod basics;
mod enrol;
mod lifecycle;
mod uploads;
