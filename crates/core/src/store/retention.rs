//! Deletion (issue 16): agency-signed tombstones applied to the store (crypto-shredding of the
//! item's content), and a volunteer's withdrawal of a submission.
//!
//! A tombstone is checked here against what the store holds, whoever checked its signature
//! (the trust layer verifies it against the agency's root key first): the item must be held
//! ([`TOMBSTONE_UNKNOWN_ITEM`]), the hash must be the item's ([`TOMBSTONE_MISMATCH`]) and its
//! case must not be under legal hold ([`CASE_ON_HOLD`]). Applying it records
//! `tombstone_stored` (durable first), then destroys the content's sealed object, which holds
//! the item's wrapped key, unless another item still held names the same content.

use super::*;
use crate::model::{ReviewState, Tombstone};
use crate::projection::{TombstoneRecord, WithdrawalRecord};

/// Reason code: a tombstone names an item this store does not hold.
pub const TOMBSTONE_UNKNOWN_ITEM: &str = "tombstone_unknown_item";
/// Reason code: a tombstone names an item with another case or content hash than held.
pub const TOMBSTONE_MISMATCH: &str = "tombstone_mismatch";
/// Reason code: the item's case is under legal hold; nothing of it may be deleted.
pub const CASE_ON_HOLD: &str = "case_on_hold";
/// Reason code: the item was deleted; its content is gone.
pub const EVIDENCE_DELETED: &str = "evidence_deleted";
/// Reason code: a withdrawal of a submission someone else made.
pub const NOT_YOUR_SUBMISSION: &str = "not_your_submission";
/// Reason code: a withdrawal of a submission with an accepted item.
pub const SUBMISSION_ACCEPTED: &str = "submission_accepted";
/// Reason code: the submission was withdrawn already.
pub const ALREADY_WITHDRAWN: &str = "already_withdrawn";

/// Longest withdrawal reason accepted.
pub const MAX_WITHDRAWAL_REASON_CHARS: usize = 500;

impl Store {
    /// The tombstone of item `id`, when it was deleted.
    pub fn tombstone(&self, id: Uuid) -> Result<Option<TombstoneRecord>> {
        get_json(&mut IndexReader(&self.index), Table::Tombstones, id.as_bytes())
    }

    /// Every tombstone held (of case `case` only, when given), oldest deletion first.
    pub fn tombstones(&self, case: Option<Uuid>) -> Result<Vec<TombstoneRecord>> {
        let mut out: Vec<TombstoneRecord> = self
            .index
            .scan_json::<TombstoneRecord>(Table::Tombstones, &[])?
            .into_iter()
            .filter(|t| case.is_none_or(|c| t.tombstone.case_id == c))
            .collect();
        out.sort_by(|a, b| a.tombstone.deleted_at.cmp(&b.tombstone.deleted_at).then(a.tombstone.evidence_id.cmp(&b.tombstone.evidence_id)));
        Ok(out)
    }

    /// Every evidence item held (deleted ones too, shredded), in no particular order.
    pub fn all_evidence(&self) -> Result<Vec<EvidenceRecord>> {
        self.index.scan_json::<EvidenceRecord>(Table::Evidence, &[])
    }

    /// The withdrawal of submission `id`, when its volunteer withdrew it.
    pub fn withdrawal(&self, id: Uuid) -> Result<Option<WithdrawalRecord>> {
        get_json(&mut IndexReader(&self.index), Table::Withdrawals, id.as_bytes())
    }

    /// Every withdrawal held.
    pub fn withdrawals(&self) -> Result<Vec<WithdrawalRecord>> {
        self.index.scan_json::<WithdrawalRecord>(Table::Withdrawals, &[])
    }

    /// Refuses reading the content of a deleted item ([`EVIDENCE_DELETED`]).
    pub(super) fn ensure_not_deleted(&self, id: Uuid) -> Result<()> {
        match self.tombstone(id)? {
            None => Ok(()),
            Some(t) => Err(Error::Refused {
                code: EVIDENCE_DELETED,
                message: format!(
                    "evidence {id} was deleted under rule {} on {}; its content no longer exists",
                    t.tombstone.rule,
                    t.tombstone.deleted_at.format("%Y-%m-%d")
                ),
            }),
        }
    }

    /// Whether tombstone `t` may be applied here: `Ok(true)` when it is new, `Ok(false)` when
    /// the item was deleted already (nothing to do). Refused for an item this store does not
    /// hold, one whose case or hash differs, or one of a case under legal hold.
    pub fn check_tombstone(&self, t: &Tombstone) -> Result<bool> {
        if self.tombstone(t.evidence_id)?.is_some() {
            return Ok(false);
        }
        let Some(e) = self.records().evidence(t.evidence_id)? else {
            return Err(Error::Refused {
                code: TOMBSTONE_UNKNOWN_ITEM,
                message: format!("a tombstone names evidence {}, which this store does not hold; nothing was deleted", t.evidence_id),
            });
        };
        if e.case_id != t.case_id || !crate::crypto::ct_eq(e.sha256.as_bytes(), t.sha256.as_bytes()) {
            return Err(Error::Refused {
                code: TOMBSTONE_MISMATCH,
                message: format!("a tombstone for evidence {} names another case or content; nothing was deleted", t.evidence_id),
            });
        }
        if self.records().case(e.case_id)?.is_some_and(|c| c.hold.is_some()) {
            return Err(Error::Refused {
                code: CASE_ON_HOLD,
                message: format!(
                    "case {} is under legal hold: evidence {} may not be deleted; nothing was deleted",
                    e.case_id, t.evidence_id
                ),
            });
        }
        Ok(true)
    }

    /// Applies tombstones (each with its signed document, base64), all or none: each is
    /// checked ([`Store::check_tombstone`]; one refusal refuses all), the new ones are
    /// recorded in one durable append, then each deleted item's content is destroyed
    /// ([`ObjectBackend::shred`]) unless another item still held names it. Returns the items
    /// deleted now. A crash after the append leaves the object unreferenced: `check` counts
    /// it as an orphan and the next collection of orphans (or the next tombstone) removes it.
    pub fn apply_tombstones(&mut self, tombstones: Vec<(Tombstone, String)>) -> Result<Vec<Uuid>> {
        let (deleted, shas) = self.record_tombstones_inner(tombstones)?;
        self.shred_unreferenced(&shas)?;
        Ok(deleted)
    }

    /// The first half of [`Store::apply_tombstones`]: checks and records the tombstones (all or
    /// none, in one durable append) without destroying any content. For a store whose journal
    /// must reach somewhere else before anything is destroyed (a cluster replica's copy: its
    /// records go to the cluster's database first); [`Store::shred_deleted`] destroys the
    /// content afterwards. Returns the items deleted now.
    pub fn record_tombstones(&mut self, tombstones: Vec<(Tombstone, String)>) -> Result<Vec<Uuid>> {
        Ok(self.record_tombstones_inner(tombstones)?.0)
    }

    fn record_tombstones_inner(&mut self, tombstones: Vec<(Tombstone, String)>) -> Result<(Vec<Uuid>, Vec<String>)> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut new = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (t, doc) in tombstones {
            if self.check_tombstone(&t)? && seen.insert(t.evidence_id) {
                new.push((t, doc));
            }
        }
        let deleted: Vec<Uuid> = new.iter().map(|(t, _)| t.evidence_id).collect();
        let shas: Vec<String> = new.iter().map(|(t, _)| t.sha256.clone()).collect();
        self.record_locals(new.into_iter().map(|(tombstone, document)| ProfileEvent::TombstoneStored { tombstone, document }).collect())?;
        Ok((deleted, shas))
    }

    /// The content objects of deleted items that are still held: (item, keyed object name),
    /// each object once, leaving out content another item still held (not deleted) names.
    /// Empty after every completed deletion; an object here was left by a deletion interrupted
    /// between its tombstone and the destruction of its content (a crash, an object store that
    /// did not answer), and still holds the item's wrapped key: [`Store::shred_deleted`]
    /// destroys it. One listing of the objects, whatever the number of tombstones.
    pub fn deleted_content_held(&self) -> Result<Vec<(Uuid, String)>> {
        let live = self.live_objects()?;
        let held: std::collections::BTreeSet<String> = self.objects.files()?.into_iter().map(|f| f.name).collect();
        let mut out: Vec<(Uuid, String)> = Vec::new();
        for t in self.tombstones(None)? {
            let name = self.objects.name_of(&decode_sha(&t.tombstone.sha256)?);
            if !live.contains(&name) && held.contains(&name) && !out.iter().any(|(_, n)| *n == name) {
                out.push((t.tombstone.evidence_id, name));
            }
        }
        Ok(out)
    }

    /// The keyed name content `sha256` (hex) has among this store's objects (an HMAC under a
    /// key of the store: never the hash itself), whether or not it is held.
    pub fn content_object_name(&self, sha256: &str) -> Result<String> {
        Ok(self.objects.name_of(&decode_sha(sha256)?))
    }

    /// Destroys the content of every deleted item still held ([`Store::deleted_content_held`]):
    /// completes deletions recorded with [`Store::record_tombstones`], or interrupted after
    /// their tombstone. Returns how many objects were destroyed.
    pub fn shred_deleted(&self) -> Result<usize> {
        let pending = self.deleted_content_held()?;
        for (_, name) in &pending {
            self.objects.shred(name)?;
        }
        if !pending.is_empty() {
            self.objects.sync()?;
        }
        Ok(pending.len())
    }

    /// Destroys the objects of `shas` that no item still held (not deleted) names.
    fn shred_unreferenced(&self, shas: &[String]) -> Result<()> {
        if shas.is_empty() {
            return Ok(());
        }
        let live = self.live_objects()?;
        for sha in shas {
            let name = self.objects.name_of(&decode_sha(sha)?);
            if !live.contains(&name) {
                self.objects.shred(&name)?;
            }
        }
        self.objects.sync()
    }

    /// The keyed names of the objects named by items held and not deleted.
    pub(super) fn live_objects(&self) -> Result<std::collections::BTreeSet<String>> {
        let deleted: std::collections::BTreeSet<Uuid> =
            self.index.scan_json::<TombstoneRecord>(Table::Tombstones, &[])?.into_iter().map(|t| t.tombstone.evidence_id).collect();
        let mut names = std::collections::BTreeSet::new();
        for e in self.index.scan_json::<EvidenceRecord>(Table::Evidence, &[])? {
            if !deleted.contains(&e.id) {
                names.insert(self.objects.name_of(&decode_sha(&e.sha256)?));
            }
        }
        Ok(names)
    }

    /// A volunteer withdraws one of their submissions: signs `submission_withdrawn`, which the
    /// next sync carries to the agency. Refused for another member's submission
    /// ([`NOT_YOUR_SUBMISSION`]), one with an item accepted ([`SUBMISSION_ACCEPTED`]) and one
    /// withdrawn already ([`ALREADY_WITHDRAWN`]). (The agency refuses the same, and a case
    /// under legal hold, which a volunteer's store does not know.)
    pub fn withdraw_submission(&mut self, id: Uuid, reason: Option<String>) -> Result<()> {
        let s = self.submission(id)?;
        if s.submitter != self.me.member_id {
            return Err(Error::Refused {
                code: NOT_YOUR_SUBMISSION,
                message: format!("submission {id} is not yours: only its volunteer may withdraw it"),
            });
        }
        if s.items.iter().any(|i| i.state == ReviewState::Accepted) {
            return Err(Error::Refused {
                code: SUBMISSION_ACCEPTED,
                message: format!("submission {id} has an accepted item: it is part of the case and can no longer be withdrawn"),
            });
        }
        if self.withdrawal(id)?.is_some() {
            return Err(Error::Refused { code: ALREADY_WITHDRAWN, message: format!("submission {id} was withdrawn already") });
        }
        let reason = clean_optional(reason);
        if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_WITHDRAWAL_REASON_CHARS) {
            return Err(Error::invalid("reason", format!("at most {MAX_WITHDRAWAL_REASON_CHARS} characters")));
        }
        self.record(vec![EventKind::SubmissionWithdrawn { case_id: s.case_id, submission_id: id, reason }])?;
        Ok(())
    }
}
