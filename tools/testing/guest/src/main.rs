// SPDX-License-Identifier: GPL-2.0
//! Guest tests: run inside the QEMU guest after `insmod ckpt_pty.ko`, print
//! one KTAP document, exit non-zero on failure.
//!
//! Usage: `ckpt-guest-tests [FILTER]` runs the tests whose name contains FILTER.

mod ktap;
mod sys;
mod tests_device;

#[path = "../../../../rust/uapi.rs"]
#[allow(dead_code)]
mod uapi;

fn main() {
    let filter = std::env::args().nth(1);
    let failed = ktap::run("ckpt_pty_guest", tests_device::TESTS, filter.as_deref());
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
