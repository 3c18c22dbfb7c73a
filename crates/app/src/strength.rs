//! Passphrase strength for the profile screen: zxcvbn's score (Dropbox's estimator: dictionary
//! words, names, keyboard patterns, dates, repeats) next to the store's own length rule.

use casebridge_core::Passphrase;

use crate::views::Strength;

/// zxcvbn's work grows with the length of its input; past this many characters a passphrase is
/// scored on its first ones only (the rest can only make it stronger).
const SCORED_CHARS: usize = 100;

/// Words that say nothing secret in a Casebridge passphrase.
const APP_WORDS: [&str; 4] = ["casebridge", "evidence", "police", "volunteer"];

/// How strong `passphrase` is, and whether the store accepts it (at least
/// [`casebridge_core::MIN_PASSPHRASE_CHARS`] characters). A passphrase under the minimum never scores above 1.
pub fn passphrase_strength(passphrase: &str) -> Strength {
    let scored = zeroize::Zeroizing::new(passphrase.chars().take(SCORED_CHARS).collect::<String>());
    let entropy = zxcvbn::zxcvbn(&scored, &APP_WORDS);
    let meets_policy = Passphrase::new(passphrase.to_string()).check_policy().is_ok();
    let mut score = u8::from(entropy.score());
    if !meets_policy {
        score = score.min(1);
    }
    let label = match score {
        0 => "too weak",
        1 => "weak",
        2 => "fair",
        3 => "strong",
        _ => "very strong",
    };
    Strength { score, label: label.to_string(), meets_policy }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_guessability_and_the_length_rule() {
        let weak = passphrase_strength("password1");
        assert!(!weak.meets_policy);
        assert!(weak.score <= 1, "{weak:?}");
        let common = passphrase_strength("password123456");
        assert!(common.meets_policy);
        assert!(common.score <= 1, "{common:?}");
        let good = passphrase_strength("violet tractor humming seventeen lanterns");
        assert!(good.meets_policy);
        assert_eq!(good.score, 4, "{good:?}");
        assert_eq!(good.label, "very strong");
        let empty = passphrase_strength("");
        assert_eq!((empty.score, empty.meets_policy), (0, false));
        // Long input is scored quickly and stays strong.
        let long = "correct horse battery staple ".repeat(400);
        assert!(passphrase_strength(&long).meets_policy);
        assert_eq!(casebridge_core::MIN_PASSPHRASE_CHARS, 10);
    }
}
