// SPDX-License-Identifier: GPL-2.0
//! ckpt_pty: pseudo terminals that can be checkpointed and restarted while
//! the user stays logged in.
//!
//! Layout: [`seam`] is the only code that touches raw bindings; [`device`]
//! holds the character devices and pairs; [`pty_core`] is the pure `no_std`
//! logic that the host also tests with `cargo test`; [`uapi`] is shared with
//! the user-space tools.

use kernel::prelude::*;

mod device;
// The core is a library shared with the host tools and tests; the kernel
// uses a subset of it.
#[path = "core/mod.rs"]
#[allow(dead_code)]
pub mod pty_core;
mod seam;
#[allow(dead_code)]
pub mod uapi;
mod uapi_bytes;

module! {
    type: CkptPty,
    name: "ckpt_pty",
    author: "ckpt_pty developers",
    description: "Checkpointable pseudo terminals built as streams",
    license: "GPL",
}

seam::param::uint_param!(
    MAX_PAIRS,
    max_pairs,
    "max_pairs",
    4096,
    "Default for ckptpts' max=: most AT&T pairs per instance (default 4096, like Linux's pty max)"
);

seam::param::uint_param!(
    BSD_PAIRS,
    bsd_pairs,
    "bsd_pairs",
    16,
    "Default for ckptpts' bsd=: BSD-style pairs ptyN + ttyN per instance (default 16, 0 for none)"
);

seam::param::uint_param!(
    PTY_MAX,
    pty_max,
    "pty_max",
    16384,
    "Most AT&T pairs over all ckptpts instances together, like kernel.pty.max (default 16384)"
);

seam::param::uint_param!(
    PTY_RESERVE,
    pty_reserve,
    "pty_reserve",
    1024,
    "Of pty_max, pairs only instances of the initial user namespace may take, like kernel.pty.reserve (default 1024)"
);

use pty_core::options::{BSD_PAIRS_LIMIT, MAX_PAIRS_LIMIT};
use pty_core::quota::PairQuota;

struct CkptPty {
    _driver: device::Driver,
}

impl kernel::Module for CkptPty {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let max = max_pairs();
        if max == 0 || max > MAX_PAIRS_LIMIT {
            pr_warn!(
                "max_pairs={} is out of range 1..={}\n",
                max,
                MAX_PAIRS_LIMIT
            );
            return Err(EINVAL);
        }
        let bsd = bsd_pairs();
        if bsd > BSD_PAIRS_LIMIT {
            pr_warn!(
                "bsd_pairs={} is out of range 0..={}\n",
                bsd,
                BSD_PAIRS_LIMIT
            );
            return Err(EINVAL);
        }
        let Some(quota) = PairQuota::new(pty_max(), pty_reserve()) else {
            pr_warn!(
                "pty_reserve={} must be less than pty_max={}\n",
                pty_reserve(),
                pty_max()
            );
            return Err(EINVAL);
        };
        let driver = device::Driver::register(module, max, bsd, quota)?;
        Ok(Self { _driver: driver })
    }
}

impl Drop for CkptPty {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
