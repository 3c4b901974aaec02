// SPDX-License-Identifier: GPL-2.0
//! Checkpoint and restart of pair streams, and the control device
//! `/dev/ckpt/control` that runs restart sessions.
//!
//! Checkpoint (`CKPT_CHECKPOINT` on an end): under the pair's lock the
//! stream is frozen, its checkpoint message is built by the pure core
//! ([`crate::pty_core::checkpoint`]) into a kernel buffer, the stream is
//! thawed unless the caller leaves it frozen, and the image is copied out.
//!
//! Restart of AT&T pairs goes through a session:
//! `CKPT_SESSION_BEGIN` claims every index of the image at once (`EBUSY`
//! when a live pair holds one) and creates those pairs frozen; their ends
//! are then opened in any order (slaves by path, masters with
//! `CKPT_OPEN_MASTER`) and each gets its image with `CKPT_RESTART`, which
//! feeds the session's wait lists ([`crate::pty_core::waitlist`]).
//! `CKPT_SESSION_COMMIT` thaws everything when the lists are empty, or
//! names the orphans and rolls back. BSD pairs restore directly.

use super::instance::{Instance, PtsFs};
use super::pair::{Pair, Streams};
use super::settings;
use super::uaccess::{filled, read_arg, write_arg};
use crate::pty_core::checkpoint::{self, PairMeta};
use crate::pty_core::image;
use crate::pty_core::options::MAX_PAIRS_LIMIT;
use crate::pty_core::stream::Effects;
use crate::pty_core::waitlist::{self, Ends, RestartSession};
use crate::pty_core::End;
use crate::seam::{
    chrdev::FileOperations,
    file::{
        flags::{O_ACCMODE, O_APPEND, O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NONBLOCK},
        File,
    },
    fs::InstanceRoot,
    process,
    storage::KernelStorage,
};
use crate::uapi::*;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    prelude::*,
    sync::Arc,
    uaccess::{UserSlice, UserSliceReader},
};

/// Largest image `CKPT_RESTART` accepts: both queue bounds plus a canonical
/// line and headers fit with room to spare.
const MAX_IMAGE_LEN: usize = 512 * 1024;

/// Largest number of pairs one session may list: as many as an instance
/// may have.
const MAX_SESSION_PAIRS: u32 = MAX_PAIRS_LIMIT;

// The records `CKPT_SESSION_COMMIT` copies out are the core's.
const _: () = assert!(ORPHAN_RECORD_LEN == waitlist::ORPHAN_RECORD_LEN);

/// A restart session in progress: the wait lists and the pairs it created.
pub(crate) struct Session {
    lists: RestartSession<KernelStorage>,
    pairs: KVec<Arc<Pair<Instance>>>,
    /// Which control file began it (its release aborts the session).
    owner: u64,
}

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
pub(crate) fn checkpoint_ioctl(pair: &Pair<Instance>, end: End, arg: usize) -> Result<isize> {
    let mut a: CheckpointArg = read_arg(arg)?;
    if a.flags & !CKPT_LEAVE_FROZEN != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    let mut guard = pair.streams.lock();
    let meta = meta_of(pair, &guard);
    let needed = checkpoint::checkpoint_len(&guard.pty, end, &meta).map_err(|e| {
        pr_warn!("checkpoint of pty {}: {}\n", pair.index, e);
        Error::from(e.errno())
    })?;
    a.image_len = needed as u32;
    if (a.buf_len as usize) < needed {
        drop(guard);
        write_arg(arg, &a)?;
        return if a.buf_len == 0 { Ok(0) } else { Err(ERANGE) };
    }
    let mut image = KVec::from_elem(0u8, needed, GFP_KERNEL)?;
    // Freeze for the checkpoint: the message is one consistent instant.
    let was_frozen = if end.is_master() {
        guard.pty.freeze.master
    } else {
        guard.pty.freeze.slave
    };
    guard.pty.freeze(end.is_master());
    let written = checkpoint::checkpoint(&guard.pty, end, &meta, a.checkpoint_id, &mut image);
    let leave = was_frozen || a.flags & CKPT_LEAVE_FROZEN != 0;
    if !leave {
        let mut fx = Effects::default();
        guard.pty.thaw(end.is_master(), &mut fx);
        pair.settle(&guard, fx, None);
    }
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            pr_warn!("checkpoint of pty {} failed: {}\n", pair.index, e);
            return Err(e.errno().into());
        }
    };
    let image = filled(&image, written)?;
    let st = guard.stats.of_mut(end);
    st.last_op = CKPT_OP_CHECKPOINT;
    st.checkpoints = st.checkpoints.saturating_add(1);
    st.checkpoint_bytes = st.checkpoint_bytes.saturating_add(written as u64);
    drop(guard);
    let stats = &pair.instance.globals().stats;
    stats.checkpoints.fetch_add(1, Ordering::Relaxed);
    stats
        .checkpoint_bytes
        .fetch_add(written as u64, Ordering::Relaxed);
    UserSlice::new(a.buf as usize, written)
        .writer()
        .write_slice(image)?;
    a.image_len = written as u32;
    write_arg(arg, &a)?;
    Ok(0)
}

/// Copies an image in from user space, bounded.
fn read_image(buf: u64, len: u32) -> Result<KVec<u8>> {
    let len = len as usize;
    if len == 0 || len > MAX_IMAGE_LEN {
        return Err(EINVAL);
    }
    let mut image = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let mut reader: UserSliceReader = UserSlice::new(buf as usize, len).reader();
    reader.read_slice(&mut image)?;
    Ok(image)
}

/// `CKPT_RESTART` on an end: loads its stream from an image.
pub(crate) fn restart_ioctl(pair: &Pair<Instance>, end: End, arg: usize) -> Result<isize> {
    if !process::may_restore() {
        return Err(EPERM);
    }
    let a: RestartArg = read_arg(arg)?;
    if a.flags != 0 {
        return Err(EINVAL);
    }
    let bytes = read_image(a.buf, a.buf_len)?;
    let decoded = image::decode(&bytes).map_err(|e| {
        pr_warn!("restart of pty {}: bad image: {}\n", pair.index, e);
        Error::from(e.errno())
    })?;
    let load = |pair: &Pair<Instance>| -> Result {
        let part = {
            let mut guard = pair.streams.lock();
            let part = checkpoint::restore(&mut guard.pty, &decoded, end).map_err(|e| {
                pr_warn!("restart of pty {}: {}\n", pair.index, e);
                Error::from(e.errno())
            })?;
            if part.index() != pair.index {
                pr_warn!(
                    "restart of pty {}: the image is of pty {}\n",
                    pair.index,
                    part.index()
                );
            }
            match part {
                // The association travels in the master image.
                checkpoint::MetaPart::Master(m) => {
                    pair.set_locked(m.locked);
                    guard.master_exclusive = m.exclusive;
                    guard.socket = m.socket.map(|id| socket_record(&id));
                }
                checkpoint::MetaPart::Slave(s) => guard.set_node_owner(s.node)?,
            }
            let st = guard.stats.of_mut(end);
            st.last_op = CKPT_OP_RESTART;
            st.restarts = st.restarts.saturating_add(1);
            st.restart_bytes = st.restart_bytes.saturating_add(bytes.len() as u64);
            part
        };
        // What the tty core keeps, outside the pair lock (its termios lock
        // comes first). Process groups are the restorer's business.
        if let checkpoint::MetaPart::Slave(s) = part {
            if let Some(file) = pair.slave_file() {
                settings::load_slave_tty(pair, &file, s.exclusive);
            }
        }
        Ok(())
    };
    match pair.mode {
        // BSD: no ordering rule; the state loads directly and runs.
        image::PtyMode::Bsd => {
            load(pair)?;
            let mut guard = pair.streams.lock();
            let mut fx = Effects::default();
            guard.pty.thaw(true, &mut fx);
            guard.pty.thaw(false, &mut fx);
            pair.settle(&guard, fx, None);
        }
        image::PtyMode::Att => {
            let instance = &pair.instance;
            let mut session = instance.session.lock();
            let Some(s) = session.as_mut() else {
                return Err(ENOENT);
            };
            if !pair.is_restoring() {
                return Err(EBUSY);
            }
            // Refuse a second image for the same end before touching state.
            if let Some(st) = s.lists.pair(pair.index) {
                let done = match end {
                    End::Master => st.master_restored,
                    End::Slave => st.slave_restored,
                };
                if done {
                    return Err(EBUSY);
                }
            }
            load(pair)?;
            s.lists.end_restored(pair.index, end).map_err(|e| {
                pr_warn!("restart of pty {}: {}\n", pair.index, e);
                Error::from(e.errno())
            })?;
            let stats = &instance.globals().stats;
            stats.restarts.fetch_add(1, Ordering::Relaxed);
            stats
                .restart_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(0)
}

/// The control device: `/dev/ckpt/control`, or `control` in an instance.
/// Its files act on the instance they were opened through.
pub(crate) struct ControlDevice {
    next_id: AtomicU64,
}

/// One open file of the control device; its id owns a session it began.
pub(crate) struct ControlFile {
    id: u64,
    root: InstanceRoot,
    instance: Arc<Instance>,
}

impl ControlDevice {
    pub(crate) fn new() -> Self {
        Self {
            next_id: AtomicU64::new(1),
        }
    }
}

#[vtable]
impl FileOperations for ControlDevice {
    type Open = KBox<ControlFile>;

    fn open(&self, _minor: u32, file: &File) -> Result<KBox<ControlFile>> {
        let root = InstanceRoot::of_file(file)?;
        let instance = root.instance::<PtsFs>()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(KBox::new(ControlFile { id, root, instance }, GFP_KERNEL)?)
    }

    fn release(&self, f: KBox<ControlFile>, _file: &File) {
        // A session whose control file goes away unfinished is rolled back.
        let session = {
            let mut guard = f.instance.session.lock();
            match guard.as_ref() {
                Some(s) if s.owner == f.id => guard.take(),
                _ => None,
            }
        };
        if let Some(s) = session {
            pr_warn!("restart session abandoned: rolled back\n");
            roll_back(&f.instance, s);
        }
    }

    fn ioctl(f: &ControlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            CKPT_GLOBAL_STATUS => {
                let st = global_status(&f.instance);
                write_arg(arg, &st)?;
                Ok(0)
            }
            CKPT_SESSION_BEGIN
            | CKPT_SESSION_BEGIN_SOCKETS
            | CKPT_SESSION_COMMIT
            | CKPT_SESSION_ABORT
            | CKPT_OPEN_MASTER
            | CKPT_SOCKET_RESTORED
                if !process::may_restore() =>
            {
                Err(EPERM)
            }
            CKPT_SESSION_BEGIN => begin(f, read_arg(arg)?, false),
            CKPT_SESSION_BEGIN_SOCKETS => begin(f, read_arg(arg)?, true),
            CKPT_SOCKET_RESTORED => socket_restored(f, arg as i32),
            CKPT_SESSION_COMMIT => commit(f, arg),
            CKPT_SESSION_ABORT => {
                let s = f.instance.session.lock().take().ok_or(ENOENT)?;
                roll_back(&f.instance, s);
                Ok(0)
            }
            CKPT_OPEN_MASTER => open_master(f, read_arg(arg)?),
            _ => Err(ENOTTY),
        }
    }
}

fn global_status(instance: &Instance) -> GlobalStatus {
    let s = &instance.globals().stats;
    GlobalStatus {
        format_version: u32::from(image::FORMAT_VERSION),
        pairs: instance.live_pairs(),
        max_pairs: instance.max_pairs(),
        bsd_pairs: instance.bsd_pairs(),
        session_active: u32::from(instance.session.lock().is_some()),
        reserved: 0,
        checkpoints: s.checkpoints.load(Ordering::Relaxed),
        restarts: s.restarts.load(Ordering::Relaxed),
        checkpoint_bytes: s.checkpoint_bytes.load(Ordering::Relaxed),
        restart_bytes: s.restart_bytes.load(Ordering::Relaxed),
        sessions_committed: s.sessions_committed.load(Ordering::Relaxed),
        sessions_rolled_back: s.sessions_rolled_back.load(Ordering::Relaxed),
    }
}

/// `CKPT_SESSION_BEGIN`: registers the image's pairs and claims their
/// indexes, all or nothing.
fn begin(f: &ControlFile, a: SessionArg, with_sockets: bool) -> Result<isize> {
    if a.flags != 0 || a.count > MAX_SESSION_PAIRS {
        return Err(EINVAL);
    }
    let instance = &f.instance;
    let mut session = instance.session.lock();
    if session.is_some() {
        return Err(EBUSY);
    }
    let mut lists = RestartSession::begin(
        KernelStorage::new(),
        KernelStorage::new(),
        instance.max_pairs(),
    );
    let size = if with_sockets {
        core::mem::size_of::<RestartSocketEntry>()
    } else {
        core::mem::size_of::<RestartEntry>()
    };
    let mut reader =
        UserSlice::new(a.entries as usize, (a.count as usize).saturating_mul(size)).reader();
    for _ in 0..a.count {
        let e: RestartSocketEntry = if with_sockets {
            reader.read()?
        } else {
            let plain: RestartEntry = reader.read()?;
            RestartSocketEntry {
                index: plain.index,
                ends: plain.ends,
                ..Default::default()
            }
        };
        let ends = Ends::from_parts(e.ends & CKPT_END_MASTER != 0, e.ends & CKPT_END_SLAVE != 0)
            .ok_or(EINVAL)?;
        if e.ends & !(CKPT_END_MASTER | CKPT_END_SLAVE) != 0 || e.has_socket > 1 {
            return Err(EINVAL);
        }
        let socket = (e.has_socket == 1).then(|| socket_id(&e.socket));
        lists
            .expect(e.index, ends, socket)
            .map_err(|e| Error::from(e.errno()))?;
    }
    lists.seal().map_err(|e| {
        pr_warn!("restart session: {}\n", e);
        Error::from(e.errno())
    })?;
    // Claim every index now: a busy one fails the whole begin.
    let mut pairs = KVec::with_capacity(a.count as usize, GFP_KERNEL)?;
    for st in lists.pairs() {
        crate::seam::process::yield_between_items();
        let claimed = instance
            .claim_for_restore(st.index)
            .and_then(|pair| pairs.push(pair, GFP_KERNEL).map_err(Error::from));
        if let Err(e) = claimed {
            if e == EBUSY {
                pr_warn!("restart session: pty {} is busy\n", st.index);
            }
            drop(session);
            for p in pairs.iter() {
                crate::seam::process::yield_between_items();
                p.abandon();
                instance.unlink(p);
            }
            return Err(e);
        }
    }
    *session = Some(Session {
        lists,
        pairs,
        owner: f.id,
    });
    Ok(0)
}

fn socket_id(r: &SocketRecord) -> waitlist::SocketId {
    waitlist::SocketId {
        family: r.family,
        sock_type: r.sock_type,
        protocol: r.protocol,
        local_addr: r.local_addr,
        local_port: r.local_port,
        remote_addr: r.remote_addr,
        remote_port: r.remote_port,
    }
}

fn socket_record(id: &waitlist::SocketId) -> SocketRecord {
    SocketRecord {
        family: id.family,
        sock_type: id.sock_type,
        protocol: id.protocol,
        local_port: id.local_port,
        remote_port: id.remote_port,
        reserved: 0,
        local_addr: id.local_addr,
        remote_addr: id.remote_addr,
    }
}

/// `CKPT_SOCKET_RESTORED`: a restored socket finds its pair through the
/// waiting-for-socket list, in whatever order it and the ends come back.
fn socket_restored(f: &ControlFile, fd: i32) -> Result<isize> {
    let record = crate::seam::socket::identity(fd)?;
    let id = socket_id(&record);
    let mut session = f.instance.session.lock();
    let s = session.as_mut().ok_or(ENOENT)?;
    let index = s.lists.socket_restored(&id).map_err(|e| {
        pr_warn!("restart session: socket {}: {}\n", id, e);
        Error::from(e.errno())
    })?;
    if let Some(pair) = s.pairs.iter().find(|p| p.index == index) {
        pair.streams.lock().socket = Some(record);
    }
    Ok(index as isize)
}

/// `CKPT_SESSION_COMMIT`.
fn commit(f: &ControlFile, arg: usize) -> Result<isize> {
    let mut a: CommitArg = read_arg(arg)?;
    let instance = &f.instance;
    let mut guard = instance.session.lock();
    let s = guard.as_mut().ok_or(ENOENT)?;
    let failed = match s.lists.commit() {
        Ok(()) => None,
        Err(e) => match &e {
            waitlist::CommitError::Session(_) => return Err(e.errno().into()),
            waitlist::CommitError::Orphans(orphans) => {
                pr_warn!("restart session commit failed: {}\n", orphans.summary(16));
                let count = orphans.len();
                let cap = (a.orphans_cap as usize).min(count);
                let mut records =
                    KVec::from_elem(0u8, cap.saturating_mul(ORPHAN_RECORD_LEN), GFP_KERNEL)?;
                let written = orphans
                    .write_records(&mut records)
                    .saturating_mul(ORPHAN_RECORD_LEN);
                Some((count, records, written, Error::from(e.errno())))
            }
        },
    };
    let Some(s) = guard.take() else {
        return Err(ENOENT);
    };
    drop(guard);
    match failed {
        None => {
            for pair in s.pairs.iter() {
                crate::seam::process::yield_between_items();
                pair.finish_restore();
            }
            instance
                .globals()
                .stats
                .sessions_committed
                .fetch_add(1, Ordering::Relaxed);
            Ok(0)
        }
        Some((count, records, written, error)) => {
            roll_back(instance, s);
            a.orphans_count = count as u32;
            UserSlice::new(a.orphans as usize, written)
                .writer()
                .write_slice(filled(&records, written)?)?;
            write_arg(arg, &a)?;
            Err(error)
        }
    }
}

/// Tears down every pair a session created: open files see a hangup, the
/// nodes go, and the indexes come free when the last file closes.
fn roll_back(instance: &Instance, s: Session) {
    for pair in s.pairs.iter() {
        crate::seam::process::yield_between_items();
        pair.abandon();
        instance.unlink(pair);
    }
    instance
        .globals()
        .stats
        .sessions_rolled_back
        .fetch_add(1, Ordering::Relaxed);
    drop(s);
}

/// `CKPT_OPEN_MASTER`: a real open of the instance's `ptmx` that attaches
/// to the session's pair instead of allocating one.
fn open_master(f: &ControlFile, a: OpenMasterArg) -> Result<isize> {
    let instance = &f.instance;
    let pair = {
        let session = instance.session.lock();
        let s = session.as_ref().ok_or(ENOENT)?;
        let st = s.lists.pair(a.index).ok_or(ENOENT)?;
        if !st.expected.has_master() {
            return Err(EINVAL);
        }
        s.pairs
            .iter()
            .find(|p| p.index == a.index)
            .cloned()
            .ok_or(ENOENT)?
    };
    /// What an open of ptmx honours; anything else is refused.
    const OPEN_FLAGS: u32 = O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_APPEND | O_LARGEFILE | O_CLOEXEC;
    if a.flags & !OPEN_FLAGS != 0 {
        return Err(EINVAL);
    }
    instance.set_master_target(pair)?;
    let r = instance.open_ptmx(&f.root, a.flags);
    instance.clear_master_target();
    Ok(r?.install_fd(a.flags & O_CLOEXEC != 0)? as isize)
}
