// SPDX-License-Identifier: GPL-2.0
//! The slave end (pts): a tty of the module's tty driver whose only line
//! discipline is ours, the pure `ldterm` core.
//!
//! The tty core owns what makes it a terminal — controlling terminal,
//! `/dev/tty`, sessions and process groups, `SIGHUP` at hangup, the
//! permission checks of job control — and calls us for the rest: the
//! driver operations (find the tty of a node, open/close accounting,
//! hardware settings) and the line discipline (read, write, poll, input
//! and output processing), which work on the pair's streams.

use super::end;
use super::instance::Instance;
use super::ioctl;
use super::pair::Pair;
use super::settings;
use crate::pty_core::image::PtyMode;
use crate::pty_core::stream::Effects;
use crate::pty_core::termios::TCIFLUSH;
use crate::pty_core::End;
use crate::seam::file::File;
use crate::seam::fs;
use crate::seam::poll::PollTable;
use crate::seam::tty::{
    KTermios, LockedTermios, Lookup, RawTtyPort, RawWinsize, SlaveTtyOps, Tty, LDISC,
};
use core::ptr::NonNull;
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The slave tty's operations.
pub(crate) struct SlaveTty;

impl SlaveTtyOps for SlaveTty {
    type Data = Pair<Instance>;

    /// The tty of the node being opened (our nodes carry their pair); the
    /// pair itself while its creator opens the internal node.
    fn lookup(file: &File) -> Result<Lookup<Pair<Instance>>> {
        let pair = fs::node_data::<Pair<Instance>>(file).ok_or(EIO)?;
        let streams = pair.streams.lock();
        if let Some(side) = &streams.slave {
            return Ok(Lookup::Existing(side.file.tty_ptr()));
        }
        drop(streams);
        if pair.is_creating() {
            return Ok(Lookup::Create(pair.into()));
        }
        // The master is gone (devpts answers EIO too).
        Err(EIO)
    }

    fn install(pair: &Arc<Pair<Instance>>, _tty: &Tty) -> Result<NonNull<RawTtyPort>> {
        if !pair.is_creating() {
            return Err(EIO);
        }
        Ok(pair.port())
    }

    /// Who may open the slave: as Linux's `pty_open` (not while locked —
    /// unless restoring — and not once the master is gone), plus BSD's
    /// fresh sessions. The tty core already refused exclusive ttys.
    fn open(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty, _file: &File) -> Result {
        if pair.is_creating() {
            return Ok(());
        }
        if pair.mode == PtyMode::Bsd {
            super::bsd::maybe_fresh_session(&pair);
        }
        let mut streams = pair.streams.lock();
        if streams.pty.life.master_closed {
            return Err(EIO);
        }
        if pair.is_locked() && !pair.is_restoring() {
            return Err(EIO);
        }
        // `count` includes this file and the module's own.
        let internal = i32::from(streams.slave.is_some());
        let users = tty.count().saturating_sub(internal).max(0) as u32;
        let mut fx = Effects::default();
        streams.pty.set_slave_opens(users, &mut fx);
        pair.settle(&streams, fx, Some(tty));
        Ok(())
    }

    /// Every close, also of an open we refused: the last user file makes
    /// the master see "other closed" (`EIO` once drained, `POLLHUP`).
    fn close(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty, file: &File) {
        let mut streams = pair.streams.lock();
        let internal = match &streams.slave {
            Some(side) if side.file.is(file) => return,
            Some(_) => 1,
            None => 0,
        };
        // `count` still includes the closing file.
        let users = tty.count().saturating_sub(1 + internal).max(0) as u32;
        let mut fx = Effects::default();
        streams.pty.set_slave_opens(users, &mut fx);
        if users == 0 {
            streams.files_gone(End::Slave, &mut fx);
        }
        pair.settle(&streams, fx, Some(tty));
        // The last file of a pair whose master closed (and whose slave
        // the module let go): nothing can reach the pair any more.
        let ended = users == 0 && internal == 0 && !streams.master_open;
        drop(streams);
        if ended {
            pair.give_back_index();
        }
    }

    fn write(pair: ArcBorrow<'_, Pair<Instance>>, buf: &[u8]) -> usize {
        let mut streams = pair.streams.lock();
        let mut fx = Effects::default();
        let n = streams.pty.slave_write_raw(buf, &mut fx);
        pair.settle(&streams, fx, None);
        n
    }

    fn write_room(pair: ArcBorrow<'_, Pair<Instance>>) -> u32 {
        let streams = pair.streams.lock();
        streams.pty.master.head.read.room().min(u32::MAX as usize) as u32
    }

    fn ioctl(
        pair: ArcBorrow<'_, Pair<Instance>>,
        _tty: &Tty,
        cmd: u32,
        arg: usize,
    ) -> Option<Result<isize>> {
        ioctl::ckpt_ioctl(&pair, End::Slave, cmd, arg)
    }

    /// A pty has no hardware: always 8 bits, receiver on, no parity
    /// (`pty_set_termios`).
    fn set_termios(_pair: ArcBorrow<'_, Pair<Instance>>, termios: &mut LockedTermios<'_>) {
        let (mut t, _) = settings::core_termios(&termios.get());
        t.pty_fixup();
        termios.set_cflag(t.c_cflag);
    }

    fn resize(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty, ws: &RawWinsize) -> Result {
        settings::resize(&pair, tty, false, settings::core_winsize(ws))
    }

    /// `TIOCSETD`: our line discipline only. N_TTY must never run on these
    /// ttys (it would follow `tty->link`, which a pty slave of ours lacks).
    fn ldisc_ok(ldisc: i32) -> Result {
        if ldisc == LDISC {
            Ok(())
        } else {
            Err(EPERM)
        }
    }

    /// Attached (at creation, and again at the first open after a
    /// hangup, which reset the tty's termios): the core takes the tty's
    /// settings.
    fn ldisc_open(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty) -> Result {
        settings::sync_termios(&pair, tty);
        Ok(())
    }

    fn flush_buffer(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty) {
        let mut streams = pair.streams.lock();
        let mut fx = Effects::default();
        let _ = streams.pty.slave_flush(TCIFLUSH, &mut fx);
        pair.settle(&streams, fx, Some(tty));
    }

    fn read(
        pair: ArcBorrow<'_, Pair<Instance>>,
        tty: &Tty,
        file: &File,
        buf: &mut [u8],
        more: &mut bool,
    ) -> Result<usize> {
        end::slave_read(&pair, tty, file, buf, more)
    }

    fn write_output(
        pair: ArcBorrow<'_, Pair<Instance>>,
        tty: &Tty,
        file: &File,
        buf: &[u8],
    ) -> Result<usize> {
        end::slave_write(&pair, tty, file, buf)
    }

    fn ldisc_ioctl(
        pair: ArcBorrow<'_, Pair<Instance>>,
        tty: &Tty,
        cmd: u32,
        arg: usize,
    ) -> Result<isize> {
        ioctl::ldisc_ioctl(&pair, tty, cmd, arg)
    }

    fn ldisc_set_termios(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty, _old: &KTermios) {
        settings::sync_termios(&pair, tty);
    }

    fn poll(
        pair: ArcBorrow<'_, Pair<Instance>>,
        _tty: &Tty,
        file: &File,
        table: &PollTable,
    ) -> u32 {
        end::slave_poll(&pair, file, table)
    }

    /// Sleepers look again and find their file hung up.
    fn hangup(pair: ArcBorrow<'_, Pair<Instance>>, _tty: &Tty) {
        let streams = pair.streams.lock();
        pair.wake_everybody(&streams);
    }

    /// `TIOCSTI`: input as if typed at the master.
    fn receive(pair: ArcBorrow<'_, Pair<Instance>>, tty: &Tty, bytes: &[u8]) {
        let mut streams = pair.streams.lock();
        let mut fx = Effects::default();
        let _ = streams.pty.master_write(bytes, &mut fx);
        pair.settle(&streams, fx, Some(tty));
    }
}

crate::seam::tty::slave_tty_entry_points!(SlaveTty);
