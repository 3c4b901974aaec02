// SPDX-License-Identifier: GPL-2.0
//! The slave end (pts): `/dev/ckpt/pts/N`.

use super::pair::{Pair, PairTable};
use crate::seam::{chrdev::FileOperations, file::File};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
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
        // EIO in a race); locked -> EIO.
        let pair = self.table.lookup(minor as usize).ok_or(EIO)?;
        if pair.is_locked() {
            return Err(EIO);
        }
        Ok(pair)
    }

    fn ioctl(_pair: ArcBorrow<'_, Pair>, _file: &File, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }
}
