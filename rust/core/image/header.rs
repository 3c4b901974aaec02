// SPDX-License-Identifier: GPL-2.0
//! What the header and the status block of an image say.

use super::super::end::End;
use super::PtyMode;

/// What the producer of an image says about it; everything else in the
/// header and status block is derived by [`ImageWriter`](super::ImageWriter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamImageHeader {
    /// Which end.
    pub kind: End,
    /// How the pair was created.
    pub mode: PtyMode,
    /// Identifies one checkpoint of a session (both ends share it).
    pub checkpoint_id: u64,
}

/// The decoded status block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Total length of the message.
    pub total_len: usize,
    /// Modules that filled their block.
    pub processed: u16,
    /// Modules that did not.
    pub to_process: u16,
    /// Checkpoint id.
    pub checkpoint_id: u64,
    /// 0, or the negative errno of the module that failed.
    pub error: i32,
    /// Index in the chain of the module that failed.
    pub failed_module: Option<u16>,
    /// Version of the module blocks' contents.
    pub state_version: u16,
}
