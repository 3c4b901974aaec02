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
mod kunit_tests;
// The core is a library shared with the host tools and tests; the kernel
// uses a subset of it.
#[path = "core/mod.rs"]
#[allow(dead_code)]
pub mod pty_core;
mod seam;
#[allow(dead_code)]
pub mod uapi;

module! {
    type: CkptPty,
    name: "ckpt_pty",
    author: "ckpt_pty developers",
    description: "Checkpointable pseudo terminals built as streams",
    license: "GPL",
}

/// Default bound on the number of pairs (Linux's default pty max is 4096).
const MAX_PAIRS: u32 = 4096;

struct CkptPty {
    _driver: device::Driver,
}

impl kernel::Module for CkptPty {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let driver = device::Driver::register(module, MAX_PAIRS)?;
        Ok(Self { _driver: driver })
    }
}

impl Drop for CkptPty {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
