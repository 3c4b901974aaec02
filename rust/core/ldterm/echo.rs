// SPDX-License-Identifier: GPL-2.0
//! Echo: each step stages its echo and the cursor it leaves behind, and
//! the step is committed only if the echo fits the sink whole.

use super::super::bytes::split_at_most;
use super::super::storage::Storage;
use super::super::termios::{Termios, ECHOCTL, OPOST};
use super::ctype::iscntrl;
use super::input::Stall;
use super::output::Cursor;
use super::{Events, Ldterm, OutputSink};

/// Largest echo of one processing step, in bytes. The largest there is,
/// an `ECHOPRT` erase of a tab (`\\`, eight spaces, `/`) or of a character
/// with [`ECHOPRT_CONT_MAX`](super::ECHOPRT_CONT_MAX) continuation bytes,
/// takes less than half of it.
const STEP_ECHO_MAX: usize = 64;

/// The bytes one step produced, in order.
///
/// # Invariants
///
/// `len <= STEP_ECHO_MAX`: [`Staged::push`] counts only a byte it stored.
#[derive(Clone, Copy)]
pub(super) struct Staged {
    buf: [u8; STEP_ECHO_MAX],
    len: usize,
}

impl Staged {
    const EMPTY: Self = Self {
        buf: [0; STEP_ECHO_MAX],
        len: 0,
    };

    /// Appends `b`; past [`STEP_ECHO_MAX`], which no step reaches, it is
    /// not kept.
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }

    /// The staged bytes (by the invariant, exactly `len` of them).
    pub(super) fn as_bytes(&self) -> &[u8] {
        split_at_most(&self.buf, self.len).0
    }
}

/// Bytes produced by one step (echo or output of one character), staged
/// so that they are emitted whole or not at all, together with the cursor
/// they leave behind.
pub(super) struct Stage {
    staged: Staged,
    pub(super) cursor: Cursor,
    pub(super) erasing: bool,
}

impl Stage {
    pub(super) fn new(cursor: Cursor, erasing: bool) -> Self {
        Self {
            staged: Staged::EMPTY,
            cursor,
            erasing,
        }
    }

    /// The bytes staged so far.
    pub(super) fn bytes(&self) -> &[u8] {
        self.staged.as_bytes()
    }

    /// Takes the staged bytes out, keeping the cursor they moved: for echo
    /// that goes out after the step is committed.
    pub(super) fn take_bytes(&mut self) -> Staged {
        core::mem::replace(&mut self.staged, Staged::EMPTY)
    }

    /// Put a byte as is (`tty_put_char`).
    pub(super) fn put(&mut self, b: u8) {
        self.staged.push(b);
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

    /// Backspace, space, backspace: one column rubbed out.
    pub(super) fn rub_out(&mut self, t: &Termios) {
        self.echo_raw(t, 0x08);
        self.echo_raw(t, b' ');
        self.echo_raw(t, 0x08);
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

/// Where the steps of one batch of input go: their echo, toward the
/// master, and the events the driver must act upon.
pub(super) struct Emit<'a> {
    pub(super) echo: &'a mut dyn OutputSink,
    pub(super) events: Events,
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
    pub(super) fn commit(&mut self, step: &mut Step, out: &mut Emit<'_>) {
        if step.restart {
            self.start_tty(&mut out.events);
            step.restart = false;
        }
        self.cursor = step.stage.cursor;
        self.erasing = step.stage.erasing;
        let bytes = step.stage.bytes();
        if !bytes.is_empty() {
            let _ = out.echo.push(bytes);
        }
        step.stage = Stage::new(self.cursor, self.erasing);
    }

    pub(super) fn fits(step: &Step, out: &Emit<'_>) -> Result<(), Stall> {
        if step.stage.bytes().len() > out.echo.room() {
            Err(Stall::EchoFull)
        } else {
            Ok(())
        }
    }
}
