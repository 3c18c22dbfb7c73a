//! Seeded pseudo-random bytes: Marsaglia's xorshift64 (shifts 13, 7, 17), a generator small
//! enough to read and fast enough for megabytes. The suites seed it in different ways, kept
//! apart here so that every suite still gets exactly the bytes it always had:
//!
//! - [`pseudo_random`]: the trust and court suites' evidence files;
//! - [`noise`]: the agency suites' bytes that no bundle ever holds;
//! - [`xorshift_bytes`] / [`xorshift_words`] from a state the caller derives (the store
//!   model's content, the app suite's files).

use std::path::{Path, PathBuf};

/// 2^64 divided by the golden ratio: spreads small seeds over the whole state.
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Knuth's MMIX linear congruential multiplier and increment: the app suite's seed mixing.
const LCG_MUL: u64 = 6_364_136_223_846_793_005;
const LCG_ADD: u64 = 1_442_695_040_888_963_407;

/// xorshift64: each step shifts the state left 13, right 7, left 17. A zero state stays zero;
/// the seedings below never start there.
#[derive(Clone, Debug)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator starting at `state`.
    pub const fn new(state: u64) -> XorShift64 {
        XorShift64(state)
    }

    /// The next state.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// `len` bytes: the low byte of each step from `state`.
pub fn xorshift_bytes(state: u64, len: usize) -> Vec<u8> {
    let mut rng = XorShift64::new(state);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// `len` bytes: every step's eight bytes (little-endian) from `state`, cut to `len`.
pub fn xorshift_words(state: u64, len: usize) -> Vec<u8> {
    let mut rng = XorShift64::new(state);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Deterministic pseudo-random bytes for `seed` (the trust and court suites' evidence).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    xorshift_bytes(seed.wrapping_mul(GOLDEN) | 1, len)
}

/// `len` bytes no bundle ever holds (the agency suites' stream seeded by `seed`).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    xorshift_bytes(GOLDEN ^ seed, len)
}

/// Writes a file `dir/name` of `len` pseudo-random bytes seeded by `seed` (the app suite's
/// files) and returns its path.
pub fn write_file(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, xorshift_words(seed.wrapping_mul(LCG_MUL).wrapping_add(LCG_ADD), len)).unwrap();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streams_are_the_ones_the_suites_always_had() {
        // The first steps of the copies these functions replace, computed by hand.
        let mut x = 5u64.wrapping_mul(GOLDEN) | 1;
        let mut first = Vec::new();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            first.push(x);
        }
        assert_eq!(pseudo_random(3, 5), first.iter().map(|x| *x as u8).collect::<Vec<_>>());
        let words = xorshift_words(5u64.wrapping_mul(GOLDEN) | 1, 12);
        assert_eq!(words[..8], first[0].to_le_bytes());
        assert_eq!(words[8..], first[1].to_le_bytes()[..4]);
        assert_ne!(noise(64, 1), noise(64, 2));
    }
}
