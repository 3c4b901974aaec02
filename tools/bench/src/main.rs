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

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uapi::*;

use ckpt_testkit::{Stat, Xorshift};

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

/// Warm-up once, then `reps` measured runs.
fn repeat(reps: usize, mut f: impl FnMut() -> R<f64>) -> R<Stat> {
    f()?;
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        v.push(f()?);
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
fn canon_throughput(kind: Kind, lines: usize) -> R<f64> {
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
    let echo = std::thread::spawn(move || -> R<()> {
        let mut buf = vec![0u8; 65536];
        read_n(&m3, lines * 81, &mut buf)
    });
    let mut buf = vec![0u8; 65536];
    let res = read_n(&s, lines * 80, &mut buf);
    let e = echo
        .join()
        .map_err(|_| "echo reader panicked".to_string())?;
    let dt = start.elapsed().as_secs_f64();
    writer.join().map_err(|_| "writer panicked".to_string())??;
    res?;
    e?;
    Ok(lines as f64 / dt)
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

/// A writer thread writes one byte at a time to the master (a reader drains
/// the slave) while the main thread checkpoints the master; the longest
/// write() overlapping each checkpoint is the window the writer was blocked.
/// Returns (window per checkpoint, the writer's ordinary write time).
fn blocked_window(reps: usize) -> R<(Stat, Stat)> {
    let (m, s) = loaded_pair()?;
    // Drain the 4 KiB queued toward the slave; the 4 KiB toward the master
    // stays queued during every checkpoint.
    let mut buf = vec![0u8; 4096];
    read_n(&s, 4096, &mut buf)?;
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
    let mut img = vec![0u8; 16384];
    let mut marks = Vec::new();
    std::thread::sleep(Duration::from_millis(5));
    for i in 0..=reps {
        std::thread::sleep(Duration::from_millis(2));
        let t0 = now_ns();
        let r = checkpoint_into(&m, i as u64, &mut img);
        let t1 = now_ns();
        if let Err(e) = r {
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
        if i > 0 {
            marks.push((t0, t1));
        }
    }
    std::thread::sleep(Duration::from_millis(2));
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().map_err(|_| "writer panicked".to_string())??;
    reader.join().map_err(|_| "reader panicked".to_string())??;
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
    let ordinary: Vec<f64> = writes
        .iter()
        .zip(&overlapped)
        .filter(|(_, o)| !**o)
        .map(|((a, b), _)| (b - a) as f64 / 1e3)
        .collect();
    Ok((Stat::of(windows), Stat::of(ordinary)))
}

// ---------------------------------------------------------------------
// (5) restart of N pairs, (6) checkpoint of N pairs
// ---------------------------------------------------------------------

struct CkptRun {
    checkpoint_s: f64,
    bytes_per_pair: f64,
    restart_s: f64,
    /// Of `restart_s`: open of the control device + SESSION_BEGIN, the ends
    /// (open + CKPT_RESTART), SESSION_COMMIT.
    begin_s: f64,
    ends_s: f64,
    commit_s: f64,
}

/// N ckpt pairs with state (window size, data both ways, echo), all
/// checkpointed (timed), closed, then restarted in random order inside one
/// session from begin to commit (timed).
fn ckpt_restart_run(n: usize, seed: u64) -> R<CkptRun> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let (m, s, idx) = open_pair(Kind::Ckpt)?;
        set_winsize(&m, 24 + (i % 50) as u16, 80)?;
        write_all(&m, format!("in{i}\n").as_bytes())?;
        write_all(&s, format!("out{i}").as_bytes())?;
        held.push((m, s, idx));
    }
    let mut images: Vec<(u32, Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| (held[i].2, vec![0u8; 4096], vec![0u8; 4096]))
        .collect();
    let t0 = Instant::now();
    let mut bytes = 0usize;
    for ((m, s, _), (_, mi, si)) in held.iter().zip(images.iter_mut()) {
        let lm = checkpoint_into(m, seed, mi)?;
        let ls = checkpoint_into(s, seed, si)?;
        mi.truncate(lm);
        si.truncate(ls);
        bytes += lm + ls;
    }
    let checkpoint_s = t0.elapsed().as_secs_f64();
    drop(held);
    let mut rng = Xorshift::new(seed | 1);
    let mut entries: Vec<RestartEntry> = images
        .iter()
        .map(|(idx, ..)| RestartEntry {
            index: *idx,
            ends: CKPT_END_MASTER | CKPT_END_SLAVE,
        })
        .collect();
    rng.shuffle(&mut entries);
    let mut order: Vec<(usize, bool)> = (0..n).flat_map(|i| [(i, true), (i, false)]).collect();
    rng.shuffle(&mut order);
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(2 * n);
    let t0 = Instant::now();
    let ctl = open(CONTROL_PATH, libc::O_RDWR)?;
    let mut sa = SessionArg {
        entries: entries.as_ptr() as u64,
        count: entries.len() as u32,
        flags: 0,
    };
    ioctl(&ctl, CKPT_SESSION_BEGIN, &mut sa).map_err(|e| format!("SESSION_BEGIN: {e}"))?;
    let t_begin = t0.elapsed().as_secs_f64();
    for (i, master) in order {
        let (idx, mi, si) = &images[i];
        if master {
            let mut a = OpenMasterArg {
                index: *idx,
                flags: RW as u32,
            };
            let fd = ioctl(&ctl, CKPT_OPEN_MASTER, &mut a)
                .map_err(|e| format!("OPEN_MASTER {idx}: {e}"))?;
            // SAFETY: the ioctl returned a new descriptor.
            let m = unsafe { OwnedFd::from_raw_fd(fd) };
            restart(&m, mi)?;
            fds.push(m);
        } else {
            let s = open(&Kind::Ckpt.pts(*idx), RW)?;
            restart(&s, si)?;
            fds.push(s);
        }
    }
    let t_ends = t0.elapsed().as_secs_f64();
    let mut ca = CommitArg::default();
    ioctl(&ctl, CKPT_SESSION_COMMIT, &mut ca)
        .map_err(|e| format!("SESSION_COMMIT: {e} ({} orphans)", ca.orphans_count))?;
    let restart_s = t0.elapsed().as_secs_f64();
    drop(ctl);
    drop(fds);
    Ok(CkptRun {
        checkpoint_s,
        bytes_per_pair: bytes as f64 / n as f64,
        restart_s,
        begin_s: t_begin,
        ends_s: t_ends - t_begin,
        commit_s: restart_s - t_ends,
    })
}

/// What a user has today: N native pairs with the same state, "saved" by
/// reading termios and window size, closed, and brought back at their
/// original indexes in random order by opening /dev/ptmx until TIOCGPTN
/// matches (keeping the unwanted ones open), then termios, window size and
/// the queued data written back. Returns (seconds, opens of /dev/ptmx).
fn native_restart_run(n: usize, seed: u64) -> R<(f64, usize)> {
    let mut saved = Vec::with_capacity(n);
    {
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let (m, s, idx) = open_pair(Kind::Native)?;
            set_winsize(&m, 24 + (i % 50) as u16, 80)?;
            let t = tcget(&s)?;
            saved.push((
                idx,
                t,
                24 + (i % 50) as u16,
                format!("in{i}\n"),
                format!("out{i}"),
            ));
            held.push((m, s));
        }
    }
    // Let the closes finish (indexes are released on the last close).
    std::thread::sleep(Duration::from_millis(50));
    let mut rng = Xorshift::new(seed | 1);
    rng.shuffle(&mut saved);
    let mut spare: HashMap<u32, OwnedFd> = HashMap::new();
    let mut fds = Vec::with_capacity(2 * n);
    let mut opens = 0usize;
    let limit = n + 8192;
    let t0 = Instant::now();
    for (idx, t, rows, din, dout) in &saved {
        let m = match spare.remove(idx) {
            Some(m) => m,
            None => loop {
                let m = open(Kind::Native.ptmx(), RW)?;
                opens += 1;
                let got = ptn(&m)?;
                if got == *idx {
                    break m;
                }
                spare.insert(got, m);
                if opens > limit {
                    return Err(format!("index {idx} never came back"));
                }
            },
        };
        let (m, s, _) = finish_pair(Kind::Native, m)?;
        tcset(&s, t)?;
        set_winsize(&m, *rows, 80)?;
        write_all(&m, din.as_bytes())?;
        write_all(&s, dout.as_bytes())?;
        fds.push((m, s));
    }
    let dt = t0.elapsed().as_secs_f64();
    drop(spare);
    drop(fds);
    std::thread::sleep(Duration::from_millis(50));
    Ok((dt, opens))
}

// ---------------------------------------------------------------------
// (7) memory per idle pair
// ---------------------------------------------------------------------

fn meminfo() -> (i64, i64) {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (get("MemAvailable:"), get("Slab:"))
}

fn settle_memory() {
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    std::thread::sleep(Duration::from_millis(100));
}

/// Bytes per idle pair (both ends open, nothing queued): (MemAvailable
/// drop, Slab growth) over `n` pairs.
fn memory_run(kind: Kind, n: usize) -> R<(f64, f64)> {
    settle_memory();
    let (a0, s0) = meminfo();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(open_pair(kind)?);
    }
    settle_memory();
    let (a1, s1) = meminfo();
    drop(held);
    std::thread::sleep(Duration::from_millis(100));
    Ok(((a0 - a1) as f64 / n as f64, (s1 - s0) as f64 / n as f64))
}

// ---------------------------------------------------------------------

struct Opts {
    smoke: bool,
    max_n: usize,
    reps: usize,
    /// Only these sections (raw, canon, echo, ckpt1, restart, mem); all if empty.
    only: Vec<String>,
    /// The N of the restart/checkpoint-N figures, if given (`ns=64:4096`).
    ns: Option<Vec<usize>>,
}

impl Opts {
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
    };
    for (key, value) in env_settings().into_iter().chain(arg_settings(&args)) {
        o.set(&key, &value);
    }
    if o.smoke {
        o.max_n = o.max_n.min(8);
        o.reps = o.reps.min(2);
    }
    o
}

/// `CKPT_BENCH_MAX_N` and `CKPT_BENCH_REPS` as `--opts` settings.
fn env_settings() -> Vec<(String, String)> {
    [("CKPT_BENCH_MAX_N", "maxn"), ("CKPT_BENCH_REPS", "reps")]
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
            _ => {}
        }
    }
}

/// Runs of `f` on ckpt_pty, then on the native pty.
fn both<F: FnMut(Kind) -> R<f64>>(reps: usize, mut f: F) -> R<(Stat, Stat)> {
    let c = repeat(reps, || f(Kind::Ckpt))?;
    let n = repeat(reps, || f(Kind::Native))?;
    Ok((c, n))
}

// ---------------------------------------------------------------------
// The benchmark groups: each measures its section and adds its figures.
// ---------------------------------------------------------------------

/// A benchmark group: measures, then adds its figures (or errors).
type Group = fn(&Opts, &mut Out);

/// The groups by the section names `only=` selects, in report order.
const GROUPS: [(&str, Group); 6] = [
    ("raw", raw_group),
    ("canon", canon_group),
    ("echo", echo_group),
    ("ckpt1", checkpoint_one_group),
    ("restart", restart_group),
    ("mem", memory_group),
];

/// (1) Raw throughput both ways, in 64 KiB and in 1-byte writes.
fn raw_group(opts: &Opts, out: &mut Out) {
    let (big_total, small_total) = if opts.smoke {
        (64 << 10, 256)
    } else {
        (8 << 20, 16 << 10)
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
            let runs = both(opts.reps, |k| raw_throughput(k, m2s, chunk, total));
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
    out.add_versus_native(figure, both(opts.reps, |k| canon_throughput(k, lines)));
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
    out.add_versus_native(figure, both(opts.reps, |k| echo_latency(k, iters)));
}

/// The baseline of the checkpoint figures of one pair.
const NATIVE_4K: &str = "native 4 KiB write+read";

/// (4) Checkpoint of one pair and the window a writer is blocked, next to
/// a native 4 KiB write and read.
fn checkpoint_one_group(opts: &Opts, out: &mut Out) {
    let creps = if opts.smoke { 10 } else { 200 };
    let native4k = native_reference(creps, out);
    one_pair_figures(creps, native4k, out);
    blocked_window_figures(if opts.smoke { 10 } else { 50 }, native4k, out);
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

fn blocked_window_figures(reps: usize, native4k: Option<Stat>, out: &mut Out) {
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
        .against(native4k, NATIVE_4K),
    );
    out.add(
        Figure::new(
            "ckpt_writer_ordinary",
            "checkpoint",
            "the same writer's ordinary 1-byte write() when no checkpoint runs",
            "us",
            "lower",
        )
        .ckpt(ordinary),
    );
}

/// (5) + (6) Restart and checkpoint of N pairs, for each N.
fn restart_group(opts: &Opts, out: &mut Out) {
    for n in restart_sizes(opts) {
        restart_figures(opts.reps, n, out);
    }
}

/// The N of the restart figures: `ns=` if given, else 1 up to `max_n`.
fn restart_sizes(opts: &Opts) -> Vec<usize> {
    if let Some(ns) = &opts.ns {
        ns.clone()
    } else if opts.smoke {
        vec![1, opts.max_n]
    } else {
        [1usize, 64, 1024, 4096]
            .into_iter()
            .filter(|n| *n <= opts.max_n)
            .collect()
    }
}

/// The measured runs (warm-up left out) of restart and checkpoint at one N.
#[derive(Default)]
struct RestartRuns {
    checkpoint_ms: Vec<f64>,
    bytes_per_pair: Vec<f64>,
    restart_ms: Vec<f64>,
    /// Of `restart_ms`: begin, ends, commit (see `CkptRun`).
    parts_ms: [Vec<f64>; 3],
    native_ms: Vec<f64>,
    /// Opens the native baseline needed (of its last run).
    native_opens: usize,
}

/// One warm-up and then `reps` runs (at most 3 from N = 1024 on) of
/// ckpt_pty and of the native baseline, alternating, same seed each.
fn restart_runs(n: usize, reps: usize) -> R<RestartRuns> {
    let reps = if n >= 1024 { reps.min(3) } else { reps };
    let mut runs = RestartRuns::default();
    for rep in 0..=reps {
        let seed = 0x5eed + (n * 131 + rep) as u64;
        let x = ckpt_restart_run(n, seed).map_err(|e| format!("ckpt: {e}"))?;
        if rep > 0 {
            runs.checkpoint_ms.push(x.checkpoint_s * 1e3);
            runs.bytes_per_pair.push(x.bytes_per_pair);
            runs.restart_ms.push(x.restart_s * 1e3);
            runs.parts_ms[0].push(x.begin_s * 1e3);
            runs.parts_ms[1].push(x.ends_s * 1e3);
            runs.parts_ms[2].push(x.commit_s * 1e3);
        }
        let (t, opens) = native_restart_run(n, seed).map_err(|e| format!("native: {e}"))?;
        if rep > 0 {
            runs.native_ms.push(t * 1e3);
            runs.native_opens = opens;
        }
    }
    Ok(runs)
}

fn restart_figures(reps: usize, n: usize, out: &mut Out) {
    let runs = match restart_runs(n, reps) {
        Ok(runs) => runs,
        Err(e) => return out.fail(&format!("restart_n{n}"), e),
    };
    out.add(
        Figure::new(
            format!("restart_n{n}"),
            "restart",
            format!("restart of {n} pairs in random order, session begin..commit; baseline: native ptys reopened at their indexes via /dev/ptmx + TIOCGPTN ({} opens), termios, winsize, data", runs.native_opens),
            "ms",
            "lower",
        )
        .at(n)
        .ckpt(Stat::of(runs.restart_ms))
        .against(Some(Stat::of(runs.native_ms)), "native reopen-until-index"),
    );
    for (part, (id, what)) in runs.parts_ms.into_iter().zip([
        ("begin", "open control + CKPT_SESSION_BEGIN"),
        (
            "ends",
            "all ends: CKPT_OPEN_MASTER / open(pts) + CKPT_RESTART",
        ),
        ("commit", "CKPT_SESSION_COMMIT"),
    ]) {
        out.add(
            Figure::new(
                format!("restart_n{n}_{id}"),
                "restart_part",
                format!("part of restart_n{n}: {what}"),
                "ms",
                "lower",
            )
            .at(n)
            .ckpt(Stat::of(part)),
        );
    }
    out.add(
        Figure::new(
            format!("checkpoint_n{n}"),
            "checkpoint_n",
            format!("checkpoint of {n} pairs (2 CKPT_CHECKPOINT calls per pair), total"),
            "ms",
            "lower",
        )
        .at(n)
        .ckpt(Stat::of(runs.checkpoint_ms)),
    );
    out.add(
        Figure::new(
            format!("image_bytes_n{n}"),
            "checkpoint_n",
            format!("image bytes per pair (both streams) at N = {n}"),
            "bytes",
            "lower",
        )
        .at(n)
        .ckpt(Stat::of(runs.bytes_per_pair)),
    );
}

/// (7) Memory per idle pair.
fn memory_group(opts: &Opts, out: &mut Out) {
    let pairs = if opts.smoke {
        32
    } else {
        opts.max_n.clamp(16, 1024)
    };
    let reps = opts.reps.min(3);
    let (ckpt, native) = match (
        memory_stats(Kind::Ckpt, pairs, reps),
        memory_stats(Kind::Native, pairs, reps),
    ) {
        (Ok(ckpt), Ok(native)) => (ckpt, native),
        (ckpt, native) => {
            if let Err(e) = ckpt {
                out.fail("mem ckpt", e);
            }
            if let Err(e) = native {
                out.fail("mem native", e);
            }
            return;
        }
    };
    out.add(
        Figure::new(
            "mem_available_per_pair",
            "memory",
            format!("MemAvailable drop per idle pair over {pairs} pairs"),
            "bytes",
            "lower",
        )
        .at(pairs)
        .ckpt(ckpt.0)
        .against(Some(native.0), NATIVE_PTMX),
    );
    out.add(
        Figure::new(
            "mem_slab_per_pair",
            "memory",
            format!("Slab growth per idle pair over {pairs} pairs"),
            "bytes",
            "lower",
        )
        .at(pairs)
        .ckpt(ckpt.1)
        .against(Some(native.1), NATIVE_PTMX),
    );
}

/// (MemAvailable drop, Slab growth) per pair over `pairs` idle pairs:
/// one warm-up, then `reps` runs.
fn memory_stats(kind: Kind, pairs: usize, reps: usize) -> R<(Stat, Stat)> {
    memory_run(kind, pairs)?;
    let mut available = Vec::new();
    let mut slab = Vec::new();
    for _ in 0..reps {
        let (a, s) = memory_run(kind, pairs)?;
        available.push(a);
        slab.push(s);
    }
    Ok((Stat::of(available), Stat::of(slab)))
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
        "bench: smoke={} max_n={} reps={} (+1 warm-up each)",
        opts.smoke, opts.max_n, opts.reps
    );
    for (section, group) in GROUPS {
        if opts.want(section) {
            group(&opts, &mut out);
        }
    }
    std::process::exit(out.report(&opts, start.elapsed().as_secs_f64()));
}
