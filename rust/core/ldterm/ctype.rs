// SPDX-License-Identifier: GPL-2.0
//! The kernel's Latin-1 `ctype`, as `n_tty` uses it.

use super::super::termios::{Termios, IUTF8};

/// `iscntrl` of the kernel's `ctype` (Latin-1 C1 codes are not control).
pub(super) fn iscntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

/// `isupper` of the kernel's Latin-1 `ctype`.
fn isupper(c: u8) -> bool {
    c.is_ascii_uppercase() || ((0xc0..=0xde).contains(&c) && c != 0xd7)
}

/// `islower` of the kernel's Latin-1 `ctype`.
fn islower(c: u8) -> bool {
    c.is_ascii_lowercase() || (c >= 0xdf && c != 0xf7)
}

/// `isalnum` of the kernel's Latin-1 `ctype`.
pub(super) fn isalnum(c: u8) -> bool {
    c.is_ascii_digit() || isupper(c) || islower(c)
}

/// `tolower` of the kernel's Latin-1 `ctype`.
pub(super) fn tolower(c: u8) -> u8 {
    if isupper(c) {
        c.wrapping_add(0x20)
    } else {
        c
    }
}

/// `toupper` of the kernel's Latin-1 `ctype`.
pub(super) fn toupper(c: u8) -> u8 {
    if islower(c) {
        c.wrapping_sub(0x20)
    } else {
        c
    }
}

/// `is_continuation`: a UTF-8 continuation byte under `IUTF8`.
pub(super) fn is_continuation(t: &Termios, c: u8) -> bool {
    t.iflag(IUTF8) && (c & 0xc0) == 0x80
}
