// SPDX-License-Identifier: GPL-2.0
//! The memory seam: backing bytes that the core can grow without ever
//! touching an allocator itself.
//!
//! A pty that nobody types into should cost almost nothing, so queues start
//! with no memory and grow on demand. The core only sees [`Storage`]: the
//! kernel module implements it with `KVec<u8>` (fallible `GFP_KERNEL`
//! allocation), the host tests with `Vec<u8>`, and KUnit tests may use the
//! allocation-free [`FixedStorage`].

use super::errno::Errno;

/// Growing a [`Storage`] failed. `ENOMEM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl AllocError {
    /// The errno for this error: `ENOMEM`.
    pub const fn errno(&self) -> Errno {
        Errno::ENOMEM
    }
}

/// Backing bytes of a growable buffer. The kernel implements it with
/// `KVec<u8>`, the host tests with `Vec<u8>`.
pub trait Storage {
    /// The bytes currently allocated.
    fn as_slice(&self) -> &[u8];
    /// The bytes currently allocated, writable.
    fn as_mut_slice(&mut self) -> &mut [u8];
    /// Grow to exactly `new_len` bytes (new bytes zeroed), keeping the
    /// contents. Never called with `new_len` < current length.
    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError>;
    /// Drop all memory (length becomes 0).
    fn release(&mut self);
    /// Number of bytes currently allocated.
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    /// Whether no memory is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Allocation-free [`Storage`] over an inline `[u8; N]`: growing succeeds up
/// to `N` bytes and fails beyond, which makes allocation failure easy to
/// provoke in KUnit tests.
#[derive(Clone, Debug)]
pub struct FixedStorage<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedStorage<N> {
    /// An empty storage (length 0, room for `N` bytes).
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Default for FixedStorage<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Storage for FixedStorage<N> {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        self.buf.get_mut(..self.len).unwrap_or(&mut [])
    }

    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        if new_len > N {
            return Err(AllocError);
        }
        if new_len > self.len {
            // Bytes past `len` may hold data of a released generation.
            if let Some(fresh) = self.buf.get_mut(self.len..new_len) {
                fresh.fill(0);
            }
            self.len = new_len;
        }
        Ok(())
    }

    fn release(&mut self) {
        self.len = 0;
    }
}
