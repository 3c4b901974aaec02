// SPDX-License-Identifier: GPL-2.0
//! Guest tests: run inside the QEMU guest after `insmod ckpt_pty.ko`, print
//! one KTAP document, exit non-zero on failure.
//!
//! Usage: `ckpt-guest-tests [FILTER]` runs the tests whose name contains FILTER.
//!
//! Environment (mostly for running on a host, which has only native ptys):
//! - `CKPT_GUEST_NATIVE_ONLY=1`: differential scripts run twice on the
//!   native pty instead of native vs ckpt, e.g.
//!   `CKPT_GUEST_NATIVE_ONLY=1 cargo run -p ckpt_guest_tests -- diff_`;
//! - `CKPT_GUEST_VERBOSE=1`: print each script's native transcript;
//! - `CKPT_GUEST_QUIET_MS=N`: settle quiet period instead of calibrating it;
//! - `CKPT_GUEST_SHELL=path`: the shell of `prog_sh_interactive`;
//! - `CKPT_SEED`, `CKPT_FUZZ_*`: the fuzzers' knobs when not on the kernel command line
//!   (see `fuzz.rs`).

mod criu;
mod criu_crowd;
mod criu_demo;
mod fuzz;
mod fuzz_image;
mod fuzz_ioctl;
mod ktap;
mod pty;
mod script;
mod sys;
mod telnet;
mod tests_ckpt;
mod tests_device;
mod tests_differential;
mod tests_lifecycle;
mod tests_login;
mod tests_modes;
mod tests_programs;
mod tests_restart;
mod tests_stress;
mod tests_tty;

#[path = "../../../../rust/uapi.rs"]
#[allow(dead_code)]
mod uapi;

fn main() {
    // Scale tests hold thousands of pty files.
    let limit = libc::rlimit {
        rlim_cur: 65536,
        rlim_max: 65536,
    };
    // SAFETY: a valid rlimit; failure only leaves the default in place.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    let filter = std::env::args().nth(1);
    // `make demo`: a scripted telnet login, shown as the user sees it.
    if filter.as_deref() == Some("--telnet-demo") {
        if let Err(e) = tests_login::demo(2300) {
            eprintln!("telnet demo: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `make demo`'s centrepiece: CRIU moves a telnet login, narrated.
    if filter.as_deref() == Some("--criu-demo") {
        if let Err(e) = criu_demo::main() {
            println!("criu demo failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    // The guest's `criu` mode: CRIU moves a container with a telnet login.
    if filter.as_deref() == Some("--criu") {
        let failed = criu::main(std::env::args().nth(2).as_deref());
        std::process::exit(if failed == 0 { 0 } else { 1 });
    }
    // The fuzzers run as children of the test (see fuzz::run_child).
    if filter.as_deref() == Some("--fuzz-child") {
        let mut args = std::env::args().skip(2);
        let kind = args.next().unwrap_or_default();
        let seed = args.next().and_then(|s| fuzz::parse_u64(&s)).unwrap_or(0);
        let code = match kind.as_str() {
            "ioctl" => fuzz_ioctl::child(seed),
            "image" => fuzz_image::child(seed),
            _ => 2,
        };
        std::process::exit(code);
    }
    let tests = [
        tests_device::TESTS,
        tests_ckpt::TESTS,
        tests_differential::TESTS,
        tests_modes::TESTS,
        tests_programs::TESTS,
        tests_stress::TESTS,
        tests_tty::TESTS,
        tests_login::TESTS,
        tests_restart::TESTS,
        tests_lifecycle::TESTS,
        // The image fuzzer first: it needs BSD pairs untouched by the
        // ioctl fuzzer's hostile settings.
        fuzz_image::TESTS,
        fuzz_ioctl::TESTS,
    ]
    .concat();
    let failed = ktap::run("ckpt_pty_guest", &tests, filter.as_deref());
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
