//! # casebridge-verify
//!
//! An independent verifier of Casebridge court evidence packages (docs/FORMAT.md, "Court
//! evidence package"). It depends only on the format, re-implemented here from the spec, and
//! on public keys: a third party can check a package without Casebridge's store or keys.
