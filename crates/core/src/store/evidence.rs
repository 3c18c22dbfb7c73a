//! Evidence items: importing a file, exporting and re-hashing an item, finding and listing
//! items, and an item's chain of custody.

use super::*;

impl Store {
    /// Imports a file as evidence: streams it into a sealed object, then records
    /// `evidence_added` and a custody entry `imported` in one durable journal append.
    pub fn add_evidence(&mut self, case: Uuid, path: &Path, opts: &EvidenceOptions, progress: &mut dyn Progress) -> Result<AddedEvidence> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        self.case_record(case)?;
        let meta = fs::metadata(path).map_err(Error::io("reading", path))?;
        if !meta.is_file() {
            return Err(Error::invalid("file", format!("{} is not a regular file", path.display())));
        }
        let head = metadata::read_head(path).map_err(Error::io("reading", path))?;
        let media_type = metadata::sniff_media_type(&head);
        let extracted = metadata::extract(path, &media_type);
        let mut file = File::open(path).map_err(Error::io("reading", path))?;
        let stored = self.objects.import(&mut file, progress)?;
        let sha = to_hex(&stored.sha256);
        let id = Uuid::now_v7();
        let original_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.record(vec![
            EventKind::EvidenceAdded {
                evidence_id: id,
                case_id: case,
                object: ObjectRef { sha256: sha.clone(), size: stored.size },
                media_type: media_type.clone(),
                original_name,
                claimed_captured_at: opts.captured_at,
                claimed_location: opts.location,
                extracted,
                description: clean_optional(opts.description.clone()),
            },
            EventKind::CustodyRecorded {
                evidence_id: id,
                action: CustodyAction::Imported,
                reason: None,
                sha256: sha.clone(),
                observed: None,
            },
        ])?;
        Ok(AddedEvidence { id, sha256: sha, size: stored.size, media_type })
    }

    /// Writes an item's original bytes to `out` (never overwriting), re-checking the hash on
    /// the way, and records custody `exported`.
    pub fn export_evidence(&mut self, id: Uuid, out: &Path, reason: Option<String>, progress: &mut dyn Progress) -> Result<Exported> {
        if let Some(at) = self.journal_damaged {
            return Err(Error::JournalDamaged { record: at });
        }
        let rec = self.evidence_record(id)?;
        self.ensure_not_deleted(id)?;
        let sha = decode_sha(&rec.sha256)?;
        let mut f = match OpenOptions::new().write(true).create_new(true).open(out) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::WouldOverwrite { path: out.to_path_buf() }),
            Err(e) => return Err(Error::io("creating", out)(e)),
        };
        let result = (|| {
            let mut w = std::io::BufWriter::with_capacity(1024 * 1024, &mut f);
            self.objects.read(&sha, rec.size, &mut w, progress)?;
            w.flush().map_err(Error::io("writing", out))?;
            drop(w);
            f.sync_all().map_err(Error::io("syncing", out))
        })();
        if let Err(e) = result {
            drop(f);
            let _ = fs::remove_file(out);
            return Err(e);
        }
        self.record(vec![EventKind::CustodyRecorded {
            evidence_id: id,
            action: CustodyAction::Exported,
            reason: clean_optional(reason),
            sha256: rec.sha256.clone(),
            observed: None,
        }])?;
        Ok(Exported { id, path: out.to_path_buf(), sha256: rec.sha256, size: rec.size })
    }

    /// Re-hashes an item's content and records custody `verified` when it is intact.
    pub fn verify_evidence(&mut self, id: Uuid, progress: &mut dyn Progress) -> Result<()> {
        let rec = self.evidence_record(id)?;
        self.ensure_not_deleted(id)?;
        let sha = decode_sha(&rec.sha256)?;
        self.objects.read(&sha, rec.size, &mut std::io::sink(), progress)?;
        self.record(vec![EventKind::CustodyRecorded {
            evidence_id: id,
            action: CustodyAction::Verified,
            reason: None,
            sha256: rec.sha256,
            observed: None,
        }])?;
        Ok(())
    }

    pub(super) fn evidence_record(&self, id: Uuid) -> Result<EvidenceRecord> {
        let rec: Option<EvidenceRecord> = get_json(&mut IndexReader(&self.index), Table::Evidence, id.as_bytes())?;
        rec.ok_or_else(|| Error::UnknownEvidence { query: id.to_string() })
    }

    /// Resolves an evidence item by full id or unique id prefix.
    pub fn resolve_evidence(&self, query: &str) -> Result<Uuid> {
        let q = query.trim().to_ascii_lowercase();
        if let Ok(id) = Uuid::parse_str(&q) {
            self.evidence_record(id).map_err(|_| Error::UnknownEvidence { query: query.to_string() })?;
            return Ok(id);
        }
        if q.len() < 4 || !q.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::UnknownEvidence { query: query.to_string() });
        }
        let matches: Vec<Uuid> = self
            .index
            .keys(Table::Evidence)?
            .iter()
            .filter_map(|k| Uuid::from_slice(k).ok())
            .filter(|id| id.to_string().starts_with(&q))
            .collect();
        match matches.len() {
            1 => Ok(matches[0]),
            0 => Err(Error::UnknownEvidence { query: query.to_string() }),
            n => Err(Error::AmbiguousEvidence { query: query.to_string(), count: n }),
        }
    }

    fn view(&self, e: EvidenceRecord) -> EvidenceView {
        EvidenceView {
            id: e.id,
            case_id: e.case_id,
            sha256: e.sha256,
            size: e.size,
            media_type: e.media_type,
            original_name: e.original_name,
            captured_at: e.claimed_captured_at.or(e.extracted.captured_at),
            location: e.claimed_location.or(e.extracted.location),
            camera: e.extracted.camera.clone(),
            description: e.description,
            claimed: Claimed { captured_at: e.claimed_captured_at, location: e.claimed_location },
            extracted: e.extracted,
            contributor_name: self.member_name(e.contributor),
            derived_from: get_json(&mut IndexReader(&self.index), Table::Provenance, e.id.as_bytes()).ok().flatten(),
            contributor: e.contributor,
            added_at: e.added_at,
            deleted: self.tombstone(e.id).ok().flatten().map(|t| DeletedView {
                rule: t.tombstone.rule,
                reason: t.tombstone.reason,
                deleted_at: t.tombstone.deleted_at,
            }),
        }
    }

    /// One evidence item.
    pub fn evidence(&self, id: Uuid) -> Result<EvidenceView> {
        Ok(self.view(self.evidence_record(id)?))
    }

    /// A case's evidence, oldest first.
    pub fn list_evidence(&self, case: Uuid) -> Result<Vec<EvidenceView>> {
        self.case_record(case)?;
        let mut out = Vec::new();
        for k in self.index.scan_prefix(Table::CaseEvidence, case.as_bytes())? {
            let ev = Uuid::from_slice(&k.0[16..]).map_err(|_| Error::IndexDamaged { what: "a case_evidence key is malformed".into() })?;
            out.push(self.view(self.evidence_record(ev)?));
        }
        out.sort_by(|a, b| a.added_at.cmp(&b.added_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// An item's custody trail, in order.
    pub fn custody(&self, id: Uuid) -> Result<Vec<CustodyView>> {
        self.evidence_record(id)?;
        let mut out = Vec::new();
        for c in self.index.scan_json::<CustodyRecord>(Table::Custody, id.as_bytes())? {
            out.push(CustodyView {
                at: c.at,
                action: c.action,
                actor_name: self.member_name(c.actor),
                actor: c.actor,
                device: c.device,
                reason: c.reason,
                sha256: c.sha256,
                event_hash: c.event_hash,
                observed: c.observed,
            });
        }
        Ok(out)
    }
}
