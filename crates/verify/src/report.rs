//! What the verifier reports, and its deterministic text form.
//!
//! Everything here comes from the package itself: no absolute paths, no time of verification,
//! entries sorted, so the same package gives byte-identical output wherever it is checked.

use std::fmt::Write as _;

use serde::Serialize;

/// One thing wrong with the package, naming the affected file, event, item or member.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// Which check of the spec found it (1 manifest, 2 files, 3 events, 4 items, 5 agency).
    pub check: u8,
    /// What is affected: `file PATH`, `event PATH`, `item ID`, `member ID`, `case ID`.
    pub subject: String,
    /// What is wrong.
    pub message: String,
    /// The reason code, for the problems that have their own (the access chains:
    /// `access_chain_gap`, `access_chain_fork`, `access_chain_broken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The package as its manifest describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PackageInfo {
    /// Package id.
    pub package_id: String,
    /// When it was created (as written by the exporter).
    pub created_at: String,
}

/// The case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaseInfo {
    /// Case id.
    pub id: String,
    /// Agency reference.
    pub reference: Option<String>,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
}

/// Who exported the package (the manifest's signer).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExporterInfo {
    /// Member id.
    pub member_id: String,
    /// Name, as the exporter states it.
    pub name: String,
    /// Role, as the exporter states it.
    pub role: String,
    /// Public key, hex.
    pub key: String,
    /// SHA-256 of the key, hex.
    pub fingerprint: String,
}

/// The agency of `agency.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AgencyInfo {
    /// Agency id.
    pub agency_id: String,
    /// Name.
    pub name: String,
    /// SHA-256 of the root key, hex: compare it with the agency out of band.
    pub root_fingerprint: String,
    /// Revocation list version.
    pub revocation_version: u64,
    /// When the list was signed.
    pub revocation_issued_at: String,
    /// When the list goes stale.
    pub revocation_expires_at: String,
}

/// A member's credential, verified against the agency root key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    /// The name the credential commits to, only when the package holds a disclosure
    /// (`names/<member id>.json`) that opens the commitment: the member's identity was
    /// disclosed for this case. `None`: not disclosed.
    pub name: Option<String>,
    /// The per-case pseudonym the exporter gave an undisclosed member (the manifest's
    /// `pseudonyms`), when any.
    pub pseudonym: Option<String>,
    /// Role the agency granted.
    pub role: String,
    /// Serial number.
    pub serial: String,
    /// Valid from.
    pub not_before: String,
    /// Valid until.
    pub not_after: String,
}

/// A revocation that applies to a member of the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevokedInfo {
    /// When the key was revoked.
    pub revoked_at: String,
    /// Why, as the agency wrote it.
    pub reason: Option<String>,
    /// How many of the member's events in the package carry a time after the revocation.
    pub events_after: usize,
}

/// One author of events in the package (or the exporter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    /// Member id.
    pub member_id: String,
    /// Fingerprints of the keys that signed the member's events (one, unless something is wrong).
    pub key_fingerprints: Vec<String>,
    /// Events in the package.
    pub events: usize,
    /// The credential, when one is in the package and verifies.
    pub credential: Option<CredentialInfo>,
    /// The revocation, when the agency's list names the member's key.
    pub revoked: Option<RevokedInfo>,
}

/// One custody entry of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustodyInfo {
    /// What was done.
    pub action: String,
    /// When (the event's `at`).
    pub at: String,
    /// By whom (the event's author).
    pub by: String,
    /// The event file.
    pub event: String,
    /// Custody `received` only: what the recipient read from the content (`observed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<ObservedInfo>,
}

/// What the recipient of an item read from its content when it recorded custody `received`
/// (docs/FORMAT.md, `observed`), as the event states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObservedInfo {
    /// Media type sniffed from the bytes.
    pub media_type: String,
    /// EXIF capture time (RFC 3339), if the content holds one.
    pub captured_at: Option<String>,
    /// EXIF GPS position, `LAT, LON`, if the content holds one.
    pub location: Option<String>,
    /// EXIF camera make and model, if the content names one.
    pub camera: Option<String>,
}

impl ObservedInfo {
    /// The `observed` field of a custody event, when it has the documented shape.
    pub fn from_event(body: &serde_json::Value) -> Option<Self> {
        let o = body.get("observed")?;
        let media_type = o.get("media_type")?.as_str()?.to_string();
        let x = o.get("extracted");
        let field = |k: &str| x.and_then(|x| x.get(k)).filter(|v| !v.is_null());
        let captured_at = field("captured_at").and_then(|v| v.as_str()).map(str::to_string);
        let location = field("location").and_then(|l| Some(format!("{}, {}", l.get("lat")?.as_f64()?, l.get("lon")?.as_f64()?)));
        let camera = field("camera")
            .map(|c| [c.get("make"), c.get("model")].into_iter().flatten().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" "));
        Some(ObservedInfo { media_type, captured_at, location, camera })
    }
}

/// One evidence item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemInfo {
    /// Evidence id.
    pub evidence_id: String,
    /// The file's name when imported.
    pub original_name: String,
    /// Media type.
    pub media_type: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the original, hex.
    pub sha256: String,
    /// The original this item was derived from (a redacted copy, say).
    pub derived_from: Option<String>,
    /// Custody entries, in journal order.
    pub custody: Vec<CustodyInfo>,
}

/// A receipt the agency signed for a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptInfo {
    /// Bundle id.
    pub bundle_id: String,
    /// Sender member id.
    pub sender: String,
    /// When the agency received it.
    pub received_at: String,
    /// Outcome.
    pub outcome: String,
    /// Events carried.
    pub events: u64,
    /// Blobs carried.
    pub blobs: u64,
}

/// An item the agency deleted (its signed tombstone, checked against the agency root key): its
/// original is not in the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TombstoneInfo {
    /// The item.
    pub evidence_id: String,
    /// Its content's SHA-256 (as its `evidence_added` event records it).
    pub sha256: String,
    /// The retention rule (`withdrawn` for a volunteer's withdrawal).
    pub rule: String,
    /// Why, in the agency's words.
    pub reason: Option<String>,
    /// When the agency deleted it.
    pub deleted_at: String,
}

/// Counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Event files.
    pub events: usize,
    /// Distinct authors of events.
    pub members: usize,
    /// Evidence items.
    pub items: usize,
    /// Files listed in the manifest.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Credential files.
    pub credentials: usize,
    /// Name disclosure files checked against their credential (one that does not open its
    /// commitment is a problem).
    pub names: usize,
    /// Receipt files.
    pub receipts: usize,
}

/// The last line of a report without problems that was not anchored to an agency root.
pub const NOT_ANCHORED_LINE: &str = "NOT ANCHORED: pass --agency-root <fingerprint>";

/// The verifier's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `VERIFIED` (anchored, no problem), `FAILED` (a problem) or `NOT ANCHORED` (no problem,
    /// but no agency root was given, so nothing ties the package to the real agency).
    pub verdict: String,
    /// True when the package was anchored and no problem was found.
    pub verified: bool,
    /// True when the checks ran against an agency root fingerprint given from outside the
    /// package ([`crate::AgencyRoot`]).
    pub anchored: bool,
    /// The agency root fingerprint given, lowercase hex.
    pub agency_root: Option<String>,
    /// Package id and creation time (from a verified manifest).
    pub package: Option<PackageInfo>,
    /// The case.
    pub case: Option<CaseInfo>,
    /// The exporter.
    pub exporter: Option<ExporterInfo>,
    /// The agency, when `agency.json` verifies.
    pub agency: Option<AgencyInfo>,
    /// Counts.
    pub counts: Counts,
    /// Authors, by member id.
    pub members: Vec<MemberInfo>,
    /// Items, by evidence id.
    pub items: Vec<ItemInfo>,
    /// Receipts, by bundle id.
    pub receipts: Vec<ReceiptInfo>,
    /// Items the agency deleted, by evidence id (their tombstones).
    pub tombstones: Vec<TombstoneInfo>,
    /// Things a reader should know that are not failures (revoked keys, stale lists, ...).
    pub flags: Vec<String>,
    /// Everything wrong, sorted.
    pub problems: Vec<Problem>,
}

/// Text from the package made safe for a terminal: control characters are shown escaped.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl Report {
    /// The report as text: a summary, then `VERIFIED`, or `FAILED: N problem(s)` and one line
    /// per problem, or (no problem, not anchored) [`NOT_ANCHORED_LINE`].
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(s, "{k:<12} {}", clean(&v));
        };
        line("package", self.package.as_ref().map_or_else(|| "-".into(), |p| p.package_id.clone()));
        if let Some(p) = &self.package {
            line("created", p.created_at.clone());
        }
        if let Some(c) = &self.case {
            line("case", format!("{} {} \"{}\" ({})", c.id, c.reference.as_deref().unwrap_or("-"), c.title, c.status));
        }
        if let Some(e) = &self.exporter {
            line("exporter", format!("{} ({}), member {}", e.name, e.role, e.member_id));
            line("", format!("key fingerprint {}", e.fingerprint));
        }
        match &self.agency {
            Some(a) => {
                line("agency", format!("{} ({})", a.name, a.agency_id));
                line("", format!("root key fingerprint {}", a.root_fingerprint));
                line(
                    "",
                    format!(
                        "revocation list version {}, issued {}, expires {}",
                        a.revocation_version, a.revocation_issued_at, a.revocation_expires_at
                    ),
                );
            }
            None => line("agency", "none (no agency.json, or it does not verify)".into()),
        }
        match &self.agency_root {
            Some(fp) => line("anchor", format!("agency root fingerprint {fp} (given with --agency-root)")),
            None => line("anchor", "none: no agency root fingerprint was given, so nothing ties the package to the agency".into()),
        }
        let c = &self.counts;
        line("events", format!("{} from {} member(s)", c.events, c.members));
        line("items", c.items.to_string());
        line("files", format!("{} listed in the manifest ({} bytes)", c.files, c.bytes));
        line("credentials", c.credentials.to_string());
        line("names", format!("{} disclosed (every other member is shown by pseudonym only)", c.names));
        line("receipts", c.receipts.to_string());

        if !self.members.is_empty() {
            let _ = writeln!(s, "\nmembers");
            for m in &self.members {
                let _ = writeln!(s, "  {}  {} event(s)", clean(&m.member_id), m.events);
                for k in &m.key_fingerprints {
                    let _ = writeln!(s, "    key fingerprint {}", clean(k));
                }
                match &m.credential {
                    Some(cr) => {
                        let who = match (&cr.name, &cr.pseudonym) {
                            (Some(n), _) => format!("{} (name disclosed, opens the credential's commitment)", clean(n)),
                            (None, Some(p)) => format!("{} (identity not disclosed)", clean(p)),
                            (None, None) => "(identity not disclosed)".to_string(),
                        };
                        let _ = writeln!(
                            s,
                            "    credential {} ({}), serial {}, valid {} to {}",
                            who,
                            clean(&cr.role),
                            clean(&cr.serial),
                            clean(&cr.not_before),
                            clean(&cr.not_after)
                        );
                    }
                    None => {
                        let _ = writeln!(s, "    credential none in the package");
                    }
                }
                if let Some(r) = &m.revoked {
                    let _ = writeln!(
                        s,
                        "    REVOKED at {}{}; {} event(s) dated after that",
                        clean(&r.revoked_at),
                        r.reason.as_ref().map(|x| format!(" ({})", clean(x))).unwrap_or_default(),
                        r.events_after
                    );
                }
            }
        }
        if !self.items.is_empty() {
            let _ = writeln!(s, "\nitems");
            for it in &self.items {
                let _ =
                    writeln!(s, "  {}  {}  {}  {} bytes", clean(&it.evidence_id), clean(&it.original_name), clean(&it.media_type), it.size);
                let _ = writeln!(s, "    sha256 {}", clean(&it.sha256));
                if let Some(d) = &it.derived_from {
                    let _ = writeln!(s, "    derived from {}", clean(d));
                }
                for cu in &it.custody {
                    let _ = writeln!(s, "    custody {} {} by {} ({})", clean(&cu.action), clean(&cu.at), clean(&cu.by), clean(&cu.event));
                    if let Some(o) = &cu.observed {
                        let none = || "none".to_string();
                        let _ = writeln!(
                            s,
                            "      read from the content by the recipient: {}; EXIF time {}; GPS {}; camera {}",
                            clean(&o.media_type),
                            clean(&o.captured_at.clone().unwrap_or_else(none)),
                            clean(&o.location.clone().unwrap_or_else(none)),
                            clean(&o.camera.clone().unwrap_or_else(none)),
                        );
                    }
                }
            }
        }
        if !self.receipts.is_empty() {
            let _ = writeln!(s, "\nreceipts");
            for r in &self.receipts {
                let _ = writeln!(
                    s,
                    "  {}  from {}  received {}  {}  {} event(s), {} blob(s)",
                    clean(&r.bundle_id),
                    clean(&r.sender),
                    clean(&r.received_at),
                    clean(&r.outcome),
                    r.events,
                    r.blobs
                );
            }
        }
        if !self.tombstones.is_empty() {
            let _ = writeln!(s, "\ndeleted items (agency tombstones; no original in the package)");
            for t in &self.tombstones {
                let _ = writeln!(
                    s,
                    "  {}  sha256 {}  deleted {} under rule {}{}",
                    clean(&t.evidence_id),
                    clean(&t.sha256),
                    clean(&t.deleted_at),
                    clean(&t.rule),
                    t.reason.as_deref().map(|r| format!(": {}", clean(r))).unwrap_or_default()
                );
            }
        }
        if !self.flags.is_empty() {
            let _ = writeln!(s, "\nflags");
            for f in &self.flags {
                let _ = writeln!(s, "  {}", clean(f));
            }
        }
        s.push('\n');
        if self.problems.is_empty() && self.anchored {
            s.push_str("VERIFIED\n");
        } else if self.problems.is_empty() {
            let _ = writeln!(s, "{NOT_ANCHORED_LINE}");
        } else {
            let _ = writeln!(s, "FAILED: {} problem(s)", self.problems.len());
            for p in &self.problems {
                match &p.code {
                    Some(code) => {
                        let _ = writeln!(s, "  [check {} {code}] {}: {}", p.check, clean(&p.subject), clean(&p.message));
                    }
                    None => {
                        let _ = writeln!(s, "  [check {}] {}: {}", p.check, clean(&p.subject), clean(&p.message));
                    }
                }
            }
        }
        s
    }
}
