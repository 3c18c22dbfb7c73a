//! Desktop notifications after a sync round: which to show, decided from what the store held
//! before the round and what it holds after it ([`Held`]), by the pure function [`decide`]. The
//! desktop shell shows them natively (src-tauri); nothing here knows about Tauri.
//!
//! What a notification may say:
//! - **Volunteers** never see case content in one: "A new request for help" (new briefs) and
//!   "A submission was reviewed" (decisions), counted, and nothing else: no brief title or text,
//!   no case, reference, evidence name, description, decision or reviewer's reason. A
//!   notification shows on the lock screen and over whatever else is on the screen.
//! - **Police staff**: "3 new submissions" (no case, brief or volunteer named), and new briefs
//!   of their colleagues with the brief's title when there is one brief (the text the agency
//!   wrote for volunteers to read), only for cases they may see: a supervisor every case, an
//!   investigator the cases whose team they are on. Never their own briefs.
//!
//! Each kind is coalesced into one notification per round ("3 new submissions", not three).
//! The `notifications` setting (on by default) turns them all off. They are written in the UI's
//! [`Language`] (English, German or Dutch; the desktop tells the session, `set_language`).

use std::collections::{BTreeMap, BTreeSet};

use casebridge_core::{BriefView, Store, SubmissionView};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::views::Role;

/// The longest brief title a staff notification shows (characters); a longer one is cut with "…".
pub const MAX_TITLE_CHARS: usize = 80;

/// The language notifications are written in: the UI's (the desktop tells the session when it
/// starts and when the user changes it; English until then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// German.
    De,
    /// Dutch.
    Nl,
}

impl Language {
    /// The language of a tag (`de`, `de-AT`, `nl_BE.UTF-8`: its primary subtag); `None` for one
    /// notifications are not written in.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_', '.', '@']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Language::En),
            "de" => Some(Language::De),
            "nl" => Some(Language::Nl),
            _ => None,
        }
    }

    fn texts(self) -> &'static Texts {
        match self {
            Language::En => &EN,
            Language::De => &DE,
            Language::Nl => &NL,
        }
    }
}

/// A notification's words in one language: `(one, many)` pairs, `many` after the count.
struct Texts {
    submissions: (&'static str, &'static str),
    new_brief_title: &'static str,
    colleague_published: &'static str,
    briefs: (&'static str, &'static str),
    reviewed: (&'static str, &'static str),
    requests: (&'static str, &'static str),
    untitled: &'static str,
}

const EN: Texts = Texts {
    submissions: ("A new submission to review", "new submissions to review"),
    new_brief_title: "New brief",
    colleague_published: "A colleague published a brief",
    briefs: ("A new brief", "new briefs"),
    reviewed: ("A submission was reviewed", "submissions were reviewed"),
    requests: ("A new request for help", "new requests for help"),
    untitled: "(untitled)",
};

const DE: Texts = Texts {
    submissions: ("Eine neue Einsendung zu prüfen", "neue Einsendungen zu prüfen"),
    new_brief_title: "Neuer Aufruf",
    colleague_published: "Ein Kollege hat einen Aufruf veröffentlicht",
    briefs: ("Ein neuer Aufruf", "neue Aufrufe"),
    reviewed: ("Eine Einsendung wurde geprüft", "Einsendungen wurden geprüft"),
    requests: ("Eine neue Bitte um Hilfe", "neue Bitten um Hilfe"),
    untitled: "(ohne Titel)",
};

const NL: Texts = Texts {
    submissions: ("Een nieuwe inzending om te beoordelen", "nieuwe inzendingen om te beoordelen"),
    new_brief_title: "Nieuwe oproep",
    colleague_published: "Een collega heeft een oproep gepubliceerd",
    briefs: ("Een nieuwe oproep", "nieuwe oproepen"),
    reviewed: ("Een inzending is beoordeeld", "inzendingen zijn beoordeeld"),
    requests: ("Een nieuw verzoek om hulp", "nieuwe verzoeken om hulp"),
    untitled: "(zonder titel)",
};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// New submissions to review (police staff).
    Submissions,
    /// Decisions on this volunteer's submissions.
    Decisions,
    /// New briefs (volunteers: requests for help addressed to them).
    Briefs,
}

/// One notification to show: a plain-text title and body (never markup).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// What it is about.
    pub kind: NotificationKind,
    /// How many things it stands for.
    pub count: usize,
    /// The notification's title (its summary line).
    pub title: String,
    /// Its body.
    pub body: String,
}

/// The part of the store notifications are decided from: the submissions and briefs held, each
/// with only what [`decide`] may look at, and which cases the member may see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Submissions by id.
    pub submissions: BTreeMap<Uuid, HeldSubmission>,
    /// Briefs (published, not withdrawn) by id.
    pub briefs: BTreeMap<Uuid, HeldBrief>,
    /// The cases whose team this member is on (all that matters for investigators).
    pub my_cases: BTreeSet<Uuid>,
}

/// A submission as [`Held`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldSubmission {
    /// The case it answers.
    pub case_id: Uuid,
    /// The volunteer who made it.
    pub submitter: Uuid,
    /// How many decisions it has.
    pub decisions: usize,
    /// Its volunteer withdrew it.
    pub withdrawn: bool,
}

/// A brief as [`Held`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBrief {
    /// Its case.
    pub case_id: Uuid,
    /// Who published it (a member id; the agency id for a volunteer's briefs).
    pub published_by: Option<Uuid>,
    /// Its title (empty in a volunteer's [`Held`]: never needed there).
    pub title: String,
}

impl HeldSubmission {
    /// What [`Held`] keeps of `s`.
    pub fn of(s: &SubmissionView) -> HeldSubmission {
        HeldSubmission { case_id: s.case_id, submitter: s.submitter, decisions: s.decisions.len(), withdrawn: s.withdrawn_at.is_some() }
    }
}

impl HeldBrief {
    /// What [`Held`] keeps of `b` for a member with `role` (volunteers: no title).
    pub fn of(b: &BriefView, role: Role) -> HeldBrief {
        HeldBrief { case_id: b.case_id, published_by: b.published_by, title: if role.is_staff() { b.title.clone() } else { String::new() } }
    }
}

impl Held {
    /// Reads what `store` holds now. Records nothing (no access entry: nothing is shown yet).
    /// With `since` (what was read before the round), `my_cases` is filled for the cases of the
    /// submissions and briefs new since then (all [`decide`] asks about; an investigator's only);
    /// without, it stays empty.
    pub fn read(store: &Store, since: Option<&Held>) -> Result<Held> {
        let role = store.whoami().role;
        let submissions: BTreeMap<Uuid, HeldSubmission> = store.submissions()?.iter().map(|s| (s.id, HeldSubmission::of(s))).collect();
        let briefs: BTreeMap<Uuid, HeldBrief> = store.briefs(false)?.iter().map(|b| (b.id, HeldBrief::of(b, role))).collect();
        let mut my_cases = BTreeSet::new();
        if let (Role::Investigator, Some(since)) = (role, since) {
            let new_subs = submissions.iter().filter(|(id, _)| !since.submissions.contains_key(id)).map(|(_, s)| s.case_id);
            let new_briefs = briefs.iter().filter(|(id, _)| !since.briefs.contains_key(id)).map(|(_, b)| b.case_id);
            for case in new_subs.chain(new_briefs).collect::<BTreeSet<Uuid>>() {
                if store.case(case).is_ok_and(|c| c.on_team) {
                    my_cases.insert(case);
                }
            }
        }
        Ok(Held { submissions, briefs, my_cases })
    }
}

/// The notifications to show for what came in between `before` and `after` (the store read
/// before and after a sync round), for the member `me` with `role`; none when `enabled` is
/// false. At most one per kind, counted, in `lang`.
pub fn decide(me: Uuid, role: Role, before: &Held, after: &Held, enabled: bool, lang: Language) -> Vec<Notification> {
    if !enabled {
        return Vec::new();
    }
    let words = lang.texts();
    let may_see = |case: &Uuid| match role {
        Role::Supervisor => true,
        Role::Investigator => after.my_cases.contains(case),
        _ => false,
    };
    let mut out = Vec::new();
    if role.is_staff() {
        let new_submissions = after
            .submissions
            .iter()
            .filter(|(id, s)| !before.submissions.contains_key(id) && !s.withdrawn && s.submitter != me && may_see(&s.case_id))
            .count();
        if new_submissions > 0 {
            out.push(Notification {
                kind: NotificationKind::Submissions,
                count: new_submissions,
                title: "Casebridge".into(),
                body: counted(new_submissions, words.submissions),
            });
        }
        let new_briefs: Vec<&HeldBrief> = after
            .briefs
            .iter()
            .filter(|(id, b)| !before.briefs.contains_key(id) && b.published_by != Some(me) && may_see(&b.case_id))
            .map(|(_, b)| b)
            .collect();
        match new_briefs.as_slice() {
            [] => {}
            // The title goes into the notification's title line, which desktops show as plain
            // text (a body may be read as markup).
            [one] => out.push(Notification {
                kind: NotificationKind::Briefs,
                count: 1,
                title: format!("{}: {}", words.new_brief_title, plain_title_in(&one.title, words.untitled)),
                body: words.colleague_published.into(),
            }),
            many => out.push(Notification {
                kind: NotificationKind::Briefs,
                count: many.len(),
                title: "Casebridge".into(),
                body: counted(many.len(), words.briefs),
            }),
        }
    } else {
        // A volunteer's store holds only their own submissions and the briefs addressed to them.
        let reviewed = after
            .submissions
            .iter()
            .filter(|(id, s)| s.submitter == me && s.decisions > before.submissions.get(id).map_or(0, |b| b.decisions))
            .count();
        if reviewed > 0 {
            out.push(Notification {
                kind: NotificationKind::Decisions,
                count: reviewed,
                title: "Casebridge".into(),
                body: counted(reviewed, words.reviewed),
            });
        }
        let new_briefs = after.briefs.keys().filter(|id| !before.briefs.contains_key(id)).count();
        if new_briefs > 0 {
            out.push(Notification {
                kind: NotificationKind::Briefs,
                count: new_briefs,
                title: "Casebridge".into(),
                body: counted(new_briefs, words.requests),
            });
        }
    }
    out
}

fn counted(n: usize, (one, many): (&str, &str)) -> String {
    if n == 1 {
        one.to_string()
    } else {
        format!("{n} {many}")
    }
}

/// A brief title for a notification's title line: control characters (line breaks among them)
/// become spaces, runs of white space one space, markup's `<`, `>` and `&` are dropped, and at
/// most [`MAX_TITLE_CHARS`] characters are kept. An empty result is "(untitled)".
pub fn plain_title(title: &str) -> String {
    plain_title_in(title, EN.untitled)
}

/// [`plain_title`], with `untitled` for an empty result.
fn plain_title_in(title: &str, untitled: &str) -> String {
    let cleaned: String = title.chars().filter(|c| !matches!(c, '<' | '>' | '&')).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.is_empty() {
        return untitled.into();
    }
    if joined.chars().count() > MAX_TITLE_CHARS {
        let cut: String = joined.chars().take(MAX_TITLE_CHARS - 1).collect();
        return format!("{}…", cut.trim_end());
    }
    joined
}

#[cfg(test)]
mod tests;
