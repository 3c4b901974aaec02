// SPDX-License-Identifier: GPL-2.0
//! ldterm's block of the checkpoint message: its state, the half-typed
//! line (internal: the discipline's editing buffer), and the complete lines
//! a reader may take (external).
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! ldterm I      0   56 LdtermState:
//!               0   36   termios: c_iflag, c_oflag, c_cflag, c_lflag
//!                        (u32 each), c_line, c_cc[19]; c_cflag has CS8
//!                        and CREAD, no PARENB, no ADDRB (pty_fixup)
//!              36    4   output column
//!              40    4   canonical line start column
//!              44    4   readable: bytes of processed input a reader
//!                        may take (= readable part of E)
//!              48    4   lookahead: unprocessed bytes scanned for ^S/^Q,
//!                        <= PTS_INPUT_BOUND
//!              52    1   flags: 1 lnext, 2 erasing, 4 output stopped,
//!                        8 stopped by TCOOFF (implies 4); others zero
//!              53    1   step in progress: 0 none, 1 reprint
//!              54    2   reprint position (0 when no step),
//!                        <= half-typed line length
//!              56    4 P: length of the half-typed canonical line
//!              60    P half-typed line (0 unless ICANON)
//! ldterm E      0    4 L: number of complete lines (0 unless ICANON),
//!                      <= LINES_BOUND / 2
//!               4   2L line lengths (u16 each, > 0), oldest first; they
//!                      add up to `readable` under ICANON
//!            4+2L    r readable processed input, r = `readable`;
//!                      r + P <= ldterm INPUT_BOUND
//! ```

use super::super::checkpoint::{
    len32, save_queue, BadBlock, BlockReader, ModuleState, RestoreError,
};
use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::image::{ModuleBlock, ModuleName, ModulePart, StreamImageHeader};
use super::super::storage::Storage;
use super::super::stream::PTS_INPUT_BOUND;
use super::super::termios::{Termios, ADDRB, CREAD, CS8, CSIZE, ICANON, IXON, PARENB};
use super::state::StateFlags;
use super::{Ldterm, LdtermState, Partial, RestoreError as LdtermRestoreError};
use super::{INPUT_BOUND, LINES_BOUND};

/// Offset of `c_cflag` in the termios layout.
const CFLAG_OFFSET: usize = 8;

/// Offset of the reprint position in ldterm's internal part.
const REPRINT_POS_AT: usize = Termios::SIZE + 18;

/// What is wrong when the parts pass every field check but not the line
/// discipline's own ([`LdtermState::fits`]).
const INCONSISTENT: &str = "inconsistent line discipline state";

/// An ldterm block, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdtermSaved<'a> {
    /// The scalar state.
    pub state: LdtermState,
    /// Readable processed input.
    pub readable: &'a [u8],
    /// The half-typed canonical line.
    pub line: &'a [u8],
    /// Line lengths, `u16` little-endian each.
    pub lines: &'a [u8],
}

impl LdtermSaved<'_> {
    /// Lengths of the complete lines, oldest first.
    pub fn line_lengths(&self) -> impl Iterator<Item = u16> + Clone + '_ {
        u16_fields(self.lines)
    }
}

/// The little-endian `u16`s that make up `bytes`, in order.
fn u16_fields(bytes: &[u8]) -> impl Iterator<Item = u16> + Clone + '_ {
    let mut r = FieldReader::new(bytes);
    core::iter::from_fn(move || r.get_u16().ok())
}

impl<S: Storage> ModuleState for Ldterm<S> {
    const NAME: ModuleName = ModuleName::Ldterm;
    type Facts = ();
    type Saved<'a> = LdtermSaved<'a>;

    fn save_internal(&self, _: &(), w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        self.save().write(w)?;
        let pending = len32(w, self.input.len().saturating_sub(self.readable))?;
        w.put_u32(pending)?;
        save_queue(w, &self.input, self.readable, self.input.len())
    }

    fn save_external(&self, _: &(), w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        // The lengths queue holds each line's length as a little-endian
        // `u16` already: copied as it is.
        let lines = self.lines.len() / 2;
        w.put_u32(len32(w, lines)?)?;
        save_queue(w, &self.lines, 0, lines.saturating_mul(2))?;
        save_queue(w, &self.input, 0, self.readable)
    }

    /// Internal: the scalar state (termios, four `u32`s, flags, partial
    /// kind and position), the half line's length and the half line.
    /// External: the line count, the line lengths (`u16` each), the
    /// readable input.
    fn encoded_len(&self, _: &()) -> Result<(usize, usize), super::super::image::ImageError> {
        const STATE: usize = Termios::SIZE + 4 * 4 + 1 + 1 + 2;
        let half_line = self.input.len().saturating_sub(self.readable);
        let internal = (STATE + 4).saturating_add(half_line);
        let lines = self.lines.len() / 2;
        let external = lines
            .saturating_mul(2)
            .saturating_add(4)
            .saturating_add(self.readable);
        Ok((internal, external))
    }

    fn parse<'a>(
        block: &ModuleBlock<'a>,
        _: &StreamImageHeader,
    ) -> Result<LdtermSaved<'a>, BadBlock> {
        let mut i = BlockReader::internal(block);
        let state = parse_state(&mut i)?;
        let line = parse_half_line(&mut i, &state)?;
        let inconsistent = i.bad(0, INCONSISTENT);
        i.finish()?;
        let mut e = BlockReader::external(block);
        let (lines, readable) = parse_complete_lines(&mut e, &state, line.len())?;
        e.finish()?;
        let saved = LdtermSaved {
            state,
            readable,
            line,
            lines,
        };
        // Whatever else the line discipline itself requires.
        let input_len = readable.len().saturating_add(line.len());
        if !state.fits(input_len, saved.line_lengths()) {
            return Err(inconsistent);
        }
        Ok(saved)
    }

    fn is_fresh(&self) -> bool {
        self.input.is_empty()
            && self.line_lengths().next().is_none()
            && !self.stopped
            && self.lookahead == 0
    }

    fn load(&mut self, saved: &LdtermSaved<'_>) -> Result<(), RestoreError> {
        let pieces = [saved.readable, saved.line];
        self.restore_parts(&saved.state, &pieces, saved.line_lengths())
            .map_err(|e| match e {
                LdtermRestoreError::NoMemory => RestoreError::NoMemory,
                LdtermRestoreError::Inconsistent => RestoreError::BadState {
                    module: ModuleName::Ldterm,
                    part: ModulePart::Internal,
                    offset: 0,
                    what: INCONSISTENT,
                },
            })
    }
}

/// The [`LdtermState`] at the start of the internal part, with every field
/// checked as it is read.
fn parse_state(i: &mut BlockReader<'_>) -> Result<LdtermState, BadBlock> {
    let termios = parse_termios(i)?;
    let words = [i.u32()?, i.u32()?, i.u32()?, parse_lookahead(i)?];
    let flags_at = i.pos();
    let flags = parse_flags(i)?;
    // Linux restarts a ^S stop when IXON goes off (a TCOOFF stop stays
    // until TCOON): stopped by ^S without IXON is a state nothing could
    // end, so no checkpoint has it.
    if flags.output_stopped && !flags.tco_stopped && !termios.iflag(IXON) {
        return Err(i.bad(flags_at, "output stopped by ^S with IXON off"));
    }
    let partial = parse_partial(i)?;
    Ok(LdtermState::from_parts(termios, words, flags, partial))
}

/// Settings a pty can have (`pty_fixup`: eight bits, receiver on, no
/// parity, no `ADDRB`).
fn parse_termios(i: &mut BlockReader<'_>) -> Result<Termios, BadBlock> {
    let start = i.pos();
    let bytes = i.bytes(Termios::SIZE)?;
    let termios = Termios::from_slice(bytes).ok_or(i.bad(start, "truncated termios"))?;
    let cflag = termios.c_cflag;
    if cflag & CSIZE != CS8 || cflag & (CREAD | PARENB | ADDRB) != CREAD {
        let at = start.saturating_add(CFLAG_OFFSET);
        return Err(i.bad(at, "c_cflag a pty cannot have"));
    }
    Ok(termios)
}

/// Unprocessed bytes already scanned for `^S`/`^Q`: within the pts queue.
fn parse_lookahead(i: &mut BlockReader<'_>) -> Result<u32, BadBlock> {
    let at = i.pos();
    let lookahead = i.u32()?;
    if usize::try_from(lookahead).map_or(true, |l| l > PTS_INPUT_BOUND) {
        return Err(i.bad(at, "lookahead past the pts input bound"));
    }
    Ok(lookahead)
}

/// Known flags only; stopped by `TCOOFF` implies stopped.
fn parse_flags(i: &mut BlockReader<'_>) -> Result<StateFlags, BadBlock> {
    let at = i.pos();
    let flags = StateFlags::from_byte(i.u8()?).ok_or(i.bad(at, "unknown ldterm flags"))?;
    if flags.tco_stopped && !flags.output_stopped {
        return Err(i.bad(at, "stopped by TCOOFF but output not stopped"));
    }
    Ok(flags)
}

/// The step in progress; without one, its position is 0.
fn parse_partial(i: &mut BlockReader<'_>) -> Result<Partial, BadBlock> {
    let kind_at = i.pos();
    let kind = i.u8()?;
    let pos_at = i.pos();
    let pos = i.u16()?;
    if kind == 0 && pos != 0 {
        return Err(i.bad(pos_at, "position without a step in progress"));
    }
    Partial::from_saved(kind, pos).ok_or(i.bad(kind_at, "unknown step in progress"))
}

/// The half-typed line: canonical mode only, and long enough for the
/// reprint in progress.
fn parse_half_line<'a>(i: &mut BlockReader<'a>, state: &LdtermState) -> Result<&'a [u8], BadBlock> {
    let line_at = i.pos();
    let line_len = i.len(INPUT_BOUND, "half-typed line longer than the input bound")?;
    if !state.termios.lflag(ICANON) && line_len != 0 {
        return Err(i.bad(line_at, "half-typed line outside canonical mode"));
    }
    if let Partial::Reprint(p) = state.partial {
        if usize::from(p) > line_len {
            return Err(i.bad(REPRINT_POS_AT, "reprint position past the half-typed line"));
        }
    }
    i.bytes(line_len)
}

/// The external part: the line lengths (which add up to the readable
/// bytes in canonical mode), then the readable bytes, which with the
/// half-typed line's `line_len` stay within the input bound.
fn parse_complete_lines<'a>(
    e: &mut BlockReader<'a>,
    state: &LdtermState,
    line_len: usize,
) -> Result<(&'a [u8], &'a [u8]), BadBlock> {
    let canon = state.termios.lflag(ICANON);
    let count_at = e.pos();
    let count = e.len(LINES_BOUND / 2, "more lines than the line bound")?;
    if !canon && count != 0 {
        return Err(e.bad(count_at, "line lengths outside canonical mode"));
    }
    let (lines, total) = parse_line_lengths(e, count)?;
    let too_long = e.bad(e.pos(), "processed input longer than its bound");
    let readable_len = usize::try_from(state.readable).map_err(|_| too_long)?;
    if canon && total != readable_len {
        return Err(e.bad(count_at, "line lengths do not add up to the readable bytes"));
    }
    if readable_len.saturating_add(line_len) > INPUT_BOUND {
        return Err(too_long);
    }
    Ok((lines, e.bytes(readable_len)?))
}

/// `count` line lengths, none of them 0, and their sum.
fn parse_line_lengths<'a>(
    e: &mut BlockReader<'a>,
    count: usize,
) -> Result<(&'a [u8], usize), BadBlock> {
    let lines_at = e.pos();
    let lines = e.bytes(count.saturating_mul(2))?;
    let mut total = 0usize;
    for (k, l) in u16_fields(lines).enumerate() {
        if l == 0 {
            let at = lines_at.saturating_add(k.saturating_mul(2));
            return Err(e.bad(at, "empty line"));
        }
        total = total.saturating_add(usize::from(l));
    }
    Ok((lines, total))
}
