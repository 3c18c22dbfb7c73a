//! An access-log export (`casebridge access-log --out FILE`, docs/FORMAT.md "Access-log
//! export"): a JSON document listing the signed `access_recorded` events themselves, as their
//! authors signed them. Checked here without any store: every entry's signature (before its
//! body is parsed), that it is an access entry, and its access chain: every chain the export
//! holds must be whole from 1 to its last entry, so an entry left out of the middle of the
//! export (or of the log it was made from) shows as `access_chain_gap`.
//!
//! What it cannot show: entries after a chain's last one in the export (a truncated tail), and
//! whether the signing keys are the agency's members' (a court package's check 5 does that).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::check::access_chain_problems;
use crate::format::{self, open_envelope};
use crate::report::Problem;

/// The export's `format` value.
pub const ACCESS_LOG_FORMAT: &str = "casebridge/access-log-export";
/// Largest export this verifier reads.
pub const MAX_EXPORT_LEN: u64 = 256 * 1024 * 1024;

/// The export document (what `casebridge access-log --out FILE` writes).
#[derive(Clone, Debug, Deserialize)]
struct Export {
    format: String,
    v: u32,
    entries: Vec<String>,
}

/// What the check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccessLogReport {
    /// Entries read.
    pub entries: usize,
    /// Distinct authors.
    pub members: usize,
    /// Distinct (author, key, case) chains.
    pub chains: usize,
    /// Entries recorded before access chains existed (signed, but not in any chain).
    pub unchained: usize,
    /// What is wrong; empty when the export checks.
    pub problems: Vec<Problem>,
}

impl AccessLogReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The report as text, ending with `OK` or `FAILED: N problem(s)`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "access-log export");
        let _ = writeln!(s, "  entries    {}", self.entries);
        let _ = writeln!(s, "  members    {}", self.members);
        let _ = writeln!(s, "  chains     {}", self.chains);
        let _ = writeln!(s, "  unchained  {} (recorded before access chains)", self.unchained);
        if self.problems.is_empty() {
            let _ = writeln!(s, "OK: every entry is signed and every access chain is whole up to its last entry");
        } else {
            let _ = writeln!(s, "FAILED: {} problem(s)", self.problems.len());
            for p in &self.problems {
                let code = p.code.as_deref().unwrap_or("invalid");
                let _ = writeln!(s, "  [{code}] {}: {}", p.subject, p.message);
            }
        }
        s
    }
}

fn problem(code: &str, subject: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { check: 3, subject: subject.into(), message: message.into(), code: Some(code.into()) }
}

/// Checks an access-log export's bytes. Never panics on any input.
pub fn verify_access_log(bytes: &[u8]) -> AccessLogReport {
    let mut r = AccessLogReport::default();
    let export: Export = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => {
            r.problems.push(problem("export_malformed", "the export", format!("is not an access-log export: {e}")));
            return r;
        }
    };
    if export.format != ACCESS_LOG_FORMAT || export.v != 1 {
        r.problems.push(problem(
            "export_malformed",
            "the export",
            format!("has format {:?} version {}; this verifier reads {ACCESS_LOG_FORMAT:?} version 1", export.format, export.v),
        ));
        return r;
    }
    let mut events = Vec::with_capacity(export.entries.len());
    let mut members = BTreeSet::new();
    for (i, e) in export.entries.iter().enumerate() {
        let subject = format!("entry {}", i + 1);
        let Ok(raw) = B64.decode(e.as_bytes()) else {
            r.problems.push(problem("entry_invalid", subject, "is not base64"));
            continue;
        };
        if raw.len() as u64 > format::MAX_EVENT_LEN + format::ENVELOPE_HEADER_LEN as u64 {
            r.problems.push(problem("entry_invalid", subject, "is longer than any event"));
            continue;
        }
        match open_envelope(&raw) {
            Err(why) => r.problems.push(problem("entry_invalid", subject, format!("is not a valid signed event: {why}"))),
            Ok(ev) if ev.kind != "access_recorded" => {
                r.problems.push(problem("not_an_access_entry", subject, format!("is a '{}' event, not an access entry", ev.kind)))
            }
            Ok(ev) => {
                members.insert(ev.author.clone());
                if ev.body.get("access_seq").is_none_or(serde_json::Value::is_null) {
                    r.unchained += 1;
                }
                events.push((subject, ev));
            }
        }
    }
    r.entries = export.entries.len();
    r.members = members.len();
    r.chains = events
        .iter()
        .filter(|(_, e)| e.body.get("access_seq").is_some_and(|v| !v.is_null()))
        .map(|(_, e)| (e.author.clone(), e.key.clone(), e.str_field("case_id").unwrap_or("").to_string()))
        .collect::<BTreeSet<_>>()
        .len();
    for (code, subject, message) in access_chain_problems(&events) {
        let subject = subject.strip_prefix("event ").map(str::to_string).unwrap_or(subject);
        r.problems.push(problem(code, subject, message));
    }
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::{sha256_hex, ENVELOPE_VERSION, GENESIS_PREV};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    const CASE: &str = "0195f2a4-1c2b-7d3e-8f40-0123456789ad";

    /// A signed access entry of `seq` in the chain, linking to `prev`; returns (envelope, hash).
    fn entry(pair: &Ed25519KeyPair, seq: u64, prev: &str, action: &str) -> (Vec<u8>, String) {
        let key = hex::encode(pair.public_key().as_ref());
        let body = format!(
            r#"{{"v":1,"author":"0195f2a4-1c2b-7d3e-8f40-0123456789ab","key":"{key}","seq":{seq},"prev":"{GENESIS_PREV}","hlc":{{"ms":1,"c":0}},"at":"2026-01-01T10:00:00+01:00","device":"0195f2a4-1c2b-7d3e-8f40-0123456789ac","type":"access_recorded","case_id":"{CASE}","evidence_id":null,"action":"{action}","reason":null,"access_seq":{seq},"access_prev":"{prev}"}}"#
        );
        let mut env = vec![ENVELOPE_VERSION];
        env.extend_from_slice(pair.public_key().as_ref());
        env.extend_from_slice(pair.sign(body.as_bytes()).as_ref());
        env.extend_from_slice(body.as_bytes());
        (env, sha256_hex(body.as_bytes()))
    }

    fn chain(pair: &Ed25519KeyPair, n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS_PREV.to_string();
        (1..=n)
            .map(|seq| {
                let (env, hash) = entry(pair, seq, &prev, "viewed");
                prev = hash;
                env
            })
            .collect()
    }

    fn export(entries: &[Vec<u8>]) -> Vec<u8> {
        let list: Vec<String> = entries.iter().map(|e| B64.encode(e)).collect();
        serde_json::to_vec(&serde_json::json!({"format": ACCESS_LOG_FORMAT, "v": 1, "entries": list})).unwrap()
    }

    fn codes(r: &AccessLogReport) -> Vec<&str> {
        r.problems.iter().map(|p| p.code.as_deref().unwrap_or("")).collect()
    }

    #[test]
    fn a_whole_chain_checks_and_each_attack_has_its_code() {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        let entries = chain(&pair, 4);
        let r = verify_access_log(&export(&entries));
        assert!(r.ok(), "{}", r.text());
        assert_eq!((r.entries, r.members, r.chains, r.unchained), (4, 1, 1, 0));
        assert!(r.text().ends_with("whole up to its last entry\n"));

        // Entry 2 left out: a gap naming what is missing.
        let gap: Vec<Vec<u8>> = entries.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, e)| e.clone()).collect();
        let r = verify_access_log(&export(&gap));
        assert_eq!(codes(&r), ["access_chain_gap"], "{}", r.text());
        assert!(r.text().contains("entry 2 is missing"), "{}", r.text());

        // A second, different entry 3 (a rewrite kept beside the original): a fork.
        let (forged, _) = entry(&pair, 3, GENESIS_PREV, "exported");
        let mut forked = entries.clone();
        forked.push(forged);
        assert_eq!(codes(&verify_access_log(&export(&forked))), ["access_chain_fork"]);

        // Entry 3 replaced by one that does not link to entry 2.
        let mut broken = entries.clone();
        broken[2] = entry(&pair, 3, GENESIS_PREV, "viewed").0;
        let r = verify_access_log(&export(&broken));
        assert!(codes(&r).contains(&"access_chain_broken"), "{}", r.text());

        // A flipped byte: the signature fails before anything is parsed.
        let mut flipped = entries.clone();
        let last = flipped[0].len() - 3;
        flipped[0][last] ^= 1;
        assert!(codes(&verify_access_log(&export(&flipped))).contains(&"entry_invalid"));

        // Not base64, not an export, another kind of event: each its own code; no panic.
        let r =
            verify_access_log(&serde_json::to_vec(&serde_json::json!({"format": ACCESS_LOG_FORMAT, "v": 1, "entries": ["%%%"]})).unwrap());
        assert_eq!(codes(&r), ["entry_invalid"]);
        assert_eq!(codes(&verify_access_log(b"not json")), ["export_malformed"]);
        let r = verify_access_log(&serde_json::to_vec(&serde_json::json!({"format": "other", "v": 1, "entries": []})).unwrap());
        assert_eq!(codes(&r), ["export_malformed"]);
    }
}
