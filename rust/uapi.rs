// SPDX-License-Identifier: GPL-2.0
//! The user-space interface of ckpt_pty: device paths and ioctl numbers.
//!
//! Compiled into the module and, by path, into the user-space tools, so both
//! sides agree by construction.

/// Where devtmpfs shows the clone master.
pub const PTMX_PATH: &str = "/dev/ckpt/ptmx";
/// Directory of the slave nodes (`/dev/ckpt/pts/N`).
pub const PTS_DIR: &str = "/dev/ckpt/pts";

// Linux's own tty ioctls that the pty ends answer (asm-generic/ioctls.h,
// x86_64 values).
/// Get the slave's termios.
pub const TCGETS: u32 = 0x5401;
/// Set termios now.
pub const TCSETS: u32 = 0x5402;
/// Set termios after output drains.
pub const TCSETSW: u32 = 0x5403;
/// Set termios after output drains, flushing pending input.
pub const TCSETSF: u32 = 0x5404;
/// Send a break, or wait for output to drain (`tcdrain`).
pub const TCSBRK: u32 = 0x5409;
/// Flow control (`tcflow`).
pub const TCXONC: u32 = 0x540A;
/// Flush queues (`tcflush`).
pub const TCFLSH: u32 = 0x540B;
/// Exclusive mode on.
pub const TIOCEXCL: u32 = 0x540C;
/// Exclusive mode off.
pub const TIOCNXCL: u32 = 0x540D;
/// Make this the controlling terminal (refused: see Documentation).
pub const TIOCSCTTY: u32 = 0x540E;
/// Get the foreground process group.
pub const TIOCGPGRP: u32 = 0x540F;
/// Set the foreground process group.
pub const TIOCSPGRP: u32 = 0x5410;
/// Bytes in the output queue.
pub const TIOCOUTQ: u32 = 0x5411;
/// Get the window size.
pub const TIOCGWINSZ: u32 = 0x5413;
/// Set the window size.
pub const TIOCSWINSZ: u32 = 0x5414;
/// Bytes readable (`TIOCINQ`).
pub const FIONREAD: u32 = 0x541B;
/// Packet mode on the master.
pub const TIOCPKT: u32 = 0x5420;
/// Get the line discipline number.
pub const TIOCGETD: u32 = 0x5424;
/// `tcsendbreak` with a duration.
pub const TCSBRKP: u32 = 0x5425;
/// Get termios with speeds (`struct termios2`).
pub const TCGETS2: u32 = 0x802C_542A;
/// Set termios with speeds.
pub const TCSETS2: u32 = 0x402C_542B;
/// Set termios with speeds, after drain.
pub const TCSETSW2: u32 = 0x402C_542C;
/// Set termios with speeds, after drain and input flush.
pub const TCSETSF2: u32 = 0x402C_542D;
/// Get the pty index (`_IOR('T', 0x30, unsigned int)`).
pub const TIOCGPTN: u32 = 0x8004_5430;
/// Lock or unlock the slave (`_IOW('T', 0x31, int)`).
pub const TIOCSPTLCK: u32 = 0x4004_5431;
/// Send a signal to the slave's foreground process group.
pub const TIOCSIG: u32 = 0x4004_5436;
/// Get packet mode.
pub const TIOCGPKT: u32 = 0x8004_5438;
/// Get the slave lock (`_IOR('T', 0x39, int)`).
pub const TIOCGPTLCK: u32 = 0x8004_5439;
/// Get exclusive mode.
pub const TIOCGEXCL: u32 = 0x8004_5440;
/// Open the slave from its master and return the new fd.
pub const TIOCGPTPEER: u32 = 0x5441;
