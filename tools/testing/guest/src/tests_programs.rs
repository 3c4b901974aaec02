// SPDX-License-Identifier: GPL-2.0
//! Real programs on a pty: an interactive shell on the slave, driven
//! through the master like a terminal emulator would.
//!
//! Also runs on the host against the native pty
//! (`CKPT_GUEST_NATIVE_ONLY=1 cargo run -p ckpt_guest_tests -- prog_`);
//! `CKPT_GUEST_SHELL` picks another shell than `/bin/sh` (e.g. busybox on a
//! host whose `/bin/sh` is dash).

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::ensure;
use crate::ktap::{TestFn, TestResult};
use crate::pty::{self, PtyKind, PtyPair, TIOCSCTTY};
use crate::script::{escaped, kill_and_reap, native_only, verbose, wait_child};
use crate::sys;

pub const TESTS: &[(&str, TestFn)] = &[
    ("prog_sh_interactive", sh_interactive),
    ("prog_sh_job_control", sh_job_control),
];

/// Set through the environment, so it is recognisable in the output and
/// does not depend on the shell's default prompt.
const PROMPT: &str = "ckpt-guest-prompt$ ";

fn sh_interactive() -> TestResult {
    on_both(arithmetic_and_interrupt)
}

/// Job control of busybox ash on the slave, its controlling terminal:
/// `&`, `jobs`, `^Z` stops the foreground job, `bg`, `fg`, `^C`.
fn sh_job_control() -> TestResult {
    on_both(job_control)
}

fn on_both(body: fn(&mut Screen<'_>) -> TestResult) -> TestResult {
    shell_session(PtyKind::Native, body).map_err(|e| format!("native: {e}"))?;
    if !native_only() {
        shell_session(PtyKind::Ckpt, body).map_err(|e| format!("ckpt: {e}"))?;
    }
    Ok(())
}

/// Arithmetic, `^C` of a foreground `sleep`.
fn arithmetic_and_interrupt(screen: &mut Screen<'_>) -> TestResult {
    screen.type_in("echo hello $((6*7))\n")?;
    screen.expect("hello 42", Duration::from_secs(10))?;
    screen.expect(PROMPT, Duration::from_secs(10))?;

    // The marker is printed just before the sleep starts; "sleeping;" in
    // the echoed command line does not match it.
    screen.type_in("echo sleeping; sleep 30\n")?;
    screen.expect("sleeping\r\n", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(300));
    screen.type_in("\x03")?;
    let waited = screen.expect(PROMPT, Duration::from_secs(5))?;
    ensure!(waited < Duration::from_secs(5), "^C took {waited:?}");

    screen.type_in("echo after-$((1+2))\n")?;
    screen.expect("after-3", Duration::from_secs(10))?;
    screen.expect(PROMPT, Duration::from_secs(10))?;

    Ok(())
}

fn job_control(screen: &mut Screen<'_>) -> TestResult {
    let t = Duration::from_secs(10);
    screen.type_in("sleep 100 &\n")?;
    screen.expect(PROMPT, t)?;
    screen.type_in("jobs\n")?;
    screen.expect("Running", t)?;
    screen.expect("sleep 100", t)?;
    screen.expect(PROMPT, t)?;
    screen.type_in("echo fg-job; sleep 50\n")?;
    screen.expect("fg-job\r\n", t)?;
    std::thread::sleep(Duration::from_millis(300));
    // ^Z: SIGTSTP to the foreground group; the shell takes the terminal back.
    screen.type_in("\x1a")?;
    screen.expect("Stopped", t)?;
    screen.expect(PROMPT, t)?;
    screen.type_in("bg\n")?;
    screen.expect("sleep 50", t)?;
    screen.expect(PROMPT, t)?;
    screen.type_in("jobs\n")?;
    screen.expect("Running", t)?;
    screen.expect("Running", t)?;
    screen.expect(PROMPT, t)?;
    screen.type_in("fg %2\n")?;
    screen.expect("sleep 50", t)?;
    std::thread::sleep(Duration::from_millis(300));
    screen.type_in("\x03")?;
    screen.expect(PROMPT, Duration::from_secs(5))?;
    screen.type_in("kill %1; wait; echo cleaned-$((2+3))\n")?;
    screen.expect("cleaned-5", t)?;
    screen.expect(PROMPT, t)?;
    Ok(())
}

/// A child process that is killed and reaped unless it was reaped already.
struct Child(Option<i32>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            kill_and_reap(pid);
        }
    }
}

/// What the terminal has shown so far, searched front to back.
struct Screen<'a> {
    master: &'a OwnedFd,
    seen: Vec<u8>,
    cursor: usize,
}

impl Screen<'_> {
    /// Waits until `needle` appears after everything matched before.
    fn expect(&mut self, needle: &str, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        let needle = needle.as_bytes();
        loop {
            if let Some(pos) = self.seen[self.cursor..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                self.cursor += pos + needle.len();
                return Ok(start.elapsed());
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(self.failure(needle, "timed out"));
            }
            match pty::read_timeout(self.master, 4096, left.min(Duration::from_millis(100))) {
                Ok(Some(data)) if data.is_empty() => return Err(self.failure(needle, "EOF")),
                Ok(Some(data)) => self.seen.extend(data),
                Ok(None) => {}
                Err(e) => return Err(self.failure(needle, &e)),
            }
        }
    }

    fn failure(&self, needle: &[u8], why: &str) -> String {
        let tail = &self.seen[self.seen.len().saturating_sub(600)..];
        format!(
            "waiting for {}: {why}; the terminal showed (last 600 bytes):\n{}",
            escaped(needle),
            escaped(tail)
        )
    }

    fn type_in(&self, text: &str) -> Result<(), String> {
        pty::write_all(self.master, text.as_bytes(), Duration::from_secs(5))
    }
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("NUL in {s:?}"))
}

/// `sh -i` on the slave of a `kind` pair, its controlling terminal:
/// `body`, then `exit`.
fn shell_session(kind: PtyKind, body: fn(&mut Screen<'_>) -> TestResult) -> TestResult {
    let mut pair = PtyPair::open(kind)?;
    let shell = std::env::var("CKPT_GUEST_SHELL").unwrap_or_else(|_| "/bin/sh".into());
    let path = cstring(&shell)?;
    // argv[0] "sh" also makes a busybox multi-call binary run its shell.
    let argv_owned = [cstring("sh")?, cstring("-i")?];
    let env_owned = [
        cstring(&format!("PS1={PROMPT}"))?,
        cstring("PATH=/bin:/sbin:/usr/bin:/usr/sbin")?,
        cstring("HOME=/tmp")?,
        cstring("TERM=dumb")?,
    ];
    let argv: Vec<*const libc::c_char> = argv_owned
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env_owned
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let slave = pty::raw(pair.slave()?);

    // SAFETY: the child only makes async-signal-safe calls, then execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", sys::last_errno()));
    }
    if pid == 0 {
        // SAFETY: we are the child; everything used was prepared before fork.
        unsafe {
            libc::setsid();
            // The slave becomes the controlling tty (which also enables
            // the shell's job control), on either kind.
            libc::ioctl(slave, TIOCSCTTY as _, 0);
            for target in 0..3 {
                libc::dup2(slave, target);
            }
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let mut child = Child(Some(pid));
    // Only the shell holds the slave now, so its exit closes it.
    pair.slave = None;

    let mut screen = Screen {
        master: &pair.master,
        seen: Vec::new(),
        cursor: 0,
    };
    // Startup can be slow in an emulated guest.
    screen.expect(PROMPT, Duration::from_secs(20))?;

    body(&mut screen)?;

    screen.type_in("exit\n")?;
    let status = wait_child(pid, Duration::from_secs(10));
    child.0 = None;
    let status = status.ok_or("the shell did not exit")?;
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "shell exit status {status:#x}"
    );
    // With the shell gone the master sees the slave closed: whatever output
    // was still unread, then EIO.
    let (rest, end) = pty::drain(&pair.master, pty::quiet_period());
    screen.seen.extend(rest.concat());
    if verbose() {
        println!("# {} terminal: {}", kind.name(), escaped(&screen.seen));
    }
    ensure!(
        end == pty::DrainEnd::Error("EIO".into()),
        "after exit the master read ended with {end:?}"
    );
    Ok(())
}
