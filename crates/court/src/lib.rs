//! # casebridge-court
//!
//! Evidence that holds up (issue 6): the court report (`report`), the self-contained evidence
//! package that the independent verifier checks (`package`), and provable redaction
//! (`redact`). Everything reads through `casebridge_core::Store`; nothing here touches the
//! network, and no plaintext evidence is written anywhere but the output the user asked for.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod package;
pub mod redact;
pub mod report;
