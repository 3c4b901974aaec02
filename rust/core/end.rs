// SPDX-License-Identifier: GPL-2.0
//! Which end of a pty pair: the one type for it in the core, the kernel
//! module and the tools.
//!
//! Its byte in a checkpoint image (and in `ckptctl`'s stream table) is the
//! image format's business: [`super::image::end_to_byte`] and
//! [`super::image::end_from_byte`].

use super::image::{ModuleName, MASTER_CHAIN, SLAVE_CHAIN};

/// One end of a pty pair. Ordered master first, as per-end arrays are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum End {
    /// The master end (ptm): stream head, tioc, ptm.
    Master,
    /// The slave end (pts): stream head, tioc, ldterm, pts.
    Slave,
}

impl End {
    /// Whether this is the master end.
    pub const fn is_master(self) -> bool {
        matches!(self, Self::Master)
    }

    /// Index into per-end arrays, `[master, slave]`.
    pub const fn slot(self) -> usize {
        match self {
            Self::Master => 0,
            Self::Slave => 1,
        }
    }

    /// The module chain of this end's stream, stream head first.
    pub const fn chain(self) -> &'static [ModuleName] {
        match self {
            Self::Master => &MASTER_CHAIN,
            Self::Slave => &SLAVE_CHAIN,
        }
    }

    /// `"master"` or `"slave"`, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Slave => "slave",
        }
    }
}
