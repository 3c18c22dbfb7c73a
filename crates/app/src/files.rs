//! Files on this computer, before they are imported or submitted: the one check that each is
//! a regular, readable file ([`Checked`], used by import and submission alike), and what they
//! say about themselves (media type, EXIF capture time and place), so a form can prefill its
//! fields.

use std::path::{Path, PathBuf};

use casebridge_core::metadata;

use crate::error::{io_reason, AppError, ErrorCode, Result};
use crate::views::FileMeta;

/// Checks that `path` is a regular, readable file; returns its size (error `bad_file`
/// naming it otherwise).
pub fn check_file(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| AppError::bad_file(path, io_reason(&e)))?;
    if meta.is_dir() {
        return Err(AppError::bad_file(path, "it is a directory"));
    }
    if !meta.is_file() {
        return Err(AppError::bad_file(path, "it is not a regular file"));
    }
    std::fs::File::open(path).map_err(|e| AppError::bad_file(path, io_reason(&e)))?;
    Ok(meta.len())
}

/// Files checked for import or submission: each a regular, readable file; with their sizes.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The files, in order.
    pub paths: Vec<PathBuf>,
    /// Their sizes, in order.
    pub sizes: Vec<u64>,
}

impl Checked {
    /// Checks every file before anything is imported (error `bad_file` naming the first bad
    /// one; `invalid_input` for an empty list).
    pub fn new(paths: Vec<PathBuf>) -> Result<Checked> {
        if paths.is_empty() {
            return Err(AppError::invalid("files", "choose at least one file to import"));
        }
        let sizes = paths.iter().map(|p| check_file(p)).collect::<Result<Vec<u64>>>()?;
        Ok(Checked { paths, sizes })
    }

    /// Total bytes.
    pub fn total(&self) -> u64 {
        self.sizes.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Most files one call reads.
pub const MAX_FILES: usize = 1000;

/// Largest TIFF whose EXIF is read: the EXIF reader reads a TIFF whole (JPEG, PNG, WebP and
/// HEIF are read only up to their EXIF block).
pub const MAX_TIFF_BYTES: u64 = 32 * 1024 * 1024;

/// What each file says about itself, in order: its size, the media type sniffed from its first
/// bytes, and for photos the EXIF capture time and GPS position. A path that is not a regular,
/// readable file fails the call with `bad_file` naming it. Nothing is recorded.
pub fn file_metadata(paths: &[String]) -> Result<Vec<FileMeta>> {
    if paths.len() > MAX_FILES {
        return Err(AppError::invalid("files", format!("{} files at once; at most {MAX_FILES}", paths.len())));
    }
    paths.iter().map(|p| one(p)).collect()
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::BadFile, format!("cannot read {}: {reason}", path.display()))
}

fn one(given: &str) -> Result<FileMeta> {
    let path = Path::new(given.trim());
    if path.as_os_str().is_empty() {
        return Err(AppError::invalid("files", "an empty path"));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad(path, io_reason(&e)))?;
    if meta.is_dir() {
        return Err(bad(path, "it is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(bad(path, "it is not a regular file"));
    }
    let head = metadata::read_head(path).map_err(|e| bad(path, io_reason(&e)))?;
    let media_type = metadata::sniff_media_type(&head);
    let readable = media_type.starts_with("image/") && (media_type != "image/tiff" || meta.len() <= MAX_TIFF_BYTES);
    let extracted = if readable { metadata::extract(path, &media_type) } else { casebridge_core::Extracted::default() };
    Ok(FileMeta { path: given.to_string(), captured_at: extracted.captured_at, location: extracted.location, media_type, size: meta.len() })
}
