// SPDX-License-Identifier: GPL-2.0
//! Decoding images: [`decode`] checks every field of an image and borrows
//! its blocks ([`StreamImage`]); [`check_chain`] checks that it fits a
//! stream's module chain.

use super::super::codec::{first_nonzero, FieldError, FieldReader};
use super::super::end::End;
use super::format::pad8;
use super::{
    crc32, end_from_byte, layout, Constants, ImageError, ModuleBlock, ModuleName, PtyMode, Status,
    StreamImageHeader, BLOCK_HEADER_LEN, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_ERRNO, MAX_MODULES,
    MIN_IMAGE_LEN, NO_MODULE, STATE_VERSION, TRAILER_LEN,
};

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
/// (for tools that examine images of another build). The checks run in the
/// order the module documentation gives, each part of the image in turn.
pub fn decode_with<'a>(bytes: &'a [u8], kernel: &Constants) -> Result<StreamImage<'a>, ImageError> {
    check_magic(bytes)?;
    let mut r = FieldReader::at(bytes, layout::VERSION);
    let header = read_header(&mut r)?;
    let status = read_status(&mut r, bytes.len(), header.count)?;
    let constants = read_constants(&mut r, kernel)?;
    let blocks = read_blocks(bytes, header.count)?;
    check_trailer(bytes)?;
    Ok(StreamImage {
        kind: header.kind,
        mode: header.mode,
        status,
        constants,
        blocks,
        count: usize::from(header.count),
    })
}

/// The magic (compared as far as the input goes), then the input's length
/// against the smallest image.
fn check_magic(bytes: &[u8]) -> Result<(), ImageError> {
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
    Ok(())
}

/// The header after the magic, checked.
struct Header {
    kind: End,
    mode: PtyMode,
    count: u16,
}

/// Reads and checks version, header length, kind, mode and module count.
fn read_header(r: &mut FieldReader<'_>) -> Result<Header, ImageError> {
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
    Ok(Header { kind, mode, count })
}

/// Reads and checks the status block of an input of `len` bytes with
/// `count` modules: the total length, the counts, error and failed index,
/// and the state version.
fn read_status(r: &mut FieldReader<'_>, len: usize, count: u16) -> Result<Status, ImageError> {
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
    Ok(Status {
        total_len: len,
        processed,
        to_process,
        checkpoint_id,
        error,
        failed_module: (failed != NO_MODULE).then_some(failed),
        state_version,
    })
}

/// Reads the constants block, checks it against `kernel`, then the
/// reserved bytes up to the first module block.
fn read_constants(r: &mut FieldReader<'_>, kernel: &Constants) -> Result<Constants, ImageError> {
    let constants = Constants {
        pts_input_bound: r.get_u32().map_err(truncated)?,
        master_head_bound: r.get_u32().map_err(truncated)?,
        n_tty_buf_size: r.get_u32().map_err(truncated)?,
        nccs: r.get_u16().map_err(truncated)?,
        termios_size: r.get_u16().map_err(truncated)?,
        winsize_size: r.get_u16().map_err(truncated)?,
    };
    constants.check(kernel)?;
    r.get_zeros(HEADER_LEN.saturating_sub(layout::RESERVED))
        .map_err(|e| match e {
            FieldError::Invalid { offset } => ImageError::NonZeroReserved { offset },
            e => truncated(e),
        })?;
    Ok(constants)
}

/// Reads the `count` module blocks, which must fill the image from the
/// header to the trailer exactly.
fn read_blocks(bytes: &[u8], count: u16) -> Result<[ModuleBlock<'_>; MAX_MODULES], ImageError> {
    let limit = bytes.len().saturating_sub(TRAILER_LEN);
    let mut blocks = [ModuleBlock::EMPTY; MAX_MODULES];
    let mut pos = HEADER_LEN;
    for (index, slot) in blocks.iter_mut().take(usize::from(count)).enumerate() {
        let (block, next) = read_block(bytes, index, pos, limit)?;
        *slot = block;
        pos = next;
    }
    if pos != limit {
        return Err(ImageError::TrailingBytes {
            offset: pos,
            len: limit.saturating_sub(pos),
        });
    }
    Ok(blocks)
}

/// Reads block `index` at `pos`: its name, its lengths (checked
/// arithmetic, never past the trailer at `limit`) and its padding. Returns
/// the block and where the next one starts.
fn read_block(
    bytes: &[u8],
    index: usize,
    pos: usize,
    limit: usize,
) -> Result<(ModuleBlock<'_>, usize), ImageError> {
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
    let block = ModuleBlock {
        name,
        internal: bytes.get(istart..iend).ok_or(overrun)?,
        external: bytes.get(estart..eend).ok_or(overrun)?,
    };
    Ok((block, next))
}

/// The trailer: its reserved word, then the checksum of everything before
/// it (last, so that structural damage gets a precise error first).
fn check_trailer(bytes: &[u8]) -> Result<(), ImageError> {
    let len = bytes.len();
    let limit = len.saturating_sub(TRAILER_LEN);
    let mut tr = FieldReader::at(bytes, limit);
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
    Ok(())
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
