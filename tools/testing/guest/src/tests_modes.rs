// SPDX-License-Identifier: GPL-2.0
//! BSD mode (fixed named pairs, either open order) and the module
//! parameters (`max_pairs`, `bsd_pairs`).

use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_name, RW};
use crate::uapi::{PTMX_PATH, PTS_DIR, TIOCGPTN};
use crate::{ensure, ensure_eq};
use std::os::fd::OwnedFd;

pub const TESTS: &[(&str, TestFn)] = &[
    ("bsd_nodes_exist", bsd_nodes_exist),
    ("bsd_slave_first_then_master", bsd_slave_first_then_master),
    ("bsd_master_is_exclusive", bsd_master_is_exclusive),
    (
        "bsd_hangup_then_fresh_session",
        bsd_hangup_then_fresh_session,
    ),
    ("bsd_master_has_no_index", bsd_master_has_no_index),
    ("param_defaults_visible", param_defaults_visible),
    (
        "param_max_pairs_bounds_allocation",
        param_max_pairs_bounds_allocation,
    ),
    ("param_out_of_range_refused", param_out_of_range_refused),
    (
        "param_pty_reserve_keeps_ptys_for_the_host",
        param_pty_reserve_keeps_ptys_for_the_host,
    ),
];

fn open(path: &str) -> Result<OwnedFd, String> {
    sys::open(path, RW).map_err(|e| format!("open {path}: {}", errno_name(&e)))
}

fn read_some(fd: &OwnedFd) -> Result<Vec<u8>, String> {
    match sys::poll_events(fd, libc::POLLIN, 3000) {
        Ok(ev) if ev & libc::POLLIN != 0 => {}
        other => return Err(format!("nothing to read: {other:?}")),
    }
    sys::read_once(fd, 4096).map_err(|e| errno_name(&e))
}

fn write(fd: &OwnedFd, data: &[u8]) -> Result<(), String> {
    let n = sys::write_once(fd, data).map_err(|e| errno_name(&e))?;
    ensure_eq!(n, data.len());
    Ok(())
}

fn bsd_nodes_exist() -> TestResult {
    for i in 0..16 {
        for kind in ["pty", "tty"] {
            let p = format!("{PTS_DIR}/{kind}{i}");
            ensure!(sys::exists(&p), "{p} missing");
        }
    }
    ensure!(
        !sys::exists(&format!("{PTS_DIR}/pty16")),
        "more BSD pairs than bsd_pairs"
    );
    Ok(())
}

fn bsd_slave_first_then_master() -> TestResult {
    let s = open(&format!("{PTS_DIR}/tty3"))?;
    let m = open(&format!("{PTS_DIR}/pty3"))?;
    write(&m, b"hi\n")?;
    ensure_eq!(read_some(&s)?, b"hi\n".to_vec());
    // The echo of the typed line, then the slave's own output, on the master.
    ensure_eq!(read_some(&m)?, b"hi\r\n".to_vec());
    write(&s, b"x\n")?;
    ensure_eq!(read_some(&m)?, b"x\r\n".to_vec());
    Ok(())
}

fn bsd_master_is_exclusive() -> TestResult {
    let _m = open(&format!("{PTS_DIR}/pty4"))?;
    match sys::open(&format!("{PTS_DIR}/pty4"), RW) {
        Err(e) => ensure_eq!(errno_name(&e), "EIO"),
        Ok(_) => return Err("second master open succeeded".into()),
    }
    Ok(())
}

fn bsd_hangup_then_fresh_session() -> TestResult {
    let m = open(&format!("{PTS_DIR}/pty5"))?;
    let s = open(&format!("{PTS_DIR}/tty5"))?;
    write(&s, b"left over\n")?;
    drop(m);
    // Hung up: reads give end of file, a new master is refused.
    ensure_eq!(
        sys::read_once(&s, 16).map_err(|e| errno_name(&e))?,
        Vec::<u8>::new()
    );
    match sys::open(&format!("{PTS_DIR}/pty5"), RW) {
        Err(e) => ensure_eq!(errno_name(&e), "EIO"),
        Ok(_) => return Err("master reopened while the hung-up slave is open".into()),
    }
    drop(s);
    // Nobody holds it: a fresh session, nothing of the old one remains.
    let m = open(&format!("{PTS_DIR}/pty5"))?;
    let r = sys::poll_events(&m, libc::POLLIN, 200).map_err(|e| errno_name(&e))?;
    ensure!(r & libc::POLLIN == 0, "old data visible in a fresh session");
    Ok(())
}

fn bsd_master_has_no_index() -> TestResult {
    let m = open(&format!("{PTS_DIR}/pty6"))?;
    let r = sys::get_u32(&m, TIOCGPTN);
    ensure_eq!(r.map_err(|e| errno_name(&e)), Err("ENOTTY".to_string()));
    Ok(())
}

fn param(name: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("/sys/module/ckpt_pty/parameters/{name}"))
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{name}: {e}"))
}

fn reload(args: &str) -> (i32, String) {
    let (st, out) = sys::sh("ckpt-load -u 2>&1");
    if st != 0 {
        return (st, out);
    }
    sys::sh(&format!("ckpt-load {args} 2>&1"))
}

fn restore_default() -> Result<(), String> {
    let _ = sys::sh("ckpt-load -u 2>/dev/null");
    let (st, out) = sys::sh("ckpt-load 2>&1");
    ensure_eq!((st, out.as_str()), (0, ""));
    Ok(())
}

fn param_defaults_visible() -> TestResult {
    ensure_eq!(param("max_pairs")?, "4096");
    ensure_eq!(param("bsd_pairs")?, "16");
    Ok(())
}

fn param_max_pairs_bounds_allocation() -> TestResult {
    let (st, out) = reload("max_pairs=2 bsd_pairs=0");
    ensure_eq!((st, out.as_str()), (0, ""));
    let result = (|| -> TestResult {
        ensure_eq!(param("max_pairs")?, "2");
        ensure!(
            !sys::exists(&format!("{PTS_DIR}/pty0")),
            "BSD nodes with bsd_pairs=0"
        );
        let _a = open(PTMX_PATH)?;
        let _b = open(PTMX_PATH)?;
        match sys::open(PTMX_PATH, RW) {
            Err(e) => ensure_eq!(errno_name(&e), "ENOSPC"),
            Ok(_) => return Err("third pair allocated with max_pairs=2".into()),
        }
        Ok(())
    })();
    restore_default()?;
    result
}

fn param_out_of_range_refused() -> TestResult {
    for args in [
        "max_pairs=0",
        "max_pairs=2000000",
        "bsd_pairs=5000",
        "pty_max=4 pty_reserve=4",
    ] {
        let (st, _) = reload(args);
        let loaded = sys::exists(PTMX_PATH);
        restore_default()?;
        ensure!(st != 0 && !loaded, "insmod {args} was accepted");
    }
    Ok(())
}

/// In a child: a user namespace of its own (a container's root) mounts an
/// instance and opens its ptmx; the errno name or "ok".
fn container_open_ptmx() -> Result<String, String> {
    crate::tests_tty::in_child(std::time::Duration::from_secs(20), |_| {
        let dir = "/tmp/ckpt-quota";
        crate::tests_tty::mount_in_own_user_namespace(dir)?;
        Ok(match sys::open(&format!("{dir}/ptmx"), RW) {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(&e),
        })
    })
}

/// `pty_max` counts AT&T pairs over all instances; instances of other user
/// namespaces stop `pty_reserve` short of it, so the host keeps ptys.
fn param_pty_reserve_keeps_ptys_for_the_host() -> TestResult {
    let (st, out) = reload("pty_max=4 pty_reserve=2 bsd_pairs=0");
    ensure_eq!((st, out.as_str()), (0, ""));
    let result = (|| -> TestResult {
        ensure_eq!(container_open_ptmx()?, "ok", "container, 0 in use");
        let a = open(PTMX_PATH)?;
        let b = open(PTMX_PATH)?;
        ensure_eq!(container_open_ptmx()?, "ENOSPC", "container, 2 in use");
        let c = open(PTMX_PATH)?;
        let d = open(PTMX_PATH)?;
        match sys::open(PTMX_PATH, RW) {
            Err(e) => ensure_eq!(errno_name(&e), "ENOSPC"),
            Ok(_) => return Err("a fifth pair with pty_max=4".into()),
        }
        drop((a, b, c, d));
        ensure_eq!(container_open_ptmx()?, "ok", "container, all closed");
        Ok(())
    })();
    restore_default()?;
    result
}
