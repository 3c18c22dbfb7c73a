//! Full-text search (issue 17) on a store of 10,000 cases with 10 notes each (100,000
//! notes): the in-memory index's build time at unlock and its memory, the query time (p50,
//! p99 over a set of queries), the case list's search through the engine, and the refresh
//! after one new note; the old substring search (`list_cases` with a search text, which
//! decrypts every case per call) measured in the same run as the peer.
//!
//! The store takes a while to build, so it is kept in `--dir` and reused (`--rebuild` builds
//! it again); `--quick` uses 500 cases in a temp dir instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casebridge_core::{CaseFilter, KdfParams, NewCase, Role, Store};
use casebridge_search::SearchIndex;

use crate::report::{millis, Section};
use crate::workload::{passphrase, Rng};

pub const DEFAULT_DIR: &str = "/dev/shm/casebridge-bench-search";
const MARK: &str = "casebridge-bench-cache";
const COMPLETE: &str = "complete";

#[derive(clap::Args)]
pub struct Args {
    /// Where the store is built and kept (tmpfs, so that the setup's fsyncs are cheap).
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Cases in the store.
    #[arg(long, default_value_t = 10_000)]
    pub cases: usize,
    /// Notes per case.
    #[arg(long, default_value_t = 10)]
    pub notes: usize,
    /// Times each query is run (p50 and p99 are over all queries' runs).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// A small run (500 cases, 5 runs, in a temp dir): checks the benchmark works.
    #[arg(long)]
    pub quick: bool,
    /// Build the store again even when a complete one is kept.
    #[arg(long)]
    pub rebuild: bool,
}

/// Words of the generated text: pseudo-words, drawn with a skew so that some are common
/// and most are rare (like language), plus a few real ones.
struct Vocabulary(Vec<String>);

impl Vocabulary {
    fn new() -> Vocabulary {
        const SYL: [&str; 24] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ber", "dan", "fel", "gor", "han", "jus", "kir", "lam", "mor", "nis", "pol",
            "quin", "rast", "sel", "tor", "wen",
        ];
        let mut words = vec!["witness".to_string(), "van".into(), "bicycle".into(), "station".into(), "window".into()];
        'outer: for a in SYL {
            for b in SYL {
                for c in SYL {
                    words.push(format!("{a}{b}{c}"));
                    if words.len() >= 8000 {
                        break 'outer;
                    }
                }
            }
        }
        Vocabulary(words)
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let n = self.0.len() as u64;
        // The product of two uniform draws: small indexes are much more likely.
        let i = (rng.next_u64() % n) * (rng.next_u64() % n) / n;
        &self.0[i as usize]
    }

    fn sentence(&self, rng: &mut Rng, words: usize) -> String {
        (0..words).map(|_| self.word(rng)).collect::<Vec<_>>().join(" ")
    }
}

pub fn run(a: &Args) -> Result<Section> {
    let (cases, runs) = if a.quick { (500, 5) } else { (a.cases, a.runs.max(1)) };
    let temp;
    let dir = if a.quick {
        temp = tempfile::tempdir().context("creating a temp dir")?;
        temp.path().to_path_buf()
    } else {
        prepare_dir(&a.dir)?;
        a.dir.clone()
    };
    let store_dir = dir.join("store");
    let setup = ensure_store(&dir, &store_dir, cases, a.notes, a.rebuild || a.quick)?;

    let store = Store::open(&store_dir, &passphrase()).context("opening the store")?;
    // Warm the store's own caches, so the build is not charged for them.
    let held = store.list_cases(&CaseFilter::default())?.len();
    if held != cases {
        bail!("the store holds {held} cases; it was built with {cases}");
    }
    eprintln!("search: building the index");
    let rss_before = rss_kib();
    let t = Instant::now();
    let mut index = SearchIndex::build(&store)?;
    let build = t.elapsed();
    let rss_after = rss_kib();
    let docs = index.docs();

    let vocab = Vocabulary::new();
    let v = &vocab.0;
    let queries: Vec<String> = vec![
        "witness".into(),
        v[5].clone(),
        v[60].clone(),
        v[700].clone(),
        v[5000].clone(),
        format!("{} {}", v[5], v[40]),
        format!("{} {} {}", v[10], v[300], v[2000]),
        v[6][..3].to_string(),
        "bic".into(),
        "BENCH-00042".into(),
        "Benchmark case 00077".into(),
        "nothingmatchesthis".into(),
    ];
    eprintln!("search: timing {} queries x {runs} (engine, then the substring peer)", queries.len());
    let mut engine = Vec::new();
    let mut engine_cases = Vec::new();
    let mut substring = Vec::new();
    let mut found = Vec::new();
    for q in &queries {
        for r in 0..runs {
            let t = Instant::now();
            let hits = index.search(q, 50)?;
            engine.push(t.elapsed());
            let t = Instant::now();
            let matched = index.search_cases(q)?;
            engine_cases.push(t.elapsed());
            if r == 0 {
                found.push(format!("`{q}`: {} hits (top 50), {} cases", hits.len(), matched.len()));
            }
        }
        for _ in 0..runs.min(5) {
            let t = Instant::now();
            store.list_cases(&CaseFilter { status: None, search: Some(q.clone()) })?;
            substring.push(t.elapsed());
        }
    }
    drop(store);

    // One new note, then the refresh that indexes it (what a search after recording does).
    let mut store = Store::open(&store_dir, &passphrase())?;
    let case = store.list_cases(&CaseFilter::default())?.first().map(|c| c.id).context("no case")?;
    index.refresh(&store)?;
    // A kept store holds the notes of earlier runs: one more than before is the new one.
    let kestrels = index.search("kestrel", 1000)?.len();
    store.add_note(case, "a freshly recorded note about a kestrel")?;
    let t = Instant::now();
    let refreshed = index.refresh(&store)?;
    let refresh = t.elapsed();
    if index.search("kestrel", 1000)?.len() != kestrels + 1 {
        bail!("the refreshed index does not find the new note");
    }
    drop(index);
    let rss_dropped = rss_kib();

    let mut s = Section::new(
        format!("Full-text search: {cases} cases, {} notes ({docs} indexed items)", cases * a.notes),
        vec!["what", "figure", "peer (same run)"],
    );
    s.context.push(format!(
        "Store on {} ({}); {} notes of 8–40 generated words each over an 8,000-word vocabulary (skewed: few common words, many rare), plus each case's title, summary, reference and a tag.",
        crate::sys::fs_kind(&dir).map(|k| k.name).unwrap_or("?"),
        store_dir.display(),
        cases * a.notes
    ));
    s.context.push(format!(
        "Store setup: {}.",
        if setup.1 { format!("reused (took {:.0} s)", setup.0) } else { format!("built in this run, {:.0} s", setup.0) }
    ));
    s.context.push(format!("Queries, each run {runs} times: {}.", found.join("; ")));
    s.row(vec!["Index build at unlock (`SearchIndex::build`, in memory)".into(), format!("{} ({docs} items)", millis(build)), "–".into()]);
    s.row(vec![
        "Process RSS growth during the build (VmRSS after − before)".into(),
        format!("{} MiB", (rss_after.saturating_sub(rss_before)) / 1024),
        format!("{} MiB after the index is dropped (from {} MiB)", rss_dropped / 1024, rss_after / 1024),
    ]);
    s.row(vec![
        "Query: top 50 items with snippets (`search`), p50 / p99".into(),
        format!("{} / {}", millis(pct(&engine, 50)), millis(pct(&engine, 99))),
        format!("substring `list_cases(search)`: {} / {}", millis(pct(&substring, 50)), millis(pct(&substring, 99))),
    ]);
    s.row(vec![
        "Query: every matching case with its best snippet (`search_cases`, the case list's search), p50 / p99".into(),
        format!("{} / {}", millis(pct(&engine_cases, 50)), millis(pct(&engine_cases, 99))),
        "(same peer)".into(),
    ]);
    s.row(vec![
        "Refresh after one new note (`SearchIndex::refresh`)".into(),
        format!("{} ({} case indexed again)", millis(refresh), refreshed.cases),
        "–".into(),
    ]);
    let worst = pct(&engine, 99).max(pct(&engine_cases, 99));
    s.verdicts.push(format!(
        "Target: under 50 ms per query on 10,000 cases and 100,000 notes: {} (p99 {}){}.",
        if worst < Duration::from_millis(50) { "met" } else { "MISSED" },
        millis(worst),
        if a.quick || cases < 10_000 { "; this run is smaller than the target's store, so it does not decide" } else { "" }
    ));
    s.verdicts.push(
        "The peer searches less (titles, summaries, references and tags; no notes, evidence, briefs or submissions) and returns no snippets.".into(),
    );
    Ok(s)
}

/// The `p`th percentile (nearest rank).
fn pct(v: &[Duration], p: usize) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((v.len() * p).div_ceil(100)).clamp(1, v.len()) - 1;
    v[i]
}

/// This process's resident set, KiB (0 when /proc says nothing).
fn rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        if !dir.join(MARK).is_file() {
            let empty = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_none();
            if !empty {
                bail!("{} exists and was not made by casebridge-bench; pass another --dir", dir.display());
            }
        }
    } else {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(dir.join(MARK), b"made by casebridge-bench; safe to delete\n")?;
    Ok(())
}

/// Reuses a complete store of the requested shape, else builds it: (setup seconds, reused).
fn ensure_store(dir: &Path, store_dir: &Path, cases: usize, notes: usize, rebuild: bool) -> Result<(f64, bool)> {
    let complete = dir.join(COMPLETE);
    if !rebuild {
        if let Ok(text) = fs::read_to_string(&complete) {
            let f: Vec<&str> = text.split_whitespace().collect();
            if f.len() == 3 && f[0] == cases.to_string() && f[1] == notes.to_string() && store_dir.exists() {
                eprintln!("search: reusing the store in {}", store_dir.display());
                return Ok((f[2].parse().unwrap_or(0.0), true));
            }
        }
    }
    let _ = fs::remove_file(&complete);
    if store_dir.exists() {
        fs::remove_dir_all(store_dir)?;
    }
    let start = Instant::now();
    let mut store = Store::create(store_dir, &passphrase(), "Bench Investigator", Role::Investigator, KdfParams::INTERACTIVE)?;
    let vocab = Vocabulary::new();
    let mut rng = Rng::new(17);
    eprintln!("search: building {cases} cases with {notes} notes each in {}", store_dir.display());
    for i in 0..cases {
        let case = store.create_case(NewCase {
            title: format!("Benchmark case {i:05} {}", vocab.sentence(&mut rng, 3)),
            summary: Some(vocab.sentence(&mut rng, 12)),
            reference: Some(format!("BENCH-{i:05}")),
            tags: vec![vocab.word(&mut rng).to_string()],
            category: None,
        })?;
        for _ in 0..notes {
            let len = 8 + (rng.next_u64() % 33) as usize;
            store.add_note(case, &vocab.sentence(&mut rng, len))?;
        }
        if (i + 1) % 500 == 0 {
            eprintln!("search: {}/{cases} cases, {:.0} s", i + 1, start.elapsed().as_secs_f64());
        }
    }
    drop(store);
    let seconds = start.elapsed().as_secs_f64();
    fs::write(&complete, format!("{cases} {notes} {seconds:.1}\n"))?;
    Ok((seconds, false))
}
