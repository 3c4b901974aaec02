// SPDX-License-Identifier: GPL-2.0
//! Why a session refused a call ([`SessionError`]) or could not commit
//! ([`CommitError`]).

use core::fmt;

use super::super::end::End;
use super::super::errno::Errno;
use super::super::storage::{AllocError, Storage};
use super::orphans::Orphans;

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
    /// A table holds fewer bytes than its records need: its `Storage` gave
    /// back fewer than it granted. Never expected; reported instead of
    /// reading or writing a made-up record. `EIO`.
    TableFault,
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
            Self::TableFault => Errno::EIO,
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
            Self::TableFault => f.write_str("session table shorter than its records"),
        }
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
