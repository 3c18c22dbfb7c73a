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
        self.case_record(case)?;
        if let Some(e) = evidence {
            self.evidence_record(e)?;
        }
        self.record(vec![EventKind::AccessRecorded {
            case_id: case,
            evidence_id: evidence,
            action: action.to_string(),
            reason: clean_optional(reason),
        }])?;
        Ok(())
    }

    /// The access log of a case, oldest first.
    pub fn access_log(&self, case: Uuid) -> Result<Vec<projection::AccessRecord>> {
        self.case_record(case)?;
        self.index.scan_json(Table::Access, case.as_bytes())
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
