// SPDX-License-Identifier: GPL-2.0
//! Concurrency and lifetime tests: blocked callers woken by hangups and
//! signals, bulk transfers in both directions at once, epoll wake-ups,
//! every pair of the table in use at once, and random operations on a few
//! shared pairs from several threads.
//!
//! Not differential: each test asserts the behaviour. The hangup tests
//! also run on the native pty first, so their assertions are checked
//! against `n_tty` (and the one place where `n_tty` loses a wake-up is
//! shown as such). On a host (`CKPT_GUEST_NATIVE_ONLY=1`) every test runs
//! on the native pty, except the one that needs the ckpt table.
//! Kernel trouble (KASAN, lockdep, WARN) fails the run through the console
//! log check of the runner.
//!
//! Every blocking call has a bound (the deadline helpers of [`sys`], or a
//! watchdog that interrupts the workers), so a lost wake-up fails a test
//! instead of hanging the guest.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pty_core::End;

use crate::ktap::{TestFn, TestResult};
use crate::pty::{
    self, PtyKind, PtyPair, Termios, Termios2, Winsize, FIONREAD, TCFLSH, TCGETS, TCSETS, TCSETSF,
    TCSETSW, TCXONC, TIOCEXCL, TIOCGPGRP, TIOCGPTPEER, TIOCGWINSZ, TIOCNXCL, TIOCOUTQ, TIOCPKT,
    TIOCSWINSZ,
};
use crate::script::native_only;
use crate::sys::{self, errno_name, RW};
use crate::uapi::{
    PTMX_PATH, PTS_DIR, TCGETS2, TCSBRK, TCSBRKP, TCSETS2, TIOCGETD, TIOCGEXCL, TIOCGPKT,
    TIOCGPTLCK, TIOCGPTN, TIOCSIG, TIOCSPTLCK,
};
use crate::{ensure, ensure_eq};

pub const TESTS: &[(&str, TestFn)] = &[
    ("stress_master_close_wakes_slave_readers", || {
        timed(master_close_wakes_slave_readers)
    }),
    ("stress_slave_close_wakes_master_readers", || {
        timed(slave_close_wakes_master_readers)
    }),
    ("stress_hangup_wakes_blocked_writers", || {
        timed(hangup_wakes_blocked_writers)
    }),
    ("stress_signal_eintr_or_restart", || {
        timed(signal_eintr_or_restart)
    }),
    ("stress_epoll_wakeups", || timed(epoll_wakeups)),
    ("stress_bulk_both_directions", || {
        timed(bulk_both_directions)
    }),
    ("stress_all_pairs_at_once", || timed(all_pairs_at_once)),
    ("stress_random_operations", || timed(random_operations)),
];

/// Runs `test` and reports how long it took (the stress tests must stay
/// cheap in an emulated guest).
fn timed(test: fn() -> TestResult) -> TestResult {
    let start = Instant::now();
    let result = test();
    println!("# took {:.1} s", start.elapsed().as_secs_f64());
    result
}

/// How soon a blocked call must return after what should wake it. Wake-ups
/// are immediate; the margin is for an emulated guest under KASAN on a
/// loaded host (3.8 s was seen with three TCG guests on two cores).
const PROMPT: Duration = Duration::from_secs(8);
/// A call on a test thread still blocked after this is interrupted, and the
/// test fails.
const BACKSTOP: Duration = Duration::from_secs(12);

/// The kinds a behaviour test runs on: native first (the reference for the
/// assertion), then ckpt; on a host only native.
fn kinds() -> &'static [PtyKind] {
    if native_only() {
        &[PtyKind::Native]
    } else {
        &[PtyKind::Native, PtyKind::Ckpt]
    }
}

/// The device the load tests run on (native on a host, for trying them).
fn load_kind() -> PtyKind {
    if native_only() {
        PtyKind::Native
    } else {
        PtyKind::Ckpt
    }
}

fn on_kinds(test: fn(PtyKind) -> TestResult) -> TestResult {
    for &kind in kinds() {
        test(kind).map_err(|e| format!("{}: {e}", kind.name()))?;
    }
    Ok(())
}

/// Behaviour that is the kernel's rather than the tty layer's (signal
/// restarts, epoll): on ckpt only in the guest, to save time; on a host
/// the same assertions run on the native pty.
fn on_load_kind(test: fn(PtyKind) -> TestResult) -> TestResult {
    let kind = load_kind();
    test(kind).map_err(|e| format!("{}: {e}", kind.name()))
}

fn en(e: io::Error) -> String {
    errno_name(&e)
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, String> {
    fd.try_clone().map_err(|e| format!("dup: {}", en(e)))
}

fn raw_pair(kind: PtyKind) -> Result<PtyPair, String> {
    let pair = PtyPair::open(kind)?;
    pair.change_slave_termios(TCSETS, pty::make_raw)?;
    Ok(pair)
}

/// Slave and master of `pair`, taken out of it.
fn split(pair: PtyPair) -> Result<(OwnedFd, OwnedFd), String> {
    let slave = pair.slave.ok_or("slave not open")?;
    Ok((pair.master, slave))
}

// ---------------------------------------------------------------------
// Calls on their own thread.

/// A system call made on a thread of its own, so the test can act while it
/// blocks. It is bounded by [`BACKSTOP`] through [`sys::with_deadline`].
type ReadCall = Call<Result<Vec<u8>, String>>;
type EpollCall = Call<Result<Vec<u32>, String>>;

struct Call<T> {
    tid: i32,
    handle: JoinHandle<(T, bool, Instant)>,
    what: &'static str,
}

fn spawn_thread<T: Send + 'static>(
    op: impl FnOnce() -> T + Send + 'static,
) -> Result<(i32, JoinHandle<T>), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(sys::gettid());
        op()
    });
    let tid = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "thread did not start".to_string())?;
    Ok((tid, handle))
}

fn call<T: Send + 'static>(
    what: &'static str,
    op: impl FnOnce() -> T + Send + 'static,
) -> Result<Call<T>, String> {
    let (tid, handle) = spawn_thread(move || {
        let (value, fired) = sys::with_deadline(BACKSTOP, op);
        (value, fired, Instant::now())
    })?;
    Ok(Call { tid, handle, what })
}

/// System calls a blocked test thread may sleep in (x86_64 numbers).
const SLEEPS_IN_READ: &[i64] = &[libc::SYS_read];
const SLEEPS_IN_WRITE: &[i64] = &[libc::SYS_write];
const SLEEPS_IN_POLL: &[i64] = &[libc::SYS_poll, libc::SYS_ppoll];
const SLEEPS_IN_EPOLL: &[i64] = &[
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
];

/// The system call thread `tid` sleeps in, per `/proc/self/task/TID/syscall`
/// (which names one only while the thread is not running).
fn sleeping_in(tid: i32) -> Option<i64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl<T> Call<T> {
    /// Waits until the call sleeps in the kernel in one of `syscalls`.
    fn wait_blocked(&self, syscalls: &[i64]) -> TestResult {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            if self.handle.is_finished() {
                return Err(format!("{} returned instead of blocking", self.what));
            }
            if sleeping_in(self.tid).is_some_and(|nr| syscalls.contains(&nr)) {
                return Ok(());
            }
            if Instant::now() > give_up {
                return Err(format!("{} never blocked", self.what));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Still blocked `for_a_while` later (a wake-up that should not come).
    fn still_blocked_after(&self, for_a_while: Duration, syscalls: &[i64]) -> TestResult {
        std::thread::sleep(for_a_while);
        ensure!(
            !self.handle.is_finished(),
            "{} returned when it should still block",
            self.what
        );
        self.wait_blocked(syscalls)
    }

    /// Interrupts the call with the deadline signal; its result.
    fn interrupt_and_join(self) -> Result<T, String> {
        sys::signal_thread(self.tid, sys::DEADLINE_SIGNAL).map_err(en)?;
        let (value, _, _) = self
            .handle
            .join()
            .map_err(|_| format!("{} panicked", self.what))?;
        Ok(value)
    }

    /// The call's result; it must have returned by itself within
    /// [`PROMPT`] of `since`.
    fn returned_promptly(self, since: Instant) -> Result<T, String> {
        let (value, fired, at) = self
            .handle
            .join()
            .map_err(|_| format!("{} panicked", self.what))?;
        ensure!(
            !fired,
            "{} still blocked after {BACKSTOP:?} (lost wake-up)",
            self.what
        );
        let took = at.saturating_duration_since(since);
        ensure!(
            took <= PROMPT,
            "{} took {took:?} to return after the wake-up",
            self.what
        );
        Ok(value)
    }
}

/// A blocking read of up to `n` bytes on its own thread.
fn read_call(what: &'static str, fd: OwnedFd, n: usize) -> Result<ReadCall, String> {
    call(what, move || sys::read_once(&fd, n).map_err(en))
}

/// A blocking write of `data` on its own thread.
fn write_call(
    what: &'static str,
    fd: OwnedFd,
    data: Vec<u8>,
) -> Result<Call<Result<usize, String>>, String> {
    call(what, move || sys::write_once(&fd, &data).map_err(en))
}

/// Writes with `O_NONBLOCK` until the queue behind `fd` takes nothing more,
/// even after the other side had time to process (n_tty moves input
/// asynchronously). Returns how much went in; `fd` is blocking again after.
fn fill(fd: &OwnedFd) -> Result<usize, String> {
    sys::set_nonblocking(fd, true).map_err(en)?;
    let chunk = [b'f'; 4096];
    let mut total = 0usize;
    let mut idle_rounds = 0;
    while idle_rounds < 1 {
        let mut round = 0usize;
        loop {
            match sys::write_once(fd, &chunk) {
                Ok(n) => round += n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => return Err(format!("filling: {}", en(e))),
            }
            ensure!(total + round < 64 << 20, "the queue never fills");
        }
        total += round;
        idle_rounds = if round == 0 { idle_rounds + 1 } else { 0 };
        std::thread::sleep(pty::quiet_period().max(Duration::from_millis(50)));
    }
    sys::set_nonblocking(fd, false).map_err(en)?;
    Ok(total)
}

/// Reads with `O_NONBLOCK` until nothing more comes for a quiet period;
/// returns how much was read. `fd` is blocking again after.
fn drain_all(fd: &OwnedFd) -> Result<usize, String> {
    sys::set_nonblocking(fd, true).map_err(en)?;
    let mut total = 0usize;
    let mut idle_rounds = 0;
    while idle_rounds < 1 {
        let mut round = 0usize;
        loop {
            match sys::read_once(fd, 65536) {
                Ok(d) if d.is_empty() => break,
                Ok(d) => round += d.len(),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => return Err(format!("draining: {}", en(e))),
            }
        }
        total += round;
        idle_rounds = if round == 0 { idle_rounds + 1 } else { 0 };
        std::thread::sleep(pty::quiet_period().max(Duration::from_millis(50)));
    }
    sys::set_nonblocking(fd, false).map_err(en)?;
    Ok(total)
}

// ---------------------------------------------------------------------
// (a) Hangups wake blocked readers and writers.

/// The slave modes a blocked reader is tried in: a plain wait, and a wait
/// with a `VTIME` timer (10 s) running.
/// A name and a change of the slave's termios.
type Mode = (&'static str, fn(&mut Termios));

const READ_MODES: [Mode; 3] = [
    ("canonical", |_| {}),
    ("raw VMIN=1", pty::make_raw),
    ("raw VMIN=0 VTIME=100", |t| {
        pty::make_raw(t);
        t.c_cc[libc::VMIN] = 0;
        t.c_cc[libc::VTIME] = 100;
    }),
];

/// Readers blocked on the slave (two on one open file, one on another)
/// all return when the master closes.
fn master_close_wakes_slave_readers() -> TestResult {
    on_kinds(|kind| {
        collect(
            READ_MODES
                .iter()
                .map(|&(mode, change)| (mode.to_string(), slave_readers_case(kind, change))),
        )
    })
}

/// Joins the failures of several cases into one (each on its own line).
fn collect(cases: impl Iterator<Item = (String, TestResult)>) -> TestResult {
    let failures: Vec<String> = cases
        .filter_map(|(what, r)| r.err().map(|e| format!("{what}: {e}")))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn slave_readers_case(kind: PtyKind, change: fn(&mut Termios)) -> TestResult {
    let mut pair = PtyPair::open(kind)?;
    pair.change_slave_termios(TCSETS, change)?;
    let first = pair.slave.take().ok_or("no slave")?;
    pair.open_slave_again()?;
    let second = pair.slave.take().ok_or("no slave")?;
    let readers = [
        read_call("slave reader 1", dup(&first)?, 100)?,
        read_call("slave reader 2", dup(&first)?, 100)?,
        read_call("reader on another open of the slave", dup(&second)?, 100)?,
    ];
    for r in &readers {
        r.wait_blocked(SLEEPS_IN_READ)?;
    }
    let closed = Instant::now();
    drop(pair);
    // n_tty: a reader already waiting sees the other end closed (EIO); a
    // read made after the hangup returns 0.
    let mut wrong = Vec::new();
    for r in readers {
        let what = r.what;
        let got = r.returned_promptly(closed)?;
        if got != Err("EIO".to_string()) {
            wrong.push(format!("{what} returned {got:?}"));
        }
    }
    ensure!(
        wrong.is_empty(),
        "wanted EIO for each reader blocked at the close: {}",
        wrong.join(", ")
    );
    // Reads made after the hangup: end of file.
    for fd in [&first, &second] {
        let (r, _) = sys::with_deadline(BACKSTOP, || sys::read_once(fd, 100));
        ensure_eq!(r.map_err(en), Ok(Vec::new()));
    }
    Ok(())
}

/// Readers blocked on the master keep waiting while some slave is open
/// and get `EIO` when the last one closes.
fn slave_close_wakes_master_readers() -> TestResult {
    on_kinds(|kind| {
        let mut pair = PtyPair::open(kind)?;
        let first = pair.slave.take().ok_or("no slave")?;
        pair.open_slave_again()?;
        let second = pair.slave.take().ok_or("no slave")?;
        let readers = [
            read_call("master reader 1", dup(&pair.master)?, 100)?,
            read_call("master reader 2", dup(&pair.master)?, 100)?,
        ];
        for r in &readers {
            r.wait_blocked(SLEEPS_IN_READ)?;
        }
        drop(first);
        for r in &readers {
            r.still_blocked_after(Duration::from_millis(300), SLEEPS_IN_READ)
                .map_err(|e| format!("with one slave still open: {e}"))?;
        }
        let closed = Instant::now();
        drop(second);
        for r in readers {
            let what = r.what;
            let got = r.returned_promptly(closed)?;
            ensure_eq!((what, got), (what, Err("EIO".to_string())));
        }
        Ok(())
    })
}

/// Writers blocked on a full queue return when the other end goes away:
/// `EIO` if nothing was written yet, else the count written so far.
///
/// Native exception: a master writer is never woken when the slave closes.
/// `pty_close` wakes the master's `write_wait` before `tty_release` drops
/// the slave's count, so `n_tty_write` still sees the slave open, finds no
/// room and sleeps again (a lost wake-up). There the test only checks that
/// the native writer is still blocked and interrupts it; ckpt must return.
fn hangup_wakes_blocked_writers() -> TestResult {
    on_kinds(|kind| {
        collect(
            [
                (End::Slave, false),
                (End::Slave, true),
                (End::Master, false),
                (End::Master, true),
            ]
            .into_iter()
            .map(|(writer_end, large)| {
                let what = format!(
                    "{} writer ({})",
                    writer_end.name(),
                    if large {
                        "1 MiB write blocked part-way"
                    } else {
                        "1 byte on a full queue"
                    }
                );
                (what, blocked_writer_case(kind, writer_end, large))
            }),
        )
    })
}

fn blocked_writer_case(kind: PtyKind, writer_end: End, large: bool) -> TestResult {
    const LARGE: usize = 1 << 20;
    let (master, slave) = split(raw_pair(kind)?)?;
    let (from, other) = match writer_end {
        End::Master => (master, slave),
        End::Slave => (slave, master),
    };
    let data = if large {
        vec![b'L'; LARGE]
    } else {
        ensure!(fill(&from)? > 0, "nothing went in while filling");
        b"x".to_vec()
    };
    let writer = write_call("writer", dup(&from)?, data)?;
    writer.wait_blocked(SLEEPS_IN_WRITE)?;
    let closed = Instant::now();
    drop(other);
    let got = if kind == PtyKind::Native && writer_end == End::Master {
        writer.still_blocked_after(Duration::from_millis(300), SLEEPS_IN_WRITE)?;
        println!("# native: master writer not woken by the slave's close (n_tty lost wake-up)");
        writer.interrupt_and_join()?
    } else {
        writer.returned_promptly(closed)?
    };
    if large {
        ensure!(
            matches!(got, Ok(n) if n > 0 && n < LARGE),
            "returned {got:?}, wanted the count written before the close"
        );
    } else if kind == PtyKind::Native && writer_end == End::Master {
        ensure_eq!(got, Err("EINTR".to_string()));
    } else {
        ensure_eq!(got, Err("EIO".to_string()));
    }
    Ok(())
}

// ---------------------------------------------------------------------
// (c) Signals: EINTR without SA_RESTART, transparent restart with it.

static USR1_COUNT: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_: i32) {
    USR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Installs the counting `SIGUSR1` handler with or without `SA_RESTART`.
fn handle_usr1(restart: bool) {
    // SAFETY: the handler only increments an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as usize;
        sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
}

fn ignore_usr1() {
    // SAFETY: restoring a plain disposition.
    unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
}

/// Signals a blocked call once; returns when the handler has run.
fn interrupt<T>(c: &Call<T>) -> TestResult {
    let before = USR1_COUNT.load(Ordering::SeqCst);
    sys::signal_thread(c.tid, libc::SIGUSR1).map_err(en)?;
    let give_up = Instant::now() + Duration::from_secs(5);
    while USR1_COUNT.load(Ordering::SeqCst) == before {
        ensure!(Instant::now() < give_up, "the SIGUSR1 handler never ran");
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// One blocked call, interrupted with and without `SA_RESTART`.
/// `start` makes the call and it blocks, `release` lets it complete,
/// `expect` is what it returns then.
struct SignalCase {
    what: &'static str,
    syscalls: &'static [i64],
    start: fn(&OwnedFd, &OwnedFd) -> Result<ReadCall, String>,
    release: fn(&OwnedFd, &OwnedFd) -> TestResult,
    expect: &'static [u8],
}

fn signal_cases() -> [SignalCase; 3] {
    [
        SignalCase {
            what: "slave read (canonical)",
            syscalls: SLEEPS_IN_READ,
            start: |_, s| read_call("slave read", dup(s)?, 100),
            release: |m, _| {
                sys::write_once(m, b"data\n").map_err(en)?;
                Ok(())
            },
            expect: b"data\n",
        },
        SignalCase {
            what: "master read",
            syscalls: SLEEPS_IN_READ,
            start: |m, _| read_call("master read", dup(m)?, 100),
            release: |_, s| {
                sys::write_once(s, b"out").map_err(en)?;
                Ok(())
            },
            expect: b"out",
        },
        SignalCase {
            what: "slave write on a full queue",
            syscalls: SLEEPS_IN_WRITE,
            start: |_, s| {
                pty::set_termios(s, TCSETS, &{
                    let mut t = pty::get_termios(s).map_err(en)?;
                    pty::make_raw(&mut t);
                    t
                })
                .map_err(en)?;
                fill(s)?;
                let fd = dup(s)?;
                call("slave write", move || {
                    sys::write_once(&fd, b"w")
                        .map(|n| vec![b'w'; n])
                        .map_err(en)
                })
            },
            release: |m, _| drain_all(m).map(|_| ()),
            expect: b"w",
        },
    ]
}

fn signal_eintr_or_restart() -> TestResult {
    let result = on_load_kind(|kind| {
        for case in signal_cases() {
            let what = case.what;
            for restart in [false, true] {
                handle_usr1(restart);
                let (master, slave) = split(PtyPair::open(kind)?)?;
                let c = (case.start)(&master, &slave)?;
                c.wait_blocked(case.syscalls)
                    .map_err(|e| format!("{what}: {e}"))?;
                interrupt(&c)?;
                if !restart {
                    let got = c
                        .returned_promptly(Instant::now())
                        .map_err(|e| format!("{what}: {e}"))?;
                    ensure_eq!((what, got), (what, Err("EINTR".to_string())));
                    continue;
                }
                // Restarted: back asleep in the same call, not returned.
                c.still_blocked_after(Duration::from_millis(100), case.syscalls)
                    .map_err(|e| format!("{what} with SA_RESTART: {e}"))?;
                let released = Instant::now();
                (case.release)(&master, &slave)?;
                let got = c
                    .returned_promptly(released)
                    .map_err(|e| format!("{what} with SA_RESTART: {e}"))?;
                ensure_eq!(
                    (what, "SA_RESTART", got),
                    (what, "SA_RESTART", Ok(case.expect.to_vec()))
                );
            }
        }
        Ok(())
    });
    ignore_usr1();
    result
}

// ---------------------------------------------------------------------
// (e) poll and epoll wake-ups.

struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> Result<Self, String> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(format!("epoll_create1: {}", sys::last_errno()));
        }
        // SAFETY: a fresh descriptor we own.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn add(&self, fd: &OwnedFd, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: fd.as_raw_fd() as u64,
        };
        // SAFETY: valid descriptors and event.
        let r = unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The event masks reported by one `epoll_wait`.
    fn wait(&self, timeout_ms: i32) -> io::Result<Vec<u32>> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `evs` has room for 8 events.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), 8, timeout_ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(evs[..n as usize].iter().map(|e| e.events).collect())
    }
}

fn epoll_call(what: &'static str, fd: &OwnedFd, events: u32) -> Result<EpollCall, String> {
    let ep = Epoll::new()?;
    ep.add(fd, events)
        .map_err(|e| format!("epoll_ctl: {}", en(e)))?;
    call(what, move || ep.wait(30_000).map_err(en))
}

fn epoll_names(evs: &[u32]) -> String {
    let names: Vec<String> = evs.iter().map(|&e| pty::poll_names(e as i16)).collect();
    names.join(", ")
}

/// One event mask with all of `bits`.
fn ensure_events(what: &str, got: Result<Vec<u32>, String>, bits: u32) -> TestResult {
    let evs = got.map_err(|e| format!("{what}: epoll_wait: {e}"))?;
    ensure!(
        evs.len() == 1 && evs[0] & bits == bits,
        "{what}: epoll reported [{}], wanted {}",
        epoll_names(&evs),
        pty::poll_names(bits as i16)
    );
    Ok(())
}

fn epoll_wakeups() -> TestResult {
    on_load_kind(|kind| {
        let (master, slave) = split(PtyPair::open(kind)?)?;
        epoll_wakes_readers(&master, &slave)?;
        epoll_and_poll_see_master_close(master, slave)?;
        epoll_sees_last_slave_close(kind)?;
        epoll_wakes_writer_when_drained(kind)
    })
}

/// The master's waiter wakes when the slave writes; the slave's waiter
/// (canonical) wakes for a line, not before. Leaves the line unread.
fn epoll_wakes_readers(master: &OwnedFd, slave: &OwnedFd) -> TestResult {
    let in_ = libc::EPOLLIN as u32;
    let w = epoll_call("epoll on the master", master, in_)?;
    w.wait_blocked(SLEEPS_IN_EPOLL)?;
    let at = Instant::now();
    sys::write_once(slave, b"x").map_err(en)?;
    ensure_events("slave wrote", w.returned_promptly(at)?, in_)?;

    let w = epoll_call("epoll on the slave", slave, in_)?;
    w.wait_blocked(SLEEPS_IN_EPOLL)?;
    sys::write_once(master, b"half a line").map_err(en)?;
    w.still_blocked_after(Duration::from_millis(300), SLEEPS_IN_EPOLL)
        .map_err(|e| format!("after half a line: {e}"))?;
    let at = Instant::now();
    sys::write_once(master, b"\n").map_err(en)?;
    ensure_events("master wrote a line", w.returned_promptly(at)?, in_)
}

/// Hangup: after the line of [`epoll_wakes_readers`] is read, the slave's
/// epoll waiter and a `poll()` waiter wake when the master closes.
fn epoll_and_poll_see_master_close(master: OwnedFd, slave: OwnedFd) -> TestResult {
    let in_ = libc::EPOLLIN as u32;
    let hup = libc::EPOLLHUP as u32;
    let line = sys::read_once(&slave, 100).map_err(en)?;
    ensure_eq!(line, b"half a line\n".to_vec());
    let w = epoll_call("epoll on the slave", &slave, in_)?;
    w.wait_blocked(SLEEPS_IN_EPOLL)?;
    let poller = {
        let fd = dup(&slave)?;
        call("poll on the slave", move || {
            sys::poll_events(&fd, libc::POLLIN, 30_000).map_err(en)
        })?
    };
    poller.wait_blocked(SLEEPS_IN_POLL)?;
    let at = Instant::now();
    drop(master);
    ensure_events("master closed", w.returned_promptly(at)?, in_ | hup)?;
    let revents = poller.returned_promptly(at)??;
    ensure!(
        revents & libc::POLLHUP != 0,
        "master closed: poll reported {}",
        pty::poll_names(revents)
    );
    drop(slave);
    Ok(())
}

/// Hangup: the master's waiter wakes when the last slave closes.
fn epoll_sees_last_slave_close(kind: PtyKind) -> TestResult {
    let (master, slave) = split(PtyPair::open(kind)?)?;
    let w = epoll_call("epoll on the master", &master, libc::EPOLLIN as u32)?;
    w.wait_blocked(SLEEPS_IN_EPOLL)?;
    let at = Instant::now();
    drop(slave);
    ensure_events(
        "slave closed",
        w.returned_promptly(at)?,
        libc::EPOLLHUP as u32,
    )
}

/// A writer's waiter wakes when the full queue drains.
fn epoll_wakes_writer_when_drained(kind: PtyKind) -> TestResult {
    let out = libc::EPOLLOUT as u32;
    let (master, slave) = split(raw_pair(kind)?)?;
    fill(&master)?;
    let w = epoll_call("EPOLLOUT on the master", &master, out)?;
    w.wait_blocked(SLEEPS_IN_EPOLL)?;
    let at = Instant::now();
    drain_all(&slave)?;
    ensure_events("slave read everything", w.returned_promptly(at)?, out)
}

// ---------------------------------------------------------------------
// Watchdog for workers that make many blocking calls.

/// Joins `workers`; if they are not all done by `limit`, sets `expired` and
/// interrupts them with the deadline signal until they return.
fn join_by<T>(
    workers: Vec<(i32, JoinHandle<T>)>,
    limit: Duration,
    expired: &AtomicBool,
) -> Result<Vec<T>, String> {
    sys::install_deadline_handler();
    let give_up = Instant::now() + limit;
    let mut last_kick = Instant::now();
    while workers.iter().any(|(_, h)| !h.is_finished()) {
        if Instant::now() > give_up && last_kick.elapsed() >= Duration::from_millis(20) {
            expired.store(true, Ordering::SeqCst);
            for (tid, h) in &workers {
                if !h.is_finished() {
                    let _ = sys::signal_thread(*tid, sys::DEADLINE_SIGNAL);
                }
            }
            last_kick = Instant::now();
            if Instant::now() > give_up + Duration::from_secs(20) {
                return Err(format!(
                    "workers still blocked {limit:?} + 20 s after the start"
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    workers
        .into_iter()
        .map(|(_, h)| h.join().map_err(|_| "worker panicked".to_string()))
        .collect()
}

// ---------------------------------------------------------------------
// (d) 1 MiB each way at once, with 1-byte and 64 KiB writes.

const BULK: usize = 1 << 20;
/// Each direction alternates one 64 KiB write with this many 1-byte writes.
const SINGLE_BYTE_RUN: usize = 128;

fn pattern(seed: u32) -> Vec<u8> {
    (0..BULK as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761)).rotate_right(13) as u8)
        .collect()
}

fn retry_eintr<T>(
    expired: &AtomicBool,
    mut op: impl FnMut() -> io::Result<T>,
) -> Result<T, String> {
    loop {
        match op() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                ensure!(!expired.load(Ordering::SeqCst), "timed out");
            }
            r => return r.map_err(en),
        }
    }
}

/// Writes all of `data`: a 64 KiB write, then [`SINGLE_BYTE_RUN`] 1-byte
/// writes, and so on. Returns the number of write calls.
fn bulk_write(fd: &OwnedFd, data: &[u8], expired: &AtomicBool) -> Result<usize, String> {
    let mut off = 0;
    let mut calls = 0;
    while off < data.len() {
        let end = (off + 65536).min(data.len());
        while off < end {
            off += retry_eintr(expired, || sys::write_once(fd, &data[off..end]))?;
            calls += 1;
        }
        for _ in 0..SINGLE_BYTE_RUN {
            if off == data.len() {
                break;
            }
            let n = retry_eintr(expired, || sys::write_once(fd, &data[off..off + 1]))?;
            ensure_eq!(n, 1);
            off += 1;
            calls += 1;
        }
    }
    Ok(calls)
}

/// Reads until `want` has arrived, checking every byte as it comes.
fn bulk_read(fd: &OwnedFd, want: &[u8], expired: &AtomicBool) -> Result<usize, String> {
    let mut got = 0;
    let mut calls = 0;
    while got < want.len() {
        let chunk = retry_eintr(expired, || sys::read_once(fd, 65536))?;
        calls += 1;
        ensure!(!chunk.is_empty(), "end of file after {got} bytes");
        ensure!(
            got + chunk.len() <= want.len(),
            "{} bytes more than were written",
            got + chunk.len() - want.len()
        );
        if let Some(i) = chunk.iter().zip(&want[got..]).position(|(a, b)| a != b) {
            return Err(format!(
                "byte {} is {:#04x}, wanted {:#04x}",
                got + i,
                chunk[i],
                want[got + i]
            ));
        }
        got += chunk.len();
    }
    Ok(calls)
}

fn bulk_both_directions() -> TestResult {
    let kind = load_kind();
    let (master, slave) = split(raw_pair(kind)?)?;
    let (master, slave) = (Arc::new(master), Arc::new(slave));
    let down = Arc::new(pattern(1));
    let up = Arc::new(pattern(0x5555));
    let expired = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut workers = Vec::new();
    for (name, from, to, data) in [
        ("master to slave", &master, &slave, &down),
        ("slave to master", &slave, &master, &up),
    ] {
        let (fd, d, x) = (Arc::clone(from), Arc::clone(data), Arc::clone(&expired));
        workers.push(spawn_thread(move || {
            bulk_write(&fd, &d, &x).map_err(|e| format!("{name}: write: {e}"))
        })?);
        let (fd, d, x) = (Arc::clone(to), Arc::clone(data), Arc::clone(&expired));
        workers.push(spawn_thread(move || {
            bulk_read(&fd, &d, &x).map_err(|e| format!("{name}: read: {e}"))
        })?);
    }
    // A bound against a hang, not a speed test: 18–35 s were measured on
    // TCG with KASAN, over 40 s with other guests on the same cores.
    let calls = join_by(workers, Duration::from_secs(150), &expired)?
        .into_iter()
        .collect::<Result<Vec<usize>, String>>()?;
    println!(
        "# bulk: 2 x 1 MiB in {:?}; write/read calls: down {}/{}, up {}/{}",
        start.elapsed(),
        calls[0],
        calls[1],
        calls[2],
        calls[3]
    );
    // Nothing more than what was written.
    for (fd, name) in [(&master, "master"), (&slave, "slave")] {
        ensure_eq!((name, sys::get_u32(fd, FIONREAD).map_err(en)?), (name, 0));
        let ready = sys::poll_events(fd, libc::POLLIN, 0).map_err(en)?;
        ensure!(ready & libc::POLLIN == 0, "{name} still readable");
    }
    Ok(())
}

// ---------------------------------------------------------------------
// (f) Every pair of the table at once.

fn max_pairs() -> Result<usize, String> {
    let text = std::fs::read_to_string("/sys/module/ckpt_pty/parameters/max_pairs")
        .map_err(|e| format!("max_pairs: {e}"))?;
    text.trim().parse().map_err(|e| format!("max_pairs: {e}"))
}

/// Raises the open file limit to at least `n`; returns the old limit.
fn raise_nofile(n: u64) -> Result<libc::rlimit, String> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on valid structures.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) < 0 {
            return Err(format!("getrlimit: {}", sys::last_errno()));
        }
        let new = libc::rlimit {
            rlim_cur: old.rlim_cur.max(n),
            rlim_max: old.rlim_max.max(n),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &new) < 0 {
            return Err(format!("setrlimit {n}: {}", sys::last_errno()));
        }
    }
    Ok(old)
}

/// AT&T slave nodes of the default instance (numeric names; the instance
/// also has `ptmx`, `control` and the BSD pairs' nodes).
fn pts_entries() -> Result<usize, String> {
    match std::fs::read_dir(PTS_DIR) {
        Ok(dir) => Ok(dir
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
            })
            .count()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("{PTS_DIR}: {e}")),
    }
}

/// Threads opening the pairs at once (allocation races between them).
const OPENERS: usize = 4;
/// Pairs closed at random (leaving holes) and opened again.
const HOLES: usize = 32;

/// Masters with their indexes.
type Masters = Vec<(u32, OwnedFd)>;

/// Opens `count` masters; also returns how long the first and the last
/// [`SAMPLE`] opens took (whether the cost grows with the table).
fn open_masters(count: usize) -> Result<(Masters, [Duration; 2]), String> {
    let mut masters = Vec::with_capacity(count);
    let mut marks = Vec::new();
    for i in 0..count {
        if i == 0 || i == SAMPLE || i == count - SAMPLE {
            marks.push(Instant::now());
        }
        let m = sys::open(PTMX_PATH, RW).map_err(|e| {
            format!(
                "open number {} of this thread: {}",
                masters.len() + 1,
                en(e)
            )
        })?;
        let n = sys::get_u32(&m, TIOCGPTN).map_err(en)?;
        masters.push((n, m));
    }
    marks.push(Instant::now());
    let span = |a: usize, b: usize| marks.get(b).zip(marks.get(a)).map(|(b, a)| *b - *a);
    let first = span(0, 1).unwrap_or_default();
    let last = span(2, 3).unwrap_or_default();
    Ok((masters, [first, last]))
}

const SAMPLE: usize = 64;

/// `max_pairs` pairs open at once: every index once, then `ENOSPC`; freed
/// indexes are given out again lowest first; all closed, index 0 is free.
fn all_pairs_at_once() -> TestResult {
    if native_only() {
        println!("# stress_all_pairs_at_once: needs the ckpt device, skipped");
        return Ok(());
    }
    let max = max_pairs()?;
    ensure_eq!(max, 4096);
    let old = raise_nofile(max as u64 + 256)?;
    let result = every_pair_once(max);
    // SAFETY: restores the limit read above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) };
    result
}

/// The body of [`all_pairs_at_once`], with the file limit raised.
fn every_pair_once(max: usize) -> TestResult {
    let (mut masters, opened, samples) = open_every_pair(max)?;
    next_open_finds_the_table_full(max)?;
    ensure_eq!(pts_entries()?, max);
    last_pair_works(&masters)?;
    holes_refilled_lowest_first(&mut masters, max)?;
    let close_start = Instant::now();
    close_oldest_first(masters)?;
    let closed = close_start.elapsed();
    ensure_eq!(pts_entries()?, 0);
    let m = sys::open(PTMX_PATH, RW).map_err(en)?;
    ensure_eq!(sys::get_u32(&m, TIOCGPTN).map_err(en)?, 0);
    let per_open = |d: Duration| d / (SAMPLE * OPENERS) as u32;
    println!(
        "# all pairs: {max} opened in {opened:?} ({OPENERS} threads; an open took {:?} among the first and {:?} among the last), closed in {closed:?}",
        per_open(samples[0]),
        per_open(samples[1])
    );
    Ok(())
}

/// Opens `max` masters from [`OPENERS`] threads at once; every index
/// must be given out once. Returns them by index, how long that took, and
/// the summed times of the first and the last [`SAMPLE`] opens.
fn open_every_pair(max: usize) -> Result<(Masters, Duration, [Duration; 2]), String> {
    let start = Instant::now();
    let mut openers = Vec::new();
    for t in 0..OPENERS {
        let count = max / OPENERS + usize::from(t < max % OPENERS);
        openers.push(std::thread::spawn(move || open_masters(count)));
    }
    let mut masters = Vec::with_capacity(max);
    let mut samples = [Duration::ZERO; 2];
    for o in openers {
        let (got, [first, last]) = o.join().map_err(|_| "opener panicked".to_string())??;
        masters.extend(got);
        samples[0] += first;
        samples[1] += last;
    }
    let opened = start.elapsed();
    masters.sort_by_key(|(n, _)| *n);
    let indexes: Vec<u32> = masters.iter().map(|(n, _)| *n).collect();
    let expected: Vec<u32> = (0..max as u32).collect();
    if indexes != expected {
        let dup = indexes.windows(2).find(|w| w[0] == w[1]);
        return Err(format!(
            "indexes are not 0..{max} once each: first {:?}, last {:?}, a duplicate {dup:?}",
            &indexes[..4],
            &indexes[max - 4..]
        ));
    }
    Ok((masters, opened, samples))
}

/// With `max` pairs open, one more open says `ENOSPC`.
fn next_open_finds_the_table_full(max: usize) -> TestResult {
    match sys::open(PTMX_PATH, RW) {
        Err(e) => ensure_eq!(en(e), "ENOSPC"),
        Ok(m) => {
            let n = sys::get_u32(&m, TIOCGPTN).map_err(en);
            return Err(format!("open number {} succeeded: index {n:?}", max + 1));
        }
    }
    Ok(())
}

/// The last pair works like any other: unlocked, its slave opens and
/// reads what the master wrote.
fn last_pair_works(masters: &Masters) -> TestResult {
    let (n, last) = masters.last().ok_or("no masters")?;
    sys::set_i32(last, TIOCSPTLCK, 0).map_err(en)?;
    let slave = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(en)?;
    sys::write_once(last, b"hi\n").map_err(en)?;
    let line = pty::read_timeout(&slave, 100, Duration::from_secs(5))?;
    ensure_eq!(line, Some(b"hi\n".to_vec()));
    Ok(())
}

/// Closes [`HOLES`] pairs at random: opened again, they are refilled
/// lowest first, and then the table is full again. The new masters go
/// to the end of `masters`.
fn holes_refilled_lowest_first(masters: &mut Masters, max: usize) -> TestResult {
    let mut rng = Rng::new(max as u64);
    let mut holes = Vec::new();
    while holes.len() < HOLES {
        let i = rng.below(masters.len());
        holes.push(masters.remove(i).0);
    }
    holes.sort_unstable();
    let mut refilled = Vec::new();
    for _ in 0..HOLES {
        let m = sys::open(PTMX_PATH, RW).map_err(|e| format!("reopen: {}", en(e)))?;
        refilled.push(sys::get_u32(&m, TIOCGPTN).map_err(en)?);
        masters.push((refilled[refilled.len() - 1], m));
    }
    ensure_eq!(refilled, holes);
    ensure!(
        sys::open(PTMX_PATH, RW).is_err(),
        "a pair beyond max_pairs after refilling"
    );
    Ok(())
}

/// Closes every master, oldest first: `device_destroy` searches the
/// class's devices from the oldest, so this order keeps each search
/// short. Two closers, each taking every other pair; the [`HOLES`]
/// reopened last go last.
fn close_oldest_first(mut masters: Masters) -> TestResult {
    let newest = masters.split_off(masters.len() - HOLES);
    let (evens, odds): (Vec<_>, Vec<_>) = masters
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let closer = std::thread::spawn(move || drop(odds));
    drop(evens);
    closer.join().map_err(|_| "closer panicked".to_string())?;
    drop(newest);
    Ok(())
}

// ---------------------------------------------------------------------
// (b) Random operations on a few shared pairs from several threads.

/// xorshift64*: reproducible from the seed printed on failure.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const CHAOS_THREADS: usize = 4;
const CHAOS_OPS: usize = 200;
const CHAOS_TIME: Duration = Duration::from_secs(3);
/// Bound of every blocking call of the random test.
const CHAOS_CALL: Duration = Duration::from_millis(100);
/// AT&T pairs shared by the threads; plus these BSD pairs.
const CHAOS_ATT: usize = 3;
const CHAOS_BSD: [u32; 1] = [15];

/// One shared pair: whatever ends of it are open right now.
struct Slot {
    /// BSD pair number, or `None` for an AT&T pair.
    bsd: Option<u32>,
    /// The AT&T index of the current master.
    index: Option<u32>,
    master: Option<Arc<OwnedFd>>,
    slaves: Vec<Arc<OwnedFd>>,
}

impl Slot {
    /// Nothing open yet.
    fn closed(bsd: Option<u32>) -> Self {
        Self {
            bsd,
            index: None,
            master: None,
            slaves: Vec::new(),
        }
    }

    /// A random open end (master or slave).
    fn pick(&self, rng: &mut Rng) -> Option<(bool, Arc<OwnedFd>)> {
        let n = self.slaves.len() + usize::from(self.master.is_some());
        if n == 0 {
            return None;
        }
        let i = rng.below(n);
        match (&self.master, i) {
            (Some(m), 0) => Some((true, Arc::clone(m))),
            (Some(_), i) => Some((false, Arc::clone(&self.slaves[i - 1]))),
            (None, i) => Some((false, Arc::clone(&self.slaves[i]))),
        }
    }
}

/// Results by operation: (operation, outcome) -> count.
type Tally = std::collections::BTreeMap<(&'static str, String), usize>;

/// Errors no operation of the random test may see: they would mean a bad
/// copy, a leak or a lost file.
const FORBIDDEN: &[i32] = &[
    libc::EFAULT,
    libc::ENOMEM,
    libc::EBADF,
    libc::ENOSPC,
    libc::EMFILE,
];

fn outcome<T>(r: &Result<T, io::Error>, fired: bool) -> String {
    match r {
        Ok(_) if fired => "ok at deadline".into(),
        Ok(_) => "ok".into(),
        Err(_) if fired => "interrupted".into(),
        Err(e) => errno_name(e),
    }
}

fn random_operations() -> TestResult {
    let kind = load_kind();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let slots = Arc::new(chaos_slots(kind));
    let start = Instant::now();
    let (ops, tally) = run_chaos_workers(kind, seed, &slots)?;
    println!(
        "# random operations: {ops} in {:?} on {} pairs, seed {seed}",
        start.elapsed(),
        slots.len()
    );
    print_tally(&tally);
    let bad = forbidden_outcomes(&tally);
    ensure!(
        bad.is_empty(),
        "seed {seed}: unexpected errors: {}",
        bad.join(", ")
    );
    // Everything is closed: no pair may be left behind.
    drop(slots);
    if kind == PtyKind::Ckpt {
        ensure_eq!(pts_entries()?, 0);
        let m = sys::open(PTMX_PATH, RW).map_err(en)?;
        ensure_eq!(sys::get_u32(&m, TIOCGPTN).map_err(en)?, 0);
    }
    Ok(())
}

/// The shared pairs, all closed: [`CHAOS_ATT`] AT&T pairs, and on ckpt
/// the BSD pairs [`CHAOS_BSD`] too.
fn chaos_slots(kind: PtyKind) -> Vec<Mutex<Slot>> {
    let mut slots: Vec<Mutex<Slot>> = (0..CHAOS_ATT)
        .map(|_| Mutex::new(Slot::closed(None)))
        .collect();
    if kind == PtyKind::Ckpt {
        for n in CHAOS_BSD {
            slots.push(Mutex::new(Slot::closed(Some(n))));
        }
    }
    slots
}

/// Runs [`CHAOS_THREADS`] workers on `slots` under a watchdog; returns
/// the operations done and their outcomes, summed over the workers.
fn run_chaos_workers(
    kind: PtyKind,
    seed: u64,
    slots: &Arc<Vec<Mutex<Slot>>>,
) -> Result<(usize, Tally), String> {
    // What each thread is doing, for the report of a watchdog expiry.
    let current: Arc<Vec<Mutex<&'static str>>> =
        Arc::new((0..CHAOS_THREADS).map(|_| Mutex::new("start")).collect());
    let stop_at = Instant::now() + CHAOS_TIME;
    let mut workers = Vec::new();
    for t in 0..CHAOS_THREADS {
        let slots = Arc::clone(slots);
        let current = Arc::clone(&current);
        workers.push(spawn_thread(move || {
            chaos_worker(kind, seed + t as u64, &slots, &current[t], stop_at)
        })?);
    }
    let expired = AtomicBool::new(false);
    let results =
        join_by(workers, CHAOS_TIME + Duration::from_secs(30), &expired).map_err(|e| {
            let doing: Vec<String> = current
                .iter()
                .map(|c| c.lock().map(|s| s.to_string()).unwrap_or_default())
                .collect();
            format!("seed {seed}: {e}; threads were in: {}", doing.join(", "))
        })?;
    let mut tally = Tally::new();
    let mut ops = 0;
    for r in results {
        let (n, t) = r.map_err(|e| format!("seed {seed}: {e}"))?;
        ops += n;
        for (k, v) in t {
            *tally.entry(k).or_default() += v;
        }
    }
    Ok((ops, tally))
}

/// One diagnostic line per operation: each outcome and how often.
fn print_tally(tally: &Tally) {
    let mut by_op: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for ((op, what), n) in tally {
        by_op.entry(op).or_default().push(format!("{what} {n}"));
    }
    for (op, outcomes) in by_op {
        println!("#   {op}: {}", outcomes.join(", "));
    }
}

/// The outcomes that are one of the [`FORBIDDEN`] errors.
fn forbidden_outcomes(tally: &Tally) -> Vec<String> {
    tally
        .keys()
        .filter(|(_, what)| FORBIDDEN.iter().any(|&e| *what == sys::errno_str(e)))
        .map(|(op, what)| format!("{op}: {what}"))
        .collect()
}

/// Bytes typed and written: text, line ends and the special characters
/// (but ^C, ^\, ^Z only matter to a foreground group, and there is none).
const CHAOS_BYTES: &[u8] = b"abcdefgh \n\n\r\t\x04\x7f\x15\x17\x12\x16\x13\x11\x03\x1a\xff\x00";

/// Locks `m` even if another worker panicked holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One worker of the random test: [`CHAOS_OPS`] random operations on
/// random slots, until `stop_at`. Returns the operations done and the
/// outcomes of those that applied (closing a closed end does not).
fn chaos_worker(
    kind: PtyKind,
    seed: u64,
    slots: &[Mutex<Slot>],
    current: &Mutex<&'static str>,
    stop_at: Instant,
) -> Result<(usize, Tally), String> {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::new();
    let mut epoll = ChaosEpoll {
        epoll: Epoll::new()?,
        watched: 0,
    };
    let mut ops = 0;
    while ops < CHAOS_OPS && Instant::now() < stop_at {
        ops += 1;
        let slot = &slots[rng.below(slots.len())];
        let op = chaos_choose(&mut rng);
        *lock(current) = op;
        let result = match op {
            "open master" => chaos_open_master(kind, slot, &mut rng),
            "open slave" => chaos_open_slave(kind, slot, &mut rng),
            "close master" => chaos_close_master(slot),
            "close slave" => chaos_close_slave(slot, &mut rng),
            _ => chaos_on_an_end(op, slot, &mut rng, &mut epoll)?,
        };
        if let Some(result) = result {
            *tally.entry((op, result)).or_default() += 1;
        }
    }
    *lock(current) = "done";
    Ok((ops, tally))
}

/// A random operation, by weight.
fn chaos_choose(rng: &mut Rng) -> &'static str {
    match rng.below(100) {
        0..=7 => "open master",
        8..=17 => "open slave",
        18..=22 => "close master",
        23..=29 => "close slave",
        30..=44 => "read",
        45..=59 => "write",
        60..=79 => "ioctl",
        80..=87 => "poll",
        88..=94 => "epoll",
        _ => "nonblock",
    }
}

/// Opens the slot's master unless it is open; an AT&T master is mostly
/// unlocked. `None` when it was open.
fn chaos_open_master(kind: PtyKind, slot: &Mutex<Slot>, rng: &mut Rng) -> Option<String> {
    let mut s = lock(slot);
    if s.master.is_some() {
        return None;
    }
    let path = match s.bsd {
        Some(n) => format!("{PTS_DIR}/pty{n}"),
        None => kind.ptmx().to_string(),
    };
    Some(match sys::open(&path, RW) {
        Ok(m) => {
            if s.bsd.is_none() {
                if rng.chance(90) {
                    let _ = sys::set_i32(&m, TIOCSPTLCK, 0);
                }
                s.index = sys::get_u32(&m, TIOCGPTN).ok();
            }
            s.master = Some(Arc::new(m));
            "ok".into()
        }
        Err(e) => en(e),
    })
}

/// Opens one more slave (at most three, the oldest goes): the node, or
/// `TIOCGPTPEER` on an open AT&T master. `None` when an AT&T pair never
/// had a master.
fn chaos_open_slave(kind: PtyKind, slot: &Mutex<Slot>, rng: &mut Rng) -> Option<String> {
    let mut s = lock(slot);
    if s.slaves.len() >= 3 {
        s.slaves.remove(0);
    }
    let opened = match (s.bsd, s.index, &s.master) {
        (Some(n), _, _) => sys::open(&format!("{PTS_DIR}/tty{n}"), RW),
        (None, _, Some(m)) if rng.chance(40) => {
            let flags = (RW | libc::O_CLOEXEC) as usize;
            sys::ioctl_val(m, TIOCGPTPEER, flags)
                // SAFETY: TIOCGPTPEER returned a new descriptor.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        }
        (None, Some(i), _) => sys::open(&format!("{}/{i}", kind.pts_dir()), RW),
        (None, None, _) => return None,
    };
    Some(match opened {
        Ok(fd) => {
            s.slaves.push(Arc::new(fd));
            "ok".into()
        }
        Err(e) => en(e),
    })
}

/// Closes the master (after letting go of the slot); `None` when it is
/// not open.
fn chaos_close_master(slot: &Mutex<Slot>) -> Option<String> {
    let taken = lock(slot).master.take();
    taken.map(|_| "ok".into())
}

/// Closes a random slave descriptor; `None` when there is none.
fn chaos_close_slave(slot: &Mutex<Slot>, rng: &mut Rng) -> Option<String> {
    let mut s = lock(slot);
    if s.slaves.is_empty() {
        return None;
    }
    let i = rng.below(s.slaves.len());
    s.slaves.swap_remove(i);
    Some("ok".into())
}

/// `op` (read, write, ioctl, poll, epoll or nonblock) on a random open
/// end of the slot; `None` when no end is open. An error is a poll that
/// did not return within its timeout.
fn chaos_on_an_end(
    op: &'static str,
    slot: &Mutex<Slot>,
    rng: &mut Rng,
    epoll: &mut ChaosEpoll,
) -> Result<Option<String>, String> {
    let picked = lock(slot).pick(rng);
    let Some((_, fd)) = picked else {
        return Ok(None);
    };
    Ok(Some(match op {
        "read" => chaos_read(&fd, rng),
        "write" => chaos_write(&fd, rng),
        "ioctl" => chaos_ioctl(&fd, rng),
        "poll" => chaos_poll(&fd, rng)?,
        "epoll" => epoll.watch_and_wait(&fd, rng)?,
        _ => {
            let r = sys::set_nonblocking(&fd, rng.chance(50));
            outcome(&r, false)
        }
    }))
}

/// A read of up to 4 KiB, bounded.
fn chaos_read(fd: &OwnedFd, rng: &mut Rng) -> String {
    let n = 1 + rng.below(4096);
    let (r, fired) = sys::with_deadline(CHAOS_CALL, || sys::read_once(fd, n));
    outcome(&r, fired)
}

/// A bounded write of [`CHAOS_BYTES`] at random: mostly short, sometimes
/// up to 8 KiB.
fn chaos_write(fd: &OwnedFd, rng: &mut Rng) -> String {
    let max = if rng.chance(10) { 8192 } else { 64 };
    let len = 1 + rng.below(max);
    let data: Vec<u8> = (0..len)
        .map(|_| CHAOS_BYTES[rng.below(CHAOS_BYTES.len())])
        .collect();
    let (r, fired) = sys::with_deadline(CHAOS_CALL, || sys::write_once(fd, &data));
    outcome(&r, fired)
}

/// A `poll` with a short timeout, which must return by itself.
fn chaos_poll(fd: &OwnedFd, rng: &mut Rng) -> Result<String, String> {
    let timeout = rng.below(20) as i32;
    let events = [libc::POLLIN, libc::POLLOUT, libc::POLLIN | libc::POLLPRI][rng.below(3)];
    let (r, fired) = sys::with_deadline(CHAOS_CALL + Duration::from_secs(1), || {
        sys::poll_events(fd, events, timeout)
    });
    ensure!(!fired, "poll with a {timeout} ms timeout did not return");
    Ok(outcome(&r, false))
}

/// A worker's epoll, which keeps watching files that other threads close
/// later: closing must take them off.
struct ChaosEpoll {
    epoll: Epoll,
    /// Files added so far (at most 32).
    watched: usize,
}

impl ChaosEpoll {
    /// Watches `fd` too (until 32 are watched), then an `epoll_wait` with
    /// a short timeout, which must return by itself.
    fn watch_and_wait(&mut self, fd: &OwnedFd, rng: &mut Rng) -> Result<String, String> {
        if self.watched < 32 {
            let events = (libc::EPOLLIN | libc::EPOLLOUT) as u32
                | if rng.chance(30) {
                    libc::EPOLLET as u32
                } else {
                    0
                };
            if self.epoll.add(fd, events).is_ok() {
                self.watched += 1;
            }
        }
        let timeout = rng.below(20) as i32;
        let (r, fired) = sys::with_deadline(CHAOS_CALL + Duration::from_secs(1), || {
            self.epoll.wait(timeout)
        });
        ensure!(
            !fired,
            "epoll_wait with a {timeout} ms timeout did not return"
        );
        Ok(outcome(&r, false))
    }
}

/// One random terminal ioctl on `fd`, bounded like every blocking call.
/// Never `TIOCSPGRP` or `TIOCSCTTY`: with no foreground group, the signal
/// characters typed at random reach nobody.
fn chaos_ioctl(fd: &OwnedFd, rng: &mut Rng) -> String {
    let mut buf = [0u8; 64];
    let ptr = buf.as_mut_ptr();
    let which = rng.below(24);
    let (r, fired) = sys::with_deadline(CHAOS_CALL, || -> io::Result<i32> {
        match which {
            0 => sys::ioctl_ptr(fd, TCGETS, ptr),
            1..=3 => {
                let mut t = pty::get_termios(fd)?;
                match rng.below(6) {
                    0 => t.c_lflag ^= libc::ICANON,
                    1 => t.c_lflag ^= libc::ECHO,
                    2 => t.c_iflag ^= libc::IXON,
                    3 => t.c_oflag ^= libc::OPOST,
                    4 => t.c_cc[libc::VMIN] = rng.below(4) as u8,
                    _ => t.c_cc[libc::VTIME] = rng.below(3) as u8,
                }
                let how = [TCSETS, TCSETSW, TCSETSF][which - 1];
                pty::set_termios(fd, how, &t).map(|_| 0)
            }
            4 => {
                let mut t = Termios2::default();
                sys::ioctl_ptr(fd, TCGETS2, &mut t)?;
                t.termios.c_cflag = (t.termios.c_cflag & !libc::CBAUD)
                    | [libc::B9600, libc::B38400, libc::B115200][rng.below(3)];
                sys::ioctl_ptr(fd, TCSETS2, &mut t)
            }
            5 => {
                let mut ws = Winsize::new(rng.below(100) as u16, rng.below(200) as u16, 0, 0);
                sys::ioctl_ptr(fd, TIOCSWINSZ, &mut ws)
            }
            6 => sys::ioctl_ptr(fd, TIOCGWINSZ, ptr),
            7 => sys::ioctl_ptr(fd, FIONREAD, ptr),
            8 => sys::ioctl_ptr(fd, TIOCOUTQ, ptr),
            9 => sys::ioctl_val(fd, TCFLSH, rng.below(4)),
            10 => sys::ioctl_val(fd, TCXONC, rng.below(5)),
            11 => {
                let mut on = rng.below(2) as i32;
                sys::ioctl_ptr(fd, TIOCPKT, &mut on)
            }
            12 => sys::ioctl_ptr(fd, TIOCGPKT, ptr),
            13 => sys::ioctl_val(fd, if rng.chance(50) { TIOCEXCL } else { TIOCNXCL }, 0),
            14 => sys::ioctl_ptr(fd, TIOCGEXCL, ptr),
            15 => sys::ioctl_ptr(fd, TIOCGETD, ptr),
            16 => sys::ioctl_val(fd, TCSBRK, rng.below(2)),
            17 => sys::ioctl_val(fd, TCSBRKP, 0),
            18 => sys::ioctl_val(fd, TIOCSIG, libc::SIGWINCH as usize),
            19 => sys::ioctl_ptr(fd, TIOCGPGRP, ptr),
            20 => sys::ioctl_ptr(fd, TIOCGPTN, ptr),
            21 => {
                let mut lock = i32::from(rng.chance(20));
                sys::ioctl_ptr(fd, TIOCSPTLCK, &mut lock)
            }
            22 => sys::ioctl_ptr(fd, TIOCGPTLCK, ptr),
            _ => sys::ioctl_ptr(fd, TCGETS2, ptr),
        }
    });
    outcome(&r, fired)
}
