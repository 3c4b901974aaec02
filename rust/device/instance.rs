// SPDX-License-Identifier: GPL-2.0
//! Instances: one `ckptpts` mount = one index space, like devpts.
//!
//! An instance holds its pairs by index (the lowest free index for a new
//! pair, an exact one for a restart), its BSD pairs, its nodes (`ptmx`,
//! `control`, `ptyN`), and its restart session. The module-wide part —
//! device numbers, the internal mount, counters — is [`Globals`].

use super::globals::Globals;
use super::pair::{Pair, PairOwner};
use super::session::Session;
use super::slots::Slots;
use crate::pty_core::image::PtyMode;
use crate::pty_core::index::IndexAllocator;
use crate::pty_core::options::MountOptions;
use crate::seam::chrdev::mkdev;
use crate::seam::fs::{InstanceRoot, Node, OwnedFile, Owner, PtsFsOps, SuperBlock, SHOWN_OPTIONS};
use crate::seam::log::warn_limited;
use crate::seam::process;
use crate::seam::storage::KernelStorage;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    bindings, c_str, fmt, new_mutex,
    prelude::*,
    str::{CStr, CString},
    sync::{Arc, Mutex},
};

/// An instance's options with ids as the kernel stores them.
#[derive(Clone, Copy)]
pub(crate) struct InstanceOptions {
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) mode: u16,
    pub(crate) ptmx_mode: u16,
    pub(crate) max: u32,
    pub(crate) bsd: u32,
    /// As given, for `/proc/mounts`.
    shown: MountOptions,
}

impl InstanceOptions {
    fn from_mount(o: MountOptions) -> Result<Self> {
        let ids = Owner::from_user(o.uid.unwrap_or(0), o.gid.unwrap_or(0))?;
        Ok(Self {
            uid: o.uid.map(|_| ids.uid),
            gid: o.gid.map(|_| ids.gid),
            mode: o.mode,
            ptmx_mode: o.ptmx_mode,
            max: o.max,
            bsd: o.bsd,
            shown: o,
        })
    }

    /// Who owns a node created by `creator`: `uid=`/`gid=` win.
    pub(crate) fn node_owner(&self, creator: Owner) -> Owner {
        Owner {
            uid: self.uid.unwrap_or(creator.uid),
            gid: self.gid.unwrap_or(creator.gid),
        }
    }
}

/// What the table lock protects: the index bitmap and the index → pair
/// map. A pair in the map has its master live (or being restored); a set
/// bit without a pair is a pair whose master closed while its slave is
/// still open.
struct Table {
    indexes: IndexAllocator<KernelStorage>,
    slots: Slots<Pair<Instance>>,
}

/// One mount of `ckptpts`.
#[pin_data]
pub(crate) struct Instance {
    globals: Arc<Globals>,
    /// The superblock. Valid while the instance is mounted or pinned:
    /// whoever creates nodes holds a mount (an `InstanceRoot`) or a pin.
    sb: SuperBlock,
    options: InstanceOptions,
    #[pin]
    table: Mutex<Table>,
    /// BSD pairs, from mount to unmount.
    #[pin]
    bsd: Mutex<KVec<Arc<Pair<Instance>>>>,
    /// `ptmx`, `control`, `ptyN`: removed when the instance shuts down.
    /// `ptmx` comes first.
    #[pin]
    nodes: Mutex<KVec<Node>>,
    /// The restart session, if one is open. Lock order: session, then a
    /// pair's streams, then `table`.
    #[pin]
    pub(crate) session: Mutex<Option<Session<Instance>>>,
    /// A `CKPT_SESSION_BEGIN` is making its session (outside the session
    /// lock): no second one may start.
    session_beginning: AtomicBool,
    /// A `CKPT_OPEN_MASTER` in progress: (thread, pair). The ptmx open of
    /// that thread attaches to the pair instead of allocating one.
    #[pin]
    master_target: Mutex<Option<(i32, Arc<Pair<Instance>>)>>,
}

impl Instance {
    fn new(globals: Arc<Globals>, sb: &SuperBlock, options: InstanceOptions) -> Result<Arc<Self>> {
        let max = options.max as usize;
        let indexes = IndexAllocator::new(KernelStorage::new(), max).map_err(|_| ENOMEM)?;
        let slots = Slots::new(max)?;
        Arc::pin_init(
            pin_init!(Self {
                globals,
                sb: sb.handle(),
                options,
                table <- new_mutex!(Table { indexes, slots }, "ckpt_pty::Instance::table"),
                bsd <- new_mutex!(KVec::new(), "ckpt_pty::Instance::bsd"),
                nodes <- new_mutex!(KVec::new(), "ckpt_pty::Instance::nodes"),
                session <- new_mutex!(None, "ckpt_pty::Instance::session"),
                session_beginning: AtomicBool::new(false),
                master_target <- new_mutex!(None, "ckpt_pty::Instance::master_target"),
            }),
            GFP_KERNEL,
        )
    }

    /// Creates the instance's own nodes and BSD pairs.
    fn populate(self: &Arc<Self>) -> Result {
        let g = &self.globals;
        let root = Owner::current();
        self.add_node(
            c_str!("ptmx"),
            self.options.ptmx_mode,
            mkdev(g.master_major, 0),
            root,
        )?;
        self.add_node(c_str!("control"), 0o600, mkdev(g.control_major, 0), root)?;
        for n in 0..self.options.bsd {
            let name = CString::try_from_fmt(fmt!("pty{}", n))?;
            self.add_node(&name, 0o666, mkdev(g.bsd_master_major, n), root)?;
            let pair = Pair::new(self, n, PtyMode::Bsd)?;
            self.bsd.lock().push(pair.clone(), GFP_KERNEL)?;
            pair.create_slave(root)?;
        }
        Ok(())
    }

    fn add_node(&self, name: &CStr, mode: u16, dev: bindings::dev_t, owner: Owner) -> Result {
        let node = self
            .sb
            .create_node::<Pair<Self>>(name, mode, dev, owner, None)?;
        self.nodes.lock().push(node, GFP_KERNEL)?;
        Ok(())
    }

    /// Everything the instance owns goes: BSD pairs are hung up and let
    /// go, the nodes removed. AT&T pairs are all gone already (each keeps
    /// the superblock active while it has nodes).
    fn shut_down(&self) {
        let bsd = core::mem::take(&mut *self.bsd.lock());
        for pair in bsd.iter() {
            pair.tear_down_slave();
        }
        drop(bsd);
        drop(core::mem::take(&mut *self.nodes.lock()));
        drop(self.master_target.lock().take());
    }

    /// Opens the instance's `ptmx` below `root` (`CKPT_OPEN_MASTER`).
    pub(crate) fn open_ptmx(&self, root: &InstanceRoot, flags: u32) -> Result<OwnedFile> {
        let dentry = self.nodes.lock().first().map(Node::dentry).ok_or(ENODEV)?;
        dentry.open(root, flags)
    }

    pub(crate) fn globals(&self) -> &Globals {
        &self.globals
    }

    /// Whether the caller may stop or restore this instance's pairs: the
    /// restore capabilities in the user namespace that owns the instance
    /// (a container's root restores its own ptys, not the host's).
    pub(crate) fn caller_may_restore(&self) -> bool {
        process::may_restore_in(self.sb.user_ns())
    }

    pub(crate) fn max_pairs(&self) -> u32 {
        self.options.max
    }

    pub(crate) fn bsd_pairs(&self) -> u32 {
        self.options.bsd
    }

    /// BSD pair `n`.
    pub(crate) fn bsd_pair(&self, n: u32) -> Option<Arc<Pair<Instance>>> {
        self.bsd.lock().get(n as usize).cloned()
    }

    /// A new pair at the lowest free index (opening `ptmx`).
    pub(crate) fn allocate(self: &Arc<Self>) -> Result<Arc<Pair<Instance>>> {
        self.take_quota()?;
        let index = self.table.lock().indexes.alloc();
        let Some(index) = index else {
            self.globals.quota.give_back();
            return Err(ENOSPC);
        };
        self.install(index)
    }

    /// One pair of the module-wide quota: `ENOSPC` past `pty_max`, or past
    /// `pty_max - pty_reserve` for an instance of a container's user
    /// namespace. Given back with the index ([`PairOwner::release_index`]).
    fn take_quota(&self) -> Result {
        let host = self.sb.user_ns().is_initial();
        self.globals.quota.take(host).map_err(|e| {
            warn_limited!(
                "ckptpts: no more ptys: {} in use of {} for this instance's namespace (pty_max, pty_reserve)\n",
                self.globals.quota.in_use(),
                e.limit
            );
            ENOSPC
        })
    }

    /// A new pair at exactly `index` for a restart session, in O(1):
    /// `EBUSY` if a live pair holds it. It starts frozen and restoring.
    pub(crate) fn claim_for_restore(self: &Arc<Self>, index: u32) -> Result<Arc<Pair<Instance>>> {
        self.take_quota()?;
        let claimed = self.table.lock().indexes.claim(index as usize);
        claimed.map_err(|e| {
            self.globals.quota.give_back();
            Error::from(e.errno())
        })?;
        let pair = self.install(index as usize)?;
        pair.set_restoring();
        Ok(pair)
    }

    /// Makes the pair for a freshly taken `index` (outside the table
    /// lock: creating the slave tty sleeps) and publishes it; on failure
    /// the index is given back by the pair's drop, or here.
    fn install(self: &Arc<Self>, index: usize) -> Result<Arc<Pair<Instance>>> {
        let index32 = u32::try_from(index).map_err(|_| ENXIO)?;
        // The slot's memory first, so that publishing cannot fail once the
        // slave tty and its node exist.
        let made = self.table.lock().slots.slot_mut(index).map(|_| ());
        let pair = made
            .and_then(|()| Pair::new(self, index32, PtyMode::Att))
            .inspect_err(|_| self.release_index(index32))?;
        // From here the pair's drop gives the index back.
        pair.create_slave(Owner::current())?;
        let mut table = self.table.lock();
        if let Some(slot) = table.slots.existing_mut(index) {
            *slot = Some(pair.clone());
        }
        Ok(pair)
    }

    /// Indexes in use (live pairs, including masters closed while their
    /// slave is still open).
    pub(crate) fn live_pairs(&self) -> u32 {
        self.table.lock().indexes.used() as u32
    }

    /// The master of `pair` went away: no new slave open can find it; the
    /// index stays taken until the pair itself is dropped.
    pub(crate) fn unlink(&self, pair: &Pair<Instance>) {
        let removed = {
            let mut table = self.table.lock();
            table.slots.existing_mut(pair.index as usize).and_then(|s| {
                if s.as_ref().is_some_and(|p| core::ptr::eq(&**p, pair)) {
                    s.take()
                } else {
                    None
                }
            })
        };
        // Dropped outside the lock: it may be the pair's last reference,
        // whose drop takes the lock to release the index.
        drop(removed);
    }

    /// Starts making a session: `EBUSY` while one is open or being made.
    pub(crate) fn begin_session(&self) -> Result<SessionBeginning<'_>> {
        let session = self.session.lock();
        if session.is_some()
            || self
                .session_beginning
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return Err(EBUSY);
        }
        Ok(SessionBeginning { instance: self })
    }

    /// A committed pair restored without its master: it ends as an AT&T
    /// pair whose master closed (the slave hung up, the node gone, the
    /// index free once the last slave file closes).
    pub(crate) fn end_masterless(&self, pair: &Pair<Instance>) {
        pair.close_master();
        self.unlink(pair);
        pair.tear_down_slave();
    }

    /// Tears down pairs a restart session created: whoever holds an end
    /// sees a hangup, the nodes go, and the indexes come free when the last
    /// file closes.
    pub(crate) fn abandon_pairs(&self, pairs: &[Arc<Pair<Instance>>]) {
        for pair in pairs {
            process::yield_between_items();
            pair.abandon();
            self.unlink(pair);
        }
    }

    /// Arms `CKPT_OPEN_MASTER` for the calling thread.
    pub(crate) fn set_master_target(&self, pair: Arc<Pair<Instance>>) -> Result {
        let mut t = self.master_target.lock();
        if t.is_some() {
            return Err(EBUSY);
        }
        *t = Some((process::current_tid(), pair));
        Ok(())
    }

    pub(crate) fn clear_master_target(&self) {
        let old = self.master_target.lock().take();
        drop(old);
    }

    /// The restoring pair this thread's ptmx open must attach to, if any.
    pub(crate) fn take_master_target(&self) -> Option<Arc<Pair<Instance>>> {
        let mut t = self.master_target.lock();
        match &*t {
            Some((tid, _)) if *tid == process::current_tid() => t.take().map(|(_, p)| p),
            _ => None,
        }
    }
}

/// A session being made ([`Instance::begin_session`]); dropping it
/// without [`SessionBeginning::install`] lets another begin start.
pub(crate) struct SessionBeginning<'a> {
    instance: &'a Instance,
}

impl SessionBeginning<'_> {
    /// Publishes the finished session.
    pub(crate) fn install(self, session: Session<Instance>) {
        *self.instance.session.lock() = Some(session);
    }
}

impl Drop for SessionBeginning<'_> {
    fn drop(&mut self) {
        self.instance
            .session_beginning
            .store(false, Ordering::Release);
    }
}

impl PairOwner for Instance {
    fn globals(&self) -> &Globals {
        &self.globals
    }

    fn sb(&self) -> &SuperBlock {
        &self.sb
    }

    /// `uid=`/`gid=` win over the creator's ids; `mode=`.
    fn slave_node(&self, creator: Owner) -> (Owner, u16) {
        (self.options.node_owner(creator), self.options.mode)
    }

    fn release_index(&self, index: u32) {
        self.table.lock().indexes.release(index as usize);
        self.globals.quota.give_back();
    }
}

/// `ckptpts` as the filesystem seam sees it.
pub(crate) struct PtsFs;

impl PtsFsOps for PtsFs {
    type Instance = Instance;
    type NodeData = Pair<Instance>;

    fn fill_super(sb: &SuperBlock, options: &CStr) -> Result<Arc<Instance>> {
        let globals = Globals::get()?;
        let text = options.to_str().map_err(|_| EINVAL)?;
        let defaults = MountOptions::defaults(globals.max_pairs, globals.bsd_pairs);
        let parsed = MountOptions::parse(text, defaults).map_err(|e| {
            warn_limited!("ckptpts: {}\n", e);
            Error::from(e.errno())
        })?;
        let options = InstanceOptions::from_mount(parsed).map_err(|e| {
            warn_limited!("ckptpts: uid= or gid= does not map into this user namespace\n");
            e
        })?;
        let instance = Instance::new(globals, sb, options)?;
        if let Err(e) = instance.populate() {
            instance.shut_down();
            return Err(e);
        }
        Ok(instance)
    }

    fn kill_sb(instance: Arc<Instance>) {
        instance.shut_down();
    }

    fn show_options(instance: &Instance) -> [u32; SHOWN_OPTIONS] {
        let o = &instance.options.shown;
        // `u32::MAX`: not given (the creating process's ids are used).
        [
            o.uid.unwrap_or(u32::MAX),
            o.gid.unwrap_or(u32::MAX),
            u32::from(o.mode),
            u32::from(o.ptmx_mode),
            o.max,
            o.bsd,
        ]
    }
}

crate::seam::fs::pts_fs_entry_points!(PtsFs);
