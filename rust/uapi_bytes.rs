// SPDX-License-Identifier: GPL-2.0
//! The kernel's view of the uapi structures as plain bytes, so they can be
//! copied to and from user space. Kept apart from `uapi.rs`, which user
//! space compiles too.

use crate::uapi::*;
use kernel::types::{AsBytes, FromBytes};

macro_rules! plain_bytes {
    ($($t:ty = $size:expr),+ $(,)?) => {
        $(
            // The layout below is exactly the sum of its fields: no padding.
            const _: () = assert!(core::mem::size_of::<$t>() == $size);
            // SAFETY: `repr(C)`, only integer fields, no padding (checked
            // above): every byte pattern is a valid value and every byte of
            // a value is initialised.
            unsafe impl FromBytes for $t {}
            // SAFETY: `repr(C)`, only integer fields, no padding (checked
            // above): every byte of a value is initialised.
            unsafe impl AsBytes for $t {}
        )+
    };
}

plain_bytes!(
    StreamStatus = 8 * 4 + 4 * 8,
    CheckpointArg = 8 + 4 + 4 + 8 + 4 + 4,
    RestartArg = 8 + 4 + 4,
    RestartEntry = 4 + 4,
    SessionArg = 8 + 4 + 4,
    CommitArg = 8 + 4 + 4,
    OpenMasterArg = 4 + 4,
    GlobalStatus = 6 * 4 + 6 * 8,
    SocketRecord = 6 * 2 + 2 * 16,
    RestartSocketEntry = 3 * 4 + 6 * 2 + 2 * 16,
);
