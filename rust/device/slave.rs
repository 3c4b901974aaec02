// SPDX-License-Identifier: GPL-2.0
//! The slave end (pts): `/dev/ckpt/pts/N`.

use super::end::{self, End};
use super::pair::{Pair, PairTable};
use crate::pty_core::stream::Effects;
use crate::seam::{chrdev::FileOperations, file::File, poll::PollTable, process};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::{UserSliceReader, UserSliceWriter},
};

pub(crate) struct SlaveDevice {
    table: Arc<PairTable>,
}

impl SlaveDevice {
    pub(crate) fn new(table: Arc<PairTable>) -> Self {
        Self { table }
    }

    pub(crate) fn table(&self) -> &Arc<PairTable> {
        &self.table
    }
}

#[vtable]
impl FileOperations for SlaveDevice {
    type Open = Arc<Pair>;

    fn open(&self, minor: u32, _file: &File) -> Result<Arc<Pair>> {
        // Linux: no master -> the node is gone (ENOENT before we get here,
        // EIO in a race); locked -> EIO; exclusive -> EBUSY unless admin.
        let pair = self.table.lookup(minor as usize).ok_or(EIO)?;
        if pair.is_locked() && !pair.is_restoring() {
            return Err(EIO);
        }
        if end::is_exclusive(&pair, End::Slave) && !process::is_admin() {
            return Err(EBUSY);
        }
        {
            let mut guard = pair.streams.lock();
            if guard.pty.life.master_closed {
                return Err(EIO);
            }
            guard.pty.slave_opened();
        }
        Ok(pair)
    }

    fn release(&self, pair: Arc<Pair>, _file: &File) {
        let mut guard = pair.streams.lock();
        let mut fx = Effects::default();
        guard.pty.slave_released(&mut fx);
        pair.settle(&guard, fx);
    }

    fn read(pair: ArcBorrow<'_, Pair>, file: &File, buf: &mut UserSliceWriter) -> Result<usize> {
        end::read(&pair, End::Slave, file, buf)
    }

    fn write(pair: ArcBorrow<'_, Pair>, file: &File, buf: &mut UserSliceReader) -> Result<usize> {
        end::write(&pair, End::Slave, file, buf)
    }

    fn poll(pair: ArcBorrow<'_, Pair>, file: &File, table: &PollTable) -> u32 {
        end::poll(&pair, End::Slave, file, table)
    }

    fn ioctl(pair: ArcBorrow<'_, Pair>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        end::slave_ioctl(&pair, file, cmd, arg)
    }
}
