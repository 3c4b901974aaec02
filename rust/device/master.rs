// SPDX-License-Identifier: GPL-2.0
//! The master end (ptm): the character devices whose files are masters.
//! Every open of a `ptmx` node (an instance's own, or `/dev/ckpt/ptmx`,
//! which finds the instance mounted at `/dev/ckpt/pts`) clones a new AT&T
//! pair in that instance; an open of `ptyN` opens BSD pair `N` of its
//! instance ([`super::bsd`]).

use super::bsd;
use super::end;
use super::instance::{Instance, PtsFs};
use super::ioctl;
use super::pair::Pair;
use crate::pty_core::image::PtyMode;
use crate::seam::{chrdev::FileOperations, file::File, fs::InstanceRoot, poll::PollTable};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// The master devices of one kind: `ptmx` (AT&T) or the `ptyN` (BSD).
pub(crate) struct MasterDevice {
    mode: PtyMode,
}

impl MasterDevice {
    pub(crate) fn new(mode: PtyMode) -> Self {
        Self { mode }
    }
}

/// An open master file: its pair and the instance mount it was opened
/// through (`TIOCGPTPEER` opens the slave node below it).
pub(crate) struct MasterFile {
    pair: Arc<Pair<Instance>>,
    root: InstanceRoot,
}

#[vtable]
impl FileOperations for MasterDevice {
    type Open = KBox<MasterFile>;

    fn open(&self, minor: u32, file: &File) -> Result<KBox<MasterFile>> {
        // No ckptpts instance there: ENODEV, as /dev/ptmx without devpts.
        let root = InstanceRoot::of_file(file)?;
        let instance = root.instance::<PtsFs>()?;
        let pair = match self.mode {
            PtyMode::Att => open_att(&instance)?,
            PtyMode::Bsd => bsd::open_master(&instance, minor)?,
        };
        Ok(KBox::new(MasterFile { pair, root }, GFP_KERNEL)?)
    }

    fn release(&self, m: KBox<MasterFile>, _file: &File) {
        let pair = &m.pair;
        pair.close_master();
        match self.mode {
            PtyMode::Att => {
                pair.instance.unlink(pair);
                pair.tear_down_slave();
                // The master was the pair's last file: its index is free
                // now (the slave's last close does this otherwise), not
                // when the tty core's release work drops the pair later.
                if pair.streams.lock().pty.life.slave_opens == 0 {
                    pair.give_back_index();
                }
            }
            PtyMode::Bsd => pair.hang_up_slave(),
        }
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
        ioctl::master_ioctl(&m.pair, &m.root, file, cmd, arg)
    }
}

/// An open of `ptmx`: `CKPT_OPEN_MASTER` of this thread gets the session's
/// pair, never a new one; any other open a new pair.
fn open_att(instance: &Arc<Instance>) -> Result<Arc<Pair<Instance>>> {
    let pair = match instance.take_master_target() {
        Some(pair) => {
            if !pair.is_restoring() {
                return Err(EIO);
            }
            pair
        }
        None => instance.allocate()?,
    };
    {
        let mut streams = pair.streams.lock();
        if streams.master_open {
            return Err(EBUSY);
        }
        // A session pair whose master was opened and closed again is gone
        // (its slave hung up): never a master again.
        if streams.pty.life.master_closed {
            return Err(EIO);
        }
        streams.master_open = true;
    }
    Ok(pair)
}
