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

// Pair flags.
pub(super) const EXP_MASTER: u8 = 1;
pub(super) const EXP_SLAVE: u8 = 2;
pub(super) const EXP_SOCKET: u8 = 4;
pub(super) const GOT_MASTER: u8 = 8;
pub(super) const GOT_SLAVE: u8 = 16;
pub(super) const GOT_SOCKET: u8 = 32;

/// The flags of one pair record, and the list rules over them.
#[derive(Clone, Copy)]
pub(super) struct Flags(pub(super) u8);

impl Flags {
    pub(super) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(super) fn expects(self, end: End) -> bool {
        self.has(match end {
            End::Master => EXP_MASTER,
            End::Slave => EXP_SLAVE,
        })
    }

    pub(super) fn got(self, end: End) -> bool {
        self.has(match end {
            End::Master => GOT_MASTER,
            End::Slave => GOT_SLAVE,
        })
    }

    pub(super) fn missing(self, exp: u8, got: u8) -> bool {
        self.has(exp) && !self.has(got)
    }

    /// A real entry of the PTS list.
    pub(super) fn is_real(self) -> bool {
        self.has(GOT_SLAVE) && self.missing(EXP_MASTER, GOT_MASTER)
    }

    /// No end restored: a dummy when below the highest real entry.
    pub(super) fn untouched(self) -> bool {
        !self.has(GOT_MASTER) && !self.has(GOT_SLAVE)
    }

    pub(super) fn ends_done(self) -> bool {
        !self.missing(EXP_MASTER, GOT_MASTER) && !self.missing(EXP_SLAVE, GOT_SLAVE)
    }

    pub(super) fn on_ptm_wait(self) -> bool {
        self.has(GOT_MASTER) && self.missing(EXP_SLAVE, GOT_SLAVE)
    }

    pub(super) fn on_socket_wait(self) -> bool {
        self.ends_done() && self.missing(EXP_SOCKET, GOT_SOCKET)
    }

    pub(super) fn restored(self) -> Option<Ends> {
        Ends::from_parts(self.has(GOT_MASTER), self.has(GOT_SLAVE))
    }
}
