// SPDX-License-Identifier: GPL-2.0
//! Dump: each ckpt_pty end CRIU hands over is checkpointed, left frozen,
//! into `ckpt-pty-<ID>.img`.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use ckptctl::sys;

use crate::image::{self, End, FileImage};
use crate::{log, procfs, Level};

/// `s_magic` of a ckptpts superblock ("ckpt").
const CKPTPTS_MAGIC: i64 = 0x636b_7074;

/// Ends checkpointed by this dump (dups of CRIU's descriptors), to thaw if
/// the dump fails: the tasks live on then and need their ptys.
static FROZEN: Mutex<Vec<(u32, OwnedFd)>> = Mutex::new(Vec::new());

/// `init(CR_PLUGIN_STAGE__DUMP)`.
pub fn init() -> i32 {
    if let Ok(mut f) = FROZEN.lock() {
        f.clear();
    }
    0
}

/// `exit(CR_PLUGIN_STAGE__DUMP, ret)`.
///
/// A failed dump (`ret != 0`) leaves the tasks running: every end is
/// thawed now. After a good dump CRIU calls `exit` *before* it decides the
/// tasks' fate: a failing post-dump action script or `--leave-running`
/// (`-R`) leaves them running too, with `ret == 0`, and the plugin has no
/// later hook and cannot see the options. So a watcher process (double
/// forked, not criu's child) keeps copies of the ends, waits until criu
/// exits, thaws them all and ends: when CRIU killed the tasks the thaw
/// frees pairs nobody holds any more, otherwise it lets them run on.
pub fn exit(ret: i32) {
    let Ok(mut frozen) = FROZEN.lock() else {
        return;
    };
    if frozen.is_empty() {
        return;
    }
    if ret != 0 {
        for (id, fd) in frozen.iter() {
            match sys::thaw(fd.as_fd()) {
                Ok(()) => log(Level::Info, &format!("file {id}: thawed (the dump failed)")),
                Err(e) => log(
                    Level::Error,
                    &format!("file {id}: cannot thaw after the failed dump: {e}"),
                ),
            }
        }
    } else if let Err(e) = thaw_after_criu(&frozen) {
        log(
            Level::Error,
            &format!(
                "no watcher to thaw the ptys after criu ({e}): if the tasks keep running (post-dump script, --leave-running) their ptys stay frozen until CKPT_THAW"
            ),
        );
    } else {
        log(
            Level::Info,
            &format!(
                "{} ends frozen: a watcher thaws them once criu exits",
                frozen.len()
            ),
        );
    }
    frozen.clear();
}

/// Starts the watcher of [`exit`].
fn thaw_after_criu(ends: &[(u32, OwnedFd)]) -> Result<(), String> {
    // SAFETY: getpid has no preconditions.
    let criu = unsafe { libc::getpid() };
    let pidfd = sys::pidfd_open(criu).map_err(|e| format!("pidfd_open: {e}"))?;
    let fds: Vec<i32> = ends.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let pidfd = pidfd.as_raw_fd();
    // What the watcher keeps open, sorted: everything else of criu's (its
    // log, images, the caller's pipes) it closes.
    let mut keep = fds.clone();
    keep.push(pidfd);
    keep.sort_unstable();
    // SAFETY: criu is single-threaded here; the children only make raw
    // system calls (no allocation, no locks) before `_exit`.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            // SAFETY: As above: raw system calls only, then `_exit`.
            unsafe {
                libc::setsid();
                if libc::fork() != 0 {
                    libc::_exit(0);
                }
                let mut next: u32 = 0;
                for &k in &keep {
                    let k = k as u32;
                    if k > next {
                        libc::syscall(libc::SYS_close_range, next, k - 1, 0u32);
                    }
                    next = k + 1;
                }
                libc::syscall(libc::SYS_close_range, next, u32::MAX, 0u32);
                watch(pidfd, &fds)
            }
        }
        child => {
            let mut status = 0;
            // SAFETY: Reaps the intermediate child, which exits at once.
            unsafe { libc::waitpid(child, &mut status, 0) };
            Ok(())
        }
    }
}

/// The watcher: waits for criu's pidfd to become readable (criu exited),
/// thaws every end, exits.
///
/// # Safety
///
/// Only in a child forked from a single-threaded criu; `pidfd` and `fds`
/// are open descriptors of this process.
unsafe fn watch(pidfd: i32, fds: &[i32]) -> ! {
    let mut p = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    while unsafe { libc::poll(&mut p, 1, -1) } < 0 {}
    for &fd in fds {
        // SAFETY: CKPT_THAW takes no argument.
        unsafe { libc::ioctl(fd, ckptctl::uapi::CKPT_THAW as libc::Ioctl) };
    }
    // SAFETY: Ends the watcher without running anything of criu's.
    unsafe { libc::_exit(0) }
}

/// Whether `fd` is a character device of ckpt_pty; its device number.
fn ckpt_device(fd: i32) -> Result<Option<u64>, String> {
    // SAFETY: An all-zero `stat` is a valid value; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, exclusive `stat` for the call.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(format!("fstat: {}", std::io::Error::last_os_error()));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
        return Ok(None);
    }
    // SAFETY: An all-zero `statfs` is a valid value; fstatfs fills it.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `sfs` is a valid, exclusive `statfs` for the call.
    let on_ckptpts = unsafe { libc::fstatfs(fd, &mut sfs) } == 0 && sfs.f_type == CKPTPTS_MAGIC;
    if on_ckptpts || procfs::is_ckpt_major(libc::major(st.st_rdev)) {
        Ok(Some(st.st_rdev))
    } else {
        Ok(None)
    }
}

/// `DUMP_EXT_FILE(fd, id)`: `fd` is criu's copy of the task's file.
pub fn dump_ext_file(fd: i32, id: i32) -> i32 {
    match dump(fd, id) {
        Ok(true) => 0,
        Ok(false) => -libc::ENOTSUP,
        Err(why) => {
            log(
                Level::Error,
                &format!("cannot dump file {id} (fd {fd}): {why}"),
            );
            -1
        }
    }
}

fn dump(fd: i32, id: i32) -> Result<bool, String> {
    let Some(rdev) = ckpt_device(fd)? else {
        log(
            Level::Info,
            &format!("DUMP_EXT_FILE file {id} (fd {fd}): not a ckpt_pty end"),
        );
        return Ok(false);
    };
    let id = u32::try_from(id).map_err(|_| format!("negative file id {id}"))?;
    // SAFETY: CRIU keeps `fd` open for the whole hook.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let status = sys::stream_status(borrowed).map_err(|e| {
        format!(
            "CKPT_STATUS: {e} (chr {}:{} is not a ckpt_pty end?)",
            libc::major(rdev),
            libc::minor(rdev)
        )
    })?;
    let end = End::from_status(status.end)
        .ok_or_else(|| format!("CKPT_STATUS names end {}", status.end))?;
    let path = fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("readlink /proc/self/fd/{fd}: {e}"))?
        .to_string_lossy()
        .into_owned();
    let flags =
        procfs::fd_flags(fd).ok_or_else(|| format!("no flags in /proc/self/fdinfo/{fd}"))?;
    // Who has the slave as controlling terminal, before it is frozen
    // (freezing changes none of it; the tasks are stopped by CRIU).
    let (ctty_leader, fg_pgrp) = match end {
        End::Slave => match procfs::ctty_owner(rdev) {
            Some((leader, fg)) => (
                procfs::own_ns_pid(leader).unwrap_or(0),
                if fg > 0 {
                    procfs::own_ns_pid(fg).unwrap_or(0)
                } else {
                    0
                },
            ),
            None => (0, 0),
        },
        End::Master => (0, 0),
    };
    if let End::Master = end {
        match associate_socket(borrowed) {
            Ok(Some(what)) => log(Level::Info, &format!("file {id}: {what}")),
            Ok(None) => {}
            Err(why) => log(
                Level::Warn,
                &format!("file {id}: no socket association: {why}"),
            ),
        }
    }
    let stream = sys::checkpoint(borrowed, u64::from(id), true)
        .map_err(|e| format!("CKPT_CHECKPOINT of {} {}: {e}", end.name(), status.index))?;
    // Kept to thaw the end if the dump fails later.
    let dup = borrowed
        .try_clone_to_owned()
        .map_err(|e| format!("dup: {e}"))?;
    if let Ok(mut f) = FROZEN.lock() {
        f.push((id, dup));
    }
    let dir = match end {
        End::Slave => path
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default(),
        // A master's path is the ptmx it was opened through, maybe a bind
        // mount elsewhere (/dev/ptmx): the restore finds the instance from
        // the slaves or the mount table.
        End::Master => String::new(),
    };
    let img = FileImage {
        id,
        end,
        index: status.index,
        mode: status.mode,
        flags,
        ctty_leader,
        fg_pgrp,
        dir,
        path,
        stream,
    };
    write_image(&img)?;
    log(
        Level::Info,
        &format!(
            "DUMP_EXT_FILE file {id}: {} of pair {} ({}), flags 0{:o}, stream image {} bytes{}",
            end.name(),
            img.index,
            img.path,
            img.flags,
            img.stream.len(),
            if ctty_leader != 0 {
                format!(", ctty of session {ctty_leader}, foreground group {fg_pgrp}")
            } else {
                String::new()
            }
        ),
    );
    Ok(true)
}

fn write_image(img: &FileImage) -> Result<(), String> {
    let dir = crate::image_dir()?;
    let name = image::file_name(img.id);
    let c = CString::new(name.clone()).map_err(|_| "bad file name".to_string())?;
    // SAFETY: `c` is NUL-terminated; openat keeps no pointer.
    let fd = unsafe {
        libc::openat(
            dir,
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(format!(
            "create {name}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(&img.encode())
        .map_err(|e| format!("write {name}: {e}"))
}

/// Whether `fd` is a connected TCP socket (IPv4 or IPv6 stream with a
/// peer).
fn is_connected_tcp(fd: BorrowedFd<'_>) -> bool {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `ty` and `len` are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 || ty != libc::SOCK_STREAM {
        return false;
    }
    // SAFETY: An all-zero sockaddr_storage is valid; getpeername fills at
    // most `len` bytes of it.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `addr` and `len` are valid for the call.
    let peer = unsafe {
        libc::getpeername(
            fd.as_raw_fd(),
            (&mut addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    let family = i32::from(addr.ss_family);
    peer == 0 && (family == libc::AF_INET || family == libc::AF_INET6)
}

/// The login-server rule (telnetd, sshd): the task holding a pty master
/// also holds the client's connection. For the master `master` (criu's
/// copy, the same open file as the task's), unless the pair already has a
/// socket (`CKPT_SOCKET_GET`: an explicit `CKPT_SOCKET_SET` wins), find
/// the tasks holding it; a task with exactly one connected TCP socket
/// names it, with several the one whose fd is the nearest below the
/// master's fd. Records it with `CKPT_SOCKET_SET` on a `pidfd_getfd` copy
/// of the socket. `Ok(None)`: nothing to associate.
fn associate_socket(master: BorrowedFd<'_>) -> Result<Option<String>, String> {
    let mut rec = ckptctl::uapi::SocketRecord::default();
    // SAFETY: CKPT_SOCKET_GET writes one SocketRecord to `rec`.
    let r = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            ckptctl::uapi::CKPT_SOCKET_GET as libc::Ioctl,
            &mut rec as *mut ckptctl::uapi::SocketRecord,
        )
    };
    if r == 0 {
        return Ok(Some(
            "the pair already has a socket (CKPT_SOCKET_SET before the dump): kept".into(),
        ));
    }
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let dir = fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut seen = Vec::new();
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut links = Vec::new();
        for e in fds.flatten() {
            let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(link) = fs::read_link(e.path()) else {
                continue;
            };
            links.push((fd, link.to_string_lossy().into_owned()));
        }
        if !links.iter().any(|(_, l)| l.starts_with("socket:")) {
            continue;
        }
        let Ok(pidfd) = sys::pidfd_open(pid) else {
            continue;
        };
        // The task's descriptors of this master.
        let mut mfds = Vec::new();
        for (fd, l) in &links {
            if l.starts_with("socket:") || l.starts_with("pipe:") || l.starts_with("anon_inode:") {
                continue;
            }
            let Ok(copy) = sys::pidfd_getfd(pidfd.as_fd(), *fd) else {
                continue;
            };
            if sys::same_file(copy.as_fd(), master).unwrap_or(false) {
                mfds.push(*fd);
            }
        }
        let Some(&mfd) = mfds.first() else {
            continue;
        };
        let mut socks = Vec::new();
        for (fd, l) in &links {
            if !l.starts_with("socket:") {
                continue;
            }
            let Ok(copy) = sys::pidfd_getfd(pidfd.as_fd(), *fd) else {
                continue;
            };
            if is_connected_tcp(copy.as_fd()) {
                socks.push((*fd, copy));
            }
        }
        seen.push(format!(
            "task {pid}: master fd {mfd}, {} connected TCP sockets",
            socks.len()
        ));
        let chosen = if socks.len() == 1 {
            socks.pop()
        } else {
            socks
                .into_iter()
                .filter(|(fd, _)| *fd < mfd)
                .max_by_key(|(fd, _)| *fd)
        };
        let Some((sfd, sock)) = chosen else {
            continue;
        };
        // SAFETY: CKPT_SOCKET_SET takes a descriptor as an integer.
        let r = unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                ckptctl::uapi::CKPT_SOCKET_SET as libc::Ioctl,
                sock.as_raw_fd() as libc::c_ulong,
            )
        };
        if r != 0 {
            return Err(format!(
                "CKPT_SOCKET_SET (task {pid} fd {sfd}): {}",
                std::io::Error::last_os_error()
            ));
        }
        return Ok(Some(format!(
            "associated with the connected TCP socket fd {sfd} of task {pid}, which holds the master as fd {mfd} (CKPT_SOCKET_SET)"
        )));
    }
    if seen.is_empty() {
        Ok(None)
    } else {
        Err(format!("no socket chosen ({})", seen.join("; ")))
    }
}
