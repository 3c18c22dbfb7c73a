//! The machine and its file systems: what a figure needs next to it to be read at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::statfs::{self, FsType};

/// The facts about the machine printed with every report.
pub struct Machine {
    pub cpu: String,
    pub nproc: usize,
    pub kernel: String,
    pub mem_total_gib: f64,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let nproc = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
        let mem_total_gib = meminfo_kib("MemTotal").unwrap_or(0) as f64 / (1024.0 * 1024.0);
        Machine { cpu, nproc, kernel, mem_total_gib }
    }

    pub fn describe(&self) -> String {
        let aes = cpu_flag("aes");
        let sha = cpu_flag("sha_ni");
        format!(
            "{}, nproc {}, {:.1} GiB RAM, Linux {}, CPU flags aes={} sha_ni={}",
            self.cpu,
            self.nproc,
            self.mem_total_gib,
            self.kernel,
            yes_no(aes),
            yes_no(sha)
        )
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn cpu_flag(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| l.split_whitespace().any(|f| f == flag))
}

/// A field of /proc/meminfo in KiB.
pub fn meminfo_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The kind of file system a directory lives on.
pub struct FsKind {
    pub name: &'static str,
    pub tmpfs: bool,
}

pub fn fs_kind(path: &Path) -> Result<FsKind> {
    let st = statfs::statfs(path).with_context(|| format!("statfs {}", path.display()))?;
    let t = st.filesystem_type();
    let known: [(FsType, &'static str); 5] = [
        (statfs::TMPFS_MAGIC, "tmpfs"),
        (statfs::EXT4_SUPER_MAGIC, "ext4"),
        (statfs::XFS_SUPER_MAGIC, "xfs"),
        (statfs::BTRFS_SUPER_MAGIC, "btrfs"),
        (statfs::OVERLAYFS_SUPER_MAGIC, "overlayfs"),
    ];
    let name = known.iter().find(|(m, _)| *m == t).map(|(_, n)| *n).unwrap_or("other");
    Ok(FsKind { name, tmpfs: t == statfs::TMPFS_MAGIC })
}

/// Bytes free for an unprivileged writer in the file system holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).with_context(|| format!("statvfs {}", path.display()))?;
    Ok(st.blocks_available() * st.fragment_size())
}

/// Picks a directory on the real disk: `wanted` if given (refused when it is tmpfs), else
/// the first of $TMPDIR (or /tmp), /var/tmp and the current directory that is not tmpfs.
pub fn disk_dir(wanted: Option<&Path>) -> Result<(PathBuf, FsKind)> {
    if let Some(w) = wanted {
        let k = fs_kind(w)?;
        if k.tmpfs {
            bail!("{} is on tmpfs; the disk measurement needs a directory on a real disk", w.display());
        }
        return Ok((w.to_path_buf(), k));
    }
    let candidates = [std::env::temp_dir(), PathBuf::from("/var/tmp"), std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))];
    for c in candidates {
        if let Ok(k) = fs_kind(&c) {
            if !k.tmpfs {
                return Ok((c, k));
            }
        }
    }
    bail!("no directory on a real disk found; pass --disk-dir")
}

/// Is `program` on the PATH?
pub fn have(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Wall and CPU (user + system) time of one measured operation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub wall: Duration,
    /// User + system.
    pub cpu: Duration,
    /// System (kernel) time alone: page faults, file writes.
    pub sys: Duration,
}

/// (user + system, system) CPU time of `who`.
fn usage_of(who: UsageWho) -> (Duration, Duration) {
    match getrusage(who) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec().max(0) as u64, (t.tv_usec().max(0) as u32) * 1000);
            (tv(u.user_time()) + tv(u.system_time()), tv(u.system_time()))
        }
        Err(_) => (Duration::ZERO, Duration::ZERO),
    }
}

fn cpu_of(who: UsageWho) -> Duration {
    usage_of(who).0
}

/// CPU time used so far by this process (all threads).
pub fn cpu_self() -> Duration {
    cpu_of(UsageWho::RUSAGE_SELF)
}

/// Times `f` in this process: wall and CPU.
pub fn measure<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Sample)> {
    let (c, k) = usage_of(UsageWho::RUSAGE_SELF);
    let t = Instant::now();
    let v = f()?;
    let wall = t.elapsed();
    let (c2, k2) = usage_of(UsageWho::RUSAGE_SELF);
    Ok((v, Sample { wall, cpu: c2.saturating_sub(c), sys: k2.saturating_sub(k) }))
}

/// Watches how busy the other processes on the machine keep its CPUs during a measurement:
/// all CPU time in /proc/stat minus what this process and its waited-for children used.
pub struct CpuWatch {
    busy: Duration,
    ours: Duration,
    t: Instant,
}

impl CpuWatch {
    pub fn start() -> CpuWatch {
        CpuWatch { busy: machine_busy(), ours: cpu_self() + cpu_of(UsageWho::RUSAGE_CHILDREN), t: Instant::now() }
    }

    /// "others kept 0.12 of 2 CPUs busy (6 %)".
    pub fn others(&self) -> String {
        let wall = self.t.elapsed().as_secs_f64().max(1e-9);
        let busy = machine_busy().saturating_sub(self.busy).as_secs_f64();
        let ours = (cpu_self() + cpu_of(UsageWho::RUSAGE_CHILDREN)).saturating_sub(self.ours).as_secs_f64();
        let others = ((busy - ours) / wall).max(0.0);
        let n = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        format!(
            "other processes kept {others:.2} of {n} CPUs busy on average over these {wall:.0} s ({:.0} % of the machine)",
            others / n as f64 * 100.0
        )
    }
}

/// How long [`settle`] may wait for the machine to go quiet (0: it does not wait).
static SETTLE_MAX: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

pub fn set_settle(max: Duration) {
    let _ = SETTLE_MAX.set(max);
}

/// On a shared machine, waits (up to `--wait-idle` seconds) until other processes use less
/// than 10 % of the CPUs over a 2-second window, so that a run does not start in the middle
/// of someone else's build. Never fails: after the wait it measures anyway.
pub fn settle() {
    let max = SETTLE_MAX.get().copied().unwrap_or_default();
    if max.is_zero() {
        return;
    }
    let n = std::thread::available_parallelism().map(usize::from).unwrap_or(1) as f64;
    let start = Instant::now();
    let mut said = false;
    loop {
        let b = machine_busy();
        std::thread::sleep(Duration::from_secs(2));
        let busy = machine_busy().saturating_sub(b).as_secs_f64() / 2.0 / n;
        if busy < 0.10 {
            return;
        }
        if start.elapsed() >= max {
            eprintln!("the machine is still {:.0} % busy after waiting {} s; measuring anyway", busy * 100.0, max.as_secs());
            return;
        }
        if !said {
            eprintln!("waiting for the machine to go quiet ({:.0} % busy)", busy * 100.0);
            said = true;
        }
    }
}

/// CPU time all CPUs spent not idle since boot (/proc/stat, USER_HZ = 100).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return Duration::ZERO };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = v.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, x)| x).sum();
    Duration::from_millis(busy * 10)
}

/// Runs a peer command with its output discarded and returns its wall and CPU time. Fails
/// when the command fails.
pub fn time_command(program: &str, args: &[&std::ffi::OsStr]) -> Result<Sample> {
    let (c, k) = usage_of(UsageWho::RUSAGE_CHILDREN);
    let t = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("running {program}"))?;
    let wall = t.elapsed();
    if !status.success() {
        bail!("{program} failed: {status}");
    }
    let (c2, k2) = usage_of(UsageWho::RUSAGE_CHILDREN);
    Ok(Sample { wall, cpu: c2.saturating_sub(c), sys: k2.saturating_sub(k) })
}

/// Parses `1GiB`, `512MiB`, `64KiB`, `100MB`, `4096`.
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().with_context(|| format!("size '{s}': expected a number followed by B, KiB, MiB, GiB, KB, MB or GB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => bail!("size '{s}': unknown unit '{other}' (use B, KiB, MiB, GiB, KB, MB or GB)"),
    };
    n.checked_mul(mult).with_context(|| format!("size '{s}' is too large"))
}

/// `1.00 GiB`, `64.0 MiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Runs `f(0)`, ..., `f(n - 1)` on one thread per CPU (each takes the next index as it
/// frees up) and returns the results in index order; the first error (or a panic) fails the
/// whole. What the benches use to prepare and seal many volunteers' stores before a clock
/// starts.
pub fn par_map<T: Send>(n: usize, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let ready: std::sync::Mutex<Vec<Option<T>>> = std::sync::Mutex::new((0..n).map(|_| None).collect());
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            return Ok(());
                        }
                        let out = f(i)?;
                        ready.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(out);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a worker thread panicked"))??;
        }
        Ok(())
    })?;
    let done: Vec<T> = ready.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten().collect();
    if done.len() != n {
        bail!("{} of {n} done", done.len());
    }
    Ok(done)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("1TiB").is_err());
        assert!(parse_size("GiB").is_err());
    }
}
