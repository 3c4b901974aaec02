// SPDX-License-Identifier: GPL-2.0
//! What a module implements to travel in a checkpoint message
//! ([`ModuleState`]), and the strict reader its block is parsed with.
//!
//! The module owns its block's layout: it writes both parts through a
//! [`FieldWriter`] (sized by the very same code, on a counting writer),
//! reads them back with a [`BlockReader`] whose errors name the module, the
//! part and the offset ([`BadBlock`]), and loads what it read. The message
//! code around it only walks the chain.

use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::image::{
    ImageError, ModuleBlock, ModuleName, ModulePart, PtyMode, StreamImageHeader,
};
use super::super::queue::ByteQueue;
use super::super::storage::Storage;
use super::RestoreError;

/// A module whose state travels in its own block of the checkpoint
/// message: it writes the block, reads it back strictly and loads it.
pub trait ModuleState {
    /// The module's name in the chain and in its block.
    const NAME: ModuleName;

    /// Facts of the pair that the block carries beside the module's own
    /// state (the kernel keeps them elsewhere: see
    /// [`PairMeta`](super::PairMeta)).
    type Facts;

    /// The block, decoded and checked: what [`Self::load`] takes on. It
    /// borrows its bytes in flight from the image.
    type Saved<'a>;

    /// Writes the internal part of the block: settings, flags, positions.
    fn save_internal(&self, facts: &Self::Facts, w: &mut FieldWriter<'_>)
        -> Result<(), FieldError>;

    /// Writes the external part: the bytes in flight at the module. Empty
    /// unless the module queues bytes.
    fn save_external(
        &self,
        _facts: &Self::Facts,
        _w: &mut FieldWriter<'_>,
    ) -> Result<(), FieldError> {
        Ok(())
    }

    /// Reads and checks `block` completely, changing nothing. `header`
    /// says which end and mode the image is of; the block must agree.
    fn parse<'a>(
        block: &ModuleBlock<'a>,
        header: &StreamImageHeader,
    ) -> Result<Self::Saved<'a>, BadBlock>;

    /// Whether the module holds no data and no pending state, so that a
    /// block may be loaded into it. Settings do not count: loading
    /// replaces them.
    fn is_fresh(&self) -> bool;

    /// Takes on a parsed block, all or nothing: on error the module is as
    /// it was.
    fn load(&mut self, saved: &Self::Saved<'_>) -> Result<(), RestoreError>;

    /// Lengths of the internal and external parts, computed from the
    /// module's field sizes and queue lengths without writing anything: a
    /// checkpoint sizes its image with it under the pair's lock. Must equal
    /// [`Self::counted_len`] (the image writer refuses a part its module
    /// does not fill exactly; `tests/checkpoint.rs` compares the two).
    fn encoded_len(&self, facts: &Self::Facts) -> Result<(usize, usize), ImageError>;

    /// Lengths of the internal and external parts, counted by the very
    /// code that writes them (a dry run): the reference for
    /// [`Self::encoded_len`].
    fn counted_len(&self, facts: &Self::Facts) -> Result<(usize, usize), ImageError> {
        let internal = counted(Self::NAME, ModulePart::Internal, |w| {
            self.save_internal(facts, w)
        })?;
        let external = counted(Self::NAME, ModulePart::External, |w| {
            self.save_external(facts, w)
        })?;
        Ok((internal, external))
    }
}

/// Length of what `write` writes, as an error of `name`'s `part` if it
/// fails.
fn counted(
    name: ModuleName,
    part: ModulePart,
    write: impl FnOnce(&mut FieldWriter<'_>) -> Result<(), FieldError>,
) -> Result<usize, ImageError> {
    let mut w = FieldWriter::counting();
    write(&mut w)
        .and_then(|()| w.finish())
        .map_err(|e| ImageError::in_module(e, name, part))
}

/// A module block that is malformed or does not fit the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadBlock {
    /// Which module.
    pub module: ModuleName,
    /// Which part of its block.
    pub part: ModulePart,
    /// Byte offset within that part.
    pub offset: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl From<BadBlock> for RestoreError {
    fn from(e: BadBlock) -> Self {
        Self::BadState {
            module: e.module,
            part: e.part,
            offset: e.offset,
            what: e.what,
        }
    }
}

/// A block the checkpoint itself wrote but could not read back: the
/// module's state is one a restore would refuse.
impl From<BadBlock> for ImageError {
    fn from(e: BadBlock) -> Self {
        ImageError::in_module(FieldError::Invalid { offset: e.offset }, e.module, e.part)
    }
}

/// A strict reader of one part of one module block, whose errors name the
/// module, the part and the offset.
pub(crate) struct BlockReader<'a> {
    r: FieldReader<'a>,
    module: ModuleName,
    part: ModulePart,
}

impl<'a> BlockReader<'a> {
    /// A reader of `block`'s internal part.
    pub(crate) fn internal(block: &ModuleBlock<'a>) -> Self {
        Self {
            r: FieldReader::new(block.internal),
            module: block.name,
            part: ModulePart::Internal,
        }
    }

    /// A reader of `block`'s external part.
    pub(crate) fn external(block: &ModuleBlock<'a>) -> Self {
        Self {
            r: FieldReader::new(block.external),
            module: block.name,
            part: ModulePart::External,
        }
    }

    /// The error `what` at `offset` of this part.
    pub(crate) fn bad(&self, offset: usize, what: &'static str) -> BadBlock {
        BadBlock {
            module: self.module,
            part: self.part,
            offset,
            what,
        }
    }

    fn field(&self, e: FieldError) -> BadBlock {
        match e {
            FieldError::Short { offset, .. } => self.bad(offset, "truncated field"),
            FieldError::Invalid { offset } => self.bad(offset, "flag is neither 0 nor 1"),
            FieldError::Leftover { offset, .. } => {
                self.bad(offset, "bytes left over after the last field")
            }
        }
    }

    /// Offset of the next field.
    pub(crate) fn pos(&self) -> usize {
        self.r.position()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BadBlock> {
        self.r.get_u8().map_err(|e| self.field(e))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, BadBlock> {
        self.r.get_bool().map_err(|e| self.field(e))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, BadBlock> {
        self.r.get_u16().map_err(|e| self.field(e))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, BadBlock> {
        self.r.get_u32().map_err(|e| self.field(e))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, BadBlock> {
        self.r.get_i32().map_err(|e| self.field(e))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], BadBlock> {
        self.r.get_array().map_err(|e| self.field(e))
    }

    /// A `u32` length or count, as `usize`, at most `max`.
    pub(crate) fn len(&mut self, max: usize, what: &'static str) -> Result<usize, BadBlock> {
        let at = self.pos();
        let n = self.u32()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(self.bad(at, what))
    }

    /// `n` bytes that must all be zero; `what` names the first that is not.
    pub(crate) fn zeros(&mut self, n: usize, what: &'static str) -> Result<(), BadBlock> {
        self.r.get_zeros(n).map_err(|e| match e {
            FieldError::Invalid { offset } => self.bad(offset, what),
            e => self.field(e),
        })
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], BadBlock> {
        self.r.get_bytes(n).map_err(|e| self.field(e))
    }

    /// Everything not read yet, at most `max` bytes.
    pub(crate) fn rest(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], BadBlock> {
        let n = self.r.remaining();
        if n > max {
            return Err(self.bad(self.pos().saturating_add(max), what));
        }
        self.bytes(n)
    }

    /// A pty mode byte, which must be the image header's.
    pub(crate) fn pty_mode(&mut self, header: PtyMode) -> Result<PtyMode, BadBlock> {
        let at = self.pos();
        let mode = PtyMode::from_u8(self.u8()?).ok_or(self.bad(at, "unknown pty mode"))?;
        if mode != header {
            return Err(self.bad(at, "pty mode differs from the image header's"));
        }
        Ok(mode)
    }

    /// `Ok` if every byte of the part was read.
    pub(crate) fn finish(self) -> Result<(), BadBlock> {
        let e = self.r.clone().finish();
        e.map_err(|e| self.field(e))
    }
}

/// Writes the bytes `start..end` of `q` (front = 0).
pub(crate) fn save_queue<S: Storage>(
    w: &mut FieldWriter<'_>,
    q: &ByteQueue<S>,
    start: usize,
    end: usize,
) -> Result<(), FieldError> {
    let bad = FieldError::Invalid {
        offset: w.position(),
    };
    if start > end || end > q.len() {
        return Err(bad);
    }
    let (a, b) = q.front_slices();
    let split = a.len();
    let first = a.get(start.min(split)..end.min(split)).ok_or(bad)?;
    let second = b
        .get(start.saturating_sub(split)..end.saturating_sub(split))
        .ok_or(bad)?;
    w.put_bytes(first)?;
    w.put_bytes(second)
}

/// `n` as a `u32` field at the writer's position.
pub(crate) fn len32(w: &FieldWriter<'_>, n: usize) -> Result<u32, FieldError> {
    u32::try_from(n).map_err(|_| FieldError::Invalid {
        offset: w.position(),
    })
}

/// Fills an empty queue with `bytes`, all or nothing.
pub(crate) fn load_queue<S: Storage>(
    q: &mut ByteQueue<S>,
    bytes: &[u8],
) -> Result<(), RestoreError> {
    if q.try_reserve(bytes.len()).is_err() {
        q.shrink_if_empty();
        return Err(RestoreError::NoMemory);
    }
    if q.push(bytes) != Ok(bytes.len()) {
        q.clear();
        return Err(RestoreError::NoMemory);
    }
    Ok(())
}
