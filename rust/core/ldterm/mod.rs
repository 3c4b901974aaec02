// SPDX-License-Identifier: GPL-2.0
//! ldterm: the line discipline module of the slave stream, as a pure state
//! machine whose whole state can be saved and restored.
//!
//! It behaves like Linux `n_tty` on a unix98 pty (the reference), with the
//! state split the way gVisor's devpts does it so that a checkpoint never
//! runs a byte through the discipline twice:
//!
//! - *unprocessed input* (bytes written by the master, not yet seen here)
//!   stays with the caller: [`Ldterm::receive`] consumes a prefix of it and
//!   stops early, leaving the rest, when the read side is full or the echo
//!   does not fit;
//! - *processed input* lives here in one queue: first the bytes a reader may
//!   take (complete lines in canonical mode), then the canonical line still
//!   being typed. Line boundaries are kept apart as line lengths.
//!
//! Echo and the slave's processed output go to an [`OutputSink`] (the
//! queue toward the master). Every step of processing produces its echo
//! whole or not at all, so nothing is dropped and a stalled step is simply
//! retried later.
//!
//! # Intended differences from n_tty
//!
//! - Echo is never dropped. `n_tty` keeps echoes in a 4 KiB buffer and
//!   discards the oldest when the driver is full; here input processing
//!   stops ([`Stall::EchoFull`]) until the master reads, which also means a
//!   master that never reads eventually stops being able to type.
//! - Echo is emitted when it is produced, also while output is stopped
//!   (`^S`); `n_tty` holds it in its echo buffer until output restarts. A
//!   driver wanting that can report no room in its sink while stopped and
//!   call [`Ldterm::lookahead`] so `^Q` still gets through.
//! - `n_tty` defers echoes to the end of each received batch, so a signal
//!   character that flushes also discards the echo of characters that
//!   arrived in the same batch. Here echo of earlier characters is already
//!   in the sink and [`OutputSink::flush`] decides what "flush output"
//!   means (Linux itself only drops what the master's side has not yet
//!   taken in).
//! - `VREPRINT` and visible kill/word erase are processed a character at a
//!   time so that their echo fits any sink; a stall in between is resumed
//!   where it stopped ([`Partial`]), so the result is identical. (`n_tty`
//!   queues such an echo whole and drops it if its echo buffer overflows.)
//! - `n_tty` checks for room before each received batch and then processes
//!   the batch whole; here the same check is made before each byte, which
//!   accepts the same bytes.
//! - `ECHOPRT` echoes at most [`ECHOPRT_CONT_MAX`] UTF-8 continuation
//!   bytes of one erased character (only malformed input has more).
//! - `EXTPROC` is treated as clear (no external line editing), and there are
//!   no breaks, parity or overrun errors on a pty, so `IGNBRK`, `BRKINT`,
//!   `INPCK` and `IGNPAR` have nothing to act on; `PARMRK` still doubles
//!   `\377` as `n_tty` does.
//! - In non-canonical mode `n_tty` records the column where input starts
//!   (`canon_column`) only until the first byte after a mode switch; here
//!   whenever the input queue is empty. It only matters for erasing a tab
//!   after switching back to canonical mode with echo turned on midway.
//!
//! # Where things are
//!
//! One stage per file, all on [`Ldterm`] (defined here with its settings):
//! `input.rs` (receiving bytes from the master), `canon.rs` (canonical
//! editing: line ends, erase, word erase, kill, reprint), `echo.rs` (staged
//! echo of one step), `output.rs` (`OPOST` processing of the slave's writes
//! and of echo), `flow.rs` (`^S`/`^Q`, `IXANY`, `TCOOFF`/`TCOON`),
//! `read.rs` (the slave's reads, `VMIN`/`VTIME`), `ctype.rs` (the kernel's
//! Latin-1 character classes), `state.rs` (the saved form).

mod canon;
mod checkpoint;
mod ctype;
mod echo;
mod flow;
mod input;
mod output;
mod read;
mod state;

use super::queue::ByteQueue;
use super::storage::Storage;
use super::termios::{Termios, ICANON, IXON, VSTART, VSTOP};
use output::Cursor;

pub use canon::Partial;
pub use checkpoint::LdtermSaved;
pub use input::{Receive, Stall};
pub use read::{ReadDecision, ReadOutcome, ReadPolicy};
pub use state::{LdtermState, RestoreError};

/// Size of `n_tty`'s read buffer: a canonical line holds at most
/// `N_TTY_BUF_SIZE - 1` characters plus its terminator, and non-canonical
/// input at most `N_TTY_BUF_SIZE - 1` bytes.
pub const N_TTY_BUF_SIZE: usize = 4096;

/// Bound of the processed-input queue (the `PARMRK` doubling may add one).
pub const INPUT_BOUND: usize = N_TTY_BUF_SIZE + 2;

/// Bound of the line-length queue: two bytes per complete line.
pub const LINES_BOUND: usize = 2 * N_TTY_BUF_SIZE + 2;

/// Most UTF-8 continuation bytes echoed by `ECHOPRT` for one character.
pub const ECHOPRT_CONT_MAX: usize = 16;

/// Where echo and processed output go: the queue toward the master.
pub trait OutputSink {
    /// Bytes that [`Self::push`] will accept now.
    fn room(&self) -> usize;
    /// Queue `bytes`; returns how many were taken.
    fn push(&mut self, bytes: &[u8]) -> usize;
    /// A signal character without `NOFLSH` flushes output: discard what
    /// the master has not yet taken. Called before the signal character is
    /// echoed.
    fn flush(&mut self);
}

impl<S: Storage> OutputSink for ByteQueue<S> {
    fn room(&self) -> usize {
        ByteQueue::room(self)
    }

    fn push(&mut self, bytes: &[u8]) -> usize {
        // A queue that cannot grow takes nothing.
        ByteQueue::push(self, bytes).unwrap_or(0)
    }

    fn flush(&mut self) {
        self.clear();
    }
}

/// A small set of things that happened which the driver must act upon.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Events(u16);

impl Events {
    /// Nothing happened.
    pub const NONE: Self = Self(0);
    /// Send `SIGINT` to the foreground process group.
    pub const SIGINT: Self = Self(1 << 0);
    /// Send `SIGQUIT` to the foreground process group.
    pub const SIGQUIT: Self = Self(1 << 1);
    /// Send `SIGTSTP` to the foreground process group.
    pub const SIGTSTP: Self = Self(1 << 2);
    /// Processed input was flushed (`TIOCPKT_FLUSHREAD`).
    pub const FLUSH_READ: Self = Self(1 << 3);
    /// Output toward the master was flushed (`TIOCPKT_FLUSHWRITE`).
    pub const FLUSH_WRITE: Self = Self(1 << 4);
    /// Output was stopped (`TIOCPKT_STOP`).
    pub const STOP_OUTPUT: Self = Self(1 << 5);
    /// Output was restarted (`TIOCPKT_START`); wake writers.
    pub const START_OUTPUT: Self = Self(1 << 6);
    /// `^S`/`^Q` flow control became active (`TIOCPKT_DOSTOP`).
    pub const DOSTOP: Self = Self(1 << 7);
    /// `^S`/`^Q` flow control became inactive (`TIOCPKT_NOSTOP`).
    pub const NOSTOP: Self = Self(1 << 8);
    /// New input became readable; wake readers.
    pub const READ_READY: Self = Self(1 << 9);

    /// Whether every event of `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no event is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Add the events of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Remove the events of `other`.
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// The raw bits (for statistics and tracing).
    pub fn bits(self) -> u16 {
        self.0
    }
}

impl core::ops::BitOr for Events {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Events {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// The slave side's line discipline.
///
/// # Invariants
///
/// `readable <= input.len()`. In canonical mode the line lengths (two bytes
/// each in `lines`) add up to `readable` and `input[readable..]` is the
/// line being typed; otherwise `lines` is empty and `readable ==
/// input.len()`.
pub struct Ldterm<S: Storage> {
    termios: Termios,
    /// Processed input: readable bytes, then the canonical line.
    input: ByteQueue<S>,
    /// Lengths (`u16` LE) of the complete lines at the front of `input`.
    lines: ByteQueue<S>,
    readable: usize,
    cursor: Cursor,
    lnext: bool,
    erasing: bool,
    stopped: bool,
    tco_stopped: bool,
    lookahead: usize,
    partial: Partial,
}

/// Creation and settings.
impl<S: Storage> Ldterm<S> {
    /// A line discipline with empty queues (no memory held until input
    /// arrives). `input` backs processed input, `lines` the line
    /// boundaries.
    pub fn new(input: S, lines: S, termios: Termios) -> Self {
        Self {
            termios,
            input: ByteQueue::new(input, INPUT_BOUND),
            lines: ByteQueue::new(lines, LINES_BOUND),
            readable: 0,
            cursor: Cursor::default(),
            lnext: false,
            erasing: false,
            stopped: false,
            tco_stopped: false,
            lookahead: 0,
            partial: Partial::None,
        }
    }

    /// Current settings (`TCGETS`).
    pub fn termios(&self) -> &Termios {
        &self.termios
    }

    fn icanon(&self) -> bool {
        self.termios.lflag(ICANON)
    }

    /// Change the settings (`TCSETS*`, after the driver's own fix-ups).
    /// Turning `ICANON` off makes the pending line readable, turning it on
    /// makes pending input one line, as `n_tty` does; clearing `IXON`
    /// restarts output stopped by `^S`.
    pub fn set_termios(&mut self, t: Termios) -> Events {
        let old = self.termios;
        self.termios = t;
        let mut ev = Events::NONE;
        if (old.c_lflag ^ t.c_lflag) & ICANON != 0 {
            self.lines.clear();
            let len = self.input.len();
            let had_readable = self.readable;
            self.readable = len;
            if t.lflag(ICANON) && len > 0 {
                // The pending input is pushed as one line.
                if self.lines.try_reserve(2).is_ok() {
                    let n = u16::try_from(len).unwrap_or(u16::MAX);
                    let _ = self.lines.push(&n.to_le_bytes());
                }
            }
            if self.readable > had_readable {
                ev.insert(Events::READ_READY);
            }
            self.erasing = false;
            self.lnext = false;
            self.partial = Partial::None;
        }
        if !t.iflag(IXON) && old.iflag(IXON) && !self.tco_stopped {
            self.start_tty(&mut ev);
        }
        let flow = |t: &Termios| t.iflag(IXON) && t.cc(VSTOP) == 0x13 && t.cc(VSTART) == 0x11;
        match (flow(&old), flow(&t)) {
            (false, true) => ev.insert(Events::DOSTOP),
            (true, false) => ev.insert(Events::NOSTOP),
            _ => {}
        }
        ev
    }

    /// Drop all processed input (`TCIFLUSH`, hangup): `n_tty`'s
    /// `reset_buffer_flags`. Also call it when the unprocessed input is
    /// flushed, as Linux does, so that [`Self::lookahead`] starts afresh.
    pub fn flush_input(&mut self) {
        self.input.clear();
        self.lines.clear();
        self.readable = 0;
        self.erasing = false;
        self.lookahead = 0;
        self.partial = Partial::None;
    }

    /// Whether the canonical line being typed is empty (`n_tty`:
    /// `canon_head == read_head`).
    fn line_empty(&self) -> bool {
        if self.icanon() {
            self.input.len() <= self.readable
        } else {
            self.input.is_empty()
        }
    }
}
