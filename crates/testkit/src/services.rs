//! The servers the cluster tests use, real and on 127.0.0.1: PostgreSQL and SeaweedFS (S3),
//! started by `scripts/services` (scripts/test starts them once for the whole run; a test run
//! on its own starts them here, and they stay up until `bash scripts/services stop`), and
//! HAProxy, started per test in front of the replicas it names.
//!
//! Each test takes its own database ([`fresh_database`]) and its own bucket ([`fresh_bucket`]),
//! so tests never see each other's state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Where the running services are: what `scripts/services env` prints.
#[derive(Clone, Debug)]
pub struct Services {
    /// `postgres://casebridge:PASSWORD@127.0.0.1:PORT/postgres`: the superuser's URL.
    pub database_url: String,
    /// `http://127.0.0.1:PORT`: the S3 endpoint.
    pub s3_endpoint: String,
    /// The S3 access key.
    pub s3_access_key: String,
    /// The S3 secret key.
    pub s3_secret_key: String,
    /// The PostgreSQL data directory, binaries and the S3 server's process id (for the tests
    /// that restart or stop them).
    pub pg_data: PathBuf,
    /// The PostgreSQL binaries (pg_ctl).
    pub pg_bin: PathBuf,
    /// The process id of the SeaweedFS server.
    pub weed_pid: u32,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The running services, started by `scripts/services start` when the environment does not
/// name them (once per test process).
pub fn services() -> &'static Services {
    static S: OnceLock<Services> = OnceLock::new();
    S.get_or_init(|| {
        let mut vars: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("CASEBRIDGE_")).collect();
        if !vars.contains_key("CASEBRIDGE_TEST_DATABASE_URL") {
            let out = Command::new("bash")
                .arg(repo_root().join("scripts/services"))
                .arg("start")
                .stderr(Stdio::inherit())
                .output()
                .expect("running scripts/services start");
            assert!(out.status.success(), "scripts/services start failed: install what it needs with `bash scripts/setup`");
            let env_file = String::from_utf8(out.stdout).unwrap();
            let text = std::fs::read_to_string(env_file.trim()).expect("reading the services' env file");
            vars.extend(parse_env(&text));
        }
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("{k} is not set: run `bash scripts/services start`"));
        Services {
            database_url: get("CASEBRIDGE_TEST_DATABASE_URL"),
            s3_endpoint: get("CASEBRIDGE_TEST_S3_ENDPOINT"),
            s3_access_key: get("CASEBRIDGE_TEST_S3_ACCESS_KEY"),
            s3_secret_key: get("CASEBRIDGE_TEST_S3_SECRET_KEY"),
            pg_data: PathBuf::from(get("CASEBRIDGE_SERVICES_PG_DATA")),
            pg_bin: PathBuf::from(get("CASEBRIDGE_SERVICES_PG_BIN")),
            weed_pid: get("CASEBRIDGE_SERVICES_WEED_PID").parse().unwrap(),
        }
    })
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}{}x{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed), nanos % 100_000)
}

/// Runs `sql` as the superuser with psql (the tests' own setup, never the code under test).
pub fn psql(database_url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([database_url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("running psql (Debian's postgresql-client)");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A new empty database for one test: its URL (the superuser's).
pub fn fresh_database() -> String {
    let s = services();
    let name = unique("cb");
    psql(&s.database_url, &format!("CREATE DATABASE {name}"));
    let (base, _) = s.database_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A new empty bucket name for one test (S3 names: lower case, digits and dashes); the
/// code under test creates nothing, so tests that need the bucket to exist call
/// [`create_bucket`].
pub fn fresh_bucket() -> String {
    unique("cb-").replace('x', "-")
}

/// Creates `bucket` on the S3 server (with curl and the server's admin identity: SeaweedFS
/// creates a bucket on a signed PUT; the tests use `aws-sigv4` from curl).
pub fn create_bucket(bucket: &str) {
    let s = services();
    let out = Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-X",
            "PUT",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &format!("{}:{}", s.s3_access_key, s.s3_secret_key),
            &format!("{}/{bucket}", s.s3_endpoint),
        ])
        .output()
        .expect("running curl");
    assert!(out.status.success(), "creating bucket {bucket}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The environment a cluster agency's process takes for the object store: the standard
/// `AWS_*` variables, pointing at the test S3 server.
pub fn aws_env() -> Vec<(&'static str, String)> {
    let s = services();
    vec![
        ("AWS_ENDPOINT_URL", s.s3_endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", s.s3_access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s.s3_secret_key.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}

/// HAProxy in TCP mode on 127.0.0.1:`port` (0: a free one) in front of `backends`
/// (`127.0.0.1:PORT` each), round robin, health-checked; stopped when dropped.
pub struct Haproxy {
    child: Child,
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Starts HAProxy (Debian's `haproxy`) in front of `backends`.
    pub fn start(backends: &[std::net::SocketAddr]) -> Haproxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = format!(
            "global\n  maxconn 2000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n\
             frontend casebridge\n  bind 127.0.0.1:{port}\n  default_backend replicas\nbackend replicas\n  balance roundrobin\n"
        );
        for (i, b) in backends.iter().enumerate() {
            cfg.push_str(&format!("  server r{i} {b} check inter 500ms fall 2 rise 1\n"));
        }
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let haproxy = ["/usr/sbin/haproxy", "haproxy"].into_iter().find(|p| Path::new(p).exists()).unwrap_or("haproxy");
        let child = Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting haproxy (Debian's haproxy; bash scripts/setup installs it)");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Haproxy { child, addr, _dir: dir }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys in `bucket` under `prefix` ("" for all), listed with curl and the server's admin
/// identity.
pub fn bucket_keys(bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // Parameters sorted and encoded as SigV4's canonical query wants them (curl signs the
        // query as written; SeaweedFS refuses a signature over anything else).
        let enc = |v: &str| v.replace('%', "%25").replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        let mut query = String::from("?");
        if let Some(t) = &token {
            query.push_str(&format!("continuation-token={}&", enc(t)));
        }
        query.push_str(&format!("list-type=2&prefix={}", enc(prefix)));
        let listing = String::from_utf8(s3_get(bucket, &query)).expect("a UTF-8 listing");
        keys.extend(xml_values(&listing, "Key"));
        token = xml_values(&listing, "NextContinuationToken").into_iter().next();
        if token.is_none() {
            return keys;
        }
    }
}

/// Every object in `bucket` under `prefix` ("" for all) with its bytes: what an operator
/// with the bucket's keys sees.
pub fn bucket_objects(bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    bucket_keys(bucket, prefix).into_iter().map(|k| (k.clone(), s3_get(bucket, &format!("/{k}")))).collect()
}

/// Writes `bytes` as `key` in `bucket` (a test's tampering, as an operator with the bucket's
/// keys could).
pub fn s3_put(bucket: &str, key: &str, bytes: &[u8]) {
    let s = services();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", &format!("{}:{}", s.s3_access_key, s.s3_secret_key)])
        .arg("-T")
        .arg(file.path())
        .arg(format!("{}/{bucket}/{key}", s.s3_endpoint))
        .output()
        .expect("running curl");
    assert!(out.status.success(), "writing {bucket}/{key}: {}", String::from_utf8_lossy(&out.stderr));
}

fn s3_get(bucket: &str, path: &str) -> Vec<u8> {
    let s = services();
    let out = Command::new("curl")
        .args(["-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", &format!("{}:{}", s.s3_access_key, s.s3_secret_key)])
        .arg(format!("{}/{bucket}{path}", s.s3_endpoint))
        .output()
        .expect("running curl");
    assert!(out.status.success(), "reading {bucket}{path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The text of every `<tag>...</tag>` in `xml` (an S3 listing's keys need no more than this).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close)).map(|(v, _)| v.to_string()).collect()
}

/// The database at `database_url` as `pg_dump --data-only --inserts` prints it: what an
/// operator with the database sees.
pub fn database_dump(database_url: &str) -> String {
    let out = Command::new("pg_dump").args(["--data-only", "--inserts", database_url]).output().expect("running pg_dump");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
