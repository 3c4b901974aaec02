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
//! Each module writes, reads and loads its own block ([`ModuleState`]), and
//! documents its layout where it does so: the heads in
//! [`stream`](super::stream) (`head.rs`), [`Tioc`](super::stream::Tioc),
//! [`Ptm`](super::stream::Ptm), [`Pts`](super::stream::Pts) and
//! [`Ldterm`](super::ldterm::Ldterm) (`ldterm/checkpoint.rs`).
//! Documentation/checkpoint.rst has all the tables, in chain order
//! (`tests/documentation.rs` keeps them equal to these and to the blocks
//! written). The message code here only walks the chains (`master.rs`,
//! `slave.rs`) and frames the blocks (`frame.rs`) with [`super::image`]'s
//! header, status block and trailer.
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

mod block;
mod error;
mod frame;
mod master;
mod meta;
mod slave;

use super::end::End;
use super::image::UnsealedImage;
use super::image::{check_chain, decode, ImageError, ImageSizer, ImageWriter, StreamImage};
use super::image::{ModuleBlock, PtyMode, StreamImageHeader};
use super::ldterm::{INPUT_BOUND, LINES_BOUND};
use super::storage::Storage;
use super::stream::{PtyPair, MASTER_HEAD_BOUND, PTS_INPUT_BOUND};
use frame::{BlockSink, Sizing, Writing};

pub use super::stream::PID_MAX_LIMIT;
pub(crate) use block::{len32, load_queue, save_queue, BlockReader};
pub use block::{BadBlock, ModuleState};
pub use error::RestoreError;
pub use meta::{MasterMeta, MetaPart, NodeOwner, PairMeta, SlaveMeta, NODE_MODE_MASK};

/// No stream's image is longer: every queue of the pair at its bound
/// (which is more than one stream can carry), plus 1 KiB for the header,
/// the trailer, the block headers and padding, and the fixed fields. The
/// kernel sizes a checkpoint buffer by it before taking the pair's lock.
pub const MAX_CHECKPOINT_LEN: usize =
    MASTER_HEAD_BOUND + PTS_INPUT_BOUND + LINES_BOUND + 2 * INPUT_BOUND + 1024;

/// Size of the image [`checkpoint`] writes for this stream now, computed
/// from the modules' field sizes and queue lengths (nothing is encoded).
pub fn checkpoint_len<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
) -> Result<usize, ImageError> {
    let mut sizing = Sizing(ImageSizer::new());
    save_chain(pair, kind, meta, &mut sizing)?;
    Ok(sizing.0.image_len())
}

/// Writes the checkpoint message of the `kind` stream of `pair` into
/// `out` and returns its length. Nothing is written if `out` is shorter
/// than [`checkpoint_len`] (`ERANGE`).
pub fn checkpoint<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
    checkpoint_id: u64,
    out: &mut [u8],
) -> Result<usize, ImageError> {
    let unsealed = snapshot(pair, kind, meta, checkpoint_id, out)?;
    unsealed.seal(out)
}

/// The part of [`checkpoint`] that reads the pair: writes the blocks of
/// the `kind` stream into `out` (bulk copies of the queues and the
/// modules' fields), leaving header, status block and checksum to
/// [`UnsealedImage::seal`] on the same buffer. The kernel calls this under
/// the pair's lock and seals after dropping it, so writers wait only for
/// the snapshot. Nothing is written if `out` is shorter than
/// [`checkpoint_len`] (`ERANGE`).
pub fn snapshot<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
    checkpoint_id: u64,
    out: &mut [u8],
) -> Result<UnsealedImage, ImageError> {
    let needed = checkpoint_len(pair, kind, meta)?;
    let available = out.len();
    if available < needed {
        return Err(ImageError::OutputTooSmall { needed, available });
    }
    let header = StreamImageHeader {
        kind,
        mode: meta.mode,
        checkpoint_id,
    };
    let mut writing = Writing(ImageWriter::begin(out, &header, kind.chain().len())?);
    save_chain(pair, kind, meta, &mut writing)?;
    let (_, unsealed) = writing.0.into_unsealed()?;
    Ok(unsealed)
}

/// Hands the blocks of the `kind` stream to `out`, head first.
fn save_chain<S: Storage>(
    pair: &PtyPair<S>,
    kind: End,
    meta: &PairMeta,
    out: &mut impl BlockSink,
) -> Result<(), ImageError> {
    match kind {
        End::Master => master::save(pair, meta, out),
        End::Slave => slave::save(pair, meta, out),
    }
}

/// Reads a written image back as [`restore`] would, without loading it:
/// `Ok` if a restore would take it. Not on the checkpoint path (the
/// decoder's and the modules' tests keep what checkpoints write
/// restorable); for tests and tools that want the check.
pub fn check_restorable<S: Storage>(written: &[u8]) -> Result<(), ImageError> {
    let image = decode(written)?;
    let header = image.header();
    check_chain(&image, header.kind.chain())?;
    match header.kind {
        End::Master => master::parse::<S>(chain_blocks(&image)?, &header).map(drop)?,
        End::Slave => slave::parse::<S>(chain_blocks(&image)?, &header).map(drop)?,
    }
    Ok(())
}

/// Whether the `kind` stream of `pair` holds no data and no pending
/// state, so that an image may be restored into it: its queues are empty,
/// no echo is held, no packet status or flow stop is pending, and the pair
/// is not hung up. Settings (termios, window size) do not count: restore
/// replaces them.
pub fn is_fresh<S: Storage>(pair: &PtyPair<S>, kind: End) -> bool {
    !pair.life.master_closed
        && match kind {
            End::Master => master::is_fresh(pair),
            End::Slave => slave::is_fresh(pair),
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
    restore_checked(pair, image, expected_kind, |_| Ok(()))
}

/// Which pty a restore is for: an image is accepted only for the index
/// and mode it was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreTarget {
    /// Slave index (AT&T) or BSD pair number.
    pub index: u32,
    /// AT&T or BSD.
    pub mode: PtyMode,
}

/// [`restore`] into the pty `target`: an image of another index or mode
/// is refused ([`RestoreError::OtherPty`]), and so is one whose facts
/// `accept` refuses (what the kernel side must take on, checked while
/// nothing has changed yet).
pub fn restore_at<S: Storage>(
    pair: &mut PtyPair<S>,
    image: &StreamImage<'_>,
    expected_kind: End,
    target: RestoreTarget,
    accept: impl FnOnce(&MetaPart) -> Result<(), RestoreError>,
) -> Result<MetaPart, RestoreError> {
    restore_checked(pair, image, expected_kind, |meta| {
        let found = (meta.index(), meta.mode());
        if found != (target.index, target.mode) {
            return Err(RestoreError::OtherPty {
                expected: (target.index, target.mode),
                found,
            });
        }
        accept(meta)
    })
}

/// Parses the image, lets `accept` look at its facts, then loads it.
fn restore_checked<S: Storage>(
    pair: &mut PtyPair<S>,
    image: &StreamImage<'_>,
    expected_kind: End,
    accept: impl FnOnce(&MetaPart) -> Result<(), RestoreError>,
) -> Result<MetaPart, RestoreError> {
    let found = image.kind();
    if found != expected_kind {
        return Err(RestoreError::WrongKind {
            expected: expected_kind,
            found,
        });
    }
    check_chain(image, expected_kind.chain())?;
    let header = image.header();
    match expected_kind {
        End::Master => {
            let saved = master::parse::<S>(chain_blocks(image)?, &header)?;
            let meta = MetaPart::Master(saved.meta());
            accept(&meta)?;
            master::load(pair, &saved)?;
            Ok(meta)
        }
        End::Slave => {
            let saved = slave::parse::<S>(chain_blocks(image)?, &header)?;
            let meta = MetaPart::Slave(saved.meta());
            accept(&meta)?;
            slave::load(pair, &saved)?;
            Ok(meta)
        }
    }
}

/// The blocks of a chain-checked image, as an array of its chain's length.
fn chain_blocks<'i, 'a, const N: usize>(
    image: &'i StreamImage<'a>,
) -> Result<&'i [ModuleBlock<'a>; N], ImageError> {
    let blocks = image.modules();
    blocks.try_into().map_err(|_| ImageError::ChainLength {
        expected: N,
        found: blocks.len(),
    })
}
