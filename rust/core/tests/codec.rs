// SPDX-License-Identifier: GPL-2.0
//! Tests of the field codec's positioned and native-endian access and of
//! `first_nonzero` (the sequential round trip is in the image tests, `image.rs`).

use pty_core::codec::{first_nonzero, FieldError, FieldReader, FieldWriter};

#[test]
fn at_reads_and_writes_in_place_with_absolute_offsets() {
    let mut buf = [0u8; 12];
    let mut w = FieldWriter::at(&mut buf, 4);
    w.put_u32(0x0403_0201).unwrap();
    assert_eq!(w.position(), 8);
    w.put_u32(0x0807_0605).unwrap();
    assert_eq!(w.finish(), Ok(12));
    assert_eq!(buf, [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);

    let mut r = FieldReader::at(&buf, 6);
    assert_eq!(r.get_u16(), Ok(0x0403));
    assert_eq!(r.remaining(), 4);
    assert_eq!(
        r.get_u64(),
        Err(FieldError::Short {
            offset: 8,
            needed: 8,
            len: 12
        })
    );
    // Past the end: short, never a panic.
    assert_eq!(
        FieldReader::at(&buf, 20).get_u8(),
        Err(FieldError::Short {
            offset: 20,
            needed: 1,
            len: 12
        })
    );
    let mut w = FieldWriter::at(&mut buf, 11);
    assert!(matches!(
        w.put_u16(1),
        Err(FieldError::Short { offset: 11, .. })
    ));
    assert_eq!(buf[11], 8, "a short write stores nothing");
}

#[test]
fn native_endian_fields_are_the_cpus_byte_order() {
    let mut buf = [0u8; 6];
    let mut w = FieldWriter::new(&mut buf);
    w.put_u32_ne(0xdead_beef).unwrap();
    w.put_u16_ne(0x1234).unwrap();
    assert_eq!(w.finish(), Ok(6));
    assert_eq!(buf[..4], 0xdead_beef_u32.to_ne_bytes());
    assert_eq!(buf[4..], 0x1234_u16.to_ne_bytes());
    let mut r = FieldReader::new(&buf);
    assert_eq!(r.get_u32_ne(), Ok(0xdead_beef));
    assert_eq!(r.get_u16_ne(), Ok(0x1234));
    assert_eq!(r.finish(), Ok(()));
}

#[test]
fn first_nonzero_names_the_absolute_offset() {
    let bytes = [0, 0, 0, 7, 0, 9];
    assert_eq!(first_nonzero(&bytes, 0, 3), None);
    assert_eq!(first_nonzero(&bytes, 1, 6), Some(3));
    assert_eq!(first_nonzero(&bytes, 4, 6), Some(5));
    // Empty, reversed or out-of-range areas have no non-zero byte.
    assert_eq!(first_nonzero(&bytes, 3, 3), None);
    assert_eq!(first_nonzero(&bytes, 5, 2), None);
    assert_eq!(first_nonzero(&bytes, 4, 99), None);
}
