// SPDX-License-Identifier: GPL-2.0
//! Input processing (`n_tty_receive_buf`): bytes from the master, one at a
//! time or, with nothing to interpret, in runs, into processed input.

use super::super::bytes::{split_at_most, ByteSource};
use super::super::queue::PushError;
use super::super::storage::Storage;
use super::super::termios::{
    DISABLED_CHAR, ECHO, ICANON, ICRNL, IEXTEN, IGNCR, INLCR, ISIG, ISTRIP, IUCLC, IXON, NOFLSH,
    OLCUC, OPOST, PARMRK, VEOF, VEOL, VEOL2, VERASE, VINTR, VKILL, VLNEXT, VQUIT, VREPRINT, VSTART,
    VSTOP, VSUSP, VWERASE,
};
use super::ctype::tolower;
use super::echo::{Emit, Stage, Step};
use super::{Events, Ldterm, OutputSink, Partial, N_TTY_BUF_SIZE};

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

/// The processed bytes one input character becomes: `PARMRK` doubles
/// `\377` so that a reader can tell it from a marked error.
#[derive(Clone, Copy)]
pub(super) enum Queued {
    /// The character itself.
    One(u8),
    /// The character twice.
    Doubled([u8; 2]),
}

impl Queued {
    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::One(c) => core::slice::from_ref(c),
            Self::Doubled(pair) => pair,
        }
    }
}

/// Receiving input.
impl<S: Storage> Ldterm<S> {
    /// No processing at all (`n_tty`'s `raw`): none of the flags that give
    /// a byte any meaning is set.
    fn is_raw(&self) -> bool {
        let t = &self.termios;
        t.c_iflag & (ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK) == 0
            && t.c_lflag & (ICANON | ISIG | ECHO) == 0
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

    /// Queue processed bytes (memory reserved by the caller).
    pub(super) fn put(&mut self, bytes: &[u8], ev: &mut Events) {
        let _ = self.input.push(bytes);
        if !self.icanon() {
            self.readable = self.input.len();
            ev.insert(Events::READ_READY);
        }
    }

    /// The bytes to queue for `c`.
    pub(super) fn queued(&self, c: u8) -> Queued {
        if c == 0xff && self.termios.iflag(PARMRK) {
            Queued::Doubled([c, c])
        } else {
            Queued::One(c)
        }
    }

    /// Process input bytes arriving from the master side. Echo goes to
    /// `echo`. Stops early (fewer consumed) when the read side is full or
    /// the echo does not fit, so nothing is dropped: the unconsumed bytes
    /// stay in the caller's unprocessed-input queue.
    pub fn receive(&mut self, input: &[u8], echo: &mut dyn OutputSink) -> Receive {
        self.receive_with(input, echo, true)
    }

    /// [`Self::receive`]; `plain_runs`: runs of plain printable characters
    /// may be taken in bulk ([`Self::receive_plain_run`]), else every
    /// byte takes the general path (the reference the bulk path is tested
    /// against).
    pub fn receive_with(
        &mut self,
        input: &[u8],
        echo: &mut dyn OutputSink,
        plain_runs: bool,
    ) -> Receive {
        let mut r = Receive::default();
        let mut out = Emit {
            echo,
            events: Events::NONE,
        };
        let mut rest = input;
        while let Some(&c) = rest.first() {
            let taken = if self.is_raw() && !self.lnext {
                self.receive_raw(rest, &mut out.events)
            } else {
                match plain_runs.then(|| self.receive_plain_run(rest, &mut out)) {
                    Some(n) if n > 0 => Ok(n),
                    _ => self.receive_byte(c, &mut out).map(|()| 1),
                }
            };
            match taken {
                Ok(n) => {
                    r.consumed = r.consumed.saturating_add(n);
                    rest = split_at_most(rest, n).1;
                }
                Err(stall) => {
                    r.stall = stall;
                    break;
                }
            }
        }
        r.events = out.events;
        r
    }

    /// The fast path of raw mode: as many bytes as fit pass untouched.
    /// Returns how many.
    fn receive_raw(&mut self, bytes: &[u8], ev: &mut Events) -> Result<usize, Stall> {
        let (now, _) = split_at_most(bytes, self.receive_room());
        if now.is_empty() {
            return Err(Stall::ReadFull);
        }
        self.input
            .try_reserve(now.len())
            .map_err(|_| Stall::NoMemory)?;
        self.put(now, ev);
        self.lookahead = self.lookahead.saturating_sub(now.len());
        Ok(now.len())
    }

    /// Whether input now passes untouched, so that a caller may hand it
    /// over with [`Self::receive_raw_from`] instead of [`Self::receive`]:
    /// none of the flags that give a byte a meaning is set (see
    /// `is_raw`) and no `VLNEXT` is pending. Output being stopped does not
    /// matter: without `ECHO` there is no echo to hold.
    pub fn passes_raw(&self) -> bool {
        self.is_raw() && !self.lnext
    }

    /// The raw fast path straight from the master's writer: up to `max`
    /// bytes of `src` into processed input in one copy, exactly what
    /// [`Self::receive`] would take of them while [`Self::passes_raw`]
    /// holds. Returns how many and the events (`READ_READY`).
    pub fn receive_raw_from<R: ByteSource + ?Sized>(
        &mut self,
        src: &mut R,
        max: usize,
    ) -> Result<(usize, Events), PushError> {
        let room = self.receive_room().min(max);
        let n = self.input.push_from(src, room)?;
        let mut ev = Events::NONE;
        if n > 0 {
            self.readable = self.input.len();
            ev.insert(Events::READ_READY);
            self.lookahead = self.lookahead.saturating_sub(n);
        }
        Ok((n, ev))
    }

    /// A run of plain characters at the front of `bytes` in one go: what
    /// [`Self::receive_byte`] does for each, byte by byte, when nothing
    /// about them or the state asks for more than queueing and echoing
    /// them as they are (a typed line's letters). Plain: printable ASCII
    /// that is no special character of the settings; the state: no
    /// pending `VLNEXT`, `ECHOPRT` erase or `IXANY` restart, a line
    /// already started (its first character marks the canonical column),
    /// no `ISTRIP`, `IUCLC`, `PARMRK` or `OLCUC`. Takes at most what
    /// fits before the queue's room check would act and what the echo
    /// sink takes; returns how many (0: take the general path).
    fn receive_plain_run(&mut self, bytes: &[u8], out: &mut Emit<'_>) -> usize {
        let t = self.termios;
        if self.lnext
            || self.erasing
            || self.ixany_restarts()
            || self.line_empty()
            || t.iflag(ISTRIP)
            || t.iflag(PARMRK)
            || (t.iflag(IUCLC) && t.lflag(IEXTEN))
            || (t.oflag(OPOST) && t.oflag(OLCUC))
        {
            return 0;
        }
        let echo = t.lflag(ECHO);
        // `make_room` lets a byte in while two bytes are free.
        let mut max = N_TTY_BUF_SIZE
            .saturating_sub(self.input.len())
            .saturating_sub(1);
        if echo {
            max = max.min(out.echo.room());
        }
        let (window, _) = split_at_most(bytes, max);
        let n = window
            .iter()
            .position(|&c| !(0x20..0x7f).contains(&c) || self.is_special(c))
            .unwrap_or(window.len());
        let (run, _) = split_at_most(window, n);
        if run.is_empty() || self.input.try_reserve(run.len()).is_err() {
            return 0;
        }
        if echo {
            let _ = out.echo.push(run);
            if t.oflag(OPOST) {
                let cols = u32::try_from(run.len()).unwrap_or(u32::MAX);
                self.cursor.column = self.cursor.column.wrapping_add(cols);
            }
        }
        self.put(run, &mut out.events);
        self.partial = Partial::None;
        self.lookahead = self.lookahead.saturating_sub(run.len());
        run.len()
    }

    /// One byte through the discipline, all or nothing.
    fn receive_byte(&mut self, c: u8, out: &mut Emit<'_>) -> Result<(), Stall> {
        self.make_room()?;
        let lookahead_done = self.lookahead > 0;
        let c = self.preops(c);
        if self.lnext {
            self.normal_char(c, out)?;
            self.lnext = false;
        } else if self.is_special(c) {
            self.special_char(c, lookahead_done, out)?;
        } else {
            self.normal_char(c, out)?;
        }
        // A byte that completed was not a stalled erase or reprint.
        self.partial = Partial::None;
        self.lookahead = self.lookahead.saturating_sub(1);
        Ok(())
    }

    /// Reserve room for `n` processed bytes and, if `line_end`, one line
    /// length, so that the commit that follows cannot fail.
    pub(super) fn reserve(&mut self, n: usize, line_end: bool) -> Result<(), Stall> {
        self.input.try_reserve(n).map_err(|_| Stall::NoMemory)?;
        if line_end {
            self.lines.try_reserve(2).map_err(|_| Stall::NoMemory)?;
        }
        Ok(())
    }

    /// An ordinary byte (`n_tty_receive_char`): echo and queue.
    fn normal_char(&mut self, c: u8, out: &mut Emit<'_>) -> Result<(), Stall> {
        let mut step = self.new_step();
        step.restart = self.ixany_restarts();
        self.echo_char(&mut step.stage, c);
        self.queue_char(c, step, out)
    }

    /// The echo of a character that is queued as typed: it ends an
    /// `ECHOPRT` erase and, first on a line, marks where the line starts.
    fn echo_char(&self, stage: &mut Stage, c: u8) {
        let t = &self.termios;
        if t.lflag(ECHO) {
            stage.finish_erasing(t);
            if self.line_empty() {
                stage.set_canon_col();
            }
            stage.echo(t, c);
        }
    }

    /// Commits `step` and queues `c`, once its echo fits and the memory
    /// is reserved.
    fn queue_char(&mut self, c: u8, mut step: Step, out: &mut Emit<'_>) -> Result<(), Stall> {
        Self::fits(&step, out)?;
        let queued = self.queued(c);
        self.reserve(queued.as_bytes().len(), false)?;
        self.commit(&mut step, out);
        self.put(queued.as_bytes(), &mut out.events);
        Ok(())
    }

    /// A byte of `n_tty`'s `char_map` (`n_tty_receive_char_special`).
    fn special_char(
        &mut self,
        c: u8,
        lookahead_done: bool,
        out: &mut Emit<'_>,
    ) -> Result<(), Stall> {
        let t = self.termios;
        if t.iflag(IXON) && (c == t.cc(VSTART) || c == t.cc(VSTOP)) {
            if !lookahead_done {
                self.flow_char(c, &mut out.events);
            }
            return Ok(());
        }
        if let Some(sig) = self.signal_of(c) {
            return self.signal_char(sig, c, out);
        }
        let mut step = self.new_step();
        step.restart = self.ixany_restarts();
        let Some(c) = self.translate_cr_nl(c) else {
            self.commit(&mut step, out);
            return Ok(());
        };
        if t.lflag(ICANON) {
            if let Some(done) = self.canon_char(c, step, out) {
                return done;
            }
            step = self.new_step();
            step.restart = self.ixany_restarts();
        }
        if c == b'\n' && t.lflag(ECHO) {
            step.stage.finish_erasing(&t);
            step.stage.echo_raw(&t, b'\n');
        } else {
            self.echo_char(&mut step.stage, c);
        }
        self.queue_char(c, step, out)
    }

    /// The signal `c` raises under `ISIG`, if any.
    fn signal_of(&self, c: u8) -> Option<Events> {
        let t = &self.termios;
        if !t.lflag(ISIG) {
            return None;
        }
        [
            (VINTR, Events::SIGINT),
            (VQUIT, Events::SIGQUIT),
            (VSUSP, Events::SIGTSTP),
        ]
        .into_iter()
        .find(|&(cc, _)| c == t.cc(cc))
        .map(|(_, sig)| sig)
    }

    /// `IGNCR`, `ICRNL` and `INLCR`: what a carriage return or newline
    /// stands for, `None` for an ignored carriage return.
    fn translate_cr_nl(&self, c: u8) -> Option<u8> {
        let t = &self.termios;
        match c {
            b'\r' if t.iflag(IGNCR) => None,
            b'\r' if t.iflag(ICRNL) => Some(b'\n'),
            b'\n' if t.iflag(INLCR) => Some(b'\r'),
            _ => Some(c),
        }
    }

    /// `VINTR`, `VQUIT`, `VSUSP` under `ISIG`: signal, flush unless
    /// `NOFLSH`, restart output, echo.
    fn signal_char(&mut self, sig: Events, c: u8, out: &mut Emit<'_>) -> Result<(), Stall> {
        let t = self.termios;
        let mut step = self.new_step();
        if t.lflag(ECHO) {
            step.stage.echo(&t, c);
        }
        let flush = !t.lflag(NOFLSH);
        if !flush {
            Self::fits(&step, out)?;
        }
        out.events.insert(sig);
        // The echo goes out after the flush: keep it aside.
        let held = step.stage.take_bytes();
        self.commit(&mut step, out);
        if flush {
            self.flush_input();
            out.echo.flush();
            out.events.insert(Events::FLUSH_READ | Events::FLUSH_WRITE);
        }
        if t.iflag(IXON) {
            self.start_tty(&mut out.events);
        }
        // After a flush the sink has room; if it still has not, the echo of
        // the signal character is the one thing given up.
        let bytes = held.as_bytes();
        if bytes.len() <= out.echo.room() {
            let _ = out.echo.push(bytes);
        }
        Ok(())
    }

    /// Bytes that [`Self::receive`] may still queue before it stalls for a
    /// reader (an estimate for flow control; canonical lines can always be
    /// edited).
    pub fn receive_room(&self) -> usize {
        N_TTY_BUF_SIZE
            .saturating_sub(self.input.len())
            .saturating_sub(1)
    }
}
