//! `casebridge-bench`: measures the store and prints each figure next to a peer measured in
//! the same run (sha256sum, age, dd, an empty store), with the target from the issue beside
//! it. Nothing here asserts a timing: the figures go into docs/PERFORMANCE.md, where a missed
//! target is reported, not hidden.
//!
//! Subcommands: `import`, `rss`, `unlock`, `case-list`, `search`, `bundle`, `sync`, `cluster-intake`,
//! `cluster-upload`, `cluster-journal`, and `all` (all but `bundle`, `sync` and the cluster's,
//! printed as one Markdown block). `import-child` and `rss-probe` are
//! hidden: `rss` re-executes this binary so that the peak RSS it reports is that of a whole
//! import process. `sync` needs the release CLI (`cargo build --release -p casebridge-cli`):
//! the endpoint it measures is a real `casebridge agency serve` process. The `cluster-*`
//! subcommands also need PostgreSQL and SeaweedFS (`bash scripts/services start`, which they
//! run themselves when the services are not up) and HAProxy; `cluster-upload` needs awscli
//! in .tools/bench-venv (`bash scripts/setup`).
//!
//! Build and run in release: `cargo run --release -p casebridge-bench -- all`.

mod attack;
mod bundle;
mod case_list;
mod cluster;
mod import;
mod report;
mod rss;
mod search;
mod services;
mod sync;
mod sys;
mod unlock;
mod workload;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::report::Section;

/// Where the tmpfs measurements run unless told otherwise.
const SHM: &str = "/dev/shm";

#[derive(Parser)]
#[command(name = "casebridge-bench", about = "Casebridge benchmarks: each figure next to a peer measured in the same run")]
struct Cli {
    /// Before each run, wait up to this many seconds for other processes to leave the CPUs
    /// at least 90 % idle (for shared machines; 0 does not wait).
    #[arg(long, global = true, default_value_t = 0, value_name = "SECS")]
    wait_idle: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import throughput on tmpfs (vs sha256sum and age) and on disk (vs dd conv=fsync).
    Import(import::Args),
    /// Peak RSS of a whole import process (vs the same process doing the unlock only).
    Rss(rss::Args),
    /// Time of `Store::open` with the production KDF parameters.
    Unlock(unlock::Args),
    /// `list_cases` and `Store::open` on a store with 10,000 cases and 100,000 evidence items.
    CaseList(case_list::Args),
    /// Full-text search on 10,000 cases and 100,000 notes: index build, memory, query p50/p99
    /// (vs the old substring case list); `--quick` for a small run.
    Search(search::Args),
    /// Evidence bundles: export, verify and open of a 1 GiB video and of 10,000 photos (vs age), with peak RSS.
    Bundle(bundle::Args),
    /// The agency endpoint (a real `casebridge agency serve` process, HTTPS on 127.0.0.1): a 1 GiB
    /// bundle upload by the sync engine (vs curl), and 200 volunteers uploading at once.
    /// Needs `cargo build --release -p casebridge-cli` first.
    Sync(sync::Args),
    /// The cluster agency (issue 15): volunteers submitting 1 MB bundles at a fixed arrival
    /// rate, stepped up, on the embedded agency, one cluster replica and two behind HAProxy
    /// (PostgreSQL and SeaweedFS from scripts/services). Needs the release CLI.
    ClusterIntake(cluster::IntakeArgs),
    /// The cluster agency: a 1 GiB bundle through a replica vs `aws s3 cp` of it to the same S3.
    ClusterUpload(cluster::UploadArgs),
    /// The cluster agency: the journal append (advisory lock, insert, commit) per bundle in PostgreSQL.
    ClusterJournal(cluster::JournalArgs),
    /// Everything above except `bundle`, `sync` and the cluster's, printed as one Markdown block ready to paste.
    All(AllArgs),
    /// (internal) Opens STORE and imports FILE into its first case; prints its own figures.
    #[command(hide = true)]
    ImportChild(rss::ChildArgs),
    /// (internal) Runs `import-child` and reports its ru_maxrss from getrusage(RUSAGE_CHILDREN).
    #[command(hide = true)]
    RssProbe(rss::ChildArgs),
}

#[derive(clap::Args)]
struct AllArgs {
    /// Size of the import file.
    #[arg(long, default_value = "1GiB")]
    size: String,
    /// A tmpfs directory for the tmpfs measurements.
    #[arg(long, default_value = SHM)]
    dir: PathBuf,
    /// A directory on the real disk for the disk import (default: the temp dir, else /var/tmp).
    #[arg(long)]
    disk_dir: Option<PathBuf>,
    /// Where the 10,000-case store is built (and kept, to be reused by the next run).
    #[arg(long, default_value = case_list::DEFAULT_DIR)]
    case_dir: PathBuf,
    /// The `casebridge` binary for the CLI case list (default: target/release/casebridge).
    #[arg(long)]
    cli: Option<PathBuf>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    sys::set_settle(std::time::Duration::from_secs(cli.wait_idle));
    if cfg!(debug_assertions) && !matches!(cli.command, Command::ImportChild(_) | Command::RssProbe(_)) {
        eprintln!("warning: this is a debug build; figures are only meaningful with --release");
    }
    // The header first and each section as soon as it is measured, so that a failure late
    // in `all` keeps the figures already taken.
    let head = report::header(&sys::Machine::probe(), &std::env::args().collect::<Vec<_>>());
    let emit = |sec: Section| {
        print!("{}", report::section(&sec));
        let _ = std::io::stdout().flush();
    };
    match cli.command {
        Command::ImportChild(a) => return rss::child(&a),
        Command::RssProbe(a) => return rss::probe(&a),
        _ => print!("{head}"),
    }
    match cli.command {
        Command::Import(a) => import::run(&a)?.into_iter().for_each(emit),
        Command::Rss(a) => emit(rss::run(&a)?),
        Command::Unlock(a) => emit(unlock::run(&a)?),
        Command::CaseList(a) => emit(case_list::run(&a)?),
        Command::Search(a) => emit(search::run(&a)?),
        Command::Bundle(a) => bundle::run(&a)?.into_iter().for_each(emit),
        Command::Sync(a) => sync::run(&a)?.into_iter().for_each(emit),
        Command::ClusterIntake(a) => cluster::run_intake(&a)?.into_iter().for_each(emit),
        Command::ClusterUpload(a) => cluster::run_upload(&a)?.into_iter().for_each(emit),
        Command::ClusterJournal(a) => cluster::run_journal(&a)?.into_iter().for_each(emit),
        Command::All(a) => run_all(&a, &emit)?,
        Command::ImportChild(_) | Command::RssProbe(_) => {}
    }
    Ok(())
}

fn run_all(a: &AllArgs, emit: &dyn Fn(Section)) -> Result<()> {
    eprintln!("== unlock");
    emit(unlock::run(&unlock::Args { runs: 5, dir: a.dir.clone() })?);
    eprintln!("== import");
    import::run(&import::Args { size: a.size.clone(), dir: a.dir.clone(), disk_dir: a.disk_dir.clone(), runs: 5 })?
        .into_iter()
        .for_each(emit);
    eprintln!("== rss");
    emit(rss::run(&rss::Args { size: vec!["1GiB".into(), "4GiB".into()], dir: a.dir.clone() })?);
    eprintln!("== case-list");
    emit(case_list::run(&case_list::Args {
        dir: a.case_dir.clone(),
        cases: case_list::DEFAULT_CASES,
        per_case: case_list::DEFAULT_PER_CASE,
        runs: 5,
        cli: a.cli.clone(),
        rebuild: false,
    })?);
    Ok(())
}
