// SPDX-License-Identifier: GPL-2.0
//! The checkpoint message of one stream: a versioned, self-checking binary
//! image, and its strict codec.
//!
//! The kernel produces one image per pty end. The stream head walks the
//! message down the chain and every module fills its block (internal state,
//! then external, in-flight bytes); restart hands the image to a freshly
//! opened end, whose head checks it ([`decode`], then [`check_chain`]) before
//! any module loads its block. The image never interprets module contents:
//! each module encodes its own bytes with the project's field codec
//! ([`super::codec`]), as the image's own fields are, so every block is
//! written and strictly read the same way. The kernel, `ckptctl` and the
//! host tests share this one codec.
//!
//! # Format, version 1
//!
//! All integers are little-endian; every block starts at a multiple of 8.
//!
//! ```text
//! offset  size  field
//! ------  ----  ----------------------------------------------------------
//!                HEADER
//!      0     8  magic "CKPTPTY\0"
//!      8     2  format version = 1 (any other is refused)
//!     10     2  header length = 64 (offset of the first module block)
//!     12     1  stream kind: 1 = master end, 2 = slave end
//!     13     1  pty mode: 0 = AT&T (ptmx clone), 1 = BSD (fixed pair)
//!     14     2  module count n, 0..=8
//!                STATUS BLOCK
//!     16     4  total length T of the message, trailer included (= input len)
//!     20     2  modules processed (= n: one block per processed module)
//!     22     2  modules to process (0 when complete; >= 1 when aborted)
//!     24     8  checkpoint id
//!     32     4  error: 0, or the -errno (-4095..=-1) of the module that failed
//!     36     2  failed module index: 0xffff if error = 0, else = processed
//!     38     2  state version = 2: layout of the module blocks' contents
//!                (1: before the slave became a tty; refused)
//!                CONSTANTS BLOCK (kernel constants the image depends on;
//!                must equal the restoring kernel's, see Constants)
//!     40     4  pts input bound (stream::PTS_INPUT_BOUND)
//!     44     4  master head bound (stream::MASTER_HEAD_BOUND)
//!     48     4  N_TTY_BUF_SIZE (ldterm::N_TTY_BUF_SIZE)
//!     52     2  NCCS (termios::NCCS)
//!     54     2  termios size (Termios::SIZE)
//!     56     2  winsize size (Winsize::SIZE)
//!     58     6  reserved, zero
//!                MODULE BLOCK, n times, from offset 64, head first
//!     +0     8  name: "head", "tioc", "ldterm", "ptm" or "pts", NUL padded
//!     +8     4  internal length I
//!    +12     4  external length E
//!    +16     I  internal bytes, then zero padding to a multiple of 8
//!      .     E  external bytes, then zero padding to a multiple of 8
//!                TRAILER
//!    T-8     4  CRC-32/ISO-HDLC (zlib's crc32) of bytes 0..T-8
//!    T-4     4  reserved, zero
//! ```
//!
//! A module block thus takes `16 + pad8(I) + pad8(E)` bytes and the
//! smallest image (no module) 72 bytes. The encoding is canonical: an image
//! that [`decode`] accepts is exactly what [`ImageWriter`] writes for its
//! contents, so no two byte strings mean the same image.
//!
//! [`decode`] checks, in this order, every field it meets and reports the
//! first offending one with its byte offset ([`ImageError`]): magic,
//! version, header length, kind, mode, module count, total length (against
//! the input, so truncation and trailing garbage are refused), the status
//! counts, error and failed index, state version, constants, reserved bytes;
//! then for each block its name, its lengths (checked arithmetic, never past
//! the trailer, so blocks cannot overlap it or each other) and its padding;
//! then that the blocks end exactly at the trailer, the trailer's reserved
//! word and the checksum. The checksum comes last so that structural damage
//! gets a precise error; damage to payload bytes is caught by the checksum.
//!
//! # Errors and errno
//!
//! [`ImageError::errno`] gives the [`Errno`](super::errno::Errno) to
//! return (each variant's documentation names it):
//!
//! ```text
//! EINVAL           22  malformed image, chain mismatch, aborted image,
//!                      writer misuse (too many/few modules, bad errno)
//! EBADMSG          74  checksum mismatch (as ext4's EFSBADCRC)
//! EPROTONOSUPPORT  93  unknown format or state version, or kernel constants
//!                      that differ from this kernel's (image from another build)
//! ERANGE           34  output buffer too small (as getxattr)
//! EOVERFLOW        75  image would exceed the u32 length field
//! ```
//!
//! # Where things are
//!
//! One concept per file, everything re-exported here (users name
//! `image::X`): `format.rs` (magic, versions, sizes, alignment, limits),
//! [`layout`] (byte offsets of the fixed fields), `names.rs` (the end
//! byte, [`PtyMode`], [`ModuleName`], the chains), `constants.rs` (the
//! constants block), `header.rs` (header and status), `block.rs` (module
//! blocks), `error.rs` ([`ImageError`]), `crc.rs` (the checksum),
//! `writer.rs` (sizing and writing) and `decode.rs` (decoding and the
//! chain check).

mod block;
mod constants;
mod crc;
mod decode;
mod error;
mod format;
mod header;
pub mod layout;
mod names;
mod writer;

pub use block::{block_len, ModuleBlock, ModulePart};
pub use constants::{ConstantField, Constants};
pub use crc::crc32;
pub use decode::{check_chain, decode, decode_with, StreamImage};
pub use error::ImageError;
pub use format::{
    ALIGN, BLOCK_HEADER_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_ERRNO, MAX_MODULES,
    MIN_IMAGE_LEN, NO_MODULE, STATE_VERSION, TRAILER_LEN,
};
pub use header::{Status, StreamImageHeader};
pub use names::{end_from_byte, end_to_byte, ModuleName, PtyMode, MASTER_CHAIN, SLAVE_CHAIN};
pub use writer::{encode, encoded_len, ImageSizer, ImageWriter, UnsealedImage};
