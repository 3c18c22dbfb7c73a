//! The street map's PMTiles file: set in Settings (checked, refused with its code, the old
//! setting kept), the agency's shipped file, and byte ranges for the map only while unlocked.

use casebridge_app::map_tiles::{test_header, SHIPPED_FILE};
use casebridge_app::settings::Settings;
use casebridge_app::Role;

use super::*;

fn tiles(dir: &Path, name: &str) -> (String, Vec<u8>) {
    let mut b = test_header(10, 100);
    b.extend((0..110u8).map(|i| i.wrapping_mul(7)));
    let p = dir.join(name);
    std::fs::write(&p, &b).unwrap();
    (p.display().to_string(), b)
}

#[test]
fn a_bad_pmtiles_file_is_refused_and_the_old_setting_stays() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    assert_eq!(s.map_tiles().unwrap(), None, "none set, none shipped");
    let (good, bytes) = tiles(env.tmp.path(), "city.pmtiles");
    let t = s.set_map_tiles(Some(good.clone())).unwrap().unwrap();
    assert!(t.from_settings && t.path == good && t.max_zoom == 14);

    let mut raster = bytes.clone();
    raster[99] = 2;
    let raster_path = env.tmp.path().join("raster.pmtiles");
    std::fs::write(&raster_path, &raster).unwrap();
    let photo = file(env.tmp.path(), "photo.jpg", 4096, 1);
    for (path, code) in [
        (raster_path.display().to_string(), "pmtiles_not_vector"),
        (photo.display().to_string(), "not_pmtiles"),
        (env.tmp.path().join("gone.pmtiles").display().to_string(), "missing_file"),
    ] {
        let e = s.set_map_tiles(Some(path.clone())).unwrap_err();
        assert_eq!(e.code, code, "{path}: {}", e.message);
        assert!(e.message.contains(&path), "the message names the file: {}", e.message);
        assert_eq!(Settings::load(&env.dir).unwrap().map_tiles.as_deref(), Some(good.as_str()), "unchanged");
    }
    assert_eq!(s.map_tiles_range(0, 16384).unwrap(), bytes);
    assert_eq!(s.map_tiles_range(200, 100).unwrap(), bytes[200..]);
    assert_eq!(s.map_tiles_range(bytes.len() as u64, 1).unwrap_err().code, "invalid_input", "past the end");

    // Cleared: the agency's shipped file next to the store is used, if there is one.
    assert_eq!(s.set_map_tiles(None).unwrap(), None);
    assert_eq!(s.map_tiles_range(0, 10).unwrap_err().code, "missing_file");
    let (_, shipped) = tiles(&env.dir, SHIPPED_FILE);
    let t = s.map_tiles().unwrap().unwrap();
    assert!(!t.from_settings && t.path.ends_with(SHIPPED_FILE));
    assert_eq!(s.map_tiles_range(127, 4).unwrap(), shipped[127..131]);
}

#[test]
fn a_locked_profile_serves_no_tiles_and_changes_no_setting() {
    let env = unlocked(Role::Volunteer);
    let s = &env.session;
    let (good, _) = tiles(env.tmp.path(), "city.pmtiles");
    s.set_map_tiles(Some(good.clone())).unwrap();
    s.lock();
    assert_eq!(s.map_tiles_range(0, 127).unwrap_err().code, "locked");
    assert_eq!(s.map_tiles().unwrap_err().code, "locked");
    assert_eq!(s.set_map_tiles(None).unwrap_err().code, "locked");
    assert_eq!(Settings::load(&env.dir).unwrap().map_tiles.as_deref(), Some(good.as_str()));
    s.unlock(PASS.to_string()).unwrap();
    assert_eq!(s.map_tiles_range(0, 7).unwrap(), b"PMTiles");
}

#[test]
fn the_test_suites_own_pmtiles_file_passes_the_check_and_is_served_whole() {
    // tests/fixtures/make_test_pmtiles.py (python3 is installed by scripts/setup).
    let env = unlocked(Role::Investigator);
    let out = env.tmp.path().join("berlin-test.pmtiles");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/make_test_pmtiles.py");
    let run = std::process::Command::new("python3").arg(&script).arg(&out).output().expect("python3 runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let t = env.session.set_map_tiles(Some(out.display().to_string())).unwrap().unwrap();
    assert_eq!((t.min_zoom, t.max_zoom), (0, 15));
    assert!((t.center[1] - 52.52).abs() < 1e-6 && (t.bounds[0] - 13.395).abs() < 1e-6);
    let bytes = std::fs::read(&out).unwrap();
    let mut read = Vec::new();
    let mut at = 0u64;
    while at < bytes.len() as u64 {
        let part = env.session.map_tiles_range(at, 4096).unwrap();
        assert!(!part.is_empty());
        at += part.len() as u64;
        read.extend(part);
    }
    assert_eq!(read, bytes, "range by range, the file as it is on disk");
}
