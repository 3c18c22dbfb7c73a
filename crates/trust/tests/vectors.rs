//! Golden bundle vectors (tests/vectors/bundle/*.vec): each file says what must happen and
//! why; this test makes it happen. Regenerate with
//! `cargo run -p casebridge-trust --example gen_vectors -- tests/vectors/bundle`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use casebridge_core::{KdfParams, Passphrase, Role, Store};
use casebridge_testkit::files::copy_dir;
use casebridge_trust::bundle::{self, Anchor};
use casebridge_trust::{profile, Agency, AgencyPublicFile};

struct Vector {
    name: String,
    fields: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/bundle")
}

fn load(path: &Path) -> Vector {
    let text = fs::read_to_string(path).unwrap();
    let (head, body) = text.split_once("\n---\n").unwrap_or_else(|| panic!("{}: no --- separator", path.display()));
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("casebridge-test-vector v1"), "{}", path.display());
    let fields = lines
        .map(|l| l.split_once(": ").unwrap_or_else(|| panic!("bad header line {l:?}")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = B64.decode(body.lines().collect::<String>()).unwrap();
    Vector { name: path.file_name().unwrap().to_string_lossy().into_owned(), fields, body }
}

struct Holder {
    tmp: tempfile::TempDir,
    agency: Agency,
    store: Store,
}

impl Holder {
    fn new() -> Holder {
        let tmp = tempfile::tempdir().unwrap();
        // The committed agency directory is never written to: its revocation list may be
        // refreshed when it has expired, so work on a copy.
        let dir = tmp.path().join("agency");
        copy_dir(&vectors_dir().join("agency"), &dir);
        let pass = fs::read_to_string(dir.join("PASSPHRASE")).unwrap();
        let agency = Agency::open(&dir, &Passphrase::new(pass.trim_end())).unwrap();
        let mut store = Store::create(
            &tmp.path().join("inv"),
            &Passphrase::new("holder passphrase"),
            "Holder",
            Role::Investigator,
            KdfParams::INSECURE_FOR_TESTS,
        )
        .unwrap();
        profile::pin_agency(&mut store, &Agency::public_file(&dir).unwrap()).unwrap();
        Holder { tmp, agency, store }
    }

    fn run(&mut self, action: &str, name: &str, body: &[u8]) -> String {
        let (list, _) = self.agency.current_revocation().unwrap();
        let anchor = Anchor::new(self.agency.public(), &list, Some(self.agency.sealing_identity()));
        let outcome = match action {
            "verify" => bundle::verify_stream(body, &anchor, bundle::BlobSink::Check, &mut |_| true).map(|_| "accept".to_string()),
            "open" => {
                let path = self.tmp.path().join(name);
                fs::write(&path, body).unwrap();
                bundle::open_into(&path, &anchor, &mut self.store, &mut |_| true).map(|o| {
                    if o.outcome.as_str() == "accepted" {
                        "accept".into()
                    } else {
                        o.outcome.to_string()
                    }
                })
            }
            "pin" => {
                let f: AgencyPublicFile = serde_json::from_slice(body).unwrap();
                profile::pin_agency(&mut self.store, &f).map(|_| "accept".to_string())
            }
            other => panic!("unknown action {other}"),
        };
        match outcome {
            Ok(s) => s,
            Err(e) => format!("reject {}", e.reason.code()),
        }
    }
}

#[test]
fn every_golden_vector_has_its_expected_outcome() {
    let dir = vectors_dir();
    let mut paths: Vec<PathBuf> =
        fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "vec")).collect();
    paths.sort();
    assert!(paths.len() >= 20, "expected the full vector set in {}, found {}", dir.display(), paths.len());
    let mut failures = Vec::new();
    for path in &paths {
        let v = load(path);
        let mut h = Holder::new();
        if let Some(setup) = v.fields.get("setup") {
            for step in setup.split(';').map(str::trim) {
                let (action, file) = step.split_once(' ').unwrap();
                let body = if file.ends_with(".vec") { load(&dir.join(file)).body } else { fs::read(dir.join(file)).unwrap() };
                let got = h.run(action, file, &body);
                assert_eq!(got, "accept", "{}: setup step '{step}' must be accepted", v.name);
            }
        }
        let action = v.fields.get("action").map(String::as_str).unwrap_or("verify");
        let got = h.run(action, &v.name, &v.body);
        let expect = &v.fields["expect"];
        if &got != expect {
            failures.push(format!("{}: expected '{expect}', got '{got}' (why: {})", v.name, v.fields["why"]));
        }
        // Verification of the same bytes (no store involved) never accepts a rejected vector.
        if expect.starts_with("reject") && action == "verify" {
            assert_ne!(h.run("verify", &v.name, &v.body), "accept");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
