// SPDX-License-Identifier: GPL-2.0
//! Thin, checked wrappers over the system calls the guest tests use.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// Open flags of the tests' pty nodes: read-write, never becoming the
/// controlling terminal by accident.
pub const RW: i32 = libc::O_RDWR | libc::O_NOCTTY;

/// The errno of a failed call, as a name for readable failures.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_str(n),
        None => e.to_string(),
    }
}

/// The symbolic name of an errno value.
pub fn errno_str(n: i32) -> String {
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EBADMSG => "EBADMSG",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return format!("errno {n}"),
    };
    name.to_string()
}

/// The errno of the last failed call, as a name.
pub fn last_errno() -> String {
    errno_name(&io::Error::last_os_error())
}

pub fn open(path: &str, flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid C string; the returned fd is owned by us.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// ioctl whose argument is a pointer to a value of type T.
pub fn ioctl_ptr<T>(fd: &OwnedFd, cmd: u32, arg: *mut T) -> io::Result<i32> {
    // SAFETY: the caller passes a pointer valid for the ioctl's access, or a
    // deliberately bad one that the kernel must reject with EFAULT.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub fn get_u32(fd: &OwnedFd, cmd: u32) -> io::Result<u32> {
    let mut v: u32 = 0;
    ioctl_ptr(fd, cmd, &mut v)?;
    Ok(v)
}

pub fn set_i32(fd: &OwnedFd, cmd: u32, v: i32) -> io::Result<()> {
    let mut v = v;
    ioctl_ptr(fd, cmd, &mut v).map(|_| ())
}

pub fn exists(path: &str) -> bool {
    std::path::Path::new(path).exists()
}

/// Runs a shell command line in the guest (busybox), returns (status, output).
pub fn sh(cmd: &str) -> (i32, String) {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .output()
    {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.code().unwrap_or(-1), s)
        }
        Err(e) => (-1, e.to_string()),
    }
}

/// ioctl whose argument is a plain integer (TCFLSH, TCXONC, TIOCSCTTY...).
pub fn ioctl_val(fd: &OwnedFd, cmd: u32, arg: usize) -> io::Result<i32> {
    // SAFETY: the argument is passed by value; no memory is shared.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The `revents` of one `poll(2)` on `fd` for `events`; 0 on timeout.
/// A negative `timeout_ms` waits forever (callers never do).
pub fn poll_events(fd: &OwnedFd, events: i16, timeout_ms: i32) -> io::Result<i16> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.revents)
    }
}

/// One `read(2)` of at most `n` bytes.
pub fn read_once(fd: &OwnedFd, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    // SAFETY: `buf` is valid for `n` bytes.
    let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), n) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(r as usize);
    Ok(buf)
}

/// One `write(2)`; returns how much was taken.
pub fn write_once(fd: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: `data` is valid for its length.
    let r = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Sets or clears `O_NONBLOCK` on the open file description.
pub fn set_nonblocking(fd: &OwnedFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a valid descriptor.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal that interrupts a blocking call at its deadline. Its handler
/// does nothing and is installed without `SA_RESTART`, so a blocked
/// `read`/`write`/`poll` returns (`EINTR`, or the partial count the kernel
/// has by then).
pub const DEADLINE_SIGNAL: i32 = libc::SIGUSR2;

extern "C" fn on_deadline_signal(_: i32) {}

/// Installs the do-nothing handler of [`DEADLINE_SIGNAL`] (once), so that
/// sending it interrupts a blocking call instead of killing the process.
pub fn install_deadline_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installing a handler that does nothing is always sound.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_deadline_signal as *const () as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(DEADLINE_SIGNAL, &sa, std::ptr::null_mut());
        }
    });
}

/// Runs `op` (a blocking system call) on this thread, interrupting it with a
/// signal if it is still running after `deadline`. Returns the result and
/// whether the deadline passed. The signal is repeated every 20 ms until
/// `op` returns, in case the first one arrived just before the call blocked.
pub fn with_deadline<R>(deadline: Duration, op: impl FnOnce() -> R) -> (R, bool) {
    install_deadline_handler();
    // SAFETY: pthread_self has no preconditions.
    let target = unsafe { libc::pthread_self() };
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let fired = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let watchdog = {
        let done = Arc::clone(&done);
        let fired = Arc::clone(&fired);
        std::thread::spawn(move || {
            let (lock, cv) = &*done;
            let mut finished = lock.lock().unwrap_or_else(|e| e.into_inner());
            // Checked before every wait: `op` may be done before we start.
            while !*finished {
                let wait = deadline
                    .checked_sub(start.elapsed())
                    .unwrap_or(Duration::from_millis(20));
                finished = cv
                    .wait_timeout(finished, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if !*finished && start.elapsed() >= deadline {
                    fired.store(true, Ordering::SeqCst);
                    // SAFETY: `target` is alive: it waits for us below.
                    unsafe { libc::pthread_kill(target, DEADLINE_SIGNAL) };
                }
            }
        })
    };
    let result = op();
    {
        let (lock, cv) = &*done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
    }
    let _ = watchdog.join();
    (result, fired.load(Ordering::SeqCst))
}

/// The calling thread's kernel id (for `/proc/self/task/TID` and tgkill).
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Sends `sig` to thread `tid` of this process.
pub fn signal_thread(tid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: tgkill only sends a signal.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
