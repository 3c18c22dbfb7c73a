//! `check`: verifies the whole store without changing it.

use super::*;

impl Store {
    /// Verifies the whole store: every journal record, signature and chain link; every index
    /// value (authenticity and agreement with a fresh replay of the journal); and with
    /// `read_data`, every object's content hash. Never modifies anything.
    pub fn check(&mut self, read_data: bool, progress: &mut dyn FnMut(u64)) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut problems = Vec::new();
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            problems.push(Problem {
                code: "journal_record_damaged".into(),
                item: format!("journal record {at}"),
                message: "fails authentication; it and every record after it cannot be read".into(),
            });
        }
        if scan.torn_tail {
            problems.push(Problem {
                code: "journal_torn_tail".into(),
                item: "journal tail".into(),
                message:
                    "an unfinished write at the end (never acknowledged); it is removed the next time the store is opened for a change"
                        .into(),
            });
        }
        let mut heads: BTreeMap<Uuid, ChainHead> = BTreeMap::new();
        // Other chains (other members, and this member's other devices), by author, key and seq.
        let mut foreign: BTreeMap<(Uuid, String, u64), (String, String)> = BTreeMap::new();
        let mut model = projection::MemTables::default();
        let mut replayed_end = format::JOURNAL_HEADER_LEN;
        let mut replayed = 0u64;
        let mut access_chains = crate::access_chain::AccessChains::default();
        for (rec, rec_end) in scan.records {
            let ev = match SignedEvent::from_envelope(rec.plaintext.to_vec()) {
                Ok(ev) => ev,
                Err(e) => {
                    problems.push(Problem {
                        code: "event_invalid".into(),
                        item: format!("journal record {}", rec.index),
                        message: e.to_string(),
                    });
                    break;
                }
            };
            let b = ev.body();
            if self.is_own(b) {
                if let Err(msg) = heads.entry(b.author).or_default().advance(&ev) {
                    problems.push(Problem { code: "chain_broken".into(), item: format!("journal record {}", rec.index), message: msg });
                    break;
                }
            } else {
                let hash = to_hex(&ev.hash());
                if let Some((h, _)) = foreign.get(&(b.author, b.key.clone(), b.seq)) {
                    let code = if *h == hash { "event_duplicated" } else { "chain_fork" };
                    problems.push(Problem {
                        code: code.into(),
                        item: format!("journal record {}", rec.index),
                        message: format!("member {} event {} is held twice", b.author, b.seq),
                    });
                    break;
                }
                foreign.insert((b.author, b.key.clone(), b.seq), (hash, b.prev.clone()));
            }
            access_chains.add(&ev);
            projection::apply(&mut model, &ev)?;
            replayed += 1;
            replayed_end = rec_end;
        }
        for ((author, key, seq), (_, prev)) in &foreign {
            if let Some((prev_hash, _)) = seq.checked_sub(1).and_then(|p| foreign.get(&(*author, key.clone(), p))) {
                if prev_hash != prev {
                    problems.push(Problem {
                        code: "chain_broken".into(),
                        item: format!("member {author} event {seq}"),
                        message: "does not link to the member's previous event".into(),
                    });
                }
            }
        }
        for p in access_chains.finish() {
            problems.push(Problem { code: p.code.into(), item: p.item, message: p.message });
        }
        report.events = replayed;
        report.authors = heads.keys().chain(foreign.keys().map(|(a, _, _)| a)).collect::<std::collections::BTreeSet<_>>().len();

        // The index must hold exactly what the replay produced.
        let mut bad = Vec::new();
        let index_model = self.index.dump(&mut |t, k, msg| bad.push((t, k, msg)));
        for (t, k, msg) in bad {
            // Its logical key is inside the damaged value: name the table and the keyed key; the
            // comparison below names the record the index now lacks.
            let item = format!("a {} record (index key {})", t.name(), hex::encode(&k));
            problems.push(Problem { code: "index_value_damaged".into(), item, message: msg.to_string() });
        }
        report.index_records = index_model.map.len();
        match self.index.meta() {
            Ok(Some(m)) if m.records == replayed && m.end == replayed_end => {}
            Ok(_) => problems.push(Problem {
                code: "index_behind".into(),
                item: "index state".into(),
                message: "the index has not applied the whole journal; rebuild the index".into(),
            }),
            Err(e) => problems.push(Problem { code: "index_value_damaged".into(), item: "index state".into(), message: e.detail() }),
        }
        for ((t, k), v) in &model.map {
            match index_model.map.get(&(*t, k.clone())) {
                None => problems.push(Problem {
                    code: "index_record_missing".into(),
                    item: describe_key(*t, k),
                    message: "is in the journal but missing from the index".into(),
                }),
                Some(iv) if iv != v => problems.push(Problem {
                    code: "index_record_differs".into(),
                    item: describe_key(*t, k),
                    message: "differs from the journal".into(),
                }),
                Some(_) => {}
            }
        }
        for (t, k) in index_model.map.keys() {
            if !model.map.contains_key(&(*t, k.clone())) {
                problems.push(Problem {
                    code: "index_record_unknown".into(),
                    item: describe_key(*t, k),
                    message: "is in the index but not in the journal".into(),
                });
            }
        }

        let mut evidence: Vec<EvidenceRecord> = Vec::new();
        for ((t, _), v) in &model.map {
            match t {
                Table::Cases if serde_json::from_slice::<CaseRecord>(v).map(|c| c.created).unwrap_or(false) => report.cases += 1,
                Table::Notes => report.notes += 1,
                Table::Evidence => {
                    if let Ok(e) = serde_json::from_slice::<EvidenceRecord>(v) {
                        evidence.push(e);
                    }
                }
                _ => {}
            }
        }
        report.evidence = evidence.len();

        // A deleted item's content is gone on purpose: its object is not missing, and one left
        // by a crash between the tombstone and the shredding is an orphan.
        let deleted: std::collections::BTreeSet<Uuid> = model
            .map
            .iter()
            .filter(|((t, _), _)| *t == Table::Tombstones)
            .filter_map(|(_, v)| serde_json::from_slice::<projection::TombstoneRecord>(v).ok())
            .map(|t| t.tombstone.evidence_id)
            .collect();
        report.deleted = deleted.len();
        let mut referenced = std::collections::BTreeSet::new();
        for e in evidence.iter().filter(|e| !deleted.contains(&e.id)) {
            let Ok(sha) = decode_sha(&e.sha256) else { continue };
            referenced.insert(self.objects.name_of(&sha));
            if !self.objects.exists(&sha)? {
                problems.push(Problem {
                    code: "object_missing".into(),
                    item: format!("evidence {}", e.id),
                    message: "its content file is missing".into(),
                });
                continue;
            }
            if read_data {
                let base = report.bytes_checked;
                match self.objects.read(&sha, e.size, &mut std::io::sink(), &mut |done: u64| {
                    progress(base + done);
                    true
                }) {
                    Ok(()) => {
                        report.objects_checked += 1;
                        report.bytes_checked += e.size;
                    }
                    Err(err) => problems.push(Problem {
                        code: "object_damaged".into(),
                        item: format!("evidence {}", e.id),
                        message: err.to_string(),
                    }),
                }
            }
        }
        report.orphan_objects = self.objects.files()?.iter().filter(|f| !referenced.contains(&f.name)).count();
        report.ok = problems.is_empty();
        report.problems = problems;
        Ok(report)
    }
}
