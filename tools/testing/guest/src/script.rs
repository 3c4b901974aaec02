// SPDX-License-Identifier: GPL-2.0
//! Scripted sessions: a list of [`Step`]s is run on a fresh native pty and
//! on a fresh ckpt pty, every step records an [`Obs`]ervation, and
//! [`compare`] reports the first observation that differs.
//!
//! Every step that can change state is followed by [`pty::settle`], because
//! native `n_tty` processes input and echo asynchronously; observations are
//! therefore of the settled state, never of timing, except where a step
//! reports timing on purpose (a read that waited for `VTIME`, or was still
//! blocked at its deadline).
//!
//! Environment:
//! - `CKPT_GUEST_NATIVE_ONLY=1`: run the native side twice instead of native
//!   and ckpt (for the host, which has no ckpt device; it also shows that a
//!   script is deterministic).
//! - `CKPT_GUEST_VERBOSE=1`: print the native transcript of every script as
//!   KTAP diagnostics.

use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ktap::TestResult;
use crate::pty::{
    self, poll_names, DrainEnd, PtyKind, PtyPair, Termios, Termios2, Winsize, FIONREAD, TCFLSH,
    TCSETS, TCXONC, TIOCEXCL, TIOCGPGRP, TIOCGPTPEER, TIOCGWINSZ, TIOCNXCL, TIOCOUTQ, TIOCPKT,
    TIOCSCTTY, TIOCSPGRP, TIOCSWINSZ,
};
use crate::sys::{self, errno_name, errno_str};
use crate::uapi::{
    LDISC_CKPT, TCGETS2, TCSBRK, TCSBRKP, TCSETS2, TCSETSF2, TCSETSW2, TIOCGETD, TIOCGEXCL,
    TIOCGPKT, TIOCSIG,
};

/// A foreground read or write still blocked after this is interrupted and
/// reported as blocked. Generous for an emulated guest: only reads that are
/// meant to block ever wait this long.
const DEADLINE: Duration = Duration::from_secs(1);
/// Background operations must outlive the few steps that release them.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(3);
/// Backstop for any one step including its settle: a device that blocks
/// in `open` or an ioctl (e.g. `TCSETSW` waiting for output that never
/// drains) is interrupted and fails the test instead of hanging the run.
const STEP_BACKSTOP: Duration = Duration::from_secs(10);
/// A read that took at least this long waited for a `VTIME` timer (the
/// scripts use `VTIME` >= 3, i.e. 300 ms); anything faster did not.
const WAITED: Duration = Duration::from_millis(150);

/// One end of the pair.
pub use pty_core::End;

/// The argument of a raw [`Step::Ioctl`].
#[derive(Clone, Debug)]
pub enum IoctlArg {
    /// Passed by value.
    Value(usize),
    /// A pointer into the unmapped first page: the kernel must say `EFAULT`.
    BadPointer,
    /// A pointer to an `int` holding this value; its final value is recorded.
    Int(i32),
    /// A pointer to this many zero bytes; their final value is recorded.
    Buffer(usize),
    /// A pointer to this many zero bytes that end where an inaccessible
    /// page begins: an ioctl that copies more than that must say `EFAULT`.
    /// Only the result is recorded.
    ShortBuffer(usize),
}

/// Whether the pair starts with its slave open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    Pair,
    /// The slave is never opened until a [`Step::OpenSlave`].
    MasterOnly,
}

/// One action of a scripted session.
pub enum Step {
    /// `TCGETS` on `end`, `change`, then `how` (`TCSETS`/`TCSETSW`/`TCSETSF`).
    SetTermios {
        end: End,
        how: u32,
        what: &'static str,
        change: fn(&mut Termios),
    },
    GetTermios(End),
    /// `TCGETS2` on `end`, `change`, then `how` (`TCSETS2`/`TCSETSW2`/`TCSETSF2`).
    SetTermios2 {
        end: End,
        how: u32,
        what: &'static str,
        change: fn(&mut Termios2),
    },
    /// `TCGETS2`: termios with the input and output speeds.
    GetTermios2(End),
    /// One `write(2)`; a write still blocked at the deadline is interrupted.
    Write(End, Vec<u8>),
    /// One `read(2)` of at most n bytes, timed (see [`Timing`]).
    Read(End, usize),
    /// Reads until nothing more arrives, keeping each read's chunk apart.
    Drain(End),
    /// Readiness with zero timeout.
    Poll(End),
    /// `FIONREAD`.
    InQ(End),
    /// `TIOCOUTQ`.
    OutQ(End),
    GetWinsize(End),
    SetWinsize(End, Winsize),
    /// `TCFLSH` with this selector.
    Flush(End, usize),
    /// `TCXONC` with this action.
    Xonc(End, usize),
    /// `TIOCPKT` on or off.
    Packet(End, bool),
    /// `TIOCEXCL` (true) or `TIOCNXCL` (false).
    Exclusive(End, bool),
    /// Sets or clears `O_NONBLOCK`.
    NonBlock(End, bool),
    Ioctl(End, u32, IoctlArg),
    /// A write on another thread, to be collected by [`Step::Join`].
    BackgroundWrite(End, Vec<u8>),
    /// A read on another thread, to be collected by [`Step::Join`].
    BackgroundRead(End, usize),
    /// Waits for the background operation and records its result.
    Join,
    /// Forks a child in its own session and process group, which becomes
    /// the slave's foreground process group and reports the job-control
    /// signals it receives (see [`Step::Signals`]).
    ForegroundChild,
    /// The signals the foreground child received since the last look.
    Signals,
    /// `TIOCGPGRP` on `end`, reported relative to the foreground child.
    Pgrp(End),
    /// Opens the slave node again (the previous descriptor stays open).
    OpenSlave,
    /// Opens the slave through `TIOCGPTPEER` on the master.
    OpenPeer,
    /// `TIOCGPTPEER` on `end` with these open flags; a new descriptor
    /// becomes the slave.
    OpenPeerWith(End, usize),
    /// The access mode, `O_NONBLOCK` and `FD_CLOEXEC` of `end`'s descriptor.
    FdFlags(End),
    /// Opens the slave node from a child without `CAP_SYS_ADMIN`.
    OpenSlaveWithoutAdmin,
    /// Closes every slave descriptor.
    CloseSlave,
    CloseMaster,
    Sleep(u64),
}

impl Step {
    /// Steps that only look never need a settle after them.
    fn only_observes(&self) -> bool {
        matches!(
            self,
            Step::GetTermios(_)
                | Step::GetTermios2(_)
                | Step::FdFlags(_)
                | Step::Poll(_)
                | Step::InQ(_)
                | Step::OutQ(_)
                | Step::GetWinsize(_)
                | Step::Pgrp(_)
                | Step::Signals
                | Step::Drain(_)
                | Step::Sleep(_)
        )
    }

    fn describe(&self) -> String {
        match self {
            Step::SetTermios { end, how, what, .. } => {
                format!("{} {}: {what}", end.name(), ioctl_name(*how))
            }
            Step::GetTermios(end) => format!("{} TCGETS", end.name()),
            Step::SetTermios2 { end, how, what, .. } => {
                format!("{} {}: {what}", end.name(), ioctl_name(*how))
            }
            Step::GetTermios2(end) => format!("{} TCGETS2", end.name()),
            Step::Write(end, data) => format!("{} write {}", end.name(), escaped(data)),
            Step::Read(end, n) => format!("{} read({n})", end.name()),
            Step::Drain(end) => format!("{} drain", end.name()),
            Step::Poll(end) => format!("{} poll", end.name()),
            Step::InQ(end) => format!("{} FIONREAD", end.name()),
            Step::OutQ(end) => format!("{} TIOCOUTQ", end.name()),
            Step::GetWinsize(end) => format!("{} TIOCGWINSZ", end.name()),
            Step::SetWinsize(end, ws) => format!("{} TIOCSWINSZ {ws:?}", end.name()),
            Step::Flush(end, arg) => format!("{} TCFLSH {}", end.name(), flush_name(*arg)),
            Step::Xonc(end, arg) => format!("{} TCXONC {}", end.name(), xonc_name(*arg)),
            Step::Packet(end, on) => format!("{} TIOCPKT {}", end.name(), *on as i32),
            Step::Exclusive(end, true) => format!("{} TIOCEXCL", end.name()),
            Step::Exclusive(end, false) => format!("{} TIOCNXCL", end.name()),
            Step::NonBlock(end, on) => format!("{} O_NONBLOCK {}", end.name(), *on as i32),
            Step::Ioctl(end, cmd, arg) => {
                format!("{} ioctl {} {arg:?}", end.name(), ioctl_name(*cmd))
            }
            Step::BackgroundWrite(end, data) => {
                format!("{} background write {}", end.name(), escaped(data))
            }
            Step::BackgroundRead(end, n) => format!("{} background read({n})", end.name()),
            Step::Join => "join background operation".into(),
            Step::ForegroundChild => "foreground child".into(),
            Step::Signals => "signals received".into(),
            Step::Pgrp(end) => format!("{} TIOCGPGRP", end.name()),
            Step::OpenSlave => "open slave".into(),
            Step::OpenPeer => "open slave by TIOCGPTPEER".into(),
            Step::OpenPeerWith(end, flags) => {
                format!("{} TIOCGPTPEER {}", end.name(), open_flags_name(*flags))
            }
            Step::FdFlags(end) => format!("{} descriptor flags", end.name()),
            Step::OpenSlaveWithoutAdmin => "open slave without CAP_SYS_ADMIN".into(),
            Step::CloseSlave => "close slave".into(),
            Step::CloseMaster => "close master".into(),
            Step::Sleep(ms) => format!("sleep {ms} ms"),
        }
    }
}

// Shorthands that keep scripts readable.

/// The user types `data` (a master write).
pub fn type_in(data: &[u8]) -> Step {
    Step::Write(End::Master, data.to_vec())
}

/// The program writes `data` (a slave write).
pub fn output(data: &[u8]) -> Step {
    Step::Write(End::Slave, data.to_vec())
}

pub fn read_slave(n: usize) -> Step {
    Step::Read(End::Slave, n)
}

pub fn drain_master() -> Step {
    Step::Drain(End::Master)
}

pub fn drain_slave() -> Step {
    Step::Drain(End::Slave)
}

/// Changes the slave's termios with `TCSETS`.
pub fn termios(what: &'static str, change: fn(&mut Termios)) -> Step {
    Step::SetTermios {
        end: End::Slave,
        how: TCSETS,
        what,
        change,
    }
}

/// Raw mode (`cfmakeraw`, `VMIN=1, VTIME=0`).
pub fn raw_mode() -> Step {
    termios("raw", pty::make_raw)
}

/// How long a read or write took, in the only terms that are reliable in
/// an emulated guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Returned without waiting for a timer.
    Immediately,
    /// Returned by itself after waiting (a `VTIME` timer).
    AfterWaiting,
    /// Still blocked at the deadline and interrupted by a signal (what it
    /// returned then is the result: `EINTR`, or what it had so far).
    AtDeadline,
    /// Returned before its deadline on a background thread.
    InBackground,
}

/// What a step observed.
#[derive(Clone, PartialEq)]
pub enum Obs {
    Done(Result<(), String>),
    Count(Result<u32, String>),
    Written {
        result: Result<usize, String>,
        timing: Timing,
    },
    Read {
        result: Result<Vec<u8>, String>,
        timing: Timing,
    },
    Chunks {
        chunks: Vec<Vec<u8>>,
        end: DrainEnd,
    },
    Poll(Result<i16, String>),
    Termios(Result<Termios, String>),
    Termios2(Result<Termios2, String>),
    Winsize(Result<Winsize, String>),
    Ioctl {
        result: Result<i32, String>,
        out: Option<Vec<u8>>,
    },
    /// An ioctl on a pointer to an `int`, and that `int` afterwards.
    IoctlInt {
        result: Result<i32, String>,
        value: i32,
    },
    Signals(Vec<String>),
    Text(String),
}

pub fn escaped(data: &[u8]) -> String {
    format!("\"{}\"", data.escape_ascii())
}

fn show<T>(r: &Result<T, String>, ok: impl FnOnce(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => format!("error {e}"),
    }
}

impl fmt::Debug for Obs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Obs::Done(r) => show(r, |_| "ok".into()),
            Obs::Count(r) => show(r, |n| n.to_string()),
            Obs::Written { result, timing } => {
                format!("{} ({timing:?})", show(result, |n| format!("wrote {n}")))
            }
            Obs::Read { result, timing } => {
                let what = show(result, |d| {
                    if d.is_empty() {
                        "0 bytes".into()
                    } else {
                        escaped(d)
                    }
                });
                format!("{what} ({timing:?})")
            }
            Obs::Chunks { chunks, end } => {
                let parts: Vec<String> = chunks.iter().map(|c| escaped(c)).collect();
                format!("[{}] then {end:?}", parts.join(", "))
            }
            Obs::Poll(r) => show(r, |m| poll_names(*m)),
            Obs::Termios(r) => show(r, |t| format!("{t:?}")),
            Obs::Termios2(r) => show(r, |t| format!("{t:?}")),
            Obs::Winsize(r) => show(r, |w| format!("{w:?}")),
            Obs::Ioctl { result, out } => {
                let mut s = show(result, |v| format!("returned {v}"));
                if let Some(out) = out {
                    s.push_str(&format!(", buffer {}", escaped(out)));
                }
                s
            }
            Obs::IoctlInt { result, value } => {
                format!("{}, int {value}", show(result, |v| format!("returned {v}")))
            }
            Obs::Signals(s) if s.is_empty() => "none".into(),
            Obs::Signals(s) => s.join(" "),
            Obs::Text(s) => s.clone(),
        };
        f.write_str(&text)
    }
}

/// The observations of one run.
pub struct Transcript {
    pub label: String,
    pub entries: Vec<(String, Obs)>,
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:", self.label)?;
        for (i, (step, obs)) in self.entries.iter().enumerate() {
            writeln!(f, "  {:>2}. {step} => {obs:?}", i + 1)?;
        }
        Ok(())
    }
}

/// `CKPT_GUEST_NATIVE_ONLY=1`: no ckpt device, compare native with itself.
pub fn native_only() -> bool {
    env_flag("CKPT_GUEST_NATIVE_ONLY")
}

pub fn verbose() -> bool {
    env_flag("CKPT_GUEST_VERBOSE")
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Runs `steps` on a native and a ckpt pair and fails with the first
/// differing observation.
pub fn compare(steps: &[Step]) -> TestResult {
    compare_with(Setup::Pair, steps)
}

pub fn compare_with(setup: Setup, steps: &[Step]) -> TestResult {
    let reference = run(PtyKind::Native, setup, steps)?;
    if verbose() {
        for line in reference.to_string().lines() {
            println!("# {line}");
        }
    }
    let other_kind = if native_only() {
        PtyKind::Native
    } else {
        PtyKind::Ckpt
    };
    let mut other = run(other_kind, setup, steps)?;
    if native_only() {
        other.label = "native, second run".into();
    }
    diff(&reference, &other)
}

/// The first differing observation with the agreed steps before it.
fn diff(a: &Transcript, b: &Transcript) -> TestResult {
    let Some(i) = (0..a.entries.len().max(b.entries.len()))
        .find(|&i| a.entries.get(i).map(|e| &e.1) != b.entries.get(i).map(|e| &e.1))
    else {
        return Ok(());
    };
    let mut msg = String::new();
    let context = i.saturating_sub(6);
    if context > 0 {
        msg.push_str(&format!("steps 1 to {context} agreed, and so did:\n"));
    } else if i > 0 {
        msg.push_str("agreed so far:\n");
    }
    if i > 0 {
        for (j, (step, obs)) in a.entries[..i].iter().enumerate().skip(context) {
            msg.push_str(&format!("  {:>2}. {step} => {obs:?}\n", j + 1));
        }
    }
    let step = &a
        .entries
        .get(i)
        .or(b.entries.get(i))
        .expect("index in range")
        .0;
    let side = |t: &Transcript| {
        t.entries
            .get(i)
            .map_or("(no such step)".to_string(), |e| format!("{:?}", e.1))
    };
    msg.push_str(&format!(
        "first difference at step {}: {step}\n  {}: {}\n  {}: {}",
        i + 1,
        a.label,
        side(a),
        b.label,
        side(b)
    ));
    Err(msg)
}

/// The one intended difference these scripts see: a ckpt_pty slave runs
/// ckpt_pty's own line discipline, whose number (`LDISC_CKPT`, in
/// `c_line` and `TIOCGETD` of the slave) is not N_TTY's 0. It is shown as
/// 0 so that everything else can be compared; `ldisc_is_ckpt_ldterm` (in
/// tests_tty.rs) checks the real number.
fn ldisc_number_as_native(step: &Step, obs: Obs) -> Obs {
    let ours = LDISC_CKPT as u8;
    match obs {
        Obs::Termios(Ok(mut t)) if t.c_line == ours => {
            t.c_line = 0;
            Obs::Termios(Ok(t))
        }
        Obs::Termios2(Ok(mut t)) if t.termios.c_line == ours => {
            t.termios.c_line = 0;
            Obs::Termios2(Ok(t))
        }
        Obs::IoctlInt { result, value }
            if matches!(step, Step::Ioctl(_, TIOCGETD, _)) && value == LDISC_CKPT as i32 =>
        {
            Obs::IoctlInt { result, value: 0 }
        }
        other => other,
    }
}

/// Runs `steps` on a fresh pair of `kind`.
pub fn run(kind: PtyKind, setup: Setup, steps: &[Step]) -> Result<Transcript, String> {
    let pair = match setup {
        Setup::Pair => PtyPair::open(kind),
        Setup::MasterOnly => PtyPair::open_master_only(kind),
    }
    .map_err(|e| format!("{}: {e}", kind.name()))?;
    let mut runner = Runner {
        kind,
        slave_path: pair.slave_path(),
        master: Some(pair.master),
        slave: pair.slave,
        older_slaves: Vec::new(),
        background: None,
        child: None,
    };
    let mut entries = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let fail = |why: String| {
            format!(
                "{}: step {} ({}): {why}",
                kind.name(),
                i + 1,
                step.describe()
            )
        };
        let (result, hung) = sys::with_deadline(STEP_BACKSTOP, || {
            let mut obs = runner.step(step)?;
            if kind == PtyKind::Ckpt {
                obs = ldisc_number_as_native(step, obs);
            }
            if !step.only_observes() {
                runner.settle();
            }
            Ok::<_, String>(obs)
        });
        if hung {
            return Err(fail(format!("still blocked after {STEP_BACKSTOP:?}")));
        }
        entries.push((step.describe(), result.map_err(fail)?));
    }
    if runner.background.is_some() {
        return Err(format!(
            "{}: script left a background operation",
            kind.name()
        ));
    }
    Ok(Transcript {
        label: kind.name().into(),
        entries,
    })
}

/// The state of one run. Errors returned by its methods are script or
/// harness failures; the device's answers are observations.
struct Runner {
    kind: PtyKind,
    slave_path: String,
    master: Option<OwnedFd>,
    slave: Option<OwnedFd>,
    /// Slave descriptors opened before the current one, still open.
    older_slaves: Vec<OwnedFd>,
    background: Option<JoinHandle<Obs>>,
    child: Option<ForegroundChild>,
}

impl Runner {
    fn fd(&self, end: End) -> Result<&OwnedFd, String> {
        match end {
            End::Master => self.master.as_ref(),
            End::Slave => self.slave.as_ref(),
        }
        .ok_or_else(|| format!("script error: the {} is closed", end.name()))
    }

    fn settle(&self) {
        let fds: Vec<&OwnedFd> = self.master.iter().chain(self.slave.iter()).collect();
        pty::settle(&fds);
    }

    /// Does one step: each kind of step has its method below.
    fn step(&mut self, step: &Step) -> Result<Obs, String> {
        match step {
            Step::SetTermios {
                end, how, change, ..
            } => self.set_termios(*end, *how, *change),
            Step::GetTermios(end) => self.get_termios(*end),
            Step::SetTermios2 {
                end, how, change, ..
            } => self.set_termios2(*end, *how, *change),
            Step::GetTermios2(end) => self.get_termios2(*end),
            Step::Write(end, data) => self.write(*end, data),
            Step::Read(end, n) => self.read(*end, *n),
            Step::Drain(end) => self.drain(*end),
            Step::Poll(end) => Ok(Obs::Poll(pty::poll_now(self.fd(*end)?))),
            Step::InQ(end) => self.queue_count(*end, FIONREAD),
            Step::OutQ(end) => self.queue_count(*end, TIOCOUTQ),
            Step::GetWinsize(end) => self.get_winsize(*end),
            Step::SetWinsize(end, ws) => self.set_winsize(*end, *ws),
            Step::Flush(end, arg) => self.ioctl_value(*end, TCFLSH, *arg),
            Step::Xonc(end, arg) => self.ioctl_value(*end, TCXONC, *arg),
            Step::Packet(end, on) => self.packet_mode(*end, *on),
            Step::Exclusive(end, on) => {
                let cmd = if *on { TIOCEXCL } else { TIOCNXCL };
                self.ioctl_value(*end, cmd, 0)
            }
            Step::NonBlock(end, on) => self.non_blocking(*end, *on),
            Step::Ioctl(end, cmd, arg) => self.raw_ioctl(*end, *cmd, arg),
            Step::BackgroundWrite(end, data) => self.background_write(*end, data),
            Step::BackgroundRead(end, n) => self.background_read(*end, *n),
            Step::Join => self.join_background(),
            Step::ForegroundChild => self.start_foreground_child(),
            Step::Signals => self.child_signals(),
            Step::Pgrp(end) => self.foreground_group(*end),
            Step::OpenSlave => Ok(self.open_slave_again()),
            Step::OpenPeer => {
                let flags = (libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) as usize;
                self.open_peer(End::Master, flags)
            }
            Step::OpenPeerWith(end, flags) => self.open_peer(*end, *flags),
            Step::FdFlags(end) => Ok(Obs::Text(fd_flags(self.fd(*end)?))),
            Step::OpenSlaveWithoutAdmin => Ok(Obs::Done(open_without_admin(&self.slave_path)?)),
            Step::CloseSlave => Ok(self.close_slaves()),
            Step::CloseMaster => Ok(self.close_master()),
            Step::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(*ms));
                Ok(Obs::Done(Ok(())))
            }
        }
    }

    // Termios.

    /// `TCGETS`, `change`, then `how`.
    fn set_termios(&self, end: End, how: u32, change: fn(&mut Termios)) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        Ok(Obs::Done(
            pty::get_termios(fd)
                .map_err(|e| errno_name(&e))
                .and_then(|mut t| {
                    change(&mut t);
                    pty::set_termios(fd, how, &t).map_err(|e| errno_name(&e))
                }),
        ))
    }

    fn get_termios(&self, end: End) -> Result<Obs, String> {
        Ok(Obs::Termios(
            pty::get_termios(self.fd(end)?).map_err(|e| errno_name(&e)),
        ))
    }

    /// `TCGETS2`, `change`, then `how`.
    fn set_termios2(&self, end: End, how: u32, change: fn(&mut Termios2)) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        let mut t = Termios2::default();
        Ok(Obs::Done(
            sys::ioctl_ptr(fd, TCGETS2, &mut t)
                .and_then(|_| {
                    change(&mut t);
                    sys::ioctl_ptr(fd, how, &mut t)
                })
                .map(|_| ())
                .map_err(|e| errno_name(&e)),
        ))
    }

    fn get_termios2(&self, end: End) -> Result<Obs, String> {
        let mut t = Termios2::default();
        let r = sys::ioctl_ptr(self.fd(end)?, TCGETS2, &mut t);
        Ok(Obs::Termios2(r.map(|_| t).map_err(|e| errno_name(&e))))
    }

    // Data.

    /// One `write(2)`, interrupted if still blocked at the deadline.
    fn write(&self, end: End, data: &[u8]) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        let (result, fired) = sys::with_deadline(DEADLINE, || sys::write_once(fd, data));
        Ok(Obs::Written {
            result: result.map_err(|e| errno_name(&e)),
            timing: if fired {
                Timing::AtDeadline
            } else {
                Timing::Immediately
            },
        })
    }

    /// One `read(2)` of at most `n` bytes, with how long it took.
    fn read(&self, end: End, n: usize) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        let start = Instant::now();
        let (result, fired) = sys::with_deadline(DEADLINE, || sys::read_once(fd, n));
        let timing = if fired {
            Timing::AtDeadline
        } else if start.elapsed() >= WAITED {
            Timing::AfterWaiting
        } else {
            Timing::Immediately
        };
        Ok(Obs::Read {
            result: result.map_err(|e| errno_name(&e)),
            timing,
        })
    }

    fn drain(&self, end: End) -> Result<Obs, String> {
        let (chunks, end) = pty::drain(self.fd(end)?, pty::quiet_period());
        Ok(Obs::Chunks { chunks, end })
    }

    // Queues, window size and modes.

    /// `FIONREAD` or `TIOCOUTQ`.
    fn queue_count(&self, end: End, cmd: u32) -> Result<Obs, String> {
        Ok(Obs::Count(
            sys::get_u32(self.fd(end)?, cmd).map_err(|e| errno_name(&e)),
        ))
    }

    fn get_winsize(&self, end: End) -> Result<Obs, String> {
        let mut ws = Winsize::default();
        let r = sys::ioctl_ptr(self.fd(end)?, TIOCGWINSZ, &mut ws);
        Ok(Obs::Winsize(r.map(|_| ws).map_err(|e| errno_name(&e))))
    }

    fn set_winsize(&self, end: End, mut ws: Winsize) -> Result<Obs, String> {
        let r = sys::ioctl_ptr(self.fd(end)?, TIOCSWINSZ, &mut ws);
        Ok(Obs::Done(r.map(|_| ()).map_err(|e| errno_name(&e))))
    }

    /// `TIOCPKT` on or off.
    fn packet_mode(&self, end: End, on: bool) -> Result<Obs, String> {
        let r = sys::set_i32(self.fd(end)?, TIOCPKT, on as i32);
        Ok(Obs::Done(r.map_err(|e| errno_name(&e))))
    }

    fn non_blocking(&self, end: End, on: bool) -> Result<Obs, String> {
        let r = sys::set_nonblocking(self.fd(end)?, on);
        Ok(Obs::Done(r.map_err(|e| errno_name(&e))))
    }

    // Background operations.

    /// Starts a write on another thread; [`Step::Join`] collects it.
    fn background_write(&mut self, end: End, data: &[u8]) -> Result<Obs, String> {
        let fd = self.background_fd(end)?;
        let data = data.to_vec();
        self.background = Some(std::thread::spawn(move || {
            let (result, fired) =
                sys::with_deadline(BACKGROUND_DEADLINE, || sys::write_once(&fd, &data));
            Obs::Written {
                result: result.map_err(|e| errno_name(&e)),
                timing: background_timing(fired),
            }
        }));
        Ok(Obs::Done(Ok(())))
    }

    /// Starts a read on another thread; [`Step::Join`] collects it.
    fn background_read(&mut self, end: End, n: usize) -> Result<Obs, String> {
        let fd = self.background_fd(end)?;
        self.background = Some(std::thread::spawn(move || {
            let (result, fired) =
                sys::with_deadline(BACKGROUND_DEADLINE, || sys::read_once(&fd, n));
            Obs::Read {
                result: result.map_err(|e| errno_name(&e)),
                timing: background_timing(fired),
            }
        }));
        Ok(Obs::Done(Ok(())))
    }

    /// Waits for the background operation: its observation is the step's.
    fn join_background(&mut self) -> Result<Obs, String> {
        let handle = self
            .background
            .take()
            .ok_or("script error: nothing runs in the background")?;
        handle
            .join()
            .map_err(|_| "background thread panicked".to_string())
    }

    // Job control.

    fn start_foreground_child(&mut self) -> Result<Obs, String> {
        if self.child.is_some() {
            return Err("script error: there is already a foreground child".into());
        }
        match ForegroundChild::spawn(self.kind, self.fd(End::Slave)?) {
            Ok(child) => {
                self.child = Some(child);
                Ok(Obs::Done(Ok(())))
            }
            Err(ChildError::Device(e)) => Ok(Obs::Done(Err(e))),
            Err(ChildError::Harness(e)) => Err(e),
        }
    }

    fn child_signals(&self) -> Result<Obs, String> {
        let child = self
            .child
            .as_ref()
            .ok_or("script error: no foreground child")?;
        Ok(Obs::Signals(child.signals()))
    }

    /// `TIOCGPGRP`, told relative to the foreground child.
    fn foreground_group(&self, end: End) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        let child = self.child.as_ref().map(|c| c.pid);
        Ok(Obs::Text(match sys::get_u32(fd, TIOCGPGRP) {
            Ok(0) => "0".into(),
            Ok(p) if Some(p as i32) == child => "the foreground child's group".into(),
            Ok(_) => "some other group".into(),
            Err(e) => format!("error {}", errno_name(&e)),
        }))
    }

    // Opening and closing.

    /// Opens the slave node; the new descriptor becomes the slave.
    fn open_slave_again(&mut self) -> Obs {
        match sys::open(&self.slave_path, libc::O_RDWR | libc::O_NOCTTY) {
            Ok(fd) => {
                self.keep_as_slave(fd);
                Obs::Done(Ok(()))
            }
            Err(e) => Obs::Done(Err(errno_name(&e))),
        }
    }

    /// `TIOCGPTPEER` on `end` with `flags`; a new descriptor becomes the slave.
    fn open_peer(&mut self, end: End, flags: usize) -> Result<Obs, String> {
        Ok(match sys::ioctl_val(self.fd(end)?, TIOCGPTPEER, flags) {
            Ok(raw) => {
                // SAFETY: TIOCGPTPEER returned a new descriptor we own.
                self.keep_as_slave(unsafe { OwnedFd::from_raw_fd(raw) });
                Obs::Done(Ok(()))
            }
            Err(e) => Obs::Done(Err(errno_name(&e))),
        })
    }

    /// Closes every slave descriptor.
    fn close_slaves(&mut self) -> Obs {
        self.slave = None;
        self.older_slaves.clear();
        Obs::Done(Ok(()))
    }

    fn close_master(&mut self) -> Obs {
        self.master = None;
        Obs::Done(Ok(()))
    }

    fn keep_as_slave(&mut self, fd: OwnedFd) {
        if let Some(old) = self.slave.replace(fd) {
            self.older_slaves.push(old);
        }
    }

    /// A duplicate the background thread owns, so closing ends in the
    /// script cannot pull a descriptor from under it.
    fn background_fd(&self, end: End) -> Result<OwnedFd, String> {
        if self.background.is_some() {
            return Err("script error: one background operation at a time".into());
        }
        self.fd(end)?
            .try_clone()
            .map_err(|e| format!("dup: {}", errno_name(&e)))
    }

    fn ioctl_value(&self, end: End, cmd: u32, arg: usize) -> Result<Obs, String> {
        let r = sys::ioctl_val(self.fd(end)?, cmd, arg);
        Ok(Obs::Done(r.map(|_| ()).map_err(|e| errno_name(&e))))
    }

    fn raw_ioctl(&self, end: End, cmd: u32, arg: &IoctlArg) -> Result<Obs, String> {
        let fd = self.fd(end)?;
        let errno = |e: std::io::Error| errno_name(&e);
        Ok(match arg {
            IoctlArg::Value(v) => Obs::Ioctl {
                result: sys::ioctl_val(fd, cmd, *v).map_err(errno),
                out: None,
            },
            IoctlArg::BadPointer => Obs::Ioctl {
                result: sys::ioctl_ptr(fd, cmd, 8usize as *mut u8).map_err(errno),
                out: None,
            },
            IoctlArg::Int(v) => {
                let mut v = *v;
                let result = sys::ioctl_ptr(fd, cmd, &mut v).map_err(errno);
                Obs::IoctlInt { result, value: v }
            }
            IoctlArg::ShortBuffer(n) => {
                let page = GuardedPage::new()?;
                let result = sys::ioctl_ptr(fd, cmd, page.tail(*n)).map_err(errno);
                Obs::Ioctl { result, out: None }
            }
            IoctlArg::Buffer(n) => {
                let mut buf = vec![0u8; *n];
                let result = sys::ioctl_ptr(fd, cmd, buf.as_mut_ptr()).map_err(errno);
                Obs::Ioctl {
                    result,
                    out: Some(buf),
                }
            }
        })
    }
}

fn background_timing(fired: bool) -> Timing {
    if fired {
        Timing::AtDeadline
    } else {
        Timing::InBackground
    }
}

pub fn ioctl_name(cmd: u32) -> String {
    let known = [
        (pty::TCGETS, "TCGETS"),
        (pty::TCSETS, "TCSETS"),
        (pty::TCSETSW, "TCSETSW"),
        (pty::TCSETSF, "TCSETSF"),
        (TCXONC, "TCXONC"),
        (TCFLSH, "TCFLSH"),
        (TIOCEXCL, "TIOCEXCL"),
        (TIOCNXCL, "TIOCNXCL"),
        (TIOCSCTTY, "TIOCSCTTY"),
        (TIOCGPGRP, "TIOCGPGRP"),
        (TIOCSPGRP, "TIOCSPGRP"),
        (TIOCOUTQ, "TIOCOUTQ"),
        (TIOCGWINSZ, "TIOCGWINSZ"),
        (TIOCSWINSZ, "TIOCSWINSZ"),
        (FIONREAD, "FIONREAD"),
        (TIOCPKT, "TIOCPKT"),
        (TIOCGPTPEER, "TIOCGPTPEER"),
        (crate::uapi::TIOCGPTN, "TIOCGPTN"),
        (crate::uapi::TIOCSPTLCK, "TIOCSPTLCK"),
        (crate::uapi::TIOCGPTLCK, "TIOCGPTLCK"),
        (TCGETS2, "TCGETS2"),
        (TCSETS2, "TCSETS2"),
        (TCSETSW2, "TCSETSW2"),
        (TCSETSF2, "TCSETSF2"),
        (TCSBRK, "TCSBRK"),
        (TCSBRKP, "TCSBRKP"),
        (TIOCGEXCL, "TIOCGEXCL"),
        (TIOCGPKT, "TIOCGPKT"),
        (TIOCGETD, "TIOCGETD"),
        (TIOCSIG, "TIOCSIG"),
    ];
    known
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or_else(|| format!("{cmd:#x}"), |(_, name)| name.to_string())
}

/// `O_RDWR|O_NOCTTY|...` for the flags of an open.
fn open_flags_name(flags: usize) -> String {
    let flags = flags as i32;
    let mut parts = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY".to_string(),
        libc::O_WRONLY => "O_WRONLY".to_string(),
        libc::O_RDWR => "O_RDWR".to_string(),
        other => format!("access {other}"),
    }];
    let mut known = libc::O_ACCMODE;
    for (bit, name) in [
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_APPEND, "O_APPEND"),
    ] {
        known |= bit;
        if flags & bit != 0 {
            parts.push(name.to_string());
        }
    }
    if flags & !known != 0 {
        parts.push(format!("{:#o}", flags & !known));
    }
    parts.join("|")
}

/// What `F_GETFL` and `F_GETFD` say about `fd` that an open decides:
/// the access mode, `O_NONBLOCK` and `FD_CLOEXEC` (`O_LARGEFILE` and the
/// like depend on how the kernel opened the file, not on the device).
fn fd_flags(fd: &OwnedFd) -> String {
    // SAFETY: F_GETFL and F_GETFD on a valid descriptor.
    let (fl, fdfl) = unsafe {
        (
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFL),
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
        )
    };
    if fl < 0 || fdfl < 0 {
        return format!("fcntl: {}", sys::last_errno());
    }
    let mut s = open_flags_name((fl & (libc::O_ACCMODE | libc::O_NONBLOCK)) as usize);
    if fdfl & libc::FD_CLOEXEC != 0 {
        s.push_str(", FD_CLOEXEC");
    }
    s
}

/// Two anonymous pages, the second inaccessible, for [`IoctlArg::ShortBuffer`].
struct GuardedPage {
    base: *mut u8,
    page: usize,
}

impl GuardedPage {
    fn new() -> Result<Self, String> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        // SAFETY: a fresh private anonymous mapping that nothing else uses.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!("mmap: {}", sys::last_errno()));
        }
        let this = Self {
            base: base.cast(),
            page,
        };
        // SAFETY: the second page belongs to the mapping made above.
        if unsafe { libc::mprotect(this.base.add(page).cast(), page, libc::PROT_NONE) } < 0 {
            return Err(format!("mprotect: {}", sys::last_errno()));
        }
        Ok(this)
    }

    /// A pointer to the last `n` (zero) bytes before the inaccessible page.
    fn tail(&self, n: usize) -> *mut u8 {
        // SAFETY: stays within the first page of the mapping (n <= page).
        unsafe { self.base.add(self.page - n.min(self.page)) }
    }
}

impl Drop for GuardedPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), 2 * self.page) };
    }
}

fn flush_name(arg: usize) -> String {
    match arg as i32 {
        libc::TCIFLUSH => "TCIFLUSH".into(),
        libc::TCOFLUSH => "TCOFLUSH".into(),
        libc::TCIOFLUSH => "TCIOFLUSH".into(),
        _ => arg.to_string(),
    }
}

fn xonc_name(arg: usize) -> String {
    match arg as i32 {
        libc::TCOOFF => "TCOOFF".into(),
        libc::TCOON => "TCOON".into(),
        libc::TCIOFF => "TCIOFF".into(),
        libc::TCION => "TCION".into(),
        _ => arg.to_string(),
    }
}

/// A failure to set up a child: the device refused (an observation) or the
/// harness broke.
enum ChildError {
    Device(String),
    Harness(String),
}

/// The job-control signals the foreground child waits for.
const JOB_SIGNALS: [i32; 8] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGWINCH,
    libc::SIGHUP,
    libc::SIGCONT,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGTSTP => "SIGTSTP".into(),
        libc::SIGWINCH => "SIGWINCH".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGCONT => "SIGCONT".into(),
        libc::SIGTTIN => "SIGTTIN".into(),
        libc::SIGTTOU => "SIGTTOU".into(),
        _ => format!("signal {sig}"),
    }
}

/// A child process that is the slave's foreground process group and reports
/// each job-control signal it receives as one byte on a pipe. Killed and
/// reaped on drop, so a failing test leaves nothing behind.
struct ForegroundChild {
    pid: i32,
    reports: OwnedFd,
}

impl ForegroundChild {
    /// The child starts a session (so it is also its own process group) and
    /// makes that group the foreground one. Natively that needs the slave
    /// to be its controlling tty (`TIOCSCTTY`); ours cannot be one and takes
    /// `TIOCSPGRP` alone.
    fn spawn(kind: PtyKind, slave: &OwnedFd) -> Result<Self, ChildError> {
        let (reports, report_w) = pipe().map_err(ChildError::Harness)?;
        let slave_raw = slave.as_raw_fd();
        let report_raw = report_w.as_raw_fd();
        // SAFETY: the child only makes async-signal-safe calls, then _exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(ChildError::Harness(format!("fork: {}", sys::last_errno())));
        }
        if pid == 0 {
            // SAFETY: we are the child of fork.
            unsafe { foreground_child_main(kind, slave_raw, report_raw) }
        }
        drop(report_w);
        let child = ForegroundChild { pid, reports };
        // "R" when ready, or "E", the failed stage and the errno.
        let mut got = Vec::new();
        while got.first() != Some(&b'R') && got.len() < 3 {
            match pty::read_timeout(&child.reports, 3 - got.len(), Duration::from_secs(5)) {
                Ok(Some(b)) if !b.is_empty() => got.extend(b),
                Ok(_) => return Err(ChildError::Harness("foreground child did not start".into())),
                Err(e) => return Err(ChildError::Harness(e)),
            }
        }
        if got[0] == b'R' {
            return Ok(child);
        }
        let stage = match got[1] {
            1 => "setsid",
            2 => "TIOCSCTTY",
            _ => "TIOCSPGRP",
        };
        Err(ChildError::Device(format!(
            "{stage}: {}",
            errno_str(i32::from(got[2]))
        )))
    }

    /// Signal reports until none arrives for a while.
    fn signals(&self) -> Vec<String> {
        let quiet = pty::quiet_period().max(Duration::from_millis(100));
        let (chunks, _) = pty::drain(&self.reports, quiet);
        chunks
            .concat()
            .iter()
            .map(|&s| signal_name(i32::from(s)))
            .collect()
    }
}

/// The body of the foreground child.
///
/// # Safety
/// Only to be called in a child right after `fork`.
unsafe fn foreground_child_main(kind: PtyKind, slave: i32, report: i32) -> ! {
    let fail = |stage: u8| -> ! {
        let errno = *libc::__errno_location();
        let msg = [b'E', stage, errno as u8];
        libc::write(report, msg.as_ptr().cast(), 3);
        libc::_exit(1)
    };
    // Blocked before anything can send them, then taken with sigwaitinfo.
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    for sig in JOB_SIGNALS {
        libc::sigaddset(&mut set, sig);
    }
    libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    if libc::setsid() < 0 {
        fail(1);
    }
    let _ = kind;
    if libc::ioctl(slave, TIOCSCTTY as _, 0) < 0 {
        fail(2);
    }
    let me = libc::getpid();
    if libc::ioctl(slave, TIOCSPGRP as _, &me) < 0 {
        fail(3);
    }
    // Hold no pty descriptor, so closing an end in the script really
    // closes it.
    for fd in 3..1024 {
        if fd != report {
            libc::close(fd);
        }
    }
    libc::write(report, b"R".as_ptr().cast(), 1);
    loop {
        let sig = libc::sigwaitinfo(&set, std::ptr::null_mut());
        if sig > 0 {
            let b = sig as u8;
            libc::write(report, (&b as *const u8).cast(), 1);
        }
    }
}

impl Drop for ForegroundChild {
    fn drop(&mut self) {
        kill_and_reap(self.pid);
    }
}

/// SIGKILL cannot be blocked, so the wait is short.
pub fn kill_and_reap(pid: i32) {
    // SAFETY: plain system calls on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(format!("pipe: {}", sys::last_errno()));
    }
    // SAFETY: both descriptors are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits up to `timeout` for a child to exit; returns its wait status, or
/// kills it and returns `None`.
pub fn wait_child(pid: i32, timeout: Duration) -> Option<i32> {
    let give_up = Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        if r < 0 || Instant::now() > give_up {
            kill_and_reap(pid);
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Opens `path` in a child that dropped `CAP_SYS_ADMIN` (the capability
/// that lets root open an exclusive tty); the child's exit code carries
/// the errno.
fn open_without_admin(path: &str) -> Result<Result<(), String>, String> {
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAP_VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    const SETUP_FAILED: i32 = 255;

    let cpath = std::ffi::CString::new(path).map_err(|_| "bad path".to_string())?;
    // SAFETY: the child only makes async-signal-safe calls, then _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", sys::last_errno()));
    }
    if pid == 0 {
        // SAFETY: child of fork; plain system calls on local memory.
        unsafe {
            let mut header = CapHeader {
                version: CAP_VERSION_3,
                pid: 0,
            };
            let mut data = [CapData {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) < 0 {
                libc::_exit(SETUP_FAILED);
            }
            data[0].effective &= !(1 << CAP_SYS_ADMIN);
            data[0].permitted &= !(1 << CAP_SYS_ADMIN);
            if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) < 0 {
                libc::_exit(SETUP_FAILED);
            }
            let fd = libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            libc::_exit(if fd < 0 { *libc::__errno_location() } else { 0 })
        }
    }
    match wait_child(pid, Duration::from_secs(5)) {
        Some(status) if libc::WIFEXITED(status) => match libc::WEXITSTATUS(status) {
            0 => Ok(Ok(())),
            SETUP_FAILED => Err("could not drop CAP_SYS_ADMIN".into()),
            errno => Ok(Err(errno_str(errno))),
        },
        Some(status) => Err(format!("open child died: status {status:#x}")),
        None => Err("open child hung".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(label: &str, reads: &[&[u8]]) -> Transcript {
        Transcript {
            label: label.into(),
            entries: reads
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let obs = Obs::Read {
                        result: Ok(r.to_vec()),
                        timing: Timing::Immediately,
                    };
                    (format!("slave read({i})"), obs)
                })
                .collect(),
        }
    }

    #[test]
    fn equal_transcripts_agree() {
        let a = transcript("native", &[b"a", b"b"]);
        assert!(diff(&a, &transcript("ckpt", &[b"a", b"b"])).is_ok());
    }

    #[test]
    fn diff_names_the_first_differing_step_and_both_sides() {
        let reads: Vec<&[u8]> = vec![b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8"];
        let mut other = reads.clone();
        other[8] = b"x\n";
        let msg = diff(&transcript("native", &reads), &transcript("ckpt", &other)).unwrap_err();
        assert!(
            msg.starts_with("steps 1 to 2 agreed, and so did:\n"),
            "{msg}"
        );
        assert!(
            msg.contains("   3. slave read(2) => \"2\" (Immediately)"),
            "{msg}"
        );
        assert!(
            msg.contains("first difference at step 9: slave read(8)"),
            "{msg}"
        );
        assert!(msg.contains("native: \"8\" (Immediately)"), "{msg}");
        assert!(msg.ends_with("ckpt: \"x\\n\" (Immediately)"), "{msg}");
    }

    #[test]
    fn a_missing_step_is_a_difference() {
        let msg = diff(&transcript("native", &[b"a"]), &transcript("ckpt", &[])).unwrap_err();
        assert!(msg.contains("ckpt: (no such step)"), "{msg}");
    }
}
