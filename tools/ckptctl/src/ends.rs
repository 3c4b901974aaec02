// SPDX-License-Identifier: GPL-2.0
//! Reaching the pty ends processes hold: duplicates of their descriptors
//! taken with `pidfd_open` + `pidfd_getfd`, which open nothing (open counts
//! and hangup semantics stay as they are).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use pty_core::image::{self, PtyMode};
use pty_core::End;

use crate::error::{Failure, Kind, Result};
use crate::procfs::{self, FdEntry};
use crate::sys;

/// One end of one pair: what a stream image is taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// AT&T (0) sorts before BSD (1).
    pub mode: u8,
    /// Pair index.
    pub index: u32,
    /// Master (1) before slave (2).
    pub kind: u8,
}

impl StreamKey {
    /// The key of an end.
    pub fn new(mode: PtyMode, index: u32, kind: End) -> Self {
        Self {
            mode: mode.as_u8(),
            index,
            kind: image::end_to_byte(kind),
        }
    }

    /// The mode.
    pub fn mode(self) -> PtyMode {
        PtyMode::from_u8(self.mode).unwrap_or(PtyMode::Att)
    }

    /// The end.
    pub fn kind(self) -> End {
        image::end_from_byte(self.kind).unwrap_or(End::Master)
    }

    /// The pair (mode and index).
    pub fn pair(self) -> PairKey {
        PairKey {
            mode: self.mode,
            index: self.index,
        }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pair(), self.kind().name())
    }
}

/// One pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairKey {
    /// AT&T (0) or BSD (1).
    pub mode: u8,
    /// Pair index.
    pub index: u32,
}

impl fmt::Display for PairKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == PtyMode::Bsd.as_u8() {
            write!(f, "BSD pty {}", self.index)
        } else {
            write!(f, "pty {}", self.index)
        }
    }
}

/// A descriptor of a process that refers to a ckpt_pty end, with our own
/// duplicate of it.
#[derive(Debug)]
pub struct HeldEnd {
    /// What /proc says.
    pub entry: FdEntry,
    /// Which end of which pair.
    pub key: StreamKey,
    /// Our duplicate (same open file description).
    pub dup: OwnedFd,
}

impl HeldEnd {
    /// Our duplicate.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dup.as_fd()
    }
}

/// Pidfds of the processes we take descriptors from.
#[derive(Debug, Default)]
pub struct Pidfds(HashMap<i32, OwnedFd>);

impl Pidfds {
    /// The pidfd of `pid`, opened on first use.
    pub fn get(&mut self, pid: i32) -> io::Result<BorrowedFd<'_>> {
        let fd = match self.0.entry(pid) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(sys::pidfd_open(pid)?),
        };
        Ok(AsFd::as_fd(&*fd))
    }
}

/// Why an end could not be taken.
fn take_failure(e: &FdEntry, err: &io::Error) -> Failure {
    match err.raw_os_error() {
        Some(libc::ESRCH) => Failure::other(format!(
            "process {} exited while its descriptors were being collected; run the command again",
            e.pid
        )),
        Some(libc::EBADF) => Failure::other(format!(
            "process {} closed descriptor {} while it was being collected; run the command again",
            e.pid, e.fd
        )),
        _ => Failure::io(
            format_args!(
                "duplicate descriptor {} of process {} (pidfd_getfd)",
                e.fd, e.pid
            ),
            err,
        ),
    }
}

/// Takes a duplicate of `entry`'s descriptor and learns its pair index
/// (`TIOCGPTN` for `/dev/ckpt/ptmx` masters).
pub fn take(pidfds: &mut Pidfds, entry: &FdEntry) -> Result<HeldEnd> {
    let pidfd = pidfds
        .get(entry.pid)
        .map_err(|err| take_failure(entry, &err))?;
    let dup = sys::pidfd_getfd(pidfd, entry.fd).map_err(|err| take_failure(entry, &err))?;
    let index = match entry.node.index {
        Some(i) => i,
        None => sys::pty_index(dup.as_fd()).map_err(|err| {
            Failure::io(
                format_args!(
                    "read the pty index of descriptor {} of process {} (TIOCGPTN)",
                    entry.fd, entry.pid
                ),
                &err,
            )
        })?,
    };
    Ok(HeldEnd {
        key: StreamKey::new(entry.node.mode, index, entry.node.kind),
        entry: entry.clone(),
        dup,
    })
}

/// Every ckpt_pty end `pid` holds, with duplicates.
pub fn held_by(proc: &Path, pidfds: &mut Pidfds, pid: i32) -> Result<Vec<HeldEnd>> {
    // Open the pidfd first: it pins the process we then list.
    pidfds.get(pid).map_err(|e| match e.raw_os_error() {
        Some(libc::ESRCH) => Failure::usage(format!(
            "there is no process {pid}: check the pid (ps -p {pid})"
        )),
        _ => Failure::io(format_args!("open process {pid} (pidfd_open)"), &e),
    })?;
    let entries = procfs::fds_of(proc, pid).map_err(|e| {
        Failure::io(
            format_args!("list the descriptors of process {pid} in /proc"),
            &e,
        )
    })?;
    entries.iter().map(|e| take(pidfds, e)).collect()
}

/// Whether the module is loaded.
pub fn module_loaded() -> bool {
    Path::new("/sys/module/ckpt_pty").exists() || Path::new(crate::uapi::CONTROL_PATH).exists()
}

/// Fails with [`Kind::ModuleNotLoaded`] unless the module is loaded.
pub fn require_module() -> Result<()> {
    if module_loaded() {
        Ok(())
    } else {
        Err(Failure::module_not_loaded())
    }
}

/// Maps an ioctl failure on an end to a failure naming the end.
pub fn end_failure(what: &str, key: StreamKey, e: &io::Error) -> Failure {
    match e.raw_os_error() {
        Some(libc::ENOTTY) => Failure::new(
            Kind::Other,
            format!(
                "cannot {what} {key}: the loaded ckpt_pty module does not know this ioctl \
                 (ENOTTY); load a module of the same version as ckptctl"
            ),
        ),
        _ => Failure::io(format_args!("{what} {key}"), e),
    }
}
