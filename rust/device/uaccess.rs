// SPDX-License-Identifier: GPL-2.0
//! User copies shared by the ioctl handlers and the data path: an ioctl's
//! argument structure in and out, and the part of a kernel buffer to copy
//! out.

use crate::pty_core::bytes::{ByteSink, ByteSource, CopyFault};
use crate::seam::log::warn_limited;
use kernel::{
    prelude::*,
    types::{AsBytes, FromBytes},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

/// Reads the `T` that `arg` points to.
pub(crate) fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(arg, core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

/// Writes `value` where `arg` points.
pub(crate) fn write_arg<T: AsBytes>(arg: usize, value: &T) -> Result {
    UserSlice::new(arg, core::mem::size_of::<T>())
        .writer()
        .write(value)
}

/// Answers an ioctl with the `int` it reports.
pub(crate) fn put_i32(arg: usize, value: i32) -> Result<isize> {
    write_arg(arg, &value)?;
    Ok(0)
}

/// A count beyond the buffer it counts in (the core never reports more
/// bytes than it was given): an internal inconsistency, reported as `EIO`.
pub(crate) fn overrun(n: usize, len: usize) -> Error {
    warn_limited!("internal error: {} bytes of a buffer of {}\n", n, len);
    EIO
}

/// The first `n` bytes of `buf` (what the core filled).
pub(crate) fn filled(buf: &[u8], n: usize) -> Result<&[u8]> {
    buf.get(..n).ok_or_else(|| overrun(n, buf.len()))
}

/// The user memory of a master `write(2)`, which the core copies from
/// straight into its queues.
pub(crate) struct UserSource<'a>(pub(crate) &'a mut UserSliceReader);

impl ByteSource for UserSource<'_> {
    fn remaining(&self) -> usize {
        self.0.len()
    }

    fn fill(&mut self, dst: &mut [u8]) -> core::result::Result<(), CopyFault> {
        // A failed copy does not advance the reader.
        self.0.read_slice(dst).map_err(|_| CopyFault)
    }
}

/// The user memory of a master `read(2)`, which the core copies to
/// straight from its queue.
pub(crate) struct UserSink<'a>(pub(crate) &'a mut UserSliceWriter);

impl ByteSink for UserSink<'_> {
    fn room(&self) -> usize {
        self.0.len()
    }

    fn take(&mut self, src: &[u8]) -> core::result::Result<(), CopyFault> {
        // A failed copy does not advance the writer.
        self.0.write_slice(src).map_err(|_| CopyFault)
    }
}
