// SPDX-License-Identifier: GPL-2.0
//! What both ends of a pair do the same way: the stream heads' read and
//! write (blocking, `O_NONBLOCK`, signals, `VMIN`/`VTIME`), poll, and the
//! terminal ioctls that the tioc module answers.
//!
//! The streams themselves are pure logic ([`crate::pty_core::stream`]);
//! this file adds the lock, sleeping, and copies to and from user space.
//! User copies happen outside the lock, through a bounce buffer.

use super::pair::{Pair, Streams};
use crate::pty_core::ldterm::{ReadDecision, ReadPolicy};
use crate::pty_core::stream::{Effects, Io, Ready, RequestError, Winsize};
use crate::pty_core::termios::{Termios, ICANON};
use crate::seam::file::File;
use crate::seam::poll::{events::*, PollTable};
use crate::seam::process::ProcessGroup;
use crate::uapi::*;
use kernel::{
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        CondVarTimeoutResult,
    },
    time::msecs_to_jiffies,
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

/// Which end of the pair a file is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum End {
    Master,
    Slave,
}

impl End {
    pub(crate) fn is_master(self) -> bool {
        self == End::Master
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            End::Master => 0,
            End::Slave => 1,
        }
    }
}

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

/// Sleeps until woken; `Err` when a signal interrupted.
fn wait(pair: &Pair, guard: &mut Guard<'_, Streams, MutexBackend>) -> Result {
    if pair.waiters.wait_interruptible(guard) {
        Err(ERESTARTSYS)
    } else {
        Ok(())
    }
}

/// `read(2)` on either end.
pub(crate) fn read(
    pair: &Pair,
    end: End,
    file: &File,
    writer: &mut UserSliceWriter,
) -> Result<usize> {
    let want = writer.len();
    if want == 0 {
        return Ok(0);
    }
    let mut bounce = Bounce::new(want)?;
    let buf = bounce.as_mut();
    let copied = match end {
        End::Master => read_master(pair, file, buf)?,
        End::Slave => read_slave(pair, file, buf)?,
    };
    writer.write_slice(buf.get(..copied).unwrap_or(&[]))?;
    Ok(copied)
}

fn read_master(pair: &Pair, file: &File, buf: &mut [u8]) -> Result<usize> {
    let mut guard = pair.streams.lock();
    loop {
        let mut fx = Effects::default();
        let io = guard.pty.master_read(buf, &mut fx);
        pair.settle(&guard, fx);
        match io {
            Io::Done(n) => return Ok(n),
            Io::Eof => return Ok(0),
            Io::Hangup => return Err(EIO),
            Io::NoMemory => return Err(ENOMEM),
            Io::WouldBlock if file.is_nonblocking() => return Err(EAGAIN),
            Io::WouldBlock => wait(pair, &mut guard)?,
        }
    }
}

/// The slave's read: one line in canonical mode; `VMIN`/`VTIME` rules
/// otherwise, with the timer on the pair's wait queue.
fn read_slave(pair: &Pair, file: &File, buf: &mut [u8]) -> Result<usize> {
    let mut guard = pair.streams.lock();
    let mut copied = 0usize;
    let mut timer_expired = false;
    let mut remaining: Option<usize> = None;
    let mut waited = false;
    loop {
        let termios = guard.pty.termios();
        let mut fx = Effects::default();
        let io = guard
            .pty
            .slave_read(buf.get_mut(copied..).unwrap_or(&mut []), &mut fx);
        pair.settle(&guard, fx);
        let mut got = 0;
        match io {
            Io::Done(n) => got = n,
            // A reader asleep when the master closed gets EIO (n_tty's
            // TTY_OTHER_CLOSED); reads after the hangup see end of file.
            Io::Eof if waited && copied == 0 && guard.pty.life.master_closed => return Err(EIO),
            Io::Eof => return Ok(copied),
            Io::Hangup => return if copied > 0 { Ok(copied) } else { Err(EIO) },
            Io::NoMemory => return if copied > 0 { Ok(copied) } else { Err(ENOMEM) },
            Io::WouldBlock => {}
        }
        copied = copied.saturating_add(got);
        if termios.lflag(ICANON) {
            if copied > 0 {
                return Ok(copied);
            }
            if file.is_nonblocking() {
                return Err(EAGAIN);
            }
            if wait(pair, &mut guard).is_err() {
                return interrupted(copied);
            }
            waited = true;
            continue;
        }
        if copied >= buf.len() {
            return Ok(copied);
        }
        let ReadDecision::Wait {
            timeout_ds,
            restart_on_byte,
        } = ReadPolicy::new(&termios).decide(copied, buf.len(), timer_expired)
        else {
            return Ok(copied);
        };
        if file.is_nonblocking() {
            return if copied > 0 { Ok(copied) } else { Err(EAGAIN) };
        }
        waited = true;
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

/// `write(2)` on either end: blocks until everything is taken (or a
/// signal, or `O_NONBLOCK`), returning a partial count when some went.
pub(crate) fn write(
    pair: &Pair,
    end: End,
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
            return if written > 0 { Ok(written) } else { Err(e) };
        }
        let mut off = 0usize;
        let mut guard = pair.streams.lock();
        while off < chunk {
            let mut fx = Effects::default();
            let rest = data.get(off..).unwrap_or(&[]);
            let io = match end {
                End::Master => guard.pty.master_write(rest, &mut fx),
                End::Slave => guard.pty.slave_write(rest, &mut fx),
            };
            pair.settle(&guard, fx);
            let done = written.saturating_add(off);
            match io {
                Io::Done(n) => off = off.saturating_add(n),
                Io::Eof | Io::Hangup => return if done > 0 { Ok(done) } else { Err(EIO) },
                Io::NoMemory => return if done > 0 { Ok(done) } else { Err(ENOMEM) },
                Io::WouldBlock if file.is_nonblocking() => {
                    return if done > 0 { Ok(done) } else { Err(EAGAIN) }
                }
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

/// `poll(2)` on either end.
pub(crate) fn poll(pair: &Pair, end: End, file: &File, table: &PollTable) -> u32 {
    table.register(file, &pair.pollers);
    let guard = pair.streams.lock();
    let ready: Ready = match end {
        End::Master => guard.pty.master_ready(),
        End::Slave => guard.pty.slave_ready(),
    };
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

fn request(r: core::result::Result<(), RequestError>) -> Result<isize> {
    match r {
        Ok(()) => Ok(0),
        Err(RequestError::Invalid) => Err(EINVAL),
        Err(RequestError::Hangup) => Err(EIO),
    }
}

/// `BOTHER`: the speed is given in `c_ispeed`/`c_ospeed`.
const BOTHER: u32 = 0o010000;
const CBAUD: u32 = 0o010017;
/// `IBSHIFT`: where the input speed code sits in `c_cflag` (`CIBAUD`).
const IBSHIFT: u32 = 16;

/// (input, output) speeds after a `TCSETS*`, as `tty_termios_baud_rate`
/// and `tty_termios_input_baud_rate` compute them.
/// `BOTHER` without termios2 numbers (plain `TCSETS`) keeps the speeds
/// already set, as the kernel's stored `c_ispeed`/`c_ospeed` stay.
pub(crate) fn speeds_of(cflag: u32, given: Option<[u32; 2]>, old: [u32; 2]) -> [u32; 2] {
    let [old_in, old_out] = old;
    let out_code = cflag & CBAUD;
    let in_code = (cflag >> IBSHIFT) & CBAUD;
    let pick = |code: u32, given: Option<u32>, keep: u32, fallback: u32| match code {
        BOTHER => given.unwrap_or(keep),
        0 => fallback,
        c => baud_rate(c),
    };
    let ospeed = pick(out_code, given.map(|g| g[1]), old_out, 0);
    // An input code of 0 means "same as output".
    let ispeed = pick(in_code, given.map(|g| g[0]), old_in, ospeed);
    [ispeed, ospeed]
}

/// Speed in bits/s of a `CBAUD` code, for `struct termios2`.
fn baud_rate(code: u32) -> u32 {
    const RATES: [u32; 16] = [
        0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
    ];
    const HIGH: [u32; 15] = [
        57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000,
        2500000, 3000000, 3500000, 4000000,
    ];
    const CBAUDEX: u32 = 0o010000;
    if code & CBAUDEX == 0 {
        RATES.get((code & 0o17) as usize).copied().unwrap_or(0)
    } else {
        HIGH.get(((code & 0o17) as usize).wrapping_sub(1))
            .copied()
            .unwrap_or(0)
    }
}

/// Waits until no stream of the pair is frozen (a frozen stream passes no
/// message that changes state); returns the lock held.
pub(crate) fn lock_thawed<'a>(
    pair: &'a Pair,
    file: &File,
) -> Result<Guard<'a, Streams, MutexBackend>> {
    let mut guard = pair.streams.lock();
    while guard.pty.freeze.any() {
        if file.is_nonblocking() {
            return Err(EAGAIN);
        }
        wait(pair, &mut guard)?;
    }
    Ok(guard)
}

/// ckpt_pty's own ioctls on either end; `None` when `cmd` is not one.
pub(crate) fn ckpt_ioctl(pair: &Pair, end: End, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let slot = end.slot();
    let r = match cmd {
        CKPT_FREEZE => {
            let mut guard = pair.streams.lock();
            guard.pty.freeze(end.is_master());
            if let Some(st) = guard.stats.get_mut(slot) {
                st.last_op = CKPT_OP_FREEZE;
            }
            Ok(0)
        }
        CKPT_THAW => {
            let mut guard = pair.streams.lock();
            let mut fx = Effects::default();
            guard.pty.thaw(end.is_master(), &mut fx);
            if let Some(st) = guard.stats.get_mut(slot) {
                st.last_op = CKPT_OP_THAW;
            }
            pair.settle(&guard, fx);
            Ok(0)
        }
        CKPT_CHECKPOINT => super::restart::checkpoint_ioctl(pair, end, arg),
        CKPT_SOCKET_SET => crate::seam::socket::identity(arg as i32).map(|id| {
            pair.streams.lock().socket = Some(id);
            0
        }),
        CKPT_SOCKET_GET => {
            let id = pair.streams.lock().socket;
            match id {
                Some(id) => UserSlice::new(arg, core::mem::size_of::<SocketRecord>())
                    .writer()
                    .write(&id)
                    .map(|()| 0),
                None => Err(ENOENT),
            }
        }
        CKPT_RESTART => super::restart::restart_ioctl(pair, end, arg),
        CKPT_STATUS => {
            let status = stream_status(pair, end);
            UserSlice::new(arg, core::mem::size_of::<StreamStatus>())
                .writer()
                .write(&status)
                .map(|()| 0)
        }
        _ => return None,
    };
    Some(r)
}

fn stream_status(pair: &Pair, end: End) -> StreamStatus {
    let guard = pair.streams.lock();
    let st = guard.stats.get(end.slot()).copied().unwrap_or_default();
    let pty = &guard.pty;
    let mut frozen = 0;
    if pty.freeze.master {
        frozen |= CKPT_FROZEN_MASTER;
    }
    if pty.freeze.slave {
        frozen |= CKPT_FROZEN_SLAVE;
    }
    let to_slave = pty
        .slave
        .pts
        .input
        .len()
        .saturating_add(pty.slave.ldterm.processed_input().len());
    StreamStatus {
        support: CKPT_SUPPORT_CHECKPOINT | CKPT_SUPPORT_RESTART,
        frozen,
        last_op: st.last_op,
        index: pair.index,
        end: if end.is_master() { 1 } else { 2 },
        mode: u32::from(pair.is_bsd()),
        to_master: pty.master.head.read.len() as u32,
        to_slave: to_slave as u32,
        checkpoints: st.checkpoints,
        restarts: st.restarts,
        checkpoint_bytes: st.checkpoint_bytes,
        restart_bytes: st.restart_bytes,
    }
}

/// The terminal ioctls both ends answer (tioc and ldterm settings).
pub(crate) fn tty_ioctl(pair: &Pair, end: End, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    if let Some(r) = ckpt_ioctl(pair, end, cmd, arg) {
        return r;
    }
    let user = |len| UserSlice::new(arg, len);
    match cmd {
        TCGETS | TCGETS2 => {
            let (t, speeds) = {
                let guard = pair.streams.lock();
                (guard.pty.termios(), guard.speeds)
            };
            let two = cmd == TCGETS2;
            let mut w = user(Termios::SIZE + if two { 8 } else { 0 }).writer();
            w.write_slice(&t.to_bytes())?;
            if two {
                for speed in speeds {
                    w.write_slice(&speed.to_ne_bytes())?;
                }
            }
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            let two = matches!(cmd, TCSETS2 | TCSETSW2 | TCSETSF2);
            // termios2 is read whole, as Linux does (a short buffer faults).
            let mut bytes = [0u8; Termios::SIZE + 8];
            let len = Termios::SIZE + if two { 8 } else { 0 };
            user(len)
                .reader()
                .read_slice(bytes.get_mut(..len).unwrap_or(&mut []))?;
            let (head, tail) = bytes.split_at(Termios::SIZE);
            let t = Termios::from_slice(head).ok_or(EINVAL)?;
            let asked = [
                u32::from_ne_bytes(
                    tail.get(..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default(),
                ),
                u32::from_ne_bytes(
                    tail.get(4..8)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default(),
                ),
            ];
            let mut guard = lock_thawed(pair, file)?;
            let mut fx = Effects::default();
            guard
                .pty
                .set_termios(t, cmd == TCSETSF || cmd == TCSETSF2, &mut fx);
            // Speeds mean nothing to a pty but are kept as given: BOTHER
            // takes termios2's numbers, a CBAUD code its table speed.
            let cflag = guard.pty.termios().c_cflag;
            guard.speeds = speeds_of(cflag, two.then_some(asked), guard.speeds);
            pair.settle(&guard, fx);
            Ok(0)
        }
        // A pty has no line to drain or break to send.
        TCSBRK | TCSBRKP => Ok(0),
        TCXONC | TCFLSH => {
            let mut guard = lock_thawed(pair, file)?;
            let mut fx = Effects::default();
            let arg = arg as u32;
            let r = match (cmd, end) {
                (TCXONC, End::Master) => guard.pty.master_flow(arg, &mut fx),
                (TCXONC, End::Slave) => guard.pty.slave_flow(arg, &mut fx),
                (_, End::Master) => guard.pty.master_flush(arg, &mut fx),
                (_, End::Slave) => guard.pty.slave_flush(arg, &mut fx),
            };
            pair.settle(&guard, fx);
            request(r)
        }
        TIOCGWINSZ => {
            let ws = pair.streams.lock().pty.winsize();
            user(Winsize::SIZE).writer().write_slice(&ws.to_bytes())?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let mut bytes = [0u8; Winsize::SIZE];
            user(Winsize::SIZE).reader().read_slice(&mut bytes)?;
            let mut guard = lock_thawed(pair, file)?;
            let mut fx = Effects::default();
            guard.pty.set_winsize(Winsize::from_bytes(bytes), &mut fx);
            pair.settle(&guard, fx);
            Ok(0)
        }
        TIOCGPGRP => {
            let nr = pair
                .streams
                .lock()
                .foreground
                .as_ref()
                .map_or(0, |pg| pg.nr());
            user(4).writer().write(&nr)?;
            Ok(0)
        }
        TIOCSPGRP => {
            let nr: i32 = user(4).reader().read()?;
            if nr < 0 {
                return Err(EINVAL);
            }
            let pg = ProcessGroup::from_nr(nr).ok_or(ESRCH)?;
            let old = lock_thawed(pair, file)?.foreground.replace(pg);
            // The old reference is dropped outside the lock.
            drop(old);
            Ok(0)
        }
        // Linux ptys report 0: written bytes are at the other end at once.
        TIOCOUTQ => {
            user(4).writer().write(&0i32)?;
            Ok(0)
        }
        FIONREAD => {
            let guard = pair.streams.lock();
            let n = match end {
                End::Master => guard.pty.master_inq(),
                End::Slave => guard.pty.slave_inq(),
            };
            drop(guard);
            user(4).writer().write(&(n.min(i32::MAX as usize) as i32))?;
            Ok(0)
        }
        TIOCEXCL | TIOCNXCL => {
            if let Some(x) = lock_thawed(pair, file)?.exclusive.get_mut(end.slot()) {
                *x = cmd == TIOCEXCL;
            }
            Ok(0)
        }
        TIOCGEXCL => {
            let x = pair
                .streams
                .lock()
                .exclusive
                .get(end.slot())
                .copied()
                .unwrap_or(false);
            user(4).writer().write(&i32::from(x))?;
            Ok(0)
        }
        // The only line discipline here is ldterm, reported as N_TTY.
        TIOCGETD => {
            user(4).writer().write(&0i32)?;
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// The slave's ioctls: a hung-up slave answers like Linux's
/// `hung_up_tty_ioctl`.
pub(crate) fn slave_ioctl(pair: &Pair, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    if pair.streams.lock().pty.life.master_closed {
        return Err(if cmd == TIOCSPGRP { ENOTTY } else { EIO });
    }
    // Linux answers TIOCGPTPEER on a slave with EIO (not its master).
    if cmd == TIOCGPTPEER {
        return Err(EIO);
    }
    tty_ioctl(pair, End::Slave, file, cmd, arg)
}

/// Whether `end` was made exclusive (`TIOCEXCL`).
pub(crate) fn is_exclusive(pair: &Pair, end: End) -> bool {
    pair.streams
        .lock()
        .exclusive
        .get(end.slot())
        .copied()
        .unwrap_or(false)
}
