// SPDX-License-Identifier: GPL-2.0
//! The in-guest ioctl fuzzer: random ioctls with hostile arguments on
//! masters, slaves and control files from several threads, while the same
//! threads read, write, close and reopen, open new pairs, freeze, thaw and
//! checkpoint, and a session thread begins, fills, commits and aborts
//! restart sessions.
//!
//! It runs as a child process in a session of its own
//! ([`crate::fuzz::run_child`]): `TIOCSCTTY`, `TIOCNOTTY` and `TIOCSPGRP`
//! act on that session only (the child may really acquire one of its
//! slaves as controlling terminal), and `TIOCSIG`, `SIGHUP` and `SIGIO`
//! reach only the child (which ignores them) and two helper processes in
//! process groups of their own (which catch them). Commands that would
//! disturb the test run itself are never sent: `TIOCCONS` (would redirect
//! the guest console to a pty) and `FIFREEZE`/`FITHAW`.
//!
//! Pointers are NULL, low, kernel-looking or non-canonical addresses,
//! misaligned pointers and buffers of random bytes in a per-thread arena
//! that ends at a page boundary followed by an inaccessible page (and, in
//! a second part, by an unmapped hole), a read-only page, and well-formed
//! structures with fuzzed fields. The kernel can only ever write into the
//! arena, never into the fuzzer's own memory.
//!
//! A watchdog interrupts any call still running after 200 ms with a
//! signal (no `SA_RESTART`: blocking calls return `EINTR`) and reports a
//! call still running after 30 s as a hang. Checks beyond the kernel's own
//! reports (which the verdict finds on the console): no kernel-internal
//! errno (>= 512) reaches user space, no call that must copy from or to
//! user memory succeeds with an inaccessible pointer, no unknown command
//! of type 0xC7 succeeds, the control device and the masters answer only
//! their commands, and afterwards the module still works with no pair or
//! session left behind.

use crate::fuzz::{self, Rng};
use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_str};
use crate::uapi::*;
use crate::{ensure, ensure_eq};
use pty_core::checkpoint::RestoreTarget;
use pty_core::image::PtyMode;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TESTS: &[(&str, TestFn)] = &[("fuzz_ioctl", fuzz_ioctl)];

// Terminal ioctls beyond what `uapi` lists (asm-generic/ioctls.h).
const TIOCSTI: u32 = 0x5412;
const TIOCMGET: u32 = 0x5415;
const TIOCMBIS: u32 = 0x5416;
const TIOCMBIC: u32 = 0x5417;
const TIOCMSET: u32 = 0x5418;
const TIOCCONS: u32 = 0x541D;
const TIOCGSERIAL: u32 = 0x541E;
const TIOCSSERIAL: u32 = 0x541F;
const FIONBIO: u32 = 0x5421;
const TIOCSBRK: u32 = 0x5427;
const TIOCCBRK: u32 = 0x5428;
const TIOCGRS485: u32 = 0x542E;
const TIOCSRS485: u32 = 0x542F;
const TIOCGDEV: u32 = 0x8004_5432;
const TIOCVHANGUP: u32 = 0x5437;
const FIONCLEX: u32 = 0x5450;
const FIOCLEX: u32 = 0x5451;
const FIOASYNC: u32 = 0x5452;
const TIOCSERGETLSR: u32 = 0x5459;
const TIOCMIWAIT: u32 = 0x545C;
const TIOCGICOUNT: u32 = 0x545D;
const FIOQSIZE: u32 = 0x5460;
const FIFREEZE: u32 = 0xC004_5877;
const FITHAW: u32 = 0xC004_5878;

/// Never sent: they act beyond the fuzzer's ptys (the guest console, the
/// file system the nodes live on).
const NEVER: [u32; 3] = [TIOCCONS, FIFREEZE, FITHAW];

/// ckpt_pty's own commands.
const CKPT_CMDS: [u32; 14] = [
    CKPT_FREEZE,
    CKPT_THAW,
    CKPT_STATUS,
    CKPT_CHECKPOINT,
    CKPT_RESTART,
    CKPT_SOCKET_SET,
    CKPT_SOCKET_GET,
    CKPT_SESSION_BEGIN,
    CKPT_SESSION_COMMIT,
    CKPT_SESSION_ABORT,
    CKPT_OPEN_MASTER,
    CKPT_GLOBAL_STATUS,
    CKPT_SESSION_BEGIN_SOCKETS,
    CKPT_SOCKET_RESTORED,
];

/// Every command the fuzzer knows by name.
const KNOWN: &[u32] = &[
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCGETA,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TCSBRK,
    TCXONC,
    TCFLSH,
    TIOCEXCL,
    TIOCNXCL,
    TIOCSCTTY,
    TIOCGPGRP,
    TIOCSPGRP,
    TIOCOUTQ,
    TIOCSTI,
    TIOCGWINSZ,
    TIOCSWINSZ,
    TIOCMGET,
    TIOCMBIS,
    TIOCMBIC,
    TIOCMSET,
    TIOCGSOFTCAR,
    TIOCSSOFTCAR,
    FIONREAD,
    TIOCGSERIAL,
    TIOCSSERIAL,
    TIOCPKT,
    FIONBIO,
    TIOCNOTTY,
    TIOCSETD,
    TIOCGETD,
    TCSBRKP,
    TIOCSBRK,
    TIOCCBRK,
    TIOCGSID,
    TCGETS2,
    TCSETS2,
    TCSETSW2,
    TCSETSF2,
    TIOCGRS485,
    TIOCSRS485,
    TIOCGPTN,
    TIOCSPTLCK,
    TIOCGDEV,
    TIOCSIG,
    TIOCVHANGUP,
    TIOCGPKT,
    TIOCGPTLCK,
    TIOCGEXCL,
    TIOCGPTPEER,
    FIONCLEX,
    FIOCLEX,
    FIOASYNC,
    TIOCSERGETLSR,
    TIOCMIWAIT,
    TIOCGICOUNT,
    FIOQSIZE,
    TIOCGLCKTRMIOS,
    TIOCSLCKTRMIOS,
    CKPT_FREEZE,
    CKPT_THAW,
    CKPT_STATUS,
    CKPT_CHECKPOINT,
    CKPT_RESTART,
    CKPT_SOCKET_SET,
    CKPT_SOCKET_GET,
    CKPT_SESSION_BEGIN,
    CKPT_SESSION_COMMIT,
    CKPT_SESSION_ABORT,
    CKPT_OPEN_MASTER,
    CKPT_GLOBAL_STATUS,
    CKPT_SESSION_BEGIN_SOCKETS,
    CKPT_SOCKET_RESTORED,
];

/// Commands the VFS answers itself, for every file.
const VFS_GENERIC: [u32; 5] = [FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX, FIOQSIZE];

/// Commands that copy their argument from user memory before they can
/// succeed.
const READS_ARG: &[u32] = &[
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TCSETS2,
    TCSETSW2,
    TCSETSF2,
    TIOCSWINSZ,
    TIOCSPTLCK,
    TIOCPKT,
    TIOCSPGRP,
    TIOCSTI,
    TIOCSETD,
    TIOCSLCKTRMIOS,
    TIOCSSOFTCAR,
    FIONBIO,
    FIOASYNC,
    CKPT_CHECKPOINT,
    CKPT_RESTART,
    CKPT_SESSION_BEGIN,
    CKPT_SESSION_BEGIN_SOCKETS,
    CKPT_SESSION_COMMIT,
    CKPT_OPEN_MASTER,
];

/// Commands that copy a result to user memory before they can succeed.
const WRITES_ARG: &[u32] = &[
    TCGETS,
    TCGETS2,
    TCGETA,
    TIOCGWINSZ,
    TIOCGPTN,
    TIOCGPKT,
    TIOCGPTLCK,
    TIOCGEXCL,
    TIOCGETD,
    FIONREAD,
    TIOCOUTQ,
    TIOCGPGRP,
    TIOCGSID,
    TIOCGLCKTRMIOS,
    TIOCGSOFTCAR,
    TIOCGDEV,
    CKPT_STATUS,
    CKPT_SOCKET_GET,
    CKPT_GLOBAL_STATUS,
    CKPT_CHECKPOINT,
];

/// What a master answers (`master_ioctl`): anything else is `ENOTTY`.
const MASTER_CMDS: &[u32] = &[
    TIOCGPTN,
    TIOCGPTPEER,
    TIOCSPTLCK,
    TIOCGPTLCK,
    TIOCPKT,
    TIOCGPKT,
    TIOCSIG,
    TIOCGWINSZ,
    TIOCSWINSZ,
    TIOCGPGRP,
    TIOCSPGRP,
    TIOCSCTTY,
    TIOCGSID,
    TCFLSH,
    TCXONC,
    FIONREAD,
    TIOCOUTQ,
    TIOCEXCL,
    TIOCNXCL,
    TIOCGEXCL,
    TIOCGETD,
    TCSBRK,
    TCSBRKP,
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCGETS2,
    TCSETS2,
    TCSETSW2,
    TCSETSF2,
    TCGETA,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TIOCGLCKTRMIOS,
    TIOCSLCKTRMIOS,
    TIOCGSOFTCAR,
    TIOCSSOFTCAR,
    CKPT_FREEZE,
    CKPT_THAW,
    CKPT_CHECKPOINT,
    CKPT_RESTART,
    CKPT_STATUS,
    CKPT_SOCKET_SET,
    CKPT_SOCKET_GET,
];

/// What the control device answers.
const CONTROL_CMDS: &[u32] = &[
    CKPT_GLOBAL_STATUS,
    CKPT_SESSION_BEGIN,
    CKPT_SESSION_BEGIN_SOCKETS,
    CKPT_SESSION_COMMIT,
    CKPT_SESSION_ABORT,
    CKPT_OPEN_MASTER,
    CKPT_SOCKET_RESTORED,
];

/// Commands whose argument is a number, not a pointer.
const VALUE_ARG: &[u32] = &[
    TCSBRK,
    TCSBRKP,
    TCXONC,
    TCFLSH,
    TIOCSCTTY,
    TIOCSIG,
    TIOCGPTPEER,
    TIOCEXCL,
    TIOCNXCL,
    TIOCNOTTY,
    TIOCVHANGUP,
    TIOCSBRK,
    TIOCCBRK,
    TIOCMIWAIT,
    FIOCLEX,
    FIONCLEX,
    CKPT_FREEZE,
    CKPT_THAW,
    CKPT_SESSION_ABORT,
    CKPT_SOCKET_SET,
    CKPT_SOCKET_RESTORED,
];

/// Which ends a session entry lists: master only, slave only (K3: such a
/// pair ends at commit as one whose master closed, freed at its last
/// slave close; a pair left behind fails the run) or both.
fn session_ends_value(rng: &mut Rng) -> u64 {
    u64::from(match rng.below(3) {
        0 => CKPT_END_MASTER,
        1 => CKPT_END_SLAVE,
        _ => CKPT_END_MASTER | CKPT_END_SLAVE,
    })
}

/// Commands that return a new file descriptor.
const RETURNS_FD: [u32; 2] = [TIOCGPTPEER, CKPT_OPEN_MASTER];

const PAGE: usize = 4096;

/// Addresses no user copy may succeed on: NULL's neighbourhood (below
/// `mmap_min_addr`), the end of the user half, non-canonical addresses and
/// kernel addresses (direct map, vmalloc, vmemmap, text, vsyscall, top).
const BAD_ADDRS: &[u64] = &[
    0,
    1,
    8,
    0xfff,
    0x1000,
    0xfffc,
    0x7fff_ffff_f000,
    0x7fff_ffff_fffc,
    0x8000_0000_0000,
    0x8000_0000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_8880_0000_0000,
    0xffff_8880_0100_0000,
    0xffff_8880_0000_0ffd,
    0xffff_c900_0000_0000,
    0xffff_ea00_0000_0000,
    0xffff_ffff_8100_0000,
    0xffff_ffff_a000_0000,
    0xffff_ffff_ff60_0000,
    0xffff_ffff_ffff_f000,
    0xffff_ffff_ffff_fffc,
    u64::MAX,
];

/// How an argument was made (for the checks and the failure messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgKind {
    /// A number (value-argument commands, or numbers as pointers by
    /// mistake: still harmless, they are small or not user addresses).
    Value,
    /// Not a user address at all, or an inaccessible page: every copy
    /// must fail.
    Inaccessible,
    /// The read-only page: copies to user memory must fail.
    ReadOnly,
    /// Random bytes in the arena, possibly misaligned.
    Random,
    /// Ends past the arena: part of the copy faults.
    Crossing,
    /// A well-formed structure with fuzzed fields.
    Structured,
}

/// A thread's memory for arguments: four read-write pages, an
/// inaccessible page, one read-write page followed by an unmapped hole,
/// and a read-only page of random bytes.
struct Arena {
    rw: usize,
    /// The second read-write page; the page after it is not mapped.
    rw2: usize,
    ro: usize,
    /// The inaccessible page after the four read-write ones.
    none: usize,
    /// The unmapped page after `rw2` (when the arena could be placed where
    /// nothing else will be mapped; else an inaccessible page).
    hole: usize,
}

const RW_PAGES: usize = 4;

impl Arena {
    fn new(thread: usize, rng: &mut Rng) -> Result<Self, String> {
        let pages = RW_PAGES + 4;
        let len = pages * PAGE;
        // A fixed place far below the usual mappings: the unmapped hole
        // stays unmapped (new mappings go near the top of the free space).
        let hint = 0x2000_0000_0000usize + thread * 0x100_0000;
        // SAFETY: anonymous private mapping; MAP_FIXED_NOREPLACE never
        // replaces an existing mapping.
        let mut base = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        let fixed = base != libc::MAP_FAILED && base as usize == hint;
        if !fixed {
            // SAFETY: anonymous private mapping anywhere.
            base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
        }
        if base == libc::MAP_FAILED {
            return Err(format!("mmap arena: {}", sys::last_errno()));
        }
        let b = base as usize;
        let a = Self {
            rw: b,
            none: b + RW_PAGES * PAGE,
            rw2: b + (RW_PAGES + 1) * PAGE,
            hole: b + (RW_PAGES + 2) * PAGE,
            ro: b + (RW_PAGES + 3) * PAGE,
        };
        // SAFETY: the pages are ours, mapped just above.
        unsafe {
            let all = std::slice::from_raw_parts_mut(b as *mut u8, len);
            rng.fill(all);
            libc::mprotect(a.none as *mut libc::c_void, PAGE, libc::PROT_NONE);
            if fixed {
                libc::munmap(a.hole as *mut libc::c_void, PAGE);
            } else {
                libc::mprotect(a.hole as *mut libc::c_void, PAGE, libc::PROT_NONE);
            }
            libc::mprotect(a.ro as *mut libc::c_void, PAGE, libc::PROT_READ);
        }
        Ok(a)
    }

    /// Maps the last user page, shared by all threads (random bytes only).
    fn map_top() -> Option<usize> {
        let at = 0x7fff_ffff_f000usize - PAGE;
        // SAFETY: as in `new`; never replaces a mapping.
        let p = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        (p != libc::MAP_FAILED && p as usize == at).then_some(at)
    }

    fn rw_len(&self) -> usize {
        RW_PAGES * PAGE
    }

    /// The read-write bytes at `off` (within the four pages).
    #[expect(
        clippy::mut_from_ref,
        reason = "the arena is memory the kernel also writes; Rust never holds two of these slices"
    )]
    fn bytes(&self, off: usize, len: usize) -> &mut [u8] {
        assert!(off + len <= self.rw_len());
        // SAFETY: within the read-write pages, which only this thread and
        // the kernel (on this thread's calls) touch.
        unsafe { std::slice::from_raw_parts_mut((self.rw + off) as *mut u8, len) }
    }

    /// Refreshes some random bytes (the kernel wrote into the arena).
    fn stir(&self, rng: &mut Rng) {
        let off = rng.below(self.rw_len() - 256);
        rng.fill(self.bytes(off, 256));
        // SAFETY: the second read-write page.
        let p2 = unsafe { std::slice::from_raw_parts_mut(self.rw2 as *mut u8, PAGE) };
        let o2 = rng.below(PAGE - 64);
        rng.fill(&mut p2[o2..o2 + 64]);
    }

    /// Places `data` at a random aligned offset (or so that it ends right
    /// at the inaccessible page when `crossing`: then the tail is cut off
    /// by `cut` bytes).
    fn place(&self, rng: &mut Rng, data: &[u8], crossing: bool) -> usize {
        let n = data.len().min(self.rw_len() - 64);
        if crossing {
            let cut = rng.range(1, n.clamp(1, 16));
            let keep = n.saturating_sub(cut);
            let start = self.rw_len() - keep;
            self.bytes(start, keep).copy_from_slice(&data[..keep]);
            return self.rw + start;
        }
        let max = self.rw_len() - n;
        let off = rng.below(max / 8 + 1) * 8;
        let off = off.min(max);
        self.bytes(off, n).copy_from_slice(&data[..n]);
        self.rw + off
    }
}

/// Which kind of file a pool entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Master,
    Slave,
    Control,
}

struct PoolFd {
    fd: OwnedFd,
    role: Role,
}

/// What a watchdog knows about one thread's current call.
#[derive(Default)]
struct Slot {
    /// Microseconds since the start when the current call began; 0: idle.
    since: AtomicU64,
    tid: AtomicI32,
    op: AtomicU64,
    cmd: AtomicU64,
    arg: AtomicU64,
    iter: AtomicU64,
}

// Operations, as the watchdog names them.
const OP_IOCTL: u64 = 1;
const OP_READ: u64 = 2;
const OP_WRITE: u64 = 3;
const OP_OPEN: u64 = 4;
const OP_CLOSE: u64 = 5;
const OP_CKPT: u64 = 6;
const OP_POLL: u64 = 7;
const OP_SESSION: u64 = 8;
const OP_THAW_ALL: u64 = 9;

fn op_name(op: u64) -> &'static str {
    match op {
        OP_IOCTL => "ioctl",
        OP_READ => "read",
        OP_WRITE => "write",
        OP_OPEN => "open",
        OP_CLOSE => "close",
        OP_CKPT => "checkpoint",
        OP_POLL => "poll",
        OP_SESSION => "session step",
        OP_THAW_ALL => "thaw all",
        _ => "?",
    }
}

struct Shared {
    /// The fuzzer's stream seed (derived from `run_seed`).
    seed: u64,
    /// The run's seed (`ckpt.seed=`), for the reports.
    run_seed: u64,
    /// The `fuzz_ops` mask.
    ops: u64,
    start: Instant,
    stop: AtomicBool,
    target: u64,
    secs: u64,
    ioctls: AtomicU64,
    other_ops: AtomicU64,
    janitor_ioctls: AtomicU64,
    interrupts: AtomicU64,
    /// Sessions committed, and those with a slave-only pair restored (K3).
    commits: AtomicU64,
    slave_only_commits: AtomicU64,
    pool: Mutex<Vec<Arc<PoolFd>>>,
    images: Mutex<Vec<Vec<u8>>>,
    findings: Mutex<Vec<String>>,
    finding_keys: Mutex<BTreeMap<String, u64>>,
    errnos: Mutex<BTreeMap<i32, u64>>,
    cmds_ok: Mutex<BTreeMap<u32, u64>>,
    slots: Vec<Slot>,
    pgids: Vec<i32>,
    sockets: Vec<i32>,
    termios: [u8; 36],
    bsd_pairs: u32,
    top: Option<usize>,
}

const POOL_MAX: usize = 40;

// The `fuzz_ops` knob: which parts run (all by default). Bits 0-9 are the
// workers' operations in `Worker::step` order (random ioctl, read, write,
// close, open pair, open other, freeze, thaw, checkpoint, poll).
/// The session thread.
const OPS_SESSION: u64 = 1 << 10;
/// Control files in the pool (random ioctls on them).
const OPS_CONTROL: u64 = 1 << 11;
/// Random ioctls may use ckpt_pty's own commands (type 0xC7).
const OPS_CKPT_CMDS: u64 = 1 << 12;
/// Random ioctls may use every other command.
const OPS_OTHER_CMDS: u64 = 1 << 13;
const OPS_ALL: u64 = (1 << 14) - 1;

impl Shared {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64 + 1
    }

    fn finding(&self, key: String, what: String) {
        let mut keys = self.finding_keys.lock().unwrap_or_else(|e| e.into_inner());
        let n = keys.entry(key).or_insert(0);
        *n += 1;
        if *n > 1 {
            return;
        }
        drop(keys);
        println!("FAIL {what} (seed {:#x})", self.run_seed);
        self.findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }

    fn pick(&self, rng: &mut Rng, role: Option<Role>) -> Option<Arc<PoolFd>> {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let candidates: Vec<&Arc<PoolFd>> = pool
            .iter()
            .filter(|p| role.is_none_or(|r| p.role == r))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(Arc::clone(candidates[rng.below(candidates.len())]))
    }

    fn add(&self, fd: OwnedFd, role: Role) {
        let _ = sys::set_nonblocking(&fd, true);
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(Arc::new(PoolFd { fd, role }));
        while pool.len() > POOL_MAX {
            let victim = pool.swap_remove(0);
            thaw(&victim.fd);
        }
    }

    fn remove_random(&self, rng: &mut Rng) {
        let victim = {
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < 4 {
                return;
            }
            let i = rng.below(pool.len());
            pool.swap_remove(i)
        };
        // Nobody is left to thaw a stream frozen through this file only.
        thaw(&victim.fd);
    }

    fn store_image(&self, image: Vec<u8>) {
        let mut images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        if images.len() >= 32 {
            images.remove(0);
        }
        images.push(image);
    }

    fn image(&self, rng: &mut Rng, kind: Option<u8>) -> Option<Vec<u8>> {
        let images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        let candidates: Vec<&Vec<u8>> = images
            .iter()
            .filter(|i| kind.is_none_or(|k| i.get(12) == Some(&k)))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[rng.below(candidates.len())].clone())
    }

    fn done(&self) -> bool {
        self.stop.load(Relaxed)
            || self.ioctls.load(Relaxed) >= self.target
            || self.start.elapsed() >= Duration::from_secs(self.secs)
    }
}

fn thaw(fd: &OwnedFd) {
    // SAFETY: a value-argument ioctl on our own descriptor.
    unsafe { libc::ioctl(fd.as_raw_fd(), CKPT_THAW as _, 0) };
}

/// A thread's view of its watchdog slot.
struct Busy<'a> {
    sh: &'a Shared,
    slot: &'a Slot,
}

impl<'a> Busy<'a> {
    fn new(sh: &'a Shared, i: usize) -> Self {
        let slot = &sh.slots[i];
        slot.tid.store(sys::gettid(), Relaxed);
        Self { sh, slot }
    }

    fn begin(&self, op: u64, cmd: u32, arg: u64, iter: u64) {
        self.slot.op.store(op, Relaxed);
        self.slot.cmd.store(u64::from(cmd), Relaxed);
        self.slot.arg.store(arg, Relaxed);
        self.slot.iter.store(iter, Relaxed);
        self.slot.since.store(self.sh.now_us(), Relaxed);
    }

    fn end(&self) {
        self.slot.since.store(0, Relaxed);
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Master => "master",
        Role::Slave => "slave",
        Role::Control => "control",
    }
}

// ---------------------------------------------------------------------
// Choosing commands and arguments
// ---------------------------------------------------------------------

fn ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | ((size & 0x3fff) << 16) | (ty << 8) | nr
}

fn random_size(rng: &mut Rng) -> u32 {
    *rng.pick(&[
        0u32, 1, 2, 4, 8, 16, 18, 24, 32, 36, 44, 48, 52, 56, 64, 72, 0x3fff,
    ]) ^ if rng.percent(10) {
        rng.u32() & 0x3fff
    } else {
        0
    }
}

fn choose_cmd(rng: &mut Rng, role: Role) -> u32 {
    let cmd = match rng.weighted(&[62, 16, 16, 3, 3]) {
        0 => {
            // Mostly the commands this kind of file answers.
            let favoured = match role {
                Role::Control if rng.percent(60) => CONTROL_CMDS,
                Role::Master if rng.percent(30) => MASTER_CMDS,
                _ => KNOWN,
            };
            *rng.pick(favoured)
        }
        1 => {
            let nr = if rng.percent(70) {
                rng.below(0x62) as u32
            } else {
                u32::from(rng.u8())
            };
            ioc(rng.below(4) as u32, 0x54, nr, random_size(rng))
        }
        2 => {
            // Our type: the right numbers with wrong sizes or directions,
            // and numbers around them.
            let nr = if rng.percent(60) {
                rng.pick(&CKPT_CMDS) & 0xff
            } else {
                rng.below(40) as u32
            };
            ioc(rng.below(4) as u32, CKPT_IOC_TYPE, nr, random_size(rng))
        }
        3 => {
            // One of ours with a single bit of direction or size flipped.
            rng.pick(&CKPT_CMDS) ^ (1 << rng.range(16, 31))
        }
        _ => rng.u32(),
    };
    if NEVER.contains(&cmd) {
        TCGETS
    } else {
        cmd
    }
}

fn interesting_int(rng: &mut Rng) -> i64 {
    let (small, random) = (rng.below(64) as i64, rng.next_u64() as i64);
    *rng.pick(&[
        0,
        1,
        2,
        3,
        -1,
        7,
        29,
        0x7f,
        0xff,
        0x7fff_ffff,
        -0x8000_0000,
        0xffff_ffff,
        i64::MAX,
        i64::MIN,
        small,
        random,
    ])
}

/// A value for a command whose argument is a number.
fn value_arg(sh: &Shared, rng: &mut Rng, cmd: u32) -> u64 {
    let v: i64 = match cmd {
        TIOCSIG => *rng.pick(&[
            libc::SIGINT as i64,
            libc::SIGQUIT as i64,
            libc::SIGTSTP as i64,
            libc::SIGINT as i64,
            0,
            libc::SIGKILL as i64,
            libc::SIGTERM as i64,
            libc::SIGWINCH as i64,
            64,
            65,
            -1,
        ]),
        TCXONC | TCFLSH => rng.below(5) as i64 - if rng.percent(10) { 3 } else { 0 },
        TIOCGPTPEER => {
            let base = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
            if rng.percent(70) {
                base as i64
            } else if rng.percent(50) {
                (base & !libc::O_NOCTTY) as i64
            } else {
                i64::from(rng.u32())
            }
        }
        TIOCSCTTY => *rng.pick(&[0, 1, 1, 2, -1]),
        CKPT_SOCKET_SET | CKPT_SOCKET_RESTORED => {
            if !sh.sockets.is_empty() && rng.percent(60) {
                i64::from(*rng.pick(&sh.sockets))
            } else {
                rng.below(80) as i64 - 2
            }
        }
        _ => interesting_int(rng),
    };
    v as u64
}

fn termios_bytes(sh: &Shared, rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut t = vec![0u8; len];
    if rng.percent(70) {
        let n = len.min(36);
        t[..n].copy_from_slice(&sh.termios[..n]);
        for _ in 0..rng.range(1, 4) {
            let at = rng.below(len);
            t[at] ^= 1 << rng.below(8);
        }
        if len >= 44 && rng.percent(50) {
            t[36..40].copy_from_slice(&rng.u32().to_ne_bytes());
            t[40..44].copy_from_slice(&[0x80, 0x25, 0, 0]); // 9600
        }
    } else {
        rng.fill(&mut t);
    }
    t
}

fn int_bytes(v: i64) -> Vec<u8> {
    (v as i32).to_ne_bytes().to_vec()
}

fn le(v: &[u64], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for (x, s) in v.iter().zip(sizes) {
        out.extend_from_slice(&x.to_ne_bytes()[..*s]);
    }
    out
}

/// An address inside the arena for an embedded pointer, or a bad one.
fn embedded_ptr(rng: &mut Rng, a: &Arena) -> u64 {
    match rng.weighted(&[60, 15, 10, 15]) {
        0 => (a.rw + rng.below(a.rw_len() / 8) * 8) as u64,
        1 => (a.rw + a.rw_len() - rng.range(1, 128)) as u64,
        2 => (a.rw2 + PAGE - rng.range(1, 128)) as u64,
        _ => *rng.pick(BAD_ADDRS),
    }
}

fn buf_len(rng: &mut Rng) -> u64 {
    let random = rng.below(20000) as u64;
    *rng.pick(&[
        0,
        1,
        71,
        72,
        200,
        1024,
        4096,
        8192,
        512 * 1024,
        512 * 1024 + 1,
        0xffff_ffff,
        random,
    ])
}

/// A well-formed argument structure for `cmd`, with fuzzed fields; `None`
/// for commands without one.
fn structured(sh: &Shared, rng: &mut Rng, a: &Arena, cmd: u32) -> Option<Vec<u8>> {
    let small_index = |rng: &mut Rng| -> u64 {
        if rng.percent(85) {
            rng.below(64) as u64
        } else {
            u64::from(rng.u32())
        }
    };
    Some(match cmd {
        TCSETS | TCSETSW | TCSETSF | TIOCSLCKTRMIOS => termios_bytes(sh, rng, 36),
        TCSETS2 | TCSETSW2 | TCSETSF2 => termios_bytes(sh, rng, 44),
        TCSETA | TCSETAW | TCSETAF => termios_bytes(sh, rng, 18),
        TIOCSWINSZ => {
            let mut w = vec![0u8; 8];
            if rng.percent(50) {
                rng.fill(&mut w);
            } else {
                w[0] = rng.below(200) as u8;
                w[2] = rng.below(250) as u8;
            }
            w
        }
        TIOCSPGRP => {
            let mut choices = vec![
                // SAFETY: getpgrp/getpid have no preconditions.
                unsafe { libc::getpgrp() } as i64,
                0,
                -1,
                1,
                // SAFETY: as above.
                unsafe { libc::getpid() } as i64,
                i64::from(i32::MAX),
                rng.below(5000) as i64,
            ];
            choices.extend(sh.pgids.iter().map(|&p| i64::from(p)));
            choices.extend(sh.pgids.iter().map(|&p| i64::from(p)));
            int_bytes(*rng.pick(&choices))
        }
        TIOCSPTLCK | TIOCPKT | TIOCSSOFTCAR | FIONBIO | FIOASYNC | TIOCMBIS | TIOCMBIC
        | TIOCMSET => {
            let random = interesting_int(rng);
            int_bytes(*rng.pick(&[0, 1, 1, 0, -1, 2, random]))
        }
        TIOCSETD => int_bytes(if rng.percent(50) {
            i64::from(LDISC_CKPT)
        } else {
            rng.below(32) as i64 - 1
        }),
        TIOCSTI => {
            let random = rng.u8();
            vec![*rng.pick(&[b'a', b'\n', 3, 4, 0x13, 0x11, 0x1a, 0x7f, random])]
        }
        CKPT_CHECKPOINT => {
            let buf = embedded_ptr(rng, a);
            let random = u64::from(rng.u32());
            let flags = *rng.pick(&[0, 0, CKPT_LEAVE_FROZEN as u64, 2, random]);
            let reserved = if rng.percent(90) {
                0
            } else {
                u64::from(rng.u32())
            };
            le(
                &[buf, buf_len(rng), flags, rng.next_u64(), 0, reserved],
                &[8, 4, 4, 8, 4, 4],
            )
        }
        CKPT_RESTART => {
            // A real image, maybe damaged, placed in the arena.
            let mut img = sh.image(rng, None).unwrap_or_else(|| vec![0u8; 72]);
            if rng.percent(50) && !img.is_empty() {
                let at = rng.below(img.len());
                img[at] ^= 1 << rng.below(8);
            }
            let n = img.len().min(a.rw_len() / 2);
            let crossing = rng.percent(10);
            let ptr = if rng.percent(90) {
                a.place(rng, &img[..n], crossing) as u64
            } else {
                embedded_ptr(rng, a)
            };
            let len = if rng.percent(80) {
                n as u64
            } else {
                buf_len(rng)
            };
            let flags = if rng.percent(90) {
                0
            } else {
                u64::from(rng.u32())
            };
            le(&[ptr, len, flags], &[8, 4, 4])
        }
        CKPT_SESSION_BEGIN | CKPT_SESSION_BEGIN_SOCKETS => {
            let sockets = cmd == CKPT_SESSION_BEGIN_SOCKETS;
            let count = if rng.percent(85) {
                rng.below(5) as u64
            } else {
                *rng.pick(&[1 << 20, (1 << 20) + 1, 0xffff_ffff, 600])
            };
            let mut entries = Vec::new();
            for _ in 0..count.min(8) {
                let ends = if rng.percent(85) {
                    session_ends_value(rng)
                } else {
                    u64::from(rng.u32())
                };
                entries.extend(le(&[small_index(rng), ends], &[4, 4]));
                if sockets {
                    let has = if rng.percent(90) { rng.below(2) } else { 7 };
                    let mut s = vec![0u8; 4 + 44];
                    s[..4].copy_from_slice(&(has as u32).to_ne_bytes());
                    s[4] = 2;
                    s[6] = 1;
                    s[8] = 6;
                    rng.fill(&mut s[10..20]);
                    entries.extend(s);
                }
            }
            let ptr = if entries.is_empty() || rng.percent(10) {
                embedded_ptr(rng, a)
            } else {
                let crossing = rng.percent(10);
                a.place(rng, &entries, crossing) as u64
            };
            let flags = if rng.percent(90) {
                0
            } else {
                u64::from(rng.u32())
            };
            le(&[ptr, count, flags], &[8, 4, 4])
        }
        CKPT_SESSION_COMMIT => {
            let random = rng.below(100) as u64;
            let cap = *rng.pick(&[0, 1, 4, 64, 0xffff_ffff, random]);
            let ptr = embedded_ptr(rng, a);
            le(&[ptr, cap, rng.below(3) as u64], &[8, 4, 4])
        }
        CKPT_OPEN_MASTER => {
            let base = (libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK) as u64;
            let flags = match rng.below(10) {
                0 => u64::from(rng.u32()),
                1 => base | libc::O_CLOEXEC as u64,
                2 => libc::O_RDONLY as u64,
                _ => base,
            };
            le(&[small_index(rng), flags], &[4, 4])
        }
        _ => return None,
    })
}

/// An argument for `cmd` and how it was made.
fn choose_arg(sh: &Shared, rng: &mut Rng, a: &Arena, cmd: u32) -> (u64, ArgKind) {
    if VALUE_ARG.contains(&cmd) && rng.percent(85) {
        return (value_arg(sh, rng, cmd), ArgKind::Value);
    }
    let structured_weight = if READS_ARG.contains(&cmd) { 35 } else { 5 };
    match rng.weighted(&[6, 12, 8, 18, 10, 5, 6, 4, structured_weight, 6]) {
        0 => (0, ArgKind::Inaccessible),
        1 => {
            let base = *rng.pick(BAD_ADDRS);
            if rng.percent(20) && base > 0xffff_0000_0000_0000 && base < 0xffff_ffff_0000_0000 {
                (
                    base + (rng.below(1 << 20) as u64) * 8,
                    ArgKind::Inaccessible,
                )
            } else {
                (base, ArgKind::Inaccessible)
            }
        }
        2 => {
            // Misaligned, random bytes.
            let off = rng.below(a.rw_len() - 128) | 1 | rng.below(8);
            ((a.rw + off) as u64, ArgKind::Random)
        }
        3 => (
            (a.rw + rng.below(a.rw_len() / 8 - 16) * 8) as u64,
            ArgKind::Random,
        ),
        4 => (
            (a.rw + a.rw_len() - rng.range(1, 64)) as u64,
            ArgKind::Crossing,
        ),
        5 => ((a.rw2 + PAGE - rng.range(1, 64)) as u64, ArgKind::Crossing),
        6 => {
            if rng.percent(50) {
                ((a.none + rng.below(PAGE)) as u64, ArgKind::Inaccessible)
            } else {
                ((a.hole + rng.below(PAGE)) as u64, ArgKind::Inaccessible)
            }
        }
        7 => match sh.top {
            Some(top) if rng.percent(70) => {
                ((top + PAGE - rng.range(1, 64)) as u64, ArgKind::Crossing)
            }
            _ => ((a.ro + rng.below(PAGE - 64)) as u64, ArgKind::ReadOnly),
        },
        8 => match structured(sh, rng, a, cmd) {
            Some(data) => {
                let crossing = rng.percent(8);
                let p = a.place(rng, &data, crossing) as u64;
                (
                    p,
                    if crossing {
                        ArgKind::Crossing
                    } else {
                        ArgKind::Structured
                    },
                )
            }
            None => (
                (a.rw + rng.below(a.rw_len() / 8 - 16) * 8) as u64,
                ArgKind::Random,
            ),
        },
        _ => (
            (a.ro + rng.below(PAGE / 8 - 8) * 8) as u64,
            ArgKind::ReadOnly,
        ),
    }
}

// ---------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------

struct Worker<'a> {
    sh: &'a Shared,
    rng: Rng,
    arena: Arena,
    busy: Busy<'a>,
    thread: usize,
    iter: u64,
    errnos: BTreeMap<i32, u64>,
    cmds_ok: BTreeMap<u32, u64>,
}

impl Worker<'_> {
    fn random_ioctl(&mut self) {
        let Some(pfd) = self.sh.pick(&mut self.rng, None) else {
            self.open_pair();
            return;
        };
        let mut cmd = choose_cmd(&mut self.rng, pfd.role);
        let ours = (cmd >> 8) & 0xff == CKPT_IOC_TYPE;
        if ours && self.sh.ops & OPS_CKPT_CMDS == 0 {
            cmd = TCGETS;
        } else if !ours && self.sh.ops & OPS_OTHER_CMDS == 0 {
            cmd = CKPT_STATUS;
        }
        let (arg, kind) = choose_arg(self.sh, &mut self.rng, &self.arena, cmd);
        self.busy.begin(OP_IOCTL, cmd, arg, self.iter);
        // SAFETY: the argument is a number, an address the kernel cannot
        // use, or an address in this thread's arena: whatever the kernel
        // writes lands in the arena or faults.
        let r = unsafe { libc::ioctl(pfd.fd.as_raw_fd(), cmd as _, arg) };
        let err = if r < 0 { errno() } else { 0 };
        self.busy.end();
        self.sh.ioctls.fetch_add(1, Relaxed);
        *self.errnos.entry(err).or_insert(0) += 1;
        if r >= 0 {
            *self.cmds_ok.entry(cmd).or_insert(0) += 1;
        }
        self.check(&pfd, cmd, arg, kind, r, err);
        if r >= 0 && RETURNS_FD.contains(&cmd) {
            // SAFETY: these commands return a new descriptor we now own.
            let fd = unsafe { OwnedFd::from_raw_fd(r) };
            let role = if cmd == TIOCGPTPEER {
                Role::Slave
            } else {
                Role::Master
            };
            if self.rng.percent(50) {
                self.sh.add(fd, role);
            }
        }
        if self.iter.is_multiple_of(64) {
            self.arena.stir(&mut self.rng);
        }
    }

    fn check(&self, pfd: &PoolFd, cmd: u32, arg: u64, kind: ArgKind, r: i32, err: i32) {
        let what = |why: &str| {
            format!(
                "{why}: thread {} iteration {}: ioctl({} fd, {cmd:#010x}, {arg:#x} [{kind:?}]) = {}",
                self.thread,
                self.iter,
                role_name(pfd.role),
                if r < 0 { errno_str(err) } else { r.to_string() }
            )
        };
        let key = |k: &str| format!("{k}/{:?}/{cmd:#x}", pfd.role);
        if r < 0 && err >= 512 {
            self.sh
                .finding(key("internal errno"), what("kernel-internal errno leaked"));
        }
        if r < 0 {
            return;
        }
        if kind == ArgKind::Inaccessible && (READS_ARG.contains(&cmd) || WRITES_ARG.contains(&cmd))
        {
            self.sh.finding(
                key("inaccessible"),
                what("succeeded with an inaccessible pointer"),
            );
        }
        if kind == ArgKind::ReadOnly && WRITES_ARG.contains(&cmd) {
            self.sh.finding(
                key("read-only"),
                what("succeeded writing to a read-only page"),
            );
        }
        if (cmd >> 8) & 0xff == CKPT_IOC_TYPE && !CKPT_CMDS.contains(&cmd) {
            self.sh
                .finding(key("unknown"), what("unknown ckpt_pty command succeeded"));
        }
        let answers = match pfd.role {
            Role::Control => CONTROL_CMDS.contains(&cmd),
            Role::Master => MASTER_CMDS.contains(&cmd),
            Role::Slave => true,
        };
        if !answers && !VFS_GENERIC.contains(&cmd) {
            self.sh.finding(
                key("foreign"),
                what("a command this file does not answer succeeded"),
            );
        }
    }

    fn open_pair(&mut self) {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
        self.busy.begin(OP_OPEN, 0, 0, self.iter);
        let path = if self.rng.percent(80) {
            PTMX_PATH.to_string()
        } else {
            format!("{PTS_DIR}/ptmx")
        };
        if let Ok(m) = sys::open(&path, flags) {
            let _ = sys::set_i32(&m, TIOCSPTLCK, 0);
            if let Ok(n) = sys::get_u32(&m, TIOCGPTN) {
                // Sometimes without O_NOCTTY: the session leader may get
                // it as its controlling terminal.
                let sflags = if self.rng.percent(10) {
                    flags & !libc::O_NOCTTY
                } else {
                    flags
                };
                if let Ok(s) = sys::open(&format!("{PTS_DIR}/{n}"), sflags) {
                    self.sh.add(s, Role::Slave);
                }
            }
            self.sh.add(m, Role::Master);
        }
        self.busy.end();
    }

    fn open_other(&mut self) {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
        self.busy.begin(OP_OPEN, 1, 0, self.iter);
        match self.rng.below(4) {
            0 if self.sh.bsd_pairs > 0 => {
                let n = self.rng.below(self.sh.bsd_pairs.min(4) as usize);
                if let Ok(m) = sys::open(&format!("{PTS_DIR}/pty{n}"), flags) {
                    self.sh.add(m, Role::Master);
                }
                if let Ok(s) = sys::open(&format!("{PTS_DIR}/tty{n}"), flags) {
                    self.sh.add(s, Role::Slave);
                }
            }
            1 if self.sh.ops & OPS_CONTROL != 0 => {
                let path = if self.rng.percent(50) {
                    CONTROL_PATH.to_string()
                } else {
                    format!("{PTS_DIR}/control")
                };
                if let Ok(c) = sys::open(&path, libc::O_RDWR) {
                    self.sh.add(c, Role::Control);
                }
            }
            _ => {
                // Another open of some pair's slave, by path.
                let n = self.rng.below(48);
                if let Ok(s) = sys::open(&format!("{PTS_DIR}/{n}"), flags) {
                    self.sh.add(s, Role::Slave);
                }
            }
        }
        self.busy.end();
    }

    fn read(&mut self) {
        let Some(pfd) = self.sh.pick(&mut self.rng, None) else {
            return;
        };
        let mut buf = [0u8; 512];
        let n = self.rng.range(1, buf.len());
        self.busy.begin(OP_READ, 0, n as u64, self.iter);
        // SAFETY: `buf` is valid for `n` bytes.
        unsafe { libc::read(pfd.fd.as_raw_fd(), buf.as_mut_ptr().cast(), n) };
        self.busy.end();
    }

    fn write(&mut self) {
        let Some(pfd) = self.sh.pick(&mut self.rng, None) else {
            return;
        };
        let mut buf = vec![0u8; self.rng.range(1, 300)];
        for b in buf.iter_mut() {
            *b = *self.rng.pick(&[
                b'a', b'b', b' ', b'\n', b'\r', 3, 4, 0x11, 0x13, 0x12, 0x16, 0x17, 0x15, 0x1a,
                0x1c, 0x7f, 0, 0xff,
            ]);
        }
        self.busy.begin(OP_WRITE, 0, buf.len() as u64, self.iter);
        // SAFETY: `buf` is valid for its length.
        unsafe { libc::write(pfd.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        self.busy.end();
    }

    fn poll(&mut self) {
        let Some(pfd) = self.sh.pick(&mut self.rng, None) else {
            return;
        };
        self.busy.begin(OP_POLL, 0, 0, self.iter);
        let _ = sys::poll_events(&pfd.fd, libc::POLLIN | libc::POLLOUT | libc::POLLPRI, 0);
        self.busy.end();
    }

    fn freeze_thaw(&mut self, freeze: bool) {
        let role = if self.rng.percent(50) {
            Role::Master
        } else {
            Role::Slave
        };
        let Some(pfd) = self.sh.pick(&mut self.rng, Some(role)) else {
            return;
        };
        let cmd = if freeze { CKPT_FREEZE } else { CKPT_THAW };
        self.busy.begin(OP_IOCTL, cmd, 0, self.iter);
        let _ = sys::ioctl_val(&pfd.fd, cmd, 0);
        self.busy.end();
    }

    fn checkpoint(&mut self) {
        let role = if self.rng.percent(50) {
            Role::Master
        } else {
            Role::Slave
        };
        let Some(pfd) = self.sh.pick(&mut self.rng, Some(role)) else {
            return;
        };
        let flags = if self.rng.percent(20) {
            CKPT_LEAVE_FROZEN
        } else {
            0
        };
        self.busy.begin(OP_CKPT, CKPT_CHECKPOINT, 0, self.iter);
        let mut a = CheckpointArg {
            checkpoint_id: self.iter,
            flags,
            ..Default::default()
        };
        let mut image = Vec::new();
        if sys::ioctl_ptr(&pfd.fd, CKPT_CHECKPOINT, &mut a).is_ok() && a.image_len < 1 << 20 {
            // The queues may grow between the two calls: some room more.
            let mut buf = vec![0u8; a.image_len as usize + 4096];
            a.buf = buf.as_mut_ptr() as u64;
            a.buf_len = buf.len() as u32;
            if sys::ioctl_ptr(&pfd.fd, CKPT_CHECKPOINT, &mut a).is_ok() {
                buf.truncate(a.image_len as usize);
                image = buf;
            }
        }
        self.busy.end();
        if !image.is_empty() {
            self.sh.store_image(image);
        }
    }

    fn step(&mut self) {
        self.iter += 1;
        let mut weights = [860, 25, 25, 12, 8, 8, 10, 10, 8, 12];
        for (i, w) in weights.iter_mut().enumerate() {
            if self.sh.ops & (1 << i) == 0 {
                *w = 0;
            }
        }
        if weights.iter().all(|&w| w == 0) {
            weights[0] = 1;
        }
        let op = self.rng.weighted(&weights);
        if op != 0 {
            self.sh.other_ops.fetch_add(1, Relaxed);
        }
        match op {
            0 => self.random_ioctl(),
            1 => self.read(),
            2 => self.write(),
            3 => {
                self.busy.begin(OP_CLOSE, 0, 0, self.iter);
                self.sh.remove_random(&mut self.rng);
                self.busy.end();
            }
            4 => self.open_pair(),
            5 => self.open_other(),
            6 => self.freeze_thaw(true),
            7 => self.freeze_thaw(false),
            8 => self.checkpoint(),
            _ => self.poll(),
        }
    }
}

fn worker(sh: &Shared, thread: usize) {
    let mut rng = Rng::new(sh.seed ^ fuzz::mix(thread as u64 + 1));
    let arena = match Arena::new(thread, &mut rng) {
        Ok(a) => a,
        Err(e) => {
            sh.finding(format!("arena{thread}"), format!("setup: {e}"));
            return;
        }
    };
    let mut w = Worker {
        sh,
        rng,
        arena,
        busy: Busy::new(sh, thread),
        thread,
        iter: 0,
        errnos: BTreeMap::new(),
        cmds_ok: BTreeMap::new(),
    };
    while !sh.done() {
        w.step();
    }
    let mut all = sh.errnos.lock().unwrap_or_else(|e| e.into_inner());
    for (k, v) in w.errnos {
        *all.entry(k).or_insert(0) += v;
    }
    let mut ok = sh.cmds_ok.lock().unwrap_or_else(|e| e.into_inner());
    for (k, v) in w.cmds_ok {
        *ok.entry(k).or_insert(0) += v;
    }
}

/// Begins, fills, commits and aborts restart sessions while the workers
/// hammer every file of them.
fn session_thread(sh: &Shared, slot: usize) {
    let mut rng = Rng::new(sh.seed ^ 0x5e55_1011);
    let busy = Busy::new(sh, slot);
    let mut ctl: Option<OwnedFd> = None;
    // The session has a slave-only pair whose slave was restored.
    let mut slave_only = false;
    let mut n = 0u64;
    while !sh.done() {
        std::thread::sleep(Duration::from_millis(rng.range(20, 120) as u64));
        n += 1;
        busy.begin(OP_SESSION, 0, 0, n);
        match ctl.take() {
            None => {
                let Ok(c) = sys::open(CONTROL_PATH, libc::O_RDWR) else {
                    busy.end();
                    continue;
                };
                let count = rng.range(1, 3);
                let entries: Vec<RestartEntry> = (0..count)
                    .map(|_| RestartEntry {
                        index: rng.below(48) as u32,
                        ends: session_ends_value(&mut rng) as u32,
                    })
                    .collect();
                let mut a = SessionArg {
                    entries: entries.as_ptr() as u64,
                    count: count as u32,
                    flags: 0,
                };
                if sys::ioctl_ptr(&c, CKPT_SESSION_BEGIN, &mut a).is_ok() {
                    slave_only = false;
                    for e in &entries {
                        slave_only |= session_ends(sh, &mut rng, &c, e);
                    }
                    ctl = Some(c);
                }
            }
            Some(c) => match rng.below(10) {
                0..=4 => {
                    let mut records = vec![0u8; 8 * ORPHAN_RECORD_LEN];
                    let mut a = CommitArg {
                        orphans: records.as_mut_ptr() as u64,
                        orphans_cap: 8,
                        orphans_count: 0,
                    };
                    if sys::ioctl_ptr(&c, CKPT_SESSION_COMMIT, &mut a).is_ok() {
                        sh.commits.fetch_add(1, Relaxed);
                        if slave_only {
                            sh.slave_only_commits.fetch_add(1, Relaxed);
                        }
                    }
                }
                5..=7 => {
                    let _ = sys::ioctl_val(&c, CKPT_SESSION_ABORT, 0);
                }
                _ => drop(c),
            },
        }
        busy.end();
    }
    if let Some(c) = ctl {
        let _ = sys::ioctl_val(&c, CKPT_SESSION_ABORT, 0);
    }
}

/// Opens and restores the ends of session entry `e`; whether it is a
/// slave-only entry whose slave was restored.
fn session_ends(sh: &Shared, rng: &mut Rng, ctl: &OwnedFd, e: &RestartEntry) -> bool {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
    let restart = |rng: &mut Rng, fd: &OwnedFd, kind: u8| {
        let want = rng.percent(80).then_some(kind);
        if let Some(mut img) = sh.image(rng, want) {
            // Mostly as if taken from this pty (an image restores only
            // where it was taken), so that restarts get through.
            if rng.percent(80) {
                let at = RestoreTarget {
                    index: e.index,
                    mode: PtyMode::Att,
                };
                img = crate::fuzz_image::retarget(&img, at);
            }
            let mut a = RestartArg {
                buf: img.as_ptr() as u64,
                buf_len: img.len() as u32,
                flags: 0,
            };
            return sys::ioctl_ptr(fd, CKPT_RESTART, &mut a).is_ok();
        }
        false
    };
    if e.ends & CKPT_END_MASTER != 0 && rng.percent(80) {
        let mut a = OpenMasterArg {
            index: e.index,
            flags: flags as u32,
        };
        if let Ok(fd) = sys::ioctl_ptr(ctl, CKPT_OPEN_MASTER, &mut a) {
            // SAFETY: the ioctl returned a new descriptor we now own.
            let m = unsafe { OwnedFd::from_raw_fd(fd) };
            if rng.percent(80) {
                restart(rng, &m, 1);
            }
            sh.add(m, Role::Master);
        }
    }
    let mut restored = false;
    if e.ends & CKPT_END_SLAVE != 0 && rng.percent(80) {
        if let Ok(s) = sys::open(&format!("{PTS_DIR}/{}", e.index), flags) {
            if rng.percent(80) {
                restored = restart(rng, &s, 2);
            }
            sh.add(s, Role::Slave);
        }
    }
    restored && e.ends == CKPT_END_SLAVE
}

/// Thaws every stream in the pool now and then, so that a freeze by a
/// random ioctl does not stop everything for long.
fn janitor(sh: &Shared, slot: usize) {
    let busy = Busy::new(sh, slot);
    let mut n = 0;
    while !sh.done() {
        std::thread::sleep(Duration::from_millis(60));
        n += 1;
        let fds: Vec<Arc<PoolFd>> = sh
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|p| p.role != Role::Control)
            .cloned()
            .collect();
        busy.begin(OP_THAW_ALL, 0, 0, n);
        for p in &fds {
            thaw(&p.fd);
        }
        busy.end();
        sh.janitor_ioctls.fetch_add(fds.len() as u64, Relaxed);
    }
}

/// Interrupts calls running longer than 200 ms; reports those still
/// running after 30 s as hangs. Returns when every other thread is done.
fn watchdog(sh: &Shared, finished: &AtomicBool) {
    const NUDGE_US: u64 = 200_000;
    const HANG_US: u64 = 30_000_000;
    let mut reported = vec![false; sh.slots.len()];
    let mut last_progress = Instant::now();
    let mut last_count = 0;
    while !finished.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        let now = sh.now_us();
        for (i, s) in sh.slots.iter().enumerate() {
            let since = s.since.load(Relaxed);
            if since == 0 {
                reported[i] = false;
                continue;
            }
            let age = now.saturating_sub(since);
            if age > NUDGE_US {
                let _ = sys::signal_thread(s.tid.load(Relaxed), sys::DEADLINE_SIGNAL);
                sh.interrupts.fetch_add(1, Relaxed);
            }
            if age > HANG_US && !reported[i] {
                reported[i] = true;
                let op = s.op.load(Relaxed);
                sh.finding(
                    format!("hang{i}/{op}/{:#x}", s.cmd.load(Relaxed)),
                    format!(
                        "hang: thread {i} iteration {}: {} (cmd {:#010x}, arg {:#x}) still running after {} s despite signals",
                        s.iter.load(Relaxed),
                        op_name(op),
                        s.cmd.load(Relaxed),
                        s.arg.load(Relaxed),
                        age / 1_000_000
                    ),
                );
                // Nothing more can be done from here: stop everything.
                sh.stop.store(true, Relaxed);
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(15) {
            let c = sh.ioctls.load(Relaxed);
            println!(
                "# {:.0} s: {c} ioctls ({:.0}/s)",
                sh.start.elapsed().as_secs_f64(),
                (c - last_count) as f64 / last_progress.elapsed().as_secs_f64()
            );
            last_count = c;
            last_progress = Instant::now();
        }
    }
}

extern "C" fn helper_signal(_: i32) {}

/// A process in a process group of its own in the fuzzer's session that
/// catches every signal (so `TIOCSIG`, `SIGHUP` and friends have a target
/// that is not the test run). Returns its pid (= its process group).
fn spawn_helper() -> Option<i32> {
    // SAFETY: the child only calls async-signal-safe functions.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: async-signal-safe calls in the child.
        unsafe {
            libc::setpgid(0, 0);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = helper_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP && sig != libc::SIGCHLD {
                    libc::sigaction(sig, &sa, std::ptr::null_mut());
                }
            }
            loop {
                libc::pause();
            }
        }
    }
    if pid < 0 {
        return None;
    }
    // SAFETY: our child; setting its group from both sides avoids a race.
    unsafe { libc::setpgid(pid, pid) };
    Some(pid)
}

/// Sockets for `CKPT_SOCKET_SET`/`CKPT_SOCKET_RESTORED`: a connected TCP
/// pair on loopback, a UNIX socket pair and a UDP socket.
fn sockets() -> Vec<OwnedFd> {
    let mut out = Vec::new();
    // SAFETY: plain socket calls; every descriptor is owned right away.
    unsafe {
        let mut sv = [0i32; 2];
        if libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) == 0 {
            out.push(OwnedFd::from_raw_fd(sv[0]));
            out.push(OwnedFd::from_raw_fd(sv[1]));
        }
        let udp = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if udp >= 0 {
            out.push(OwnedFd::from_raw_fd(udp));
        }
        let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if l >= 0 {
            let l = OwnedFd::from_raw_fd(l);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as u32;
            let pa = (&mut addr as *mut libc::sockaddr_in).cast();
            if libc::bind(l.as_raw_fd(), pa, len) == 0
                && libc::listen(l.as_raw_fd(), 1) == 0
                && libc::getsockname(l.as_raw_fd(), pa, &mut len) == 0
            {
                let c = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                if c >= 0 {
                    let c = OwnedFd::from_raw_fd(c);
                    if libc::connect(c.as_raw_fd(), pa, len) == 0 {
                        let s =
                            libc::accept(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut());
                        if s >= 0 {
                            out.push(OwnedFd::from_raw_fd(s));
                        }
                        out.push(c);
                    }
                }
            }
            out.push(l);
        }
    }
    out
}

/// Ignores what the fuzzer's own ioctls may send it: hangups, job control
/// (it may become a background process of its own terminal), `SIGIO`.
fn ignore_terminal_signals() {
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGIO,
        libc::SIGURG,
        libc::SIGPIPE,
        libc::SIGWINCH,
    ] {
        // SAFETY: setting a signal to be ignored is always sound.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    sys::install_deadline_handler();
}

fn global_status(fd: &OwnedFd) -> Result<GlobalStatus, String> {
    let mut st = GlobalStatus::default();
    sys::ioctl_ptr(fd, CKPT_GLOBAL_STATUS, &mut st).map_err(|e| sys::errno_name(&e))?;
    Ok(st)
}

/// The fuzzer process (`--fuzz-child ioctl SEED`). Prints `#` progress,
/// `FAIL` findings and a `NOTE`; returns the exit status.
pub fn child(seed: u64) -> i32 {
    ignore_terminal_signals();
    let target = fuzz::knob_u64("fuzz_ioctls", 110_000);
    let secs = fuzz::knob_u64("fuzz_secs", 150);
    let threads = fuzz::knob_u64("fuzz_threads", 4).clamp(1, 16) as usize;
    // Findings name the run's seed (`ckpt.seed=`); the threads' streams
    // are derived from `stream`.
    let run_seed = seed;
    let seed = seed ^ fuzz::mix(0x10c7);
    let sockets = sockets();
    let mut pgids = Vec::new();
    for _ in 0..2 {
        pgids.extend(spawn_helper());
    }
    let termios = {
        let mut t = [0u8; 36];
        if let Ok(m) = sys::open(PTMX_PATH, libc::O_RDWR | libc::O_NOCTTY) {
            let _ = sys::ioctl_ptr(&m, TCGETS, t.as_mut_ptr());
        }
        t
    };
    let bsd_pairs = sys::open(CONTROL_PATH, libc::O_RDWR)
        .ok()
        .and_then(|c| global_status(&c).ok())
        .map_or(0, |s| s.bsd_pairs);
    let ops = fuzz::knob_u64("fuzz_ops", OPS_ALL);
    let sh = Shared {
        seed,
        run_seed,
        ops,
        start: Instant::now(),
        stop: AtomicBool::new(false),
        target,
        secs,
        ioctls: AtomicU64::new(0),
        other_ops: AtomicU64::new(0),
        janitor_ioctls: AtomicU64::new(0),
        interrupts: AtomicU64::new(0),
        commits: AtomicU64::new(0),
        slave_only_commits: AtomicU64::new(0),
        pool: Mutex::new(Vec::new()),
        images: Mutex::new(Vec::new()),
        findings: Mutex::new(Vec::new()),
        finding_keys: Mutex::new(BTreeMap::new()),
        errnos: Mutex::new(BTreeMap::new()),
        cmds_ok: Mutex::new(BTreeMap::new()),
        slots: (0..threads + 2).map(|_| Slot::default()).collect(),
        pgids,
        sockets: sockets.iter().map(|s| s.as_raw_fd()).collect(),
        termios,
        bsd_pairs,
        top: Arena::map_top(),
    };
    println!(
        "# ioctl fuzzer: seed {run_seed:#x} (stream {seed:#x}), {threads} threads, target {target} ioctls or {secs} s, ops {ops:#x}; helpers {:?}, {} sockets, top page {}",
        sh.pgids,
        sh.sockets.len(),
        if sh.top.is_some() { "mapped" } else { "not mapped" }
    );
    let finished = AtomicBool::new(false);
    std::thread::scope(|s| {
        let dog = s.spawn(|| watchdog(&sh, &finished));
        let mut handles = Vec::new();
        for t in 0..threads {
            let sh = &sh;
            handles.push(s.spawn(move || worker(sh, t)));
        }
        let sh2 = &sh;
        if ops & OPS_SESSION != 0 {
            handles.push(s.spawn(move || session_thread(sh2, threads)));
        }
        handles.push(s.spawn(move || janitor(sh2, threads + 1)));
        for h in handles {
            if h.join().is_err() {
                sh.finding("panic".into(), "a fuzzer thread panicked".into());
            }
        }
        finished.store(true, Relaxed);
        let _ = dog.join();
    });
    let took = sh.start.elapsed().as_secs_f64();
    let n = sh.ioctls.load(Relaxed);
    // Close everything (thawed first), end the helpers.
    {
        let mut pool = sh.pool.lock().unwrap_or_else(|e| e.into_inner());
        for p in pool.iter() {
            thaw(&p.fd);
        }
        pool.clear();
    }
    for &pid in &sh.pgids {
        // SAFETY: our own helper children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    drop(sockets);
    let errnos = sh.errnos.lock().unwrap_or_else(|e| e.into_inner());
    let hist: Vec<String> = errnos
        .iter()
        .map(|(e, c)| {
            let name = if *e == 0 {
                "ok".to_string()
            } else {
                errno_str(*e)
            };
            format!("{name} {c}")
        })
        .collect();
    let ok = sh.cmds_ok.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "# {n} random ioctls in {took:.1} s ({:.0}/s) by {threads} threads; {} other operations, {} thaws by the janitor, {} calls interrupted",
        n as f64 / took,
        sh.other_ops.load(Relaxed),
        sh.janitor_ioctls.load(Relaxed),
        sh.interrupts.load(Relaxed)
    );
    println!("# results: {}", hist.join(", "));
    println!("# {} distinct commands succeeded at least once", ok.len());
    println!(
        "# {} sessions committed, {} with a slave-only pair restored (K3)",
        sh.commits.load(Relaxed),
        sh.slave_only_commits.load(Relaxed)
    );
    let findings = sh.findings.lock().unwrap_or_else(|e| e.into_inner()).len();
    let min = fuzz::knob_u64("fuzz_min_ioctls", 100_000).min(target);
    if n < min {
        println!(
            "FAIL only {n} ioctls in {took:.1} s (at least {min} wanted; seed {:#x})",
            sh.run_seed
        );
    }
    println!("NOTE seed {run_seed:#x}: {n} ioctls in {took:.0} s, {findings} finding(s)");
    if findings > 0 || n < min {
        fuzz::CHILD_FOUND
    } else {
        0
    }
}

fn live_pairs() -> Result<GlobalStatus, String> {
    let c = sys::open(CONTROL_PATH, libc::O_RDWR).map_err(|e| sys::errno_name(&e))?;
    global_status(&c)
}

/// Live pairs once they have settled back to `want` (or after 5 s).
fn settled_pairs(want: u32) -> Result<GlobalStatus, String> {
    let mut after = live_pairs()?;
    for _ in 0..50 {
        if after.pairs == want && after.session_active == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        after = live_pairs()?;
    }
    Ok(after)
}

/// When pairs were left behind: the fuzzer runs again for a short while
/// with one part left out each time (`fuzz_ops` masks); a run that leaves
/// nothing behind points at the part left out.
const ATTRIBUTION: &[(&str, u64)] = &[
    ("everything", OPS_ALL),
    ("without the session thread", OPS_ALL & !OPS_SESSION),
    (
        "without freeze/thaw/checkpoint operations",
        OPS_ALL & !0x1c0,
    ),
    (
        "without ckpt_pty's commands in random ioctls",
        OPS_ALL & !OPS_CKPT_CMDS,
    ),
    ("without control files", OPS_ALL & !OPS_CONTROL),
    (
        "without terminal commands in random ioctls",
        OPS_ALL & !OPS_OTHER_CMDS,
    ),
];

/// Seconds each attribution run takes.
const ATTRIBUTION_SECS: u64 = 20;

fn attribute_leak(seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    for &(name, ops) in ATTRIBUTION {
        let Ok(before) = live_pairs() else { break };
        let env = [
            ("CKPT_FUZZ_OPS", format!("{ops:#x}")),
            ("CKPT_FUZZ_SECS", ATTRIBUTION_SECS.to_string()),
            ("CKPT_FUZZ_MIN_IOCTLS", "0".to_string()),
        ];
        let r = fuzz::run_child("fuzz_ioctl", "ioctl", seed, Duration::from_secs(60), &env);
        let Ok(after) = settled_pairs(before.pairs) else {
            break;
        };
        let line = format!(
            "attribution: {name} (ckpt.fuzz_ops={ops:#x} ckpt.fuzz_secs={ATTRIBUTION_SECS}): {} pair(s) left behind{}",
            after.pairs.saturating_sub(before.pairs),
            r.err().map(|e| format!(" ({e})")).unwrap_or_default()
        );
        println!("# {line}");
        out.push(line);
    }
    out
}

fn fuzz_ioctl() -> TestResult {
    let seed = fuzz::seed();
    println!("# seed: {seed:#x} (fuzz_ioctl; reproduce with ckpt.seed={seed:#x})");
    let before = live_pairs()?;
    ensure_eq!(before.session_active, 0);
    let secs = fuzz::knob_u64("fuzz_secs", 150);
    let run = fuzz::run_child(
        "fuzz_ioctl",
        "ioctl",
        seed,
        Duration::from_secs(secs + 120),
        &[],
    );
    // Every pair the fuzzer opened is gone again (the last close frees an
    // index at once; K3: also a pair a session listed with its slave
    // only), no session is left, and the module still works.
    let after = settled_pairs(before.pairs)?;
    ensure_eq!(after.session_active, 0);
    let leak = (after.pairs != before.pairs).then(|| {
        format!(
            "{} pair(s) left behind after every file closed (K3 again if sessions that list a slave only leave them; seed {seed:#x})",
            after.pairs.saturating_sub(before.pairs)
        )
    });
    if let Some(l) = &leak {
        println!("# {l}");
        if fuzz::knob_u64("fuzz_attribute", 0) != 0 {
            let note = crate::ktap::current_note();
            attribute_leak(seed);
            if let Some(n) = note {
                crate::ktap::note(n);
            }
        }
    }
    // The BSD pairs the fuzzer used open again: a lock (TIOCSPTLCK) ends
    // with the session (K2).
    let mut locked = None;
    for n in 0..before.bsd_pairs.min(4) {
        if let Err(x) = crate::fuzz_image::reopen_bsd(n) {
            println!("# BSD pair {n}: {x}");
            locked.get_or_insert(format!(
                "K2 again: BSD pair {n} cannot be opened after the fuzzer: {x} (seed {seed:#x})"
            ));
        }
    }
    let (m, s, _) = crate::tests_restart::open_pair()?;
    sys::write_once(&m, b"alive\n").map_err(|e| sys::errno_name(&e))?;
    let ev = sys::poll_events(&s, libc::POLLIN, 3000).map_err(|e| sys::errno_name(&e))?;
    ensure!(
        ev & libc::POLLIN != 0,
        "a new pair does not work after fuzzing"
    );
    ensure_eq!(
        sys::read_once(&s, 16).map_err(|e| sys::errno_name(&e))?,
        b"alive\n".to_vec()
    );
    run?;
    locked.or(leak).map_or(Ok(()), Err)
}
