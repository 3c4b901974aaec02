// SPDX-License-Identifier: GPL-2.0
//! The only place with `unsafe`: thin, checked wrappers over the system
//! calls and ioctls ckptctl uses. Every wrapper returns an owned descriptor
//! or a plain value and reports failure as [`io::Error`].

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::uapi;
use pty_core::termios::Termios;

/// `-1` from a system call: the thread's errno as an error.
fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Wraps a descriptor that a successful call just returned.
fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `fd` was just returned by the kernel as a new descriptor of
    // this process that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open(2)`; `O_CLOEXEC` is always added.
pub fn open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the
    // call; `open` does not keep the pointer.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    owned(check(libc::c_long::from(fd))?)
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    owned(check(r)?)
}

/// `pidfd_getfd(pidfd, fd, 0)`: a duplicate (same open file description)
/// of descriptor `fd` of the process; the new descriptor is close-on-exec.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes three integers and returns a new descriptor.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0u32) };
    owned(check(r)?)
}

/// `kcmp(KCMP_FILE)` of two descriptors of this process: whether they
/// refer to the same open file description.
pub fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> io::Result<bool> {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kcmp takes five integers and reads no user memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a.as_raw_fd() as libc::c_ulong,
            b.as_raw_fd() as libc::c_ulong,
        )
    };
    Ok(check(r)? == 0)
}

/// `fcntl(F_GETFL)`.
pub fn get_status_flags(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: F_GETFL takes no argument.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    Ok(check(libc::c_long::from(r))? as i32)
}

/// `fcntl(F_SETFL)`.
pub fn set_status_flags(fd: BorrowedFd<'_>, flags: i32) -> io::Result<()> {
    // SAFETY: F_SETFL takes an int argument.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) };
    check(libc::c_long::from(r)).map(drop)
}

/// `fcntl(F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate numbered at
/// least `min`.
pub fn dup_at_least(fd: BorrowedFd<'_>, min: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int argument and returns a new
    // descriptor.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    owned(check(libc::c_long::from(r))?)
}

/// `dup2(fd, target)`: `target` becomes a copy of `fd` without
/// close-on-exec. It is deliberately left unowned: it is meant to survive
/// the `execve` that follows.
pub fn dup2_keep(fd: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 takes two integers; `target` is replaced atomically and
    // no Rust object owns it (the caller installs descriptors for exec).
    let r = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    check(libc::c_long::from(r)).map(drop)
}

/// `ioctl` whose argument is a pointer to a `T` the kernel reads, writes or
/// both, with the size encoded in `cmd`.
fn ioctl_ptr<T>(fd: BorrowedFd<'_>, cmd: u32, arg: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `arg` is a valid, exclusive reference to a `T` for the whole
    // call, and `cmd` is an ioctl whose argument is a `T` (the uapi size).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::Ioctl, arg as *mut T) };
    check(libc::c_long::from(r))
}

/// `ioctl` without argument.
fn ioctl_none(fd: BorrowedFd<'_>, cmd: u32) -> io::Result<libc::c_long> {
    // SAFETY: the command takes no argument; the zero is ignored.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as libc::Ioctl, 0usize) };
    check(libc::c_long::from(r))
}

/// `CKPT_STATUS`.
pub fn stream_status(fd: BorrowedFd<'_>) -> io::Result<uapi::StreamStatus> {
    let mut st = uapi::StreamStatus::default();
    ioctl_ptr(fd, uapi::CKPT_STATUS, &mut st)?;
    Ok(st)
}

/// `CKPT_FREEZE`.
pub fn freeze(fd: BorrowedFd<'_>) -> io::Result<()> {
    ioctl_none(fd, uapi::CKPT_FREEZE).map(drop)
}

/// `CKPT_THAW`.
pub fn thaw(fd: BorrowedFd<'_>) -> io::Result<()> {
    ioctl_none(fd, uapi::CKPT_THAW).map(drop)
}

/// `TIOCGPTN`: the pair index of a master.
pub fn pty_index(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut n: u32 = 0;
    ioctl_ptr(fd, uapi::TIOCGPTN, &mut n)?;
    Ok(n)
}

/// `TCGETS`: the slave's settings (either end answers).
pub fn termios(fd: BorrowedFd<'_>) -> io::Result<Termios> {
    let mut raw = [0u8; Termios::SIZE];
    ioctl_ptr(fd, uapi::TCGETS, &mut raw)?;
    Termios::from_slice(&raw).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `CKPT_CHECKPOINT`: the stream's image. Asks for the size first, then
/// fetches; retries if the stream grew in between.
pub fn checkpoint(
    fd: BorrowedFd<'_>,
    checkpoint_id: u64,
    leave_frozen: bool,
) -> io::Result<Vec<u8>> {
    let flags = if leave_frozen {
        uapi::CKPT_LEAVE_FROZEN
    } else {
        0
    };
    let mut arg = uapi::CheckpointArg {
        flags,
        checkpoint_id,
        ..Default::default()
    };
    ioctl_ptr(fd, uapi::CKPT_CHECKPOINT, &mut arg)?;
    for _ in 0..8 {
        let mut buf = vec![0u8; arg.image_len as usize];
        arg.buf = buf.as_mut_ptr() as u64;
        arg.buf_len = arg.image_len;
        match ioctl_ptr(fd, uapi::CKPT_CHECKPOINT, &mut arg) {
            Ok(_) => {
                buf.truncate(arg.image_len as usize);
                return Ok(buf);
            }
            // The image grew between the two calls: `image_len` has the
            // new size.
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ERANGE))
}

/// `CKPT_RESTART` with `image`.
pub fn restart(fd: BorrowedFd<'_>, image: &[u8]) -> io::Result<()> {
    let buf_len =
        u32::try_from(image.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut arg = uapi::RestartArg {
        buf: image.as_ptr() as u64,
        buf_len,
        flags: 0,
    };
    ioctl_ptr(fd, uapi::CKPT_RESTART, &mut arg).map(drop)
}

/// `CKPT_GLOBAL_STATUS` on the control device.
pub fn global_status(control: BorrowedFd<'_>) -> io::Result<uapi::GlobalStatus> {
    let mut st = uapi::GlobalStatus::default();
    ioctl_ptr(control, uapi::CKPT_GLOBAL_STATUS, &mut st)?;
    Ok(st)
}

/// `CKPT_SESSION_BEGIN` with these entries.
pub fn session_begin(control: BorrowedFd<'_>, entries: &[uapi::RestartEntry]) -> io::Result<()> {
    let count =
        u32::try_from(entries.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut arg = uapi::SessionArg {
        entries: entries.as_ptr() as u64,
        count,
        flags: 0,
    };
    ioctl_ptr(control, uapi::CKPT_SESSION_BEGIN, &mut arg).map(drop)
}

/// A commit that failed with `ENXIO`: how many orphans there are, and the
/// records of the first ones.
#[derive(Debug)]
pub struct CommitOrphans {
    /// All orphans, even those without a record.
    pub count: u32,
    /// Raw records, [`uapi::ORPHAN_RECORD_LEN`] bytes each.
    pub records: Vec<u8>,
}

/// Why a commit failed.
#[derive(Debug)]
pub enum CommitError {
    /// `ENXIO`: ends (or sockets) were not restored; the session is rolled
    /// back.
    Orphans(CommitOrphans),
    /// Any other error.
    Io(io::Error),
}

/// `CKPT_SESSION_COMMIT`, with room for `cap` orphan records.
pub fn session_commit(control: BorrowedFd<'_>, cap: u32) -> Result<(), CommitError> {
    let mut records = vec![0u8; cap as usize * uapi::ORPHAN_RECORD_LEN];
    let mut arg = uapi::CommitArg {
        orphans: records.as_mut_ptr() as u64,
        orphans_cap: cap,
        orphans_count: 0,
    };
    match ioctl_ptr(control, uapi::CKPT_SESSION_COMMIT, &mut arg) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            records.truncate(arg.orphans_count.min(cap) as usize * uapi::ORPHAN_RECORD_LEN);
            Err(CommitError::Orphans(CommitOrphans {
                count: arg.orphans_count,
                records,
            }))
        }
        Err(e) => Err(CommitError::Io(e)),
    }
}

/// `CKPT_OPEN_MASTER`: opens the master of session pair `index`.
pub fn open_master(control: BorrowedFd<'_>, index: u32, flags: i32) -> io::Result<OwnedFd> {
    let mut arg = uapi::OpenMasterArg {
        index,
        flags: (flags | libc::O_CLOEXEC) as u32,
    };
    owned(ioctl_ptr(control, uapi::CKPT_OPEN_MASTER, &mut arg)?)
}

/// The symbolic name of an errno value, for messages.
pub fn errno_name(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::ESRCH) => "ESRCH",
        Some(libc::EINTR) => "EINTR",
        Some(libc::EIO) => "EIO",
        Some(libc::ENXIO) => "ENXIO",
        Some(libc::EBADF) => "EBADF",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::EFAULT) => "EFAULT",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::ENODEV) => "ENODEV",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::ENOTTY) => "ENOTTY",
        Some(libc::ERANGE) => "ERANGE",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EBADMSG) => "EBADMSG",
        Some(libc::EOVERFLOW) => "EOVERFLOW",
        Some(libc::EPROTONOSUPPORT) => "EPROTONOSUPPORT",
        Some(n) => return format!("errno {n}"),
        None => return e.to_string(),
    };
    format!("{name}: {}", strerror(e))
}

/// The plain text of an error, without Rust's " (os error N)" suffix.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
