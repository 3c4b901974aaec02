// SPDX-License-Identifier: GPL-2.0
//! Why a restore refused an image ([`RestoreError`]), with its errno.

use core::fmt;

use super::super::end::End;
use super::super::errno::Errno;
use super::super::image::{ImageError, ModuleName, ModulePart, PtyMode};

/// Why [`restore`](super::restore) refused an image. The pair is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The image itself is malformed, aborted, or of another chain: the
    /// image error's errno ([`ImageError::errno`]).
    Image(ImageError),
    /// The image is of the other end. `EINVAL`.
    WrongKind {
        /// The end being restored.
        expected: End,
        /// The image's end.
        found: End,
    },
    /// The stream already holds data or pending state: restore only into
    /// a freshly opened end. `EBUSY`.
    NotFresh {
        /// The end being restored.
        kind: End,
    },
    /// The image is of another pty (index or mode) than the one being
    /// restored, and no remap was asked for. `EINVAL`.
    OtherPty {
        /// The pty being restored: index and mode.
        expected: (u32, PtyMode),
        /// The image's.
        found: (u32, PtyMode),
    },
    /// The restoring side cannot take what the image says (e.g. a node
    /// owner that does not map into the instance's user namespace).
    /// `EINVAL`.
    NotHere {
        /// What cannot be taken.
        what: &'static str,
    },
    /// The queues could not be allocated. `ENOMEM`.
    NoMemory,
    /// A module's block is malformed or does not fit the rest. `EINVAL`.
    BadState {
        /// Which module.
        module: ModuleName,
        /// Which part of its block.
        part: ModulePart,
        /// Byte offset within that part.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl RestoreError {
    /// The errno to return (see the module documentation).
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Image(e) => e.errno(),
            Self::WrongKind { .. }
            | Self::OtherPty { .. }
            | Self::NotHere { .. }
            | Self::BadState { .. } => Errno::EINVAL,
            Self::NotFresh { .. } => Errno::EBUSY,
            Self::NoMemory => Errno::ENOMEM,
        }
    }
}

impl From<ImageError> for RestoreError {
    fn from(e: ImageError) -> Self {
        Self::Image(e)
    }
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Image(e) => e.fmt(f),
            Self::WrongKind { expected, found } => write!(
                f,
                "image of the {} end given to the {} end",
                found.name(),
                expected.name()
            ),
            Self::NotFresh { kind } => write!(
                f,
                "the {} stream already holds data: restore needs a fresh end",
                kind.name()
            ),
            Self::OtherPty { expected, found } => write!(
                f,
                "the image is of {} pty {}, not of {} pty {}",
                mode_name(found.1),
                found.0,
                mode_name(expected.1),
                expected.0
            ),
            Self::NotHere { what } => write!(f, "cannot be restored here: {what}"),
            Self::NoMemory => f.write_str("out of memory for the restored queues"),
            Self::BadState {
                module,
                part,
                offset,
                what,
            } => write!(f, "{module} {part} state at offset {offset}: {what}"),
        }
    }
}

impl core::error::Error for RestoreError {}

fn mode_name(mode: PtyMode) -> &'static str {
    match mode {
        PtyMode::Att => "AT&T",
        PtyMode::Bsd => "BSD",
    }
}
