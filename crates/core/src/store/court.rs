//! Court material: derivatives with provenance, the access log, disclosures.

use super::*;

impl Store {
    // ----- court: derivatives, access log, disclosure -------------------------------------

    /// Adds a derivative of `original` (e.g. a redacted copy) from `content`, which never
    /// touches the disk unsealed. One append records: the new item (`evidence_added`), its
    /// custody `imported`, the signed provenance (`evidence_derived`: original id and hash,
    /// operations), and custody `redacted` on the original. The original is not modified.
    pub fn add_derivative(
        &mut self,
        original: Uuid,
        content: &mut dyn std::io::Read,
        media_type: &str,
        name: &str,
        operations: Vec<String>,
        progress: &mut dyn Progress,
    ) -> Result<AddedEvidence> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let orig = self.evidence_record(original)?;
        if operations.is_empty() {
            return Err(Error::invalid("operations", "a derivative needs at least one operation"));
        }
        let stored = self.objects.import(content, progress)?;
        let sha = to_hex(&stored.sha256);
        let id = Uuid::now_v7();
        let ops = operations.join("; ");
        self.record(vec![
            EventKind::EvidenceAdded {
                evidence_id: id,
                case_id: orig.case_id,
                object: ObjectRef { sha256: sha.clone(), size: stored.size },
                media_type: media_type.to_string(),
                original_name: name.to_string(),
                claimed_captured_at: orig.claimed_captured_at,
                claimed_location: None,
                extracted: crate::model::Extracted::default(),
                description: Some(format!("derivative of {original}: {ops}")),
            },
            EventKind::CustodyRecorded {
                evidence_id: id,
                action: CustodyAction::Imported,
                reason: Some(format!("derived from {original}")),
                sha256: sha.clone(),
                observed: None,
            },
            EventKind::EvidenceDerived {
                evidence_id: id,
                original_id: original,
                original_sha256: orig.sha256.clone(),
                sha256: sha.clone(),
                operations,
            },
            EventKind::CustodyRecorded {
                evidence_id: original,
                action: CustodyAction::Redacted,
                reason: Some(format!("derivative {id}: {ops}")),
                sha256: orig.sha256.clone(),
                observed: None,
            },
        ])?;
        Ok(AddedEvidence { id, sha256: sha, size: stored.size, media_type: media_type.to_string() })
    }

    /// Records an access by this profile to a case or an item (the access log).
    pub fn record_access(&mut self, case: Uuid, evidence: Option<Uuid>, action: &str, reason: Option<String>) -> Result<()> {
        self.record_access_of(case, evidence, Vec::new(), action, reason)
    }

    /// Records one access-log entry by this profile: to a case, an item, or a list view
    /// (`items`: the ids it showed, one entry per view). `case` is the nil id for a view of no
    /// single case (the case list). The entry extends this profile's access chain for the case
    /// (`access_seq`, `access_prev`: per author key and case), so a left-out entry is a gap.
    pub fn record_access_of(
        &mut self,
        case: Uuid,
        evidence: Option<Uuid>,
        items: Vec<Uuid>,
        action: &str,
        reason: Option<String>,
    ) -> Result<()> {
        if !case.is_nil() {
            self.case_record(case)?;
        }
        if let Some(e) = evidence {
            self.evidence_record(e)?;
        }
        let (seq, prev) = self.access_head(case)?;
        self.record(vec![EventKind::AccessRecorded {
            case_id: case,
            evidence_id: evidence,
            action: action.to_string(),
            reason: clean_optional(reason),
            item_ids: items,
            access_seq: Some(seq + 1),
            access_prev: Some(prev),
        }])?;
        Ok(())
    }

    /// Records a transfer of items to another holder (a bundle file handed over, a court
    /// package): custody `transferred` for each item (evidence id and its SHA-256 as carried),
    /// with `reason` naming the transfer, and for police staff (`log_access`) one access entry
    /// of `case` naming the items, all in one append. Unknown items are refused, nothing is
    /// recorded then. Written after the file is complete, so it is not in the file itself.
    pub fn record_transfer(&mut self, case: Uuid, items: &[(Uuid, String)], action: &str, reason: &str, log_access: bool) -> Result<()> {
        self.case_record(case)?;
        let mut kinds = Vec::with_capacity(items.len() + 1);
        for (id, sha) in items {
            self.evidence_record(*id)?;
            kinds.push(EventKind::CustodyRecorded {
                evidence_id: *id,
                action: CustodyAction::Transferred,
                reason: Some(reason.to_string()),
                sha256: sha.clone(),
                observed: None,
            });
        }
        if log_access {
            let (seq, prev) = self.access_head(case)?;
            kinds.push(EventKind::AccessRecorded {
                case_id: case,
                evidence_id: None,
                action: action.to_string(),
                reason: Some(reason.to_string()),
                item_ids: items.iter().map(|(id, _)| *id).collect(),
                access_seq: Some(seq + 1),
                access_prev: Some(prev),
            });
        }
        if !kinds.is_empty() {
            self.record(kinds)?;
        }
        Ok(())
    }

    /// The head of this profile's access chain for `case` (nil: the case list): the last
    /// sequence number (0 before the first) and that entry's event hash (zeros before the first).
    fn access_head(&self, case: Uuid) -> Result<(u64, String)> {
        let me = self.me.member_id;
        let key = self.me.public_key.clone();
        let head = self
            .index
            .scan_json::<projection::AccessRecord>(Table::Access, case.as_bytes())?
            .into_iter()
            .filter(|r| r.actor == me && r.key.as_deref() == Some(key.as_str()))
            .filter_map(|r| Some((r.access_seq?, r.event_hash?)))
            .max_by_key(|(seq, _)| *seq);
        Ok(head.unwrap_or_else(|| (0, to_hex(&crate::event::GENESIS_PREV))))
    }

    /// The access log of a case, oldest first.
    pub fn access_log(&self, case: Uuid) -> Result<Vec<projection::AccessRecord>> {
        self.case_record(case)?;
        self.index.scan_json(Table::Access, case.as_bytes())
    }

    /// The signed `access_recorded` events this store holds, in journal order: of the cases in
    /// `cases` (the nil id for the case list's entries), or of every case.
    pub fn access_events(&self, cases: Option<&std::collections::BTreeSet<Uuid>>) -> Result<Vec<SignedEvent>> {
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        let mut out = Vec::new();
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            if let EventKind::AccessRecorded { case_id, .. } = &ev.body().kind {
                if cases.is_none_or(|c| c.contains(case_id)) {
                    out.push(ev);
                }
            }
        }
        Ok(out)
    }

    /// Access-log entries of no single case (the case list views), oldest first.
    pub fn access_log_of_no_case(&self) -> Result<Vec<projection::AccessRecord>> {
        self.index.scan_json(Table::Access, Uuid::nil().as_bytes())
    }

    /// Records that a contributor's identity may be disclosed in court material for a case.
    /// Supervisors only (issue 16: they approve disclosure of a volunteer's identity); the
    /// agency holds a sender to the same rule (`supervisor_only`).
    pub fn record_disclosure(&mut self, case: Uuid, member: Uuid, reason: &str) -> Result<()> {
        self.case_record(case)?;
        if self.me.role != Role::Supervisor {
            return Err(Error::NotAllowed { what: "recording a disclosure of a contributor's identity: only supervisors may".into() });
        }
        let reason = clean_required("reason", reason)?;
        self.record(vec![EventKind::DisclosureRecorded { case_id: case, member_id: member, reason }])?;
        Ok(())
    }

    /// Disclosures recorded for a case.
    pub fn disclosures(&self, case: Uuid) -> Result<Vec<projection::DisclosureRecord>> {
        self.index.scan_json(Table::Disclosures, case.as_bytes())
    }

    /// The tag naming `member` in court material of `case` when the member's identity is not
    /// disclosed: `HMAC-SHA-256(K, "casebridge/v1/pseudonym" || case id || member id)`, with
    /// `K` = HKDF-SHA-256 of this store's master key for `casebridge/v1/key/pseudonym` (docs/FORMAT.md,
    /// "Pseudonyms"). Stable for one case in this store, different between cases, and not
    /// computable by anyone without the store's keys (unlike any hash of public ids).
    pub fn pseudonym_tag(&self, case: Uuid, member: Uuid) -> [u8; 32] {
        self.master.derive(purpose::PSEUDONYM).mac().sign(&[format::PSEUDONYM_CONTEXT, case.as_bytes(), member.as_bytes()])
    }

    /// A member known to this store (from their `profile_created` event), if any.
    pub fn member(&self, id: Uuid) -> Result<Option<MemberRecord>> {
        get_json(&mut IndexReader(&self.index), Table::Members, id.as_bytes())
    }
}
