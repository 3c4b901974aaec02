// SPDX-License-Identifier: GPL-2.0
//! The errno values the core's errors stand for, defined once.
//!
//! Every error type of the core has an `errno()` naming its [`Errno`], so
//! the mapping is decided next to the error, documented on its variants and
//! pinned by a host test (`rust/core/tests/errno.rs`). The kernel turns an
//! [`Errno`] into its own error type in exactly one place
//! (`rust/seam/error.rs`); user-space tools compare [`Errno::code`] with
//! libc's values.

/// An errno by its positive asm-generic number (the kernel returns the
/// negation). Only the values some core error stands for are here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
// The C names, so they read as in the kernel and the man pages.
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// No such file or directory: nothing by that name or index.
    ENOENT = 2,
    /// I/O error: the other end hung up.
    EIO = 5,
    /// No such device or address: an index past the instance's range, or
    /// ends missing at commit.
    ENXIO = 6,
    /// Out of memory.
    ENOMEM = 12,
    /// Device or resource busy: in use, or done already.
    EBUSY = 16,
    /// Invalid argument: malformed input.
    EINVAL = 22,
    /// Result not representable: the caller's buffer is too small.
    ERANGE = 34,
    /// Bad message: a checksum mismatch.
    EBADMSG = 74,
    /// Value too large for its field.
    EOVERFLOW = 75,
    /// Protocol not supported: another format or state version, or an
    /// image of a kernel with other constants.
    EPROTONOSUPPORT = 93,
}

impl Errno {
    /// Every value, in numeric order.
    pub const ALL: [Self; 10] = [
        Self::ENOENT,
        Self::EIO,
        Self::ENXIO,
        Self::ENOMEM,
        Self::EBUSY,
        Self::EINVAL,
        Self::ERANGE,
        Self::EBADMSG,
        Self::EOVERFLOW,
        Self::EPROTONOSUPPORT,
    ];

    /// The positive number.
    pub const fn code(self) -> i32 {
        self as i32
    }
}
