// SPDX-License-Identifier: GPL-2.0
//! The control device, `/dev/ckpt/control` or `control` in an instance:
//! global statistics, and the restart sessions of AT&T pairs.
//!
//! `CKPT_SESSION_BEGIN` claims every index of the image at once (`EBUSY`
//! when a live pair holds one) and creates those pairs frozen; their ends
//! are then opened in any order (slaves by path, masters with
//! `CKPT_OPEN_MASTER`) and each gets its image with `CKPT_RESTART`, which
//! feeds the session's wait lists ([`super::session`]).
//! `CKPT_SESSION_COMMIT` thaws everything when the lists are empty, or
//! names the orphans and rolls back. BSD pairs restore directly.

use super::instance::{Instance, PtsFs};
use super::session::{socket_id, Session};
use super::uaccess::{read_arg, write_arg};
use crate::pty_core::image;
use crate::pty_core::options::MAX_PAIRS_LIMIT;
use crate::pty_core::waitlist::{Ends, RestartSession};
use crate::seam::log::warn_limited;
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
use kernel::{prelude::*, sync::Arc, uaccess::UserSlice};

/// Largest number of pairs one session may list: as many as an instance
/// may have.
const MAX_SESSION_PAIRS: u32 = MAX_PAIRS_LIMIT;

/// The control device. Its files act on the instance they were opened
/// through.
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
                Some(s) if s.is_owned_by(f.id) => guard.take(),
                _ => None,
            }
        };
        if let Some(s) = session {
            warn_limited!("restart session abandoned: rolled back\n");
            roll_back(&f.instance, s);
        }
    }

    fn ioctl(f: &ControlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if restores(cmd) && !f.instance.caller_may_restore() {
            return Err(EPERM);
        }
        match cmd {
            CKPT_GLOBAL_STATUS => global_status(f, arg),
            CKPT_SESSION_BEGIN => begin(f, arg, false),
            CKPT_SESSION_BEGIN_SOCKETS => begin(f, arg, true),
            CKPT_SOCKET_RESTORED => socket_restored(f, arg),
            CKPT_SESSION_COMMIT => commit(f, arg),
            CKPT_SESSION_ABORT => abort(f),
            CKPT_OPEN_MASTER => open_master(f, arg),
            _ => Err(ENOTTY),
        }
    }
}

/// The commands that restore state, for which the caller needs the
/// privilege to restore.
fn restores(cmd: u32) -> bool {
    matches!(
        cmd,
        CKPT_SESSION_BEGIN
            | CKPT_SESSION_BEGIN_SOCKETS
            | CKPT_SESSION_COMMIT
            | CKPT_SESSION_ABORT
            | CKPT_OPEN_MASTER
            | CKPT_SOCKET_RESTORED
    )
}

/// `CKPT_GLOBAL_STATUS`: the module's counters and this instance's pairs.
fn global_status(f: &ControlFile, arg: usize) -> Result<isize> {
    let instance = &f.instance;
    let s = &instance.globals().stats;
    let status = GlobalStatus {
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
    };
    write_arg(arg, &status)?;
    Ok(0)
}

/// `CKPT_SESSION_BEGIN` (`with_sockets`: `CKPT_SESSION_BEGIN_SOCKETS`):
/// registers the image's pairs and claims their indexes, all or nothing.
fn begin(f: &ControlFile, arg: usize, with_sockets: bool) -> Result<isize> {
    let a: SessionArg = read_arg(arg)?;
    if a.flags != 0 || a.count > MAX_SESSION_PAIRS {
        return Err(EINVAL);
    }
    let instance = &f.instance;
    // Copying the entries in and making the pairs sleeps and takes long:
    // done outside the session lock (`CKPT_GLOBAL_STATUS` takes it), with
    // the instance marked as beginning so no second begin runs meanwhile.
    let beginning = instance.begin_session()?;
    let lists = read_lists(&a, with_sockets, instance.max_pairs())?;
    // Claim every index now: a busy one fails the whole begin.
    let mut pairs = KVVec::with_capacity(a.count as usize, GFP_KERNEL_ACCOUNT)?;
    for st in lists.pairs() {
        process::yield_between_items();
        let claimed = instance
            .claim_for_restore(st.index)
            .and_then(|pair| pairs.push(pair, GFP_KERNEL_ACCOUNT).map_err(Error::from));
        if let Err(e) = claimed {
            if e == EBUSY {
                warn_limited!("restart session: pty {} is busy\n", st.index);
            }
            instance.abandon_pairs(&pairs);
            return Err(e);
        }
    }
    beginning.install(Session::new(lists, pairs, f.id));
    Ok(0)
}

/// The wait lists of a new session from the caller's entries, sealed.
fn read_lists(
    a: &SessionArg,
    with_sockets: bool,
    max_pairs: u32,
) -> Result<RestartSession<KernelStorage>> {
    let mut lists = RestartSession::begin(KernelStorage::new(), KernelStorage::new(), max_pairs);
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
        warn_limited!("restart session: {}\n", e);
        Error::from(e.errno())
    })?;
    Ok(lists)
}

/// `CKPT_SOCKET_RESTORED`: a restored socket finds its pair through the
/// waiting-for-socket list, in whatever order it and the ends come back.
fn socket_restored(f: &ControlFile, arg: usize) -> Result<isize> {
    let record = crate::seam::socket::identity(arg as i32)?;
    let mut session = f.instance.session.lock();
    let s = own_session(f, &mut session)?;
    Ok(s.socket_restored(record)? as isize)
}

/// `CKPT_SESSION_COMMIT`: the restored pairs run, or, with orphans, the
/// session is rolled back and the orphans reported.
fn commit(f: &ControlFile, arg: usize) -> Result<isize> {
    let mut a: CommitArg = read_arg(arg)?;
    let instance = &f.instance;
    let mut guard = instance.session.lock();
    let orphaned = own_session(f, &mut guard)?.check_commit(a.orphans_cap)?;
    let s = guard.take().ok_or(ENOENT)?;
    drop(guard);
    let Some(orphaned) = orphaned else {
        for pair in s.pairs() {
            process::yield_between_items();
            pair.finish_restore();
            if !s.expects_master(pair.index) {
                // No master comes back: as if it closed now. The slave is
                // hung up and the pair ends with its last slave file.
                instance.end_masterless(pair);
            }
        }
        instance
            .globals()
            .stats
            .sessions_committed
            .fetch_add(1, Ordering::Relaxed);
        return Ok(0);
    };
    roll_back(instance, s);
    a.orphans_count = orphaned.count as u32;
    let records = orphaned.records()?;
    UserSlice::new(a.orphans as usize, records.len())
        .writer()
        .write_slice(records)?;
    write_arg(arg, &a)?;
    Err(orphaned.error)
}

/// `CKPT_SESSION_ABORT`.
fn abort(f: &ControlFile) -> Result<isize> {
    let s = {
        let mut guard = f.instance.session.lock();
        own_session(f, &mut guard)?;
        guard.take().ok_or(ENOENT)?
    };
    roll_back(&f.instance, s);
    Ok(0)
}

/// The instance's session, if the control file `f` began it: `ENOENT`
/// when there is none, `EPERM` when another control file drives it (a
/// session has one driver; several tasks share it by sharing that file).
fn own_session<'a>(
    f: &ControlFile,
    guard: &'a mut Option<Session<Instance>>,
) -> Result<&'a mut Session<Instance>> {
    let s = guard.as_mut().ok_or(ENOENT)?;
    if !s.is_owned_by(f.id) {
        warn_limited!("a restart session is driven only through the control file that began it\n");
        return Err(EPERM);
    }
    Ok(s)
}

/// Tears down every pair a session created; counts the rollback.
fn roll_back(instance: &Instance, s: Session<Instance>) {
    instance.abandon_pairs(s.pairs());
    instance
        .globals()
        .stats
        .sessions_rolled_back
        .fetch_add(1, Ordering::Relaxed);
    drop(s);
}

/// `CKPT_OPEN_MASTER`: a real open of the instance's `ptmx` that attaches
/// to the session's pair instead of allocating one.
fn open_master(f: &ControlFile, arg: usize) -> Result<isize> {
    /// What an open of ptmx honours; anything else is refused.
    const OPEN_FLAGS: u32 = O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_APPEND | O_LARGEFILE | O_CLOEXEC;
    let a: OpenMasterArg = read_arg(arg)?;
    let instance = &f.instance;
    let pair = {
        let mut session = instance.session.lock();
        own_session(f, &mut session)?.master_to_open(a.index)?
    };
    if a.flags & !OPEN_FLAGS != 0 {
        return Err(EINVAL);
    }
    instance.set_master_target(pair)?;
    let r = instance.open_ptmx(&f.root, a.flags);
    instance.clear_master_target();
    Ok(r?.install_fd(a.flags & O_CLOEXEC != 0)? as isize)
}
