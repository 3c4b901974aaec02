// SPDX-License-Identifier: GPL-2.0
//! (5) Restart at sparse indexes: ckpt_pty's session against the way CRIU
//! gets a native pty back at its index.
//!
//! The pairs of the image had indexes spread over `0..span` while other
//! ptys were in use; at restore time about half of the other indexes are
//! in use again (by other ptys), the rest are free. The native allocator
//! hands out the lowest free index, so a wanted index far above the lowest
//! free one cannot be reached by opening in order.

use crate::restart::{
    checkpoint_pairs, give_state, native_reapply, native_save, restart_runs_at, session_restore,
    NativeSaved, Pair,
};
use crate::{finish_pair, open, ptn, Figure, Kind, Opts, Out, Runs, R, RW};
use ckpt_testkit::{Stat, Xorshift};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// CRIU 3.17 (criu/tty.c) opens the ptmx at most this many times for one
/// wanted index, and only while the index it got is below the wanted one
/// by less than this; then it gives up on the pty (and the restore).
const CRIU_TRIES: u32 = 32;

/// Where the pairs of the image and the other ptys sit.
struct Layout {
    /// Indexes `0..span` are in play.
    span: u32,
    /// The image's indexes, one drawn at random in each stride of the span.
    wanted: Vec<u32>,
    /// Other indexes in use while the pairs are restored.
    busy: Vec<u32>,
}

impl Layout {
    /// `n` wanted indexes over a span of 4 per pair (48..4096: CRIU's reach
    /// of 32 must fall short of the top); of the
    /// other indexes, each is busy with probability 1/2.
    fn new(n: usize, seed: u64) -> Self {
        let span = (4 * n).clamp(48, 4096) as u32;
        let stride = (span / n.max(1) as u32).max(1);
        let mut rng = Xorshift::new(seed | 1);
        let wanted: Vec<u32> = (0..n as u32)
            .map(|k| k * stride + (rng.next() % u64::from(stride)) as u32)
            .collect();
        let busy = (0..span)
            .filter(|i| wanted.binary_search(i).is_err() && rng.next() & 1 == 0)
            .collect();
        Self { span, wanted, busy }
    }
}

/// Takes every index below the span on `kind` (both allocators hand out
/// the lowest free one), keeps the wanted ones as pairs (in `wanted`
/// order) and the busy ones' masters, and closes the rest.
fn occupy(kind: Kind, layout: &Layout) -> R<(Vec<Pair>, Vec<OwnedFd>)> {
    let mut by_index: HashMap<u32, OwnedFd> = HashMap::new();
    for _ in 0..layout.span {
        let m = open(kind.ptmx(), RW)?;
        by_index.insert(ptn(&m)?, m);
    }
    let mut take = |index: &u32| {
        by_index
            .remove(index)
            .ok_or_else(|| format!("index {index} was not handed out (in use elsewhere?)"))
    };
    let mut pairs = Vec::with_capacity(layout.wanted.len());
    for index in &layout.wanted {
        pairs.push(finish_pair(kind, take(index)?)?);
    }
    let busy = layout.busy.iter().map(take).collect::<R<Vec<_>>>()?;
    Ok((pairs, busy))
}

/// One run of each side: (milliseconds, pairs back at their exact index).
struct SparseRun {
    ms: f64,
    exact: usize,
}

/// ckpt_pty: the pairs checkpointed, closed, restored in one session in
/// random order; each master's index read back.
fn ckpt_sparse_run(layout: &Layout, seed: u64) -> R<SparseRun> {
    let (pairs, busy) = occupy(Kind::Ckpt, layout)?;
    for (i, (m, s, _)) in pairs.iter().enumerate() {
        give_state(i, m, s)?;
    }
    let (images, ..) = checkpoint_pairs(&pairs, seed)?;
    drop(pairs);
    let (times, restored) = session_restore(&images, seed)?;
    let exact = restored.at_their_index()?;
    drop((restored, busy));
    Ok(SparseRun {
        ms: times.total_s * 1e3,
        exact,
    })
}

/// CRIU's way to a native master at `want`: open the ptmx and read
/// TIOCGPTN, keep the master if it is `want`, try again only while the
/// index got is below `want` and within reach; every other master opened
/// is closed. Returns the master, if any, and the opens it took.
fn criu_open_at(want: u32) -> R<(Option<OwnedFd>, usize)> {
    let mut probes = Vec::new();
    for tries in 1..=CRIU_TRIES as usize {
        let m = open(Kind::Native.ptmx(), RW)?;
        let got = ptn(&m)?;
        if got == want {
            return Ok((Some(m), tries));
        }
        probes.push(m);
        if got > want || want - got >= CRIU_TRIES {
            return Ok((None, tries));
        }
    }
    Ok((None, CRIU_TRIES as usize))
}

/// Native pairs restored CRIU's way, in ascending index order (its best
/// case: lower indexes are back before higher ones are tried). A pair it
/// cannot place is then opened at whatever index the allocator gives, so
/// that both sides restore the same state (CRIU itself aborts the whole
/// restore there). Returns the run and the opens of the ptmx.
fn criu_sparse_run(layout: &Layout) -> R<(SparseRun, usize)> {
    let (pairs, busy) = occupy(Kind::Native, layout)?;
    let mut saved = pairs
        .iter()
        .enumerate()
        .map(|(i, (m, s, index))| native_save(i, m, s, *index))
        .collect::<R<Vec<NativeSaved>>>()?;
    drop(pairs);
    // Let the closes finish (indexes are released on the last close).
    std::thread::sleep(Duration::from_millis(50));
    saved.sort_by_key(|one| one.index);
    let mut placed = Vec::with_capacity(saved.len());
    let mut missed = Vec::new();
    let mut opens = 0;
    let t0 = Instant::now();
    for one in &saved {
        let (m, tries) = criu_open_at(one.index)?;
        opens += tries;
        match m {
            Some(m) => placed.push((one.index, native_reapply(m, one)?)),
            None => missed.push(one),
        }
    }
    let mut fallback = Vec::with_capacity(missed.len());
    for one in missed {
        fallback.push(native_reapply(open(Kind::Native.ptmx(), RW)?, one)?);
        opens += 1;
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let exact = placed
        .iter()
        .filter(|(want, (.., got))| got == want)
        .count();
    drop((placed, fallback, busy));
    std::thread::sleep(Duration::from_millis(50));
    Ok((SparseRun { ms, exact }, opens))
}

/// The N of the sparse restart: at most 1024 (a span of 4 per pair must
/// fit in an instance's 4096 indexes); the smoke's 4 span 48 indexes.
fn sparse_n(opts: &Opts) -> usize {
    if opts.smoke {
        4
    } else {
        opts.max_n.clamp(1, 1024)
    }
}

/// Runs of both sides at one N, warm-up first; the CRIU side's opens of
/// its last run.
#[derive(Default)]
struct SparseRuns {
    ckpt_ms: Vec<f64>,
    ckpt_exact: Vec<f64>,
    criu_ms: Vec<f64>,
    criu_exact: Vec<f64>,
    criu_opens: usize,
}

fn sparse_runs(n: usize, each: Runs) -> R<(SparseRuns, Layout)> {
    let mut runs = SparseRuns::default();
    let layout = Layout::new(n, 0x5ba7 + n as u64);
    for rep in restart_runs_at(n, each).numbers() {
        let seed = 0x5eed + (n * 137 + rep) as u64;
        let c = ckpt_sparse_run(&layout, seed).map_err(|e| format!("ckpt: {e}"))?;
        let (x, opens) = criu_sparse_run(&layout).map_err(|e| format!("native: {e}"))?;
        if rep == 0 {
            continue;
        }
        runs.ckpt_ms.push(c.ms);
        runs.ckpt_exact.push(c.exact as f64);
        runs.criu_ms.push(x.ms);
        runs.criu_exact.push(x.exact as f64);
        runs.criu_opens = opens;
    }
    Ok((runs, layout))
}

/// The baseline of the sparse figures.
const CRIU_METHOD: &str = "native, CRIU 3.17's reopen (<= 32 opens per pty)";

/// (5) Restart at sparse indexes: time and pairs at their exact index.
pub(crate) fn sparse_group(opts: &Opts, out: &mut Out) {
    let n = sparse_n(opts);
    let id = format!("restart_sparse_n{n}");
    let (runs, layout) = match sparse_runs(n, opts.runs()) {
        Ok(r) => r,
        Err(e) => return out.fail(&id, e),
    };
    let setting = format!(
        "{n} pairs at indexes spread over 0..{}, {} other ptys in use",
        layout.span - 1,
        layout.busy.len()
    );
    out.add(
        Figure::new(
            id.clone(),
            "restart_sparse",
            format!("restart of {setting}; ckpt_pty: one session, random order; baseline: CRIU's way in ascending index order ({} opens), a pair it cannot place reopened at any index; both: termios, winsize, data", runs.criu_opens),
            "ms",
            "lower",
        )
        .at(n)
        .ckpt(Stat::of(runs.ckpt_ms))
        .against(Some(Stat::of(runs.criu_ms)), CRIU_METHOD),
    );
    out.add(
        Figure::new(
            format!("{id}_exact"),
            "restart_sparse",
            format!("pairs back at their exact index (TIOCGPTN read back) after the restart of {setting}"),
            "pairs",
            "higher",
        )
        .at(n)
        .ckpt(Stat::of(runs.ckpt_exact))
        .against(Some(Stat::of(runs.criu_exact)), CRIU_METHOD),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lowest index at or above `from` that is neither wanted nor busy.
    fn first_free(layout: &Layout, from: u32) -> u32 {
        (from..)
            .find(|i| !layout.wanted.contains(i) && !layout.busy.contains(i))
            .unwrap_or(u32::MAX)
    }

    #[test]
    fn layout_is_sparse_and_disjoint() {
        for n in [1, 8, 256, 1024] {
            let layout = Layout::new(n, 7);
            assert_eq!(layout.wanted.len(), n);
            assert!(layout.wanted.windows(2).all(|w| w[0] < w[1]));
            assert!(layout.wanted.iter().all(|i| *i < layout.span));
            assert!(layout
                .busy
                .iter()
                .all(|i| layout.wanted.binary_search(i).is_err()));
            // Some indexes stay free for the allocator to hand out first.
            assert!(layout.busy.len() + n < layout.span as usize);
        }
    }

    #[test]
    fn high_indexes_are_out_of_criu_reach() {
        // Even with every lower wanted index already back, the lowest free
        // index stays far below the top wanted ones.
        let layout = Layout::new(1024, 7);
        let lowest_free = first_free(&layout, 0);
        let out_of_reach = layout
            .wanted
            .iter()
            .filter(|w| **w > lowest_free && **w - lowest_free >= CRIU_TRIES)
            .count();
        assert!(out_of_reach > 900, "{out_of_reach}");
    }
}
