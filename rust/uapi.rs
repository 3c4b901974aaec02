// SPDX-License-Identifier: GPL-2.0
//! The user-space interface of ckpt_pty: device paths and ioctl numbers.
//!
//! Compiled into the module and, by path, into the user-space tools, so both
//! sides agree by construction.

/// Where devtmpfs shows the clone master; it allocates in the `ckptpts`
/// instance mounted at [`PTS_DIR`] (as `/dev/ptmx` does with `/dev/pts`).
pub const PTMX_PATH: &str = "/dev/ckpt/ptmx";
/// Where the default `ckptpts` instance is mounted; its slave nodes are
/// `/dev/ckpt/pts/N`, and it has its own `ptmx` and `control` nodes.
pub const PTS_DIR: &str = "/dev/ckpt/pts";
/// The filesystem type of the pty nodes (`mount -t ckptpts none DIR`).
pub const FS_TYPE: &str = "ckptpts";
/// The line discipline number of ckpt_pty's slaves (`N_DEVELOPMENT`), what
/// `TIOCGETD` and `c_line` report.
pub const LDISC_CKPT: u32 = 29;

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
/// Make this the controlling terminal.
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
/// Give up the controlling terminal.
pub const TIOCNOTTY: u32 = 0x5422;
/// Set the line discipline.
pub const TIOCSETD: u32 = 0x5423;
/// Get the line discipline number.
pub const TIOCGETD: u32 = 0x5424;
/// `tcsendbreak` with a duration.
pub const TCSBRKP: u32 = 0x5425;
/// Get the session of the terminal.
pub const TIOCGSID: u32 = 0x5429;
/// Get termios in the old `struct termio`.
pub const TCGETA: u32 = 0x5405;
/// Set termios from `struct termio`.
pub const TCSETA: u32 = 0x5406;
/// Set termios from `struct termio` after drain.
pub const TCSETAW: u32 = 0x5407;
/// Set termios from `struct termio` after drain and flush.
pub const TCSETAF: u32 = 0x5408;
/// Get the soft carrier flag.
pub const TIOCGSOFTCAR: u32 = 0x5419;
/// Set the soft carrier flag.
pub const TIOCSSOFTCAR: u32 = 0x541A;
/// Get the locked termios bits.
pub const TIOCGLCKTRMIOS: u32 = 0x5456;
/// Set the locked termios bits (privileged).
pub const TIOCSLCKTRMIOS: u32 = 0x5457;
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

// ckpt_pty's own ioctls (type 0xC7), on either end of a pair.

/// The ioctl type of ckpt_pty's own commands.
pub const CKPT_IOC_TYPE: u32 = 0xC7;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (CKPT_IOC_TYPE << 8) | nr
}
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Freeze this end's stream: no data moves on either end until thawed.
pub const CKPT_FREEZE: u32 = ioc(IOC_NONE, 1, 0);
/// Thaw this end's stream.
pub const CKPT_THAW: u32 = ioc(IOC_NONE, 2, 0);
/// Read this stream's [`StreamStatus`].
pub const CKPT_STATUS: u32 = ioc(IOC_READ, 3, core::mem::size_of::<StreamStatus>());

/// [`StreamStatus::support`]: every module of the stream can be checkpointed.
pub const CKPT_SUPPORT_CHECKPOINT: u32 = 1;
/// [`StreamStatus::support`]: the stream can be restarted from an image.
pub const CKPT_SUPPORT_RESTART: u32 = 2;

/// [`StreamStatus::frozen`] bits.
pub const CKPT_FROZEN_MASTER: u32 = 1;
/// The slave stream is frozen.
pub const CKPT_FROZEN_SLAVE: u32 = 2;

/// [`StreamStatus::last_op`] values.
pub const CKPT_OP_NONE: u32 = 0;
/// Last operation: freeze.
pub const CKPT_OP_FREEZE: u32 = 1;
/// Last operation: thaw.
pub const CKPT_OP_THAW: u32 = 2;
/// Last operation: checkpoint.
pub const CKPT_OP_CHECKPOINT: u32 = 3;
/// Last operation: restart.
pub const CKPT_OP_RESTART: u32 = 4;

/// Status and statistics of one stream (`CKPT_STATUS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStatus {
    /// `CKPT_SUPPORT_*` bits.
    pub support: u32,
    /// `CKPT_FROZEN_*` bits of the pair.
    pub frozen: u32,
    /// `CKPT_OP_*` of the last checkpoint-related operation on this stream.
    pub last_op: u32,
    /// The pair's index (AT&T slave index, or BSD pair number).
    pub index: u32,
    /// 1 for the master stream, 2 for the slave stream.
    pub end: u32,
    /// 0 AT&T, 1 BSD.
    pub mode: u32,
    /// Bytes waiting for the master's reader.
    pub to_master: u32,
    /// Bytes on their way to the slave's reader (unprocessed and processed).
    pub to_slave: u32,
    /// Checkpoints taken of this stream.
    pub checkpoints: u64,
    /// Restarts of this stream.
    pub restarts: u64,
    /// Image bytes produced by checkpoints of this stream.
    pub checkpoint_bytes: u64,
    /// Image bytes consumed by restarts of this stream.
    pub restart_bytes: u64,
}

/// Path of the control device (restart sessions, global status).
pub const CONTROL_PATH: &str = "/dev/ckpt/control";

/// Checkpoint this end's stream into a user buffer ([`CheckpointArg`]).
pub const CKPT_CHECKPOINT: u32 = ioc(
    IOC_READ | IOC_WRITE,
    4,
    core::mem::size_of::<CheckpointArg>(),
);
/// Give this end its restart image ([`RestartArg`]): inside a restart
/// session for AT&T pairs, directly for BSD pairs.
pub const CKPT_RESTART: u32 = ioc(IOC_WRITE, 5, core::mem::size_of::<RestartArg>());

/// [`CheckpointArg::flags`]: leave the stream frozen afterwards (the
/// departure side of a migration).
pub const CKPT_LEAVE_FROZEN: u32 = 1;

/// Argument of [`CKPT_CHECKPOINT`]. With `buf_len` 0 it only reports the
/// size needed in `image_len`; a too small buffer gives `ERANGE` (and the
/// size). The stream is frozen for the checkpoint and thawed afterwards
/// unless [`CKPT_LEAVE_FROZEN`] (or it was frozen before).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointArg {
    /// User address of the image buffer.
    pub buf: u64,
    /// Its size in bytes.
    pub buf_len: u32,
    /// `CKPT_LEAVE_FROZEN`.
    pub flags: u32,
    /// Identifies the checkpoint (stored in the image's status block).
    pub checkpoint_id: u64,
    /// Out: bytes written, or needed.
    pub image_len: u32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// Argument of [`CKPT_RESTART`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartArg {
    /// User address of the image.
    pub buf: u64,
    /// Its length.
    pub buf_len: u32,
    /// Reserved, zero.
    pub flags: u32,
}

/// Begin a restart session on the control device ([`SessionArg`] with
/// [`RestartEntry`] records): claims every listed index (`EBUSY` if one is
/// held) and creates the pairs frozen, so their ends can be opened in any
/// order — slaves at `/dev/ckpt/pts/N`, masters with [`CKPT_OPEN_MASTER`].
pub const CKPT_SESSION_BEGIN: u32 = ioc(IOC_WRITE, 16, core::mem::size_of::<SessionArg>());
/// Commit the session: succeeds when every expected end (and socket) was
/// restored; otherwise fails with `ENXIO`, fills the orphan records and
/// rolls the session back.
pub const CKPT_SESSION_COMMIT: u32 =
    ioc(IOC_READ | IOC_WRITE, 17, core::mem::size_of::<CommitArg>());
/// Abort the session: every pair it created is hung up and removed.
pub const CKPT_SESSION_ABORT: u32 = ioc(IOC_NONE, 18, 0);
/// Open the master of a pair of the session at its original index; returns
/// the new file descriptor (an open file of `/dev/ckpt/ptmx`).
pub const CKPT_OPEN_MASTER: u32 = ioc(IOC_WRITE, 19, core::mem::size_of::<OpenMasterArg>());
/// Read the module's [`GlobalStatus`].
pub const CKPT_GLOBAL_STATUS: u32 = ioc(IOC_READ, 20, core::mem::size_of::<GlobalStatus>());

/// [`RestartEntry::ends`] bits.
pub const CKPT_END_MASTER: u32 = 1;
/// The slave end is expected.
pub const CKPT_END_SLAVE: u32 = 2;

/// One expected pair of a restart session.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartEntry {
    /// The pair's original index.
    pub index: u32,
    /// `CKPT_END_*` bits: which ends will be restored.
    pub ends: u32,
}

/// Argument of [`CKPT_SESSION_BEGIN`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionArg {
    /// User address of `count` [`RestartEntry`] records.
    pub entries: u64,
    /// Number of records.
    pub count: u32,
    /// Reserved, zero.
    pub flags: u32,
}

/// Size of one orphan record written by a failed commit: `u32 index; u16
/// kind (1 master, 2 slave, 3 socket); u16 reserved; socket identity`.
pub const ORPHAN_RECORD_LEN: usize = 52;

/// Argument of [`CKPT_SESSION_COMMIT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitArg {
    /// User address for orphan records.
    pub orphans: u64,
    /// Room for this many records.
    pub orphans_cap: u32,
    /// Out: number of orphans (all of them, even beyond `orphans_cap`).
    pub orphans_count: u32,
}

/// Argument of [`CKPT_OPEN_MASTER`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMasterArg {
    /// The pair's index.
    pub index: u32,
    /// Open flags (`O_RDWR`, `O_NONBLOCK`, `O_CLOEXEC`...).
    pub flags: u32,
}

/// Module-wide status ([`CKPT_GLOBAL_STATUS`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobalStatus {
    /// Image format version this module writes and reads.
    pub format_version: u32,
    /// Live AT&T pairs.
    pub pairs: u32,
    /// `max_pairs` parameter.
    pub max_pairs: u32,
    /// `bsd_pairs` parameter.
    pub bsd_pairs: u32,
    /// 1 while a restart session is open.
    pub session_active: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Checkpoints taken since load.
    pub checkpoints: u64,
    /// Stream restarts since load.
    pub restarts: u64,
    /// Image bytes written since load.
    pub checkpoint_bytes: u64,
    /// Image bytes consumed since load.
    pub restart_bytes: u64,
    /// Sessions committed since load.
    pub sessions_committed: u64,
    /// Sessions rolled back (failed commit or abort) since load.
    pub sessions_rolled_back: u64,
}

/// Identity of a socket a pair serves (telnet/rlogin-style logins):
/// addresses in network order, IPv4 in the first 4 bytes; ports in host
/// order; AF_UNIX sockets have no addresses here.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketRecord {
    /// `AF_INET`, `AF_INET6`, `AF_UNIX`...
    pub family: u16,
    /// `SOCK_STREAM`...
    pub sock_type: u16,
    /// `IPPROTO_TCP`...
    pub protocol: u16,
    /// Local port.
    pub local_port: u16,
    /// Remote port.
    pub remote_port: u16,
    /// Reserved, zero.
    pub reserved: u16,
    /// Local address.
    pub local_addr: [u8; 16],
    /// Remote address.
    pub remote_addr: [u8; 16],
}

/// Record that this pair serves the socket whose descriptor is the
/// argument (an int, not a pointer); its identity is kept with the pair.
pub const CKPT_SOCKET_SET: u32 = ioc(IOC_NONE, 6, 0);
/// Read the identity of the pair's associated socket ([`SocketRecord`]);
/// `ENOENT` when none.
pub const CKPT_SOCKET_GET: u32 = ioc(IOC_READ, 7, core::mem::size_of::<SocketRecord>());
/// Begin a session whose pairs may expect sockets ([`SessionArg`] with
/// [`RestartSocketEntry`] records).
pub const CKPT_SESSION_BEGIN_SOCKETS: u32 = ioc(IOC_WRITE, 21, core::mem::size_of::<SessionArg>());
/// On the control device: the socket whose descriptor is the argument was
/// restored; the session matches it to the pair expecting its identity.
/// Returns that pair's index.
pub const CKPT_SOCKET_RESTORED: u32 = ioc(IOC_NONE, 22, 0);

/// One expected pair of a session begun with [`CKPT_SESSION_BEGIN_SOCKETS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartSocketEntry {
    /// The pair's original index.
    pub index: u32,
    /// `CKPT_END_*` bits.
    pub ends: u32,
    /// 1 when `socket` is expected.
    pub has_socket: u32,
    /// The associated socket's identity.
    pub socket: SocketRecord,
}
