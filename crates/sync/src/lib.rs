//! # casebridge-sync
//!
//! The client side of the agency endpoint (docs/ENDPOINT.md): bundles go up from an outbox,
//! signed events come down from the feed. A pure client library: it knows the `/v1` wire types
//! (`casebridge-protocol`) and nothing of the store; the CLI glues it to the store (it writes
//! sealed bundles into the outbox, signs the authentication challenge with the member key, and
//! imports feed pages).
//!
//! ## Main types
//!
//! - [`Upload`]: the state machine for one bundle. No I/O: it asks for [`Action`]s (`Begin`,
//!   `Put`, `Complete`, `Wait`) and is fed the answers ([`Input`]). It resumes from the server's
//!   `received` after a cut, resynchronises on 409, backs off with full jitter
//!   ([`RetryPolicy`]) and gives up after too many failures without progress.
//! - [`Transport`] and [`Clock`]: the injected outside world. [`HttpTransport`] is HTTPS
//!   (reqwest + rustls, ring) pinned to the agency's certificate, authenticating with the
//!   member key; [`SystemClock`] is tokio's.
//! - [`Engine`]: drives the machine for each pending bundle of an [`Outbox`] ([`Engine::push`])
//!   and pages the feed ([`Engine::pull`]), reporting [`Event`]s. A bundle the endpoint
//!   refuses for good ([`SyncError::is_refusal`]) is set aside into `refused/` with the
//!   reason ([`Refused`]) and the push goes on with the next one.
//! - [`SyncState`] / [`status`]: the cursor and last outcome, kept in a small JSON file.
//!
//! ## Flow
//!
//! ```no_run
//! use std::path::Path;
//! use std::sync::Arc;
//! use casebridge_sync::{Auth, Engine, HttpTransport, Outbox, SyncError, SyncState, SystemClock};
//!
//! # async fn run(sign: impl Fn(&[u8], &[u8]) -> [u8; 64] + Send + Sync + 'static) -> Result<(), SyncError> {
//! let dir = Path::new("/path/to/profile/sync");
//! let auth = Auth { agency_id: uuid::Uuid::nil(), member_id: uuid::Uuid::nil(), key_hex: "…".into(), signer: Arc::new(sign) };
//! let transport = HttpTransport::new("https://127.0.0.1:8443", "<cert sha-256 hex>", auth)?;
//! let engine = Engine::new(transport, SystemClock);
//! let outbox = Outbox::in_sync_dir(dir)?;
//! let mut state = SyncState::load(dir)?;
//!
//! let pushed = engine.push(&outbox, &mut |event| println!("{}", serde_json::to_string(&event).unwrap_or_default())).await?;
//! let cursor = engine
//!     .pull(state.cursor, &mut |page| {
//!         // import page.events into the store here, then persist the cursor
//!         state.cursor = page.cursor;
//!         state.save(dir)
//!     }, &mut |_event| {})
//!     .await?;
//! # let _ = (pushed, cursor);
//! # Ok(())
//! # }
//! ```
//!
//! ## Not in here
//!
//! Opening bundles, verifying events and receipts (casebridge-core / casebridge-trust, in the
//! CLI), the server (casebridge-agency), and any persistence of secrets: the session token
//! lives in memory only and the state file holds no secret.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod engine;
mod error;
mod event;
mod http;
mod machine;
mod outbox;
mod pin;
mod state;
mod transport;

pub use engine::{Engine, EngineConfig, Pushed};
pub use error::{is_refusal_status, Result, SyncError};
pub use event::Event;
pub use http::{enrol, health, Auth, HttpTransport, Signer, CONNECT_TIMEOUT, REQUEST_TIMEOUT};
pub use machine::{seeded_rng, system_rng, Action, Input, RetryPolicy, Rng, Upload, MIN_CHUNK};
pub use outbox::{Carried, Outbox, Pending, Refused, BUNDLE_EXTENSION, REFUSED_DIR, SENT_DIR};
pub use pin::pinned_client_config;
pub use state::{status, Status, SyncState, OUTBOX_DIR, STATE_FILE};
pub use transport::{Clock, SystemClock, Transport};
