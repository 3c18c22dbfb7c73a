//! Receipts: the agency's signed statement "we received bundle B with manifest hash H at time T
//! with this outcome". The sender keeps them as proof of what the police received and when.

use casebridge_protocol::BundleOutcome;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc::SignedDoc;
use crate::error::{Reason, Result, TrustError};

/// Document type.
pub const RECEIPT: &str = "receipt";

/// The statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Receipt {
    /// Agency.
    pub agency_id: Uuid,
    /// Bundle id.
    pub bundle_id: Uuid,
    /// SHA-256 of the manifest bytes, hex.
    pub manifest_hash: String,
    /// Sender member id.
    pub sender: Uuid,
    /// Sender's bundle sequence number.
    pub seq: u64,
    /// When received.
    pub received_at: DateTime<FixedOffset>,
    /// `accepted` (stored) or `duplicate` (already held; nothing added).
    pub outcome: BundleOutcome,
    /// Events the bundle carried.
    pub events: u64,
    /// Blobs the bundle carried.
    pub blobs: u64,
}

impl Receipt {
    /// Opens a receipt signed by `agency_root` for `agency_id`.
    pub fn verify(doc: &SignedDoc, agency_root: &[u8], agency_id: Uuid) -> Result<Receipt> {
        let r: Receipt = doc.open(RECEIPT, Some(agency_root))?;
        if r.agency_id != agency_id {
            return Err(TrustError::new(Reason::UnknownSigner, "the receipt was signed for another agency"));
        }
        Ok(r)
    }
}
