// SPDX-License-Identifier: GPL-2.0
//! The master's stream head: the queue the master's reader reads, with the
//! echo held back while the slave's output is stopped.

use super::super::queue::ByteQueue;
use super::super::storage::Storage;

/// Bound of the master's stream-head queue: slave output and echo waiting
/// for the master's reader. A slave writer blocks beyond it.
pub const MASTER_HEAD_BOUND: usize = 64 * 1024;

/// The master's stream head: what the master's reader gets.
pub struct MasterHead<S: Storage> {
    /// Slave output (already through `OPOST`) and echo.
    pub read: ByteQueue<S>,
    /// Echo produced while the slave's output is stopped (`^S`), held at
    /// the back of `read` out of the master's sight until output restarts,
    /// as `n_tty` holds it in its echo buffer.
    pub held: usize,
}

impl<S: Storage> MasterHead<S> {
    /// Bytes the master may read now: all but the held echo.
    pub fn visible(&self) -> usize {
        self.read.len().saturating_sub(self.held)
    }
}
