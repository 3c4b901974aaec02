// SPDX-License-Identifier: GPL-2.0
//! The ckpt_pty devices: the clone master `/dev/ckpt/ptmx` and the slave
//! nodes `/dev/ckpt/pts/N`, each backed by one character device region.

mod bsd;
mod end;
mod master;
mod pair;
mod restart;
mod slave;

pub(crate) use pair::PairTable;

use crate::seam::chrdev::{mkdev, CharDevice, DeviceClass, DeviceNode};
use kernel::{c_str, fmt, prelude::*, str::CString, sync::Arc};

/// Everything the module registers; dropping it unregisters in reverse.
pub(crate) struct Driver {
    // Field order is drop order: nodes and regions go before the class.
    _bsd_nodes: KVec<DeviceNode>,
    _bsd: Option<Pin<KBox<CharDevice<bsd::BsdDevice>>>>,
    _control_node: DeviceNode,
    _control: Pin<KBox<CharDevice<restart::ControlDevice>>>,
    _ptmx_node: DeviceNode,
    _slaves: Pin<KBox<CharDevice<slave::SlaveDevice>>>,
    _masters: Pin<KBox<CharDevice<master::MasterDevice>>>,
    _class: Arc<DeviceClass>,
}

impl Driver {
    pub(crate) fn register(
        module: &'static ThisModule,
        max_pairs: u32,
        bsd_pairs: u32,
    ) -> Result<Self> {
        let class = Arc::new(DeviceClass::create(c_str!("ckpt_pty"))?, GFP_KERNEL)?;
        let slaves = CharDevice::register(c_str!("ckpt_pts"), max_pairs, module, |major| {
            let table = PairTable::new(max_pairs as usize, bsd_pairs, class.clone(), major)?;
            Ok(slave::SlaveDevice::new(table))
        })?;
        let table = slaves.ops().table().clone();
        let masters = CharDevice::register(c_str!("ckpt_ptm"), 1, module, |_| {
            Ok(master::MasterDevice::new(table))
        })?;
        let ptmx_node = DeviceNode::create(&class, mkdev(masters.major(), 0), c_str!("ckpt/ptmx"))?;
        let control_table = slaves.ops().table().clone();
        let control = CharDevice::register(c_str!("ckpt_control"), 1, module, |_| {
            Ok(restart::ControlDevice::new(control_table))
        })?;
        let control_node =
            DeviceNode::create(&class, mkdev(control.major(), 0), c_str!("ckpt/control"))?;
        let mut bsd_nodes = KVec::new();
        let bsd = if bsd_pairs > 0 {
            let region = CharDevice::register(c_str!("ckpt_bsd"), 2 * bsd_pairs, module, |_| {
                bsd::BsdDevice::new(bsd_pairs)
            })?;
            for i in 0..bsd_pairs {
                for (name, minor) in [("pty", i), ("tty", bsd_pairs + i)] {
                    let path = CString::try_from_fmt(fmt!("ckpt/{}{}", name, i))?;
                    let node = DeviceNode::create(&class, mkdev(region.major(), minor), &path)?;
                    bsd_nodes.push(node, GFP_KERNEL)?;
                }
            }
            Some(region)
        } else {
            None
        };
        pr_info!(
            "/dev/ckpt/ptmx (major {}), up to {} pairs (slave major {}); {} BSD pairs\n",
            masters.major(),
            max_pairs,
            slaves.major(),
            bsd_pairs
        );
        Ok(Self {
            _bsd_nodes: bsd_nodes,
            _bsd: bsd,
            _control_node: control_node,
            _control: control,
            _ptmx_node: ptmx_node,
            _slaves: slaves,
            _masters: masters,
            _class: class,
        })
    }
}
