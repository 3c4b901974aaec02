// SPDX-License-Identifier: GPL-2.0
//! Canonical editing: line terminators, erase, word erase, kill and
//! reprint (`n_tty_receive_char_canon`, `eraser`).

use super::super::storage::Storage;
use super::super::termios::{
    DISABLED_CHAR, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOPRT, IEXTEN, VEOF, VEOL, VEOL2,
    VERASE, VKILL, VLNEXT, VREPRINT, VWERASE,
};
use super::ctype::{is_continuation, isalnum, iscntrl};
use super::echo::{Stage, Step};
use super::input::Stall;
use super::{Events, Ldterm, OutputSink, ECHOPRT_CONT_MAX};

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
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Option<Result<(), Stall>> {
        let t = self.termios;
        let iexten = t.lflag(IEXTEN);
        if c == t.cc(VERASE) || c == t.cc(VKILL) || (c == t.cc(VWERASE) && iexten) {
            return Some(self.eraser(c, step, echo, ev));
        }
        if c == t.cc(VLNEXT) && iexten {
            if t.lflag(ECHO) {
                step.stage.finish_erasing(&t);
                if t.lflag(ECHOCTL) {
                    step.stage.echo_raw(&t, b'^');
                    step.stage.echo_raw(&t, 0x08);
                }
            }
            return Some(Self::fits(&step, echo).map(|()| {
                self.commit(&mut step, echo, ev);
                self.lnext = true;
            }));
        }
        if c == t.cc(VREPRINT) && t.lflag(ECHO) && iexten {
            return Some(self.reprint(c, step, echo, ev));
        }
        if c == b'\n' {
            if t.lflag(ECHO) || t.lflag(ECHONL) {
                step.stage.echo_raw(&t, b'\n');
            }
            return Some(self.newline(&[c], step, echo, ev));
        }
        if c == t.cc(VEOF) {
            return Some(self.newline(&[DISABLED_CHAR], step, echo, ev));
        }
        if c == t.cc(VEOL) || (c == t.cc(VEOL2) && iexten) {
            if t.lflag(ECHO) {
                if self.line_empty() {
                    step.stage.set_canon_col();
                }
                step.stage.echo(&t, c);
            }
            let (bytes, n) = self.doubled(c);
            return Some(self.newline(bytes.get(..n).unwrap_or(&[]), step, echo, ev));
        }
        None
    }

    /// Queue the terminator `bytes` and make the line readable
    /// (`n_tty_receive_handle_newline`).
    pub(super) fn newline(
        &mut self,
        bytes: &[u8],
        mut step: Step,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        Self::fits(&step, echo)?;
        self.reserve(bytes.len(), true)?;
        self.commit(&mut step, echo, ev);
        let _ = self.input.push(bytes);
        let len = self.input.len().saturating_sub(self.readable);
        let n = u16::try_from(len).unwrap_or(u16::MAX);
        let _ = self.lines.push(&n.to_le_bytes());
        self.readable = self.input.len();
        ev.insert(Events::READ_READY);
        Ok(())
    }

    /// `VREPRINT`: echo the character, a newline and the line so far. Done
    /// a character at a time; progress survives a stall in `partial`.
    pub(super) fn reprint(
        &mut self,
        c: u8,
        mut step: Step,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        let t = self.termios;
        let mut pos = match self.partial {
            Partial::Reprint(p) => usize::from(p),
            _ => {
                step.stage.finish_erasing(&t);
                step.stage.echo(&t, c);
                step.stage.echo_raw(&t, b'\n');
                Self::fits(&step, echo)?;
                self.commit(&mut step, echo, ev);
                0
            }
        };
        let start = self.readable;
        while let Some(b) = self.input.get(start.saturating_add(pos)) {
            step.stage.echo(&t, b);
            if let Err(stall) = Self::fits(&step, echo) {
                self.partial = Partial::Reprint(u16::try_from(pos).unwrap_or(u16::MAX));
                return Err(stall);
            }
            self.commit(&mut step, echo, ev);
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
    fn eraser(
        &mut self,
        c: u8,
        mut step: Step,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        let t = self.termios;
        if self.line_empty() {
            self.commit(&mut step, echo, ev);
            return Ok(());
        }
        let kill_type = if c == t.cc(VERASE) {
            KillType::Erase
        } else if c == t.cc(VWERASE) {
            KillType::Werase
        } else {
            if !t.lflag(ECHO) {
                self.commit(&mut step, echo, ev);
                self.input.truncate(self.readable);
                return Ok(());
            }
            if !(t.lflag(ECHOK) && t.lflag(ECHOKE) && t.lflag(ECHOE)) {
                step.stage.finish_erasing(&t);
                step.stage.echo(&t, t.cc(VKILL));
                if t.lflag(ECHOK) {
                    step.stage.echo_raw(&t, b'\n');
                }
                Self::fits(&step, echo)?;
                self.commit(&mut step, echo, ev);
                self.input.truncate(self.readable);
                return Ok(());
            }
            KillType::Kill
        };
        let mut seen_alnums = false;
        while self.input.len() > self.readable {
            let end = self.input.len();
            // Erase a single, possibly multi-byte, character.
            let mut head = end;
            let mut ch = 0;
            loop {
                head = head.saturating_sub(1);
                ch = self.input.get(head).unwrap_or(ch);
                if !(is_continuation(&t, ch) && head > self.readable) {
                    break;
                }
            }
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
                self.echo_erase(&mut step.stage, kill_type, ch, head, end);
                if head <= self.readable {
                    step.stage.finish_erasing(&t);
                }
            }
            Self::fits(&step, echo)?;
            self.commit(&mut step, echo, ev);
            self.input.truncate(head);
            if kill_type == KillType::Erase {
                break;
            }
        }
        self.commit(&mut step, echo, ev);
        self.partial = Partial::None;
        Ok(())
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
            // Columns used since the previous tab or the line start.
            let mut num_chars: u32 = 0;
            let mut after_tab = false;
            let mut i = head;
            while i > self.readable {
                i = i.saturating_sub(1);
                let b = self.input.get(i).unwrap_or(0);
                if b == b'\t' {
                    after_tab = true;
                    break;
                } else if iscntrl(b) {
                    if t.lflag(ECHOCTL) {
                        num_chars = num_chars.wrapping_add(2);
                    }
                } else if !is_continuation(t, b) {
                    num_chars = num_chars.wrapping_add(1);
                }
            }
            st.erase_tab(num_chars, after_tab);
        } else {
            if iscntrl(ch) && t.lflag(ECHOCTL) {
                st.echo_raw(t, 0x08);
                st.echo_raw(t, b' ');
                st.echo_raw(t, 0x08);
            }
            if !iscntrl(ch) || t.lflag(ECHOCTL) {
                st.echo_raw(t, 0x08);
                st.echo_raw(t, b' ');
                st.echo_raw(t, 0x08);
            }
        }
    }
}
