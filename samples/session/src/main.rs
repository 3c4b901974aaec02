// SPDX-License-Identifier: GPL-2.0
//! ckpt-session: serve a login-like session on a pseudo terminal.
//!
//! A shell runs on the slave end as the session leader; this program sits
//! on the master end like sshd or `script` would, types what a script says
//! and prints a transcript of what comes back.
//!
//! ```text
//! ckpt-session [--native] [--shell PATH] STEP...
//!   type:TEXT     type TEXT (\n, \r, \t, \xHH and ^C-style escapes)
//!   expect:TEXT   wait (up to 10 s) until TEXT has come back
//!   sleep:MS      wait MS milliseconds, showing what arrives
//!   winsize:RxC   set the window size
//! ```
//! `--native` uses the kernel's own /dev/ptmx instead of /dev/ckpt/ptmx.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("ckpt-session: {msg}");
    std::process::exit(2)
}

fn open(path: &str, flags: i32) -> std::io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: valid C string; the fd is owned from here on.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a pair: (master, slave path).
fn open_pair(native: bool) -> std::io::Result<(OwnedFd, String)> {
    let (ptmx, dir) = if native {
        ("/dev/ptmx", "/dev/pts")
    } else {
        ("/dev/ckpt/ptmx", "/dev/ckpt/pts")
    };
    let m = open(ptmx, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)?;
    let mut n: u32 = 0;
    let zero: i32 = 0;
    // SAFETY: the pointers are valid for the ioctls' sizes.
    unsafe {
        if libc::ioctl(m.as_raw_fd(), TIOCSPTLCK as _, &zero) < 0
            || libc::ioctl(m.as_raw_fd(), TIOCGPTN as _, &mut n) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((m, format!("{dir}/{n}")))
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\\', Some(b'n')) => (out.push(b'\n'), i += 2).1,
            (b'\\', Some(b'r')) => (out.push(b'\r'), i += 2).1,
            (b'\\', Some(b't')) => (out.push(b'\t'), i += 2).1,
            (b'\\', Some(b'\\')) => (out.push(b'\\'), i += 2).1,
            (b'\\', Some(b'x')) if i + 4 <= b.len() => {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 4;
            }
            (b'^', Some(&c)) if c.is_ascii_uppercase() || c == b'[' || c == b'\\' => {
                out.push(c & 0x1f);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Shows bytes the way a reader of the transcript can see them.
fn visible(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &c in bytes {
        match c {
            b'\n' => s.push('\n'),
            b'\r' => {}
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("<{c:02x}>")),
        }
    }
    s
}

struct Master {
    fd: OwnedFd,
    seen: Vec<u8>,
}

impl Master {
    /// Reads whatever arrives within `wait`, echoing it to the transcript.
    fn pump(&mut self, wait: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            return false;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: the buffer is valid for its length.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return false;
        }
        let got = &buf[..n as usize];
        self.seen.extend_from_slice(got);
        print!("{}", visible(got));
        let _ = std::io::stdout().flush();
        true
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n != bytes.len() as isize {
            fail(format!(
                "write to master: {}",
                std::io::Error::last_os_error()
            ));
        }
    }

    /// Sets the window size from `RxC` (24x80 where a number is missing).
    fn set_winsize(&self, arg: &str) {
        let (r, c) = arg.split_once('x').unwrap_or(("24", "80"));
        let ws = libc::winsize {
            ws_row: r.parse().unwrap_or(24),
            ws_col: c.parse().unwrap_or(80),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: valid winsize.
        unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }

    fn expect(&mut self, text: &[u8]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pos) = self.seen.windows(text.len().max(1)).position(|w| w == text) {
                // Keep what came after the match for the next expect.
                self.seen.drain(..pos + text.len());
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.pump(left.min(Duration::from_millis(200)));
        }
    }
}

/// The shell on the slave. `--line-shell` runs a prompt loop that reads
/// whole lines through the terminal's own line discipline (so a half-typed
/// line lives in the pty, where a checkpoint can save it), instead of an
/// interactive shell that edits lines itself in raw mode.
fn spawn_shell(slave: &OwnedFd, shell: &str, line_shell: bool) -> i32 {
    // Command-line arguments cannot hold a NUL byte; fail loudly anyway.
    let sh = CString::new(shell).unwrap_or_else(|_| fail(format!("--shell {shell:?}: NUL byte")));
    let (i, c, env) = (c"-i", c"-c", c"PS1=$ ");
    let body = c"while printf '$ '; IFS= read -r l; do eval \"$l\"; done";
    let argv = if line_shell {
        [sh.as_ptr(), c.as_ptr(), body.as_ptr(), std::ptr::null()]
    } else {
        [sh.as_ptr(), i.as_ptr(), std::ptr::null(), std::ptr::null()]
    };
    let envp = [env.as_ptr(), std::ptr::null()];
    let fd = slave.as_raw_fd();
    // Already the controlling terminal of our own session (after `ckptctl
    // restore`, which set that up): the shell joins it as the foreground
    // group. Otherwise it starts a session on the slave, as a login does.
    // SAFETY: plain system calls on our descriptor.
    let ours = unsafe { libc::tcgetsid(fd) == libc::getsid(0) };
    // SAFETY: fork in a single-threaded program.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail("fork failed");
    }
    if pid == 0 {
        // The shell: the slave as stdio and controlling terminal, its own
        // group in the foreground.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            if ours {
                libc::setpgid(0, 0);
            } else {
                libc::setsid();
                libc::ioctl(fd, libc::TIOCSCTTY, 0);
            }
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            libc::execve(sh.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    if ours {
        // SAFETY: both sides set the group, so whichever runs first wins
        // no race; then the shell's group takes the terminal.
        unsafe {
            libc::setpgid(pid, pid);
            libc::tcsetpgrp(fd, pid);
        }
    }
    pid
}

/// What the command line asks for.
struct Options {
    native: bool,
    line_shell: bool,
    /// Master and slave descriptors installed by `ckptctl restore`.
    resume: Option<(i32, i32)>,
    shell: String,
    steps: Vec<String>,
}

/// Parses the command line; `None` after printing the usage for `--help`.
fn parse_args() -> Option<Options> {
    let mut o = Options {
        native: false,
        line_shell: false,
        resume: None,
        shell: "/bin/sh".to_string(),
        steps: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    let fd_arg = |v: Option<String>| -> i32 {
        v.and_then(|x| x.parse().ok())
            .unwrap_or_else(|| fail("--resume needs MASTER_FD SLAVE_FD"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--native" => o.native = true,
            "--line-shell" => o.line_shell = true,
            "--shell" => o.shell = args.next().unwrap_or_else(|| fail("--shell needs a path")),
            "--resume" => {
                let m = fd_arg(args.next());
                let s = fd_arg(args.next());
                o.resume = Some((m, s));
            }
            "-h" | "--help" => {
                println!(
                    "usage: ckpt-session [--native] [--line-shell] [--shell PATH] \
                     [--resume MASTER_FD SLAVE_FD] STEP...  (see source)"
                );
                return None;
            }
            _ => o.steps.push(a),
        }
    }
    Some(o)
}

/// The pty to serve: the one `ckptctl restore` handed over, or a new pair.
fn open_session(o: &Options) -> (OwnedFd, OwnedFd) {
    match o.resume {
        // After `ckptctl restore`: the pty came back at these descriptors;
        // the session restarts its own shell on it (processes are not
        // checkpointed by ckpt_pty; the pty state is).
        Some((m, s)) => {
            println!("[resumed session: master fd {m}, slave fd {s}]");
            // SAFETY: the restore tool installed these descriptors for us.
            unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
        }
        None => {
            let (master, slave_path) =
                open_pair(o.native).unwrap_or_else(|e| fail(format!("open pair: {e}")));
            let slave = open(&slave_path, libc::O_RDWR | libc::O_NOCTTY)
                .unwrap_or_else(|e| fail(format!("open {slave_path}: {e}")));
            println!("[session on {slave_path}]");
            (master, slave)
        }
    }
}

/// Runs the steps in order; false when an `expect` was not met.
fn run_steps(m: &mut Master, steps: &[String], shell_pid: i32, slave: &OwnedFd) -> bool {
    for step in steps {
        let (verb, arg) = step.split_once(':').unwrap_or((step.as_str(), ""));
        match verb {
            "type" => m.type_bytes(&unescape(arg)),
            "expect" => {
                if !m.expect(&unescape(arg)) {
                    println!("\n[expected {arg:?}, not seen]");
                    return false;
                }
            }
            "sleep" => {
                let end = Instant::now() + Duration::from_millis(arg.parse().unwrap_or(0));
                while Instant::now() < end {
                    m.pump(end.saturating_duration_since(Instant::now()));
                }
            }
            "winsize" => m.set_winsize(arg),
            "hold" => hold(m, shell_pid, slave),
            _ => fail(format!("unknown step {step:?}")),
        }
    }
    true
}

/// Stops reading and waits to be checkpointed: what arrives from now on
/// stays queued in the pty.
fn hold(m: &Master, shell_pid: i32, slave: &OwnedFd) -> ! {
    println!(
        "\n[holding: session pid {}, shell pid {shell_pid}, master fd {}, slave fd {}]",
        std::process::id(),
        m.fd.as_raw_fd(),
        slave.as_raw_fd()
    );
    let _ = std::io::stdout().flush();
    loop {
        // SAFETY: waits for a signal (the checkpoint is taken from outside,
        // then we are killed).
        unsafe { libc::pause() };
    }
}

/// Lets the shell go, then collects it (killing it after 5 s).
fn end_shell(m: &mut Master, shell_pid: i32) {
    m.type_bytes(b"exit\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(shell_pid, &mut status, libc::WNOHANG) };
        if r == shell_pid || Instant::now() > deadline {
            if r != shell_pid {
                // SAFETY: our own child.
                unsafe { libc::kill(shell_pid, libc::SIGKILL) };
            }
            break;
        }
        m.pump(Duration::from_millis(50));
    }
}

fn main() {
    let Some(o) = parse_args() else {
        return;
    };
    let (master, slave) = open_session(&o);
    let pid = spawn_shell(&slave, &o.shell, o.line_shell);
    let mut m = Master {
        fd: master,
        seen: Vec::new(),
    };
    let ok = run_steps(&mut m, &o.steps, pid, &slave);
    end_shell(&mut m, pid);
    drop(slave);
    println!("\n[session over: {}]", if ok { "ok" } else { "FAILED" });
    std::process::exit(if ok { 0 } else { 1 });
}
