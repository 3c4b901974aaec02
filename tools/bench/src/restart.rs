// SPDX-License-Identifier: GPL-2.0
//! (5) Restart of N pairs against the native dense allocation, (6) its
//! scaling over N, and the checkpoint of N pairs.

use crate::uapi::*;
use crate::{
    checkpoint_into, finish_pair, ioctl, open, open_pair, ptn, restart, set_winsize, tcget, tcset,
    write_all, Figure, Kind, Opts, Out, Runs, R, RW,
};
use ckpt_testkit::{Stat, Xorshift};
use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A pair as the benchmark holds it: master, slave, index.
pub(crate) type Pair = (OwnedFd, OwnedFd, u32);

/// One pair's checkpoint: its index and the images of its two streams.
pub(crate) struct PairImage {
    pub(crate) index: u32,
    master: Vec<u8>,
    slave: Vec<u8>,
}

/// The state every restarted pair carries, told apart by `i`: a window
/// size, a line queued toward the slave and output queued toward the
/// master.
pub(crate) fn give_state(i: usize, m: &OwnedFd, s: &OwnedFd) -> R<()> {
    set_winsize(m, rows_of(i), 80)?;
    write_all(m, format!("in{i}\n").as_bytes())?;
    write_all(s, format!("out{i}").as_bytes())
}

fn rows_of(i: usize) -> u16 {
    24 + (i % 50) as u16
}

/// Checkpoints both streams of every pair; returns the images, the
/// seconds it took and the image bytes in all.
pub(crate) fn checkpoint_pairs(held: &[Pair], id: u64) -> R<(Vec<PairImage>, f64, usize)> {
    let mut images: Vec<PairImage> = held
        .iter()
        .map(|(.., index)| PairImage {
            index: *index,
            master: vec![0u8; 4096],
            slave: vec![0u8; 4096],
        })
        .collect();
    let t0 = Instant::now();
    let mut bytes = 0usize;
    for ((m, s, _), image) in held.iter().zip(images.iter_mut()) {
        let lm = checkpoint_into(m, id, &mut image.master)?;
        let ls = checkpoint_into(s, id, &mut image.slave)?;
        image.master.truncate(lm);
        image.slave.truncate(ls);
        bytes += lm + ls;
    }
    Ok((images, t0.elapsed().as_secs_f64(), bytes))
}

/// Seconds of a session restore, whole and by part.
pub(crate) struct SessionTimes {
    /// Open of the control device + `CKPT_SESSION_BEGIN`.
    pub(crate) begin_s: f64,
    /// Every end: `CKPT_OPEN_MASTER` / `open(pts)` + `CKPT_RESTART`.
    pub(crate) ends_s: f64,
    /// `CKPT_SESSION_COMMIT`.
    pub(crate) commit_s: f64,
    /// Begin..commit.
    pub(crate) total_s: f64,
}

/// What a session restore gave back: each restored master with the index
/// its image names, and the slaves.
pub(crate) struct Restored {
    pub(crate) masters: Vec<(u32, OwnedFd)>,
    _slaves: Vec<OwnedFd>,
}

impl Restored {
    /// How many masters report (TIOCGPTN) the index their image names.
    pub(crate) fn at_their_index(&self) -> R<usize> {
        let mut exact = 0;
        for (want, m) in &self.masters {
            exact += usize::from(ptn(m)? == *want);
        }
        Ok(exact)
    }
}

/// Restores `images` in one ckpt_pty session, the ends (slaves before
/// masters and the reverse) in a random order drawn from `seed`.
pub(crate) fn session_restore(images: &[PairImage], seed: u64) -> R<(SessionTimes, Restored)> {
    let mut rng = Xorshift::new(seed | 1);
    let mut entries: Vec<RestartEntry> = images
        .iter()
        .map(|image| RestartEntry {
            index: image.index,
            ends: CKPT_END_MASTER | CKPT_END_SLAVE,
        })
        .collect();
    rng.shuffle(&mut entries);
    let n = images.len();
    let mut order: Vec<(usize, bool)> = (0..n).flat_map(|i| [(i, true), (i, false)]).collect();
    rng.shuffle(&mut order);
    let mut restored = Restored {
        masters: Vec::with_capacity(n),
        _slaves: Vec::with_capacity(n),
    };
    let t0 = Instant::now();
    let ctl = open(CONTROL_PATH, libc::O_RDWR)?;
    let mut sa = SessionArg {
        entries: entries.as_ptr() as u64,
        count: entries.len() as u32,
        flags: 0,
    };
    ioctl(&ctl, CKPT_SESSION_BEGIN, &mut sa).map_err(|e| format!("SESSION_BEGIN: {e}"))?;
    let begin_s = t0.elapsed().as_secs_f64();
    for (i, master) in order {
        let image = &images[i];
        if master {
            let m = open_master_at(&ctl, image.index)?;
            restart(&m, &image.master)?;
            restored.masters.push((image.index, m));
        } else {
            let s = open(&Kind::Ckpt.pts(image.index), RW)?;
            restart(&s, &image.slave)?;
            restored._slaves.push(s);
        }
    }
    let ends_done = t0.elapsed().as_secs_f64();
    let mut ca = CommitArg::default();
    ioctl(&ctl, CKPT_SESSION_COMMIT, &mut ca)
        .map_err(|e| format!("SESSION_COMMIT: {e} ({} orphans)", ca.orphans_count))?;
    let total_s = t0.elapsed().as_secs_f64();
    let times = SessionTimes {
        begin_s,
        ends_s: ends_done - begin_s,
        commit_s: total_s - ends_done,
        total_s,
    };
    Ok((times, restored))
}

fn open_master_at(ctl: &OwnedFd, index: u32) -> R<OwnedFd> {
    let mut a = OpenMasterArg {
        index,
        flags: RW as u32,
    };
    let fd =
        ioctl(ctl, CKPT_OPEN_MASTER, &mut a).map_err(|e| format!("OPEN_MASTER {index}: {e}"))?;
    // SAFETY: the ioctl returned a new descriptor, now ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

struct CkptRun {
    checkpoint_s: f64,
    bytes_per_pair: f64,
    times: SessionTimes,
}

/// N ckpt pairs with state, all checkpointed (timed), closed, then
/// restarted in random order inside one session (timed); every restored
/// master must report its old index.
fn ckpt_restart_run(n: usize, seed: u64) -> R<CkptRun> {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let (m, s, idx) = open_pair(Kind::Ckpt)?;
        give_state(i, &m, &s)?;
        held.push((m, s, idx));
    }
    let (images, checkpoint_s, bytes) = checkpoint_pairs(&held, seed)?;
    drop(held);
    let (times, restored) = session_restore(&images, seed)?;
    let exact = restored.at_their_index()?;
    if exact != n {
        return Err(format!(
            "only {exact} of {n} pairs came back at their index"
        ));
    }
    Ok(CkptRun {
        checkpoint_s,
        bytes_per_pair: bytes as f64 / n as f64,
        times,
    })
}

/// A native pair's saved state: index, termios, window rows, data toward
/// the slave and toward the master.
pub(crate) struct NativeSaved {
    pub(crate) index: u32,
    termios: libc::termios,
    rows: u16,
    to_slave: String,
    to_master: String,
}

/// What a user saves of a native pair `i` (made like `give_state`'s).
pub(crate) fn native_save(i: usize, m: &OwnedFd, s: &OwnedFd, index: u32) -> R<NativeSaved> {
    set_winsize(m, rows_of(i), 80)?;
    Ok(NativeSaved {
        index,
        termios: tcget(s)?,
        rows: rows_of(i),
        to_slave: format!("in{i}\n"),
        to_master: format!("out{i}"),
    })
}

/// Finishes a native master reopened for `saved`: unlock, open the slave,
/// then termios, window size and the queued data written back.
pub(crate) fn native_reapply(m: OwnedFd, saved: &NativeSaved) -> R<Pair> {
    let (m, s, idx) = finish_pair(Kind::Native, m)?;
    tcset(&s, &saved.termios)?;
    set_winsize(&m, saved.rows, 80)?;
    write_all(&m, saved.to_slave.as_bytes())?;
    write_all(&s, saved.to_master.as_bytes())?;
    Ok((m, s, idx))
}

/// What a user has today with dense indexes: N native pairs with the same
/// state, "saved" by reading termios and window size, closed, and brought
/// back at their original indexes in random order by opening /dev/ptmx
/// until TIOCGPTN matches (keeping the unwanted ones open for later
/// targets, so it never gives up). Returns (seconds, opens of /dev/ptmx).
fn native_restart_run(n: usize, seed: u64) -> R<(f64, usize)> {
    let mut saved = Vec::with_capacity(n);
    {
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let (m, s, idx) = open_pair(Kind::Native)?;
            saved.push(native_save(i, &m, &s, idx)?);
            held.push((m, s));
        }
    }
    // Let the closes finish (indexes are released on the last close).
    std::thread::sleep(Duration::from_millis(50));
    let mut rng = Xorshift::new(seed | 1);
    rng.shuffle(&mut saved);
    let mut spare: HashMap<u32, OwnedFd> = HashMap::new();
    let mut fds = Vec::with_capacity(n);
    let mut opens = 0usize;
    let limit = n + 8192;
    let t0 = Instant::now();
    for one in &saved {
        let m = match spare.remove(&one.index) {
            Some(m) => m,
            None => loop {
                let m = open(Kind::Native.ptmx(), RW)?;
                opens += 1;
                let got = ptn(&m)?;
                if got == one.index {
                    break m;
                }
                spare.insert(got, m);
                if opens > limit {
                    return Err(format!("index {} never came back", one.index));
                }
            },
        };
        fds.push(native_reapply(m, one)?);
    }
    let dt = t0.elapsed().as_secs_f64();
    drop(spare);
    drop(fds);
    std::thread::sleep(Duration::from_millis(50));
    Ok((dt, opens))
}

/// (5) + (6) Restart and checkpoint of N pairs for each N (report.py fits
/// the per-pair cost over N).
pub(crate) fn restart_group(opts: &Opts, out: &mut Out) {
    for n in restart_sizes(opts) {
        restart_figures(opts.runs(), n, out);
    }
}

/// The N of the restart figures: `ns=` if given, else the scaling series
/// up to `max_n` (smoke: a few small N, enough for a fit).
fn restart_sizes(opts: &Opts) -> Vec<usize> {
    if let Some(ns) = &opts.ns {
        return ns.clone();
    }
    let series: &[usize] = if opts.smoke {
        &[1, 4, 8]
    } else {
        &[1, 16, 64, 256, 1024, 4096]
    };
    series
        .iter()
        .copied()
        .filter(|n| *n <= opts.max_n)
        .collect()
}

/// Measured runs at most 3 from N = 1024 on (each takes seconds).
pub(crate) fn restart_runs_at(n: usize, runs: Runs) -> Runs {
    if n >= 1024 {
        runs.at_most(3)
    } else {
        runs
    }
}

/// The measured runs (warm-up left out) of restart and checkpoint at one N.
#[derive(Default)]
struct RestartRuns {
    checkpoint_ms: Vec<f64>,
    bytes_per_pair: Vec<f64>,
    restart_ms: Vec<f64>,
    /// Of `restart_ms`: begin, ends, commit (see `SessionTimes`).
    parts_ms: [Vec<f64>; 3],
    native_ms: Vec<f64>,
    /// Opens the native baseline needed (of its last run).
    native_opens: usize,
}

/// The runs of ckpt_pty and of the native baseline (warm-up first),
/// alternating, same seed each.
fn restart_runs(n: usize, each: Runs) -> R<RestartRuns> {
    let mut runs = RestartRuns::default();
    for rep in restart_runs_at(n, each).numbers() {
        let seed = 0x5eed + (n * 131 + rep) as u64;
        let x = ckpt_restart_run(n, seed).map_err(|e| format!("ckpt: {e}"))?;
        let (t, opens) = native_restart_run(n, seed).map_err(|e| format!("native: {e}"))?;
        if rep == 0 {
            continue;
        }
        runs.checkpoint_ms.push(x.checkpoint_s * 1e3);
        runs.bytes_per_pair.push(x.bytes_per_pair);
        runs.restart_ms.push(x.times.total_s * 1e3);
        runs.parts_ms[0].push(x.times.begin_s * 1e3);
        runs.parts_ms[1].push(x.times.ends_s * 1e3);
        runs.parts_ms[2].push(x.times.commit_s * 1e3);
        runs.native_ms.push(t * 1e3);
        runs.native_opens = opens;
    }
    Ok(runs)
}

fn restart_figures(each: Runs, n: usize, out: &mut Out) {
    let runs = match restart_runs(n, each) {
        Ok(runs) => runs,
        Err(e) => return out.fail(&format!("restart_n{n}"), e),
    };
    out.add(
        Figure::new(
            format!("restart_n{n}"),
            "restart",
            format!("restart of {n} pairs (dense indexes) in random order, session begin..commit, every pair verified at its index; baseline: native ptys reopened at their indexes via /dev/ptmx + TIOCGPTN keeping the misses open ({} opens), termios, winsize, data", runs.native_opens),
            "ms",
            "lower",
        )
        .at(n)
        .ckpt(Stat::of(runs.restart_ms))
        .against(Some(Stat::of(runs.native_ms)), "native dense reopen-until-index"),
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
