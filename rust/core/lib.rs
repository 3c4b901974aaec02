// SPDX-License-Identifier: GPL-2.0
//! Host build of the pure core. The kernel module compiles `mod.rs` directly
//! (`#[path = "core/mod.rs"] mod pty_core;`); this wrapper gives the same
//! files a crate root so `cargo test` exercises exactly the kernel's code.
#![no_std]
// The no-panic, no-unsafe rules of the kernel build, enforced on the host.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[cfg(test)]
extern crate std;

#[path = "mod.rs"]
mod pty_core;

pub use pty_core::*;
