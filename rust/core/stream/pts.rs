// SPDX-License-Identifier: GPL-2.0
//! The pts module: the slave's driver end, where the master's writes wait
//! unprocessed until ldterm takes them.

use super::super::queue::ByteQueue;
use super::super::storage::Storage;

/// Bound of the pts input queue: bytes the master wrote that ldterm has not
/// taken yet. A master writer blocks (or gets `EAGAIN`) beyond it.
pub const PTS_INPUT_BOUND: usize = 64 * 1024;

/// The pts module: the slave's driver end, holding the unprocessed input
/// that crossed from the master.
pub struct Pts<S: Storage> {
    /// Bytes written by the master that ldterm has not taken yet.
    pub input: ByteQueue<S>,
}
