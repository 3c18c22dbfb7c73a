//! The viewer's loopback stream for `<video>` and `<audio>`: the same tokens, checks and
//! range answers as the `cbmedia` scheme ([`crate::media`]), over HTTP on `127.0.0.1`.
//!
//! Why a second way in: WebKitGTK (the Linux webview) hands a media element's URL straight
//! to GStreamer, which has no source for a custom URI scheme (WebKit bug 146351; since
//! WebKitGTK 2.50 the media player allows only `blob:`, `data:`, `file:`, `http:` and
//! `https:`), so a video from `cbmedia://` fails before its first byte; WebView2 mishandles
//! range answers of custom schemes (tauri issue 3725). A `blob:` URL would hold the whole
//! decrypted file in memory, a `file:` URL would need a plaintext temp file: neither is
//! acceptable for a 2 GB dash-cam video. So the desktop listens on `127.0.0.1`, port chosen
//! by the system, and a media element plays `http://127.0.0.1:PORT/<token>`.
//!
//! What another program on the computer can do with the port: nothing without a token (256
//! random bits, issued only to the app's page, compared in constant time, all forgotten when
//! the profile locks). A web page in a browser cannot use it either: a request whose `Host`
//! is not exactly `127.0.0.1:PORT` (DNS rebinding) is refused with `host_refused`, one with an
//! `Origin` other than the app's own with `origin_refused`. Only `GET` and `HEAD` are served;
//! nothing is ever written, and nothing is logged but refusals' reason codes.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Response, StatusCode};

use crate::media::{MediaRequest, MediaResponse, APP_ORIGINS};

/// Answers one request (the session's [`crate::Session::media_request`]).
pub type Handler = Arc<dyn Fn(&MediaRequest<'_>) -> MediaResponse + Send + Sync>;

/// Binds the stream's listener on `127.0.0.1`, port chosen by the system. Bound before the
/// webview exists, so its port can be written into the page's content security policy.
pub fn bind() -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The origin media elements load from: `http://127.0.0.1:PORT` (what the CSP's `media-src`
/// names, and the prefix of each item's `stream_url`).
pub fn origin(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// `csp` with the stream's origin added to `media-src` (and nothing else changed).
pub fn csp_with_stream(csp: &str, port: u16) -> String {
    crate::settings::csp_with_source(csp, "media-src", &origin(port))
}

#[derive(Clone)]
struct Ctx {
    host: String,
    handler: Handler,
}

/// Serves the stream on `listener` (from [`bind`]) until the runtime stops. Each request is
/// answered on the blocking pool (decryption is CPU work and takes the store briefly).
pub async fn serve(listener: TcpListener, handler: Handler) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let ctx = Ctx { host: format!("127.0.0.1:{port}"), handler };
    let app = axum::Router::new().fallback(answer).with_state(ctx);
    axum::serve(listener, app).await
}

async fn answer(State(ctx): State<Ctx>, req: Request) -> Response<Body> {
    // Only the request line and three headers are read (the body is never).
    let (host, origin, range, method, path) = {
        let text = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (text(header::HOST), text(header::ORIGIN), text(header::RANGE), req.method().as_str().to_owned(), req.uri().path().to_owned())
    };
    drop(req);
    if host.as_deref() != Some(ctx.host.as_str()) {
        return refusal(StatusCode::MISDIRECTED_REQUEST, "host_refused", "this server answers only to its own 127.0.0.1 address");
    }
    if let Some(o) = origin.as_deref() {
        if !APP_ORIGINS.contains(&o) {
            return refusal(StatusCode::FORBIDDEN, "origin_refused", "only the Casebridge window may load evidence");
        }
    }
    let handler = Arc::clone(&ctx.handler);
    let resp = tokio::task::spawn_blocking(move || {
        handler(&MediaRequest { method: &method, path: &path, range: range.as_deref(), origin: origin.as_deref() })
    })
    .await;
    match resp {
        Ok(r) => to_http(r),
        Err(_) => refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be answered"),
    }
}

fn to_http(r: MediaResponse) -> Response<Body> {
    let mut builder = Response::builder().status(r.status);
    for (name, value) in &r.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::from(r.body))
        .unwrap_or_else(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the response could not be built"))
}

fn refusal(status: StatusCode, reason: &'static str, message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{reason}: {message}")));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("X-Casebridge-Reason", header::HeaderValue::from_static(reason));
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_gains_exactly_the_stream_origin_in_media_src() {
        let csp = "default-src 'self'; img-src 'self' cbmedia:; media-src 'self' blob: cbmedia:; connect-src 'self'";
        assert_eq!(
            csp_with_stream(csp, 40123),
            "default-src 'self'; img-src 'self' cbmedia:; media-src 'self' blob: cbmedia: http://127.0.0.1:40123; connect-src 'self'"
        );
    }
}
