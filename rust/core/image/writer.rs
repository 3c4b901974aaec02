// SPDX-License-Identifier: GPL-2.0
//! Writing images: [`ImageSizer`] for the size query before a checkpoint,
//! [`ImageWriter`] block by block as the message walks down the chain, and
//! [`encode`] for a whole image at once.

use super::super::codec::{FieldError, FieldWriter};
use super::format::pad8;
use super::{
    block_len, crc32, end_to_byte, layout, Constants, ImageError, ModuleBlock, ModuleName,
    ModulePart, StreamImageHeader, BLOCK_HEADER_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_ERRNO,
    MAX_MODULES, MIN_IMAGE_LEN, NO_MODULE, STATE_VERSION, TRAILER_LEN,
};

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

/// Carve a block for `name` at `pos` in `out`: writes its header, zeroes
/// its padding, and returns its end and its internal and external buffers
/// (zeroed too if `zero_parts`; otherwise the caller fills them completely).
fn carve(
    out: &mut [u8],
    pos: usize,
    name: ModuleName,
    (internal_len, external_len): (usize, usize),
    zero_parts: bool,
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
    if zero_parts {
        block.fill(0);
    }
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
    let (internal, ipadding) = ipart.split_at_mut_checked(internal_len).ok_or(too_small)?;
    let (external, epadding) = epart.split_at_mut_checked(external_len).ok_or(too_small)?;
    ipadding.fill(0);
    epadding.fill(0);
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
        let lens = (internal_len, external_len);
        let (end, internal, external) = carve(self.out, self.pos, name, lens, true)?;
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
        // Both writers must fill their part exactly (`finish`), so only
        // the padding needs zeroing.
        let lens = (internal_len, external_len);
        let (end, ibuf, ebuf) = carve(self.out, self.pos, name, lens, false)?;
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
        let (out, unsealed) = self.into_unsealed()?;
        unsealed.seal(out)
    }

    /// Ends a complete image (every planned module wrote its block) without
    /// sealing it: the blocks stay in the buffer, and [`UnsealedImage::seal`]
    /// adds header, status block and checksum later, e.g. after a lock that
    /// guarded the state the blocks were written from is dropped.
    pub fn into_unsealed(self) -> Result<(&'a mut [u8], UnsealedImage), ImageError> {
        if self.count != self.planned {
            return Err(ImageError::Incomplete {
                processed: usize::from(self.count),
                to_process: usize::from(self.planned.saturating_sub(self.count)),
            });
        }
        let unsealed = UnsealedImage {
            header: self.header,
            planned: self.planned,
            count: self.count,
            pos: self.pos,
            error: 0,
        };
        Ok((self.out, unsealed))
    }

    /// Seal an image recording that the next module (index
    /// [`Self::modules`]) failed with `error`, a negative errno: the blocks
    /// written so far are kept for diagnosis, the image cannot be restored.
    pub fn fail(self, error: i32) -> Result<usize, ImageError> {
        if !(-MAX_ERRNO..=-1).contains(&error) {
            return Err(ImageError::BadError { value: error });
        }
        self.next_count()?;
        let unsealed = UnsealedImage {
            header: self.header,
            planned: self.planned,
            count: self.count,
            pos: self.pos,
            error,
        };
        unsealed.seal(self.out)
    }
}

/// An image whose blocks are written but whose header, status block and
/// checksum are not yet ([`ImageWriter::into_unsealed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsealedImage {
    header: StreamImageHeader,
    planned: u16,
    count: u16,
    /// End of the last block.
    pos: usize,
    error: i32,
}

impl UnsealedImage {
    /// Length of the sealed image.
    pub fn image_len(&self) -> usize {
        self.pos.saturating_add(TRAILER_LEN)
    }

    /// Seals the image in `out`, the buffer its blocks were written to:
    /// fills in header, status block and checksum; returns the image
    /// length.
    pub fn seal(self, out: &mut [u8]) -> Result<usize, ImageError> {
        let total = self.image_len();
        let total_u32 = u32::try_from(total).map_err(|_| ImageError::TooLarge)?;
        let too_small = ImageError::OutputTooSmall {
            needed: total,
            available: out.len(),
        };
        let to_process = self.planned.saturating_sub(self.count);
        let failed = if self.error == 0 {
            NO_MODULE
        } else {
            self.count
        };
        let c = Constants::CURRENT;
        let head = out.get_mut(..HEADER_LEN).ok_or(too_small)?;
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
            .and_then(|()| w.put_i32(self.error))
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
        let crc = crc32(out.get(..self.pos).ok_or(too_small)?);
        let trailer = out.get_mut(self.pos..total).ok_or(too_small)?;
        let mut w = FieldWriter::new(trailer);
        w.put_u32(crc)
            .and_then(|()| w.put_u32(0))
            .and_then(|()| w.finish().map(|_| ()))
            .map_err(|_| too_small)?;
        Ok(total)
    }
}
