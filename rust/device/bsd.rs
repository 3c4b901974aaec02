// SPDX-License-Identifier: GPL-2.0
//! BSD mode: a fixed set of named pairs, `/dev/ckpt/ptyN` (master) and
//! `/dev/ckpt/ttyN` (slave), that exist as long as the module.
//!
//! Unlike the AT&T clone device there is no ordering rule: either end may
//! be opened first (the slave then waits for its master), and a restart can
//! load a pair's state directly. A pair starts a fresh session when it is
//! opened while no end is open. As with Linux's legacy ptys, the master is
//! exclusive (a second open gets `EIO`), and after the master closes the
//! slave is hung up until all its files are closed.

use super::end::{self, End};
use super::master;
use super::pair::{Pair, Streams};
use crate::pty_core::stream::Effects;
use crate::seam::{chrdev::FileOperations, file::File, poll::PollTable, process};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserSliceReader, UserSliceWriter},
};

/// An open file of a BSD pair: which pair, which end.
pub(crate) struct BsdFile {
    pair: Arc<Pair>,
    end: End,
}

/// The BSD region: minors `0..count` are masters, `count..2*count` slaves.
pub(crate) struct BsdDevice {
    pairs: KVec<Arc<Pair>>,
}

impl BsdDevice {
    pub(crate) fn new(count: u32) -> Result<Self> {
        let mut pairs = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for i in 0..count {
            pairs.push(Pair::new(i, None)?, GFP_KERNEL)?;
        }
        Ok(Self { pairs })
    }

    fn count(&self) -> u32 {
        self.pairs.len() as u32
    }
}

#[vtable]
impl FileOperations for BsdDevice {
    type Open = KBox<BsdFile>;

    fn open(&self, minor: u32, _file: &File) -> Result<KBox<BsdFile>> {
        let (index, end) = match minor.checked_sub(self.count()) {
            None => (minor, End::Master),
            Some(i) => (i, End::Slave),
        };
        let pair = self.pairs.get(index as usize).ok_or(ENXIO)?.clone();
        {
            let mut guard = pair.streams.lock();
            if !guard.master_open && guard.pty.life.slave_opens == 0 {
                // Nobody holds the pair: a new session starts here.
                *guard = Streams::new();
            }
            let hung_up = guard.pty.life.master_closed;
            match end {
                End::Master => {
                    if guard.master_open || hung_up {
                        return Err(EIO);
                    }
                    guard.master_open = true;
                }
                End::Slave => {
                    if hung_up {
                        return Err(EIO);
                    }
                    if guard.exclusive[1] && !process::is_admin() {
                        return Err(EBUSY);
                    }
                    guard.pty.slave_opened();
                }
            }
        }
        Ok(KBox::new(BsdFile { pair, end }, GFP_KERNEL)?)
    }

    fn release(&self, f: KBox<BsdFile>, _file: &File) {
        let mut guard = f.pair.streams.lock();
        let mut fx = Effects::default();
        match f.end {
            End::Master => {
                guard.master_open = false;
                guard.pty.master_released(&mut fx);
            }
            End::Slave => guard.pty.slave_released(&mut fx),
        }
        f.pair.settle(&guard, fx);
    }

    fn read(f: &BsdFile, file: &File, buf: &mut UserSliceWriter) -> Result<usize> {
        end::read(&f.pair, f.end, file, buf)
    }

    fn write(f: &BsdFile, file: &File, buf: &mut UserSliceReader) -> Result<usize> {
        end::write(&f.pair, f.end, file, buf)
    }

    fn poll(f: &BsdFile, file: &File, table: &PollTable) -> u32 {
        end::poll(&f.pair, f.end, file, table)
    }

    fn ioctl(f: &BsdFile, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match f.end {
            End::Master => master::pty_ioctl(&f.pair, file, cmd, arg)
                .unwrap_or_else(|| end::tty_ioctl(&f.pair, End::Master, file, cmd, arg)),
            End::Slave => end::slave_ioctl(&f.pair, file, cmd, arg),
        }
    }
}
