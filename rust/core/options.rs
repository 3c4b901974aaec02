// SPDX-License-Identifier: GPL-2.0
//! Mount options of a `ckptpts` instance, parsed from the option string
//! the VFS hands the filesystem (`uid=1000,gid=5,mode=620`), as devpts
//! takes them.
//!
//! ```text
//! uid=N        owner of new slave nodes (default: the creating process's)
//! gid=N        group of new slave nodes (default: the creating process's)
//! mode=OCT     permissions of new slave nodes (default 0620)
//! ptmxmode=OCT permissions of the instance's ptmx node (default 0666)
//! max=N        most AT&T pairs at once, 1..=MAX_PAIRS_LIMIT
//!              (default: the module parameter max_pairs)
//! bsd=N        BSD pairs ptyN/ttyN of the instance, 0..=BSD_PAIRS_LIMIT
//!              (default: the module parameter bsd_pairs)
//! newinstance  accepted and ignored (every mount is a new instance)
//! ```
//!
//! Numbers are decimal, modes octal; anything else is refused with an
//! [`OptionError`] naming the option (`EINVAL`).

use core::fmt;

use super::errno::Errno;

/// Most AT&T pairs one instance may have: minors are 20 bits.
pub const MAX_PAIRS_LIMIT: u32 = 1 << 20;

/// Most BSD pairs one instance may have.
pub const BSD_PAIRS_LIMIT: u32 = 1024;

/// Default permissions of a slave node (devpts' usual `mode=620`).
pub const DEFAULT_MODE: u16 = 0o620;

/// Default permissions of the `ptmx` node.
pub const DEFAULT_PTMX_MODE: u16 = 0o666;

/// The options of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountOptions {
    /// Owner of new slave nodes, as a number in the mounter's namespace.
    pub uid: Option<u32>,
    /// Group of new slave nodes.
    pub gid: Option<u32>,
    /// Permission bits of slave nodes.
    pub mode: u16,
    /// Permission bits of `ptmx`.
    pub ptmx_mode: u16,
    /// Most AT&T pairs at once.
    pub max: u32,
    /// Number of BSD pairs.
    pub bsd: u32,
}

/// Why an option string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionError<'a> {
    /// Not an option of ckptpts. `EINVAL`.
    Unknown(&'a str),
    /// The value is missing or not a number of the right base. `EINVAL`.
    BadValue(&'a str),
    /// The number is out of the option's range. `EINVAL`.
    OutOfRange(&'a str),
}

impl OptionError<'_> {
    /// The errno for this error: `EINVAL`.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Unknown(_) | Self::BadValue(_) | Self::OutOfRange(_) => Errno::EINVAL,
        }
    }
}

impl fmt::Display for OptionError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(o) => write!(f, "unknown mount option '{o}'"),
            Self::BadValue(o) => write!(f, "mount option '{o}' needs a number"),
            Self::OutOfRange(o) => write!(f, "mount option '{o}' is out of range"),
        }
    }
}

impl MountOptions {
    /// The options of a mount without any: `max` and `bsd` from the
    /// module parameters.
    pub const fn defaults(max: u32, bsd: u32) -> Self {
        Self {
            uid: None,
            gid: None,
            mode: DEFAULT_MODE,
            ptmx_mode: DEFAULT_PTMX_MODE,
            max,
            bsd,
        }
    }

    /// Parses a comma-separated option string over `defaults`.
    pub fn parse(options: &str, defaults: Self) -> Result<Self, OptionError<'_>> {
        let mut o = defaults;
        for opt in options.split(',').filter(|s| !s.is_empty()) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (opt, None),
            };
            let num = |radix: u32| -> Result<u32, OptionError<'_>> {
                let v = value
                    .filter(|v| !v.is_empty())
                    .ok_or(OptionError::BadValue(opt))?;
                u32::from_str_radix(v, radix).map_err(|_| OptionError::BadValue(opt))
            };
            let mode = || -> Result<u16, OptionError<'_>> {
                let m = num(8)?;
                u16::try_from(m)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or(OptionError::OutOfRange(opt))
            };
            match name {
                "uid" => o.uid = Some(num(10)?),
                "gid" => o.gid = Some(num(10)?),
                "mode" => o.mode = mode()?,
                "ptmxmode" => o.ptmx_mode = mode()?,
                "max" => {
                    let n = num(10)?;
                    if n == 0 || n > MAX_PAIRS_LIMIT {
                        return Err(OptionError::OutOfRange(opt));
                    }
                    o.max = n;
                }
                "bsd" => {
                    let n = num(10)?;
                    if n > BSD_PAIRS_LIMIT {
                        return Err(OptionError::OutOfRange(opt));
                    }
                    o.bsd = n;
                }
                "newinstance" if value.is_none() => {}
                _ => return Err(OptionError::Unknown(opt)),
            }
        }
        Ok(o)
    }
}
