//! [`Records`]: the records a store holds, read by id and as they are, for rules that live
//! above the store. The agency endpoint decides with these who may see which event and which
//! content (crates/agency/src/access.rs); nothing here filters by member or role.

use super::*;
use crate::projection::{BriefRecord, SubmissionRecord};

/// A read-only view of the records a store holds (see [`Store::records`]). It borrows the
/// store (`&self`), so the endpoint reads under its store's read lock.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    store: &'a Store,
}

impl Store {
    /// The records this store holds, by id, as they are (for rules that live above the store).
    pub fn records(&self) -> Records<'_> {
        Records { store: self }
    }
}

impl Records<'_> {
    fn get<T: serde::de::DeserializeOwned>(&self, table: Table, id: Uuid) -> Result<Option<T>> {
        get_json(&mut IndexReader(&self.store.index), table, id.as_bytes())
    }

    /// A brief as held: published or not (an event may name one whose publication is not
    /// held), withdrawn or not.
    pub fn brief(&self, id: Uuid) -> Result<Option<BriefRecord>> {
        self.get(Table::Briefs, id)
    }

    /// A case as held, once its `case_created` is (a team change or edit that arrived first
    /// leaves a placeholder, which this does not return).
    pub fn case(&self, id: Uuid) -> Result<Option<CaseRecord>> {
        Ok(self.get::<CaseRecord>(Table::Cases, id)?.filter(|c| c.created))
    }

    /// The case an event belongs to: the one it names, or its evidence item's.
    pub fn case_of(&self, kind: &EventKind) -> Result<Option<Uuid>> {
        if let Some(c) = kind.case_id() {
            return Ok(Some(c));
        }
        match kind.evidence_id() {
            Some(e) => Ok(self.evidence(e)?.map(|r| r.case_id)),
            None => Ok(None),
        }
    }

    /// A note as held (a placeholder, `added` false, when only amendments of it are held).
    pub fn note(&self, case: Uuid, note: Uuid) -> Result<Option<crate::projection::NoteRecord>> {
        get_json(&mut IndexReader(&self.store.index), Table::Notes, &crate::projection::note_key(case, note))
    }

    /// A submission as held.
    pub fn submission(&self, id: Uuid) -> Result<Option<SubmissionRecord>> {
        self.get(Table::Submissions, id)
    }

    /// The submission an evidence item came with, if any.
    pub fn submission_of(&self, evidence: Uuid) -> Result<Option<SubmissionRecord>> {
        match self.store.index.get(Table::EvidenceSubmission, evidence.as_bytes())? {
            Some(v) => {
                let id =
                    Uuid::from_slice(&v).map_err(|_| Error::IndexDamaged { what: "an evidence_submission value is malformed".into() })?;
                self.submission(id)
            }
            None => Ok(None),
        }
    }

    /// Every submission `member` made, as held.
    pub fn submissions_by(&self, member: Uuid) -> Result<Vec<SubmissionRecord>> {
        Ok(self.store.index.scan_json::<SubmissionRecord>(Table::Submissions, &[])?.into_iter().filter(|s| s.submitter == member).collect())
    }

    /// An evidence item as held.
    pub fn evidence(&self, id: Uuid) -> Result<Option<EvidenceRecord>> {
        self.get(Table::Evidence, id)
    }

    /// The evidence item (the smallest id, when several items have the same content) whose
    /// content has this SHA-256 (64 hex digits, any case), whether the content is held or not.
    /// The first call builds an in-memory map from content to item, kept up to date as events
    /// are applied; it is never written to disk (an index key would reveal the hash).
    pub fn evidence_with_content(&self, sha256: &str) -> Result<Option<EvidenceRecord>> {
        let sha = sha256.trim().to_ascii_lowercase();
        if decode_sha(&sha).is_err() {
            return Err(Error::invalid("content hash", "not 64 hex digits"));
        }
        let found = {
            let mut content_index = super::guard(&self.store.content_index);
            if content_index.is_none() {
                let mut ci: BTreeMap<String, Uuid> = BTreeMap::new();
                for e in self.store.index.scan_json::<EvidenceRecord>(Table::Evidence, &[])? {
                    let slot = ci.entry(e.sha256).or_insert(e.id);
                    *slot = (*slot).min(e.id);
                }
                *content_index = Some(ci);
            }
            content_index.as_ref().and_then(|ci| ci.get(&sha)).copied()
        };
        found.map(|id| self.store.evidence_record(id)).transpose()
    }
}

impl std::fmt::Debug for Records<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}
