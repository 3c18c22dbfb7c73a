//! Provable redaction: a redacted copy of an image, added as a new evidence item whose signed
//! provenance names the original (id and SHA-256) and every operation, in order.
//!
//! The flow of [`redact`]:
//! 1. the original's content is read **into memory** through [`Store::read_content`]
//!    (authenticated and re-hashed on the way); no plaintext ever reaches a temp file;
//! 2. it is decoded with the `image` crate (JPEG or PNG; anything else is refused by its
//!    sniffed media type), and turned upright when its EXIF orientation says so, because the
//!    copy carries no EXIF to say it any more;
//! 3. each region (at most [`MAX_REGIONS`], each checked to lie inside the image first) is
//!    made unreadable, by the [`RegionMode`] asked for: **blur** reduces it to a coarse grid of
//!    at most [`CELLS_ACROSS`] cells along its longer side (block averages, i.e. pixelation),
//!    Gaussian-blurs that grid, and scales it back up smoothly; **fill** paints it
//!    [`FILL_COLOUR`]. Only the region's own pixels are used, so nothing outside a region
//!    changes;
//! 4. it is re-encoded (JPEG at quality [`JPEG_QUALITY`] for a JPEG, PNG for a PNG). The
//!    encoders write no EXIF, XMP, ICC or text chunks, so GPS position, camera serial numbers
//!    and maker notes are gone. This is checked, not assumed: the encoded copy is parsed for
//!    EXIF and refused if any is found;
//! 5. [`Store::add_derivative`] records, in one durable append, the new item, its custody
//!    `imported`, the signed `evidence_derived` provenance and custody `redacted` on the
//!    original, which itself is never modified;
//! 6. police staff's redactions are also written to the case's access log (`redacted`, with
//!    the reason given).
//!
//! Re-encoding always strips the metadata, so `strip-metadata` is always the first operation
//! recorded, whether or not it was asked for: the provenance says what was done.

use std::fmt;
use std::io::Cursor;
use std::path::Path;
use std::str::FromStr;

use casebridge_core::{AddedEvidence, Role, Store};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use uuid::Uuid;

/// Along its longer side a blurred region keeps at most this many cells of detail (before the
/// Gaussian blur on the grid removes most of what is left): a face or a number plate becomes a
/// smooth patch of colour.
pub const CELLS_ACROSS: u32 = 8;

/// The Gaussian blur on the cell grid, in cells.
pub const GRID_SIGMA: f32 = 1.0;

/// JPEG quality of a redacted JPEG.
pub const JPEG_QUALITY: u8 = 90;

/// The largest original that is redacted (it is held in memory, decoded and re-encoded).
pub const MAX_CONTENT: u64 = 256 * 1024 * 1024;

/// The operation recorded for the metadata removal.
pub const STRIP_METADATA: &str = "strip-metadata";

/// The most regions one redaction takes (each is a recorded operation; a face or a plate per
/// region, so far more than any honest picture needs).
pub const MAX_REGIONS: usize = 64;

/// The colour a filled region is painted (opaque black, as a redaction marker is).
pub const FILL_COLOUR: [u8; 3] = [0, 0, 0];

/// How regions are made unreadable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegionMode {
    /// Pixelated and blurred from the region's own pixels (recorded `blur X,Y,W,H`).
    #[default]
    Blur,
    /// Painted [`FILL_COLOUR`] (recorded `fill X,Y,W,H`).
    Fill,
}

impl RegionMode {
    /// The operation's word in the provenance (`blur`, `fill`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegionMode::Blur => "blur",
            RegionMode::Fill => "fill",
        }
    }
}

/// A rectangle of the upright image, in pixels: `X,Y,W,H` on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (more than 0).
    pub w: u32,
    /// Height (more than 0).
    pub h: u32,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.w, self.h)
    }
}

impl FromStr for Region {
    type Err = RedactError;

    /// Parses `X,Y,W,H` (whole pixels; spaces around the numbers are allowed).
    fn from_str(s: &str) -> Result<Region, RedactError> {
        let bad = || RedactError::RegionSyntax { value: s.to_string() };
        let parts: Vec<u32> = s.split(',').map(|p| p.trim().parse::<u32>().map_err(|_| bad())).collect::<Result<_, _>>()?;
        let [x, y, w, h] = parts[..] else { return Err(bad()) };
        if w == 0 || h == 0 {
            return Err(bad());
        }
        Ok(Region { x, y, w, h })
    }
}

/// What to do.
#[derive(Clone, Debug, Default)]
pub struct RedactOptions {
    /// Remove all metadata (always done; asking for it alone is a valid redaction).
    pub strip_metadata: bool,
    /// Regions to make unreadable, in pixels of the upright image (at most [`MAX_REGIONS`]).
    pub regions: Vec<Region>,
    /// How the regions are made unreadable.
    pub mode: RegionMode,
    /// Why (written to the access log).
    pub reason: Option<String>,
}

/// Errors of [`redact`]. None carries evidence content or names; when one is returned,
/// nothing was added to the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// Neither metadata stripping nor a blur region was asked for.
    #[error("nothing to redact: ask for metadata stripping, regions to blur, or both; nothing was added")]
    NothingToDo,

    /// A blur region is not `X,Y,W,H` in whole pixels with a width and height above 0.
    #[error("invalid blur region '{value}': expected X,Y,W,H in whole pixels with W and H above 0, e.g. 10,20,100,80")]
    RegionSyntax {
        /// What was given.
        value: String,
    },

    /// More regions than [`MAX_REGIONS`] were asked for.
    #[error("{count} regions were given; at most {max} can be redacted at once; nothing was added")]
    TooManyRegions {
        /// How many were given.
        count: usize,
        /// The limit ([`MAX_REGIONS`]).
        max: usize,
    },

    /// A region has no width or no height.
    #[error("region {region} is empty: its width and height must be at least 1 pixel; nothing was added")]
    EmptyRegion {
        /// The region.
        region: Region,
    },

    /// The original was deleted (under a retention rule or a withdrawal): its content is gone.
    #[error("evidence {id} was deleted under rule {rule}: its content no longer exists, so it cannot be redacted; nothing was added")]
    Deleted {
        /// The original.
        id: Uuid,
        /// The rule it was deleted under.
        rule: String,
    },

    /// A region does not lie inside the image.
    #[error("region {region} {why} of the {width}x{height} image (regions are X,Y,W,H in pixels of the upright image); nothing was added")]
    RegionOutside {
        /// The region.
        region: Region,
        /// Which edge it crosses.
        why: &'static str,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },

    /// The original is not a JPEG or PNG image.
    #[error("evidence {id} is {media_type}, not a JPEG or PNG image: only images can be redacted; nothing was added")]
    NotAnImage {
        /// The original.
        id: Uuid,
        /// Its sniffed media type.
        media_type: String,
    },

    /// The original is too large to be redacted in memory.
    #[error("evidence {id} is too large to redact ({what}); nothing was added")]
    TooLarge {
        /// The original.
        id: Uuid,
        /// Bytes or pixels, and the limit.
        what: String,
    },

    /// The original's content does not decode as the image its media type says.
    #[error("evidence {id} does not decode as {media_type} ({reason}); nothing was added")]
    Undecodable {
        /// The original.
        id: Uuid,
        /// Its sniffed media type.
        media_type: String,
        /// The decoder's reason (about the format, never the content).
        reason: String,
    },

    /// The redacted image could not be encoded.
    #[error("the redacted copy could not be encoded ({reason}); nothing was added")]
    Encode {
        /// The encoder's reason.
        reason: String,
    },

    /// The encoded copy still carries EXIF metadata (a defect of this build, never expected).
    #[error("internal error: the redacted copy still carries EXIF metadata; nothing was added")]
    MetadataSurvived,

    /// The store refused (unknown item, damaged journal, ...).
    #[error(transparent)]
    Store(#[from] casebridge_core::Error),
}

impl RedactError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RedactError::NothingToDo => "nothing_to_redact",
            RedactError::RegionSyntax { .. } => "bad_region",
            RedactError::TooManyRegions { .. } => "too_many_regions",
            RedactError::EmptyRegion { .. } => "empty_region",
            RedactError::Deleted { .. } => "evidence_deleted",
            RedactError::RegionOutside { .. } => "region_outside_image",
            RedactError::NotAnImage { .. } => "not_an_image",
            RedactError::TooLarge { .. } => "too_large",
            RedactError::Undecodable { .. } => "undecodable_image",
            RedactError::Encode { .. } => "encode_failed",
            RedactError::MetadataSurvived => "metadata_survived",
            RedactError::Store(e) => e.code(),
        }
    }
}

/// Makes a redacted copy of evidence `original` and adds it to the store as a derivative (see
/// the module docs). Returns the new item.
pub fn redact(store: &mut Store, original: Uuid, opts: &RedactOptions) -> Result<AddedEvidence, RedactError> {
    if !opts.strip_metadata && opts.regions.is_empty() {
        return Err(RedactError::NothingToDo);
    }
    if opts.regions.len() > MAX_REGIONS {
        return Err(RedactError::TooManyRegions { count: opts.regions.len(), max: MAX_REGIONS });
    }
    let view = store.evidence(original)?;
    if let Some(d) = &view.deleted {
        return Err(RedactError::Deleted { id: original, rule: d.rule.clone() });
    }
    let format = match view.media_type.as_str() {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        other => return Err(RedactError::NotAnImage { id: original, media_type: other.to_string() }),
    };
    if view.size > MAX_CONTENT {
        return Err(RedactError::TooLarge { id: original, what: format!("{} bytes; the limit is {MAX_CONTENT}", view.size) });
    }

    // Into memory, authenticated and re-hashed on the way: never a temp file.
    let mut content = Vec::new();
    content
        .try_reserve_exact(usize::try_from(view.size).unwrap_or(usize::MAX))
        .map_err(|_| RedactError::TooLarge { id: original, what: format!("{} bytes do not fit in memory", view.size) })?;
    store.read_content(&view.sha256, view.size, &mut content, &mut |_: u64| true)?;

    let undecodable = |e: ImageError| match e {
        ImageError::Limits(l) => RedactError::TooLarge { id: original, what: format!("decoding it would exceed a limit: {l}") },
        other => RedactError::Undecodable { id: original, media_type: view.media_type.clone(), reason: other.to_string() },
    };
    let mut decoder = ImageReader::with_format(Cursor::new(&content[..]), format).into_decoder().map_err(undecodable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    drop(content);

    let mut operations = vec![STRIP_METADATA.to_string()];
    if orientation != Orientation::NoTransforms {
        img.apply_orientation(orientation);
        operations.push(format!("apply-orientation {}", orientation.to_exif()));
    }
    // Every region is checked before any is blurred.
    for r in &opts.regions {
        check_region(r, img.width(), img.height())?;
    }
    for r in &opts.regions {
        match opts.mode {
            RegionMode::Blur => blur_region(&mut img, r),
            RegionMode::Fill => fill_region(&mut img, r),
        }
        operations.push(format!("{} {r}", opts.mode.as_str()));
    }

    let (bytes, media_type, ext) = encode(&img, format)?;
    drop(img);
    // Provable, not assumed: the copy must carry no EXIF at all.
    if exif::Reader::new().read_from_container(&mut Cursor::new(&bytes[..])).is_ok() {
        return Err(RedactError::MetadataSurvived);
    }

    let name = derivative_name(&view.original_name, ext);
    let added = store.add_derivative(original, &mut &bytes[..], media_type, &name, operations, &mut |_: u64| true)?;
    // Police staff's processing is logged (LED 2016/680 Art. 25); a volunteer's redaction of
    // their own material is in the custody trail only.
    if store.whoami().role != Role::Volunteer {
        store.record_access(view.case_id, Some(original), "redacted", opts.reason.clone())?;
    }
    Ok(added)
}

/// Refuses a region that is empty or crosses an edge of a `width` x `height` image.
fn check_region(r: &Region, width: u32, height: u32) -> Result<(), RedactError> {
    let outside = |why| RedactError::RegionOutside { region: *r, why, width, height };
    if r.w == 0 || r.h == 0 {
        return Err(RedactError::EmptyRegion { region: *r });
    }
    if r.x >= width || r.y >= height {
        return Err(outside("starts outside"));
    }
    if u64::from(r.x) + u64::from(r.w) > u64::from(width) {
        return Err(outside("reaches past the right edge"));
    }
    if u64::from(r.y) + u64::from(r.h) > u64::from(height) {
        return Err(outside("reaches past the bottom edge"));
    }
    Ok(())
}

/// Makes a (checked) region unreadable using only its own pixels: block averages on a grid of
/// at most [`CELLS_ACROSS`] cells along the longer side, a Gaussian blur on that grid, and a
/// smooth scale back to the region's size.
fn blur_region(img: &mut DynamicImage, r: &Region) {
    let cell = r.w.max(r.h).div_ceil(CELLS_ACROSS).max(1);
    let (gw, gh) = (r.w.div_ceil(cell).max(1), r.h.div_ceil(cell).max(1));
    let patch = img.crop_imm(r.x, r.y, r.w, r.h);
    // Downscaling with a triangle filter averages every source pixel of a cell (pixelation).
    let grid = patch.resize_exact(gw, gh, FilterType::Triangle).blur(GRID_SIGMA);
    let smooth = grid.resize_exact(r.w, r.h, FilterType::Triangle);
    image::imageops::replace(img, &smooth, i64::from(r.x), i64::from(r.y));
}

/// Paints a (checked) region [`FILL_COLOUR`], opaque.
fn fill_region(img: &mut DynamicImage, r: &Region) {
    let [red, green, blue] = FILL_COLOUR;
    let patch = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(r.w, r.h, image::Rgba([red, green, blue, 255])));
    image::imageops::replace(img, &patch, i64::from(r.x), i64::from(r.y));
}

/// Encodes without any metadata: JPEG (8-bit grey or RGB) for a JPEG, PNG (same colour type)
/// for a PNG. Returns the bytes, media type and file extension.
fn encode(img: &DynamicImage, format: ImageFormat) -> Result<(Vec<u8>, &'static str, &'static str), RedactError> {
    let failed = |e: ImageError| RedactError::Encode { reason: e.to_string() };
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            let enc = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            match img {
                DynamicImage::ImageLuma8(_) => img.write_with_encoder(enc),
                _ => DynamicImage::ImageRgb8(img.to_rgb8()).write_with_encoder(enc),
            }
            .map_err(failed)?;
            Ok((out, "image/jpeg", "jpg"))
        }
        _ => {
            img.write_with_encoder(PngEncoder::new(&mut out)).map_err(failed)?;
            Ok((out, "image/png", "png"))
        }
    }
}

/// `<original stem>-redacted.<ext>`.
fn derivative_name(original_name: &str, ext: &str) -> String {
    let stem = Path::new(original_name).file_stem().map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.trim().is_empty());
    format!("{}-redacted.{ext}", stem.as_deref().unwrap_or("evidence"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_and_print() {
        let r: Region = "10,20,100,80".parse().unwrap();
        assert_eq!(r, Region { x: 10, y: 20, w: 100, h: 80 });
        assert_eq!(r.to_string(), "10,20,100,80");
        assert_eq!(" 1, 2 ,3,4".parse::<Region>().unwrap(), Region { x: 1, y: 2, w: 3, h: 4 });
        for bad in ["", "1,2,3", "1,2,3,4,5", "1,2,0,4", "1,2,3,0", "-1,2,3,4", "a,b,c,d", "1.5,2,3,4"] {
            let e = bad.parse::<Region>().unwrap_err();
            assert_eq!(e.code(), "bad_region", "{bad:?}");
            assert!(e.to_string().contains("X,Y,W,H"), "{e}");
        }
    }

    #[test]
    fn regions_must_lie_inside_the_image() {
        let ok = |s: &str| check_region(&s.parse().unwrap(), 64, 48);
        assert!(ok("0,0,64,48").is_ok());
        assert!(ok("63,47,1,1").is_ok());
        for (bad, why) in
            [("64,0,1,1", "starts outside"), ("0,48,1,1", "starts outside"), ("10,0,55,1", "right edge"), ("0,10,1,39", "bottom edge")]
        {
            let e = ok(bad).unwrap_err();
            assert!(e.to_string().contains(why) && e.to_string().contains("64x48"), "{bad}: {e}");
        }
        let huge = Region { x: 1, y: 1, w: u32::MAX, h: u32::MAX };
        assert!(check_region(&huge, 64, 48).is_err(), "no overflow");
    }

    #[test]
    fn derivative_names() {
        assert_eq!(derivative_name("IMG_0042.JPG", "jpg"), "IMG_0042-redacted.jpg");
        assert_eq!(derivative_name("photo.txt", "jpg"), "photo-redacted.jpg");
        assert_eq!(derivative_name("scan.tar.png", "png"), "scan.tar-redacted.png");
        assert_eq!(derivative_name("", "png"), "evidence-redacted.png");
    }

    #[test]
    fn a_blurred_region_keeps_no_detail_and_nothing_outside_changes() {
        // A fine checkerboard: the most detail a region can hold.
        let mut img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(100, 60, |x, y| {
            if (x + y).is_multiple_of(2) {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        }));
        let before = img.to_rgb8();
        blur_region(&mut img, &Region { x: 10, y: 10, w: 50, h: 30 });
        let after = img.to_rgb8();
        for (x, y, p) in after.enumerate_pixels() {
            let inside = (10..60).contains(&x) && (10..40).contains(&y);
            if inside {
                // Black and white average to mid grey everywhere.
                assert!(p.0.iter().all(|&c| (100..=155).contains(&c)), "({x},{y}) = {p:?}");
            } else {
                assert_eq!(p, before.get_pixel(x, y), "({x},{y}) outside the region changed");
            }
        }
    }
}
