// SPDX-License-Identifier: GPL-2.0
//! Byte offsets of the fixed fields of an image (see the format table of
//! [`super`]).

/// Magic.
pub const MAGIC: usize = 0;
/// Format version.
pub const VERSION: usize = 8;
/// Header length.
pub const HEADER_LEN: usize = 10;
/// Stream kind.
pub const KIND: usize = 12;
/// Pty mode.
pub const MODE: usize = 13;
/// Module count.
pub const MODULE_COUNT: usize = 14;
/// Status block: total length.
pub const TOTAL_LEN: usize = 16;
/// Status block: modules processed.
pub const PROCESSED: usize = 20;
/// Status block: modules to process.
pub const TO_PROCESS: usize = 22;
/// Status block: checkpoint id.
pub const CHECKPOINT_ID: usize = 24;
/// Status block: error.
pub const ERROR: usize = 32;
/// Status block: failed module index.
pub const FAILED_MODULE: usize = 36;
/// Status block: state version.
pub const STATE_VERSION: usize = 38;
/// Constants block.
pub const CONSTANTS: usize = 40;
/// Reserved bytes after the constants.
pub const RESERVED: usize = 58;
/// First module block.
pub const BLOCKS: usize = 64;
