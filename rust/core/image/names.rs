// SPDX-License-Identifier: GPL-2.0
//! What the enumerated fields of an image mean: the end byte, the pty
//! mode, module names and the module chain of each end.

use core::fmt;

use super::super::end::End;

/// The image's byte for `end` (header offset 12, and `ckptctl`'s stream
/// table): 1 = master, 2 = slave.
pub const fn end_to_byte(end: End) -> u8 {
    match end {
        End::Master => 1,
        End::Slave => 2,
    }
}

/// The end an image byte names; `None` unless 1 or 2.
pub const fn end_from_byte(byte: u8) -> Option<End> {
    match byte {
        1 => Some(End::Master),
        2 => Some(End::Slave),
        _ => None,
    }
}

/// How the pair was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PtyMode {
    /// AT&T: cloned from ptmx, slaves assigned in order.
    Att = 0,
    /// BSD: a fixed, named pair.
    Bsd = 1,
}

impl PtyMode {
    /// From the wire value.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Att),
            1 => Some(Self::Bsd),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// The name of a module, one of the five the pty is built from. Only known
/// names can be represented, so an image can never carry another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleName {
    /// Stream head.
    Head,
    /// Terminal ioctls.
    Tioc,
    /// Line discipline.
    Ldterm,
    /// Master driver end.
    Ptm,
    /// Slave driver end.
    Pts,
}

/// Chain of the master stream, head first.
pub const MASTER_CHAIN: [ModuleName; 3] = [ModuleName::Head, ModuleName::Tioc, ModuleName::Ptm];
/// Chain of the slave stream, head first.
pub const SLAVE_CHAIN: [ModuleName; 4] = [
    ModuleName::Head,
    ModuleName::Tioc,
    ModuleName::Ldterm,
    ModuleName::Pts,
];

impl ModuleName {
    /// Every name.
    pub const ALL: [Self; 5] = [Self::Head, Self::Tioc, Self::Ldterm, Self::Ptm, Self::Pts];

    /// The name as text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Tioc => "tioc",
            Self::Ldterm => "ldterm",
            Self::Ptm => "ptm",
            Self::Pts => "pts",
        }
    }

    /// The 8-byte, NUL-padded wire form.
    pub const fn to_bytes(self) -> [u8; 8] {
        match self {
            Self::Head => *b"head\0\0\0\0",
            Self::Tioc => *b"tioc\0\0\0\0",
            Self::Ldterm => *b"ldterm\0\0",
            Self::Ptm => *b"ptm\0\0\0\0\0",
            Self::Pts => *b"pts\0\0\0\0\0",
        }
    }

    /// From the wire form; `None` unless it is exactly a known name.
    pub fn from_bytes(bytes: &[u8; 8]) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.to_bytes() == *bytes)
    }

    /// From text (`"ldterm"`); `None` unless a known name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
