// SPDX-License-Identifier: GPL-2.0
//! The master end (ptm): every open of a `ptmx` node (an instance's own, or
//! `/dev/ckpt/ptmx`, which finds the instance mounted at `/dev/ckpt/pts`)
//! clones a new pair in that instance.

use super::end;
use super::instance::PtsFs;
use super::ioctl::{self, MasterFile};
use crate::pty_core::stream::Effects;
use crate::seam::{chrdev::FileOperations, file::File, fs::InstanceRoot, poll::PollTable};
use kernel::{
    prelude::*,
    uaccess::{UserSliceReader, UserSliceWriter},
};

pub(crate) struct MasterDevice;

#[vtable]
impl FileOperations for MasterDevice {
    type Open = KBox<MasterFile>;

    fn open(&self, _minor: u32, file: &File) -> Result<KBox<MasterFile>> {
        // No ckptpts instance there: ENODEV, as /dev/ptmx without devpts.
        let root = InstanceRoot::of_file(file)?;
        let instance = root.instance::<PtsFs>()?;
        // `CKPT_OPEN_MASTER` of this thread: the session's pair, never a
        // new one.
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
            streams.master_open = true;
        }
        Ok(KBox::new(MasterFile { pair, root }, GFP_KERNEL)?)
    }

    fn release(&self, m: KBox<MasterFile>, _file: &File) {
        let pair = &m.pair;
        {
            let mut streams = pair.streams.lock();
            let mut fx = Effects::default();
            streams.master_open = false;
            streams.pty.master_released(&mut fx);
            pair.settle(&streams, fx, None);
        }
        pair.instance.unlink(pair);
        pair.tear_down_slave();
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
