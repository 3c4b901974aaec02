// SPDX-License-Identifier: GPL-2.0
//! Pairs (one pty = master end + slave end, named by its slave index) and
//! the table that finds them by index in O(1).
//!
//! Lifetimes follow Linux devpts: the slave node disappears when the master
//! closes (new slave opens then fail), but the index stays taken until the
//! last end of the pair is gone, so a number is never reused while anybody
//! still holds the old pair.

use crate::pty_core::index::{IndexAllocator, IndexError};
use crate::seam::chrdev::{mkdev, DeviceClass, DeviceNode};
use crate::seam::storage::KernelStorage;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    fmt, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
};

/// One pty.
pub(crate) struct Pair {
    pub(crate) index: u32,
    /// The slave cannot be opened while set (TIOCSPTLCK); a fresh pair is
    /// locked, as on Linux, until the master unlocks it.
    locked: AtomicBool,
    /// Gives the index back when the last end drops the pair.
    table: Arc<PairTable>,
}

impl Pair {
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    pub(crate) fn set_locked(&self, locked: bool) {
        self.locked.store(locked, Ordering::Release)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.table.release_index(self.index as usize);
    }
}

/// A live pair as the table sees it: reachable by index, with its node.
struct Slot {
    pair: Arc<Pair>,
    /// `/dev/ckpt/pts/<index>`.
    _slave_node: DeviceNode,
}

/// What the table lock protects: the index bitmap and the index → slot map.
/// A slot implies a set bit; a set bit without a slot is a pair whose master
/// closed while its slave is still open.
struct TableInner {
    indexes: IndexAllocator<KernelStorage>,
    slots: KVec<Option<Slot>>,
}

/// All pairs of this module instance.
#[pin_data]
pub(crate) struct PairTable {
    #[pin]
    inner: Mutex<TableInner>,
    class: Arc<DeviceClass>,
    slave_major: u32,
}

impl PairTable {
    pub(crate) fn new(
        max_pairs: usize,
        class: Arc<DeviceClass>,
        slave_major: u32,
    ) -> Result<Arc<Self>> {
        let indexes = IndexAllocator::new(KernelStorage::new(), max_pairs).map_err(|_| ENOMEM)?;
        let mut slots = KVec::with_capacity(max_pairs, GFP_KERNEL)?;
        for _ in 0..max_pairs {
            slots.push(None, GFP_KERNEL)?;
        }
        Arc::pin_init(
            pin_init!(Self {
                inner <- new_mutex!(TableInner { indexes, slots }, "ckpt_pty::PairTable::inner"),
                class,
                slave_major,
            }),
            GFP_KERNEL,
        )
    }

    /// A new pair at the lowest free index (opening the clone master).
    pub(crate) fn allocate(self: &Arc<Self>) -> Result<Arc<Pair>> {
        let mut inner = self.inner.lock();
        let index = inner.indexes.alloc().ok_or(ENOSPC)?;
        self.install(&mut inner, index)
    }

    /// A new pair at exactly `index` (restart): EBUSY if it is held.
    #[expect(dead_code)]
    pub(crate) fn claim(self: &Arc<Self>, index: usize) -> Result<Arc<Pair>> {
        let mut inner = self.inner.lock();
        inner.indexes.claim(index).map_err(|e| match e {
            IndexError::Busy => EBUSY,
            IndexError::OutOfRange => ENXIO,
        })?;
        self.install(&mut inner, index)
    }

    /// Creates the pair and its node for a freshly taken `index`, or gives
    /// the index back.
    fn install(self: &Arc<Self>, inner: &mut TableInner, index: usize) -> Result<Arc<Pair>> {
        match self.make_slot(index) {
            Ok(slot) => {
                let pair = slot.pair.clone();
                if let Some(entry) = inner.slots.get_mut(index) {
                    *entry = Some(slot);
                }
                Ok(pair)
            }
            Err(e) => {
                inner.indexes.release(index);
                Err(e)
            }
        }
    }

    fn make_slot(self: &Arc<Self>, index: usize) -> Result<Slot> {
        let index = u32::try_from(index).map_err(|_| ENXIO)?;
        let name = CString::try_from_fmt(fmt!("ckpt/pts/{}", index))?;
        let node = DeviceNode::create(&self.class, mkdev(self.slave_major, index), &name)?;
        let pair = Arc::new(
            Pair {
                index,
                locked: AtomicBool::new(true),
                table: self.clone(),
            },
            GFP_KERNEL,
        );
        match pair {
            Ok(pair) => Ok(Slot {
                pair,
                _slave_node: node,
            }),
            // The index is still ours: `install` releases it.
            Err(e) => Err(e.into()),
        }
    }

    /// The pair at `index`, if its master is live.
    pub(crate) fn lookup(&self, index: usize) -> Option<Arc<Pair>> {
        let inner = self.inner.lock();
        inner
            .slots
            .get(index)
            .and_then(|s| s.as_ref())
            .map(|s| s.pair.clone())
    }

    /// The master of `pair` went away: its node goes and no new slave open
    /// can find it; the index stays taken until the pair itself is dropped.
    pub(crate) fn unlink(&self, pair: &Pair) {
        let removed = {
            let mut inner = self.inner.lock();
            inner
                .slots
                .get_mut(pair.index as usize)
                .and_then(|s| s.take())
        };
        // Dropped outside the lock: it may be the pair's last reference,
        // whose drop takes the lock to release the index.
        drop(removed);
    }

    fn release_index(&self, index: usize) {
        self.inner.lock().indexes.release(index);
    }
}
