//! `passphrase change` checks the new passphrase's policy before it unlocks the store, so a
//! refused change leaves every file as it was, the index included.

use crate::harness::{assert_same_tree, snapshot, Profile};

#[test]
fn a_too_short_new_passphrase_touches_nothing() {
    let p = Profile::new();
    let case = p.new_case("Bike thefts");
    p.cmd(&["note", "add", &case, "Witness saw a white van"]).ok();
    let before = snapshot(&p.store);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let out = p.cmd_with(&["passphrase", "change"], |c| {
        c.env("CASEBRIDGE_NEW_PASSPHRASE", "short");
    });
    out.fails_with("at least 10");
    assert_same_tree(&before, &snapshot(&p.store), "after a refused passphrase change");
    p.cmd(&["whoami"]).ok();
}
