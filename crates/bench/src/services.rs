//! The servers the cluster benchmarks run against, on 127.0.0.1: PostgreSQL and SeaweedFS (S3)
//! from `scripts/services` (shared with the test suites; started here when not running, never
//! stopped), and HAProxy in front of the replicas, started per run.
//!
//! This is the bench's own small reader of what `casebridge_testkit::services` reads: the
//! testkit cannot be a dependency of the bench, because it turns on the `test-kdf` feature of
//! core and trust, and cargo unifies features across the packages of one build, so `cargo
//! build --release -p casebridge-bench -p casebridge-cli` would build the cheap test KDF into
//! the release CLI the bench measures.
//!
//! Nothing here prints the database password or the S3 secret: they go to child processes
//! through their environment and URLs only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Where the running services are (what `scripts/services env` prints).
pub struct Services {
    /// The superuser's URL (`postgres://USER:PASSWORD@127.0.0.1:PORT/postgres`): never printed.
    pub database_url: String,
    /// `http://127.0.0.1:PORT`.
    pub s3_endpoint: String,
    pub s3_access_key: String,
    /// Never printed.
    pub s3_secret_key: String,
    /// The PostgreSQL postmaster and the SeaweedFS server, for their CPU time.
    pub pg_pid: Option<u32>,
    pub weed_pid: Option<u32>,
}

fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `scripts/services` in this checkout (the bench is run from the repository root), else next
/// to the sources it was built from.
fn services_script() -> PathBuf {
    let here = PathBuf::from("scripts/services");
    if here.is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services")
}

impl Services {
    /// The services named by the environment (`CASEBRIDGE_TEST_*`, as scripts/test exports),
    /// else those `bash scripts/services start` starts or finds running.
    pub fn get() -> Result<Services> {
        let mut vars: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("CASEBRIDGE_")).collect();
        if !vars.contains_key("CASEBRIDGE_TEST_DATABASE_URL") {
            let script = services_script();
            let out = Command::new("bash")
                .arg(&script)
                .arg("start")
                .stderr(Stdio::inherit())
                .output()
                .with_context(|| format!("running bash {} start", script.display()))?;
            if !out.status.success() {
                bail!("`bash {} start` failed: install what it needs with `bash scripts/setup`", script.display());
            }
            let env_file = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let text = std::fs::read_to_string(&env_file).with_context(|| format!("reading the services' env file {env_file}"))?;
            vars.extend(parse_env(&text));
        }
        let get = |k: &str| vars.get(k).cloned().with_context(|| format!("{k} is not set: run `bash scripts/services start`"));
        Ok(Services {
            database_url: get("CASEBRIDGE_TEST_DATABASE_URL")?,
            s3_endpoint: get("CASEBRIDGE_TEST_S3_ENDPOINT")?,
            s3_access_key: get("CASEBRIDGE_TEST_S3_ACCESS_KEY")?,
            s3_secret_key: get("CASEBRIDGE_TEST_S3_SECRET_KEY")?,
            pg_pid: vars.get("CASEBRIDGE_SERVICES_PG_PID").and_then(|p| p.parse().ok()),
            weed_pid: vars.get("CASEBRIDGE_SERVICES_WEED_PID").and_then(|p| p.parse().ok()),
        })
    }

    /// The standard `AWS_*` variables for the S3 server (what a cluster replica reads).
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.s3_endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), self.s3_access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.s3_secret_key.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }

    /// Runs `sql` as the superuser with psql on `database_url`.
    pub fn psql(&self, database_url: &str, sql: &str) -> Result<String> {
        let out = Command::new("psql")
            .args([database_url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql (Debian's postgresql-client)")?;
        if !out.status.success() {
            bail!("psql `{sql}` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A new empty database of the bench's own (`cbbench…`): its name and URL (the superuser's).
    pub fn fresh_database(&self) -> Result<(String, String)> {
        let name = unique("cbbench");
        self.psql(&self.database_url, &format!("CREATE DATABASE {name}"))?;
        let (base, _) = self.database_url.rsplit_once('/').context("the services' database URL has no database name")?;
        Ok((name.clone(), format!("{base}/{name}")))
    }

    /// Drops a database this bench made (only names from [`Services::fresh_database`]).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        if !name.starts_with("cbbench") {
            bail!("refusing to drop {name}: not a database this bench made");
        }
        self.psql(&self.database_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).map(drop)
    }

    /// A new bucket of the bench's own (`cbbench-…`), created on the S3 server with curl's
    /// `--aws-sigv4`.
    pub fn fresh_bucket(&self) -> Result<String> {
        let bucket = unique("cbbench-").replace('x', "-");
        let out = Command::new("curl")
            .args(["-sS", "-f", "-X", "PUT", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{}:{}", self.s3_access_key, self.s3_secret_key))
            .arg(format!("{}/{bucket}", self.s3_endpoint))
            .stdin(Stdio::null())
            .output()
            .context("running curl")?;
        if !out.status.success() {
            bail!("creating bucket {bucket} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(bucket)
    }
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}{}x{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 100_000)
}

/// HAProxy (Debian's `haproxy`) in TCP mode on 127.0.0.1 in front of replicas, round robin,
/// health-checked, as docs/DEPLOY.md configures it and the e2e suite runs it; killed on drop.
pub struct Haproxy {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    pub fn start(backends: &[SocketAddr]) -> Result<Haproxy> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?.local_addr()?.port();
        let dir = tempfile::tempdir().context("a directory for haproxy.cfg")?;
        let mut cfg = format!(
            "global\n  maxconn 4000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n\
             frontend casebridge\n  bind 127.0.0.1:{port}\n  default_backend replicas\nbackend replicas\n  balance roundrobin\n"
        );
        for (i, b) in backends.iter().enumerate() {
            cfg.push_str(&format!("  server r{i} {b} check inter 500ms fall 2 rise 1\n"));
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).context("writing haproxy.cfg")?;
        let haproxy = ["/usr/sbin/haproxy", "haproxy"].into_iter().find(|p| Path::new(p).exists()).unwrap_or("haproxy");
        let child = Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting haproxy (Debian's haproxy; bash scripts/setup installs it)")?;
        let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
        let pid = child.id();
        let mut proxy = Haproxy { child, pid, addr, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                // The health checks mark the servers up within one `inter`.
                std::thread::sleep(Duration::from_millis(1200));
                return Ok(proxy);
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                bail!("haproxy exited at start ({status})");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("haproxy did not listen on {addr} within 5 s")
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime (+ cutime + cstime with `children`) of a process from /proc/PID/stat.
pub fn proc_cpu(pid: u32, children: bool) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    let Some(close) = stat.rfind(')') else { return Duration::ZERO };
    let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(14) + field(15) + if children { field(16) + field(17) } else { 0 };
    Duration::from_millis(ticks * 10)
}

/// CPU time of the PostgreSQL backends serving `database` (children of the postmaster whose
/// process title names it): the cluster's own connections, not other test runs' on the
/// shared server. Backends that exited during the window are not counted (the replicas keep
/// their pooled connections open).
pub fn pg_cpu(postmaster: u32, database: &str) -> Duration {
    let mut total = Duration::ZERO;
    let Ok(entries) = std::fs::read_dir("/proc") else { return total };
    let needle = format!(" {database} ");
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid = stat.rfind(')').and_then(|c| stat[c + 1..].split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(postmaster) {
            continue;
        }
        let title =
            std::fs::read(format!("/proc/{pid}/cmdline")).map(|c| String::from_utf8_lossy(&c).replace('\0', " ")).unwrap_or_default();
        if format!("{title} ").contains(&needle) {
            total += proc_cpu(pid, false);
        }
    }
    total
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_env_file_parses_and_unique_names_are_valid_database_and_bucket_names() {
        let vars = parse_env("export A=1\nexport B=postgres://u:p@h:1/postgres\n# comment\nC=3\n");
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert_eq!(vars.get("B").map(String::as_str), Some("postgres://u:p@h:1/postgres"));
        assert!(!vars.contains_key("C"));
        let db = unique("cbbench");
        assert!(db.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{db}");
        let bucket = unique("cbbench-").replace('x', "-");
        assert!(bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{bucket}");
        assert_ne!(unique("a"), unique("a"));
    }

    #[test]
    fn proc_cpu_of_a_missing_process_is_zero() {
        assert_eq!(proc_cpu(u32::MAX, true), Duration::ZERO);
        assert!(proc_cpu(std::process::id(), false) < Duration::from_secs(3600));
    }
}
