//! This profile's own bookkeeping ([`ProfileEvent`]): recording it, and reading back what it
//! keeps (pinned agencies, credentials, revocation lists and receipts as trust documents; the
//! endpoints it knows; the bundles it sent and received). None of it is case history and none
//! of it travels in a bundle.

use super::*;

impl Store {
    /// Records an event of this profile's own bookkeeping (pinned agencies, credentials,
    /// revocation lists, endpoints, bundles, receipts): only a [`ProfileEvent`] can be
    /// recorded this way, never a case event.
    pub fn record_local(&mut self, kind: ProfileEvent) -> Result<SignedEvent> {
        let mut evs = self.record(vec![kind.into()])?;
        evs.pop().ok_or_else(|| Error::corrupt("internal: no event recorded"))
    }

    /// True when this profile may still take another member id ([`Store::adopt_member_id`]):
    /// it has recorded nothing but its creation and local bookkeeping, and holds no credential.
    pub fn can_adopt_member_id(&self) -> Result<bool> {
        if !self.index.is_empty(Table::Credentials) {
            return Ok(false);
        }
        let scan = self.journal.scan_from(format::JOURNAL_HEADER_LEN, 0)?;
        if let Some(at) = scan.damaged_at {
            return Err(Error::JournalDamaged { record: at });
        }
        for (rec, _) in scan.records {
            let ev = SignedEvent::from_envelope(rec.plaintext.to_vec())?;
            let k = &ev.body().kind;
            if !(k.is_local() || matches!(k, EventKind::ProfileCreated { .. })) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Makes this profile a new device of the existing member `member`: the agency bound this
    /// profile's key to that member (an invite made with `agency invite --member`), so its
    /// events from now on carry `member` as their author, under this profile's own key and
    /// device, in a chain of their own (chains are per key, docs/FORMAT.md). Allowed only while
    /// [`Store::can_adopt_member_id`]: case work recorded under the old id would be orphaned.
    /// The header's sealed profile record is rewritten atomically, then a `profile_created`
    /// event opens the new chain. Adopting the id already held changes nothing.
    pub fn adopt_member_id(&mut self, member: Uuid) -> Result<()> {
        if member == self.me.member_id {
            return Ok(());
        }
        if !self.can_adopt_member_id()? {
            return Err(Error::invalid(
                "member id",
                "this profile already holds case work or a credential under its own member id; a new device enrols from a new profile",
            ));
        }
        let aead = self.master.derive(purpose::PROFILE).aead();
        let sealed = Header::b64(&self.header.sealed_profile)?;
        let plain = aead
            .open(&profile_aad(&self.header), &sealed)
            .map_err(|_| Error::corrupt("store header: the profile record fails authentication"))?;
        let mut profile: ProfileSecret =
            serde_json::from_slice(&plain).map_err(|_| Error::corrupt("store header: profile does not parse"))?;
        profile.member_id = member.to_string();
        let json = Zeroizing::new(serde_json::to_vec(&profile).expect("profile serializes"));
        let mut header = self.header.clone();
        header.sealed_profile = Header::to_b64(&aead.seal(&profile_aad(&header), &json)?);
        header.write_atomic(&self.dir)?;
        format::sync_dir(&self.dir)?;
        self.header = header;
        self.me.member_id = member;
        let (name, role) = (self.me.name.clone(), self.me.role);
        self.record(vec![EventKind::ProfileCreated { name, role }])?;
        Ok(())
    }

    /// Records several bookkeeping events in one durable append: all of them or none (a page
    /// of an agency's notices). Nothing is written for an empty list.
    pub fn record_locals(&mut self, kinds: Vec<ProfileEvent>) -> Result<Vec<SignedEvent>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        self.record(kinds.into_iter().map(EventKind::from).collect())
    }

    /// A stored trust document by agency (pins, credentials, revocations) or bundle id (receipts).
    pub fn trust_document(&self, table: Table, id: Uuid) -> Result<Option<projection::TrustRecord>> {
        get_json(&mut IndexReader(&self.index), table, id.as_bytes())
    }

    /// Every credential kept for `member` ([`Table::MemberCredentials`]): one per key the
    /// member's devices sign with.
    pub fn member_credentials(&self, member: Uuid) -> Result<Vec<projection::TrustRecord>> {
        self.index.scan_json(Table::MemberCredentials, member.as_bytes())
    }

    /// Every stored trust document of one table, by key order.
    pub fn trust_documents(&self, table: Table) -> Result<Vec<projection::TrustRecord>> {
        self.index.scan_json(table, &[])
    }

    /// The last bundle this profile exported to `agency` (highest sequence).
    pub fn last_bundle_out(&self, agency: Uuid) -> Result<Option<projection::BundleRecord>> {
        Ok(self.bundles_out(agency)?.pop())
    }

    /// Every bundle this profile exported to `agency`, by sequence.
    pub fn bundles_out(&self, agency: Uuid) -> Result<Vec<projection::BundleRecord>> {
        self.index.scan_json(Table::BundlesOut, agency.as_bytes())
    }

    /// Every bundle this store imported.
    pub fn bundles_in(&self) -> Result<Vec<projection::BundleRecord>> {
        self.index.scan_json(Table::BundlesIn, &[])
    }

    /// The bundle with this id, if this store imported it.
    pub fn bundle_in(&self, bundle_id: Uuid) -> Result<Option<projection::BundleRecord>> {
        get_json(&mut IndexReader(&self.index), Table::BundlesIn, bundle_id.as_bytes())
    }

    /// The bundle with the highest sequence number this store imported from `sender`'s key
    /// `sender_key` (hex) to `agency` (one index lookup). Bundle sequences are per key: each
    /// device of a member numbers its own bundles.
    pub fn last_bundle_in(&self, sender: Uuid, sender_key: &str, agency: Uuid) -> Result<Option<projection::BundleRecord>> {
        get_json(
            &mut IndexReader(&self.index),
            Table::BundlesInBySender,
            &projection::bundles_in_by_sender_key(sender, agency, Some(sender_key)),
        )
    }

    /// Records where an agency's endpoint is and the certificate it must present.
    pub fn set_endpoint(&mut self, agency: Uuid, url: &str, cert_sha256: &str) -> Result<()> {
        let url = url.trim().trim_end_matches('/');
        if !url.starts_with("https://") {
            return Err(Error::invalid("endpoint", format!("'{url}' is not an https:// address")));
        }
        if cert_sha256.len() != 64 || !cert_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("certificate fingerprint", "not 64 hex digits"));
        }
        self.record_local(ProfileEvent::EndpointSet {
            agency_id: agency,
            url: url.to_string(),
            cert_sha256: cert_sha256.to_ascii_lowercase(),
        })?;
        Ok(())
    }

    /// The endpoints this profile knows (one per agency).
    pub fn endpoints(&self) -> Result<Vec<projection::EndpointRecord>> {
        self.index.scan_json(Table::Endpoints, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KdfParams, Passphrase};

    fn imported(bundle_id: Uuid, agency_id: Uuid, (sender, key): (Uuid, &str), seq: u64) -> ProfileEvent {
        ProfileEvent::BundleImported {
            bundle_id,
            agency_id,
            sender,
            sender_key: Some(key.to_string()),
            bundle_seq: seq,
            manifest_hash: format!("{seq:064x}"),
            events_added: 1,
            blobs: 0,
        }
    }

    /// The sequence check's lookups: by id, and the sender key's last bundle to one agency (a
    /// member's second device has its own sequence), also in a store whose index predates the
    /// by-sender table (filled once when it opens).
    #[test]
    fn bundles_in_by_sender_answer_the_last_and_are_filled_for_older_stores() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let pass = Passphrase::new("a passphrase for tests");
        let mut store = Store::create(&dir, &pass, "Endpoint", Role::Supervisor, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let (agency, other_agency) = (Uuid::now_v7(), Uuid::now_v7());
        let (alice, bob) = ((Uuid::now_v7(), "aa"), (Uuid::now_v7(), "bb"));
        // Alice's second device: the same member, another key.
        let alice2 = (alice.0, "a2");
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
        // Out of order on purpose: the table sorts by sequence, not by arrival.
        for (id, sender, ag, seq) in [
            (ids[0], alice, agency, 1),
            (ids[1], alice, agency, 3),
            (ids[2], alice, agency, 2),
            (ids[3], bob, agency, 7),
            (ids[4], alice, other_agency, 9),
            (ids[5], alice2, agency, 1),
        ] {
            store.record_local(imported(id, ag, sender, seq)).unwrap();
        }
        let last = |s: &Store, (who, key): (Uuid, &str), ag: Uuid| s.last_bundle_in(who, key, ag).unwrap().map(|r| (r.bundle_id, r.seq));
        let expect = |s: &Store| {
            assert_eq!(last(s, alice, agency), Some((ids[1], 3)));
            assert_eq!(last(s, alice2, agency), Some((ids[5], 1)));
            assert_eq!(last(s, bob, agency), Some((ids[3], 7)));
            assert_eq!(last(s, alice, other_agency), Some((ids[4], 9)));
            assert_eq!(last(s, bob, other_agency), None);
            assert_eq!(s.bundle_in(ids[2]).unwrap().map(|r| (r.sender, r.seq)), Some((alice.0, 2)));
            assert_eq!(s.bundle_in(Uuid::now_v7()).unwrap(), None);
        };
        expect(&store);

        // An index made before the table existed: empty it, as such a store has it.
        store.index.clear(Table::BundlesInBySender).unwrap();
        assert!(store.index.is_empty(Table::BundlesInBySender));
        assert_eq!(last(&store, alice, agency), None);
        drop(store);
        let mut store = Store::open(&dir, &pass).unwrap();
        expect(&store);
        let report = store.check(false, &mut |_| {}).unwrap();
        assert!(report.ok, "{:?}", report.problems);
    }

    /// Issue 12, a new device: a second profile adopts the member id of the first. Each key
    /// has its own chain, so a third store takes both devices' events as one member's; a
    /// fork of one device's chain and an event that continues the other device's chain with
    /// this key are still refused; `check` is clean everywhere; and only a fresh profile may
    /// adopt an id.
    #[test]
    fn a_members_second_device_has_a_chain_of_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("a passphrase for tests");
        let create = |n: &str, role| Store::create(&tmp.path().join(n), &pass, n, role, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let mut a = create("a", Role::Investigator);
        let mut hub = create("hub", Role::Supervisor);
        let id = a.whoami().member_id;
        {
            let mut b = create("b", Role::Investigator);
            assert!(b.can_adopt_member_id().unwrap());
            b.adopt_member_id(id).unwrap();
            assert_eq!(b.whoami().member_id, id);
        }
        // The adopted id is the profile's from now on.
        let mut b = Store::open(&tmp.path().join("b"), &pass).unwrap();
        assert_eq!(b.whoami().member_id, id);
        assert_ne!(b.whoami().public_key, a.whoami().public_key);

        let case = a.create_case(crate::NewCase { title: "Burglary".into(), ..Default::default() }).unwrap();
        a.add_note(case, "from device A").unwrap();
        let from_a = a.case_events(case, None).unwrap();
        b.import_events(&from_a, vec![]).unwrap();
        b.add_note(case, "from device B").unwrap();
        let from_b: Vec<SignedEvent> = b.case_events(case, None).unwrap();
        let b_own: Vec<&SignedEvent> = from_b.iter().filter(|e| b.is_own(e.body())).collect();
        assert_eq!(b_own.len(), 1);
        assert!(from_b.iter().all(|e| e.body().author == id), "both devices' events carry the one member id");
        assert_eq!(hub.import_events(&from_a, vec![]).unwrap(), 2);
        assert_eq!(hub.import_events(&from_b, vec![]).unwrap(), 1, "device B's event is a chain of its own, not a fork of A's");

        // A fork of device B's chain: the same key and sequence, other content.
        let note = b_own[0].body().clone();
        let mut forked = note.clone();
        forked.kind = EventKind::NoteAdded { case_id: case, note_id: Uuid::now_v7(), text: "forged".into() };
        let forked = SignedEvent::sign(&b.identity, forked).unwrap();
        let err = hub.import_events(&[forked], vec![]).unwrap_err();
        assert_eq!(err.code(), "chain_conflict", "{err}");
        // Device A's chain position with device B's key: the next event of B's chain that
        // links to A's last event instead of B's.
        let a_last = from_a.last().unwrap();
        let mut crossed = note.clone();
        crossed.seq = note.seq + 1;
        crossed.prev = to_hex(&a_last.hash());
        crossed.kind = EventKind::NoteAdded { case_id: case, note_id: Uuid::now_v7(), text: "crossed".into() };
        let crossed = SignedEvent::sign(&b.identity, crossed).unwrap();
        let err = hub.import_events(std::slice::from_ref(&crossed), vec![]).unwrap_err();
        assert_eq!(err.code(), "chain_conflict", "{err}");
        // Control: the same event linked to B's own last event is accepted.
        let mut honest = crossed.body().clone();
        honest.prev = to_hex(&b_own[0].hash());
        assert_eq!(hub.import_events(&[SignedEvent::sign(&b.identity, honest).unwrap()], vec![]).unwrap(), 1);

        // One credential kept per key of the member (a credential recorded before keys were,
        // with no key, is found too).
        let agency = Uuid::now_v7();
        for (doc, key) in [("cred-a", Some(a.whoami().public_key.clone())), ("cred-b", Some(b.whoami().public_key.clone())), ("old", None)]
        {
            let stored = ProfileEvent::MemberCredentialStored {
                agency_id: agency,
                member_id: id,
                credential: doc.into(),
                member_key: key,
                name: None,
            };
            hub.record_local(stored).unwrap();
        }
        let mut docs: Vec<String> = hub.member_credentials(id).unwrap().into_iter().map(|r| r.document).collect();
        docs.sort();
        assert_eq!(docs, ["cred-a", "cred-b", "old"]);
        assert!(hub.member_credentials(Uuid::now_v7()).unwrap().is_empty());

        for s in [&mut a, &mut b, &mut hub] {
            let report = s.check(false, &mut |_| {}).unwrap();
            assert!(report.ok, "{:?}", report.problems);
        }
        let report = hub.check(false, &mut |_| {}).unwrap();
        assert_eq!(report.authors, 2, "the hub and one member with two devices");

        // A profile that recorded case work keeps its id.
        let mut c = create("c", Role::Investigator);
        c.create_case(crate::NewCase { title: "Theft".into(), ..Default::default() }).unwrap();
        assert!(!c.can_adopt_member_id().unwrap());
        let own = c.whoami().member_id;
        assert_eq!(c.adopt_member_id(id).unwrap_err().code(), "invalid_input");
        assert_eq!(c.whoami().member_id, own);
    }
}
