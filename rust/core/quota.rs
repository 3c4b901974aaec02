// SPDX-License-Identifier: GPL-2.0
//! The module-wide limit on AT&T pairs, as Linux's `kernel.pty.max` and
//! `kernel.pty.reserve`: all instances together hold at most `max` pairs,
//! and instances owned by a user namespace other than the initial one
//! (containers) stop `reserve` short of that, so the host can always get a
//! pty to log in and repair things.

use core::sync::atomic::{AtomicU32, Ordering};

/// Pairs in use over all instances, against `max` and `reserve`.
pub struct PairQuota {
    max: u32,
    reserve: u32,
    in_use: AtomicU32,
}

/// Why [`PairQuota::take`] refused (`ENOSPC` for the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaExhausted {
    /// The limit that applied to this caller.
    pub limit: u32,
}

impl PairQuota {
    /// A quota of `max` pairs, `reserve` of them for the initial
    /// namespace's instances; `None` unless `reserve < max`.
    pub const fn new(max: u32, reserve: u32) -> Option<Self> {
        if reserve >= max {
            return None;
        }
        Some(Self {
            max,
            reserve,
            in_use: AtomicU32::new(0),
        })
    }

    /// The limit for an instance of the initial user namespace (`host`)
    /// or of another one.
    pub fn limit(&self, host: bool) -> u32 {
        if host {
            self.max
        } else {
            self.max.saturating_sub(self.reserve)
        }
    }

    /// Takes one pair, or says which limit was reached.
    pub fn take(&self, host: bool) -> Result<(), QuotaExhausted> {
        let limit = self.limit(host);
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then(|| n.saturating_add(1))
            })
            .map(|_| ())
            .map_err(|_| QuotaExhausted { limit })
    }

    /// Gives one pair back (one call per successful [`PairQuota::take`]).
    pub fn give_back(&self) {
        let _ = self
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Pairs in use.
    pub fn in_use(&self) -> u32 {
        self.in_use.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn containers_stop_short_of_the_reserve() {
        let q = PairQuota::new(6, 2).unwrap();
        for _ in 0..4 {
            assert_eq!(q.take(false), Ok(()));
        }
        assert_eq!(q.take(false), Err(QuotaExhausted { limit: 4 }));
        assert_eq!(q.take(true), Ok(()));
        assert_eq!(q.take(true), Ok(()));
        assert_eq!(q.take(true), Err(QuotaExhausted { limit: 6 }));
        q.give_back();
        assert_eq!(q.in_use(), 5);
        // The freed pair goes to the host only: containers are still over.
        assert_eq!(q.take(false), Err(QuotaExhausted { limit: 4 }));
        assert_eq!(q.take(true), Ok(()));
    }

    #[test]
    fn a_reserve_must_leave_room() {
        assert!(PairQuota::new(4, 4).is_none());
        assert!(PairQuota::new(4, 3).is_some());
    }

    #[test]
    fn giving_back_never_underflows() {
        let q = PairQuota::new(2, 0).unwrap();
        q.give_back();
        assert_eq!(q.in_use(), 0);
        assert_eq!(q.take(false), Ok(()));
    }
}
