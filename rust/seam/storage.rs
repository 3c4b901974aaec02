// SPDX-License-Identifier: GPL-2.0
//! Kernel memory for the pure core's growable buffers.

use crate::pty_core::storage::{AllocError, Storage};
use kernel::alloc::{flags::GFP_KERNEL_ACCOUNT, KVVec};

/// A [`Storage`] backed by a `KVVec<u8>` (kmalloc, falling back to vmalloc
/// for the large ones: a 2^20-index bitmap, a session's wait lists):
/// queues start empty and grow on demand, so an idle pty costs no buffer
/// memory. The memory is charged to
/// the memory cgroup of the task that makes a queue grow (as pipes and the
/// tty core's buffers are), so a user cannot pin it outside their limit.
pub(crate) struct KernelStorage(KVVec<u8>);

impl Default for KernelStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl KernelStorage {
    pub(crate) fn new() -> Self {
        Self(KVVec::new())
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
            .extend_with(extra, 0, GFP_KERNEL_ACCOUNT)
            .map_err(|_| AllocError)
    }

    fn release(&mut self) {
        self.0 = KVVec::new();
    }
}
