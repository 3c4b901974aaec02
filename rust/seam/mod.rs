// SPDX-License-Identifier: GPL-2.0
//! The seam: the only place in ckpt_pty that touches raw kernel bindings.
//!
//! Kernel 6.12 has no miscdevice, `File`, poll-table or module-parameter
//! abstractions for Rust. This seam provides small safe wrappers shaped like
//! the ones later kernels ship (`rust/kernel/miscdevice.rs`, `fs/file.rs`,
//! `sync/poll.rs`, `kunit_unsafe_test_suite!`), so each piece can be swapped
//! for the upstream abstraction on a newer kernel without touching the driver.
//!
//! Every `unsafe` block carries a `// SAFETY:` comment; every extern "C" entry
//! point documents its `# Safety` contract.

pub(crate) mod chrdev;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod fs;
pub(crate) mod log;
pub(crate) mod param;
pub(crate) mod poll;
pub(crate) mod process;
pub(crate) mod socket;
pub(crate) mod storage;
pub(crate) mod tty;
