//! Printing: one JSON document for `--json`, aligned tables and key/value blocks for people.

use std::io::{self, Write};

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::Serialize;

use crate::error::Result;

/// Writes `value` as one pretty-printed JSON document followed by a newline.
pub fn json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// A time as RFC 3339 with the offset it was stored with, to the second.
pub fn time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An optional time, `-` when absent.
pub fn opt_time(t: Option<&DateTime<FixedOffset>>) -> String {
    t.map(time).unwrap_or_else(|| "-".into())
}

/// Text from the store made safe for a terminal on one line: control characters (including
/// newlines and escape sequences) are shown escaped instead of acting on the terminal.
pub fn line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Multi-line text made safe for a terminal: lines are kept, every continuation line is
/// indented by `indent` spaces, other control characters are escaped.
pub fn block(s: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    s.split('\n').map(|l| line(l.strip_suffix('\r').unwrap_or(l))).collect::<Vec<_>>().join(&format!("\n{pad}"))
}

/// A byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Columns separated by two spaces; every column but the last padded to its widest cell.
#[derive(Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
    header: bool,
    right: Vec<usize>,
    indent: usize,
}

impl Table {
    /// A table whose first row is `header` (pass an empty slice for none).
    pub fn new(header: &[&str]) -> Table {
        let mut t = Table::default();
        if !header.is_empty() {
            t.rows.push(header.iter().map(|s| s.to_string()).collect());
            t.header = true;
        }
        t
    }

    /// Right-aligns column `col` (for numbers).
    pub fn right(mut self, col: usize) -> Table {
        self.right.push(col);
        self
    }

    /// Indents every line by `n` spaces.
    pub fn indent(mut self, n: usize) -> Table {
        self.indent = n;
        self
    }

    /// Adds a row; cells are made safe with [`line()`].
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| line(c)).collect());
    }

    /// Writes the table.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        for r in &self.rows {
            let mut s = " ".repeat(self.indent);
            for (i, c) in r.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                let last = i + 1 == r.len();
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right.contains(&i) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            writeln!(out, "{}", s.trim_end())?;
        }
        Ok(())
    }
}

/// `key  value` lines with the keys padded to one width.
#[derive(Default)]
pub struct Fields {
    rows: Vec<(String, String)>,
}

impl Fields {
    /// Adds a line; the value may span lines (continuations are indented under it).
    pub fn add(&mut self, key: &str, value: impl AsRef<str>) {
        self.rows.push((key.to_string(), value.as_ref().to_string()));
    }

    /// Writes the block.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let w = self.rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        for (k, v) in &self.rows {
            writeln!(out, "{k:<w$}  {}", block(v, w + 2))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_do_not_pad_the_last_column() {
        let mut t = Table::new(&["ID", "N", "TITLE"]).right(1);
        t.row(vec!["a".into(), "2".into(), "first".into()]);
        t.row(vec!["bbbb".into(), "10".into(), "x".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "ID     N  TITLE\na      2  first\nbbbb  10  x\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(line("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(block("one\ntwo", 4), "one\n    two");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(300 * 1024 * 1024), "300.0 MiB");
    }
}
