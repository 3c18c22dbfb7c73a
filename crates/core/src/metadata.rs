//! What the content itself says, read at import: media type sniffed from the bytes (never the
//! extension), and for photos the EXIF capture time, GPS position, camera make and model.
//!
//! Nothing here fails an import: unreadable or absent metadata is simply `None`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use exif::{In, Tag, Value};

use crate::model::{Camera, Extracted, GeoPoint};

/// Bytes read to sniff the media type.
const SNIFF_LEN: usize = 8192;

/// The media type of `head` (the first bytes of a file).
pub fn sniff_media_type(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_string();
    }
    if head.is_empty() {
        return "application/octet-stream".to_string();
    }
    // Text: valid UTF-8 (allowing a code point cut at the sniff boundary) and no NULs.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() == SNIFF_LEN,
    };
    if valid && !head.contains(&0) {
        "text/plain".to_string()
    } else {
        "application/octet-stream".to_string()
    }
}

/// Reads the head of a file for sniffing.
pub fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; SNIFF_LEN];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// EXIF metadata of an image file (JPEG, TIFF, HEIF, PNG, WebP); empty when there is none.
pub fn extract(path: &Path, media_type: &str) -> Extracted {
    if !media_type.starts_with("image/") {
        return Extracted::default();
    }
    let Ok(f) = File::open(path) else { return Extracted::default() };
    let Ok(exif) = exif::Reader::new().read_from_container(&mut BufReader::new(f)) else {
        return Extracted::default();
    };
    Extracted { captured_at: captured_at(&exif), location: gps(&exif), camera: camera(&exif) }
}

/// Images larger than this are not read into memory for [`extract_from`] by the recipient's
/// observation of received content (their media type is still sniffed).
pub const OBSERVE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes of a content's head that [`sniff_media_type`] looks at.
pub const SNIFF_BYTES: usize = SNIFF_LEN;

/// [`extract`] over content already in memory or any seekable reader (e.g. decrypted from a
/// store's objects): never needs a plaintext file.
pub fn extract_from<R: std::io::BufRead + std::io::Seek>(mut reader: R, media_type: &str) -> Extracted {
    if !media_type.starts_with("image/") {
        return Extracted::default();
    }
    let Ok(exif) = exif::Reader::new().read_from_container(&mut reader) else {
        return Extracted::default();
    };
    Extracted { captured_at: captured_at(&exif), location: gps(&exif), camera: camera(&exif) }
}

fn ascii(exif: &exif::Exif, tag: Tag) -> Option<String> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    match &field.value {
        Value::Ascii(v) => {
            let s = String::from_utf8_lossy(v.first()?).trim().trim_end_matches('\0').to_string();
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

fn captured_at(exif: &exif::Exif) -> Option<DateTime<FixedOffset>> {
    let field = exif.get_field(Tag::DateTimeOriginal, In::PRIMARY).or_else(|| exif.get_field(Tag::DateTime, In::PRIMARY))?;
    let Value::Ascii(v) = &field.value else { return None };
    let mut dt = exif::DateTime::from_ascii(v.first()?).ok()?;
    if let Some(off) = exif.get_field(Tag::OffsetTimeOriginal, In::PRIMARY) {
        if let Value::Ascii(o) = &off.value {
            if let Some(o) = o.first() {
                let _ = dt.parse_offset(o);
            }
        }
    }
    let date = NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?;
    let naive = date.and_hms_nano_opt(dt.hour.into(), dt.minute.into(), dt.second.into(), dt.nanosecond.unwrap_or(0))?;
    // Without OffsetTimeOriginal the camera's zone is unknown; UTC is recorded and the
    // claimed time (if given) carries the contributor's statement.
    let offset = FixedOffset::east_opt(i32::from(dt.offset.unwrap_or(0)) * 60)?;
    offset.from_local_datetime(&naive).single()
}

/// A GPS latitude or longitude in degrees, signed by its reference (`S` or `W` negative).
fn gps_coord(exif: &exif::Exif, tag: Tag, ref_tag: Tag, negative: u8) -> Option<f64> {
    let field = exif.get_field(tag, In::PRIMARY)?;
    let (v, text_ref) = match &field.value {
        Value::Rational(r) => (dms(r.iter().map(|x| (x.denom != 0).then(|| x.to_f64())))?, None),
        Value::Ascii(a) => ascii_degrees(a.first()?)?,
        _ => return None,
    };
    let hemisphere = match exif.get_field(ref_tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(a)) => a.first().and_then(|s| s.iter().find(|b| !b.is_ascii_whitespace())).copied(),
        _ => text_ref,
    };
    Some(if hemisphere.map(|b| b.to_ascii_uppercase()) == Some(negative) { -v } else { v })
}

/// Degrees from one to three parts (degrees, minutes, seconds), each finite and not negative;
/// `None` for any part that could not be read.
fn dms(parts: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut v = 0.0;
    let mut n = 0;
    for (part, scale) in parts.zip([1.0, 60.0, 3600.0]) {
        let x = part?;
        if !(x.is_finite() && x >= 0.0) {
            return None;
        }
        v += x / scale;
        n += 1;
    }
    (n > 0).then_some(v)
}

/// A coordinate written as ASCII text instead of three rationals, as some phones (HTC among
/// them) do: "52/1,22/1,1234/100", "52 22 12.34", "52,22.2057", "52.370093" or
/// "52°22'12.34\"", optionally with the hemisphere letter at either end. Returns the
/// unsigned degrees and that letter.
fn ascii_degrees(text: &[u8]) -> Option<(f64, Option<u8>)> {
    let text = std::str::from_utf8(text).ok()?.trim_end_matches('\0');
    let mut parts: Vec<&str> =
        text.split(|c: char| c == ',' || c == '°' || c == '\'' || c == '"' || c.is_whitespace()).filter(|p| !p.is_empty()).collect();
    let mut hemisphere = None;
    for at in [parts.len().wrapping_sub(1), 0] {
        if let Some(&[b]) = parts.get(at).map(|p| p.as_bytes()) {
            if b"NSEWnsew".contains(&b) {
                hemisphere = Some(b.to_ascii_uppercase());
                parts.remove(at);
                break;
            }
        }
    }
    if parts.len() > 3 {
        return None;
    }
    let part = |p: &str| -> Option<f64> {
        match p.split_once('/') {
            Some((n, d)) => {
                let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
                (d != 0.0).then(|| n / d)
            }
            None => p.parse::<f64>().ok(),
        }
    };
    Some((dms(parts.into_iter().map(part))?, hemisphere))
}

fn gps(exif: &exif::Exif) -> Option<GeoPoint> {
    let lat = gps_coord(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let lon = gps_coord(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    GeoPoint::new(lat, lon).ok()
}

fn camera(exif: &exif::Exif) -> Option<Camera> {
    let make = ascii(exif, Tag::Make);
    let model = ascii(exif, Tag::Model);
    (make.is_some() || model.is_some()).then_some(Camera { make, model })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff_media_type(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), "image/jpeg");
        assert_eq!(sniff_media_type(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff_media_type("Zeugin sagt aus: größer".as_bytes()), "text/plain");
        assert_eq!(sniff_media_type(&[0, 1, 2, 3, 0xfe]), "application/octet-stream");
        assert_eq!(sniff_media_type(b""), "application/octet-stream");
    }

    #[track_caller]
    fn text(t: &str) -> Option<(f64, Option<u8>)> {
        ascii_degrees(t.as_bytes())
    }

    #[track_caller]
    fn close(got: Option<(f64, Option<u8>)>, want: f64, hemisphere: Option<u8>) {
        let (v, h) = got.unwrap_or_else(|| panic!("not read; expected {want}"));
        assert!((v - want).abs() < 1e-12, "got {v}, expected {want}");
        assert_eq!(h, hemisphere);
    }

    /// GPS as ASCII text, the way some HTC phones write it (issue 12).
    #[test]
    fn reads_gps_written_as_text() {
        let dms = 52.0 + 22.0 / 60.0 + 12.34 / 3600.0;
        close(text("52/1,22/1,1234/100"), dms, None);
        close(text("52/1, 22/1, 1234/100"), dms, None);
        close(text("52 22 12.34"), dms, None);
        close(text("52°22'12.34\""), dms, None);
        close(text("52,22.2057"), 52.0 + 22.2057 / 60.0, None);
        close(text("52.370094"), 52.370094, None);
        close(text("  4 53 42.96 W\0"), 4.0 + 53.0 / 60.0 + 42.96 / 3600.0, Some(b'W'));
        close(text("s 33 52 10"), 33.0 + 52.0 / 60.0 + 10.0 / 3600.0, Some(b'S'));
        for bad in ["", "N", "52/0,22/1,0/1", "a b c", "-52 22 12", "1 2 3 4", "inf", "NaN 1 2", "52/1,,x"] {
            assert_eq!(text(bad), None, "{bad:?} must not be read");
        }
    }
}
