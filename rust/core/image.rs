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
//!     38     2  state version = 1: layout of the module blocks' contents
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
//! [`ImageError::errno`] gives the [`Errno`] to return (each variant's
//! documentation names it):
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

use core::fmt;

use super::codec::{first_nonzero, FieldError, FieldReader, FieldWriter};
use super::end::End;
use super::errno::Errno;
use super::ldterm::N_TTY_BUF_SIZE;
use super::stream::{Winsize, MASTER_HEAD_BOUND, PTS_INPUT_BOUND};
use super::termios::{Termios, NCCS};

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

/// Byte offsets of the fixed fields (see the table at the top).
pub mod layout {
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
}

/// The image's byte for `end` (header offset 12, and `ckptctl`'s stream
/// table): 1 = master, 2 = slave.
pub const fn end_to_byte(end: End) -> u8 {
    match end {
        End::Master => 1,
        End::Slave => 2,
    }
}

/// The end an image byte names; `None` unless 1 or 2.
pub const fn end_from_byte(byte: u8) -> Option<End> {
    match byte {
        1 => Some(End::Master),
        2 => Some(End::Slave),
        _ => None,
    }
}

/// How the pair was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PtyMode {
    /// AT&T: cloned from ptmx, slaves assigned in order.
    Att = 0,
    /// BSD: a fixed, named pair.
    Bsd = 1,
}

impl PtyMode {
    /// From the wire value.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Att),
            1 => Some(Self::Bsd),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// The name of a module, one of the five the pty is built from. Only known
/// names can be represented, so an image can never carry another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleName {
    /// Stream head.
    Head,
    /// Terminal ioctls.
    Tioc,
    /// Line discipline.
    Ldterm,
    /// Master driver end.
    Ptm,
    /// Slave driver end.
    Pts,
}

/// Chain of the master stream, head first.
pub const MASTER_CHAIN: [ModuleName; 3] = [ModuleName::Head, ModuleName::Tioc, ModuleName::Ptm];
/// Chain of the slave stream, head first.
pub const SLAVE_CHAIN: [ModuleName; 4] = [
    ModuleName::Head,
    ModuleName::Tioc,
    ModuleName::Ldterm,
    ModuleName::Pts,
];

impl ModuleName {
    /// Every name.
    pub const ALL: [Self; 5] = [Self::Head, Self::Tioc, Self::Ldterm, Self::Ptm, Self::Pts];

    /// The name as text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Tioc => "tioc",
            Self::Ldterm => "ldterm",
            Self::Ptm => "ptm",
            Self::Pts => "pts",
        }
    }

    /// The 8-byte, NUL-padded wire form.
    pub const fn to_bytes(self) -> [u8; 8] {
        match self {
            Self::Head => *b"head\0\0\0\0",
            Self::Tioc => *b"tioc\0\0\0\0",
            Self::Ldterm => *b"ldterm\0\0",
            Self::Ptm => *b"ptm\0\0\0\0\0",
            Self::Pts => *b"pts\0\0\0\0\0",
        }
    }

    /// From the wire form; `None` unless it is exactly a known name.
    pub fn from_bytes(bytes: &[u8; 8]) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.to_bytes() == *bytes)
    }

    /// From text (`"ldterm"`); `None` unless a known name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kernel-side constants an image depends on. An image is only
/// restored by a kernel whose constants are the same: queue bounds decide
/// how many in-flight bytes fit, `NCCS` and the structure sizes the layout
/// of saved termios and winsize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constants {
    /// Bound of the pts input queue.
    pub pts_input_bound: u32,
    /// Bound of the master's stream-head queue.
    pub master_head_bound: u32,
    /// `N_TTY_BUF_SIZE` of the line discipline.
    pub n_tty_buf_size: u32,
    /// `NCCS`.
    pub nccs: u16,
    /// Size of `struct termios`.
    pub termios_size: u16,
    /// Size of `struct winsize`.
    pub winsize_size: u16,
}

// The constants must fit their fields; checked when compiling.
const _: () = assert!(
    PTS_INPUT_BOUND <= u32::MAX as usize
        && MASTER_HEAD_BOUND <= u32::MAX as usize
        && N_TTY_BUF_SIZE <= u32::MAX as usize
        && NCCS <= u16::MAX as usize
        && Termios::SIZE <= u16::MAX as usize
        && Winsize::SIZE <= u16::MAX as usize
);

impl Constants {
    /// The constants of this build.
    pub const CURRENT: Self = Self {
        pts_input_bound: PTS_INPUT_BOUND as u32,
        master_head_bound: MASTER_HEAD_BOUND as u32,
        n_tty_buf_size: N_TTY_BUF_SIZE as u32,
        nccs: NCCS as u16,
        termios_size: Termios::SIZE as u16,
        winsize_size: Winsize::SIZE as u16,
    };

    /// The value of one field.
    pub const fn get(&self, field: ConstantField) -> u32 {
        match field {
            ConstantField::PtsInputBound => self.pts_input_bound,
            ConstantField::MasterHeadBound => self.master_head_bound,
            ConstantField::NTtyBufSize => self.n_tty_buf_size,
            ConstantField::Nccs => self.nccs as u32,
            ConstantField::TermiosSize => self.termios_size as u32,
            ConstantField::WinsizeSize => self.winsize_size as u32,
        }
    }

    /// `Ok` if `self` (from an image) equals `kernel`, else the first
    /// field that differs.
    pub fn check(&self, kernel: &Self) -> Result<(), ImageError> {
        for field in ConstantField::ALL {
            let (image, kernel) = (self.get(field), kernel.get(field));
            if image != kernel {
                return Err(ImageError::ConstantsMismatch {
                    field,
                    image,
                    kernel,
                });
            }
        }
        Ok(())
    }
}

/// One field of the constants block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstantField {
    /// Pts input bound.
    PtsInputBound,
    /// Master head bound.
    MasterHeadBound,
    /// `N_TTY_BUF_SIZE`.
    NTtyBufSize,
    /// `NCCS`.
    Nccs,
    /// Size of `struct termios`.
    TermiosSize,
    /// Size of `struct winsize`.
    WinsizeSize,
}

impl ConstantField {
    /// Every field, in wire order.
    pub const ALL: [Self; 6] = [
        Self::PtsInputBound,
        Self::MasterHeadBound,
        Self::NTtyBufSize,
        Self::Nccs,
        Self::TermiosSize,
        Self::WinsizeSize,
    ];

    /// Human-readable name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PtsInputBound => "pts input bound",
            Self::MasterHeadBound => "master head bound",
            Self::NTtyBufSize => "N_TTY_BUF_SIZE",
            Self::Nccs => "NCCS",
            Self::TermiosSize => "termios size",
            Self::WinsizeSize => "winsize size",
        }
    }

    /// Byte offset of the field in the image.
    pub const fn offset(self) -> usize {
        match self {
            Self::PtsInputBound => 40,
            Self::MasterHeadBound => 44,
            Self::NTtyBufSize => 48,
            Self::Nccs => 52,
            Self::TermiosSize => 54,
            Self::WinsizeSize => 56,
        }
    }
}

/// What the producer of an image says about it; everything else in the
/// header and status block is derived by [`ImageWriter`].
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

/// One module's block: its name and its internal and external bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleBlock<'a> {
    /// Which module.
    pub name: ModuleName,
    /// Internal state (flags, settings, positions).
    pub internal: &'a [u8],
    /// External state: in-flight bytes queued at or sent by the module.
    pub external: &'a [u8],
}

impl ModuleBlock<'_> {
    const EMPTY: ModuleBlock<'static> = ModuleBlock {
        name: ModuleName::Head,
        internal: &[],
        external: &[],
    };
}

/// Internal or external part of a module block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModulePart {
    /// Internal state.
    Internal,
    /// External (in-flight) state.
    External,
}

impl fmt::Display for ModulePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Internal => "internal",
            Self::External => "external",
        })
    }
}

/// Why an image could not be decoded, checked or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The input ends at offset `len`; at least `needed` bytes are needed.
    /// `EINVAL`.
    Truncated {
        /// Input length (where decoding ran out).
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The first eight bytes are not [`MAGIC`] (offset 0). `EINVAL`.
    BadMagic {
        /// The bytes found (zero-filled if the input is shorter).
        found: [u8; 8],
    },
    /// Format version other than [`FORMAT_VERSION`] (offset 8).
    /// `EPROTONOSUPPORT`.
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// Header length other than [`HEADER_LEN`] (offset 10). `EINVAL`.
    BadHeaderLength {
        /// Length found.
        found: u16,
    },
    /// Unknown stream kind (offset 12). `EINVAL`.
    BadStreamKind {
        /// Value found.
        found: u8,
    },
    /// Unknown pty mode (offset 13). `EINVAL`.
    BadPtyMode {
        /// Value found.
        found: u8,
    },
    /// More modules than [`MAX_MODULES`] (module count, offset 14, or
    /// processed plus to-process, offset 20). `EINVAL`.
    TooManyModules {
        /// Modules claimed.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// Total length (offset 16) differs from the input length. `EINVAL`.
    LengthMismatch {
        /// Length the status block declares.
        declared: u32,
        /// Length of the input.
        actual: usize,
    },
    /// Module count and status counts disagree (offset 20): processed must
    /// equal the count, to-process must be 0 without error and at least 1
    /// with one. `EINVAL`.
    ModuleCount {
        /// Module count.
        count: u16,
        /// Modules processed.
        processed: u16,
        /// Modules to process.
        to_process: u16,
    },
    /// Error field (offset 32) neither 0 nor a negative errno. `EINVAL`.
    BadError {
        /// Value found.
        value: i32,
    },
    /// Failed module index (offset 36) inconsistent with the error. `EINVAL`.
    BadFailedModule {
        /// Index found.
        found: u16,
        /// Index the rest of the status block implies.
        expected: u16,
    },
    /// State version other than [`STATE_VERSION`] (offset 38).
    /// `EPROTONOSUPPORT`.
    UnsupportedStateVersion {
        /// Version found.
        found: u16,
    },
    /// A kernel constant of the image differs from this kernel's.
    /// `EPROTONOSUPPORT`.
    ConstantsMismatch {
        /// Which one.
        field: ConstantField,
        /// Value in the image.
        image: u32,
        /// Value of this kernel.
        kernel: u32,
    },
    /// A reserved byte is not zero. `EINVAL`.
    NonZeroReserved {
        /// Offset of the first non-zero reserved byte.
        offset: usize,
    },
    /// A module block's name is not a known module name. `EINVAL`.
    BadModuleName {
        /// Index of the block.
        index: usize,
        /// Offset of the block.
        offset: usize,
        /// Bytes found.
        found: [u8; 8],
    },
    /// A module block's lengths run past the module area (into the
    /// trailer), or overflow. `EINVAL`.
    BlockOverrun {
        /// Index of the block.
        index: usize,
        /// Offset of the block.
        offset: usize,
        /// Offset where the module area ends (the trailer).
        limit: usize,
    },
    /// A padding byte is not zero. `EINVAL`.
    NonZeroPadding {
        /// Offset of the first non-zero padding byte.
        offset: usize,
    },
    /// Bytes between the last module block and the trailer. `EINVAL`.
    TrailingBytes {
        /// Offset where the unclaimed bytes start.
        offset: usize,
        /// How many.
        len: usize,
    },
    /// The checksum (offset total length - 8) does not match. `EBADMSG`.
    BadChecksum {
        /// Checksum of the bytes.
        computed: u32,
        /// Checksum stored in the trailer.
        stored: u32,
    },
    /// The image records a checkpoint that failed: it cannot be restored.
    /// `EINVAL`.
    Aborted {
        /// Negative errno of the failure.
        error: i32,
        /// Index of the module that failed.
        module: u16,
    },
    /// The image does not have as many modules as the stream. `EINVAL`.
    ChainLength {
        /// Modules of the stream.
        expected: usize,
        /// Modules in the image.
        found: usize,
    },
    /// A module of the image is not the stream's module at that position.
    /// `EINVAL`.
    ChainMismatch {
        /// Position in the chain.
        index: usize,
        /// The stream's module.
        expected: ModuleName,
        /// The image's module.
        found: ModuleName,
    },
    /// A module's own encoding of its block is wrong. `EINVAL`.
    ModuleState {
        /// Which module.
        module: ModuleName,
        /// Which part of its block.
        part: ModulePart,
        /// What is wrong, at an offset within that part.
        error: FieldError,
    },
    /// Writer: every planned module block has been written already. `EINVAL`.
    WriterFull {
        /// Modules planned at [`ImageWriter::begin`].
        planned: usize,
    },
    /// Writer: finished before every planned module wrote its block. `EINVAL`.
    Incomplete {
        /// Blocks written.
        processed: usize,
        /// Blocks missing.
        to_process: usize,
    },
    /// Writer: the output buffer is too small. `ERANGE`.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Writer: the image would not fit the 32-bit length fields. `EOVERFLOW`.
    TooLarge,
}

impl ImageError {
    /// `error`, found in `module`'s own encoding of its `part`.
    pub const fn in_module(error: FieldError, module: ModuleName, part: ModulePart) -> Self {
        Self::ModuleState {
            module,
            part,
            error,
        }
    }

    /// The errno for this error (see the module documentation).
    pub const fn errno(&self) -> Errno {
        match self {
            Self::UnsupportedVersion { .. }
            | Self::UnsupportedStateVersion { .. }
            | Self::ConstantsMismatch { .. } => Errno::EPROTONOSUPPORT,
            Self::BadChecksum { .. } => Errno::EBADMSG,
            Self::OutputTooSmall { .. } => Errno::ERANGE,
            Self::TooLarge => Errno::EOVERFLOW,
            Self::Truncated { .. }
            | Self::BadMagic { .. }
            | Self::BadHeaderLength { .. }
            | Self::BadStreamKind { .. }
            | Self::BadPtyMode { .. }
            | Self::TooManyModules { .. }
            | Self::LengthMismatch { .. }
            | Self::ModuleCount { .. }
            | Self::BadError { .. }
            | Self::BadFailedModule { .. }
            | Self::NonZeroReserved { .. }
            | Self::BadModuleName { .. }
            | Self::BlockOverrun { .. }
            | Self::NonZeroPadding { .. }
            | Self::TrailingBytes { .. }
            | Self::Aborted { .. }
            | Self::ChainLength { .. }
            | Self::ChainMismatch { .. }
            | Self::ModuleState { .. }
            | Self::WriterFull { .. }
            | Self::Incomplete { .. } => Errno::EINVAL,
        }
    }

    /// Byte offset in the image that the error is about, if any. Offsets
    /// in [`ImageError::ModuleState`] are relative to the module's part and
    /// not reported here.
    pub const fn offset(&self) -> Option<usize> {
        match *self {
            Self::Truncated { len, .. } => Some(len),
            Self::BadMagic { .. } => Some(layout::MAGIC),
            Self::UnsupportedVersion { .. } => Some(layout::VERSION),
            Self::BadHeaderLength { .. } => Some(layout::HEADER_LEN),
            Self::BadStreamKind { .. } => Some(layout::KIND),
            Self::BadPtyMode { .. } => Some(layout::MODE),
            Self::TooManyModules { .. } => Some(layout::MODULE_COUNT),
            Self::LengthMismatch { .. } => Some(layout::TOTAL_LEN),
            Self::ModuleCount { .. } => Some(layout::PROCESSED),
            Self::BadError { .. } => Some(layout::ERROR),
            Self::BadFailedModule { .. } => Some(layout::FAILED_MODULE),
            Self::UnsupportedStateVersion { .. } => Some(layout::STATE_VERSION),
            Self::ConstantsMismatch { field, .. } => Some(field.offset()),
            Self::NonZeroReserved { offset }
            | Self::BadModuleName { offset, .. }
            | Self::BlockOverrun { offset, .. }
            | Self::NonZeroPadding { offset }
            | Self::TrailingBytes { offset, .. } => Some(offset),
            Self::BadChecksum { .. }
            | Self::Aborted { .. }
            | Self::ChainLength { .. }
            | Self::ChainMismatch { .. }
            | Self::ModuleState { .. }
            | Self::WriterFull { .. }
            | Self::Incomplete { .. }
            | Self::OutputTooSmall { .. }
            | Self::TooLarge => None,
        }
    }
}

/// Prints `bytes` with non-printable ones escaped.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { len, needed } => write!(
                f,
                "image truncated at offset {len}: at least {needed} bytes needed"
            ),
            Self::BadMagic { found } => write!(
                f,
                "bad magic \"{}\" at offset 0: not a ckpt_pty stream image",
                Escaped(&found)
            ),
            Self::UnsupportedVersion { found } => write!(
                f,
                "unsupported format version {found} at offset 8 (supported: {FORMAT_VERSION})"
            ),
            Self::BadHeaderLength { found } => write!(
                f,
                "bad header length {found} at offset 10 (expected {HEADER_LEN})"
            ),
            Self::BadStreamKind { found } => write!(
                f,
                "bad stream kind {found} at offset 12 (1 = master, 2 = slave)"
            ),
            Self::BadPtyMode { found } => {
                write!(f, "bad pty mode {found} at offset 13 (0 = AT&T, 1 = BSD)")
            }
            Self::TooManyModules { count, max } => {
                write!(f, "too many modules at offset 14: {count}, at most {max}")
            }
            Self::LengthMismatch { declared, actual } => write!(
                f,
                "total length {declared} at offset 16 differs from the image's {actual} bytes"
            ),
            Self::ModuleCount {
                count,
                processed,
                to_process,
            } => write!(
                f,
                "inconsistent module counts at offset 20: {count} blocks, \
                 {processed} processed, {to_process} to process"
            ),
            Self::BadError { value } => {
                write!(f, "bad error {value} at offset 32 (0 or -1..=-{MAX_ERRNO})")
            }
            Self::BadFailedModule { found, expected } => write!(
                f,
                "bad failed module index {found:#x} at offset 36 (expected {expected:#x})"
            ),
            Self::UnsupportedStateVersion { found } => write!(
                f,
                "unsupported state version {found} at offset 38 (supported: {STATE_VERSION})"
            ),
            Self::ConstantsMismatch {
                field,
                image,
                kernel,
            } => write!(
                f,
                "kernel constant {} at offset {} is {image} in the image but {kernel} here",
                field.name(),
                field.offset()
            ),
            Self::NonZeroReserved { offset } => {
                write!(f, "reserved byte at offset {offset} is not zero")
            }
            Self::BadModuleName {
                index,
                offset,
                found,
            } => write!(
                f,
                "module block {index} at offset {offset}: unknown module name \"{}\"",
                Escaped(&found)
            ),
            Self::BlockOverrun {
                index,
                offset,
                limit,
            } => write!(
                f,
                "module block {index} at offset {offset} runs past the trailer at offset {limit}"
            ),
            Self::NonZeroPadding { offset } => {
                write!(f, "padding byte at offset {offset} is not zero")
            }
            Self::TrailingBytes { offset, len } => write!(
                f,
                "{len} bytes at offset {offset} belong to no module block"
            ),
            Self::BadChecksum { computed, stored } => write!(
                f,
                "checksum mismatch in the trailer: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Self::Aborted { error, module } => write!(
                f,
                "the image records a failed checkpoint: module {module} returned {error}"
            ),
            Self::ChainLength { expected, found } => {
                write!(f, "image has {found} modules, the stream has {expected}")
            }
            Self::ChainMismatch {
                index,
                expected,
                found,
            } => write!(
                f,
                "module {index} of the image is {found}, the stream has {expected} there"
            ),
            Self::ModuleState {
                module,
                part,
                error,
            } => write!(f, "{module} {part} state: {error}"),
            Self::WriterFull { planned } => {
                write!(f, "all {planned} planned module blocks are written already")
            }
            Self::Incomplete {
                processed,
                to_process,
            } => write!(
                f,
                "image finished with {processed} module blocks, {to_process} missing"
            ),
            Self::OutputTooSmall { needed, available } => write!(
                f,
                "output buffer of {available} bytes too small, {needed} needed"
            ),
            Self::TooLarge => f.write_str("image would exceed 4 GiB"),
        }
    }
}

impl core::error::Error for ImageError {}

/// Byte-wise lookup table of CRC-32/ISO-HDLC, built when compiling.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i: u32 = 0;
    while let [slot, tail @ ..] = rest {
        let mut c = i;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        *slot = c;
        rest = tail;
        i += 1;
    }
    table
};

/// CRC-32/ISO-HDLC (zlib's `crc32`, poly 0x04c11db7 reflected, init and
/// final xor 0xffffffff) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        let index = usize::from((crc as u8) ^ b);
        CRC_TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8)
    })
}

/// `n` rounded up to a multiple of [`ALIGN`].
fn pad8(n: usize) -> Option<usize> {
    n.checked_add(ALIGN - 1).map(|v| v & !(ALIGN - 1))
}

/// Size of one module block with these part lengths.
pub fn block_len(internal_len: usize, external_len: usize) -> Result<usize, ImageError> {
    if u32::try_from(internal_len).is_err() || u32::try_from(external_len).is_err() {
        return Err(ImageError::TooLarge);
    }
    pad8(internal_len)
        .zip(pad8(external_len))
        .and_then(|(i, e)| i.checked_add(e))
        .and_then(|n| n.checked_add(BLOCK_HEADER_LEN))
        .ok_or(ImageError::TooLarge)
}

/// Adds up the size of an image block by block, for the size query that
/// precedes a checkpoint, without the blocks' bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSizer {
    len: usize,
    count: usize,
}

impl Default for ImageSizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageSizer {
    /// The size of an image without blocks.
    pub const fn new() -> Self {
        Self {
            len: MIN_IMAGE_LEN,
            count: 0,
        }
    }

    /// Count one module block.
    pub fn add(&mut self, internal_len: usize, external_len: usize) -> Result<(), ImageError> {
        let count = self.count.saturating_add(1);
        if count > MAX_MODULES {
            return Err(ImageError::TooManyModules {
                count,
                max: MAX_MODULES,
            });
        }
        let len = self
            .len
            .checked_add(block_len(internal_len, external_len)?)
            .filter(|&n| u32::try_from(n).is_ok())
            .ok_or(ImageError::TooLarge)?;
        self.len = len;
        self.count = count;
        Ok(())
    }

    /// Size of the image so far.
    pub const fn image_len(&self) -> usize {
        self.len
    }

    /// Blocks counted so far.
    pub const fn modules(&self) -> usize {
        self.count
    }
}

/// Size of the image [`encode`] writes for `modules`.
pub fn encoded_len(modules: &[ModuleBlock<'_>]) -> Result<usize, ImageError> {
    let mut sizer = ImageSizer::new();
    for m in modules {
        sizer.add(m.internal.len(), m.external.len())?;
    }
    Ok(sizer.image_len())
}

/// Encode a complete image of `modules` (in chain order) into `out`;
/// returns its length. Nothing is written if `out` is too small.
pub fn encode(
    header: &StreamImageHeader,
    modules: &[ModuleBlock<'_>],
    out: &mut [u8],
) -> Result<usize, ImageError> {
    let needed = encoded_len(modules)?;
    if out.len() < needed {
        return Err(ImageError::OutputTooSmall {
            needed,
            available: out.len(),
        });
    }
    let mut w = ImageWriter::begin(out, header, modules.len())?;
    for m in modules {
        w.module_bytes(m)?;
    }
    w.finish()
}

/// Builds an image block by block in a caller's buffer, as the checkpoint
/// message walks down the chain. The writer derives every length, count,
/// status field and the checksum, so it cannot produce an inconsistent
/// image: block lengths are fixed before a module gets its buffers, no more
/// blocks than planned are accepted, and [`ImageWriter::finish`] refuses to
/// seal an image with blocks missing. Nothing is ever written outside `out`.
#[derive(Debug)]
pub struct ImageWriter<'a> {
    out: &'a mut [u8],
    header: StreamImageHeader,
    planned: u16,
    count: u16,
    /// End of the last block written.
    pos: usize,
}

/// Carve a zeroed block for `name` at `pos` in `out`: returns its end and
/// its internal and external buffers.
fn carve(
    out: &mut [u8],
    pos: usize,
    name: ModuleName,
    internal_len: usize,
    external_len: usize,
) -> Result<(usize, &mut [u8], &mut [u8]), ImageError> {
    let (il, el) = match (u32::try_from(internal_len), u32::try_from(external_len)) {
        (Ok(il), Ok(el)) => (il, el),
        _ => return Err(ImageError::TooLarge),
    };
    let end = pos
        .checked_add(block_len(internal_len, external_len)?)
        .ok_or(ImageError::TooLarge)?;
    let needed = end
        .checked_add(TRAILER_LEN)
        .filter(|&n| u32::try_from(n).is_ok())
        .ok_or(ImageError::TooLarge)?;
    let available = out.len();
    let too_small = ImageError::OutputTooSmall { needed, available };
    if needed > available {
        return Err(too_small);
    }
    let block = out.get_mut(pos..end).ok_or(too_small)?;
    block.fill(0);
    let (head, rest) = block
        .split_at_mut_checked(BLOCK_HEADER_LEN)
        .ok_or(too_small)?;
    let mut w = FieldWriter::new(head);
    w.put_bytes(&name.to_bytes())
        .and_then(|()| w.put_u32(il))
        .and_then(|()| w.put_u32(el))
        .map_err(|_| too_small)?;
    let ipad = pad8(internal_len).ok_or(ImageError::TooLarge)?;
    let (ipart, epart) = rest.split_at_mut_checked(ipad).ok_or(too_small)?;
    let internal = ipart.get_mut(..internal_len).ok_or(too_small)?;
    let external = epart.get_mut(..external_len).ok_or(too_small)?;
    Ok((end, internal, external))
}

impl<'a> ImageWriter<'a> {
    /// Start an image of `planned` module blocks in `out`.
    pub fn begin(
        out: &'a mut [u8],
        header: &StreamImageHeader,
        planned: usize,
    ) -> Result<Self, ImageError> {
        let planned_u16 = u16::try_from(planned)
            .ok()
            .filter(|&p| usize::from(p) <= MAX_MODULES)
            .ok_or(ImageError::TooManyModules {
                count: planned,
                max: MAX_MODULES,
            })?;
        if out.len() < MIN_IMAGE_LEN {
            return Err(ImageError::OutputTooSmall {
                needed: MIN_IMAGE_LEN,
                available: out.len(),
            });
        }
        Ok(Self {
            out,
            header: *header,
            planned: planned_u16,
            count: 0,
            pos: HEADER_LEN,
        })
    }

    /// Module blocks written so far.
    pub fn modules(&self) -> usize {
        usize::from(self.count)
    }

    /// Length the image would have if finished now.
    pub fn image_len(&self) -> usize {
        self.pos.saturating_add(TRAILER_LEN)
    }

    fn next_count(&self) -> Result<u16, ImageError> {
        match self.count.checked_add(1) {
            Some(c) if c <= self.planned => Ok(c),
            _ => Err(ImageError::WriterFull {
                planned: usize::from(self.planned),
            }),
        }
    }

    /// Append the block of `name` with parts of exactly these lengths, and
    /// return its internal and external buffers (zeroed) for the module to
    /// fill. The block counts as written.
    pub fn module(
        &mut self,
        name: ModuleName,
        internal_len: usize,
        external_len: usize,
    ) -> Result<(&mut [u8], &mut [u8]), ImageError> {
        let count = self.next_count()?;
        let (end, internal, external) =
            carve(self.out, self.pos, name, internal_len, external_len)?;
        self.pos = end;
        self.count = count;
        Ok((internal, external))
    }

    /// Append the block of `name`, letting `internal` and `external` write
    /// its parts through [`FieldWriter`]s of exactly these lengths. The
    /// block is only written if both succeed and fill their part
    /// completely; otherwise the image is left as it was and the error
    /// ([`ImageError::ModuleState`]) names the module and part.
    pub fn module_with<I, E>(
        &mut self,
        name: ModuleName,
        internal_len: usize,
        external_len: usize,
        internal: I,
        external: E,
    ) -> Result<(), ImageError>
    where
        I: FnOnce(&mut FieldWriter<'_>) -> Result<(), FieldError>,
        E: FnOnce(&mut FieldWriter<'_>) -> Result<(), FieldError>,
    {
        let count = self.next_count()?;
        let (end, ibuf, ebuf) = carve(self.out, self.pos, name, internal_len, external_len)?;
        let mut iw = FieldWriter::new(ibuf);
        internal(&mut iw)
            .and_then(|()| iw.finish())
            .map_err(|e| ImageError::in_module(e, name, ModulePart::Internal))?;
        let mut ew = FieldWriter::new(ebuf);
        external(&mut ew)
            .and_then(|()| ew.finish())
            .map_err(|e| ImageError::in_module(e, name, ModulePart::External))?;
        self.pos = end;
        self.count = count;
        Ok(())
    }

    /// Append a block copied from `block`.
    pub fn module_bytes(&mut self, block: &ModuleBlock<'_>) -> Result<(), ImageError> {
        let (internal, external) =
            self.module(block.name, block.internal.len(), block.external.len())?;
        internal.copy_from_slice(block.internal);
        external.copy_from_slice(block.external);
        Ok(())
    }

    /// Seal a complete image (every planned module wrote its block): fills
    /// in header, status block and checksum; returns the image length.
    pub fn finish(self) -> Result<usize, ImageError> {
        if self.count != self.planned {
            return Err(ImageError::Incomplete {
                processed: usize::from(self.count),
                to_process: usize::from(self.planned.saturating_sub(self.count)),
            });
        }
        self.seal(0)
    }

    /// Seal an image recording that the next module (index
    /// [`Self::modules`]) failed with `error`, a negative errno: the blocks
    /// written so far are kept for diagnosis, the image cannot be restored.
    pub fn fail(self, error: i32) -> Result<usize, ImageError> {
        if !(-MAX_ERRNO..=-1).contains(&error) {
            return Err(ImageError::BadError { value: error });
        }
        self.next_count()?;
        self.seal(error)
    }

    fn seal(self, error: i32) -> Result<usize, ImageError> {
        let total = self.image_len();
        let total_u32 = u32::try_from(total).map_err(|_| ImageError::TooLarge)?;
        let too_small = ImageError::OutputTooSmall {
            needed: total,
            available: self.out.len(),
        };
        let to_process = self.planned.saturating_sub(self.count);
        let failed = if error == 0 { NO_MODULE } else { self.count };
        let c = Constants::CURRENT;
        let head = self.out.get_mut(..HEADER_LEN).ok_or(too_small)?;
        let mut w = FieldWriter::new(head);
        w.put_bytes(&MAGIC)
            .and_then(|()| w.put_u16(FORMAT_VERSION))
            .and_then(|()| w.put_u16(HEADER_LEN as u16))
            .and_then(|()| w.put_u8(end_to_byte(self.header.kind)))
            .and_then(|()| w.put_u8(self.header.mode.as_u8()))
            .and_then(|()| w.put_u16(self.count))
            .and_then(|()| w.put_u32(total_u32))
            .and_then(|()| w.put_u16(self.count))
            .and_then(|()| w.put_u16(to_process))
            .and_then(|()| w.put_u64(self.header.checkpoint_id))
            .and_then(|()| w.put_i32(error))
            .and_then(|()| w.put_u16(failed))
            .and_then(|()| w.put_u16(STATE_VERSION))
            .and_then(|()| w.put_u32(c.pts_input_bound))
            .and_then(|()| w.put_u32(c.master_head_bound))
            .and_then(|()| w.put_u32(c.n_tty_buf_size))
            .and_then(|()| w.put_u16(c.nccs))
            .and_then(|()| w.put_u16(c.termios_size))
            .and_then(|()| w.put_u16(c.winsize_size))
            .and_then(|()| w.put_zeros(HEADER_LEN - layout::RESERVED))
            .and_then(|()| w.finish().map(|_| ()))
            .map_err(|_| too_small)?;
        let crc = crc32(self.out.get(..self.pos).ok_or(too_small)?);
        let trailer = self.out.get_mut(self.pos..total).ok_or(too_small)?;
        let mut w = FieldWriter::new(trailer);
        w.put_u32(crc)
            .and_then(|()| w.put_u32(0))
            .and_then(|()| w.finish().map(|_| ()))
            .map_err(|_| too_small)?;
        Ok(total)
    }
}

/// A decoded, fully checked image: its fields and module blocks borrowed
/// from the input bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamImage<'a> {
    kind: End,
    mode: PtyMode,
    status: Status,
    constants: Constants,
    blocks: [ModuleBlock<'a>; MAX_MODULES],
    count: usize,
}

impl<'a> StreamImage<'a> {
    /// Which end.
    pub fn kind(&self) -> End {
        self.kind
    }

    /// How the pair was created.
    pub fn mode(&self) -> PtyMode {
        self.mode
    }

    /// Checkpoint id.
    pub fn checkpoint_id(&self) -> u64 {
        self.status.checkpoint_id
    }

    /// Kind, mode and checkpoint id, as given to the writer.
    pub fn header(&self) -> StreamImageHeader {
        StreamImageHeader {
            kind: self.kind,
            mode: self.mode,
            checkpoint_id: self.status.checkpoint_id,
        }
    }

    /// The status block.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The kernel constants recorded in the image.
    pub fn constants(&self) -> &Constants {
        &self.constants
    }

    /// The module blocks in chain order, head first.
    pub fn modules(&self) -> &[ModuleBlock<'a>] {
        self.blocks.get(..self.count).unwrap_or(&[])
    }

    /// The first block of module `name`.
    pub fn module(&self, name: ModuleName) -> Option<&ModuleBlock<'a>> {
        self.modules().iter().find(|b| b.name == name)
    }

    /// Whether every module filled its block without error.
    pub fn is_complete(&self) -> bool {
        self.status.error == 0 && self.status.to_process == 0
    }
}

/// Map a reader error on the container itself to [`ImageError::Truncated`].
fn truncated(e: FieldError) -> ImageError {
    match e {
        FieldError::Short {
            offset,
            needed,
            len,
        } => ImageError::Truncated {
            len,
            needed: offset.saturating_add(needed),
        },
        FieldError::Invalid { offset } | FieldError::Leftover { offset, .. } => {
            ImageError::Truncated {
                len: offset,
                needed: offset.saturating_add(1),
            }
        }
    }
}

/// Decode and fully check an image against this kernel's constants.
pub fn decode(bytes: &[u8]) -> Result<StreamImage<'_>, ImageError> {
    decode_with(bytes, &Constants::CURRENT)
}

/// Decode and fully check an image whose constants must equal `kernel`
/// (for tools that examine images of another build).
pub fn decode_with<'a>(bytes: &'a [u8], kernel: &Constants) -> Result<StreamImage<'a>, ImageError> {
    let len = bytes.len();
    let prefix = bytes.get(..len.min(MAGIC.len())).unwrap_or(&[]);
    if MAGIC.get(..prefix.len()) != Some(prefix) {
        let mut found = [0u8; 8];
        for (d, s) in found.iter_mut().zip(prefix) {
            *d = *s;
        }
        return Err(ImageError::BadMagic { found });
    }
    if len < MIN_IMAGE_LEN {
        return Err(ImageError::Truncated {
            len,
            needed: MIN_IMAGE_LEN,
        });
    }
    let mut r = FieldReader::new(bytes);
    r.get_bytes(MAGIC.len()).map_err(truncated)?;

    let version = r.get_u16().map_err(truncated)?;
    if version != FORMAT_VERSION {
        return Err(ImageError::UnsupportedVersion { found: version });
    }
    let header_len = r.get_u16().map_err(truncated)?;
    if usize::from(header_len) != HEADER_LEN {
        return Err(ImageError::BadHeaderLength { found: header_len });
    }
    let kind_raw = r.get_u8().map_err(truncated)?;
    let kind = end_from_byte(kind_raw).ok_or(ImageError::BadStreamKind { found: kind_raw })?;
    let mode_raw = r.get_u8().map_err(truncated)?;
    let mode = PtyMode::from_u8(mode_raw).ok_or(ImageError::BadPtyMode { found: mode_raw })?;
    let count = r.get_u16().map_err(truncated)?;
    if usize::from(count) > MAX_MODULES {
        return Err(ImageError::TooManyModules {
            count: usize::from(count),
            max: MAX_MODULES,
        });
    }

    // Status block.
    let declared = r.get_u32().map_err(truncated)?;
    if usize::try_from(declared) != Ok(len) {
        return Err(ImageError::LengthMismatch {
            declared,
            actual: len,
        });
    }
    let processed = r.get_u16().map_err(truncated)?;
    let to_process = r.get_u16().map_err(truncated)?;
    let counts = ImageError::ModuleCount {
        count,
        processed,
        to_process,
    };
    if processed != count {
        return Err(counts);
    }
    let planned = usize::from(processed).saturating_add(usize::from(to_process));
    if planned > MAX_MODULES {
        return Err(ImageError::TooManyModules {
            count: planned,
            max: MAX_MODULES,
        });
    }
    let checkpoint_id = r.get_u64().map_err(truncated)?;
    let error = r.get_i32().map_err(truncated)?;
    if error != 0 && !(-MAX_ERRNO..=-1).contains(&error) {
        return Err(ImageError::BadError { value: error });
    }
    let failed = r.get_u16().map_err(truncated)?;
    let expected_failed = if error == 0 { NO_MODULE } else { processed };
    if failed != expected_failed {
        return Err(ImageError::BadFailedModule {
            found: failed,
            expected: expected_failed,
        });
    }
    // Complete: nothing left to process. Aborted: the failed module is one
    // still to process.
    if (error == 0) != (to_process == 0) {
        return Err(counts);
    }
    let state_version = r.get_u16().map_err(truncated)?;
    if state_version != STATE_VERSION {
        return Err(ImageError::UnsupportedStateVersion {
            found: state_version,
        });
    }

    // Constants block.
    let constants = Constants {
        pts_input_bound: r.get_u32().map_err(truncated)?,
        master_head_bound: r.get_u32().map_err(truncated)?,
        n_tty_buf_size: r.get_u32().map_err(truncated)?,
        nccs: r.get_u16().map_err(truncated)?,
        termios_size: r.get_u16().map_err(truncated)?,
        winsize_size: r.get_u16().map_err(truncated)?,
    };
    constants.check(kernel)?;
    if let Some(offset) = first_nonzero(bytes, layout::RESERVED, HEADER_LEN) {
        return Err(ImageError::NonZeroReserved { offset });
    }

    // Module blocks, up to the trailer.
    let limit = len.saturating_sub(TRAILER_LEN);
    let mut blocks = [ModuleBlock::EMPTY; MAX_MODULES];
    let mut pos = HEADER_LEN;
    for (index, slot) in blocks.iter_mut().take(usize::from(count)).enumerate() {
        let overrun = ImageError::BlockOverrun {
            index,
            offset: pos,
            limit,
        };
        let area = bytes.get(pos..limit).ok_or(overrun)?;
        let mut br = FieldReader::new(area);
        let name_bytes: [u8; 8] = br.get_array().map_err(|_| overrun)?;
        let il = br.get_u32().map_err(|_| overrun)?;
        let el = br.get_u32().map_err(|_| overrun)?;
        let name = ModuleName::from_bytes(&name_bytes).ok_or(ImageError::BadModuleName {
            index,
            offset: pos,
            found: name_bytes,
        })?;
        let il = usize::try_from(il).map_err(|_| overrun)?;
        let el = usize::try_from(el).map_err(|_| overrun)?;
        let istart = pos.checked_add(BLOCK_HEADER_LEN).ok_or(overrun)?;
        let iend = istart.checked_add(il).ok_or(overrun)?;
        let estart = pad8(il)
            .and_then(|p| istart.checked_add(p))
            .ok_or(overrun)?;
        let eend = estart.checked_add(el).ok_or(overrun)?;
        let next = pad8(el)
            .and_then(|p| estart.checked_add(p))
            .ok_or(overrun)?;
        if next > limit {
            return Err(overrun);
        }
        if let Some(offset) =
            first_nonzero(bytes, iend, estart).or_else(|| first_nonzero(bytes, eend, next))
        {
            return Err(ImageError::NonZeroPadding { offset });
        }
        *slot = ModuleBlock {
            name,
            internal: bytes.get(istart..iend).ok_or(overrun)?,
            external: bytes.get(estart..eend).ok_or(overrun)?,
        };
        pos = next;
    }
    if pos != limit {
        return Err(ImageError::TrailingBytes {
            offset: pos,
            len: limit.saturating_sub(pos),
        });
    }

    // Trailer.
    let mut tr = FieldReader::new(bytes);
    tr.get_bytes(limit).map_err(truncated)?;
    let stored = tr.get_u32().map_err(truncated)?;
    let reserved_at = tr.position();
    if tr.get_u32().map_err(truncated)? != 0 {
        let offset = first_nonzero(bytes, reserved_at, len).unwrap_or(reserved_at);
        return Err(ImageError::NonZeroReserved { offset });
    }
    let computed = crc32(bytes.get(..limit).unwrap_or(&[]));
    if computed != stored {
        return Err(ImageError::BadChecksum { computed, stored });
    }

    Ok(StreamImage {
        kind,
        mode,
        status: Status {
            total_len: len,
            processed,
            to_process,
            checkpoint_id,
            error,
            failed_module: (failed != NO_MODULE).then_some(failed),
            state_version,
        },
        constants,
        blocks,
        count: usize::from(count),
    })
}

/// Check that a decoded image can be restored into a stream whose chain is
/// `expected` (head first): it records a complete checkpoint, and has the
/// same number of modules, in the same order, with the same names.
pub fn check_chain(image: &StreamImage<'_>, expected: &[ModuleName]) -> Result<(), ImageError> {
    let status = image.status();
    if status.error != 0 {
        return Err(ImageError::Aborted {
            error: status.error,
            module: status.failed_module.unwrap_or(NO_MODULE),
        });
    }
    if status.to_process != 0 {
        return Err(ImageError::Incomplete {
            processed: usize::from(status.processed),
            to_process: usize::from(status.to_process),
        });
    }
    let found = image.modules();
    if found.len() != expected.len() {
        return Err(ImageError::ChainLength {
            expected: expected.len(),
            found: found.len(),
        });
    }
    for (index, (block, &name)) in found.iter().zip(expected).enumerate() {
        if block.name != name {
            return Err(ImageError::ChainMismatch {
                index,
                expected: name,
                found: block.name,
            });
        }
    }
    Ok(())
}
