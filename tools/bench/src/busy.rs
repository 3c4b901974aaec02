// SPDX-License-Identifier: GPL-2.0
//! (7) Throughput with many pairs busy at once: raw 64 KiB writes master
//! to slave on every pair together, total MB/s.

use crate::{both, make_raw, open_pair, poll_in, read_some, write_all, Figure, Kind, Opts, Out, R};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Instant;

/// Small stacks: up to 512 threads.
const STACK: usize = 128 << 10;

const CHUNK: usize = 64 << 10;

/// A reader waits this long for the next bytes: with hundreds of pairs on
/// an emulated CPU one pair's turn can be seconds away.
const STALL_MS: i32 = 120_000;

fn spawn<T: Send + 'static>(f: impl FnOnce() -> R<T> + Send + 'static) -> R<JoinHandle<R<T>>> {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .map_err(|e| format!("spawn: {e}"))
}

fn writer(m: OwnedFd, bytes: usize, start: Arc<Barrier>) -> R<()> {
    let data = vec![b'x'; CHUNK];
    start.wait();
    let mut left = bytes;
    while left > 0 {
        let k = left.min(CHUNK);
        write_all(&m, &data[..k])?;
        left -= k;
    }
    Ok(())
}

fn reader(s: OwnedFd, bytes: usize, start: Arc<Barrier>) -> R<()> {
    let mut buf = vec![0u8; CHUNK];
    start.wait();
    let mut got = 0;
    while got < bytes {
        if !poll_in(&s, STALL_MS)? {
            return Err(format!("stalled after {got} of {bytes} bytes"));
        }
        let r = read_some(&s, &mut buf)?;
        if r == 0 {
            return Err(format!("EOF after {got} of {bytes} bytes"));
        }
        got += r;
    }
    Ok(())
}

/// Total MB/s of `pairs` pairs moving `per_pair` bytes each master to
/// slave at once, a writer and a reader thread per pair; timed from the
/// common start until the last reader is done.
fn busy_throughput(kind: Kind, pairs: usize, per_pair: usize) -> R<f64> {
    let start = Arc::new(Barrier::new(2 * pairs + 1));
    let mut threads = Vec::with_capacity(2 * pairs);
    // The masters stay open here until every reader is done: a writer
    // closing its end early would hang up the slave before it is drained.
    let mut masters = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let (m, s, _) = open_pair(kind)?;
        make_raw(&s)?;
        let wm = m.try_clone().map_err(|e| format!("dup: {e}"))?;
        masters.push(m);
        let (sw, sr) = (start.clone(), start.clone());
        threads.push(spawn(move || writer(wm, per_pair, sw))?);
        threads.push(spawn(move || reader(s, per_pair, sr))?);
    }
    start.wait();
    let t0 = Instant::now();
    let mut first_error = Ok(());
    for t in threads {
        let r = t
            .join()
            .map_err(|_| "thread panicked".to_string())
            .and_then(|r| r);
        if first_error.is_ok() {
            first_error = r;
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    drop(masters);
    first_error?;
    Ok((pairs * per_pair) as f64 / dt / 1e6)
}

/// (7) Raw 64 KiB writes master->slave on 1, 16 and 256 pairs at once
/// (smoke: 1 and 4). All pairs together move `mib` MiB (8), each pair at least
/// one write's worth (smoke: 16 KiB a pair).
pub(crate) fn busy_group(opts: &Opts, out: &mut Out) {
    let counts: &[usize] = if opts.smoke { &[1, 4] } else { &[1, 16, 256] };
    for &pairs in counts.iter().filter(|p| **p <= opts.max_n.max(1)) {
        let per_pair = if opts.smoke {
            16 << 10
        } else {
            ((opts.mib << 20) / pairs).max(CHUNK)
        };
        let figure = Figure::new(
            format!("busy_m2s_64k_p{pairs}"),
            "throughput_busy",
            format!(
                "{pairs} pair{} busy at once: raw 64 KiB writes master->slave, {} KiB a pair, total",
                if pairs == 1 { "" } else { "s" },
                per_pair >> 10
            ),
            "MB/s",
            "higher",
        )
        .at(pairs);
        let runs = both(opts.runs().at_most(3), |k| {
            busy_throughput(k, pairs, per_pair)
        });
        out.add_versus_native(figure, runs);
    }
}
