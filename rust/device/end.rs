// SPDX-License-Identifier: GPL-2.0
//! The stream heads' data path: read, write and poll of the master (our own
//! character device, user copies through a bounce buffer) and of the slave
//! (called by the tty core through our line discipline, on its kernel
//! buffers): blocking, `O_NONBLOCK`, signals, `VMIN`/`VTIME`, job control.
//!
//! The streams themselves are pure logic ([`crate::pty_core::stream`]);
//! this file adds the lock, sleeping and copies. The lock is never held
//! across a user copy.

use super::pair::{Pair, Streams};
use crate::pty_core::ldterm::{ReadDecision, ReadPolicy};
use crate::pty_core::stream::{Effects, Io, Ready};
use crate::pty_core::termios::{ICANON, TOSTOP};
use crate::pty_core::End;
use crate::seam::file::File;
use crate::seam::poll::{events::*, PollTable};
use crate::seam::process::{self, signal::SIGTTIN};
use crate::seam::tty::{self, Tty};
use kernel::{
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        CondVarTimeoutResult,
    },
    time::msecs_to_jiffies,
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// Largest single transfer between user space and the streams: a whole
/// canonical line (`N_TTY_BUF_SIZE`) fits, so a line is read in one step.
const CHUNK: usize = 4096;

/// Transfers up to this size use the stack instead of an allocation.
const SMALL: usize = 128;

/// Scratch memory for one transfer.
enum Bounce {
    Small([u8; SMALL], usize),
    Large(KVec<u8>),
}

impl Bounce {
    fn new(len: usize) -> Result<Self> {
        let len = len.min(CHUNK);
        if len <= SMALL {
            Ok(Bounce::Small([0; SMALL], len))
        } else {
            Ok(Bounce::Large(KVec::from_elem(0u8, len, GFP_KERNEL)?))
        }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        match self {
            Bounce::Small(buf, len) => buf.get_mut(..*len).unwrap_or(&mut []),
            Bounce::Large(v) => v.as_mut_slice(),
        }
    }
}

/// `-ERESTARTSYS` when nothing moved yet, else the partial count.
fn interrupted(done: usize) -> Result<usize> {
    if done > 0 {
        Ok(done)
    } else {
        Err(ERESTARTSYS)
    }
}

/// The partial count, or `e` when nothing moved.
fn partial(done: usize, e: Error) -> Result<usize> {
    if done > 0 {
        Ok(done)
    } else {
        Err(e)
    }
}

/// Sleeps until woken; `Err` when a signal interrupted.
fn wait(pair: &Pair, guard: &mut Guard<'_, Streams, MutexBackend>) -> Result {
    if pair.waiters.wait_interruptible(guard) {
        Err(ERESTARTSYS)
    } else {
        Ok(())
    }
}

/// Waits until no stream of the pair is frozen (a frozen stream passes no
/// message that changes state); returns the lock held. `nonblocking`:
/// `EAGAIN` instead of waiting.
pub(crate) fn lock_thawed(
    pair: &Pair,
    nonblocking: bool,
) -> Result<Guard<'_, Streams, MutexBackend>> {
    let mut guard = pair.streams.lock();
    while guard.pty.freeze.any() {
        if nonblocking {
            return Err(EAGAIN);
        }
        wait(pair, &mut guard)?;
    }
    Ok(guard)
}

/// `read(2)` on the master.
pub(crate) fn master_read(pair: &Pair, file: &File, writer: &mut UserSliceWriter) -> Result<usize> {
    let want = writer.len();
    if want == 0 {
        return Ok(0);
    }
    let mut bounce = Bounce::new(want)?;
    let buf = bounce.as_mut();
    let mut guard = pair.streams.lock();
    let copied = loop {
        let mut fx = Effects::default();
        let io = guard.pty.master_read(buf, &mut fx);
        pair.settle(&guard, fx, None);
        match io {
            Io::Done(n) => break n,
            Io::Eof => return Ok(0),
            Io::Hangup => return Err(EIO),
            Io::NoMemory => return Err(ENOMEM),
            Io::WouldBlock if file.is_nonblocking() => return Err(EAGAIN),
            Io::WouldBlock => wait(pair, &mut guard)?,
        }
    };
    drop(guard);
    writer.write_slice(buf.get(..copied).unwrap_or(&[]))?;
    Ok(copied)
}

/// `write(2)` on the master: blocks until everything is taken (or a
/// signal, or `O_NONBLOCK`), returning a partial count when some went.
pub(crate) fn master_write(
    pair: &Pair,
    file: &File,
    reader: &mut UserSliceReader,
) -> Result<usize> {
    let total = reader.len();
    let mut bounce = Bounce::new(total)?;
    let buf = bounce.as_mut();
    let mut written = 0usize;
    while written < total {
        let chunk = (total - written).min(buf.len());
        let Some(data) = buf.get_mut(..chunk) else {
            break;
        };
        if let Err(e) = reader.read_slice(data) {
            return partial(written, e);
        }
        let mut off = 0usize;
        let mut guard = pair.streams.lock();
        while off < chunk {
            let mut fx = Effects::default();
            let io = guard
                .pty
                .master_write(data.get(off..).unwrap_or(&[]), &mut fx);
            pair.settle(&guard, fx, None);
            let done = written.saturating_add(off);
            match io {
                Io::Done(n) => off = off.saturating_add(n),
                Io::Eof | Io::Hangup => return partial(done, EIO),
                Io::NoMemory => return partial(done, ENOMEM),
                Io::WouldBlock if file.is_nonblocking() => return partial(done, EAGAIN),
                Io::WouldBlock => {
                    if wait(pair, &mut guard).is_err() {
                        return interrupted(done);
                    }
                }
            }
        }
        written = written.saturating_add(chunk);
    }
    Ok(written)
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
pub(crate) fn master_poll(pair: &Pair, file: &File, table: &PollTable) -> u32 {
    table.register(file, &pair.pollers);
    let ready = pair.streams.lock().pty.master_ready();
    ready_mask(ready, End::Master)
}

/// `poll(2)` on the slave.
pub(crate) fn slave_poll(pair: &Pair, file: &File, table: &PollTable) -> u32 {
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
pub(crate) fn slave_read(
    pair: &Pair,
    tty: &Tty,
    file: &File,
    buf: &mut [u8],
    more: &mut bool,
) -> Result<usize> {
    if *more {
        *more = false;
        let mut guard = pair.streams.lock();
        let mut fx = Effects::default();
        let (io, go_on) = guard.pty.slave_read_part(buf, &mut fx);
        pair.settle(&guard, fx, Some(tty));
        return Ok(match io {
            Io::Done(n) => {
                *more = go_on && n > 0;
                n
            }
            _ => 0,
        });
    }
    read_job_control(tty)?;
    let mut guard = pair.streams.lock();
    let mut copied = 0usize;
    let mut timer_expired = false;
    let mut remaining: Option<usize> = None;
    loop {
        let termios = guard.pty.termios();
        let mut fx = Effects::default();
        let rest = buf.get_mut(copied..).unwrap_or(&mut []);
        let (io, go_on) = guard.pty.slave_read_part(rest, &mut fx);
        pair.settle(&guard, fx, Some(tty));
        let mut got = 0;
        match io {
            Io::Done(n) => got = n,
            // The master is gone (n_tty's TTY_OTHER_CLOSED): EIO, also for
            // a reader that was asleep; once the tty core has hung the file
            // up, reads do not reach us and see end of file.
            Io::Eof if guard.pty.life.master_closed => return partial(copied, EIO),
            Io::Eof => return Ok(copied),
            Io::Hangup => return partial(copied, EIO),
            Io::NoMemory => return partial(copied, ENOMEM),
            Io::WouldBlock if tty::file_hung_up(file) => return Ok(copied),
            Io::WouldBlock => {}
        }
        copied = copied.saturating_add(got);
        if termios.lflag(ICANON) {
            if copied > 0 {
                *more = go_on;
                return Ok(copied);
            }
            if file.is_nonblocking() {
                return Err(EAGAIN);
            }
            if wait(pair, &mut guard).is_err() {
                return interrupted(copied);
            }
            continue;
        }
        let policy = ReadPolicy::new(&termios);
        if copied >= buf.len() {
            *more = go_on && copied >= usize::from(policy.vmin).max(1);
            return Ok(copied);
        }
        let ReadDecision::Wait {
            timeout_ds,
            restart_on_byte,
        } = policy.decide(copied, buf.len(), timer_expired)
        else {
            return Ok(copied);
        };
        if file.is_nonblocking() {
            return partial(copied, EAGAIN);
        }
        let Some(ds) = timeout_ds else {
            if wait(pair, &mut guard).is_err() {
                return interrupted(copied);
            }
            continue;
        };
        let full = msecs_to_jiffies(u32::from(ds).saturating_mul(100)) as usize;
        let left = match remaining {
            Some(left) if !(restart_on_byte && got > 0) => left,
            _ => full,
        };
        match pair
            .waiters
            .wait_interruptible_timeout(&mut guard, left as _)
        {
            CondVarTimeoutResult::Timeout => timer_expired = true,
            CondVarTimeoutResult::Woken { jiffies } => remaining = Some(jiffies as usize),
            CondVarTimeoutResult::Signal { .. } => return interrupted(copied),
        }
    }
}

/// `write(2)` on the slave (one piece of the tty core's buffer): output
/// processing into the master's head; blocks while output is stopped or
/// the master's head is full.
pub(crate) fn slave_write(pair: &Pair, tty: &Tty, file: &File, buf: &[u8]) -> Result<usize> {
    let tostop = pair.streams.lock().pty.termios().lflag(TOSTOP);
    if tostop {
        tty.check_change()?;
    }
    let mut guard = pair.streams.lock();
    let mut off = 0usize;
    while off < buf.len() {
        if tty::file_hung_up(file) {
            return partial(off, EIO);
        }
        let mut fx = Effects::default();
        let io = guard
            .pty
            .slave_write(buf.get(off..).unwrap_or(&[]), &mut fx);
        pair.settle(&guard, fx, Some(tty));
        match io {
            Io::Done(n) => off = off.saturating_add(n),
            Io::Eof | Io::Hangup => return partial(off, EIO),
            Io::NoMemory => return partial(off, ENOMEM),
            Io::WouldBlock if file.is_nonblocking() => return partial(off, EAGAIN),
            Io::WouldBlock => {
                if wait(pair, &mut guard).is_err() {
                    return interrupted(off);
                }
            }
        }
    }
    Ok(off)
}
