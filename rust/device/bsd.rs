// SPDX-License-Identifier: GPL-2.0
//! BSD mode: a fixed set of named pairs per instance, `ptyN` (master) and
//! `ttyN` (slave), created at mount (`bsd=N`) and living as long as it.
//!
//! Unlike the AT&T clone device there is no ordering rule: either end may
//! be opened first (a slave reader then waits for its master), and a
//! restart loads a pair's state directly. A pair starts a fresh session
//! when it is opened while no end is open. As with Linux's legacy ptys,
//! the master is exclusive (a second open gets `EIO`), and after the
//! master closes the slave is hung up until all its files are closed.

use super::end;
use super::instance::Instance;
use super::ioctl::{self, MasterFile};
use super::pair::Pair;
use super::settings;
use crate::pty_core::stream::Effects;
use crate::seam::{chrdev::FileOperations, file::File, fs::InstanceRoot, poll::PollTable};
use kernel::{
    prelude::*,
    uaccess::{UserSliceReader, UserSliceWriter},
};

use super::instance::PtsFs;

/// If nobody holds the pair, a new session starts: fresh streams, and a
/// slave tty with a fresh pty's settings.
pub(crate) fn maybe_fresh_session(pair: &Pair<Instance>) {
    let fresh = {
        let mut streams = pair.streams.lock();
        let idle = !streams.master_open && streams.pty.life.slave_opens == 0;
        if idle {
            streams.reset_session();
        }
        idle
    };
    if !fresh {
        return;
    }
    // Outside the pair lock: the tty core's termios lock comes first.
    if let Some(file) = pair.slave_file() {
        settings::reset_slave_tty(pair, &file);
    }
}

/// The BSD masters: minor `N` is `ptyN` of whichever instance the node
/// was opened in.
pub(crate) struct BsdMasterDevice;

#[vtable]
impl FileOperations for BsdMasterDevice {
    type Open = KBox<MasterFile>;

    fn open(&self, minor: u32, file: &File) -> Result<KBox<MasterFile>> {
        let root = InstanceRoot::of_file(file)?;
        let instance = root.instance::<PtsFs>()?;
        let pair = instance.bsd_pair(minor).ok_or(ENXIO)?;
        maybe_fresh_session(&pair);
        {
            let mut streams = pair.streams.lock();
            if streams.master_open || streams.pty.life.master_closed {
                return Err(EIO);
            }
            streams.master_open = true;
        }
        Ok(KBox::new(MasterFile { pair, root }, GFP_KERNEL)?)
    }

    fn release(&self, m: KBox<MasterFile>, _file: &File) {
        {
            let mut streams = m.pair.streams.lock();
            let mut fx = Effects::default();
            streams.master_open = false;
            streams.pty.master_released(&mut fx);
            m.pair.settle(&streams, fx, None);
        }
        m.pair.hang_up_slave();
    }

    fn read(m: &MasterFile, file: &File, buf: &mut UserSliceWriter) -> Result<usize> {
        end::master_read(&m.pair, file, buf)
    }

    fn write(m: &MasterFile, file: &File, buf: &mut UserSliceReader) -> Result<usize> {
        end::master_write(&m.pair, file, buf)
    }

    fn poll(m: &MasterFile, file: &File, table: &PollTable) -> u32 {
        end::master_poll(&m.pair, file, table)
    }

    fn ioctl(m: &MasterFile, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::master_ioctl(m, file, cmd, arg)
    }
}
