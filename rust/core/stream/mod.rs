// SPDX-License-Identifier: GPL-2.0
//! One pty as two streams, as pure logic.
//!
//! ```text
//!   master fd                                                  slave fd
//!   stream head ── tioc ── ptm ═══════════ pts ── ldterm ── tioc ── stream head
//!   (MasterHead)   (Tioc)  (Ptm)    (Pts: unprocessed input)  (Ldterm)
//! ```
//!
//! Bytes the master writes cross ptm → pts and wait, *unprocessed*, in the
//! pts input queue until ldterm takes them; ldterm keeps *processed* input
//! (complete lines and the half-typed line) for the slave's reader and sends
//! echo up to the master's stream head. Bytes the slave writes go through
//! ldterm's output processing straight to the master's stream head. So every
//! byte in flight sits in exactly one named queue, and a checkpoint never
//! has to run a byte through the line discipline twice.
//!
//! The kernel wraps a [`PtyPair`] in the pair's lock and does the blocking,
//! user copies, wake-ups and signals that the [`Effects`] ask for. The host
//! tests drive the very same code.//!
//! # Where things are
//!
//! The modules of the chains, each with its state: `head.rs`
//! ([`MasterHead`]), `tioc.rs` ([`Tioc`], [`Winsize`]), `ptm.rs` ([`Ptm`],
//! [`packet`]), `pts.rs` ([`Pts`]); ldterm is [`super::ldterm`]. This file
//! holds the pair and its operations; `input.rs` moves one batch of input
//! through ldterm.

mod head;
mod input;
mod ptm;
mod pts;
mod tioc;

use super::bytes::{ByteSink, ByteSource, SliceSink, SliceSource};
use super::errno::Errno;
use super::ldterm::{Events, Ldterm, OutputSink, ReadOutcome};
use super::queue::{ByteQueue, PushError};
use super::storage::{AllocError, Storage};
use super::termios::{
    Termios, ADDRB, ICANON, IXON, TCIFLUSH, TCIOFF, TCIOFLUSH, TCION, TCOFLUSH, TCOOFF, TCOON,
    VSTART, VSTOP,
};

pub use head::{MasterHead, MasterHeadSaved, SlaveHead, MASTER_HEAD_BOUND};
pub use ptm::{packet, Ptm, PtmFacts, PtmSaved};
pub use pts::{Pts, PtsFacts, PtsSaved, PTS_INPUT_BOUND};
pub use tioc::{SlaveTiocSaved, Tioc, TiocFacts, TiocSaved, Winsize, DEFAULT_SPEED, PID_MAX_LIMIT};

/// The master stream: head → tioc → ptm.
pub struct MasterStream<S: Storage> {
    /// Stream head.
    pub head: MasterHead<S>,
    /// Terminal ioctls.
    pub tioc: Tioc,
    /// Driver end.
    pub ptm: Ptm,
}

/// The slave stream: head → tioc → ldterm → pts. The slave's stream head
/// reads ldterm's processed input directly.
pub struct SlaveStream<S: Storage> {
    /// Terminal ioctls.
    pub tioc: Tioc,
    /// Line discipline.
    pub ldterm: Ldterm<S>,
    /// Driver end.
    pub pts: Pts<S>,
}

/// Room in the master's stream head below which a slave writer may be
/// asleep: the largest output of one character (a tab expanded to spaces
/// under `XTABS`), which [`Ldterm::process_output`] never splits.
pub const SLAVE_WRITER_ROOM: usize = 8;

/// Who must be woken after an operation. Operations report edges: readers
/// when their queue gains what they wait for, writers when a full queue
/// gets room, everybody on a change of state (hangup, thaw).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wake(u8);

impl Wake {
    /// Nobody.
    pub const NONE: Self = Self(0);
    /// Master readers (and pollers for `POLLIN`).
    pub const MASTER_READ: Self = Self(1);
    /// Master writers (`POLLOUT`).
    pub const MASTER_WRITE: Self = Self(2);
    /// Slave readers.
    pub const SLAVE_READ: Self = Self(4);
    /// Slave writers.
    pub const SLAVE_WRITE: Self = Self(8);
    /// Everybody (hangup, flush).
    pub const ALL: Self = Self(15);

    /// Whether any of `other` is set.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether nothing is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Wake {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Wake {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// Signals for the slave's foreground process group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals(u8);

impl Signals {
    /// None.
    pub const NONE: Self = Self(0);
    /// `SIGINT` (`VINTR`).
    pub const INT: Self = Self(1);
    /// `SIGQUIT` (`VQUIT`).
    pub const QUIT: Self = Self(2);
    /// `SIGTSTP` (`VSUSP`).
    pub const TSTP: Self = Self(4);
    /// `SIGWINCH` (window size changed).
    pub const WINCH: Self = Self(8);

    /// Whether every signal of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether none is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOrAssign for Signals {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// What the kernel must do after an operation: wake-ups and signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Wake these waiters.
    pub wake: Wake,
    /// Send these signals to the slave's foreground process group.
    pub signals: Signals,
}

/// When a slave read lets unprocessed input into ldterm
/// ([`PtyPair::slave_read_piece`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refill {
    /// After this piece (a read's first piece; every piece in canonical
    /// mode).
    Now,
    /// When ldterm has nothing left to read, or the read ends.
    WhenDrained,
}

/// Result of a read or write on one end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// This many bytes moved.
    Done(usize),
    /// Nothing can move now: block, or `EAGAIN` with `O_NONBLOCK`.
    WouldBlock,
    /// End of file: `read` returns 0.
    Eof,
    /// The other end is gone: `EIO`.
    Hangup,
    /// A queue could not grow and nothing moved: `ENOMEM`.
    NoMemory,
    /// Copying from or to the caller's memory failed and nothing moved:
    /// `EFAULT`.
    Fault,
}

/// Poll readiness of one end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// A read would not block.
    pub readable: bool,
    /// A write would not block.
    pub writable: bool,
    /// The other end hung up.
    pub hangup: bool,
    /// Packet-mode status is pending (`POLLPRI`).
    pub priority: bool,
}

/// Why an ioctl-level request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// An argument is out of range. `EINVAL`.
    Invalid,
    /// The end is hung up. `EIO`.
    Hangup,
}

impl RequestError {
    /// The errno for this error.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Invalid => Errno::EINVAL,
            Self::Hangup => Errno::EIO,
        }
    }
}

/// The slave's output path into the master's head, remembering whether a
/// push failed for lack of memory (so the writer gets `ENOMEM` instead of
/// sleeping for room that will never come).
struct OutputToMaster<'a, S: Storage> {
    queue: &'a mut ByteQueue<S>,
    no_memory: bool,
}

impl<S: Storage> OutputSink for OutputToMaster<'_, S> {
    fn room(&self) -> usize {
        self.queue.room()
    }

    fn push(&mut self, bytes: &[u8]) -> usize {
        self.queue.push(bytes).unwrap_or_else(|AllocError| {
            self.no_memory = true;
            0
        })
    }

    fn flush(&mut self) {
        self.queue.clear();
    }
}

/// Open/closed bookkeeping that decides hangup semantics, as Linux does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Open slave files.
    pub slave_opens: u32,
    /// The last slave file closed (Linux `TTY_OTHER_CLOSED` on the master):
    /// master reads return `EIO` once drained, until the slave is reopened.
    pub slave_closed: bool,
    /// The master closed: the slave is hung up (reads 0, writes `EIO`).
    pub master_closed: bool,
}

/// Which streams are frozen. A frozen stream passes only checkpoint and
/// restart messages: reads and writes on *both* ends wait (bytes cross
/// between the streams), and nothing queued is lost or reordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freeze {
    /// The master stream is frozen.
    pub master: bool,
    /// The slave stream is frozen.
    pub slave: bool,
}

impl Freeze {
    /// Whether either stream is frozen (then no data moves).
    pub fn any(self) -> bool {
        self.master || self.slave
    }
}

/// One pty: both streams and everything in flight between them.
pub struct PtyPair<S: Storage> {
    /// The master stream.
    pub master: MasterStream<S>,
    /// The slave stream.
    pub slave: SlaveStream<S>,
    /// Which ends are open.
    pub life: Lifecycle,
    /// Which streams are frozen.
    pub freeze: Freeze,
    /// Take the general paths only, never the raw fast paths (master
    /// writes straight into ldterm, raw input without the piece-by-piece
    /// batch): the reference the fast paths are tested against.
    #[doc(hidden)]
    pub reference_paths: bool,
}

impl<S: Storage> PtyPair<S> {
    /// A fresh pair with Linux's unix98 pty defaults; `storage` supplies
    /// the (initially empty) memory of each queue.
    pub fn new(mut storage: impl FnMut() -> S) -> Self {
        Self {
            master: MasterStream {
                head: MasterHead {
                    read: ByteQueue::new(storage(), MASTER_HEAD_BOUND),
                    held: 0,
                },
                tioc: Tioc::default(),
                ptm: Ptm::default(),
            },
            slave: SlaveStream {
                tioc: Tioc {
                    winsize: Winsize::default(),
                    speeds: [DEFAULT_SPEED; 2],
                },
                ldterm: Ldterm::new(storage(), storage(), Termios::pty_slave_default()),
                pts: Pts {
                    input: ByteQueue::new(storage(), PTS_INPUT_BOUND),
                },
            },
            life: Lifecycle::default(),
            freeze: Freeze::default(),
            reference_paths: false,
        }
    }

    /// Freezes the stream of `master` (true) or slave end: from now on no
    /// data moves on either end until both streams are thawed.
    pub fn freeze(&mut self, master: bool) {
        if master {
            self.freeze.master = true;
        } else {
            self.freeze.slave = true;
        }
    }

    /// Thaws one stream; when none is frozen any more, waiters go on.
    pub fn thaw(&mut self, master: bool, fx: &mut Effects) {
        if master {
            self.freeze.master = false;
        } else {
            self.freeze.slave = false;
        }
        if !self.freeze.any() {
            fx.wake |= Wake::ALL;
        }
    }

    /// Turns ldterm events into packet status, signals and wake-ups.
    fn absorb(&mut self, ev: Events, fx: &mut Effects) {
        let mut status = 0u8;
        if ev.contains(Events::FLUSH_READ) {
            status |= packet::FLUSHREAD;
            fx.wake |= Wake::MASTER_WRITE;
        }
        if ev.contains(Events::FLUSH_WRITE) {
            status |= packet::FLUSHWRITE;
            fx.wake |= Wake::SLAVE_WRITE;
        }
        // Both in one batch (`^S^Q`): as `pty_stop`/`pty_start` one after
        // the other, the last one wins, which is the state output is in.
        let stopped = self.slave.ldterm.output_stopped();
        let (stop, start) = (
            ev.contains(Events::STOP_OUTPUT),
            ev.contains(Events::START_OUTPUT),
        );
        if stop && (stopped || !start) {
            status |= packet::STOP;
        }
        if start {
            if !stopped || !stop {
                status |= packet::START;
            }
            fx.wake |= Wake::SLAVE_WRITE | Wake::MASTER_READ;
        }
        if ev.contains(Events::DOSTOP) {
            status |= packet::DOSTOP;
        }
        if ev.contains(Events::NOSTOP) {
            status |= packet::NOSTOP;
        }
        if ev.contains(Events::READ_READY) {
            fx.wake |= Wake::SLAVE_READ;
        }
        if ev.contains(Events::SIGINT) {
            fx.signals |= Signals::INT;
        }
        if ev.contains(Events::SIGQUIT) {
            fx.signals |= Signals::QUIT;
        }
        if ev.contains(Events::SIGTSTP) {
            fx.signals |= Signals::TSTP;
        }
        self.post_status(status, fx);
    }

    /// Records packet status for the master, as `pty.c` does: STOP and
    /// START cancel each other, as do DOSTOP and NOSTOP.
    fn post_status(&mut self, status: u8, fx: &mut Effects) {
        if status == 0 || !self.master.ptm.packet {
            return;
        }
        let ptm = &mut self.master.ptm;
        if status & packet::STOP != 0 {
            ptm.packet_status &= !packet::START;
        }
        if status & packet::START != 0 {
            ptm.packet_status &= !packet::STOP;
        }
        if status & packet::DOSTOP != 0 {
            ptm.packet_status &= !packet::NOSTOP;
        }
        if status & packet::NOSTOP != 0 {
            ptm.packet_status &= !packet::DOSTOP;
        }
        ptm.packet_status |= status;
        fx.wake |= Wake::MASTER_READ;
    }

    /// `write(2)` on the master: the bytes enter the pts input queue and
    /// ldterm processes what it can.
    pub fn master_write(&mut self, data: &[u8], fx: &mut Effects) -> Io {
        self.master_write_from(&mut SliceSource::new(data), fx)
    }

    /// [`Self::master_write`] of the bytes of `src`, copied once, straight
    /// into the queue that keeps them. As much as the pts input queue has
    /// room for is taken, as always; when that queue is empty and ldterm
    /// would pass the bytes untouched ([`Ldterm::passes_raw`]), they skip
    /// it and land in ldterm's processed input directly, which is where
    /// [`Self::run_input`] would have moved them at once. Only what ldterm
    /// has no room for waits in the pts input queue.
    pub fn master_write_from<R: ByteSource + ?Sized>(
        &mut self,
        src: &mut R,
        fx: &mut Effects,
    ) -> Io {
        if self.freeze.any() {
            return Io::WouldBlock;
        }
        if src.remaining() == 0 {
            return Io::Done(0);
        }
        if self.master.ptm.output_stopped {
            return Io::WouldBlock;
        }
        let budget = src.remaining().min(self.slave.pts.input.room());
        if budget == 0 {
            // Full with no slave open: nobody can make room until a slave
            // reopens, so the writer is not left asleep (EIO).
            return if self.life.slave_closed {
                Io::Hangup
            } else {
                Io::WouldBlock
            };
        }
        let mut done = 0usize;
        if self.slave.pts.input.is_empty() && self.raw_fast_path() {
            match self.slave.ldterm.receive_raw_from(src, budget) {
                Ok((n, ev)) => {
                    done = n;
                    self.absorb(ev, fx);
                }
                Err(PushError::Fault) => return Io::Fault,
                Err(PushError::NoMemory) => {}
            }
        }
        if done < budget {
            match self
                .slave
                .pts
                .input
                .push_from(src, budget.saturating_sub(done))
            {
                Ok(n) => {
                    done = done.saturating_add(n);
                    if n > 0 {
                        self.run_input(fx);
                    }
                }
                Err(_) if done > 0 => {}
                Err(PushError::Fault) => return Io::Fault,
                Err(PushError::NoMemory) => return Io::NoMemory,
            }
        }
        Io::Done(done)
    }

    /// `read(2)` on the master. In packet mode a pending status byte comes
    /// alone; data comes after a leading [`packet::DATA`] byte.
    pub fn master_read(&mut self, out: &mut [u8], fx: &mut Effects) -> Io {
        self.master_read_to(&mut SliceSink::new(out), fx)
    }

    /// [`Self::master_read`] into `out`, copied once, straight from the
    /// master's stream head.
    pub fn master_read_to<W: ByteSink + ?Sized>(&mut self, out: &mut W, fx: &mut Effects) -> Io {
        if self.freeze.any() {
            // A hangup wins over the freeze: with the slave gone, waiting
            // would be forever (blocking) or a spin (poll says POLLHUP).
            // The queued bytes stay, consistent with the image.
            return if self.life.slave_closed {
                Io::Hangup
            } else {
                Io::WouldBlock
            };
        }
        if out.room() == 0 {
            return Io::Done(0);
        }
        let mut written = 0usize;
        if self.master.ptm.packet {
            let status = self.master.ptm.packet_status;
            if status != 0 {
                if out.take(&[status]).is_err() {
                    return Io::Fault;
                }
                self.master.ptm.packet_status = 0;
                return Io::Done(1);
            }
            if self.master.head.visible() == 0 {
                return self.master_empty();
            }
            if out.take(&[packet::DATA]).is_err() {
                return Io::Fault;
            }
            written = 1;
        }
        let room_before = self.master.head.read.room();
        let visible = self.master.head.visible();
        let Ok(n) = self.master.head.read.pop_to(out, visible) else {
            return Io::Fault;
        };
        if n == 0 && written == 0 {
            return self.master_empty();
        }
        if room_before < SLAVE_WRITER_ROOM {
            // A slave writer may be asleep for room: the full-to-not-full
            // edge.
            fx.wake |= Wake::SLAVE_WRITE;
        }
        // Room for echo: input that stalled on it may go on.
        self.run_input(fx);
        Io::Done(n.saturating_add(written))
    }

    /// Whether input may take the raw fast paths: ldterm passes it
    /// untouched ([`Ldterm::passes_raw`]).
    fn raw_fast_path(&self) -> bool {
        !self.reference_paths && self.slave.ldterm.passes_raw()
    }

    fn master_empty(&self) -> Io {
        if self.life.slave_closed {
            Io::Hangup
        } else {
            Io::WouldBlock
        }
    }

    /// `read(2)` on the slave.
    pub fn slave_read(&mut self, out: &mut [u8], fx: &mut Effects) -> Io {
        self.slave_read_part(out, fx).0
    }

    /// [`PtyPair::slave_read`], also saying whether the same `read(2)`
    /// may go on at once (see [`Ldterm::read_part`]).
    pub fn slave_read_part(&mut self, out: &mut [u8], fx: &mut Effects) -> (Io, bool) {
        self.slave_read_piece(out, Refill::Now, fx)
    }

    /// [`PtyPair::slave_read_part`] for a piece of a `read(2)` that has
    /// already taken one (the tty core reads in 64-byte pieces), where
    /// `refill` may defer letting unprocessed input into ldterm: in
    /// non-canonical mode, until ldterm has nothing left for the reader,
    /// or the read ends (an empty `out`: the tty core's last call). Moving
    /// 64 bytes after every 64-byte piece cost more than the copy; a read
    /// that ends with the refill deferred leaves ldterm with bytes to
    /// read, whose reading refills it.
    pub fn slave_read_piece(
        &mut self,
        out: &mut [u8],
        refill: Refill,
        fx: &mut Effects,
    ) -> (Io, bool) {
        if self.freeze.any() {
            return (Io::WouldBlock, false);
        }
        if self.life.master_closed {
            return (Io::Eof, false);
        }
        let (r, more) = match self.slave.ldterm.read_part(out) {
            (ReadOutcome::Data(n), more) => (Io::Done(n), more),
            (ReadOutcome::Eof, _) => (Io::Eof, false),
            (ReadOutcome::Empty, _) => return (Io::WouldBlock, false),
        };
        // Room in the read side: unprocessed input may go on.
        let canonical = self.slave.ldterm.termios().lflag(ICANON);
        if refill == Refill::Now || canonical || out.is_empty() || !self.slave.ldterm.has_input() {
            self.run_input(fx);
        }
        let more = if canonical {
            more
        } else {
            self.slave.ldterm.has_input()
        };
        (r, more)
    }

    /// `write(2)` on the slave: output processing into the master's head.
    pub fn slave_write(&mut self, data: &[u8], fx: &mut Effects) -> Io {
        if self.freeze.any() {
            return Io::WouldBlock;
        }
        if self.life.master_closed {
            return Io::Hangup;
        }
        if data.is_empty() {
            return Io::Done(0);
        }
        // `n_tty_write` first writes out pending echo (`process_echoes`).
        self.release_echo(fx);
        let visible_before = self.master.head.visible();
        let mut sink = OutputToMaster {
            queue: &mut self.master.head.read,
            no_memory: false,
        };
        let n = self.slave.ldterm.process_output(data, &mut sink);
        if n == 0 {
            return if sink.no_memory {
                Io::NoMemory
            } else {
                Io::WouldBlock
            };
        }
        if visible_before == 0 {
            // Master readers sleep only on an empty head: the
            // empty-to-non-empty edge.
            fx.wake |= Wake::MASTER_READ;
        }
        Io::Done(n)
    }

    /// Bytes the tty core itself writes to the slave (`tty_write_message`,
    /// `tty->ops->write`): raw, straight to the master's reader, as
    /// `pty_write` does. Returns how many fit.
    pub fn slave_write_raw(&mut self, data: &[u8], fx: &mut Effects) -> usize {
        if self.life.master_closed || self.freeze.any() {
            return 0;
        }
        let n = self.master.head.read.push(data).unwrap_or(0);
        if n > 0 {
            fx.wake |= Wake::MASTER_READ;
        }
        n
    }

    /// Readiness of the master for `poll`.
    pub fn master_ready(&self) -> Ready {
        let pending_status = self.master.ptm.packet && self.master.ptm.packet_status != 0;
        let flowing = !self.freeze.any();
        Ready {
            readable: flowing && (self.master.head.visible() > 0 || pending_status),
            writable: flowing && !self.master.ptm.output_stopped && self.slave.pts.input.room() > 0,
            hangup: self.life.slave_closed,
            priority: flowing && pending_status,
        }
    }

    /// Readiness of the slave for `poll`.
    pub fn slave_ready(&self) -> Ready {
        if self.life.master_closed {
            return Ready {
                readable: true,
                writable: true,
                hangup: true,
                priority: false,
            };
        }
        let flowing = !self.freeze.any();
        Ready {
            readable: flowing && self.slave.ldterm.readable(),
            writable: flowing
                && !self.slave.ldterm.output_stopped()
                && self.master.head.read.room() > 0,
            hangup: false,
            priority: false,
        }
    }

    /// Whether a blocked master reader should wake up (data, status, hangup).
    pub fn master_read_ready(&self) -> bool {
        let r = self.master_ready();
        r.readable || r.hangup
    }

    /// Whether a blocked slave reader with this many bytes already copied
    /// should look again.
    pub fn slave_read_ready(&self) -> bool {
        self.life.master_closed || self.slave.ldterm.has_input()
    }

    /// The slave's settings (`TCGETS` on either end: Linux answers the
    /// master's `TCGETS` with the slave's termios too).
    pub fn termios(&self) -> Termios {
        *self.slave.ldterm.termios()
    }

    /// `TCSETS`/`TCSETSW`/`TCSETSF` on either end (pty writes need no
    /// draining, so `TCSETSW` is `TCSETS`); `flush` is `TCSETSF`.
    pub fn set_termios(&mut self, mut t: Termios, flush: bool, fx: &mut Effects) {
        t.pty_fixup();
        // `tty_set_termios` keeps `ADDRB`: only RS-485 configuration may
        // change it, and a pty has none.
        let old = self.slave.ldterm.termios().c_cflag;
        t.c_cflag = (t.c_cflag & !ADDRB) | (old & ADDRB);
        if flush {
            self.flush_slave_input(fx);
            self.post_status(packet::FLUSHREAD, fx);
        }
        let ixon_cleared = self.termios().iflag(IXON) && !t.iflag(IXON);
        let ev = self.slave.ldterm.set_termios(t);
        self.absorb(ev, fx);
        if ixon_cleared {
            // `n_tty_set_termios` restarts output and processes echoes.
            self.release_echo(fx);
        }
        // New settings may let stalled input through, or make data readable.
        self.run_input(fx);
        fx.wake |= Wake::SLAVE_READ | Wake::SLAVE_WRITE;
    }

    /// Window size (both ends see the last one set, as with Linux ptys).
    pub fn winsize(&self) -> Winsize {
        self.slave.tioc.winsize
    }

    /// `TIOCSWINSZ` on either end: `SIGWINCH` when it changed.
    pub fn set_winsize(&mut self, ws: Winsize, fx: &mut Effects) {
        if self.slave.tioc.winsize == ws {
            return;
        }
        self.slave.tioc.winsize = ws;
        self.master.tioc.winsize = ws;
        fx.signals |= Signals::WINCH;
    }

    fn flush_slave_input(&mut self, fx: &mut Effects) {
        self.slave.pts.input.clear();
        self.slave.ldterm.flush_input();
        fx.wake |= Wake::MASTER_WRITE;
    }

    /// `TCFLSH` on the slave. Input: unprocessed and processed input.
    /// Output: what the slave wrote has already reached the master's
    /// stream head, which counts as transmitted (as a settled Linux pty
    /// shows), so only the packet status reports it.
    pub fn slave_flush(&mut self, which: u32, fx: &mut Effects) -> Result<(), RequestError> {
        let (input, output) = flush_selector(which)?;
        let mut status = 0;
        if input {
            self.flush_slave_input(fx);
            status |= packet::FLUSHREAD;
        }
        if output {
            status |= packet::FLUSHWRITE;
        }
        self.post_status(status, fx);
        Ok(())
    }

    /// `TCFLSH` on the master. Input: the master's stream head. Output:
    /// what the master wrote that ldterm has not taken yet.
    pub fn master_flush(&mut self, which: u32, fx: &mut Effects) -> Result<(), RequestError> {
        let (input, output) = flush_selector(which)?;
        if input {
            // Held echo is still the slave's (n_tty's echo buffer).
            let visible = self.master.head.visible();
            self.master.head.read.discard(visible);
            fx.wake |= Wake::SLAVE_WRITE;
            self.run_input(fx);
        }
        if output {
            self.slave.pts.input.clear();
            fx.wake |= Wake::MASTER_WRITE;
        }
        Ok(())
    }

    /// `TCXONC` on the slave.
    pub fn slave_flow(&mut self, action: u32, fx: &mut Effects) -> Result<(), RequestError> {
        match action {
            TCOOFF => {
                let ev = self.slave.ldterm.stop_output();
                self.absorb(ev, fx);
            }
            TCOON => {
                let ev = self.slave.ldterm.start_output();
                self.absorb(ev, fx);
                self.run_input(fx);
            }
            // The STOP/START character goes to the master unprocessed, as
            // `tty_send_xchar` writes it on a pty: past a `^S` stop (which
            // it lifts for the moment: START then STOP in packet mode),
            // ahead of held echo, and not at all after `TCOOFF`.
            TCIOFF | TCION => {
                let cc = if action == TCIOFF { VSTOP } else { VSTART };
                let c = self.slave.ldterm.termios().cc(cc);
                if c == 0 || self.slave.ldterm.save().tco_stopped {
                    return Ok(());
                }
                if self.slave.ldterm.output_stopped() {
                    self.post_status(packet::START, fx);
                    self.post_status(packet::STOP, fx);
                }
                if self.push_before_held(c) {
                    fx.wake |= Wake::MASTER_READ;
                }
            }
            _ => return Err(RequestError::Invalid),
        }
        Ok(())
    }

    /// `process_echoes`: held echo goes out unless output is stopped.
    fn release_echo(&mut self, fx: &mut Effects) {
        if self.master.head.held > 0 && !self.slave.ldterm.output_stopped() {
            self.master.head.held = 0;
            fx.wake |= Wake::MASTER_READ;
        }
    }

    /// Queues `c` for the master in front of the held echo.
    fn push_before_held(&mut self, c: u8) -> bool {
        let read = &mut self.master.head.read;
        let at = read.len().saturating_sub(self.master.head.held);
        if read.push(&[c]) != Ok(1) {
            return false;
        }
        let mut i = read.len().saturating_sub(1);
        while i > at {
            let prev = i.saturating_sub(1);
            if let Some(b) = read.get(prev) {
                read.set(i, b);
            }
            i = prev;
        }
        read.set(at, c);
        true
    }

    /// `TCXONC` on the master.
    pub fn master_flow(&mut self, action: u32, fx: &mut Effects) -> Result<(), RequestError> {
        match action {
            TCOOFF => self.master.ptm.output_stopped = true,
            TCOON => {
                self.master.ptm.output_stopped = false;
                fx.wake |= Wake::MASTER_WRITE;
            }
            // Dropped while the master's output is stopped (`TCOOFF`), as
            // the pty write of `tty_send_xchar` then takes nothing.
            TCIOFF | TCION if self.master.ptm.output_stopped => {}
            TCIOFF | TCION => {
                let cc = if action == TCIOFF { VSTOP } else { VSTART };
                // The master's own termios is raw; its c_cc are the defaults.
                let c = Termios::pty_master_default().cc(cc);
                if self.slave.pts.input.push(&[c]) == Ok(1) {
                    self.run_input(fx);
                }
            }
            _ => return Err(RequestError::Invalid),
        }
        Ok(())
    }

    /// `TIOCPKT`: packet mode on or off; turning it on clears old status.
    pub fn set_packet(&mut self, on: bool) {
        if on && !self.master.ptm.packet {
            self.master.ptm.packet_status = 0;
        }
        self.master.ptm.packet = on;
    }

    /// `FIONREAD` on the master (held echo does not count).
    pub fn master_inq(&self) -> usize {
        self.master.head.visible()
    }

    /// `FIONREAD` on the slave.
    pub fn slave_inq(&self) -> usize {
        self.slave.ldterm.input_available()
    }

    /// A slave file was opened: the master's "other closed" state ends.
    pub fn slave_opened(&mut self) {
        self.life.slave_opens = self.life.slave_opens.saturating_add(1);
        self.life.slave_closed = false;
    }

    /// A slave file was closed; the last one makes master reads fail with
    /// `EIO` once drained, and `POLLHUP`.
    pub fn slave_released(&mut self, fx: &mut Effects) {
        self.life.slave_opens = self.life.slave_opens.saturating_sub(1);
        if self.life.slave_opens == 0 {
            self.life.slave_closed = true;
            fx.wake |= Wake::ALL;
        }
    }

    /// The number of slave files open changed to `n` (the kernel counts
    /// them itself, as the tty core does): the first one ends the master's
    /// "other closed" state, none left starts it.
    pub fn set_slave_opens(&mut self, n: u32, fx: &mut Effects) {
        let before = self.life.slave_opens;
        self.life.slave_opens = n;
        if n > 0 {
            self.life.slave_closed = false;
        } else if before > 0 || !self.life.slave_closed {
            self.life.slave_closed = true;
            fx.wake |= Wake::ALL;
        }
    }

    /// The master closed: the slave is hung up; its input is dropped.
    pub fn master_released(&mut self, fx: &mut Effects) {
        self.life.master_closed = true;
        // A hung-up pair has nothing left to protect: its slave's readers
        // must see the hangup even if it was left frozen for migration.
        self.freeze = Freeze::default();
        self.flush_slave_input(fx);
        self.master.head.read.clear();
        self.master.head.held = 0;
        fx.wake |= Wake::ALL;
    }
}

/// Decodes a `TCFLSH` selector into (input, output).
fn flush_selector(which: u32) -> Result<(bool, bool), RequestError> {
    match which {
        TCIFLUSH => Ok((true, false)),
        TCOFLUSH => Ok((false, true)),
        TCIOFLUSH => Ok((true, true)),
        _ => Err(RequestError::Invalid),
    }
}
