//! The index is a projection of the journal: delete it, rebuild it, and every view is the same.

use std::fs;

use serde_json::Value;

use crate::harness::{populate, Populated, Profile};

/// Everything a user can see, as JSON, labelled by the command that printed it.
fn views(p: &Profile, pop: &Populated) -> Vec<(String, Value)> {
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["case".into(), "list".into()],
        vec!["case".into(), "list".into(), "--status".into(), "active".into()],
        vec!["case".into(), "list".into(), "--search".into(), "graffiti".into()],
        vec!["log".into()],
        vec!["whoami".into()],
    ];
    for c in &pop.cases {
        cmds.push(vec!["case".into(), "show".into(), c.clone()]);
        cmds.push(vec!["evidence".into(), "list".into(), c.clone()]);
        cmds.push(vec!["log".into(), c.clone()]);
    }
    for (e, _, _) in &pop.evidence {
        cmds.push(vec!["evidence".into(), "show".into(), e.clone()]);
        cmds.push(vec!["evidence".into(), "custody".into(), e.clone()]);
    }
    cmds.into_iter()
        .map(|mut args| {
            args.push("--json".into());
            let mut v = p.json(&args);
            // `case show` and `evidence show` by an investigator record an access (the access
            // log), so the log grows with every round of views: compare the rest.
            if args[0] == "log" {
                if let Some(events) = v.as_array_mut() {
                    events.retain(|e| e["kind"] != "access_recorded");
                }
            }
            (args.join(" "), v)
        })
        .collect()
}

#[track_caller]
fn assert_same_views(before: &[(String, Value)], after: &[(String, Value)]) {
    assert_eq!(before.len(), after.len());
    for ((cmd, b), (_, a)) in before.iter().zip(after) {
        assert_eq!(a, b, "`casebridge {cmd}` differs after the rebuild\nbefore: {b:#}\nafter:  {a:#}");
    }
}

fn populate_more(p: &Profile) -> Populated {
    let pop = populate(p);
    // A second edit of the same case and more notes, so that replay order matters.
    p.cmd(&["case", "edit", &pop.cases[0], "--title", "Bike thefts, Mitte and Wedding"]).ok();
    p.cmd(&["case", "edit", &pop.cases[1], "--status", "suspended"]).ok();
    p.cmd(&["note", "add", &pop.cases[1], "Suspended until the CCTV arrives"]).ok();
    pop
}

#[test]
fn rebuild_after_deleting_the_index_gives_identical_views() {
    let p = Profile::new();
    let pop = populate_more(&p);
    let before = views(&p, &pop);
    assert!(before.iter().any(|(c, v)| c.starts_with("case list") && v.as_array().is_some_and(|a| a.len() == 2)));

    fs::remove_dir_all(p.store.join("index")).expect("delete index");
    p.cmd(&["store", "rebuild"]).ok();
    assert_same_views(&before, &views(&p, &pop));
    p.check_ok();

    // Rebuilding an intact index changes nothing either.
    p.cmd(&["store", "rebuild"]).ok();
    assert_same_views(&before, &views(&p, &pop));
    p.check_ok();
}

/// Without an explicit rebuild: opening a store whose index is gone recreates an empty index
/// and replays the journal into it.
#[test]
fn deleted_index_is_replayed_on_open() {
    let p = Profile::new();
    let pop = populate_more(&p);
    let before = views(&p, &pop);
    fs::remove_dir_all(p.store.join("index")).expect("delete index");

    let list = p.json(&["case", "list", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(pop.cases.len()), "cases after the index was deleted: {list}");
    assert_same_views(&before, &views(&p, &pop));
    p.check_ok();
}
