// SPDX-License-Identifier: GPL-2.0
//! One registered pair: which ends it expects ([`Ends`]), what is known of
//! it ([`PairStatus`]), and its flags with the rules that put it on a list.

use super::super::end::End;
use super::socket_id::SocketId;

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

// The bits of [`Flags`]: what the checkpoint holds, what came back.
const EXP_MASTER: u8 = 1;
const EXP_SLAVE: u8 = 2;
const EXP_SOCKET: u8 = 4;
const GOT_MASTER: u8 = 8;
const GOT_SLAVE: u8 = 16;
const GOT_SOCKET: u8 = 32;

/// The flags of one pair record, and the list rules over them: which list
/// a pair is on is a function of its flags alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Flags(u8);

impl Flags {
    /// A pair that expects `ends` (and a socket if `socket`), nothing
    /// restored yet.
    pub(super) fn expecting(ends: Ends, socket: bool) -> Self {
        let mut bits = 0;
        if ends.has_master() {
            bits |= EXP_MASTER;
        }
        if ends.has_slave() {
            bits |= EXP_SLAVE;
        }
        if socket {
            bits |= EXP_SOCKET;
        }
        Self(bits)
    }

    /// The flags stored in a pair record.
    pub(super) fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The byte stored in a pair record.
    pub(super) fn bits(self) -> u8 {
        self.0
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn missing(self, exp: u8, got: u8) -> bool {
        self.has(exp) && !self.has(got)
    }

    /// Number of expected items: ends and socket.
    pub(super) fn expected_items(self) -> usize {
        [EXP_MASTER, EXP_SLAVE, EXP_SOCKET]
            .into_iter()
            .filter(|&bit| self.has(bit))
            .count()
    }

    /// The ends the checkpoint holds (`None` for a record expecting none,
    /// which `expecting` never makes).
    pub(super) fn expected_ends(self) -> Option<Ends> {
        Ends::from_parts(self.has(EXP_MASTER), self.has(EXP_SLAVE))
    }

    /// Whether the checkpoint holds `end`.
    pub(super) fn expects(self, end: End) -> bool {
        self.has(exp_bit(end))
    }

    /// Whether the pair has an associated socket.
    pub(super) fn expects_socket(self) -> bool {
        self.has(EXP_SOCKET)
    }

    /// Whether `end` was restored.
    pub(super) fn got(self, end: End) -> bool {
        self.has(got_bit(end))
    }

    /// Whether the socket was matched.
    pub(super) fn got_socket(self) -> bool {
        self.has(GOT_SOCKET)
    }

    /// These flags once `end` is restored.
    pub(super) fn with_end(self, end: End) -> Self {
        Self(self.0 | got_bit(end))
    }

    /// These flags once the socket is matched.
    pub(super) fn with_socket(self) -> Self {
        Self(self.0 | GOT_SOCKET)
    }

    /// Whether `end` is expected and not restored.
    pub(super) fn missing_end(self, end: End) -> bool {
        self.missing(exp_bit(end), got_bit(end))
    }

    /// Whether the socket is expected and not matched.
    pub(super) fn missing_socket(self) -> bool {
        self.missing(EXP_SOCKET, GOT_SOCKET)
    }

    /// A real entry of the PTS list.
    pub(super) fn is_real(self) -> bool {
        self.has(GOT_SLAVE) && self.missing_end(End::Master)
    }

    /// No end restored: a dummy when below the highest real entry.
    pub(super) fn untouched(self) -> bool {
        !self.has(GOT_MASTER) && !self.has(GOT_SLAVE)
    }

    fn ends_done(self) -> bool {
        !self.missing_end(End::Master) && !self.missing_end(End::Slave)
    }

    /// On the PTM wait list.
    pub(super) fn on_ptm_wait(self) -> bool {
        self.has(GOT_MASTER) && self.missing_end(End::Slave)
    }

    /// On the waiting-for-socket list.
    pub(super) fn on_socket_wait(self) -> bool {
        self.ends_done() && self.missing_socket()
    }

    /// The restored ends, if any.
    pub(super) fn restored(self) -> Option<Ends> {
        Ends::from_parts(self.has(GOT_MASTER), self.has(GOT_SLAVE))
    }
}

fn exp_bit(end: End) -> u8 {
    match end {
        End::Master => EXP_MASTER,
        End::Slave => EXP_SLAVE,
    }
}

fn got_bit(end: End) -> u8 {
    match end {
        End::Master => GOT_MASTER,
        End::Slave => GOT_SLAVE,
    }
}
