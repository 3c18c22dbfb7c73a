//! The outbox: sealed bundles waiting for `casebridge sync`. The logic lives in the shared use
//! cases (`casebridge_app::outbox`), which the desktop shell uses too.

pub use casebridge_app::outbox::{agency, export_pending};
