// SPDX-License-Identifier: GPL-2.0
//! The constants block: the kernel constants an image depends on, which
//! must be this kernel's for a restore.

use super::super::ldterm::N_TTY_BUF_SIZE;
use super::super::stream::{Winsize, MASTER_HEAD_BOUND, PTS_INPUT_BOUND};
use super::super::termios::{Termios, NCCS};
use super::ImageError;

/// The kernel-side constants an image depends on. An image is only
/// restored by a kernel whose constants are the same: queue bounds decide
/// how many in-flight bytes fit, `NCCS` and the structure sizes the layout
/// of saved termios and winsize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constants {
    /// Bound of the pts input queue.
    pub pts_input_bound: u32,
    /// Bound of the master's stream-head queue.
    pub master_head_bound: u32,
    /// `N_TTY_BUF_SIZE` of the line discipline.
    pub n_tty_buf_size: u32,
    /// `NCCS`.
    pub nccs: u16,
    /// Size of `struct termios`.
    pub termios_size: u16,
    /// Size of `struct winsize`.
    pub winsize_size: u16,
}

// The constants must fit their fields; checked when compiling.
const _: () = assert!(
    PTS_INPUT_BOUND <= u32::MAX as usize
        && MASTER_HEAD_BOUND <= u32::MAX as usize
        && N_TTY_BUF_SIZE <= u32::MAX as usize
        && NCCS <= u16::MAX as usize
        && Termios::SIZE <= u16::MAX as usize
        && Winsize::SIZE <= u16::MAX as usize
);

impl Constants {
    /// The constants of this build.
    pub const CURRENT: Self = Self {
        pts_input_bound: PTS_INPUT_BOUND as u32,
        master_head_bound: MASTER_HEAD_BOUND as u32,
        n_tty_buf_size: N_TTY_BUF_SIZE as u32,
        nccs: NCCS as u16,
        termios_size: Termios::SIZE as u16,
        winsize_size: Winsize::SIZE as u16,
    };

    /// The value of one field.
    pub const fn get(&self, field: ConstantField) -> u32 {
        match field {
            ConstantField::PtsInputBound => self.pts_input_bound,
            ConstantField::MasterHeadBound => self.master_head_bound,
            ConstantField::NTtyBufSize => self.n_tty_buf_size,
            ConstantField::Nccs => self.nccs as u32,
            ConstantField::TermiosSize => self.termios_size as u32,
            ConstantField::WinsizeSize => self.winsize_size as u32,
        }
    }

    /// `Ok` if `self` (from an image) equals `kernel`, else the first
    /// field that differs.
    pub fn check(&self, kernel: &Self) -> Result<(), ImageError> {
        for field in ConstantField::ALL {
            let (image, kernel) = (self.get(field), kernel.get(field));
            if image != kernel {
                return Err(ImageError::ConstantsMismatch {
                    field,
                    image,
                    kernel,
                });
            }
        }
        Ok(())
    }
}

/// One field of the constants block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstantField {
    /// Pts input bound.
    PtsInputBound,
    /// Master head bound.
    MasterHeadBound,
    /// `N_TTY_BUF_SIZE`.
    NTtyBufSize,
    /// `NCCS`.
    Nccs,
    /// Size of `struct termios`.
    TermiosSize,
    /// Size of `struct winsize`.
    WinsizeSize,
}

impl ConstantField {
    /// Every field, in wire order.
    pub const ALL: [Self; 6] = [
        Self::PtsInputBound,
        Self::MasterHeadBound,
        Self::NTtyBufSize,
        Self::Nccs,
        Self::TermiosSize,
        Self::WinsizeSize,
    ];

    /// Human-readable name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PtsInputBound => "pts input bound",
            Self::MasterHeadBound => "master head bound",
            Self::NTtyBufSize => "N_TTY_BUF_SIZE",
            Self::Nccs => "NCCS",
            Self::TermiosSize => "termios size",
            Self::WinsizeSize => "winsize size",
        }
    }

    /// Byte offset of the field in the image.
    pub const fn offset(self) -> usize {
        match self {
            Self::PtsInputBound => 40,
            Self::MasterHeadBound => 44,
            Self::NTtyBufSize => 48,
            Self::Nccs => 52,
            Self::TermiosSize => 54,
            Self::WinsizeSize => 56,
        }
    }
}
