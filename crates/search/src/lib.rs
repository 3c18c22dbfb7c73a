//! # casebridge-search
//!
//! Full-text search over what one member's store holds: case titles, summaries, references
//! and tags, notes, evidence names and descriptions, briefs and submissions. The engine is
//! [tantivy](https://docs.rs/tantivy) over its RAM directory: the index is built in memory
//! from the unlocked store ([`SearchIndex::build`]), kept up to date from the journal
//! ([`SearchIndex::refresh`] re-indexes only the cases that events since the last refresh
//! touched) and dropped with the [`SearchIndex`] (at lock). Nothing of it is ever written to
//! disk: the store is the only copy, sealed.
//!
//! Results are ranked (BM25, with titles, references and tags weighted above body text) and
//! carry, for each field that matched, a short snippet with the match ranges (UTF-16 code
//! unit offsets into the snippet, so a UI slices the string it received and renders the
//! highlights as text, never as HTML), the item that matched and the case it belongs to.
//! The last word of a query also matches as a prefix (`wit` finds "witness"), for search as
//! the user types.
//!
//! A member's index holds only what the member's store holds: a volunteer's, the briefs
//! addressed to them and their own submissions; nothing else exists to be found.
//!
//! No Tauri, no GTK; crates/app wraps it for the CLI and the desktop.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use casebridge_core::{BriefView, EventKind, NoticeKind, ProfileEvent, Store, SubmissionView};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};
use uuid::Uuid;

/// The analyzer's name in the index: words split on non-alphanumerics, lowercased, folded
/// to ASCII (so `strasse` finds `Straße` is not promised, but `cafe` finds `Café`).
const TOKENIZER: &str = "casebridge";
/// Query words used at most; the rest of a longer query is ignored.
pub const MAX_QUERY_WORDS: usize = 16;
/// Characters of a query read at most.
pub const MAX_QUERY_CHARS: usize = 512;
/// Terms a prefix (the query's last word) expands to at most, per field and segment.
const MAX_PREFIX_TERMS: usize = 64;
/// Characters of a snippet at most.
const SNIPPET_CHARS: usize = 160;
/// The writer's memory budget (tantivy's minimum is 15 MB per thread).
const WRITER_HEAP: usize = 48_000_000;
/// Journal records read per page while refreshing.
const REFRESH_PAGE: usize = 1024;

/// The errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] casebridge_core::Error),
    /// The engine failed (never carries indexed text).
    #[error("search engine: {0}")]
    Engine(String),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Engine(e.to_string())
    }
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> Self {
        SearchError::Engine(e.to_string())
    }
}

/// This crate's result.
pub type Result<T> = std::result::Result<T, SearchError>;

/// What kind of item a hit is (the UI opens the case on the matching tab).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// The case itself (title, summary, reference, tags).
    Case,
    /// A note of the case.
    Note,
    /// An evidence item of the case.
    Evidence,
    /// A brief on the case.
    Brief,
    /// A submission answering a brief on the case.
    Submission,
}

impl HitKind {
    fn as_str(self) -> &'static str {
        match self {
            HitKind::Case => "case",
            HitKind::Note => "note",
            HitKind::Evidence => "evidence",
            HitKind::Brief => "brief",
            HitKind::Submission => "submission",
        }
    }

    fn parse(s: &str) -> Option<HitKind> {
        Some(match s {
            "case" => HitKind::Case,
            "note" => HitKind::Note,
            "evidence" => HitKind::Evidence,
            "brief" => HitKind::Brief,
            "submission" => HitKind::Submission,
            _ => return None,
        })
    }
}

/// A searchable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SearchField {
    /// A case's title.
    Title,
    /// A case's agency reference.
    Reference,
    /// A case's tags (space-separated in the snippet).
    Tags,
    /// A case's summary.
    Summary,
    /// A note's current text (after amendments).
    Note,
    /// An evidence item's file name.
    EvidenceName,
    /// An evidence item's description.
    EvidenceDescription,
    /// A brief's title.
    BriefTitle,
    /// A brief's text.
    BriefText,
    /// A submission's description.
    SubmissionDescription,
    /// The file names of a submission's items.
    SubmissionItems,
}

impl SearchField {
    /// Every field, in the order matches are reported.
    pub const ALL: [SearchField; 11] = [
        SearchField::Title,
        SearchField::Reference,
        SearchField::Tags,
        SearchField::Summary,
        SearchField::Note,
        SearchField::EvidenceName,
        SearchField::EvidenceDescription,
        SearchField::BriefTitle,
        SearchField::BriefText,
        SearchField::SubmissionDescription,
        SearchField::SubmissionItems,
    ];

    fn name(self) -> &'static str {
        match self {
            SearchField::Title => "title",
            SearchField::Reference => "reference",
            SearchField::Tags => "tags",
            SearchField::Summary => "summary",
            SearchField::Note => "note",
            SearchField::EvidenceName => "evidence_name",
            SearchField::EvidenceDescription => "evidence_description",
            SearchField::BriefTitle => "brief_title",
            SearchField::BriefText => "brief_text",
            SearchField::SubmissionDescription => "submission_description",
            SearchField::SubmissionItems => "submission_items",
        }
    }

    /// How much a match in this field weighs against one in body text.
    fn boost(self) -> f32 {
        match self {
            SearchField::Title | SearchField::Reference => 3.0,
            SearchField::Tags | SearchField::BriefTitle => 2.0,
            SearchField::Summary | SearchField::EvidenceName => 1.5,
            _ => 1.0,
        }
    }
}

/// One range of a snippet that matched, in UTF-16 code units (JavaScript string offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatchRange {
    /// First code unit of the match.
    pub start: u32,
    /// One past its last code unit.
    pub end: u32,
}

/// A field of a hit that matched, with its snippet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldMatch {
    /// The field.
    pub field: SearchField,
    /// A short fragment of the field's text around the matches (plain text).
    pub snippet: String,
    /// The matched words in `snippet`.
    pub ranges: Vec<MatchRange>,
}

/// One item that matched a query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    /// What matched.
    pub kind: HitKind,
    /// Its id (the case's for [`HitKind::Case`]).
    pub id: Uuid,
    /// The case it belongs to.
    pub case_id: Uuid,
    /// The case's title, when the store holds the case (a volunteer's does not).
    pub case_title: Option<String>,
    /// The brief, for a brief or a submission.
    pub brief_id: Option<Uuid>,
    /// Relevance: higher is better (comparable within one query only).
    pub score: f32,
    /// The fields that matched, with snippets.
    pub matches: Vec<FieldMatch>,
}

/// A case that matched, with its best hit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseMatch {
    /// The case.
    pub case_id: Uuid,
    /// The best hit's score.
    pub score: f32,
    /// Items of the case that matched.
    pub hits: usize,
    /// The best-ranked hit of the case (with its snippets); `None` past the first
    /// [`SNIPPET_CASES`] cases, whose hit is not read (a list shows those first).
    pub best: Option<SearchHit>,
}

/// How many of [`SearchIndex::search_cases`]'s cases get their best hit with snippets: reading
/// a hit's stored text and making its snippets is most of a query's time, and a query that
/// matches nearly every case (a common word, a short prefix) would otherwise pay it thousands
/// of times for rows no one scrolls to (`casebridge-bench search`: p99 1.1 s on 10,000 cases
/// before, see docs/PERFORMANCE.md).
pub const SNIPPET_CASES: usize = 200;

/// One searchable item, as the index takes it (what [`SearchIndex::build`] reads from a store).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// What it is.
    pub kind: HitKind,
    /// Its id.
    pub id: Uuid,
    /// The case it belongs to.
    pub case_id: Uuid,
    /// The case's title, if held.
    pub case_title: Option<String>,
    /// The brief, for briefs and submissions.
    pub brief_id: Option<Uuid>,
    /// Its text, by field (empty texts are skipped).
    pub fields: Vec<(SearchField, String)>,
}

/// How an index was built or refreshed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Items indexed.
    pub docs: u64,
    /// Cases (re-)indexed by the last build or refresh.
    pub cases: usize,
    /// Milliseconds the last build or refresh took.
    pub millis: u64,
}

struct Fields {
    kind: Field,
    id: Field,
    case: Field,
    case_hi: Field,
    case_lo: Field,
    case_title: Field,
    brief: Field,
    text: HashMap<SearchField, Field>,
}

/// The in-memory full-text index of one store. Drop it to forget it (at lock).
pub struct SearchIndex {
    reader: IndexReader,
    writer: IndexWriter<TantivyDocument>,
    f: Fields,
    analyzer: TextAnalyzer,
    /// Journal records the index reflects.
    position: u64,
    last: IndexStats,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("position", &self.position).field("docs", &self.docs()).finish()
    }
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

impl SearchIndex {
    /// An empty index (in memory).
    pub fn new() -> Result<SearchIndex> {
        let mut b = Schema::builder();
        let kind = b.add_text_field("kind", STRING | STORED);
        let id = b.add_text_field("id", STRING | STORED);
        let case = b.add_text_field("case", STRING | STORED);
        let case_hi = b.add_u64_field("case_hi", NumericOptions::default().set_fast());
        let case_lo = b.add_u64_field("case_lo", NumericOptions::default().set_fast());
        let case_title = b.add_text_field("case_title", STORED);
        let brief = b.add_text_field("brief", STRING | STORED);
        let opts = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let text = SearchField::ALL.iter().map(|sf| (*sf, b.add_text_field(sf.name(), opts.clone()))).collect();
        let index = Index::create_in_ram(b.build());
        index.tokenizers().register(TOKENIZER, analyzer());
        let writer = index.writer_with_num_threads(1, WRITER_HEAP)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(SearchIndex {
            reader,
            writer,
            f: Fields { kind, id, case, case_hi, case_lo, case_title, brief, text },
            analyzer: analyzer(),
            position: 0,
            last: IndexStats::default(),
        })
    }

    /// The index of everything `store` holds, built in memory.
    pub fn build(store: &Store) -> Result<SearchIndex> {
        let mut index = SearchIndex::new()?;
        index.rebuild(store)?;
        Ok(index)
    }

    /// Indexes everything `store` holds again, from scratch.
    pub fn rebuild(&mut self, store: &Store) -> Result<IndexStats> {
        let started = Instant::now();
        let position = store.journal_records();
        self.writer.delete_all_documents()?;
        let briefs = store.briefs(false)?;
        let submissions = store.submissions()?;
        let mut cases: BTreeSet<Uuid> = store.list_cases(&Default::default())?.into_iter().map(|c| c.id).collect();
        cases.extend(briefs.iter().map(|b| b.case_id));
        cases.extend(submissions.iter().map(|s| s.case_id));
        for case in &cases {
            for e in case_entries(store, *case, &briefs, &submissions)? {
                self.add(&e)?;
            }
        }
        self.commit()?;
        self.position = position;
        self.last = IndexStats { docs: self.docs(), cases: cases.len(), millis: elapsed_ms(started) };
        Ok(self.last)
    }

    /// Brings the index up to date with `store`: re-indexes the cases that the journal records
    /// since the last build or refresh changed (a case's text, notes, evidence, briefs or
    /// submissions). Cheap when nothing changed. Returns what was done.
    pub fn refresh(&mut self, store: &Store) -> Result<IndexStats> {
        let end = store.journal_records();
        if end == self.position {
            return Ok(IndexStats { docs: self.docs(), cases: 0, millis: 0 });
        }
        if end < self.position {
            // The journal is not the one indexed (restored, truncated): start over.
            return self.rebuild(store);
        }
        let started = Instant::now();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        let mut after = self.position;
        loop {
            let page = store.events_after(after, REFRESH_PAGE)?;
            for ev in &page.events {
                if let Some(case) = touched_case(store, &ev.body().kind)? {
                    touched.insert(case);
                }
            }
            after = page.cursor;
            if !page.more {
                break;
            }
        }
        if !touched.is_empty() {
            let briefs = store.briefs(false)?;
            let submissions = store.submissions()?;
            for case in &touched {
                self.writer.delete_term(Term::from_field_text(self.f.case, &case.to_string()));
                for e in case_entries(store, *case, &briefs, &submissions)? {
                    self.add(&e)?;
                }
            }
            self.commit()?;
        }
        self.position = after.max(end);
        self.last = IndexStats { docs: self.docs(), cases: touched.len(), millis: elapsed_ms(started) };
        Ok(self.last)
    }

    /// Adds items (tests and tools; [`SearchIndex::build`] reads them from a store). Call
    /// [`SearchIndex::commit`] to make them searchable.
    pub fn add(&mut self, e: &Entry) -> Result<()> {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.f.kind, e.kind.as_str());
        doc.add_text(self.f.id, e.id.to_string());
        doc.add_text(self.f.case, e.case_id.to_string());
        let (hi, lo) = e.case_id.as_u64_pair();
        doc.add_u64(self.f.case_hi, hi);
        doc.add_u64(self.f.case_lo, lo);
        if let Some(t) = &e.case_title {
            doc.add_text(self.f.case_title, t);
        }
        if let Some(b) = e.brief_id {
            doc.add_text(self.f.brief, b.to_string());
        }
        for (sf, text) in &e.fields {
            if !text.trim().is_empty() {
                doc.add_text(self.f.text[sf], text);
            }
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Removes every item of a case (call [`SearchIndex::commit`] after).
    pub fn remove_case(&mut self, case: Uuid) {
        self.writer.delete_term(Term::from_field_text(self.f.case, &case.to_string()));
    }

    /// Makes the changes since the last commit searchable.
    pub fn commit(&mut self) -> Result<()> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Items indexed.
    pub fn docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// What the last build or refresh did.
    pub fn last_stats(&self) -> IndexStats {
        self.last
    }

    /// The journal records the index reflects.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The query's words, as the index's analyzer cuts them.
    fn words(&self, text: &str) -> Vec<String> {
        let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(&text);
        let mut words = Vec::new();
        while stream.advance() && words.len() < MAX_QUERY_WORDS {
            words.push(stream.token().text.clone());
        }
        words
    }

    /// The terms of `field` in the index that start with `prefix` (at most a few per segment).
    fn expand_prefix(&self, searcher: &Searcher, field: Field, prefix: &str) -> Result<Vec<String>> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        for seg in searcher.segment_readers() {
            let inverted = seg.inverted_index(field)?;
            let mut stream = inverted.terms().range().ge(prefix.as_bytes()).into_stream()?;
            let mut n = 0;
            while stream.advance() && n < MAX_PREFIX_TERMS {
                let key = stream.key();
                if !key.starts_with(prefix.as_bytes()) {
                    break;
                }
                if let Ok(s) = std::str::from_utf8(key) {
                    if s != prefix {
                        out.insert(s.to_string());
                    }
                }
                n += 1;
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The query for `text`: every word must match (in any one field of an item); the last
    /// word also matches as a prefix. None when `text` has no words.
    fn query(&self, searcher: &Searcher, text: &str) -> Result<Option<Box<dyn Query>>> {
        let words = self.words(text);
        let Some(last) = words.len().checked_sub(1) else { return Ok(None) };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for sf in SearchField::ALL {
                let field = self.f.text[&sf];
                let term = TermQuery::new(Term::from_field_text(field, w), IndexRecordOption::WithFreqsAndPositions);
                should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term), sf.boost()))));
                if i == last && w.chars().count() >= 2 {
                    for t in self.expand_prefix(searcher, field, w)? {
                        let term = TermQuery::new(Term::from_field_text(field, &t), IndexRecordOption::WithFreqsAndPositions);
                        should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term), sf.boost() * 0.5))));
                    }
                }
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(should))));
        }
        Ok(Some(Box::new(BooleanQuery::new(must))))
    }

    /// The items matching `text`, best first, at most `limit`, each with its snippets. An
    /// empty query (or one of punctuation only) finds nothing.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let searcher = self.reader.searcher();
        let Some(query) = self.query(&searcher, text)? else { return Ok(Vec::new()) };
        let top = searcher.search(&*query, &TopDocs::with_limit(limit.max(1)))?;
        let mut snippets = Snippets::new(&searcher, &*query, &self.f);
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            out.push(self.hit(&searcher, &mut snippets, score, addr)?);
        }
        Ok(out)
    }

    /// The cases with an item matching `text`, best first, each with its best hit (with
    /// snippets) for the first [`SNIPPET_CASES`]. Every matching case is returned.
    pub fn search_cases(&self, text: &str) -> Result<Vec<CaseMatch>> {
        let searcher = self.reader.searcher();
        let Some(query) = self.query(&searcher, text)? else { return Ok(Vec::new()) };
        let all = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX).max(1);
        let top = searcher.search(&*query, &TopDocs::with_limit(all))?;
        // Best hit first, so a case's first hit is its best.
        let mut order: Vec<Uuid> = Vec::new();
        let mut best: HashMap<Uuid, (f32, DocAddress, usize)> = HashMap::new();
        // The case columns, opened once per segment (not once per hit).
        let mut columns = HashMap::new();
        for (score, addr) in top {
            let (hi, lo) = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let seg = searcher.segment_reader(addr.segment_ord);
                    e.insert((seg.fast_fields().u64("case_hi")?, seg.fast_fields().u64("case_lo")?))
                }
            };
            let (hi, lo) = (hi.first(addr.doc_id), lo.first(addr.doc_id));
            let (Some(hi), Some(lo)) = (hi, lo) else { continue };
            let case = Uuid::from_u64_pair(hi, lo);
            match best.get_mut(&case) {
                Some(b) => b.2 += 1,
                None => {
                    order.push(case);
                    best.insert(case, (score, addr, 1));
                }
            }
        }
        let mut snippets = Snippets::new(&searcher, &*query, &self.f);
        let mut out = Vec::with_capacity(order.len());
        for (i, case) in order.into_iter().enumerate() {
            let (score, addr, hits) = best[&case];
            let best = if i < SNIPPET_CASES { Some(self.hit(&searcher, &mut snippets, score, addr)?) } else { None };
            out.push(CaseMatch { case_id: case, score, hits, best });
        }
        Ok(out)
    }

    fn hit(&self, searcher: &Searcher, snippets: &mut Snippets<'_>, score: f32, addr: DocAddress) -> Result<SearchHit> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let text = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).map(str::to_string);
        let uuid = |f: Field| text(f).and_then(|s| Uuid::parse_str(&s).ok());
        let kind =
            text(self.f.kind).and_then(|k| HitKind::parse(&k)).ok_or_else(|| SearchError::Engine("a document without a kind".into()))?;
        let case_id = uuid(self.f.case).ok_or_else(|| SearchError::Engine("a document without a case".into()))?;
        let mut matches = Vec::new();
        for sf in SearchField::ALL {
            let Some(value) = text(self.f.text[&sf]) else { continue };
            if let Some(m) = snippets.of(sf, &value)? {
                matches.push(m);
            }
        }
        Ok(SearchHit {
            kind,
            id: uuid(self.f.id).unwrap_or(case_id),
            case_id,
            case_title: text(self.f.case_title),
            brief_id: uuid(self.f.brief),
            score,
            matches,
        })
    }
}

/// Snippet generators, one per field, made as first needed for one query.
struct Snippets<'a> {
    searcher: &'a Searcher,
    query: &'a dyn Query,
    fields: &'a Fields,
    made: HashMap<SearchField, SnippetGenerator>,
}

impl<'a> Snippets<'a> {
    fn new(searcher: &'a Searcher, query: &'a dyn Query, fields: &'a Fields) -> Self {
        Snippets { searcher, query, fields, made: HashMap::new() }
    }

    fn of(&mut self, sf: SearchField, text: &str) -> Result<Option<FieldMatch>> {
        if !self.made.contains_key(&sf) {
            let mut g = SnippetGenerator::create(self.searcher, self.query, self.fields.text[&sf])?;
            g.set_max_num_chars(SNIPPET_CHARS);
            self.made.insert(sf, g);
        }
        let snippet = self.made[&sf].snippet(text);
        if snippet.highlighted().is_empty() {
            return Ok(None);
        }
        let fragment = snippet.fragment();
        let ranges = snippet
            .highlighted()
            .iter()
            .filter_map(|r| {
                let start = utf16_len(fragment.get(..r.start)?);
                let len = utf16_len(fragment.get(r.start..r.end)?);
                Some(MatchRange { start, end: start + len })
            })
            .collect();
        Ok(Some(FieldMatch { field: sf, snippet: fragment.to_string(), ranges }))
    }
}

fn utf16_len(s: &str) -> u32 {
    u32::try_from(s.encode_utf16().count()).unwrap_or(u32::MAX)
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The case whose indexed text an event may change, if any. Events that change no indexed
/// text (access, custody, team, holds, decisions, bookkeeping) touch none; a case event of
/// a kind this crate does not know touches its case, so a new kind is never missed.
fn touched_case(store: &Store, kind: &EventKind) -> Result<Option<Uuid>> {
    let evidence_case = |e: Uuid| -> Result<Option<Uuid>> { Ok(store.records().evidence(e)?.map(|r| r.case_id)) };
    Ok(match kind {
        EventKind::AccessRecorded { .. }
        | EventKind::CustodyRecorded { .. }
        | EventKind::DisclosureRecorded { .. }
        | EventKind::TeamAssigned { .. }
        | EventKind::TeamUnassigned { .. }
        | EventKind::HoldPlaced { .. }
        | EventKind::HoldReleased { .. }
        | EventKind::ReviewDecided { .. }
        | EventKind::ProfileCreated { .. } => None,
        EventKind::Profile(ProfileEvent::NoticeStored { notice, .. }) => match &notice.kind {
            NoticeKind::BriefPublished { case_id, .. } | NoticeKind::BriefWithdrawn { case_id, .. } => Some(*case_id),
            _ => None,
        },
        EventKind::Profile(_) => None,
        other => match other.case_id() {
            Some(c) => Some(c),
            None => match other.evidence_id() {
                Some(e) => evidence_case(e)?,
                None => None,
            },
        },
    })
}

/// The searchable items of one case as `store` holds them: the case (when held) with its
/// notes and evidence, its briefs (not withdrawn) and its submissions.
fn case_entries(store: &Store, case: Uuid, briefs: &[BriefView], submissions: &[SubmissionView]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let detail = match store.case(case) {
        Ok(d) => Some(d),
        Err(casebridge_core::Error::UnknownCase { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let case_title = detail.as_ref().map(|d| d.title.clone());
    let entry = |kind, id, brief_id, fields| Entry { kind, id, case_id: case, case_title: case_title.clone(), brief_id, fields };
    if let Some(d) = &detail {
        out.push(entry(
            HitKind::Case,
            case,
            None,
            vec![
                (SearchField::Title, d.title.clone()),
                (SearchField::Reference, d.reference.clone().unwrap_or_default()),
                (SearchField::Tags, d.tags.join(" ")),
                (SearchField::Summary, d.summary.clone().unwrap_or_default()),
            ],
        ));
        for n in &d.notes {
            out.push(entry(HitKind::Note, n.id, None, vec![(SearchField::Note, n.text.clone())]));
        }
        for e in &d.evidence {
            out.push(entry(
                HitKind::Evidence,
                e.id,
                None,
                vec![
                    (SearchField::EvidenceName, e.original_name.clone()),
                    (SearchField::EvidenceDescription, e.description.clone().unwrap_or_default()),
                ],
            ));
        }
    }
    for b in briefs.iter().filter(|b| b.case_id == case) {
        out.push(entry(
            HitKind::Brief,
            b.id,
            Some(b.id),
            vec![(SearchField::BriefTitle, b.title.clone()), (SearchField::BriefText, b.body.clone())],
        ));
    }
    for s in submissions.iter().filter(|s| s.case_id == case) {
        let names: Vec<&str> = s.items.iter().map(|i| i.name.as_str()).collect();
        out.push(entry(
            HitKind::Submission,
            s.id,
            Some(s.brief_id),
            vec![
                (SearchField::SubmissionDescription, s.description.clone().unwrap_or_default()),
                (SearchField::SubmissionItems, names.join(" ")),
            ],
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
