//! Index keys as sled stores them: keyed, so that a disk read without the passphrase shows no
//! ids, no links between ids, no times and no actors (docs/FORMAT.md, "Index keys").
//!
//! The projection names records by *logical* keys (`case_id || evidence_id`, `evidence_id ||
//! hlc || author || seq`, ...). sled sees the *physical* key: the table's scannable prefixes
//! of the logical key and then the whole logical key, each replaced by a truncated HMAC:
//!
//! ```text
//! PHYSICAL = T(1) || ... || T(n)
//! T(i)     = HMAC-SHA-256(index-key subkey, TREE NAME || 0x00 || i (u8) || LOGICAL[..b(i)])[..16]
//! ```
//!
//! where `b(1) < ... < b(n) = len(LOGICAL)` are the table's component boundaries
//! ([`prefixes`] plus the whole key). A prefix scan over `case_id` is a scan over `T(1)`;
//! ordering components (times, sequence numbers) only ever appear inside `T(n)`, so sled's
//! order says nothing and readers sort by the logical key, which the sealed value carries
//! ([`pack`]).
//!
//! Why each `T(i)` covers the whole prefix, not component `i` alone: the same evidence id
//! under two cases (or the same sequence number under two agencies) would otherwise give the
//! same bytes, and the disk would show which records share a component. Why the tree name is
//! in the MAC: the same case id keys `cases`, `notes` and `case_evidence`; without it the three
//! trees could be joined on their keys. Why 16 bytes: collisions among 2^64 keys of one table
//! are needed before one is likely, and the keys stay as short as the UUIDs they replace.

use crate::crypto::MacKey;
use crate::projection::Table;

/// Bytes of each keyed component on disk.
pub(crate) const COMPONENT_LEN: usize = 16;

/// Separates the tree name from the depth in the MAC input (tree names never contain it).
const NAME_END: u8 = 0x00;

/// Lengths of the logical-key prefixes a table is scanned by (besides the whole key and the
/// empty prefix). Every prefix scan in the store must use one of these.
pub(crate) fn prefixes(t: Table) -> &'static [usize] {
    match t {
        // case id || note id; evidence id || hlc || author || seq; case id || evidence id;
        // agency id || seq; case id || hlc || author || seq; case id || member id;
        // submission id || hlc || author || seq; member id || key.
        Table::Notes
        | Table::Custody
        | Table::CaseEvidence
        | Table::BundlesOut
        | Table::Access
        | Table::Disclosures
        | Table::Reviews
        | Table::MemberCredentials => &[16],
        // Looked up by the whole key only.
        Table::Members
        | Table::Cases
        | Table::Evidence
        | Table::Chain
        | Table::Pins
        | Table::Credentials
        | Table::Revocations
        | Table::BundlesIn
        | Table::BundlesInBySender
        | Table::Receipts
        | Table::Provenance
        | Table::Briefs
        | Table::Submissions
        | Table::EvidenceSubmission
        | Table::Endpoints
        | Table::Tombstones
        | Table::Withdrawals => &[],
    }
}

fn component(mac: &MacKey, t: Table, depth: usize, logical_prefix: &[u8]) -> [u8; COMPONENT_LEN] {
    let depth = u8::try_from(depth).expect("a handful of components");
    let tag = mac.sign(&[t.name().as_bytes(), &[NAME_END, depth], logical_prefix]);
    let mut out = [0u8; COMPONENT_LEN];
    out.copy_from_slice(&tag[..COMPONENT_LEN]);
    out
}

/// The key sled stores for `logical`.
pub(crate) fn physical(mac: &MacKey, t: Table, logical: &[u8]) -> Vec<u8> {
    let bounds: Vec<usize> = prefixes(t).iter().copied().filter(|b| *b < logical.len()).collect();
    let mut out = Vec::with_capacity((bounds.len() + 1) * COMPONENT_LEN);
    for (i, b) in bounds.iter().enumerate() {
        out.extend_from_slice(&component(mac, t, i + 1, &logical[..*b]));
    }
    out.extend_from_slice(&component(mac, t, bounds.len() + 1, logical));
    out
}

/// The physical prefix every key starting with `logical_prefix` has. `logical_prefix` must be
/// empty or one of the table's [`prefixes`]; anything else is a bug in the caller.
pub(crate) fn physical_prefix(mac: &MacKey, t: Table, logical_prefix: &[u8]) -> Vec<u8> {
    if logical_prefix.is_empty() {
        return Vec::new();
    }
    let bounds = prefixes(t);
    let depth = bounds
        .iter()
        .position(|b| *b == logical_prefix.len())
        .unwrap_or_else(|| panic!("{} is not scanned by a {}-byte prefix", t.name(), logical_prefix.len()));
    let mut out = Vec::with_capacity((depth + 1) * COMPONENT_LEN);
    for (i, b) in bounds[..=depth].iter().enumerate() {
        out.extend_from_slice(&component(mac, t, i + 1, &logical_prefix[..*b]));
    }
    out
}

/// The plaintext sealed under a physical key: `KEY_LEN (u8) || LOGICAL KEY || RECORD`.
pub(crate) fn pack(logical: &[u8], record: &[u8]) -> Vec<u8> {
    let len = u8::try_from(logical.len()).expect("logical keys are at most 255 bytes");
    let mut out = Vec::with_capacity(1 + logical.len() + record.len());
    out.push(len);
    out.extend_from_slice(logical);
    out.extend_from_slice(record);
    out
}

/// Splits an opened value into (logical key, record); `None` if it is too short.
pub(crate) fn unpack(plaintext: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = plaintext.split_first()?;
    let len = usize::from(len);
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    fn mac() -> MacKey {
        SecretKey::from_bytes([7u8; 32]).mac()
    }

    #[test]
    fn prefix_scans_still_group_and_components_do_not_repeat_across_groups() {
        let m = mac();
        let (case_a, case_b, ev) = ([1u8; 16], [2u8; 16], [3u8; 16]);
        let ka = physical(&m, Table::CaseEvidence, &[case_a, ev].concat());
        let kb = physical(&m, Table::CaseEvidence, &[case_b, ev].concat());
        assert_eq!(ka.len(), 32);
        assert!(ka.starts_with(&physical_prefix(&m, Table::CaseEvidence, &case_a)));
        assert!(kb.starts_with(&physical_prefix(&m, Table::CaseEvidence, &case_b)));
        // The same evidence id under two cases does not give the same second component.
        assert_ne!(ka[16..], kb[16..]);
        // The same id keys different trees differently.
        assert_ne!(physical(&m, Table::Cases, &case_a), physical_prefix(&m, Table::Notes, &case_a));
        // Nothing of the logical key is in the physical one.
        for k in [&ka, &kb] {
            assert!(!k.windows(16).any(|w| w == case_a || w == case_b || w == ev));
        }
        assert_eq!(physical(&m, Table::Cases, &case_a).len(), COMPONENT_LEN);
    }

    #[test]
    fn pack_and_unpack_are_inverse() {
        let logical = [9u8; 52];
        let packed = pack(&logical, b"{\"x\":1}");
        assert_eq!(unpack(&packed), Some((&logical[..], &b"{\"x\":1}"[..])));
        assert_eq!(unpack(&[]), None);
        assert_eq!(unpack(&[5, 1, 2]), None);
    }

    #[test]
    #[should_panic(expected = "is not scanned by")]
    fn a_misaligned_prefix_is_a_bug() {
        physical_prefix(&mac(), Table::Custody, &[0u8; 24]);
    }
}
