// SPDX-License-Identifier: GPL-2.0
//! The ckptctl image file: one versioned container holding the stream
//! images of every pty end a set of processes held, and who held them.
//!
//! The stream images are the kernel's checkpoint messages
//! ([`pty_core::image`]); the container does not interpret them but checks
//! each with [`pty_core::image::decode`] when it is written and when it is
//! read. `tools/ckptctl/FORMAT.md` has the same description.
//!
//! # Format, container version 1
//!
//! All integers little-endian; every table and blob starts at a multiple
//! of 8.
//!
//! ```text
//! offset  size  field
//! ------  ----  -----------------------------------------------------------
//!                HEADER (64 bytes)
//!      0     8  magic "CKPTCTL\0"
//!      8     2  container version = 1 (any other is refused)
//!     10     2  header length = 64
//!     12     4  flags: bit 0 = the streams were left frozen by the dump;
//!               other bits zero
//!     16     8  checkpoint id (the status block of every stream image
//!               carries the same)
//!     24     8  creation time, seconds since the Unix epoch
//!     32     4  total length T of the file, trailer included
//!     36     4  stream count S
//!     40     4  file count F
//!     44     4  holder count H
//!     48     2  stream image format version (pty_core::image::FORMAT_VERSION)
//!     50     2  stream state version (pty_core::image::STATE_VERSION)
//!     52    12  reserved, zero
//!                STREAM TABLE, S entries of 16 bytes, from offset 64
//!     +0     4  pair index (AT&T slave index or BSD pair number)
//!     +4     1  end: 1 = master, 2 = slave
//!     +5     1  pty mode: 0 = AT&T (/dev/ckpt/ptmx), 1 = BSD (/dev/ckpt/ptyN)
//!     +6     2  reserved, zero
//!     +8     4  offset of the stream image (blob)
//!    +12     4  length of the stream image
//!                FILE TABLE, F entries of 8 bytes: open file descriptions
//!     +0     4  stream number (< S)
//!     +4     4  open flags (O_ACCMODE, O_NONBLOCK, O_APPEND, ... as in
//!               /proc/PID/fdinfo, without O_CLOEXEC)
//!                HOLDER TABLE, H entries of 16 bytes: descriptors
//!     +0     4  pid
//!     +4     4  descriptor number
//!     +8     4  file number (< F); holders of one file share it (dup, fork)
//!    +12     4  descriptor flags: bit 0 = FD_CLOEXEC; other bits zero
//!                STREAM IMAGES, S blobs in stream-table order, each at the
//!                offset its entry gives (right after the previous one, the
//!                first right after the holder table), zero padded to a
//!                multiple of 8
//!                TRAILER (8 bytes)
//!    T-8     4  CRC-32/ISO-HDLC (pty_core::image::crc32) of bytes 0..T-8
//!    T-4     4  reserved, zero
//! ```
//!
//! The encoding is canonical: blobs follow each other without gaps, every
//! padding and reserved byte is zero, no two streams name the same end of
//! the same pair, every stream is held through at least one file, and no
//! (pid, descriptor) appears twice.
//!
//! [`decode`] checks, in this order, and reports the first problem with its
//! byte offset ([`ContainerError`]): magic, version, header length, flags,
//! reserved bytes, total length (against the input: truncation and trailing
//! garbage), stream image versions, table sizes; then each stream entry
//! (end, mode, reserved, blob offset and length) with the padding after its
//! blob, the trailer's reserved word; then each blob with the core codec
//! (its errors carry their offset in the blob and in the file) and against
//! its entry (end, mode, checkpoint id) and the streams before it
//! (duplicates); then the file and holder entries and unheld streams; and
//! the checksum last, so structural damage gets a precise message and
//! damage to payload bytes is caught by a checksum.

use std::fmt;

use pty_core::codec::{first_nonzero, FieldError, FieldReader, FieldWriter};
use pty_core::image::{self, crc32, Constants, ImageError, PtyMode, FORMAT_VERSION, STATE_VERSION};
use pty_core::End;

/// First eight bytes of every container.
pub const MAGIC: [u8; 8] = *b"CKPTCTL\0";
/// The only container version this code reads and writes.
pub const VERSION: u16 = 1;
/// Length of the header.
pub const HEADER_LEN: usize = 64;
/// Length of one stream-table entry.
pub const STREAM_ENTRY_LEN: usize = 16;
/// Length of one file-table entry.
pub const FILE_ENTRY_LEN: usize = 8;
/// Length of one holder-table entry.
pub const HOLDER_ENTRY_LEN: usize = 16;
/// Length of the trailer.
pub const TRAILER_LEN: usize = 8;
/// Length of a container without any entry.
pub const MIN_LEN: usize = HEADER_LEN + TRAILER_LEN;
/// [`Container::flags`]: the dump left the streams frozen.
pub const FLAG_LEFT_FROZEN: u32 = 1;
/// [`HolderRecord::fd_flags`]: the descriptor was close-on-exec.
pub const FD_CLOEXEC: u32 = 1;

/// Byte offsets of the header fields.
pub mod layout {
    /// Magic.
    pub const MAGIC: usize = 0;
    /// Container version.
    pub const VERSION: usize = 8;
    /// Header length.
    pub const HEADER_LEN: usize = 10;
    /// Flags.
    pub const FLAGS: usize = 12;
    /// Checkpoint id.
    pub const CHECKPOINT_ID: usize = 16;
    /// Creation time.
    pub const CREATED: usize = 24;
    /// Total length.
    pub const TOTAL_LEN: usize = 32;
    /// Stream count.
    pub const STREAMS: usize = 36;
    /// File count.
    pub const FILES: usize = 40;
    /// Holder count.
    pub const HOLDERS: usize = 44;
    /// Stream image format version.
    pub const IMAGE_VERSION: usize = 48;
    /// Stream state version.
    pub const STATE_VERSION: usize = 50;
    /// Reserved bytes.
    pub const RESERVED: usize = 52;
}

/// One stream: which end of which pair, and its kernel image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRecord {
    /// Pair index.
    pub index: u32,
    /// Which end.
    pub kind: End,
    /// AT&T or BSD.
    pub mode: PtyMode,
    /// The kernel's checkpoint message of this stream.
    pub image: Vec<u8>,
}

/// One open file description of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// Index in [`Container::streams`].
    pub stream: u32,
    /// Open flags, without `O_CLOEXEC`.
    pub flags: u32,
}

/// One descriptor of a process, referring to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HolderRecord {
    /// Process id at dump time.
    pub pid: u32,
    /// Descriptor number.
    pub fd: u32,
    /// Index in [`Container::files`].
    pub file: u32,
    /// [`FD_CLOEXEC`] or 0.
    pub fd_flags: u32,
}

/// A whole image file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Container {
    /// [`FLAG_LEFT_FROZEN`] or 0.
    pub flags: u32,
    /// Shared by every stream image.
    pub checkpoint_id: u64,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// The streams, each once.
    pub streams: Vec<StreamRecord>,
    /// Open file descriptions.
    pub files: Vec<FileRecord>,
    /// Descriptors.
    pub holders: Vec<HolderRecord>,
}

/// How strictly stream images are checked against this build's kernel
/// constants ([`Constants`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// The images must carry this build's constants (for restore).
    ThisBuild,
    /// Each image is checked against the constants it carries (for
    /// inspection of images of another build).
    OwnConstants,
}

/// Name of a mode.
pub fn mode_name(mode: PtyMode) -> &'static str {
    match mode {
        PtyMode::Att => "AT&T",
        PtyMode::Bsd => "BSD",
    }
}

/// Why a container could not be written or read. Offsets are from the
/// start of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerError {
    /// The input ends at `len`; at least `needed` bytes are needed.
    Truncated {
        /// Input length.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// Not a ckptctl image (offset 0).
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// Container version other than [`VERSION`] (offset 8).
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// Header length other than [`HEADER_LEN`] (offset 10).
    BadHeaderLength {
        /// Length found.
        found: u16,
    },
    /// Unknown flag bits at `offset`.
    UnknownFlags {
        /// Where.
        offset: usize,
        /// The unknown bits.
        bits: u32,
    },
    /// A reserved byte is not zero.
    NonZeroReserved {
        /// Offset of the first non-zero reserved byte.
        offset: usize,
    },
    /// Total length (offset 32) differs from the input's.
    LengthMismatch {
        /// Declared.
        declared: u32,
        /// Actual.
        actual: usize,
    },
    /// The stream images are of a format or state version this build
    /// does not read (offset 48 or 50, or in a blob).
    UnsupportedImageVersion {
        /// Offset of the field.
        offset: usize,
        /// Which version.
        what: &'static str,
        /// Found.
        found: u16,
        /// Supported.
        supported: u16,
    },
    /// The tables (`what`) do not fit in the file.
    TablesOverrun {
        /// Which table.
        what: &'static str,
        /// Offset of the count field.
        offset: usize,
        /// Entries it claims.
        count: u32,
    },
    /// A stream entry's end byte is not 1 or 2.
    BadEnd {
        /// Stream number.
        stream: usize,
        /// Offset of the byte.
        offset: usize,
        /// Value found.
        found: u8,
    },
    /// A stream entry's mode byte is not 0 or 1.
    BadMode {
        /// Stream number.
        stream: usize,
        /// Offset of the byte.
        offset: usize,
        /// Value found.
        found: u8,
    },
    /// A blob does not start where the previous one ends.
    BadBlobOffset {
        /// Stream number.
        stream: usize,
        /// Offset of the field.
        offset: usize,
        /// Offset found.
        found: u32,
        /// Where it must start.
        expected: usize,
    },
    /// A blob runs into the trailer.
    BlobOverrun {
        /// Stream number.
        stream: usize,
        /// Offset of the length field.
        offset: usize,
        /// Where the blob starts.
        start: usize,
        /// Its length.
        len: u32,
        /// Where the trailer starts.
        limit: usize,
    },
    /// A file entry names a stream that does not exist.
    BadFileStream {
        /// File number.
        file: usize,
        /// Offset of the field.
        offset: usize,
        /// Stream found.
        stream: u32,
        /// Number of streams.
        streams: usize,
    },
    /// A file's open flags contain `O_CLOEXEC`.
    BadFileFlags {
        /// File number.
        file: usize,
        /// Offset of the field.
        offset: usize,
        /// Flags found.
        flags: u32,
    },
    /// A holder entry names a file that does not exist.
    BadHolderFile {
        /// Holder number.
        holder: usize,
        /// Offset of the field.
        offset: usize,
        /// File found.
        file: u32,
        /// Number of files.
        files: usize,
    },
    /// The same (pid, fd) appears twice.
    DuplicateHolder {
        /// Holder number of the second.
        holder: usize,
        /// Its offset.
        offset: usize,
        /// Pid.
        pid: u32,
        /// Descriptor.
        fd: u32,
    },
    /// A padding byte is not zero.
    NonZeroPadding {
        /// Offset of the first non-zero padding byte.
        offset: usize,
    },
    /// Bytes after the last blob, before the trailer.
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many.
        len: usize,
    },
    /// A stream image failed the core codec.
    Blob {
        /// Stream number.
        stream: usize,
        /// Offset of the blob in the file.
        start: usize,
        /// The codec's error (offsets relative to the blob).
        error: ImageError,
    },
    /// A stream image disagrees with its entry or the header.
    BlobMismatch {
        /// Stream number.
        stream: usize,
        /// Offset of the blob in the file.
        start: usize,
        /// Which field.
        what: &'static str,
        /// Value in the table (or header).
        table: String,
        /// Value in the image.
        image: String,
    },
    /// Two streams name the same end of the same pair.
    DuplicateStream {
        /// Stream number of the second.
        stream: usize,
        /// Offset of its entry.
        offset: usize,
        /// The first.
        first: usize,
    },
    /// No file refers to this stream.
    UnheldStream {
        /// Stream number.
        stream: usize,
        /// Offset of its entry.
        offset: usize,
    },
    /// The checksum does not match.
    BadChecksum {
        /// Offset of the checksum.
        offset: usize,
        /// Stored.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// Writing: the file would exceed 4 GiB.
    TooLarge,
}

impl ContainerError {
    /// Whether this error means "incompatible version" (exit code 4)
    /// rather than "corrupt" (exit code 3).
    pub fn is_version(&self) -> bool {
        match self {
            Self::UnsupportedVersion { .. } | Self::UnsupportedImageVersion { .. } => true,
            Self::Blob { error, .. } => matches!(
                error,
                ImageError::UnsupportedVersion { .. }
                    | ImageError::UnsupportedStateVersion { .. }
                    | ImageError::ConstantsMismatch { .. }
            ),
            _ => false,
        }
    }

    /// Byte offset in the file the error is about, if any.
    pub fn offset(&self) -> Option<usize> {
        match *self {
            Self::Truncated { len, .. } => Some(len),
            Self::BadMagic { .. } => Some(layout::MAGIC),
            Self::UnsupportedVersion { .. } => Some(layout::VERSION),
            Self::BadHeaderLength { .. } => Some(layout::HEADER_LEN),
            Self::LengthMismatch { .. } => Some(layout::TOTAL_LEN),
            Self::UnknownFlags { offset, .. }
            | Self::NonZeroReserved { offset }
            | Self::UnsupportedImageVersion { offset, .. }
            | Self::TablesOverrun { offset, .. }
            | Self::BadEnd { offset, .. }
            | Self::BadMode { offset, .. }
            | Self::BadBlobOffset { offset, .. }
            | Self::BlobOverrun { offset, .. }
            | Self::BadFileStream { offset, .. }
            | Self::BadFileFlags { offset, .. }
            | Self::BadHolderFile { offset, .. }
            | Self::DuplicateHolder { offset, .. }
            | Self::NonZeroPadding { offset }
            | Self::TrailingBytes { offset, .. }
            | Self::DuplicateStream { offset, .. }
            | Self::UnheldStream { offset, .. }
            | Self::BadChecksum { offset, .. } => Some(offset),
            Self::Blob {
                start, ref error, ..
            } => Some(start.saturating_add(error.offset().unwrap_or(0))),
            Self::BlobMismatch { start, .. } => Some(start),
            Self::TooLarge => None,
        }
    }
}

/// Prints bytes with non-printable ones escaped.
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

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { .. }
            | Self::BadMagic { .. }
            | Self::UnsupportedVersion { .. }
            | Self::BadHeaderLength { .. }
            | Self::LengthMismatch { .. }
            | Self::UnsupportedImageVersion { .. }
            | Self::TablesOverrun { .. } => self.describe_header(f),
            Self::BadEnd { .. }
            | Self::BadMode { .. }
            | Self::BadBlobOffset { .. }
            | Self::BlobOverrun { .. } => self.describe_stream_entry(f),
            Self::Blob { .. }
            | Self::BlobMismatch { .. }
            | Self::DuplicateStream { .. }
            | Self::UnheldStream { .. } => self.describe_stream_image(f),
            Self::BadFileStream { .. }
            | Self::BadFileFlags { .. }
            | Self::BadHolderFile { .. }
            | Self::DuplicateHolder { .. } => self.describe_file_or_holder(f),
            Self::UnknownFlags { .. }
            | Self::NonZeroReserved { .. }
            | Self::NonZeroPadding { .. }
            | Self::TrailingBytes { .. }
            | Self::BadChecksum { .. }
            | Self::TooLarge => self.describe_integrity(f),
        }
    }
}

// Each `describe_*` words the variants [`fmt::Display`] routes to it; the
// `Debug` arm at the end of each is never taken, and would still name the
// error rather than print nothing.
impl ContainerError {
    /// The header's own fields, the file's length and the table sizes.
    fn describe_header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { len, needed } => write!(
                f,
                "file truncated at offset {len}: at least {needed} bytes needed"
            ),
            Self::BadMagic { found } => write!(
                f,
                "bad magic \"{}\" at offset 0: not a ckptctl image (expected \"CKPTCTL\\x00\")",
                Escaped(found)
            ),
            Self::UnsupportedVersion { found } => write!(
                f,
                "container version {found} at offset 8 is not supported (this ckptctl reads \
                 version {VERSION})"
            ),
            Self::BadHeaderLength { found } => write!(
                f,
                "bad header length {found} at offset 10 (expected {HEADER_LEN})"
            ),
            Self::LengthMismatch { declared, actual } => write!(
                f,
                "total length {declared} at offset 32 differs from the file's {actual} bytes \
                 (truncated or extended file)"
            ),
            Self::UnsupportedImageVersion {
                offset,
                what,
                found,
                supported,
            } => write!(
                f,
                "stream image {what} {found} at offset {offset} is not supported (this ckptctl \
                 reads {supported})"
            ),
            Self::TablesOverrun {
                what,
                offset,
                count,
            } => write!(
                f,
                "{what} count {count} at offset {offset}: the table runs past the trailer"
            ),
            other => write!(f, "{other:?}"),
        }
    }

    /// A stream-table entry: its end, mode and where its image lies.
    fn describe_stream_entry(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadEnd {
                stream,
                offset,
                found,
            } => write!(
                f,
                "stream {stream}: bad end {found} at offset {offset} (1 = master, 2 = slave)"
            ),
            Self::BadMode {
                stream,
                offset,
                found,
            } => write!(
                f,
                "stream {stream}: bad pty mode {found} at offset {offset} (0 = AT&T, 1 = BSD)"
            ),
            Self::BadBlobOffset {
                stream,
                offset,
                found,
                expected,
            } => write!(
                f,
                "stream {stream}: image offset {found} at offset {offset}, expected {expected}"
            ),
            Self::BlobOverrun {
                stream,
                offset,
                start,
                len,
                limit,
            } => write!(
                f,
                "stream {stream}: image length {len} at offset {offset} runs from {start} past \
                 the trailer at offset {limit}"
            ),
            other => write!(f, "{other:?}"),
        }
    }

    /// A stream image: the core codec's verdict, agreement with its entry,
    /// and its place among the other streams.
    fn describe_stream_image(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blob {
                stream,
                start,
                error,
            } => {
                write!(f, "stream {stream}: image at offset {start}: {error}")?;
                if let Some(at) = error.offset() {
                    write!(f, " (file offset {})", start.saturating_add(at))?;
                }
                Ok(())
            }
            Self::BlobMismatch {
                stream,
                start,
                what,
                table,
                image,
            } => write!(
                f,
                "stream {stream}: the image at offset {start} has {what} {image}, the table says \
                 {table}"
            ),
            Self::DuplicateStream {
                stream,
                offset,
                first,
            } => write!(
                f,
                "stream {stream} at offset {offset} is the same end of the same pair as stream \
                 {first}"
            ),
            Self::UnheldStream { stream, offset } => {
                write!(f, "stream {stream} at offset {offset} is held by no file")
            }
            other => write!(f, "{other:?}"),
        }
    }

    /// A file-table or holder-table entry.
    fn describe_file_or_holder(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadFileStream {
                file,
                offset,
                stream,
                streams,
            } => write!(
                f,
                "file {file}: stream {stream} at offset {offset} does not exist ({streams} \
                 streams)"
            ),
            Self::BadFileFlags {
                file,
                offset,
                flags,
            } => write!(
                f,
                "file {file}: open flags {flags:#o} at offset {offset} include O_CLOEXEC"
            ),
            Self::BadHolderFile {
                holder,
                offset,
                file,
                files,
            } => write!(
                f,
                "holder {holder}: file {file} at offset {offset} does not exist ({files} files)"
            ),
            Self::DuplicateHolder {
                holder,
                offset,
                pid,
                fd,
            } => write!(
                f,
                "holder {holder} at offset {offset}: pid {pid} fd {fd} is listed twice"
            ),
            other => write!(f, "{other:?}"),
        }
    }

    /// Bytes that must be zero or must not be there at all, the checksum,
    /// and the size limit.
    fn describe_integrity(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlags { offset, bits } => {
                write!(f, "unknown flag bits {bits:#x} at offset {offset}")
            }
            Self::NonZeroReserved { offset } => {
                write!(f, "reserved byte at offset {offset} is not zero")
            }
            Self::NonZeroPadding { offset } => {
                write!(f, "padding byte at offset {offset} is not zero")
            }
            Self::TrailingBytes { offset, len } => write!(
                f,
                "{len} bytes at offset {offset} belong to no stream image"
            ),
            Self::BadChecksum {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "checksum mismatch at offset {offset}: stored {stored:#010x}, computed \
                 {computed:#010x} (the file is damaged)"
            ),
            Self::TooLarge => f.write_str("the image file would exceed 4 GiB"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for ContainerError {}

/// `n` rounded up to a multiple of 8.
fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// The constants an image declares (offsets 40..58 of a stream image),
/// read without checking anything else.
pub fn image_constants(blob: &[u8]) -> Option<Constants> {
    let mut r = FieldReader::at(blob, image::layout::CONSTANTS);
    Some(Constants {
        pts_input_bound: r.get_u32().ok()?,
        master_head_bound: r.get_u32().ok()?,
        n_tty_buf_size: r.get_u32().ok()?,
        nccs: r.get_u16().ok()?,
        termios_size: r.get_u16().ok()?,
        winsize_size: r.get_u16().ok()?,
    })
}

/// Decodes a stream image under `constraint`.
pub fn decode_image(
    blob: &[u8],
    constraint: Constraint,
) -> Result<image::StreamImage<'_>, ImageError> {
    match constraint {
        Constraint::ThisBuild => image::decode(blob),
        Constraint::OwnConstants => {
            // A blob too short for the constants gets the codec's own
            // (truncation or magic) error.
            let c = image_constants(blob).unwrap_or(Constants::CURRENT);
            image::decode_with(blob, &c)
        }
    }
}

/// Layout of a container with these counts: offsets of the file table,
/// the holder table and the first blob.
fn table_offsets(streams: usize, files: usize) -> (usize, usize) {
    let file_table = HEADER_LEN + streams * STREAM_ENTRY_LEN;
    let holder_table = file_table + files * FILE_ENTRY_LEN;
    (file_table, holder_table)
}

impl Container {
    /// Checks everything [`decode`] checks that does not depend on the
    /// bytes (references, duplicates) and every blob with the core codec.
    fn check(&self, constraint: Constraint) -> Result<(), ContainerError> {
        self.check_streams(constraint)?;
        self.check_files()?;
        self.check_holders()?;
        self.check_every_stream_held()
    }

    /// Each stream image decodes, agrees with its entry, and is the only
    /// one of its end of its pair.
    fn check_streams(&self, constraint: Constraint) -> Result<(), ContainerError> {
        for (i, (s, start)) in self.streams.iter().zip(self.blob_offsets()).enumerate() {
            self.check_stream_image(i, s, start, constraint)?;
            if let Some(first) = self.streams[..i]
                .iter()
                .position(|o| o.index == s.index && o.kind == s.kind && o.mode == s.mode)
            {
                return Err(ContainerError::DuplicateStream {
                    stream: i,
                    offset: HEADER_LEN + i * STREAM_ENTRY_LEN,
                    first,
                });
            }
        }
        Ok(())
    }

    /// Stream `i`'s image (at file offset `start`) decodes under
    /// `constraint` and has the end, mode and checkpoint id of its entry
    /// and of the container.
    fn check_stream_image(
        &self,
        i: usize,
        s: &StreamRecord,
        start: usize,
        constraint: Constraint,
    ) -> Result<(), ContainerError> {
        let img = decode_image(&s.image, constraint).map_err(|error| ContainerError::Blob {
            stream: i,
            start,
            error,
        })?;
        let mismatch = |what, table: String, image: String| ContainerError::BlobMismatch {
            stream: i,
            start,
            what,
            table,
            image,
        };
        if img.kind() != s.kind {
            return Err(mismatch(
                "end",
                s.kind.name().into(),
                img.kind().name().into(),
            ));
        }
        if img.mode() != s.mode {
            return Err(mismatch(
                "pty mode",
                mode_name(s.mode).into(),
                mode_name(img.mode()).into(),
            ));
        }
        if img.checkpoint_id() != self.checkpoint_id {
            return Err(mismatch(
                "checkpoint id",
                format!("{:#x}", self.checkpoint_id),
                format!("{:#x}", img.checkpoint_id()),
            ));
        }
        Ok(())
    }

    /// Every file names an existing stream and has no `O_CLOEXEC` (that is
    /// a descriptor flag, kept by the holders).
    fn check_files(&self) -> Result<(), ContainerError> {
        let (file_table, _) = table_offsets(self.streams.len(), self.files.len());
        for (i, f) in self.files.iter().enumerate() {
            let offset = file_table + i * FILE_ENTRY_LEN;
            if f.stream as usize >= self.streams.len() {
                return Err(ContainerError::BadFileStream {
                    file: i,
                    offset,
                    stream: f.stream,
                    streams: self.streams.len(),
                });
            }
            if f.flags & libc::O_CLOEXEC as u32 != 0 {
                return Err(ContainerError::BadFileFlags {
                    file: i,
                    offset: offset + 4,
                    flags: f.flags,
                });
            }
        }
        Ok(())
    }

    /// Every holder names an existing file, has only known descriptor
    /// flags, and no (pid, descriptor) appears twice.
    fn check_holders(&self) -> Result<(), ContainerError> {
        let (_, holder_table) = table_offsets(self.streams.len(), self.files.len());
        let mut seen = std::collections::HashSet::new();
        for (i, h) in self.holders.iter().enumerate() {
            let offset = holder_table + i * HOLDER_ENTRY_LEN;
            if h.file as usize >= self.files.len() {
                return Err(ContainerError::BadHolderFile {
                    holder: i,
                    offset: offset + 8,
                    file: h.file,
                    files: self.files.len(),
                });
            }
            if h.fd_flags & !FD_CLOEXEC != 0 {
                return Err(ContainerError::UnknownFlags {
                    offset: offset + 12,
                    bits: h.fd_flags & !FD_CLOEXEC,
                });
            }
            if !seen.insert((h.pid, h.fd)) {
                return Err(ContainerError::DuplicateHolder {
                    holder: i,
                    offset,
                    pid: h.pid,
                    fd: h.fd,
                });
            }
        }
        Ok(())
    }

    /// Every stream is held through at least one file.
    fn check_every_stream_held(&self) -> Result<(), ContainerError> {
        for i in 0..self.streams.len() {
            if !self.files.iter().any(|f| f.stream as usize == i) {
                return Err(ContainerError::UnheldStream {
                    stream: i,
                    offset: HEADER_LEN + i * STREAM_ENTRY_LEN,
                });
            }
        }
        Ok(())
    }

    /// File offset of each stream's image, as [`Container::encode`] lays
    /// them out (and as [`decode`] requires them).
    pub fn blob_offsets(&self) -> Vec<usize> {
        self.blob_places().0
    }

    /// Offsets of the blobs and where the last one's padding ends. The sums
    /// saturate: a container that large is refused by [`Self::blob_layout`].
    fn blob_places(&self) -> (Vec<usize>, usize) {
        let (_, holder_table) = table_offsets(self.streams.len(), self.files.len());
        let mut pos = holder_table + self.holders.len() * HOLDER_ENTRY_LEN;
        let starts = self
            .streams
            .iter()
            .map(|s| {
                let start = pos;
                pos = pos.saturating_add(pad8(s.image.len()));
                start
            })
            .collect();
        (starts, pos)
    }

    /// Offsets of the blobs and the total length.
    fn blob_layout(&self) -> Result<(Vec<usize>, usize), ContainerError> {
        let (starts, blobs_end) = self.blob_places();
        let total = blobs_end
            .checked_add(TRAILER_LEN)
            .filter(|&total| u32::try_from(total).is_ok())
            .ok_or(ContainerError::TooLarge)?;
        Ok((starts, total))
    }

    /// The file's bytes. Every stream image is checked with the core codec
    /// against its own constants (the tool may be of another build than
    /// the kernel that wrote them) and the tables for consistency, so a
    /// file this writes is one [`decode`] accepts.
    pub fn encode(&self) -> Result<Vec<u8>, ContainerError> {
        let (starts, total) = self.blob_layout()?;
        self.check(Constraint::OwnConstants)?;
        if self.flags & !FLAG_LEFT_FROZEN != 0 {
            return Err(ContainerError::UnknownFlags {
                offset: layout::FLAGS,
                bits: self.flags & !FLAG_LEFT_FROZEN,
            });
        }
        let count = |n: usize| u32::try_from(n).map_err(|_| ContainerError::TooLarge);
        let counts = [
            count(self.streams.len())?,
            count(self.files.len())?,
            count(self.holders.len())?,
        ];
        let mut out = vec![0u8; total];
        let limit = total - TRAILER_LEN;
        // The buffer has exactly the layout's size: a write can only fall
        // short if the layout's arithmetic overflowed, i.e. the file would
        // be too large.
        let mut w = FieldWriter::new(&mut out[..limit]);
        self.write_body(&mut w, total as u32, counts, &starts)
            .and_then(|()| w.finish())
            .map_err(|_| ContainerError::TooLarge)?;
        let crc = crc32(&out[..limit]);
        let mut w = FieldWriter::at(&mut out, limit);
        w.put_u32(crc)
            .and_then(|()| w.put_u32(0))
            .and_then(|()| w.finish())
            .map_err(|_| ContainerError::TooLarge)?;
        Ok(out)
    }

    /// Writes everything before the trailer: header, the three tables and
    /// the blobs, each padded to a multiple of 8.
    fn write_body(
        &self,
        w: &mut FieldWriter<'_>,
        total: u32,
        [streams, files, holders]: [u32; 3],
        starts: &[usize],
    ) -> Result<(), FieldError> {
        w.put_bytes(&MAGIC)?;
        w.put_u16(VERSION)?;
        w.put_u16(HEADER_LEN as u16)?;
        w.put_u32(self.flags)?;
        w.put_u64(self.checkpoint_id)?;
        w.put_u64(self.created)?;
        w.put_u32(total)?;
        w.put_u32(streams)?;
        w.put_u32(files)?;
        w.put_u32(holders)?;
        w.put_u16(FORMAT_VERSION)?;
        w.put_u16(STATE_VERSION)?;
        w.put_zeros(HEADER_LEN - layout::RESERVED)?;
        for (s, start) in self.streams.iter().zip(starts) {
            w.put_u32(s.index)?;
            w.put_u8(image::end_to_byte(s.kind))?;
            w.put_u8(s.mode.as_u8())?;
            w.put_zeros(2)?;
            w.put_u32(*start as u32)?;
            w.put_u32(s.image.len() as u32)?;
        }
        for f in &self.files {
            w.put_u32(f.stream)?;
            w.put_u32(f.flags)?;
        }
        for h in &self.holders {
            for v in [h.pid, h.fd, h.file, h.fd_flags] {
                w.put_u32(v)?;
            }
        }
        for s in &self.streams {
            w.put_bytes(&s.image)?;
            w.put_zeros(pad8(s.image.len()) - s.image.len())?;
        }
        Ok(())
    }
}

/// A codec error on the container's own fields: the input ends too early.
/// (Lengths are checked before fields are read, so this does not happen.)
fn truncated(e: FieldError) -> ContainerError {
    match e {
        FieldError::Short {
            offset,
            needed,
            len,
        } => ContainerError::Truncated {
            len,
            needed: offset.saturating_add(needed),
        },
        FieldError::Invalid { offset } | FieldError::Leftover { offset, .. } => {
            ContainerError::Truncated {
                len: offset,
                needed: offset.saturating_add(1),
            }
        }
    }
}

/// The header after the magic, as read (checked by [`check_header`]).
struct Header {
    version: u16,
    header_len: u16,
    flags: u32,
    checkpoint_id: u64,
    created: u64,
    total_len: u32,
    /// Stream, file and holder counts.
    counts: [u32; 3],
    image_version: u16,
    state_version: u16,
}

fn read_header(bytes: &[u8]) -> Result<Header, FieldError> {
    let mut r = FieldReader::at(bytes, layout::VERSION);
    Ok(Header {
        version: r.get_u16()?,
        header_len: r.get_u16()?,
        flags: r.get_u32()?,
        checkpoint_id: r.get_u64()?,
        created: r.get_u64()?,
        total_len: r.get_u32()?,
        counts: [r.get_u32()?, r.get_u32()?, r.get_u32()?],
        image_version: r.get_u16()?,
        state_version: r.get_u16()?,
    })
}

/// Checks the header's fields in file order, the reserved bytes after the
/// flags, and the total length against the input's.
fn check_header(h: &Header, bytes: &[u8]) -> Result<(), ContainerError> {
    if h.version != VERSION {
        return Err(ContainerError::UnsupportedVersion { found: h.version });
    }
    if usize::from(h.header_len) != HEADER_LEN {
        return Err(ContainerError::BadHeaderLength {
            found: h.header_len,
        });
    }
    if h.flags & !FLAG_LEFT_FROZEN != 0 {
        return Err(ContainerError::UnknownFlags {
            offset: layout::FLAGS,
            bits: h.flags & !FLAG_LEFT_FROZEN,
        });
    }
    if let Some(offset) = first_nonzero(bytes, layout::RESERVED, HEADER_LEN) {
        return Err(ContainerError::NonZeroReserved { offset });
    }
    if h.total_len as usize != bytes.len() {
        return Err(ContainerError::LengthMismatch {
            declared: h.total_len,
            actual: bytes.len(),
        });
    }
    for (offset, what, found, supported) in [
        (
            layout::IMAGE_VERSION,
            "format version",
            h.image_version,
            FORMAT_VERSION,
        ),
        (
            layout::STATE_VERSION,
            "state version",
            h.state_version,
            STATE_VERSION,
        ),
    ] {
        if found != supported {
            return Err(ContainerError::UnsupportedImageVersion {
                offset,
                what,
                found,
                supported,
            });
        }
    }
    Ok(())
}

/// Offsets of the stream, file and holder tables and of the first blob;
/// every table must end before the trailer at `limit`.
fn table_starts(counts: [u32; 3], limit: usize) -> Result<([usize; 3], usize), ContainerError> {
    let tables = [
        ("stream", layout::STREAMS, STREAM_ENTRY_LEN),
        ("file", layout::FILES, FILE_ENTRY_LEN),
        ("holder", layout::HOLDERS, HOLDER_ENTRY_LEN),
    ];
    let mut pos = HEADER_LEN;
    let mut starts = [0usize; 3];
    for ((slot, count), (what, offset, entry)) in starts.iter_mut().zip(counts).zip(tables) {
        *slot = pos;
        pos = (count as usize)
            .checked_mul(entry)
            .and_then(|n| n.checked_add(pos))
            .filter(|&end| end <= limit)
            .ok_or(ContainerError::TablesOverrun {
                what,
                offset,
                count,
            })?;
    }
    Ok((starts, pos))
}

/// One stream-table entry, checked, with where its blob lies.
struct StreamEntry {
    index: u32,
    kind: End,
    mode: PtyMode,
    start: usize,
    end: usize,
}

/// Reads and checks `count` stream entries from `table`; their blobs follow
/// each other from `first_blob` on, each padded with zeros to a multiple
/// of 8, and must end exactly at the trailer (`limit`).
fn read_stream_entries(
    bytes: &[u8],
    table: usize,
    count: usize,
    first_blob: usize,
    limit: usize,
) -> Result<Vec<StreamEntry>, ContainerError> {
    let mut r = FieldReader::at(bytes, table);
    let mut blob_pos = first_blob;
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let entry = read_stream_entry(&mut r, i, blob_pos, limit)?;
        // `read_stream_entry` checked that the padding ends by `limit`.
        let next = pad8(entry.end);
        if let Some(offset) = first_nonzero(bytes, entry.end, next) {
            return Err(ContainerError::NonZeroPadding { offset });
        }
        entries.push(entry);
        blob_pos = next;
    }
    if blob_pos != limit {
        return Err(ContainerError::TrailingBytes {
            offset: blob_pos,
            len: limit - blob_pos,
        });
    }
    Ok(entries)
}

/// Reads and checks stream entry `i` at `r`: its blob must start at
/// `blob_pos` and, padded, end by the trailer at `limit`.
fn read_stream_entry(
    r: &mut FieldReader<'_>,
    i: usize,
    blob_pos: usize,
    limit: usize,
) -> Result<StreamEntry, ContainerError> {
    let index = r.get_u32().map_err(truncated)?;
    let end_at = r.position();
    let end_raw = r.get_u8().map_err(truncated)?;
    let kind = image::end_from_byte(end_raw).ok_or(ContainerError::BadEnd {
        stream: i,
        offset: end_at,
        found: end_raw,
    })?;
    let mode_at = r.position();
    let mode_raw = r.get_u8().map_err(truncated)?;
    let mode = PtyMode::from_u8(mode_raw).ok_or(ContainerError::BadMode {
        stream: i,
        offset: mode_at,
        found: mode_raw,
    })?;
    r.get_zeros(2).map_err(|e| match e {
        FieldError::Invalid { offset } => ContainerError::NonZeroReserved { offset },
        e => truncated(e),
    })?;
    let start_at = r.position();
    let start = r.get_u32().map_err(truncated)?;
    if start as usize != blob_pos {
        return Err(ContainerError::BadBlobOffset {
            stream: i,
            offset: start_at,
            found: start,
            expected: blob_pos,
        });
    }
    let len_at = r.position();
    let blob_len = r.get_u32().map_err(truncated)?;
    let end = blob_pos
        .checked_add(blob_len as usize)
        .filter(|&end| pad8(end) <= limit)
        .ok_or(ContainerError::BlobOverrun {
            stream: i,
            offset: len_at,
            start: blob_pos,
            len: blob_len,
            limit,
        })?;
    Ok(StreamEntry {
        index,
        kind,
        mode,
        start: blob_pos,
        end,
    })
}

/// `count` file-table entries from `table` (checked later, by
/// [`Container::check`]).
fn read_files(bytes: &[u8], table: usize, count: usize) -> Result<Vec<FileRecord>, FieldError> {
    let mut r = FieldReader::at(bytes, table);
    (0..count)
        .map(|_| {
            Ok(FileRecord {
                stream: r.get_u32()?,
                flags: r.get_u32()?,
            })
        })
        .collect()
}

/// `count` holder-table entries from `table` (checked later, by
/// [`Container::check`]).
fn read_holders(bytes: &[u8], table: usize, count: usize) -> Result<Vec<HolderRecord>, FieldError> {
    let mut r = FieldReader::at(bytes, table);
    (0..count)
        .map(|_| {
            Ok(HolderRecord {
                pid: r.get_u32()?,
                fd: r.get_u32()?,
                file: r.get_u32()?,
                fd_flags: r.get_u32()?,
            })
        })
        .collect()
}

/// Reads and fully checks a container (see the module documentation for
/// the order of the checks).
pub fn decode(bytes: &[u8], constraint: Constraint) -> Result<Container, ContainerError> {
    let len = bytes.len();
    let prefix = &bytes[..len.min(MAGIC.len())];
    if MAGIC[..prefix.len()] != *prefix {
        return Err(ContainerError::BadMagic {
            found: prefix.to_vec(),
        });
    }
    if len < MIN_LEN {
        return Err(ContainerError::Truncated {
            len,
            needed: MIN_LEN,
        });
    }
    let header = read_header(bytes).map_err(truncated)?;
    check_header(&header, bytes)?;

    // Tables, stream entries and their blobs' places.
    let limit = len - TRAILER_LEN;
    let ([stream_table, file_table, holder_table], first_blob) =
        table_starts(header.counts, limit)?;
    let [stream_count, file_count, holder_count] = header.counts.map(|n| n as usize);
    let entries = read_stream_entries(bytes, stream_table, stream_count, first_blob, limit)?;
    if let Some(offset) = first_nonzero(bytes, limit + 4, len) {
        return Err(ContainerError::NonZeroReserved { offset });
    }

    let container = Container {
        flags: header.flags,
        checkpoint_id: header.checkpoint_id,
        created: header.created,
        streams: entries
            .into_iter()
            .map(|e| StreamRecord {
                index: e.index,
                kind: e.kind,
                mode: e.mode,
                image: bytes[e.start..e.end].to_vec(),
            })
            .collect(),
        files: read_files(bytes, file_table, file_count).map_err(truncated)?,
        holders: read_holders(bytes, holder_table, holder_count).map_err(truncated)?,
    };
    // The entries' blob offsets were checked to be the ones the tables
    // imply, which is what `check` reports errors at.
    container.check(constraint)?;

    let stored = FieldReader::at(bytes, limit).get_u32().map_err(truncated)?;
    let computed = crc32(&bytes[..limit]);
    if stored != computed {
        return Err(ContainerError::BadChecksum {
            offset: limit,
            stored,
            computed,
        });
    }
    Ok(container)
}
