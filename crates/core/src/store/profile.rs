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

    /// The bundle with the highest sequence number this store imported from `sender` to
    /// `agency` (one index lookup).
    pub fn last_bundle_in(&self, sender: Uuid, agency: Uuid) -> Result<Option<projection::BundleRecord>> {
        get_json(&mut IndexReader(&self.index), Table::BundlesInBySender, &projection::bundles_in_by_sender_key(sender, agency))
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

    fn imported(bundle_id: Uuid, agency_id: Uuid, sender: Uuid, seq: u64) -> ProfileEvent {
        ProfileEvent::BundleImported {
            bundle_id,
            agency_id,
            sender,
            bundle_seq: seq,
            manifest_hash: format!("{seq:064x}"),
            events_added: 1,
            blobs: 0,
        }
    }

    /// The sequence check's lookups: by id, and the sender's last bundle to one agency, also
    /// in a store whose index predates the by-sender table (filled once when it opens).
    #[test]
    fn bundles_in_by_sender_answer_the_last_and_are_filled_for_older_stores() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let pass = Passphrase::new("a passphrase for tests");
        let mut store = Store::create(&dir, &pass, "Endpoint", Role::Supervisor, KdfParams::INSECURE_FOR_TESTS).unwrap();
        let (agency, other_agency) = (Uuid::now_v7(), Uuid::now_v7());
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        // Out of order on purpose: the table sorts by sequence, not by arrival.
        for (id, sender, ag, seq) in [
            (ids[0], alice, agency, 1),
            (ids[1], alice, agency, 3),
            (ids[2], alice, agency, 2),
            (ids[3], bob, agency, 7),
            (ids[4], alice, other_agency, 9),
        ] {
            store.record_local(imported(id, ag, sender, seq)).unwrap();
        }
        let last = |s: &Store, who: Uuid, ag: Uuid| s.last_bundle_in(who, ag).unwrap().map(|r| (r.bundle_id, r.seq));
        let expect = |s: &Store| {
            assert_eq!(last(s, alice, agency), Some((ids[1], 3)));
            assert_eq!(last(s, bob, agency), Some((ids[3], 7)));
            assert_eq!(last(s, alice, other_agency), Some((ids[4], 9)));
            assert_eq!(last(s, bob, other_agency), None);
            assert_eq!(s.bundle_in(ids[2]).unwrap().map(|r| (r.sender, r.seq)), Some((alice, 2)));
            assert_eq!(s.bundle_in(Uuid::now_v7()).unwrap(), None);
        };
        expect(&store);

        // An index made before the table existed: empty it, as such a store has it.
        store.index.clear(Table::BundlesInBySender).unwrap();
        assert!(store.index.is_empty(Table::BundlesInBySender));
        assert_eq!(store.last_bundle_in(alice, agency).unwrap(), None);
        drop(store);
        let mut store = Store::open(&dir, &pass).unwrap();
        expect(&store);
        let report = store.check(false, &mut |_| {}).unwrap();
        assert!(report.ok, "{:?}", report.problems);
    }
}
