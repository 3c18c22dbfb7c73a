//! Writing EXIF: a little-endian TIFF block of IFDs, and a JPEG with it in an APP1 "Exif"
//! segment. `casebridge demo` makes its photos with it, and tests make JPEGs whose metadata
//! they know. Reading EXIF is [`crate::metadata`]'s business (kamadak-exif).
//!
//! ```
//! use casebridge_core::exif_write::{ascii, ifd, jpeg_with_tiff, tiff};
//! let t = tiff(&[ifd(vec![ascii(0x010F, "Casebridge Optics")], 8)]);
//! let jpeg = jpeg_with_tiff(&t).unwrap();
//! assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE1]);
//! ```

/// TIFF field type ASCII (NUL-terminated text).
pub const ASCII: u16 = 2;
/// TIFF field type SHORT (u16).
pub const SHORT: u16 = 3;
/// TIFF field type LONG (u32).
pub const LONG: u16 = 4;
/// TIFF field type RATIONAL (two u32: numerator, denominator).
pub const RATIONAL: u16 = 5;
/// TIFF field type UNDEFINED (bytes).
pub const UNDEFINED: u16 = 7;

/// One IFD entry: a tag, its type, its count and its value bytes (little-endian).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The tag (0x010F Make, 0x9003 DateTimeOriginal, ...).
    pub tag: u16,
    /// The field type.
    pub typ: u16,
    /// Values of that type.
    pub count: u32,
    /// The value bytes.
    pub data: Vec<u8>,
}

/// A text entry (NUL-terminated).
pub fn ascii(tag: u16, text: &str) -> Entry {
    let mut data = text.as_bytes().to_vec();
    data.push(0);
    Entry { tag, typ: ASCII, count: data.len() as u32, data }
}

/// One u16.
pub fn short(tag: u16, v: u16) -> Entry {
    Entry { tag, typ: SHORT, count: 1, data: v.to_le_bytes().to_vec() }
}

/// One u32 (also the offset of a sub-IFD: Exif 0x8769, GPS 0x8825).
pub fn long(tag: u16, v: u32) -> Entry {
    Entry { tag, typ: LONG, count: 1, data: v.to_le_bytes().to_vec() }
}

/// Raw bytes (a MakerNote, say).
pub fn undefined(tag: u16, bytes: &[u8]) -> Entry {
    Entry { tag, typ: UNDEFINED, count: bytes.len() as u32, data: bytes.to_vec() }
}

/// A coordinate's absolute value as GPS (degrees, minutes, ten-thousandths of seconds)
/// rationals, the way cameras write GPSLatitude and GPSLongitude (the sign goes in the ref tag).
pub fn dms(v: f64) -> [(u32, u32); 3] {
    let v = v.abs();
    let d = v.trunc();
    let m = ((v - d) * 60.0).trunc();
    let s = ((v - d) * 60.0 - m) * 60.0;
    [(d as u32, 1), (m as u32, 1), ((s * 10_000.0).round() as u32, 10_000)]
}

/// Rationals `(numerator, denominator)` (GPS degrees, minutes, seconds).
pub fn rationals(tag: u16, values: &[(u32, u32)]) -> Entry {
    let data = values.iter().flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes())).collect();
    Entry { tag, typ: RATIONAL, count: values.len() as u32, data }
}

/// One IFD placed at `start` (an offset from the TIFF header): entries sorted by tag, values
/// over 4 bytes right after the IFD, no next IFD. Its length does not depend on the values of
/// offset entries, so a layout can be computed once with zeros and then made for real.
pub fn ifd(mut entries: Vec<Entry>, start: u32) -> Vec<u8> {
    entries.sort_by_key(|e| e.tag);
    let table_len = 2 + 12 * entries.len() as u32 + 4;
    let mut out = Vec::new();
    let mut extra = Vec::new();
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in &entries {
        out.extend_from_slice(&e.tag.to_le_bytes());
        out.extend_from_slice(&e.typ.to_le_bytes());
        out.extend_from_slice(&e.count.to_le_bytes());
        if e.data.len() <= 4 {
            let mut v = e.data.clone();
            v.resize(4, 0);
            out.extend_from_slice(&v);
        } else {
            out.extend_from_slice(&(start + table_len + extra.len() as u32).to_le_bytes());
            extra.extend_from_slice(&e.data);
            if extra.len() % 2 == 1 {
                extra.push(0);
            }
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&extra);
    out
}

/// A little-endian TIFF block: the header (first IFD at offset 8), then `ifds` one after the
/// other, each made by [`ifd`] for the offset where it lands.
pub fn tiff(ifds: &[Vec<u8>]) -> Vec<u8> {
    let mut t = b"II\x2A\x00".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    for i in ifds {
        t.extend_from_slice(i);
    }
    t
}

/// `jpeg` (which must start with SOI) with an APP1 "Exif" segment holding `tiff` right after
/// SOI. `None` when `jpeg` is not a JPEG or `tiff` does not fit in one segment.
pub fn splice_exif(jpeg: &[u8], tiff: &[u8]) -> Option<Vec<u8>> {
    let (Some([0xFF, 0xD8]), Ok(len)) = (jpeg.get(..2), u16::try_from(2 + 6 + tiff.len())) else {
        return None;
    };
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    Some(out)
}

/// A minimal JPEG of only SOI, the APP1 "Exif" segment holding `tiff`, and EOI: enough for
/// content sniffing and EXIF extraction, no picture. `None` when `tiff` is too large.
pub fn jpeg_with_tiff(tiff: &[u8]) -> Option<Vec<u8>> {
    splice_exif(&[0xFF, 0xD8, 0xFF, 0xD9], tiff)
}
