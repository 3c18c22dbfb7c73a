//! A throwaway endpoint for schemathesis (scripts/test): an agency in a temp dir served on
//! 127.0.0.1:0 with cheap KDF parameters, an investigator and a volunteer enrolled. Prints one
//! JSON line `{"url", "token", "volunteer_token"}` and serves until stdin closes.
//!
//! `cargo run -p casebridge-agency --example schemathesis_target`

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/endpoint/harness.rs"]
mod harness;

use std::io::{Read, Write};

use casebridge_core::Role;

#[tokio::main]
async fn main() {
    let mut env = harness::Env::start().await;
    let investigator = env.enrol(Role::Investigator).await;
    let volunteer = env.enrol(Role::Volunteer).await;
    let token = env.login(&investigator).await;
    let volunteer_token = env.login(&volunteer).await;
    let line = serde_json::json!({ "url": env.url, "token": token, "volunteer_token": volunteer_token });
    let mut out = std::io::stdout();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
    // Serve until the caller closes stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .unwrap();
    env.stop().await;
}
