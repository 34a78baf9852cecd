//! The seeded random source: one ChaCha8 stream per generated item.
//!
//! Every examinee, meister and employer draws from its own ChaCha8 stream,
//! keyed by (seed, domain) and selected by the item's index. An item therefore
//! looks the same however many threads generate the file and whichever range of
//! indices is asked for, and a later batch (`--first-index`) continues the
//! same population without reusing ids.
//!
//! Only `RngCore::next_u32`/`next_u64` of `rand_chacha` are used; the bounded
//! sampling below is ours, so the output does not depend on how a `rand`
//! release maps random words to ranges (ChaCha's stream itself is fixed by its
//! specification).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which population an item belongs to: separates the key of each stream family.
#[derive(Clone, Copy)]
pub(crate) enum Domain {
    Examinee,
    Meister,
    Employer,
}

impl Domain {
    fn tag(self) -> u64 {
        match self {
            Domain::Examinee => 0x6578_616d_696e_6565, // "examinee"
            Domain::Meister => 0x6d65_6973_7465_7200,  // "meister"
            Domain::Employer => 0x656d_706c_6f79_6572, // "employer"
        }
    }
}

/// SplitMix64 step: expands a seed into well-mixed words (keys, permutation constants).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 256-bit ChaCha key of one domain under one seed.
#[derive(Clone, Copy)]
pub(crate) struct StreamKey([u8; 32]);

impl StreamKey {
    pub(crate) fn new(seed: u64, domain: Domain) -> Self {
        let mut state = seed ^ domain.tag();
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        StreamKey(key)
    }

    /// The stream of item `index` in this domain.
    pub(crate) fn stream(&self, index: u64) -> Rng {
        let mut inner = ChaCha8Rng::from_seed(self.0);
        inner.set_stream(index);
        Rng(inner)
    }
}

/// A random source with the few sampling helpers the generator needs.
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// Uniform in `0..n` (Lemire's multiply-and-reject, unbiased). `n` must be > 0.
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let mut m = u64::from(self.0.next_u32()) * u64::from(n);
        let mut low = m as u32;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u64::from(self.0.next_u32()) * u64::from(n);
                low = m as u32;
            }
        }
        (m >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = hi - lo + 1;
        match u32::try_from(span) {
            Ok(span) => lo + i64::from(self.below(span)),
            // Wider than u32: plain modulo; the bias (< 2^-32) does not matter here.
            Err(_) => lo + (self.0.next_u64() % span as u64) as i64,
        }
    }

    /// True with probability `permille / 1000`.
    pub(crate) fn permille(&mut self, permille: u32) -> bool {
        self.below(1000) < permille
    }

    /// One element of a non-empty slice, uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Tables are non-empty constants; `below(len)` is in bounds.
        let len = u32::try_from(items.len()).unwrap_or(u32::MAX);
        &items[self.below(len) as usize]
    }

    /// An index drawn by weight from a cumulative-weight table (last entry = total).
    pub(crate) fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = cumulative.last().copied().unwrap_or(1);
        let x = self.below(total);
        cumulative.partition_point(|&c| c <= x)
    }

    /// An uppercase ASCII letter.
    pub(crate) fn upper(&mut self) -> char {
        char::from(b'A' + self.below(26) as u8)
    }
}

/// Cumulative sums of `weights`, for [`Rng::weighted`].
pub(crate) fn cumulative(weights: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut total = 0u32;
    weights
        .into_iter()
        .map(|w| {
            total += w;
            total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_and_index_give_the_same_stream() {
        let mut s = StreamKey::new(7, Domain::Examinee).stream(3);
        let mut t = StreamKey::new(7, Domain::Examinee).stream(3);
        let xs: Vec<u32> = (0..64).map(|_| s.below(1000)).collect();
        let ys: Vec<u32> = (0..64).map(|_| t.below(1000)).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn different_indices_give_different_streams() {
        let key = StreamKey::new(7, Domain::Examinee);
        let mut a = key.stream(1);
        let mut b = key.stream(2);
        let xs: Vec<u32> = (0..8).map(|_| a.below(u32::MAX)).collect();
        let ys: Vec<u32> = (0..8).map(|_| b.below(u32::MAX)).collect();
        assert_ne!(xs, ys);
    }

    #[test]
    fn different_domains_give_different_streams() {
        let mut a = StreamKey::new(7, Domain::Examinee).stream(0);
        let mut b = StreamKey::new(7, Domain::Meister).stream(0);
        let xs: Vec<u32> = (0..8).map(|_| a.below(u32::MAX)).collect();
        let ys: Vec<u32> = (0..8).map(|_| b.below(u32::MAX)).collect();
        assert_ne!(xs, ys);
    }

    #[test]
    fn below_stays_in_range_and_reaches_both_ends() {
        let mut r = StreamKey::new(1, Domain::Employer).stream(0);
        let draws: Vec<u32> = (0..10_000).map(|_| r.below(7)).collect();
        assert!(draws.iter().all(|&x| x < 7));
        assert!(draws.contains(&0));
        assert!(draws.contains(&6));
    }

    #[test]
    fn range_is_inclusive() {
        let mut r = StreamKey::new(1, Domain::Employer).stream(1);
        let draws: Vec<i64> = (0..10_000).map(|_| r.range(-2, 2)).collect();
        assert!(draws.iter().all(|&x| (-2..=2).contains(&x)));
        assert!(draws.contains(&-2));
        assert!(draws.contains(&2));
    }

    #[test]
    fn weighted_never_picks_a_zero_weight_entry() {
        let table = cumulative([5, 0, 5]);
        let mut r = StreamKey::new(1, Domain::Employer).stream(2);
        let picks: Vec<usize> = (0..5_000).map(|_| r.weighted(&table)).collect();
        assert!(!picks.contains(&1));
        assert!(picks.contains(&0));
        assert!(picks.contains(&2));
    }
}
