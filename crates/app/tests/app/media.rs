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

/// One raw HTTP/1.1 exchange with the loopback stream, headers exactly as given (an attacker's
/// request is not limited to what a browser sends): status, headers (lower-case names), body.
fn raw(port: u16, request: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response");
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    (status, headers, out[split + 4..].to_vec())
}

fn reason(headers: &[(String, String)]) -> Option<&str> {
    headers.iter().find(|(n, _)| n == "x-casebridge-reason").map(|(_, v)| v.as_str())
}

#[test]
fn the_loopback_stream_serves_only_open_tokens_to_its_own_host_and_the_app() {
    use casebridge_app::media_stream;
    let env = unlocked(Role::Investigator);
    let s = &env.session;
    let len = (1 << 20) + 777;
    let video = file(env.tmp.path(), "dashcam.mp4", len, 3);
    let data = std::fs::read(&video).unwrap();
    let (_, ids) = import(&env, &[video]);

    // The desktop binds before the webview exists, then serves on its runtime.
    let listener = media_stream::bind().unwrap();
    let port = listener.local_addr().unwrap().port();
    assert!(listener.local_addr().unwrap().ip().is_loopback());
    let weak = std::sync::Arc::downgrade(&env.session);
    let handler: media_stream::Handler = std::sync::Arc::new(move |req| match weak.upgrade() {
        Some(s) => s.media_request(req),
        None => unreachable!("the session outlives the test"),
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.spawn(media_stream::serve(listener, handler));
    s.set_media_stream(port);

    let src = s.evidence_open(&ids[0]).unwrap();
    let stream = src.stream_url.clone().expect("a stream URL once the stream runs");
    let token = src.url.rsplit('/').next().unwrap();
    assert_eq!(stream, format!("http://127.0.0.1:{port}/{token}"), "the same token as the scheme");
    let host = format!("127.0.0.1:{port}");
    let req = |path: &str, extra: &str| format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");

    // What a media element sends: a range, the app's origin or none.
    let (status, headers, body) = raw(port, &req(&format!("/{token}"), "Range: bytes=1048570-\r\n"));
    assert_eq!((status, &body[..]), (206, &data[1_048_570..]));
    assert!(headers.contains(&("content-range".into(), format!("bytes 1048570-{}/{len}", len - 1))), "{headers:?}");
    let (status, _, body) = raw(port, &req(&format!("/{token}"), "Origin: tauri://localhost\r\nRange: bytes=0-9\r\n"));
    assert_eq!((status, &body[..]), (206, &data[..10]));

    // A web page in a browser reaching the port through a rebound name, or naming its origin.
    for (extra_host, why) in [("evil.example:80", "DNS rebinding"), ("localhost", "another name"), ("127.0.0.1", "no port")] {
        let r = format!("GET /{token} HTTP/1.1\r\nHost: {extra_host}\r\nConnection: close\r\n\r\n");
        let (status, headers, body) = raw(port, &r);
        assert_eq!((status, reason(&headers)), (421, Some("host_refused")), "{why}");
        assert!(!body.windows(16).any(|w| data.windows(16).next() == Some(w)), "no content to {why}");
    }
    let (status, headers, _) = raw(port, &req(&format!("/{token}"), "Origin: https://evil.example\r\n"));
    assert_eq!((status, reason(&headers)), (403, Some("origin_refused")));
    let (status, headers, _) = raw(port, &req(&format!("/{token}"), "Origin: null\r\n"));
    assert_eq!((status, reason(&headers)), (403, Some("origin_refused")));

    // Another program guessing: a token never issued, a malformed path, a write.
    let guessed = "ab".repeat(32);
    let (status, headers, _) = raw(port, &req(&format!("/{guessed}"), ""));
    assert_eq!((status, reason(&headers)), (403, Some("token_unknown")));
    let (status, headers, _) = raw(port, &req("/../../etc/passwd", ""));
    assert_eq!((status, reason(&headers)), (400, Some("bad_url")));
    let put = format!("PUT /{token} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let (status, headers, _) = raw(port, &put);
    assert_eq!((status, reason(&headers)), (405, Some("method_not_allowed")));

    // Locking forgets the token: the same URL then serves nothing.
    s.lock();
    let (status, headers, body) = raw(port, &req(&format!("/{token}"), "Range: bytes=0-9\r\n"));
    assert_eq!((status, reason(&headers)), (403, Some("token_unknown")));
    assert!(!body.starts_with(&data[..10]));
}
