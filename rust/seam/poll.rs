// SPDX-License-Identifier: GPL-2.0
//! Wait queues usable from `poll`, in the shape of later kernels'
//! `kernel::sync::poll::{PollTable, PollCondVar}`.

use super::file::File;
use kernel::{
    bindings, init::PinInit, pin_init, prelude::pin_data, str::CStr, sync::LockClassKey,
    types::Opaque,
};

// Pointers to kernel structs that bindgen left empty (as the kernel crate does).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_poll_wait(
        filp: *mut bindings::file,
        head: *mut bindings::wait_queue_head,
        table: *mut bindings::poll_table_struct,
    );
    fn ckpt_pty_wake_up_interruptible_poll(head: *mut bindings::wait_queue_head, mask: u32);
}

/// Poll event bits (`include/uapi/linux/eventpoll.h`); bindgen cannot see
/// them through their `__force` casts.
pub(crate) mod events {
    pub(crate) const POLLIN: u32 = 0x0001;
    pub(crate) const POLLPRI: u32 = 0x0002;
    pub(crate) const POLLOUT: u32 = 0x0004;
    pub(crate) const POLLERR: u32 = 0x0008;
    pub(crate) const POLLHUP: u32 = 0x0010;
    pub(crate) const POLLRDNORM: u32 = 0x0040;
    pub(crate) const POLLWRNORM: u32 = 0x0100;
}

/// The `poll_table` handed to a `poll` file operation.
///
/// # Invariants
///
/// `ptr` is null or valid for the duration of the poll call.
pub(crate) struct PollTable {
    ptr: *mut bindings::poll_table_struct,
}

impl PollTable {
    /// # Safety
    ///
    /// `ptr` must be null or a valid poll table for the duration of the call
    /// that received it.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::poll_table_struct) -> Self {
        Self { ptr }
    }

    /// Registers `file` to be woken through `queue` (`poll_wait`).
    pub(crate) fn register(&self, file: &File, queue: &PollQueue) {
        // SAFETY: The file and the table are valid for this poll call (type
        // invariants); the queue's owner is kept alive by the open file, and
        // `release` runs only after the VFS removed this file's poll waiters.
        unsafe { ckpt_pty_poll_wait(file.as_ptr(), queue.inner.get(), self.ptr) }
    }
}

/// A wait queue head that `poll` can register on and writers can wake.
#[pin_data]
pub(crate) struct PollQueue {
    #[pin]
    inner: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue head is designed to be used from any thread; it has
// its own spinlock.
unsafe impl Send for PollQueue {}
// SAFETY: Shared references only register on the head or wake it, both
// under its own spinlock.
unsafe impl Sync for PollQueue {}

impl PollQueue {
    pub(crate) fn new(name: &'static CStr, key: &'static LockClassKey) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `__init_waitqueue_head`
            // initialises it completely; name and key are static, and
            // `LockClassKey` is `repr(transparent)` over the C key.
            inner <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(
                    slot,
                    name.as_char_ptr(),
                    (key as *const LockClassKey).cast_mut().cast(),
                )
            }),
        })
    }

    /// Wakes pollers and sleepers interested in `mask`.
    pub(crate) fn wake(&self, mask: u32) {
        // SAFETY: The head was initialised by `new` and is pinned.
        unsafe { ckpt_pty_wake_up_interruptible_poll(self.inner.get(), mask) }
    }
}
