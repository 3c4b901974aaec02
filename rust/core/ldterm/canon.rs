// SPDX-License-Identifier: GPL-2.0
//! Canonical editing: line terminators, erase, word erase, kill and
//! reprint (`n_tty_receive_char_canon`, `eraser`).

use super::super::storage::Storage;
use super::super::termios::{
    DISABLED_CHAR, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOPRT, IEXTEN, VEOF, VEOL, VEOL2,
    VERASE, VKILL, VLNEXT, VREPRINT, VWERASE,
};
use super::ctype::{is_continuation, isalnum, iscntrl};
use super::echo::{Emit, Stage, Step};
use super::input::Stall;
use super::{Events, Ldterm, ECHOPRT_CONT_MAX};

/// A reprint that stalled halfway, so that retrying the
/// same input byte continues exactly where it stopped.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Partial {
    /// No step in progress.
    #[default]
    None,
    /// A reprint has echoed its header and this many line bytes.
    Reprint(u16),
}

/// The kind of an erase request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KillType {
    Erase,
    Werase,
    Kill,
}

/// Editing the line being typed.
impl<S: Storage> Ldterm<S> {
    /// Canonical-mode handling (`n_tty_receive_char_canon`); `None` when
    /// `c` is not a line-editing character.
    pub(super) fn canon_char(
        &mut self,
        c: u8,
        mut step: Step,
        out: &mut Emit<'_>,
    ) -> Option<Result<(), Stall>> {
        let t = self.termios;
        let iexten = t.lflag(IEXTEN);
        if c == t.cc(VERASE) || c == t.cc(VKILL) || (c == t.cc(VWERASE) && iexten) {
            return Some(self.eraser(c, step, out));
        }
        if c == t.cc(VLNEXT) && iexten {
            return Some(self.literal_next(step, out));
        }
        if c == t.cc(VREPRINT) && t.lflag(ECHO) && iexten {
            return Some(self.reprint(c, step, out));
        }
        if c == b'\n' {
            if t.lflag(ECHO) || t.lflag(ECHONL) {
                step.stage.echo_raw(&t, b'\n');
            }
            return Some(self.newline(&[c], step, out));
        }
        if c == t.cc(VEOF) {
            return Some(self.newline(&[DISABLED_CHAR], step, out));
        }
        if c == t.cc(VEOL) || (c == t.cc(VEOL2) && iexten) {
            if t.lflag(ECHO) {
                if self.line_empty() {
                    step.stage.set_canon_col();
                }
                step.stage.echo(&t, c);
            }
            let queued = self.queued(c);
            return Some(self.newline(queued.as_bytes(), step, out));
        }
        None
    }

    /// `VLNEXT`: the next byte is taken literally; echoed as `^` and a
    /// backspace under `ECHOCTL`.
    fn literal_next(&mut self, mut step: Step, out: &mut Emit<'_>) -> Result<(), Stall> {
        let t = self.termios;
        if t.lflag(ECHO) {
            step.stage.finish_erasing(&t);
            if t.lflag(ECHOCTL) {
                step.stage.echo_raw(&t, b'^');
                step.stage.echo_raw(&t, 0x08);
            }
        }
        Self::fits(&step, out)?;
        self.commit(&mut step, out);
        self.lnext = true;
        Ok(())
    }

    /// Queue the terminator `bytes` and make the line readable
    /// (`n_tty_receive_handle_newline`).
    pub(super) fn newline(
        &mut self,
        bytes: &[u8],
        mut step: Step,
        out: &mut Emit<'_>,
    ) -> Result<(), Stall> {
        Self::fits(&step, out)?;
        self.reserve(bytes.len(), true)?;
        self.commit(&mut step, out);
        let _ = self.input.push(bytes);
        let len = self.input.len().saturating_sub(self.readable);
        let n = u16::try_from(len).unwrap_or(u16::MAX);
        let _ = self.lines.push(&n.to_le_bytes());
        self.readable = self.input.len();
        out.events.insert(Events::READ_READY);
        Ok(())
    }

    /// `VREPRINT`: echo the character, a newline and the line so far. Done
    /// a character at a time; progress survives a stall in `partial`.
    pub(super) fn reprint(
        &mut self,
        c: u8,
        mut step: Step,
        out: &mut Emit<'_>,
    ) -> Result<(), Stall> {
        let t = self.termios;
        let mut pos = match self.partial {
            Partial::Reprint(p) => usize::from(p),
            _ => {
                step.stage.finish_erasing(&t);
                step.stage.echo(&t, c);
                step.stage.echo_raw(&t, b'\n');
                Self::fits(&step, out)?;
                self.commit(&mut step, out);
                0
            }
        };
        let start = self.readable;
        while let Some(b) = self.input.get(start.saturating_add(pos)) {
            step.stage.echo(&t, b);
            if let Err(stall) = Self::fits(&step, out) {
                self.partial = Partial::Reprint(u16::try_from(pos).unwrap_or(u16::MAX));
                return Err(stall);
            }
            self.commit(&mut step, out);
            pos = pos.saturating_add(1);
        }
        self.partial = Partial::None;
        Ok(())
    }

    /// `VERASE`, `VWERASE`, `VKILL` (`n_tty`'s `eraser`). One character
    /// is erased per step, so a stall leaves a shorter line to erase the
    /// rest of: resuming gives the same result. (A word erase never stalls
    /// between its word and the separator before it, where the separator
    /// check needs no echo, so it needs no memory of having seen the word.)
    fn eraser(&mut self, c: u8, mut step: Step, out: &mut Emit<'_>) -> Result<(), Stall> {
        if self.line_empty() {
            self.commit(&mut step, out);
            return Ok(());
        }
        let t = self.termios;
        let kill_type = if c == t.cc(VERASE) {
            KillType::Erase
        } else if c == t.cc(VWERASE) {
            KillType::Werase
        } else {
            KillType::Kill
        };
        if kill_type == KillType::Kill && !t.lflag(ECHO | ECHOK | ECHOKE | ECHOE) {
            return self.kill_line(step, out);
        }
        self.erase_chars(kill_type, step, out)
    }

    /// A kill that does not erase character by character: without echo,
    /// or echoed as the kill character (and a newline under `ECHOK`).
    fn kill_line(&mut self, mut step: Step, out: &mut Emit<'_>) -> Result<(), Stall> {
        let t = self.termios;
        if t.lflag(ECHO) {
            step.stage.finish_erasing(&t);
            step.stage.echo(&t, t.cc(VKILL));
            if t.lflag(ECHOK) {
                step.stage.echo_raw(&t, b'\n');
            }
            Self::fits(&step, out)?;
        }
        self.commit(&mut step, out);
        self.input.truncate(self.readable);
        Ok(())
    }

    /// Erases characters from the end of the line, one per step: one for
    /// an erase, a word (and the separators after it) for a word erase,
    /// all for a kill.
    fn erase_chars(
        &mut self,
        kill_type: KillType,
        mut step: Step,
        out: &mut Emit<'_>,
    ) -> Result<(), Stall> {
        let t = self.termios;
        let mut seen_alnums = false;
        while let Some((head, ch)) = self.last_char() {
            // Do not partially erase.
            if is_continuation(&t, ch) {
                break;
            }
            if kill_type == KillType::Werase {
                if isalnum(ch) || ch == b'_' {
                    seen_alnums = true;
                } else if seen_alnums {
                    break;
                }
            }
            if t.lflag(ECHO) {
                let end = self.input.len();
                self.echo_erase(&mut step.stage, kill_type, ch, head, end);
                if head <= self.readable {
                    step.stage.finish_erasing(&t);
                }
            }
            Self::fits(&step, out)?;
            self.commit(&mut step, out);
            self.input.truncate(head);
            if kill_type == KillType::Erase {
                break;
            }
        }
        self.commit(&mut step, out);
        self.partial = Partial::None;
        Ok(())
    }

    /// Where the last character of the line being typed starts, and its
    /// first byte (under `IUTF8` a character is a lead byte and the
    /// continuation bytes after it); `None` when the line is empty.
    fn last_char(&self) -> Option<(usize, u8)> {
        let mut head = self.input.len();
        while head > self.readable {
            head = head.saturating_sub(1);
            let ch = self.input.get(head)?;
            if !(is_continuation(&self.termios, ch) && head > self.readable) {
                return Some((head, ch));
            }
        }
        None
    }

    /// The echo of erasing the character `ch` stored at `head..end`.
    fn echo_erase(&self, st: &mut Stage, kill_type: KillType, ch: u8, head: usize, end: usize) {
        let t = &self.termios;
        if t.lflag(ECHOPRT) {
            if !st.erasing {
                st.echo_raw(t, b'\\');
                st.erasing = true;
            }
            st.echo(t, ch);
            let first = head.saturating_add(1);
            for i in (first..end).take(ECHOPRT_CONT_MAX) {
                if let Some(b) = self.input.get(i) {
                    st.echo_raw(t, b);
                    st.col_dec();
                }
            }
        } else if kill_type == KillType::Erase && !t.lflag(ECHOE) {
            st.echo(t, t.cc(VERASE));
        } else if ch == b'\t' {
            let (num_chars, after_tab) = self.columns_before_tab(head);
            st.erase_tab(num_chars, after_tab);
        } else {
            if iscntrl(ch) && t.lflag(ECHOCTL) {
                st.rub_out(t);
            }
            if !iscntrl(ch) || t.lflag(ECHOCTL) {
                st.rub_out(t);
            }
        }
    }

    /// Columns the line uses before the tab at `head`: since the previous
    /// tab (then also `true`) or since the line start.
    fn columns_before_tab(&self, head: usize) -> (u32, bool) {
        let t = &self.termios;
        let mut num_chars: u32 = 0;
        // Indexes below `head`, which is inside the queue: all present.
        let before = (self.readable..head).rev().map_while(|i| self.input.get(i));
        for b in before {
            if b == b'\t' {
                return (num_chars, true);
            } else if iscntrl(b) {
                if t.lflag(ECHOCTL) {
                    num_chars = num_chars.wrapping_add(2);
                }
            } else if !is_continuation(t, b) {
                num_chars = num_chars.wrapping_add(1);
            }
        }
        (num_chars, false)
    }
}
