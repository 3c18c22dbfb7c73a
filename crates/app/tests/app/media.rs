//! The viewer's `cbmedia` scheme through the session, on real stores: ranges (200, 206, 416),
//! the token (unknown, guessed, another profile's, after a lock), the locked store, an item
//! this store does not hold, damaged content, CORS, and the access log written once per open.

use casebridge_app::media::{MediaRequest, MediaResponse, MAX_RANGE_BYTES};
use casebridge_app::{AppEvent, Role, Session};

use crate::{file, unlocked, wait_for, Env};

/// Imports `paths` into a new case and returns the case id and the items' ids, in order.
fn import(env: &Env, paths: &[std::path::PathBuf]) -> (String, Vec<String>) {
    let s = &env.session;
    let case = s.case_create("Dash-cam footage", None, None, vec![]).unwrap();
    s.evidence_import(&case, paths.iter().map(|p| p.display().to_string()).collect()).unwrap();
    let done = wait_for(&env.events, |e| match e {
        AppEvent::JobDone(d) => Some(d),
        _ => None,
    });
    assert!(done.ok, "{done:?}");
    let items = s.evidence_list(&case).unwrap();
    (case, items.iter().map(|e| e.id.to_string()).collect())
}

fn get(s: &Session, url: &str, range: Option<&str>) -> MediaResponse {
    let path = url.strip_prefix("cbmedia://localhost").expect("a cbmedia URL");
    s.media_request(&MediaRequest { method: "GET", path, range, origin: None })
}

fn views_logged(s: &Session, id: &str) -> usize {
    let id: uuid::Uuid = id.parse().unwrap();
    let e = s.store().with(|st| Ok(st.evidence(id)?)).unwrap();
    let log = s.store().with(|st| Ok(st.access_log(e.case_id)?)).unwrap();
    log.iter().filter(|a| a.evidence_id == Some(id) && a.action == "viewed" && a.reason.as_deref() == Some("viewer")).count()
}

#[test]
fn ranges_stream_the_content_and_the_open_is_logged_once() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let len = (2 << 20) + 12_345; // three chunks, the last partial
    let video = file(env.tmp.path(), "dashcam.bin", len, 7);
    let data = std::fs::read(&video).unwrap();
    let (_, ids) = import(&env, &[video]);
    let src = s.evidence_open(&ids[0]).unwrap();
    assert_eq!(src.size, len as u64);
    let token = src.url.strip_prefix("cbmedia://localhost/").unwrap();
    assert!(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{}", src.url);
    assert_eq!(views_logged(s, &ids[0]), 1, "opening is logged");

    // No Range: the whole item (it is under the cap), with Accept-Ranges.
    let whole = get(s, &src.url, None);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, data);
    assert_eq!(whole.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(whole.header("Content-Length"), Some(len.to_string().as_str()));
    assert_eq!(whole.header("Cache-Control"), Some("no-store"));
    assert_eq!(whole.header("X-Content-Type-Options"), Some("nosniff"));
    assert!(whole.header("Content-Security-Policy").unwrap().contains("sandbox"));

    // A range across a chunk boundary, an open-ended one, a suffix.
    let c = 1 << 20;
    let r = get(s, &src.url, Some(&format!("bytes={}-{}", c - 10, c + 9)));
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[c - 10..c + 10]);
    assert_eq!(r.header("Content-Range"), Some(format!("bytes {}-{}/{len}", c - 10, c + 9).as_str()));
    let r = get(s, &src.url, Some("bytes=2097152-"));
    assert_eq!((r.status, &r.body[..]), (206, &data[2 << 20..]));
    let r = get(s, &src.url, Some("bytes=-100"));
    assert_eq!((r.status, &r.body[..]), (206, &data[len - 100..]));
    assert!(len as u64 <= MAX_RANGE_BYTES);

    // HEAD: the headers, no body.
    let path = src.url.strip_prefix("cbmedia://localhost").unwrap();
    let head = s.media_request(&MediaRequest { method: "HEAD", path, range: Some("bytes=0-99"), origin: None });
    assert_eq!((head.status, head.body.len()), (206, 0));
    assert_eq!(head.header("Content-Length"), Some("100"));

    // Bad ranges: 416, each with its own reason and the size.
    for (range, reason) in [
        (format!("bytes={len}-"), "range_unsatisfiable"),
        ("bytes=0-1,5-6".into(), "range_multiple"),
        ("bytes=x-1".into(), "range_malformed"),
    ] {
        let r = get(s, &src.url, Some(&range));
        assert_eq!((r.status, r.reason()), (416, Some(reason)), "{range}");
        assert_eq!(r.header("Content-Range"), Some(format!("bytes */{len}").as_str()));
    }

    // The same through the command page script can use: bytes, or the refusal as an error.
    assert_eq!(s.media_range(&src.url, 10, 20).unwrap(), &data[10..20]);
    assert_eq!(s.media_range(&src.url, 20, 10).unwrap_err().code, "invalid_input");
    assert_eq!(s.media_range(&src.url, len as u64, len as u64 + 5).unwrap_err().code, "invalid_input");
    assert_eq!(s.media_range("cbmedia://localhost/0000", 0, 5).unwrap_err().code, "invalid_input");
    assert_eq!(s.media_range(&format!("cbmedia://localhost/{}", "cd".repeat(32)), 0, 5).unwrap_err().code, "forbidden");

    // Many range requests, still one entry: logged per open, not per request.
    assert_eq!(views_logged(s, &ids[0]), 1);
    s.evidence_open(&ids[0]).unwrap();
    assert_eq!(views_logged(s, &ids[0]), 2, "a second open is a second view");
}

#[test]
fn guessed_foreign_and_stale_tokens_are_refused() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let one = file(env.tmp.path(), "one.jpg", 5000, 1);
    let two = file(env.tmp.path(), "two.bin", 6000, 2);
    let (_, ids) = import(&env, &[one, two]);
    let src = s.evidence_open(&ids[0]).unwrap();
    let path = src.url.strip_prefix("cbmedia://localhost").unwrap().to_string();

    // A made-up token, and the real one with one digit changed.
    let made_up = format!("/{}", "ab".repeat(32));
    let mut flipped = path.clone().into_bytes();
    flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    for p in [made_up.as_str(), flipped.as_str()] {
        let r = s.media_request(&MediaRequest { method: "GET", path: p, range: None, origin: None });
        assert_eq!((r.status, r.reason()), (403, Some("token_unknown")), "{p}");
        assert!(!r.body.windows(16).any(|w| w == &std::fs::read(env.tmp.path().join("one.jpg")).unwrap()[..16]));
    }
    // Not a viewer URL at all: traversal, an id instead of a token, too short, not hex.
    for p in ["/../objects", &format!("/{}", ids[1]), "/abc", &format!("/{}", "zz".repeat(32)), "", "/"] {
        let r = s.media_request(&MediaRequest { method: "GET", path: p, range: None, origin: None });
        assert_eq!((r.status, r.reason()), (400, Some("bad_url")), "{p}");
    }
    // Writing methods.
    let r = s.media_request(&MediaRequest { method: "PUT", path: &path, range: None, origin: None });
    assert_eq!((r.status, r.reason()), (405, Some("method_not_allowed")));

    // Another profile's session (another store) knows neither the token nor the item.
    let other = unlocked(Role::Investigator);
    let r = other.session.media_request(&MediaRequest { method: "GET", path: &path, range: None, origin: None });
    assert_eq!((r.status, r.reason()), (403, Some("token_unknown")));
    assert_eq!(other.session.evidence_open(&ids[0]).unwrap_err().code, "unknown_evidence");
    assert_eq!(other.session.evidence_open("not an id").unwrap_err().code, "invalid_input");

    // The store closed under an open token: locked. Locking forgets every token.
    s.store().close();
    let r = s.media_request(&MediaRequest { method: "GET", path: &path, range: None, origin: None });
    assert_eq!((r.status, r.reason()), (403, Some("locked")));
    s.unlock(crate::PASS.into()).unwrap();
    assert_eq!(get(s, &src.url, None).status, 200);
    s.lock();
    assert_eq!(s.evidence_open(&ids[0]).unwrap_err().code, "locked");
    s.unlock(crate::PASS.into()).unwrap();
    let r = get(s, &src.url, None);
    assert_eq!((r.status, r.reason()), (403, Some("token_unknown")), "a token does not outlive the lock");
}

#[test]
fn damaged_content_is_refused_without_a_byte_of_it_and_cors_is_for_the_app_only() {
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let clip = file(env.tmp.path(), "clip.bin", (1 << 20) + 500, 3);
    let data = std::fs::read(&clip).unwrap();
    let (_, ids) = import(&env, &[clip]);
    let src = s.evidence_open(&ids[0]).unwrap();
    let path = src.url.strip_prefix("cbmedia://localhost").unwrap();

    // CORS: the app's own origin may read (pdf.js fetches ranges); another origin is not told.
    let app = s.media_request(&MediaRequest { method: "GET", path, range: Some("bytes=0-9"), origin: Some("tauri://localhost") });
    assert_eq!(app.header("Access-Control-Allow-Origin"), Some("tauri://localhost"));
    let evil = s.media_request(&MediaRequest { method: "GET", path, range: Some("bytes=0-9"), origin: Some("https://evil.example") });
    assert_eq!(evil.header("Access-Control-Allow-Origin"), None);
    let pre = s.media_request(&MediaRequest { method: "OPTIONS", path, range: None, origin: Some("tauri://localhost") });
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("Access-Control-Allow-Headers"), Some("Range"));
    assert!(pre.body.is_empty());

    // Flip a byte of the second chunk on disk: that chunk is refused, the first still served.
    let objects = env.dir.join(casebridge_core::OBJECTS_DIR);
    let mut files = Vec::new();
    for d in std::fs::read_dir(&objects).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    assert_eq!(files.len(), 1);
    let mut sealed = std::fs::read(&files[0]).unwrap();
    let at = sealed.len() - 100;
    sealed[at] ^= 0x40;
    std::fs::write(&files[0], &sealed).unwrap();
    let ok = get(s, &src.url, Some("bytes=0-99"));
    assert_eq!((ok.status, &ok.body[..]), (206, &data[..100]));
    let bad = get(s, &src.url, Some(&format!("bytes={}-", 1 << 20)));
    assert_eq!((bad.status, bad.reason()), (500, Some("corruption")));
    let text = String::from_utf8(bad.body).unwrap();
    assert!(text.contains("damaged") && text.contains(&ids[0]), "{text}");
    // A truncated object: refused whatever range is asked.
    std::fs::write(&files[0], &sealed[..sealed.len() - 600]).unwrap();
    let bad = get(s, &src.url, Some("bytes=0-9"));
    assert_eq!((bad.status, bad.reason()), (500, Some("corruption")));
}
