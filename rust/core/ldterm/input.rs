// SPDX-License-Identifier: GPL-2.0
//! Input processing (`n_tty_receive_buf`): bytes from the master, one at a
//! time or, with nothing to interpret, in runs, into processed input.

use super::super::storage::Storage;
use super::super::termios::{
    DISABLED_CHAR, ECHO, ICANON, ICRNL, IEXTEN, IGNCR, INLCR, ISIG, ISTRIP, IUCLC, IXON, NOFLSH,
    PARMRK, VEOF, VEOL, VEOL2, VERASE, VINTR, VKILL, VLNEXT, VQUIT, VREPRINT, VSTART, VSTOP, VSUSP,
    VWERASE,
};
use super::ctype::tolower;
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

    /// The bytes to queue for `c`: `PARMRK` doubles `\377`.
    pub(super) fn doubled(&self, c: u8) -> ([u8; 2], usize) {
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
    pub(super) fn reserve(&mut self, n: usize, line_end: bool) -> Result<(), Stall> {
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

    /// Bytes that [`Self::receive`] may still queue before it stalls for a
    /// reader (an estimate for flow control; canonical lines can always be
    /// edited).
    pub fn receive_room(&self) -> usize {
        N_TTY_BUF_SIZE
            .saturating_sub(self.input.len())
            .saturating_sub(1)
    }
}
