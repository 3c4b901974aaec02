// SPDX-License-Identifier: GPL-2.0
//! What the host micro-benchmarks (`rust/core/benches`), the guest
//! benchmarks (`tools/bench`) and the guest tests share: a seeded
//! generator, so that a random order can be replayed from the seed a
//! message prints, and the summary of repeated runs of a measurement.

/// Marsaglia's xorshift64 (shifts 13, 7, 17): reproducible from its seed.
#[derive(Clone, Debug)]
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator whose state is `seed` itself (a zero seed stays zero:
    /// pass a non-zero one).
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher-Yates shuffle of `v`.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Median, min and max of the runs of a measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// The median (the mean of the two middle runs for an even count).
    pub median: f64,
    /// The fastest or smallest run.
    pub min: f64,
    /// The slowest or largest run.
    pub max: f64,
    /// How many runs.
    pub runs: usize,
}

impl Stat {
    /// The summary of `runs`; NaN figures when there are none.
    pub fn of(mut runs: Vec<f64>) -> Self {
        runs.sort_by(f64::total_cmp);
        let n = runs.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => runs[n / 2],
            _ => (runs[n / 2 - 1] + runs[n / 2]) / 2.0,
        };
        Self {
            median,
            min: runs.first().copied().unwrap_or(f64::NAN),
            max: runs.last().copied().unwrap_or(f64::NAN),
            runs: n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Stat::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        let s = Stat::of(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.runs), (2.5, 1.0, 4.0, 4));
    }

    #[test]
    fn no_runs_is_nan_not_zero() {
        let s = Stat::of(Vec::new());
        assert!(s.median.is_nan() && s.min.is_nan() && s.max.is_nan());
        assert_eq!(s.runs, 0);
    }

    #[test]
    fn the_sequence_is_pinned() {
        // Seeds printed by earlier runs must replay the same orders.
        let mut r = Xorshift::new(1);
        assert_eq!(
            [r.next(), r.next(), r.next()],
            [1082269761, 1152992998833853505, 11177516664432764457]
        );
        let mut v: Vec<u32> = (0..10).collect();
        Xorshift::new(0x5eed).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
