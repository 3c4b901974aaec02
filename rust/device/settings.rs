// SPDX-License-Identifier: GPL-2.0
//! The slave tty's settings. The tty core keeps the terminal settings
//! (`termios`) and the window size and acts on them; the pure core keeps
//! copies, which checkpoints save. This file converts between the two forms
//! and keeps them in step, calling into the tty core without the pair lock
//! (its `termios_rwsem` and `winsize_mutex` come first).

use super::end::lock_thawed;
use super::pair::{Pair, PairOwner};
use crate::pty_core::stream::{Effects, Winsize, DEFAULT_SPEED};
use crate::pty_core::termios::Termios;
use crate::seam::tty::{KTermios, RawWinsize, SlaveFile, Tty, LDISC};
use kernel::prelude::*;

/// The pure core's settings and speeds from the tty core's termios.
pub(crate) fn core_termios(k: &KTermios) -> (Termios, [u32; 2]) {
    let t = Termios {
        c_iflag: k.c_iflag,
        c_oflag: k.c_oflag,
        c_cflag: k.c_cflag,
        c_lflag: k.c_lflag,
        c_line: k.c_line,
        c_cc: k.c_cc,
    };
    (t, [k.c_ispeed, k.c_ospeed])
}

/// The tty core's termios from the pure core's settings and speeds.
pub(crate) fn kernel_termios(t: &Termios, speeds: [u32; 2]) -> KTermios {
    let [c_ispeed, c_ospeed] = speeds;
    KTermios {
        c_iflag: t.c_iflag,
        c_oflag: t.c_oflag,
        c_cflag: t.c_cflag,
        c_lflag: t.c_lflag,
        c_line: LDISC as u8,
        c_cc: t.c_cc,
        c_ispeed,
        c_ospeed,
    }
}

/// The window size as the tty core keeps it.
pub(crate) fn raw_winsize(ws: Winsize) -> RawWinsize {
    RawWinsize {
        rows: ws.rows,
        cols: ws.cols,
        xpixel: ws.xpixel,
        ypixel: ws.ypixel,
    }
}

/// The window size as the pure core keeps it.
pub(crate) fn core_winsize(ws: &RawWinsize) -> Winsize {
    Winsize {
        rows: ws.rows,
        cols: ws.cols,
        xpixel: ws.xpixel,
        ypixel: ws.ypixel,
    }
}

/// The tty core's settings as the pure core keeps them.
pub(crate) fn sync_termios<O: PairOwner>(pair: &Pair<O>, tty: &Tty) {
    let (t, speeds) = core_termios(&tty.termios());
    let mut guard = pair.streams.lock();
    let mut fx = Effects::default();
    guard.pty.set_termios(t, false, &mut fx);
    guard.pty.slave.tioc.speeds = speeds;
    pair.settle(&guard, fx, Some(tty));
}

/// A new window size: the tty core stores it and signals `SIGWINCH`
/// (`tty_do_resize`); both tioc modules keep it for checkpoints.
pub(crate) fn resize<O: PairOwner>(
    pair: &Pair<O>,
    tty: &Tty,
    nonblocking: bool,
    ws: Winsize,
) -> Result {
    drop(lock_thawed(pair, nonblocking)?);
    tty.resize(&raw_winsize(ws))?;
    let mut guard = pair.streams.lock();
    let mut fx = Effects::default();
    guard.pty.set_winsize(ws, &mut fx);
    fx.signals = Default::default();
    pair.settle(&guard, fx, Some(tty));
    Ok(())
}

/// Restart: gives the slave tty the restored settings, window size and
/// exclusive mode (the pure core holds them already).
pub(crate) fn load_slave_tty<O: PairOwner>(pair: &Pair<O>, file: &SlaveFile, exclusive: bool) {
    let (termios, speeds, ws) = {
        let guard = pair.streams.lock();
        let pty = &guard.pty;
        (pty.termios(), pty.slave.tioc.speeds, pty.winsize())
    };
    let tty = file.tty();
    tty.store_termios(&kernel_termios(&termios, speeds));
    tty.store_winsize(&raw_winsize(ws));
    tty.set_exclusive(exclusive);
}

/// A fresh session of a BSD pair: the slave tty gets a fresh pty's
/// settings, and the pure core takes them.
pub(crate) fn reset_slave_tty<O: PairOwner>(pair: &Pair<O>, file: &SlaveFile) {
    let tty = file.tty();
    tty.store_termios(&kernel_termios(
        &Termios::pty_slave_default(),
        [DEFAULT_SPEED; 2],
    ));
    tty.store_winsize(&RawWinsize::default());
    tty.set_exclusive(false);
    sync_termios(pair, tty);
    let mut streams = pair.streams.lock();
    let mut fx = Effects::default();
    streams.pty.set_winsize(Winsize::default(), &mut fx);
}
