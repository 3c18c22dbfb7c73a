//! Test tools for the agency endpoint: a real `casebridge agency serve` process on 127.0.0.1
//! port 0, and a TCP proxy that cuts, delays and counts traffic between members and it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casebridge_core::Role;

pub use crate::harness::AGENCY_PASS;
use crate::harness::{in_process, s, spawn, Output, Profile, BIN};

/// Creates an agency in-process (cheap KDF), deployed as `CASEBRIDGE_TEST_DEPLOYMENT` says:
/// an agency directory, or a cluster agency on its own database and bucket (scripts/test
/// runs the suites that start agencies once per deployment).
pub fn new_agency(dir: &Path) {
    in_process(|| drop(casebridge_testkit::deployment::new_agency(dir, "Test Police")));
}

/// The object store's environment a process serving or checking an agency of this test run
/// takes: none for embedded agencies, the test S3 server's `AWS_*` for cluster agencies.
pub fn deployment_env() -> Vec<(&'static str, String)> {
    if casebridge_testkit::deployment::Deployment::current().is_cluster() {
        casebridge_testkit::services::aws_env()
    } else {
        Vec::new()
    }
}

/// A profile created in-process with `role`.
pub fn member(role: Role, name: &str) -> Profile {
    Profile::with_role(name, role)
}

/// Runs the binary for `p` with the agency passphrase set.
pub fn run(p: &Profile, args: &[&str]) -> Output {
    p.cmd_with(args, |c| {
        c.env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS);
        c.envs(deployment_env());
    })
}

/// Makes an invite on the running endpoint of the agency at `dir` and returns the code (the
/// last line of stdout).
pub fn invite(admin: &Profile, dir: &Path, role: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["agency", "invite", "--dir", s(dir), "--role", role, "--name", name];
    args.extend_from_slice(extra);
    let out = run(admin, &args);
    out.ok();
    let code = out.stdout.lines().last().unwrap_or_default().trim().to_string();
    assert!(code.starts_with("cbinv1."), "the invite code is alone on the last line\n{out}");
    code
}

/// Runs `sync --json` for `p`, asserts success and returns its last line (the summary).
pub fn sync(p: &Profile) -> serde_json::Value {
    let out = p.cmd(&["sync", "--json"]);
    out.ok();
    serde_json::from_str(out.stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("last line of sync --json is not JSON ({e})\n{out}"))
}

/// A running `casebridge agency serve`; stopped with SIGTERM (or killed) on drop.
pub struct Endpoint {
    child: Option<Child>,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The agency directory.
    pub dir: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Endpoint {
    /// Starts the endpoint on 127.0.0.1 port 0 and waits until it listens.
    pub fn start(dir: &Path) -> Endpoint {
        Endpoint::start_at(dir, "127.0.0.1:0")
    }

    /// Starts the endpoint listening on `listen` and waits until it listens.
    pub fn start_at(dir: &Path, listen: &str) -> Endpoint {
        let env = if casebridge_testkit::deployment::is_cluster_agency(dir) { casebridge_testkit::services::aws_env() } else { Vec::new() };
        Endpoint::start_with(dir, listen, &env)
    }

    /// [`Endpoint::start_at`] with more environment (a cluster agency's `AWS_*`).
    pub fn start_with(dir: &Path, listen: &str, env: &[(&str, String)]) -> Endpoint {
        let mut c = Command::new(BIN);
        c.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        c.args(["agency", "serve", "--dir"])
            .arg(dir)
            .args(["--listen", listen])
            .env("CASEBRIDGE_AGENCY_PASSPHRASE", AGENCY_PASS)
            .env("CASEBRIDGE_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut c).expect("start agency serve");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let l2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.split(" on ").nth(1).filter(|u| u.starts_with("https://")) {
                        let url = url.trim().to_string();
                        let addr: SocketAddr = url.trim_start_matches("https://").parse().expect("address");
                        assert!(addr.ip().is_loopback(), "the endpoint must bind loopback by default: {url}");
                        return Endpoint { child: Some(child), url, addr, dir: dir.to_path_buf(), log };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the endpoint did not start within 60 s; its log:\n{}", log.lock().unwrap());
                }
            }
        }
    }

    /// What the endpoint logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then wait; asserts a clean exit.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("running");
        terminate(&child);
        let status = wait_timeout(&mut child, Duration::from_secs(60)).expect("the endpoint did not stop within 60 s of SIGTERM");
        assert!(status.success(), "the endpoint exited with {status} on SIGTERM; log:\n{}", self.log());
    }

    /// The endpoint's process, for a caller that kills it at a moment of its choosing.
    pub fn into_child(mut self) -> Child {
        self.child.take().expect("running")
    }

    /// SIGKILL: the endpoint gets no chance to clean up.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn terminate(child: &Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// What the proxy does to each connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Cut a connection after this many client-to-server bytes (None: never).
    pub cut_after: Option<u64>,
    /// Pause this long before forwarding each block (slows the transfer down).
    pub delay: Duration,
}

/// A TCP proxy on 127.0.0.1 port 0 in front of the endpoint. Each new connection takes the
/// next entry of its fault plan (then no faults). It counts the bytes it forwards upstream.
pub struct Proxy {
    /// Where members connect.
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    plan: Arc<Mutex<std::collections::VecDeque<Faults>>>,
    default: Arc<Mutex<Faults>>,
    /// Client-to-server bytes forwarded.
    pub up_bytes: Arc<AtomicU64>,
    /// Server-to-client bytes forwarded.
    pub down_bytes: Arc<AtomicU64>,
    /// Connections cut by the plan.
    pub cuts: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Sends new connections to `upstream` from now on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    /// Starts a proxy to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let p = Proxy {
            addr,
            upstream: Arc::new(Mutex::new(upstream)),
            plan: Arc::default(),
            default: Arc::default(),
            up_bytes: Arc::default(),
            down_bytes: Arc::default(),
            cuts: Arc::default(),
            stop: Arc::default(),
        };
        let (up, plan, default, bytes, down_bytes, cuts, stop) = (
            Arc::clone(&p.upstream),
            Arc::clone(&p.plan),
            Arc::clone(&p.default),
            Arc::clone(&p.up_bytes),
            Arc::clone(&p.down_bytes),
            Arc::clone(&p.cuts),
            Arc::clone(&p.stop),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let target = *up.lock().unwrap();
                let faults = plan.lock().unwrap().pop_front().unwrap_or(*default.lock().unwrap());
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (bytes, down_bytes, cuts) = (Arc::clone(&bytes), Arc::clone(&down_bytes), Arc::clone(&cuts));
                std::thread::spawn(move || pipe_pair(client, server, faults, &bytes, down_bytes, &cuts));
            }
        });
        p
    }

    /// Asserts that a sync of each of `members`, with nothing new, moves no content either way
    /// through this proxy (under 64 KiB each way: authentication and an empty feed page).
    pub fn assert_sync_moves_no_content(&self, members: &[&Profile]) {
        for p in members {
            let (up, down) = self.bytes();
            let r = sync(p);
            assert_eq!((r["uploaded"].as_u64(), r["content_fetched"].as_u64()), (Some(0), Some(0)), "{r}");
            let (up2, down2) = self.bytes();
            assert!(
                up2 - up < 64 * 1024 && down2 - down < 64 * 1024,
                "a sync with nothing new moved {} bytes up, {} down",
                up2 - up,
                down2 - down
            );
        }
    }

    /// Bytes forwarded so far, (client to server, server to client).
    pub fn bytes(&self) -> (u64, u64) {
        (self.up_bytes.load(Ordering::SeqCst), self.down_bytes.load(Ordering::SeqCst))
    }

    /// The URL members use.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Faults for the next connections, in order.
    pub fn plan(&self, faults: impl IntoIterator<Item = Faults>) {
        self.plan.lock().unwrap().extend(faults);
    }

    /// Faults for connections once the plan is used up.
    pub fn set_default(&self, f: Faults) {
        *self.default.lock().unwrap() = f;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn pipe_pair(client: TcpStream, server: TcpStream, faults: Faults, up_bytes: &AtomicU64, down_bytes: Arc<AtomicU64>, cuts: &AtomicU64) {
    let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
    let down = std::thread::spawn(move || copy(s2, c2, None, Duration::ZERO, Some(&down_bytes)));
    let cut = copy(client.try_clone().expect("clone"), server.try_clone().expect("clone"), faults.cut_after, faults.delay, Some(up_bytes));
    if cut {
        cuts.fetch_add(1, Ordering::SeqCst);
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = down.join();
}

/// Copies until EOF or the budget is spent; true when cut by the budget.
fn copy(mut from: TcpStream, mut to: TcpStream, budget: Option<u64>, delay: Duration, count: Option<&AtomicU64>) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    loop {
        let want = match budget {
            Some(b) if sent >= b => return true,
            Some(b) => buf.len().min(usize::try_from(b - sent).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let n = match from.read(&mut buf[..want]) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return false;
            }
            Ok(n) => n,
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if to.write_all(&buf[..n]).is_err() {
            return false;
        }
        sent += n as u64;
        if let Some(c) = count {
            c.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
}
