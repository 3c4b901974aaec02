// SPDX-License-Identifier: GPL-2.0
//! What the plugin reads from /proc: open flags, who has a tty as its
//! controlling terminal, pids in a task's own pid namespace, ckpt_pty's
//! majors and ckptpts mounts.

use std::fs;

/// The `flags:` of `/proc/self/fdinfo/FD` (octal).
pub fn fd_flags(fd: i32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    let v = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// The kernel's `tty_nr` encoding of a device number (`new_encode_dev`).
pub fn tty_nr(rdev: u64) -> u64 {
    let (major, minor) = (libc::major(rdev) as u64, libc::minor(rdev) as u64);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// Fields after the command of `/proc/PID/stat`: state is `[0]`, ppid
/// `[1]`, pgrp `[2]`, session `[3]`, tty_nr `[4]`, tpgid `[5]`.
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, tail) = stat.rsplit_once(") ")?;
    Some(tail.split_whitespace().map(str::to_string).collect())
}

/// The session leader (pid as /proc sees it) whose controlling terminal is
/// the tty `rdev`, and the tty's foreground process group: from the
/// leader's `tty_nr` and `tpgid`.
pub fn ctty_owner(rdev: u64) -> Option<(i32, i32)> {
    let want = tty_nr(rdev).to_string();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let Some(f) = stat_fields(&name) else {
            continue;
        };
        if f.len() > 5 && f[4] == want && f[3] == name {
            return Some((name.parse().ok()?, f[5].parse().ok()?));
        }
    }
    None
}

/// The `NSpid:` of `/proc/PID/status`: the pid in each pid namespace, the
/// one /proc sees first, the task's own last.
pub fn ns_pids(pid: i32) -> Vec<i32> {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    text.lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The pid of `pid` (as /proc sees it) in its own pid namespace.
pub fn own_ns_pid(pid: i32) -> Option<i32> {
    ns_pids(pid).last().copied()
}

/// Whether `major` is one of ckpt_pty's character devices (`/proc/devices`
/// names them `ckpt…`).
pub fn is_ckpt_major(major: u32) -> bool {
    let Ok(text) = fs::read_to_string("/proc/devices") else {
        return false;
    };
    text.lines()
        .skip_while(|l| !l.starts_with("Character devices"))
        .take_while(|l| !l.starts_with("Block devices"))
        .filter_map(|l| l.trim().split_once(' '))
        .any(|(m, name)| m.parse() == Ok(major) && name.contains("ckpt"))
}

/// `root` and all its descendants (pids as /proc sees them), from
/// `/proc/PID/task/TID/children`.
pub fn tree(root: i32) -> Vec<i32> {
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        let pid = all[i];
        i += 1;
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(text) = fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            all.extend(
                text.split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    all
}

/// Descriptor numbers of `pid`'s sockets.
pub fn socket_fds(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| {
            fs::read_link(e.path())
                .map(|l| l.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false)
        })
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect()
}

/// Mount points of ckptpts instances in this mount namespace.
pub fn ckptpts_mounts() -> Vec<String> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            let root = left.split_whitespace().nth(3)?;
            let point = left.split_whitespace().nth(4)?;
            (fstype == ckptctl::uapi::FS_TYPE && root == "/").then(|| point.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_nr_encoding() {
        // /dev/pts/1: 136:1 -> 34817
        assert_eq!(tty_nr(libc::makedev(136, 1)), 34817);
        assert_eq!(
            tty_nr(libc::makedev(240, 300)),
            (240 << 8) | 44 | (256 << 12)
        );
    }

    #[test]
    fn own_process() {
        let pid = std::process::id() as i32;
        assert_eq!(ns_pids(pid).first(), Some(&pid));
        assert!(fd_flags(0).is_some() || fd_flags(1).is_some() || fd_flags(2).is_some());
    }
}
