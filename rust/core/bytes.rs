// SPDX-License-Identifier: GPL-2.0
//! Cutting byte slices at a length that may lie past their end: "at most
//! `n` bytes" is a request, not an index, so it has no error case to hide.

/// The first `n` bytes of `bytes` (all of them if there are fewer), and the
/// rest.
pub fn split_at_most(bytes: &[u8], n: usize) -> (&[u8], &[u8]) {
    // `None` means exactly "fewer than `n`": then all of them are taken.
    bytes.split_at_checked(n).unwrap_or((bytes, &[]))
}

/// [`split_at_most`] of a mutable slice.
pub fn split_at_most_mut(bytes: &mut [u8], n: usize) -> (&mut [u8], &mut [u8]) {
    // A cut at most at the length: `split_at_mut` cannot panic.
    let n = n.min(bytes.len());
    bytes.split_at_mut(n)
}

/// A copy from or to the caller's memory failed (in the kernel: user
/// memory that is not mapped, `EFAULT`). Nothing of that copy happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyFault;

/// Where a write's bytes come from, so that the core can copy them straight
/// into the queue that keeps them (in the kernel: from user memory, with no
/// bounce buffer in between).
pub trait ByteSource {
    /// Bytes not taken yet.
    fn remaining(&self) -> usize;
    /// Copies the next `dst.len()` bytes (at most [`Self::remaining`]) into
    /// `dst` and moves past them; on `Err` nothing was taken.
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), CopyFault>;
}

/// Where a read's bytes go (in the kernel: user memory).
pub trait ByteSink {
    /// Bytes it still takes.
    fn room(&self) -> usize;
    /// Appends `src` (at most [`Self::room`] bytes); on `Err` nothing was
    /// taken.
    fn take(&mut self, src: &[u8]) -> Result<(), CopyFault>;
}

/// A [`ByteSource`] over a slice: never faults.
#[derive(Debug)]
pub struct SliceSource<'a> {
    rest: &'a [u8],
}

impl<'a> SliceSource<'a> {
    /// The bytes of `data`, front first.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }
}

impl ByteSource for SliceSource<'_> {
    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn fill(&mut self, dst: &mut [u8]) -> Result<(), CopyFault> {
        let (now, rest) = split_at_most(self.rest, dst.len());
        let (dst, _) = split_at_most_mut(dst, now.len());
        dst.copy_from_slice(now);
        self.rest = rest;
        Ok(())
    }
}

/// A [`ByteSink`] filling a slice from its start: never faults.
#[derive(Debug)]
pub struct SliceSink<'a> {
    buf: &'a mut [u8],
    filled: usize,
}

impl<'a> SliceSink<'a> {
    /// An empty sink over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, filled: 0 }
    }

    /// Bytes taken so far.
    pub fn filled(&self) -> usize {
        self.filled
    }
}

impl ByteSink for SliceSink<'_> {
    fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.filled)
    }

    fn take(&mut self, src: &[u8]) -> Result<(), CopyFault> {
        let (_, free) = split_at_most_mut(self.buf, self.filled);
        let (dst, _) = split_at_most_mut(free, src.len());
        let (src, _) = split_at_most(src, dst.len());
        dst.copy_from_slice(src);
        self.filled = self.filled.saturating_add(src.len());
        Ok(())
    }
}
