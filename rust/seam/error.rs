// SPDX-License-Identifier: GPL-2.0
//! The one conversion of the core's [`Errno`] into the kernel's [`Error`].
//!
//! The core names the errno of each of its errors (`errno()`); the driver
//! returns `Error::from(e.errno())`, so no file keeps its own mapping or its
//! own errno numbers.

use crate::pty_core::errno::Errno;
use kernel::{bindings, error::Error};

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        // In range: every `Errno` is one of the kernel's own positive errno
        // numbers (checked against its headers below).
        Error::from_errno(-e.code())
    }
}

/// The kernel's number for `e`, from its own headers.
const fn kernel_code(e: Errno) -> u32 {
    match e {
        Errno::ENOENT => bindings::ENOENT,
        Errno::EIO => bindings::EIO,
        Errno::ENXIO => bindings::ENXIO,
        Errno::ENOMEM => bindings::ENOMEM,
        Errno::EBUSY => bindings::EBUSY,
        Errno::EINVAL => bindings::EINVAL,
        Errno::ERANGE => bindings::ERANGE,
        Errno::EBADMSG => bindings::EBADMSG,
        Errno::EOVERFLOW => bindings::EOVERFLOW,
        Errno::EPROTONOSUPPORT => bindings::EPROTONOSUPPORT,
    }
}

/// Whether the core's numbers are the kernel's, for every value.
const fn core_matches_kernel() -> bool {
    let mut i = 0;
    while i < Errno::ALL.len() {
        let e = Errno::ALL[i];
        if e.code() < 0 || e.code() as u32 != kernel_code(e) {
            return false;
        }
        i += 1;
    }
    true
}

// The core's errno table is the kernel's: checked when compiling.
const _: () = assert!(core_matches_kernel());
