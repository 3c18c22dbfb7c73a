//! Cases and their notes: opening, editing, finding and listing cases, and a case's detail.

use super::*;

impl Store {
    /// Creates a case; returns its id.
    pub fn create_case(&mut self, new: NewCase) -> Result<Uuid> {
        let title = clean_required("title", &new.title)?;
        let id = Uuid::now_v7();
        let tags: Vec<String> = new.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        self.record(vec![EventKind::CaseCreated {
            case_id: id,
            reference: clean_optional(new.reference),
            title,
            summary: clean_optional(new.summary),
            tags,
            status: CaseStatus::Open,
            category: clean_category(new.category)?,
        }])?;
        Ok(id)
    }

    /// Edits a case.
    pub fn edit_case(&mut self, case: Uuid, edit: CaseEdit) -> Result<()> {
        let current = self.case_record(case)?;
        let title = match edit.title {
            Some(t) => Some(clean_required("title", &t)?),
            None => None,
        };
        let category = clean_category(edit.category)?;
        // The category decides which retention rule deletes the case: a supervisor's change (the
        // agency holds a sender to the same rule, `supervisor_only`).
        if category.is_some() && category != current.category && self.me.role != Role::Supervisor {
            return Err(Error::NotAllowed {
                what: "changing a case's category, which decides its retention rule: only supervisors may".into(),
            });
        }
        // Tags as `case_created` keeps them: trimmed, blanks dropped; duplicates dropped too.
        let tags = edit.tags.map(|tags| {
            let mut out: Vec<String> = Vec::new();
            for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_string());
                }
            }
            out
        });
        if title.is_none()
            && edit.summary.is_none()
            && edit.status.is_none()
            && edit.reference.is_none()
            && category.is_none()
            && tags.is_none()
        {
            return Err(Error::invalid("edit", "nothing to change: give a new title, summary, status, reference, category or tags"));
        }
        self.record(vec![EventKind::CaseEdited {
            case_id: case,
            title,
            summary: edit.summary,
            status: edit.status,
            reference: edit.reference,
            category,
            tags,
        }])?;
        Ok(())
    }

    /// Amends a note of this profile's member: `text` replaces its current text (the original
    /// and earlier amendments stay in its history and the journal). Only the note's author may
    /// amend it.
    pub fn amend_note(&mut self, case: Uuid, note: Uuid, text: &str, reason: Option<String>) -> Result<()> {
        self.case_record(case)?;
        let not_found = || Error::NotFound { what: "note", query: note.to_string(), hint: "use a note id the case shows" };
        let rec: NoteRecord = get_json::<NoteRecord>(&mut IndexReader(&self.index), Table::Notes, &projection::note_key(case, note))?
            .filter(|n| n.added)
            .ok_or_else(not_found)?;
        if rec.author != self.me.member_id {
            return Err(Error::NotAllowed {
                what: "amending a note: only its author may (this note was written by another member; add a note of your own instead)"
                    .into(),
            });
        }
        let text = clean_required("note", text)?;
        if text == rec.current_text() {
            return Err(Error::invalid("note", "the new text is the note's current text: nothing to amend"));
        }
        self.record(vec![EventKind::NoteAmended { case_id: case, note_id: note, text, reason: clean_optional(reason) }])?;
        Ok(())
    }

    /// Adds a note; returns its id.
    pub fn add_note(&mut self, case: Uuid, text: &str) -> Result<Uuid> {
        self.case_record(case)?;
        let text = clean_required("note", text)?;
        let id = Uuid::now_v7();
        self.record(vec![EventKind::NoteAdded { case_id: case, note_id: id, text }])?;
        Ok(id)
    }

    /// Adds `member` to the case's team. Only a supervisor or the case's lead may; the agency
    /// holds the sender to the same rule.
    pub fn assign(&mut self, case: Uuid, member: Uuid) -> Result<()> {
        let c = self.team_change_allowed(case, member)?;
        if c.on_team(member) {
            return Err(Error::invalid("member", format!("{member} is already on the team of this case")));
        }
        self.record(vec![EventKind::TeamAssigned { case_id: case, member_id: member }])?;
        Ok(())
    }

    /// Removes `member` from the case's team (never its lead); the same rule as [`Store::assign`].
    pub fn unassign(&mut self, case: Uuid, member: Uuid) -> Result<()> {
        let c = self.team_change_allowed(case, member)?;
        if c.lead() == Some(member) {
            return Err(Error::invalid("member", format!("{member} opened this case and leads it; the lead stays on the team")));
        }
        if !c.on_team(member) {
            return Err(Error::invalid("member", format!("{member} is not on the team of this case")));
        }
        self.record(vec![EventKind::TeamUnassigned { case_id: case, member_id: member }])?;
        Ok(())
    }

    /// Puts a case under legal hold (supervisors only; `reason` required): nothing of it may be
    /// deleted while it is held.
    pub fn place_hold(&mut self, case: Uuid, reason: &str) -> Result<()> {
        let (c, reason) = self.hold_change(case, reason)?;
        if c.hold.is_some() {
            return Err(Error::invalid("hold", "the case is already under legal hold"));
        }
        self.record(vec![EventKind::HoldPlaced { case_id: case, reason }])?;
        Ok(())
    }

    /// Releases a case's legal hold (supervisors only; `reason` required).
    pub fn release_hold(&mut self, case: Uuid, reason: &str) -> Result<()> {
        let (c, reason) = self.hold_change(case, reason)?;
        if c.hold.is_none() {
            return Err(Error::invalid("hold", "the case is not under legal hold"));
        }
        self.record(vec![EventKind::HoldReleased { case_id: case, reason }])?;
        Ok(())
    }

    fn hold_change(&self, case: Uuid, reason: &str) -> Result<(CaseRecord, String)> {
        let c = self.case_record(case)?;
        if self.me.role != Role::Supervisor {
            return Err(Error::NotAllowed { what: "placing or releasing a legal hold: only supervisors may".into() });
        }
        Ok((c, clean_required("reason", reason)?))
    }

    fn team_change_allowed(&self, case: Uuid, member: Uuid) -> Result<CaseRecord> {
        let c = self.case_record(case)?;
        if member.is_nil() {
            return Err(Error::invalid("member", "the nil id names no member"));
        }
        let me = &self.me;
        if !c.may_manage_team(me.member_id, me.role) {
            return Err(Error::NotAllowed {
                what: "changing this case's team: only a supervisor or the case's lead (its opener) may".into(),
            });
        }
        Ok(c)
    }

    pub(super) fn case_record(&self, id: Uuid) -> Result<CaseRecord> {
        let rec: Option<CaseRecord> = get_json(&mut IndexReader(&self.index), Table::Cases, id.as_bytes())?;
        rec.filter(|c| c.created).ok_or_else(|| Error::UnknownCase { query: id.to_string() })
    }

    /// Resolves a case by full id, unique id prefix, or agency reference.
    pub fn resolve_case(&self, query: &str) -> Result<Uuid> {
        let q = query.trim();
        if let Ok(id) = Uuid::parse_str(q) {
            self.case_record(id)?;
            return Ok(id);
        }
        // Index keys are keyed: a prefix or a reference is found by opening the case records.
        let cases: Vec<CaseRecord> = self.index.scan_json::<CaseRecord>(Table::Cases, &[])?.into_iter().filter(|c| c.created).collect();
        let lower = q.to_ascii_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let matches: Vec<Uuid> = cases.iter().map(|c| c.id).filter(|id| id.to_string().starts_with(&lower)).collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                n => return Err(Error::AmbiguousCase { query: q.to_string(), count: n }),
            }
        }
        // By reference.
        let found: Vec<Uuid> =
            cases.iter().filter(|c| c.reference.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(q))).map(|c| c.id).collect();
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::UnknownCase { query: q.to_string() }),
            n => Err(Error::AmbiguousCase { query: q.to_string(), count: n }),
        }
    }

    /// Cases, most recently changed first.
    pub fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>> {
        let needle = filter.search.as_ref().map(|s| s.to_lowercase());
        let mut out = Vec::new();
        for c in self.index.scan_json::<CaseRecord>(Table::Cases, &[])? {
            if !c.created || filter.status.is_some_and(|s| s != c.status) {
                continue;
            }
            if let Some(n) = &needle {
                let hay = [Some(c.title.as_str()), c.summary.as_deref(), c.reference.as_deref()]
                    .into_iter()
                    .flatten()
                    .chain(c.tags.iter().map(String::as_str))
                    .any(|s| s.to_lowercase().contains(n.as_str()));
                if !hay {
                    continue;
                }
            }
            let evidence_count = self.index.count_prefix(Table::CaseEvidence, c.id.as_bytes());
            let on_team = c.on_team(self.me.member_id);
            out.push(CaseSummary {
                on_team,
                id: c.id,
                reference: c.reference,
                title: c.title,
                status: c.status,
                updated_at: c.updated_at,
                evidence_count,
            });
        }
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// A case with its evidence and notes.
    pub fn case(&self, id: Uuid) -> Result<CaseDetail> {
        let c = self.case_record(id)?;
        let evidence = self.list_evidence(id)?;
        let mut notes: Vec<NoteView> = Vec::new();
        for n in self.index.scan_json::<NoteRecord>(Table::Notes, id.as_bytes())? {
            if !n.added {
                continue;
            }
            let amendments: Vec<NoteAmendmentView> =
                n.valid_amendments().map(|a| NoteAmendmentView { text: a.text.clone(), reason: a.reason.clone(), at: a.at }).collect();
            notes.push(NoteView {
                id: n.id,
                text: n.current_text().to_string(),
                author: n.author,
                author_name: self.member_name(n.author),
                at: n.at,
                original_text: (!amendments.is_empty()).then(|| n.text.clone()),
                amendments,
            });
        }
        notes.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let team = c.team.iter().map(|m| TeamMemberView { id: *m, name: self.member_name(*m), lead: c.lead() == Some(*m) }).collect();
        let on_team = c.on_team(self.me.member_id);
        let hold = c.hold.map(|h| HoldView { by_name: self.member_name(h.by), reason: h.reason, by: h.by, at: h.at });
        Ok(CaseDetail {
            id: c.id,
            reference: c.reference,
            title: c.title,
            summary: c.summary,
            status: c.status,
            tags: c.tags,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            evidence_count: evidence.len(),
            evidence,
            notes,
            team,
            on_team,
            hold,
            category: c.category,
        })
    }
}

/// Longest case category accepted.
pub const MAX_CATEGORY_CHARS: usize = 64;

/// A case category as given: trimmed and lowercased; empty is none. Letters, digits, `-`
/// and `_` only, at most [`MAX_CATEGORY_CHARS`] characters (retention rules name it).
fn clean_category(c: Option<String>) -> Result<Option<String>> {
    let Some(c) = c.map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty()) else { return Ok(None) };
    if c.chars().count() > MAX_CATEGORY_CHARS || !c.chars().all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_') {
        return Err(Error::invalid(
            "category",
            format!("a category is at most {MAX_CATEGORY_CHARS} letters, digits, '-' or '_' (for example burglary or fraud-online)"),
        ));
    }
    Ok(Some(c))
}
