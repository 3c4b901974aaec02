// SPDX-License-Identifier: GPL-2.0
//! A borrowed `struct file`, in the shape of later kernels' `kernel::fs::File`.

use kernel::bindings;

/// `O_NONBLOCK` from `include/uapi/asm-generic/fcntl.h` (x86).
const O_NONBLOCK: u32 = 0o4000;

/// A `struct file` borrowed for the duration of one file operation.
///
/// # Invariants
///
/// `ptr` points to a valid `struct file` for the lifetime of this value.
pub(crate) struct File {
    ptr: *mut bindings::file,
}

impl File {
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct file` that outlives the returned value.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::file) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self { ptr }
    }

    /// The open flags (`O_*`) as currently set (fcntl may change them).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: `ptr` is valid (type invariant); `f_flags` is a plain word
        // that fcntl updates under its own lock, a racy read is what the C
        // drivers do too (`file->f_flags & O_NONBLOCK`).
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.ptr).f_flags)) }
    }

    pub(crate) fn is_nonblocking(&self) -> bool {
        self.flags() & O_NONBLOCK != 0
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr
    }
}
