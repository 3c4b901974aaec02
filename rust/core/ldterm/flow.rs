// SPDX-License-Identifier: GPL-2.0
//! Output flow control: `^S`/`^Q` under `IXON` (also ahead of input that
//! cannot be received yet), `IXANY`, and `TCXONC`'s `TCOOFF`/`TCOON`.

use super::super::bytes::split_at_most;
use super::super::storage::Storage;
use super::super::termios::{DISABLED_CHAR, IXANY, IXON, VSTART, VSTOP};
use super::{Events, Ldterm};

/// Stopping and restarting output.
impl<S: Storage> Ldterm<S> {
    pub(super) fn start_tty(&mut self, ev: &mut Events) {
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

    /// Whether `IXANY` lets this byte restart stopped output.
    pub(super) fn ixany_restarts(&self) -> bool {
        self.stopped && !self.tco_stopped && self.termios.iflag(IXON | IXANY)
    }

    /// `VSTART`/`VSTOP` under `IXON`: consumed, never queued.
    pub(super) fn flow_char(&mut self, c: u8, ev: &mut Events) {
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
        self.lookahead_runs([pending, &[]])
    }

    /// [`Self::lookahead`] of unprocessed input in two runs (the halves of
    /// a ring), so that it never has to be made contiguous.
    pub fn lookahead_runs(&mut self, runs: [&[u8]; 2]) -> Events {
        let mut ev = Events::NONE;
        let total = runs.iter().map(|r| r.len()).fold(0, usize::saturating_add);
        if self.termios.iflag(IXON) {
            let (start, stop) = (self.termios.cc(VSTART), self.termios.cc(VSTOP));
            // Past the scanned bytes (none when a flush of unprocessed
            // input left fewer than were scanned).
            let mut skip = self.lookahead;
            for &run in runs.iter() {
                let (seen, new) = split_at_most(run, skip);
                skip = skip.saturating_sub(seen.len());
                for &c in new {
                    if c == start || c == stop {
                        self.flow_char(c, &mut ev);
                    }
                }
            }
        }
        self.lookahead = self.lookahead.max(total);
        ev
    }
}
