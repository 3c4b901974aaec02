// SPDX-License-Identifier: GPL-2.0
//! What every instance shares: the device numbers, the defaults from the
//! module parameters, the internal mount where the module opens its slave
//! ttys, and the module-wide counters.

use crate::pty_core::image::PtyMode;
use crate::pty_core::quota::PairQuota;
use crate::seam::chrdev::mkdev;
use crate::seam::fs::{InternalMount, SuperBlock};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use kernel::{
    bindings,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// Module-wide counters (`CKPT_GLOBAL_STATUS`).
#[derive(Default)]
pub(crate) struct GlobalStats {
    pub(crate) checkpoints: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) checkpoint_bytes: AtomicU64,
    pub(crate) restart_bytes: AtomicU64,
    pub(crate) sessions_committed: AtomicU64,
    pub(crate) sessions_rolled_back: AtomicU64,
}

impl GlobalStats {
    /// A checkpoint of `bytes` was taken.
    pub(crate) fn checkpointed(&self, bytes: usize) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.checkpoint_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// An image of `bytes` was restored.
    pub(crate) fn restarted(&self, bytes: usize) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.restart_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// What every instance shares: device numbers, defaults, the internal
/// mount where the module opens its slave ttys.
pub(crate) struct Globals {
    internal: InternalMount,
    /// Majors of the AT&T and BSD slave tty drivers.
    pub(crate) att_major: u32,
    pub(crate) bsd_major: u32,
    /// Majors of the master devices and the control device.
    pub(crate) master_major: u32,
    pub(crate) bsd_master_major: u32,
    pub(crate) control_major: u32,
    /// Defaults for `max=` and `bsd=` (module parameters).
    pub(crate) max_pairs: u32,
    pub(crate) bsd_pairs: u32,
    /// AT&T pairs over all instances (`pty_max`, `pty_reserve`).
    pub(crate) quota: PairQuota,
    next_id: AtomicU64,
    pub(crate) stats: GlobalStats,
}

/// The module's [`Globals`], for the filesystem's entry points (which get
/// no context of their own). Set while `ckptpts` is registered.
static GLOBALS: AtomicPtr<Globals> = AtomicPtr::new(core::ptr::null_mut());

impl Globals {
    pub(crate) fn new(
        att_major: u32,
        bsd_major: u32,
        master_major: u32,
        bsd_master_major: u32,
        control_major: u32,
        max_pairs: u32,
        bsd_pairs: u32,
        quota: PairQuota,
    ) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                internal: InternalMount::new()?,
                att_major,
                bsd_major,
                master_major,
                bsd_master_major,
                control_major,
                max_pairs,
                bsd_pairs,
                quota,
                next_id: AtomicU64::new(1),
                stats: GlobalStats::default(),
            },
            GFP_KERNEL,
        )?)
    }

    /// Makes `this` reachable from the filesystem's entry points until
    /// [`Globals::unpublish`].
    fn publish(this: &Arc<Self>) {
        let raw = Arc::into_raw(this.clone()).cast_mut();
        let old = GLOBALS.swap(raw, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` is a reference an earlier `publish` stored with
            // `Arc::into_raw`, taken back once by the swap.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    fn unpublish() {
        let old = GLOBALS.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` is the reference `publish` stored with
            // `Arc::into_raw`, taken back once by the swap.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    pub(crate) fn get() -> Result<Arc<Self>> {
        let raw = GLOBALS.load(Ordering::Acquire);
        if raw.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: Published from `Arc::into_raw` and only released by
        // `unpublish`, which module exit calls after unregistering the
        // filesystem (a mount in progress holds a module reference).
        let borrowed = unsafe { ArcBorrow::<Self>::from_raw(raw) };
        Ok(borrowed.into())
    }

    pub(crate) fn internal_mount(&self) -> &InternalMount {
        &self.internal
    }

    pub(crate) fn internal_sb(&self) -> SuperBlock {
        self.internal.sb()
    }

    /// A fresh name for an internal node.
    pub(crate) fn next_internal_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The slave tty's device number.
    pub(crate) fn slave_dev(&self, mode: PtyMode, index: u32) -> bindings::dev_t {
        match mode {
            PtyMode::Att => mkdev(self.att_major, index),
            PtyMode::Bsd => mkdev(self.bsd_major, index),
        }
    }
}

/// The globals, reachable from the filesystem's entry points while this
/// lives.
pub(crate) struct PublishedGlobals(#[expect(dead_code)] Arc<Globals>);

impl PublishedGlobals {
    pub(crate) fn new(globals: Arc<Globals>) -> Self {
        Globals::publish(&globals);
        Self(globals)
    }
}

impl Drop for PublishedGlobals {
    fn drop(&mut self) {
        Globals::unpublish();
    }
}
