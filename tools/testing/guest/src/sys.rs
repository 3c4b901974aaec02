// SPDX-License-Identifier: GPL-2.0
//! Thin, checked wrappers over the system calls the guest tests use.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The errno of a failed call, as a name for readable failures.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EIO) => "EIO".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::ENOTTY) => "ENOTTY".into(),
        Some(libc::EFAULT) => "EFAULT".into(),
        Some(libc::EBUSY) => "EBUSY".into(),
        Some(libc::EAGAIN) => "EAGAIN".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        Some(libc::ENXIO) => "ENXIO".into(),
        Some(n) => format!("errno {n}"),
        None => e.to_string(),
    }
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
