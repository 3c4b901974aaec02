// SPDX-License-Identifier: GPL-2.0
//! The saved form of a line discipline ([`LdtermState`] and its queued
//! bytes) and loading it back.

use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::errno::Errno;
use super::super::queue::ByteQueue;
use super::super::storage::{AllocError, Storage};
use super::super::termios::{Termios, ICANON};
use super::output::Cursor;
use super::{Ldterm, Partial, INPUT_BOUND, LINES_BOUND};

/// The saved form of an [`Ldterm`] apart from its queued bytes: plain
/// integers and flags, ready for a checkpoint image.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LdtermState {
    /// Current settings.
    pub termios: Termios,
    /// Output column.
    pub column: u32,
    /// Column where the canonical line started.
    pub canon_column: u32,
    /// Bytes at the front of the processed input that are readable.
    pub readable: u32,
    /// Bytes of unprocessed input already scanned for `^S`/`^Q`.
    pub lookahead: u32,
    /// Next byte is literal (`VLNEXT` seen).
    pub lnext: bool,
    /// Inside an `ECHOPRT` `\...` erase sequence.
    pub erasing: bool,
    /// Output stopped (by `^S` or `TCOOFF`).
    pub output_stopped: bool,
    /// Output stopped by `TCOOFF` (only `TCOON` restarts it).
    pub tco_stopped: bool,
    /// Erase or reprint in progress.
    pub partial: Partial,
}

impl LdtermState {
    /// Size of [`Self::to_bytes`].
    pub const SIZE: usize = Termios::SIZE + 4 * 4 + 1 + 1 + 2;

    /// Little-endian encoding for checkpoint images.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        // Exactly `SIZE` bytes: the write cannot fall short.
        let _ = self.write(&mut FieldWriter::new(&mut out));
        out
    }

    /// Writes [`Self::to_bytes`]: termios, column, canonical line start,
    /// readable, lookahead (`u32` each), flags (1 lnext, 2 erasing, 4
    /// output stopped, 8 stopped by `TCOOFF`), the step in progress (0
    /// none, 1 reprint) and its position (`u16`).
    pub fn write(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        self.termios.write(w)?;
        w.put_u32(self.column)?;
        w.put_u32(self.canon_column)?;
        w.put_u32(self.readable)?;
        w.put_u32(self.lookahead)?;
        w.put_u8(self.flags().to_byte())?;
        let (kind, pos) = self.partial.to_saved();
        w.put_u8(kind)?;
        w.put_u16(pos)
    }

    /// A state from its saved fields: `words` are the four `u32`s in their
    /// saved order (column, line start column, readable, lookahead).
    pub(super) fn from_parts(
        termios: Termios,
        words: [u32; 4],
        flags: StateFlags,
        partial: Partial,
    ) -> Self {
        let [column, canon_column, readable, lookahead] = words;
        Self {
            termios,
            column,
            canon_column,
            readable,
            lookahead,
            lnext: flags.lnext,
            erasing: flags.erasing,
            output_stopped: flags.output_stopped,
            tco_stopped: flags.tco_stopped,
            partial,
        }
    }

    fn flags(&self) -> StateFlags {
        StateFlags {
            lnext: self.lnext,
            erasing: self.erasing,
            output_stopped: self.output_stopped,
            tco_stopped: self.tco_stopped,
        }
    }

    /// Whether this state fits processed input of `input_len` bytes whose
    /// complete lines have `line_lengths` (oldest first): the consistency
    /// checks of [`Ldterm::restore`], without changing anything.
    pub fn fits(&self, input_len: usize, line_lengths: impl Iterator<Item = u16>) -> bool {
        let Ok(readable) = usize::try_from(self.readable) else {
            return false;
        };
        let (mut count, mut total, mut empty_line) = (0usize, 0usize, false);
        for l in line_lengths {
            count = count.saturating_add(1);
            total = total.saturating_add(usize::from(l));
            empty_line |= l == 0;
        }
        input_len <= INPUT_BOUND
            && readable <= input_len
            && count <= LINES_BOUND / 2
            && if self.termios.lflag(ICANON) {
                total == readable && !empty_line
            } else {
                count == 0 && readable == input_len
            }
            && (!self.tco_stopped || self.output_stopped)
            && match self.partial {
                Partial::Reprint(p) => usize::from(p) <= input_len.saturating_sub(readable),
                Partial::None => true,
            }
    }

    /// Decode [`Self::to_bytes`]; `None` if short or malformed.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Self::read(&mut FieldReader::new(bytes)).ok()
    }

    /// Reads what [`Self::write`] writes; [`FieldError::Invalid`] at
    /// unknown flag bits or an unknown step in progress.
    pub fn read(r: &mut FieldReader<'_>) -> Result<Self, FieldError> {
        let termios = Termios::read(r)?;
        let words = [r.get_u32()?, r.get_u32()?, r.get_u32()?, r.get_u32()?];
        let flags_at = r.position();
        let flags = r.get_u8()?;
        let kind_at = r.position();
        let kind = r.get_u8()?;
        let pos = r.get_u16()?;
        let flags = StateFlags::from_byte(flags).ok_or(FieldError::Invalid { offset: flags_at })?;
        let partial =
            Partial::from_saved(kind, pos).ok_or(FieldError::Invalid { offset: kind_at })?;
        Ok(Self::from_parts(termios, words, flags, partial))
    }
}

/// The flags byte of a saved state: 1 lnext, 2 erasing, 4 output stopped,
/// 8 stopped by `TCOOFF`; no other bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct StateFlags {
    pub(super) lnext: bool,
    pub(super) erasing: bool,
    pub(super) output_stopped: bool,
    pub(super) tco_stopped: bool,
}

impl StateFlags {
    fn to_byte(self) -> u8 {
        u8::from(self.lnext)
            | u8::from(self.erasing) << 1
            | u8::from(self.output_stopped) << 2
            | u8::from(self.tco_stopped) << 3
    }

    /// The flags of `byte`; `None` if it has other bits.
    pub(super) fn from_byte(byte: u8) -> Option<Self> {
        (byte & !0x0f == 0).then_some(Self {
            lnext: byte & 1 != 0,
            erasing: byte & 2 != 0,
            output_stopped: byte & 4 != 0,
            tco_stopped: byte & 8 != 0,
        })
    }
}

impl Partial {
    /// The step in progress as saved: kind (0 none, 1 reprint) and
    /// position.
    fn to_saved(self) -> (u8, u16) {
        match self {
            Self::None => (0, 0),
            Self::Reprint(p) => (1, p),
        }
    }

    /// What [`Self::to_saved`] gives; `None` for an unknown kind. (Kind 0
    /// ignores the position: a strict reader checks that it is 0.)
    pub(super) fn from_saved(kind: u8, pos: u16) -> Option<Self> {
        match kind {
            0 => Some(Self::None),
            1 => Some(Self::Reprint(pos)),
            _ => None,
        }
    }
}

/// Why [`Ldterm::restore`] refused a saved state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestoreError {
    /// The parts do not fit together (corrupt or foreign image). `EINVAL`.
    Inconsistent,
    /// The queues could not be allocated. `ENOMEM`.
    NoMemory,
}

impl RestoreError {
    /// The errno for this error.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Inconsistent => Errno::EINVAL,
            Self::NoMemory => Errno::ENOMEM,
        }
    }
}

impl From<AllocError> for RestoreError {
    fn from(_: AllocError) -> Self {
        Self::NoMemory
    }
}

/// Saving and restoring.
impl<S: Storage> Ldterm<S> {
    /// The processed input: readable bytes, then the canonical line being
    /// typed (checkpoint serialization).
    pub fn processed_input(&self) -> &ByteQueue<S> {
        &self.input
    }

    /// Bytes of [`Self::processed_input`] that are readable; the rest is
    /// the canonical line being typed.
    pub fn readable_len(&self) -> usize {
        self.readable
    }

    /// The canonical line being typed.
    pub fn pending_line(&self) -> impl Iterator<Item = u8> + '_ {
        self.input.iter().skip(self.readable)
    }

    /// Lengths of the complete lines, oldest first.
    pub fn line_lengths(&self) -> impl Iterator<Item = u16> + '_ {
        // Both bytes of each of the `len / 2` lengths are in the queue.
        (0..self.lines.len() / 2).map_while(move |k| {
            let i = k.saturating_mul(2);
            let lo = self.lines.get(i)?;
            let hi = self.lines.get(i.saturating_add(1))?;
            Some(u16::from_le_bytes([lo, hi]))
        })
    }

    /// Scalar state for a checkpoint; the bytes come from
    /// [`Self::processed_input`] and [`Self::line_lengths`].
    pub fn save(&self) -> LdtermState {
        LdtermState {
            termios: self.termios,
            column: self.cursor.column,
            canon_column: self.cursor.canon_column,
            readable: u32::try_from(self.readable).unwrap_or(u32::MAX),
            lookahead: u32::try_from(self.lookahead).unwrap_or(u32::MAX),
            lnext: self.lnext,
            erasing: self.erasing,
            output_stopped: self.stopped,
            tco_stopped: self.tco_stopped,
            partial: self.partial,
        }
    }

    /// Load a checkpoint: scalar state, processed input and line lengths.
    /// Checked for consistency first; on error nothing changes unless the
    /// queues could not be filled (then input is left flushed).
    pub fn restore(
        &mut self,
        state: &LdtermState,
        input: &[u8],
        line_lengths: &[u16],
    ) -> Result<(), RestoreError> {
        self.restore_parts(state, &[input], line_lengths.iter().copied())
    }

    /// [`Self::restore`] with the processed input given in pieces (e.g. the
    /// readable bytes and the half-typed line, which a checkpoint image
    /// keeps apart) and the line lengths from any iterator. Memory is
    /// reserved before anything changes: a line discipline that holds no
    /// input is left exactly as it was on error; one that does loses its
    /// input only if the new state's memory cannot be had.
    pub fn restore_parts(
        &mut self,
        state: &LdtermState,
        input: &[&[u8]],
        line_lengths: impl Iterator<Item = u16> + Clone,
    ) -> Result<(), RestoreError> {
        let input_len = input
            .iter()
            .try_fold(0usize, |n, p| n.checked_add(p.len()))
            .ok_or(RestoreError::Inconsistent)?;
        if !state.fits(input_len, line_lengths.clone()) {
            return Err(RestoreError::Inconsistent);
        }
        let readable = usize::try_from(state.readable).map_err(|_| RestoreError::Inconsistent)?;
        let lookahead = usize::try_from(state.lookahead).map_err(|_| RestoreError::Inconsistent)?;
        self.fill_queues(input, input_len, line_lengths)?;
        self.termios = state.termios;
        self.readable = readable;
        self.cursor = Cursor {
            column: state.column,
            canon_column: state.canon_column,
        };
        self.lookahead = lookahead;
        self.lnext = state.lnext;
        self.erasing = state.erasing;
        self.stopped = state.output_stopped;
        self.tco_stopped = state.tco_stopped;
        self.partial = state.partial;
        Ok(())
    }

    /// Replaces the queued input with `input` (`input_len` bytes in all)
    /// and the line lengths, reserving all the memory first.
    fn fill_queues(
        &mut self,
        input: &[&[u8]],
        input_len: usize,
        line_lengths: impl Iterator<Item = u16> + Clone,
    ) -> Result<(), RestoreError> {
        let lines_len = line_lengths.clone().count().saturating_mul(2);
        if !self.input.is_empty() || !self.lines.is_empty() {
            self.flush_input();
        }
        if self.input.try_reserve(input_len).is_err() || self.lines.try_reserve(lines_len).is_err()
        {
            self.input.shrink_if_empty();
            self.lines.shrink_if_empty();
            return Err(RestoreError::NoMemory);
        }
        // Reserved: these pushes cannot fail.
        for piece in input {
            let _ = self.input.push(piece);
        }
        for l in line_lengths {
            let _ = self.lines.push(&l.to_le_bytes());
        }
        Ok(())
    }
}
