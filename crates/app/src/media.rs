//! Evidence content for the desktop's viewer, streamed through the `cbmedia` URI scheme with
//! HTTP range support, so a `<video>` can seek in a 2 GB dash-cam file and pdf.js can read a
//! PDF page by page, without a `data:` URL of a whole file and without a plaintext temp file.
//!
//! - [`open`] (the desktop's `evidence_open`) records police staff's view in the case's
//!   access log once (reason `viewer`), and issues a fresh random token for that one item:
//!   the URL is `cbmedia://localhost/<token>` (64 hex digits, 256 random bits). Page script
//!   can only reach the items it was given a token for, never guess one for another item,
//!   case or profile.
//! - [`MediaTokens::serve`] answers each request of the webview: `GET`/`HEAD` with an optional
//!   `Range: bytes=...` header, `OPTIONS` for pdf.js's preflight. The token is compared in
//!   constant time against every open token; the store must be unlocked and still hold the
//!   item; only the chunks holding the range are decrypted ([`casebridge_core::Store::read_content_range`]),
//!   with the store released while they are. Range requests are not logged again.
//! - Locking the profile forgets every token ([`MediaTokens::clear`]).
//!
//! Every refusal carries its own reason code in the `X-Casebridge-Reason` header (and the
//! body, as text), never content: `method_not_allowed`, `bad_url`, `token_unknown`, `locked`,
//! `not_found`, `range_malformed`, `range_multiple`, `range_unsatisfiable`, `corruption`.

use std::sync::{Mutex, MutexGuard};

use casebridge_core::Store;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::access::log_access;
use crate::cases::parse_id;
use crate::error::{AppError, ErrorCode, Result};
use crate::handle::StoreHandle;

/// The URI scheme the desktop registers for evidence content.
pub const SCHEME: &str = "cbmedia";

/// Most bytes one response carries: an open-ended range (`bytes=N-`, what media players send)
/// or a longer explicit one is answered with this much (206, `Content-Range` saying so), and
/// the player asks for the rest. Bounds the memory of a request whatever the item's size.
pub const MAX_RANGE_BYTES: u64 = 8 * 1024 * 1024;

/// Largest item sent whole to a request without a `Range` header (an `<img>`); a larger one
/// gets its first [`MAX_RANGE_BYTES`] as a 206.
pub const MAX_WHOLE_BYTES: u64 = 64 * 1024 * 1024;

/// Open tokens kept at once; opening more forgets the oldest.
pub const MAX_OPEN: usize = 64;

/// The origins the app's own page has (Linux and macOS; Windows), the only ones CORS lets read.
pub(crate) const APP_ORIGINS: [&str; 2] = ["tauri://localhost", "http://tauri.localhost"];

/// What the viewer gets from `evidence_open`: where to load the item from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MediaSource {
    /// The item.
    pub evidence_id: Uuid,
    /// `cbmedia://localhost/<token>`: valid for this item until the profile locks.
    pub url: String,
    /// The media type the content is served with (what the viewer picks its view by).
    pub media_type: String,
    /// Content bytes.
    pub size: u64,
    /// `http://127.0.0.1:PORT/<token>` when the desktop runs the loopback stream
    /// ([`crate::media_stream`]): where `<video>` and `<audio>` load from (the same token).
    pub stream_url: Option<String>,
}

struct Opened {
    token: Zeroizing<[u8; 32]>,
    evidence: Uuid,
    sha256: String,
    size: u64,
    media_type: String,
}

/// The tokens issued since the profile was unlocked.
#[derive(Default)]
pub struct MediaTokens(Mutex<Vec<Opened>>);

impl std::fmt::Debug for MediaTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaTokens").field("open", &self.slot().len()).finish()
    }
}

/// One request of the webview to the scheme, as the shell hands it over.
#[derive(Clone, Debug, Default)]
pub struct MediaRequest<'a> {
    /// `GET`, `HEAD`, `OPTIONS`, ...
    pub method: &'a str,
    /// The URL's path (`/<token>`).
    pub path: &'a str,
    /// The `Range` header, when sent.
    pub range: Option<&'a str>,
    /// The `Origin` header, when sent.
    pub origin: Option<&'a str>,
}

/// The answer, for the shell to turn into its HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaResponse {
    /// HTTP status.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body (empty for `HEAD`, `OPTIONS`).
    pub body: Vec<u8>,
}

impl MediaResponse {
    /// The value of header `name`, when set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The reason code of a refusal (`X-Casebridge-Reason`).
    pub fn reason(&self) -> Option<&str> {
        self.header("X-Casebridge-Reason")
    }
}

/// The media type content is served with: what the viewer shows natively, and text as plain
/// text; anything else (HTML, SVG with script, ...) as an opaque download type, so nothing an
/// item holds can ever run as a page.
pub fn served_type(media_type: &str) -> String {
    let mt = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    match mt.split_once('/') {
        Some(("image", sub)) if plain(sub) && sub != "svg+xml" => mt,
        Some(("video" | "audio", sub)) if plain(sub) => mt,
        Some(("application", "pdf")) => mt,
        Some(("text", _)) | Some(("application", "json")) => "text/plain; charset=utf-8".into(),
        _ => "application/octet-stream".into(),
    }
}

/// The URL of a token on this platform (WebKitGTK and WKWebView: `scheme://localhost/`;
/// WebView2: `http://scheme.localhost/`).
fn url_of(token: &[u8; 32]) -> String {
    let hex = casebridge_core::to_hex(token);
    if cfg!(windows) {
        format!("http://{SCHEME}.localhost/{hex}")
    } else {
        format!("{SCHEME}://localhost/{hex}")
    }
}

/// Opens item `id` (an exact id) for the viewer: records police staff's view in the case's
/// access log (`viewed`, reason `viewer`) once, and returns a URL with a fresh token.
/// `unknown_evidence` when this store does not hold the item.
pub fn open(store: &mut Store, tokens: &MediaTokens, id: &str) -> Result<MediaSource> {
    let id = parse_id("evidence id", id)?;
    let e = store.evidence(id)?;
    log_access(store, e.case_id, Some(id), "viewed", Some("viewer"))?;
    let mut token = Zeroizing::new([0u8; 32]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut token[..])
        .map_err(|_| AppError::internal("the system's random number generator failed"))?;
    let media_type = served_type(&e.media_type);
    let url = url_of(&token);
    let mut open = tokens.slot();
    if open.len() >= MAX_OPEN {
        open.remove(0);
    }
    open.push(Opened { token, evidence: id, sha256: e.sha256.clone(), size: e.size, media_type: media_type.clone() });
    Ok(MediaSource { evidence_id: id, url, media_type, size: e.size, stream_url: None })
}

/// A byte range to serve: `offset .. offset + len`, and whether it was asked for (206).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
    /// True for a `Range` request (answered 206).
    pub partial: bool,
}

/// Why a `Range` header cannot be served: its reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// Not `bytes=FIRST-[LAST]` or `bytes=-SUFFIX` with decimal numbers, LAST >= FIRST.
    Malformed,
    /// More than one range (multipart answers are not made).
    Multiple,
    /// Starts at or past the end of the content (or an empty suffix, or empty content).
    Unsatisfiable,
}

impl RangeError {
    /// The reason code.
    pub fn code(self) -> &'static str {
        match self {
            RangeError::Malformed => "range_malformed",
            RangeError::Multiple => "range_multiple",
            RangeError::Unsatisfiable => "range_unsatisfiable",
        }
    }
}

fn number(s: &str) -> std::result::Result<u64, RangeError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Malformed);
    }
    s.parse().map_err(|_| RangeError::Malformed)
}

/// What to serve of content of `size` bytes for a request with `range` (its `Range` header),
/// at most [`MAX_RANGE_BYTES`] of a range and [`MAX_WHOLE_BYTES`] without one.
pub fn parse_range(range: Option<&str>, size: u64) -> std::result::Result<ByteRange, RangeError> {
    let Some(range) = range else {
        return Ok(if size <= MAX_WHOLE_BYTES {
            ByteRange { offset: 0, len: size, partial: false }
        } else {
            ByteRange { offset: 0, len: MAX_RANGE_BYTES, partial: true }
        });
    };
    let spec = range.trim().strip_prefix("bytes=").ok_or(RangeError::Malformed)?;
    if spec.contains(',') {
        return Err(RangeError::Multiple);
    }
    let (first, last) = spec.split_once('-').ok_or(RangeError::Malformed)?;
    let (offset, end_incl) = if first.trim().is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || size == 0 {
            return Err(RangeError::Unsatisfiable);
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let first = number(first)?;
        let last = if last.trim().is_empty() { None } else { Some(number(last)?) };
        if last.is_some_and(|l| l < first) {
            return Err(RangeError::Malformed);
        }
        if first >= size {
            return Err(RangeError::Unsatisfiable);
        }
        (first, last.unwrap_or(u64::MAX).min(size - 1))
    };
    let len = (end_incl - offset + 1).min(MAX_RANGE_BYTES);
    Ok(ByteRange { offset, len, partial: true })
}

impl MediaTokens {
    fn slot(&self) -> MutexGuard<'_, Vec<Opened>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every token (the profile locked).
    pub fn clear(&self) {
        self.slot().clear();
    }

    /// How many tokens are open.
    pub fn len(&self) -> usize {
        self.slot().len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.slot().is_empty()
    }

    /// The item a path's token opens: every open token is compared, each in constant time.
    fn find(&self, path: &str) -> std::result::Result<(Uuid, String, u64, String), &'static str> {
        let hex = path.strip_prefix('/').unwrap_or(path);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("bad_url");
        }
        let mut given = Zeroizing::new([0u8; 32]);
        for (i, b) in given.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "bad_url")?;
        }
        let open = self.slot();
        let mut found = None;
        for o in open.iter() {
            #[allow(deprecated)] // ring keeps it for exactly this: comparing secrets
            let same = ring::constant_time::verify_slices_are_equal(&o.token[..], &given[..]).is_ok();
            if same && found.is_none() {
                found = Some((o.evidence, o.sha256.clone(), o.size, o.media_type.clone()));
            }
        }
        found.ok_or("token_unknown")
    }

    /// Answers one request of the webview: see the module documentation.
    pub fn serve(&self, store: &StoreHandle, req: &MediaRequest<'_>) -> MediaResponse {
        let cors = cors_headers(req.origin);
        let method = req.method.to_ascii_uppercase();
        if method == "OPTIONS" {
            let mut headers = cors;
            headers.push(("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS".into()));
            headers.push(("Access-Control-Allow-Headers", "Range".into()));
            headers.push(("Access-Control-Max-Age", "600".into()));
            return MediaResponse { status: 204, headers, body: Vec::new() };
        }
        if method != "GET" && method != "HEAD" {
            return refusal(405, "method_not_allowed", format!("{method} is not served; only GET and HEAD"), cors);
        }
        let (id, sha256, size, media_type) = match self.find(req.path) {
            Ok(found) => found,
            Err("bad_url") => return refusal(400, "bad_url", "the URL is not a viewer URL".into(), cors),
            Err(_) => return refusal(403, "token_unknown", "this viewer URL is not open (or the profile was locked since)".into(), cors),
        };
        // The store is held only to check the item and take a handle on its objects.
        let reader = store.with(|s| {
            s.evidence(id)?;
            Ok(s.content_importer())
        });
        let reader = match reader {
            Ok(r) => r,
            Err(e) if e.code == ErrorCode::Locked => return refusal(403, "locked", "the profile is locked".into(), cors),
            Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::UnknownEvidence) => {
                return refusal(404, "not_found", format!("evidence {id} is not held"), cors)
            }
            Err(e) => return refusal(500, "store", e.message, cors),
        };
        let range = match parse_range(req.range, size) {
            Ok(r) => r,
            Err(e) => {
                let mut headers = cors;
                headers.push(("Content-Range", format!("bytes */{size}")));
                return refusal(
                    416,
                    e.code(),
                    format!("the range {:?} cannot be served from {size} bytes", req.range.unwrap_or("")),
                    headers,
                );
            }
        };
        let mut body = Vec::new();
        if method == "GET" {
            body.reserve(usize::try_from(range.len).unwrap_or(0));
            if let Err(e) = reader.read_content_range(&sha256, size, range.offset, range.len, &mut body) {
                // Only the error's words: never a byte of content.
                let e = AppError::from(e);
                return refusal(500, "corruption", format!("evidence {id} is damaged: {}", e.message), cors);
            }
        }
        let mut headers = cors;
        headers.extend(common_headers());
        headers.push(("Content-Type", media_type));
        headers.push(("Content-Length", range.len.to_string()));
        if range.partial {
            let last = range.offset + range.len - 1;
            headers.push(("Content-Range", format!("bytes {}-{last}/{size}", range.offset)));
        }
        MediaResponse { status: if range.partial { 206 } else { 200 }, headers, body }
    }
}

/// Bytes `begin .. end` of the item a viewer URL opens, through the same checks as the scheme
/// (for page script where the webview will not `fetch` from the scheme: the desktop's
/// `media_range` command). Refusals as errors: `locked`, `forbidden` (a token not open),
/// `invalid_input` (not a viewer URL, a bad range), `unknown_evidence`, `corruption`.
pub fn read_url(tokens: &MediaTokens, store: &StoreHandle, url: &str, begin: u64, end: u64) -> Result<Vec<u8>> {
    let path = url
        .strip_prefix(&format!("{SCHEME}://localhost"))
        .or_else(|| url.strip_prefix(&format!("http://{SCHEME}.localhost")))
        .unwrap_or("");
    if end <= begin || end - begin > MAX_RANGE_BYTES {
        return Err(AppError::invalid("range", format!("{begin}..{end} is empty or longer than {MAX_RANGE_BYTES} bytes")));
    }
    let range = format!("bytes={begin}-{}", end - 1);
    let r = tokens.serve(store, &MediaRequest { method: "GET", path, range: Some(&range), origin: None });
    if r.status == 200 || r.status == 206 {
        return Ok(r.body);
    }
    let message = String::from_utf8_lossy(&r.body).into_owned();
    let code = match r.reason().unwrap_or("") {
        "locked" => ErrorCode::Locked,
        "token_unknown" => ErrorCode::Forbidden,
        "not_found" => ErrorCode::UnknownEvidence,
        "corruption" => ErrorCode::Corruption,
        "store" => ErrorCode::Store,
        _ => ErrorCode::InvalidInput,
    };
    Err(AppError::new(code, message))
}

/// Headers on every content response: ranges, never cached, never sniffed, never a page that
/// can run script (a sandbox without scripts, nothing loaded) even if navigated to.
fn common_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Accept-Ranges", "bytes".into()),
        ("Cache-Control", "no-store".into()),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Content-Security-Policy", "sandbox; default-src 'none'".into()),
        ("Cross-Origin-Resource-Policy", "cross-origin".into()),
    ]
}

/// CORS for the app's own page only (pdf.js fetches ranges; media elements need none).
fn cors_headers(origin: Option<&str>) -> Vec<(&'static str, String)> {
    match origin {
        Some(o) if APP_ORIGINS.contains(&o) => vec![
            ("Access-Control-Allow-Origin", o.to_string()),
            ("Access-Control-Expose-Headers", "Content-Range, Content-Length, Accept-Ranges, X-Casebridge-Reason".into()),
            ("Vary", "Origin".into()),
        ],
        _ => Vec::new(),
    }
}

fn refusal(status: u16, reason: &'static str, message: String, mut headers: Vec<(&'static str, String)>) -> MediaResponse {
    headers.push(("X-Casebridge-Reason", reason.into()));
    headers.push(("Content-Type", "text/plain; charset=utf-8".into()));
    headers.push(("Cache-Control", "no-store".into()));
    MediaResponse { status, headers, body: format!("{reason}: {message}").into_bytes() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_rfc_9110_says_within_the_caps() {
        let r = |h: &str, size| parse_range(Some(h), size);
        assert_eq!(r("bytes=0-", 10), Ok(ByteRange { offset: 0, len: 10, partial: true }));
        assert_eq!(r("bytes=2-4", 10), Ok(ByteRange { offset: 2, len: 3, partial: true }));
        assert_eq!(r("bytes=2-400", 10), Ok(ByteRange { offset: 2, len: 8, partial: true }));
        assert_eq!(r("bytes=-3", 10), Ok(ByteRange { offset: 7, len: 3, partial: true }));
        assert_eq!(r("bytes=-30", 10), Ok(ByteRange { offset: 0, len: 10, partial: true }));
        assert_eq!(r("bytes=9-9", 10), Ok(ByteRange { offset: 9, len: 1, partial: true }));
        // Open-ended and long ranges of a large item are capped.
        let big = 2 * 1024 * 1024 * 1024u64;
        assert_eq!(r("bytes=1000-", big), Ok(ByteRange { offset: 1000, len: MAX_RANGE_BYTES, partial: true }));
        assert_eq!(r(&format!("bytes=0-{}", big - 1), big).unwrap().len, MAX_RANGE_BYTES);
        assert_eq!(r(&format!("bytes={}-", big - 5), big), Ok(ByteRange { offset: big - 5, len: 5, partial: true }));
        // Without a Range: whole up to the cap, else a first window.
        assert_eq!(parse_range(None, 10), Ok(ByteRange { offset: 0, len: 10, partial: false }));
        assert_eq!(parse_range(None, big), Ok(ByteRange { offset: 0, len: MAX_RANGE_BYTES, partial: true }));
        // Refusals, each with its reason.
        for bad in [
            "bytes=",
            "bytes=-",
            "bytes=a-3",
            "bytes=3-a",
            "items=0-1",
            "bytes=5-2",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
            "0-1",
            "bytes=1",
        ] {
            assert_eq!(r(bad, 10), Err(RangeError::Malformed), "{bad}");
        }
        assert_eq!(r("bytes=0-1,3-4", 10), Err(RangeError::Multiple));
        assert_eq!(r("bytes=10-", 10), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=10-12", 10), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=-0", 10), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=0-", 0), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=9999999999999999999-", 10), Err(RangeError::Unsatisfiable));
        assert_eq!(r(&format!("bytes={}-", u64::MAX), 10), Err(RangeError::Malformed), "20 digits are more than a size");
    }

    #[test]
    fn only_viewable_types_are_served_as_themselves() {
        assert_eq!(served_type("video/mp4"), "video/mp4");
        assert_eq!(served_type("image/JPEG"), "image/jpeg");
        assert_eq!(served_type("application/pdf"), "application/pdf");
        assert_eq!(served_type("text/html"), "text/plain; charset=utf-8");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_type("application/xhtml+xml"), "application/octet-stream");
        assert_eq!(served_type("video/mp4\r\nX-Evil: 1"), "application/octet-stream");
        assert_eq!(served_type(""), "application/octet-stream");
    }
}
