//! The attacker of issue 13 for `sync --attacker`, on its own thread (a current-thread tokio
//! runtime, so that its CPU time can be read apart from the volunteers'):
//!
//! - **The pile**: `slots` TLS connections from one loopback address (127.0.0.2), each sending
//!   the start of a request that promises 64 KiB of body and sends 17 bytes (`POST /v1/enrol`,
//!   as in crates/agency/tests/endpoint/abuse.rs), then waiting. A slot whose connection the
//!   endpoint refuses or closes (an answer such as 408 `body_timeout`, or a silent close)
//!   opens a new one after [`REOPEN_PAUSE`], so the pressure lasts as long as the attack.
//! - **The slow download**: a member (the bench's investigator) from another loopback address
//!   (127.0.0.3) asks for a large item over a raw TLS connection and reads one byte per second.
//!   Whether and when the endpoint cut it is seen from the endpoint's side of that TCP
//!   connection in /proc/net/tcp (it leaves ESTABLISHED when the endpoint closes it, even with
//!   unsent bytes queued), and confirmed at the end by reading the rest as fast as possible:
//!   the whole item, or an end before it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casebridge_protocol::{Challenge, ChallengeRequest, Session, SessionRequest, AUTH_CONTEXT};
use casebridge_sync::Signer;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::client::TlsStream;
use uuid::Uuid;

/// The attack of issue 13: a request that promises 64 KiB of body and sends 17 bytes.
const PARTIAL_ENROL: &[u8] =
    b"POST /v1/enrol HTTP/1.1\r\nhost: endpoint\r\ncontent-type: application/json\r\ncontent-length: 65536\r\n\r\n{\"invite_secret\":";

/// How long a slot waits before opening a new connection after the endpoint refused or closed
/// its last one. Fixed before any measurement: without a pause, the slots the per-source cap
/// refuses would spin in a connect loop, a different attack (a connection flood) whose cost
/// would mostly be this process's own handshakes on the CPUs the volunteers share.
pub const REOPEN_PAUSE: Duration = Duration::from_secs(1);

/// The TCP connect and the TLS handshake of one connection.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Where the endpoint listens and the SHA-256 (hex) of its certificate.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub cert_fp: String,
}

/// A TLS client configuration that trusts only the endpoint's certificate (the sync client's
/// own pinning).
fn pinned_tls(fp: &str) -> Result<Arc<rustls::ClientConfig>> {
    Ok(Arc::new(casebridge_sync::pinned_client_config(fp)?))
}

/// A TLS connection to the endpoint from the loopback address `from`.
async fn raw_tls(target: &Target, tls: &tokio_rustls::TlsConnector, from: IpAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    let tcp = socket.connect(target.addr).await?;
    let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    tls.connect(name, tcp).await
}

// ----- the pile ----------------------------------------------------------------------------------

/// What the pile saw, counted as it goes.
#[derive(Default)]
pub struct PileStats {
    /// Tries that ended before the partial body was sent: refused on accept (the per-source
    /// cap), a failed or timed-out handshake.
    pub refused: AtomicU64,
    /// Connections that sent the partial body.
    pub admitted: AtomicU64,
    /// Of those, open now (sent, and neither answered nor closed yet).
    pub held: AtomicUsize,
    /// The most held at once.
    pub peak: AtomicUsize,
    /// Held connections the endpoint closed without an answer (evicted, or cut).
    pub closed_silently: AtomicU64,
    /// Held connections the endpoint answered (then closed by the slot), by status code.
    pub answers: Mutex<BTreeMap<u16, u64>>,
}

impl PileStats {
    /// Connections tried (and refused or sent the partial body).
    pub fn attempts(&self) -> u64 {
        self.refused.load(Ordering::Relaxed) + self.admitted.load(Ordering::Relaxed)
    }

    pub fn answers(&self) -> BTreeMap<u16, u64> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One slot: a connection with a partial body, held until the endpoint answers or closes it,
/// then another one.
async fn slot(target: Arc<Target>, tls: tokio_rustls::TlsConnector, from: IpAddr, stats: Arc<PileStats>) {
    loop {
        let sent = async {
            let mut conn = raw_tls(&target, &tls, from).await?;
            conn.write_all(PARTIAL_ENROL).await?;
            conn.flush().await?;
            Ok::<_, std::io::Error>(conn)
        };
        let mut conn = match tokio::time::timeout(CONNECT_WAIT, sent).await {
            Ok(Ok(c)) => c,
            _ => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(REOPEN_PAUSE).await;
                continue;
            }
        };
        stats.admitted.fetch_add(1, Ordering::Relaxed);
        let now = stats.held.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak.fetch_max(now, Ordering::Relaxed);
        let mut buf = [0u8; 64];
        let read = conn.read(&mut buf).await;
        stats.held.fetch_sub(1, Ordering::Relaxed);
        match read {
            Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.1 ") => {
                let code = std::str::from_utf8(&buf[9..12]).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
                *stats.answers.lock().unwrap_or_else(|p| p.into_inner()).entry(code).or_default() += 1;
            }
            Ok(n) if n > 0 => {
                *stats.answers.lock().unwrap_or_else(|p| p.into_inner()).entry(0).or_default() += 1;
            }
            _ => {
                stats.closed_silently.fetch_add(1, Ordering::Relaxed);
            }
        }
        drop(conn);
        tokio::time::sleep(REOPEN_PAUSE).await;
    }
}

// ----- the slow download ---------------------------------------------------------------------

/// A member who downloads a large item and reads it one byte per second.
pub struct SlowPlan {
    pub from: IpAddr,
    pub agency_id: Uuid,
    pub member_id: Uuid,
    /// The member's public key, hex.
    pub key_hex: String,
    pub signer: Signer,
    /// The item's SHA-256 (hex) and size.
    pub sha256: String,
    pub size: u64,
}

/// How the slow download ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlowEnd {
    /// Every byte arrived (read at full speed once the attack was over): not cut.
    Whole,
    /// The endpoint closed it before the last byte.
    Cut,
    /// Still open, with nothing more arriving, when the bench stopped looking.
    StillOpen,
}

/// The slow download as seen so far.
#[derive(Clone, Debug, Default)]
pub struct SlowState {
    /// When the response's head arrived.
    pub started: Option<Instant>,
    pub size: u64,
    /// Body bytes read while reading slowly.
    pub read_slowly: u64,
    /// Body bytes read in all.
    pub received: u64,
    /// When the endpoint's side of the connection left ESTABLISHED (it closed it).
    pub server_closed: Option<Instant>,
    pub end: Option<SlowEnd>,
    /// Why it could not start or ended in an error.
    pub error: Option<String>,
}

/// One HTTP/1.1 request with `connection: close` over a new connection; (status, body).
async fn request(target: &Target, tls: &tokio_rustls::TlsConnector, from: IpAddr, path: &str, json: &[u8]) -> Result<(u16, Vec<u8>)> {
    let mut conn = raw_tls(target, tls, from).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: endpoint\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        json.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(json).await?;
    conn.flush().await?;
    let mut answer = Vec::new();
    // The endpoint may close without a TLS close_notify; what arrived is what counts.
    let _ = conn.read_to_end(&mut answer).await;
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("no complete answer to {path}");
    };
    let code = std::str::from_utf8(answer.get(9..12).unwrap_or_default()).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let mut body = answer[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body).with_context(|| format!("a chunked answer to {path}"))?;
    }
    Ok((code, body))
}

/// The body of a `transfer-encoding: chunked` message.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").context("a chunk size line")?;
        let size_text = std::str::from_utf8(&raw[..line_end])?.split(';').next().unwrap_or_default().trim().to_string();
        let size = usize::from_str_radix(&size_text, 16).with_context(|| format!("chunk size {size_text:?}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(raw.get(..size).context("a chunk shorter than its size")?);
        raw = raw.get(size + 2..).context("a chunk without its line end")?;
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A session token for the plan's member: a challenge, signed, answered.
async fn login(target: &Target, tls: &tokio_rustls::TlsConnector, plan: &SlowPlan) -> Result<String> {
    let req = serde_json::to_vec(&ChallengeRequest { member_id: plan.member_id, key: plan.key_hex.clone() })?;
    let (code, body) = request(target, tls, plan.from, "/v1/auth/challenge", &req).await?;
    if code != 200 {
        bail!("the challenge was answered {code}: {}", String::from_utf8_lossy(&body));
    }
    let challenge: Challenge = serde_json::from_slice(&body).context("reading the challenge")?;
    let nonce = unhex(&challenge.nonce).context("the challenge's nonce is not hex")?;
    let signature = (plan.signer)(AUTH_CONTEXT, &casebridge_protocol::auth_message(plan.agency_id, &nonce));
    let req = serde_json::to_vec(&SessionRequest { challenge_id: challenge.challenge_id, signature: casebridge_core::to_hex(&signature) })?;
    let (code, body) = request(target, tls, plan.from, "/v1/auth/session", &req).await?;
    if code != 200 {
        bail!("the session was answered {code}: {}", String::from_utf8_lossy(&body));
    }
    let session: Session = serde_json::from_slice(&body).context("reading the session")?;
    Ok(session.token)
}

/// The TCP state (the `st` column of /proc/net/tcp, 1 = ESTABLISHED) of the endpoint's side
/// of the connection from `client` to `server`.
fn server_side_state(server: SocketAddr, client: SocketAddr) -> Option<u8> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let hex_addr = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => Some(format!("{:08X}:{:04X}", u32::from_le_bytes(v4.octets()), a.port())),
        IpAddr::V6(_) => None,
    };
    let (local, remote) = (hex_addr(server)?, hex_addr(client)?);
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&local.as_str()) && f.get(2) == Some(&remote.as_str())).then(|| u8::from_str_radix(f.get(3)?, 16).ok()).flatten()
    })
}

async fn slow_download(
    target: Arc<Target>,
    tls: tokio_rustls::TlsConnector,
    plan: SlowPlan,
    state: Arc<Mutex<SlowState>>,
    mut drain: watch::Receiver<bool>,
) {
    let set = |f: &dyn Fn(&mut SlowState)| f(&mut state.lock().unwrap_or_else(|p| p.into_inner()));
    set(&|s| s.size = plan.size);
    let started = async {
        let token = login(&target, &tls, &plan).await?;
        let mut conn = raw_tls(&target, &tls, plan.from).await?;
        let local = conn.get_ref().0.local_addr()?;
        let get = format!("GET /v1/content/{} HTTP/1.1\r\nhost: endpoint\r\nauthorization: Bearer {token}\r\n\r\n", plan.sha256);
        conn.write_all(get.as_bytes()).await?;
        conn.flush().await?;
        // The head, one byte at a time (from rustls's buffer, not one read each).
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if conn.read(&mut b).await? == 0 {
                bail!("the endpoint closed the download before its head");
            }
            head.push(b[0]);
            if head.len() > 16 << 10 {
                bail!("the download's head is over 16 KiB");
            }
        }
        if !head.starts_with(b"HTTP/1.1 200") {
            bail!("the download was answered {}", String::from_utf8_lossy(&head).lines().next().unwrap_or_default());
        }
        Ok::<_, anyhow::Error>((conn, local))
    };
    let (mut conn, local) = match started.await {
        Ok(c) => c,
        Err(e) => return set(&|s| s.error = Some(format!("{e:#}"))),
    };
    set(&|s| s.started = Some(Instant::now()));
    let mut ended = None;
    // One byte a second until told to finish.
    while !*drain.borrow() {
        tokio::select! {
            _ = drain.changed() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let state_now = server_side_state(target.addr, local);
        if state_now != Some(1) {
            set(&|s| {
                s.server_closed.get_or_insert_with(Instant::now);
            });
        }
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(500), conn.read(&mut b)).await {
            Ok(Ok(1)) => set(&|s| {
                s.read_slowly += 1;
                s.received += 1;
            }),
            Ok(Ok(_)) | Ok(Err(_)) => {
                ended = Some(SlowEnd::Cut);
                break;
            }
            Err(_) => {}
        }
    }
    // The rest as fast as it comes: the whole item, or an end before it.
    if ended.is_none() {
        let mut buf = vec![0u8; 256 << 10];
        ended = Some(loop {
            match tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break SlowEnd::Cut,
                Ok(Ok(n)) => {
                    let whole = {
                        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                        s.received += n as u64;
                        s.received >= plan.size
                    };
                    if whole {
                        break SlowEnd::Whole;
                    }
                }
                Err(_) => break SlowEnd::StillOpen,
            }
        });
    }
    set(&|s| s.end = ended.clone());
}

// ----- the attacker thread ---------------------------------------------------------------------

/// The attack, running on its own thread until [`Attacker::stop_pile`] and
/// [`Attacker::finish_slow`].
pub struct Attacker {
    thread: Option<std::thread::JoinHandle<()>>,
    stop_pile: watch::Sender<bool>,
    drain_slow: watch::Sender<bool>,
    pub pile: Arc<PileStats>,
    pub slow: Arc<Mutex<SlowState>>,
    tid: Arc<AtomicU32>,
}

impl Attacker {
    /// Starts `slots` pile connections from `from` and, with `slow`, the slow download.
    pub fn start(target: Target, from: IpAddr, slots: usize, slow: Option<SlowPlan>) -> Result<Attacker> {
        let tls = tokio_rustls::TlsConnector::from(pinned_tls(&target.cert_fp)?);
        let (stop_pile, mut stop_rx) = watch::channel(false);
        let (drain_slow, drain_rx) = watch::channel(false);
        let pile = Arc::new(PileStats::default());
        let slow_state = Arc::new(Mutex::new(SlowState::default()));
        let tid = Arc::new(AtomicU32::new(0));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the attacker's runtime")?;
        let (p, s, t) = (Arc::clone(&pile), Arc::clone(&slow_state), Arc::clone(&tid));
        let thread = std::thread::Builder::new()
            .name("attacker".into())
            .spawn(move || {
                t.store(this_thread_id(), Ordering::Release);
                rt.block_on(async move {
                    let target = Arc::new(target);
                    let slow_task = slow.map(|plan| tokio::spawn(slow_download(Arc::clone(&target), tls.clone(), plan, s, drain_rx)));
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..slots {
                        set.spawn(slot(Arc::clone(&target), tls.clone(), from, Arc::clone(&p)));
                    }
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    p.held.store(0, Ordering::Relaxed);
                    if let Some(t) = slow_task {
                        let _ = t.await;
                    }
                });
            })
            .context("starting the attacker's thread")?;
        Ok(Attacker { thread: Some(thread), stop_pile, drain_slow, pile, slow: slow_state, tid })
    }

    pub fn slow_state(&self) -> SlowState {
        self.slow.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until the pile has stopped growing (no change in the connections it holds for
    /// 2 s) and the slow download has its head, or `max`. Fails when the slow download could
    /// not start.
    pub fn wait_ready(&self, max: Duration) -> Result<()> {
        let end = Instant::now() + max;
        let (mut last, mut since) = (usize::MAX, Instant::now());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(250));
            let slow = self.slow_state();
            if let Some(e) = &slow.error {
                bail!("the slow download did not start: {e}");
            }
            let held = self.pile.held.load(Ordering::Relaxed);
            if held != last {
                (last, since) = (held, Instant::now());
            }
            if held > 0 && since.elapsed() >= Duration::from_secs(2) && slow.started.is_some() {
                return Ok(());
            }
        }
        eprintln!("sync: the attack was not steady after {} s; measuring anyway", max.as_secs());
        Ok(())
    }

    /// CPU time (user + system) of the attacker's thread so far.
    pub fn cpu(&self) -> Duration {
        let tid = self.tid.load(Ordering::Acquire);
        std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok().and_then(|s| crate::sync::stat_cpu(&s)).unwrap_or_default()
    }

    /// Stops the pile: its connections close.
    pub fn stop_pile(&self) {
        let _ = self.stop_pile.send(true);
    }

    /// Keeps reading slowly until the endpoint has closed the slow download or `until`,
    /// then reads the rest as fast as it comes, and ends the attacker's thread.
    pub fn finish_slow(mut self, until: Instant) -> SlowState {
        while Instant::now() < until {
            let s = self.slow_state();
            if s.started.is_none() || s.server_closed.is_some() || s.end.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.stop_pile();
        let _ = self.drain_slow.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.slow_state()
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.stop_pile.send(true);
        let _ = self.drain_slow.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The calling thread's id (the first field of /proc/thread-self/stat).
fn this_thread_id() -> u32 {
    std::fs::read_to_string("/proc/thread-self/stat").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n").unwrap(), b"hello world");
        assert!(dechunk(b"5\r\nhel").is_err());
    }

    #[test]
    fn hex_decodes_pairs() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
