//! One process at a time: while another process holds the store, the CLI says so promptly
//! instead of waiting or touching anything.

use std::time::Duration;

use casebridge_core::{Passphrase, Store};

use crate::harness::{assert_same_tree, in_process, run, snapshot, Profile, PASS};

#[test]
fn second_process_gets_store_is_in_use_promptly() {
    let p = Profile::new();
    let case = p.new_case("Held elsewhere");
    let held = in_process(|| Store::open(&p.store, &Passphrase::new(PASS))).expect("open the store in the test process");
    let before = snapshot(&p.store);

    for args in [vec!["case", "list"], vec!["note", "add", &case, "while held"], vec!["check", "--read-data"]] {
        let out = run(p.command(&args), Duration::from_secs(10));
        assert!(!out.timed_out, "the CLI waited for the lock instead of failing\n{out}");
        out.fails_with("store is in use");
        assert!(out.elapsed < Duration::from_secs(5), "the refusal should be prompt\n{out}");
    }
    assert_same_tree(&before, &snapshot(&p.store), "while another process held the store");

    in_process(|| drop(held));
    p.cmd(&["case", "list"]).ok();
}
