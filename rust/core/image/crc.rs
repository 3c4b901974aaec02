// SPDX-License-Identifier: GPL-2.0
//! The image's checksum: CRC-32/ISO-HDLC, as zlib's `crc32`.

/// Byte-wise lookup table of CRC-32/ISO-HDLC, built when compiling.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut rest: &mut [u32] = &mut table;
    let mut i: u32 = 0;
    while let [slot, tail @ ..] = rest {
        let mut c = i;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        *slot = c;
        rest = tail;
        i += 1;
    }
    table
};

/// CRC-32/ISO-HDLC (zlib's `crc32`, poly 0x04c11db7 reflected, init and
/// final xor 0xffffffff) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        let index = usize::from((crc as u8) ^ b);
        CRC_TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8)
    })
}
