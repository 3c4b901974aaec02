// SPDX-License-Identifier: GPL-2.0
//! The system-call wrappers that work on any Linux host: pidfds, kcmp,
//! descriptor juggling, and the tty ioctls on a native pty.

use std::os::fd::{AsFd, AsRawFd};

use ckptctl::sys;

fn skip_if_enosys(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM))
}

#[test]
fn pidfd_getfd_duplicates_the_same_file() {
    let a = sys::open("/dev/null", libc::O_RDONLY).unwrap();
    let b = sys::open("/dev/null", libc::O_RDONLY).unwrap();
    let pidfd = match sys::pidfd_open(std::process::id() as i32) {
        Ok(p) => p,
        Err(e) if skip_if_enosys(&e) => return,
        Err(e) => panic!("{e}"),
    };
    let dup = match sys::pidfd_getfd(pidfd.as_fd(), a.as_raw_fd()) {
        Ok(d) => d,
        Err(e) if skip_if_enosys(&e) => return,
        Err(e) => panic!("{e}"),
    };
    assert_ne!(dup.as_raw_fd(), a.as_raw_fd());
    match sys::same_file(a.as_fd(), dup.as_fd()) {
        Ok(same) => assert!(same),
        Err(e) if skip_if_enosys(&e) => return,
        Err(e) => panic!("{e}"),
    }
    assert!(!sys::same_file(a.as_fd(), b.as_fd()).unwrap());
    // Descriptors of a process that does not exist.
    let e = sys::pidfd_open(i32::MAX).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ESRCH));
    let e = sys::pidfd_getfd(pidfd.as_fd(), 9999).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
}

#[test]
fn descriptor_juggling() {
    let a = sys::open("/dev/null", libc::O_RDWR | libc::O_NONBLOCK).unwrap();
    let fl = sys::get_status_flags(a.as_fd()).unwrap();
    assert_eq!(fl & libc::O_ACCMODE, libc::O_RDWR);
    assert_ne!(fl & libc::O_NONBLOCK, 0);
    sys::set_status_flags(a.as_fd(), fl & !libc::O_NONBLOCK).unwrap();
    assert_eq!(
        sys::get_status_flags(a.as_fd()).unwrap() & libc::O_NONBLOCK,
        0
    );
    let high = sys::dup_at_least(a.as_fd(), 200).unwrap();
    assert!(high.as_raw_fd() >= 200);
    // SAFETY: fcntl(F_GETFD) only reads descriptor flags.
    let fdflags = unsafe { libc::fcntl(high.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
}

#[test]
fn tty_ioctls_on_a_native_pty() {
    let Ok(m) = sys::open("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY) else {
        return;
    };
    // The ioctl numbers ckptctl shares with Linux.
    let n = sys::pty_index(m.as_fd()).unwrap();
    let t = sys::termios(m.as_fd()).unwrap();
    assert!(t.lflag(pty_core::termios::ICANON));
    assert!(t.lflag(pty_core::termios::ECHO));
    assert_eq!(t.c_cc[pty_core::termios::VINTR], 3);
    // A native pty does not know ckpt_pty's ioctls.
    let e = sys::stream_status(m.as_fd()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTTY), "pty {n}");
    assert!(sys::errno_name(&e).starts_with("ENOTTY: "));
}
