// SPDX-License-Identifier: GPL-2.0
//! The tioc module: terminal ioctls that are not line discipline (window
//! size, line speeds).

use super::super::codec::{FieldReader, FieldWriter};

/// `struct winsize` (`TIOCGWINSZ`/`TIOCSWINSZ`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Winsize {
    /// Rows, in characters.
    pub rows: u16,
    /// Columns, in characters.
    pub cols: u16,
    /// Width in pixels (unused by the pty itself).
    pub xpixel: u16,
    /// Height in pixels (unused by the pty itself).
    pub ypixel: u16,
}

impl Winsize {
    /// Size of the user-space structure.
    pub const SIZE: usize = 8;

    /// Native-endian bytes of the user-space structure.
    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        let mut w = FieldWriter::new(&mut out);
        // Exactly `SIZE` bytes: the writes cannot fall short.
        let _ = w
            .put_u16_ne(self.rows)
            .and_then(|()| w.put_u16_ne(self.cols))
            .and_then(|()| w.put_u16_ne(self.xpixel))
            .and_then(|()| w.put_u16_ne(self.ypixel));
        out
    }

    /// From the user-space structure's bytes.
    pub fn from_bytes(b: [u8; Self::SIZE]) -> Self {
        let mut r = FieldReader::new(&b);
        // Exactly `SIZE` bytes: the reads cannot fall short.
        let mut field = || r.get_u16_ne().unwrap_or(0);
        Self {
            rows: field(),
            cols: field(),
            xpixel: field(),
            ypixel: field(),
        }
    }
}

/// The tioc module of a stream: terminal ioctls that are not line
/// discipline, here the window size and (slave) the line speeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tioc {
    /// Window size as last set through this end.
    pub winsize: Winsize,
    /// Input and output speed in bits/s as `TCGETS2` reports them (the
    /// slave's; a pty ignores them but keeps them as set).
    pub speeds: [u32; 2],
}

/// The speeds of a fresh slave (`B38400`).
pub const DEFAULT_SPEED: u32 = 38400;
