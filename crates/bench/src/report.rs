//! The figures as Markdown: one table per measurement, ready to paste into
//! docs/PERFORMANCE.md.

use std::fmt::Write;
use std::time::Duration;

use crate::sys::{Machine, Sample};

/// One measurement: a table of figures with the facts needed to read them.
pub struct Section {
    pub title: String,
    /// Where and how it was measured (one line each).
    pub context: Vec<String>,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Targets and verdicts, one line each.
    pub verdicts: Vec<String>,
}

impl Section {
    pub fn new(title: impl Into<String>, headers: Vec<&'static str>) -> Section {
        Section { title: title.into(), context: Vec::new(), headers, rows: Vec::new(), verdicts: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// The header that names the machine and the command.
pub fn header(machine: &Machine, argv: &[String]) -> String {
    let cmd = argv.iter().skip(1).cloned().collect::<Vec<_>>().join(" ");
    format!("<!-- casebridge-bench {cmd} -->\nMachine: {}\n\n", machine.describe())
}

/// One section as Markdown.
pub fn section(sec: &Section) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#### {}", sec.title);
    let _ = writeln!(s);
    for c in &sec.context {
        let _ = writeln!(s, "- {c}");
    }
    if !sec.context.is_empty() {
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "| {} |", sec.headers.join(" | "));
    let _ = writeln!(s, "|{}", sec.headers.iter().map(|_| "---|").collect::<String>());
    for r in &sec.rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    let _ = writeln!(s);
    for v in &sec.verdicts {
        let _ = writeln!(s, "- {v}");
    }
    if !sec.verdicts.is_empty() {
        let _ = writeln!(s);
    }
    s
}

/// Milliseconds with two decimals.
pub fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Throughput in MiB/s.
pub fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}

/// A ratio with two decimals and an x.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}x")
}

/// Median of the durations (the lower middle for an even count); zero when empty.
pub fn median(samples: &[Duration]) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or_default()
}

/// `median (min–max, n runs)`.
pub fn spread(samples: &[Duration]) -> String {
    let min = samples.iter().min().copied().unwrap_or_default();
    let max = samples.iter().max().copied().unwrap_or_default();
    format!(
        "{:.3} s ({:.3}–{:.3}, {} run{})",
        median(samples).as_secs_f64(),
        min.as_secs_f64(),
        max.as_secs_f64(),
        samples.len(),
        if samples.len() == 1 { "" } else { "s" }
    )
}

/// Wall times of samples.
pub fn walls(v: &[Sample]) -> Vec<Duration> {
    v.iter().map(|s| s.wall).collect()
}

/// Median CPU time of samples (user + system), with the system part of that same sample.
pub fn cpu_median(v: &[Sample]) -> String {
    let mut by_cpu: Vec<&Sample> = v.iter().collect();
    by_cpu.sort_by_key(|s| s.cpu);
    match by_cpu.get(by_cpu.len().saturating_sub(1) / 2) {
        Some(m) => format!("{:.3} s (sys {:.3})", m.cpu.as_secs_f64(), m.sys.as_secs_f64()),
        None => "–".into(),
    }
}

/// "met" or "MISSED" with the margin, for a figure that must stay at or below `limit`.
pub fn at_most(figure: f64, limit: f64, unit: &str) -> String {
    if figure <= limit {
        format!("met ({figure:.2}{unit} ≤ {limit:.2}{unit})")
    } else {
        format!("MISSED by {:.0} % ({figure:.2}{unit} > {limit:.2}{unit})", (figure / limit - 1.0) * 100.0)
    }
}

/// "met" or "MISSED" with the margin, for a figure that must reach at least `limit`.
pub fn at_least(figure: f64, limit: f64, unit: &str) -> String {
    if figure >= limit {
        format!("met ({figure:.2}{unit} ≥ {limit:.2}{unit})")
    } else {
        format!("MISSED by {:.0} % ({figure:.2}{unit} < {limit:.2}{unit})", (1.0 - figure / limit) * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle() {
        let d = |ms| Duration::from_millis(ms);
        assert_eq!(median(&[d(5), d(1), d(3)]), d(3));
        assert_eq!(median(&[d(4), d(1), d(3), d(2)]), d(2));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn verdicts_state_the_margin() {
        assert!(at_most(0.25, 0.30, "x").starts_with("met"));
        assert_eq!(at_most(0.45, 0.30, "x"), "MISSED by 50 % (0.45x > 0.30x)");
        assert!(at_least(0.9, 0.8, "x").starts_with("met"));
        assert_eq!(at_least(0.4, 0.8, "x"), "MISSED by 50 % (0.40x < 0.80x)");
    }
}
