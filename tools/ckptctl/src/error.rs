// SPDX-License-Identifier: GPL-2.0
//! What can go wrong, as sentences that say what to do, and the exit code
//! of each kind of failure.

use std::fmt;
use std::io;

use crate::sys;

/// The kind of a failure; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Anything not listed below (exit 1).
    Other,
    /// The ckpt_pty module is not loaded (exit 2).
    ModuleNotLoaded,
    /// The image file cannot be read or is corrupt (exit 3).
    Image,
    /// The image was written by an incompatible version (exit 4).
    Version,
    /// A pair index of the image is in use (exit 5).
    Busy,
    /// The restart session had orphans at commit (exit 6).
    Orphans,
    /// Not allowed: missing capability or ptrace access (exit 7).
    Permission,
    /// Bad command line (exit 64, `EX_USAGE`).
    Usage,
}

impl Kind {
    /// Every kind, in exit-code order.
    pub const ALL: [Self; 8] = [
        Self::Other,
        Self::ModuleNotLoaded,
        Self::Image,
        Self::Version,
        Self::Busy,
        Self::Orphans,
        Self::Permission,
        Self::Usage,
    ];

    /// The process exit code.
    pub const fn exit_code(self) -> i32 {
        match self {
            Self::Other => 1,
            Self::ModuleNotLoaded => 2,
            Self::Image => 3,
            Self::Version => 4,
            Self::Busy => 5,
            Self::Orphans => 6,
            Self::Permission => 7,
            Self::Usage => 64,
        }
    }

    /// Short description, as in `--help`.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Other => "other failure",
            Self::ModuleNotLoaded => "the ckpt_pty module is not loaded",
            Self::Image => "the image file is unreadable or corrupt",
            Self::Version => "the image has an incompatible version",
            Self::Busy => "a pair index of the image is in use",
            Self::Orphans => "the restart session had orphans at commit",
            Self::Permission => "permission denied",
            Self::Usage => "bad command line",
        }
    }
}

/// A failure: its kind and a sentence for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Decides the exit code.
    pub kind: Kind,
    /// What happened and what to do.
    pub message: String,
}

/// Result of a command.
pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    /// A failure of this kind.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// [`Kind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }

    /// [`Kind::Usage`].
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// [`Kind::ModuleNotLoaded`], with the usual advice.
    pub fn module_not_loaded() -> Self {
        Self::new(
            Kind::ModuleNotLoaded,
            "the ckpt_pty module is not loaded (no /dev/ckpt/control): load it with \
             `insmod ckpt_pty.ko` (or `modprobe ckpt_pty`) and try again",
        )
    }

    /// A failed system call `what` (a phrase such as "open /dev/ckpt/control").
    /// Permission errors become [`Kind::Permission`] with advice;
    /// everything else [`Kind::Other`].
    pub fn io(what: impl fmt::Display, e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Self::new(
                Kind::Permission,
                format!(
                    "cannot {what}: {}; run ckptctl as root (it needs CAP_CHECKPOINT_RESTORE \
                     or CAP_SYS_ADMIN, and ptrace access to the processes it dumps)",
                    sys::errno_name(e)
                ),
            ),
            _ => Self::other(format!("cannot {what}: {}", sys::errno_name(e))),
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Help text listing every exit code.
pub fn exit_codes_help() -> String {
    let mut s = String::from("EXIT STATUS:\n  0    success\n");
    for k in Kind::ALL {
        s.push_str(&format!("  {:<4} {}\n", k.exit_code(), k.describe()));
    }
    s
}
