// SPDX-License-Identifier: GPL-2.0
//! Pseudo-terminal pairs of either kind (the native devpts pty or ours) and
//! the helpers the differential tests use on them.
//!
//! Everything goes through raw ioctls (`TCGETS`, not `tcgetattr`) so that
//! the same calls reach both devices: glibc's `struct termios` is not the
//! kernel's, and libc wrappers sometimes pick other ioctls.
//!
//! Native `n_tty` processes input asynchronously (a master write queues work
//! that later runs the slave's line discipline, whose echo queues more work
//! toward the master), so observations must only be made after
//! [`settle`]: nothing changes any more for a quiet period.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::sys::{self, errno_name};
use crate::uapi::{PTMX_PATH, PTS_DIR, TIOCGPTN, TIOCSPTLCK};

// The tty ioctls of asm-generic/ioctls.h, as the u32 `sys` takes.
pub const TCGETS: u32 = libc::TCGETS as u32;
pub const TCSETS: u32 = libc::TCSETS as u32;
pub const TCSETSW: u32 = libc::TCSETSW as u32;
pub const TCSETSF: u32 = libc::TCSETSF as u32;
pub const TCXONC: u32 = libc::TCXONC as u32;
pub const TCFLSH: u32 = libc::TCFLSH as u32;
pub const TIOCEXCL: u32 = libc::TIOCEXCL as u32;
pub const TIOCNXCL: u32 = libc::TIOCNXCL as u32;
pub const TIOCSCTTY: u32 = libc::TIOCSCTTY as u32;
pub const TIOCGPGRP: u32 = libc::TIOCGPGRP as u32;
pub const TIOCSPGRP: u32 = libc::TIOCSPGRP as u32;
pub const TIOCOUTQ: u32 = libc::TIOCOUTQ as u32;
pub const TIOCGWINSZ: u32 = libc::TIOCGWINSZ as u32;
pub const TIOCSWINSZ: u32 = libc::TIOCSWINSZ as u32;
pub const FIONREAD: u32 = libc::FIONREAD as u32;
pub const TIOCINQ: u32 = libc::TIOCINQ as u32;
pub const TIOCPKT: u32 = libc::TIOCPKT as u32;
/// `_IO('T', 0x41)`: open the slave through the master.
pub const TIOCGPTPEER: u32 = 0x5441;

/// Which pty implementation a pair comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtyKind {
    /// devpts: `/dev/ptmx` and `/dev/pts/N`, with `n_tty`.
    Native,
    /// ckpt_pty: `/dev/ckpt/ptmx` and `/dev/ckpt/pts/N`.
    Ckpt,
}

impl PtyKind {
    pub fn ptmx(self) -> &'static str {
        match self {
            PtyKind::Native => "/dev/ptmx",
            PtyKind::Ckpt => PTMX_PATH,
        }
    }

    pub fn pts_dir(self) -> &'static str {
        match self {
            PtyKind::Native => "/dev/pts",
            PtyKind::Ckpt => PTS_DIR,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PtyKind::Native => "native",
            PtyKind::Ckpt => "ckpt",
        }
    }
}

/// A master and (usually) its slave, both opened `O_RDWR | O_NOCTTY`.
pub struct PtyPair {
    pub master: OwnedFd,
    pub slave: Option<OwnedFd>,
    pub index: u32,
    pub kind: PtyKind,
}

impl PtyPair {
    /// Opens a master, unlocks it and opens its slave.
    pub fn open(kind: PtyKind) -> Result<Self, String> {
        let mut pair = Self::open_master_only(kind)?;
        pair.open_slave_again()?;
        Ok(pair)
    }

    /// Opens and unlocks a master without ever opening the slave.
    pub fn open_master_only(kind: PtyKind) -> Result<Self, String> {
        let path = kind.ptmx();
        let master = sys::open(path, libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| format!("open {path}: {}", errno_name(&e)))?;
        sys::set_i32(&master, TIOCSPTLCK, 0)
            .map_err(|e| format!("{path}: TIOCSPTLCK: {}", errno_name(&e)))?;
        let index = sys::get_u32(&master, TIOCGPTN)
            .map_err(|e| format!("{path}: TIOCGPTN: {}", errno_name(&e)))?;
        Ok(Self {
            master,
            slave: None,
            index,
            kind,
        })
    }

    pub fn slave_path(&self) -> String {
        format!("{}/{}", self.kind.pts_dir(), self.index)
    }

    /// Opens the slave node (again); the new descriptor replaces any old one.
    pub fn open_slave_again(&mut self) -> Result<(), String> {
        let path = self.slave_path();
        let slave = sys::open(&path, libc::O_RDWR | libc::O_NOCTTY)
            .map_err(|e| format!("open {path}: {}", errno_name(&e)))?;
        self.slave = Some(slave);
        Ok(())
    }

    pub fn slave(&self) -> Result<&OwnedFd, String> {
        self.slave.as_ref().ok_or_else(|| "slave not open".into())
    }

    /// Changes the slave's termios through `TCGETS` + `how` (`TCSETS`...).
    pub fn change_slave_termios(
        &self,
        how: u32,
        change: impl FnOnce(&mut Termios),
    ) -> Result<(), String> {
        let slave = self.slave()?;
        let mut t = get_termios(slave).map_err(|e| format!("TCGETS: {}", errno_name(&e)))?;
        change(&mut t);
        set_termios(slave, how, &t).map_err(|e| format!("TCSETS: {}", errno_name(&e)))
    }
}

/// The kernel's `struct termios` (asm-generic, 36 bytes), which is what
/// `TCGETS`/`TCSETS` copy; glibc's larger struct is a different layout.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Termios {
    pub c_iflag: u32,
    pub c_oflag: u32,
    pub c_cflag: u32,
    pub c_lflag: u32,
    pub c_line: u8,
    pub c_cc: [u8; NCCS],
}

/// Control characters in the kernel's `struct termios`.
pub const NCCS: usize = 19;

const _: () = assert!(std::mem::size_of::<Termios>() == 36);

/// The kernel's `struct termios2` (44 bytes): `struct termios` plus the
/// input and output speeds in bits per second (`TCGETS2`/`TCSETS2`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Termios2 {
    pub termios: Termios,
    pub c_ispeed: u32,
    pub c_ospeed: u32,
}

const _: () = assert!(std::mem::size_of::<Termios2>() == 44);

impl fmt::Debug for Termios2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} ispeed={} ospeed={}",
            self.termios, self.c_ispeed, self.c_ospeed
        )
    }
}

pub fn get_termios(fd: &OwnedFd) -> std::io::Result<Termios> {
    let mut t = Termios::default();
    sys::ioctl_ptr(fd, TCGETS, &mut t)?;
    Ok(t)
}

/// `how` is `TCSETS`, `TCSETSW` or `TCSETSF`.
pub fn set_termios(fd: &OwnedFd, how: u32, t: &Termios) -> std::io::Result<()> {
    let mut copy = *t;
    sys::ioctl_ptr(fd, how, &mut copy).map(|_| ())
}

/// What `cfmakeraw` does, plus `VMIN=1, VTIME=0`.
pub fn make_raw(t: &mut Termios) {
    t.c_iflag &= !(libc::IGNBRK
        | libc::BRKINT
        | libc::PARMRK
        | libc::ISTRIP
        | libc::INLCR
        | libc::IGNCR
        | libc::ICRNL
        | libc::IXON);
    t.c_oflag &= !libc::OPOST;
    t.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
    t.c_cflag &= !(libc::CSIZE | libc::PARENB);
    t.c_cflag |= libc::CS8;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
}

/// Names of single flag bits; multi-bit fields are decoded separately.
const IFLAG_NAMES: &[(u32, &str)] = &[
    (libc::IGNBRK, "IGNBRK"),
    (libc::BRKINT, "BRKINT"),
    (libc::IGNPAR, "IGNPAR"),
    (libc::PARMRK, "PARMRK"),
    (libc::INPCK, "INPCK"),
    (libc::ISTRIP, "ISTRIP"),
    (libc::INLCR, "INLCR"),
    (libc::IGNCR, "IGNCR"),
    (libc::ICRNL, "ICRNL"),
    (libc::IUCLC, "IUCLC"),
    (libc::IXON, "IXON"),
    (libc::IXANY, "IXANY"),
    (libc::IXOFF, "IXOFF"),
    (libc::IMAXBEL, "IMAXBEL"),
    (libc::IUTF8, "IUTF8"),
];
const OFLAG_NAMES: &[(u32, &str)] = &[
    (libc::OPOST, "OPOST"),
    (libc::OLCUC, "OLCUC"),
    (libc::ONLCR, "ONLCR"),
    (libc::OCRNL, "OCRNL"),
    (libc::ONOCR, "ONOCR"),
    (libc::ONLRET, "ONLRET"),
    (libc::OFILL, "OFILL"),
    (libc::OFDEL, "OFDEL"),
    (libc::NLDLY, "NL1"),
    (libc::BSDLY, "BS1"),
    (libc::VTDLY, "VT1"),
    (libc::FFDLY, "FF1"),
];
const CFLAG_NAMES: &[(u32, &str)] = &[
    (libc::CSTOPB, "CSTOPB"),
    (libc::CREAD, "CREAD"),
    (libc::PARENB, "PARENB"),
    (libc::PARODD, "PARODD"),
    (libc::HUPCL, "HUPCL"),
    (libc::CLOCAL, "CLOCAL"),
    (libc::CMSPAR, "CMSPAR"),
    (libc::CRTSCTS, "CRTSCTS"),
];
const LFLAG_NAMES: &[(u32, &str)] = &[
    (libc::ISIG, "ISIG"),
    (libc::ICANON, "ICANON"),
    (libc::XCASE, "XCASE"),
    (libc::ECHO, "ECHO"),
    (libc::ECHOE, "ECHOE"),
    (libc::ECHOK, "ECHOK"),
    (libc::ECHONL, "ECHONL"),
    (libc::NOFLSH, "NOFLSH"),
    (libc::TOSTOP, "TOSTOP"),
    (libc::ECHOCTL, "ECHOCTL"),
    (libc::ECHOPRT, "ECHOPRT"),
    (libc::ECHOKE, "ECHOKE"),
    (libc::FLUSHO, "FLUSHO"),
    (libc::PENDIN, "PENDIN"),
    (libc::IEXTEN, "IEXTEN"),
    (libc::EXTPROC, "EXTPROC"),
];

/// `0x500 ICRNL|IXON`, with multi-bit `fields` shown as `NAME:value`.
fn flag_words(v: u32, names: &[(u32, &str)], fields: &[(u32, &str)]) -> String {
    let mut parts = Vec::new();
    let mut known = 0;
    for &(mask, name) in fields {
        known |= mask;
        if v & mask != 0 {
            parts.push(format!("{name}:{:#x}", v & mask));
        }
    }
    for &(bit, name) in names {
        known |= bit;
        if v & bit != 0 {
            parts.push(name.to_string());
        }
    }
    if v & !known != 0 {
        parts.push(format!("?{:#x}", v & !known));
    }
    format!("{v:#x} {}", parts.join("|"))
}

impl fmt::Debug for Termios {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cc: Vec<String> = self.c_cc.iter().map(|c| format!("{c:02x}")).collect();
        write!(
            f,
            "iflag={} oflag={} cflag={} lflag={} line={} cc=[{}]",
            flag_words(self.c_iflag, IFLAG_NAMES, &[]),
            flag_words(
                self.c_oflag,
                OFLAG_NAMES,
                &[(libc::CRDLY, "CRDLY"), (libc::TABDLY, "TABDLY")]
            ),
            flag_words(
                self.c_cflag,
                CFLAG_NAMES,
                &[
                    (libc::CBAUD, "CBAUD"),
                    (libc::CSIZE, "CSIZE"),
                    (libc::CIBAUD, "CIBAUD")
                ]
            ),
            flag_words(self.c_lflag, LFLAG_NAMES, &[]),
            self.c_line,
            cc.join(" ")
        )
    }
}

/// The kernel's `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    pub const fn new(rows: u16, cols: u16, xpixel: u16, ypixel: u16) -> Self {
        Self {
            rows,
            cols,
            xpixel,
            ypixel,
        }
    }
}

impl fmt::Debug for Winsize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{} ({}x{} px)",
            self.rows, self.cols, self.xpixel, self.ypixel
        )
    }
}

/// Every event a tty could report, so the whole mask is compared.
pub const ALL_POLL_EVENTS: i16 = libc::POLLIN
    | libc::POLLPRI
    | libc::POLLOUT
    | libc::POLLRDNORM
    | libc::POLLRDBAND
    | libc::POLLWRNORM
    | libc::POLLWRBAND;

/// Readiness right now (zero timeout); on native this also runs any queued
/// input processing for `fd`'s side first, as `n_tty_poll` flushes work.
pub fn poll_now(fd: &OwnedFd) -> Result<i16, String> {
    sys::poll_events(fd, ALL_POLL_EVENTS, 0).map_err(|e| errno_name(&e))
}

pub fn poll_names(mask: i16) -> String {
    const NAMES: &[(i16, &str)] = &[
        (libc::POLLIN, "IN"),
        (libc::POLLPRI, "PRI"),
        (libc::POLLOUT, "OUT"),
        (libc::POLLERR, "ERR"),
        (libc::POLLHUP, "HUP"),
        (libc::POLLNVAL, "NVAL"),
        (libc::POLLRDNORM, "RDNORM"),
        (libc::POLLRDBAND, "RDBAND"),
        (libc::POLLWRNORM, "WRNORM"),
        (libc::POLLWRBAND, "WRBAND"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|&(_, name)| name)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

/// How long nothing may change before the ptys count as settled.
///
/// `CKPT_GUEST_QUIET_MS` overrides it; otherwise it is calibrated once from
/// the round trip of an echo through a native pty (two work-queue hops),
/// so a slow emulated guest waits longer than a fast host.
pub fn quiet_period() -> Duration {
    static QUIET: OnceLock<Duration> = OnceLock::new();
    *QUIET.get_or_init(|| {
        if let Some(ms) = std::env::var("CKPT_GUEST_QUIET_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Duration::from_millis(ms);
        }
        let slowest = echo_round_trip().unwrap_or(Duration::from_millis(10));
        let quiet = (slowest * 8).clamp(Duration::from_millis(10), Duration::from_millis(200));
        println!("# settling waits for {quiet:?} of quiet (slowest echo round trip {slowest:?})");
        quiet
    })
}

/// The slowest of a few echo round trips through a native pty.
fn echo_round_trip() -> Option<Duration> {
    let pair = PtyPair::open(PtyKind::Native).ok()?;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let start = Instant::now();
        sys::write_once(&pair.master, b"x").ok()?;
        let ready = sys::poll_events(&pair.master, libc::POLLIN, 1000).ok()?;
        if ready & libc::POLLIN == 0 {
            return None;
        }
        sys::read_once(&pair.master, 16).ok()?;
        slowest = slowest.max(start.elapsed());
    }
    Some(slowest)
}

/// A cheap summary of everything observable without consuming data:
/// readiness and queued byte counts of each open end.
fn fingerprint(fds: &[&OwnedFd]) -> Vec<i64> {
    let mut out = Vec::new();
    for fd in fds {
        out.push(poll_now(fd).map(i64::from).unwrap_or(-1));
        out.push(match sys::get_u32(fd, FIONREAD) {
            Ok(n) => i64::from(n),
            Err(e) => -i64::from(e.raw_os_error().unwrap_or(1)),
        });
    }
    out
}

/// Waits until nothing observable changes on `fds` for one quiet period
/// (bounded by 5 s in case something keeps changing).
pub fn settle(fds: &[&OwnedFd]) {
    let quiet = quiet_period();
    let give_up = Instant::now() + Duration::from_secs(5);
    let mut last = fingerprint(fds);
    loop {
        std::thread::sleep(quiet);
        let now = fingerprint(fds);
        if now == last || Instant::now() > give_up {
            return;
        }
        last = now;
    }
}

/// How a [`drain`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrainEnd {
    /// Nothing more arrived for a quiet period.
    Quiet,
    /// `read` returned 0.
    Eof,
    /// `read` failed with this errno.
    Error(String),
}

/// Reads until nothing arrives for `quiet` (or EOF, or an error), keeping
/// each `read(2)` result apart so boundaries (lines, packets) are visible.
pub fn drain(fd: &OwnedFd, quiet: Duration) -> (Vec<Vec<u8>>, DrainEnd) {
    let mut chunks = Vec::new();
    // Bounded so a device that reports data forever cannot hang the test.
    for _ in 0..1024 {
        let ready =
            match sys::poll_events(fd, libc::POLLIN | libc::POLLPRI, quiet.as_millis() as i32) {
                Ok(r) => r,
                Err(e) => return (chunks, DrainEnd::Error(format!("poll {}", errno_name(&e)))),
            };
        if ready == 0 {
            return (chunks, DrainEnd::Quiet);
        }
        // POLLHUP/POLLERR alone still means read returns something (EOF or
        // an error), which is part of what is compared. The deadline is a
        // backstop against a device that reports readiness and then blocks.
        let (result, _) = sys::with_deadline(Duration::from_secs(2), || sys::read_once(fd, 4096));
        match result {
            Ok(data) if data.is_empty() => return (chunks, DrainEnd::Eof),
            Ok(data) => chunks.push(data),
            Err(e) => return (chunks, DrainEnd::Error(errno_name(&e))),
        }
    }
    (chunks, DrainEnd::Quiet)
}

/// Writes everything, waiting for room with poll; fails after `deadline`.
pub fn write_all(fd: &OwnedFd, mut data: &[u8], deadline: Duration) -> Result<(), String> {
    let give_up = Instant::now() + deadline;
    while !data.is_empty() {
        let left = give_up.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "write: {} bytes still unwritten at the deadline",
                data.len()
            ));
        }
        let ready = sys::poll_events(fd, libc::POLLOUT, left.as_millis() as i32 + 1)
            .map_err(|e| format!("poll: {}", errno_name(&e)))?;
        if ready & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && ready & libc::POLLOUT == 0
        {
            return Err(format!("write: poll reports {}", poll_names(ready)));
        }
        if ready & libc::POLLOUT == 0 {
            continue;
        }
        // A blocking tty write waits until all of it is taken, which poll's
        // POLLOUT does not promise; bound it by what is left of the deadline.
        let (result, _) = sys::with_deadline(left, || sys::write_once(fd, data));
        match result {
            Ok(n) => data = &data[n..],
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) => return Err(format!("write: {}", errno_name(&e))),
        }
    }
    Ok(())
}

/// One read of up to `n` bytes if data arrives within `timeout`; `None`
/// if nothing did.
pub fn read_timeout(fd: &OwnedFd, n: usize, timeout: Duration) -> Result<Option<Vec<u8>>, String> {
    let ready = sys::poll_events(fd, libc::POLLIN, timeout.as_millis() as i32)
        .map_err(|e| format!("poll: {}", errno_name(&e)))?;
    if ready == 0 {
        return Ok(None);
    }
    let (result, _) = sys::with_deadline(Duration::from_secs(2), || sys::read_once(fd, n));
    result
        .map(Some)
        .map_err(|e| format!("read: {}", errno_name(&e)))
}

/// Raw descriptor number, for code that runs after `fork`.
pub fn raw(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
