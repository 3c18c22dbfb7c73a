//! The journal as a mirror. The cluster agency keeps its journal in a database and each
//! replica's store as a cache of it: records are copied between copies of one store (the same
//! header and master key) byte for byte, as framed and sealed in the journal file, and a copy
//! whose own append was not taken up by the database rolls back.
//!
//! A record taken from another copy must open with this store's journal key at the position it
//! is to take (the associated data binds the store and the position), hold a signed event,
//! and, when it is this profile's own, continue its chain. A batch is checked whole before a
//! byte is written, so a refused batch leaves the store as it was.

use super::*;

impl Store {
    /// Records in the journal (the next record appended is number `journal_len()`).
    pub fn journal_len(&self) -> u64 {
        self.journal.len
    }

    /// At most `max` journal records from record number `from`, each exactly as framed and
    /// sealed in the journal file, for [`Store::append_raw`] on another copy of this store.
    /// `from` may be the journal's length (nothing follows); beyond it is refused.
    pub fn raw_records(&self, from: u64, max: usize) -> Result<Vec<Vec<u8>>> {
        let total = self.state.records;
        if from > total {
            return Err(Error::invalid("record number", format!("{from} is beyond the journal's end ({total})")));
        }
        if from == total || max == 0 {
            return Ok(Vec::new());
        }
        let start = self.position(from, "record number")?;
        self.journal.frames(start, from, self.state.end, max)
    }

    /// Appends records made by another copy of this store ([`Store::raw_records`] there),
    /// continuing this journal, and applies them to the index as if they had been recorded
    /// here (views, clock, chain heads and the content index all follow). Refused, with nothing
    /// appended, when any record does not open at the position it would take, does not hold a
    /// signed event, or breaks this profile's own chain.
    pub fn append_raw(&mut self, records: &[Vec<u8>]) -> Result<()> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        if records.is_empty() {
            return Ok(());
        }
        let first = self.journal.len;
        let mut head = self.state.heads.get(&self.me.member_id).map(|(s, h)| head_from(*s, h)).unwrap_or_default();
        for (i, frame) in records.iter().enumerate() {
            let at = first + i as u64;
            let refused = |why: &str| Error::invalid("journal record", format!("record {at} is refused: {why}; nothing was appended"));
            let plaintext = self.journal.open_frame(frame, at).map_err(refused)?;
            let ev = SignedEvent::from_envelope(plaintext.to_vec()).map_err(|_| refused("it does not hold a valid signed event"))?;
            if self.is_own(ev.body()) {
                head.advance(&ev).map_err(|why| Error::ChainConflict {
                    what: format!("journal record {at} does not continue this profile's chain ({why}); nothing was appended"),
                })?;
            }
        }
        self.journal.append_frames(records)?;
        // The records are durable; bring the index up as an open would (a failure here is
        // replayed by the next open, as for any append).
        self.catch_up()
    }

    /// Drops every journal record after the first `len` (a replica whose own append was not
    /// taken up rolls back) and rebuilds the index from what remains. `len` beyond the journal
    /// is refused; `len` equal to it changes nothing.
    pub fn truncate_journal(&mut self, len: u64) -> Result<()> {
        let total = self.journal.len;
        if len > total {
            return Err(Error::invalid("journal length", format!("{len} is beyond the journal's end ({total})")));
        }
        if len == total {
            return Ok(());
        }
        let end = self.position(len, "journal length")?;
        // The index goes first: a crash after it leaves an index that replays the journal,
        // whatever its length then.
        self.index.reset()?;
        self.state = MetaState::default();
        *guard(&self.content_index) = None;
        guard(&self.positions).truncate(usize::try_from(len).unwrap_or(usize::MAX).saturating_add(1));
        let cut = self.journal.truncate(len, end);
        self.journal_damaged = None;
        // Whether or not the cut succeeded, the index follows the journal as it now is.
        self.catch_up()?;
        cut
    }
}
