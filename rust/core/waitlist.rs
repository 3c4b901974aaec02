// SPDX-License-Identifier: GPL-2.0
//! The wait lists of a restart session (AT&T mode), as pure logic.
//!
//! A restart opens the ends of the checkpointed pairs in whatever order the
//! restoring processes reach them — master first, slave first, minor 2
//! before minor 0 — and each end gets its restart data by ioctl. A
//! [`RestartSession`] follows that restore and tells, at commit, whether
//! every expected end and socket came back; if not, it names each orphan.
//!
//! # Protocol
//!
//! 1. [`RestartSession::begin`] opens a session for minors `0..max`.
//! 2. [`RestartSession::expect`] registers one pair of the image: which ends
//!    are expected (a process may have held only the slave, or only the
//!    master) and the identity of its associated socket, if any. A restore
//!    tool calls it once per pair (`ckptctl` or CRIU walking their table).
//!    Pairs may come in any order; ascending order is cheapest.
//! 3. [`RestartSession::seal`] ends registration (sorts, rejects duplicate
//!    indexes and duplicate socket identities).
//! 4. Events, in any order: [`RestartSession::master_restored`],
//!    [`RestartSession::slave_restored`], [`RestartSession::socket_restored`].
//!    Each is validated; a refused event changes nothing.
//! 5. [`RestartSession::commit`] succeeds only when every expected end and
//!    socket arrived (then the three lists are empty). Otherwise it changes
//!    nothing and returns the [`Orphans`] (index order; master, slave, socket
//!    within an index) for the kernel log and for user space
//!    ([`Orphan::to_record`]); the kernel then calls
//!    [`RestartSession::abort`], which yields every pair with a restored end
//!    so that they can be torn down.
//!
//! Only expected pairs cost memory: 12 bytes per pair (16 after sealing) in
//! one [`Storage`], 52 bytes per associated socket in another. Each event is
//! O(log n): a binary search in the sorted pair (or socket) table plus a
//! Fenwick tree over the pair table that finds the highest waiting slave.
//!
//! BSD mode does not use a session: its pairs have fixed names, no ordering
//! rule, and restart loads their state directly.
//!
//! # The lists
//!
//! Each list is a function of the set of items restored so far, never of
//! the order in which they came (any two orders of the same events leave the
//! same lists). With *H* the highest minor that has a real PTS entry:
//!
//! * [`PtsList`], ordered by minor:
//!   * `Real(n)`: slave `n` restored, master `n` expected and not restored
//!     (an opened slave waiting for its master);
//!   * `Dummy(k)`: `k < H` belongs to the session and neither end of `k` is
//!     restored (a place held for a lesser minor not yet opened).
//! * [`PtmWaitList`]: master `n` restored, slave `n` expected and not
//!   restored.
//! * [`SocketWaitList`]: every expected end of `n` restored, its socket
//!   expected and not matched yet.
//!
//! Read as events:
//!
//! * Slave `n` restored, master expected but missing: `n` becomes `Real`
//!   (a `Dummy(n)` turns into it). If `n > H`, every session minor below
//!   `n` with no end restored that was not already a dummy gets a `Dummy`.
//! * Slave `n` restored, master restored or not expected: `Dummy(n)` (if
//!   any) leaves; `n` leaves the PTM wait list; if its socket is expected
//!   and unmatched, `n` enters the socket wait list.
//! * Master `n` restored: `Real(n)` or `Dummy(n)` leaves the PTS list; if
//!   `n` was *H*, the dummies above the next highest real entry leave too
//!   (they held places below a slave that no longer waits). Then `n` enters
//!   the PTM wait list if its slave is expected and missing, else the
//!   socket wait list if its socket is expected and unmatched.
//! * Socket matched to pair `n`: `n` leaves the socket wait list, or never
//!   enters it.
//!
//! # Invariants
//!
//! No minor is on two lists; the PTS list is strictly ascending, ends with a
//! real entry, and below *H* it is gap-free: every session minor `k < H` is
//! on it or has an end restored. Every list entry stands for a missing item
//! (a real entry for its master, a dummy for its ends, a PTM entry for its
//! slave, a socket entry for its socket), so the lists are empty when the
//! session is complete. The converse does not hold (before any event all
//! lists are empty): commit checks completeness itself.

use core::cmp::Ordering;
use core::fmt;

use super::codec::{FieldError, FieldReader, FieldWriter};
use super::end::End;
use super::errno::Errno;
use super::storage::{AllocError, Storage};

/// A non-empty set of ends of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ends {
    /// Only the master end.
    Master,
    /// Only the slave end.
    Slave,
    /// Both ends.
    Both,
}

impl Ends {
    /// The set holding `master` and/or `slave`, or `None` when empty.
    pub fn from_parts(master: bool, slave: bool) -> Option<Self> {
        match (master, slave) {
            (true, true) => Some(Self::Both),
            (true, false) => Some(Self::Master),
            (false, true) => Some(Self::Slave),
            (false, false) => None,
        }
    }

    /// Whether the master end is in the set.
    pub fn has_master(self) -> bool {
        matches!(self, Self::Master | Self::Both)
    }

    /// Whether the slave end is in the set.
    pub fn has_slave(self) -> bool {
        matches!(self, Self::Slave | Self::Both)
    }

    /// Whether `end` is in the set.
    pub fn has(self, end: End) -> bool {
        match end {
            End::Master => self.has_master(),
            End::Slave => self.has_slave(),
        }
    }
}

/// Identity of the socket a pair serves (telnet/rlogin-style login), as
/// the checkpoint recorded it. Addresses are in network byte order (IPv4 in
/// the first 4 bytes), ports as recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId {
    /// Address family (`AF_INET`, `AF_INET6`, ...).
    pub family: u16,
    /// Socket type (`SOCK_STREAM`, ...).
    pub sock_type: u16,
    /// Protocol (`IPPROTO_TCP`, ...).
    pub protocol: u16,
    /// Local address.
    pub local_addr: [u8; 16],
    /// Local port.
    pub local_port: u16,
    /// Remote address.
    pub remote_addr: [u8; 16],
    /// Remote port.
    pub remote_port: u16,
}

impl SocketId {
    /// Bytes of an encoded identity: family, type, protocol and the two
    /// ports (`u16` each) and the two 16-byte addresses. The socket table
    /// and the checkpoint's ptm block both encode it in this many bytes.
    pub const ENCODED_LEN: usize = 5 * 2 + 2 * 16;

    /// Writes the encoding used in the socket table: family, type,
    /// protocol, local address and port, remote address and port. Byte
    /// order only matters for sorting, which needs nothing but a total
    /// order consistent with `==`.
    fn write_key(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u16(self.family)?;
        w.put_u16(self.sock_type)?;
        w.put_u16(self.protocol)?;
        w.put_bytes(&self.local_addr)?;
        w.put_u16(self.local_port)?;
        w.put_bytes(&self.remote_addr)?;
        w.put_u16(self.remote_port)
    }

    /// Reads what [`Self::write_key`] writes.
    fn read_key(r: &mut FieldReader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            family: r.get_u16()?,
            sock_type: r.get_u16()?,
            protocol: r.get_u16()?,
            local_addr: r.get_array()?,
            local_port: r.get_u16()?,
            remote_addr: r.get_array()?,
            remote_port: r.get_u16()?,
        })
    }

    /// The socket-table key of this identity.
    fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut b = [0u8; Self::ENCODED_LEN];
        // Exactly `ENCODED_LEN` bytes: the write cannot fall short.
        let _ = self.write_key(&mut FieldWriter::new(&mut b));
        b
    }

    /// The identity at the start of a socket-table record (all zero if
    /// the record is missing).
    fn decode(b: &[u8]) -> Self {
        Self::read_key(&mut FieldReader::new(b)).unwrap_or_default()
    }
}

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One address and port, formatted by family.
struct Endpoint<'a> {
    family: u16,
    addr: &'a [u8; 16],
    port: u16,
}

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            AF_INET => {
                let [a, b, c, d, ..] = *self.addr;
                write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
            }
            AF_INET6 => {
                f.write_str("[")?;
                for (i, g) in self.addr.chunks_exact(2).enumerate() {
                    if i != 0 {
                        f.write_str(":")?;
                    }
                    let hi = g.first().copied().unwrap_or(0);
                    let lo = g.get(1).copied().unwrap_or(0);
                    write!(f, "{:x}", u16::from_be_bytes([hi, lo]))?;
                }
                write!(f, "]:{}", self.port)
            }
            _ => {
                for b in self.addr {
                    write!(f, "{b:02x}")?;
                }
                write!(f, ":{}", self.port)
            }
        }
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            AF_UNIX => f.write_str("unix")?,
            AF_INET => f.write_str("inet")?,
            AF_INET6 => f.write_str("inet6")?,
            other => write!(f, "family {other}")?,
        }
        write!(
            f,
            " type {} proto {} {} -> {}",
            self.sock_type,
            self.protocol,
            Endpoint {
                family: self.family,
                addr: &self.local_addr,
                port: self.local_port,
            },
            Endpoint {
                family: self.family,
                addr: &self.remote_addr,
                port: self.remote_port,
            }
        )
    }
}

/// Why the session refused a call. A refused call changes nothing.
///
/// The errno of each variant ([`SessionError::errno`]) is what the control
/// device returns: an argument of `CKPT_SESSION_BEGIN` the session cannot
/// take is `EINVAL` (`ckptctl` reads it as an index beyond the instance's
/// `max`), a name it does not know `ENOENT`, a second restore of the same
/// item `EBUSY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// The index is not below the session's `max`. `EINVAL`.
    OutOfRange {
        /// The index given.
        index: u32,
    },
    /// The index was registered twice. Found by `expect` when pairs come in
    /// ascending order, else by `seal`; `expect` also reports it once `max`
    /// pairs are registered. `EINVAL`.
    DuplicateIndex {
        /// The index registered twice.
        index: u32,
    },
    /// Two pairs expect the same socket identity; found by `seal`.
    /// `EINVAL`.
    DuplicateSocket {
        /// The lower of the two pair indexes.
        first: u32,
        /// The higher of the two pair indexes.
        second: u32,
    },
    /// The index is not in the session. `ENOENT`.
    UnknownIndex {
        /// The index given.
        index: u32,
    },
    /// This end of the pair was not checkpointed. `EINVAL`.
    NotExpected {
        /// The pair.
        index: u32,
        /// The end.
        end: End,
    },
    /// This end was restored already. `EBUSY`.
    AlreadyRestored {
        /// The pair.
        index: u32,
        /// The end.
        end: End,
    },
    /// No pair expects this socket identity. `ENOENT`.
    UnknownSocket,
    /// The socket of this pair was matched already. `EBUSY`.
    SocketAlreadyRestored {
        /// The pair.
        index: u32,
    },
    /// Registration is over. `EBUSY`.
    Sealed,
    /// Restore events before `seal`. `EINVAL`.
    NotSealed,
    /// The session was committed or aborted. `EINVAL`.
    Closed,
    /// A table could not grow. `ENOMEM`.
    NoMemory,
}

impl SessionError {
    /// The errno for this error (see the variants).
    pub const fn errno(&self) -> Errno {
        match self {
            Self::UnknownIndex { .. } | Self::UnknownSocket => Errno::ENOENT,
            Self::AlreadyRestored { .. } | Self::SocketAlreadyRestored { .. } | Self::Sealed => {
                Errno::EBUSY
            }
            Self::NoMemory => Errno::ENOMEM,
            Self::OutOfRange { .. }
            | Self::DuplicateIndex { .. }
            | Self::DuplicateSocket { .. }
            | Self::NotExpected { .. }
            | Self::NotSealed
            | Self::Closed => Errno::EINVAL,
        }
    }
}

impl From<AllocError> for SessionError {
    fn from(_: AllocError) -> Self {
        Self::NoMemory
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfRange { index } => write!(f, "pty {index}: index out of range"),
            Self::DuplicateIndex { index } => write!(f, "pty {index}: registered twice"),
            Self::DuplicateSocket { first, second } => {
                write!(f, "pty {first} and pty {second}: same socket")
            }
            Self::UnknownIndex { index } => write!(f, "pty {index}: not in the session"),
            Self::NotExpected { index, end } => {
                write!(f, "pty {index}: {} not checkpointed", end.name())
            }
            Self::AlreadyRestored { index, end } => {
                write!(f, "pty {index}: {} restored twice", end.name())
            }
            Self::UnknownSocket => f.write_str("socket matches no pty"),
            Self::SocketAlreadyRestored { index } => {
                write!(f, "pty {index}: socket restored twice")
            }
            Self::Sealed => f.write_str("session sealed"),
            Self::NotSealed => f.write_str("session not sealed"),
            Self::Closed => f.write_str("session closed"),
            Self::NoMemory => f.write_str("out of memory"),
        }
    }
}

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Pairs are being registered.
    Registering,
    /// Sealed; restore events are accepted.
    Restoring,
    /// Committed: the restore is complete.
    Committed,
    /// Aborted: the restored ends are to be torn down.
    Aborted,
}

/// An entry of the [`PtsList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtsEntry {
    /// The slave of this minor is restored and waits for its master.
    Real(u32),
    /// Nothing of this minor is restored yet; it lies below a waiting slave.
    Dummy(u32),
}

impl PtsEntry {
    /// The minor of the entry.
    pub fn index(self) -> u32 {
        match self {
            Self::Real(i) | Self::Dummy(i) => i,
        }
    }
}

/// What is missing of a pair at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanKind {
    /// Its master end was not restored.
    Master,
    /// Its slave end was not restored.
    Slave,
    /// This associated socket was not restored.
    Socket(SocketId),
}

/// An expected item that was not restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orphan {
    /// The pair.
    pub index: u32,
    /// What is missing.
    pub what: OrphanKind,
}

/// Size of [`Orphan::to_record`]: the user-space record
///
/// ```text
/// struct ckpt_pty_orphan {          /* native endian */
///     __u32 index;
///     __u16 kind;                   /* 1 master, 2 slave, 3 socket */
///     __u16 reserved;               /* 0 */
///     __u16 family, type, protocol; /* socket only, else 0 */
///     __u16 local_port, remote_port;
///     __u16 reserved2;              /* 0 */
///     __u8  local_addr[16];
///     __u8  remote_addr[16];
/// };
/// ```
pub const ORPHAN_RECORD_LEN: usize = 52;

/// `kind` of a missing master in an orphan record.
pub const ORPHAN_MASTER: u16 = 1;
/// `kind` of a missing slave in an orphan record.
pub const ORPHAN_SLAVE: u16 = 2;
/// `kind` of a missing socket in an orphan record.
pub const ORPHAN_SOCKET: u16 = 3;

impl Orphan {
    /// The fixed-size user-space record (see [`ORPHAN_RECORD_LEN`]).
    pub fn to_record(&self) -> [u8; ORPHAN_RECORD_LEN] {
        let mut r = [0u8; ORPHAN_RECORD_LEN];
        // Exactly `ORPHAN_RECORD_LEN` bytes: the write cannot fall short.
        let _ = self.write_record(&mut FieldWriter::new(&mut r));
        r
    }

    /// Writes the record, native endian; a master or slave orphan has an
    /// all-zero socket part.
    fn write_record(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        let (kind, socket) = match self.what {
            OrphanKind::Master => (ORPHAN_MASTER, SocketId::default()),
            OrphanKind::Slave => (ORPHAN_SLAVE, SocketId::default()),
            OrphanKind::Socket(s) => (ORPHAN_SOCKET, s),
        };
        w.put_u32_ne(self.index)?;
        w.put_u16_ne(kind)?;
        w.put_u16_ne(0)?;
        w.put_u16_ne(socket.family)?;
        w.put_u16_ne(socket.sock_type)?;
        w.put_u16_ne(socket.protocol)?;
        w.put_u16_ne(socket.local_port)?;
        w.put_u16_ne(socket.remote_port)?;
        w.put_u16_ne(0)?;
        w.put_bytes(&socket.local_addr)?;
        w.put_bytes(&socket.remote_addr)
    }

    /// Decode a record made by [`Orphan::to_record`]; `None` for an unknown
    /// kind. Reserved fields are not looked at.
    pub fn from_record(r: &[u8; ORPHAN_RECORD_LEN]) -> Option<Self> {
        Self::read_record(&mut FieldReader::new(r)).ok().flatten()
    }

    fn read_record(r: &mut FieldReader<'_>) -> Result<Option<Self>, FieldError> {
        let index = r.get_u32_ne()?;
        let kind = r.get_u16_ne()?;
        r.get_u16_ne()?;
        let family = r.get_u16_ne()?;
        let sock_type = r.get_u16_ne()?;
        let protocol = r.get_u16_ne()?;
        let local_port = r.get_u16_ne()?;
        let remote_port = r.get_u16_ne()?;
        r.get_u16_ne()?;
        let local_addr = r.get_array()?;
        let remote_addr = r.get_array()?;
        let what = match kind {
            ORPHAN_MASTER => OrphanKind::Master,
            ORPHAN_SLAVE => OrphanKind::Slave,
            ORPHAN_SOCKET => OrphanKind::Socket(SocketId {
                family,
                sock_type,
                protocol,
                local_addr,
                local_port,
                remote_addr,
                remote_port,
            }),
            _ => return Ok(None),
        };
        Ok(Some(Self { index, what }))
    }
}

impl fmt::Display for Orphan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            OrphanKind::Master => write!(f, "pty {} master", self.index),
            OrphanKind::Slave => write!(f, "pty {} slave", self.index),
            OrphanKind::Socket(s) => write!(f, "pty {} socket ({s})", self.index),
        }
    }
}

/// What is known of one registered pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairStatus {
    /// The pair's index (slave minor).
    pub index: u32,
    /// The ends the checkpoint holds.
    pub expected: Ends,
    /// The associated socket, if any.
    pub socket: Option<SocketId>,
    /// Whether the master end was restored.
    pub master_restored: bool,
    /// Whether the slave end was restored.
    pub slave_restored: bool,
    /// Whether the associated socket was matched.
    pub socket_restored: bool,
}

// Pair table: records of `PAIR_REC` bytes sorted by index (once sealed),
// then the Fenwick tree (`FEN` bytes per pair).
const PAIR_REC: usize = 12;
const PAIR_INDEX: usize = 0;
const PAIR_FLAGS: usize = 4;
const PAIR_SOCKET: usize = 8;
const FEN: usize = 4;
const PAIR_SEALED: usize = 16;

// Socket table: records of `SOCK_REC` bytes sorted by encoded identity.
const SOCK_REC: usize = 52;
const SOCK_INDEX: usize = 44;
const SOCK_PAIR: usize = 48;

const MIN_RECORDS: usize = 16;

// Pair flags.
const EXP_MASTER: u8 = 1;
const EXP_SLAVE: u8 = 2;
const EXP_SOCKET: u8 = 4;
const GOT_MASTER: u8 = 8;
const GOT_SLAVE: u8 = 16;
const GOT_SOCKET: u8 = 32;

/// The flags of one pair record, and the list rules over them.
#[derive(Clone, Copy)]
struct Flags(u8);

impl Flags {
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn expects(self, end: End) -> bool {
        self.has(match end {
            End::Master => EXP_MASTER,
            End::Slave => EXP_SLAVE,
        })
    }

    fn got(self, end: End) -> bool {
        self.has(match end {
            End::Master => GOT_MASTER,
            End::Slave => GOT_SLAVE,
        })
    }

    fn missing(self, exp: u8, got: u8) -> bool {
        self.has(exp) && !self.has(got)
    }

    /// A real entry of the PTS list.
    fn is_real(self) -> bool {
        self.has(GOT_SLAVE) && self.missing(EXP_MASTER, GOT_MASTER)
    }

    /// No end restored: a dummy when below the highest real entry.
    fn untouched(self) -> bool {
        !self.has(GOT_MASTER) && !self.has(GOT_SLAVE)
    }

    fn ends_done(self) -> bool {
        !self.missing(EXP_MASTER, GOT_MASTER) && !self.missing(EXP_SLAVE, GOT_SLAVE)
    }

    fn on_ptm_wait(self) -> bool {
        self.has(GOT_MASTER) && self.missing(EXP_SLAVE, GOT_SLAVE)
    }

    fn on_socket_wait(self) -> bool {
        self.ends_done() && self.missing(EXP_SOCKET, GOT_SOCKET)
    }

    fn restored(self) -> Option<Ends> {
        Ends::from_parts(self.has(GOT_MASTER), self.has(GOT_SLAVE))
    }
}

/// A restart session of AT&T-mode pairs: the registered pairs, what has
/// been restored of them, and the three wait lists (see the module doc for
/// the rules).
///
/// # Invariants
///
/// `pairs` holds `n` records (sorted by index and free of duplicates once
/// sealed), followed after sealing by a Fenwick tree of `n` counters where
/// position `p` counts 1 exactly when record `p` is a real PTS entry.
/// `sockets` holds `n_sockets` records, sorted by identity once sealed,
/// each naming its pair's position; the pair's record names it back.
/// `missing`, `real`, `ptm` and `socket_wait` count the expected items not
/// restored, the real PTS entries, the PTM wait list and the socket wait
/// list.
#[derive(Debug)]
pub struct RestartSession<S: Storage> {
    pairs: S,
    sockets: S,
    max: u32,
    n: usize,
    n_sockets: usize,
    ascending: bool,
    phase: Phase,
    missing: usize,
    real: usize,
    ptm: usize,
    socket_wait: usize,
}

impl<S: Storage> RestartSession<S> {
    /// A session for minors `0..max`, with its pair table in `pairs` and
    /// its socket table in `sockets` (both emptied; they grow as pairs are
    /// registered).
    pub fn begin(mut pairs: S, mut sockets: S, max: u32) -> Self {
        pairs.release();
        sockets.release();
        Self {
            pairs,
            sockets,
            max,
            n: 0,
            n_sockets: 0,
            ascending: true,
            phase: Phase::Registering,
            missing: 0,
            real: 0,
            ptm: 0,
            socket_wait: 0,
        }
    }

    /// Register pair `index`: the `ends` the checkpoint holds and its
    /// associated socket, if any.
    pub fn expect(
        &mut self,
        index: u32,
        ends: Ends,
        socket: Option<SocketId>,
    ) -> Result<(), SessionError> {
        self.open_for(Phase::Registering)?;
        if index >= self.max {
            return Err(SessionError::OutOfRange { index });
        }
        if self.n >= self.max as usize {
            return Err(SessionError::DuplicateIndex { index });
        }
        let mut ascending = self.ascending;
        if let Some(last) = self.n.checked_sub(1) {
            let last = read_u32(self.pairs.as_slice(), rec_off(last, PAIR_REC, PAIR_INDEX));
            if index == last {
                return Err(SessionError::DuplicateIndex { index });
            }
            ascending &= index > last;
        }
        // Grow both tables before writing, so that a failure changes nothing.
        let n1 = self.n.saturating_add(1);
        grow_for(&mut self.pairs, n1, PAIR_REC)?;
        if socket.is_some() {
            grow_for(
                &mut self.sockets,
                self.n_sockets.saturating_add(1),
                SOCK_REC,
            )?;
        }
        let mut flags = 0u8;
        let mut items = 0usize;
        if ends.has_master() {
            flags |= EXP_MASTER;
            items = items.saturating_add(1);
        }
        if ends.has_slave() {
            flags |= EXP_SLAVE;
            items = items.saturating_add(1);
        }
        if let Some(id) = socket {
            flags |= EXP_SOCKET;
            items = items.saturating_add(1);
            let b = self.sockets.as_mut_slice();
            write_key(b, rec_off(self.n_sockets, SOCK_REC, 0), &id);
            write_u32(b, rec_off(self.n_sockets, SOCK_REC, SOCK_INDEX), index);
            self.n_sockets = self.n_sockets.saturating_add(1);
        }
        let b = self.pairs.as_mut_slice();
        write_u32(b, rec_off(self.n, PAIR_REC, PAIR_INDEX), index);
        write_u8(b, rec_off(self.n, PAIR_REC, PAIR_FLAGS), flags);
        write_u32(b, rec_off(self.n, PAIR_REC, PAIR_SOCKET), u32::MAX);
        self.n = n1;
        self.ascending = ascending;
        self.missing = self.missing.saturating_add(items);
        Ok(())
    }

    /// End registration: from now on restore events are accepted.
    pub fn seal(&mut self) -> Result<(), SessionError> {
        self.open_for(Phase::Registering)?;
        let n = self.n;
        let pairs_len = n.saturating_mul(PAIR_REC);
        if !self.ascending {
            if let Some(b) = self.pairs.as_mut_slice().get_mut(..pairs_len) {
                sort_records(b, PAIR_REC, n, cmp_pairs);
            }
            self.ascending = true;
        }
        for p in 1..n {
            let b = self.pairs.as_slice();
            let index = read_u32(b, rec_off(p, PAIR_REC, PAIR_INDEX));
            if read_u32(b, rec_off(p.saturating_sub(1), PAIR_REC, PAIR_INDEX)) == index {
                return Err(SessionError::DuplicateIndex { index });
            }
        }
        let ns = self.n_sockets;
        if let Some(b) = self
            .sockets
            .as_mut_slice()
            .get_mut(..ns.saturating_mul(SOCK_REC))
        {
            sort_records(b, SOCK_REC, ns, cmp_sockets);
        }
        for s in 1..ns {
            let b = self.sockets.as_slice();
            let prev = record(b, SOCK_REC, s.saturating_sub(1));
            let this = record(b, SOCK_REC, s);
            if cmp_sockets(prev, this) == Ordering::Equal {
                let a = read_u32(prev, SOCK_INDEX);
                let c = read_u32(this, SOCK_INDEX);
                return Err(SessionError::DuplicateSocket {
                    first: a.min(c),
                    second: a.max(c),
                });
            }
        }
        // The Fenwick tree after the records, all zero: nothing restored.
        let total = n.checked_mul(PAIR_SEALED).ok_or(SessionError::NoMemory)?;
        if self.pairs.len() < total {
            self.pairs.try_grow_to(total)?;
        }
        if let Some(fen) = self.pairs.as_mut_slice().get_mut(pairs_len..total) {
            fen.fill(0);
        }
        for s in 0..ns {
            let index = read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_INDEX));
            let Some(p) = self.find_pair(index) else {
                continue;
            };
            let (p32, s32) = (to_u32(p), to_u32(s));
            write_u32(
                self.sockets.as_mut_slice(),
                rec_off(s, SOCK_REC, SOCK_PAIR),
                p32,
            );
            write_u32(
                self.pairs.as_mut_slice(),
                rec_off(p, PAIR_REC, PAIR_SOCKET),
                s32,
            );
        }
        self.phase = Phase::Restoring;
        Ok(())
    }

    /// The master end of pair `index` was restored.
    pub fn master_restored(&mut self, index: u32) -> Result<(), SessionError> {
        self.end_restored(index, End::Master)
    }

    /// The slave end of pair `index` was restored.
    pub fn slave_restored(&mut self, index: u32) -> Result<(), SessionError> {
        self.end_restored(index, End::Slave)
    }

    /// `end` of pair `index` was restored.
    pub fn end_restored(&mut self, index: u32, end: End) -> Result<(), SessionError> {
        self.open_for(Phase::Restoring)?;
        let p = self
            .find_pair(index)
            .ok_or(SessionError::UnknownIndex { index })?;
        let before = self.flags(p);
        if !before.expects(end) {
            return Err(SessionError::NotExpected { index, end });
        }
        if before.got(end) {
            return Err(SessionError::AlreadyRestored { index, end });
        }
        let after = Flags(
            before.0
                | match end {
                    End::Master => GOT_MASTER,
                    End::Slave => GOT_SLAVE,
                },
        );
        self.apply(p, before, after);
        Ok(())
    }

    /// The socket `id` was restored; returns the index of the pair that
    /// expects it.
    pub fn socket_restored(&mut self, id: &SocketId) -> Result<u32, SessionError> {
        self.open_for(Phase::Restoring)?;
        let s = self.find_socket(id).ok_or(SessionError::UnknownSocket)?;
        let p = read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_PAIR)) as usize;
        let index = self.index_at(p);
        let before = self.flags(p);
        if before.has(GOT_SOCKET) {
            return Err(SessionError::SocketAlreadyRestored { index });
        }
        self.apply(p, before, Flags(before.0 | GOT_SOCKET));
        Ok(index)
    }

    /// Finish the restore. Succeeds (and closes the session) only when every
    /// expected end and socket was restored; otherwise changes nothing and
    /// names the orphans.
    pub fn commit(&mut self) -> Result<(), CommitError<'_, S>> {
        if let Err(e) = self.open_for(Phase::Restoring) {
            return Err(CommitError::Session(e));
        }
        if self.missing != 0 {
            return Err(CommitError::Orphans(Orphans { session: self }));
        }
        self.phase = Phase::Committed;
        Ok(())
    }

    /// Roll the session back: closes it and yields every pair with a
    /// restored end, in index order, for the caller to tear down.
    pub fn abort(&mut self) -> Result<Restored<'_, S>, SessionError> {
        match self.phase {
            Phase::Registering | Phase::Restoring => {
                self.phase = Phase::Aborted;
                Ok(self.restored())
            }
            Phase::Committed | Phase::Aborted => Err(SessionError::Closed),
        }
    }

    /// Where the session stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The session covers minors `0..max`.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Number of registered pairs.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no pair is registered.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether every expected end and socket was restored.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Number of expected ends and sockets not restored yet.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// Whether the three lists are empty, in O(1).
    pub fn lists_empty(&self) -> bool {
        self.real == 0 && self.ptm == 0 && self.socket_wait == 0
    }

    /// Status of pair `index` (O(log n) once sealed, O(n) before).
    pub fn pair(&self, index: u32) -> Option<PairStatus> {
        let p = if self.phase == Phase::Registering {
            (0..self.n).find(|&p| self.index_at(p) == index)?
        } else {
            self.find_pair(index)?
        };
        Some(self.status_at(p))
    }

    /// Status of every registered pair, in table order (index order once
    /// sealed).
    pub fn pairs(&self) -> impl Iterator<Item = PairStatus> + '_ {
        (0..self.n).map(move |p| self.status_at(p))
    }

    /// The PTS list.
    pub fn pts_list(&self) -> PtsList<'_, S> {
        PtsList { session: self }
    }

    /// The PTM wait list.
    pub fn ptm_wait_list(&self) -> PtmWaitList<'_, S> {
        PtmWaitList { session: self }
    }

    /// The waiting-for-socket list.
    pub fn socket_wait_list(&self) -> SocketWaitList<'_, S> {
        SocketWaitList { session: self }
    }

    /// What is still missing, in index order.
    pub fn orphans(&self) -> Orphans<'_, S> {
        Orphans { session: self }
    }

    /// Every pair with a restored end, in index order.
    pub fn restored(&self) -> Restored<'_, S> {
        Restored {
            session: self,
            pos: 0,
        }
    }

    fn open_for(&self, want: Phase) -> Result<(), SessionError> {
        match (self.phase, want) {
            (a, b) if a == b => Ok(()),
            (Phase::Committed | Phase::Aborted, _) => Err(SessionError::Closed),
            (Phase::Restoring, _) => Err(SessionError::Sealed),
            (_, _) => Err(SessionError::NotSealed),
        }
    }

    /// Move pair `p` from `before` to `after`, keeping counters and the
    /// Fenwick tree in step.
    fn apply(&mut self, p: usize, before: Flags, after: Flags) {
        write_u8(
            self.pairs.as_mut_slice(),
            rec_off(p, PAIR_REC, PAIR_FLAGS),
            after.0,
        );
        self.missing = self.missing.saturating_sub(1);
        match (before.is_real(), after.is_real()) {
            (false, true) => {
                self.fen_update(p, true);
                self.real = self.real.saturating_add(1);
            }
            (true, false) => {
                self.fen_update(p, false);
                self.real = self.real.saturating_sub(1);
            }
            _ => {}
        }
        step(&mut self.ptm, before.on_ptm_wait(), after.on_ptm_wait());
        step(
            &mut self.socket_wait,
            before.on_socket_wait(),
            after.on_socket_wait(),
        );
    }

    fn flags(&self, p: usize) -> Flags {
        Flags(read_u8(
            self.pairs.as_slice(),
            rec_off(p, PAIR_REC, PAIR_FLAGS),
        ))
    }

    fn index_at(&self, p: usize) -> u32 {
        read_u32(self.pairs.as_slice(), rec_off(p, PAIR_REC, PAIR_INDEX))
    }

    fn socket_at(&self, p: usize) -> Option<SocketId> {
        if !self.flags(p).has(EXP_SOCKET) {
            return None;
        }
        let b = self.pairs.as_slice();
        let s = if self.phase == Phase::Registering {
            // Not linked yet: look the pair up by index.
            let index = read_u32(b, rec_off(p, PAIR_REC, PAIR_INDEX));
            (0..self.n_sockets).find(|&s| {
                read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_INDEX)) == index
            })?
        } else {
            read_u32(b, rec_off(p, PAIR_REC, PAIR_SOCKET)) as usize
        };
        Some(SocketId::decode(record(
            self.sockets.as_slice(),
            SOCK_REC,
            s,
        )))
    }

    fn status_at(&self, p: usize) -> PairStatus {
        let f = self.flags(p);
        PairStatus {
            index: self.index_at(p),
            expected: Ends::from_parts(f.has(EXP_MASTER), f.has(EXP_SLAVE)).unwrap_or(Ends::Both),
            socket: self.socket_at(p),
            master_restored: f.has(GOT_MASTER),
            slave_restored: f.has(GOT_SLAVE),
            socket_restored: f.has(GOT_SOCKET),
        }
    }

    /// Position of pair `index` in the sorted table.
    fn find_pair(&self, index: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            match self.index_at(mid).cmp(&index) {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Position of socket `id` in the sorted socket table.
    fn find_socket(&self, id: &SocketId) -> Option<usize> {
        let key = id.encode();
        let b = self.sockets.as_slice();
        let (mut lo, mut hi) = (0usize, self.n_sockets);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let rec = record(b, SOCK_REC, mid);
            match rec
                .get(..SocketId::ENCODED_LEN)
                .unwrap_or(&[])
                .cmp(&key[..])
            {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Fenwick counter `i` (1-based).
    fn fen(&self, i: usize) -> u32 {
        let off = self
            .n
            .saturating_mul(PAIR_REC)
            .saturating_add(i.saturating_sub(1).saturating_mul(FEN));
        read_u32(self.pairs.as_slice(), off)
    }

    fn fen_update(&mut self, p: usize, add: bool) {
        let base = self.n.saturating_mul(PAIR_REC);
        let mut i = p.saturating_add(1);
        while i <= self.n {
            let off = base.saturating_add(i.saturating_sub(1).saturating_mul(FEN));
            let b = self.pairs.as_mut_slice();
            let v = read_u32(b, off);
            let v = if add {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            };
            write_u32(b, off, v);
            i = i.saturating_add(i & i.wrapping_neg());
        }
    }

    /// Position of the highest real PTS entry, in O(log n).
    fn highest_real(&self) -> Option<usize> {
        if self.real == 0 || self.n == 0 {
            return None;
        }
        // The real-th set position: descend the tree from its top bit.
        let mut step = 1usize
            .checked_shl(
                usize::BITS
                    .saturating_sub(1)
                    .saturating_sub(self.n.leading_zeros()),
            )
            .unwrap_or(0);
        let mut pos = 0usize;
        let mut rem = u32::try_from(self.real).unwrap_or(u32::MAX);
        while step != 0 {
            let next = pos.saturating_add(step);
            if next <= self.n {
                let v = self.fen(next);
                if v < rem {
                    pos = next;
                    rem = rem.saturating_sub(v);
                }
            }
            step >>= 1;
        }
        Some(pos)
    }
}

fn step(count: &mut usize, before: bool, after: bool) {
    match (before, after) {
        (false, true) => *count = count.saturating_add(1),
        (true, false) => *count = count.saturating_sub(1),
        _ => {}
    }
}

/// Why [`RestartSession::commit`] failed.
#[derive(Debug)]
pub enum CommitError<'a, S: Storage> {
    /// Expected items are missing; the session is unchanged (abort it).
    /// `ENXIO`.
    Orphans(Orphans<'a, S>),
    /// The session is not in a state to commit: the session error's errno
    /// ([`SessionError::errno`]).
    Session(SessionError),
}

impl<S: Storage> CommitError<'_, S> {
    /// The errno for this error.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Orphans(_) => Errno::ENXIO,
            Self::Session(e) => e.errno(),
        }
    }
}

/// The [`PtsList`]: opened slaves waiting for their master, and dummy
/// entries for lesser minors not yet opened, ascending.
#[derive(Debug)]
pub struct PtsList<'a, S: Storage> {
    session: &'a RestartSession<S>,
}

impl<'a, S: Storage> PtsList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.real == 0
    }

    /// Number of real entries (O(1)).
    pub fn real_len(&self) -> usize {
        self.session.real
    }

    /// The highest slave waiting for its master: the last entry (O(log n)).
    pub fn highest(&self) -> Option<u32> {
        self.session
            .highest_real()
            .map(|p| self.session.index_at(p))
    }

    /// The entries, ascending (O(position of the highest entry)).
    pub fn iter(&self) -> impl Iterator<Item = PtsEntry> + 'a {
        let s = self.session;
        let end = s.highest_real().map_or(0, |p| p.saturating_add(1));
        (0..end).filter_map(move |p| {
            let f = s.flags(p);
            let index = s.index_at(p);
            if f.is_real() {
                Some(PtsEntry::Real(index))
            } else if f.untouched() {
                Some(PtsEntry::Dummy(index))
            } else {
                None
            }
        })
    }
}

/// The PTM wait list: restored masters whose expected slave is not
/// restored yet, ascending.
#[derive(Debug)]
pub struct PtmWaitList<'a, S: Storage> {
    session: &'a RestartSession<S>,
}

impl<'a, S: Storage> PtmWaitList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.ptm == 0
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> usize {
        self.session.ptm
    }

    /// The waiting masters' indexes, ascending (O(n)).
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let s = self.session;
        (0..s.n)
            .filter(move |&p| s.ptm != 0 && s.flags(p).on_ptm_wait())
            .map(move |p| s.index_at(p))
    }
}

/// The waiting-for-socket list: pairs whose expected ends are all restored
/// but whose socket is not matched yet, ascending.
#[derive(Debug)]
pub struct SocketWaitList<'a, S: Storage> {
    session: &'a RestartSession<S>,
}

impl<'a, S: Storage> SocketWaitList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.socket_wait == 0
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> usize {
        self.session.socket_wait
    }

    /// The waiting pairs and the socket each waits for, ascending (O(n)).
    pub fn iter(&self) -> impl Iterator<Item = (u32, SocketId)> + 'a {
        let s = self.session;
        (0..s.n)
            .filter(move |&p| s.socket_wait != 0 && s.flags(p).on_socket_wait())
            .filter_map(move |p| s.socket_at(p).map(|id| (s.index_at(p), id)))
    }
}

/// The expected items not restored, in index order (master, slave, socket
/// within an index).
#[derive(Debug)]
pub struct Orphans<'a, S: Storage> {
    session: &'a RestartSession<S>,
}

impl<'a, S: Storage> Orphans<'a, S> {
    /// Number of orphans (O(1)).
    pub fn len(&self) -> usize {
        self.session.missing
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.session.missing == 0
    }

    /// The orphans, in index order.
    pub fn iter(&self) -> OrphanIter<'a, S> {
        OrphanIter {
            session: self.session,
            pos: 0,
            stage: 0,
        }
    }

    /// Write the first orphans as [`ORPHAN_RECORD_LEN`]-byte records into
    /// `out`, as many as fit; returns how many were written.
    pub fn write_records(&self, out: &mut [u8]) -> usize {
        out.chunks_exact_mut(ORPHAN_RECORD_LEN)
            .zip(self.iter())
            .map(|(chunk, o)| chunk.copy_from_slice(&o.to_record()))
            .count()
    }

    /// A log line naming at most `limit` orphans, then how many more.
    pub fn summary(&self, limit: usize) -> OrphanSummary<'a, S> {
        OrphanSummary {
            session: self.session,
            limit,
        }
    }
}

impl<S: Storage> fmt::Display for Orphans<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.summary(usize::MAX).fmt(f)
    }
}

/// A log line naming the orphans: `"2 orphans: pty 0 master, pty 3 slave"`.
#[derive(Debug)]
pub struct OrphanSummary<'a, S: Storage> {
    session: &'a RestartSession<S>,
    limit: usize,
}

impl<S: Storage> fmt::Display for OrphanSummary<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.session.missing;
        write!(f, "{total} orphan{}", if total == 1 { "" } else { "s" })?;
        let orphans = Orphans {
            session: self.session,
        };
        for (i, o) in orphans.iter().take(self.limit).enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            o.fmt(f)?;
        }
        let more = total.saturating_sub(self.limit);
        if more != 0 {
            write!(f, ", and {more} more")?;
        }
        Ok(())
    }
}

/// Iterator over [`Orphans`].
#[derive(Debug)]
pub struct OrphanIter<'a, S: Storage> {
    session: &'a RestartSession<S>,
    pos: usize,
    /// 0: master, 1: slave, 2: socket of the pair at `pos`.
    stage: u8,
}

impl<S: Storage> Iterator for OrphanIter<'_, S> {
    type Item = Orphan;

    fn next(&mut self) -> Option<Orphan> {
        let s = self.session;
        while self.pos < s.n {
            let p = self.pos;
            let f = s.flags(p);
            let stage = self.stage;
            if stage >= 2 {
                self.stage = 0;
                self.pos = p.saturating_add(1);
            } else {
                self.stage = stage.saturating_add(1);
            }
            let what = match stage {
                0 if f.missing(EXP_MASTER, GOT_MASTER) => OrphanKind::Master,
                1 if f.missing(EXP_SLAVE, GOT_SLAVE) => OrphanKind::Slave,
                2 if f.missing(EXP_SOCKET, GOT_SOCKET) => match s.socket_at(p) {
                    Some(id) => OrphanKind::Socket(id),
                    None => continue,
                },
                _ => continue,
            };
            return Some(Orphan {
                index: s.index_at(p),
                what,
            });
        }
        None
    }
}

/// Pairs with a restored end and which ends, in index order (what an abort
/// must tear down).
#[derive(Debug)]
pub struct Restored<'a, S: Storage> {
    session: &'a RestartSession<S>,
    pos: usize,
}

impl<S: Storage> Iterator for Restored<'_, S> {
    type Item = (u32, Ends);

    fn next(&mut self) -> Option<(u32, Ends)> {
        let s = self.session;
        while self.pos < s.n {
            let p = self.pos;
            self.pos = p.saturating_add(1);
            if let Some(ends) = s.flags(p).restored() {
                return Some((s.index_at(p), ends));
            }
        }
        None
    }
}

// Table access through the field codec: every access is bounds-checked and
// falls back to zero (or writes nothing), the invariants of the tables
// keeping all offsets in range.

fn rec_off(i: usize, size: usize, field: usize) -> usize {
    i.saturating_mul(size).saturating_add(field)
}

fn record(b: &[u8], size: usize, i: usize) -> &[u8] {
    let start = i.saturating_mul(size);
    b.get(start..start.saturating_add(size)).unwrap_or(&[])
}

fn read_u8(b: &[u8], off: usize) -> u8 {
    FieldReader::at(b, off).get_u8().unwrap_or(0)
}

fn write_u8(b: &mut [u8], off: usize, v: u8) {
    let _ = FieldWriter::at(b, off).put_u8(v);
}

fn read_u32(b: &[u8], off: usize) -> u32 {
    FieldReader::at(b, off).get_u32().unwrap_or(0)
}

fn write_u32(b: &mut [u8], off: usize, v: u32) {
    let _ = FieldWriter::at(b, off).put_u32(v);
}

fn write_key(b: &mut [u8], off: usize, id: &SocketId) {
    let _ = FieldWriter::at(b, off).put_bytes(&id.encode());
}

fn to_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Make room for `records` records of `size` bytes, doubling.
fn grow_for<S: Storage>(s: &mut S, records: usize, size: usize) -> Result<(), AllocError> {
    let need = records.checked_mul(size).ok_or(AllocError)?;
    let len = s.len();
    if need <= len {
        return Ok(());
    }
    let target = len
        .saturating_mul(2)
        .max(MIN_RECORDS.saturating_mul(size))
        .max(need);
    if s.try_grow_to(target).is_ok() {
        return Ok(());
    }
    s.try_grow_to(need)
}

fn cmp_pairs(a: &[u8], b: &[u8]) -> Ordering {
    read_u32(a, PAIR_INDEX).cmp(&read_u32(b, PAIR_INDEX))
}

fn cmp_sockets(a: &[u8], b: &[u8]) -> Ordering {
    a.get(..SocketId::ENCODED_LEN)
        .cmp(&b.get(..SocketId::ENCODED_LEN))
}

/// Heapsort of `n` records of `size` bytes: O(n log n), in place.
fn sort_records(b: &mut [u8], size: usize, n: usize, cmp: fn(&[u8], &[u8]) -> Ordering) {
    let mut start = n / 2;
    while start > 0 {
        start = start.saturating_sub(1);
        sift_down(b, size, start, n, cmp);
    }
    let mut end = n;
    while end > 1 {
        end = end.saturating_sub(1);
        swap_records(b, size, 0, end);
        sift_down(b, size, 0, end, cmp);
    }
}

fn sift_down(
    b: &mut [u8],
    size: usize,
    mut root: usize,
    end: usize,
    cmp: fn(&[u8], &[u8]) -> Ordering,
) {
    loop {
        let left = root.saturating_mul(2).saturating_add(1);
        if left >= end {
            return;
        }
        let right = left.saturating_add(1);
        let mut child = left;
        if right < end && cmp(record(b, size, left), record(b, size, right)) == Ordering::Less {
            child = right;
        }
        if cmp(record(b, size, root), record(b, size, child)) != Ordering::Less {
            return;
        }
        swap_records(b, size, root, child);
        root = child;
    }
}

fn swap_records(b: &mut [u8], size: usize, i: usize, j: usize) {
    let (lo, hi) = match i.cmp(&j) {
        Ordering::Less => (i, j),
        Ordering::Greater => (j, i),
        Ordering::Equal => return,
    };
    let split = hi.saturating_mul(size);
    if split > b.len() {
        return;
    }
    let (a, c) = b.split_at_mut(split);
    let lo_off = lo.saturating_mul(size);
    if let (Some(x), Some(y)) = (
        a.get_mut(lo_off..lo_off.saturating_add(size)),
        c.get_mut(..size),
    ) {
        x.swap_with_slice(y);
    }
}
