// SPDX-License-Identifier: GPL-2.0
//! The image's checksum: CRC-32/ISO-HDLC, as zlib's `crc32`.
//!
//! Computed eight bytes per step ("slicing by 8": eight lookup tables,
//! each one byte further along), so that checksumming the queues of a
//! checkpoint costs a fraction of copying them byte by byte would.

/// Reflected polynomial of CRC-32/ISO-HDLC.
const POLY: u32 = 0xedb8_8320;

/// `TABLES[0]` is the byte-wise table; `TABLES[k][b]` is the CRC of byte
/// `b` followed by `k` zero bytes. Built when compiling: an index out of
/// range would fail the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
};

/// One table lookup; the index is a byte, so it is always in range.
#[inline(always)]
fn lookup(table: usize, byte: u32) -> u32 {
    TABLES
        .get(table)
        .and_then(|t| t.get((byte & 0xff) as usize))
        .copied()
        .unwrap_or(0)
}

/// CRC-32/ISO-HDLC (zlib's `crc32`, poly 0x04c11db7 reflected, init and
/// final xor 0xffffffff) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        let lo = (word as u32) ^ crc;
        let hi = (word >> 32) as u32;
        crc = lookup(7, lo)
            ^ lookup(6, lo >> 8)
            ^ lookup(5, lo >> 16)
            ^ lookup(4, lo >> 24)
            ^ lookup(3, hi)
            ^ lookup(2, hi >> 8)
            ^ lookup(1, hi >> 16)
            ^ lookup(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = lookup(0, crc ^ u32::from(b)) ^ (crc >> 8);
    }
    !crc
}
