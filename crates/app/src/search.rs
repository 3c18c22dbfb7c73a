//! Full-text search over what the member's store holds (casebridge-search's in-memory
//! index): the desktop's search and the case list's search box, and `casebridge case list
//! --search`.

use std::collections::HashMap;

use casebridge_core::{CaseFilter, CaseSummary, Store};
pub use casebridge_search::{CaseMatch, FieldMatch, HitKind, MatchRange, SearchField, SearchHit, SearchIndex};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::error::Result;
use crate::views::CaseStatus;

/// Hits returned when the caller names no limit.
pub const DEFAULT_LIMIT: usize = 50;
/// Hits returned at most.
pub const MAX_LIMIT: usize = 500;

/// The items matching `text`, best first (at most `limit`, clamped to 1..=[`MAX_LIMIT`]),
/// with snippets. `index` must be up to date with `store` (as [`crate::StoreHandle::with_search`]
/// hands it over).
pub fn search(index: &SearchIndex, text: &str, limit: Option<usize>) -> Result<Vec<SearchHit>> {
    Ok(index.search(text, limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT))?)
}

/// A case of the case list that matched a search, with the best-ranked item that matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct CaseHit {
    /// The case as the list shows it.
    #[serde(flatten)]
    pub case: CaseSummary,
    /// Relevance of the best hit (higher is better).
    pub score: f32,
    /// Items of the case that matched.
    pub hits: u32,
    /// What the best hit was (the case itself, a note, an item, a brief, a submission); `None`
    /// past the first [`casebridge_search::SNIPPET_CASES`] cases (not read).
    pub hit_kind: Option<HitKind>,
    /// Its id.
    pub hit_id: Option<Uuid>,
    /// The fields of the best hit that matched, with snippets and match ranges (empty past
    /// the first [`casebridge_search::SNIPPET_CASES`] cases).
    pub matches: Vec<FieldMatch>,
}

/// The cases the store holds with an item matching `text` (and `status`, when given), best
/// first. A case the store does not hold (a volunteer's briefs and submissions) is left out:
/// [`search`] finds those.
pub fn cases(store: &Store, index: &SearchIndex, text: &str, status: Option<CaseStatus>) -> Result<Vec<CaseHit>> {
    let mut held: HashMap<Uuid, CaseSummary> =
        store.list_cases(&CaseFilter { status, search: None })?.into_iter().map(|c| (c.id, c)).collect();
    let mut out = Vec::new();
    for m in index.search_cases(text)? {
        if let Some(case) = held.remove(&m.case_id) {
            out.push(CaseHit {
                case,
                score: m.score,
                hits: u32::try_from(m.hits).unwrap_or(u32::MAX),
                hit_kind: m.best.as_ref().map(|b| b.kind),
                hit_id: m.best.as_ref().map(|b| b.id),
                matches: m.best.map(|b| b.matches).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// [`cases`] on a store without a kept index: builds one in memory for this call (the CLI's
/// way: one command, one search), dropped on return.
pub fn cases_once(store: &Store, text: &str, status: Option<CaseStatus>) -> Result<Vec<CaseHit>> {
    let index = SearchIndex::build(store)?;
    cases(store, &index, text, status)
}
