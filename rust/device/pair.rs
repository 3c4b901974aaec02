// SPDX-License-Identifier: GPL-2.0
//! Pairs (one pty = master end + slave end, named by its slave index) and
//! the table that finds them by index in O(1).
//!
//! Lifetimes follow Linux devpts: the slave node disappears when the master
//! closes (new slave opens then fail), but the index stays taken until the
//! last end of the pair is gone, so a number is never reused while anybody
//! still holds the old pair.

use super::restart::{GlobalStats, Session};
use crate::pty_core::index::{IndexAllocator, IndexError};
use crate::pty_core::stream::{Effects, PtyPair, Signals, Wake};
use crate::seam::chrdev::{mkdev, DeviceClass, DeviceNode};
use crate::seam::poll::{events::*, PollQueue};
use crate::seam::process::{self, ProcessGroup};
use crate::seam::storage::KernelStorage;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    c_str, fmt, new_condvar, new_mutex,
    prelude::*,
    static_lock_class,
    str::CString,
    sync::{Arc, CondVar, Mutex},
};

/// The state behind a pair's lock.
pub(crate) struct Streams {
    /// A master file is open (BSD pairs reopen their master; AT&T masters
    /// are open from creation to unlink).
    pub(crate) master_open: bool,
    /// Both streams and every byte in flight between them.
    pub(crate) pty: PtyPair<KernelStorage>,
    /// The slave's foreground process group (`TIOCSPGRP`), which receives
    /// the job-control signals and `SIGWINCH`.
    pub(crate) foreground: Option<ProcessGroup>,
    /// `TIOCEXCL` per end: further opens of that end need `CAP_SYS_ADMIN`.
    pub(crate) exclusive: [bool; 2],
    /// Checkpoint statistics per stream (master, slave).
    pub(crate) stats: [StreamStats; 2],
    /// Line speeds (input, output) as `TCGETS2` reports them.
    pub(crate) speeds: [u32; 2],
    /// The socket this pair serves (`CKPT_SOCKET_SET`), by identity.
    pub(crate) socket: Option<crate::uapi::SocketRecord>,
}

/// What `CKPT_STATUS` reports about one stream beyond its live state.
#[derive(Clone, Copy, Default)]
pub(crate) struct StreamStats {
    pub(crate) last_op: u32,
    pub(crate) checkpoints: u64,
    pub(crate) restarts: u64,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) restart_bytes: u64,
}

impl Streams {
    pub(crate) fn new() -> Self {
        Self {
            master_open: false,
            pty: PtyPair::new(KernelStorage::new),
            foreground: None,
            exclusive: [false; 2],
            stats: [StreamStats::default(); 2],
            speeds: [38400; 2],
            socket: None,
        }
    }
}

/// One pty.
#[pin_data(PinnedDrop)]
pub(crate) struct Pair {
    /// Slave index (AT&T) or BSD pair number.
    pub(crate) index: u32,
    /// The slave cannot be opened while set (TIOCSPTLCK); a fresh AT&T pair
    /// is locked, as on Linux, until the master unlocks it.
    locked: AtomicBool,
    /// AT&T pairs: the table that gets the index back when the last end
    /// drops the pair. BSD pairs live as long as the module: `None`.
    table: Option<Arc<PairTable>>,
    /// Created by a restart session and not committed yet: frozen, its
    /// slave opens despite the lock, its master opens only through
    /// `CKPT_OPEN_MASTER`.
    restoring: AtomicBool,
    /// One lock for both streams: every operation touches both ends
    /// (echo, output, flow control), so one lock keeps the data path free
    /// of lock ordering. Never held across a user copy.
    #[pin]
    pub(crate) streams: Mutex<Streams>,
    /// Blocked readers and writers of both ends.
    #[pin]
    pub(crate) waiters: CondVar,
    /// `poll` registrations of both ends.
    #[pin]
    pub(crate) pollers: PollQueue,
}

impl Pair {
    /// A fresh pair: AT&T when `table` is given (locked, index owned by
    /// the table), BSD otherwise (unlocked).
    pub(crate) fn new(index: u32, table: Option<Arc<PairTable>>) -> Result<Arc<Self>> {
        let locked = table.is_some();
        Arc::pin_init(
            pin_init!(Pair {
                index,
                locked: AtomicBool::new(locked),
                table,
                restoring: AtomicBool::new(false),
                streams <- new_mutex!(Streams::new(), "ckpt_pty::Pair::streams"),
                waiters <- new_condvar!("ckpt_pty::Pair::waiters"),
                pollers <- PollQueue::new(c_str!("ckpt_pty::Pair::pollers"), static_lock_class!()),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn is_bsd(&self) -> bool {
        self.table.is_none()
    }

    pub(crate) fn table(&self) -> Option<&Arc<PairTable>> {
        self.table.as_ref()
    }

    pub(crate) fn is_restoring(&self) -> bool {
        self.restoring.load(Ordering::Acquire)
    }

    /// Session commit: the restored streams start running.
    pub(crate) fn finish_restore(&self) {
        let mut guard = self.streams.lock();
        self.restoring.store(false, Ordering::Release);
        let mut fx = Effects::default();
        guard.pty.thaw(true, &mut fx);
        guard.pty.thaw(false, &mut fx);
        self.settle(&guard, fx);
    }

    /// Session rollback: whoever holds an end sees a hangup.
    pub(crate) fn abandon(&self) {
        let mut guard = self.streams.lock();
        self.restoring.store(false, Ordering::Release);
        let mut fx = Effects::default();
        guard.pty.master_released(&mut fx);
        guard.pty.life.slave_closed = true;
        self.settle(&guard, fx);
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    pub(crate) fn set_locked(&self, locked: bool) {
        self.locked.store(locked, Ordering::Release)
    }

    /// Carries out what an operation on the streams asked for. Called with
    /// the lock held: wake-ups and `kill_pgrp` do not take it.
    pub(crate) fn settle(&self, streams: &Streams, fx: Effects) {
        if !fx.wake.is_empty() {
            self.waiters.notify_all();
            self.pollers.wake(poll_mask(fx.wake));
        }
        if fx.signals.is_empty() {
            return;
        }
        if let Some(fg) = &streams.foreground {
            for (sig, signo) in [
                (Signals::INT, SIGINT),
                (Signals::QUIT, SIGQUIT),
                (Signals::TSTP, SIGTSTP),
                (Signals::WINCH, SIGWINCH),
            ] {
                if fx.signals.contains(sig) {
                    fg.signal(signo);
                }
            }
        }
    }
}

/// Poll bits a wake-up concerns.
fn poll_mask(wake: Wake) -> u32 {
    let mut mask = 0;
    if wake.intersects(Wake::MASTER_READ | Wake::SLAVE_READ) {
        mask |= POLLIN | POLLRDNORM | POLLPRI;
    }
    if wake.intersects(Wake::MASTER_WRITE | Wake::SLAVE_WRITE) {
        mask |= POLLOUT | POLLWRNORM;
    }
    if wake == Wake::ALL {
        mask |= POLLHUP | POLLERR;
    }
    mask
}

const SIGINT: i32 = 2;
const SIGQUIT: i32 = 3;
const SIGTSTP: i32 = 20;
const SIGWINCH: i32 = 28;

#[pinned_drop]
impl PinnedDrop for Pair {
    fn drop(self: Pin<&mut Self>) {
        if let Some(table) = &self.table {
            table.release_index(self.index as usize);
        }
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
    max_pairs: u32,
    bsd_pairs: u32,
    /// The restart session, if one is open. Lock order: session, then a
    /// pair's streams, then `inner`.
    #[pin]
    pub(crate) session: Mutex<Option<Session>>,
    /// A `CKPT_OPEN_MASTER` in progress: (thread, index). The ptmx open of
    /// that thread attaches to the pair instead of allocating one.
    #[pin]
    master_target: Mutex<Option<(i32, u32)>>,
    pub(crate) stats: GlobalStats,
}

impl PairTable {
    pub(crate) fn new(
        max_pairs: usize,
        bsd_count: u32,
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
                max_pairs: max_pairs as u32,
                bsd_pairs: bsd_count,
                session <- new_mutex!(None, "ckpt_pty::PairTable::session"),
                master_target <- new_mutex!(None, "ckpt_pty::PairTable::master_target"),
                stats: GlobalStats::default(),
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

    /// A new pair at exactly `index` for a restart session, in O(1):
    /// `EBUSY` if a live pair holds it. It starts frozen and restoring.
    pub(crate) fn claim_for_restore(self: &Arc<Self>, index: usize) -> Result<Arc<Pair>> {
        let mut inner = self.inner.lock();
        inner.indexes.claim(index).map_err(|e| match e {
            IndexError::Busy => EBUSY,
            IndexError::OutOfRange => ENXIO,
        })?;
        let pair = self.install(&mut inner, index)?;
        drop(inner);
        pair.restoring.store(true, Ordering::Release);
        {
            let mut guard = pair.streams.lock();
            guard.pty.freeze(true);
            guard.pty.freeze(false);
        }
        Ok(pair)
    }

    pub(crate) fn max_pairs(&self) -> u32 {
        self.max_pairs
    }

    pub(crate) fn bsd_pairs(&self) -> u32 {
        self.bsd_pairs
    }

    /// Indexes in use (live pairs, including masters closed while their
    /// slave is still open).
    pub(crate) fn live_pairs(&self) -> u32 {
        self.inner.lock().indexes.used() as u32
    }

    /// Arms `CKPT_OPEN_MASTER` for the calling thread.
    pub(crate) fn set_master_target(&self, index: u32) -> Result {
        let mut t = self.master_target.lock();
        if t.is_some() {
            return Err(EBUSY);
        }
        *t = Some((process::current_tid(), index));
        Ok(())
    }

    pub(crate) fn clear_master_target(&self) {
        *self.master_target.lock() = None;
    }

    /// The restoring pair this thread's ptmx open must attach to, if any.
    pub(crate) fn take_master_target(&self) -> Option<Arc<Pair>> {
        let index = {
            let mut t = self.master_target.lock();
            match *t {
                Some((tid, index)) if tid == process::current_tid() => {
                    *t = None;
                    index
                }
                _ => return None,
            }
        };
        self.lookup(index as usize).filter(|p| p.is_restoring())
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
        match Pair::new(index, Some(self.clone())) {
            Ok(pair) => Ok(Slot {
                pair,
                _slave_node: node,
            }),
            // The index is still ours: `install` releases it.
            Err(e) => Err(e),
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
