//! casebridge-demo: a complete, local Casebridge world to look at (`casebridge demo --dir DIR`).
//!
//! The first run creates, under `DIR`:
//!
//! | path | what |
//! | --- | --- |
//! | `agency/` | an agency directory ("Demo Police Berlin") and its endpoint's store |
//! | `investigator/` | a profile store: Det. Insp. Vera Brandt, enrolled at the agency |
//! | `volunteer/` | a profile store: Mila Jansen, enrolled at the agency |
//! | `photos/` | the generated sample photos (JPEG with EXIF capture time and GPS) |
//! | `demo.json` | the [`Manifest`]: endpoint, passphrase, paths; written last |
//!
//! and plays the whole loop through the same code the CLI and the desktop app run
//! (`casebridge_app`): the endpoint is started in-process on 127.0.0.1, both profiles enrol
//! with invite codes, the investigator opens three cases (notes, tags, imported photos) and
//! publishes two briefs (area, time window, every volunteer), the volunteer syncs and submits
//! four times, the investigator syncs and accepts one submission, rejects one, asks for
//! information on one and leaves one pending, and both sync again, so the volunteer holds
//! verified receipts and sees the decisions.
//!
//! Then it serves the endpoint in the foreground until Ctrl-C or SIGTERM (unless
//! `--no-serve`). A later run on the same `DIR` creates nothing: it serves again, on the same
//! address (the profiles pinned it). Every store uses the production KDF and the one demo
//! passphrase [`DEMO_PASSPHRASE`]; the demo is for looking at Casebridge, not for real cases.
//!
//! One entry point, [`run`]; the caller (the CLI) hears what happens as [`Event`]s and prints
//! them. Modules: `manifest` (the directory and `demo.json`), `world` (making the demo),
//! `photos` (the sample photos), `serve` (the endpoint in the foreground). Not here: argument
//! parsing, printing and logging, which are the CLI's.
//!
//! ```no_run
//! let options = casebridge_demo::Options { dir: "demo".into(), listen: None, serve: false };
//! casebridge_demo::run(&options, &mut |event| {
//!     if let casebridge_demo::Event::Ready { manifest, .. } = event {
//!         println!("endpoint {}", manifest.endpoint);
//!     }
//!     Ok(())
//! })?;
//! # Ok::<(), casebridge_demo::DemoError>(())
//! ```
#![warn(missing_docs)]

mod error;
mod manifest;
mod photos;
mod serve;
mod world;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use casebridge_core::KdfParams;

pub use error::{DemoError, Result};
pub use manifest::{Manifest, Summary, MANIFEST_FILE};

/// The passphrase of the demo's agency and both profiles (printed; for the demo only).
pub const DEMO_PASSPHRASE: &str = "demo-passphrase-1";
/// The agency's name.
pub const AGENCY_NAME: &str = "Demo Police Berlin";
/// The investigator's name.
pub const INVESTIGATOR: &str = "Det. Insp. Vera Brandt";
/// The volunteer's name.
pub const VOLUNTEER: &str = "Mila Jansen";

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The demo directory: created the first time (it must be new or empty), reused afterwards.
    pub dir: PathBuf,
    /// Where the endpoint listens: a free port on 127.0.0.1 the first time when `None`; a later
    /// run must ask for the address the profiles are enrolled at, or for none.
    pub listen: Option<SocketAddr>,
    /// Serve the endpoint in the foreground until Ctrl-C or SIGTERM (else set up and return).
    pub serve: bool,
}

/// What [`run`] does, in order, for the caller to show.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The demo in `dir` exists and is used as it is.
    Found {
        /// The demo directory (absolute).
        dir: &'a Path,
        /// Its manifest.
        manifest: &'a Manifest,
    },
    /// A new demo is being made in `dir` (it takes a few seconds).
    Creating {
        /// The demo directory (absolute).
        dir: &'a Path,
    },
    /// The endpoint is about to be served in the foreground (its logs start now).
    Starting,
    /// The demo is ready: set up, and listening when `serving`.
    Ready {
        /// Its manifest.
        manifest: &'a Manifest,
        /// Whether the endpoint serves now (until a signal).
        serving: bool,
    },
    /// The endpoint stopped after Ctrl-C or SIGTERM.
    Stopped,
}

/// Makes the demo in `options.dir` when there is none yet, then serves it until a signal
/// (when `options.serve`). `on` hears every [`Event`]; its I/O errors stop the run.
pub fn run(options: &Options, on: &mut dyn FnMut(Event<'_>) -> std::io::Result<()>) -> Result<()> {
    let dir = manifest::prepare_dir(&options.dir)?;
    let mut manifest = open_or_create(&dir, options.listen, on)?;
    if !options.serve {
        on(Event::Ready { manifest: &manifest, serving: false })?;
        return Ok(());
    }
    on(Event::Starting)?;
    serve::serve(&dir, &mut manifest, on)
}

/// The manifest of the demo in `dir`, made first when there is none.
fn open_or_create(dir: &Path, listen: Option<SocketAddr>, on: &mut dyn FnMut(Event<'_>) -> std::io::Result<()>) -> Result<Manifest> {
    if let Some(manifest) = manifest::read_manifest(dir)? {
        match listen {
            Some(l) if l != manifest.listen => {
                return Err(DemoError::ListenMismatch { listen: l, dir: dir.to_path_buf(), endpoint: manifest.endpoint })
            }
            _ => {}
        }
        on(Event::Found { dir, manifest: &manifest })?;
        return Ok(manifest);
    }
    on(Event::Creating { dir })?;
    let listen = listen.unwrap_or(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0));
    world::create(dir, listen, KdfParams::INTERACTIVE)
        .map_err(|source| DemoError::NotCreated { dir: dir.to_path_buf(), source: Box::new(source) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use casebridge_core::{KdfParams, Passphrase, Store};

    use crate::manifest::{prepare_dir, read_manifest, MARKER_FILE};
    use crate::photos::{write_photos, H, SPECS, W};
    use crate::world::create;
    use crate::{Summary, DEMO_PASSPHRASE};

    /// The whole demo with cheap KDF parameters: every state is there, the volunteer holds
    /// verified receipts, and a second run changes nothing.
    #[test]
    fn the_demo_holds_every_review_state_and_receipts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = prepare_dir(&tmp.path().join("demo")).unwrap();
        let m = create(&dir, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0), KdfParams::INSECURE_FOR_TESTS).unwrap();
        assert!(m.endpoint.starts_with("https://127.0.0.1:") && m.listen.port() != 0, "{m:?}");
        assert_eq!(
            m.summary,
            Summary {
                cases: 3,
                briefs: 2,
                evidence: 4,
                submissions: 4,
                accepted: 1,
                rejected: 1,
                info_requested: 1,
                pending: 1,
                receipts: m.summary.receipts
            }
        );
        assert!(m.summary.receipts >= 1);
        assert_eq!(read_manifest(&dir).unwrap().unwrap(), m);

        let pass = Passphrase::new(DEMO_PASSPHRASE);
        {
            let inv = Store::open(&m.investigator, &pass).unwrap();
            let subs = inv.submissions().unwrap();
            let mut states: Vec<&str> = subs.iter().map(|s| s.state.as_str()).collect();
            states.sort_unstable();
            assert_eq!(states, ["accepted", "info_requested", "pending", "rejected"]);
            assert_eq!(inv.briefs(false).unwrap().len(), 2);
            // The photos' EXIF was read: capture time and place, for the investigator's own
            // photos and the volunteer's alike.
            let case = subs.iter().find(|s| s.state.as_str() == "accepted").unwrap().case_id;
            let ev = inv.list_evidence(case).unwrap();
            assert!(ev.len() >= 4, "{ev:?}");
            assert!(ev.iter().all(|e| e.captured_at.is_some() && e.location.is_some() && e.media_type == "image/jpeg"), "{ev:?}");
        }
        {
            let vol = Store::open(&m.volunteer, &pass).unwrap();
            let receipts = casebridge_trust::profile::receipts(&vol).unwrap();
            assert_eq!(receipts.len(), m.summary.receipts);
            let subs = vol.submissions().unwrap();
            assert!(
                subs.iter().any(|s| s.state.as_str() == "rejected" && s.items.iter().any(|i| i.reason.is_some())),
                "the volunteer sees reasons"
            );
        }
        // Again: nothing is created, the manifest is the same.
        let again = prepare_dir(&dir).unwrap();
        assert_eq!(read_manifest(&again).unwrap().unwrap(), m);
    }

    #[test]
    fn a_directory_that_is_not_a_demo_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
        let e = prepare_dir(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("not empty") && e.contains("no demo.json"), "{e}");
        std::fs::write(tmp.path().join(MARKER_FILE), b"").unwrap();
        let e = prepare_dir(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("did not finish"), "{e}");
    }

    #[test]
    fn photos_are_jpegs_with_exif_time_and_place() {
        let tmp = tempfile::tempdir().unwrap();
        let photos = write_photos(&tmp.path().join("p")).unwrap();
        assert_eq!(photos.0.len(), SPECS.len());
        let bytes = std::fs::read(photos.get("dark-car").unwrap()).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (W, H));
        let exif = &bytes[2..];
        assert!(exif.starts_with(&[0xFF, 0xE1]) && exif[4..].starts_with(b"Exif\0\0II*\0"));
    }
}
