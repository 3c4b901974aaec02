// SPDX-License-Identifier: GPL-2.0
//! What the image format fixes: magic, versions, sizes, alignment and
//! limits.

/// First eight bytes of every image.
pub const MAGIC: [u8; 8] = *b"CKPTPTY\0";
/// The only format version this code reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// The only version of the module blocks' contents this code accepts.
pub const STATE_VERSION: u16 = 2;
/// Length of header, status block and constants block.
pub const HEADER_LEN: usize = 64;
/// Length of a module block's own header (name and two lengths).
pub const BLOCK_HEADER_LEN: usize = 16;
/// Length of the trailer (checksum and reserved word).
pub const TRAILER_LEN: usize = 8;
/// Length of an image without module blocks.
pub const MIN_IMAGE_LEN: usize = 72;
/// Alignment of every block and of the total length.
pub const ALIGN: usize = 8;
/// Most module blocks an image may carry.
pub const MAX_MODULES: usize = 8;
/// Failed-module index meaning "none".
pub const NO_MODULE: u16 = 0xffff;
/// Largest errno a status block may carry (the kernel's `MAX_ERRNO`).
pub const MAX_ERRNO: i32 = 4095;

/// `n` rounded up to a multiple of [`ALIGN`].
pub(super) fn pad8(n: usize) -> Option<usize> {
    n.checked_add(ALIGN - 1).map(|v| v & !(ALIGN - 1))
}
