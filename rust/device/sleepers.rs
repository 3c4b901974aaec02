// SPDX-License-Identifier: GPL-2.0
//! [`SleepQueue`]: one kind of sleeper of a pair (master readers, slave
//! writers, ...) with a count of who is asleep, so that a wake-up that
//! finds nobody asleep costs nothing.
//!
//! A busy pty reports an edge on almost every operation (bytes became
//! readable while the reader is still running, say); waking an empty
//! wait queue still takes its lock, which profiles showed as the largest
//! single cost of a slave read in the tty core's 64-byte pieces.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    init::PinInit,
    pin_init,
    prelude::*,
    str::CStr,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        CondVar, CondVarTimeoutResult, LockClassKey,
    },
};

/// A condition variable whose sleepers are counted.
///
/// # Locking
///
/// `sleepers` changes and is read only with the pair's lock held (the
/// guard a sleeper waits with; the `Streams` a waker gets from it): a
/// sleeper is counted before it lets the lock go and until it has it
/// again, so a waker holding the lock never misses one. (Atomic only so
/// that the type is `Sync`; the lock orders every access.)
#[pin_data]
pub(crate) struct SleepQueue {
    #[pin]
    queue: CondVar,
    sleepers: AtomicU32,
}

impl SleepQueue {
    pub(crate) fn new(name: &'static CStr, key: &'static LockClassKey) -> impl PinInit<Self> {
        pin_init!(Self {
            queue <- CondVar::new(name, key),
            sleepers: AtomicU32::new(0),
        })
    }

    /// Sleeps until woken, the lock of `guard` released meanwhile. Returns
    /// whether a signal is pending.
    pub(crate) fn wait_interruptible<T: ?Sized>(
        &self,
        guard: &mut Guard<'_, T, MutexBackend>,
    ) -> bool {
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let signal = self.queue.wait_interruptible(guard);
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        signal
    }

    /// [`Self::wait_interruptible`] for at most `jiffies`.
    pub(crate) fn wait_interruptible_timeout<T: ?Sized>(
        &self,
        guard: &mut Guard<'_, T, MutexBackend>,
        jiffies: kernel::time::Jiffies,
    ) -> CondVarTimeoutResult {
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let r = self.queue.wait_interruptible_timeout(guard, jiffies);
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        r
    }

    /// Wakes every sleeper, if there is one. The caller holds the lock
    /// the sleepers wait with.
    pub(crate) fn notify_all(&self) {
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.queue.notify_all();
        }
    }
}
