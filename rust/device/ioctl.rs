// SPDX-License-Identifier: GPL-2.0
//! Ioctls: the master's (what a native pty master answers, applied to our
//! slave tty where Linux applies them to `tty->link`), the slave line
//! discipline's, and ckpt_pty's own on either end. Each command has a named
//! handler that does its own user copies.

use super::end::lock_thawed;
use super::instance::Instance;
use super::pair::{FreezeHolder, Pair, StreamStats};
use super::restart;
use super::settings;
use super::uaccess::{put_i32, read_arg, write_arg};
use crate::pty_core::stream::{Effects, RequestError, Winsize};
use crate::pty_core::End;
use crate::seam::file::flags::{O_ACCMODE, O_APPEND, O_CLOEXEC, O_NOCTTY, O_NONBLOCK};
use crate::seam::file::File;
use crate::seam::fs::{InstanceRoot, OwnedFile};
use crate::seam::process::signal::*;
use crate::seam::tty::{SlaveFile, Tty};
use crate::uapi::*;
use kernel::{prelude::*, uaccess::UserSlice};

fn request(r: core::result::Result<(), RequestError>) -> Result<isize> {
    r.map(|()| 0).map_err(|e| e.errno().into())
}

/// The termios commands of the tty core (`tty_mode_ioctl`), which the
/// master forwards to its slave tty as Linux does.
const LDISC_TERMIOS_COMMANDS: [u32; 16] = [
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCGETS2,
    TCSETS2,
    TCSETSW2,
    TCSETSF2,
    TCGETA,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TIOCGLCKTRMIOS,
    TIOCSLCKTRMIOS,
    TIOCGSOFTCAR,
    TIOCSSOFTCAR,
];

/// Termios commands that change settings (they wait while frozen).
fn sets_termios(cmd: u32) -> bool {
    matches!(
        cmd,
        TCSETS
            | TCSETSW
            | TCSETSF
            | TCSETS2
            | TCSETSW2
            | TCSETSF2
            | TCSETA
            | TCSETAW
            | TCSETAF
            | TIOCSLCKTRMIOS
            | TIOCSSOFTCAR
    )
}

/// The tty core's termios ioctls on the slave tty (`tty_mode_ioctl`):
/// through either end, as Linux answers a master's with its slave's.
fn termios_ioctl(
    pair: &Pair<Instance>,
    tty: &Tty,
    nonblocking: bool,
    cmd: u32,
    arg: usize,
) -> Result<isize> {
    if sets_termios(cmd) {
        drop(lock_thawed(pair, nonblocking)?);
    }
    let r = tty.mode_ioctl(cmd, arg);
    if cmd == TIOCSLCKTRMIOS {
        // Whatever got locked or unlocked, our ldisc stays.
        tty.lock_line();
    }
    r
}

// ---------------------------------------------------------------------
// ckpt_pty's own ioctls, either end
// ---------------------------------------------------------------------

/// ckpt_pty's own ioctls on either end; `None` when `cmd` is not one.
pub(crate) fn ckpt_ioctl(
    pair: &Pair<Instance>,
    end: End,
    cmd: u32,
    arg: usize,
) -> Option<Result<isize>> {
    let r = match cmd {
        CKPT_FREEZE => freeze(pair, end),
        CKPT_THAW => thaw(pair, end),
        CKPT_CHECKPOINT => restart::checkpoint_ioctl(pair, end, arg),
        CKPT_RESTART => restart::restart_ioctl(pair, end, arg),
        CKPT_STATUS => status(pair, end, arg),
        CKPT_SOCKET_SET => socket_set(pair, arg),
        CKPT_SOCKET_GET => socket_get(pair, arg),
        _ => return None,
    };
    Some(r)
}

/// `CKPT_FREEZE`: the end's files hold the freeze (see [`FreezeHolder`]).
/// Stopping a stream is a restore privilege; a restoring pair's freeze
/// belongs to its session.
fn freeze(pair: &Pair<Instance>, end: End) -> Result<isize> {
    may_stop(pair)?;
    let mut guard = pair.streams.lock();
    guard.freeze_for(end, FreezeHolder::Files);
    guard.stats.of_mut(end).last_op = CKPT_OP_FREEZE;
    Ok(0)
}

/// `CKPT_THAW`: ends the end's freeze, whoever held it (also a migration
/// freeze: the explicit, privileged way back).
fn thaw(pair: &Pair<Instance>, end: End) -> Result<isize> {
    may_stop(pair)?;
    let mut guard = pair.streams.lock();
    let mut fx = Effects::default();
    guard.thaw(end, &mut fx);
    guard.stats.of_mut(end).last_op = CKPT_OP_THAW;
    pair.settle(&guard, fx, None);
    Ok(0)
}

/// `EPERM` without the restore privilege over the pair's instance,
/// `EBUSY` while a restart session holds the pair.
pub(crate) fn may_stop(pair: &Pair<Instance>) -> Result {
    if !pair.instance.caller_may_restore() {
        return Err(EPERM);
    }
    if pair.is_restoring() {
        return Err(EBUSY);
    }
    Ok(())
}

/// `CKPT_SOCKET_SET`: what a restart matches the pair's socket by, so
/// recording it is a restore privilege.
fn socket_set(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    if !pair.instance.caller_may_restore() {
        return Err(EPERM);
    }
    let id = crate::seam::socket::identity(arg as i32)?;
    pair.streams.lock().socket = Some(id);
    Ok(0)
}

fn socket_get(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let id = pair.streams.lock().socket.ok_or(ENOENT)?;
    write_arg(arg, &id)?;
    Ok(0)
}

fn status(pair: &Pair<Instance>, end: End, arg: usize) -> Result<isize> {
    let status = {
        let guard = pair.streams.lock();
        let st: StreamStats = guard.stats.of(end);
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
    };
    write_arg(arg, &status)?;
    Ok(0)
}

// ---------------------------------------------------------------------
// The master
// ---------------------------------------------------------------------

/// Every ioctl of a master file.
pub(crate) fn master_ioctl(
    pair: &Pair<Instance>,
    root: &InstanceRoot,
    file: &File,
    cmd: u32,
    arg: usize,
) -> Result<isize> {
    if let Some(r) = ckpt_ioctl(pair, End::Master, cmd, arg) {
        return r;
    }
    match cmd {
        TIOCGPTN if !pair.is_bsd() => put_i32(arg, pair.index as i32),
        TIOCGPTPEER if !pair.is_bsd() => open_peer(pair, root, arg),
        TIOCSPTLCK => set_lock(pair, arg),
        TIOCGPTLCK => put_i32(arg, i32::from(pair.is_locked())),
        TIOCPKT => set_packet(pair, file, arg),
        TIOCGPKT => get_packet(pair, arg),
        TIOCSIG => send_signal(pair, arg),
        TIOCGWINSZ => get_winsize(pair, arg),
        TIOCSWINSZ => master_set_winsize(pair, file, arg),
        TIOCGPGRP => master_get_pgrp(pair, arg),
        TIOCSPGRP | TIOCSCTTY => forward_to_slave(pair, cmd, arg),
        TIOCGSID => master_get_sid(pair, arg),
        TCFLSH | TCXONC => master_flow_or_flush(pair, file, cmd, arg),
        FIONREAD => master_inq(pair, arg),
        // Linux ptys report 0: written bytes are at the other end at once.
        TIOCOUTQ => put_i32(arg, 0),
        TIOCEXCL | TIOCNXCL => set_master_exclusive(pair, file, cmd == TIOCEXCL),
        TIOCGEXCL => get_master_exclusive(pair, arg),
        // The master's own discipline is N_TTY's place on Linux: raw.
        TIOCGETD => put_i32(arg, 0),
        // A pty has no line to drain or break to send.
        TCSBRK | TCSBRKP => Ok(0),
        c if LDISC_TERMIOS_COMMANDS.contains(&c) => master_termios(pair, file, cmd, arg),
        _ => Err(ENOTTY),
    }
}

fn clamp(n: usize) -> i32 {
    n.min(i32::MAX as usize) as i32
}

/// `TIOCGPKT`: whether packet mode is on.
fn get_packet(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let on = pair.streams.lock().pty.master.ptm.packet;
    put_i32(arg, i32::from(on))
}

/// `FIONREAD` on the master: bytes waiting to be read.
fn master_inq(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let n = pair.streams.lock().pty.master_inq();
    put_i32(arg, clamp(n))
}

/// `TIOCGEXCL` on the master.
fn get_master_exclusive(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let on = pair.streams.lock().master_exclusive;
    put_i32(arg, i32::from(on))
}

/// The termios commands through the master act on the slave tty.
fn master_termios(pair: &Pair<Instance>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    with_slave_tty(pair, |tty| {
        termios_ioctl(pair, tty, file.is_nonblocking(), cmd, arg)
    })
}

/// Runs `f` on the slave tty (outside the pair lock); `EIO` once the
/// slave is gone.
fn with_slave_tty(pair: &Pair<Instance>, f: impl FnOnce(&Tty) -> Result<isize>) -> Result<isize> {
    let file: SlaveFile = pair.slave_file().ok_or(EIO)?;
    f(file.tty())
}

/// `TIOCGPTPEER`: the slave node opened for the caller, without a path
/// walk (a chroot or another mount namespace cannot redirect it).
fn open_peer(pair: &Pair<Instance>, root: &InstanceRoot, arg: usize) -> Result<isize> {
    /// The flags `ptm_open_peer` honours.
    const PEER_FLAGS: u32 = O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_APPEND | O_CLOEXEC;
    let flags = arg as u32 & PEER_FLAGS;
    let file: OwnedFile = pair.open_slave_node(root, flags)?;
    Ok(file.install_fd(flags & O_CLOEXEC != 0)? as isize)
}

fn set_lock(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    pair.set_locked(read_arg::<i32>(arg)? != 0);
    Ok(0)
}

fn set_packet(pair: &Pair<Instance>, file: &File, arg: usize) -> Result<isize> {
    let on = read_arg::<i32>(arg)? != 0;
    lock_thawed(pair, file.is_nonblocking())?.pty.set_packet(on);
    Ok(0)
}

/// `TIOCSIG`, Linux's `pty_signal`: only the three job-control signals, to
/// the slave's foreground process group.
fn send_signal(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let sig = arg as i32;
    if !matches!(sig, SIGINT | SIGQUIT | SIGTSTP) {
        return Err(EINVAL);
    }
    with_slave_tty(pair, |tty| {
        tty.signal_foreground(sig);
        Ok(0)
    })
}

fn get_winsize(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let ws = pair.streams.lock().pty.winsize();
    UserSlice::new(arg, Winsize::SIZE)
        .writer()
        .write_slice(&ws.to_bytes())?;
    Ok(0)
}

fn read_winsize(arg: usize) -> Result<Winsize> {
    let mut bytes = [0u8; Winsize::SIZE];
    UserSlice::new(arg, Winsize::SIZE)
        .reader()
        .read_slice(&mut bytes)?;
    Ok(Winsize::from_bytes(bytes))
}

/// `TIOCSWINSZ` on the master resizes the slave, as `pty_resize` does.
fn master_set_winsize(pair: &Pair<Instance>, file: &File, arg: usize) -> Result<isize> {
    let ws = read_winsize(arg)?;
    with_slave_tty(pair, |tty| {
        settings::resize(pair, tty, file.is_nonblocking(), ws).map(|()| 0)
    })
}

/// `TIOCGPGRP` on the master: the slave's foreground group, for anyone
/// holding the master (`tiocgpgrp` with `tty != real_tty`).
fn master_get_pgrp(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let nr = pair
        .streams
        .lock()
        .slave_tty()
        .and_then(Tty::foreground)
        .map_or(0, |pg| pg.nr());
    put_i32(arg, nr)
}

/// `TIOCGSID` on the master: the slave's session.
fn master_get_sid(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let sid = pair.streams.lock().slave_tty().and_then(Tty::session);
    put_i32(arg, sid.ok_or(ENOTTY)?.nr())
}

/// `TIOCSPGRP` and `TIOCSCTTY` through the master act on the slave tty
/// with the tty core's own checks (the caller's session and controlling
/// terminal), as Linux applies them to `tty->link`.
fn forward_to_slave(pair: &Pair<Instance>, cmd: u32, arg: usize) -> Result<isize> {
    let file = pair.slave_file().ok_or(EIO)?;
    file.tty_ioctl(cmd, arg)
}

fn master_flow_or_flush(pair: &Pair<Instance>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
    let mut guard = lock_thawed(pair, file.is_nonblocking())?;
    let mut fx = Effects::default();
    let r = if cmd == TCXONC {
        guard.pty.master_flow(arg as u32, &mut fx)
    } else {
        guard.pty.master_flush(arg as u32, &mut fx)
    };
    pair.settle(&guard, fx, None);
    request(r)
}

fn set_master_exclusive(pair: &Pair<Instance>, file: &File, on: bool) -> Result<isize> {
    lock_thawed(pair, file.is_nonblocking())?.master_exclusive = on;
    Ok(0)
}

// ---------------------------------------------------------------------
// The slave's line discipline
// ---------------------------------------------------------------------

/// The ioctls that reach our line discipline (the tty core answers job
/// control, window size, exclusive mode and the ldisc number itself). The
/// tty core gives no file here: state changes wait while frozen.
pub(crate) fn ldisc_ioctl(pair: &Pair<Instance>, tty: &Tty, cmd: u32, arg: usize) -> Result<isize> {
    match cmd {
        TCXONC | TCFLSH => slave_flow_or_flush(pair, tty, cmd, arg),
        FIONREAD => slave_inq(pair, arg),
        TIOCOUTQ => put_i32(arg, 0),
        _ => termios_ioctl(pair, tty, false, cmd, arg),
    }
}

/// `FIONREAD` on the slave: bytes a read would get.
fn slave_inq(pair: &Pair<Instance>, arg: usize) -> Result<isize> {
    let n = pair.streams.lock().pty.slave_inq();
    put_i32(arg, clamp(n))
}

/// `TCXONC` and `TCFLSH` on the slave: background processes get `SIGTTOU`
/// first (`tty_check_change`), as in `n_tty_ioctl_helper`.
fn slave_flow_or_flush(pair: &Pair<Instance>, tty: &Tty, cmd: u32, arg: usize) -> Result<isize> {
    tty.check_change()?;
    let mut guard = lock_thawed(pair, false)?;
    let mut fx = Effects::default();
    let r = if cmd == TCXONC {
        guard.pty.slave_flow(arg as u32, &mut fx)
    } else {
        guard.pty.slave_flush(arg as u32, &mut fx)
    };
    pair.settle(&guard, fx, Some(tty));
    request(r)
}
