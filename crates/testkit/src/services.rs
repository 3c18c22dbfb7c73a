//! The servers the cluster tests use, real and on 127.0.0.1: PostgreSQL and SeaweedFS (S3),
//! started by `scripts/services` (scripts/test starts them once for the whole run; a test run
//! on its own starts them here, and they stay up until `bash scripts/services stop`), and
//! HAProxy, started per test in front of the replicas it names.
//!
//! Each test takes its own database ([`fresh_database`]) and its own bucket ([`fresh_bucket`]),
//! so tests never see each other's state. A test that stops and starts the database or the
//! object store under a running endpoint takes servers of its own ([`OwnServices`]).

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

/// The SeaweedFS binary: this checkout's `.tools/seaweedfs` (made by `bash scripts/setup`),
/// else the main checkout's when this is a git worktree of it.
fn weed_binary() -> PathBuf {
    let local = repo_root().join(".tools/seaweedfs/bin/weed");
    if local.exists() {
        return local;
    }
    let common = Command::new("git").arg("-C").arg(repo_root()).args(["rev-parse", "--path-format=absolute", "--git-common-dir"]).output();
    if let Ok(out) = common {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(main) = dir.parent() {
            let weed = main.join(".tools/seaweedfs/bin/weed");
            if weed.exists() {
                return weed;
            }
        }
    }
    panic!("SeaweedFS is not installed in .tools/seaweedfs: run `bash scripts/setup`")
}

/// The newest PostgreSQL's binaries (Debian's `/usr/lib/postgresql/N/bin`).
fn pg_binaries() -> PathBuf {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (bash scripts/setup installs it)")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    bins.sort();
    bins.pop().expect("no initdb under /usr/lib/postgresql: bash scripts/setup installs PostgreSQL").1
}

/// `N` distinct free ports on 127.0.0.1: all are held open while they are chosen (ports
/// taken one after another may repeat once released: the S3 server's gRPC port once came out
/// equal to the master's, and it could not start).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// The unprivileged user PostgreSQL runs as when the tests run as root (initdb refuses root),
/// as in scripts/services.
const PG_OS_USER: &str = "casebridge-test";
const PG_PASSWORD: &str = "casebridge-test";
const S3_KEY: &str = "casebridge-test";
const S3_SECRET: &str = "casebridge-test-secret";
/// A bucket of [`OwnServices`]' own, written to when the object store restarts to know it
/// takes writes again.
const PROBE_BUCKET: &str = "cb-own-probe";

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// `program` run as the PostgreSQL user (through runuser when we are root).
fn as_pg(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", PG_OS_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run_ok(c: &mut Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// A PostgreSQL and a SeaweedFS of one test's own, on free ports of 127.0.0.1 with their data
/// in a temp dir, which the test may stop and start again (same ports, same data) while its
/// endpoint runs: the outage tests. The shared [`services`] are never stopped, since every
/// other test uses them at the same time. Both are stopped, and their data removed, on drop.
pub struct OwnServices {
    dir: tempfile::TempDir,
    pg_bin: PathBuf,
    pg_port: u16,
    weed: Option<Child>,
    /// `[master, volume, filer, s3]` HTTP ports, then their gRPC ports.
    weed_ports: [u16; 8],
}

impl OwnServices {
    /// Initialises and starts both (PostgreSQL as in `scripts/services`: initdb as an
    /// unprivileged user, a password on every TCP connection).
    pub fn start() -> OwnServices {
        let dir = tempfile::Builder::new().prefix("casebridge-own-services").tempdir().unwrap();
        // The PostgreSQL user must reach its data directory inside.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let pg = dir.path().join("pg");
        std::fs::create_dir(&pg).unwrap();
        let pwfile = dir.path().join("pgpass");
        std::fs::write(&pwfile, format!("{PG_PASSWORD}\n")).unwrap();
        if is_root() {
            let exists = Command::new("id").arg(PG_OS_USER).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
            if !exists {
                run_ok(
                    Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER]),
                    "useradd casebridge-test",
                );
            }
            run_ok(Command::new("chown").arg(PG_OS_USER).arg(&pg).arg(&pwfile), "chown the PostgreSQL data directory");
        }
        let pg_bin = pg_binaries();
        run_ok(
            as_pg(&pg_bin.join("initdb"))
                .arg("-D")
                .arg(&pg)
                .args(["-U", "casebridge", "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        std::fs::create_dir(dir.path().join("weed")).unwrap();
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"casebridge","credentials":[{{"accessKey":"{S3_KEY}","secretKey":"{S3_SECRET}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let [pg_port, mp, vp, fp, sp, gm, gv, gf, gs] = free_ports::<9>();
        let mut own = OwnServices { dir, pg_bin, pg_port, weed: None, weed_ports: [mp, vp, fp, sp, gm, gv, gf, gs] };
        own.start_postgres();
        own.start_objects();
        own
    }

    /// The superuser's URL of the server's `postgres` database.
    pub fn database_url(&self) -> String {
        format!("postgres://casebridge:{PG_PASSWORD}@127.0.0.1:{}/postgres", self.pg_port)
    }

    /// A new empty database on this server: its URL (the superuser's).
    pub fn fresh_database(&self) -> String {
        let name = unique("cb");
        psql(&self.database_url(), &format!("CREATE DATABASE {name}"));
        format!("postgres://casebridge:{PG_PASSWORD}@127.0.0.1:{}/{name}", self.pg_port)
    }

    /// `http://127.0.0.1:PORT`: the S3 endpoint.
    pub fn s3_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.weed_ports[3])
    }

    /// The standard `AWS_*` variables pointing at this S3 server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.s3_endpoint()),
            ("AWS_ACCESS_KEY_ID", S3_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// Creates `bucket` on this S3 server.
    pub fn create_bucket(&self, bucket: &str) {
        assert!(self.s3(&["-X", "PUT"], &format!("/{bucket}")), "creating bucket {bucket} on {}", self.s3_endpoint());
    }

    /// A signed request to this S3 server (curl's aws-sigv4); true on a 2xx answer.
    fn s3(&self, args: &[&str], path: &str) -> bool {
        Command::new("curl")
            .args(["-sS", "-f", "-o", "/dev/null", "--max-time", "10", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
            .arg(format!("{S3_KEY}:{S3_SECRET}"))
            .args(args)
            .arg(format!("{}{path}", self.s3_endpoint()))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn pg_data(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    /// Starts PostgreSQL (on its port and data directory) and waits until it takes
    /// connections.
    pub fn start_postgres(&self) {
        let pg = self.pg_data();
        run_ok(
            as_pg(&self.pg_bin.join("pg_ctl"))
                .arg("-D")
                .arg(&pg)
                .arg("-l")
                .arg(pg.join("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=100", self.pg_port, pg.display()))
                .arg("start")
                .stdout(Stdio::null()),
            "pg_ctl start",
        );
    }

    /// Stops PostgreSQL (`pg_ctl stop -m fast`: open connections are cut, as an operator's
    /// restart does) and waits until it is down.
    pub fn stop_postgres(&self) {
        run_ok(
            as_pg(&self.pg_bin.join("pg_ctl")).arg("-D").arg(self.pg_data()).args(["-m", "fast", "-w", "stop"]).stdout(Stdio::null()),
            "pg_ctl stop",
        );
    }

    /// Starts SeaweedFS (master, volume, filer and S3 in one process, on its ports and data
    /// directory, as in `scripts/services`) and waits until its S3 server takes writes (some
    /// 20 s after a restart).
    pub fn start_objects(&mut self) {
        assert!(self.weed.is_none(), "the object store is running already");
        let [mp, vp, fp, sp, gm, gv, gf, gs] = self.weed_ports;
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("weed.log")).unwrap();
        let child = Command::new(weed_binary())
            .env("WEED_MASTER_VOLUME_GROWTH_COPY_1", "1")
            .arg("server")
            .arg(format!("-dir={}", d.join("weed").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([format!("-master.port={mp}"), format!("-master.port.grpc={gm}"), format!("-volume.port={vp}")])
            .args([format!("-volume.port.grpc={gv}"), format!("-filer.port={fp}"), format!("-filer.port.grpc={gf}")])
            .args(["-s3".to_string(), format!("-s3.port={sp}"), format!("-s3.port.grpc={gs}")])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .args(["-master.telemetry=false", "-volume.max=100", "-master.volumeSizeLimitMB=64", "-iam=false", "-webdav=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting weed server");
        self.weed = Some(child);
        // Up when a write goes through (the S3 port answers before the volume server has
        // registered with the master).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while std::time::Instant::now() < deadline {
            // (The probe bucket is made on the first start; later a PUT of it answers 409.)
            let _ = self.s3(&["-X", "PUT"], &format!("/{PROBE_BUCKET}"));
            if self.s3(
                &["-X", "PUT", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--data-binary", "probe"],
                &format!("/{PROBE_BUCKET}/probe"),
            ) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(d.join("weed.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        panic!("SeaweedFS did not take writes within 90 s; the end of its log:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }

    /// Stops SeaweedFS the hard way (SIGKILL: its graceful stop takes half a minute; what it
    /// acknowledged is in its files already) and waits until it is gone.
    pub fn stop_objects(&mut self) {
        if let Some(mut child) = self.weed.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnServices {
    fn drop(&mut self) {
        self.stop_objects();
        let _ = as_pg(&self.pg_bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.pg_data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
