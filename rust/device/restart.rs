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

use super::end::End;
use super::pair::{Pair, PairTable};
use crate::pty_core::checkpoint::{self, PairMeta};
use crate::pty_core::image::{self, StreamKind};
use crate::pty_core::stream::Effects;
use crate::pty_core::waitlist::{self, Ends, RestartSession};
use crate::seam::{
    chrdev::FileOperations,
    file::{open_fd, File},
    process::{self, ProcessGroup},
    storage::KernelStorage,
};
use crate::uapi::*;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    prelude::*,
    str::CString,
    sync::Arc,
    uaccess::{UserSlice, UserSliceReader},
};

/// Largest image `CKPT_RESTART` accepts: both queue bounds plus a canonical
/// line and headers fit with room to spare.
const MAX_IMAGE_LEN: usize = 512 * 1024;

/// Largest number of pairs one session may list.
const MAX_SESSION_PAIRS: u32 = 1 << 20;

/// Module-wide counters (`CKPT_GLOBAL_STATUS`).
#[derive(Default)]
pub(crate) struct GlobalStats {
    pub(crate) checkpoints: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) checkpoint_bytes: AtomicU64,
    pub(crate) restart_bytes: AtomicU64,
    pub(crate) sessions_committed: AtomicU64,
    pub(crate) sessions_rolled_back: AtomicU64,
}

/// A restart session in progress: the wait lists and the pairs it created.
pub(crate) struct Session {
    lists: RestartSession<KernelStorage>,
    pairs: KVec<Arc<Pair>>,
    /// Which control file began it (its release aborts the session).
    owner: u64,
}

fn kind_of(end: End) -> StreamKind {
    match end {
        End::Master => StreamKind::Master,
        End::Slave => StreamKind::Slave,
    }
}

fn meta_of(pair: &Pair, streams: &super::pair::Streams) -> PairMeta {
    PairMeta {
        index: pair.index,
        mode: if pair.is_bsd() {
            image::PtyMode::Bsd
        } else {
            image::PtyMode::Att
        },
        locked: pair.is_locked(),
        exclusive: streams.exclusive,
        foreground_pgrp: streams.foreground.as_ref().map_or(0, |pg| pg.nr()),
        master_open: streams.master_open,
        socket: streams.socket.as_ref().map(socket_id),
    }
}

fn read_arg<T: Copy + Default>(arg: usize) -> Result<T>
where
    T: kernel::types::FromBytes,
{
    UserSlice::new(arg, core::mem::size_of::<T>())
        .reader()
        .read::<T>()
}

/// `CKPT_CHECKPOINT` on an end.
pub(crate) fn checkpoint_ioctl(pair: &Pair, end: End, arg: usize) -> Result<isize> {
    let mut a: CheckpointArg = read_arg(arg)?;
    if a.flags & !CKPT_LEAVE_FROZEN != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    let kind = kind_of(end);
    let slot = end.slot();
    let table = pair.table();
    let mut guard = pair.streams.lock();
    let meta = meta_of(pair, &guard);
    let needed = checkpoint::checkpoint_len(&guard.pty, kind, &meta).map_err(|e| {
        pr_warn!("checkpoint of pty {}: {}\n", pair.index, e);
        Error::from_errno(-e.errno())
    })?;
    a.image_len = needed as u32;
    if (a.buf_len as usize) < needed {
        drop(guard);
        UserSlice::new(arg, core::mem::size_of::<CheckpointArg>())
            .writer()
            .write(&a)?;
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
    let written = checkpoint::checkpoint(&guard.pty, kind, &meta, a.checkpoint_id, &mut image);
    let leave = was_frozen || a.flags & CKPT_LEAVE_FROZEN != 0;
    if !leave {
        let mut fx = Effects::default();
        guard.pty.thaw(end.is_master(), &mut fx);
        pair.settle(&guard, fx);
    }
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            pr_warn!("checkpoint of pty {} failed: {}\n", pair.index, e);
            return Err(Error::from_errno(-e.errno()));
        }
    };
    if let Some(st) = guard.stats.get_mut(slot) {
        st.last_op = CKPT_OP_CHECKPOINT;
        st.checkpoints = st.checkpoints.saturating_add(1);
        st.checkpoint_bytes = st.checkpoint_bytes.saturating_add(written as u64);
    }
    drop(guard);
    if let Some(t) = table {
        t.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        t.stats
            .checkpoint_bytes
            .fetch_add(written as u64, Ordering::Relaxed);
    }
    UserSlice::new(a.buf as usize, written)
        .writer()
        .write_slice(image.get(..written).unwrap_or(&[]))?;
    a.image_len = written as u32;
    UserSlice::new(arg, core::mem::size_of::<CheckpointArg>())
        .writer()
        .write(&a)?;
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
pub(crate) fn restart_ioctl(pair: &Pair, end: End, arg: usize) -> Result<isize> {
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
        Error::from_errno(-e.errno())
    })?;
    let kind = kind_of(end);
    let load = |pair: &Pair| -> Result {
        let mut guard = pair.streams.lock();
        let part = checkpoint::restore(&mut guard.pty, &decoded, kind).map_err(|e| {
            pr_warn!("restart of pty {}: {}\n", pair.index, e);
            Error::from_errno(-e.errno())
        })?;
        if part.index() != pair.index {
            pr_warn!(
                "restart of pty {}: the image is of pty {}\n",
                pair.index,
                part.index()
            );
        }
        let mut meta = meta_of(pair, &guard);
        part.apply(&mut meta);
        guard.exclusive = meta.exclusive;
        if let checkpoint::MetaPart::Master(m) = part {
            // The association travels in the master image.
            guard.socket = m.socket.map(|id| socket_record(&id));
        }
        if let checkpoint::MetaPart::Slave(s) = part {
            // Process groups survive only where pids are restored (CRIU);
            // a number that names no group here is dropped.
            guard.foreground = if s.foreground_pgrp > 0 {
                ProcessGroup::from_nr(s.foreground_pgrp)
            } else {
                None
            };
        }
        if let Some(st) = guard.stats.get_mut(end.slot()) {
            st.last_op = CKPT_OP_RESTART;
            st.restarts = st.restarts.saturating_add(1);
            st.restart_bytes = st.restart_bytes.saturating_add(bytes.len() as u64);
        }
        Ok(())
    };
    match pair.table() {
        // BSD: no ordering rule; the state loads directly and runs.
        None => {
            load(pair)?;
            let mut guard = pair.streams.lock();
            let mut fx = Effects::default();
            guard.pty.thaw(true, &mut fx);
            guard.pty.thaw(false, &mut fx);
            pair.settle(&guard, fx);
        }
        Some(table) => {
            let mut session = table.session.lock();
            let Some(s) = session.as_mut() else {
                return Err(ENOENT);
            };
            if !pair.is_restoring() {
                return Err(EBUSY);
            }
            // Refuse a second image for the same end before touching state.
            let wl_end = if end.is_master() {
                waitlist::End::Master
            } else {
                waitlist::End::Slave
            };
            if let Some(st) = s.lists.pair(pair.index) {
                let done = match wl_end {
                    waitlist::End::Master => st.master_restored,
                    waitlist::End::Slave => st.slave_restored,
                };
                if done {
                    return Err(EBUSY);
                }
            }
            load(pair)?;
            s.lists.end_restored(pair.index, wl_end).map_err(|e| {
                pr_warn!("restart of pty {}: {}\n", pair.index, e);
                session_errno(&e)
            })?;
            table.stats.restarts.fetch_add(1, Ordering::Relaxed);
            table
                .stats
                .restart_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(0)
}

fn session_errno(e: &waitlist::SessionError) -> Error {
    use waitlist::SessionError as E;
    match e {
        E::AlreadyRestored { .. } | E::SocketAlreadyRestored { .. } => EBUSY,
        E::UnknownIndex { .. } | E::UnknownSocket => ENOENT,
        E::NoMemory => ENOMEM,
        _ => EINVAL,
    }
}

/// The control device.
pub(crate) struct ControlDevice {
    table: Arc<PairTable>,
    next_id: AtomicU64,
}

/// One open file of the control device; its id owns a session it began.
pub(crate) struct ControlFile {
    id: u64,
    table: Arc<PairTable>,
}

impl ControlDevice {
    pub(crate) fn new(table: Arc<PairTable>) -> Self {
        Self {
            table,
            next_id: AtomicU64::new(1),
        }
    }
}

#[vtable]
impl FileOperations for ControlDevice {
    type Open = KBox<ControlFile>;

    fn open(&self, _minor: u32, _file: &File) -> Result<KBox<ControlFile>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(KBox::new(
            ControlFile {
                id,
                table: self.table.clone(),
            },
            GFP_KERNEL,
        )?)
    }

    fn release(&self, f: KBox<ControlFile>, _file: &File) {
        // A session whose control file goes away unfinished is rolled back.
        let session = {
            let mut guard = f.table.session.lock();
            match guard.as_ref() {
                Some(s) if s.owner == f.id => guard.take(),
                _ => None,
            }
        };
        if let Some(s) = session {
            pr_warn!("restart session abandoned: rolled back\n");
            roll_back(&f.table, s);
        }
    }

    fn ioctl(f: &ControlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            CKPT_GLOBAL_STATUS => {
                let st = global_status(&f.table);
                UserSlice::new(arg, core::mem::size_of::<GlobalStatus>())
                    .writer()
                    .write(&st)?;
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
                let s = f.table.session.lock().take().ok_or(ENOENT)?;
                roll_back(&f.table, s);
                Ok(0)
            }
            CKPT_OPEN_MASTER => open_master(f, read_arg(arg)?),
            _ => Err(ENOTTY),
        }
    }
}

fn global_status(table: &PairTable) -> GlobalStatus {
    let s = &table.stats;
    GlobalStatus {
        format_version: u32::from(image::FORMAT_VERSION),
        pairs: table.live_pairs(),
        max_pairs: table.max_pairs(),
        bsd_pairs: table.bsd_pairs(),
        session_active: u32::from(table.session.lock().is_some()),
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
    let table = &f.table;
    let mut session = table.session.lock();
    if session.is_some() {
        return Err(EBUSY);
    }
    let mut lists = RestartSession::begin(
        KernelStorage::new(),
        KernelStorage::new(),
        table.max_pairs(),
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
            .map_err(|e| session_errno(&e))?;
    }
    lists.seal().map_err(|e| {
        pr_warn!("restart session: {}\n", e);
        session_errno(&e)
    })?;
    // Claim every index now: a busy one fails the whole begin.
    let mut pairs = KVec::with_capacity(a.count as usize, GFP_KERNEL)?;
    for st in lists.pairs() {
        match table.claim_for_restore(st.index as usize) {
            Ok(pair) => pairs.push(pair, GFP_KERNEL)?,
            Err(e) => {
                if e == EBUSY {
                    pr_warn!("restart session: pty {} is busy\n", st.index);
                }
                drop(session);
                for p in pairs.iter() {
                    table.unlink(p);
                }
                return Err(e);
            }
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
    let mut session = f.table.session.lock();
    let s = session.as_mut().ok_or(ENOENT)?;
    let index = s.lists.socket_restored(&id).map_err(|e| {
        pr_warn!("restart session: socket {}: {}\n", id, e);
        session_errno(&e)
    })?;
    if let Some(pair) = s.pairs.iter().find(|p| p.index == index) {
        pair.streams.lock().socket = Some(record);
    }
    Ok(index as isize)
}

/// `CKPT_SESSION_COMMIT`.
fn commit(f: &ControlFile, arg: usize) -> Result<isize> {
    let mut a: CommitArg = read_arg(arg)?;
    let table = &f.table;
    let mut guard = table.session.lock();
    let s = guard.as_mut().ok_or(ENOENT)?;
    let failed = match s.lists.commit() {
        Ok(()) => None,
        Err(waitlist::CommitError::Session(e)) => return Err(session_errno(&e)),
        Err(waitlist::CommitError::Orphans(orphans)) => {
            pr_warn!("restart session commit failed: {}\n", orphans.summary(16));
            let count = orphans.len();
            let cap = (a.orphans_cap as usize).min(count);
            let mut records =
                KVec::from_elem(0u8, cap.saturating_mul(ORPHAN_RECORD_LEN), GFP_KERNEL)?;
            let written = orphans
                .write_records(&mut records)
                .saturating_mul(ORPHAN_RECORD_LEN);
            Some((count, records, written))
        }
    };
    let Some(s) = guard.take() else {
        return Err(ENOENT);
    };
    drop(guard);
    match failed {
        None => {
            for pair in s.pairs.iter() {
                pair.finish_restore();
            }
            table
                .stats
                .sessions_committed
                .fetch_add(1, Ordering::Relaxed);
            Ok(0)
        }
        Some((count, records, written)) => {
            roll_back(table, s);
            a.orphans_count = count as u32;
            UserSlice::new(a.orphans as usize, written)
                .writer()
                .write_slice(records.get(..written).unwrap_or(&[]))?;
            UserSlice::new(arg, core::mem::size_of::<CommitArg>())
                .writer()
                .write(&a)?;
            Err(ENXIO)
        }
    }
}

/// Tears down every pair a session created: open files see a hangup, the
/// nodes go, and the indexes come free when the last file closes.
fn roll_back(table: &PairTable, s: Session) {
    for pair in s.pairs.iter() {
        pair.abandon();
        table.unlink(pair);
    }
    table
        .stats
        .sessions_rolled_back
        .fetch_add(1, Ordering::Relaxed);
    drop(s);
}

/// `CKPT_OPEN_MASTER`: a real open of `/dev/ckpt/ptmx` that attaches to
/// the session's pair instead of allocating one.
fn open_master(f: &ControlFile, a: OpenMasterArg) -> Result<isize> {
    let table = &f.table;
    {
        let session = table.session.lock();
        let s = session.as_ref().ok_or(ENOENT)?;
        let st = s.lists.pair(a.index).ok_or(ENOENT)?;
        if !st.expected.has_master() {
            return Err(EINVAL);
        }
    }
    let path = CString::try_from_fmt(fmt!("{}", PTMX_PATH))?;
    table.set_master_target(a.index)?;
    let r = open_fd(&path, a.flags);
    table.clear_master_target();
    r.map(|fd| fd as isize)
}

use kernel::fmt;
