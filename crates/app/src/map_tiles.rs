//! The street map's offline vector tiles: one PMTiles v3 file of Mapbox Vector Tiles on this
//! machine, which the map (MapLibre GL JS with the `pmtiles` reader in the webview) reads in
//! byte ranges through the session, never over the network.
//!
//! Which file: the one set in Settings ([`crate::settings::Settings::map_tiles`]), else the
//! file an agency ships as [`SHIPPED_FILE`] in the profile's directory (next to the store),
//! else none (the map draws the bundled world outlines only).
//!
//! A file is checked before it is used, by its 127-byte header (the PMTiles v3 layout): the
//! magic `PMTiles`, version 3, vector tiles (MVT), compressions the webview's reader
//! decompresses (none or gzip), and every section (directories, metadata, tile data) inside
//! the file. Each failure has its own code ([`ErrorCode::MissingFile`], `NotPmtiles`,
//! `PmtilesUnsupported`, `PmtilesNotVector`, `PmtilesDamaged`) and a message naming what is
//! wrong. The header is parsed here rather than with the `pmtiles` crate: that crate keeps the
//! section offsets private (the bounds check needs them) and brings an async reader with it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{AppError, ErrorCode, Result};

/// The file an agency ships, looked for in the profile's directory when Settings names none.
pub const SHIPPED_FILE: &str = "map.pmtiles";

/// A PMTiles v3 header's length.
pub const HEADER_LEN: usize = 127;

/// The most one range read returns (the reader asks for 16 KiB first, then directories and
/// single tiles, each far smaller).
pub const MAX_RANGE: u64 = 8 * 1024 * 1024;

const MAGIC: &[u8; 7] = b"PMTiles";

/// A usable tiles file as the map and Settings see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct MapTiles {
    /// The file's path.
    pub path: String,
    /// Whether Settings names it (`false`: the agency's shipped file).
    pub from_settings: bool,
    /// The file's size in bytes.
    pub size: u64,
    /// Lowest zoom level with tiles.
    pub min_zoom: u8,
    /// Highest zoom level with tiles.
    pub max_zoom: u8,
    /// West, south, east, north, in degrees.
    pub bounds: [f64; 4],
    /// Longitude, latitude (degrees) and zoom of the file's centre.
    pub center: [f64; 3],
}

/// The parts of a PMTiles v3 header the checks use.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The spec version (3).
    pub version: u8,
    /// Sections as (offset, length): root directory, metadata, leaf directories, tile data.
    pub sections: [(u64, u64); 4],
    /// Compression of directories and metadata (1 none, 2 gzip, 3 brotli, 4 zstd).
    pub internal_compression: u8,
    /// Compression of tiles.
    pub tile_compression: u8,
    /// 1 MVT, 2 PNG, 3 JPEG, 4 WebP, 5 AVIF.
    pub tile_type: u8,
    /// Lowest zoom.
    pub min_zoom: u8,
    /// Highest zoom.
    pub max_zoom: u8,
    /// West, south, east, north.
    pub bounds: [f64; 4],
    /// Longitude, latitude, zoom.
    pub center: [f64; 3],
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn deg_at(b: &[u8], at: usize) -> f64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    f64::from(i32::from_le_bytes(a)) / 10_000_000.0
}

fn refuse(code: ErrorCode, path: &Path, what: impl std::fmt::Display) -> AppError {
    AppError::new(code, format!("the map tiles file {} {what}; the map setting is unchanged", path.display()))
}

/// Parses and checks the header `b` (the file's first bytes) of a file of `size` bytes at
/// `path` (named in messages).
pub fn check_header(path: &Path, b: &[u8], size: u64) -> Result<Header> {
    if b.len() < MAGIC.len() || &b[..MAGIC.len()] != MAGIC {
        return Err(refuse(ErrorCode::NotPmtiles, path, "is not a PMTiles file (it does not begin with \"PMTiles\")"));
    }
    if b.len() < HEADER_LEN {
        return Err(refuse(
            ErrorCode::NotPmtiles,
            path,
            format_args!("is cut short: {} bytes, less than a PMTiles header ({HEADER_LEN} bytes)", b.len()),
        ));
    }
    let version = b[7];
    if version != 3 {
        return Err(refuse(ErrorCode::PmtilesUnsupported, path, format_args!("is PMTiles version {version}; only version 3 is read")));
    }
    let h = Header {
        version,
        sections: [
            (u64_at(b, 8), u64_at(b, 16)),
            (u64_at(b, 24), u64_at(b, 32)),
            (u64_at(b, 40), u64_at(b, 48)),
            (u64_at(b, 56), u64_at(b, 64)),
        ],
        internal_compression: b[97],
        tile_compression: b[98],
        tile_type: b[99],
        min_zoom: b[100],
        max_zoom: b[101],
        bounds: [deg_at(b, 102), deg_at(b, 106), deg_at(b, 110), deg_at(b, 114)],
        center: [deg_at(b, 119), deg_at(b, 123), f64::from(b[118])],
    };
    if h.tile_type != 1 {
        let kind = match h.tile_type {
            2 => "PNG images",
            3 => "JPEG images",
            4 => "WebP images",
            5 => "AVIF images",
            _ => "tiles of an unknown type",
        };
        return Err(refuse(ErrorCode::PmtilesNotVector, path, format_args!("holds {kind}, not vector tiles (MVT)")));
    }
    for (what, c) in [("directories", h.internal_compression), ("tiles", h.tile_compression)] {
        if c != 1 && c != 2 {
            let name = match c {
                3 => "brotli",
                4 => "zstd",
                _ => "an unknown method",
            };
            return Err(refuse(
                ErrorCode::PmtilesUnsupported,
                path,
                format_args!("compresses its {what} with {name}; only uncompressed or gzip is read"),
            ));
        }
    }
    if h.min_zoom > h.max_zoom || h.max_zoom > 30 {
        return Err(refuse(ErrorCode::PmtilesDamaged, path, format_args!("names zoom levels {} to {}", h.min_zoom, h.max_zoom)));
    }
    let names = ["root directory", "metadata", "leaf directories", "tile data"];
    for (name, (offset, len)) in names.iter().zip(h.sections) {
        let end = offset.checked_add(len);
        if end.is_none_or(|e| e > size) || (*name == "root directory" && (len == 0 || offset < HEADER_LEN as u64)) {
            return Err(refuse(
                ErrorCode::PmtilesDamaged,
                path,
                format_args!("is damaged: its {name} ({len} bytes at {offset}) lies outside the file ({size} bytes)"),
            ));
        }
    }
    let [w, s, e, n] = h.bounds;
    if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) || !(-90.0..=90.0).contains(&s) || !(-90.0..=90.0).contains(&n) {
        return Err(refuse(ErrorCode::PmtilesDamaged, path, "is damaged: its bounds are not longitudes and latitudes"));
    }
    Ok(h)
}

/// Opens `path` and checks its header: the file then is a usable tiles file.
pub fn check_file(path: &Path) -> Result<(File, Header, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse(ErrorCode::MissingFile, path, "does not exist"),
        _ => refuse(ErrorCode::MissingFile, path, format_args!("cannot be read ({})", crate::error::io_reason(&e))),
    })?;
    if !meta.is_file() {
        return Err(refuse(ErrorCode::MissingFile, path, "is not a file"));
    }
    let mut f = File::open(path)
        .map_err(|e| refuse(ErrorCode::MissingFile, path, format_args!("cannot be read ({})", crate::error::io_reason(&e))))?;
    let mut b = Vec::with_capacity(HEADER_LEN);
    (&mut f)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut b)
        .map_err(|e| refuse(ErrorCode::MissingFile, path, format_args!("cannot be read ({})", crate::error::io_reason(&e))))?;
    let h = check_header(path, &b, meta.len())?;
    Ok((f, h, meta.len()))
}

/// What Settings and the map show of a checked file.
pub fn describe(path: &Path, from_settings: bool) -> Result<MapTiles> {
    let (_, h, size) = check_file(path)?;
    Ok(MapTiles {
        path: path.display().to_string(),
        from_settings,
        size,
        min_zoom: h.min_zoom,
        max_zoom: h.max_zoom,
        bounds: h.bounds,
        center: h.center,
    })
}

/// The file the map uses: Settings' `set` (if any), else [`SHIPPED_FILE`] in `dir` when it
/// exists. `None`: no tiles (the world outlines only).
pub fn chosen(dir: &Path, set: Option<&str>) -> Option<(PathBuf, bool)> {
    match set {
        Some(p) => Some((PathBuf::from(p), true)),
        None => {
            let shipped = dir.join(SHIPPED_FILE);
            shipped.exists().then_some((shipped, false))
        }
    }
}

/// Bytes `offset .. offset + length` of the checked file at `path`, fewer at its end (the
/// reader's first request is 16 KiB, whatever the file's size). An offset past the end or a
/// length over [`MAX_RANGE`] is refused (`invalid_input`).
pub fn read_range(path: &Path, offset: u64, length: u64) -> Result<Vec<u8>> {
    if length == 0 || length > MAX_RANGE {
        return Err(AppError::invalid("map tiles range", format!("{length} bytes asked; 1 to {MAX_RANGE} bytes are read at once")));
    }
    let (mut f, _, size) = check_file(path)?;
    if offset >= size {
        return Err(AppError::invalid("map tiles range", format!("offset {offset} is past the file's end ({size} bytes)")));
    }
    let n = length.min(size - offset);
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| (&mut f).take(n).read_to_end(&mut out))
        .map_err(|e| refuse(ErrorCode::MissingFile, path, format_args!("cannot be read ({})", crate::error::io_reason(&e))))?;
    Ok(out)
}

/// A minimal PMTiles v3 header for tests: vector, uncompressed, zoom 0 to 14, a root directory
/// of `root_len` bytes right after the header, then `data_len` bytes of tile data.
#[doc(hidden)]
pub fn test_header(root_len: u64, data_len: u64) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN];
    b[..7].copy_from_slice(MAGIC);
    b[7] = 3;
    let put = |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let root = HEADER_LEN as u64;
    put(&mut b, 8, root);
    put(&mut b, 16, root_len);
    put(&mut b, 24, root + root_len);
    put(&mut b, 32, 0);
    put(&mut b, 40, root + root_len);
    put(&mut b, 48, 0);
    put(&mut b, 56, root + root_len);
    put(&mut b, 64, data_len);
    b[97] = 1;
    b[98] = 1;
    b[99] = 1;
    b[100] = 0;
    b[101] = 14;
    let deg = |b: &mut Vec<u8>, at: usize, v: f64| b[at..at + 4].copy_from_slice(&((v * 1e7) as i32).to_le_bytes());
    deg(&mut b, 102, 13.40);
    deg(&mut b, 106, 52.51);
    deg(&mut b, 110, 13.42);
    deg(&mut b, 114, 52.53);
    b[118] = 14;
    deg(&mut b, 119, 13.41);
    deg(&mut b, 123, 52.52);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn good() -> Vec<u8> {
        let mut b = test_header(10, 100);
        b.extend(std::iter::repeat_n(7u8, 110));
        b
    }

    #[test]
    fn a_good_header_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let p = file(tmp.path(), "ok.pmtiles", &good());
        let t = describe(&p, true).unwrap();
        assert_eq!((t.min_zoom, t.max_zoom, t.size), (0, 14, 237));
        assert!((t.center[0] - 13.41).abs() < 1e-6 && (t.center[1] - 52.52).abs() < 1e-6 && t.center[2] == 14.0);
        assert!((t.bounds[3] - 52.53).abs() < 1e-6);
    }

    #[test]
    fn crafted_bad_files_are_refused_each_with_its_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
            ("empty", vec![], "not_pmtiles", "does not begin"),
            ("jpeg", b"\xff\xd8\xff\xe0 a photo, not tiles at all, long enough to be a header".to_vec(), "not_pmtiles", "does not begin"),
            ("truncated", good()[..60].to_vec(), "not_pmtiles", "cut short: 60 bytes"),
        ];
        let mut v2 = good();
        v2[7] = 2;
        cases.push(("v2", v2, "pmtiles_unsupported", "version 2"));
        let mut png = good();
        png[99] = 2;
        cases.push(("raster", png, "pmtiles_not_vector", "PNG images"));
        let mut unknown = good();
        unknown[99] = 0;
        cases.push(("unknown type", unknown, "pmtiles_not_vector", "unknown type"));
        let mut brotli = good();
        brotli[97] = 3;
        cases.push(("brotli", brotli, "pmtiles_unsupported", "brotli"));
        let mut zstd = good();
        zstd[98] = 4;
        cases.push(("zstd tiles", zstd, "pmtiles_unsupported", "tiles with zstd"));
        let mut huge = good();
        huge[56..64].copy_from_slice(&(u64::MAX - 5).to_le_bytes());
        cases.push(("huge offset", huge, "pmtiles_damaged", "tile data"));
        let mut past = good();
        past[64..72].copy_from_slice(&1_000_000u64.to_le_bytes());
        cases.push(("data past end", past, "pmtiles_damaged", "outside the file (237 bytes)"));
        let mut root_in_header = good();
        root_in_header[8..16].copy_from_slice(&3u64.to_le_bytes());
        cases.push(("root inside header", root_in_header, "pmtiles_damaged", "root directory"));
        let mut zooms = good();
        zooms[100] = 15;
        cases.push(("zooms", zooms, "pmtiles_damaged", "zoom levels 15 to 14"));
        let mut bounds = good();
        bounds[114..118].copy_from_slice(&i32::MAX.to_le_bytes());
        cases.push(("bounds", bounds, "pmtiles_damaged", "bounds"));
        for (name, bytes, code, words) in cases {
            let p = file(tmp.path(), "bad.pmtiles", &bytes);
            let e = describe(&p, true).unwrap_err();
            assert_eq!(e.code, code, "{name}: {}", e.message);
            assert!(e.message.contains(words) && e.message.contains("bad.pmtiles"), "{name}: {}", e.message);
        }
        let missing = describe(&tmp.path().join("nope.pmtiles"), true).unwrap_err();
        assert_eq!(missing.code, "missing_file");
        assert!(missing.message.contains("does not exist"));
        assert_eq!(describe(tmp.path(), true).unwrap_err().code, "missing_file", "a directory");
    }

    #[test]
    fn ranges_are_cut_at_the_end_and_refused_past_it() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = good();
        let p = file(tmp.path(), "ok.pmtiles", &bytes);
        assert_eq!(read_range(&p, 0, 16384).unwrap(), bytes, "the reader's first 16 KiB: the whole small file");
        assert_eq!(read_range(&p, 127, 10).unwrap(), bytes[127..137]);
        assert_eq!(read_range(&p, 236, 50).unwrap(), bytes[236..]);
        for (offset, len) in [(237, 1), (u64::MAX, 1), (u64::MAX - 1, u64::MAX), (0, 0), (0, MAX_RANGE + 1)] {
            assert_eq!(read_range(&p, offset, len).unwrap_err().code, "invalid_input", "{offset} {len}");
        }
        // A file replaced by one that is not PMTiles is not served.
        std::fs::write(&p, b"not tiles any more").unwrap();
        assert_eq!(read_range(&p, 0, 10).unwrap_err().code, "not_pmtiles");
    }

    #[test]
    fn the_shipped_file_is_used_when_settings_name_none() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(chosen(tmp.path(), None), None);
        assert_eq!(chosen(tmp.path(), Some("/x.pmtiles")), Some((PathBuf::from("/x.pmtiles"), true)));
        file(tmp.path(), SHIPPED_FILE, &good());
        assert_eq!(chosen(tmp.path(), None), Some((tmp.path().join(SHIPPED_FILE), false)));
        assert!(chosen(tmp.path(), Some("/x.pmtiles")).unwrap().1, "Settings win");
    }
}
