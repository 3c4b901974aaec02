// SPDX-License-Identifier: GPL-2.0
//! Echo: each step stages its echo and the cursor it leaves behind, and
//! the step is committed only if the echo fits the sink whole.

use super::super::storage::Storage;
use super::super::termios::{Termios, ECHOCTL, OPOST};
use super::ctype::iscntrl;
use super::input::Stall;
use super::output::Cursor;
use super::{Events, Ldterm, OutputSink};

/// Largest echo of one processing step, in bytes.
const STEP_ECHO_MAX: usize = 64;

/// Bytes produced by one step (echo or output of one character), staged
/// so that they are emitted whole or not at all, together with the cursor
/// they leave behind.
pub(super) struct Stage {
    pub(super) buf: [u8; STEP_ECHO_MAX],
    pub(super) len: usize,
    pub(super) cursor: Cursor,
    pub(super) erasing: bool,
}

impl Stage {
    pub(super) fn new(cursor: Cursor, erasing: bool) -> Self {
        Self {
            buf: [0; STEP_ECHO_MAX],
            len: 0,
            cursor,
            erasing,
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Put a byte as is (`tty_put_char`).
    pub(super) fn put(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }

    fn col_inc(&mut self, n: u32) {
        self.cursor.column = self.cursor.column.wrapping_add(n);
    }

    pub(super) fn col_dec(&mut self) {
        self.cursor.column = self.cursor.column.saturating_sub(1);
    }

    /// A plain echo byte: output-processed when `OPOST` is on.
    pub(super) fn out(&mut self, t: &Termios, c: u8) {
        if t.oflag(OPOST) {
            self.opost(t, c);
        } else {
            self.put(c);
        }
    }

    /// `echo_char_raw`: no `^X` translation.
    pub(super) fn echo_raw(&mut self, t: &Termios, c: u8) {
        if c == 0xff {
            self.put(0xff);
            self.col_inc(1);
        } else {
            self.out(t, c);
        }
    }

    /// `echo_char`: control characters as `^X` under `ECHOCTL`.
    pub(super) fn echo(&mut self, t: &Termios, c: u8) {
        if c == 0xff {
            self.put(0xff);
            self.col_inc(1);
        } else if t.lflag(ECHOCTL) && iscntrl(c) && c != b'\t' {
            self.put(b'^');
            self.put(c ^ 0o100);
            self.col_inc(2);
        } else {
            self.out(t, c);
        }
    }

    pub(super) fn finish_erasing(&mut self, t: &Termios) {
        if self.erasing {
            self.echo_raw(t, b'/');
            self.erasing = false;
        }
    }

    pub(super) fn set_canon_col(&mut self) {
        self.cursor.canon_column = self.cursor.column;
    }

    /// Back up over a tab: `num_chars` columns were used since the previous
    /// tab (`after_tab`) or since the line start.
    pub(super) fn erase_tab(&mut self, num_chars: u32, after_tab: bool) {
        let mut n = num_chars & 7;
        if !after_tab {
            n = n.wrapping_add(self.cursor.canon_column);
        }
        let num_bs = 8u32.wrapping_sub(n & 7);
        for _ in 0..num_bs {
            self.put(0x08);
            self.col_dec();
        }
    }
}

/// The per-byte step being built: its echo and whether it restarts output.
pub(super) struct Step {
    pub(super) stage: Stage,
    pub(super) restart: bool,
}

/// Building and committing steps.
impl<S: Storage> Ldterm<S> {
    pub(super) fn new_step(&self) -> Step {
        Step {
            stage: Stage::new(self.cursor, self.erasing),
            restart: false,
        }
    }

    /// Apply a step whose echo fits: cursor, erase state, restart, echo.
    pub(super) fn commit(&mut self, step: &mut Step, echo: &mut dyn OutputSink, ev: &mut Events) {
        if step.restart {
            self.start_tty(ev);
            step.restart = false;
        }
        self.cursor = step.stage.cursor;
        self.erasing = step.stage.erasing;
        if step.stage.len > 0 {
            let _ = echo.push(step.stage.bytes());
        }
        step.stage = Stage::new(self.cursor, self.erasing);
    }

    pub(super) fn fits(step: &Step, echo: &dyn OutputSink) -> Result<(), Stall> {
        if step.stage.len > echo.room() {
            Err(Stall::EchoFull)
        } else {
            Ok(())
        }
    }
}
