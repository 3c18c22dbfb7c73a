//! The journal read as history: every event as a log (of the store or of one case), pages of
//! the events after a record (the agency endpoint filters these into each member's feed), the
//! cases this profile changed since a position (what sync exports), and whether an exact
//! event is held. Positions are journal record
//! indexes; the start offset of each record is cached in memory as it is first needed.

use super::*;

/// A page of the journal (see [`Store::events_after`]).
#[derive(Clone, Debug)]
pub struct EventPage {
    /// The events, oldest first.
    pub events: Vec<SignedEvent>,
    /// Record index to continue after.
    pub cursor: u64,
    /// More records follow.
    pub more: bool,
}

impl Store {
    /// The events of the journal records after record `after`, reading at most `limit` records
    /// (at least one). The cursor is a record index; one beyond the journal's end is refused.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        let total = self.state.records;
        if after > total {
            return Err(Error::invalid("cursor", format!("{after} is beyond the feed's end ({total})")));
        }
        let start = self.position(after, "cursor")?;
        let scan = self.journal.scan_bounded(start, after, self.state.end, limit.max(1))?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut events = Vec::with_capacity(scan.records.len());
        let mut cursor = after;
        for (rec, _) in scan.records {
            events.push(SignedEvent::from_envelope(rec.plaintext.to_vec())?);
            cursor = rec.index + 1;
        }
        Ok(EventPage { events, cursor, more: cursor < total })
    }

    /// The start offset of journal record `record` (at most the journal's length), bringing the
    /// cache of record start offsets up to the journal's length first. `what` names the
    /// argument in the error for a position that does not fit in memory.
    pub(super) fn position(&self, record: u64, what: &'static str) -> Result<u64> {
        let mut positions = super::guard(&self.positions);
        if positions.is_empty() {
            positions.push(format::JOURNAL_HEADER_LEN);
        }
        let known = positions.len() as u64 - 1;
        if known < self.state.records {
            let from = *positions.last().unwrap_or(&format::JOURNAL_HEADER_LEN);
            let scan = self.journal.scan_bounded(from, known, self.state.end, usize::MAX)?;
            if let Some(at) = scan.damaged_at {
                return Err(Error::JournalDamaged { record: at });
            }
            positions.extend(scan.records.iter().map(|(_, end)| *end));
        }
        let i = usize::try_from(record).map_err(|_| Error::invalid(what, "too large"))?;
        positions.get(i).copied().ok_or_else(|| Error::invalid(what, format!("{record} is beyond the journal's end")))
    }

    /// True when this exact event is held.
    pub fn holds_event(&self, ev: &SignedEvent) -> Result<bool> {
        let b = ev.body();
        let held: Option<projection::ChainRecord> =
            get_json(&mut IndexReader(&self.index), Table::Chain, &projection::chain_key(b.author, &b.key, b.seq))?;
        Ok(held.is_some_and(|h| h.hash == to_hex(&ev.hash())))
    }

    /// How many records the journal holds (a position for `case_events`' `since`).
    pub fn journal_records(&self) -> u64 {
        self.state.records
    }

    /// The cases in which this profile recorded events at or after journal record `since`
    /// (what sync must export).
    pub fn cases_changed_since(&self, since: u64) -> Result<Vec<Uuid>> {
        let since = since.min(self.state.records);
        let start = self.position(since, "position")?;
        let scan = self.journal.scan_bounded(start, since, self.state.end, usize::MAX)?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut evidence_case: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        let mut cases = std::collections::BTreeSet::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let b = ev.body();
            if let EventKind::EvidenceAdded { evidence_id, case_id, .. } = &b.kind {
                evidence_case.insert(*evidence_id, *case_id);
            }
            // This device's own events only: the member's other devices export theirs.
            if !self.is_own(b) || b.kind.is_local() {
                continue;
            }
            let case = match b.kind.case_id() {
                Some(c) => Some(c),
                None => match b.kind.evidence_id() {
                    Some(e) => match evidence_case.get(&e) {
                        Some(c) => Some(*c),
                        None => self.evidence_record(e).ok().map(|r| r.case_id),
                    },
                    None => None,
                },
            };
            // The case list's access entries (the nil case, issue 16) are of no case a bundle
            // carries: they stay in this store's journal and access log.
            cases.extend(case.filter(|c| !c.is_nil()));
        }
        Ok(cases.into_iter().collect())
    }

    /// Every event, oldest first, optionally only those of one case (including custody of its
    /// evidence). Reads and verifies the whole journal.
    pub fn log(&mut self, case: Option<Uuid>) -> Result<Vec<LogEntry>> {
        if let Some(c) = case {
            self.case_record(c)?;
        }
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        let mut ev_case: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        let mut out = Vec::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let b = ev.body();
            if let EventKind::EvidenceAdded { evidence_id, case_id, .. } = &b.kind {
                ev_case.insert(*evidence_id, *case_id);
            }
            let case_id = b.kind.case_id().or_else(|| b.kind.evidence_id().and_then(|e| ev_case.get(&e).copied()));
            if case.is_some() && case != case_id {
                continue;
            }
            out.push(LogEntry {
                index: rec.index,
                author: b.author,
                author_name: self.member_name(b.author),
                seq: b.seq,
                at: b.at,
                kind: b.kind.name().to_string(),
                summary: b.kind.summary(),
                case_id,
                evidence_id: b.kind.evidence_id(),
                hash: to_hex(&ev.hash()),
            });
        }
        Ok(out)
    }
}
