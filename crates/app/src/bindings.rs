//! The UI's TypeScript types, generated from this crate's Rust types with ts-rs: one file per
//! type in `ui/src/lib/bindings/`, committed. The test `bindings_are_fresh` regenerates them
//! into a temporary directory and fails when the committed files differ, so CI catches a Rust
//! change that the UI has not seen; `cargo test -p casebridge-app export_bindings -- --ignored`
//! rewrites them.
//!
//! 64-bit integers (sizes, cursors) are `number` in TypeScript, as `JSON.parse` gives them.

use std::path::{Path, PathBuf};

use ts_rs::{Config, ExportError, TS};

use crate::error::AppError;
use crate::views::*;

/// Where the committed bindings live, from the workspace root.
pub const BINDINGS_DIR: &str = "ui/src/lib/bindings";

/// The committed bindings directory of this checkout.
pub fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(BINDINGS_DIR)
}

/// Writes every type the UI sees (and the types they use) into `dir`, one `Name.ts` each.
pub fn export_all(dir: &Path) -> Result<(), ExportError> {
    let cfg = Config::new().with_out_dir(dir).with_large_int("number");
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all(&cfg)?; )* };
    }
    export!(
        AppError,
        AppInfo,
        WhoAmI,
        Role,
        Strength,
        Enrolled,
        CaseSummary,
        CaseSort,
        CaseStatus,
        CaseDetail,
        EvidenceView,
        NoteView,
        CustodyView,
        Preview,
        BriefView,
        Area,
        GeoPoint,
        SubmissionView,
        SubmissionItem,
        Decision,
        ReviewDecision,
        ReceiptView,
        SyncStatus,
        RefusedBundle,
        AgencyRefusal,
        SyncEvent,
        UploadOutcome,
        RoundReport,
        JobProgress,
        JobDone,
        SyncDone,
        Locked,
        CaseMember,
        FileMeta,
        Thumbnail,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::BTreeMap;

    use super::*;

    fn read_dir(dir: &Path) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".ts") {
                    files.insert(name, std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        files
    }

    /// CI's guard: the committed bindings are what the Rust types generate now.
    #[test]
    fn bindings_are_fresh() {
        let tmp = tempfile::tempdir().unwrap();
        export_all(tmp.path()).unwrap();
        let fresh = read_dir(tmp.path());
        let committed = read_dir(&committed_dir());
        assert!(fresh.len() > 20, "ts-rs exported only {} files", fresh.len());
        let mut stale: Vec<String> = Vec::new();
        for (name, text) in &fresh {
            match committed.get(name) {
                None => stale.push(format!("{name} is missing")),
                Some(c) if c != text => stale.push(format!("{name} differs")),
                Some(_) => {}
            }
        }
        stale.extend(committed.keys().filter(|n| !fresh.contains_key(*n)).map(|n| format!("{n} is no longer generated")));
        assert!(
            stale.is_empty(),
            "the TypeScript bindings in {BINDINGS_DIR} are stale ({}): run `cargo test -p casebridge-app export_bindings -- --ignored` and commit the result",
            stale.join(", ")
        );
    }

    /// Rewrites the committed bindings (ignored: it changes tracked files).
    #[test]
    #[ignore = "rewrites ui/src/lib/bindings; run on purpose with --ignored"]
    fn export_bindings() {
        let dir = committed_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".ts") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        export_all(&dir).unwrap();
    }
}
