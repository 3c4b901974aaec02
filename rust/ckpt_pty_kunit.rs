// SPDX-License-Identifier: GPL-2.0
//! ckpt_pty_kunit: the KUnit suites of ckpt_pty, in their own module so the
//! product module loads on kernels without `CONFIG_KUNIT` and never taints a
//! kernel as a test module. KUnit runs the suites when this module loads;
//! `make check` loads it in the test guest before ckpt_pty.
//!
//! The suites test the pure core on kernel memory, so this crate compiles
//! the same core files and the seam's storage as ckpt_pty does.

use kernel::prelude::*;

mod kunit_tests;
// The suites use a small part of the core; ckpt_pty compiles all of it.
#[path = "core/mod.rs"]
#[allow(dead_code, unused_imports)]
pub mod pty_core;

/// The parts of ckpt_pty's seam the suites use, from the same files.
mod seam {
    #[path = "../seam/kunit.rs"]
    pub(crate) mod kunit;
    #[path = "../seam/storage.rs"]
    pub(crate) mod storage;
}

module! {
    type: CkptPtyKunit,
    name: "ckpt_pty_kunit",
    author: "ckpt_pty developers",
    description: "KUnit suites of ckpt_pty (load to run them)",
    license: "GPL",
}

struct CkptPtyKunit;

impl kernel::Module for CkptPtyKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Self)
    }
}
