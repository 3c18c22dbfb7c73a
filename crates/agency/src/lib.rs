//! # casebridge-agency
//!
//! The agency endpoint (docs/ENDPOINT.md): members enrol with an invite code, authenticate
//! with their key, upload signed and sealed bundles (resumable) into the agency's case store,
//! and read back the events and content they may see. HTTPS with a self-signed certificate
//! that members pin; axum on hyper with rustls (ring).
//!
//! ## Main items
//! - [`serve`] with [`ServeConfig`] → a running [`Server`] (`casebridge agency serve`).
//! - [`router`] over an [`AppState`]: the `/v1` service, for tests and embedding.
//! - [`tls`]: the certificate ([`tls::ensure_certificate`], [`tls::cert_fingerprint`]).
//! - [`admin`]: invites and revocation, in-process or through the running endpoint's Unix
//!   socket ([`admin::call`]).
//! - [`gc`]: the cleanup that goes with the per-member upload quotas (expired uploads, orphan
//!   content) run every `gc_interval_secs` while serving, on `POST /admin/gc`, or
//!   [`collect_offline`] (`casebridge agency gc`), reporting a [`GcReport`].
//!
//! - [`check`]: `casebridge agency check`: the store's journal, signatures, index and objects,
//!   orphans, credentials and receipts ([`AgencyCheck`]), through the running endpoint
//!   (`POST /admin/check`) or [`check_offline`].
//!
//! - [`Limits`]: every limit against slow, flooding or greedy clients (connections per
//!   source address with a share reserved for members, timeouts, minimum rates, per-source and
//!   per-invite enrolment limits, per-member caps and quotas).
//!
//! ## Layout of the agency directory (what this crate adds)
//! ```text
//! AGENCY/tls/cert.der, tls/key.cbk   the endpoint certificate and its sealed key
//! AGENCY/store/                      the endpoint's case store (a casebridge-core Store)
//! AGENCY/invites/ID.json             invites (secret digests, never secrets)
//! AGENCY/uploads/ID.part, ID.state   uploads in progress and their sealed state (kept a while
//!                                    after completing or expiring: see [`gc`])
//! AGENCY/limits.json                 optional: the endpoint's limits ([`Limits`]) over defaults
//! AGENCY/serve.json                  {url, pid, cert_fp} while serving
//! AGENCY/admin.sock                  the admin socket while serving (mode 0600)
//! ```
//!
//! ## Flow
//! ```no_run
//! # async fn example() -> casebridge_agency::Result<()> {
//! use casebridge_agency::{serve, ServeConfig, DEFAULT_LISTEN};
//! use casebridge_core::Passphrase;
//! let server = serve(ServeConfig::new("/srv/agency", DEFAULT_LISTEN, Passphrase::new("agency passphrase"))).await?;
//! println!("listening on {}", server.url());
//! let stop = server.shutdown_handle();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     stop.shutdown();
//! });
//! server.wait().await
//! # }
//! ```
//!
//! ## Not here
//! The client side (crates/sync), the command line (crates/cli), the bundle format and the
//! contribution policy (casebridge-trust). Who may see what is the endpoint's own rule (the
//! private `access` module).

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod access;
pub mod admin;
mod api;
mod at_rest;
mod backend;
pub mod check;
mod clock;
mod conns;
pub mod deployment;
mod early;
pub mod endpoint_log;
mod error;
mod follower;
mod fsutil;
pub mod gc;
pub mod invites;
mod limiters;
pub mod limits;
pub mod retention;
mod routes;
mod server;
mod sessions;
mod state;
pub mod tls;
mod uploads;

use std::sync::Arc;

pub use api::ApiError;
pub use check::{check_offline, AgencyCheck};
pub use clock::{Clock, SystemClock};
pub use error::{AgencyError, Result};
pub use gc::{collect_offline, GcReport};
pub use limits::{Limits, LIMITS_FILE};
pub use retention::{run_offline as retention_offline, Deletion, RetentionReport};
pub use server::{read_serve_info, serve, ServeConfig, ServeInfo, Server, ShutdownHandle, DEFAULT_LISTEN, SERVE_FILE};
pub use state::{AppState, StateOptions, CHALLENGE_TTL_SECS, SESSION_TTL_SECS, STORE_DIR};
pub use uploads::UPLOADS_DIR;

/// The `/v1` service over `state`: every route of docs/ENDPOINT.md, JSON errors for unknown
/// routes (404) and methods (405), body limits, and the access log.
pub fn router(state: Arc<AppState>) -> axum::Router {
    routes::with_edges(routes::v1()).with_state(state)
}
