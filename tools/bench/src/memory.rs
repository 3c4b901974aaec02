// SPDX-License-Identifier: GPL-2.0
//! (7) Memory per pair, idle and with both queues filled until writing
//! would block.

use crate::{err, make_raw, open_pair, Figure, Kind, Opts, Out, NATIVE_PTMX, R};
use ckpt_testkit::Stat;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

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

/// Per pair over one run: MemAvailable drop, Slab growth, bytes queued.
struct PerPair {
    available: f64,
    slab: f64,
    queued: f64,
}

/// Bytes per pair over `n` pairs, held open with both ends; with `full`,
/// both directions filled until a non-blocking write would block.
fn memory_run(kind: Kind, n: usize, full: bool) -> R<PerPair> {
    settle_memory();
    let (a0, s0) = meminfo();
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(open_pair(kind)?);
    }
    let mut queued = 0;
    if full {
        queued = fill_all(&held)?;
    }
    settle_memory();
    let (a1, s1) = meminfo();
    drop(held);
    std::thread::sleep(Duration::from_millis(100));
    let n = n as f64;
    Ok(PerPair {
        available: (a0 - a1) as f64 / n,
        slab: (s1 - s0) as f64 / n,
        queued: queued as f64 / n,
    })
}

/// Fills every pair both ways (raw mode: no echo, no line limit); a second
/// pass after a pause tops up what the first left when the receiving side
/// had not yet taken its buffers. Returns the bytes queued in all.
fn fill_all(held: &[crate::restart::Pair]) -> R<usize> {
    for (m, s, _) in held {
        make_raw(s)?;
        set_nonblocking(m)?;
        set_nonblocking(s)?;
    }
    let mut queued = 0;
    for pass in 0..2 {
        for (m, s, _) in held {
            queued += fill(m)? + fill(s)?;
        }
        if pass == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(queued)
}

fn set_nonblocking(fd: &OwnedFd) -> R<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(err("fcntl O_NONBLOCK"))
    }
}

/// A queue that never blocks is still bounded here: 1 MiB a direction.
const FILL_CAP: usize = 1 << 20;

/// Writes 4 KiB chunks to `fd` until it would block; the bytes it took.
fn fill(fd: &OwnedFd) -> R<usize> {
    let chunk = [b'f'; 4096];
    let mut done = 0;
    while done < FILL_CAP {
        // SAFETY: valid buffer.
        let r = unsafe { libc::write(fd.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => break,
                Some(libc::EINTR) => continue,
                _ => return Err(format!("fill write: {e}")),
            }
        }
        done += r as usize;
    }
    Ok(done)
}

/// One warm-up (not in the smoke), then `reps` runs.
fn memory_stats(kind: Kind, pairs: usize, opts: &Opts, full: bool) -> R<[Stat; 3]> {
    // Each run settles memory twice (drop_caches and a pause).
    let reps = if opts.smoke { 1 } else { opts.reps.min(3) };
    if !opts.smoke {
        memory_run(kind, pairs, full)?;
    }
    let (mut available, mut slab, mut queued) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let p = memory_run(kind, pairs, full)?;
        available.push(p.available);
        slab.push(p.slab);
        queued.push(p.queued);
    }
    Ok([Stat::of(available), Stat::of(slab), Stat::of(queued)])
}

/// (7) Memory per idle pair and per pair with full queues.
pub(crate) fn memory_group(opts: &Opts, out: &mut Out) {
    let idle_pairs = if opts.smoke {
        16
    } else {
        opts.max_n.clamp(16, 1024)
    };
    // Full queues take tens of KiB per pair: fewer pairs.
    let full_pairs = if opts.smoke {
        4
    } else {
        opts.max_n.clamp(16, 128)
    };
    for (full, pairs, prefix, how) in [
        (false, idle_pairs, "mem", "idle pair (nothing queued)"),
        (
            true,
            full_pairs,
            "mem_full",
            "pair with both directions filled until a write would block (raw mode)",
        ),
    ] {
        let [ca, cs, cq] = match memory_stats(Kind::Ckpt, pairs, opts, full) {
            Ok(s) => s,
            Err(e) => return out.fail(&format!("{prefix} ckpt"), e),
        };
        let [na, ns, nq] = match memory_stats(Kind::Native, pairs, opts, full) {
            Ok(s) => s,
            Err(e) => return out.fail(&format!("{prefix} native"), e),
        };
        let mut rows = vec![
            ("available", "MemAvailable drop", ca, na),
            ("slab", "Slab growth", cs, ns),
        ];
        if full {
            rows.push(("queued", "bytes the queues took", cq, nq));
        }
        for (id, what, c, n) in rows {
            out.add(
                Figure::new(
                    format!("{prefix}_{id}_per_pair"),
                    "memory",
                    format!("{what} per {how}, over {pairs} pairs"),
                    "bytes",
                    if id == "queued" { "higher" } else { "lower" },
                )
                .at(pairs)
                .ckpt(c)
                .against(Some(n), NATIVE_PTMX),
            );
        }
    }
}
