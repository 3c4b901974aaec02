// SPDX-License-Identifier: GPL-2.0
//! `ckpt-bench`: measures ckpt_pty against the native Linux pty in one guest
//! run. Not a test: it never fails on a slow figure, only on a broken pty.
//!
//! Usage: `ckpt-bench [--smoke] [--max-n N] [--reps N] [--opts a,b=c]`
//! (`--opts smoke,maxn=1024,reps=5,only=restart:mem,ns=64:4096` is how
//! `init.sh` passes the kernel command line's `ckpt.filter=`). Progress goes to stderr; the result is
//! one JSON document on stdout between `CKPT-BENCH-JSON-BEGIN` and
//! `CKPT-BENCH-JSON-END`, which `tools/testing/bench.sh` turns into the
//! Markdown table, JSON file and SVG plot under `results/`.
//!
//! Every figure is measured for both kinds of pty in the same run, each as
//! the median of `reps` runs (min and max kept) after one warm-up run.

#[path = "../../../rust/uapi.rs"]
#[allow(dead_code)]
mod uapi;

mod busy;
mod memory;
mod restart;
mod sparse;

use std::cell::RefCell;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uapi::*;

use ckpt_testkit::Stat;

type R<T> = Result<T, String>;

const RW: i32 = libc::O_RDWR | libc::O_NOCTTY;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ckpt,
    Native,
}

impl Kind {
    fn ptmx(self) -> &'static str {
        match self {
            Kind::Ckpt => PTMX_PATH,
            Kind::Native => "/dev/ptmx",
        }
    }
    fn pts(self, n: u32) -> String {
        match self {
            Kind::Ckpt => format!("{PTS_DIR}/{n}"),
            Kind::Native => format!("/dev/pts/{n}"),
        }
    }
}

fn err(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn open(path: &str, flags: i32) -> R<OwnedFd> {
    let c = CString::new(path).map_err(|_| "path".to_string())?;
    // SAFETY: valid C string; the fd is ours.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(err(&format!("open {path}")));
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl<T>(fd: &OwnedFd, cmd: u32, arg: *mut T) -> io::Result<i32> {
    // SAFETY: `arg` points to a value of the size the command expects.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn open_pair(kind: Kind) -> R<(OwnedFd, OwnedFd, u32)> {
    let m = open(kind.ptmx(), RW)?;
    let (m, s, n) = finish_pair(kind, m)?;
    Ok((m, s, n))
}

fn finish_pair(kind: Kind, m: OwnedFd) -> R<(OwnedFd, OwnedFd, u32)> {
    let n = ptn(&m)?;
    let mut zero: i32 = 0;
    ioctl(&m, TIOCSPTLCK, &mut zero).map_err(|e| format!("TIOCSPTLCK: {e}"))?;
    let s = open(&kind.pts(n), RW)?;
    Ok((m, s, n))
}

fn ptn(m: &OwnedFd) -> R<u32> {
    let mut n: u32 = 0;
    ioctl(m, TIOCGPTN, &mut n).map_err(|e| format!("TIOCGPTN: {e}"))?;
    Ok(n)
}

fn tcget(fd: &OwnedFd) -> R<libc::termios> {
    // SAFETY: termios is plain data.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    ioctl(fd, TCGETS, &mut t).map_err(|e| format!("TCGETS: {e}"))?;
    Ok(t)
}

fn tcset(fd: &OwnedFd, t: &libc::termios) -> R<()> {
    let mut t = *t;
    ioctl(fd, TCSETS, &mut t).map_err(|e| format!("TCSETS: {e}"))?;
    Ok(())
}

/// Raw mode (cfmakeraw) on the slave side.
fn make_raw(s: &OwnedFd) -> R<()> {
    let mut t = tcget(s)?;
    // SAFETY: cfmakeraw only edits the struct.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    tcset(s, &t)
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) -> R<()> {
    while !data.is_empty() {
        // SAFETY: valid buffer.
        let r = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(format!("write: {e}"));
        }
        data = &data[r as usize..];
    }
    Ok(())
}

fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> R<usize> {
    // SAFETY: valid buffer.
    let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(err("read"));
    }
    Ok(r as usize)
}

/// Reads exactly `n` bytes (waiting at most 10 s for each piece).
fn read_n(fd: &OwnedFd, n: usize, buf: &mut [u8]) -> R<()> {
    let mut got = 0;
    while got < n {
        if !poll_in(fd, 10_000)? {
            return Err(format!("stalled after {got} of {n} bytes"));
        }
        let want = (n - got).min(buf.len());
        let r = read_some(fd, &mut buf[..want])?;
        if r == 0 {
            return Err(format!("EOF after {got} of {n} bytes"));
        }
        got += r;
    }
    Ok(())
}

fn poll_in(fd: &OwnedFd, ms: i32) -> R<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        return Err(err("poll"));
    }
    Ok(r > 0)
}

fn set_winsize(m: &OwnedFd, rows: u16, cols: u16) -> R<()> {
    let mut ws = [rows, cols, 0u16, 0u16];
    ioctl(m, TIOCSWINSZ, ws.as_mut_ptr()).map_err(|e| format!("TIOCSWINSZ: {e}"))?;
    Ok(())
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Checkpoints one end into `buf` (grown on ERANGE); returns the length.
fn checkpoint_into(fd: &OwnedFd, id: u64, buf: &mut Vec<u8>) -> R<usize> {
    loop {
        let mut a = CheckpointArg {
            buf: buf.as_mut_ptr() as u64,
            buf_len: buf.len() as u32,
            checkpoint_id: id,
            ..Default::default()
        };
        match ioctl(fd, CKPT_CHECKPOINT, &mut a) {
            Ok(_) => return Ok(a.image_len as usize),
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
                buf.resize(a.image_len as usize, 0);
            }
            Err(e) => return Err(format!("CKPT_CHECKPOINT: {e}")),
        }
    }
}

fn restart(fd: &OwnedFd, image: &[u8]) -> R<()> {
    let mut a = RestartArg {
        buf: image.as_ptr() as u64,
        buf_len: image.len() as u32,
        flags: 0,
    };
    ioctl(fd, CKPT_RESTART, &mut a).map_err(|e| format!("CKPT_RESTART: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------
// Statistics and output
// ---------------------------------------------------------------------

/// The runs of a figure: one warm-up (left out of the figure; not in the
/// smoke), then `reps` measured ones.
#[derive(Clone, Copy)]
struct Runs {
    warm_up: bool,
    reps: usize,
}

impl Runs {
    /// At most `reps` measured runs.
    fn at_most(self, reps: usize) -> Self {
        Self {
            reps: self.reps.min(reps),
            ..self
        }
    }

    /// The run numbers: 0 is the warm-up, the measured ones count from 1.
    fn numbers(self) -> std::ops::RangeInclusive<usize> {
        usize::from(!self.warm_up)..=self.reps
    }
}

/// `f`'s measured runs.
fn repeat(runs: Runs, mut f: impl FnMut() -> R<f64>) -> R<Stat> {
    let mut v = Vec::with_capacity(runs.reps);
    for i in runs.numbers() {
        let x = f()?;
        if i > 0 {
            v.push(x);
        }
    }
    Ok(Stat::of(v))
}

/// One row of the report: a measured figure of ckpt_pty, and of its
/// baseline (the native pty, or a native reference) where there is one.
struct Figure {
    id: String,
    group: &'static str,
    what: String,
    unit: &'static str,
    better: &'static str,
    n: Option<usize>,
    ckpt: Option<Stat>,
    native: Option<Stat>,
    baseline: &'static str,
}

/// The baseline of the figures measured on both kinds of pty.
const NATIVE_PTMX: &str = "native /dev/ptmx";

impl Figure {
    /// A figure named `id` in `group`, described by `what`, in `unit`,
    /// `better` "higher" or "lower"; no values and no baseline yet.
    fn new(
        id: impl Into<String>,
        group: &'static str,
        what: impl Into<String>,
        unit: &'static str,
        better: &'static str,
    ) -> Self {
        Self {
            id: id.into(),
            group,
            what: what.into(),
            unit,
            better,
            n: None,
            ckpt: None,
            native: None,
            baseline: "-",
        }
    }

    /// Measured at `n` pairs.
    fn at(mut self, n: usize) -> Self {
        self.n = Some(n);
        self
    }

    /// ckpt_pty's runs.
    fn ckpt(mut self, stat: Stat) -> Self {
        self.ckpt = Some(stat);
        self
    }

    /// The baseline's runs (if measured) and its name.
    fn against(mut self, native: Option<Stat>, baseline: &'static str) -> Self {
        self.native = native;
        self.baseline = baseline;
        self
    }
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        "null".into()
    }
}

fn json_stat(s: &Option<Stat>) -> String {
    match s {
        None => "null".into(),
        Some(s) => format!(
            "{{\"median\": {}, \"min\": {}, \"max\": {}, \"runs\": {}}}",
            json_num(s.median),
            json_num(s.min),
            json_num(s.max),
            s.runs
        ),
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[derive(Default)]
struct Out {
    figures: Vec<Figure>,
    errors: Vec<String>,
    /// Seconds each section took.
    sections: Vec<(&'static str, f64)>,
}

impl Out {
    fn add(&mut self, figure: Figure) {
        let show = |s: &Option<Stat>| match s {
            Some(s) => format!("{:.3} [{:.3}..{:.3}]", s.median, s.min, s.max),
            None => "-".into(),
        };
        eprintln!(
            "bench: {:<28} ckpt {}  native {}  {}",
            figure.id,
            show(&figure.ckpt),
            show(&figure.native),
            figure.unit
        );
        self.figures.push(figure);
    }

    /// Adds `figure` with the runs of both kinds of pty, or the error that
    /// stopped them.
    fn add_versus_native(&mut self, figure: Figure, runs: R<(Stat, Stat)>) {
        match runs {
            Ok((ckpt, native)) => self.add(figure.ckpt(ckpt).against(Some(native), NATIVE_PTMX)),
            Err(e) => self.fail(&figure.id, e),
        }
    }

    fn fail(&mut self, what: &str, e: String) {
        eprintln!("bench: {what}: ERROR {e}");
        self.errors.push(format!("{what}: {e}"));
    }

    fn json(&self, opts: &Opts, total_s: f64) -> String {
        let mut s = String::from("{\n");
        s.push_str(&format!(
            "  \"smoke\": {}, \"max_n\": {}, \"reps\": {}, \"guest_seconds\": {:.1},\n",
            opts.smoke, opts.max_n, opts.reps, total_s
        ));
        s.push_str(&format!("  \"guest_kernel\": {},\n", json_str(&uname())));
        s.push_str(&format!("  \"guest_cpus\": {},\n", cpus()));
        let sections: Vec<String> = self
            .sections
            .iter()
            .map(|(name, took)| format!("{}: {took:.1}", json_str(name)))
            .collect();
        s.push_str(&format!(
            "  \"section_seconds\": {{{}}},\n",
            sections.join(", ")
        ));
        s.push_str("  \"errors\": [");
        s.push_str(
            &self
                .errors
                .iter()
                .map(|e| json_str(e))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str("],\n  \"figures\": [\n");
        let figs: Vec<String> = self
            .figures
            .iter()
            .map(|f| {
                let ratio = match (&f.ckpt, &f.native) {
                    (Some(c), Some(n)) if n.median != 0.0 => json_num(c.median / n.median),
                    _ => "null".into(),
                };
                format!(
                    "    {{\"id\": {}, \"group\": {}, \"what\": {}, \"unit\": {}, \"better\": {}, \"n\": {}, \"baseline\": {}, \"ckpt\": {}, \"native\": {}, \"ratio_ckpt_over_native\": {}}}",
                    json_str(&f.id),
                    json_str(f.group),
                    json_str(&f.what),
                    json_str(f.unit),
                    json_str(f.better),
                    f.n.map(|n| n.to_string()).unwrap_or("null".into()),
                    json_str(f.baseline),
                    json_stat(&f.ckpt),
                    json_stat(&f.native),
                    ratio
                )
            })
            .collect();
        s.push_str(&figs.join(",\n"));
        s.push_str("\n  ]\n}\n");
        s
    }

    /// The report: a summary line on stderr, the JSON document between its
    /// markers on stdout. Returns the exit status: 1 if anything failed.
    fn report(&self, opts: &Opts, total_s: f64) -> i32 {
        eprintln!(
            "bench: done in {total_s:.1} s, {} errors",
            self.errors.len()
        );
        println!("CKPT-BENCH-JSON-BEGIN");
        print!("{}", self.json(opts, total_s));
        println!("CKPT-BENCH-JSON-END");
        if self.errors.is_empty() {
            0
        } else {
            1
        }
    }
}

fn uname() -> String {
    std::fs::read_to_string("/proc/version")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

// ---------------------------------------------------------------------
// (1) raw throughput
// ---------------------------------------------------------------------

/// MB/s of `total` bytes in `chunk`-byte writes, master->slave or back.
fn raw_throughput(kind: Kind, m2s: bool, chunk: usize, total: usize) -> R<f64> {
    let (m, s, _) = open_pair(kind)?;
    make_raw(&s)?;
    let (w, r) = if m2s { (m, s) } else { (s, m) };
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> R<OwnedFd> {
        let data = vec![b'x'; chunk];
        let mut left = total;
        while left > 0 {
            let k = left.min(chunk);
            write_all(&w, &data[..k])?;
            left -= k;
        }
        Ok(w)
    });
    let mut buf = vec![0u8; 65536];
    let res = read_n(&r, total, &mut buf);
    let dt = start.elapsed().as_secs_f64();
    let w = writer.join().map_err(|_| "writer panicked".to_string())??;
    res?;
    drop((w, r));
    Ok(total as f64 / dt / 1e6)
}

// ---------------------------------------------------------------------
// (2) canonical line throughput
// ---------------------------------------------------------------------

/// Lines per second of 80-byte lines written to the master, echo on; the
/// slave reads lines, a second reader drains the echo on the master.
/// One canonical-lines run: lines per second, and how many echo bytes
/// never came (n_tty drops echo when its echo buffer overruns while the
/// master's reader lags; ckpt_pty holds it back instead).
struct CanonRun {
    lines_per_s: f64,
    echo_lost: usize,
}

/// A quiet spell after which echo that has not come is counted lost.
const ECHO_QUIET: Duration = Duration::from_secs(1);

fn canon_throughput(kind: Kind, lines: usize) -> R<CanonRun> {
    let (m, s, _) = open_pair(kind)?;
    let mut t = tcget(&s)?;
    t.c_lflag |= libc::ICANON | libc::ECHO;
    t.c_oflag |= libc::OPOST | libc::ONLCR;
    tcset(&s, &t)?;
    let m2 = m.try_clone().map_err(|e| format!("dup: {e}"))?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> R<()> {
        let mut line = vec![b'a'; 79];
        line.push(b'\n');
        for _ in 0..lines {
            write_all(&m2, &line)?;
        }
        Ok(())
    });
    let m3 = m.try_clone().map_err(|e| format!("dup: {e}"))?;
    let slave_done = Arc::new(AtomicBool::new(false));
    let done = slave_done.clone();
    // Each line echoes as 79 bytes and "\r\n" (ONLCR).
    let echo_bytes = lines * 81;
    let echo = std::thread::spawn(move || read_echo(&m3, echo_bytes, &done, start));
    let mut buf = vec![0u8; 65536];
    let res = read_n(&s, lines * 80, &mut buf);
    let slave_s = start.elapsed().as_secs_f64();
    slave_done.store(true, Ordering::Release);
    let e = echo
        .join()
        .map_err(|_| "echo reader panicked".to_string())?;
    writer.join().map_err(|_| "writer panicked".to_string())??;
    res?;
    let (got, last_echo_s) = e?;
    Ok(CanonRun {
        lines_per_s: lines as f64 / slave_s.max(last_echo_s),
        echo_lost: echo_bytes - got,
    })
}

/// Reads echo until `want` bytes came, or the slave reader is done and no
/// echo came for [`ECHO_QUIET`]: the bytes read and the second (since
/// `start`) the last one came.
fn read_echo(
    fd: &OwnedFd,
    want: usize,
    slave_done: &AtomicBool,
    start: Instant,
) -> R<(usize, f64)> {
    let mut buf = vec![0u8; 65536];
    let (mut got, mut last) = (0usize, 0f64);
    let mut quiet_since = Instant::now();
    while got < want {
        if !poll_in(fd, 100)? {
            let quiet = quiet_since.elapsed();
            if slave_done.load(Ordering::Acquire) && quiet >= ECHO_QUIET {
                break;
            }
            if quiet >= Duration::from_secs(10) {
                return Err(format!("echo stalled after {got} of {want} bytes"));
            }
            continue;
        }
        let n = (want - got).min(buf.len());
        let r = read_some(fd, &mut buf[..n])?;
        if r == 0 {
            return Err(format!("echo EOF after {got} of {want} bytes"));
        }
        got += r;
        last = start.elapsed().as_secs_f64();
        quiet_since = Instant::now();
    }
    Ok((got, last))
}

// ---------------------------------------------------------------------
// (3) echo round trip
// ---------------------------------------------------------------------

/// Microseconds from writing one byte to the master until its echo is read
/// back (non-canonical, echo on), averaged over `iters`.
fn echo_latency(kind: Kind, iters: usize) -> R<f64> {
    let (m, s, _) = open_pair(kind)?;
    let mut t = tcget(&s)?;
    t.c_lflag &= !libc::ICANON;
    t.c_lflag |= libc::ECHO;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    tcset(&s, &t)?;
    let mut total = 0u64;
    let mut b = [0u8; 16];
    for _ in 0..iters {
        let t0 = now_ns();
        write_all(&m, b"a")?;
        read_n(&m, 1, &mut b[..1])?;
        total += now_ns() - t0;
        read_n(&s, 1, &mut b[..1])?;
    }
    Ok(total as f64 / iters as f64 / 1e3)
}

// ---------------------------------------------------------------------
// (4) checkpoint of one pair, blocked window
// ---------------------------------------------------------------------

/// A ckpt pair in raw mode with 4 KiB queued each way.
fn loaded_pair() -> R<(OwnedFd, OwnedFd)> {
    let (m, s, _) = open_pair(Kind::Ckpt)?;
    make_raw(&s)?;
    let data = vec![b'q'; 4096];
    write_all(&m, &data)?;
    write_all(&s, &data)?;
    Ok((m, s))
}

struct OnePair {
    master_us: Stat,
    slave_us: Stat,
    pair_us: Stat,
    image_bytes: usize,
}

fn checkpoint_one(reps: usize) -> R<OnePair> {
    let (m, s) = loaded_pair()?;
    let mut bm = vec![0u8; 16384];
    let mut bs = vec![0u8; 16384];
    let (mut vm, mut vs, mut vp) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for i in 0..=reps {
        let t0 = now_ns();
        let lm = checkpoint_into(&m, i as u64, &mut bm)?;
        let t1 = now_ns();
        let ls = checkpoint_into(&s, i as u64, &mut bs)?;
        let t2 = now_ns();
        if i == 0 {
            continue; // warm-up
        }
        bytes = lm + ls;
        vm.push((t1 - t0) as f64 / 1e3);
        vs.push((t2 - t1) as f64 / 1e3);
        vp.push((t2 - t0) as f64 / 1e3);
    }
    if bytes < 8192 {
        return Err(format!(
            "pair image only {bytes} bytes: queues not captured"
        ));
    }
    Ok(OnePair {
        master_us: Stat::of(vm),
        slave_us: Stat::of(vs),
        pair_us: Stat::of(vp),
        image_bytes: bytes,
    })
}

/// Native reference: one 4 KiB write to the master and its read on the slave.
fn native_4k_write_read(reps: usize) -> R<Stat> {
    let (m, s, _) = open_pair(Kind::Native)?;
    make_raw(&s)?;
    let data = vec![b'q'; 4096];
    let mut buf = vec![0u8; 4096];
    let mut v = Vec::new();
    for i in 0..=reps {
        let t0 = now_ns();
        write_all(&m, &data)?;
        read_n(&s, 4096, &mut buf)?;
        let dt = now_ns() - t0;
        if i > 0 {
            v.push(dt as f64 / 1e3);
        }
    }
    Ok(Stat::of(v))
}

/// The (start, end) of each of a writer's 1-byte writes to `m` while a
/// reader drains `s` and `during` runs on this thread; and what `during`
/// returned.
fn with_busy_writer<T>(
    m: &OwnedFd,
    s: OwnedFd,
    during: impl FnOnce() -> R<T>,
) -> R<(Vec<(u64, u64)>, T)> {
    let stop = Arc::new(AtomicBool::new(false));
    let wm = m.try_clone().map_err(|e| format!("dup: {e}"))?;
    let stop_w = stop.clone();
    let writer = std::thread::spawn(move || -> R<Vec<(u64, u64)>> {
        let mut v = Vec::with_capacity(1 << 20);
        while !stop_w.load(Ordering::Relaxed) {
            let t0 = now_ns();
            write_all(&wm, b"w")?;
            let t1 = now_ns();
            if v.len() < v.capacity() {
                v.push((t0, t1));
            }
        }
        Ok(v)
    });
    let stop_r = stop.clone();
    let reader = std::thread::spawn(move || -> R<()> {
        let mut buf = vec![0u8; 4096];
        while !stop_r.load(Ordering::Relaxed) {
            if poll_in(&s, 20)? {
                read_some(&s, &mut buf)?;
            }
        }
        Ok(())
    });
    std::thread::sleep(Duration::from_millis(5));
    let result = during();
    std::thread::sleep(Duration::from_millis(2));
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().map_err(|_| "writer panicked".to_string())??;
    reader.join().map_err(|_| "reader panicked".to_string())??;
    Ok((writes, result?))
}

/// Microseconds of each write.
fn write_times(writes: impl Iterator<Item = (u64, u64)>) -> Vec<f64> {
    writes.map(|(a, b)| (b - a) as f64 / 1e3).collect()
}

/// A writer writes one byte at a time to the master (a reader drains the
/// slave) while this thread checkpoints the master every 2 ms; the longest
/// write() overlapping each checkpoint is the window the writer was
/// blocked. Returns (window per checkpoint, the writer's ordinary writes).
fn blocked_window(reps: usize) -> R<(Stat, Stat)> {
    let (m, s) = loaded_pair()?;
    // Drain the 4 KiB queued toward the slave; the 4 KiB toward the master
    // stays queued during every checkpoint.
    let mut buf = vec![0u8; 4096];
    read_n(&s, 4096, &mut buf)?;
    let (writes, marks) = with_busy_writer(&m, s, || {
        let mut img = vec![0u8; 16384];
        let mut marks = Vec::new();
        for i in 0..=reps {
            std::thread::sleep(Duration::from_millis(2));
            let t0 = now_ns();
            checkpoint_into(&m, i as u64, &mut img)?;
            if i > 0 {
                marks.push((t0, now_ns()));
            }
        }
        Ok(marks)
    })?;
    let mut windows = Vec::new();
    let mut overlapped = vec![false; writes.len()];
    for (c0, c1) in &marks {
        let mut w = 0u64;
        for (k, (a, b)) in writes.iter().enumerate() {
            if *a < *c1 && *b > *c0 {
                w = w.max(b - a);
                overlapped[k] = true;
            }
        }
        windows.push(w as f64 / 1e3);
    }
    let ordinary = writes
        .into_iter()
        .zip(overlapped)
        .filter(|(_, o)| !*o)
        .map(|(w, _)| w);
    Ok((Stat::of(windows), Stat::of(write_times(ordinary))))
}

/// The same writer and reader on a native pair for as long, no checkpoint.
fn native_ordinary_writes(reps: usize) -> R<Stat> {
    let (m, s, _) = open_pair(Kind::Native)?;
    make_raw(&s)?;
    let (writes, ()) = with_busy_writer(&m, s, || {
        std::thread::sleep(Duration::from_millis(2 * (reps as u64 + 1)));
        Ok(())
    })?;
    Ok(Stat::of(write_times(writes.into_iter())))
}

struct Opts {
    smoke: bool,
    max_n: usize,
    reps: usize,
    /// Only these sections (raw, busy, canon, echo, ckpt1, restart, sparse,
    /// mem); all if empty.
    only: Vec<String>,
    /// The N of the restart/checkpoint-N figures, if given (`ns=64:4096`).
    ns: Option<Vec<usize>>,
    /// MiB moved per run of the 64 KiB throughput figures (raw, busy):
    /// fewer for a slow guest (`mib=1`).
    mib: usize,
}

impl Opts {
    fn runs(&self) -> Runs {
        Runs {
            warm_up: !self.smoke,
            reps: self.reps,
        }
    }

    fn want(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// The options: the environment's, then the command line's, smoke last.
fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        smoke: false,
        max_n: 4096,
        reps: 5,
        only: Vec::new(),
        ns: None,
        mib: 8,
    };
    for (key, value) in env_settings().into_iter().chain(arg_settings(&args)) {
        o.set(&key, &value);
    }
    // The smoke only proves every section still measures (under ~20 s of
    // a loaded emulated guest): one run, no warm-up.
    if o.smoke {
        o.max_n = o.max_n.min(8);
        o.reps = 1;
    }
    o
}

/// `CKPT_BENCH_MAX_N`, `CKPT_BENCH_REPS` and `CKPT_BENCH_MIB` as `--opts`
/// settings.
fn env_settings() -> Vec<(String, String)> {
    [
        ("CKPT_BENCH_MAX_N", "maxn"),
        ("CKPT_BENCH_REPS", "reps"),
        ("CKPT_BENCH_MIB", "mib"),
    ]
    .into_iter()
    .filter_map(|(var, key)| Some((key.to_string(), std::env::var(var).ok()?)))
    .collect()
}

/// The command line as `--opts` settings (key, value).
fn arg_settings(args: &[String]) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let key = match arg.as_str() {
            "--smoke" => {
                settings.push(("smoke".to_string(), String::new()));
                continue;
            }
            "--max-n" => "maxn",
            "--reps" => "reps",
            "--opts" => "",
            _ => {
                eprintln!("ckpt-bench: ignoring argument {arg}");
                continue;
            }
        };
        let Some(value) = args.next() else {
            eprintln!("ckpt-bench: ignoring {arg} without a value");
            break;
        };
        if key.is_empty() {
            for part in value.split(',').filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                settings.push((k.to_string(), v.to_string()));
            }
        } else {
            settings.push((key.to_string(), value.clone()));
        }
    }
    settings
}

/// Parses `value` of `key`; a value that does not parse is reported and
/// leaves the option as it was.
fn number(key: &str, value: &str) -> Option<usize> {
    let n = value.parse().ok();
    if n.is_none() {
        eprintln!("ckpt-bench: ignoring {key}={value}: not a number");
    }
    n
}

impl Opts {
    /// Applies one setting; unknown keys belong to others (the kernel
    /// command line's filter also carries the guest tests' options).
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "smoke" => self.smoke = true,
            "maxn" => self.max_n = number(key, value).unwrap_or(self.max_n),
            "reps" => self.reps = number(key, value).unwrap_or(self.reps).max(1),
            "only" => self.only = value.split(':').map(str::to_string).collect(),
            "ns" => self.ns = Some(value.split(':').filter_map(|n| number(key, n)).collect()),
            "mib" => self.mib = number(key, value).unwrap_or(self.mib).max(1),
            // Profiling one kind (tools/testing/profile.sh): the other's
            // figures repeat it and mean nothing.
            "kind" => ONLY_KIND.store(
                match value {
                    "ckpt" => 1,
                    "native" => 2,
                    _ => 0,
                },
                Ordering::Relaxed,
            ),
            _ => {}
        }
    }
}

/// `kind=ckpt` (1) or `kind=native` (2): [`both`] measures only that pty.
static ONLY_KIND: AtomicU8 = AtomicU8::new(0);

/// Runs of `f` on ckpt_pty, then on the native pty; an error names the
/// pty that failed.
fn both<F: FnMut(Kind) -> R<f64>>(runs: Runs, mut f: F) -> R<(Stat, Stat)> {
    let mut on =
        |kind: Kind, name: &str| repeat(runs, || f(kind)).map_err(|e| format!("on {name}: {e}"));
    match ONLY_KIND.load(Ordering::Relaxed) {
        1 => on(Kind::Ckpt, "ckpt_pty").map(|c| (c, c)),
        2 => on(Kind::Native, "the native pty").map(|n| (n, n)),
        _ => Ok((
            on(Kind::Ckpt, "ckpt_pty")?,
            on(Kind::Native, "the native pty")?,
        )),
    }
}

// ---------------------------------------------------------------------
// The benchmark groups: each measures its section and adds its figures.
// ---------------------------------------------------------------------

/// A benchmark group: measures, then adds its figures (or errors).
type Group = fn(&Opts, &mut Out);

/// The groups by the section names `only=` selects, in report order.
const GROUPS: [(&str, Group); 8] = [
    ("raw", raw_group),
    ("busy", busy::busy_group),
    ("canon", canon_group),
    ("echo", echo_group),
    ("ckpt1", checkpoint_one_group),
    ("restart", restart::restart_group),
    ("sparse", sparse::sparse_group),
    ("mem", memory::memory_group),
];

/// (1) Raw throughput both ways, in 64 KiB and in 1-byte writes.
fn raw_group(opts: &Opts, out: &mut Out) {
    let (big_total, small_total) = if opts.smoke {
        (16 << 10, 256)
    } else {
        (opts.mib << 20, 16 << 10)
    };
    for (m2s, dir) in [(true, "m2s"), (false, "s2m")] {
        for (chunk, total, cname) in [(65536, big_total, "64k"), (1, small_total, "1b")] {
            let figure = Figure::new(
                format!("raw_{dir}_{cname}"),
                "throughput",
                format!(
                    "raw mode {} throughput, {} writes, {} KiB per run",
                    if m2s {
                        "master->slave"
                    } else {
                        "slave->master"
                    },
                    if chunk == 1 { "1-byte" } else { "64 KiB" },
                    total >> 10
                ),
                "MB/s",
                "higher",
            );
            let runs = both(opts.runs(), |k| raw_throughput(k, m2s, chunk, total));
            out.add_versus_native(figure, runs);
        }
    }
}

/// (2) Canonical lines.
fn canon_group(opts: &Opts, out: &mut Out) {
    let lines = if opts.smoke { 30 } else { 2000 };
    let figure = Figure::new(
        "canon_lines",
        "throughput",
        format!("canonical mode, 80-byte lines written to the master, echo on (drained), {lines} lines per run"),
        "lines/s",
        "higher",
    );
    let lost = RefCell::new([Vec::new(), Vec::new()]);
    let runs = both(opts.runs(), |k| {
        let run = canon_throughput(k, lines)?;
        lost.borrow_mut()[usize::from(k == Kind::Native)].push(run.echo_lost as f64);
        Ok(run.lines_per_s)
    });
    let measured = runs.is_ok();
    out.add_versus_native(figure, runs);
    if measured {
        let [ckpt, native] = lost.into_inner();
        let figure = Figure::new(
            "canon_echo_lost",
            "throughput",
            format!("echo bytes lost per run of canon_lines (of {}; n_tty drops echo when its echo buffer overruns)", lines * 81),
            "bytes",
            "lower",
        );
        out.add(
            figure
                .ckpt(Stat::of(ckpt))
                .against(Some(Stat::of(native)), NATIVE_PTMX),
        );
    }
}

/// (3) Echo round trip.
fn echo_group(opts: &Opts, out: &mut Out) {
    let iters = if opts.smoke { 30 } else { 1000 };
    let figure = Figure::new(
        "echo_rtt",
        "latency",
        format!("echo round trip: 1 byte written to the master until its echo is read (mean of {iters})"),
        "us",
        "lower",
    );
    out.add_versus_native(figure, both(opts.runs(), |k| echo_latency(k, iters)));
}

/// The baseline of the checkpoint figures of one pair.
const NATIVE_4K: &str = "native 4 KiB write+read";

/// (4) Checkpoint of one pair and the window a writer is blocked, next to
/// a native 4 KiB write and read.
fn checkpoint_one_group(opts: &Opts, out: &mut Out) {
    let creps = if opts.smoke { 10 } else { 200 };
    let native4k = native_reference(creps, out);
    one_pair_figures(creps, native4k, out);
    ioctl_floor_figure(opts, out);
    blocked_window_figures(if opts.smoke { 10 } else { 50 }, out);
}

/// The native reference figure; its runs, if measured.
fn native_reference(reps: usize, out: &mut Out) -> Option<Stat> {
    match native_4k_write_read(reps) {
        Ok(n) => {
            out.add(
                Figure::new(
                    "native_4k_write_read",
                    "checkpoint",
                    "reference: one native 4 KiB write to the master + read on the slave",
                    "us",
                    "lower",
                )
                .against(Some(n), "-"),
            );
            Some(n)
        }
        Err(e) => {
            out.fail("native_4k_write_read", e);
            None
        }
    }
}

fn one_pair_figures(reps: usize, native4k: Option<Stat>, out: &mut Out) {
    let p = match checkpoint_one(reps) {
        Ok(p) => p,
        Err(e) => return out.fail("ckpt_one", e),
    };
    for (id, what, s) in [
        (
            "ckpt_one_master",
            "CKPT_CHECKPOINT of the master stream (freeze+checkpoint+thaw), 4 KiB queued each way",
            p.master_us,
        ),
        (
            "ckpt_one_slave",
            "CKPT_CHECKPOINT of the slave stream, 4 KiB queued each way",
            p.slave_us,
        ),
        (
            "ckpt_one_pair",
            "checkpoint of one pair (master + slave calls), 4 KiB queued each way",
            p.pair_us,
        ),
    ] {
        out.add(
            Figure::new(id, "checkpoint", what, "us", "lower")
                .ckpt(s)
                .against(native4k, NATIVE_4K),
        );
    }
    out.add(
        Figure::new(
            "ckpt_one_pair_bytes",
            "checkpoint",
            "image bytes of that pair (both streams)",
            "bytes",
            "lower",
        )
        .ckpt(Stat::of(vec![p.image_bytes as f64])),
    );
}

/// Microseconds of one `TIOCGPTN` on a master, the mean of `iters`: the
/// floor any ioctl of that master pays (syscall, dispatch, user copies),
/// to read the checkpoint figures against.
fn ioctl_floor(kind: Kind, iters: usize) -> R<f64> {
    let (m, _s, _) = open_pair(kind)?;
    let t0 = now_ns();
    for _ in 0..iters {
        ptn(&m)?;
    }
    Ok((now_ns() - t0) as f64 / iters as f64 / 1e3)
}

/// The floor of an ioctl, both ptys.
fn ioctl_floor_figure(opts: &Opts, out: &mut Out) {
    let iters = if opts.smoke { 10 } else { 1000 };
    let figure = Figure::new(
        "ioctl_floor",
        "checkpoint",
        format!("one TIOCGPTN on the master (mean of {iters}): what any ioctl costs, for scale"),
        "us",
        "lower",
    );
    out.add_versus_native(figure, both(opts.runs(), |k| ioctl_floor(k, iters)));
}

fn blocked_window_figures(reps: usize, out: &mut Out) {
    let (window, ordinary) = match blocked_window(reps) {
        Ok(w) => w,
        Err(e) => return out.fail("ckpt_blocked_window", e),
    };
    out.add(
        Figure::new(
            "ckpt_blocked_window",
            "checkpoint",
            "longest 1-byte write() to the master overlapping a master checkpoint (writer blocked)",
            "us",
            "lower",
        )
        .ckpt(window)
        .against(
            Some(ordinary),
            "ordinary write() of the same writer (no checkpoint)",
        ),
    );
    let native = match native_ordinary_writes(reps) {
        Ok(n) => Some(n),
        Err(e) => {
            out.fail("ckpt_writer_ordinary native", e);
            None
        }
    };
    out.add(
        Figure::new(
            "ckpt_writer_ordinary",
            "checkpoint",
            "the same writer's ordinary 1-byte write() when no checkpoint runs",
            "us",
            "lower",
        )
        .ckpt(ordinary)
        .against(native, NATIVE_PTMX),
    );
}

/// Room for the native baseline and for thousands of descriptors.
fn raise_limits() {
    // Devpts instances other than the first get kernel.pty.max minus the
    // reserve.
    let _ = std::fs::write("/proc/sys/kernel/pty/max", "65536");
    // Thousands of pairs (two fds each, plus the baseline's spares): the
    // guest's default RLIMIT_NOFILE of 1024 is far too small.
    let lim = libc::rlimit {
        rlim_cur: 1 << 18,
        rlim_max: 1 << 18,
    };
    // SAFETY: setrlimit with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        eprintln!("bench: {}", err("setrlimit(RLIMIT_NOFILE)"));
    }
}

fn main() {
    let opts = parse_opts();
    let start = Instant::now();
    raise_limits();
    let mut out = Out::default();
    eprintln!(
        "bench: smoke={} max_n={} reps={} (+{} warm-up each)",
        opts.smoke,
        opts.max_n,
        opts.reps,
        usize::from(opts.runs().warm_up)
    );
    for (section, group) in GROUPS {
        if opts.want(section) {
            let t0 = Instant::now();
            group(&opts, &mut out);
            let took = t0.elapsed().as_secs_f64();
            eprintln!("bench: section {section} took {took:.1} s");
            out.sections.push((section, took));
        }
    }
    std::process::exit(out.report(&opts, start.elapsed().as_secs_f64()));
}
