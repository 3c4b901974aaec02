// SPDX-License-Identifier: GPL-2.0
//! Checkpoint support on a live pair: freeze and thaw, status and
//! statistics, and writers that keep writing across freezes.

use crate::fuzz_image::VecStorage;
use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_name, RW};
use crate::uapi::*;
use crate::{ensure, ensure_eq};
use pty_core::checkpoint;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub const TESTS: &[(&str, TestFn)] = &[
    ("ckpt_status_of_fresh_pair", status_of_fresh_pair),
    ("ckpt_freeze_stops_both_ends", freeze_stops_both_ends),
    (
        "ckpt_blocked_reader_resumes_after_thaw",
        blocked_reader_resumes_after_thaw,
    ),
    (
        "ckpt_freeze_blocks_state_changes",
        freeze_blocks_state_changes,
    ),
    (
        "ckpt_writers_across_many_freezes",
        writers_across_many_freezes,
    ),
];

/// An unlocked AT&T pair in raw mode: (master, slave).
fn raw_pair() -> Result<(OwnedFd, OwnedFd), String> {
    let m = sys::open(PTMX_PATH, RW).map_err(|e| errno_name(&e))?;
    sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
    let n = sys::get_u32(&m, TIOCGPTN).map_err(|e| errno_name(&e))?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(|e| errno_name(&e))?;
    let mut t = [0u8; 36];
    sys::ioctl_ptr(&s, TCGETS, t.as_mut_ptr()).map_err(|e| errno_name(&e))?;
    // Clear every iflag/oflag/lflag: bytes pass unchanged; VMIN 1, VTIME 0.
    t[0..4].copy_from_slice(&0u32.to_ne_bytes());
    t[4..8].copy_from_slice(&0u32.to_ne_bytes());
    t[12..16].copy_from_slice(&0u32.to_ne_bytes());
    sys::ioctl_ptr(&s, TCSETS, t.as_mut_ptr()).map_err(|e| errno_name(&e))?;
    Ok((m, s))
}

fn status(fd: &OwnedFd) -> Result<StreamStatus, String> {
    let mut st = StreamStatus::default();
    sys::ioctl_ptr(fd, CKPT_STATUS, &mut st)
        .map_err(|e| format!("CKPT_STATUS: {}", errno_name(&e)))?;
    Ok(st)
}

fn ioctl0(fd: &OwnedFd, cmd: u32) -> Result<(), String> {
    sys::ioctl_val(fd, cmd, 0)
        .map(|_| ())
        .map_err(|e| errno_name(&e))
}

fn status_of_fresh_pair() -> TestResult {
    let (m, s) = raw_pair()?;
    let n = sys::get_u32(&m, TIOCGPTN).map_err(|e| errno_name(&e))?;
    let ms = status(&m)?;
    let ss = status(&s)?;
    ensure_eq!(ms.support, CKPT_SUPPORT_CHECKPOINT | CKPT_SUPPORT_RESTART);
    ensure_eq!((ms.end, ss.end), (1, 2));
    ensure_eq!((ms.index, ss.index), (n, n));
    ensure_eq!(
        (ms.frozen, ms.last_op, ms.checkpoints),
        (0, CKPT_OP_NONE, 0)
    );
    sys::write_once(&m, b"abc").map_err(|e| errno_name(&e))?;
    sys::write_once(&s, b"hello").map_err(|e| errno_name(&e))?;
    let ms = status(&m)?;
    ensure_eq!((ms.to_master, ms.to_slave), (5, 3));
    Ok(())
}

fn freeze_stops_both_ends() -> TestResult {
    let (m, s) = raw_pair()?;
    sys::write_once(&m, b"queued").map_err(|e| errno_name(&e))?;
    ioctl0(&s, CKPT_FREEZE)?;
    ensure_eq!(status(&m)?.frozen, CKPT_FROZEN_SLAVE);
    ensure_eq!(status(&s)?.last_op, CKPT_OP_FREEZE);
    for fd in [&m, &s] {
        sys::set_nonblocking(fd, true).map_err(|e| errno_name(&e))?;
        let r = sys::read_once(fd, 16).map_err(|e| errno_name(&e));
        ensure_eq!(r, Err("EAGAIN".to_string()));
        let w = sys::write_once(fd, b"x").map_err(|e| errno_name(&e));
        ensure_eq!(w, Err("EAGAIN".to_string()));
        let ev =
            sys::poll_events(fd, libc::POLLIN | libc::POLLOUT, 0).map_err(|e| errno_name(&e))?;
        ensure_eq!(ev, 0);
        sys::set_nonblocking(fd, false).map_err(|e| errno_name(&e))?;
    }
    ioctl0(&s, CKPT_THAW)?;
    ensure_eq!(status(&m)?.frozen, 0);
    ensure_eq!(
        sys::read_once(&s, 16).map_err(|e| errno_name(&e))?,
        b"queued".to_vec()
    );
    Ok(())
}

fn blocked_reader_resumes_after_thaw() -> TestResult {
    let (m, s) = raw_pair()?;
    ioctl0(&m, CKPT_FREEZE)?;
    let reader = std::thread::spawn(move || {
        let start = Instant::now();
        let r = sys::read_once(&s, 16);
        (r.map_err(|e| errno_name(&e)), start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    // The write waits too (blocking), so do it from another thread.
    let m2 = m.try_clone().map_err(|e| e.to_string())?;
    let writer =
        std::thread::spawn(move || sys::write_once(&m2, b"after").map_err(|e| errno_name(&e)));
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        !reader.is_finished() && !writer.is_finished(),
        "I/O went through a frozen pair"
    );
    ioctl0(&m, CKPT_THAW)?;
    let w = writer.join().map_err(|_| "writer panicked")?;
    ensure_eq!(w, Ok(5));
    let (r, waited) = reader.join().map_err(|_| "reader panicked")?;
    ensure_eq!(r, Ok(b"after".to_vec()));
    ensure!(
        waited >= Duration::from_millis(500),
        "reader did not wait: {waited:?}"
    );
    Ok(())
}

fn freeze_blocks_state_changes() -> TestResult {
    let (m, s) = raw_pair()?;
    ioctl0(&m, CKPT_FREEZE)?;
    sys::set_nonblocking(&m, true).map_err(|e| errno_name(&e))?;
    let ws = [10u16, 20, 0, 0];
    let r = sys::ioctl_ptr(&m, TIOCSWINSZ, ws.as_ptr().cast_mut()).map_err(|e| errno_name(&e));
    ensure_eq!(r, Err("EAGAIN".to_string()));
    // Reading state is not a change: it still works.
    let mut got = [0u16; 4];
    sys::ioctl_ptr(&s, TIOCGWINSZ, got.as_mut_ptr()).map_err(|e| errno_name(&e))?;
    ensure_eq!(got, [0, 0, 0, 0]);
    // The slave's TIOCSWINSZ reaches us through the tty core, which does
    // not say whether the file is non-blocking: it waits for the thaw.
    let waiter = std::thread::spawn(move || {
        let ws = [10u16, 20, 0, 0];
        sys::ioctl_ptr(&s, TIOCSWINSZ, ws.as_ptr().cast_mut())
            .map(|_| s)
            .map_err(|e| errno_name(&e))
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    ensure!(
        !waiter.is_finished(),
        "TIOCSWINSZ went through a frozen pair"
    );
    ioctl0(&m, CKPT_THAW)?;
    let s = waiter.join().map_err(|_| "waiter panicked".to_string())??;
    sys::ioctl_ptr(&m, TIOCGWINSZ, got.as_mut_ptr()).map_err(|e| errno_name(&e))?;
    ensure_eq!(got, ws);
    drop(s);
    Ok(())
}

/// Writers on both ends keep writing while the pair is frozen and thawed
/// many times; every byte arrives exactly once and in order.
fn writers_across_many_freezes() -> TestResult {
    const TOTAL: usize = 256 * 1024;
    let (m, s) = raw_pair()?;
    let pattern = |i: usize| (i % 251) as u8;
    let spawn_writer = |fd: OwnedFd| {
        std::thread::spawn(move || -> Result<(), String> {
            let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
            let mut off = 0;
            while off < TOTAL {
                let end = (off + 1000).min(TOTAL);
                off += sys::write_once(&fd, &data[off..end]).map_err(|e| errno_name(&e))?;
            }
            Ok(())
        })
    };
    let spawn_reader = |fd: OwnedFd| {
        std::thread::spawn(move || -> Result<(), String> {
            let mut got = 0;
            while got < TOTAL {
                let chunk = sys::read_once(&fd, 4096).map_err(|e| errno_name(&e))?;
                for (i, b) in chunk.iter().enumerate() {
                    if *b != pattern(got + i) {
                        return Err(format!(
                            "byte {} is {b}, expected {}",
                            got + i,
                            pattern(got + i)
                        ));
                    }
                }
                got += chunk.len();
            }
            Ok(())
        })
    };
    let clone = |fd: &OwnedFd| fd.try_clone().map_err(|e| e.to_string());
    let threads = [
        spawn_writer(clone(&m)?),
        spawn_writer(clone(&s)?),
        spawn_reader(clone(&m)?),
        spawn_reader(clone(&s)?),
    ];
    // Alternate: freeze + checkpoint + thaw by hand, and the one-call
    // checkpoint (which freezes and thaws itself), on either end.
    let mut freezes = 0;
    let mut image = vec![0u8; 512 * 1024];
    while !threads.iter().all(|t| t.is_finished()) && freezes < 400 {
        let end = if freezes % 2 == 0 { &m } else { &s };
        let mut arg = CheckpointArg {
            buf: image.as_mut_ptr() as u64,
            buf_len: image.len() as u32,
            checkpoint_id: freezes as u64,
            ..Default::default()
        };
        if freezes % 4 < 2 {
            ioctl0(end, CKPT_FREEZE)?;
            std::thread::sleep(Duration::from_millis(2));
            sys::ioctl_ptr(end, CKPT_CHECKPOINT, &mut arg).map_err(|e| errno_name(&e))?;
            ioctl0(end, CKPT_THAW)?;
        } else {
            sys::ioctl_ptr(end, CKPT_CHECKPOINT, &mut arg).map_err(|e| errno_name(&e))?;
        }
        ensure!(
            arg.image_len >= 72,
            "checkpoint {freezes} wrote {} bytes",
            arg.image_len
        );
        // Sealed after the pair's lock is dropped while the writers go on:
        // the image must still be whole (checksum, lengths) and restorable.
        let written = image
            .get(..arg.image_len as usize)
            .ok_or("image longer than the buffer")?;
        checkpoint::check_restorable::<VecStorage>(written)
            .map_err(|e| format!("checkpoint {freezes}: image not restorable: {e}"))?;
        freezes += 1;
    }
    for t in threads {
        t.join().map_err(|_| "thread panicked")??;
    }
    ensure!(
        freezes > 10,
        "only {freezes} freezes happened during the transfer"
    );
    let _ = (m.as_raw_fd(), s.as_raw_fd());
    Ok(())
}
