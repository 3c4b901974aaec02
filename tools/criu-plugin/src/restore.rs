// SPDX-License-Identifier: GPL-2.0
//! Restore: one restart session for the container's fresh ckptpts
//! instance, begun by the first `RESTORE_EXT_FILE`, fed by every restored
//! task, committed from the criu process in `RESUME_DEVICES_LATE`.
//!
//! The kernel lets only the control file that began a session (or a
//! descriptor of that same open file) drive it, and closing its last
//! descriptor rolls the session back. CRIU restores files in each task
//! after forking them all, and every newborn task first closes whatever it
//! inherited (`close_old_fds`), so nothing opened in `init` survives into
//! the tasks; besides, the instance is the one CRIU mounts in the restored
//! mount namespace, which does not exist yet at `init`. So the task that
//! begins the session hands its control file to CRIU's *fdstore* (a unix
//! socket of the criu process, connected to itself, whose queue keeps
//! descriptors until criu exits; every task has it as a service
//! descriptor) and closes its own: `fdstore_add` gives an id, published in
//! memory shared by all of CRIU's processes (mapped `MAP_SHARED` in
//! `init`, before CRIU forks), and `fdstore_get(id)` gives any task, and
//! the criu process for the commit, a descriptor of that same file. The
//! restored tasks end up with no descriptor they did not have, and no
//! process needs another's pid (the tasks sit in the container's pid
//! namespace, the criu process outside it).
//!
//! `fdstore_add`/`fdstore_get` are criu's own exported functions (3.11 to
//! 4.x), not part of `criu-plugin.h`; the plugin refuses to restore, with
//! a message, under a criu that does not export them.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

use ckptctl::{sys, uapi};

use crate::image::{self, End, FileImage};
use crate::{log, procfs, Level};

/// Most distinct (pair, end)s one restore handles.
const MAX_ENDS: usize = 1024;

/// Session states in [`Shared::state`].
const IDLE: u32 = 0;
const BEGUN: u32 = 1;
const FAILED: u32 = 2;
const COMMITTED: u32 = 3;

/// State shared by the criu process and every task it forks.
#[repr(C)]
struct Shared {
    /// A spin lock: 0 free, 1 held.
    lock: AtomicU32,
    state: AtomicU32,
    /// The control file's id in criu's fdstore.
    store_id: AtomicI32,
    /// The pid (in its own pid namespace) of the task that began the
    /// session, for messages.
    owner_pid: AtomicI32,
    /// Sockets the session waits for (`CKPT_SESSION_BEGIN_SOCKETS`).
    sockets: AtomicU32,
    /// Per (pair, end) slot of [`Plan::slots`]: 1 once restarted.
    restarted: [AtomicU8; MAX_ENDS],
}

static SHARED: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());

/// The images of this restore, read in `init` (inherited by the tasks).
static IMAGES: Mutex<Vec<FileImage>> = Mutex::new(Vec::new());

/// `init(CR_PLUGIN_STAGE__RESTORE)`, in the criu process before it forks.
pub fn init() -> i32 {
    if SHARED.load(Ordering::Acquire).is_null() {
        // SAFETY: An anonymous shared mapping of a fresh page range; no
        // existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                std::mem::size_of::<Shared>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            log(
                Level::Error,
                &format!(
                    "mmap of the shared state: {}",
                    std::io::Error::last_os_error()
                ),
            );
            return -1;
        }
        // The mapping is zero-filled: every atomic starts at 0 (IDLE).
        SHARED.store(p.cast(), Ordering::Release);
    }
    match load_images() {
        Ok(images) => {
            if !images.is_empty() {
                log(
                    Level::Info,
                    &format!("restore: {} pty file images", images.len()),
                );
            }
            if let Ok(mut all) = IMAGES.lock() {
                *all = images;
            }
            0
        }
        Err(why) => {
            log(Level::Error, &format!("restore: {why}"));
            -1
        }
    }
}

/// `exit(CR_PLUGIN_STAGE__RESTORE, ret)`.
pub fn exit(ret: i32) {
    let Some(sh) = shared() else {
        return;
    };
    log(
        Level::Info,
        &format!(
            "exit(RESTORE, {ret}), session {}",
            state_name(sh.state.load(Ordering::Acquire))
        ),
    );
    if sh.state.load(Ordering::Acquire) == BEGUN {
        log(
            Level::Error,
            &format!(
                "the restart session begun by task {} was never committed: it is rolled back as criu exits",
                sh.owner_pid.load(Ordering::Acquire),
            ),
        );
    }
}

fn state_name(state: u32) -> &'static str {
    match state {
        IDLE => "never begun",
        BEGUN => "begun",
        FAILED => "failed",
        _ => "committed",
    }
}

/// criu's `int fdstore_add(int fd)` and `int fdstore_get(int id)`.
fn fdstore() -> Option<(FdstoreAdd, FdstoreGet)> {
    let add = crate::criu_symbol(c"fdstore_add")?;
    let get = crate::criu_symbol(c"fdstore_get")?;
    // SAFETY: Both are criu's functions of these signatures (criu/fdstore.c,
    // 3.11 to 4.x).
    Some(unsafe {
        (
            std::mem::transmute::<*mut std::ffi::c_void, FdstoreAdd>(add),
            std::mem::transmute::<*mut std::ffi::c_void, FdstoreGet>(get),
        )
    })
}

type FdstoreAdd = unsafe extern "C" fn(i32) -> i32;
type FdstoreGet = unsafe extern "C" fn(i32) -> i32;

/// A new descriptor of fdstore entry `id`.
fn fdstore_get(id: i32) -> Result<OwnedFd, String> {
    let (_, get) = fdstore().ok_or("criu exports no fdstore_get")?;
    // SAFETY: fdstore_get takes an id and returns a new descriptor or -1.
    let fd = unsafe { get(id) };
    if fd < 0 {
        return Err(format!("fdstore_get({id}) failed (see criu's log above)"));
    }
    // SAFETY: `fd` is a new descriptor of this process that nothing owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn shared() -> Option<&'static Shared> {
    let p = SHARED.load(Ordering::Acquire);
    // SAFETY: A non-null `SHARED` points to the mapping made in `init`,
    // which is never unmapped and holds only atomics.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Holds [`Shared::lock`].
struct Locked<'a>(&'a Shared);

impl<'a> Locked<'a> {
    fn take(sh: &'a Shared) -> Self {
        while sh
            .lock
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        Locked(sh)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.0.lock.store(0, Ordering::Release);
    }
}

fn load_images() -> Result<Vec<FileImage>, String> {
    let dir = crate::image_dir()?;
    // A descriptor of our own to list (fdopendir takes it over).
    // SAFETY: `c"."` is NUL-terminated; openat keeps no pointer.
    let fd = unsafe {
        libc::openat(
            dir,
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(format!(
            "cannot open the image directory: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let path = format!("/proc/self/fd/{}", owned.as_raw_fd());
    let mut images = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(|e| format!("{path}: {e}"))? {
        let entry = entry.map_err(|e| format!("{path}: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = image::id_of(&name) else {
            continue;
        };
        let bytes = std::fs::read(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        images.push(FileImage::decode(id, &bytes).map_err(|e| format!("{name}: {e}"))?);
    }
    images.sort_by_key(|i| i.id);
    Ok(images)
}

/// What the session expects, the same in every process.
#[derive(Debug)]
struct Plan {
    /// The instance's directory in the restored mount namespace.
    dir: String,
    /// Pair index -> `CKPT_END_*` bits.
    pairs: BTreeMap<u32, u32>,
    /// Distinct (index, end)s, in order: a slot of [`Shared::restarted`].
    slots: Vec<(u32, u32)>,
    /// Pair index -> the socket its master image says it serves
    /// (`CKPT_SOCKET_SET` before the dump).
    sockets: BTreeMap<u32, uapi::SocketRecord>,
}

/// The socket a master's stream image records, read with the module's own
/// decoder (the image is checked whole, as the kernel will).
fn master_socket(img: &FileImage) -> Result<Option<uapi::SocketRecord>, String> {
    use pty_core::checkpoint::{self, MetaPart};
    let image = pty_core::image::decode(&img.stream)
        .map_err(|e| format!("file {}: stream image: {e}", img.id))?;
    let mut pair = pty_core::stream::PtyPair::new(ckptctl::state::VecStorage::default);
    match checkpoint::restore(&mut pair, &image, image.kind()) {
        Ok(MetaPart::Master(m)) => Ok(m.socket.map(|id| uapi::SocketRecord {
            family: id.family,
            sock_type: id.sock_type,
            protocol: id.protocol,
            local_port: id.local_port,
            remote_port: id.remote_port,
            reserved: 0,
            local_addr: id.local_addr,
            remote_addr: id.remote_addr,
        })),
        Ok(MetaPart::Slave(_)) => Err(format!("file {}: a slave image for a master", img.id)),
        Err(e) => Err(format!("file {}: stream image: {e:?}", img.id)),
    }
}

fn plan(images: &[FileImage]) -> Result<Plan, String> {
    let mut pairs = BTreeMap::new();
    let mut sockets = BTreeMap::new();
    let mut dirs: Vec<&str> = Vec::new();
    for i in images {
        if i.end == End::Master && !i.stream.is_empty() {
            if let Some(sock) = master_socket(i)? {
                sockets.insert(i.index, sock);
            }
        }
        if i.mode != 0 {
            return Err(format!(
                "file {}: BSD pair {} ({}): the plugin restores AT&T pairs only",
                i.id, i.index, i.path
            ));
        }
        *pairs.entry(i.index).or_insert(0) |= i.end.bit();
        if !i.dir.is_empty() && !dirs.contains(&i.dir.as_str()) {
            dirs.push(&i.dir);
        }
    }
    let dir = match dirs.as_slice() {
        [one] => one.to_string(),
        [] => {
            let mounts = procfs::ckptpts_mounts();
            match mounts.as_slice() {
                [one] => one.clone(),
                _ => {
                    return Err(format!(
                        "no slave names the ckptpts instance and the mount table has {} ckptpts mounts ({})",
                        mounts.len(),
                        mounts.join(" ")
                    ))
                }
            }
        }
        many => {
            return Err(format!(
                "the ptys come from {} ckptpts instances ({}); the plugin restores one",
                many.len(),
                many.join(" ")
            ))
        }
    };
    let slots: Vec<(u32, u32)> = pairs
        .iter()
        .flat_map(|(&index, &ends)| {
            [uapi::CKPT_END_MASTER, uapi::CKPT_END_SLAVE]
                .into_iter()
                .filter(move |b| ends & b != 0)
                .map(move |b| (index, b))
        })
        .collect();
    if slots.len() > MAX_ENDS {
        return Err(format!("{} pty ends: at most {MAX_ENDS}", slots.len()));
    }
    Ok(Plan {
        dir,
        pairs,
        slots,
        sockets,
    })
}

/// `RESTORE_EXT_FILE(id)`, in the restored task that owns the file.
pub fn restore_ext_file(id: i32) -> i32 {
    let images = match IMAGES.lock() {
        Ok(i) => i.clone(),
        Err(_) => return -1,
    };
    let Some(img) = u32::try_from(id)
        .ok()
        .and_then(|id| images.iter().find(|i| i.id == id))
    else {
        return -libc::ENOTSUP;
    };
    match restore(img, &images) {
        Ok(fd) => fd,
        Err(why) => {
            log(
                Level::Error,
                &format!(
                    "cannot restore file {id} ({} of pair {}, {}): {why}",
                    img.end.name(),
                    img.index,
                    img.path
                ),
            );
            -1
        }
    }
}

fn restore(img: &FileImage, images: &[FileImage]) -> Result<i32, String> {
    let sh = shared().ok_or("no shared state: init(RESTORE) did not run")?;
    let plan = plan(images)?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let _locked = Locked::take(sh);
    match sh.state.load(Ordering::Acquire) {
        IDLE => begin(sh, &plan, me)?,
        BEGUN => {}
        FAILED => return Err("the restart session could not be begun".into()),
        _ => return Err("the restart session is already committed".into()),
    }
    let ctl = fdstore_get(sh.store_id.load(Ordering::Acquire))?;
    // The file's access mode and status flags; never an implicit ctty.
    let keep = libc::O_ACCMODE | libc::O_NONBLOCK | libc::O_APPEND | libc::O_ASYNC;
    let flags = (img.flags as i32 & keep) | libc::O_NOCTTY;
    let fd = match img.end {
        End::Slave => {
            let path = format!("{}/{}", plan.dir, img.index);
            sys::open(&path, flags).map_err(|e| format!("open {path}: {e}"))?
        }
        End::Master => sys::open_master(ctl.as_fd(), img.index, flags)
            .map_err(|e| format!("CKPT_OPEN_MASTER {}: {e}", img.index))?,
    };
    let slot = plan
        .slots
        .iter()
        .position(|s| *s == (img.index, img.end.bit()))
        .ok_or("no slot")?;
    if sh.restarted[slot].load(Ordering::Acquire) == 0 {
        sys::restart(fd.as_fd(), &img.stream).map_err(|e| {
            format!(
                "CKPT_RESTART with a {}-byte image: {} ({e})",
                img.stream.len(),
                sys::errno_name(&e)
            )
        })?;
        sh.restarted[slot].store(1, Ordering::Release);
        log(
            Level::Info,
            &format!(
                "RESTORE_EXT_FILE file {} in task {me}: {} of pair {} restarted from {} bytes",
                img.id,
                img.end.name(),
                img.index,
                img.stream.len()
            ),
        );
    } else {
        log(
            Level::Info,
            &format!(
                "RESTORE_EXT_FILE file {} in task {me}: another open of the {} of pair {}",
                img.id,
                img.end.name(),
                img.index
            ),
        );
    }
    if img.end == End::Slave && img.ctty_leader != 0 {
        controlling_tty(img, fd.as_fd(), me);
    }
    Ok(fd.into_raw_fd())
}

/// Opens the instance's control file, begins the session and hands the
/// file to criu's fdstore.
fn begin(sh: &Shared, plan: &Plan, me: i32) -> Result<(), String> {
    let path = format!("{}/control", plan.dir);
    let result = (|| {
        let (add, _) = fdstore().ok_or(
            "this criu exports no fdstore_add/fdstore_get (criu 3.11 to 4.x do): cannot share the control file between the restored tasks",
        )?;
        let ctl = sys::open(&path, libc::O_RDWR).map_err(|e| format!("open {path}: {e}"))?;
        let entries: Vec<uapi::RestartEntry> = plan
            .pairs
            .iter()
            .map(|(&index, &ends)| uapi::RestartEntry { index, ends })
            .collect();
        let begun = if plan.sockets.is_empty() {
            sys::session_begin(ctl.as_fd(), &entries)
        } else {
            begin_sockets(ctl.as_fd(), plan)
        };
        begun.map_err(|e| {
            format!(
                "CKPT_SESSION_BEGIN with pairs {:?}: {} ({e})",
                plan.pairs.keys().collect::<Vec<_>>(),
                sys::errno_name(&e)
            )
        })?;
        // SAFETY: fdstore_add takes a descriptor of this process and sends
        // a reference to its file into criu's store.
        let id = unsafe { add(ctl.as_raw_fd()) };
        if id < 0 {
            return Err("fdstore_add failed (see criu's log above)".to_string());
        }
        sh.store_id.store(id, Ordering::Release);
        sh.sockets
            .store(plan.sockets.len() as u32, Ordering::Release);
        // `ctl` closes this task's descriptor: the store keeps the file.
        Ok(id)
    })();
    match result {
        Ok(id) => {
            sh.owner_pid.store(me, Ordering::Release);
            sh.state.store(BEGUN, Ordering::Release);
            log(
                Level::Info,
                &format!(
                    "RESTORE_EXT_FILE: task {me} began the restart session on {path} (pairs {:?}, ends {}, sockets {}), control file kept in criu's fdstore as {id}",
                    plan.pairs.keys().collect::<Vec<_>>(),
                    plan.slots.len(),
                    plan.sockets.len()
                ),
            );
            Ok(())
        }
        Err(e) => {
            sh.state.store(FAILED, Ordering::Release);
            Err(e)
        }
    }
}

/// Makes the restored slave the controlling terminal of the session it was
/// the controlling terminal of, when this task leads that session (CRIU
/// calls `TIOCSCTTY` only for ttys it restores itself), and gives the
/// foreground back to the group that had it.
fn controlling_tty(img: &FileImage, fd: BorrowedFd<'_>, me: i32) {
    // SAFETY: getsid(0) has no preconditions.
    let sid = unsafe { libc::getsid(0) };
    if img.ctty_leader != me || sid != me {
        log(
            Level::Warn,
            &format!(
                "file {}: {} was the controlling tty of session {}, but task {me} (session {sid}) opens it: not attached",
                img.id, img.path, img.ctty_leader
            ),
        );
        return;
    }
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal).
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        log(
            Level::Error,
            &format!(
                "file {}: TIOCSCTTY on {}: {}",
                img.id,
                img.path,
                std::io::Error::last_os_error()
            ),
        );
        return;
    }
    // SAFETY: getpgrp has no preconditions.
    let pgrp = unsafe { libc::getpgrp() };
    let mut fg = pgrp;
    if img.fg_pgrp > 0 && img.fg_pgrp != pgrp {
        // SAFETY: tcsetpgrp takes a descriptor and a process group id.
        if unsafe { libc::tcsetpgrp(fd.as_raw_fd(), img.fg_pgrp) } == 0 {
            fg = img.fg_pgrp;
        } else {
            log(
                Level::Error,
                &format!(
                    "file {}: foreground group {} on {}: {}",
                    img.id,
                    img.fg_pgrp,
                    img.path,
                    std::io::Error::last_os_error()
                ),
            );
        }
    }
    log(
        Level::Info,
        &format!(
            "file {}: {} is the controlling tty of session {me} again, foreground group {fg}",
            img.id, img.path
        ),
    );
}

/// `RESUME_DEVICES_LATE(pid)`, in the criu process, once per restored task
/// (`pid` as criu sees it), all restored and stopped: commits the session
/// through a copy of the control file from criu's fdstore (at the first
/// call: every task's files are back by then).
pub fn resume_devices_late(pid: i32) -> i32 {
    let Some(sh) = shared() else {
        return -libc::ENOTSUP;
    };
    if sh.state.load(Ordering::Acquire) != BEGUN {
        return -libc::ENOTSUP;
    }
    let expected = sh.sockets.load(Ordering::Acquire);
    let ctl = fdstore_get(sh.store_id.load(Ordering::Acquire));
    let done = ctl.and_then(|ctl| {
        if expected > 0 {
            restored_sockets(ctl.as_fd(), pid, expected);
        }
        commit(ctl.as_fd())
    });
    match done {
        Ok(()) => {
            sh.state.store(COMMITTED, Ordering::Release);
            log(
                Level::Info,
                &format!("RESUME_DEVICES_LATE task {pid}: the restart session is committed"),
            );
            0
        }
        Err(why) => {
            sh.state.store(FAILED, Ordering::Release);
            log(
                Level::Error,
                &format!("RESUME_DEVICES_LATE task {pid}: commit failed: {why}"),
            );
            -1
        }
    }
}

/// `CKPT_SESSION_BEGIN_SOCKETS` with every pair and the socket its master
/// expects.
fn begin_sockets(ctl: BorrowedFd<'_>, plan: &Plan) -> std::io::Result<()> {
    let entries: Vec<uapi::RestartSocketEntry> = plan
        .pairs
        .iter()
        .map(|(&index, &ends)| {
            let sock = plan.sockets.get(&index);
            uapi::RestartSocketEntry {
                index,
                ends,
                has_socket: u32::from(sock.is_some()),
                socket: sock.copied().unwrap_or_default(),
            }
        })
        .collect();
    let mut arg = uapi::SessionArg {
        entries: entries.as_ptr() as u64,
        count: entries.len() as u32,
        flags: 0,
    };
    // SAFETY: `arg` points to `count` valid entries for the whole call;
    // the ioctl reads them and `arg`.
    let r = unsafe {
        libc::ioctl(
            ctl.as_raw_fd(),
            uapi::CKPT_SESSION_BEGIN_SOCKETS as libc::Ioctl,
            &mut arg as *mut uapi::SessionArg,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Offers every socket of the restored tree under `root` (pid as criu sees
/// it; the tasks are stopped) to `CKPT_SOCKET_RESTORED`, which matches a
/// socket to the pair expecting its identity and refuses the others.
fn restored_sockets(ctl: BorrowedFd<'_>, root: i32, expected: u32) {
    let mut matched = 0;
    for pid in procfs::tree(root) {
        let Ok(pidfd) = sys::pidfd_open(pid) else {
            continue;
        };
        for fd in procfs::socket_fds(pid) {
            let Ok(sock) = sys::pidfd_getfd(pidfd.as_fd(), fd) else {
                continue;
            };
            // SAFETY: CKPT_SOCKET_RESTORED takes a descriptor as an integer.
            let r = unsafe {
                libc::ioctl(
                    ctl.as_raw_fd(),
                    uapi::CKPT_SOCKET_RESTORED as libc::Ioctl,
                    sock.as_raw_fd() as libc::c_ulong,
                )
            };
            if r >= 0 {
                matched += 1;
                log(
                    Level::Info,
                    &format!(
                        "RESUME_DEVICES_LATE: socket fd {fd} of task {pid} is the one pair {r} serves (CKPT_SOCKET_RESTORED)"
                    ),
                );
            }
        }
    }
    if matched < expected {
        log(
            Level::Error,
            &format!("{matched} of {expected} expected sockets found in the restored tasks"),
        );
    }
}

fn commit(ctl: BorrowedFd<'_>) -> Result<(), String> {
    match sys::session_commit(ctl, 64) {
        Ok(()) => Ok(()),
        Err(sys::CommitError::Io(e)) => Err(format!("{} ({e})", sys::errno_name(&e))),
        Err(sys::CommitError::Orphans(o)) => {
            let names: Vec<String> = o
                .records
                .chunks(uapi::ORPHAN_RECORD_LEN)
                .map(|r| {
                    let index = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
                    let kind = match u16::from_le_bytes([r[4], r[5]]) {
                        1 => "master",
                        2 => "slave",
                        3 => "socket",
                        _ => "?",
                    };
                    format!("{kind} of pair {index}")
                })
                .collect();
            Err(format!(
                "ENXIO: {} orphans never restored: {}; the session is rolled back",
                o.count,
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: u32, end: End, index: u32, dir: &str) -> FileImage {
        FileImage {
            id,
            end,
            index,
            mode: 0,
            flags: 2,
            ctty_leader: 0,
            fg_pgrp: 0,
            dir: dir.into(),
            path: format!("{dir}/{index}"),
            stream: Vec::new(),
        }
    }

    #[test]
    fn plan_groups_ends_by_pair() {
        let images = [
            img(6, End::Master, 1, ""),
            img(9, End::Slave, 1, "/dev/pts"),
            // A second open of the same slave: one end, one slot.
            img(10, End::Slave, 1, "/dev/pts"),
            img(12, End::Master, 4, ""),
        ];
        let p = plan(&images).unwrap();
        assert_eq!(p.dir, "/dev/pts");
        assert_eq!(
            p.pairs.into_iter().collect::<Vec<_>>(),
            [
                (1, uapi::CKPT_END_MASTER | uapi::CKPT_END_SLAVE),
                (4, uapi::CKPT_END_MASTER)
            ]
        );
        assert_eq!(
            p.slots,
            [
                (1, uapi::CKPT_END_MASTER),
                (1, uapi::CKPT_END_SLAVE),
                (4, uapi::CKPT_END_MASTER)
            ]
        );
    }

    #[test]
    fn plan_refuses_bsd_and_two_instances() {
        let mut bsd = img(3, End::Slave, 0, "/dev/pts");
        bsd.mode = 1;
        assert!(plan(&[bsd]).unwrap_err().contains("BSD"));
        let two = [img(1, End::Slave, 0, "/a"), img(2, End::Slave, 1, "/b")];
        assert!(plan(&two).unwrap_err().contains("2 ckptpts instances"));
    }
}
