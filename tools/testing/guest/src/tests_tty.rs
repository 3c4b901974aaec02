// SPDX-License-Identifier: GPL-2.0
//! The slave is a real tty: controlling terminal, `/dev/tty`, sessions,
//! job control, hangup, permissions, instances. Each scenario runs on the
//! native pty and on ckpt_pty in the same guest and must tell the same
//! story (which is also checked against what POSIX/Linux say it is).
//!
//! Scenarios run in forked children (sessions and controlling terminals are
//! per process); a child reports one line through a pipe.

use crate::ktap::{TestFn, TestResult};
use crate::pty::{self, PtyKind, PtyPair, TCSETS, TIOCSCTTY, TIOCSPGRP};
use crate::script::native_only;
use crate::sys::{self, errno_name};
use crate::uapi::{FS_TYPE, LDISC_CKPT, PTS_DIR, TIOCGETD, TIOCGPTN, TIOCSPTLCK};
use crate::{ensure, ensure_eq};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub const TESTS: &[(&str, TestFn)] = &[
    ("tty_ctty_by_open", ctty_by_open),
    ("tty_ctty_by_tiocsctty_and_tiocnotty", ctty_by_tiocsctty),
    ("tty_job_control_ttin_ttou_orphaned", job_control),
    ("tty_sighup_at_master_close", sighup_at_master_close),
    (
        "tty_tiocspgrp_other_session_refused",
        tiocspgrp_other_session,
    ),
    ("tty_ldisc_is_ckpt_ldterm", ldisc_is_ckpt_ldterm),
    ("tty_unprivileged_owner_and_eacces", unprivileged_owner),
    ("tty_two_instances_hold_index_0", two_instances),
    ("tty_instance_in_user_namespace", instance_in_user_namespace),
];

const TIOCNOTTY: u64 = 0x5422;
const TIOCGSID: u64 = 0x5429;
const TIOCSETD: u64 = 0x5423;

/// Runs `scenario` on both kinds: the native story must be `expected`, and
/// ckpt_pty must tell the same one.
fn both(expected: &str, scenario: fn(PtyKind) -> Result<String, String>) -> TestResult {
    let native = scenario(PtyKind::Native).map_err(|e| format!("native: {e}"))?;
    ensure_eq!(native.as_str(), expected);
    if native_only() {
        return Ok(());
    }
    let ckpt = scenario(PtyKind::Ckpt).map_err(|e| format!("ckpt: {e}"))?;
    ensure!(
        ckpt == native,
        "ckpt differs from native:\n  native: {native}\n  ckpt:   {ckpt}"
    );
    Ok(())
}

/// A pipe a child reports through.
pub struct Report {
    read: OwnedFd,
    write: OwnedFd,
}

impl Report {
    fn new() -> Result<Self, String> {
        let mut p = [0i32; 2];
        // SAFETY: `p` has room for the two descriptors.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(format!("pipe: {}", sys::last_errno()));
        }
        // SAFETY: both descriptors are new and ours.
        Ok(unsafe {
            Self {
                read: OwnedFd::from_raw_fd(p[0]),
                write: OwnedFd::from_raw_fd(p[1]),
            }
        })
    }

    fn send(&self, text: &str) {
        // SAFETY: writes a buffer we own to a descriptor we own.
        unsafe { libc::write(self.write.as_raw_fd(), text.as_ptr().cast(), text.len()) };
    }

    /// Waits for `n` bytes (or end of file), at most `timeout`.
    fn wait_bytes(&self, n: usize, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        let mut got = Vec::new();
        while got.len() < n {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(format!(
                    "child report timed out after {:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
            match pty::read_timeout(&self.read, n - got.len(), left) {
                Ok(Some(d)) if d.is_empty() => break,
                Ok(Some(d)) => got.extend(d),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(String::from_utf8_lossy(&got).into_owned())
    }
}

/// Forks; the child runs `body`, whose result (or error) comes back as the
/// child's report. Bounded by `timeout`; the child is killed after it.
pub fn in_child(
    timeout: Duration,
    body: impl FnOnce(&Report) -> Result<String, String>,
) -> Result<String, String> {
    let report = Report::new()?;
    // SAFETY: the child only uses memory and descriptors prepared before.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", sys::last_errno()));
    }
    if pid == 0 {
        let r = body(&report);
        let line = match r {
            Ok(s) => format!("OK {s}\n"),
            Err(s) => format!("ERR {s}\n"),
        };
        report.send(&line);
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let Report { read, write } = report;
    drop(write);
    let mut out = String::new();
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match pty::read_timeout(&read, 4096, left) {
            Ok(Some(d)) if d.is_empty() => break,
            Ok(Some(d)) => out.push_str(&String::from_utf8_lossy(&d)),
            _ => break,
        }
    }
    // SAFETY: kill and reap our own child (harmless if it exited).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    let line = out
        .lines()
        .find(|l| l.starts_with("OK ") || l.starts_with("ERR "));
    match line {
        Some(l) if l.starts_with("OK ") => Ok(l[3..].to_string()),
        Some(l) => Err(l[4..].to_string()),
        None => Err(format!(
            "child reported nothing within {timeout:?} ({out:?})"
        )),
    }
}

fn errno_of(r: i32) -> String {
    if r < 0 {
        sys::last_errno()
    } else {
        "ok".into()
    }
}

fn cpath(p: &str) -> CString {
    CString::new(p).unwrap_or_default()
}

/// `open(2)` of a path in a child, as errno text.
fn try_open(path: &str, flags: i32) -> (String, i32) {
    let c = cpath(path);
    // SAFETY: a valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        (sys::last_errno(), -1)
    } else {
        ("ok".into(), fd)
    }
}

fn dev_tty() -> String {
    let (r, fd) = try_open("/dev/tty", libc::O_RDWR);
    if fd >= 0 {
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
    }
    r
}

/// `tty_nr` (field 7) of `/proc/self/stat`.
fn proc_tty_nr() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(4)?.parse().ok()
}

fn rdev(fd: i32) -> u64 {
    // SAFETY: `st` is a valid out-buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st);
        st.st_rdev
    }
}

fn ioctl_int(fd: i32, cmd: u64) -> Result<i32, String> {
    let mut v: i32 = -1;
    // SAFETY: `v` is a valid int for the kernel to write.
    if unsafe { libc::ioctl(fd, cmd as _, &mut v) } < 0 {
        Err(sys::last_errno())
    } else {
        Ok(v)
    }
}

fn ttyname(fd: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is a valid buffer of its length.
    let r = unsafe { libc::ttyname_r(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return errno_name(&std::io::Error::from_raw_os_error(r));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

// ---------------------------------------------------------------------

/// A session leader that opens the slave (no `O_NOCTTY`) gets it as its
/// controlling terminal: `/proc` shows it, `/dev/tty` opens, the session
/// and foreground group are its own, also as seen through the master.
fn ctty_by_open() -> TestResult {
    both(
        "tty_nr=slave /dev/tty=ok sid=self pgrp=self ttyname=node master_pgrp=self master_sid=self",
        |kind| {
            let pair = PtyPair::open(kind)?;
            let path = pair.slave_path();
            let master = pair.master.as_raw_fd();
            in_child(Duration::from_secs(20), move |_| {
                // SAFETY: plain system calls in our own child.
                unsafe { libc::setsid() };
                let (r, fd) = try_open(&path, libc::O_RDWR);
                if fd < 0 {
                    return Err(format!("open {path}: {r}"));
                }
                // SAFETY: plain system calls.
                let (me, pg) = unsafe { (libc::getpid(), libc::getpgrp()) };
                let is = |v: Result<i32, String>, want: i32| match v {
                    Ok(v) if v == want => "self".to_string(),
                    Ok(v) => format!("{v}"),
                    Err(e) => e,
                };
                Ok(format!(
                    "tty_nr={} /dev/tty={} sid={} pgrp={} ttyname={} master_pgrp={} master_sid={}",
                    if proc_tty_nr() == Some(rdev(fd)) {
                        "slave"
                    } else {
                        "other"
                    },
                    dev_tty(),
                    is(ioctl_int(fd, TIOCGSID), me),
                    // SAFETY: plain system call.
                    is(Ok(unsafe { libc::tcgetpgrp(fd) }), pg),
                    if ttyname(fd) == path {
                        "node".into()
                    } else {
                        ttyname(fd)
                    },
                    is(ioctl_int(master, libc::TIOCGPGRP), pg),
                    is(ioctl_int(master, TIOCGSID), me),
                ))
            })
        },
    )
}

/// `TIOCSCTTY` makes an `O_NOCTTY` slave the controlling terminal,
/// `TIOCNOTTY` gives it up; `TIOCSCTTY` through the master works too.
fn ctty_by_tiocsctty() -> TestResult {
    both(
        "before=ENXIO sctty=ok after=ok notty=ok gone=ENXIO master_sctty=ok again=ok",
        |kind| {
            let pair = PtyPair::open(kind)?;
            let slave = pair.slave()?.as_raw_fd();
            let master = pair.master.as_raw_fd();
            in_child(Duration::from_secs(20), move |_| {
                // SAFETY: plain system calls in our own child; the session
                // leader giving up its terminal signals its group: ignore.
                unsafe {
                    libc::setsid();
                    libc::signal(libc::SIGHUP, libc::SIG_IGN);
                    libc::signal(libc::SIGCONT, libc::SIG_IGN);
                }
                let before = dev_tty();
                // SAFETY: ioctls with integer arguments.
                let sctty = errno_of(unsafe { libc::ioctl(slave, TIOCSCTTY as _, 0) });
                let after = dev_tty();
                // SAFETY: as above.
                let notty = errno_of(unsafe { libc::ioctl(slave, TIOCNOTTY as _, 0) });
                let gone = dev_tty();
                // SAFETY: as above.
                let msctty = errno_of(unsafe { libc::ioctl(master, TIOCSCTTY as _, 0) });
                Ok(format!(
                    "before={before} sctty={sctty} after={after} notty={notty} gone={gone} master_sctty={msctty} again={}",
                    dev_tty()
                ))
            })
        },
    )
}

/// Background groups: a read gets `SIGTTIN` (`EIO` when it is ignored, or
/// the group is orphaned); a write gets `SIGTTOU` only with `TOSTOP` (and
/// goes through when `SIGTTOU` is ignored); settings from the background
/// get `SIGTTOU`; the foreground reads its input.
fn job_control() -> TestResult {
    both(
        "bg_read=EINTR+TTIN bg_read_ignored=EIO bg_write=ok bg_write_tostop=EINTR+TTOU \
         bg_write_tostop_ignored=ok bg_tcsets=EINTR+TTOU orphan_read=EIO fg_read=hi",
        job_control_story,
    )
}

static GOT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn note_signal(sig: i32) {
    GOT.store(sig, std::sync::atomic::Ordering::SeqCst);
}

/// Catches `sig` without `SA_RESTART`, so the call it interrupts fails
/// with `EINTR` instead of looping on a restarted job-control stop.
fn catch(sig: i32) {
    // SAFETY: installs a handler that only stores an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = note_signal as *const () as usize;
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

fn ignore(sig: i32) {
    // SAFETY: plain system call.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// Result of an operation followed by the signal it caught, if any.
fn outcome(r: isize) -> String {
    let e = if r < 0 {
        sys::last_errno()
    } else {
        "ok".into()
    };
    let sig = GOT.swap(0, std::sync::atomic::Ordering::SeqCst);
    match sig {
        libc::SIGTTIN => format!("{e}+TTIN"),
        libc::SIGTTOU => format!("{e}+TTOU"),
        0 => e,
        s => format!("{e}+sig{s}"),
    }
}

fn set_tostop(fd: i32, on: bool) -> Result<(), String> {
    let owned = std::mem::ManuallyDrop::new(
        // SAFETY: borrowed for the call only (never closed: ManuallyDrop).
        unsafe { OwnedFd::from_raw_fd(fd) },
    );
    let mut t = pty::get_termios(&owned).map_err(|e| errno_name(&e))?;
    if on {
        t.c_lflag |= libc::TOSTOP;
    } else {
        t.c_lflag &= !libc::TOSTOP;
    }
    pty::set_termios(&owned, TCSETS, &t).map_err(|e| errno_name(&e))
}

/// A background child of the session leader: `setpgid(0, 0)` then `body`.
fn background(body: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
    in_child(Duration::from_secs(15), move |_| {
        // SAFETY: plain system call.
        unsafe { libc::setpgid(0, 0) };
        body()
    })
}

fn job_control_story(kind: PtyKind) -> Result<String, String> {
    let pair = PtyPair::open(kind)?;
    let slave = pair.slave()?.as_raw_fd();
    let master = pair.master.as_raw_fd();
    in_child(Duration::from_secs(60), move |_| {
        // SAFETY: plain system calls in our own child.
        unsafe {
            libc::setsid();
            if libc::ioctl(slave, TIOCSCTTY as _, 0) < 0 {
                return Err(format!("TIOCSCTTY: {}", sys::last_errno()));
            }
        }
        job_trace("start");
        let (bg_read, bg_read_ignored) = background_reads(slave)?;
        let [bg_write, bg_write_tostop, bg_write_tostop_ignored, bg_tcsets] =
            background_writes(slave)?;
        job_trace("orphan");
        let orphan_read = orphaned_group_read(slave)?;
        job_trace("fg read");
        let fg_read = foreground_read(slave, master);
        Ok(format!(
            "bg_read={bg_read} bg_read_ignored={bg_read_ignored} bg_write={bg_write} \
             bg_write_tostop={bg_write_tostop} bg_write_tostop_ignored={bg_write_tostop_ignored} \
             bg_tcsets={bg_tcsets} orphan_read={orphan_read} fg_read={fg_read}"
        ))
    })
}

fn job_trace(what: &str) {
    eprintln!("# job control: {what}");
}

/// `read(2)` on a descriptor we hold.
fn read_fd(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: reads into a buffer we own.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
}

/// `write(2)` on a descriptor we hold.
fn write_fd(fd: i32, data: &[u8]) -> isize {
    // SAFETY: writes a buffer we own.
    unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) }
}

/// A read from a background group of the terminal's session, with
/// `SIGTTIN` caught, then with it ignored.
fn background_reads(slave: i32) -> Result<(String, String), String> {
    let bg_read = background(move || {
        catch(libc::SIGTTIN);
        let mut b = [0u8; 4];
        Ok(outcome(read_fd(slave, &mut b)))
    })?;
    job_trace("bg_read_ignored");
    let bg_read_ignored = background(move || {
        ignore(libc::SIGTTIN);
        let mut b = [0u8; 4];
        Ok(outcome(read_fd(slave, &mut b)))
    })?;
    Ok((bg_read, bg_read_ignored))
}

/// Writes from a background group: without `TOSTOP`; with it, `SIGTTOU`
/// caught and then ignored; and a `TCSETS` with `SIGTTOU` caught. Leaves
/// `TOSTOP` off.
fn background_writes(slave: i32) -> Result<[String; 4], String> {
    job_trace("bg_write");
    let bg_write = background(move || Ok(outcome(write_fd(slave, b"x"))))?;
    set_tostop(slave, true)?;
    job_trace("bg_write_tostop");
    let bg_write_tostop = background(move || {
        catch(libc::SIGTTOU);
        Ok(outcome(write_fd(slave, b"y")))
    })?;
    job_trace("bg_write_tostop_ignored");
    let bg_write_tostop_ignored = background(move || {
        ignore(libc::SIGTTOU);
        Ok(outcome(write_fd(slave, b"z")))
    })?;
    job_trace("bg_tcsets");
    let bg_tcsets = background(move || {
        catch(libc::SIGTTOU);
        let r = set_tostop(slave, false).map_or(-1, |()| 0);
        Ok(outcome(r))
    })?;
    job_trace("tostop off");
    set_tostop(slave, false)?;
    Ok([
        bg_write,
        bg_write_tostop,
        bg_write_tostop_ignored,
        bg_tcsets,
    ])
}

/// A read from an orphaned group: its only member's parent left, so no
/// member has a parent in another group of the session.
fn orphaned_group_read(slave: i32) -> Result<String, String> {
    let orphan_report = Report::new()?;
    let orphan_fd = orphan_report.write.as_raw_fd();
    background(move || {
        // SAFETY: plain system calls.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork in our own child; the grandchild only makes
        // system calls and writes to the inherited pipe.
        if unsafe { libc::fork() } == 0 {
            // SAFETY: as above.
            unsafe {
                while libc::getppid() == parent {
                    libc::usleep(10_000);
                }
            }
            let mut b = [0u8; 4];
            let text = format!("{:<8}", outcome(read_fd(slave, &mut b)));
            // SAFETY: writes a buffer we own to the inherited pipe.
            unsafe {
                libc::write(orphan_fd, text.as_ptr().cast(), text.len());
                libc::_exit(0);
            }
        }
        Ok(String::new())
    })?;
    Ok(orphan_report
        .wait_bytes(8, Duration::from_secs(10))?
        .trim()
        .to_string())
}

/// The foreground reads what the master sends.
fn foreground_read(slave: i32, master: i32) -> String {
    let mut buf = [0u8; 16];
    // SAFETY: writes to the master we inherited.
    unsafe { libc::write(master, b"hi\n".as_ptr().cast(), 3) };
    let n = read_fd(slave, &mut buf);
    if n > 0 {
        String::from_utf8_lossy(&buf[..n as usize])
            .trim()
            .to_string()
    } else {
        sys::last_errno()
    }
}

/// Closing the master hangs the slave up: the session leader gets
/// `SIGHUP` and `SIGCONT`, and has no controlling terminal any more.
fn sighup_at_master_close() -> TestResult {
    both("SIGHUP SIGCONT /dev/tty=ENXIO", |kind| {
        let mut pair = PtyPair::open(kind)?;
        let path = pair.slave_path();
        let inherited = [pair.master.as_raw_fd(), pair.slave()?.as_raw_fd()];
        let report = Report::new()?;
        let pid = fork_hangup_watcher(&path, inherited, report.write.as_raw_fd());
        let Report { read, write } = report;
        drop(write);
        let r = Report {
            read,
            write: sys::open("/dev/null", libc::O_WRONLY).map_err(|e| errno_name(&e))?,
        };
        let ready = r.wait_bytes(1, Duration::from_secs(10))?;
        // SAFETY: reap on every path below.
        let reap = || unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        };
        if ready != "R" {
            reap();
            return Err(format!("child not ready: {ready:?}"));
        }
        pair.slave = None;
        drop(pair);
        let got = r.wait_bytes(3, Duration::from_secs(10));
        reap();
        Ok(hangup_story(&got?))
    })
}

/// The report pipe of the hangup watcher, at a fixed number its signal
/// handlers can write to.
const HANGUP_REPORT_FD: i32 = 200;

extern "C" fn report_hangup_signal(sig: i32) {
    let b: &[u8] = if sig == libc::SIGHUP { b"H" } else { b"C" };
    // SAFETY: the report pipe (dup2 in fork_hangup_watcher).
    unsafe { libc::write(HANGUP_REPORT_FD, b.as_ptr().cast(), 1) };
}

/// Forks a session leader that closes the `inherited` ends, opens the
/// slave at `path` as its controlling terminal and reports to `rfd`: `R`
/// once it reads the slave, `H` and `C` for `SIGHUP` and `SIGCONT`, then
/// after end of file whether `/dev/tty` still opens (`T`) or not (`X`).
/// Returns the child's pid.
fn fork_hangup_watcher(path: &str, inherited: [i32; 2], rfd: i32) -> i32 {
    // SAFETY: the child only makes system calls and async-signal-safe
    // writes from its handlers.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let handler = report_hangup_signal as *const () as libc::sighandler_t;
        // SAFETY: plain system calls in our own child.
        unsafe {
            libc::dup2(rfd, HANGUP_REPORT_FD);
            // The master must close for real when the parent closes it.
            for fd in inherited {
                libc::close(fd);
            }
            libc::setsid();
            libc::signal(libc::SIGHUP, handler);
            libc::signal(libc::SIGCONT, handler);
            let c = cpath(path);
            let fd = libc::open(c.as_ptr(), libc::O_RDWR);
            libc::write(HANGUP_REPORT_FD, b"R".as_ptr().cast(), 1);
            let mut b = [0u8; 8];
            while libc::read(fd, b.as_mut_ptr().cast(), 8) > 0 {}
            // Give the second signal time to arrive.
            libc::usleep(200_000);
            let t = libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR);
            let msg: &[u8] = if t < 0 { b"X" } else { b"T" };
            libc::write(HANGUP_REPORT_FD, msg.as_ptr().cast(), 1);
            libc::_exit(0);
        }
    }
    pid
}

/// What the hangup watcher reported: the signals it got and whether
/// `/dev/tty` opened after the hangup.
fn hangup_story(got: &str) -> String {
    let mut sigs: Vec<&str> = Vec::new();
    if got.contains('H') {
        sigs.push("SIGHUP");
    }
    if got.contains('C') {
        sigs.push("SIGCONT");
    }
    let tty = if got.contains('X') {
        "ENXIO"
    } else if got.contains('T') {
        "ok"
    } else {
        "?"
    };
    format!("{} /dev/tty={tty}", sigs.join(" "))
}

/// `TIOCSPGRP` needs the terminal to be the caller's controlling terminal
/// and the group to be in its session (the tty core's checks; ckpt_pty used
/// to accept any group from anyone).
fn tiocspgrp_other_session() -> TestResult {
    both(
        "outsider_slave=ENOTTY outsider_master=ENOTTY other_session_group=EPERM own_via_master=ok",
        |kind| {
            let pair = PtyPair::open(kind)?;
            let slave = pair.slave()?.as_raw_fd();
            let master = pair.master.as_raw_fd();
            // A process in another session (no controlling terminal).
            let outsider = Report::new()?;
            let other = fork_own_session_sleeper(&outsider);
            let ready = outsider.wait_bytes(1, Duration::from_secs(10));
            let result = ready.and_then(|_| {
                in_child(Duration::from_secs(20), move |_| {
                    tiocspgrp_attempts(slave, master, other)
                })
            });
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(other, libc::SIGKILL);
                libc::waitpid(other, std::ptr::null_mut(), 0);
            }
            result
        },
    )
}

/// Forks a child that starts a session of its own, reports `R` through
/// `report` and sleeps until killed. Returns its pid.
fn fork_own_session_sleeper(report: &Report) -> i32 {
    // SAFETY: the child sleeps until killed.
    let other = unsafe { libc::fork() };
    if other == 0 {
        // SAFETY: plain system calls.
        unsafe {
            libc::setsid();
            libc::write(report.write.as_raw_fd(), b"R".as_ptr().cast(), 1);
            loop {
                libc::pause();
            }
        }
    }
    other
}

/// In a child: `TIOCSPGRP` on both ends from an outsider without a
/// controlling terminal; then, as the session leader of the slave, to the
/// group `other` of another session, and to its own group via the master.
fn tiocspgrp_attempts(slave: i32, master: i32, other: i32) -> Result<String, String> {
    // An outsider first: it has no controlling terminal.
    let out = background(move || {
        // SAFETY: plain system calls.
        unsafe { libc::setsid() };
        // SAFETY: plain system call.
        let me = unsafe { libc::getpid() };
        // SAFETY: ioctls on an int we own.
        let s = errno_of(unsafe { libc::ioctl(slave, TIOCSPGRP as _, &me) });
        // SAFETY: as above.
        let m = errno_of(unsafe { libc::ioctl(master, TIOCSPGRP as _, &me) });
        Ok(format!("outsider_slave={s} outsider_master={m}"))
    })?;
    // SAFETY: plain system calls.
    unsafe {
        libc::setsid();
        libc::ioctl(slave, TIOCSCTTY as _, 0);
    }
    // SAFETY: an int we own.
    let e1 = errno_of(unsafe { libc::ioctl(slave, TIOCSPGRP as _, &other) });
    // SAFETY: plain system call.
    let me = unsafe { libc::getpgrp() };
    // SAFETY: an int we own.
    let e2 = errno_of(unsafe { libc::ioctl(master, TIOCSPGRP as _, &me) });
    Ok(format!(
        "{out} other_session_group={e1} own_via_master={e2}"
    ))
}

/// ckpt_pty's slaves run ckpt_pty's line discipline and nothing else: it
/// reports its own number, `TIOCSETD` to another is refused and `TCSETS`
/// cannot change `c_line`; the master looks like a native master.
fn ldisc_is_ckpt_ldterm() -> TestResult {
    if native_only() {
        return Ok(());
    }
    let pair = PtyPair::open(PtyKind::Ckpt)?;
    let slave = pair.slave()?;
    let e = |x: std::io::Error| errno_name(&x);
    ensure_eq!(sys::get_u32(slave, TIOCGETD).map_err(e)?, LDISC_CKPT);
    ensure_eq!(sys::get_u32(&pair.master, TIOCGETD).map_err(e)?, 0);
    let mut n_tty: i32 = 0;
    let r = sys::ioctl_ptr(slave, TIOCSETD as u32, &mut n_tty).map_err(e);
    ensure_eq!(r, Err("EPERM".to_string()));
    let mut same: i32 = LDISC_CKPT as i32;
    ensure_eq!(
        sys::ioctl_ptr(slave, TIOCSETD as u32, &mut same).map_err(e),
        Ok(0)
    );
    let mut t = pty::get_termios(slave).map_err(e)?;
    ensure_eq!(u32::from(t.c_line), LDISC_CKPT);
    t.c_line = 0;
    pty::set_termios(slave, TCSETS, &t).map_err(e)?;
    ensure_eq!(
        u32::from(pty::get_termios(slave).map_err(e)?.c_line),
        LDISC_CKPT
    );
    ensure_eq!(sys::get_u32(slave, TIOCGETD).map_err(e)?, LDISC_CKPT);
    // Still working: a line goes through.
    sys::write_once(&pair.master, b"ok\n").map_err(e)?;
    let got = pty::read_timeout(slave, 16, Duration::from_secs(3))?;
    ensure_eq!(got, Some(b"ok\n".to_vec()));
    Ok(())
}

/// An unprivileged user allocates a pty and owns its slave node (mode
/// 0620, group tty as mounted with `gid=5,mode=620`); another unprivileged
/// user cannot open it.
fn unprivileged_owner() -> TestResult {
    both("owner=1000 group=5 mode=620 self=ok other=EACCES", |kind| {
        let holder = Report::new()?;
        let pid = fork_pty_holder(kind, &holder);
        let got = holder.wait_bytes(60, Duration::from_secs(10));
        let result = got.and_then(|line| node_owner_and_other_user(&line));
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        result
    })
}

/// Forks a child that, as uid 1000, allocates a pty of `kind`, unlocks
/// it, tries to open its slave node and holds the master until killed.
/// It reports "NODE self=RESULT" (or "! ERROR") through `holder`, padded
/// to 60 bytes. Returns its pid.
fn fork_pty_holder(kind: PtyKind, holder: &Report) -> i32 {
    let ptmx = kind.ptmx();
    let dir = kind.pts_dir();
    // SAFETY: the child allocates a pty as uid 1000 and holds it.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let line = as_user(1000, || {
            let m = sys::open(ptmx, libc::O_RDWR | libc::O_NOCTTY)
                .map_err(|e| format!("open {ptmx}: {}", errno_name(&e)))?;
            sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
            let n = sys::get_u32(&m, TIOCGPTN).map_err(|e| errno_name(&e))?;
            let path = format!("{dir}/{n}");
            let (me, fd) = try_open(&path, libc::O_RDWR | libc::O_NOCTTY);
            if fd >= 0 {
                // SAFETY: our descriptor.
                unsafe { libc::close(fd) };
            }
            std::mem::forget(m);
            Ok(format!("{path} self={me}"))
        });
        let text = format!("{:<60}", line.unwrap_or_else(|e| format!("! {e}")));
        holder.send(&text);
        // SAFETY: hold the master until killed.
        unsafe {
            loop {
                libc::pause();
            }
        }
    }
    pid
}

/// From the holder's report: the owner, group and mode of the slave
/// node, the holder's own open, and an open by uid 1001.
fn node_owner_and_other_user(line: &str) -> Result<String, String> {
    let line = line.trim().to_string();
    if let Some(e) = line.strip_prefix("! ") {
        return Err(e.to_string());
    }
    let (path, me) = line.split_once(' ').ok_or("bad report")?;
    let c = cpath(path);
    // SAFETY: `st` is a valid out-buffer.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::stat(c.as_ptr(), &mut st);
        st
    };
    let path = path.to_string();
    let other = in_child(Duration::from_secs(10), move |_| {
        as_user(
            1001,
            || Ok(try_open(&path, libc::O_RDWR | libc::O_NOCTTY).0),
        )
    })?;
    Ok(format!(
        "owner={} group={} mode={:o} {me} other={other}",
        st.st_uid,
        st.st_gid,
        st.st_mode & 0o7777,
    ))
}

/// Runs `body` as `uid` (group `uid`, no supplementary groups).
fn as_user(uid: u32, body: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
    // SAFETY: gives up privileges in a child of ours.
    unsafe {
        libc::setgroups(0, std::ptr::null());
        if libc::setgid(uid) < 0 || libc::setuid(uid) < 0 {
            return Err(format!("setuid {uid}: {}", sys::last_errno()));
        }
    }
    body()
}

/// Two instances each hold index 0 at once, independently; each master's
/// `TIOCGPTPEER` opens its own instance's node.
fn two_instances() -> TestResult {
    if native_only() {
        return Ok(());
    }
    let dir = "/tmp/ckpt-inst2";
    let _ = std::fs::create_dir_all(dir);
    let (st, out) = sys::sh(&format!("mount -t {FS_TYPE} -o gid=5 none {dir} 2>&1"));
    ensure_eq!((st, out.as_str()), (0, ""));
    let result = (|| -> TestResult {
        let a = PtyPair::open(PtyKind::Ckpt)?;
        ensure_eq!(a.index, 0);
        let m = sys::open(&format!("{dir}/ptmx"), libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| format!("open {dir}/ptmx: {}", errno_name(&e)))?;
        sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
        ensure_eq!(sys::get_u32(&m, TIOCGPTN).map_err(|e| errno_name(&e))?, 0);
        let s = sys::open(&format!("{dir}/0"), libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| errno_name(&e))?;
        sys::write_once(&m, b"two\n").map_err(|e| errno_name(&e))?;
        sys::write_once(&a.master, b"one\n").map_err(|e| errno_name(&e))?;
        let got_b = pty::read_timeout(&s, 16, Duration::from_secs(3))?;
        let got_a = pty::read_timeout(a.slave()?, 16, Duration::from_secs(3))?;
        ensure_eq!(got_b, Some(b"two\n".to_vec()));
        ensure_eq!(got_a, Some(b"one\n".to_vec()));
        // TIOCGPTPEER opens the node of the master's own instance.
        let peer = sys::ioctl_val(
            &m,
            crate::uapi::TIOCGPTPEER,
            (libc::O_RDWR | libc::O_NOCTTY) as usize,
        )
        .map_err(|e| errno_name(&e))?;
        // SAFETY: the ioctl returned a new descriptor we now own.
        let peer = unsafe { OwnedFd::from_raw_fd(peer) };
        let link = std::fs::read_link(format!("/proc/self/fd/{}", peer.as_raw_fd()))
            .map_err(|e| e.to_string())?;
        ensure_eq!(link.to_string_lossy(), format!("{dir}/0"));
        let link_a = std::fs::read_link(format!("/proc/self/fd/{}", a.slave()?.as_raw_fd()))
            .map_err(|e| e.to_string())?;
        ensure_eq!(link_a.to_string_lossy(), format!("{PTS_DIR}/0"));
        Ok(())
    })();
    let (st, out) = sys::sh(&format!("umount {dir} 2>&1"));
    result?;
    ensure_eq!((st, out.as_str()), (0, ""));
    Ok(())
}

/// Makes the calling process the root of a user namespace (and mount
/// namespace) of its own, as a container's, and mounts an instance of its
/// own at `dir`. For a child process: it cannot go back.
pub fn mount_in_own_user_namespace(dir: &str) -> Result<(), String> {
    let _ = std::fs::create_dir_all(dir);
    // SAFETY: plain system calls in our own child.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } < 0 {
        return Err(format!("unshare: {}", sys::last_errno()));
    }
    let write =
        |path: &str, text: &str| std::fs::write(path, text).map_err(|e| format!("{path}: {e}"));
    write("/proc/self/uid_map", "0 0 1")?;
    write("/proc/self/setgroups", "deny")?;
    write("/proc/self/gid_map", "0 0 1")?;
    let (st, out) = sys::sh(&format!("mount -t {FS_TYPE} none {dir} 2>&1"));
    if st != 0 {
        return Err(format!("mount in the user namespace: {out}"));
    }
    Ok(())
}

/// A container's root (in a user namespace of its own) mounts its own
/// instance and uses ptys in it (ckptpts is `FS_USERNS_MOUNT`, as devpts).
fn instance_in_user_namespace() -> TestResult {
    if native_only() {
        return Ok(());
    }
    let story = in_child(Duration::from_secs(20), |_| {
        let dir = "/tmp/ckpt-userns";
        mount_in_own_user_namespace(dir)?;
        let m = sys::open(&format!("{dir}/ptmx"), libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| format!("ptmx: {}", errno_name(&e)))?;
        sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
        let n = sys::get_u32(&m, TIOCGPTN).map_err(|e| errno_name(&e))?;
        let s = sys::open(&format!("{dir}/{n}"), libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| format!("slave: {}", errno_name(&e)))?;
        sys::write_once(&m, b"in ns\n").map_err(|e| errno_name(&e))?;
        let got = pty::read_timeout(&s, 16, Duration::from_secs(3))?;
        Ok(format!(
            "index={n} read={:?}",
            got.map(|g| String::from_utf8_lossy(&g).into_owned())
        ))
    })?;
    ensure_eq!(story.as_str(), "index=0 read=Some(\"in ns\\n\")");
    Ok(())
}
