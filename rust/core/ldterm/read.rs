// SPDX-License-Identifier: GPL-2.0
//! Reading processed input: one line at a time in canonical mode, with
//! `VMIN`/`VTIME` in non-canonical mode.

use super::super::bytes::split_at_most_mut;
use super::super::storage::Storage;
use super::super::termios::{Termios, DISABLED_CHAR, VMIN, VTIME};
use super::Ldterm;

/// Result of [`Ldterm::read`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadOutcome {
    /// This many bytes were copied (at most one line in canonical mode).
    Data(usize),
    /// An end-of-file character at the start of a line: `read` returns 0.
    Eof,
    /// Nothing to read now: block, or `EAGAIN`.
    Empty,
}

/// The slave's read path.
impl<S: Storage> Ldterm<S> {
    /// Length of the first complete line (with its terminator), if any.
    fn front_line(&self) -> Option<usize> {
        self.line_lengths().next().map(usize::from)
    }

    fn set_front_line(&mut self, len: usize) {
        // At most a line's length, which fits: a line is at most
        // `INPUT_BOUND` bytes.
        let [lo, hi] = u16::try_from(len).unwrap_or(u16::MAX).to_le_bytes();
        self.lines.set(0, lo);
        self.lines.set(1, hi);
    }

    /// Consume `n` readable bytes.
    fn consume(&mut self, n: usize) {
        let n = self.input.discard(n);
        self.readable = self.readable.saturating_sub(n);
    }

    /// Copies at most `n` bytes from the front of the processed input to
    /// `out`; returns how many.
    fn copy_front(&self, out: &mut [u8], n: usize) -> usize {
        self.input.copy_out(0, split_at_most_mut(out, n).0)
    }

    /// Read processed input (the slave's `read`). In canonical mode at
    /// most one line is returned, its end-of-file character never: a line
    /// that is just end-of-file reads as [`ReadOutcome::Eof`].
    pub fn read(&mut self, out: &mut [u8]) -> ReadOutcome {
        self.read_part(out).0
    }

    /// [`Ldterm::read`], also saying whether the same `read(2)` may go on
    /// at once with another buffer: in canonical mode, when `out` ended
    /// inside a line; otherwise, when more input is readable. (The kernel
    /// reads in pieces of the tty core's 64-byte buffer, as `n_tty` does.)
    pub fn read_part(&mut self, out: &mut [u8]) -> (ReadOutcome, bool) {
        if self.readable == 0 {
            return (ReadOutcome::Empty, false);
        }
        if out.is_empty() {
            return (ReadOutcome::Data(0), false);
        }
        if !self.icanon() {
            let n = self.copy_front(out, self.readable);
            self.consume(n);
            return (ReadOutcome::Data(n), self.readable > 0);
        }
        let Some(line) = self.front_line() else {
            // No boundary recorded (memory was short when it was made).
            let n = self.copy_front(out, self.readable);
            self.consume(n);
            return (ReadOutcome::Data(n), false);
        };
        if out.len() >= line {
            return (self.read_line(out, line), false);
        }
        self.read_line_part(out, line)
    }

    /// The whole first line, `line` bytes, into `out`: without its
    /// end-of-file character, which alone reads as end of file.
    fn read_line(&mut self, out: &mut [u8], line: usize) -> ReadOutcome {
        let eof = self.input.get(line.saturating_sub(1)) == Some(DISABLED_CHAR);
        let deliver = if eof { line.saturating_sub(1) } else { line };
        let n = self.copy_front(out, deliver);
        self.consume(line);
        let _ = self.lines.discard(2);
        if eof && n == 0 {
            return ReadOutcome::Eof;
        }
        ReadOutcome::Data(n)
    }

    /// As much of the first line, `line` bytes, as fills `out`; whether
    /// the rest of the line may be read at once.
    fn read_line_part(&mut self, out: &mut [u8], line: usize) -> (ReadOutcome, bool) {
        let n = self.input.copy_out(0, out);
        self.consume(n);
        let left = line.saturating_sub(n);
        self.set_front_line(left);
        // Having filled the buffer exactly up to an end-of-file, eat it
        // (`canon_skip_eof`).
        if left == 1 && self.input.get(0) == Some(DISABLED_CHAR) {
            self.consume(1);
            let _ = self.lines.discard(2);
            return (ReadOutcome::Data(n), false);
        }
        (ReadOutcome::Data(n), left > 0)
    }

    /// Whether a read would return now (data or end-of-file).
    pub fn has_input(&self) -> bool {
        self.readable > 0
    }

    /// Whether `poll` reports the slave readable: in non-canonical mode
    /// with `VTIME` 0 it takes `VMIN` bytes, as in `n_tty`.
    pub fn readable(&self) -> bool {
        if self.icanon() {
            return self.readable > 0;
        }
        let (vmin, vtime) = (self.termios.cc(VMIN), self.termios.cc(VTIME));
        let amt = if vtime == 0 && vmin > 0 {
            usize::from(vmin)
        } else {
            1
        };
        self.readable >= amt
    }

    /// `FIONREAD`/`TIOCINQ` as Linux reports it: complete lines without
    /// their end-of-file characters in canonical mode, all processed input
    /// otherwise.
    pub fn input_available(&self) -> usize {
        if !self.icanon() {
            return self.input.len();
        }
        let mut n = self.readable;
        let mut end = 0usize;
        for len in self.line_lengths() {
            end = end.saturating_add(usize::from(len));
            if self.input.get(end.saturating_sub(1)) == Some(DISABLED_CHAR) {
                n = n.saturating_sub(1);
            }
        }
        n
    }
}

/// What a non-canonical read should do next (`VMIN`/`VTIME`, as `n_tty`
/// implements POSIX).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadDecision {
    /// Return what was copied (possibly nothing: `read` returns 0).
    Return,
    /// Block until input arrives, at most `timeout_ds` deciseconds if
    /// given. With `restart_on_byte` the timer is restarted whenever bytes
    /// are copied (inter-byte timer); otherwise it runs from the start of
    /// the read.
    Wait {
        /// Timer length in deciseconds, `None` for no timer.
        timeout_ds: Option<u8>,
        /// Whether each copied byte restarts the timer.
        restart_on_byte: bool,
    },
}

/// The four `VMIN`/`VTIME` combinations of non-canonical reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadPolicy {
    /// `c_cc[VMIN]`.
    pub vmin: u8,
    /// `c_cc[VTIME]`, deciseconds.
    pub vtime: u8,
}

impl ReadPolicy {
    /// The policy of `termios` (meaningful when `ICANON` is clear).
    pub fn new(termios: &Termios) -> Self {
        Self {
            vmin: termios.cc(VMIN),
            vtime: termios.cc(VTIME),
        }
    }

    /// Decide after copying what was available. `copied`: bytes copied so
    /// far in this read; `requested`: the reader's count; `timer_expired`:
    /// the timer of a previous [`ReadDecision::Wait`] ran out.
    ///
    /// - `VMIN` 0, `VTIME` 0: return at once.
    /// - `VMIN` 0, `VTIME` > 0: return with data, else wait up to `VTIME`
    ///   from the start of the read.
    /// - `VMIN` > 0, `VTIME` 0: wait until `VMIN` bytes (or `requested`).
    /// - `VMIN` > 0, `VTIME` > 0: wait for the first byte without a timer,
    ///   then until `VMIN` bytes or `VTIME` passes without a new byte.
    pub fn decide(&self, copied: usize, requested: usize, timer_expired: bool) -> ReadDecision {
        let timer = |restart| ReadDecision::Wait {
            timeout_ds: Some(self.vtime),
            restart_on_byte: restart,
        };
        if requested == 0 || timer_expired {
            return ReadDecision::Return;
        }
        if self.vmin == 0 {
            if self.vtime == 0 || copied > 0 {
                return ReadDecision::Return;
            }
            return timer(false);
        }
        if copied >= usize::from(self.vmin).min(requested) {
            return ReadDecision::Return;
        }
        if self.vtime == 0 || copied == 0 {
            return ReadDecision::Wait {
                timeout_ds: None,
                restart_on_byte: false,
            };
        }
        timer(true)
    }
}
