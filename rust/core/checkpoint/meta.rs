// SPDX-License-Identifier: GPL-2.0
//! The facts of a pair that the kernel keeps outside
//! [`PtyPair`](super::super::stream::PtyPair) and the images carry
//! ([`PairMeta`]), and the part of them each image restores
//! ([`MetaPart`]).

use super::super::image::PtyMode;
use super::super::waitlist::SocketId;

/// Per-pair facts the kernel keeps outside
/// [`PtyPair`](super::super::stream::PtyPair) that travel in the images.
/// Open accounting (`slave_opens`, `slave_closed`, `master_closed`) is
/// taken from [`PtyPair::life`](super::super::stream::PtyPair::life).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairMeta {
    /// Slave index (AT&T) or BSD pair number.
    pub index: u32,
    /// How the pair was created (also the image header's mode).
    pub mode: PtyMode,
    /// The slave cannot be opened (`TIOCSPTLCK`).
    pub locked: bool,
    /// `TIOCEXCL`, per end: `[master, slave]`.
    pub exclusive: [bool; 2],
    /// The slave's foreground process group, 0 for none.
    pub foreground_pgrp: i32,
    /// A master file is open.
    pub master_open: bool,
    /// The socket the pair serves (`CKPT_SOCKET_SET`), if any.
    pub socket: Option<SocketId>,
    /// Owner and permissions of the slave node.
    pub node: NodeOwner,
}

/// Owner and permission bits of a slave node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeOwner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Permission bits (`0o620` for a fresh node).
    pub mode: u16,
}

/// Largest permission bits a node may have.
pub const NODE_MODE_MASK: u16 = 0o7777;

impl PairMeta {
    /// Facts of a new pair: unlocked, not exclusive, no foreground group,
    /// master open, no socket, a root-owned `0o620` node.
    pub const fn new(index: u32, mode: PtyMode) -> Self {
        Self {
            index,
            mode,
            locked: false,
            exclusive: [false; 2],
            foreground_pgrp: 0,
            master_open: true,
            socket: None,
            node: NodeOwner {
                uid: 0,
                gid: 0,
                mode: 0o620,
            },
        }
    }
}

/// What a master image says about the pair (ptm and master tioc blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterMeta {
    /// Slave index.
    pub index: u32,
    /// Pty mode.
    pub mode: PtyMode,
    /// The slave was locked.
    pub locked: bool,
    /// `TIOCEXCL` on the master.
    pub exclusive: bool,
    /// A master file was open.
    pub master_open: bool,
    /// No slave file was open (`TTY_OTHER_CLOSED`).
    pub slave_closed: bool,
    /// The socket the pair served, if any.
    pub socket: Option<SocketId>,
}

/// What a slave image says about the pair (pts and slave tioc blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaveMeta {
    /// Slave index.
    pub index: u32,
    /// Pty mode.
    pub mode: PtyMode,
    /// `TIOCEXCL` on the slave.
    pub exclusive: bool,
    /// Foreground process group, 0 for none.
    pub foreground_pgrp: i32,
    /// Slave files open at checkpoint.
    pub slave_opens: u32,
    /// The master had closed (the slave was hung up).
    pub master_closed: bool,
    /// Owner and permissions of the slave node.
    pub node: NodeOwner,
}

/// The part of [`PairMeta`] one image carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaPart {
    /// From a master image.
    Master(MasterMeta),
    /// From a slave image.
    Slave(SlaveMeta),
}

impl MetaPart {
    /// Slave index.
    pub fn index(&self) -> u32 {
        match self {
            Self::Master(m) => m.index,
            Self::Slave(s) => s.index,
        }
    }

    /// Pty mode.
    pub fn mode(&self) -> PtyMode {
        match self {
            Self::Master(m) => m.mode,
            Self::Slave(s) => s.mode,
        }
    }

    /// Stores this part's facts in `meta`, leaving the other end's alone.
    pub fn apply(&self, meta: &mut PairMeta) {
        meta.index = self.index();
        meta.mode = self.mode();
        match self {
            Self::Master(m) => {
                meta.locked = m.locked;
                meta.exclusive[0] = m.exclusive;
                meta.master_open = m.master_open;
                meta.socket = m.socket;
            }
            Self::Slave(s) => {
                meta.exclusive[1] = s.exclusive;
                meta.foreground_pgrp = s.foreground_pgrp;
                meta.node = s.node;
            }
        }
    }
}
