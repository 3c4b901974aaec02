// SPDX-License-Identifier: GPL-2.0
//! Checkpoint and restart of one stream of a [`PtyPair`].
//!
//! [`checkpoint`] walks the chain of one end (master: head, tioc, ptm;
//! slave: head, tioc, ldterm, pts) and lets each module fill its block of
//! the checkpoint message ([`super::image`]) with its *internal* state
//! (settings, flags, positions) and its *external* state (the in-flight
//! bytes queued at it). [`restore`] checks a decoded image completely —
//! kind, chain, every field of every block, and how the blocks fit
//! together — before it touches the pair, reserves all memory, and only
//! then loads the blocks: on any error the pair is left as it was. Both
//! are pure logic; the kernel calls them under the pair's lock.
//!
//! Every byte in flight sits in exactly one queue of exactly one stream,
//! so each byte is saved exactly once:
//!
//! - master head queue (slave output and echo for the master's reader):
//!   master `head` external;
//! - processed input (ldterm): the readable part, i.e. complete lines, is
//!   ldterm *external*; the half-typed canonical line is ldterm *internal*
//!   state (it is the line discipline's editing buffer);
//! - unprocessed input (master writes ldterm has not taken yet): `pts`
//!   external.
//!
//! Processed and unprocessed input stay apart, so after restart no byte
//! runs through the line discipline twice, and a half-typed line is
//! completed by what is typed next.
//!
//! # Shared facts
//!
//! Each image restores only its own stream (the two images may come in
//! either order) and returns its part of [`PairMeta`] ([`MetaPart`]).
//!
//! - Window size: set through either end, kept in both tioc modules, so
//!   both images carry it. Each restore sets its own tioc; the pair's
//!   window size (`TIOCGWINSZ` on either end, [`PtyPair::winsize`]) is the
//!   slave tioc's, so *the slave image wins*.
//! - Termios is ldterm's, slave image only (the master's `TCGETS` answers
//!   with the slave's settings).
//! - Packet mode and status, master `TCOOFF`, the lock (`TIOCSPTLCK`),
//!   whether a master file was open, and the identity of the socket the
//!   pair serves (`CKPT_SOCKET_SET`), if any: master image (ptm).
//! - `TIOCEXCL`: per end, in that end's tioc block. Line speeds
//!   (`TCGETS2`) and the foreground process group: slave tioc block. The
//!   group is recorded for the restoring tool only: process groups are
//!   never attached by number (the restorer sets the foreground through
//!   the tty core, as the owner of the processes).
//! - The slave node's owner and permissions: pts block (a restored node
//!   belongs to the user it belonged to, not to the restorer).
//! - Slave index and pty mode: both ptm and pts blocks (each image names
//!   its pair on its own), and must equal the image header's mode.
//! - Open accounting is the kernel's: restored files are opened through
//!   the normal open path. The master image records whether the slave
//!   was closed (`TTY_OTHER_CLOSED`): restore applies it only while no
//!   slave file is open. The slave image records the slave open count and
//!   whether the master had closed, for the restarting tool; restore does
//!   not apply them.
//! - Freeze flags are not saved: restore always leaves the restored
//!   stream frozen, and the kernel thaws it when the restart commits.
//!
//! # Module blocks, state version 2
//!
//! Little-endian; `bool` is one byte, 0 or 1. `I` internal, `E` external.
//!
//! Master stream:
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! head   I      0    4 held: echo held back by ^S at the back of the
//!                      queue, out of the master's sight; <= E length
//! head   E      0    n master head queue, front first (slave output and
//!                      echo); n <= MASTER_HEAD_BOUND
//! tioc   I      0    2 winsize rows
//!               2    2 winsize cols
//!               4    2 winsize xpixel
//!               6    2 winsize ypixel
//!               8    1 exclusive (TIOCEXCL on the master), bool
//! tioc   E      -    0 (empty)
//! ptm    I      0    4 slave index
//!               4    1 pty mode: 0 AT&T, 1 BSD (= image header's)
//!               5    1 slave locked (TIOCSPTLCK), bool
//!               6    1 packet mode (TIOCPKT), bool
//!               7    1 pending packet status: TIOCPKT_* bits 0x3f, never
//!                      both STOP and START nor both DOSTOP and NOSTOP
//!               8    1 master output stopped (TCXONC TCOOFF), bool
//!               9    1 a master file was open, bool
//!              10    1 slave closed (TTY_OTHER_CLOSED), bool
//!              11    1 has socket: a socket is associated, bool
//!              12   42 socket identity (all zero without a socket):
//!              12    2   family
//!              14    2   socket type
//!              16    2   protocol
//!              18    2   local port
//!              20    2   remote port
//!              22   16   local address
//!              38   16   remote address
//! ptm    E      -    0 (empty)
//! ```
//!
//! Slave stream:
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! head   I,E    -    0 (empty: the slave's reader reads ldterm's queue;
//!                      the block keeps the chain visible)
//! tioc   I      0    8 winsize rows, cols, xpixel, ypixel (u16 each)
//!               8    1 exclusive (TIOCEXCL on the slave), bool
//!               9    4 foreground process group, i32, 0..=PID_MAX_LIMIT
//!              13    4 input speed, bits/s (c_ispeed)
//!              17    4 output speed, bits/s (c_ospeed)
//! tioc   E      -    0 (empty)
//! ldterm I      0   56 LdtermState:
//!               0   36   termios: c_iflag, c_oflag, c_cflag, c_lflag
//!                        (u32 each), c_line, c_cc[19]; c_cflag has CS8
//!                        and CREAD, no PARENB, no ADDRB (pty_fixup)
//!              36    4   output column
//!              40    4   canonical line start column
//!              44    4   readable: bytes of processed input a reader
//!                        may take (= readable part of E)
//!              48    4   lookahead: unprocessed bytes scanned for ^S/^Q,
//!                        <= PTS_INPUT_BOUND
//!              52    1   flags: 1 lnext, 2 erasing, 4 output stopped,
//!                        8 stopped by TCOOFF (implies 4); others zero
//!              53    1   step in progress: 0 none, 1 reprint
//!              54    2   reprint position (0 when no step),
//!                        <= half-typed line length
//!              56    4 P: length of the half-typed canonical line
//!              60    P half-typed line (0 unless ICANON)
//! ldterm E      0    4 L: number of complete lines (0 unless ICANON),
//!                      <= LINES_BOUND / 2
//!               4   2L line lengths (u16 each, > 0), oldest first; they
//!                      add up to `readable` under ICANON
//!            4+2L    r readable processed input, r = `readable`;
//!                      r + P <= ldterm INPUT_BOUND
//! pts    I      0    4 slave index
//!               4    1 pty mode (= image header's)
//!               5    4 open slave files at checkpoint
//!               9    1 master closed (slave hung up), bool
//!              10    4 node owner uid (as the checkpointing process sees it)
//!              14    4 node group gid
//!              18    2 node permission bits, <= 0o7777
//! pts    E      0    n unprocessed input (master writes ldterm has not
//!                      taken), front first; n <= PTS_INPUT_BOUND
//! ```
//!
//! # Errors and errno
//!
//! [`checkpoint`] and [`checkpoint_len`] fail with an [`ImageError`]
//! (`ERANGE` when `out` is too small). [`RestoreError::errno`]:
//!
//! ```text
//! Image(e)    e.errno(): EINVAL, EBADMSG, EPROTONOSUPPORT, ...
//! WrongKind   EINVAL   image of the other end
//! BadState    EINVAL   a module block is malformed or inconsistent
//! NotFresh    EBUSY    the stream already holds data or pending state
//! NoMemory    ENOMEM   the queues could not be allocated
//! ```

use core::fmt;

use super::codec::{FieldError, FieldReader, FieldWriter};
use super::end::End;
use super::errno::Errno;
use super::image::{
    check_chain, decode, ImageError, ImageSizer, ImageWriter, ModuleBlock, ModuleName, ModulePart,
    PtyMode, StreamImage, StreamImageHeader,
};
use super::ldterm::{
    LdtermState, Partial, RestoreError as LdtermRestoreError, INPUT_BOUND, LINES_BOUND,
};
use super::queue::ByteQueue;
use super::storage::Storage;
use super::stream::{packet, Ptm, PtyPair, Winsize, MASTER_HEAD_BOUND, PTS_INPUT_BOUND};
use super::termios::{Termios, ADDRB, CREAD, CS8, CSIZE, ICANON, PARENB};
use super::waitlist::SocketId;

/// Largest process group number a slave's foreground may have (the
/// kernel's `PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// Offset of the reprint position in ldterm's internal part.
const REPRINT_POS_AT: usize = Termios::SIZE + 18;

/// Per-pair facts the kernel keeps outside [`PtyPair`] that travel in the
/// images. Open accounting (`slave_opens`, `slave_closed`,
/// `master_closed`) is taken from [`PtyPair::life`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairMeta {
    /// Slave index (AT&T) or BSD pair number.
    pub index: u32,
    /// How the pair was created (also the image header's mode).
    pub mode: PtyMode,
    /// The slave cannot be opened (`TIOCSPTLCK`).
    pub locked: bool,
    /// `TIOCEXCL`, per end: `[master, slave]`.
    pub exclusive: [bool; 2],
    /// The slave's foreground process group, 0 for none.
    pub foreground_pgrp: i32,
    /// A master file is open.
    pub master_open: bool,
    /// The socket the pair serves (`CKPT_SOCKET_SET`), if any.
    pub socket: Option<SocketId>,
    /// Owner and permissions of the slave node.
    pub node: NodeOwner,
}

/// Owner and permission bits of a slave node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeOwner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Permission bits (`0o620` for a fresh node).
    pub mode: u16,
}

/// Largest permission bits a node may have.
pub const NODE_MODE_MASK: u16 = 0o7777;

impl PairMeta {
    /// Facts of a new pair: unlocked, not exclusive, no foreground group,
    /// master open, no socket, a root-owned `0o620` node.
    pub const fn new(index: u32, mode: PtyMode) -> Self {
        Self {
            index,
            mode,
            locked: false,
            exclusive: [false; 2],
            foreground_pgrp: 0,
            master_open: true,
            socket: None,
            node: NodeOwner {
                uid: 0,
                gid: 0,
                mode: 0o620,
            },
        }
    }
}

/// What a master image says about the pair (ptm and master tioc blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterMeta {
    /// Slave index.
    pub index: u32,
    /// Pty mode.
    pub mode: PtyMode,
    /// The slave was locked.
    pub locked: bool,
    /// `TIOCEXCL` on the master.
    pub exclusive: bool,
    /// A master file was open.
    pub master_open: bool,
    /// No slave file was open (`TTY_OTHER_CLOSED`).
    pub slave_closed: bool,
    /// The socket the pair served, if any.
    pub socket: Option<SocketId>,
}

/// What a slave image says about the pair (pts and slave tioc blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaveMeta {
    /// Slave index.
    pub index: u32,
    /// Pty mode.
    pub mode: PtyMode,
    /// `TIOCEXCL` on the slave.
    pub exclusive: bool,
    /// Foreground process group, 0 for none.
    pub foreground_pgrp: i32,
    /// Slave files open at checkpoint.
    pub slave_opens: u32,
    /// The master had closed (the slave was hung up).
    pub master_closed: bool,
    /// Owner and permissions of the slave node.
    pub node: NodeOwner,
}

/// The part of [`PairMeta`] one image carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaPart {
    /// From a master image.
    Master(MasterMeta),
    /// From a slave image.
    Slave(SlaveMeta),
}

impl MetaPart {
    /// Slave index.
    pub fn index(&self) -> u32 {
        match self {
            Self::Master(m) => m.index,
            Self::Slave(s) => s.index,
        }
    }

    /// Pty mode.
    pub fn mode(&self) -> PtyMode {
        match self {
            Self::Master(m) => m.mode,
            Self::Slave(s) => s.mode,
        }
    }

    /// Stores this part's facts in `meta`, leaving the other end's alone.
    pub fn apply(&self, meta: &mut PairMeta) {
        meta.index = self.index();
        meta.mode = self.mode();
        match self {
            Self::Master(m) => {
                meta.locked = m.locked;
                meta.exclusive[0] = m.exclusive;
                meta.master_open = m.master_open;
                meta.socket = m.socket;
            }
            Self::Slave(s) => {
                meta.exclusive[1] = s.exclusive;
                meta.foreground_pgrp = s.foreground_pgrp;
                meta.node = s.node;
            }
        }
    }
}

/// Why [`restore`] refused an image. The pair is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The image itself is malformed, aborted, or of another chain: the
    /// image error's errno ([`ImageError::errno`]).
    Image(ImageError),
    /// The image is of the other end. `EINVAL`.
    WrongKind {
        /// The end being restored.
        expected: End,
        /// The image's end.
        found: End,
    },
    /// The stream already holds data or pending state: restore only into
    /// a freshly opened end. `EBUSY`.
    NotFresh {
        /// The end being restored.
        kind: End,
    },
    /// The queues could not be allocated. `ENOMEM`.
    NoMemory,
    /// A module's block is malformed or does not fit the rest. `EINVAL`.
    BadState {
        /// Which module.
        module: ModuleName,
        /// Which part of its block.
        part: ModulePart,
        /// Byte offset within that part.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl RestoreError {
    /// The errno to return (see the module documentation).
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Image(e) => e.errno(),
            Self::WrongKind { .. } | Self::BadState { .. } => Errno::EINVAL,
            Self::NotFresh { .. } => Errno::EBUSY,
            Self::NoMemory => Errno::ENOMEM,
        }
    }
}

impl From<ImageError> for RestoreError {
    fn from(e: ImageError) -> Self {
        Self::Image(e)
    }
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Image(e) => e.fmt(f),
            Self::WrongKind { expected, found } => write!(
                f,
                "image of the {} end given to the {} end",
                found.name(),
                expected.name()
            ),
            Self::NotFresh { kind } => write!(
                f,
                "the {} stream already holds data: restore needs a fresh end",
                kind.name()
            ),
            Self::NoMemory => f.write_str("out of memory for the restored queues"),
            Self::BadState {
                module,
                part,
                offset,
                what,
            } => write!(f, "{module} {part} state at offset {offset}: {what}"),
        }
    }
}

impl core::error::Error for RestoreError {}

// ---------------------------------------------------------------------
// Checkpoint
// ---------------------------------------------------------------------

/// One part of a module block, written through a [`FieldWriter`].
type Part<'p> = &'p dyn Fn(&mut FieldWriter<'_>) -> Result<(), FieldError>;

/// Where the chain's blocks go: a size count or an image.
trait Blocks {
    fn block(
        &mut self,
        name: ModuleName,
        internal: Part<'_>,
        external: Part<'_>,
    ) -> Result<(), ImageError>;
}

/// Length of one part, by the very code that writes it.
fn part_len(name: ModuleName, part: ModulePart, write: Part<'_>) -> Result<usize, ImageError> {
    let mut w = FieldWriter::counting();
    write(&mut w)
        .and_then(|()| w.finish())
        .map_err(|e| ImageError::in_module(e, name, part))
}

struct Sizing(ImageSizer);

impl Blocks for Sizing {
    fn block(
        &mut self,
        name: ModuleName,
        internal: Part<'_>,
        external: Part<'_>,
    ) -> Result<(), ImageError> {
        let i = part_len(name, ModulePart::Internal, internal)?;
        let e = part_len(name, ModulePart::External, external)?;
        self.0.add(i, e)
    }
}

struct Writing<'a>(ImageWriter<'a>);

impl Blocks for Writing<'_> {
    fn block(
        &mut self,
        name: ModuleName,
        internal: Part<'_>,
        external: Part<'_>,
    ) -> Result<(), ImageError> {
        let i = part_len(name, ModulePart::Internal, internal)?;
        let e = part_len(name, ModulePart::External, external)?;
        self.0
            .module_with(name, i, e, |w| internal(w), |w| external(w))
    }
}

/// `n` as a `u32` field at the writer's position.
fn len32(w: &FieldWriter<'_>, n: usize) -> Result<u32, FieldError> {
    u32::try_from(n).map_err(|_| FieldError::Invalid {
        offset: w.position(),
    })
}

/// Writes the bytes `start..end` of `q` (front = 0).
fn put_queue<S: Storage>(
    w: &mut FieldWriter<'_>,
    q: &ByteQueue<S>,
    start: usize,
    end: usize,
) -> Result<(), FieldError> {
    let bad = FieldError::Invalid {
        offset: w.position(),
    };
    if start > end || end > q.len() {
        return Err(bad);
    }
    let (a, b) = q.front_slices();
    let split = a.len();
    let first = a.get(start.min(split)..end.min(split)).ok_or(bad)?;
    let second = b
        .get(start.saturating_sub(split)..end.saturating_sub(split))
        .ok_or(bad)?;
    w.put_bytes(first)?;
    w.put_bytes(second)
}

fn put_winsize(w: &mut FieldWriter<'_>, ws: Winsize) -> Result<(), FieldError> {
    w.put_u16(ws.rows)?;
    w.put_u16(ws.cols)?;
    w.put_u16(ws.xpixel)?;
    w.put_u16(ws.ypixel)
}

/// Whether a socket is associated, then its identity (zeros without one).
fn put_socket(w: &mut FieldWriter<'_>, socket: Option<&SocketId>) -> Result<(), FieldError> {
    w.put_bool(socket.is_some())?;
    let Some(s) = socket else {
        return w.put_zeros(SocketId::ENCODED_LEN);
    };
    w.put_u16(s.family)?;
    w.put_u16(s.sock_type)?;
    w.put_u16(s.protocol)?;
    w.put_u16(s.local_port)?;
    w.put_u16(s.remote_port)?;
    w.put_bytes(&s.local_addr)?;
    w.put_bytes(&s.remote_addr)
}

fn empty(_: &mut FieldWriter<'_>) -> Result<(), FieldError> {
    Ok(())
}

/// Walks the chain of `kind`, head first, handing each module's block to
/// `out`.
fn describe<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
    out: &mut dyn Blocks,
) -> Result<(), ImageError> {
    match kind {
        End::Master => {
            let m = &pair.master;
            let q = &m.head.read;
            out.block(
                ModuleName::Head,
                &|w| {
                    let held = len32(w, m.head.held)?;
                    w.put_u32(held)
                },
                &|w| put_queue(w, q, 0, q.len()),
            )?;
            out.block(
                ModuleName::Tioc,
                &|w| {
                    put_winsize(w, m.tioc.winsize)?;
                    w.put_bool(meta.exclusive[0])
                },
                &empty,
            )?;
            out.block(
                ModuleName::Ptm,
                &|w| {
                    w.put_u32(meta.index)?;
                    w.put_u8(meta.mode.as_u8())?;
                    w.put_bool(meta.locked)?;
                    w.put_bool(m.ptm.packet)?;
                    w.put_u8(m.ptm.packet_status)?;
                    w.put_bool(m.ptm.output_stopped)?;
                    w.put_bool(meta.master_open)?;
                    w.put_bool(pair.life.slave_closed)?;
                    put_socket(w, meta.socket.as_ref())
                },
                &empty,
            )
        }
        End::Slave => {
            let s = &pair.slave;
            let input = s.ldterm.processed_input();
            let readable = s.ldterm.readable_len();
            out.block(ModuleName::Head, &empty, &empty)?;
            out.block(
                ModuleName::Tioc,
                &|w| {
                    put_winsize(w, s.tioc.winsize)?;
                    w.put_bool(meta.exclusive[1])?;
                    w.put_i32(meta.foreground_pgrp)?;
                    w.put_u32(s.tioc.speeds[0])?;
                    w.put_u32(s.tioc.speeds[1])
                },
                &empty,
            )?;
            out.block(
                ModuleName::Ldterm,
                &|w| {
                    s.ldterm.save().write(w)?;
                    let pending = len32(w, input.len().saturating_sub(readable))?;
                    w.put_u32(pending)?;
                    put_queue(w, input, readable, input.len())
                },
                &|w| {
                    let lines = len32(w, s.ldterm.line_lengths().count())?;
                    w.put_u32(lines)?;
                    for l in s.ldterm.line_lengths() {
                        w.put_u16(l)?;
                    }
                    put_queue(w, input, 0, readable)
                },
            )?;
            out.block(
                ModuleName::Pts,
                &|w| {
                    w.put_u32(meta.index)?;
                    w.put_u8(meta.mode.as_u8())?;
                    w.put_u32(pair.life.slave_opens)?;
                    w.put_bool(pair.life.master_closed)?;
                    w.put_u32(meta.node.uid)?;
                    w.put_u32(meta.node.gid)?;
                    w.put_u16(meta.node.mode)
                },
                &|w| {
                    let q = &s.pts.input;
                    put_queue(w, q, 0, q.len())
                },
            )
        }
    }
}

/// Size of the image [`checkpoint`] writes for this stream now.
pub fn checkpoint_len<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
) -> Result<usize, ImageError> {
    let mut sizing = Sizing(ImageSizer::new());
    describe(pair, kind, meta, &mut sizing)?;
    Ok(sizing.0.image_len())
}

/// Writes the checkpoint message of the `kind` stream of `pair` into
/// `out` and returns its length. Nothing is written if `out` is shorter
/// than [`checkpoint_len`] (`ERANGE`). The image is checked as [`restore`]
/// would check it before it is handed out, so a state that could not be
/// restored fails here, at checkpoint time.
pub fn checkpoint<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
    checkpoint_id: u64,
    out: &mut [u8],
) -> Result<usize, ImageError> {
    let needed = checkpoint_len(pair, kind, meta)?;
    if out.len() < needed {
        return Err(ImageError::OutputTooSmall {
            needed,
            available: out.len(),
        });
    }
    let header = StreamImageHeader {
        kind,
        mode: meta.mode,
        checkpoint_id,
    };
    let mut writing = Writing(ImageWriter::begin(out, &header, kind.chain().len())?);
    describe(pair, kind, meta, &mut writing)?;
    let len = writing.0.finish()?;
    let image = decode(out.get(..len).unwrap_or(&[]))?;
    check_chain(&image, kind.chain())?;
    let checked = match kind {
        End::Master => parse_master(&image).map(|_| ()),
        End::Slave => parse_slave(&image).map(|_| ()),
    };
    checked.map_err(|e| match e {
        RestoreError::Image(e) => e,
        RestoreError::BadState {
            module,
            part,
            offset,
            ..
        } => ImageError::in_module(FieldError::Invalid { offset }, module, part),
        // Not produced by parsing; kept total without a panic.
        _ => ImageError::ModuleState {
            module: ModuleName::Head,
            part: ModulePart::Internal,
            error: FieldError::Invalid { offset: 0 },
        },
    })?;
    Ok(len)
}

// ---------------------------------------------------------------------
// Restore: strict decoding
// ---------------------------------------------------------------------

/// A strict reader of one part of one module block, whose errors name the
/// module, the part and the offset.
struct Fields<'a> {
    r: FieldReader<'a>,
    module: ModuleName,
    part: ModulePart,
}

impl<'a> Fields<'a> {
    fn internal(block: &ModuleBlock<'a>) -> Self {
        Self {
            r: FieldReader::new(block.internal),
            module: block.name,
            part: ModulePart::Internal,
        }
    }

    fn external(block: &ModuleBlock<'a>) -> Self {
        Self {
            r: FieldReader::new(block.external),
            module: block.name,
            part: ModulePart::External,
        }
    }

    fn bad(&self, offset: usize, what: &'static str) -> RestoreError {
        RestoreError::BadState {
            module: self.module,
            part: self.part,
            offset,
            what,
        }
    }

    fn field(&self, e: FieldError) -> RestoreError {
        match e {
            FieldError::Short { offset, .. } => self.bad(offset, "truncated field"),
            FieldError::Invalid { offset } => self.bad(offset, "flag is neither 0 nor 1"),
            FieldError::Leftover { offset, .. } => {
                self.bad(offset, "bytes left over after the last field")
            }
        }
    }

    fn pos(&self) -> usize {
        self.r.position()
    }

    fn u8(&mut self) -> Result<u8, RestoreError> {
        self.r.get_u8().map_err(|e| self.field(e))
    }

    fn bool(&mut self) -> Result<bool, RestoreError> {
        self.r.get_bool().map_err(|e| self.field(e))
    }

    fn u16(&mut self) -> Result<u16, RestoreError> {
        self.r.get_u16().map_err(|e| self.field(e))
    }

    fn u32(&mut self) -> Result<u32, RestoreError> {
        self.r.get_u32().map_err(|e| self.field(e))
    }

    fn i32(&mut self) -> Result<i32, RestoreError> {
        self.r.get_i32().map_err(|e| self.field(e))
    }

    /// A `u32` length or count, as `usize`, at most `max`.
    fn len(&mut self, max: usize, what: &'static str) -> Result<usize, RestoreError> {
        let at = self.pos();
        let n = self.u32()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(self.bad(at, what))
    }

    fn addr(&mut self) -> Result<[u8; 16], RestoreError> {
        self.r.get_array().map_err(|e| self.field(e))
    }

    /// `n` bytes that must all be zero; `what` names the first that is not.
    fn zeros(&mut self, n: usize, what: &'static str) -> Result<(), RestoreError> {
        self.r.get_zeros(n).map_err(|e| match e {
            FieldError::Invalid { offset } => self.bad(offset, what),
            e => self.field(e),
        })
    }

    /// Whether a socket is associated, then its identity, which must be
    /// all zero without one.
    fn socket(&mut self) -> Result<Option<SocketId>, RestoreError> {
        if !self.bool()? {
            self.zeros(SocketId::ENCODED_LEN, "socket identity without a socket")?;
            return Ok(None);
        }
        Ok(Some(SocketId {
            family: self.u16()?,
            sock_type: self.u16()?,
            protocol: self.u16()?,
            local_port: self.u16()?,
            remote_port: self.u16()?,
            local_addr: self.addr()?,
            remote_addr: self.addr()?,
        }))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], RestoreError> {
        self.r.get_bytes(n).map_err(|e| self.field(e))
    }

    /// Everything not read yet, at most `max` bytes.
    fn rest(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], RestoreError> {
        let n = self.r.remaining();
        if n > max {
            return Err(self.bad(self.pos().saturating_add(max), what));
        }
        self.bytes(n)
    }

    fn mode(&mut self, header: PtyMode) -> Result<PtyMode, RestoreError> {
        let at = self.pos();
        let mode = PtyMode::from_u8(self.u8()?).ok_or(self.bad(at, "unknown pty mode"))?;
        if mode != header {
            return Err(self.bad(at, "pty mode differs from the image header's"));
        }
        Ok(mode)
    }

    fn winsize(&mut self) -> Result<Winsize, RestoreError> {
        Ok(Winsize {
            rows: self.u16()?,
            cols: self.u16()?,
            xpixel: self.u16()?,
            ypixel: self.u16()?,
        })
    }

    fn finish(self) -> Result<(), RestoreError> {
        let e = self.r.clone().finish();
        e.map_err(|e| self.field(e))
    }
}

/// The module block at `index` of a chain-checked image.
fn block<'i, 'a>(
    image: &'i StreamImage<'a>,
    index: usize,
) -> Result<&'i ModuleBlock<'a>, RestoreError> {
    image
        .modules()
        .get(index)
        .ok_or(RestoreError::Image(ImageError::ChainLength {
            expected: index.saturating_add(1),
            found: image.modules().len(),
        }))
}

/// A decoded, checked master image.
struct MasterSaved<'a> {
    queue: &'a [u8],
    held: usize,
    winsize: Winsize,
    ptm: Ptm,
    meta: MasterMeta,
}

fn parse_master<'a>(image: &StreamImage<'a>) -> Result<MasterSaved<'a>, RestoreError> {
    // head
    let head = block(image, 0)?;
    let mut i = Fields::internal(head);
    let held_at = i.pos();
    let held = i.len(MASTER_HEAD_BOUND, "held echo longer than the queue bound")?;
    i.finish()?;
    let mut e = Fields::external(head);
    let queue = e.rest(MASTER_HEAD_BOUND, "more bytes than the master head's bound")?;
    e.finish()?;
    if held > queue.len() {
        return Err(Fields::internal(head).bad(held_at, "held echo longer than the queue"));
    }

    // tioc
    let tioc = block(image, 1)?;
    let mut i = Fields::internal(tioc);
    let winsize = i.winsize()?;
    let exclusive = i.bool()?;
    i.finish()?;
    Fields::external(tioc).finish()?;

    // ptm
    let ptm = block(image, 2)?;
    let mut i = Fields::internal(ptm);
    let index = i.u32()?;
    let mode = i.mode(image.mode())?;
    let locked = i.bool()?;
    let packet = i.bool()?;
    let status_at = i.pos();
    let packet_status = i.u8()?;
    let known = packet::FLUSHREAD
        | packet::FLUSHWRITE
        | packet::STOP
        | packet::START
        | packet::NOSTOP
        | packet::DOSTOP;
    let both = |a: u8, b: u8| packet_status & a != 0 && packet_status & b != 0;
    if packet_status & !known != 0
        || both(packet::STOP, packet::START)
        || both(packet::NOSTOP, packet::DOSTOP)
    {
        return Err(i.bad(status_at, "impossible packet status"));
    }
    let output_stopped = i.bool()?;
    let master_open = i.bool()?;
    let slave_closed = i.bool()?;
    let socket = i.socket()?;
    i.finish()?;
    Fields::external(ptm).finish()?;

    Ok(MasterSaved {
        queue,
        held,
        winsize,
        ptm: Ptm {
            packet,
            packet_status,
            output_stopped,
        },
        meta: MasterMeta {
            index,
            mode,
            locked,
            exclusive,
            master_open,
            slave_closed,
            socket,
        },
    })
}

/// A decoded, checked slave image.
struct SlaveSaved<'a> {
    winsize: Winsize,
    speeds: [u32; 2],
    state: LdtermState,
    /// Readable processed input.
    readable: &'a [u8],
    /// The half-typed canonical line.
    line: &'a [u8],
    /// Line lengths, `u16` little-endian each.
    lines: &'a [u8],
    unprocessed: &'a [u8],
    meta: SlaveMeta,
}

impl SlaveSaved<'_> {
    fn line_lengths(&self) -> impl Iterator<Item = u16> + Clone + '_ {
        u16_fields(self.lines)
    }
}

/// The little-endian `u16`s that make up `bytes`, in order.
fn u16_fields(bytes: &[u8]) -> impl Iterator<Item = u16> + Clone + '_ {
    let mut r = FieldReader::new(bytes);
    core::iter::from_fn(move || r.get_u16().ok())
}

/// Reads the [`LdtermState`] at the start of ldterm's internal part.
fn ldterm_state(i: &mut Fields<'_>) -> Result<LdtermState, RestoreError> {
    let start = i.pos();
    let termios_bytes = i.bytes(Termios::SIZE)?;
    let termios = Termios::from_slice(termios_bytes).ok_or(i.bad(start, "truncated termios"))?;
    let cflag_at = start.saturating_add(8);
    if termios.c_cflag & CSIZE != CS8 || termios.c_cflag & (CREAD | PARENB | ADDRB) != CREAD {
        return Err(i.bad(cflag_at, "c_cflag a pty cannot have"));
    }
    let column = i.u32()?;
    let canon_column = i.u32()?;
    let readable = i.u32()?;
    let lookahead_at = i.pos();
    let lookahead = i.u32()?;
    if usize::try_from(lookahead).map_or(true, |l| l > PTS_INPUT_BOUND) {
        return Err(i.bad(lookahead_at, "lookahead past the pts input bound"));
    }
    let flags_at = i.pos();
    let flags = i.u8()?;
    if flags & !0x0f != 0 {
        return Err(i.bad(flags_at, "unknown ldterm flags"));
    }
    let (output_stopped, tco_stopped) = (flags & 4 != 0, flags & 8 != 0);
    if tco_stopped && !output_stopped {
        return Err(i.bad(flags_at, "stopped by TCOOFF but output not stopped"));
    }
    let kind_at = i.pos();
    let kind = i.u8()?;
    let pos_at = i.pos();
    let pos = i.u16()?;
    let partial = match (kind, pos) {
        (0, 0) => Partial::None,
        (0, _) => return Err(i.bad(pos_at, "position without a step in progress")),
        (1, p) => Partial::Reprint(p),
        _ => return Err(i.bad(kind_at, "unknown step in progress")),
    };
    let state = LdtermState {
        termios,
        column,
        canon_column,
        readable,
        lookahead,
        lnext: flags & 1 != 0,
        erasing: flags & 2 != 0,
        output_stopped,
        tco_stopped,
        partial,
    };
    Ok(state)
}

fn parse_slave<'a>(image: &StreamImage<'a>) -> Result<SlaveSaved<'a>, RestoreError> {
    // head: nothing of its own.
    let head = block(image, 0)?;
    Fields::internal(head).finish()?;
    Fields::external(head).finish()?;

    // tioc
    let tioc = block(image, 1)?;
    let mut i = Fields::internal(tioc);
    let winsize = i.winsize()?;
    let exclusive = i.bool()?;
    let pgrp_at = i.pos();
    let foreground_pgrp = i.i32()?;
    if !(0..=PID_MAX_LIMIT).contains(&foreground_pgrp) {
        return Err(i.bad(pgrp_at, "foreground process group out of range"));
    }
    let speeds = [i.u32()?, i.u32()?];
    i.finish()?;
    Fields::external(tioc).finish()?;

    // ldterm
    let ld = block(image, 2)?;
    let mut i = Fields::internal(ld);
    let state = ldterm_state(&mut i)?;
    let canon = state.termios.lflag(ICANON);
    let line_at = i.pos();
    let line_len = i.len(INPUT_BOUND, "half-typed line longer than the input bound")?;
    if !canon && line_len != 0 {
        return Err(i.bad(line_at, "half-typed line outside canonical mode"));
    }
    if let Partial::Reprint(p) = state.partial {
        if usize::from(p) > line_len {
            return Err(i.bad(REPRINT_POS_AT, "reprint position past the half-typed line"));
        }
    }
    let line = i.bytes(line_len)?;
    i.finish()?;

    let mut e = Fields::external(ld);
    let count_at = e.pos();
    let count = e.len(LINES_BOUND / 2, "more lines than the line bound")?;
    if !canon && count != 0 {
        return Err(e.bad(count_at, "line lengths outside canonical mode"));
    }
    let lines_at = e.pos();
    let lines = e.bytes(count.saturating_mul(2))?;
    let mut total = 0usize;
    for (k, l) in u16_fields(lines).enumerate() {
        if l == 0 {
            let at = lines_at.saturating_add(k.saturating_mul(2));
            return Err(e.bad(at, "empty line"));
        }
        total = total.saturating_add(usize::from(l));
    }
    let readable_len = usize::try_from(state.readable).unwrap_or(usize::MAX);
    if canon && total != readable_len {
        return Err(e.bad(count_at, "line lengths do not add up to the readable bytes"));
    }
    if readable_len.saturating_add(line_len) > INPUT_BOUND {
        return Err(e.bad(e.pos(), "processed input longer than its bound"));
    }
    let readable = e.bytes(readable_len)?;
    e.finish()?;

    // pts
    let pts = block(image, 3)?;
    let mut i = Fields::internal(pts);
    let index = i.u32()?;
    let mode = i.mode(image.mode())?;
    let slave_opens = i.u32()?;
    let master_closed = i.bool()?;
    let uid = i.u32()?;
    let gid = i.u32()?;
    let node_mode_at = i.pos();
    let node_mode = i.u16()?;
    if node_mode & !NODE_MODE_MASK != 0 {
        return Err(i.bad(node_mode_at, "node permission bits out of range"));
    }
    i.finish()?;
    let mut e = Fields::external(pts);
    let unprocessed = e.rest(PTS_INPUT_BOUND, "more bytes than the pts input bound")?;
    e.finish()?;

    let saved = SlaveSaved {
        winsize,
        speeds,
        state,
        readable,
        line,
        lines,
        unprocessed,
        meta: SlaveMeta {
            index,
            mode,
            exclusive,
            foreground_pgrp,
            slave_opens,
            master_closed,
            node: NodeOwner {
                uid,
                gid,
                mode: node_mode,
            },
        },
    };
    // Whatever else the line discipline itself requires.
    let input_len = readable_len.saturating_add(line_len);
    if !saved.state.fits(input_len, saved.line_lengths()) {
        return Err(Fields::internal(ld).bad(0, "inconsistent line discipline state"));
    }
    Ok(saved)
}

// ---------------------------------------------------------------------
// Restore: loading
// ---------------------------------------------------------------------

/// Whether the `kind` stream of `pair` holds no data and no pending
/// state, so that an image may be restored into it: its queues are empty,
/// no echo is held, no packet status or flow stop is pending, and the pair
/// is not hung up. Settings (termios, window size) do not count: restore
/// replaces them.
pub fn is_fresh<S: Storage>(pair: &PtyPair<S>, kind: End) -> bool {
    if pair.life.master_closed {
        return false;
    }
    match kind {
        End::Master => {
            let m = &pair.master;
            m.head.read.is_empty() && m.head.held == 0 && m.ptm == Ptm::default()
        }
        End::Slave => {
            let s = &pair.slave;
            let st = s.ldterm.save();
            s.pts.input.is_empty()
                && s.ldterm.processed_input().is_empty()
                && s.ldterm.line_lengths().next().is_none()
                && !st.output_stopped
                && st.lookahead == 0
        }
    }
}

/// Restores the `expected_kind` stream of `pair` from `image` (decoded by
/// [`decode`]) and returns that stream's part of the pair's facts. The
/// image is checked completely first; on any error the pair is unchanged.
/// On success the restored stream is left frozen: the kernel thaws it
/// when the restart commits.
pub fn restore<S: Storage>(
    pair: &mut PtyPair<S>,
    image: &StreamImage<'_>,
    expected_kind: End,
) -> Result<MetaPart, RestoreError> {
    let found = image.kind();
    if found != expected_kind {
        return Err(RestoreError::WrongKind {
            expected: expected_kind,
            found,
        });
    }
    check_chain(image, expected_kind.chain())?;
    match expected_kind {
        End::Master => {
            let saved = parse_master(image)?;
            load_master(pair, &saved)?;
            Ok(MetaPart::Master(saved.meta))
        }
        End::Slave => {
            let saved = parse_slave(image)?;
            load_slave(pair, &saved)?;
            Ok(MetaPart::Slave(saved.meta))
        }
    }
}

/// Fills an empty queue with `bytes`, all or nothing.
fn fill<S: Storage>(q: &mut ByteQueue<S>, bytes: &[u8]) -> Result<(), RestoreError> {
    if q.try_reserve(bytes.len()).is_err() {
        q.shrink_if_empty();
        return Err(RestoreError::NoMemory);
    }
    if q.push(bytes) != Ok(bytes.len()) {
        q.clear();
        return Err(RestoreError::NoMemory);
    }
    Ok(())
}

fn load_master<S: Storage>(
    pair: &mut PtyPair<S>,
    saved: &MasterSaved<'_>,
) -> Result<(), RestoreError> {
    if !is_fresh(pair, End::Master) {
        return Err(RestoreError::NotFresh { kind: End::Master });
    }
    fill(&mut pair.master.head.read, saved.queue)?;
    pair.master.head.held = saved.held;
    pair.master.tioc.winsize = saved.winsize;
    pair.master.ptm = saved.ptm;
    if pair.life.slave_opens == 0 {
        pair.life.slave_closed = saved.meta.slave_closed;
    }
    pair.freeze(true);
    Ok(())
}

fn load_slave<S: Storage>(
    pair: &mut PtyPair<S>,
    saved: &SlaveSaved<'_>,
) -> Result<(), RestoreError> {
    if !is_fresh(pair, End::Slave) {
        return Err(RestoreError::NotFresh { kind: End::Slave });
    }
    // The pts queue first (it was empty: clearing it undoes the fill),
    // then ldterm, which reserves its memory before it changes anything.
    fill(&mut pair.slave.pts.input, saved.unprocessed)?;
    let loaded = pair.slave.ldterm.restore_parts(
        &saved.state,
        &[saved.readable, saved.line],
        saved.line_lengths(),
    );
    if let Err(e) = loaded {
        pair.slave.pts.input.clear();
        return Err(match e {
            LdtermRestoreError::NoMemory => RestoreError::NoMemory,
            LdtermRestoreError::Inconsistent => RestoreError::BadState {
                module: ModuleName::Ldterm,
                part: ModulePart::Internal,
                offset: 0,
                what: "inconsistent line discipline state",
            },
        });
    }
    pair.slave.tioc.winsize = saved.winsize;
    pair.slave.tioc.speeds = saved.speeds;
    pair.freeze(false);
    Ok(())
}
