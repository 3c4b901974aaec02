// SPDX-License-Identifier: GPL-2.0
//! Why an image could not be decoded, checked or written, with the errno
//! and the byte offset of each reason.

use core::fmt;

use super::super::codec::FieldError;
use super::super::errno::Errno;
use super::{
    layout, ConstantField, ModuleName, ModulePart, FORMAT_VERSION, HEADER_LEN, MAX_ERRNO,
    STATE_VERSION,
};

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
    /// The first eight bytes are not [`MAGIC`](super::MAGIC) (offset 0).
    /// `EINVAL`.
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
    /// More modules than [`MAX_MODULES`](super::MAX_MODULES) (module
    /// count, offset 14, or processed plus to-process, offset 20).
    /// `EINVAL`.
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
        /// Modules planned at [`ImageWriter::begin`](super::ImageWriter::begin).
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
