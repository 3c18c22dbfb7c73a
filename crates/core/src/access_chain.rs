//! Access chains (docs/FORMAT.md, "Access chains"): every `access_recorded` entry names its
//! place in a chain per (author, signing key, case): `access_seq` from 1 and `access_prev`, the
//! SHA-256 of the same chain's previous entry's body. Whoever holds a case holds a prefix of
//! every chain of it (the agency sends a case's events in order, and all earlier ones to a
//! member who joins its team), so an entry missing below a held one is a gap: a left-out access.
//!
//! [`AccessChains`] collects entries in any order and reports, each with its own code:
//! `access_chain_gap` (an entry missing below a held one), `access_chain_fork` (two different
//! entries in one place), `access_chain_broken` (an entry that does not link to the one before).
//! Entries recorded before chaining (no `access_seq`) are not part of any chain.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::crypto::to_hex;
use crate::event::{SignedEvent, GENESIS_PREV};
use crate::model::EventKind;

/// One problem found in the access chains: code, subject, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainProblem {
    /// `access_chain_gap`, `access_chain_fork` or `access_chain_broken`.
    pub code: &'static str,
    /// What is affected (member, case, entry).
    pub item: String,
    /// What is wrong.
    pub message: String,
}

type ChainKey = (Uuid, String, Uuid);

/// Collects chained access entries and checks them (see the module doc).
#[derive(Debug, Default)]
pub struct AccessChains {
    /// chain -> seq -> (hash, prev)
    held: BTreeMap<ChainKey, BTreeMap<u64, (String, String)>>,
    problems: Vec<ChainProblem>,
}

impl AccessChains {
    /// Adds `ev` when it is a chained access entry; anything else is ignored.
    pub fn add(&mut self, ev: &SignedEvent) {
        let b = ev.body();
        let EventKind::AccessRecorded { case_id, access_seq: Some(seq), access_prev, .. } = &b.kind else {
            return;
        };
        let prev = access_prev.clone().unwrap_or_default();
        self.add_entry(b.author, &b.key, *case_id, *seq, to_hex(&ev.hash()), prev);
    }

    /// Adds one chained entry by its parts.
    pub fn add_entry(&mut self, author: Uuid, key: &str, case: Uuid, seq: u64, hash: String, prev: String) {
        let chain = self.held.entry((author, key.to_string(), case)).or_default();
        match chain.get(&seq) {
            // The same entry twice (e.g. received again) is not a chain problem.
            Some((h, _)) if *h == hash => {}
            Some(_) => self.problems.push(ChainProblem {
                code: "access_chain_fork",
                item: format!("member {author} access entry {seq} of case {case}"),
                message: "two different access entries hold the same place in the member's access chain".into(),
            }),
            None => {
                chain.insert(seq, (hash, prev));
            }
        }
    }

    /// The problems found: forks as added, then gaps and broken links, chain by chain.
    pub fn finish(self) -> Vec<ChainProblem> {
        let mut problems = self.problems;
        let genesis = to_hex(&GENESIS_PREV);
        for ((author, _key, case), entries) in &self.held {
            let mut expected = 1u64;
            let mut last_hash: Option<&str> = None;
            for (seq, (hash, prev)) in entries {
                let item = format!("member {author} access entry {seq} of case {case}");
                if *seq == 0 {
                    problems.push(ChainProblem { code: "access_chain_broken", item, message: "access sequence numbers start at 1".into() });
                    continue;
                }
                if *seq > expected {
                    let missing = if *seq == expected + 1 {
                        format!("entry {expected} is")
                    } else {
                        format!("entries {expected} to {} are", seq - 1)
                    };
                    problems.push(ChainProblem {
                        code: "access_chain_gap",
                        item,
                        message: format!("{missing} missing from the member's access chain for this case: an access was left out"),
                    });
                } else {
                    let want = last_hash.unwrap_or(genesis.as_str());
                    if prev != want {
                        problems.push(ChainProblem {
                            code: "access_chain_broken",
                            item,
                            message: "does not link to the member's previous access entry for this case".into(),
                        });
                    }
                }
                expected = seq + 1;
                last_hash = Some(hash);
            }
        }
        problems
    }
}
