// SPDX-License-Identifier: GPL-2.0
//! The user-space interface of ckpt_pty: device paths and ioctl numbers.
//!
//! Compiled into the module and, by path, into the user-space tools, so both
//! sides agree by construction; `include/uapi/linux/ckpt_pty.h` mirrors it for
//! C users and a test checks the two against each other.

/// Where devtmpfs shows the clone master.
pub const PTMX_PATH: &str = "/dev/ckpt/ptmx";
/// Directory of the slave nodes (`/dev/ckpt/pts/N`).
pub const PTS_DIR: &str = "/dev/ckpt/pts";

// Linux's own tty ioctls that the pty ends answer (asm-generic/ioctls.h).
/// Get the pty index (`_IOR('T', 0x30, unsigned int)`).
pub const TIOCGPTN: u32 = 0x8004_5430;
/// Lock or unlock the slave (`_IOW('T', 0x31, int)`).
pub const TIOCSPTLCK: u32 = 0x4004_5431;
/// Get the slave lock (`_IOR('T', 0x39, int)`).
pub const TIOCGPTLCK: u32 = 0x8004_5439;
