//! Serving: TLS on TCP for `/v1`, plain HTTP on the admin Unix socket, graceful shutdown.

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use casebridge_core::{KdfParams, Passphrase};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::admin::ADMIN_SOCKET;
use crate::api::BodyTimeout;
use crate::clock::{Clock, SystemClock};
use crate::conns::{self, Conn, Tracked};
use crate::error::{AgencyError, Result};
use crate::limits::Limits;
use crate::state::{AppState, Peer, StateOptions};
use crate::{fsutil, tls};

/// Where `serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8443);
/// The file naming the running endpoint's address, inside the agency directory.
pub const SERVE_FILE: &str = "serve.json";
/// On shutdown, requests in flight get this long to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How to serve.
pub struct ServeConfig {
    /// The agency directory.
    pub dir: PathBuf,
    /// Where to listen (default [`DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    /// The agency passphrase (unlocks the agency keys, the TLS key and the endpoint's store).
    pub passphrase: Passphrase,
    /// Argon2 parameters for what the first start creates (store, TLS key):
    /// `KdfParams::INTERACTIVE` unless a test says otherwise.
    pub kdf: KdfParams,
    /// The clock (tests inject one).
    pub clock: Arc<dyn Clock>,
    /// The limits (`AGENCY/limits.json` over the defaults: [`crate::Limits::load`]).
    pub limits: crate::limits::Limits,
    /// A cluster agency's object-store settings given in code (`None`: the standard `AWS_*`
    /// environment, as `agency serve` reads it).
    pub s3: Option<casebridge_cluster::objects::S3Config>,
}

impl ServeConfig {
    /// Production settings for `dir`, listening on `listen`.
    pub fn new(dir: impl Into<PathBuf>, listen: SocketAddr, passphrase: Passphrase) -> ServeConfig {
        ServeConfig {
            dir: dir.into(),
            listen,
            passphrase,
            kdf: KdfParams::INTERACTIVE,
            clock: Arc::new(SystemClock),
            limits: crate::limits::Limits::default(),
            s3: None,
        }
    }
}

/// `AGENCY/serve.json`, present while an endpoint serves the directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeInfo {
    /// `https://HOST:PORT`.
    pub url: String,
    /// The serving process.
    pub pid: u32,
    /// SHA-256 of the TLS certificate, hex.
    pub cert_fp: String,
}

/// Reads `serve.json` (None when no endpoint serves the directory, or it stopped uncleanly).
pub fn read_serve_info(dir: &Path) -> Result<Option<ServeInfo>> {
    let path = dir.join(SERVE_FILE);
    match std::fs::read(&path) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AgencyError::io("reading", &path)(e)),
    }
}

/// Stops a running server from elsewhere (a signal handler).
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Stops accepting; requests in flight finish, then the server's task ends.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// A running endpoint.
pub struct Server {
    local_addr: SocketAddr,
    url: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl Server {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://HOST:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Graceful shutdown: stop accepting, finish requests in flight, remove `serve.json` and
    /// the admin socket, close the store and release the agency.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.send_replace(true);
        self.wait().await
    }

    /// Waits until the server stops (after [`ShutdownHandle::shutdown`]).
    pub async fn wait(self) -> Result<()> {
        let Server { task, stop, .. } = self;
        let result = task.await.map_err(|e| AgencyError::Internal(format!("the server task failed: {e}")))?;
        drop(stop);
        result
    }
}

fn url_of(addr: SocketAddr) -> String {
    format!("https://{addr}")
}

/// Starts the endpoint: makes the TLS certificate on first start, unlocks the agency and its
/// store, listens on `config.listen` (TLS) and `AGENCY/admin.sock`, and writes
/// `AGENCY/serve.json`. Returns once listening.
pub async fn serve(config: ServeConfig) -> Result<Server> {
    let ServeConfig { dir, listen, passphrase, kdf, clock, limits, s3 } = config;
    let opened = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            tls::ensure_certificate(&dir, &passphrase, kdf)?;
            let tls_config = tls::server_config(&dir, &passphrase)?;
            let state = AppState::open(&dir, &passphrase, StateOptions { store_kdf: kdf, clock, url: String::new(), limits, s3 })?;
            Ok((tls_config, state))
        })
        .await
        .map_err(|e| AgencyError::Internal(format!("opening the agency: {e}")))??
    };
    let (tls_config, state) = opened;
    let listener = TcpListener::bind(listen).await.map_err(|source| AgencyError::Bind { addr: listen.to_string(), source })?;
    let local_addr = listener.local_addr().map_err(|source| AgencyError::Bind { addr: listen.to_string(), source })?;
    let url = url_of(local_addr);
    state.set_url(url.clone());
    let (admin, admin_uid) = bind_admin(&dir)?;
    let info = ServeInfo { url: url.clone(), pid: std::process::id(), cert_fp: state.cert_fingerprint().to_string() };
    let info = serde_json::to_vec_pretty(&info).map_err(|e| AgencyError::Internal(e.to_string()))?;
    fsutil::write_atomic(&dir.join(SERVE_FILE), &info)?;
    let state = Arc::new(state);
    let (stop, stop_rx) = watch::channel(false);
    let acceptor = TlsAcceptor::from(tls_config);
    tracing::info!(url = %url, agency = %state.agency_id(), "agency endpoint listening");
    // Cleanup (expired uploads, orphan objects) every `gc_interval_secs`; ends with the server.
    tokio::spawn(crate::gc::run_periodically(Arc::clone(&state), stop_rx.clone()));
    let task = tokio::spawn(run(Listeners { tcp: listener, admin, admin_uid, acceptor }, state, stop_rx));
    Ok(Server { local_addr, url, stop, task })
}

/// Binds the admin socket with mode 0600 from the start: it is made in a private temporary
/// folder and moved into place, so it is never reachable with looser permissions.
fn bind_admin(dir: &Path) -> Result<(UnixListener, u32)> {
    let target = dir.join(ADMIN_SOCKET);
    let staging = dir.join(format!(".admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    fsutil::private_dir(&staging)?;
    let tmp = staging.join(ADMIN_SOCKET);
    let bound = (|| -> Result<(UnixListener, u32)> {
        let listener = UnixListener::bind(&tmp).map_err(AgencyError::io("binding", &tmp))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(AgencyError::io("securing", &tmp))?;
        let uid = std::fs::metadata(&tmp).map_err(AgencyError::io("reading", &tmp))?.uid();
        // A socket left by an endpoint that did not stop cleanly (the agency lock, held
        // now, proves no endpoint serves this directory).
        fsutil::remove_if_exists(&target)?;
        std::fs::rename(&tmp, &target).map_err(AgencyError::io("placing", &target))?;
        Ok((listener, uid))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

struct Listeners {
    tcp: TcpListener,
    admin: UnixListener,
    admin_uid: u32,
    acceptor: TlsAcceptor,
}

async fn run(listeners: Listeners, state: Arc<AppState>, mut stop: watch::Receiver<bool>) -> Result<()> {
    let Listeners { tcp, admin, admin_uid, acceptor } = listeners;
    let app = crate::router(state.clone());
    let admin_app = crate::admin::router(state.clone());
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ticket = match state.conns.admit(peer) {
                        Ok(t) => t,
                        Err(why) => {
                            tracing::debug!(%peer, ?why, "connection refused on accept");
                            continue;
                        }
                    };
                    let (acceptor, app, stop, limits) = (acceptor.clone(), app.clone(), stop.clone(), state.limits.clone());
                    conns.spawn(async move {
                        let conn = Arc::clone(&ticket.conn);
                        let _ = stream.set_nodelay(true);
                        let work = async {
                            match tokio::time::timeout(limits.handshake_timeout(), acceptor.accept(stream)).await {
                                Ok(Ok(tls)) => {
                                    let io = Tracked::new(tls, Arc::clone(&conn));
                                    serve_connection(io, app, stop, Some((Arc::clone(&conn), peer)), &limits).await;
                                }
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        };
                        tokio::select! {
                            () = work => {}
                            why = conns::watch(&conn, &limits) => tracing::debug!(%peer, ?why, "connection closed by the endpoint"),
                        }
                        drop(ticket);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            accepted = admin.accept() => match accepted {
                Ok((stream, _)) => {
                    let same_user = stream.peer_cred().map(|c| c.uid() == admin_uid).unwrap_or(false);
                    if !same_user {
                        tracing::warn!("refused an admin connection from another user");
                        continue;
                    }
                    let (app, stop, limits) = (admin_app.clone(), stop.clone(), state.limits.clone());
                    conns.spawn(async move { serve_connection(stream, app, stop, None, &limits).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an admin connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(tcp);
    drop(admin);
    let dir = state.dir().to_path_buf();
    let _ = fsutil::remove_if_exists(&dir.join(ADMIN_SOCKET));
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("requests still running after {}s; closing them", DRAIN_TIMEOUT.as_secs());
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    drop((app, admin_app));
    let _ = fsutil::remove_if_exists(&dir.join(SERVE_FILE));
    state.early.cancel_all();
    release(state).await;
    tracing::info!("agency endpoint stopped");
    Ok(())
}

/// Drops the state (closing the store, releasing the agency lock) once blocking work that
/// still holds it (a download being abandoned) has let go.
async fn release(mut state: Arc<AppState>) {
    for _ in 0..200 {
        match Arc::try_unwrap(state) {
            Ok(s) => {
                let _ = tokio::task::spawn_blocking(move || drop(s)).await;
                return;
            }
            Err(s) => state = s,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::warn!("the store is still in use after shutdown; it closes when that work ends");
}

/// Serves HTTP/1.1 on one connection until it closes, or until shutdown (then in-flight
/// requests finish and the connection closes). A TCP connection's requests carry its
/// [`Conn`] and peer address (for limits and for marking it a member's); each request counts
/// as busy until its handler answers.
async fn serve_connection<I>(io: I, app: Router, mut stop: watch::Receiver<bool>, tcp: Option<(Arc<Conn>, SocketAddr)>, limits: &Limits)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = BodyTimeout(limits.body_timeout());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let mut app = app.clone();
        req.extensions_mut().insert(body_timeout);
        let busy = tcp.as_ref().map(|(conn, peer)| {
            req.extensions_mut().insert(Arc::clone(conn));
            req.extensions_mut().insert(Peer(*peer));
            Busy::new(Arc::clone(conn))
        });
        async move {
            let response = app.call(req).await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout())
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.as_mut().await {
                tracing::debug!(error = %e, "connection ended with an error during shutdown");
            }
        }
    }
}

/// A request being handled on a connection (the watchdog does not call it idle meanwhile).
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}
