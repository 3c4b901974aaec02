// SPDX-License-Identifier: GPL-2.0
//! The devices themselves: nodes, index allocation, slave lock, module
//! lifetime (rmmod refused while open), bad ioctl input.

use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_name};
use crate::uapi::{PTMX_PATH, PTS_DIR, TIOCGPTLCK, TIOCGPTN, TIOCSPTLCK};
use crate::{ensure, ensure_eq};

pub const TESTS: &[(&str, TestFn)] = &[
    ("ptmx_node_exists", ptmx_node_exists),
    (
        "ptmx_allocates_lowest_free_index",
        ptmx_allocates_lowest_free_index,
    ),
    ("slave_node_follows_master", slave_node_follows_master),
    ("slave_locked_until_unlocked", slave_locked_until_unlocked),
    ("unknown_ioctl_is_enotty", unknown_ioctl_is_enotty),
    ("bad_pointer_is_efault", bad_pointer_is_efault),
    ("rmmod_refused_while_open", rmmod_refused_while_open),
    ("many_opens_and_closes", many_opens_and_closes),
];

fn open_ptmx() -> Result<std::os::fd::OwnedFd, String> {
    sys::open(PTMX_PATH, libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| format!("open {PTMX_PATH}: {e}"))
}

fn index_of(fd: &std::os::fd::OwnedFd) -> Result<u32, String> {
    sys::get_u32(fd, TIOCGPTN).map_err(|e| format!("TIOCGPTN: {}", errno_name(&e)))
}

fn ptmx_node_exists() -> TestResult {
    ensure!(sys::exists(PTMX_PATH), "{PTMX_PATH} missing");
    Ok(())
}

fn ptmx_allocates_lowest_free_index() -> TestResult {
    let a = open_ptmx()?;
    let b = open_ptmx()?;
    let c = open_ptmx()?;
    let (ia, ib, ic) = (index_of(&a)?, index_of(&b)?, index_of(&c)?);
    ensure!(ia < ib && ib < ic, "indexes not increasing: {ia} {ib} {ic}");
    drop(b);
    let d = open_ptmx()?;
    ensure_eq!(index_of(&d)?, ib);
    Ok(())
}

fn slave_node_follows_master() -> TestResult {
    let m = open_ptmx()?;
    let n = index_of(&m)?;
    let path = format!("{PTS_DIR}/{n}");
    ensure!(
        sys::exists(&path),
        "{path} missing while the master is open"
    );
    drop(m);
    ensure!(
        !sys::exists(&path),
        "{path} still there after the master closed"
    );
    Ok(())
}

fn slave_locked_until_unlocked() -> TestResult {
    let m = open_ptmx()?;
    let n = index_of(&m)?;
    let path = format!("{PTS_DIR}/{n}");
    ensure_eq!(sys::get_u32(&m, TIOCGPTLCK).map_err(|e| errno_name(&e))?, 1);
    match sys::open(&path, libc::O_RDWR | libc::O_NOCTTY) {
        Err(e) => ensure_eq!(errno_name(&e), "EIO"),
        Ok(_) => return Err("locked slave opened".into()),
    }
    sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
    ensure_eq!(sys::get_u32(&m, TIOCGPTLCK).map_err(|e| errno_name(&e))?, 0);
    let s = sys::open(&path, libc::O_RDWR | libc::O_NOCTTY);
    ensure!(s.is_ok(), "unlocked slave did not open: {:?}", s.err());
    Ok(())
}

fn unknown_ioctl_is_enotty() -> TestResult {
    let m = open_ptmx()?;
    let r = sys::ioctl_ptr(&m, 0x5499, std::ptr::null_mut::<u8>());
    ensure_eq!(r.map_err(|e| errno_name(&e)), Err("ENOTTY".to_string()));
    Ok(())
}

fn bad_pointer_is_efault() -> TestResult {
    let m = open_ptmx()?;
    for cmd in [TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK] {
        let r = sys::ioctl_ptr(&m, cmd, 8usize as *mut u32);
        ensure_eq!(r.map_err(|e| errno_name(&e)), Err("EFAULT".to_string()));
    }
    Ok(())
}

fn rmmod_refused_while_open() -> TestResult {
    let m = open_ptmx()?;
    let (status, out) = sys::sh("ckpt-load -u 2>&1");
    ensure!(
        status != 0,
        "unmount + rmmod succeeded with a device open: {out}"
    );
    ensure!(sys::exists(PTMX_PATH), "node vanished after refused rmmod");
    ensure!(
        index_of(&m).is_ok(),
        "open master unusable after refused rmmod"
    );
    drop(m);
    let (status, out) = sys::sh("ckpt-load -u 2>&1");
    ensure_eq!((status, out.as_str()), (0, ""));
    ensure!(!sys::exists(PTMX_PATH), "node left after rmmod");
    let (status, out) = sys::sh("ckpt-load 2>&1");
    ensure_eq!((status, out.as_str()), (0, ""));
    ensure!(sys::exists(PTMX_PATH), "node missing after insmod");
    Ok(())
}

fn many_opens_and_closes() -> TestResult {
    // Interleaved opens and closes from several threads: indexes stay
    // unique while held, and everything is released at the end.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || -> Result<(), String> {
                let mut held = Vec::new();
                for i in 0..200 {
                    if (i + t) % 3 == 2 {
                        held.pop();
                    } else {
                        let m = open_ptmx()?;
                        let n = index_of(&m)?;
                        if (i % 5) == 0 {
                            sys::set_i32(&m, TIOCSPTLCK, 0).map_err(|e| errno_name(&e))?;
                            let s =
                                sys::open(&format!("{PTS_DIR}/{n}"), libc::O_RDWR | libc::O_NOCTTY)
                                    .map_err(|e| format!("slave {n}: {}", errno_name(&e)))?;
                            held.push((n, m, Some(s)));
                        } else {
                            held.push((n, m, None));
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "thread panicked".to_string())??;
    }
    let m = open_ptmx()?;
    ensure_eq!(index_of(&m)?, 0);
    Ok(())
}
