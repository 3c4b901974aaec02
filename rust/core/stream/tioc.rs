// SPDX-License-Identifier: GPL-2.0
//! The tioc module: terminal ioctls that are not line discipline (window
//! size, line speeds).
//!
//! # Checkpoint block
//!
//! Master stream:
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! tioc   I      0    2 winsize rows
//!               2    2 winsize cols
//!               4    2 winsize xpixel
//!               6    2 winsize ypixel
//!               8    1 exclusive (TIOCEXCL on the master), bool
//! tioc   E      -    0 (empty)
//! ```
//!
//! Slave stream:
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! tioc   I      0    8 winsize rows, cols, xpixel, ypixel (u16 each)
//!               8    1 exclusive (TIOCEXCL on the slave), bool
//!               9    4 foreground process group, i32, 0..=PID_MAX_LIMIT
//!                      (as the checkpointing process sees it; recorded
//!                      for the restorer, never attached by the module)
//!              13    4 input speed, bits/s (c_ispeed)
//!              17    4 output speed, bits/s (c_ospeed)
//! tioc   E      -    0 (empty)
//! ```

use super::super::checkpoint::{BadBlock, BlockReader, ModuleState, RestoreError};
use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::end::End;
use super::super::image::{ModuleBlock, ModuleName, StreamImageHeader};

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

/// Largest process group number a slave's foreground may have (the
/// kernel's `PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

/// What a tioc block carries beside the module's own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TiocFacts {
    /// `TIOCEXCL` on this end.
    pub exclusive: bool,
    /// The slave's foreground process group, 0 for none: `Some` exactly in
    /// the slave's block, which also carries the line speeds.
    pub foreground_pgrp: Option<i32>,
}

/// What only a slave's tioc block has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaveTiocSaved {
    /// Foreground process group, 0 for none (recorded for the restorer).
    pub foreground_pgrp: i32,
    /// Input and output speed.
    pub speeds: [u32; 2],
}

/// A tioc block, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TiocSaved {
    /// Window size.
    pub winsize: Winsize,
    /// `TIOCEXCL` on this end.
    pub exclusive: bool,
    /// The slave's part; `None` in a master's block.
    pub slave: Option<SlaveTiocSaved>,
}

impl TiocSaved {
    /// The slave's foreground process group, 0 for none (a master's block
    /// records none).
    pub fn foreground_pgrp(&self) -> i32 {
        self.slave.map_or(0, |s| s.foreground_pgrp)
    }
}

impl ModuleState for Tioc {
    const NAME: ModuleName = ModuleName::Tioc;
    type Facts = TiocFacts;
    type Saved<'a> = TiocSaved;

    fn save_internal(&self, facts: &TiocFacts, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u16(self.winsize.rows)?;
        w.put_u16(self.winsize.cols)?;
        w.put_u16(self.winsize.xpixel)?;
        w.put_u16(self.winsize.ypixel)?;
        w.put_bool(facts.exclusive)?;
        if let Some(pgrp) = facts.foreground_pgrp {
            w.put_i32(pgrp)?;
            w.put_u32(self.speeds[0])?;
            w.put_u32(self.speeds[1])?;
        }
        Ok(())
    }

    /// Internal: window size (4 × `u16`), exclusive flag, and in the
    /// slave's block the foreground group and both speeds (3 × 4 bytes).
    fn encoded_len(
        &self,
        facts: &TiocFacts,
    ) -> Result<(usize, usize), super::super::image::ImageError> {
        const COMMON: usize = 4 * 2 + 1;
        const SLAVE_PART: usize = 3 * 4;
        let slave = if facts.foreground_pgrp.is_some() {
            SLAVE_PART
        } else {
            0
        };
        Ok((COMMON.saturating_add(slave), 0))
    }

    fn parse(block: &ModuleBlock<'_>, header: &StreamImageHeader) -> Result<TiocSaved, BadBlock> {
        let mut i = BlockReader::internal(block);
        let winsize = Winsize {
            rows: i.u16()?,
            cols: i.u16()?,
            xpixel: i.u16()?,
            ypixel: i.u16()?,
        };
        let exclusive = i.bool()?;
        let slave = match header.kind {
            End::Master => None,
            End::Slave => Some(parse_slave_part(&mut i)?),
        };
        i.finish()?;
        BlockReader::external(block).finish()?;
        Ok(TiocSaved {
            winsize,
            exclusive,
            slave,
        })
    }

    fn is_fresh(&self) -> bool {
        true
    }

    fn load(&mut self, saved: &TiocSaved) -> Result<(), RestoreError> {
        self.winsize = saved.winsize;
        if let Some(slave) = saved.slave {
            self.speeds = slave.speeds;
        }
        Ok(())
    }
}

/// The foreground process group and the line speeds of a slave's block.
fn parse_slave_part(i: &mut BlockReader<'_>) -> Result<SlaveTiocSaved, BadBlock> {
    let pgrp_at = i.pos();
    let foreground_pgrp = i.i32()?;
    if !(0..=PID_MAX_LIMIT).contains(&foreground_pgrp) {
        return Err(i.bad(pgrp_at, "foreground process group out of range"));
    }
    let speeds = [i.u32()?, i.u32()?];
    Ok(SlaveTiocSaved {
        foreground_pgrp,
        speeds,
    })
}
