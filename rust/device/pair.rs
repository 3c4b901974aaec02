// SPDX-License-Identifier: GPL-2.0
//! Pairs: one pty = master end + slave end, named by its slave index in
//! its instance.
//!
//! The master is the module's own character device; the slave is a real
//! tty of the module's tty driver, running only our line discipline. Every
//! byte and every bit of stream state is in [`Streams::pty`] (the pure
//! core), under one lock; the tty core keeps what belongs to a terminal
//! (controlling terminal, sessions, process groups) and copies of the
//! settings (termios, winsize) that the line discipline keeps in sync.
//!
//! Lifetimes follow devpts: the slave node disappears when the master
//! closes (new slave opens then fail), but the index stays taken until the
//! pair itself is gone, i.e. until the last slave file closes too.

use super::globals::Globals;
use super::sleepers::SleepQueue;
use crate::pty_core::checkpoint::NodeOwner;
use crate::pty_core::image::PtyMode;
use crate::pty_core::stream::{Effects, PtyPair, Signals, Wake};
use crate::pty_core::End;
use crate::seam::file::flags::{O_NOCTTY, O_RDWR};
use crate::seam::fs::{InstanceRoot, Node, OwnedFile, Owner, SuperBlock, SuperBlockPin};
use crate::seam::poll::{events::*, PollQueue};
use crate::seam::process::{self, signal::*};
use crate::seam::storage::KernelStorage;
use crate::seam::tty::{SlaveFile, Tty, TtyPort};
use crate::uapi::{CKPT_OP_CHECKPOINT, CKPT_OP_RESTART};
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use kernel::{
    c_str, fmt, new_mutex,
    prelude::*,
    static_lock_class,
    str::CString,
    sync::{Arc, Mutex},
};

/// Open flags of the module's own slave file.
const INTERNAL_OPEN_FLAGS: u32 = O_RDWR | O_NOCTTY;

/// What `CKPT_STATUS` reports about one stream beyond its live state.
#[derive(Clone, Copy, Default)]
pub(crate) struct StreamStats {
    pub(crate) last_op: u32,
    pub(crate) checkpoints: u64,
    pub(crate) restarts: u64,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) restart_bytes: u64,
}

impl StreamStats {
    /// A checkpoint of `bytes` was taken.
    pub(crate) fn checkpointed(&mut self, bytes: usize) {
        self.last_op = CKPT_OP_CHECKPOINT;
        self.checkpoints = self.checkpoints.saturating_add(1);
        self.checkpoint_bytes = self.checkpoint_bytes.saturating_add(bytes as u64);
    }

    /// An image of `bytes` was restored.
    pub(crate) fn restarted(&mut self, bytes: usize) {
        self.last_op = CKPT_OP_RESTART;
        self.restarts = self.restarts.saturating_add(1);
        self.restart_bytes = self.restart_bytes.saturating_add(bytes as u64);
    }
}

/// The [`StreamStats`] of both streams of a pair.
#[derive(Clone, Copy, Default)]
pub(crate) struct PairStats {
    master: StreamStats,
    slave: StreamStats,
}

impl PairStats {
    /// The statistics of `end`'s stream.
    pub(crate) fn of(&self, end: End) -> StreamStats {
        match end {
            End::Master => self.master,
            End::Slave => self.slave,
        }
    }

    /// The statistics of `end`'s stream, to update.
    pub(crate) fn of_mut(&mut self, end: End) -> &mut StreamStats {
        match end {
            End::Master => &mut self.master,
            End::Slave => &mut self.slave,
        }
    }
}

/// Who holds an end's freeze, which says when it ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum FreezeHolder {
    /// Not frozen (or frozen by a restart session, which the pair's
    /// `restoring` flag says).
    #[default]
    Nobody,
    /// `CKPT_FREEZE` through the end's files: ends when the master file
    /// closes, or when the slave's last user file closes (the tty core
    /// does not tell a driver which file an ioctl came through, so the
    /// slave's files hold it together).
    Files,
    /// A checkpoint left the end frozen for migration: the end stays
    /// consistent with its image until a privileged `CKPT_THAW`, whoever
    /// closes what.
    Migration,
}

/// The [`FreezeHolder`] of both ends.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FreezeHolders {
    master: FreezeHolder,
    slave: FreezeHolder,
}

impl FreezeHolders {
    pub(crate) fn of(&self, end: End) -> FreezeHolder {
        match end {
            End::Master => self.master,
            End::Slave => self.slave,
        }
    }

    pub(crate) fn set(&mut self, end: End, holder: FreezeHolder) {
        match end {
            End::Master => self.master = holder,
            End::Slave => self.slave = holder,
        }
    }
}

/// The slave tty of a pair: the module's own open file of it (which keeps
/// the tty, and our line discipline on it, alive while no user has the
/// slave open) and its nodes.
pub(crate) struct SlaveSide {
    pub(crate) file: SlaveFile,
    /// `<instance>/<index>` (BSD: `<instance>/ttyN`); `None` once the
    /// master closed.
    node: Option<Node>,
    /// The node of the internal mount the module opened.
    _internal: Node,
}

/// The state behind a pair's lock.
pub(crate) struct Streams {
    /// A master file is open (BSD pairs reopen their master; AT&T masters
    /// are open from creation to teardown).
    pub(crate) master_open: bool,
    /// Both streams and every byte in flight between them.
    pub(crate) pty: PtyPair<KernelStorage>,
    /// `TIOCEXCL` on the master (the slave's is the tty's `TTY_EXCLUSIVE`).
    pub(crate) master_exclusive: bool,
    /// Checkpoint statistics per stream.
    pub(crate) stats: PairStats,
    /// The socket this pair serves (`CKPT_SOCKET_SET`), by identity.
    pub(crate) socket: Option<crate::uapi::SocketRecord>,
    /// The slave tty, from creation until the master's teardown.
    pub(crate) slave: Option<SlaveSide>,
    /// Who holds each end's freeze.
    pub(crate) freeze_holders: FreezeHolders,
}

impl Streams {
    fn new() -> Self {
        Self {
            master_open: false,
            pty: PtyPair::new(KernelStorage::new),
            master_exclusive: false,
            stats: PairStats::default(),
            socket: None,
            slave: None,
            freeze_holders: FreezeHolders::default(),
        }
    }

    /// A fresh session on the same slave tty (BSD pairs).
    pub(crate) fn reset_session(&mut self) {
        let slave = self.slave.take();
        *self = Self::new();
        self.slave = slave;
    }

    /// Freezes `end` for `holder` (a migration freeze is never weakened
    /// to a file's).
    pub(crate) fn freeze_for(&mut self, end: End, holder: FreezeHolder) {
        if self.freeze_holders.of(end) != FreezeHolder::Migration {
            self.freeze_holders.set(end, holder);
        }
        self.pty.freeze(end.is_master());
    }

    /// Thaws `end`, whoever held it.
    pub(crate) fn thaw(&mut self, end: End, fx: &mut Effects) {
        self.freeze_holders.set(end, FreezeHolder::Nobody);
        self.pty.thaw(end.is_master(), fx);
    }

    /// The files of `end` are all closed: a freeze they held ends.
    pub(crate) fn files_gone(&mut self, end: End, fx: &mut Effects) {
        if self.freeze_holders.of(end) == FreezeHolder::Files {
            self.thaw(end, fx);
        }
    }

    /// The slave tty, while the module holds it.
    pub(crate) fn slave_tty(&self) -> Option<&Tty> {
        self.slave.as_ref().map(|s| s.file.tty())
    }

    /// The slave node's owner and permissions.
    pub(crate) fn node_owner(&self) -> NodeOwner {
        let Some((owner, mode)) = self
            .slave
            .as_ref()
            .and_then(|s| s.node.as_ref())
            .map(Node::owner)
        else {
            return NodeOwner::default();
        };
        let (uid, gid) = owner.to_user();
        NodeOwner { uid, gid, mode }
    }

    /// Gives the slave node `owner` and the permissions `mode` (restart).
    pub(crate) fn set_node_owner(&self, owner: Owner, mode: u16) {
        if let Some(n) = self.slave.as_ref().and_then(|s| s.node.as_ref()) {
            n.set_owner(owner, mode);
        }
    }
}

/// What a pair needs from the instance (`ckptpts` mount) it belongs to.
/// The instance holds its pairs, so the pair knows it only through this.
pub(crate) trait PairOwner: Send + Sync + 'static {
    /// What every instance shares: device numbers, the internal mount.
    fn globals(&self) -> &Globals;
    /// The superblock the pair's slave node is made in.
    fn sb(&self) -> &SuperBlock;
    /// Owner and permissions of a slave node that `creator` makes.
    fn slave_node(&self, creator: Owner) -> (Owner, u16);
    /// Gives `index` back (the drop of an AT&T pair).
    fn release_index(&self, index: u32);
}

/// One pty, in the instance `O`.
#[pin_data(PinnedDrop)]
pub(crate) struct Pair<O: PairOwner> {
    /// Slave index (AT&T) or BSD pair number.
    pub(crate) index: u32,
    pub(crate) mode: PtyMode,
    /// The instance (ckptpts mount) the pair belongs to.
    pub(crate) instance: Arc<O>,
    /// Keeps the instance's superblock active while the pair has nodes
    /// (AT&T pairs; BSD pairs are the instance's own).
    #[pin]
    sb_pin: Mutex<Option<SuperBlockPin>>,
    /// The slave cannot be opened while set (TIOCSPTLCK); a fresh AT&T pair
    /// is locked, as on Linux, until the master unlocks it.
    locked: AtomicBool,
    /// The AT&T index is still taken. It is given back once: when the pair
    /// ends (master closed, no slave file left), or at drop if it never
    /// got that far. Not only at drop: the tty core frees the slave tty,
    /// which holds the pair, later from a workqueue, and a restart at this
    /// exact index right after the close must not see it busy.
    index_held: AtomicBool,
    /// Created by a restart session and not committed yet: frozen, its
    /// slave opens despite the lock, its master opens only through
    /// `CKPT_OPEN_MASTER`.
    restoring: AtomicBool,
    /// The thread creating the slave tty (0 when none): only its own open
    /// of the internal node may create the tty.
    creator: AtomicI32,
    /// The tty core's port for the slave tty.
    port: TtyPort,
    /// One lock for both streams: every operation touches both ends
    /// (echo, output, flow control), so one lock keeps the data path free
    /// of lock ordering. Held across the master's user copies (a sleeping
    /// mutex, as a pipe's: see `end.rs`), never across a call into the
    /// tty core that takes tty locks (hangup, ldisc change, termios).
    #[pin]
    pub(crate) streams: Mutex<Streams>,
    /// Master readers waiting for data or status ([`Wake::MASTER_READ`]).
    #[pin]
    pub(crate) master_readers: SleepQueue,
    /// Master writers waiting for room ([`Wake::MASTER_WRITE`]).
    #[pin]
    pub(crate) master_writers: SleepQueue,
    /// Slave readers waiting for input ([`Wake::SLAVE_READ`]).
    #[pin]
    pub(crate) slave_readers: SleepQueue,
    /// Slave writers waiting for room or restarted output
    /// ([`Wake::SLAVE_WRITE`]).
    #[pin]
    pub(crate) slave_writers: SleepQueue,
    /// Requests waiting for the pair to thaw ([`Wake::ALL`], which a thaw
    /// and a hangup report).
    #[pin]
    pub(crate) thaw_waiters: SleepQueue,
    /// `poll` registrations of both ends.
    #[pin]
    pub(crate) pollers: PollQueue,
}

impl<O: PairOwner> Pair<O> {
    /// A new pair, without its slave tty yet ([`Pair::create_slave`]).
    /// AT&T pairs come locked; from here on the pair's drop gives the
    /// index back.
    pub(crate) fn new(instance: &Arc<O>, index: u32, mode: PtyMode) -> Result<Arc<Self>> {
        let sb_pin = match mode {
            PtyMode::Att => Some(instance.sb().pin()),
            PtyMode::Bsd => None,
        };
        let port = TtyPort::new()?;
        let locked = mode == PtyMode::Att;
        let holds_index = mode == PtyMode::Att;
        let master_readers = SleepQueue::new(
            c_str!("ckpt_pty::Pair::master_readers"),
            static_lock_class!(),
        );
        let master_writers = SleepQueue::new(
            c_str!("ckpt_pty::Pair::master_writers"),
            static_lock_class!(),
        );
        let slave_readers = SleepQueue::new(
            c_str!("ckpt_pty::Pair::slave_readers"),
            static_lock_class!(),
        );
        let slave_writers = SleepQueue::new(
            c_str!("ckpt_pty::Pair::slave_writers"),
            static_lock_class!(),
        );
        let thaw_waiters =
            SleepQueue::new(c_str!("ckpt_pty::Pair::thaw_waiters"), static_lock_class!());
        Arc::pin_init(
            pin_init!(Self {
                index,
                mode,
                instance: instance.clone(),
                sb_pin <- new_mutex!(sb_pin, "ckpt_pty::Pair::sb_pin"),
                locked: AtomicBool::new(locked),
                index_held: AtomicBool::new(holds_index),
                restoring: AtomicBool::new(false),
                creator: AtomicI32::new(0),
                port,
                streams <- new_mutex!(Streams::new(), "ckpt_pty::Pair::streams"),
                master_readers <- master_readers,
                master_writers <- master_writers,
                slave_readers <- slave_readers,
                slave_writers <- slave_writers,
                thaw_waiters <- thaw_waiters,
                pollers <- PollQueue::new(c_str!("ckpt_pty::Pair::pollers"), static_lock_class!()),
            }),
            // Charged to the opener's memory cgroup, as a tty_struct is.
            GFP_KERNEL_ACCOUNT,
        )
        .map_err(Error::from)
    }

    /// Makes the slave tty: a node in the internal mount, opened by the
    /// module itself (the tty core creates the tty, with our line
    /// discipline from the start), then the node users see.
    pub(crate) fn create_slave(self: &Arc<Self>, owner: Owner) -> Result {
        let globals: &Globals = self.instance.globals();
        let dev = globals.slave_dev(self.mode, self.index);
        let name = CString::try_from_fmt(fmt!("{}", globals.next_internal_id()))?;
        let internal = globals.internal_sb().create_node(
            &name,
            0o600,
            dev,
            Owner::default(),
            Some(self.clone()),
        )?;
        self.creator
            .store(process::current_tid(), Ordering::Release);
        let opened = internal
            .dentry()
            .open_internal(globals.internal_mount(), INTERNAL_OPEN_FLAGS);
        self.creator.store(0, Ordering::Release);
        crate::seam::tty::entry::forget_install(self);
        // The tty was created with our line discipline and `c_line` locked
        // (tty_bridge.c's install): N_TTY never ran on it.
        let file = SlaveFile::from_opened(opened?)?;
        let node_name = match self.mode {
            PtyMode::Att => CString::try_from_fmt(fmt!("{}", self.index))?,
            PtyMode::Bsd => CString::try_from_fmt(fmt!("tty{}", self.index))?,
        };
        let (owner, mode) = self.instance.slave_node(owner);
        let node =
            self.instance
                .sb()
                .create_node(&node_name, mode, dev, owner, Some(self.clone()))?;
        self.streams.lock().slave = Some(SlaveSide {
            file,
            node: Some(node),
            _internal: internal,
        });
        Ok(())
    }

    /// The tty core's port of the slave tty.
    pub(crate) fn port(&self) -> core::ptr::NonNull<crate::seam::tty::RawTtyPort> {
        self.port.as_raw()
    }

    /// Whether the calling thread is creating this pair's slave tty.
    pub(crate) fn is_creating(&self) -> bool {
        self.creator.load(Ordering::Acquire) == process::current_tid()
    }

    /// The master file closed: its stream is released (the slave sees the
    /// master gone).
    pub(crate) fn close_master(&self) {
        let mut streams = self.streams.lock();
        let mut fx = Effects::default();
        streams.master_open = false;
        streams.files_gone(End::Master, &mut fx);
        streams.pty.master_released(&mut fx);
        self.settle(&streams, fx, None);
    }

    /// The master is gone for good (AT&T): the slave node goes, the slave
    /// tty is hung up (its session leader gets `SIGHUP`), and the module
    /// lets go of it; the tty itself lives until its last user closes.
    pub(crate) fn tear_down_slave(&self) {
        let side = {
            let mut streams = self.streams.lock();
            streams.slave.take()
        };
        if let Some(mut side) = side {
            drop(side.node.take());
            side.file.hang_up();
            drop(side);
        }
        drop(self.sb_pin.lock().take());
    }

    /// The master of a BSD pair closed: the slave is hung up until all its
    /// files are closed; the pair (and the module's slave file) stays.
    pub(crate) fn hang_up_slave(&self) {
        if let Some(file) = self.slave_file() {
            file.hang_up();
        }
    }

    /// Opens the slave node for the caller below `root` (`TIOCGPTPEER`).
    pub(crate) fn open_slave_node(&self, root: &InstanceRoot, flags: u32) -> Result<OwnedFile> {
        let dentry = self
            .streams
            .lock()
            .slave
            .as_ref()
            .and_then(|s| s.node.as_ref())
            .map(Node::dentry)
            .ok_or(EIO)?;
        dentry.open(root, flags)
    }

    /// A counted reference to the module's slave file, to call into the
    /// tty core without holding the pair lock.
    pub(crate) fn slave_file(&self) -> Option<SlaveFile> {
        self.streams
            .lock()
            .slave
            .as_ref()
            .map(|s| s.file.clone_ref())
    }

    /// Frees the AT&T index for new pairs and restarts (once; BSD pairs
    /// keep theirs). Only for a pair nobody can reach any more: its slot
    /// and nodes are gone and no file of either end is open.
    pub(crate) fn give_back_index(&self) {
        if self.index_held.swap(false, Ordering::AcqRel) {
            self.instance.release_index(self.index);
        }
    }

    pub(crate) fn is_bsd(&self) -> bool {
        self.mode == PtyMode::Bsd
    }

    pub(crate) fn is_restoring(&self) -> bool {
        self.restoring.load(Ordering::Acquire)
    }

    pub(crate) fn set_restoring(&self) {
        self.restoring.store(true, Ordering::Release);
        let mut guard = self.streams.lock();
        guard.pty.freeze(true);
        guard.pty.freeze(false);
    }

    /// Session commit: the restored streams start running.
    pub(crate) fn finish_restore(&self) {
        let mut guard = self.streams.lock();
        self.restoring.store(false, Ordering::Release);
        let mut fx = Effects::default();
        guard.thaw(End::Master, &mut fx);
        guard.thaw(End::Slave, &mut fx);
        self.settle(&guard, fx, None);
    }

    /// Session rollback: whoever holds an end sees a hangup.
    pub(crate) fn abandon(&self) {
        {
            let mut guard = self.streams.lock();
            self.restoring.store(false, Ordering::Release);
            let mut fx = Effects::default();
            guard.pty.master_released(&mut fx);
            guard.pty.life.slave_closed = true;
            self.settle(&guard, fx, None);
        }
        self.tear_down_slave();
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    pub(crate) fn set_locked(&self, locked: bool) {
        self.locked.store(locked, Ordering::Release)
    }

    /// Carries out what an operation on the streams asked for: wake-ups,
    /// and signals to the slave tty's foreground process group. `tty` is
    /// the slave tty when the caller has it (slave-side operations);
    /// otherwise the module's own file of it is used. Called with the lock
    /// held: neither wake-ups nor `kill_pgrp` take it.
    pub(crate) fn settle(&self, streams: &Streams, fx: Effects, tty: Option<&Tty>) {
        self.wake(fx.wake);
        if fx.signals.is_empty() {
            return;
        }
        let Some(tty) = tty.or_else(|| streams.slave_tty()) else {
            return;
        };
        // SIGWINCH is the tty core's (`tty_do_resize`).
        for (sig, signo) in [
            (Signals::INT, SIGINT),
            (Signals::QUIT, SIGQUIT),
            (Signals::TSTP, SIGTSTP),
        ] {
            if fx.signals.contains(sig) {
                tty.signal_foreground(signo);
            }
        }
    }
}

impl<O: PairOwner> Pair<O> {
    /// Wakes the sleepers `wake` concerns, and only those: each kind waits
    /// on its own queue. Called with the pair's lock held (see
    /// [`SleepQueue`]).
    fn wake(&self, wake: Wake) {
        if wake.is_empty() {
            return;
        }
        if wake.intersects(Wake::MASTER_READ) {
            self.master_readers.notify_all();
        }
        if wake.intersects(Wake::MASTER_WRITE) {
            self.master_writers.notify_all();
        }
        if wake.intersects(Wake::SLAVE_READ) {
            self.slave_readers.notify_all();
        }
        if wake.intersects(Wake::SLAVE_WRITE) {
            self.slave_writers.notify_all();
        }
        if wake == Wake::ALL {
            self.thaw_waiters.notify_all();
        }
        self.pollers.wake(poll_mask(wake));
    }

    /// Every sleeper looks again (the slave tty was hung up). `_streams`:
    /// the lock is held.
    pub(crate) fn wake_everybody(&self, _streams: &Streams) {
        self.wake(Wake::ALL);
        self.pollers.wake(u32::MAX);
    }
}

/// Poll bits a wake-up concerns.
fn poll_mask(wake: Wake) -> u32 {
    let mut mask = 0;
    if wake.intersects(Wake::MASTER_READ | Wake::SLAVE_READ) {
        mask |= POLLIN | POLLRDNORM | POLLPRI;
    }
    if wake.intersects(Wake::MASTER_WRITE | Wake::SLAVE_WRITE) {
        mask |= POLLOUT | POLLWRNORM;
    }
    if wake == Wake::ALL {
        mask |= POLLHUP | POLLERR;
    }
    mask
}

#[pinned_drop]
impl<O: PairOwner> PinnedDrop for Pair<O> {
    fn drop(self: Pin<&mut Self>) {
        self.give_back_index();
    }
}
