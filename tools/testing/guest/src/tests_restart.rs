// SPDX-License-Identifier: GPL-2.0
//! Checkpoint and restart of whole pairs: images out of live pairs, restart
//! sessions that bring them back at their original indexes in any order
//! (also on a freshly loaded module instance), and every kind of bad input.

use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_name, RW};
use crate::uapi::*;
use crate::{ensure, ensure_eq};
use ckpt_testkit::Xorshift;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const TESTS: &[(&str, TestFn)] = &[
    ("restart_checkpoint_size_query", checkpoint_size_query),
    ("restart_round_trip_slave_first", round_trip_slave_first),
    ("restart_round_trip_master_first", round_trip_master_first),
    (
        "restart_half_typed_line_survives_rmmod",
        half_typed_line_survives_rmmod,
    ),
    ("restart_busy_index_refused", busy_index_refused),
    ("restart_at_index_just_closed", index_just_closed),
    ("restart_commit_names_orphans", commit_names_orphans),
    ("restart_bad_images_refused", bad_images_refused),
    (
        "restart_wrong_end_and_double_restart",
        wrong_end_and_double_restart,
    ),
    ("restart_needs_privilege", needs_privilege),
    ("restart_leave_frozen", leave_frozen),
    ("restart_many_pairs_random_orders", many_pairs_random_orders),
    ("restart_bsd_pair_directly", bsd_pair_directly),
    ("restart_scale_after_reload", scale_after_reload),
    ("restart_socket_association", socket_association),
    (
        "restart_into_fresh_instance_beside_same_indexes",
        into_fresh_instance,
    ),
    (
        "restart_slave_tty_like_the_original",
        slave_tty_like_the_original,
    ),
];

fn e(err: std::io::Error) -> String {
    errno_name(&err)
}

pub fn open_pair() -> Result<(OwnedFd, OwnedFd, u32), String> {
    let m = sys::open(PTMX_PATH, RW).map_err(e)?;
    sys::set_i32(&m, TIOCSPTLCK, 0).map_err(e)?;
    let n = sys::get_u32(&m, TIOCGPTN).map_err(e)?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    Ok((m, s, n))
}

/// Checkpoints one end; returns the image.
pub fn checkpoint(fd: &OwnedFd, id: u64, flags: u32) -> Result<Vec<u8>, String> {
    let mut a = CheckpointArg {
        checkpoint_id: id,
        flags,
        ..Default::default()
    };
    sys::ioctl_ptr(fd, CKPT_CHECKPOINT, &mut a).map_err(|err| format!("size query: {}", e(err)))?;
    let mut buf = vec![0u8; a.image_len as usize];
    a.buf = buf.as_mut_ptr() as u64;
    a.buf_len = buf.len() as u32;
    sys::ioctl_ptr(fd, CKPT_CHECKPOINT, &mut a).map_err(|err| format!("checkpoint: {}", e(err)))?;
    buf.truncate(a.image_len as usize);
    Ok(buf)
}

pub fn restart(fd: &OwnedFd, image: &[u8]) -> Result<(), String> {
    let mut a = RestartArg {
        buf: image.as_ptr() as u64,
        buf_len: image.len() as u32,
        flags: 0,
    };
    sys::ioctl_ptr(fd, CKPT_RESTART, &mut a)
        .map(|_| ())
        .map_err(e)
}

pub fn control() -> Result<OwnedFd, String> {
    sys::open(CONTROL_PATH, libc::O_RDWR).map_err(|err| format!("open {CONTROL_PATH}: {}", e(err)))
}

pub fn begin(ctl: &OwnedFd, entries: &[RestartEntry]) -> Result<(), String> {
    let mut a = SessionArg {
        entries: entries.as_ptr() as u64,
        count: entries.len() as u32,
        flags: 0,
    };
    sys::ioctl_ptr(ctl, CKPT_SESSION_BEGIN, &mut a)
        .map(|_| ())
        .map_err(e)
}

pub fn open_master(ctl: &OwnedFd, index: u32) -> Result<OwnedFd, String> {
    let mut a = OpenMasterArg {
        index,
        flags: RW as u32,
    };
    let fd = sys::ioctl_ptr(ctl, CKPT_OPEN_MASTER, &mut a).map_err(e)?;
    // SAFETY: the ioctl returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Commits; on failure returns the errno and the orphan records as
/// (index, kind) pairs.
pub fn commit(ctl: &OwnedFd) -> Result<(), (String, Vec<(u32, u16)>)> {
    let mut records = vec![0u8; 64 * ORPHAN_RECORD_LEN];
    let mut a = CommitArg {
        orphans: records.as_mut_ptr() as u64,
        orphans_cap: 64,
        orphans_count: 0,
    };
    match sys::ioctl_ptr(ctl, CKPT_SESSION_COMMIT, &mut a) {
        Ok(_) => Ok(()),
        Err(err) => {
            let n = (a.orphans_count as usize).min(64);
            let orphans = (0..n)
                .map(|i| {
                    let r = &records[i * ORPHAN_RECORD_LEN..];
                    (
                        u32::from_ne_bytes([r[0], r[1], r[2], r[3]]),
                        u16::from_ne_bytes([r[4], r[5]]),
                    )
                })
                .collect();
            Err((e(err), orphans))
        }
    }
}

fn raw(fd: &OwnedFd) -> Result<(), String> {
    let mut t = [0u8; 36];
    sys::ioctl_ptr(fd, TCGETS, t.as_mut_ptr()).map_err(e)?;
    t[12..16].copy_from_slice(&0u32.to_ne_bytes());
    t[4..8].copy_from_slice(&0u32.to_ne_bytes());
    sys::ioctl_ptr(fd, TCSETS, t.as_mut_ptr()).map_err(e)?;
    Ok(())
}

pub fn read_exact(fd: &OwnedFd, n: usize) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    while got.len() < n {
        match sys::poll_events(fd, libc::POLLIN, 3000) {
            Ok(ev) if ev & libc::POLLIN != 0 => {}
            other => {
                return Err(format!(
                    "only {} of {n} bytes arrived ({other:?}): {got:?}",
                    got.len()
                ))
            }
        }
        got.extend(sys::read_once(fd, n - got.len()).map_err(e)?);
    }
    Ok(got)
}

fn nothing_more(fd: &OwnedFd) -> TestResult {
    let ev = sys::poll_events(fd, libc::POLLIN, 100).map_err(e)?;
    ensure!(ev & libc::POLLIN == 0, "unexpected extra data");
    Ok(())
}

pub fn entry(index: u32, ends: u32) -> RestartEntry {
    RestartEntry { index, ends }
}

pub const BOTH: u32 = CKPT_END_MASTER | CKPT_END_SLAVE;

fn checkpoint_size_query() -> TestResult {
    let (m, _s, _) = open_pair()?;
    let mut a = CheckpointArg::default();
    sys::ioctl_ptr(&m, CKPT_CHECKPOINT, &mut a).map_err(e)?;
    ensure!(a.image_len >= 72, "size {} too small", a.image_len);
    // A buffer one byte short is refused with the size reported.
    let mut buf = vec![0u8; a.image_len as usize];
    let need = a.image_len;
    a.buf = buf.as_mut_ptr() as u64;
    a.buf_len = need - 1;
    let r = sys::ioctl_ptr(&m, CKPT_CHECKPOINT, &mut a).map_err(e);
    ensure_eq!(r, Err("ERANGE".to_string()));
    ensure_eq!(a.image_len, need);
    // Bad pointer: EFAULT; unknown flag: EINVAL.
    let r = sys::ioctl_ptr(
        &m,
        CKPT_CHECKPOINT,
        std::ptr::dangling_mut::<CheckpointArg>(),
    )
    .map_err(e);
    ensure_eq!(r, Err("EFAULT".to_string()));
    let mut bad = CheckpointArg {
        flags: 0x80,
        ..Default::default()
    };
    ensure_eq!(
        sys::ioctl_ptr(&m, CKPT_CHECKPOINT, &mut bad).map_err(e),
        Err("EINVAL".to_string())
    );
    Ok(())
}

/// A pair with state in both directions: raw slave, winsize, bytes queued
/// each way. Returns (master image, slave image, index).
pub fn checkpointed_pair() -> Result<(Vec<u8>, Vec<u8>, u32), String> {
    let (m, s, n) = open_pair()?;
    raw(&s)?;
    let ws = [33u16, 99, 0, 0];
    sys::ioctl_ptr(&m, TIOCSWINSZ, ws.as_ptr().cast_mut()).map_err(e)?;
    sys::write_once(&m, b"to-slave").map_err(e)?;
    sys::write_once(&s, b"to-master").map_err(e)?;
    let mi = checkpoint(&m, 7, 0)?;
    let si = checkpoint(&s, 7, 0)?;
    Ok((mi, si, n))
}

fn verify_restored(m: &OwnedFd, s: &OwnedFd) -> TestResult {
    let mut ws = [0u16; 4];
    sys::ioctl_ptr(s, TIOCGWINSZ, ws.as_mut_ptr()).map_err(e)?;
    ensure_eq!(ws, [33, 99, 0, 0]);
    ensure_eq!(read_exact(s, 8)?, b"to-slave".to_vec());
    ensure_eq!(read_exact(m, 9)?, b"to-master".to_vec());
    nothing_more(m)?;
    nothing_more(s)?;
    // And the pair works as a pair afterwards.
    sys::write_once(m, b"again").map_err(e)?;
    ensure_eq!(read_exact(s, 5)?, b"again".to_vec());
    Ok(())
}

fn round_trip_slave_first() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    // The original pair is gone (closed); its index is free again.
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &si)?;
    let m = open_master(&ctl, n)?;
    ensure_eq!(sys::get_u32(&m, TIOCGPTN).map_err(e)?, n);
    restart(&m, &mi)?;
    commit(&ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
    verify_restored(&m, &s)
}

fn round_trip_master_first() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let m = open_master(&ctl, n)?;
    restart(&m, &mi)?;
    // Frozen until commit: nothing moves yet.
    sys::set_nonblocking(&m, true).map_err(e)?;
    ensure_eq!(sys::read_once(&m, 4).map_err(e), Err("EAGAIN".to_string()));
    sys::set_nonblocking(&m, false).map_err(e)?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &si)?;
    commit(&ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
    verify_restored(&m, &s)
}

fn half_typed_line_survives_rmmod() -> TestResult {
    let (m, s, n) = open_pair()?;
    // Canonical mode with echo (the defaults); a complete line and half of
    // the next one typed, output pending toward the master.
    sys::write_once(&m, b"first\nls -l").map_err(e)?;
    let echo = read_exact(&m, 12)?;
    ensure_eq!(echo, b"first\r\nls -l".to_vec());
    sys::write_once(&s, b"$ ").map_err(e)?;
    let mi = checkpoint(&m, 1, CKPT_LEAVE_FROZEN)?;
    let si = checkpoint(&s, 1, CKPT_LEAVE_FROZEN)?;
    drop((m, s));
    // A fresh module instance, as on an arrival machine.
    let (st, out) = sys::sh("ckpt-load -u && ckpt-load 2>&1");
    ensure_eq!((st, out.as_str()), (0, ""));
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let m = open_master(&ctl, n)?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &si)?;
    restart(&m, &mi)?;
    commit(&ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
    // Pending output arrives once; the half-typed line completes; erase
    // still works on it; echo is not duplicated.
    ensure_eq!(read_exact(&m, 2)?, b"$ ".to_vec());
    sys::write_once(&m, b"x\x7fa\n").map_err(e)?;
    ensure_eq!(read_exact(&s, 6)?, b"first\n".to_vec());
    ensure_eq!(read_exact(&s, 7)?, b"ls -la\n".to_vec());
    ensure_eq!(read_exact(&m, 7)?, b"x\x08 \x08a\r\n".to_vec());
    nothing_more(&m)?;
    Ok(())
}

fn busy_index_refused() -> TestResult {
    let (_m, _s, n) = open_pair()?;
    let ctl = control()?;
    ensure_eq!(begin(&ctl, &[entry(n, BOTH)]), Err("EBUSY".to_string()));
    // Nothing half-claimed: another session can begin right away.
    begin(&ctl, &[entry(n + 1, BOTH)])?;
    ensure!(
        sys::exists(&format!("{PTS_DIR}/{}", n + 1)),
        "claimed node missing"
    );
    ensure_eq!(
        sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e),
        Ok(0)
    );
    ensure!(
        !sys::exists(&format!("{PTS_DIR}/{}", n + 1)),
        "aborted node left"
    );
    Ok(())
}

/// The index of a pair whose files were all closed is free as soon as the
/// last close returns, whichever end closed last (the tty core frees the
/// slave tty itself later, from a workqueue).
fn index_just_closed() -> TestResult {
    let ctl = control()?;
    for round in 0..40 {
        let (m, s, n) = open_pair()?;
        sys::write_once(&m, b"typed").map_err(e)?;
        sys::write_once(&s, b"shown").map_err(e)?;
        if round % 2 == 0 {
            drop((m, s));
        } else {
            drop(s);
            drop(m);
        }
        begin(&ctl, &[entry(n, BOTH)]).map_err(|err| format!("round {round}: pty {n}: {err}"))?;
        ensure_eq!(
            sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e),
            Ok(0)
        );
    }
    Ok(())
}

fn commit_names_orphans() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    let k = n + 2;
    begin(&ctl, &[entry(n, BOTH), entry(k, CKPT_END_SLAVE)])?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &si)?;
    let _ = mi;
    let r = commit(&ctl);
    // Pair n lacks its master, pair k its slave: both named, in order.
    ensure_eq!(r, Err(("ENXIO".to_string(), vec![(n, 1), (k, 2)])));
    // Rolled back: the restored slave is hung up, the nodes are gone.
    ensure_eq!(sys::read_once(&s, 4).map_err(e)?, Vec::<u8>::new());
    ensure!(!sys::exists(&format!("{PTS_DIR}/{k}")), "orphan node left");
    Ok(())
}

fn bad_images_refused() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut bad = si.clone();
    bad[24] ^= 0x55;
    cases.push(("checkpoint id byte flipped", bad, "EBADMSG"));
    cases.push(("truncated", si[..si.len() - 8].to_vec(), "EINVAL"));
    let mut bad = si.clone();
    bad[8] = 99;
    cases.push(("unknown format version", bad, "EPROTONOSUPPORT"));
    let mut bad = si.clone();
    bad[0] = b'X';
    cases.push(("bad magic", bad, "EINVAL"));
    cases.push(("master image to a slave", mi.clone(), "EINVAL"));
    cases.push(("empty", Vec::new(), "EINVAL"));
    for (what, image, want) in &cases {
        let r = if image.is_empty() {
            let mut a = RestartArg::default();
            sys::ioctl_ptr(&s, CKPT_RESTART, &mut a)
                .map(|_| ())
                .map_err(e)
        } else {
            restart(&s, image)
        };
        ensure_eq!((*what, r), (*what, Err(want.to_string())));
    }
    // Bad pointer.
    let mut a = RestartArg {
        buf: 8,
        buf_len: 100,
        flags: 0,
    };
    ensure_eq!(
        sys::ioctl_ptr(&s, CKPT_RESTART, &mut a).map_err(e),
        Err("EFAULT".to_string())
    );
    // The good image still works afterwards: nothing was half-loaded.
    restart(&s, &si)?;
    sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e)?;
    Ok(())
}

fn wrong_end_and_double_restart() -> TestResult {
    let (mi, si, n) = checkpointed_pair()?;
    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let m = open_master(&ctl, n)?;
    ensure_eq!(restart(&m, &si), Err("EINVAL".to_string()));
    restart(&m, &mi)?;
    ensure_eq!(restart(&m, &mi), Err("EBUSY".to_string()));
    // A second master of the same pair cannot be opened.
    ensure_eq!(open_master(&ctl, n).map(|_| ()), Err("EBUSY".to_string()));
    // A second session cannot begin while one runs.
    let ctl2 = control()?;
    ensure_eq!(
        begin(&ctl2, &[entry(n + 5, BOTH)]),
        Err("EBUSY".to_string())
    );
    // Closing the control file abandons the session: rolled back.
    drop(ctl);
    ensure!(
        !sys::exists(&format!("{PTS_DIR}/{n}")),
        "abandoned session left its node"
    );
    drop(m);
    begin(&ctl2, &[entry(n, BOTH)])?;
    sys::ioctl_val(&ctl2, CKPT_SESSION_ABORT, 0).map_err(e)?;
    Ok(())
}

fn needs_privilege() -> TestResult {
    let (m, _s, n) = open_pair()?;
    // SAFETY: fork in a test thread; the child only makes raw syscalls
    // and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: plain syscalls in the child.
        unsafe {
            let code = (|| -> i32 {
                if libc::setresuid(65534, 65534, 65534) != 0 {
                    return 10;
                }
                // Checkpoint works on an fd the caller holds.
                let mut a = CheckpointArg::default();
                if libc::ioctl(m.as_raw_fd(), CKPT_CHECKPOINT as _, &mut a) != 0 {
                    return 11;
                }
                let mut r = RestartArg::default();
                if libc::ioctl(m.as_raw_fd(), CKPT_RESTART as _, &mut r) == 0
                    || *libc::__errno_location() != libc::EPERM
                {
                    return 12;
                }
                let c = libc::open(c"/dev/ckpt/control".as_ptr(), libc::O_RDWR);
                if c >= 0 {
                    let entries = [RestartEntry {
                        index: n + 3,
                        ends: 3,
                    }];
                    let mut s = SessionArg {
                        entries: entries.as_ptr() as u64,
                        count: 1,
                        flags: 0,
                    };
                    if libc::ioctl(c, CKPT_SESSION_BEGIN as _, &mut s) == 0
                        || *libc::__errno_location() != libc::EPERM
                    {
                        return 13;
                    }
                }
                0
            })();
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure_eq!(libc::WEXITSTATUS(status), 0);
    Ok(())
}

fn leave_frozen() -> TestResult {
    let (m, s, _) = open_pair()?;
    let _ = checkpoint(&s, 3, CKPT_LEAVE_FROZEN)?;
    let mut st = StreamStatus::default();
    sys::ioctl_ptr(&m, CKPT_STATUS, &mut st).map_err(e)?;
    ensure_eq!(st.frozen, CKPT_FROZEN_SLAVE);
    let mut st = StreamStatus::default();
    sys::ioctl_ptr(&s, CKPT_STATUS, &mut st).map_err(e)?;
    ensure_eq!((st.last_op, st.checkpoints), (CKPT_OP_CHECKPOINT, 1));
    ensure!(st.checkpoint_bytes > 0, "no bytes counted");
    let _ = checkpoint(&m, 4, 0)?;
    let mut st2 = StreamStatus::default();
    sys::ioctl_ptr(&m, CKPT_STATUS, &mut st2).map_err(e)?;
    ensure_eq!(st2.frozen, CKPT_FROZEN_SLAVE);
    sys::ioctl_val(&s, CKPT_THAW, 0).map_err(e)?;
    Ok(())
}

/// The images of one pair, to restart at its index `n`.
struct PairImages {
    n: u32,
    master: Vec<u8>,
    slave: Vec<u8>,
}

/// The ends of restarted pairs, by pair, as they were opened.
type RestartedEnds = Vec<(Option<OwnedFd>, Option<OwnedFd>)>;

/// Opens and restarts, in the session begun on `ctl`, the ends of
/// `pairs` in `order` (pair, whether the master); errors name `seed`.
fn restart_ends(
    ctl: &OwnedFd,
    pairs: &[&PairImages],
    order: &[(usize, bool)],
    seed: u64,
) -> Result<RestartedEnds, String> {
    let mut fds: RestartedEnds = (0..pairs.len()).map(|_| (None, None)).collect();
    for &(i, master) in order {
        let x = pairs[i];
        if master {
            let m =
                open_master(ctl, x.n).map_err(|y| format!("seed {seed}: master {}: {y}", x.n))?;
            restart(&m, &x.master).map_err(|y| format!("seed {seed}: master {}: {y}", x.n))?;
            fds[i].0 = Some(m);
        } else {
            let s = sys::open(&format!("{PTS_DIR}/{}", x.n), RW).map_err(e)?;
            restart(&s, &x.slave).map_err(|y| format!("seed {seed}: slave {}: {y}", x.n))?;
            fds[i].1 = Some(s);
        }
    }
    Ok(fds)
}

/// Both ends of a restarted pair.
fn both((m, s): &(Option<OwnedFd>, Option<OwnedFd>)) -> Result<(&OwnedFd, &OwnedFd), String> {
    Ok((
        m.as_ref().ok_or("no master")?,
        s.as_ref().ok_or("no slave")?,
    ))
}

/// Checkpoints `count` raw pairs, pair i with "in{i}" queued for its
/// slave and "out{i}" for its master, then closes them.
fn checkpoint_numbered_pairs(count: usize, seed: u64) -> Result<Vec<PairImages>, String> {
    let mut images = Vec::new();
    let mut held = Vec::new();
    for i in 0..count {
        let (m, s, n) = open_pair()?;
        raw(&s)?;
        sys::write_once(&m, format!("in{i}").as_bytes()).map_err(e)?;
        sys::write_once(&s, format!("out{i}").as_bytes()).map_err(e)?;
        images.push(PairImages {
            n,
            master: checkpoint(&m, seed, 0)?,
            slave: checkpoint(&s, seed, 0)?,
        });
        held.push((m, s));
    }
    Ok(images)
}

fn many_pairs_random_orders() -> TestResult {
    for (count, seed) in [(64usize, 1u64), (64, 2), (256, 3)] {
        // Checkpoint `count` pairs with distinct data both ways.
        let images = checkpoint_numbered_pairs(count, seed)?;
        let ctl = control()?;
        let entries: Vec<_> = images.iter().map(|x| entry(x.n, BOTH)).collect();
        begin(&ctl, &entries)?;
        // Every end in a random order (always some slave before its master
        // and some higher minor before a lower one, statistically).
        let mut ends: Vec<(usize, bool)> =
            (0..count).flat_map(|i| [(i, true), (i, false)]).collect();
        let mut rng = Xorshift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        rng.shuffle(&mut ends);
        let pairs: Vec<&PairImages> = images.iter().collect();
        let fds = restart_ends(&ctl, &pairs, &ends, seed)?;
        commit(&ctl).map_err(|(err, o)| format!("seed {seed}: commit {err} {o:?}"))?;
        for (i, ends) in fds.iter().enumerate() {
            let (m, s) = both(ends)?;
            let want_in = format!("in{i}");
            let want_out = format!("out{i}");
            ensure_eq!(read_exact(s, want_in.len())?, want_in.into_bytes());
            ensure_eq!(read_exact(m, want_out.len())?, want_out.into_bytes());
        }
    }
    Ok(())
}

fn bsd_pair_directly() -> TestResult {
    let m = sys::open(&format!("{PTS_DIR}/pty9"), RW).map_err(e)?;
    let s = sys::open(&format!("{PTS_DIR}/tty9"), RW).map_err(e)?;
    sys::write_once(&m, b"half").map_err(e)?;
    let _ = read_exact(&m, 4)?; // echo
    sys::write_once(&s, b"out").map_err(e)?;
    let mi = checkpoint(&m, 9, 0)?;
    let si = checkpoint(&s, 9, 0)?;
    drop((m, s));
    // No session: either end first, restored directly at its fixed name.
    let s = sys::open(&format!("{PTS_DIR}/tty9"), RW).map_err(e)?;
    restart(&s, &si)?;
    let m = sys::open(&format!("{PTS_DIR}/pty9"), RW).map_err(e)?;
    restart(&m, &mi)?;
    ensure_eq!(read_exact(&m, 3)?, b"out".to_vec());
    sys::write_once(&m, b" line\n").map_err(e)?;
    ensure_eq!(read_exact(&s, 10)?, b"half line\n".to_vec());
    // A second image for a stream that now holds data is refused.
    sys::write_once(&s, b"busy").map_err(e)?;
    ensure_eq!(restart(&m, &mi), Err("EBUSY".to_string()));
    Ok(())
}

/// Many pairs with varied state, a fresh module instance, and restore in
/// seeded random orders; every byte, termios and window size checked, and
/// the line discipline working afterwards.
fn scale_after_reload() -> TestResult {
    let counts: Vec<usize> = match std::env::var("CKPT_SCALE_PAIRS") {
        Ok(v) => v.split(',').filter_map(|x| x.parse().ok()).collect(),
        Err(_) => vec![1, 64, 1024, 4096],
    };
    for count in counts {
        scale_once(count).map_err(|x| format!("{count} pairs: {x}"))?;
    }
    Ok(())
}

/// One pair of [`scale_once`] as checkpointed: its images and what the
/// restarted pair must show.
struct ScaledPair {
    images: PairImages,
    to_slave: Vec<u8>,
    to_master: Vec<u8>,
    half: Vec<u8>,
    ws: [u16; 4],
    termios: [u8; 36],
    /// 0 plain, 1 packet mode on the master, 2 slave output stopped.
    variant: usize,
}

fn scale_once(count: usize) -> TestResult {
    let seed = 0x5eed_u64 + count as u64;
    let mut rng = Xorshift::new(seed);
    let mut saved = Vec::with_capacity(count);
    {
        let mut held = Vec::with_capacity(count);
        for i in 0..count {
            let (pair, ends) = checkpoint_varied_pair(i, seed, &mut rng)?;
            saved.push(pair);
            held.push(ends);
        }
    }
    let (st, out) = sys::sh("ckpt-load -u && ckpt-load 2>&1");
    ensure_eq!((st, out.as_str()), (0, ""));
    let ctl = control()?;
    let entries: Vec<_> = saved.iter().map(|x| entry(x.images.n, BOTH)).collect();
    begin(&ctl, &entries)?;
    let mut order: Vec<(usize, bool)> = (0..count).flat_map(|i| [(i, false), (i, true)]).collect();
    rng.shuffle(&mut order);
    let pairs: Vec<&PairImages> = saved.iter().map(|x| &x.images).collect();
    let fds = restart_ends(&ctl, &pairs, &order, seed)?;
    commit(&ctl).map_err(|(err, o)| format!("seed {seed}: commit {err} {o:?}"))?;
    for (x, ends) in saved.iter().zip(fds.iter()) {
        let (m, s) = both(ends)?;
        scaled_pair_came_back(x, m, s)?;
    }
    Ok(())
}

/// Opens pair number `i` of [`scale_once`] and gives it varied state: a
/// window size, canonical mode without echo, a complete line and a
/// half-typed one for the slave, output for the master, and by `i` packet
/// mode or stopped output. Checkpoints both ends, left frozen; returns
/// what was saved and the open ends.
fn checkpoint_varied_pair(
    i: usize,
    seed: u64,
    rng: &mut Xorshift,
) -> Result<(ScaledPair, (OwnedFd, OwnedFd)), String> {
    let (m, s, n) = open_pair()?;
    let variant = i % 3;
    let ws = [(i % 200) as u16 + 1, (i % 300) as u16 + 1, 0, 0];
    sys::ioctl_ptr(&m, TIOCSWINSZ, ws.as_ptr().cast_mut()).map_err(e)?;
    let mut termios = [0u8; 36];
    // Canonical with echo off; a complete line and a half-typed one.
    sys::ioctl_ptr(&s, TCGETS, termios.as_mut_ptr()).map_err(e)?;
    let mut lflag = u32::from_ne_bytes(termios[12..16].try_into().unwrap_or_default());
    lflag &= !libc::ECHO;
    termios[12..16].copy_from_slice(&lflag.to_ne_bytes());
    sys::ioctl_ptr(&s, TCSETS, termios.as_mut_ptr()).map_err(e)?;
    sys::ioctl_ptr(&s, TCGETS, termios.as_mut_ptr()).map_err(e)?;
    if variant == 1 {
        sys::set_i32(&m, TIOCPKT, 1).map_err(e)?;
    }
    let line = format!("line{i}-{}\n", rng.next() % 1000).into_bytes();
    let half = format!("half{i}").into_bytes();
    let out = format!("out{i}-{}", rng.next() % 1000).into_bytes();
    sys::write_once(&m, &line).map_err(e)?;
    sys::write_once(&m, &half).map_err(e)?;
    sys::write_once(&s, &out).map_err(e)?;
    if variant == 2 {
        sys::ioctl_val(&s, TCXONC, 0).map_err(e)?; // TCOOFF
    }
    let master = checkpoint(&m, seed, CKPT_LEAVE_FROZEN)?;
    let slave = checkpoint(&s, seed, CKPT_LEAVE_FROZEN)?;
    let pair = ScaledPair {
        images: PairImages { n, master, slave },
        to_slave: line,
        to_master: out,
        half,
        ws,
        termios,
        variant,
    };
    Ok((pair, (m, s)))
}

/// The restarted pair `m`, `s` has the window size, termios, queued data,
/// packet mode or stopped output of `x`, and its line discipline works:
/// the half-typed line completes, with an erase on the way.
fn scaled_pair_came_back(x: &ScaledPair, m: &OwnedFd, s: &OwnedFd) -> TestResult {
    let mut ws = [0u16; 4];
    sys::ioctl_ptr(s, TIOCGWINSZ, ws.as_mut_ptr()).map_err(e)?;
    ensure_eq!(ws, x.ws);
    let mut t = [0u8; 36];
    sys::ioctl_ptr(s, TCGETS, t.as_mut_ptr()).map_err(e)?;
    ensure_eq!(t, x.termios);
    let mut want_out = x.to_master.clone();
    if x.variant == 1 {
        // Packet mode survived: data comes after a 0 byte.
        want_out.insert(0, 0);
    }
    ensure_eq!(read_exact(m, want_out.len())?, want_out);
    if x.variant == 2 {
        // Output stayed stopped by TCOOFF until TCOON.
        sys::set_nonblocking(s, true).map_err(e)?;
        ensure_eq!(
            sys::write_once(s, b"z").map_err(e),
            Err("EAGAIN".to_string())
        );
        sys::set_nonblocking(s, false).map_err(e)?;
        sys::ioctl_val(s, TCXONC, 1).map_err(e)?; // TCOON
    }
    ensure_eq!(read_exact(s, x.to_slave.len())?, x.to_slave.clone());
    // The half-typed line completes, with an erase on the way.
    sys::write_once(m, b"X\x7f!\n").map_err(e)?;
    let mut want = x.half.clone();
    want.extend_from_slice(b"!\n");
    ensure_eq!(read_exact(s, want.len())?, want);
    Ok(())
}

/// A connected TCP pair on loopback with fixed ports: (server side, client).
fn tcp_pair(server_port: u16, client_port: u16) -> Result<(OwnedFd, OwnedFd), String> {
    let _ = sys::sh("ip link set lo up");
    let listener = tcp_socket()?;
    let client = tcp_socket()?;
    let (la, ca) = (loopback(server_port), loopback(client_port));
    bind_to(&listener, &la)
        .and_then(|_| {
            // SAFETY: a valid socket descriptor.
            zero_or_errno(unsafe { libc::listen(listener.as_raw_fd(), 1) })
        })
        .and_then(|_| bind_to(&client, &ca))
        .and_then(|_| connect_to(&client, &la))
        .map_err(|x| format!("tcp setup: {}", e(x)))?;
    // SAFETY: a listening socket; no peer address is asked for.
    let s = unsafe {
        libc::accept(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if s < 0 {
        return Err(format!("accept: {}", e(std::io::Error::last_os_error())));
    }
    // SAFETY: accept returned a new descriptor we own.
    Ok((unsafe { OwnedFd::from_raw_fd(s) }, client))
}

/// A TCP socket with `SO_REUSEADDR` (the tests bind fixed ports).
fn tcp_socket() -> Result<OwnedFd, String> {
    // SAFETY: plain socket creation; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", e(std::io::Error::last_os_error())));
    }
    // SAFETY: a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: i32 = 1;
    // SAFETY: valid option pointer and length.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const i32).cast(),
            4,
        )
    };
    Ok(fd)
}

/// 127.0.0.1 at `port`.
fn loopback(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    }
}

const SOCKADDR_IN_LEN: u32 = std::mem::size_of::<libc::sockaddr_in>() as u32;

/// A socket call's result: 0, or the error it left in `errno`.
fn zero_or_errno(r: i32) -> std::io::Result<()> {
    if r != 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn bind_to(fd: &OwnedFd, addr: &libc::sockaddr_in) -> std::io::Result<()> {
    let addr: *const libc::sockaddr_in = addr;
    // SAFETY: a valid sockaddr_in and its length.
    zero_or_errno(unsafe { libc::bind(fd.as_raw_fd(), addr.cast(), SOCKADDR_IN_LEN) })
}

fn connect_to(fd: &OwnedFd, addr: &libc::sockaddr_in) -> std::io::Result<()> {
    let addr: *const libc::sockaddr_in = addr;
    // SAFETY: a valid sockaddr_in and its length.
    zero_or_errno(unsafe { libc::connect(fd.as_raw_fd(), addr.cast(), SOCKADDR_IN_LEN) })
}

fn socket_get(fd: &OwnedFd) -> Result<SocketRecord, String> {
    let mut r = SocketRecord::default();
    sys::ioctl_ptr(fd, CKPT_SOCKET_GET, &mut r).map_err(e)?;
    Ok(r)
}

fn begin_sockets(ctl: &OwnedFd, entries: &[RestartSocketEntry]) -> Result<(), String> {
    let mut a = SessionArg {
        entries: entries.as_ptr() as u64,
        count: entries.len() as u32,
        flags: 0,
    };
    sys::ioctl_ptr(ctl, CKPT_SESSION_BEGIN_SOCKETS, &mut a)
        .map(|_| ())
        .map_err(e)
}

fn socket_association() -> TestResult {
    let (server, _client) = tcp_pair(4022, 4023)?;
    let (m, s, n) = open_pair()?;
    socket_set_refuses_non_sockets(&m)?;
    sys::ioctl_val(&m, CKPT_SOCKET_SET, server.as_raw_fd() as usize).map_err(e)?;
    let id = socket_get(&s)?;
    ensure_eq!((id.family, id.sock_type, id.protocol), (2, 1, 6));
    ensure_eq!((id.local_port, id.remote_port), (4022, 4023));
    ensure_eq!(
        (&id.local_addr[..4], &id.remote_addr[..4]),
        (&[127u8, 0, 0, 1][..], &[127u8, 0, 0, 1][..])
    );
    let images = PairImages {
        n,
        master: checkpoint(&m, 5, 0)?,
        slave: checkpoint(&s, 5, 0)?,
    };
    drop((m, s));
    let want = RestartSocketEntry {
        index: n,
        ends: BOTH,
        has_socket: 1,
        socket: id,
    };
    let ctl = control()?;
    commit_without_the_socket_names_it(&ctl, &want, &images)?;
    socket_first_then_the_ends(&ctl, &want, &images, &server)
}

/// Bad input first: not a socket, not a descriptor; and a pair without
/// a socket has no identity to tell.
fn socket_set_refuses_non_sockets(m: &OwnedFd) -> TestResult {
    ensure_eq!(
        sys::ioctl_val(m, CKPT_SOCKET_SET, m.as_raw_fd() as usize).map_err(e),
        Err("ENOTSOCK".to_string())
    );
    ensure_eq!(
        sys::ioctl_val(m, CKPT_SOCKET_SET, 999).map_err(e),
        Err("EBADF".to_string())
    );
    ensure_eq!(socket_get(m), Err("ENOENT".to_string()));
    Ok(())
}

/// Without the socket the commit names the pair as the orphan, and rolls
/// back. The identity comes back with the master image all the same.
fn commit_without_the_socket_names_it(
    ctl: &OwnedFd,
    want: &RestartSocketEntry,
    images: &PairImages,
) -> TestResult {
    let n = images.n;
    begin_sockets(ctl, std::slice::from_ref(want))?;
    let m = open_master(ctl, n)?;
    restart(&m, &images.master)?;
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &images.slave)?;
    ensure_eq!(socket_get(&s)?, want.socket);
    ensure_eq!(commit(ctl), Err(("ENXIO".to_string(), vec![(n, 3)])));
    Ok(())
}

/// Socket first this time (another socket is not the one), then the
/// ends: commit succeeds and the pair knows its socket again.
fn socket_first_then_the_ends(
    ctl: &OwnedFd,
    want: &RestartSocketEntry,
    images: &PairImages,
    server: &OwnedFd,
) -> TestResult {
    let n = images.n;
    begin_sockets(ctl, std::slice::from_ref(want))?;
    let (_other, _c2) = tcp_pair(4024, 4025)?;
    ensure_eq!(
        sys::ioctl_val(ctl, CKPT_SOCKET_RESTORED, _other.as_raw_fd() as usize).map_err(e),
        Err("ENOENT".to_string())
    );
    ensure_eq!(
        sys::ioctl_val(ctl, CKPT_SOCKET_RESTORED, server.as_raw_fd() as usize).map_err(e),
        Ok(n as i32)
    );
    let s = sys::open(&format!("{PTS_DIR}/{n}"), RW).map_err(e)?;
    restart(&s, &images.slave)?;
    let m = open_master(ctl, n)?;
    restart(&m, &images.master)?;
    commit(ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
    ensure_eq!(socket_get(&m)?, want.socket);
    Ok(())
}

fn mount_instance(dir: &str) -> Result<(), String> {
    let _ = std::fs::create_dir_all(dir);
    let (st, out) = sys::sh(&format!("mount -t {FS_TYPE} -o gid=5 none {dir} 2>&1"));
    ensure_eq!((st, out.as_str()), (0, ""));
    Ok(())
}

fn umount_instance(dir: &str) -> Result<(), String> {
    let (st, out) = sys::sh(&format!("umount {dir} 2>&1"));
    ensure_eq!((st, out.as_str()), (0, ""));
    Ok(())
}

/// A container's ptys come back in a fresh ckptpts instance at exactly
/// their indexes, while another instance (the default one) holds the same
/// indexes: the restart session belongs to the instance whose control node
/// began it.
fn into_fresh_instance() -> TestResult {
    let (src, dst) = ("/tmp/ckpt-src", "/tmp/ckpt-dst");
    mount_instance(src)?;
    let mut images = Vec::new();
    let saved = (|| -> TestResult {
        let mut held = Vec::new();
        for k in 0..2u32 {
            let m = sys::open(&format!("{src}/ptmx"), RW).map_err(e)?;
            sys::set_i32(&m, TIOCSPTLCK, 0).map_err(e)?;
            let n = sys::get_u32(&m, TIOCGPTN).map_err(e)?;
            ensure_eq!(n, k);
            let s = sys::open(&format!("{src}/{n}"), RW).map_err(e)?;
            raw(&s)?;
            sys::write_once(&m, format!("typed-{k}").as_bytes()).map_err(e)?;
            sys::write_once(&s, format!("out-{k}").as_bytes()).map_err(e)?;
            let mi = checkpoint(&m, 7, CKPT_LEAVE_FROZEN)?;
            let si = checkpoint(&s, 7, CKPT_LEAVE_FROZEN)?;
            images.push((n, mi, si));
            held.push((m, s));
        }
        Ok(())
    })();
    umount_instance(src)?;
    saved?;
    // The default instance holds indexes 0 and 1 meanwhile.
    let (d0m, d0s, i0) = open_pair()?;
    let (d1m, _d1s, i1) = open_pair()?;
    ensure_eq!((i0, i1), (0, 1));
    mount_instance(dst)?;
    let restored = (|| -> TestResult {
        let ctl = sys::open(&format!("{dst}/control"), libc::O_RDWR).map_err(e)?;
        begin(&ctl, &[entry(0, BOTH), entry(1, BOTH)])?;
        let mut ends = Vec::new();
        for (n, mi, si) in &images {
            let s = sys::open(&format!("{dst}/{n}"), RW).map_err(e)?;
            restart(&s, si)?;
            let m = open_master(&ctl, *n)?;
            restart(&m, mi)?;
            ends.push((*n, m, s));
        }
        commit(&ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
        for (n, m, s) in &ends {
            ensure_eq!(sys::get_u32(m, TIOCGPTN).map_err(e)?, *n);
            ensure_eq!(read_exact(m, 5)?, format!("out-{n}").into_bytes());
            ensure_eq!(read_exact(s, 7)?, format!("typed-{n}").into_bytes());
            let link = std::fs::read_link(format!("/proc/self/fd/{}", s.as_raw_fd()))
                .map_err(|x| x.to_string())?;
            ensure_eq!(link.to_string_lossy(), format!("{dst}/{n}"));
        }
        // The default instance's pairs at the same indexes are untouched.
        sys::write_once(&d0m, b"still\n").map_err(e)?;
        ensure_eq!(read_exact(&d0s, 6)?, b"still\n".to_vec());
        drop(d1m);
        Ok(())
    })();
    let unmounted = umount_instance(dst);
    restored?;
    unmounted
}

/// `struct termios2` as raw bytes (44), for byte-for-byte comparison.
fn termios2(fd: &OwnedFd) -> Result<Vec<u8>, String> {
    let mut t = [0u8; 44];
    sys::ioctl_ptr(fd, TCGETS2, t.as_mut_ptr()).map_err(e)?;
    Ok(t.to_vec())
}

fn node_mode_and_owner(path: &str) -> Result<(u32, u32, u32), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|x| format!("{path}: {x}"))?;
    Ok((m.mode() & 0o7777, m.uid(), m.gid()))
}

/// A restored slave tty behaves like the original: it can be opened again
/// and through `TIOCGPTPEER` (the lock state travelled), its termios with
/// the line speeds is the same byte for byte, its node has the owner and
/// permissions it had, and `TIOCEXCL` still holds.
fn slave_tty_like_the_original() -> TestResult {
    let (m, s, n) = open_pair()?;
    let path = format!("{PTS_DIR}/{n}");
    // Odd settings: 9600/19200 baud (termios2 BOTHER speeds), raw, VMIN 7.
    let mut t = [0u8; 44];
    sys::ioctl_ptr(&s, TCGETS2, t.as_mut_ptr()).map_err(e)?;
    const BOTHER: u32 = 0o010000;
    const CBAUD: u32 = 0o010017;
    let cflag = u32::from_ne_bytes([t[8], t[9], t[10], t[11]]);
    let cflag = (cflag & !CBAUD) | BOTHER | (BOTHER << 16);
    t[8..12].copy_from_slice(&cflag.to_ne_bytes());
    t[36..40].copy_from_slice(&9600u32.to_ne_bytes());
    t[40..44].copy_from_slice(&19200u32.to_ne_bytes());
    t[17 + 6] = 7; // VMIN
    let lflag = u32::from_ne_bytes([t[12], t[13], t[14], t[15]]);
    let lflag = lflag & !(libc::ICANON | libc::ECHO);
    t[12..16].copy_from_slice(&lflag.to_ne_bytes());
    sys::ioctl_ptr(&s, TCSETS2, t.as_mut_ptr()).map_err(e)?;
    let before = termios2(&s)?;
    ensure_eq!(&before[36..44], &t[36..44]);
    sys::ioctl_val(&s, TIOCEXCL, 0).map_err(e)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|x| x.to_string())?;
    std::os::unix::fs::chown(&path, Some(1000), Some(5)).map_err(|x| x.to_string())?;
    let node_before = node_mode_and_owner(&path)?;
    let mi = checkpoint(&m, 3, CKPT_LEAVE_FROZEN)?;
    let si = checkpoint(&s, 3, CKPT_LEAVE_FROZEN)?;
    drop((m, s));

    let ctl = control()?;
    begin(&ctl, &[entry(n, BOTH)])?;
    let s = sys::open(&path, RW).map_err(e)?;
    restart(&s, &si)?;
    let m = open_master(&ctl, n)?;
    restart(&m, &mi)?;
    commit(&ctl).map_err(|(err, o)| format!("commit: {err} {o:?}"))?;
    ensure_eq!(termios2(&s)?, before);
    ensure_eq!(termios2(&m)?, before);
    ensure_eq!(node_mode_and_owner(&path)?, node_before);
    // TIOCEXCL travelled: a second open is refused to an unprivileged
    // opener only (we are root, so look at the flag).
    ensure_eq!(sys::get_u32(&s, TIOCGEXCL).map_err(e)?, 1);
    sys::ioctl_val(&s, TIOCNXCL, 0).map_err(e)?;
    // Unlocked as it was: reopen by path and through the master.
    let again = sys::open(&path, RW).map_err(|x| format!("reopen: {}", e(x)))?;
    let peer = sys::ioctl_val(&m, TIOCGPTPEER, RW as usize)
        .map_err(|x| format!("TIOCGPTPEER: {}", e(x)))?;
    // SAFETY: the ioctl returned a new descriptor we now own.
    let peer = unsafe { OwnedFd::from_raw_fd(peer) };
    sys::write_once(&m, b"1234567").map_err(e)?;
    // VMIN 7 raw: one read gets all seven, through any of the opens.
    ensure_eq!(read_exact(&peer, 7)?, b"1234567".to_vec());
    drop(again);
    Ok(())
}
