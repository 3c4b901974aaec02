// SPDX-License-Identifier: GPL-2.0
//! One batch of input (`n_tty`'s terms): unprocessed input from the pts
//! queue through ldterm, echo into the master's stream head.

use super::super::bytes::split_at_most;
use super::super::bytes::SliceSource;
use super::super::ldterm::{Events, OutputSink, Stall};
use super::super::queue::ByteQueue;
use super::super::storage::Storage;
use super::super::termios::{Termios, ISTRIP, IXON, VSTART, VSTOP};
use super::{Effects, PtyPair, SlaveStream, Wake};

/// Where ldterm's echo goes during one batch of input: the master's stream
/// head. Echo is always queued, so input processing (signals, `IXANY`,
/// complete lines) goes on while output is stopped; `run_input` then
/// holds it out of the master's sight, like `n_tty`'s echo buffer.
struct ToMaster<'a, S: Storage> {
    queue: &'a mut ByteQueue<S>,
    /// Visible bytes when this batch of input began: a flush (signal
    /// character) drops what came after them. Earlier bytes count as
    /// taken in by the master, which a flush leaves alone on Linux; echo of
    /// the same batch and held echo are discarded as `n_tty` does.
    keep: usize,
    flushed: bool,
}

impl<S: Storage> OutputSink for ToMaster<'_, S> {
    fn room(&self) -> usize {
        self.queue.room()
    }

    fn push(&mut self, bytes: &[u8]) -> usize {
        self.queue.push(bytes).unwrap_or(0)
    }

    fn flush(&mut self) {
        self.queue.truncate(self.keep);
        self.flushed = true;
    }
}

/// Where echo stands during one batch of input, in lengths of the
/// master's stream head.
struct EchoMarks {
    /// Bytes the master could see when the batch began.
    visible_before: usize,
    /// The head's length when the batch began.
    len_before: usize,
    /// Echo before this point has gone out.
    out_mark: usize,
}

/// Whether ldterm will take `c` for the `VSTART` or `VSTOP` character
/// `cc` of `t` (under `IXON`, after `ISTRIP`).
fn is_flow_char(t: &Termios, c: u8, cc: usize) -> bool {
    let stripped = if t.iflag(ISTRIP) { c & 0x7f } else { c };
    t.iflag(IXON) && c != 0 && stripped == t.cc(cc)
}

/// Fewest bytes [`piece_len`] looks at for a flow character.
const MIN_PIECE_SCAN: usize = 64;

/// Length of the next piece of `front` to hand to ldterm: one byte while
/// output is stopped, else up to and including the next `VSTART` or
/// `VSTOP`, so that the batch sees where echo goes out.
///
/// Only the first `window` bytes are looked at (at least
/// [`MIN_PIECE_SCAN`]): about what ldterm can take now. A piece that ends
/// short of a flow character changes nothing, while scanning the whole
/// pending input on every call made a canonical reader behind 64 KiB of
/// typed-ahead input quadratic (the tty core reads in 64-byte pieces).
fn piece_len(front: &[u8], stopped: bool, t: &Termios, window: usize) -> usize {
    if stopped {
        return 1;
    }
    if !t.iflag(IXON) {
        // No flow character without IXON: no need to look.
        return front.len();
    }
    let (look, _) = split_at_most(front, window.max(MIN_PIECE_SCAN));
    look.iter()
        .position(|&c| is_flow_char(t, c, VSTART) || is_flow_char(t, c, VSTOP))
        .map_or(look.len(), |i| i.saturating_add(1))
}

/// Moving input.
impl<S: Storage> PtyPair<S> {
    /// Lets ldterm take as much unprocessed input as it can: one batch, in
    /// `n_tty`'s terms.
    ///
    /// Echo follows `n_tty`'s echo buffer: it goes out at the end of the
    /// batch, or earlier where `^Q` (or an `IXANY` restart) processes
    /// echoes, and what is left when the batch ends with output stopped is
    /// held. To see where that happens, input is handed to ldterm in
    /// pieces that end at each `VSTART`/`VSTOP` byte, and a byte at a time
    /// while output is stopped; how input is cut never changes what ldterm
    /// does.
    pub(super) fn run_input(&mut self, fx: &mut Effects) {
        if self.slave.pts.input.is_empty() {
            // Nothing to process: no echo, no events, no edges.
            return;
        }
        let was_full = self.slave.pts.input.is_full();
        if self.raw_fast_path() {
            self.run_raw_input(fx);
        } else {
            self.run_input_pieces(fx);
        }
        if was_full && !self.slave.pts.input.is_full() {
            // Master writers sleep only on a full queue: the
            // full-to-not-full edge.
            fx.wake |= Wake::MASTER_WRITE;
        }
    }

    /// [`Self::run_input`] when ldterm passes every byte untouched: no
    /// echo, no flow character, so no pieces and no echo marks, just bulk
    /// moves into processed input; as before, input that finds ldterm
    /// full is looked ahead (which, without `IXON`, only counts it).
    fn run_raw_input(&mut self, fx: &mut Effects) {
        let SlaveStream { ldterm, pts, .. } = &mut self.slave;
        let mut ev = Events::NONE;
        let stalled = loop {
            let (front, _) = pts.input.front_slices();
            if front.is_empty() {
                break false;
            }
            let len = front.len();
            match ldterm.receive_raw_from(&mut SliceSource::new(front), len) {
                Ok((0, _)) | Err(_) => break true,
                Ok((n, got)) => {
                    ev |= got;
                    pts.input.discard(n);
                }
            }
        };
        if stalled {
            let (front, back) = pts.input.front_slices();
            ev |= ldterm.lookahead_runs([front, back]);
        }
        self.absorb(ev, fx);
    }

    /// [`Self::run_input`] in pieces, following echo.
    fn run_input_pieces(&mut self, fx: &mut Effects) {
        let visible_before = self.master.head.visible();
        let mut marks = EchoMarks {
            visible_before,
            len_before: self.master.head.read.len(),
            out_mark: visible_before,
        };
        while self.input_piece(&mut marks, fx) {}
        self.end_input_batch(&marks, fx);
    }

    /// Hands the next piece of unprocessed input to ldterm and notes where
    /// echo went out; whether there may be more to do.
    fn input_piece(&mut self, marks: &mut EchoMarks, fx: &mut Effects) -> bool {
        let was_stopped = self.slave.ldterm.output_stopped();
        let t = *self.slave.ldterm.termios();
        let (front, _) = self.slave.pts.input.front_slices();
        let window = self.slave.ldterm.receive_room();
        let (piece, _) = split_at_most(front, piece_len(front, was_stopped, &t, window));
        if piece.is_empty() {
            return false;
        }
        let ends_with_start = piece.last().is_some_and(|&c| is_flow_char(&t, c, VSTART));
        let len_before = self.master.head.read.len();
        let mut sink = ToMaster {
            queue: &mut self.master.head.read,
            keep: marks.visible_before,
            flushed: false,
        };
        let r = self
            .slave
            .ldterm
            .receive_with(piece, &mut sink, !self.reference_paths);
        let flushed = sink.flushed;
        let whole = r.consumed == piece.len();
        self.slave.pts.input.discard(r.consumed);
        if flushed {
            fx.wake |= Wake::SLAVE_WRITE;
        }
        let len_now = self.master.head.read.len();
        if !self.slave.ldterm.output_stopped() {
            if was_stopped {
                // Restarted by this byte: echo before it goes out.
                marks.out_mark = len_before.min(len_now);
            } else if whole && ends_with_start {
                // `^Q` processes echoes even when output runs.
                marks.out_mark = len_now;
            }
        }
        self.absorb(r.events, fx);
        if r.stall == Stall::None {
            return true;
        }
        self.lookahead_flow(marks, fx);
        r.consumed > 0
    }

    /// Input stalled: `^S`/`^Q` further on must still act (`n_tty`'s
    /// lookahead), wherever they sit in the ring (scanned where they are:
    /// making the ring contiguous would move all of it after every read).
    fn lookahead_flow(&mut self, marks: &mut EchoMarks, fx: &mut Effects) {
        let (front, back) = self.slave.pts.input.front_slices();
        let ev = self.slave.ldterm.lookahead_runs([front, back]);
        if ev.contains(Events::START_OUTPUT) {
            marks.out_mark = self.master.head.read.len();
        }
        self.absorb(ev, fx);
    }

    /// The end of the batch (`flush_echoes`): if output is stopped now,
    /// what was not out already is held; otherwise new echo goes out with
    /// the held echo before it. (A batch without echo leaves held echo
    /// alone, as `flush_echoes` does after `TCOON`.)
    fn end_input_batch(&mut self, marks: &EchoMarks, fx: &mut Effects) {
        let head = &mut self.master.head;
        let len = head.read.len();
        if self.slave.ldterm.output_stopped() {
            head.held = len.saturating_sub(marks.out_mark.min(len));
        } else if len != marks.len_before || marks.out_mark != marks.visible_before {
            head.held = 0;
        }
        if head.visible() != marks.visible_before {
            fx.wake |= Wake::MASTER_READ;
        }
    }
}
