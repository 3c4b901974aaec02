// SPDX-License-Identifier: GPL-2.0
//! The image file codec: round trip, canonical form, and every truncation
//! and corruption refused with a precise message.

mod common;

use ckptctl::container::{
    self, decode, Constraint, Container, ContainerError, FileRecord, HolderRecord, HEADER_LEN,
    STREAM_ENTRY_LEN,
};
use common::*;
use proptest::prelude::*;
use pty_core::image::{ImageError, PtyMode};

fn bytes() -> Vec<u8> {
    sample().encode().expect("encode")
}

/// Rewrites the checksum after a deliberate change, so the structural
/// check (not the checksum) must catch it.
fn reseal(b: &mut [u8]) {
    let limit = b.len() - 8;
    let crc = pty_core::image::crc32(&b[..limit]);
    b[limit..limit + 4].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn round_trip() {
    let c = sample();
    let b = c.encode().unwrap();
    assert_eq!(&b[..8], b"CKPTCTL\0");
    assert_eq!(b.len() % 8, 0);
    assert_eq!(
        u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize,
        b.len()
    );
    let d = decode(&b, Constraint::ThisBuild).unwrap();
    assert_eq!(d, c);
    // Canonical: what decodes re-encodes to the same bytes.
    assert_eq!(d.encode().unwrap(), b);
}

#[test]
fn empty_container_round_trips() {
    let c = Container {
        checkpoint_id: 7,
        ..Default::default()
    };
    let b = c.encode().unwrap();
    assert_eq!(b.len(), container::MIN_LEN);
    assert_eq!(decode(&b, Constraint::ThisBuild).unwrap(), c);
}

#[test]
fn blob_offsets_follow_the_tables() {
    let c = sample();
    let offs = c.blob_offsets();
    let first = HEADER_LEN + 3 * STREAM_ENTRY_LEN + 4 * 8 + 6 * 16;
    assert_eq!(offs[0], first);
    assert_eq!(offs[1], first + c.streams[0].image.len());
    let b = c.encode().unwrap();
    for (o, s) in offs.iter().zip(&c.streams) {
        assert_eq!(&b[*o..*o + s.image.len()], &s.image[..]);
    }
}

#[test]
fn every_truncation_is_refused_precisely() {
    let b = bytes();
    for len in 0..b.len() {
        let e = decode(&b[..len], Constraint::ThisBuild).unwrap_err();
        match e {
            ContainerError::Truncated { len: l, needed } => {
                assert_eq!(l, len);
                assert_eq!(needed, container::MIN_LEN);
            }
            ContainerError::LengthMismatch { declared, actual } => {
                assert_eq!(declared as usize, b.len());
                assert_eq!(actual, len);
            }
            other => panic!("truncation to {len}: unexpected {other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("offset"), "{len}: {msg}");
        assert!(e.offset().is_some());
    }
}

#[test]
fn extension_is_refused() {
    let mut b = bytes();
    b.extend_from_slice(&[0; 8]);
    let e = decode(&b, Constraint::ThisBuild).unwrap_err();
    assert!(matches!(e, ContainerError::LengthMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("at offset 32"), "{e}");
}

#[test]
fn every_single_byte_corruption_is_refused() {
    let b = bytes();
    for i in 0..b.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut c = b.clone();
            c[i] ^= x;
            let e = decode(&c, Constraint::ThisBuild)
                .expect_err(&format!("flip {x:#x} at {i} accepted"));
            let msg = e.to_string();
            assert!(
                msg.contains("offset") || msg.contains("checksum"),
                "byte {i}: {msg}"
            );
            assert!(e.offset().is_some(), "byte {i}: {e:?}");
        }
    }
}

#[test]
fn specific_fields_give_specific_errors() {
    let b = bytes();
    let s0 = HEADER_LEN;
    let corrupt = |at: usize, v: u8| {
        let mut c = b.clone();
        c[at] = v;
        reseal(&mut c);
        decode(&c, Constraint::ThisBuild).unwrap_err()
    };
    assert!(matches!(corrupt(0, b'X'), ContainerError::BadMagic { .. }));
    let e = corrupt(8, 2);
    assert!(matches!(e, ContainerError::UnsupportedVersion { found: 2 }));
    assert!(e.is_version());
    assert!(
        e.to_string().contains("container version 2 at offset 8"),
        "{e}"
    );
    assert!(matches!(
        corrupt(10, 32),
        ContainerError::BadHeaderLength { found: 32 }
    ));
    assert!(matches!(
        corrupt(12, 2),
        ContainerError::UnknownFlags {
            offset: 12,
            bits: 2
        }
    ));
    assert!(matches!(
        corrupt(60, 1),
        ContainerError::NonZeroReserved { offset: 60 }
    ));
    let e = corrupt(48, 9);
    assert!(e.is_version(), "{e:?}");
    assert!(matches!(
        corrupt(36, 200),
        ContainerError::TablesOverrun {
            what: "stream",
            offset: 36,
            ..
        }
    ));
    assert!(matches!(
        corrupt(s0 + 4, 3),
        ContainerError::BadEnd {
            stream: 0,
            offset: 68,
            found: 3
        }
    ));
    assert!(matches!(
        corrupt(s0 + STREAM_ENTRY_LEN + 5, 7),
        ContainerError::BadMode {
            stream: 1,
            offset: 85,
            found: 7
        }
    ));
    assert!(matches!(
        corrupt(s0 + 6, 1),
        ContainerError::NonZeroReserved { offset: 70 }
    ));
    assert!(matches!(
        corrupt(s0 + 8, 0),
        ContainerError::BadBlobOffset {
            stream: 0,
            offset: 72,
            ..
        }
    ));
    // End byte says slave, the image is a master's.
    let e = corrupt(s0 + 4, 2);
    assert!(
        matches!(
            e,
            ContainerError::BlobMismatch {
                stream: 0,
                what: "end",
                ..
            }
        ),
        "{e:?}"
    );
    // A byte inside a stream image: the image's own codec names it.
    let start = sample().blob_offsets()[1];
    let e = corrupt(start + 12, 9);
    match &e {
        ContainerError::Blob {
            stream: 1,
            start: s,
            error: ImageError::BadStreamKind { found: 9 },
        } => assert_eq!(*s, start),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.offset(), Some(start + 12));
    assert!(
        e.to_string()
            .contains(&format!("(file offset {})", start + 12)),
        "{e}"
    );
    // Payload damage inside an image: its checksum.
    let e = corrupt(start + 100, b[start + 100] ^ 1);
    assert!(matches!(
        e,
        ContainerError::Blob {
            error: ImageError::BadChecksum { .. },
            ..
        }
    ));
    // The trailer's reserved word.
    let len = b.len();
    let mut c = b.clone();
    c[len - 1] = 1;
    assert!(matches!(
        decode(&c, Constraint::ThisBuild).unwrap_err(),
        ContainerError::NonZeroReserved { offset } if offset == len - 1
    ));
    // The checksum itself.
    let mut c = b.clone();
    c[len - 8] ^= 1;
    let e = decode(&c, Constraint::ThisBuild).unwrap_err();
    assert!(matches!(e, ContainerError::BadChecksum { offset, .. } if offset == len - 8));
}

#[test]
fn table_references_are_checked() {
    let mut c = sample();
    c.files[0].stream = 9;
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::BadFileStream {
            file: 0,
            stream: 9,
            ..
        }
    ));
    let mut c = sample();
    c.holders[2].file = 4;
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::BadHolderFile {
            holder: 2,
            file: 4,
            ..
        }
    ));
    let mut c = sample();
    c.holders[3].fd = 0;
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::DuplicateHolder {
            holder: 3,
            pid: 200,
            fd: 0,
            ..
        }
    ));
    let mut c = sample();
    c.files.retain(|f| f.stream != 2);
    c.holders.retain(|h| h.file != 3);
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::UnheldStream { stream: 2, .. }
    ));
    let mut c = sample();
    c.streams.push(c.streams[0].clone());
    c.files.push(FileRecord {
        stream: 3,
        flags: 2,
    });
    c.holders.push(HolderRecord {
        pid: 1,
        fd: 1,
        file: 4,
        fd_flags: 0,
    });
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::DuplicateStream {
            stream: 3,
            first: 0,
            ..
        }
    ));
    let mut c = sample();
    c.files[0].flags |= libc::O_CLOEXEC as u32;
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::BadFileFlags { file: 0, .. }
    ));
    let mut c = sample();
    c.checkpoint_id ^= 1;
    let e = c.encode().unwrap_err();
    assert!(
        matches!(
            e,
            ContainerError::BlobMismatch {
                what: "checkpoint id",
                ..
            }
        ),
        "{e:?}"
    );
    let mut c = sample();
    c.streams[2].mode = PtyMode::Att;
    c.streams[2].index = 4;
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::BlobMismatch {
            what: "pty mode",
            ..
        }
    ));
    let mut c = sample();
    c.streams[0].image.truncate(40);
    assert!(matches!(
        c.encode().unwrap_err(),
        ContainerError::Blob {
            stream: 0,
            error: ImageError::Truncated { .. },
            ..
        }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&data, Constraint::ThisBuild);
        let _ = decode(&data, Constraint::OwnConstants);
    }

    #[test]
    fn arbitrary_prefix_with_magic_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = b"CKPTCTL\0\x01\x00\x40\x00".to_vec();
        b.extend_from_slice(&data);
        let _ = decode(&b, Constraint::ThisBuild);
    }

    #[test]
    fn mutations_are_refused(edits in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..6)) {
        let b = bytes();
        let mut c = b.clone();
        for (at, x) in edits {
            let i = at % c.len();
            c[i] ^= x;
        }
        if c != b {
            let e = decode(&c, Constraint::ThisBuild).unwrap_err();
            prop_assert!(e.offset().is_some());
        }
    }

    #[test]
    fn holder_tables_round_trip(
        holders in proptest::collection::btree_map((1u32..5000, 0u32..1024), (0u32..4, any::<bool>()), 0..40)
    ) {
        let mut c = sample();
        for ((pid, fd), (file, cloexec)) in holders {
            if c.holders.iter().any(|h| h.pid == pid && h.fd == fd) {
                continue;
            }
            c.holders.push(HolderRecord {
                pid,
                fd,
                file,
                fd_flags: u32::from(cloexec),
            });
        }
        let b = c.encode().unwrap();
        prop_assert_eq!(decode(&b, Constraint::ThisBuild).unwrap(), c);
    }
}
