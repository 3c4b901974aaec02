// SPDX-License-Identifier: GPL-2.0
//! The stream heads' data path: read, write and poll of the master (our own
//! character device, which copies between user memory and the queues
//! directly) and of the slave (called by the tty core through our line
//! discipline, on its kernel buffers): blocking, `O_NONBLOCK`, signals,
//! `VMIN`/`VTIME`, job control.
//!
//! The streams themselves are pure logic ([`crate::pty_core::stream`]);
//! this file adds the lock, sleeping and copies. A master read or write
//! holds the pair lock across its user copy, as a pipe holds its mutex:
//! one acquisition moves a whole `write(2)` with one copy, straight into
//! the queue that keeps the bytes, and no byte is ever outside the queues
//! a checkpoint sees. The lock is a sleeping mutex, so a page fault in the
//! copy may sleep; whoever waits for the lock (a checkpoint too) waits for
//! at most that one copy, up to the pts input bound of 64 KiB plus
//! ldterm's 4 KiB.

use super::pair::{Pair, PairOwner, Streams};
use super::sleepers::SleepQueue;
use super::uaccess::{overrun, UserSink, UserSource};
use crate::pty_core::bytes::ByteSource;
use crate::pty_core::ldterm::{ReadDecision, ReadPolicy};
use crate::pty_core::stream::{Effects, Io, Ready, Refill};
use crate::pty_core::termios::{Termios, ICANON, TOSTOP};
use crate::pty_core::End;
use crate::seam::file::File;
use crate::seam::poll::{events::*, PollTable};
use crate::seam::process::{self, signal::SIGTTIN};
use crate::seam::tty::{self, Tty};
use core::ops::ControlFlow;
use kernel::{
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        CondVarTimeoutResult,
    },
    time::msecs_to_jiffies,
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// `buf` after its first `n` bytes (what the core took or filled).
fn after(buf: &[u8], n: usize) -> Result<&[u8]> {
    buf.get(n..).ok_or_else(|| overrun(n, buf.len()))
}

/// As [`after`], to fill.
fn after_mut(buf: &mut [u8], n: usize) -> Result<&mut [u8]> {
    let len = buf.len();
    buf.get_mut(n..).ok_or_else(|| overrun(n, len))
}

/// The partial count, or `e` when nothing moved.
fn partial(done: usize, e: Error) -> Result<usize> {
    if done > 0 {
        Ok(done)
    } else {
        Err(e)
    }
}

/// A signal came: the partial count, or `-ERESTARTSYS` when nothing moved.
fn interrupted(done: usize) -> Result<usize> {
    partial(done, ERESTARTSYS)
}

/// Sleeps on `queue` until woken; `Err` when a signal interrupted.
fn wait(queue: &SleepQueue, guard: &mut Guard<'_, Streams, MutexBackend>) -> Result {
    if queue.wait_interruptible(guard) {
        Err(ERESTARTSYS)
    } else {
        Ok(())
    }
}

/// Waits until no stream of the pair is frozen (a frozen stream passes no
/// message that changes state); returns the lock held. `nonblocking`:
/// `EAGAIN` instead of waiting.
pub(crate) fn lock_thawed<O: PairOwner>(
    pair: &Pair<O>,
    nonblocking: bool,
) -> Result<Guard<'_, Streams, MutexBackend>> {
    let mut guard = pair.streams.lock();
    while guard.pty.freeze.any() {
        if nonblocking {
            return Err(EAGAIN);
        }
        wait(&pair.thaw_waiters, &mut guard)?;
    }
    Ok(guard)
}

/// `read(2)` on the master: one copy, from the master's stream head
/// straight to user memory.
pub(crate) fn master_read<O: PairOwner>(
    pair: &Pair<O>,
    file: &File,
    writer: &mut UserSliceWriter,
) -> Result<usize> {
    if writer.is_empty() {
        return Ok(0);
    }
    let mut sink = UserSink(writer);
    let mut guard = pair.streams.lock();
    loop {
        let mut fx = Effects::default();
        let io = guard.pty.master_read_to(&mut sink, &mut fx);
        pair.settle(&guard, fx, None);
        match io {
            Io::Done(n) => return Ok(n),
            Io::Eof => return Ok(0),
            Io::Hangup => return Err(EIO),
            Io::NoMemory => return Err(ENOMEM),
            Io::Fault => return Err(EFAULT),
            Io::WouldBlock if file.is_nonblocking() => return Err(EAGAIN),
            Io::WouldBlock => wait(&pair.master_readers, &mut guard)?,
        }
    }
}

/// `write(2)` on the master: blocks until everything is taken (or a
/// signal, or `O_NONBLOCK`), returning a partial count when some went.
/// The bytes are copied once, from user memory into the queue that keeps
/// them, under one acquisition of the lock (released only to sleep).
pub(crate) fn master_write<O: PairOwner>(
    pair: &Pair<O>,
    file: &File,
    reader: &mut UserSliceReader,
) -> Result<usize> {
    let total = reader.len();
    let mut src = UserSource(reader);
    let mut guard = pair.streams.lock();
    while src.remaining() > 0 {
        let done = total.saturating_sub(src.remaining());
        let mut fx = Effects::default();
        let io = guard.pty.master_write_from(&mut src, &mut fx);
        pair.settle(&guard, fx, None);
        match io {
            Io::Done(_) => {}
            Io::Eof | Io::Hangup => return partial(done, EIO),
            Io::NoMemory => return partial(done, ENOMEM),
            Io::Fault => return partial(done, EFAULT),
            Io::WouldBlock if file.is_nonblocking() => return partial(done, EAGAIN),
            Io::WouldBlock => {
                if wait(&pair.master_writers, &mut guard).is_err() {
                    return interrupted(done);
                }
            }
        }
    }
    Ok(total)
}

/// How a write goes on after the streams were offered `rest` (`done` bytes
/// went before): with what is left, after a sleep if nothing fit, or by
/// returning now.
fn write_went<'a>(
    queue: &SleepQueue,
    guard: &mut Guard<'_, Streams, MutexBackend>,
    file: &File,
    io: Io,
    rest: &'a [u8],
    done: usize,
) -> ControlFlow<Result<usize>, &'a [u8]> {
    match io {
        Io::Done(n) => match after(rest, n) {
            Ok(left) => ControlFlow::Continue(left),
            Err(e) => ControlFlow::Break(partial(done, e)),
        },
        Io::Eof | Io::Hangup => ControlFlow::Break(partial(done, EIO)),
        Io::NoMemory => ControlFlow::Break(partial(done, ENOMEM)),
        Io::Fault => ControlFlow::Break(partial(done, EFAULT)),
        Io::WouldBlock if file.is_nonblocking() => ControlFlow::Break(partial(done, EAGAIN)),
        Io::WouldBlock => match wait(queue, guard) {
            Ok(()) => ControlFlow::Continue(rest),
            Err(_) => ControlFlow::Break(interrupted(done)),
        },
    }
}

/// Poll bits of a readiness.
fn ready_mask(ready: Ready, end: End) -> u32 {
    let mut mask = 0;
    if ready.readable {
        mask |= POLLIN | POLLRDNORM;
    }
    if ready.writable {
        mask |= POLLOUT | POLLWRNORM;
    }
    if ready.priority {
        mask |= POLLPRI;
    }
    if ready.hangup {
        mask |= POLLHUP;
        if end == End::Slave {
            mask |= POLLERR;
        }
    }
    mask
}

/// `poll(2)` on the master.
pub(crate) fn master_poll<O: PairOwner>(pair: &Pair<O>, file: &File, table: &PollTable) -> u32 {
    table.register(file, &pair.pollers);
    let ready = pair.streams.lock().pty.master_ready();
    ready_mask(ready, End::Master)
}

/// `poll(2)` on the slave.
pub(crate) fn slave_poll<O: PairOwner>(pair: &Pair<O>, file: &File, table: &PollTable) -> u32 {
    table.register(file, &pair.pollers);
    let ready = pair.streams.lock().pty.slave_ready();
    ready_mask(ready, End::Slave)
}

/// Job control for a read of the slave (`n_tty`'s `job_control`): a
/// process of a background group of the tty's session gets `SIGTTIN`
/// (and the read restarts after it), or `EIO` when it ignores or blocks
/// `SIGTTIN` or its group is orphaned.
fn read_job_control(tty: &Tty) -> Result {
    if !tty.is_callers_ctty() {
        return Ok(());
    }
    let Some(foreground) = tty.foreground() else {
        return Ok(());
    };
    if foreground.has_current() {
        return Ok(());
    }
    if process::signal_ignored(SIGTTIN) || process::current_pgrp_orphaned() {
        return Err(EIO);
    }
    process::signal_current_pgrp(SIGTTIN);
    Err(ERESTARTSYS)
}

/// `read(2)` on the slave, one piece of the tty core's buffer at a time:
/// `more` comes in true for a continuation of the same read (which never
/// waits) and goes out true when the tty core should call again at once
/// (the rest of a canonical line, or more raw input), as `n_tty` does.
pub(crate) fn slave_read<O: PairOwner>(
    pair: &Pair<O>,
    tty: &Tty,
    file: &File,
    buf: &mut [u8],
    more: &mut bool,
) -> Result<usize> {
    if *more {
        return Ok(read_continuation(pair, tty, buf, more));
    }
    read_job_control(tty)?;
    let mut guard = pair.streams.lock();
    let mut copied = 0usize;
    let mut timer = ReadTimer::default();
    loop {
        let termios = guard.pty.termios();
        let (got, go_on) = match take_input(pair, &mut guard, tty, file, buf, copied) {
            ControlFlow::Continue(taken) => taken,
            ControlFlow::Break(r) => return r,
        };
        copied = copied.saturating_add(got);
        let next = if termios.lflag(ICANON) {
            canonical_next(copied, go_on, file, more)
        } else {
            raw_next(
                &termios,
                copied,
                buf.len(),
                go_on,
                timer.expired,
                file,
                more,
            )
        };
        let slept = match next {
            ReadNext::Return(r) => return r,
            ReadNext::Wait => wait(&pair.slave_readers, &mut guard),
            ReadNext::WaitTimed {
                ds,
                restart_on_byte,
            } => timer.wait(pair, &mut guard, ds, restart_on_byte && got > 0),
        };
        if slept.is_err() {
            return interrupted(copied);
        }
    }
}

/// The continuation of a slave read (`more` came in true): takes what
/// there is, never waits.
fn read_continuation<O: PairOwner>(
    pair: &Pair<O>,
    tty: &Tty,
    buf: &mut [u8],
    more: &mut bool,
) -> usize {
    *more = false;
    let mut guard = pair.streams.lock();
    let mut fx = Effects::default();
    let (io, go_on) = guard
        .pty
        .slave_read_piece(buf, Refill::WhenDrained, &mut fx);
    pair.settle(&guard, fx, Some(tty));
    match io {
        Io::Done(n) => {
            *more = go_on && n > 0;
            n
        }
        _ => 0,
    }
}

/// Takes the slave's input into `buf` after the `copied` bytes a read has
/// already: how many bytes came and whether the tty core should call again
/// at once, or what the read returns now.
fn take_input<O: PairOwner>(
    pair: &Pair<O>,
    guard: &mut Guard<'_, Streams, MutexBackend>,
    tty: &Tty,
    file: &File,
    buf: &mut [u8],
    copied: usize,
) -> ControlFlow<Result<usize>, (usize, bool)> {
    let rest = match after_mut(buf, copied) {
        Ok(rest) => rest,
        Err(e) => return ControlFlow::Break(partial(copied, e)),
    };
    let mut fx = Effects::default();
    let (io, go_on) = guard.pty.slave_read_part(rest, &mut fx);
    pair.settle(guard, fx, Some(tty));
    ControlFlow::Break(match io {
        Io::Done(n) => return ControlFlow::Continue((n, go_on)),
        // The master is gone (n_tty's TTY_OTHER_CLOSED): EIO, also for a
        // reader that was asleep; once the tty core has hung the file up,
        // reads do not reach us and see end of file.
        Io::Eof if guard.pty.life.master_closed => partial(copied, EIO),
        Io::Eof => Ok(copied),
        Io::Hangup => partial(copied, EIO),
        Io::NoMemory => partial(copied, ENOMEM),
        Io::Fault => partial(copied, EFAULT),
        Io::WouldBlock if tty::file_hung_up(file) => Ok(copied),
        Io::WouldBlock => return ControlFlow::Continue((0, go_on)),
    })
}

/// What a slave read does after taking the input there was.
enum ReadNext {
    /// Return this to the tty core.
    Return(Result<usize>),
    /// Sleep until woken.
    Wait,
    /// Sleep until woken or the `VTIME` timer (`ds` deciseconds) runs out;
    /// `restart_on_byte`: each byte copied restarts the timer.
    WaitTimed { ds: u8, restart_on_byte: bool },
}

/// Canonical mode: a line, or what there is of one, ends the read.
fn canonical_next(copied: usize, go_on: bool, file: &File, more: &mut bool) -> ReadNext {
    if copied > 0 {
        *more = go_on;
        return ReadNext::Return(Ok(copied));
    }
    if file.is_nonblocking() {
        return ReadNext::Return(Err(EAGAIN));
    }
    ReadNext::Wait
}

/// Raw mode: `VMIN` and `VTIME` decide ([`ReadPolicy`]).
fn raw_next(
    termios: &Termios,
    copied: usize,
    len: usize,
    go_on: bool,
    timer_expired: bool,
    file: &File,
    more: &mut bool,
) -> ReadNext {
    let policy = ReadPolicy::new(termios);
    if copied >= len {
        *more = go_on && copied >= usize::from(policy.vmin).max(1);
        return ReadNext::Return(Ok(copied));
    }
    let ReadDecision::Wait {
        timeout_ds,
        restart_on_byte,
    } = policy.decide(copied, len, timer_expired)
    else {
        return ReadNext::Return(Ok(copied));
    };
    if file.is_nonblocking() {
        return ReadNext::Return(partial(copied, EAGAIN));
    }
    match timeout_ds {
        None => ReadNext::Wait,
        Some(ds) => ReadNext::WaitTimed {
            ds,
            restart_on_byte,
        },
    }
}

/// The `VTIME` timer of one slave read.
#[derive(Default)]
struct ReadTimer {
    expired: bool,
    /// Jiffies left after the last wake-up.
    remaining: Option<usize>,
}

impl ReadTimer {
    /// Sleeps until woken or the timer of `ds` deciseconds runs out;
    /// `restart`: the timer starts again in full. `Err` when a signal
    /// interrupted.
    fn wait<O: PairOwner>(
        &mut self,
        pair: &Pair<O>,
        guard: &mut Guard<'_, Streams, MutexBackend>,
        ds: u8,
        restart: bool,
    ) -> Result {
        let full = msecs_to_jiffies(u32::from(ds).saturating_mul(100)) as usize;
        let left = match self.remaining {
            Some(left) if !restart => left,
            _ => full,
        };
        match pair
            .slave_readers
            .wait_interruptible_timeout(guard, left as _)
        {
            CondVarTimeoutResult::Timeout => self.expired = true,
            CondVarTimeoutResult::Woken { jiffies } => self.remaining = Some(jiffies as usize),
            CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
        }
        Ok(())
    }
}

/// `write(2)` on the slave (one piece of the tty core's buffer): output
/// processing into the master's head; blocks while output is stopped or
/// the master's head is full.
pub(crate) fn slave_write<O: PairOwner>(
    pair: &Pair<O>,
    tty: &Tty,
    file: &File,
    buf: &[u8],
) -> Result<usize> {
    let mut guard = pair.streams.lock();
    if guard.pty.termios().lflag(TOSTOP) {
        // Job control signals and may sleep: not under the lock.
        drop(guard);
        tty.check_change()?;
        guard = pair.streams.lock();
    }
    let mut rest = buf;
    while !rest.is_empty() {
        let off = buf.len() - rest.len();
        if tty::file_hung_up(file) {
            return partial(off, EIO);
        }
        let mut fx = Effects::default();
        let io = guard.pty.slave_write(rest, &mut fx);
        pair.settle(&guard, fx, Some(tty));
        rest = match write_went(&pair.slave_writers, &mut guard, file, io, rest, off) {
            ControlFlow::Continue(left) => left,
            ControlFlow::Break(r) => return r,
        };
    }
    Ok(buf.len())
}
