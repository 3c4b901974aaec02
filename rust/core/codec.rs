// SPDX-License-Identifier: GPL-2.0
//! The one byte codec of ckpt_pty: sequential, bounds-checked, strict
//! little-endian fields.
//!
//! Every byte format the project defines is written with [`FieldWriter`]
//! and read with [`FieldReader`]: the checkpoint image and its module
//! blocks, the saved line-discipline state and termios, the restart
//! session's tables, and `ckptctl`'s image file. So a field is encoded the
//! same way everywhere, every read is bounds-checked without a panic, and
//! a bad field is reported with its byte offset ([`FieldError`]).
//!
//! Integers are little-endian, the byte order of every format the project
//! defines. The `*_ne` methods are the one exception: records of the
//! user-space ABI that the kernel hands out in the CPU's own byte order
//! (`struct winsize`, `struct ckpt_pty_orphan`).
//!
//! A reader or writer made with `at` starts at an offset of its buffer, so
//! the positions and the offsets in its errors are those of the whole
//! buffer; that is how fixed tables are read and updated in place.

use core::fmt;

use super::errno::Errno;

/// Why a [`FieldReader`] or [`FieldWriter`] failed. Offsets are relative to
/// the reader's or writer's buffer. A field that does not fit or does not
/// decode is malformed input: every variant is `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `needed` bytes at `offset` do not fit in the `len` bytes there are.
    /// `EINVAL`.
    Short {
        /// Where the field starts.
        offset: usize,
        /// Its size.
        needed: usize,
        /// Size of the buffer.
        len: usize,
    },
    /// The value at `offset` is out of range. `EINVAL`.
    Invalid {
        /// Where the field starts.
        offset: usize,
    },
    /// `len` bytes from `offset` on were not read (or not written). `EINVAL`.
    Leftover {
        /// First byte left over.
        offset: usize,
        /// How many.
        len: usize,
    },
}

impl FieldError {
    /// The errno for this error: `EINVAL`.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Short { .. } | Self::Invalid { .. } | Self::Leftover { .. } => Errno::EINVAL,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Short {
                offset,
                needed,
                len,
            } => write!(
                f,
                "{needed} bytes needed at offset {offset}, only {} there",
                len.saturating_sub(offset)
            ),
            Self::Invalid { offset } => write!(f, "invalid value at offset {offset}"),
            Self::Leftover { offset, len } => {
                write!(f, "{len} bytes left over at offset {offset}")
            }
        }
    }
}

impl core::error::Error for FieldError {}

/// Sequential little-endian writer of fields into a byte slice; or, made
/// with [`FieldWriter::counting`], a dry run that only counts bytes, so a
/// module sizes its block with the very code that writes it.
#[derive(Debug)]
pub struct FieldWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    counting: bool,
}

impl<'a> FieldWriter<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A writer filling `buf` from `offset` on (an update in place of a
    /// fixed table); positions and error offsets count from `buf`'s start.
    pub fn at(buf: &'a mut [u8], offset: usize) -> Self {
        Self {
            buf,
            pos: offset,
            counting: false,
        }
    }

    /// A writer that stores nothing and only counts; never short.
    pub fn counting() -> FieldWriter<'static> {
        FieldWriter {
            buf: &mut [],
            pos: 0,
            counting: true,
        }
    }

    /// Bytes written so far (plus the starting offset).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes that may still be written.
    pub fn remaining(&self) -> usize {
        if self.counting {
            usize::MAX.saturating_sub(self.pos)
        } else {
            self.buf.len().saturating_sub(self.pos)
        }
    }

    /// The next `n` bytes of the buffer (nothing when counting), and moves
    /// past them.
    fn claim(&mut self, n: usize) -> Result<Option<&mut [u8]>, FieldError> {
        let short = FieldError::Short {
            offset: self.pos,
            needed: n,
            len: self.buf.len(),
        };
        let end = self.pos.checked_add(n).ok_or(short)?;
        let dst = if self.counting {
            None
        } else {
            Some(self.buf.get_mut(self.pos..end).ok_or(short)?)
        };
        self.pos = end;
        Ok(dst)
    }

    /// Append `bytes`.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), FieldError> {
        if let Some(dst) = self.claim(bytes.len())? {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Append `n` zero bytes.
    pub fn put_zeros(&mut self, n: usize) -> Result<(), FieldError> {
        if let Some(dst) = self.claim(n)? {
            dst.fill(0);
        }
        Ok(())
    }

    /// Append a `u8`.
    pub fn put_u8(&mut self, v: u8) -> Result<(), FieldError> {
        self.put_bytes(&[v])
    }

    /// Append a `bool` as one byte, 0 or 1.
    pub fn put_bool(&mut self, v: bool) -> Result<(), FieldError> {
        self.put_u8(u8::from(v))
    }

    /// Append a little-endian `u16`.
    pub fn put_u16(&mut self, v: u16) -> Result<(), FieldError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Append a little-endian `u32`.
    pub fn put_u32(&mut self, v: u32) -> Result<(), FieldError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Append a little-endian `u64`.
    pub fn put_u64(&mut self, v: u64) -> Result<(), FieldError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Append a little-endian `i32`.
    pub fn put_i32(&mut self, v: i32) -> Result<(), FieldError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Append a little-endian `i64`.
    pub fn put_i64(&mut self, v: i64) -> Result<(), FieldError> {
        self.put_bytes(&v.to_le_bytes())
    }

    /// Append a `u16` in the CPU's byte order (user-space ABI records only).
    pub fn put_u16_ne(&mut self, v: u16) -> Result<(), FieldError> {
        self.put_bytes(&v.to_ne_bytes())
    }

    /// Append a `u32` in the CPU's byte order (user-space ABI records only).
    pub fn put_u32_ne(&mut self, v: u32) -> Result<(), FieldError> {
        self.put_bytes(&v.to_ne_bytes())
    }

    /// The number of bytes written; [`FieldError::Leftover`] unless the
    /// buffer is exactly full (a counting writer is always full).
    pub fn finish(self) -> Result<usize, FieldError> {
        if !self.counting && self.pos != self.buf.len() {
            return Err(FieldError::Leftover {
                offset: self.pos,
                len: self.buf.len().saturating_sub(self.pos),
            });
        }
        Ok(self.pos)
    }
}

/// Sequential, strict little-endian reader of fields from a byte slice.
#[derive(Clone, Debug)]
pub struct FieldReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    /// A reader of `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A reader of `buf` from `offset` on (a field of a fixed table);
    /// positions and error offsets count from `buf`'s start.
    pub fn at(buf: &'a [u8], offset: usize) -> Self {
        Self { buf, pos: offset }
    }

    /// Bytes read so far (plus the starting offset): the offset of the
    /// next field.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes, borrowed from the input.
    pub fn get_bytes(&mut self, n: usize) -> Result<&'a [u8], FieldError> {
        let short = FieldError::Short {
            offset: self.pos,
            needed: n,
            len: self.buf.len(),
        };
        let end = self.pos.checked_add(n).ok_or(short)?;
        let bytes = self.buf.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(bytes)
    }

    /// The next `N` bytes as an array.
    pub fn get_array<const N: usize>(&mut self) -> Result<[u8; N], FieldError> {
        let offset = self.pos;
        let bytes = self.get_bytes(N)?;
        bytes.try_into().map_err(|_| FieldError::Short {
            offset,
            needed: N,
            len: self.buf.len(),
        })
    }

    /// A `u8`.
    pub fn get_u8(&mut self) -> Result<u8, FieldError> {
        self.get_array::<1>().map(|[b]| b)
    }

    /// A `bool`: 0 or 1, anything else is [`FieldError::Invalid`].
    pub fn get_bool(&mut self) -> Result<bool, FieldError> {
        let offset = self.pos;
        match self.get_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(FieldError::Invalid { offset }),
        }
    }

    /// A little-endian `u16`.
    pub fn get_u16(&mut self) -> Result<u16, FieldError> {
        self.get_array().map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn get_u32(&mut self) -> Result<u32, FieldError> {
        self.get_array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn get_u64(&mut self) -> Result<u64, FieldError> {
        self.get_array().map(u64::from_le_bytes)
    }

    /// A little-endian `i32`.
    pub fn get_i32(&mut self) -> Result<i32, FieldError> {
        self.get_array().map(i32::from_le_bytes)
    }

    /// A little-endian `i64`.
    pub fn get_i64(&mut self) -> Result<i64, FieldError> {
        self.get_array().map(i64::from_le_bytes)
    }

    /// A `u16` in the CPU's byte order (user-space ABI records only).
    pub fn get_u16_ne(&mut self) -> Result<u16, FieldError> {
        self.get_array().map(u16::from_ne_bytes)
    }

    /// A `u32` in the CPU's byte order (user-space ABI records only).
    pub fn get_u32_ne(&mut self) -> Result<u32, FieldError> {
        self.get_array().map(u32::from_ne_bytes)
    }

    /// `n` bytes that must all be zero ([`FieldError::Invalid`] at the
    /// first that is not).
    pub fn get_zeros(&mut self, n: usize) -> Result<(), FieldError> {
        let start = self.pos;
        let bytes = self.get_bytes(n)?;
        match bytes.iter().position(|&b| b != 0) {
            None => Ok(()),
            Some(i) => Err(FieldError::Invalid {
                offset: start.saturating_add(i),
            }),
        }
    }

    /// `Ok` if every byte was read, else [`FieldError::Leftover`].
    pub fn finish(self) -> Result<(), FieldError> {
        match self.remaining() {
            0 => Ok(()),
            len => Err(FieldError::Leftover {
                offset: self.pos,
                len,
            }),
        }
    }
}

/// Offset of the first non-zero byte of `bytes[start..end]`, `None` when
/// they are all zero (or the range is not in `bytes`): where a reserved or
/// padding area that must be zero first is not.
pub fn first_nonzero(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    match FieldReader::at(bytes, start).get_zeros(end.saturating_sub(start)) {
        Err(FieldError::Invalid { offset }) => Some(offset),
        Ok(()) | Err(FieldError::Short { .. } | FieldError::Leftover { .. }) => None,
    }
}
