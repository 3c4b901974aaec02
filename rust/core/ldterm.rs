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

use super::codec::{FieldError, FieldReader, FieldWriter};
use super::errno::Errno;
use super::queue::ByteQueue;
use super::storage::{AllocError, Storage};
use super::termios::{
    Termios, DISABLED_CHAR, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOPRT, ICANON, ICRNL,
    IEXTEN, IGNCR, INLCR, ISIG, ISTRIP, IUCLC, IUTF8, IXANY, IXON, NOFLSH, OCRNL, OLCUC, ONLCR,
    ONLRET, ONOCR, OPOST, PARMRK, TABDLY, VEOF, VEOL, VEOL2, VERASE, VINTR, VKILL, VLNEXT, VMIN,
    VQUIT, VREPRINT, VSTART, VSTOP, VSUSP, VTIME, VWERASE, XTABS,
};

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

/// Largest echo of one processing step, in bytes.
const STEP_ECHO_MAX: usize = 64;

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

/// Why [`Ldterm::receive`] stopped before consuming all its input.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Stall {
    /// All input was consumed.
    #[default]
    None,
    /// The processed-input queue is full: retry after a read (or flush),
    /// and meanwhile pass the unprocessed input to [`Ldterm::lookahead`] so
    /// that `^S`/`^Q` still act.
    ReadFull,
    /// The echo does not fit the sink: retry when the master has read.
    EchoFull,
    /// Growing a queue failed: retry later.
    NoMemory,
}

/// Result of [`Ldterm::receive`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Receive {
    /// Bytes of the input that were processed; the rest were not touched.
    pub consumed: usize,
    /// What happened.
    pub events: Events,
    /// Why processing stopped early, if it did.
    pub stall: Stall,
}

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

/// Output position, shared by echo and slave output like `n_tty`'s
/// `column` and `canon_column`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Cursor {
    column: u32,
    canon_column: u32,
}

/// The kind of an erase request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KillType {
    Erase,
    Werase,
    Kill,
}

/// `iscntrl` of the kernel's `ctype` (Latin-1 C1 codes are not control).
fn iscntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// `isupper` of the kernel's Latin-1 `ctype`.
fn isupper(c: u8) -> bool {
    c.is_ascii_uppercase() || ((0xc0..=0xde).contains(&c) && c != 0xd7)
}

/// `islower` of the kernel's Latin-1 `ctype`.
fn islower(c: u8) -> bool {
    c.is_ascii_lowercase() || (c >= 0xdf && c != 0xf7)
}

/// `isalnum` of the kernel's Latin-1 `ctype`.
fn isalnum(c: u8) -> bool {
    c.is_ascii_digit() || isupper(c) || islower(c)
}

/// `tolower` of the kernel's Latin-1 `ctype`.
fn tolower(c: u8) -> u8 {
    if isupper(c) {
        c.wrapping_add(0x20)
    } else {
        c
    }
}

/// `toupper` of the kernel's Latin-1 `ctype`.
fn toupper(c: u8) -> u8 {
    if islower(c) {
        c.wrapping_sub(0x20)
    } else {
        c
    }
}

/// Bytes produced by one step (echo or output of one character), staged
/// so that they are emitted whole or not at all, together with the cursor
/// they leave behind.
struct Stage {
    buf: [u8; STEP_ECHO_MAX],
    len: usize,
    cursor: Cursor,
    erasing: bool,
}

impl Stage {
    fn new(cursor: Cursor, erasing: bool) -> Self {
        Self {
            buf: [0; STEP_ECHO_MAX],
            len: 0,
            cursor,
            erasing,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Put a byte as is (`tty_put_char`).
    fn put(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }

    fn col_inc(&mut self, n: u32) {
        self.cursor.column = self.cursor.column.wrapping_add(n);
    }

    fn col_dec(&mut self) {
        self.cursor.column = self.cursor.column.saturating_sub(1);
    }

    /// One character through output processing (`do_output_char`).
    fn opost(&mut self, t: &Termios, c: u8) {
        let cur = &mut self.cursor;
        let mut c = c;
        match c {
            b'\n' => {
                if t.oflag(ONLRET) {
                    cur.column = 0;
                }
                if t.oflag(ONLCR) {
                    cur.column = 0;
                    cur.canon_column = 0;
                    self.put(b'\r');
                    self.put(b'\n');
                    return;
                }
                cur.canon_column = cur.column;
            }
            b'\r' => {
                if t.oflag(ONOCR) && cur.column == 0 {
                    return;
                }
                if t.oflag(OCRNL) {
                    c = b'\n';
                    if t.oflag(ONLRET) {
                        cur.column = 0;
                        cur.canon_column = 0;
                    }
                } else {
                    cur.column = 0;
                    cur.canon_column = 0;
                }
            }
            b'\t' => {
                let spaces = 8u32.wrapping_sub(cur.column & 7);
                cur.column = cur.column.wrapping_add(spaces);
                if t.c_oflag & TABDLY == XTABS {
                    for _ in 0..spaces {
                        self.put(b' ');
                    }
                    return;
                }
            }
            0x08 => {
                cur.column = cur.column.saturating_sub(1);
            }
            _ => {
                if !iscntrl(c) {
                    if t.oflag(OLCUC) {
                        c = toupper(c);
                    }
                    if !is_continuation(t, c) {
                        cur.column = cur.column.wrapping_add(1);
                    }
                }
            }
        }
        self.put(c);
    }

    /// A plain echo byte: output-processed when `OPOST` is on.
    fn out(&mut self, t: &Termios, c: u8) {
        if t.oflag(OPOST) {
            self.opost(t, c);
        } else {
            self.put(c);
        }
    }

    /// `echo_char_raw`: no `^X` translation.
    fn echo_raw(&mut self, t: &Termios, c: u8) {
        if c == 0xff {
            self.put(0xff);
            self.col_inc(1);
        } else {
            self.out(t, c);
        }
    }

    /// `echo_char`: control characters as `^X` under `ECHOCTL`.
    fn echo(&mut self, t: &Termios, c: u8) {
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

    fn finish_erasing(&mut self, t: &Termios) {
        if self.erasing {
            self.echo_raw(t, b'/');
            self.erasing = false;
        }
    }

    fn set_canon_col(&mut self) {
        self.cursor.canon_column = self.cursor.column;
    }

    /// Back up over a tab: `num_chars` columns were used since the previous
    /// tab (`after_tab`) or since the line start.
    fn erase_tab(&mut self, num_chars: u32, after_tab: bool) {
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

/// `is_continuation`: a UTF-8 continuation byte under `IUTF8`.
fn is_continuation(t: &Termios, c: u8) -> bool {
    t.iflag(IUTF8) && (c & 0xc0) == 0x80
}

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
        let flags = u8::from(self.lnext)
            | u8::from(self.erasing) << 1
            | u8::from(self.output_stopped) << 2
            | u8::from(self.tco_stopped) << 3;
        w.put_u8(flags)?;
        let (kind, pos) = match self.partial {
            Partial::None => (0u8, 0u16),
            Partial::Reprint(p) => (1, p),
        };
        w.put_u8(kind)?;
        w.put_u16(pos)
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
        let column = r.get_u32()?;
        let canon_column = r.get_u32()?;
        let readable = r.get_u32()?;
        let lookahead = r.get_u32()?;
        let flags_at = r.position();
        let flags = r.get_u8()?;
        let kind_at = r.position();
        let kind = r.get_u8()?;
        let pos = r.get_u16()?;
        if flags & !0x0f != 0 {
            return Err(FieldError::Invalid { offset: flags_at });
        }
        let partial = match kind {
            0 => Partial::None,
            1 => Partial::Reprint(pos),
            _ => return Err(FieldError::Invalid { offset: kind_at }),
        };
        Ok(Self {
            termios,
            column,
            canon_column,
            readable,
            lookahead,
            lnext: flags & 1 != 0,
            erasing: flags & 2 != 0,
            output_stopped: flags & 4 != 0,
            tco_stopped: flags & 8 != 0,
            partial,
        })
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

/// The per-byte step being built: its echo and whether it restarts output.
struct Step {
    stage: Stage,
    restart: bool,
}

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

    /// No processing at all (`n_tty`'s `raw`): none of the flags that give
    /// a byte any meaning is set.
    fn is_raw(&self) -> bool {
        let t = &self.termios;
        t.c_iflag & (ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK) == 0
            && t.c_lflag & (ICANON | ISIG | ECHO) == 0
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

    fn start_tty(&mut self, ev: &mut Events) {
        if self.stopped && !self.tco_stopped {
            self.stopped = false;
            ev.insert(Events::START_OUTPUT);
        }
    }

    fn stop_tty(&mut self, ev: &mut Events) {
        if !self.stopped {
            self.stopped = true;
            ev.insert(Events::STOP_OUTPUT);
        }
    }

    /// Whether output is stopped (`^S` or `TCOOFF`).
    pub fn output_stopped(&self) -> bool {
        self.stopped
    }

    /// `TCXONC TCOOFF`: stop output until `TCOON`.
    pub fn stop_output(&mut self) -> Events {
        let mut ev = Events::NONE;
        if !self.tco_stopped {
            self.tco_stopped = true;
            self.stop_tty(&mut ev);
        }
        ev
    }

    /// `TCXONC TCOON`: restart output stopped by `TCOOFF`.
    pub fn start_output(&mut self) -> Events {
        let mut ev = Events::NONE;
        if self.tco_stopped {
            self.tco_stopped = false;
            self.start_tty(&mut ev);
        }
        ev
    }

    /// The character `TCXONC TCIOFF` sends toward the master, if enabled.
    pub fn stop_char(&self) -> Option<u8> {
        Some(self.termios.cc(VSTOP)).filter(|&c| c != DISABLED_CHAR)
    }

    /// The character `TCXONC TCION` sends toward the master, if enabled.
    pub fn start_char(&self) -> Option<u8> {
        Some(self.termios.cc(VSTART)).filter(|&c| c != DISABLED_CHAR)
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

    /// Whether byte `c` needs more than plain queueing (`n_tty`'s
    /// `char_map`).
    fn is_special(&self, c: u8) -> bool {
        if c == DISABLED_CHAR {
            return false;
        }
        let t = &self.termios;
        let cc = |i| t.cc(i) == c;
        (c == b'\r' && (t.iflag(IGNCR) || t.iflag(ICRNL)))
            || (c == b'\n' && t.iflag(INLCR))
            || (t.lflag(ICANON) && (cc(VERASE) || cc(VKILL) || cc(VEOF) || c == b'\n' || cc(VEOL)))
            || (t.lflag(ICANON | IEXTEN)
                && (cc(VWERASE) || cc(VLNEXT) || cc(VEOL2) || (t.lflag(ECHO) && cc(VREPRINT))))
            || (t.iflag(IXON) && (cc(VSTART) || cc(VSTOP)))
            || (t.lflag(ISIG) && (cc(VINTR) || cc(VQUIT) || cc(VSUSP)))
    }

    /// `ISTRIP` and `IUCLC`.
    fn preops(&self, c: u8) -> u8 {
        let mut c = c;
        if self.termios.iflag(ISTRIP) {
            c &= 0x7f;
        }
        if self.termios.iflag(IUCLC) && self.termios.lflag(IEXTEN) {
            c = tolower(c);
        }
        c
    }

    /// Room check of `n_tty_receive_buf_common` before one byte. In
    /// canonical mode with no complete line pending, a full line keeps
    /// accepting characters (so erase and newline work) by overwriting its
    /// last one.
    fn make_room(&mut self) -> Result<(), Stall> {
        let mut free = N_TTY_BUF_SIZE.saturating_sub(self.input.len());
        if self.termios.iflag(PARMRK) {
            free = free.div_ceil(3);
        }
        if free >= 2 {
            return Ok(());
        }
        if !(self.icanon() && self.readable == 0) {
            return Err(Stall::ReadFull);
        }
        if free == 0 && self.input.len() > self.readable {
            let _ = self.input.pop_back();
        }
        Ok(())
    }

    fn new_step(&self) -> Step {
        Step {
            stage: Stage::new(self.cursor, self.erasing),
            restart: false,
        }
    }

    /// Whether `IXANY` lets this byte restart stopped output.
    fn ixany_restarts(&self) -> bool {
        self.stopped && !self.tco_stopped && self.termios.iflag(IXON | IXANY)
    }

    /// Apply a step whose echo fits: cursor, erase state, restart, echo.
    fn commit(&mut self, step: &mut Step, echo: &mut dyn OutputSink, ev: &mut Events) {
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

    fn fits(step: &Step, echo: &dyn OutputSink) -> Result<(), Stall> {
        if step.stage.len > echo.room() {
            Err(Stall::EchoFull)
        } else {
            Ok(())
        }
    }

    /// Queue processed bytes (memory reserved by the caller).
    fn put(&mut self, bytes: &[u8], ev: &mut Events) {
        let _ = self.input.push(bytes);
        if !self.icanon() {
            self.readable = self.input.len();
            ev.insert(Events::READ_READY);
        }
    }

    /// The bytes to queue for `c`: `PARMRK` doubles `\377`.
    fn doubled(&self, c: u8) -> ([u8; 2], usize) {
        if c == 0xff && self.termios.iflag(PARMRK) {
            ([c, c], 2)
        } else {
            ([c, 0], 1)
        }
    }

    /// Process input bytes arriving from the master side. Echo goes to
    /// `echo`. Stops early (fewer consumed) when the read side is full or
    /// the echo does not fit, so nothing is dropped: the unconsumed bytes
    /// stay in the caller's unprocessed-input queue.
    pub fn receive(&mut self, input: &[u8], echo: &mut dyn OutputSink) -> Receive {
        let mut r = Receive::default();
        let mut rest = input;
        while !rest.is_empty() {
            if self.is_raw() && !self.lnext {
                // Fast path: bytes pass untouched.
                let room = N_TTY_BUF_SIZE
                    .saturating_sub(self.input.len())
                    .saturating_sub(1);
                let n = room.min(rest.len());
                if n == 0 {
                    r.stall = Stall::ReadFull;
                    break;
                }
                let (now, later) = rest.split_at_checked(n).unwrap_or((rest, &[]));
                if self.input.try_reserve(n).is_err() {
                    r.stall = Stall::NoMemory;
                    break;
                }
                self.put(now, &mut r.events);
                self.lookahead = self.lookahead.saturating_sub(n);
                r.consumed = r.consumed.saturating_add(n);
                rest = later;
                continue;
            }
            let Some((&c, later)) = rest.split_first() else {
                break;
            };
            match self.receive_byte(c, echo, &mut r.events) {
                Ok(()) => {
                    self.lookahead = self.lookahead.saturating_sub(1);
                    r.consumed = r.consumed.saturating_add(1);
                    rest = later;
                }
                Err(stall) => {
                    r.stall = stall;
                    break;
                }
            }
        }
        r
    }

    fn receive_byte(
        &mut self,
        c: u8,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        self.make_room()?;
        let lookahead_done = self.lookahead > 0;
        let c = self.preops(c);
        if self.lnext {
            self.normal_char(c, echo, ev)?;
            self.lnext = false;
        } else if self.is_special(c) {
            self.special_char(c, lookahead_done, echo, ev)?;
        } else {
            self.normal_char(c, echo, ev)?;
        }
        // A byte that completed was not a stalled erase or reprint.
        self.partial = Partial::None;
        Ok(())
    }

    /// Reserve room for `n` processed bytes and, if `line_end`, one line
    /// length, so that the commit that follows cannot fail.
    fn reserve(&mut self, n: usize, line_end: bool) -> Result<(), Stall> {
        self.input.try_reserve(n).map_err(|_| Stall::NoMemory)?;
        if line_end {
            self.lines.try_reserve(2).map_err(|_| Stall::NoMemory)?;
        }
        Ok(())
    }

    /// An ordinary byte (`n_tty_receive_char`): echo and queue.
    fn normal_char(
        &mut self,
        c: u8,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        let t = self.termios;
        let mut step = self.new_step();
        step.restart = self.ixany_restarts();
        if t.lflag(ECHO) {
            step.stage.finish_erasing(&t);
            if self.line_empty() {
                step.stage.set_canon_col();
            }
            step.stage.echo(&t, c);
        }
        Self::fits(&step, echo)?;
        let (bytes, n) = self.doubled(c);
        self.reserve(n, false)?;
        self.commit(&mut step, echo, ev);
        self.put(bytes.get(..n).unwrap_or(&[]), ev);
        Ok(())
    }

    /// A byte of `n_tty`'s `char_map` (`n_tty_receive_char_special`).
    fn special_char(
        &mut self,
        c: u8,
        lookahead_done: bool,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        let t = self.termios;
        if t.iflag(IXON) && (c == t.cc(VSTART) || c == t.cc(VSTOP)) {
            if !lookahead_done {
                self.flow_char(c, ev);
            }
            return Ok(());
        }
        if t.lflag(ISIG) {
            if c == t.cc(VINTR) {
                return self.signal_char(Events::SIGINT, c, echo, ev);
            }
            if c == t.cc(VQUIT) {
                return self.signal_char(Events::SIGQUIT, c, echo, ev);
            }
            if c == t.cc(VSUSP) {
                return self.signal_char(Events::SIGTSTP, c, echo, ev);
            }
        }
        let mut step = self.new_step();
        step.restart = self.ixany_restarts();
        let mut c = c;
        if c == b'\r' {
            if t.iflag(IGNCR) {
                self.commit(&mut step, echo, ev);
                return Ok(());
            }
            if t.iflag(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.iflag(INLCR) {
            c = b'\r';
        }
        if t.lflag(ICANON) {
            if let Some(done) = self.canon_char(c, step, echo, ev) {
                return done;
            }
            step = self.new_step();
            step.restart = self.ixany_restarts();
        }
        if t.lflag(ECHO) {
            step.stage.finish_erasing(&t);
            if c == b'\n' {
                step.stage.echo_raw(&t, b'\n');
            } else {
                if self.line_empty() {
                    step.stage.set_canon_col();
                }
                step.stage.echo(&t, c);
            }
        }
        Self::fits(&step, echo)?;
        let (bytes, n) = self.doubled(c);
        self.reserve(n, false)?;
        self.commit(&mut step, echo, ev);
        self.put(bytes.get(..n).unwrap_or(&[]), ev);
        Ok(())
    }

    /// `VSTART`/`VSTOP` under `IXON`: consumed, never queued.
    fn flow_char(&mut self, c: u8, ev: &mut Events) {
        if c == self.termios.cc(VSTART) {
            self.start_tty(ev);
        } else {
            self.stop_tty(ev);
        }
    }

    /// Scan unprocessed input that cannot be received yet for `VSTART` and
    /// `VSTOP`, so that `^S`/`^Q` act even while the read side is full
    /// (`n_tty_lookahead_flow_ctrl`). `pending` is the whole unprocessed
    /// input from its front; bytes already scanned are skipped and will
    /// not act again when received.
    pub fn lookahead(&mut self, pending: &[u8]) -> Events {
        let mut ev = Events::NONE;
        let new = pending.get(self.lookahead..).unwrap_or(&[]);
        if self.termios.iflag(IXON) {
            let (start, stop) = (self.termios.cc(VSTART), self.termios.cc(VSTOP));
            for &c in new {
                if c == start || c == stop {
                    self.flow_char(c, &mut ev);
                }
            }
        }
        self.lookahead = self.lookahead.max(pending.len());
        ev
    }

    /// `VINTR`, `VQUIT`, `VSUSP` under `ISIG`: signal, flush unless
    /// `NOFLSH`, restart output, echo.
    fn signal_char(
        &mut self,
        sig: Events,
        c: u8,
        echo: &mut dyn OutputSink,
        ev: &mut Events,
    ) -> Result<(), Stall> {
        let t = self.termios;
        let mut step = self.new_step();
        if t.lflag(ECHO) {
            step.stage.echo(&t, c);
        }
        let flush = !t.lflag(NOFLSH);
        if !flush {
            Self::fits(&step, echo)?;
        }
        ev.insert(sig);
        // The echo goes out after the flush: keep it aside.
        let (saved, staged) = (step.stage.buf, step.stage.len);
        step.stage.len = 0;
        self.commit(&mut step, echo, ev);
        if flush {
            self.flush_input();
            echo.flush();
            ev.insert(Events::FLUSH_READ | Events::FLUSH_WRITE);
        }
        if t.iflag(IXON) {
            self.start_tty(ev);
        }
        // After a flush the sink has room; if it still has not, the echo of
        // the signal character is the one thing given up.
        let bytes = saved.get(..staged).unwrap_or(&[]);
        if bytes.len() <= echo.room() {
            let _ = echo.push(bytes);
        }
        Ok(())
    }

    /// Canonical-mode handling (`n_tty_receive_char_canon`); `None` when
    /// `c` is not a line-editing character.
    fn canon_char(
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
    fn newline(
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
    fn reprint(
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

/// Reading, writing and saving.
impl<S: Storage> Ldterm<S> {
    /// Length of the first complete line (with its terminator), if any.
    fn front_line(&self) -> Option<usize> {
        let lo = self.lines.get(0)?;
        let hi = self.lines.get(1)?;
        Some(usize::from(u16::from_le_bytes([lo, hi])))
    }

    fn set_front_line(&mut self, len: usize) {
        let [lo, hi] = u16::try_from(len).unwrap_or(u16::MAX).to_le_bytes();
        self.lines.set(0, lo);
        self.lines.set(1, hi);
    }

    /// Consume `n` readable bytes.
    fn consume(&mut self, n: usize) {
        let n = self.input.discard(n);
        self.readable = self.readable.saturating_sub(n);
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
            let limit = self.readable.min(out.len());
            let n = self
                .input
                .copy_out(0, out.get_mut(..limit).unwrap_or(&mut []));
            self.consume(n);
            return (ReadOutcome::Data(n), self.readable > 0);
        }
        let Some(line) = self.front_line() else {
            // No boundary recorded (memory was short when it was made).
            let limit = self.readable.min(out.len());
            let n = self
                .input
                .copy_out(0, out.get_mut(..limit).unwrap_or(&mut []));
            self.consume(n);
            return (ReadOutcome::Data(n), false);
        };
        if out.len() >= line {
            let eof = self.input.get(line.saturating_sub(1)) == Some(DISABLED_CHAR);
            let deliver = if eof { line.saturating_sub(1) } else { line };
            let n = self
                .input
                .copy_out(0, out.get_mut(..deliver).unwrap_or(&mut []));
            self.consume(line);
            let _ = self.lines.discard(2);
            if eof && n == 0 {
                return (ReadOutcome::Eof, false);
            }
            return (ReadOutcome::Data(n), false);
        }
        // Part of the line: the reader's buffer is full.
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
        for k in 0..self.lines.len() / 2 {
            let lo = self.lines.get(k.saturating_mul(2)).unwrap_or(0);
            let hi = self
                .lines
                .get(k.saturating_mul(2).saturating_add(1))
                .unwrap_or(0);
            end = end.saturating_add(usize::from(u16::from_le_bytes([lo, hi])));
            if self.input.get(end.saturating_sub(1)) == Some(DISABLED_CHAR) {
                n = n.saturating_sub(1);
            }
        }
        n
    }

    /// Bytes that [`Self::receive`] may still queue before it stalls for a
    /// reader (an estimate for flow control; canonical lines can always be
    /// edited).
    pub fn receive_room(&self) -> usize {
        N_TTY_BUF_SIZE
            .saturating_sub(self.input.len())
            .saturating_sub(1)
    }

    /// The slave's write path: `OPOST` processing (`ONLCR`, `OCRNL`,
    /// `ONOCR`, `ONLRET`, `OLCUC`, `XTABS`) with column tracking. An
    /// expansion is never split: a character whose output does not fit
    /// stays unconsumed. Returns the number of input bytes consumed;
    /// nothing while output is stopped.
    pub fn process_output(&mut self, input: &[u8], out: &mut dyn OutputSink) -> usize {
        if self.stopped {
            return 0;
        }
        let t = self.termios;
        if !t.oflag(OPOST) {
            let n = out.room().min(input.len());
            return out.push(input.get(..n).unwrap_or(&[]));
        }
        let mut done = 0usize;
        loop {
            let rest = input.get(done..).unwrap_or(&[]);
            if rest.is_empty() {
                break;
            }
            let room = out.room();
            if room == 0 {
                break;
            }
            // Run of bytes that pass unchanged (`process_output_block`).
            let mut cursor = self.cursor;
            let mut run = 0usize;
            for &c in rest.iter().take(room) {
                if !Self::simple_output(&t, &mut cursor, c) {
                    break;
                }
                run = run.saturating_add(1);
            }
            if run > 0 {
                let pushed = out.push(rest.get(..run).unwrap_or(&[]));
                if pushed == run {
                    self.cursor = cursor;
                } else {
                    // The sink took less than it said: account for what
                    // it took.
                    for &c in rest.iter().take(pushed) {
                        Self::simple_output(&t, &mut self.cursor, c);
                    }
                }
                done = done.saturating_add(pushed);
                if pushed < run {
                    break;
                }
                continue;
            }
            // One character with an expansion.
            let Some(&c) = rest.first() else {
                break;
            };
            let mut st = Stage::new(self.cursor, self.erasing);
            st.opost(&t, c);
            if st.len > room {
                break;
            }
            let _ = out.push(st.bytes());
            self.cursor = st.cursor;
            done = done.saturating_add(1);
        }
        done
    }

    /// Whether `c` is output as itself; if so, track its column.
    fn simple_output(t: &Termios, cur: &mut Cursor, c: u8) -> bool {
        match c {
            b'\n' => {
                if t.oflag(ONLCR) {
                    return false;
                }
                if t.oflag(ONLRET) {
                    cur.column = 0;
                }
                cur.canon_column = cur.column;
            }
            b'\r' => {
                if (t.oflag(ONOCR) && cur.column == 0) || t.oflag(OCRNL) {
                    return false;
                }
                cur.column = 0;
                cur.canon_column = 0;
            }
            b'\t' => return false,
            0x08 => cur.column = cur.column.saturating_sub(1),
            _ => {
                if !iscntrl(c) {
                    if t.oflag(OLCUC) {
                        return false;
                    }
                    if !is_continuation(t, c) {
                        cur.column = cur.column.wrapping_add(1);
                    }
                }
            }
        }
        true
    }

    /// Output column (for tests and diagnostics).
    pub fn column(&self) -> u32 {
        self.cursor.column
    }

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
        (0..self.lines.len() / 2).map(move |k| {
            let i = k.saturating_mul(2);
            let lo = self.lines.get(i).unwrap_or(0);
            let hi = self.lines.get(i.saturating_add(1)).unwrap_or(0);
            u16::from_le_bytes([lo, hi])
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
        self.termios = state.termios;
        self.readable = readable;
        self.cursor = Cursor {
            column: state.column,
            canon_column: state.canon_column,
        };
        self.lookahead = usize::try_from(state.lookahead).unwrap_or(usize::MAX);
        self.lnext = state.lnext;
        self.erasing = state.erasing;
        self.stopped = state.output_stopped;
        self.tco_stopped = state.tco_stopped;
        self.partial = state.partial;
        Ok(())
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
