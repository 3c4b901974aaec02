// SPDX-License-Identifier: GPL-2.0
//! Why an image could not be decoded, checked or written, with the errno
//! and the byte offset of each reason.

use core::fmt::{self, Write as _};

use super::super::codec::FieldError;
use super::super::end::End;
use super::super::errno::Errno;
use super::{
    end_to_byte, layout, ConstantField, ModuleName, ModulePart, PtyMode, FORMAT_VERSION,
    HEADER_LEN, MAX_ERRNO, STATE_VERSION,
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
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The message of a fixed field that holds a value it may not:
/// "`what` `found` at offset `at` (`allowed`)".
fn bad_field(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    found: impl fmt::Display,
    at: usize,
    allowed: fmt::Arguments<'_>,
) -> fmt::Result {
    write!(f, "{what} {found} at offset {at} ({allowed})")
}

/// Every message names where the problem is: a fixed field by its offset
/// (taken from [`layout`], so the text cannot drift from the format), a
/// module block by its index and offset, the writer by what it was asked.
/// The errors of each part of the image are printed by their own function.
impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { .. }
            | Self::BadMagic { .. }
            | Self::UnsupportedVersion { .. }
            | Self::BadHeaderLength { .. }
            | Self::BadStreamKind { .. }
            | Self::BadPtyMode { .. }
            | Self::TooManyModules { .. } => self.fmt_header(f),
            Self::LengthMismatch { .. }
            | Self::ModuleCount { .. }
            | Self::BadError { .. }
            | Self::BadFailedModule { .. }
            | Self::UnsupportedStateVersion { .. }
            | Self::ConstantsMismatch { .. }
            | Self::NonZeroReserved { .. } => self.fmt_status(f),
            Self::BadModuleName { .. }
            | Self::BlockOverrun { .. }
            | Self::NonZeroPadding { .. }
            | Self::TrailingBytes { .. }
            | Self::BadChecksum { .. } => self.fmt_module_area(f),
            Self::Aborted { .. }
            | Self::ChainLength { .. }
            | Self::ChainMismatch { .. }
            | Self::ModuleState { .. } => self.fmt_contents(f),
            Self::WriterFull { .. }
            | Self::Incomplete { .. }
            | Self::OutputTooSmall { .. }
            | Self::TooLarge => self.fmt_writer(f),
        }
    }
}

// Each function below prints the variants `fmt` sends it; the last arm,
// never taken, keeps it total without a panic.
impl ImageError {
    /// The header: magic, versions, kind, mode, module count.
    fn fmt_header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { len, needed } => write!(
                f,
                "image truncated at offset {len}: at least {needed} bytes needed"
            ),
            Self::BadMagic { found } => write!(
                f,
                "bad magic \"{}\" at offset {}: not a ckpt_pty stream image",
                Escaped(&found),
                layout::MAGIC
            ),
            Self::UnsupportedVersion { found } => bad_field(
                f,
                "unsupported format version",
                found,
                layout::VERSION,
                format_args!("supported: {FORMAT_VERSION}"),
            ),
            Self::BadHeaderLength { found } => bad_field(
                f,
                "bad header length",
                found,
                layout::HEADER_LEN,
                format_args!("expected {HEADER_LEN}"),
            ),
            Self::BadStreamKind { found } => bad_field(
                f,
                "bad stream kind",
                found,
                layout::KIND,
                format_args!(
                    "{} = master, {} = slave",
                    end_to_byte(End::Master),
                    end_to_byte(End::Slave)
                ),
            ),
            Self::BadPtyMode { found } => bad_field(
                f,
                "bad pty mode",
                found,
                layout::MODE,
                format_args!(
                    "{} = AT&T, {} = BSD",
                    PtyMode::Att.as_u8(),
                    PtyMode::Bsd.as_u8()
                ),
            ),
            Self::TooManyModules { count, max } => write!(
                f,
                "too many modules at offset {}: {count}, at most {max}",
                layout::MODULE_COUNT
            ),
            _ => fmt::Debug::fmt(self, f),
        }
    }

    /// The status and constants blocks and the reserved bytes.
    fn fmt_status(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LengthMismatch { declared, actual } => write!(
                f,
                "total length {declared} at offset {} differs from the image's {actual} bytes",
                layout::TOTAL_LEN
            ),
            Self::ModuleCount {
                count,
                processed,
                to_process,
            } => write!(
                f,
                "inconsistent module counts at offset {}: {count} blocks, \
                 {processed} processed, {to_process} to process",
                layout::PROCESSED
            ),
            Self::BadError { value } => bad_field(
                f,
                "bad error",
                value,
                layout::ERROR,
                format_args!("0 or -1..=-{MAX_ERRNO}"),
            ),
            Self::BadFailedModule { found, expected } => bad_field(
                f,
                "bad failed module index",
                format_args!("{found:#x}"),
                layout::FAILED_MODULE,
                format_args!("expected {expected:#x}"),
            ),
            Self::UnsupportedStateVersion { found } => bad_field(
                f,
                "unsupported state version",
                found,
                layout::STATE_VERSION,
                format_args!("supported: {STATE_VERSION}"),
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
            _ => fmt::Debug::fmt(self, f),
        }
    }

    /// The module blocks' framing, and the trailer.
    fn fmt_module_area(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
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
            Self::TrailingBytes { offset, len } => {
                write!(
                    f,
                    "{len} bytes at offset {offset} belong to no module block"
                )
            }
            Self::BadChecksum { computed, stored } => write!(
                f,
                "checksum mismatch in the trailer: stored {stored:#010x}, computed {computed:#010x}"
            ),
            _ => fmt::Debug::fmt(self, f),
        }
    }

    /// What the blocks hold: a failed checkpoint, another chain, a module's
    /// own encoding.
    fn fmt_contents(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
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
            _ => fmt::Debug::fmt(self, f),
        }
    }

    /// Misuse of the writer, and output that does not fit.
    fn fmt_writer(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
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
            _ => fmt::Debug::fmt(self, f),
        }
    }
}

impl core::error::Error for ImageError {}
