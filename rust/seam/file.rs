// SPDX-License-Identifier: GPL-2.0
//! A borrowed `struct file`, in the shape of later kernels' `kernel::fs::File`.

use kernel::bindings;

/// Open flags (`O_*`), the one place the module names them; the values are
/// the kernel headers' (`include/uapi/asm-generic/fcntl.h`).
pub(crate) mod flags {
    use kernel::bindings;

    /// The access mode bits (`O_RDONLY`, `O_WRONLY`, `O_RDWR`).
    pub(crate) const O_ACCMODE: u32 = bindings::O_ACCMODE;
    /// Open for reading and writing.
    pub(crate) const O_RDWR: u32 = bindings::O_RDWR;
    /// Do not become the controlling terminal.
    pub(crate) const O_NOCTTY: u32 = bindings::O_NOCTTY;
    /// Append on each write.
    pub(crate) const O_APPEND: u32 = bindings::O_APPEND;
    /// Do not block.
    pub(crate) const O_NONBLOCK: u32 = bindings::O_NONBLOCK;
    /// Large-file offsets (forced on 64-bit; part of what an open passes).
    pub(crate) const O_LARGEFILE: u32 = bindings::O_LARGEFILE;
    /// Close the descriptor on `exec`.
    pub(crate) const O_CLOEXEC: u32 = bindings::O_CLOEXEC;
}

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
        self.flags() & flags::O_NONBLOCK != 0
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.ptr
    }
}
