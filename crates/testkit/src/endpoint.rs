//! An agency endpoint served in-process on 127.0.0.1:0 (the axum model: a real server, a real
//! client), with a clock tests move forward, invites made through its admin socket, and
//! clients that trust exactly its certificate, as members' sync clients do.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use casebridge_agency::{admin, Clock, ServeConfig};
use casebridge_core::{KdfParams, Passphrase};
use casebridge_protocol::{InviteRequest, InviteResponse, Role};
use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::fixtures::AGENCY_PASS;

/// A clock that tests move forward: the system time plus the seconds advanced so far.
#[derive(Debug, Default)]
pub struct TestClock(AtomicI64);

impl TestClock {
    /// Moves the clock `secs` seconds forward.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Utc::now().fixed_offset() + Duration::seconds(self.0.load(Ordering::SeqCst))
    }
}

/// How to serve the agency at `dir` in a test: on 127.0.0.1:0, unlocked with [`AGENCY_PASS`],
/// the endpoint's own store made with the cheap test KDF (a cluster agency's replica with the
/// test S3 server's settings). Set the clock and limits on it before passing it to
/// [`casebridge_agency::serve`].
pub fn serve_config(dir: &Path) -> ServeConfig {
    let mut config = ServeConfig::new(dir, "127.0.0.1:0".parse().unwrap(), Passphrase::new(AGENCY_PASS));
    config.kdf = KdfParams::INSECURE_FOR_TESTS;
    #[cfg(feature = "cluster")]
    if crate::deployment::is_cluster_agency(dir) {
        config.s3 = Some(crate::deployment::s3_config());
    }
    config
}

/// An invite for "Test Member" with `role`, open for `expires_in_secs`, made through the
/// admin socket of the endpoint serving `dir` (which must be running).
pub async fn invite(dir: &Path, role: Role, expires_in_secs: u64) -> InviteResponse {
    let req =
        InviteRequest { role, name: "Test Member".into(), expires_in_secs, url: None, valid_for_secs: None, member: None, old_keys: None };
    let answer = admin::call(dir, "POST", "/admin/invite", Some(serde_json::to_value(&req).unwrap())).await.unwrap();
    serde_json::from_value(answer.expect("the endpoint is running")).unwrap()
}

/// A TLS client configuration that trusts only the certificate with SHA-256 `fp` (hex), for
/// raw connections.
pub fn pinned_tls(fp: &str) -> Arc<rustls::ClientConfig> {
    Arc::new(casebridge_sync::pinned_client_config(fp).unwrap())
}

/// A reqwest client that trusts only the certificate with SHA-256 `fp` (hex).
pub fn pinned_client(fp: &str) -> reqwest::Client {
    pinned_client_builder(fp).build().unwrap()
}

/// Like [`pinned_client`], with connections coming from `ip` (another loopback address: an
/// attacker, or a member on another machine).
pub fn pinned_client_from(fp: &str, ip: &str) -> reqwest::Client {
    pinned_client_builder(fp).local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

fn pinned_client_builder(fp: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder().use_preconfigured_tls(casebridge_sync::pinned_client_config(fp).unwrap())
}
