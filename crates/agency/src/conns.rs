//! Who holds the endpoint's connections, and for how long (docs/ENDPOINT.md, "Limits").
//!
//! - [`ConnTable::admit`] decides on accept: at most `max_connections_per_source` from one
//!   source address; connections that have not carried an authenticated request hold at most
//!   `max_connections - reserved_for_members`, and when those are all taken the oldest of them
//!   is closed to admit the new one (an attacker's pile of idle or half-sent connections gives
//!   way; a member's authenticated connection never does); at most `max_connections` in all.
//! - [`Tracked`] wraps a connection's I/O and [`watch`] closes it when it moves no byte for
//!   `idle_timeout` while no request is being handled, when a response stalls for
//!   `idle_timeout` (the client stopped reading), or when a response drains slower than
//!   `min_rate_bytes_per_sec` over a window of `idle_timeout`.
//!
//! Request bodies are timed by their readers (`api::ApiJson`, the chunk upload), which know
//! how much is coming.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::limits::Limits;
use crate::state::lock;

/// The address a limit counts by: an IPv4 address, or the /64 network of an IPv6 one (one
/// host usually holds a whole /64).
pub(crate) fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its source address holds `max_connections_per_source` already.
    PerSource,
    /// `max_connections` are open and all are members'.
    Full,
}

/// The open connections.
pub(crate) struct ConnTable {
    limits: Limits,
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    total: usize,
    per_source: HashMap<IpAddr, usize>,
    /// Connections without an authenticated request yet, oldest first.
    unauthenticated: BTreeMap<u64, Arc<Conn>>,
}

impl Table {
    /// Gives back `conn`'s place (once).
    fn release(&mut self, conn: &Conn) {
        if conn.released.swap(true, Ordering::AcqRel) {
            return;
        }
        self.unauthenticated.remove(&conn.id);
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_source.get_mut(&conn.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&conn.source);
            }
        }
    }
}

/// One admitted connection. Its requests carry it (a request extension), so that an
/// authenticated request moves it to the members' share.
pub(crate) struct Conn {
    id: u64,
    source: IpAddr,
    released: AtomicBool,
    member: AtomicBool,
    /// Closes the connection (it was evicted).
    evict: Notify,
    /// Requests being handled (from the request's head until its handler answered).
    pub(crate) busy: AtomicUsize,
    activity: Activity,
}

impl Conn {
    /// Marks the connection as a member's: it is never evicted for a newcomer.
    pub(crate) fn authenticated(&self, table: &ConnTable) {
        if !self.member.swap(true, Ordering::AcqRel) {
            lock(&table.inner).unauthenticated.remove(&self.id);
        }
    }
}

/// A connection's place, given back when dropped.
pub(crate) struct Ticket {
    table: Arc<ConnTable>,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        lock(&self.table.inner).release(&self.conn);
    }
}

impl ConnTable {
    pub(crate) fn new(limits: Limits) -> Arc<ConnTable> {
        Arc::new(ConnTable { limits, inner: Mutex::new(Table::default()) })
    }

    /// Admits a connection from `peer`, closing the oldest unauthenticated one when their
    /// share is full.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Ticket, Refused> {
        let source = source_of(peer.ip());
        let mut t = lock(&self.inner);
        if t.per_source.get(&source).copied().unwrap_or(0) >= self.limits.max_connections_per_source {
            return Err(Refused::PerSource);
        }
        if t.unauthenticated.len() >= self.limits.unauthenticated_connections() {
            if let Some((_, oldest)) = t.unauthenticated.pop_first() {
                t.release(&oldest);
                oldest.evict.notify_one();
            }
        }
        if t.total >= self.limits.max_connections {
            return Err(Refused::Full);
        }
        t.next_id += 1;
        let conn = Arc::new(Conn {
            id: t.next_id,
            source,
            released: AtomicBool::new(false),
            member: AtomicBool::new(false),
            evict: Notify::new(),
            busy: AtomicUsize::new(0),
            activity: Activity::new(),
        });
        t.total += 1;
        *t.per_source.entry(source).or_default() += 1;
        t.unauthenticated.insert(conn.id, Arc::clone(&conn));
        Ok(Ticket { table: Arc::clone(self), conn })
    }

    /// (open connections, of them without an authenticated request).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let t = lock(&self.inner);
        (t.total, t.unauthenticated.len())
    }
}

/// A connection's byte counters, read by [`watch`].
struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Milliseconds since `start` when a write last found the client not reading (0: writes
    /// are flowing).
    write_blocked_since_ms: AtomicU64,
    written: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            write_blocked_since_ms: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn moved(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }
}

/// A connection's I/O, counted.
pub(crate) struct Tracked<I> {
    io: I,
    conn: Arc<Conn>,
}

impl<I> Tracked<I> {
    pub(crate) fn new(io: I, conn: Arc<Conn>) -> Tracked<I> {
        conn.activity.moved();
        Tracked { io, conn }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.activity.moved();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        let a = &self.conn.activity;
        match &r {
            Poll::Ready(Ok(n)) if *n > 0 => {
                a.moved();
                a.written.fetch_add(*n as u64, Ordering::Relaxed);
                a.write_blocked_since_ms.store(0, Ordering::Relaxed);
            }
            Poll::Pending => {
                let now = a.now_ms();
                let _ = a.write_blocked_since_ms.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
            }
            _ => {}
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Why [`watch`] closed a connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// Evicted for a newcomer while it had no authenticated request.
    Evicted,
    /// No byte moved for `idle_timeout` with no request being handled.
    Idle,
    /// The client stopped reading a response, or read it slower than the minimum rate.
    SlowReader,
}

/// Resolves when `conn` must be closed.
pub(crate) async fn watch(conn: &Conn, limits: &Limits) -> Closed {
    let idle_ms = limits.idle_timeout_secs.saturating_mul(1000);
    let tick = Duration::from_millis((idle_ms / 4).clamp(50, 1000));
    let a = &conn.activity;
    let mut window_start = a.now_ms();
    let mut window_written = a.written.load(Ordering::Relaxed);
    let mut window_blocked = false;
    loop {
        tokio::select! {
            () = conn.evict.notified() => return Closed::Evicted,
            () = tokio::time::sleep(tick) => {}
        }
        let now = a.now_ms();
        let blocked_since = a.write_blocked_since_ms.load(Ordering::Relaxed);
        if blocked_since != 0 {
            window_blocked = true;
            if now.saturating_sub(blocked_since) >= idle_ms {
                return Closed::SlowReader;
            }
        }
        if conn.busy.load(Ordering::Relaxed) == 0
            && blocked_since == 0
            && now.saturating_sub(a.last_io_ms.load(Ordering::Relaxed)) >= idle_ms
        {
            return Closed::Idle;
        }
        if now.saturating_sub(window_start) >= idle_ms {
            let written = a.written.load(Ordering::Relaxed);
            let secs = (now - window_start) / 1000;
            // Only a window in which the client was the bottleneck (a write waited for it)
            // says anything about its rate.
            if window_blocked && written.saturating_sub(window_written) < limits.min_rate_bytes_per_sec.saturating_mul(secs) {
                return Closed::SlowReader;
            }
            window_start = now;
            window_written = written;
            window_blocked = blocked_since != 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, reserved: usize, per_source: usize) -> Limits {
        Limits { max_connections: max, reserved_for_members: reserved, max_connections_per_source: per_source, ..Limits::default() }
    }

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn one_source_gets_its_share_and_no_more() {
        let table = ConnTable::new(limits(100, 10, 3));
        let held: Vec<Ticket> = (0..3).map(|_| table.admit(at("127.0.0.2")).unwrap()).collect();
        assert_eq!(table.admit(at("127.0.0.2")).err(), Some(Refused::PerSource));
        assert!(table.admit(at("127.0.0.1")).is_ok(), "another source is not affected");
        drop(held);
        assert!(table.admit(at("127.0.0.2")).is_ok(), "a closed connection gives its place back");
    }

    #[test]
    fn a_newcomer_evicts_the_oldest_unauthenticated_connection_never_a_members() {
        let table = ConnTable::new(limits(4, 2, 10));
        let member = table.admit(at("127.0.0.1")).unwrap();
        member.conn.authenticated(&table);
        let a = table.admit(at("127.0.0.2")).unwrap();
        let b = table.admit(at("127.0.0.3")).unwrap();
        assert_eq!(table.counts(), (3, 2));
        // The unauthenticated share (4 - 2) is full: the oldest (a) gives way.
        let c = table.admit(at("127.0.0.4")).unwrap();
        assert!(a.conn.released.load(Ordering::Acquire), "the oldest unauthenticated connection was evicted");
        assert!(!b.conn.released.load(Ordering::Acquire));
        assert!(!member.conn.released.load(Ordering::Acquire), "a member's connection is never evicted");
        assert_eq!(table.counts(), (3, 2));
        drop(a);
        assert_eq!(table.counts(), (3, 2), "an evicted connection's place is not given back twice");
        drop((b, c, member));
        assert_eq!(table.counts(), (0, 0));
    }

    #[test]
    fn members_fill_the_rest_and_then_the_endpoint_is_full() {
        let table = ConnTable::new(limits(3, 1, 10));
        let members: Vec<Ticket> = (0..3)
            .map(|i| {
                let t = table.admit(at(&format!("127.0.1.{i}"))).unwrap();
                t.conn.authenticated(&table);
                t
            })
            .collect();
        assert_eq!(table.admit(at("127.0.0.9")).err(), Some(Refused::Full));
        drop(members);
    }

    #[test]
    fn ipv6_sources_count_by_their_64_network() {
        assert_eq!(source_of("2001:db8:1:2:aaaa::1".parse().unwrap()), source_of("2001:db8:1:2:bbbb::2".parse().unwrap()));
        assert_ne!(source_of("2001:db8:1:2::1".parse().unwrap()), source_of("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(source_of("::ffff:127.0.0.2".parse().unwrap()), "127.0.0.2".parse::<IpAddr>().unwrap());
    }
}
