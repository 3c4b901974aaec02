// SPDX-License-Identifier: GPL-2.0
//! A rate limit for refusal messages: whoever sends bad input in a loop
//! must not be able to flood the kernel log (the kernel's
//! `printk_ratelimit` idea, with the clock given by the caller so the
//! logic is testable on the host).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// At most `burst` messages per `interval_ms`; the first message of a new
/// window also reports how many were suppressed in the last one. Lock
/// free: racing callers may let one message too many through, never
/// block or lose the count for good.
pub struct RateLimit {
    interval_ms: u64,
    burst: u32,
    /// Start of the current window, in the caller's milliseconds.
    window_start: AtomicU64,
    /// Messages let through in the current window.
    printed: AtomicU32,
    /// Messages held back in the current window.
    suppressed: AtomicU32,
}

/// What [`RateLimit::check`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Print the message; `suppressed` were held back since the last one
    /// that was printed in an earlier window.
    Print {
        /// Messages not printed in the window before.
        suppressed: u32,
    },
    /// Do not print it.
    Suppress,
}

impl RateLimit {
    /// A limit of `burst` messages per `interval_ms`.
    pub const fn new(interval_ms: u64, burst: u32) -> Self {
        Self {
            interval_ms,
            burst,
            window_start: AtomicU64::new(0),
            printed: AtomicU32::new(0),
            suppressed: AtomicU32::new(0),
        }
    }

    /// Whether a message at time `now_ms` may be printed.
    pub fn check(&self, now_ms: u64) -> Verdict {
        let start = self.window_start.load(Ordering::Relaxed);
        let mut suppressed = 0;
        let expired = now_ms.saturating_sub(start) >= self.interval_ms || now_ms < start;
        if expired
            && self
                .window_start
                .compare_exchange(start, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // This caller opened the new window.
            self.printed.store(0, Ordering::Relaxed);
            suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        }
        let printed = self.printed.fetch_add(1, Ordering::Relaxed);
        if printed < self.burst {
            Verdict::Print { suppressed }
        } else {
            // Saturate rather than wrap: the count is only for the log.
            let _ = self
                .suppressed
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_add(1))
                });
            self.printed.store(self.burst, Ordering::Relaxed);
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_quiet_then_reports_suppressed() {
        let limit = RateLimit::new(5000, 3);
        let mut verdicts = [Verdict::Suppress; 5];
        for (i, v) in verdicts.iter_mut().enumerate() {
            *v = limit.check(10_000 + i as u64);
        }
        assert_eq!(verdicts[0], Verdict::Print { suppressed: 0 });
        assert_eq!(verdicts[2], Verdict::Print { suppressed: 0 });
        assert_eq!(verdicts[3], Verdict::Suppress);
        assert_eq!(verdicts[4], Verdict::Suppress);
        // Still the same window.
        assert_eq!(limit.check(14_999), Verdict::Suppress);
        // A new window prints again and says how many were held back.
        assert_eq!(limit.check(15_010), Verdict::Print { suppressed: 3 });
        assert_eq!(limit.check(15_011), Verdict::Print { suppressed: 0 });
    }

    #[test]
    fn a_clock_going_back_opens_a_window() {
        let limit = RateLimit::new(1000, 1);
        assert_eq!(limit.check(50_000), Verdict::Print { suppressed: 0 });
        assert_eq!(limit.check(50_001), Verdict::Suppress);
        assert_eq!(limit.check(10), Verdict::Print { suppressed: 1 });
    }

    #[test]
    fn a_flood_prints_at_most_burst_per_window() {
        let limit = RateLimit::new(100, 10);
        let printed = (0..100_000u64)
            .filter(|t| matches!(limit.check(1000 + t / 100), Verdict::Print { .. }))
            .count();
        // 100 000 calls over 1000 ms: ten windows of 100 ms.
        assert!(printed <= 10 * 11, "{printed} printed");
        assert!(printed >= 10 * 10, "{printed} printed");
    }
}
