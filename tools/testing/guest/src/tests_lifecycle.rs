// SPDX-License-Identifier: GPL-2.0
//! Freeze and restart lifecycles that no caller can abuse (issue 10): who
//! may stop a stream, who holds a freeze and when it ends, who drives a
//! restart session, and that a refused restart changes nothing.

use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_name, RW};
use crate::tests_restart::{
    begin, checkpoint, checkpointed_pair, commit, control, entry, open_master, open_pair,
    read_exact, restart, BOTH,
};
use crate::uapi::*;
use crate::{ensure, ensure_eq};
use std::os::fd::{AsRawFd, OwnedFd};

pub const TESTS: &[(&str, TestFn)] = &[
    (
        "lifecycle_stopping_a_stream_needs_privilege",
        stopping_needs_privilege,
    ),
    (
        "lifecycle_freeze_ends_with_the_slave_files",
        freeze_ends_with_slave_files,
    ),
    (
        "lifecycle_migration_freeze_outlives_files",
        migration_freeze_outlives_files,
    ),
    (
        "lifecycle_frozen_master_sees_hangup",
        frozen_master_sees_hangup,
    ),
    (
        "lifecycle_session_driven_by_its_file",
        session_driven_by_its_file,
    ),
    (
        "lifecycle_open_master_after_close_refused",
        open_master_after_close_refused,
    ),
    (
        "lifecycle_refused_restart_changes_nothing",
        refused_restart_changes_nothing,
    ),
    (
        "lifecycle_image_of_other_index_refused",
        image_of_other_index_refused,
    ),
    (
        "lifecycle_slave_only_pair_ends_with_its_files",
        slave_only_pair_ends_with_its_files,
    ),
    (
        "lifecycle_foreground_group_not_attached_by_number",
        foreground_group_not_attached_by_number,
    ),
    (
        "lifecycle_queue_memory_charged_to_the_writer_cgroup",
        queue_memory_charged_to_the_writer_cgroup,
    ),
    (
        "lifecycle_product_module_is_not_a_test_module",
        product_module_is_not_a_test_module,
    ),
];

fn e(err: std::io::Error) -> String {
    errno_name(&err)
}

/// Runs `f` in a child process that dropped root (uid/gid 65534, no
/// capabilities); its error comes back as the test's.
fn as_nobody(f: impl FnOnce() -> TestResult) -> TestResult {
    let mut pipe = [0i32; 2];
    // SAFETY: `pipe` has room for two descriptors.
    ensure_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: fork in a test; the child runs `f` and exits without
    // returning into the test harness.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain syscalls in the child.
        let dropped = unsafe {
            libc::setresgid(65534, 65534, 65534) == 0 && libc::setresuid(65534, 65534, 65534) == 0
        };
        let msg = if dropped {
            match f() {
                Ok(()) => String::new(),
                Err(m) => m,
            }
        } else {
            "setresuid failed".to_string()
        };
        // SAFETY: writes our own buffer to our own pipe, then exits.
        unsafe {
            libc::write(pipe[1], msg.as_ptr().cast(), msg.len());
            libc::_exit(0);
        }
    }
    // SAFETY: closes our copy of the write end.
    unsafe { libc::close(pipe[1]) };
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let mut buf = vec![0u8; 4096];
    // SAFETY: reads into our own buffer.
    let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: closes our read end.
    unsafe { libc::close(pipe[0]) };
    buf.truncate(n.max(0) as usize);
    ensure!(libc::WIFEXITED(status), "child died: status {status:#x}");
    if buf.is_empty() {
        Ok(())
    } else {
        Err(format!("as nobody: {}", String::from_utf8_lossy(&buf)))
    }
}

fn status(fd: &OwnedFd) -> Result<StreamStatus, String> {
    let mut st = StreamStatus::default();
    sys::ioctl_ptr(fd, CKPT_STATUS, &mut st).map_err(e)?;
    Ok(st)
}

fn errno_of(r: std::io::Result<i32>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(x) => e(x),
    }
}

/// Without `CAP_CHECKPOINT_RESTORE`/`CAP_SYS_ADMIN` a holder of both ends
/// can still take a checkpoint, but not freeze, thaw, leave frozen or
/// record a socket identity.
fn stopping_needs_privilege() -> TestResult {
    let (m, s, _) = open_pair()?;
    let (sock, _peer) = std::os::unix::net::UnixStream::pair().map_err(|x| x.to_string())?;
    as_nobody(|| {
        for (fd, name) in [(&m, "master"), (&s, "slave")] {
            ensure_eq!(
                errno_of(sys::ioctl_val(fd, CKPT_FREEZE, 0)),
                "EPERM",
                "{name} freeze"
            );
            ensure_eq!(
                errno_of(sys::ioctl_val(fd, CKPT_THAW, 0)),
                "EPERM",
                "{name} thaw"
            );
            let plain = checkpoint(fd, 1, 0);
            ensure!(plain.is_ok(), "{name} checkpoint: {plain:?}");
            let frozen = checkpoint(fd, 2, CKPT_LEAVE_FROZEN);
            ensure!(
                frozen.as_ref().is_err_and(|m| m.contains("EPERM")),
                "{name} leave frozen: {frozen:?}"
            );
        }
        ensure_eq!(
            errno_of(sys::ioctl_val(
                &m,
                CKPT_SOCKET_SET,
                sock.as_raw_fd() as usize
            )),
            "EPERM",
            "socket set"
        );
        Ok(())
    })?;
    // Nothing of it took effect.
    ensure_eq!(status(&m)?.frozen, 0);
    sys::write_once(&m, b"x\n").map_err(e)?;
    ensure_eq!(read_exact(&s, 2)?, b"x\n".to_vec());
    Ok(())
}

/// `ioctl(slave, CKPT_FREEZE); close(slave)` does not leave the pair
/// frozen: the slave's files hold the freeze and the last one's close ends
/// it.
fn freeze_ends_with_slave_files() -> TestResult {
    let (m, s, n) = open_pair()?;
    let second = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    sys::ioctl_val(&second, CKPT_FREEZE, 0).map_err(e)?;
    ensure_eq!(status(&m)?.frozen, CKPT_FROZEN_SLAVE);
    drop(second);
    // Another slave file is still open: still frozen.
    ensure_eq!(status(&m)?.frozen, CKPT_FROZEN_SLAVE);
    drop(s);
    ensure_eq!(status(&m)?.frozen, 0, "last slave file closed");
    // Data moves again.
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    sys::write_once(&m, b"go\n").map_err(e)?;
    ensure_eq!(read_exact(&s, 3)?, b"go\n".to_vec());
    Ok(())
}

/// A checkpoint that leaves the slave frozen for migration keeps it frozen
/// whoever closes what, until a privileged thaw.
fn migration_freeze_outlives_files() -> TestResult {
    let (m, s, n) = open_pair()?;
    sys::write_once(&s, b"held").map_err(e)?;
    checkpoint(&s, 9, CKPT_LEAVE_FROZEN)?;
    drop(s);
    ensure_eq!(status(&m)?.frozen, CKPT_FROZEN_SLAVE);
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    sys::set_nonblocking(&m, true).map_err(e)?;
    ensure_eq!(
        errno_of(sys::read_once(&m, 4).map(|v| v.len() as i32)),
        "EAGAIN"
    );
    sys::ioctl_val(&s, CKPT_THAW, 0).map_err(e)?;
    sys::set_nonblocking(&m, false).map_err(e)?;
    ensure_eq!(read_exact(&m, 4)?, b"held".to_vec());
    Ok(())
}

/// A frozen master whose slave is gone reads `EIO` (not `EAGAIN`) and
/// polls `POLLHUP`: an event loop does not spin, a blocking read does not
/// sleep forever.
fn frozen_master_sees_hangup() -> TestResult {
    let (m, s, _) = open_pair()?;
    sys::ioctl_val(&m, CKPT_FREEZE, 0).map_err(e)?;
    drop(s);
    let ev = sys::poll_events(&m, libc::POLLIN, 1000).map_err(e)?;
    ensure!(ev & libc::POLLHUP != 0, "poll {ev:#x}: no POLLHUP");
    sys::set_nonblocking(&m, true).map_err(e)?;
    ensure_eq!(
        errno_of(sys::read_once(&m, 4).map(|v| v.len() as i32)),
        "EIO"
    );
    sys::set_nonblocking(&m, false).map_err(e)?;
    let (r, timed_out) = sys::with_deadline(std::time::Duration::from_secs(3), || {
        errno_of(sys::read_once(&m, 4).map(|v| v.len() as i32))
    });
    ensure!(!timed_out, "a blocking read slept");
    ensure_eq!(r, "EIO");
    Ok(())
}

/// Only the control file that began a session (or a duplicate of it)
/// commits, aborts or opens its masters.
fn session_driven_by_its_file() -> TestResult {
    let (_mi, _si, n) = checkpointed_pair()?;
    let owner = control()?;
    begin(&owner, &[entry(n, BOTH)])?;
    let other = control()?;
    ensure_eq!(open_master(&other, n).map(|_| ()), Err("EPERM".to_string()));
    let c = commit(&other);
    ensure!(
        c.as_ref().is_err_and(|(x, _)| x == "EPERM"),
        "commit by another file: {c:?}"
    );
    ensure_eq!(
        errno_of(sys::ioctl_val(&other, CKPT_SESSION_ABORT, 0)),
        "EPERM"
    );
    // Closing another control file leaves the session alone.
    drop(other);
    let dup = owner.try_clone().map_err(|x| x.to_string())?;
    let m = open_master(&dup, n)?;
    ensure_eq!(sys::get_u32(&m, TIOCGPTN).map_err(e)?, n);
    sys::ioctl_val(&dup, CKPT_SESSION_ABORT, 0).map_err(e)?;
    Ok(())
}

/// A session master that was opened and closed is gone: a second
/// `CKPT_OPEN_MASTER` is refused, never a fresh pair outside the session.
fn open_master_after_close_refused() -> TestResult {
    let (_mi, _si, n) = checkpointed_pair()?;
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let m = open_master(&ctl, n)?;
    drop(m);
    let again = open_master(&ctl, n);
    ensure!(
        again.is_err(),
        "reopened: TIOCGPTN {:?}",
        again.map(|m| sys::get_u32(&m, TIOCGPTN))
    );
    sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e)?;
    Ok(())
}

/// A restart the session refuses (it expects no slave image) changes
/// nothing: a retry is refused the same way, and after commit the slave
/// holds none of the refused image's input.
fn refused_restart_changes_nothing() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    begin(&ctl, &[entry(n, CKPT_END_MASTER)])?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    ensure_eq!(restart(&s, &si), Err("EINVAL".to_string()));
    ensure_eq!(restart(&s, &si), Err("EINVAL".to_string()), "retry");
    let m = open_master(&ctl, n)?;
    restart(&m, &mi)?;
    commit(&ctl).map_err(|(x, o)| format!("commit: {x} {o:?}"))?;
    ensure_eq!(read_exact(&m, 9)?, b"to-master".to_vec());
    let ev = sys::poll_events(&s, libc::POLLIN, 200).map_err(e)?;
    ensure!(
        ev & libc::POLLIN == 0,
        "the slave got the refused image's input"
    );
    Ok(())
}

/// An image is restored only into the index it was taken from: another
/// index's image is refused before anything changes.
fn image_of_other_index_refused() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    // Holding index `n` makes the second pair another index.
    let hold = open_pair()?;
    let (mi2, si2, n2) = checkpointed_pair()?;
    drop(hold);
    ensure!(n != n2, "same index twice");
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    let m = open_master(&ctl, n)?;
    ensure_eq!(
        restart(&s, &si2),
        Err("EINVAL".to_string()),
        "slave of {n2}"
    );
    ensure_eq!(
        restart(&m, &mi2),
        Err("EINVAL".to_string()),
        "master of {n2}"
    );
    // The right images still load: nothing was half-loaded.
    restart(&s, &si)?;
    restart(&m, &mi)?;
    commit(&ctl).map_err(|(x, o)| format!("commit: {x} {o:?}"))?;
    ensure_eq!(read_exact(&s, 8)?, b"to-slave".to_vec());
    ensure_eq!(read_exact(&m, 9)?, b"to-master".to_vec());
    Ok(())
}

/// ckpt_pty carries no KUnit code (no suites section, so it loads on
/// kernels without KUnit) and is not tainted as a test module (`N`).
fn product_module_is_not_a_test_module() -> TestResult {
    ensure!(
        sys::exists("/sys/module/ckpt_pty/sections/.text"),
        "no section list for ckpt_pty"
    );
    ensure!(
        !sys::exists("/sys/module/ckpt_pty/sections/.kunit_test_suites"),
        "ckpt_pty carries KUnit suites"
    );
    let taint = std::fs::read_to_string("/sys/module/ckpt_pty/taint")
        .map_err(|x| format!("/sys/module/ckpt_pty/taint: {x}"))?;
    ensure!(
        !taint.contains('N'),
        "ckpt_pty taints as a test module: {taint:?}"
    );
    ensure!(
        !sys::exists("/sys/module/ckpt_pty_kunit"),
        "the KUnit module stayed loaded"
    );
    Ok(())
}

fn live_pairs(ctl: &OwnedFd) -> Result<u32, String> {
    let mut st = GlobalStatus::default();
    sys::ioctl_ptr(ctl, CKPT_GLOBAL_STATUS, &mut st).map_err(e)?;
    Ok(st.pairs)
}

/// A pair restored with only its slave (its master's holder was not in
/// the image) ends as one whose master closed: at commit the slave is hung
/// up and its node goes; at the last slave close the index is free again.
fn slave_only_pair_ends_with_its_files() -> TestResult {
    let (_mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    let before = live_pairs(&ctl)?;
    begin(&ctl, &[entry(n, CKPT_END_SLAVE)])?;
    let path = format!("{PTS_DIR}/{n}");
    let s = sys::open(&path, RW).map_err(e)?;
    restart(&s, &si)?;
    commit(&ctl).map_err(|(x, o)| format!("commit: {x} {o:?}"))?;
    ensure!(!sys::exists(&path), "{path} outlived its master");
    let (r, timed_out) = sys::with_deadline(std::time::Duration::from_secs(3), || {
        sys::read_once(&s, 16).map_err(e)
    });
    ensure!(!timed_out, "the hung-up slave's read slept");
    ensure_eq!(r, Ok(Vec::new()), "read after hangup");
    ensure_eq!(live_pairs(&ctl)?, before + 1, "the slave still holds it");
    drop(s);
    ensure_eq!(live_pairs(&ctl)?, before, "last slave file closed");
    // The index is free for a new session.
    begin(&ctl, &[entry(n, BOTH)])?;
    sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e)?;
    Ok(())
}

/// The foreground process group travels in the image as a number only: a
/// restore never attaches a group by number, even when a group with that
/// number exists where the pair comes back (here: the very same one), so
/// a ^C typed after the restore signals nobody until the restorer sets a
/// group through the tty core.
fn foreground_group_not_attached_by_number() -> TestResult {
    let (m, s, n) = open_pair()?;
    let path = format!("{PTS_DIR}/{n}");
    let (mut to_child, mut from_child) = ([0i32; 2], [0i32; 2]);
    // SAFETY: both arrays have room for two descriptors.
    unsafe {
        ensure_eq!(libc::pipe(to_child.as_mut_ptr()), 0);
        ensure_eq!(libc::pipe(from_child.as_mut_ptr()), 0);
    }
    // SAFETY: the child makes raw system calls only and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain system calls in the child: it lets go of the
        // parent's ends it inherited (or the pair would outlive the
        // parent's close), then makes a session of its own with the slave
        // as controlling terminal, surviving the hangup.
        unsafe {
            libc::close(m.as_raw_fd());
            libc::close(s.as_raw_fd());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::setsid();
            let cpath = std::ffi::CString::new(path.clone()).unwrap_or_default();
            let fd = libc::open(cpath.as_ptr(), libc::O_RDWR);
            libc::write(from_child[1], b"r".as_ptr().cast(), 1);
            let mut b = 0u8;
            libc::read(to_child[0], (&raw mut b).cast(), 1);
            libc::close(fd);
            libc::write(from_child[1], b"d".as_ptr().cast(), 1);
            libc::sleep(30);
            libc::_exit(0);
        }
    }
    let result = (|| -> TestResult {
        let mut b = 0u8;
        // SAFETY: reads one byte into `b` from our pipe.
        ensure_eq!(
            unsafe { libc::read(from_child[0], (&raw mut b).cast(), 1) },
            1
        );
        ensure_eq!(
            sys::get_u32(&m, TIOCGPGRP).map_err(e)?,
            pid as u32,
            "before"
        );
        let mi = checkpoint(&m, 5, 0)?;
        let si = checkpoint(&s, 5, 0)?;
        drop((m, s));
        // SAFETY: writes one byte to our pipe.
        unsafe { libc::write(to_child[1], b"c".as_ptr().cast(), 1) };
        // The child closed its slave file: the pair is gone, its index free.
        // SAFETY: reads one byte into `b` from our pipe.
        ensure_eq!(
            unsafe { libc::read(from_child[0], (&raw mut b).cast(), 1) },
            1
        );
        ensure_eq!(b, b'd');
        let ctl = control()?;
        begin(&ctl, &[entry(n, BOTH)])?;
        let s = sys::open(&path, RW | libc::O_NOCTTY).map_err(e)?;
        restart(&s, &si)?;
        let m = open_master(&ctl, n)?;
        restart(&m, &mi)?;
        commit(&ctl).map_err(|(x, o)| format!("commit: {x} {o:?}"))?;
        ensure_eq!(sys::get_u32(&m, TIOCGPGRP).map_err(e)?, 0, "after restore");
        sys::write_once(&m, b"\x03").map_err(e)?;
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut status = 0;
        // SAFETY: our own child, not waited for yet.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        ensure_eq!(done, 0, "the old group got a signal (status {status:#x})");
        Ok(())
    })();
    // SAFETY: our own child and our own descriptors.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        for fd in [to_child, from_child].concat() {
            libc::close(fd);
        }
    }
    result
}

/// Where the test mounts cgroup v2, with the memory controller enabled for
/// its children.
const CGROUP_ROOT: &str = "/tmp/cgroup2";

fn memory_cgroup(name: &str) -> Result<String, String> {
    let _ = std::fs::create_dir_all(CGROUP_ROOT);
    if !sys::exists(&format!("{CGROUP_ROOT}/cgroup.controllers")) {
        let (st, out) = sys::sh(&format!("mount -t cgroup2 none {CGROUP_ROOT} 2>&1"));
        ensure_eq!(st, 0, "mount cgroup2: {out}");
    }
    std::fs::write(format!("{CGROUP_ROOT}/cgroup.subtree_control"), "+memory")
        .map_err(|x| format!("enable the memory controller: {x}"))?;
    let dir = format!("{CGROUP_ROOT}/{name}");
    let _ = std::fs::create_dir_all(&dir);
    Ok(dir)
}

fn memory_current(dir: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("{dir}/memory.current"))
        .map_err(|x| format!("{dir}/memory.current: {x}"))?;
    text.trim()
        .parse()
        .map_err(|x| format!("memory.current {text:?}: {x}"))
}

/// Output queued in ptys is charged to the memory cgroup of the process
/// that wrote it (`GFP_KERNEL_ACCOUNT`), so a user cannot pin queue memory
/// outside their limit by filling many ptys.
fn queue_memory_charged_to_the_writer_cgroup() -> TestResult {
    const PAIRS: usize = 24;
    let dir = memory_cgroup("ckpt-accounting")?;
    let report = crate::tests_tty::in_child(std::time::Duration::from_secs(60), |_| {
        std::fs::write(
            format!("{dir}/cgroup.procs"),
            std::process::id().to_string(),
        )
        .map_err(|x| format!("join the cgroup: {x}"))?;
        let before = memory_current(&dir)?;
        let mut pairs = Vec::new();
        let mut queued = 0usize;
        for _ in 0..PAIRS {
            let (m, s, _) = open_pair()?;
            sys::set_nonblocking(&s, true).map_err(e)?;
            let chunk = [b'x'; 4096];
            // Fill the master's read queue from the slave.
            while let Ok(n) = sys::write_once(&s, &chunk) {
                queued += n;
            }
            pairs.push((m, s));
        }
        let after = memory_current(&dir)?;
        Ok(format!("{queued} {}", after.saturating_sub(before)))
    })?;
    let mut numbers = report.split(' ').map(|x| x.parse::<u64>().unwrap_or(0));
    let (queued, charged) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    println!(
        "# {PAIRS} pairs: {queued} bytes queued, {charged} bytes charged to the writer's cgroup"
    );
    ensure!(
        queued >= (PAIRS * 32 * 1024) as u64,
        "only {queued} bytes queued"
    );
    ensure!(
        charged * 10 >= queued * 8,
        "{charged} bytes charged for {queued} bytes queued"
    );
    Ok(())
}
