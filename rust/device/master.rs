// SPDX-License-Identifier: GPL-2.0
//! The master end (ptm): `/dev/ckpt/ptmx` clones a new pair on every open.

use super::pair::{Pair, PairTable};
use crate::seam::{chrdev::FileOperations, file::File};
use crate::uapi;
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::UserSlice,
};

pub(crate) struct MasterDevice {
    table: Arc<PairTable>,
}

impl MasterDevice {
    pub(crate) fn new(table: Arc<PairTable>) -> Self {
        Self { table }
    }
}

#[vtable]
impl FileOperations for MasterDevice {
    type Open = Arc<Pair>;

    fn open(&self, _minor: u32, _file: &File) -> Result<Arc<Pair>> {
        self.table.allocate()
    }

    fn release(&self, pair: Arc<Pair>, _file: &File) {
        self.table.unlink(&pair);
    }

    fn ioctl(pair: ArcBorrow<'_, Pair>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::TIOCGPTN => {
                UserSlice::new(arg, 4).writer().write(&pair.index)?;
                Ok(0)
            }
            uapi::TIOCSPTLCK => {
                let lock: i32 = UserSlice::new(arg, 4).reader().read()?;
                pair.set_locked(lock != 0);
                Ok(0)
            }
            uapi::TIOCGPTLCK => {
                let locked = i32::from(pair.is_locked());
                UserSlice::new(arg, 4).writer().write(&locked)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
}
