// SPDX-License-Identifier: GPL-2.0
//! Kernel log messages that input can trigger: rate-limited per call site
//! (`warn_limited!`), so a caller looping on bad input cannot flood the log.

use kernel::bindings;

/// Milliseconds since boot at jiffy resolution (wraps after 49 days; the
/// rate limit treats a clock going back as a new window).
pub(crate) fn now_ms() -> u64 {
    // SAFETY: `jiffies` is a kernel global updated by the timer tick; a
    // volatile read of a machine word is how the kernel itself reads it.
    let j = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::jiffies)) };
    // SAFETY: A pure conversion of a number.
    u64::from(unsafe { bindings::jiffies_to_msecs(j) })
}

/// `pr_warn!`, at most ten times per five seconds per call site; the next
/// message printed says how many were held back.
macro_rules! warn_limited {
    ($($arg:tt)*) => {{
        use $crate::pty_core::ratelimit::{RateLimit, Verdict};
        static LIMIT: RateLimit = RateLimit::new(5000, 10);
        match LIMIT.check($crate::seam::log::now_ms()) {
            Verdict::Print { suppressed: 0 } => kernel::pr_warn!($($arg)*),
            Verdict::Print { suppressed } => {
                kernel::pr_warn!("{} similar messages suppressed\n", suppressed);
                kernel::pr_warn!($($arg)*);
            }
            Verdict::Suppress => {}
        }
    }};
}
pub(crate) use warn_limited;
