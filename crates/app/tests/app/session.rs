//! The session: create, unlock, wrong passphrases and the lockout (kept across restarts), the
//! idle lock on a test clock.

use casebridge_app::{AppEvent, CaseSort, Role, LOCKOUT_MINUTES, MAX_FAILED_ATTEMPTS};
use chrono::Duration;

use crate::{env, session_at, unlocked, PASS};

#[test]
fn a_new_profile_is_unlocked_and_lock_closes_it() {
    let env = env();
    let info = env.session.app_info().unwrap();
    assert!(!info.profile_exists && !info.unlocked);
    assert_eq!(info.idle_lock_secs, 900);
    assert_eq!(env.session.unlock(PASS.into()).unwrap_err().code, "no_store");

    let me = env.session.profile_create("Vera Brandt", Role::Investigator, PASS.into()).unwrap();
    assert_eq!((me.name.as_str(), me.role), ("Vera Brandt", Role::Investigator));
    let info = env.session.app_info().unwrap();
    assert!(info.profile_exists && info.unlocked && !info.enrolled);
    assert_eq!(info.whoami.as_ref().map(|w| w.member_id), Some(me.member_id));
    assert_eq!(env.session.profile_create("Again", Role::Volunteer, PASS.into()).unwrap_err().code, "already_exists");

    env.session.lock();
    assert!(matches!(env.events.try_recv(), Ok(AppEvent::Locked(l)) if l.reason == "manual"));
    assert!(!env.session.app_info().unwrap().unlocked);
    assert_eq!(env.session.cases_list(None, None, CaseSort::Updated).unwrap_err().code, "locked");
    assert_eq!(env.session.unlock(PASS.into()).unwrap().member_id, me.member_id);
    assert!(env.session.cases_list(None, None, CaseSort::Updated).unwrap().is_empty());
}

#[test]
fn a_short_passphrase_creates_nothing() {
    let env = env();
    let err = env.session.profile_create("Vera", Role::Investigator, "short".into()).unwrap_err();
    assert_eq!(err.code, "passphrase_too_short");
    assert!(!env.dir.exists(), "a refused profile leaves no directory behind");
    // The directory stays usable for a good passphrase.
    env.session.profile_create("Vera", Role::Investigator, PASS.into()).unwrap();
}

#[test]
fn five_wrong_passphrases_lock_out_for_ten_minutes_even_across_a_restart() {
    let env = unlocked(Role::Volunteer);
    env.session.lock();
    for i in 1..MAX_FAILED_ATTEMPTS {
        let err = env.session.unlock("not the passphrase".into()).unwrap_err();
        assert_eq!(err.code, "wrong_passphrase", "attempt {i}");
        let left = MAX_FAILED_ATTEMPTS - i;
        assert!(err.message.contains(&format!("{left} tr")), "attempt {i}: {}", err.message);
        assert_eq!(env.session.app_info().unwrap().failed_attempts, i);
    }
    let err = env.session.unlock("not the passphrase".into()).unwrap_err();
    assert_eq!(err.code, "locked_out");
    assert!(err.message.contains("until"), "{}", err.message);
    // Even the right passphrase is refused now.
    assert_eq!(env.session.unlock(PASS.into()).unwrap_err().code, "locked_out");
    let info = env.session.app_info().unwrap();
    assert_eq!(info.failed_attempts, MAX_FAILED_ATTEMPTS);
    let until = info.locked_out_until.expect("a lockout time");
    assert_eq!(until - env.clock_now(), Duration::minutes(LOCKOUT_MINUTES));

    // A restart of the app does not reset it.
    let (restarted, _events) = session_at(&env.dir, &env.clock);
    assert_eq!(restarted.unlock(PASS.into()).unwrap_err().code, "locked_out");
    assert_eq!(restarted.app_info().unwrap().locked_out_until, Some(until));

    env.clock.advance(Duration::minutes(LOCKOUT_MINUTES) - Duration::seconds(1));
    assert_eq!(restarted.unlock(PASS.into()).unwrap_err().code, "locked_out");
    env.clock.advance(Duration::seconds(1));
    let info = restarted.app_info().unwrap();
    assert_eq!((info.locked_out_until, info.failed_attempts), (None, 0));
    // After the pause a wrong one counts from one again, and the right one resets the count.
    assert!(restarted.unlock("still wrong".into()).unwrap_err().message.contains("4 tries"));
    restarted.unlock(PASS.into()).unwrap();
    assert_eq!(restarted.app_info().unwrap().failed_attempts, 0);
}

#[test]
fn a_damaged_settings_file_is_not_a_way_around_the_lockout() {
    let env = unlocked(Role::Volunteer);
    env.session.lock();
    std::fs::write(env.dir.join(casebridge_app::settings::SETTINGS_FILE), b"{ not json").unwrap();
    assert_eq!(env.session.unlock(PASS.into()).unwrap_err().code, "locked_out");
    env.clock.advance(Duration::minutes(LOCKOUT_MINUTES));
    env.session.unlock(PASS.into()).unwrap();
}

#[test]
fn the_profile_locks_itself_after_the_idle_time() {
    let env = unlocked(Role::Investigator);
    assert_eq!(env.session.set_idle_lock(5).unwrap_err().code, "invalid_input");
    env.session.set_idle_lock(60).unwrap();
    env.clock.advance(Duration::seconds(45));
    env.session.touch();
    env.clock.advance(Duration::seconds(59));
    assert!(!env.session.check_idle(), "59 s after the last activity it is still open");
    assert!(env.session.app_info().unwrap().unlocked);
    env.clock.advance(Duration::seconds(1));
    assert!(env.session.check_idle());
    assert!(matches!(env.events.try_recv(), Ok(AppEvent::Locked(l)) if l.reason == "idle"));
    assert_eq!(env.session.cases_list(None, None, CaseSort::Updated).unwrap_err().code, "locked");

    // Without a tick, the next command notices; a late touch does not reopen it.
    env.session.unlock(PASS.into()).unwrap();
    env.clock.advance(Duration::seconds(61));
    env.session.touch();
    assert_eq!(env.session.case_create("x", None, None, vec![]).unwrap_err().code, "locked");

    // The idle time is kept with the profile.
    let (restarted, _events) = session_at(&env.dir, &env.clock);
    assert_eq!(restarted.app_info().unwrap().idle_lock_secs, 60);
}

#[test]
fn the_code_of_conduct_is_accepted_once_per_profile() {
    let env = unlocked(Role::Volunteer);
    assert!(!env.session.conduct_accepted().unwrap());
    env.session.accept_conduct().unwrap();
    env.session.accept_conduct().unwrap();
    assert!(env.session.conduct_accepted().unwrap());
    env.session.lock();
    assert_eq!(env.session.conduct_accepted().unwrap_err().code, "locked");
    let other = unlocked(Role::Volunteer);
    assert!(!other.session.conduct_accepted().unwrap());
}

#[test]
fn passphrase_strength_needs_no_profile() {
    let env = env();
    let s = env.session.passphrase_strength("violet tractor humming seventeen lanterns");
    assert!(s.meets_policy && s.score >= 3, "{s:?}");
    assert!(!env.session.passphrase_strength("abc").meets_policy);
}

impl crate::Env {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        casebridge_app::Clock::now(&*self.clock)
    }
}
