//! What the benchmarks feed the store: pseudo-random files and fresh stores.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use casebridge_core::{KdfParams, NewCase, Passphrase, Role, Store};
use uuid::Uuid;

/// The benchmark stores' passphrase. These stores hold only generated data.
pub const PASSPHRASE: &str = "casebridge-bench: generated data only";

pub fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE)
}

/// Creates a store with the production KDF parameters and one case; returns it open.
pub fn fresh_store(dir: &Path) -> Result<(Store, Uuid)> {
    let mut store = Store::create(dir, &passphrase(), "Bench Investigator", Role::Investigator, KdfParams::INTERACTIVE)
        .with_context(|| format!("creating a store in {}", dir.display()))?;
    let case = store.create_case(NewCase { title: "Benchmark case".into(), ..Default::default() }).context("creating a case")?;
    Ok((store, case))
}

/// SplitMix64: fast, and good enough that neither compression nor deduplication can help.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed that differs between runs (so no store ever sees the same content twice).
    pub fn fresh() -> Rng {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Rng::new(nanos as u64 ^ u64::from(std::process::id()).rotate_left(32))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// Writes `size` pseudo-random bytes to a new file at `path`.
pub fn write_random_file(path: &Path, size: u64, rng: &mut Rng) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_covers_odd_lengths_and_differs_by_seed() {
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        Rng::new(1).fill(&mut a);
        Rng::new(2).fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a[12], 0);
    }
}
