//! The demo's sample photos: nine street scenes drawn in-process (bicycles, a van, a car, a
//! crossing, a platform wall), each numbered in its corner, encoded as JPEG with EXIF that gives
//! the camera, the capture time (days before the demo was made, Berlin time) and the place.

use std::path::{Path, PathBuf};

use casebridge_core::exif_write::{ascii, dms, ifd, long, rationals, splice_exif, tiff};
use chrono::{Duration, FixedOffset, Offset as _, Utc};

use crate::error::{DemoError, Result};
use crate::manifest::create_private_dir;

/// The photos of the demo, by name.
pub(crate) struct Photos(pub(crate) Vec<(String, PathBuf)>);

impl Photos {
    /// The photo named `name`.
    pub(crate) fn get(&self, name: &str) -> Result<PathBuf> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| DemoError::Internal(format!("no demo photo named {name}")))
    }
}

/// Berlin's offset (winter time) as the sample data gives it.
pub(crate) fn berlin() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap_or_else(|| Utc.fix())
}

/// What a sample photo shows.
#[derive(Clone, Copy)]
enum Subject {
    Bike,
    Van,
    Car,
    Street,
    Wall,
}

/// One sample photo: name, subject, colours, when (days and hours before now) and where.
pub(crate) struct Spec {
    name: &'static str,
    subject: Subject,
    sky: [u8; 3],
    ground: [u8; 3],
    accent: [u8; 3],
    days_ago: i64,
    hour: u32,
    lat: f64,
    lon: f64,
}

pub(crate) const SPECS: [Spec; 9] = [
    Spec {
        name: "cctv-rack-west",
        subject: Subject::Bike,
        sky: [70, 80, 110],
        ground: [90, 90, 95],
        accent: [200, 40, 40],
        days_ago: 8,
        hour: 19,
        lat: 52.5215,
        lon: 13.4105,
    },
    Spec {
        name: "cctv-rack-east",
        subject: Subject::Bike,
        sky: [60, 70, 100],
        ground: [85, 85, 90],
        accent: [40, 90, 200],
        days_ago: 5,
        hour: 20,
        lat: 52.5222,
        lon: 13.4150,
    },
    Spec {
        name: "crossing-overview",
        subject: Subject::Street,
        sky: [150, 180, 220],
        ground: [110, 110, 110],
        accent: [240, 240, 240],
        days_ago: 4,
        hour: 11,
        lat: 52.5097,
        lon: 13.3889,
    },
    Spec {
        name: "platform-wall",
        subject: Subject::Wall,
        sky: [200, 190, 160],
        ground: [120, 110, 100],
        accent: [230, 60, 160],
        days_ago: 3,
        hour: 9,
        lat: 52.5298,
        lon: 13.4013,
    },
    Spec {
        name: "bike-rack-evening",
        subject: Subject::Bike,
        sky: [250, 150, 80],
        ground: [100, 95, 90],
        accent: [200, 30, 30],
        days_ago: 6,
        hour: 19,
        lat: 52.5212,
        lon: 13.4128,
    },
    Spec {
        name: "white-van",
        subject: Subject::Van,
        sky: [240, 140, 90],
        ground: [95, 95, 95],
        accent: [245, 245, 245],
        days_ago: 6,
        hour: 19,
        lat: 52.5225,
        lon: 13.4139,
    },
    Spec {
        name: "tram-stop",
        subject: Subject::Street,
        sky: [120, 150, 190],
        ground: [100, 100, 100],
        accent: [250, 210, 40],
        days_ago: 3,
        hour: 18,
        lat: 52.5238,
        lon: 13.4030,
    },
    Spec {
        name: "dark-car",
        subject: Subject::Car,
        sky: [170, 200, 230],
        ground: [105, 105, 105],
        accent: [30, 35, 45],
        days_ago: 5,
        hour: 8,
        lat: 52.5101,
        lon: 13.3891,
    },
    Spec {
        name: "crossing-after",
        subject: Subject::Street,
        sky: [180, 205, 235],
        ground: [110, 110, 110],
        accent: [240, 240, 240],
        days_ago: 5,
        hour: 8,
        lat: 52.5095,
        lon: 13.3886,
    },
];

pub(crate) const W: u32 = 640;
pub(crate) const H: u32 = 420;

/// Writes every sample photo into `dir`.
pub(crate) fn write_photos(dir: &Path) -> Result<Photos> {
    create_private_dir(dir)?;
    let now = Utc::now().with_timezone(&berlin());
    let mut out = Vec::new();
    for (i, spec) in SPECS.iter().enumerate() {
        let day = (now - Duration::days(spec.days_ago)).date_naive();
        let local = day.and_hms_opt(spec.hour, (i as u32 * 7) % 60, 12).unwrap_or_default();
        let taken = local.format("%Y:%m:%d %H:%M:%S").to_string();
        let offset = berlin().to_string();
        let bytes = photo(spec, i + 1, &taken, &offset)?;
        let path = dir.join(format!("{}.jpg", spec.name));
        std::fs::write(&path, bytes).map_err(|source| DemoError::WriteFile { path: path.clone(), source })?;
        out.push((spec.name.to_string(), path));
    }
    Ok(Photos(out))
}

/// A sample photo: a drawn scene with its number in the corner, as JPEG with EXIF.
fn photo(spec: &Spec, number: usize, taken: &str, offset: &str) -> Result<Vec<u8>> {
    let img = scene(spec, number);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .map_err(|e| DemoError::Internal(format!("the demo photo could not be encoded: {e}")))?;
    let tiff = exif_tiff(taken, offset, spec.lat, spec.lon);
    splice_exif(&jpeg, &tiff).ok_or_else(|| DemoError::Internal("the demo photo is not a JPEG or its EXIF is too large".into()))
}

fn scene(spec: &Spec, number: usize) -> image::RgbImage {
    let mut img = image::RgbImage::from_fn(W, H, |_, y| {
        let horizon = H * 3 / 5;
        if y < horizon {
            let k = y as f32 / horizon as f32;
            image::Rgb(spec.sky.map(|c| (f32::from(c) * (1.0 - 0.35 * k)) as u8))
        } else {
            image::Rgb(spec.ground)
        }
    });
    // Buildings on the horizon.
    for (i, x) in (0..W).step_by(80).enumerate() {
        let h = 60 + ((i as u32 * 37 + number as u32 * 13) % 90);
        let shade = 60 + ((i as u32 * 23) % 50) as u8;
        rect(&mut img, x + 4, H * 3 / 5 - h, 72, h, [shade, shade, shade.saturating_add(10)]);
    }
    let a = spec.accent;
    let dark = [25, 25, 30];
    match spec.subject {
        Subject::Bike => {
            for k in 0..3u32 {
                let x = 120 + k * 150;
                ring(&mut img, x, 330, 38, 6, dark);
                ring(&mut img, x + 95, 330, 38, 6, dark);
                line(&mut img, (x, 330), (x + 45, 280), 6, a);
                line(&mut img, (x + 45, 280), (x + 95, 330), 6, a);
                line(&mut img, (x + 45, 280), (x + 80, 275), 6, a);
            }
            rect(&mut img, 60, 360, 520, 8, [160, 160, 165]);
        }
        Subject::Van => {
            rect(&mut img, 150, 230, 300, 120, a);
            rect(&mut img, 450, 270, 70, 80, a);
            rect(&mut img, 460, 280, 45, 35, [120, 160, 190]);
            disc(&mut img, 220, 355, 30, dark);
            disc(&mut img, 440, 355, 30, dark);
        }
        Subject::Car => {
            rect(&mut img, 160, 280, 330, 60, a);
            rect(&mut img, 220, 240, 200, 45, a);
            rect(&mut img, 235, 250, 80, 30, [120, 150, 180]);
            rect(&mut img, 325, 250, 80, 30, [120, 150, 180]);
            disc(&mut img, 230, 345, 28, dark);
            disc(&mut img, 420, 345, 28, dark);
        }
        Subject::Street => {
            for k in 0..8u32 {
                rect(&mut img, 40 + k * 72, 320, 44, 70, a);
            }
            rect(&mut img, 0, 300, W, 6, [60, 60, 60]);
        }
        Subject::Wall => {
            rect(&mut img, 0, 60, W, 300, [215, 205, 185]);
            for k in 0..6u32 {
                line(&mut img, (60 + k * 90, 300), (110 + k * 90, 120), 10, a);
                ring(&mut img, 100 + k * 90, 200, 24, 5, [40, 40, 160]);
            }
        }
    }
    // The photo's number, large, on a white card in the top left corner.
    rect(&mut img, 16, 16, 112, 96, [250, 250, 250]);
    let digits = number.to_string();
    for (i, d) in digits.bytes().enumerate() {
        seven_segment(&mut img, 30 + i as u32 * 46, 28, d.wrapping_sub(b'0'), [20, 20, 20]);
    }
    img
}

fn put(img: &mut image::RgbImage, x: u32, y: u32, c: [u8; 3]) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, image::Rgb(c));
    }
}

fn rect(img: &mut image::RgbImage, x: u32, y: u32, w: u32, h: u32, c: [u8; 3]) {
    for yy in y..y.saturating_add(h) {
        for xx in x..x.saturating_add(w) {
            put(img, xx, yy, c);
        }
    }
}

fn disc(img: &mut image::RgbImage, cx: u32, cy: u32, r: u32, c: [u8; 3]) {
    ring(img, cx, cy, r, r, c);
}

fn ring(img: &mut image::RgbImage, cx: u32, cy: u32, r: u32, thick: u32, c: [u8; 3]) {
    let (cx, cy, r, inner) = (i64::from(cx), i64::from(cy), i64::from(r), i64::from(r.saturating_sub(thick)));
    for y in (cy - r).max(0)..=cy + r {
        for x in (cx - r).max(0)..=cx + r {
            let d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            if d <= r * r && d >= inner * inner {
                put(img, x as u32, y as u32, c);
            }
        }
    }
}

fn line(img: &mut image::RgbImage, (x0, y0): (u32, u32), (x1, y1): (u32, u32), thick: u32, c: [u8; 3]) {
    let (x0, y0, x1, y1) = (f64::from(x0), f64::from(y0), f64::from(x1), f64::from(y1));
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as u32).max(1);
    for i in 0..=steps {
        let t = f64::from(i) / f64::from(steps);
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        let half = thick / 2;
        rect(img, (x as u32).saturating_sub(half), (y as u32).saturating_sub(half), thick, thick, c);
    }
}

/// One digit as seven segments, 36 by 70 pixels, top left at (x, y).
fn seven_segment(img: &mut image::RgbImage, x: u32, y: u32, digit: u8, c: [u8; 3]) {
    // Segments a..g as bits 0..6.
    const MASKS: [u8; 10] = [0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F];
    let Some(mask) = MASKS.get(usize::from(digit)) else { return };
    let (w, h, t) = (36, 70, 8);
    let seg = [
        (x, y, w, t),                     // a
        (x + w - t, y, t, h / 2),         // b
        (x + w - t, y + h / 2, t, h / 2), // c
        (x, y + h - t, w, t),             // d
        (x, y + h / 2, t, h / 2),         // e
        (x, y, t, h / 2),                 // f
        (x, y + h / 2 - t / 2, w, t),     // g
    ];
    for (i, (sx, sy, sw, sh)) in seg.into_iter().enumerate() {
        if mask & (1 << i) != 0 {
            rect(img, sx, sy, sw, sh, c);
        }
    }
}

// ----- EXIF -----------------------------------------------------------------------------------------------

/// A little-endian TIFF block: Make and Model; DateTimeOriginal and OffsetTimeOriginal; GPS.
fn exif_tiff(taken: &str, offset: &str, lat: f64, lon: f64) -> Vec<u8> {
    let ifd0 = |exif_at: u32, gps_at: u32| {
        vec![ascii(0x010F, "Casebridge"), ascii(0x0110, "Demo Camera"), long(0x8769, exif_at), long(0x8825, gps_at)]
    };
    let exif = || vec![ascii(0x9003, taken), ascii(0x9011, offset)];
    let gps = || {
        vec![
            ascii(0x0001, if lat >= 0.0 { "N" } else { "S" }),
            rationals(0x0002, &dms(lat)),
            ascii(0x0003, if lon >= 0.0 { "E" } else { "W" }),
            rationals(0x0004, &dms(lon)),
        ]
    };
    // Sizes do not depend on the pointer values: lay out once to find the offsets.
    let exif_at = 8 + ifd(ifd0(0, 0), 8).len() as u32;
    let gps_at = exif_at + ifd(exif(), exif_at).len() as u32;
    tiff(&[ifd(ifd0(exif_at, gps_at), 8), ifd(exif(), exif_at), ifd(gps(), gps_at)])
}
