// SPDX-License-Identifier: GPL-2.0
//! Finding ckpt_pty ends in processes: `/proc/PID/fd` symlinks and
//! `/proc/PID/fdinfo` flags, and the nodes under `/dev/ckpt` (devtmpfs's
//! `ptmx` and `control`, and the default ckptpts instance at `/dev/ckpt/pts`).

use std::fs;
use std::io;
use std::path::Path;

use pty_core::image::PtyMode;
use pty_core::End;

/// Where devtmpfs puts the module's nodes.
pub const DEV_DIR: &str = "/dev/ckpt";

/// The kernel's `O_LARGEFILE` (x86_64), which it sets on every open of a
/// 64-bit process and fdinfo shows; glibc defines it as 0 there.
pub const O_LARGEFILE: i32 = 0o100000;

/// `O_CLOEXEC` as `/proc/PID/fdinfo` reports it in `flags:`.
const FDINFO_CLOEXEC: u32 = libc::O_CLOEXEC as u32;

/// A device node of the module, as a descriptor's link names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// AT&T or BSD.
    pub mode: PtyMode,
    /// Which end.
    pub kind: End,
    /// The pair index; `None` for `/dev/ckpt/ptmx`, whose index only
    /// `TIOCGPTN` on the file tells.
    pub index: Option<u32>,
}

/// A decimal number without sign or leading zero (except "0").
fn parse_index(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Classifies a descriptor's link target in the default instance:
/// `/dev/ckpt/ptmx` or `/dev/ckpt/pts/ptmx` (AT&T master),
/// `/dev/ckpt/pts/N` (AT&T slave), `/dev/ckpt/pts/ptyN` (BSD master),
/// `/dev/ckpt/pts/ttyN` (BSD slave). A trailing " (deleted)" is ignored.
pub fn classify(target: &str) -> Option<Node> {
    let target = target.strip_suffix(" (deleted)").unwrap_or(target);
    let rest = target.strip_prefix(DEV_DIR)?.strip_prefix('/')?;
    if rest == "ptmx" || rest == "pts/ptmx" {
        return Some(Node {
            mode: PtyMode::Att,
            kind: End::Master,
            index: None,
        });
    }
    let name = rest.strip_prefix("pts/")?;
    let (mode, kind, num) = if let Some(n) = name.strip_prefix("pty") {
        (PtyMode::Bsd, End::Master, n)
    } else if let Some(n) = name.strip_prefix("tty") {
        (PtyMode::Bsd, End::Slave, n)
    } else {
        (PtyMode::Att, End::Slave, name)
    };
    Some(Node {
        mode,
        kind,
        index: Some(parse_index(num)?),
    })
}

/// The `flags:` line of an fdinfo file (octal), split into open flags
/// without `O_CLOEXEC` and whether `O_CLOEXEC` was set.
pub fn parse_fdinfo_flags(text: &str) -> Option<(u32, bool)> {
    let line = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    let flags = u32::from_str_radix(line.trim(), 8).ok()?;
    Some((flags & !FDINFO_CLOEXEC, flags & FDINFO_CLOEXEC != 0))
}

/// A descriptor of a process that refers to a ckpt_pty end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// The process.
    pub pid: i32,
    /// The descriptor number.
    pub fd: i32,
    /// Which node.
    pub node: Node,
    /// Open flags without `O_CLOEXEC`.
    pub flags: u32,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// The ckpt_pty descriptors of `pid`, by descriptor number, read from
/// `proc` (normally `/proc`). Descriptors that close while we look are
/// skipped.
pub fn fds_of(proc: &Path, pid: i32) -> io::Result<Vec<FdEntry>> {
    let dir = proc.join(pid.to_string());
    let mut out = Vec::new();
    for entry in fs::read_dir(dir.join("fd"))? {
        let entry = entry?;
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let Some(node) = target.to_str().and_then(classify) else {
            continue;
        };
        let Ok(info) = fs::read_to_string(dir.join("fdinfo").join(fd.to_string())) else {
            continue;
        };
        let (flags, cloexec) = parse_fdinfo_flags(&info).unwrap_or((libc::O_RDWR as u32, false));
        out.push(FdEntry {
            pid,
            fd,
            node,
            flags,
            cloexec,
        });
    }
    out.sort_by_key(|e| e.fd);
    Ok(out)
}

/// Every process id under `proc`, ascending.
pub fn pids(proc: &Path) -> io::Result<Vec<i32>> {
    let mut out: Vec<i32> = fs::read_dir(proc)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The command name of `pid`, or "?".
pub fn comm(proc: &Path, pid: i32) -> String {
    fs::read_to_string(proc.join(pid.to_string()).join("comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Every ckpt_pty descriptor of every process we may look at.
pub fn all_fds(proc: &Path) -> Vec<FdEntry> {
    // Best effort for `status`: a process that exits meanwhile or hides its
    // descriptors (not root) just shows no holders.
    pids(proc)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|pid| fds_of(proc, pid).unwrap_or_default())
        .collect()
}

/// Pair indexes of the nodes in `dir` named `prefix` + N, ascending; none
/// when `dir` cannot be read (no such nodes).
pub fn node_indexes(dir: &Path, prefix: &str) -> Vec<u32> {
    let mut out: Vec<u32> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let name = e.ok()?.file_name();
                parse_index(name.to_str()?.strip_prefix(prefix)?)
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out.dedup();
    out
}

/// Open flags as text: `O_RDWR|O_NONBLOCK`.
pub fn flags_text(flags: u32) -> String {
    let flags = flags as i32;
    let mut parts = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }
    .to_string()];
    let named = [
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_SYNC, "O_SYNC"),
        (libc::O_ASYNC, "O_ASYNC"),
        (libc::O_DIRECT, "O_DIRECT"),
        (O_LARGEFILE, "O_LARGEFILE"),
        (libc::O_NOATIME, "O_NOATIME"),
    ];
    let mut rest = flags & !libc::O_ACCMODE;
    for (bit, name) in named {
        if rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#o}"));
    }
    parts.join("|")
}
