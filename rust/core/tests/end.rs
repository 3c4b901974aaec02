// SPDX-License-Identifier: GPL-2.0
//! Tests of the one "which end" type and its image byte.

use pty_core::image::{end_from_byte, end_to_byte, MASTER_CHAIN, SLAVE_CHAIN};
use pty_core::End;

#[test]
fn helpers() {
    assert!(End::Master.is_master());
    assert!(!End::Slave.is_master());
    assert_eq!((End::Master.slot(), End::Slave.slot()), (0, 1));
    assert_eq!((End::Master.name(), End::Slave.name()), ("master", "slave"));
    assert_eq!(End::Master.chain(), &MASTER_CHAIN);
    assert_eq!(End::Slave.chain(), &SLAVE_CHAIN);
    assert!(
        End::Master < End::Slave,
        "master sorts first, as in per-end arrays"
    );
}

#[test]
fn image_byte_is_1_for_master_and_2_for_slave() {
    assert_eq!(end_to_byte(End::Master), 1);
    assert_eq!(end_to_byte(End::Slave), 2);
    for byte in 0..=u8::MAX {
        let want = match byte {
            1 => Some(End::Master),
            2 => Some(End::Slave),
            _ => None,
        };
        assert_eq!(end_from_byte(byte), want, "byte {byte}");
    }
}
