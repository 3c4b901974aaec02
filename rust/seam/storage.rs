// SPDX-License-Identifier: GPL-2.0
//! Kernel memory for the pure core's growable buffers.

use crate::pty_core::storage::{AllocError, Storage};
use kernel::alloc::{flags::GFP_KERNEL, KVec};

/// A [`Storage`] backed by a `KVec<u8>`: queues start empty and grow on
/// demand, so an idle pty costs no buffer memory.
#[derive(Default)]
pub(crate) struct KernelStorage(KVec<u8>);

impl KernelStorage {
    pub(crate) fn new() -> Self {
        Self(KVec::new())
    }
}

impl Storage for KernelStorage {
    fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }

    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        let extra = new_len.saturating_sub(self.0.len());
        self.0
            .extend_with(extra, 0, GFP_KERNEL)
            .map_err(|_| AllocError)
    }

    fn release(&mut self) {
        self.0 = KVec::new();
    }
}
