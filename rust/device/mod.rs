// SPDX-License-Identifier: GPL-2.0
//! The ckpt_pty devices: the clone master `ptmx`, the slave ttys, BSD pairs
//! and the control device, and the `ckptpts` filesystem their nodes live in.
//!
//! | piece                      | what users see                             |
//! |----------------------------|--------------------------------------------|
//! | [`master::MasterDevice`]   | `DIR/ptmx`, `/dev/ckpt/ptmx`; `DIR/ptyN`   |
//! | [`slave::SlaveTty`]        | `DIR/N`, `DIR/ttyN` (real ttys)            |
//! | [`control::ControlDevice`] | `DIR/control`, `/dev/ckpt/control`         |
//! | [`instance::PtsFs`]        | `mount -t ckptpts none DIR`                |
//!
//! Layers, top to bottom; a file uses only files of the layers below its
//! own:
//!
//! - front ends: [`master`] (`ptmx` and `ptyN`), [`slave`] (the tty driver
//!   and line discipline operations), [`control`] (the control device and
//!   its restart sessions);
//! - dispatch: [`ioctl`] (the master's, the line discipline's and
//!   ckpt_pty's own ioctls);
//! - operations: [`restart`] (checkpoint and restart of one end), [`bsd`]
//!   (BSD pairs: fresh sessions, opening `ptyN`), [`settings`] (the tty
//!   core's termios and window size kept in step with the core's);
//! - instances: [`instance`] (one mount: index table, BSD pairs, nodes, the
//!   restart session), [`session`] (a session's wait lists and pairs);
//! - data path: [`end`] (read, write and poll of both ends, waiting out a
//!   freeze);
//! - pairs: [`pair`] (one pty: both streams under one lock, the slave tty;
//!   it knows its instance only through [`pair::PairOwner`]), [`sleepers`]
//!   (its wait queues, which count who sleeps);
//! - shared: [`globals`] (what all instances share), [`uaccess`] (user
//!   copies of ioctl arguments).

mod bsd;
mod control;
mod end;
mod globals;
mod instance;
mod ioctl;
mod master;
mod pair;
mod restart;
mod session;
mod settings;
mod slave;
mod sleepers;
mod slots;
mod uaccess;

use crate::pty_core::image::PtyMode;
use crate::pty_core::options::BSD_PAIRS_LIMIT;
use crate::pty_core::quota::PairQuota;
use crate::seam::chrdev::{mkdev, CharDevice, DeviceClass, DeviceNode};
use crate::seam::fs::PtsFsRegistration;
use crate::seam::tty::{LineDiscipline, SlaveDriver};
use globals::{Globals, PublishedGlobals};
use kernel::{c_str, prelude::*, sync::Arc};
use master::MasterDevice;

/// Minors of the AT&T slave driver: every index an instance may have.
const ATT_LINES: u32 = crate::pty_core::options::MAX_PAIRS_LIMIT;

/// Everything the module registers; dropping it unregisters in reverse.
pub(crate) struct Driver {
    // Field order is drop order.
    _fs: PtsFsRegistration,
    _globals: PublishedGlobals,
    _nodes: KVec<DeviceNode>,
    _control: Pin<KBox<CharDevice<control::ControlDevice>>>,
    _bsd_masters: Pin<KBox<CharDevice<MasterDevice>>>,
    _masters: Pin<KBox<CharDevice<MasterDevice>>>,
    _bsd_ttys: SlaveDriver,
    _ttys: SlaveDriver,
    _ldisc: LineDiscipline,
    _class: Arc<DeviceClass>,
}

impl Driver {
    pub(crate) fn register(
        module: &'static ThisModule,
        max_pairs: u32,
        bsd_pairs: u32,
        quota: PairQuota,
    ) -> Result<Self> {
        let class = Arc::new(DeviceClass::create(c_str!("ckpt_pty"))?, GFP_KERNEL)?;
        let ldisc = register_ldisc()?;
        let ttys =
            SlaveDriver::register(c_str!("ckpt_pty_slave"), c_str!("ckpt/pts"), ATT_LINES, 0)?;
        let bsd_ttys = SlaveDriver::register(
            c_str!("ckpt_pty_bsd"),
            c_str!("ckpt/tty"),
            BSD_PAIRS_LIMIT,
            1,
        )?;
        let masters = CharDevice::register(c_str!("ckpt_ptm"), 1, module, |_| {
            Ok(MasterDevice::new(PtyMode::Att))
        })?;
        let bsd_masters =
            CharDevice::register(c_str!("ckpt_bsd_ptm"), BSD_PAIRS_LIMIT, module, |_| {
                Ok(MasterDevice::new(PtyMode::Bsd))
            })?;
        let control = CharDevice::register(c_str!("ckpt_control"), 1, module, |_| {
            Ok(control::ControlDevice::new())
        })?;
        let globals = Globals::new(
            ttys.major(),
            bsd_ttys.major(),
            masters.major(),
            bsd_masters.major(),
            control.major(),
            max_pairs,
            bsd_pairs,
            quota,
        )?;
        let nodes = create_nodes(&class, masters.major(), control.major())?;
        // Last: from here on mounts can be made.
        let published = PublishedGlobals::new(globals);
        let fs = PtsFsRegistration::register()?;
        pr_info!(
            "ckptpts registered; /dev/ckpt/ptmx (major {}), slaves major {}, up to {} pairs and {} BSD pairs per instance by default\n",
            masters.major(),
            ttys.major(),
            max_pairs,
            bsd_pairs
        );
        Ok(Self {
            _fs: fs,
            _globals: published,
            _nodes: nodes,
            _control: control,
            _bsd_masters: bsd_masters,
            _masters: masters,
            _bsd_ttys: bsd_ttys,
            _ttys: ttys,
            _ldisc: ldisc,
            _class: class,
        })
    }
}

/// Registers our line discipline; says who else may have its number.
fn register_ldisc() -> Result<LineDiscipline> {
    LineDiscipline::register().inspect_err(|e| {
        pr_warn!(
            "line discipline {} is taken ({:?}): is another module using N_DEVELOPMENT?\n",
            crate::seam::tty::LDISC,
            e
        );
    })
}

/// `/dev/ckpt/ptmx` (mode 0666) and `/dev/ckpt/control`.
fn create_nodes(
    class: &Arc<DeviceClass>,
    master_major: u32,
    control_major: u32,
) -> Result<KVec<DeviceNode>> {
    let ptmx = mkdev(master_major, 0);
    class.set_world_accessible(ptmx);
    let mut nodes = KVec::new();
    nodes.push(
        DeviceNode::create(class, ptmx, c_str!("ckpt/ptmx"))?,
        GFP_KERNEL,
    )?;
    nodes.push(
        DeviceNode::create(class, mkdev(control_major, 0), c_str!("ckpt/control"))?,
        GFP_KERNEL,
    )?;
    Ok(nodes)
}
