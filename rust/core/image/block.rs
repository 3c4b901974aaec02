// SPDX-License-Identifier: GPL-2.0
//! Module blocks: a module's name with its internal and external bytes,
//! and the size a block takes.

use core::fmt;

use super::format::pad8;
use super::{ImageError, ModuleName, BLOCK_HEADER_LEN};

/// One module's block: its name and its internal and external bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleBlock<'a> {
    /// Which module.
    pub name: ModuleName,
    /// Internal state (flags, settings, positions).
    pub internal: &'a [u8],
    /// External state: in-flight bytes queued at or sent by the module.
    pub external: &'a [u8],
}

impl ModuleBlock<'_> {
    /// A placeholder for unused slots of a decoded image.
    pub(super) const EMPTY: ModuleBlock<'static> = ModuleBlock {
        name: ModuleName::Head,
        internal: &[],
        external: &[],
    };
}

/// Internal or external part of a module block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModulePart {
    /// Internal state.
    Internal,
    /// External (in-flight) state.
    External,
}

impl fmt::Display for ModulePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Internal => "internal",
            Self::External => "external",
        })
    }
}

/// Size of one module block with these part lengths.
pub fn block_len(internal_len: usize, external_len: usize) -> Result<usize, ImageError> {
    if u32::try_from(internal_len).is_err() || u32::try_from(external_len).is_err() {
        return Err(ImageError::TooLarge);
    }
    pad8(internal_len)
        .zip(pad8(external_len))
        .and_then(|(i, e)| i.checked_add(e))
        .and_then(|n| n.checked_add(BLOCK_HEADER_LEN))
        .ok_or(ImageError::TooLarge)
}
