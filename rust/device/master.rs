// SPDX-License-Identifier: GPL-2.0
//! The master end (ptm): `/dev/ckpt/ptmx` clones a new pair on every open.

use super::end::{self, End};
use super::pair::{Pair, PairTable};
use crate::pty_core::stream::Effects;
use crate::seam::{
    chrdev::FileOperations,
    file::{open_fd, File},
    poll::PollTable,
};
use crate::uapi;
use kernel::{
    fmt,
    prelude::*,
    str::CString,
    sync::{Arc, ArcBorrow},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

pub(crate) struct MasterDevice {
    table: Arc<PairTable>,
}

impl MasterDevice {
    pub(crate) fn new(table: Arc<PairTable>) -> Self {
        Self { table }
    }
}

const SIGINT: i32 = 2;
const SIGQUIT: i32 = 3;
const SIGTSTP: i32 = 20;

/// Open flags `TIOCGPTPEER` honours (others are ignored, as Linux's
/// `ptm_open_peer` ignores path-walk flags like `O_DIRECTORY`).
const PEER_FLAGS: u32 = 0o3 | 0o400 | 0o4000 | 0o2000 | 0o2000000; // ACCMODE NOCTTY NONBLOCK APPEND CLOEXEC

#[vtable]
impl FileOperations for MasterDevice {
    type Open = Arc<Pair>;

    fn open(&self, _minor: u32, _file: &File) -> Result<Arc<Pair>> {
        // `CKPT_OPEN_MASTER` of this thread: the session's pair, not a new one.
        if let Some(pair) = self.table.take_master_target() {
            let mut guard = pair.streams.lock();
            if guard.master_open {
                return Err(EBUSY);
            }
            guard.master_open = true;
            drop(guard);
            return Ok(pair);
        }
        let pair = self.table.allocate()?;
        pair.streams.lock().master_open = true;
        Ok(pair)
    }

    fn release(&self, pair: Arc<Pair>, _file: &File) {
        {
            let mut guard = pair.streams.lock();
            let mut fx = Effects::default();
            guard.master_open = false;
            guard.pty.master_released(&mut fx);
            pair.settle(&guard, fx);
        }
        self.table.unlink(&pair);
    }

    fn read(pair: ArcBorrow<'_, Pair>, file: &File, buf: &mut UserSliceWriter) -> Result<usize> {
        end::read(&pair, End::Master, file, buf)
    }

    fn write(pair: ArcBorrow<'_, Pair>, file: &File, buf: &mut UserSliceReader) -> Result<usize> {
        end::write(&pair, End::Master, file, buf)
    }

    fn poll(pair: ArcBorrow<'_, Pair>, file: &File, table: &PollTable) -> u32 {
        end::poll(&pair, End::Master, file, table)
    }

    fn ioctl(pair: ArcBorrow<'_, Pair>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let user = |len| UserSlice::new(arg, len);
        match cmd {
            uapi::TIOCGPTN => {
                user(4).writer().write(&pair.index)?;
                Ok(0)
            }
            uapi::TIOCGPTPEER => {
                let path = CString::try_from_fmt(fmt!("{}/{}", uapi::PTS_DIR, pair.index))?;
                let fd = open_fd(&path, arg as u32 & PEER_FLAGS)?;
                Ok(fd as isize)
            }
            _ => pty_ioctl(&pair, file, cmd, arg)
                .unwrap_or_else(|| end::tty_ioctl(&pair, End::Master, file, cmd, arg)),
        }
    }
}

/// The pty-driver ioctls of a master, AT&T or BSD (Linux's
/// `pty_bsd_ioctl`); `None` when `cmd` is not one of them.
pub(crate) fn pty_ioctl(pair: &Pair, file: &File, cmd: u32, arg: usize) -> Option<Result<isize>> {
    let user = |len| UserSlice::new(arg, len);
    let r = match cmd {
        uapi::TIOCSPTLCK => user(4).reader().read::<i32>().map(|lock| {
            pair.set_locked(lock != 0);
            0
        }),
        uapi::TIOCGPTLCK => user(4)
            .writer()
            .write(&i32::from(pair.is_locked()))
            .map(|()| 0),
        uapi::TIOCPKT => user(4).reader().read::<i32>().and_then(|on| {
            end::lock_thawed(pair, file)?.pty.set_packet(on != 0);
            Ok(0)
        }),
        uapi::TIOCGPKT => {
            let on = pair.streams.lock().pty.master.ptm.packet;
            user(4).writer().write(&i32::from(on)).map(|()| 0)
        }
        uapi::TIOCSIG => {
            // Linux's pty_signal: only the three job-control signals.
            let sig = arg as i32;
            if !matches!(sig, SIGINT | SIGQUIT | SIGTSTP) {
                Err(EINVAL)
            } else {
                if let Some(fg) = &pair.streams.lock().foreground {
                    fg.signal(sig);
                }
                Ok(0)
            }
        }
        _ => return None,
    };
    Some(r)
}
