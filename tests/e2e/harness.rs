//! The shared test harness: a temp profile whose store is created in-process with cheap KDF
//! parameters (so every CLI unlock is cheap: the CLI reads the parameters from the header), a
//! runner for the real `casebridge` binary whose failures show the command, stdout and stderr,
//! and small tools (pseudo-random files, streaming hashes, tree snapshots, bit flips, a seeded
//! RNG).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use casebridge_core::Role;
pub use casebridge_testkit::files::copy_dir;
use casebridge_testkit::fixtures::{new_agency, new_store};
use serde_json::Value;
use tempfile::TempDir;

/// The agency passphrase of test agencies.
pub use casebridge_testkit::fixtures::AGENCY_PASS;
/// The passphrase of every test profile.
pub use casebridge_testkit::fixtures::PASS;
/// A passphrase that is long enough but wrong.
pub const WRONG_PASS: &str = "incorrect donkey battery staple";
/// The display name of test profiles.
pub const NAME: &str = "Test Investigator";
/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_casebridge");
/// How long any one command may run before the harness kills it and fails the test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(240);

// ----- running the binary -------------------------------------------------------------------

/// Orders forks against in-process store access. The store's lock (and sled's) is a `flock`,
/// which lives as long as *any* descriptor of the open file exists; a child forked by another
/// test thread holds a copy of every descriptor until it execs (which closes them, as they are
/// close-on-exec). So a store dropped in-process could still look locked to the next command
/// for a moment. Spawns take this shared; opening or closing a store in-process takes it
/// exclusively, so no fork is in flight while this process opens or closes one.
static FORK_GUARD: RwLock<()> = RwLock::new(());

/// Spawns a prepared command (see [`FORK_GUARD`]); `spawn` returns once the child has exec'd.
pub fn spawn(c: &mut Command) -> std::io::Result<Child> {
    let _shared = FORK_GUARD.read().unwrap_or_else(|e| e.into_inner());
    c.spawn()
}

/// Runs a helper program to completion (see [`FORK_GUARD`]).
pub fn output(c: &mut Command) -> std::process::Output {
    let child = spawn(c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()))
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", c.get_program()));
    child.wait_with_output().expect("wait for helper program")
}

/// Runs `f`, which opens or closes a store (or its sled index) in this process, while no
/// child is being forked.
pub fn in_process<T>(f: impl FnOnce() -> T) -> T {
    let _exclusive = FORK_GUARD.write().unwrap_or_else(|e| e.into_inner());
    f()
}

/// What one run of the binary produced.
#[derive(Clone, Debug)]
pub struct Output {
    /// The command line, for messages.
    pub cmd: String,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Stdout (lossy UTF-8).
    pub stdout: String,
    /// Stderr (lossy UTF-8).
    pub stderr: String,
    /// True when the harness killed it at the timeout.
    pub timed_out: bool,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.cmd)?;
        match (self.timed_out, self.code) {
            (true, _) => writeln!(f, "result:  TIMED OUT after {:?} (killed by the harness)", self.elapsed)?,
            (false, Some(c)) => writeln!(f, "result:  exit code {c} after {:?}", self.elapsed)?,
            (false, None) => writeln!(f, "result:  killed by a signal after {:?}", self.elapsed)?,
        }
        writeln!(f, "--- stdout ---\n{}", clip(&self.stdout))?;
        write!(f, "--- stderr ---\n{}", clip(&self.stderr))
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 6000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n... ({} more bytes)", &s[..cut], s.len() - cut)
}

impl Output {
    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(!self.timed_out && self.code == Some(0), "expected success\n{self}");
        self.no_panic()
    }

    /// Asserts a clean failure: exit code 1, something on stderr, no panic.
    #[track_caller]
    pub fn fails(&self) -> &Self {
        assert!(!self.timed_out && self.code == Some(1), "expected a clean failure (exit code 1)\n{self}");
        assert!(!self.stderr.trim().is_empty(), "a failure must say why on stderr\n{self}");
        self.no_panic()
    }

    /// Asserts a clean failure whose stderr contains `needle`.
    #[track_caller]
    pub fn fails_with(&self, needle: &str) -> &Self {
        self.fails();
        assert!(self.stderr.contains(needle), "stderr should contain {needle:?}\n{self}");
        self
    }

    /// Asserts that the process did not panic (and did not hang): exit code never 101, no
    /// panic message or backtrace hint on stderr. Any other outcome (success or a clean
    /// error) passes.
    #[track_caller]
    pub fn no_panic(&self) -> &Self {
        assert!(!self.timed_out, "the command hung\n{self}");
        assert_ne!(self.code, Some(101), "the command panicked (exit code 101)\n{self}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "the command printed a panic message\n{self}"
        );
        self
    }

    /// True when it exited 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }

    /// Parses stdout as exactly one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => panic!("stdout is not exactly one JSON document ({e})\n{self}"),
        }
    }
}

/// Runs a prepared command with stdin null and a timeout, capturing both streams.
pub fn run(mut c: Command, timeout: Duration) -> Output {
    let cmd = describe(&c);
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = spawn(&mut c).unwrap_or_else(|e| panic!("cannot start {cmd}: {e}"));
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    Output {
        cmd,
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        timed_out,
        elapsed,
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    })
}

/// A readable rendering of a command line (program name shortened, env changes shown).
pub fn describe(c: &Command) -> String {
    let mut s = String::new();
    for (k, v) in c.get_envs() {
        let k = k.to_string_lossy();
        if k.starts_with("CASEBRIDGE") {
            match v {
                Some(v) if k.contains("PASSPHRASE") => s.push_str(&format!("{k}=<{} chars> ", v.len())),
                Some(v) => s.push_str(&format!("{k}={} ", v.to_string_lossy())),
                None => s.push_str(&format!("(no {k}) ")),
            }
        }
    }
    s.push_str("casebridge");
    for a in c.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(' ') {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

// ----- profiles -------------------------------------------------------------------------------

/// A temp directory with a store at `store` (created in-process with cheap KDF parameters,
/// then closed) and room for scratch files next to it.
pub struct Profile {
    tmp: TempDir,
    /// The store directory.
    pub store: PathBuf,
    /// The passphrase the runner passes in `CASEBRIDGE_PASSPHRASE`.
    pub pass: String,
}

impl Profile {
    /// A profile with a fresh store.
    pub fn new() -> Profile {
        Profile::with_role(NAME, Role::Investigator)
    }

    /// A profile whose store was created (in-process, then closed) for `name` with `role`.
    pub fn with_role(name: &str, role: Role) -> Profile {
        let p = Profile::empty();
        in_process(|| drop(new_store(&p.store, name, role)));
        p
    }

    /// A temp dir with no store yet (`store` does not exist).
    pub fn empty() -> Profile {
        let tmp = tempfile::Builder::new().prefix("cb-e2e-").tempdir().expect("temp dir");
        fs::create_dir(tmp.path().join("work")).expect("work dir");
        let store = tmp.path().join("profile");
        Profile { tmp, store, pass: PASS.to_string() }
    }

    /// The temp root (holds `profile/` and `work/`).
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A path for a scratch file, outside the store.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join("work").join(name)
    }

    /// The command, configured: store and passphrase in the environment, no new passphrase.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("CASEBRIDGE_STORE", &self.store)
            .env("CASEBRIDGE_PASSPHRASE", &self.pass)
            .env_remove("CASEBRIDGE_NEW_PASSPHRASE")
            .env_remove("CASEBRIDGE_PASSPHRASE_FILE")
            .env("NO_COLOR", "1")
            .current_dir(self.tmp.path().join("work"));
        c
    }

    /// Runs the binary with `args`.
    pub fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run(self.command(args), DEFAULT_TIMEOUT)
    }

    /// Runs the binary with `args` after `edit` adjusted the command (environment etc.).
    pub fn cmd_with<S: AsRef<OsStr>>(&self, args: &[S], edit: impl FnOnce(&mut Command)) -> Output {
        let mut c = self.command(args);
        edit(&mut c);
        run(c, DEFAULT_TIMEOUT)
    }

    /// Runs with `args`, asserts success and parses stdout as JSON.
    #[track_caller]
    pub fn json<S: AsRef<OsStr>>(&self, args: &[S]) -> Value {
        self.cmd(args).ok().json()
    }

    /// Creates a case through the CLI and returns its id.
    #[track_caller]
    pub fn new_case(&self, title: &str) -> String {
        let out = self.cmd(&["case", "new", "--title", title]);
        out.ok();
        let id = out.stdout.trim().to_string();
        assert!(is_uuid(&id), "`case new` should print the new case id alone\n{out}");
        id
    }

    /// Adds one file as evidence; returns (id, sha256).
    #[track_caller]
    pub fn add_evidence(&self, case: &str, file: &Path) -> (String, String) {
        let v = self.json(&["evidence", "add", case, s(file), "--json"]);
        let item = &v.as_array().expect("evidence add --json prints an array")[0];
        (str_field(item, "id"), str_field(item, "sha256"))
    }

    /// Writes `bytes` to a scratch file.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, bytes).expect("write scratch file");
        p
    }

    /// Writes `size` pseudo-random bytes (derived from `seed`) to a scratch file.
    pub fn random_file(&self, name: &str, size: u64, seed: u64) -> PathBuf {
        let p = self.path(name);
        write_random_file(&p, size, seed);
        p
    }

    /// `check --read-data --json`, asserting it succeeds with ok = true.
    #[track_caller]
    pub fn check_ok(&self) -> Value {
        let out = self.cmd(&["check", "--read-data", "--json"]);
        out.ok();
        let v = out.json();
        assert_eq!(v["ok"], Value::Bool(true), "check should report ok\n{out}");
        assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "check should report no problems\n{out}");
        v
    }
}

/// A populated store: cases with notes, edits, evidence and an export.
pub struct Populated {
    /// Case ids, oldest first.
    pub cases: Vec<String>,
    /// (evidence id, sha256, case id).
    pub evidence: Vec<(String, String, String)>,
}

/// Fills a profile: two cases, notes, an edit, three evidence items (one of 2.5 MiB so that
/// objects have several chunks) and one export (a custody entry).
pub fn populate(p: &Profile) -> Populated {
    let a = p.new_case("Bike thefts, Mitte");
    let b = p.cmd(&["case", "new", "--title", "Graffiti at the station", "--summary", "Repeated tags", "--reference", "BER-2026-000123"]);
    b.ok();
    let b = b.stdout.trim().to_string();
    p.cmd(&["note", "add", &a, "Witness saw a white van"]).ok();
    p.cmd(&["note", "add", &a, "Second witness: two people"]).ok();
    p.cmd(&["note", "add", &b, "Tags match the 2025 series"]).ok();
    p.cmd(&["case", "edit", &a, "--status", "active", "--summary", "Three bikes in two weeks"]).ok();
    let f1 = p.write_file("statement.txt", b"I saw a white van at 21:40.\n");
    let f2 = p.random_file("camera.bin", 2 * 1024 * 1024 + 512 * 1024, 7);
    let f3 = p.random_file("photo.bin", 300 * 1024, 8);
    let mut evidence = Vec::new();
    for (case, f) in [(&a, &f1), (&a, &f2), (&b, &f3)] {
        let (id, sha) = p.add_evidence(case, f);
        evidence.push((id, sha, case.clone()));
    }
    let out = p.path("export-statement.txt");
    p.cmd(&["evidence", "export", &evidence[0].0, "--out", s(&out)]).ok();
    fs::remove_file(&out).expect("remove export");
    Populated { cases: vec![a, b], evidence }
}

/// Creates an agency directory named `name` in-process (cheap KDF, [`AGENCY_PASS`]), then
/// closes it.
pub fn agency_at(dir: &Path, name: &str) {
    in_process(|| drop(new_agency(dir, name)));
}

// ----- files ----------------------------------------------------------------------------------

/// A path as &str (temp paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// True for a hyphenated UUID.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

/// A string field of a JSON object.
#[track_caller]
pub fn str_field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("field {key:?} should be a string in {v}")).to_string()
}

/// Streams `size` bytes of an AES-CTR keystream (keyed by `seed`) into `path`: fast, not
/// compressible, different for every seed, and never held in memory whole.
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(b"e2e-data");
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).expect("key"));
    let mut f = std::io::BufWriter::new(File::create(path).expect("create data file"));
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    let mut block: u64 = 0;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        buf[..n].fill(0);
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&block.to_le_bytes());
        let _tag = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf[..n]).expect("keystream");
        f.write_all(&buf[..n]).expect("write data file");
        left -= n as u64;
        block += 1;
    }
    f.flush().expect("flush data file");
}

/// SHA-256 (lowercase hex) and size of a file, streamed.
pub fn file_sha256(path: &Path) -> (String, u64) {
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    (hex::encode(ctx.finish().as_ref()), size)
}

/// The hash `/usr/bin/sha256sum` reports for a file.
pub fn sha256sum(path: &Path) -> String {
    let out = output(Command::new("/usr/bin/sha256sum").arg(path));
    assert!(out.status.success(), "sha256sum failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("sha256sum output");
    let hash = text.split_whitespace().next().expect("a hash").to_string();
    assert_eq!(hash.len(), 64, "sha256sum printed {text:?}");
    hash
}

/// Every regular file under `dir`, sorted.
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read_dir {}: {e}", d.display())) {
            let entry = entry.expect("dir entry");
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// One file's state in a [`snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Bytes.
    pub size: u64,
    /// SHA-256 hex of the content.
    pub sha256: String,
    /// Modification time.
    pub mtime: SystemTime,
}

/// Path (relative to `dir`, directories marked with a trailing `/`) → state, for every file
/// and directory under `dir`.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Option<FileState>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let rel = path.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
            if entry.file_type().expect("file type").is_dir() {
                out.insert(format!("{rel}/"), None);
                stack.push(path);
            } else {
                let meta = entry.metadata().expect("metadata");
                let (sha256, size) = file_sha256(&path);
                out.insert(rel, Some(FileState { size, sha256, mtime: meta.modified().expect("mtime") }));
            }
        }
    }
    out
}

/// Asserts two snapshots are equal, naming the first difference.
#[track_caller]
pub fn assert_same_tree(before: &BTreeMap<String, Option<FileState>>, after: &BTreeMap<String, Option<FileState>>, what: &str) {
    for (k, v) in before {
        match after.get(k) {
            None => panic!("{what}: {k} disappeared"),
            Some(a) if a != v => panic!("{what}: {k} changed\nbefore: {v:?}\nafter:  {a:?}"),
            Some(_) => {}
        }
    }
    for k in after.keys() {
        assert!(before.contains_key(k), "{what}: {k} appeared");
    }
}

/// Flips bit `bit` (counted from the start of the file) in place.
pub fn flip_bit(path: &Path, bit: u64) {
    let mut f = OpenOptions::new().read(true).write(true).open(path).expect("open for flip");
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(bit / 8)).expect("seek");
    f.read_exact(&mut b).expect("read byte");
    b[0] ^= 1 << (bit % 8);
    f.seek(SeekFrom::Start(bit / 8)).expect("seek");
    f.write_all(&b).expect("write byte");
    f.sync_all().expect("sync");
}

/// The object files of a store, sorted.
pub fn object_files(store: &Path) -> Vec<PathBuf> {
    walk_files(&store.join("objects"))
}

// ----- randomness -----------------------------------------------------------------------------

/// xorshift64*: tiny, seeded, good enough to pick delays, operations and bits.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator; a zero seed is mapped to a fixed non-zero state.
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A random lowercase alphanumeric string.
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char).collect()
    }
}

/// The seed of a seeded test: `CASEBRIDGE_TEST_SEED` when set, else from the clock.
pub fn seed() -> u64 {
    if let Ok(s) = std::env::var("CASEBRIDGE_TEST_SEED") {
        return s.trim().parse().expect("CASEBRIDGE_TEST_SEED must be a u64");
    }
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock").as_nanos();
    (t as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// Prints the seed if the test panics while this is alive.
pub struct SeedGuard {
    /// The test's name.
    pub test: &'static str,
    /// The seed.
    pub seed: u64,
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("\n*** {} failed with seed {}: replay with CASEBRIDGE_TEST_SEED={} ***\n", self.test, self.seed, self.seed);
        }
    }
}
