//! # casebridge-app
//!
//! The use cases of Casebridge, shared by the command line and the desktop shell, so nothing
//! is implemented twice. No Tauri, no GTK: everything here runs (and is tested) as plain Rust
//! on real stores.
//!
//! ## Main types
//! - [`Session`]: one profile's store directory as an app sees it: create, unlock (with a
//!   persisted failed-attempt counter and a 10-minute lockout after 5 wrong passphrases),
//!   lock, an idle lock on an injectable [`Clock`], one method per command of the desktop
//!   contract, and background jobs (import, sync) with progress events and cancel.
//! - [`StoreHandle`]: the unlocked store shared between calls and jobs, held one operation at
//!   a time, empty while locked.
//! - [`AppError`]: `{code, message}`, the one error shape; it maps from the store's, the trust
//!   layer's and the sync client's errors.
//! - The views in [`views`]: what the use cases return. Each type is defined once, where it
//!   lives (the store's views, trust receipts, sync events, the wire `Role`), and re-exported
//!   there; [`views`] adds only what this layer computes (an item's review state, a case's team,
//!   a submission's refusal). Their TypeScript twins are generated into `ui/src/lib/bindings/`
//!   ([`bindings`]), which the UI imports.
//! - [`ErrorCode`]: the typed code of an [`AppError`], serialised as its snake_case word.
//! - The use-case modules, free functions over a [`casebridge_core::Store`] that both front
//!   ends call ([`Session`] wraps them for the desktop; the CLI calls them after parsing its
//!   arguments): [`cases`], [`evidence`] and [`import`] (with [`files::Checked`], the one
//!   check of files before import or submission), [`access`] (the access-log rule), [`briefs`]
//!   (briefs, submissions, review), [`receipts`], [`credentials`] and [`agencies`],
//!   [`export`] and [`outbox`] (bundles out), [`bundle`] (bundles in, at the agency),
//!   [`exchange`] (bundles and receipts on files and drives: verify, open, keep, write the
//!   outbox to a folder), [`court`] (report, package, redaction), [`notify`] (which desktop
//!   notifications a sync round brings), [`profile`] (create, passphrase, check, rebuild,
//!   log), [`sync::round`] and [`enrol::enrol`]. Functions that take what a person types
//!   (an id prefix, a reference) resolve it with the store; the desktop's, which take exact
//!   ids, parse them first. They return the store's (or the trust and court crates') own
//!   types. Their messages never name a command-line command or flag: such hints are the
//!   CLI's.
//!
//! ## Flow
//! ```
//! use std::sync::Arc;
//! use casebridge_app::{CaseSort, Role, Session};
//! # let tmp = tempfile::tempdir().unwrap();
//! # let kdf = casebridge_core::KdfParams::INSECURE_FOR_TESTS; // production: KdfParams::INTERACTIVE, the default
//! let session = Arc::new(Session::new(tmp.path().join("profile")).with_kdf(kdf));
//! session.profile_create("Det. Insp. Vera Brandt", Role::Investigator, "correct horse battery staple".into())?;
//! let id = session.case_create("Bike thefts, Mitte", None, None, vec![])?;
//! session.note_add(&id, "Witness saw a white van")?;
//! session.lock();
//! assert_eq!(session.cases_list(None, None, CaseSort::Updated).unwrap_err().code, "locked");
//! session.unlock("correct horse battery staple".into())?;
//! assert_eq!(session.case_get(&id)?.notes.len(), 1);
//! # Ok::<(), casebridge_app::AppError>(())
//! ```
//!
//! ## Not here
//! Printing (the CLI), windows and events on the wire (src-tauri), the store itself
//! (casebridge-core), the network protocol (casebridge-sync).

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access;
pub mod agencies;
pub mod bindings;
pub mod briefs;
pub mod bundle;
pub mod cases;
mod clock;
pub mod court;
pub mod credentials;
pub mod enrol;
mod error;
pub mod evidence;
pub mod exchange;
pub mod export;
pub mod files;
mod handle;
pub mod import;
pub mod map_tiles;
pub mod media;
pub mod media_stream;
pub mod notify;
pub mod outbox;
pub mod profile;
pub mod receipts;
pub mod search;
mod session;
pub mod settings;
mod strength;
pub mod sync;
pub mod views;

pub use briefs::{BriefInput, SubmitInput};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, ErrorCode, Result};
pub use handle::StoreHandle;
pub use session::{default_store_dir, Session, LOCKOUT_MINUTES, MAX_FAILED_ATTEMPTS, STORE_ENV, SYNC_JOB};
pub use strength::passphrase_strength;
pub use views::*;
