// SPDX-License-Identifier: GPL-2.0
//! Checkpoint and restart of one end's stream (`CKPT_CHECKPOINT`,
//! `CKPT_RESTART` on a master or slave file).
//!
//! Checkpoint: under the pair's lock the stream is frozen, the blocks of
//! its checkpoint message are written by the pure core
//! ([`crate::pty_core::checkpoint::snapshot`]) into a kernel buffer
//! allocated beforehand, and the stream is thawed unless the caller leaves
//! it frozen; the image is sealed (header, checksum) and copied out after
//! the lock is dropped.
//!
//! Restart: the image is decoded and checked, then loaded into the stream.
//! A BSD pair's state loads directly and runs. An AT&T pair must be one of
//! its instance's restart session ([`super::session`], run from the control
//! device), which records the end; the session's commit thaws the pair.

use super::instance::Instance;
use super::pair::{FreezeHolder, Pair, Streams};
use super::session::{socket_id, socket_record};
use super::settings;
use super::uaccess::{filled, read_arg, write_arg};
use crate::pty_core::checkpoint::{self, MetaPart, PairMeta, RestoreError, RestoreTarget};
use crate::pty_core::image::{self, PtyMode, StreamImage, UnsealedImage};
use crate::pty_core::stream::Effects;
use crate::pty_core::End;
use crate::seam::fs::Owner;
use crate::seam::log::warn_limited;
use crate::uapi::*;
use kernel::{
    prelude::*,
    sync::lock::{mutex::MutexBackend, Guard},
    uaccess::{UserSlice, UserSliceReader},
};

/// Largest image `CKPT_RESTART` accepts: both queue bounds plus a canonical
/// line and headers fit with room to spare.
const MAX_IMAGE_LEN: usize = 512 * 1024;

fn meta_of(pair: &Pair<Instance>, streams: &Streams) -> PairMeta {
    let tty = streams.slave_tty();
    PairMeta {
        index: pair.index,
        mode: pair.mode,
        locked: pair.is_locked(),
        exclusive: [streams.master_exclusive, tty.is_some_and(|t| t.exclusive())],
        // Recorded for the restoring tool; never attached by number.
        foreground_pgrp: tty.and_then(|t| t.foreground()).map_or(0, |pg| pg.nr()),
        master_open: streams.master_open,
        socket: streams.socket.as_ref().map(socket_id),
        node: streams.node_owner(),
    }
}

/// `CKPT_CHECKPOINT` on an end.
///
/// The buffer is allocated before the pair's lock is taken, as long as the
/// caller's buffer but no longer than any image can be; the lock is then
/// held once, only to size the image (arithmetic) and snapshot it (the
/// blocks, queues copied in bulk). Header, checksum and the copy to user
/// space follow outside the lock, so writers wait only for the snapshot.
pub(crate) fn checkpoint_ioctl(pair: &Pair<Instance>, end: End, arg: usize) -> Result<isize> {
    let mut a: CheckpointArg = read_arg(arg)?;
    if a.flags & !CKPT_LEAVE_FROZEN != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    // Leaving an end frozen stops its user's data: a restore privilege.
    if a.flags & CKPT_LEAVE_FROZEN != 0 {
        super::ioctl::may_stop(pair)?;
    }
    // An image fits in this whenever it fits in the caller's buffer.
    let room = (a.buf_len as usize).min(checkpoint::MAX_CHECKPOINT_LEN);
    // The buffer is sized by a first look under the lock, so that a large
    // user buffer costs no large zeroed allocation; should the queues grow
    // before the lock is taken again, it grows once more, to the caller's
    // room. At most three rounds.
    let mut image = KVVec::new();
    let (mut guard, meta, needed) = loop {
        let guard = pair.streams.lock();
        let meta = meta_of(pair, &guard);
        let needed = image_len(pair, &guard, end, &meta)?;
        if needed > room || needed <= image.len() {
            break (guard, meta, needed);
        }
        drop(guard);
        let size = if image.is_empty() { needed } else { room };
        image = KVVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
    };
    if room < needed {
        drop(guard);
        a.image_len = needed as u32;
        write_arg(arg, &a)?;
        return if a.buf_len == 0 { Ok(0) } else { Err(ERANGE) };
    }
    let unsealed = take_checkpoint(pair, &mut guard, end, &meta, &a, &mut image)?;
    guard.stats.of_mut(end).checkpointed(needed);
    drop(guard);
    let written = unsealed.seal(&mut image).map_err(|e| {
        warn_limited!("checkpoint of pty {} failed: {}\n", pair.index, e);
        Error::from(e.errno())
    })?;
    let image = filled(&image, written)?;
    pair.instance.globals().stats.checkpointed(written);
    UserSlice::new(a.buf as usize, written)
        .writer()
        .write_slice(image)?;
    a.image_len = written as u32;
    write_arg(arg, &a)?;
    Ok(0)
}

/// Size of `end`'s image now (computed, nothing is encoded).
fn image_len(pair: &Pair<Instance>, guard: &Streams, end: End, meta: &PairMeta) -> Result<usize> {
    checkpoint::checkpoint_len(&guard.pty, end, meta).map_err(|e| {
        warn_limited!("checkpoint of pty {}: {}\n", pair.index, e);
        Error::from(e.errno())
    })
}

/// Snapshots `end` into `image`, frozen for it: the blocks are one
/// consistent instant (the pair's lock is held throughout). The stream is
/// thawed after unless it was frozen before or the caller leaves it
/// frozen. The image still to be sealed.
fn take_checkpoint(
    pair: &Pair<Instance>,
    guard: &mut Guard<'_, Streams, MutexBackend>,
    end: End,
    meta: &PairMeta,
    a: &CheckpointArg,
    image: &mut [u8],
) -> Result<UnsealedImage> {
    let was_frozen = if end.is_master() {
        guard.pty.freeze.master
    } else {
        guard.pty.freeze.slave
    };
    guard.pty.freeze(end.is_master());
    let snapshot = checkpoint::snapshot(&guard.pty, end, meta, a.checkpoint_id, image);
    if a.flags & CKPT_LEAVE_FROZEN != 0 {
        guard.freeze_for(end, FreezeHolder::Migration);
    } else if !was_frozen {
        let mut fx = Effects::default();
        guard.pty.thaw(end.is_master(), &mut fx);
        pair.settle(guard, fx, None);
    }
    snapshot.map_err(|e| {
        warn_limited!("checkpoint of pty {} failed: {}\n", pair.index, e);
        e.errno().into()
    })
}

/// Copies an image in from user space, bounded.
fn read_image(buf: u64, len: u32) -> Result<KVVec<u8>> {
    let len = len as usize;
    if len == 0 || len > MAX_IMAGE_LEN {
        return Err(EINVAL);
    }
    let mut image = KVVec::from_elem(0u8, len, GFP_KERNEL_ACCOUNT)?;
    let mut reader: UserSliceReader = UserSlice::new(buf as usize, len).reader();
    reader.read_slice(&mut image)?;
    Ok(image)
}

/// `CKPT_RESTART` on an end: loads its stream from an image.
pub(crate) fn restart_ioctl(pair: &Pair<Instance>, end: End, arg: usize) -> Result<isize> {
    if !pair.instance.caller_may_restore() {
        return Err(EPERM);
    }
    let a: RestartArg = read_arg(arg)?;
    if a.flags != 0 {
        return Err(EINVAL);
    }
    let bytes = read_image(a.buf, a.buf_len)?;
    let decoded = image::decode(&bytes).map_err(|e| {
        warn_limited!("restart of pty {}: bad image: {}\n", pair.index, e);
        Error::from(e.errno())
    })?;
    match pair.mode {
        PtyMode::Bsd => restart_bsd(pair, &decoded, end, bytes.len())?,
        PtyMode::Att => restart_att(pair, &decoded, end, bytes.len())?,
    }
    Ok(0)
}

/// BSD: no ordering rule; the state loads directly and runs.
fn restart_bsd(pair: &Pair<Instance>, image: &StreamImage<'_>, end: End, len: usize) -> Result {
    load_end(pair, image, end, len)?;
    let mut guard = pair.streams.lock();
    let mut fx = Effects::default();
    guard.thaw(End::Master, &mut fx);
    guard.thaw(End::Slave, &mut fx);
    pair.settle(&guard, fx, None);
    Ok(())
}

/// AT&T: the pair is one of the instance's restart session, which has not
/// loaded this end yet; the session records it, its commit thaws the pair.
fn restart_att(pair: &Pair<Instance>, image: &StreamImage<'_>, end: End, len: usize) -> Result {
    let instance = &pair.instance;
    let mut session = instance.session.lock();
    let s = session.as_mut().ok_or(ENOENT)?;
    if !pair.is_restoring() {
        return Err(EBUSY);
    }
    // Everything the session could refuse, before touching state.
    s.check_restorable(pair.index, end)?;
    load_end(pair, image, end, len)?;
    s.end_restored(pair.index, end)?;
    instance.globals().stats.restarted(len);
    Ok(())
}

/// Loads `end`'s stream from `image` (`len` bytes as copied in), with what
/// the image says of the pair, then what the tty core keeps of the slave.
fn load_end(pair: &Pair<Instance>, image: &StreamImage<'_>, end: End, len: usize) -> Result {
    let part = {
        let mut guard = pair.streams.lock();
        let target = RestoreTarget {
            index: pair.index,
            mode: pair.mode,
        };
        // The slave node's owner must map into this user namespace: known
        // before the image loads, so a refusal changes nothing.
        let mut node_owner = None;
        let accept = |meta: &MetaPart| {
            if let MetaPart::Slave(s) = meta {
                let owner = Owner::from_user(s.node.uid, s.node.gid).map_err(|_| {
                    RestoreError::NotHere {
                        what: "the slave node's owner does not map into this user namespace",
                    }
                })?;
                node_owner = Some((owner, s.node.mode));
            }
            Ok(())
        };
        let part =
            checkpoint::restore_at(&mut guard.pty, image, end, target, accept).map_err(|e| {
                warn_limited!("restart of pty {}: {}\n", pair.index, e);
                Error::from(e.errno())
            })?;
        match part {
            // The association travels in the master image.
            MetaPart::Master(m) => {
                // TIOCSPTLCK is AT&T's; a BSD pair is never locked.
                pair.set_locked(m.locked && !pair.is_bsd());
                guard.master_exclusive = m.exclusive;
                guard.socket = m.socket.map(|id| socket_record(&id));
            }
            MetaPart::Slave(_) => {
                if let Some((owner, mode)) = node_owner {
                    guard.set_node_owner(owner, mode);
                }
            }
        }
        guard.stats.of_mut(end).restarted(len);
        part
    };
    // What the tty core keeps, outside the pair lock (its termios lock
    // comes first). Process groups are the restorer's business.
    if let MetaPart::Slave(s) = part {
        if let Some(file) = pair.slave_file() {
            settings::load_slave_tty(pair, &file, s.exclusive);
        }
    }
    Ok(())
}
