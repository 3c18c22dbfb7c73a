//! `casebridge init` through the real CLI (production KDF parameters, about half a second),
//! then `whoami --json`.

use crate::harness::{is_uuid, str_field, Profile};

#[test]
fn init_then_whoami_reports_the_profile() {
    let p = Profile::empty();
    let out = p.cmd(&["init", "--name", "Det. Insp. Vera Brandt"]);
    out.ok();
    assert!(p.store.join("casebridge.store").is_file(), "init should create the store header\n{out}");

    let who = p.json(&["whoami", "--json"]);
    assert!(is_uuid(&str_field(&who, "member_id")), "member_id should be a UUID: {who}");
    assert_eq!(str_field(&who, "name"), "Det. Insp. Vera Brandt");
    assert_eq!(str_field(&who, "role"), "investigator", "the default role is investigator");
    let fp = str_field(&who, "fingerprint");
    assert!(fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()), "fingerprint should be 64 hex digits: {fp}");

    // The same profile answers the same way every time.
    assert_eq!(p.json(&["whoami", "--json"]), who);
}

#[test]
fn init_with_volunteer_role() {
    let p = Profile::empty();
    p.cmd(&["init", "--name", "Mila Jansen", "--role", "volunteer"]).ok();
    let who = p.json(&["whoami", "--json"]);
    assert_eq!(str_field(&who, "role"), "volunteer");
    assert_eq!(str_field(&who, "name"), "Mila Jansen");
}
