// SPDX-License-Identifier: GPL-2.0
//! Tests of the checkpoint image codec: round trips, canonical encoding,
//! exhaustive corruption and truncation, fuzzing, and every specific error.

use proptest::prelude::*;
use pty_core::codec::{FieldError, FieldReader, FieldWriter};
use pty_core::image::{
    block_len, check_chain, crc32, decode, decode_with, encode, encoded_len, layout, ConstantField,
    Constants, ImageError, ImageSizer, ImageWriter, ModuleBlock, ModuleName, ModulePart, PtyMode,
    StreamImage, StreamImageHeader, BLOCK_HEADER_LEN, HEADER_LEN, MAGIC, MASTER_CHAIN, MAX_MODULES,
    MIN_IMAGE_LEN, SLAVE_CHAIN, TRAILER_LEN,
};
use pty_core::End;

type Owned = (ModuleName, Vec<u8>, Vec<u8>);

fn header(kind: End, mode: PtyMode, id: u64) -> StreamImageHeader {
    StreamImageHeader {
        kind,
        mode,
        checkpoint_id: id,
    }
}

fn blocks(owned: &[Owned]) -> Vec<ModuleBlock<'_>> {
    owned
        .iter()
        .map(|(name, i, e)| ModuleBlock {
            name: *name,
            internal: i,
            external: e,
        })
        .collect()
}

fn build(h: &StreamImageHeader, owned: &[Owned]) -> Vec<u8> {
    let b = blocks(owned);
    let mut out = vec![0u8; encoded_len(&b).unwrap()];
    let n = encode(h, &b, &mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

/// A small slave image: odd lengths so every block has padding.
fn slave_owned() -> Vec<Owned> {
    vec![
        (ModuleName::Head, vec![1, 2, 3], vec![]),
        (ModuleName::Tioc, vec![24, 0, 80, 0, 0, 0, 0, 0], vec![]),
        (
            ModuleName::Ldterm,
            vec![9, 8, 7, 6, 5],
            vec![b'l', b's', b'\r'],
        ),
        (ModuleName::Pts, vec![], b"echo hi\n\x03".to_vec()),
    ]
}

fn slave_image() -> Vec<u8> {
    build(
        &header(End::Slave, PtyMode::Att, 0x1122_3344_5566_7788),
        &slave_owned(),
    )
}

fn reseal(img: &mut [u8]) {
    let limit = img.len() - TRAILER_LEN;
    let crc = crc32(&img[..limit]);
    img[limit..limit + 4].copy_from_slice(&crc.to_le_bytes());
}

fn set_u16(img: &mut [u8], off: usize, v: u16) {
    img[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn set_u32(img: &mut [u8], off: usize, v: u32) {
    img[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn owned_of(img: &StreamImage<'_>) -> Vec<Owned> {
    img.modules()
        .iter()
        .map(|b| (b.name, b.internal.to_vec(), b.external.to_vec()))
        .collect()
}

/// Write a decoded image again through the writer: must give the same bytes.
fn reencode(img: &StreamImage<'_>) -> Vec<u8> {
    let st = img.status();
    let mut out = vec![0u8; st.total_len];
    let planned = usize::from(st.processed) + usize::from(st.to_process);
    let mut w = ImageWriter::begin(&mut out, &img.header(), planned).unwrap();
    for b in img.modules() {
        w.module_bytes(b).unwrap();
    }
    let n = if st.error == 0 {
        w.finish().unwrap()
    } else {
        w.fail(st.error).unwrap()
    };
    out.truncate(n);
    out
}

/// Offsets of each block: (block start, internal len, external len).
fn block_spans(img: &[u8]) -> Vec<(usize, usize, usize)> {
    let count = usize::from(u16::from_le_bytes([img[14], img[15]]));
    let mut pos = HEADER_LEN;
    let mut spans = Vec::new();
    for _ in 0..count {
        let il = u32::from_le_bytes(img[pos + 8..pos + 12].try_into().unwrap()) as usize;
        let el = u32::from_le_bytes(img[pos + 12..pos + 16].try_into().unwrap()) as usize;
        spans.push((pos, il, el));
        pos += BLOCK_HEADER_LEN + il.next_multiple_of(8) + el.next_multiple_of(8);
    }
    spans
}

#[test]
fn crc32_is_iso_hdlc() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414f_a339
    );
}

#[test]
fn constants_are_the_cores() {
    let c = Constants::CURRENT;
    assert_eq!(
        c.pts_input_bound as usize,
        pty_core::stream::PTS_INPUT_BOUND
    );
    assert_eq!(
        c.master_head_bound as usize,
        pty_core::stream::MASTER_HEAD_BOUND
    );
    assert_eq!(c.n_tty_buf_size as usize, pty_core::ldterm::N_TTY_BUF_SIZE);
    assert_eq!(usize::from(c.nccs), pty_core::termios::NCCS);
    assert_eq!(
        usize::from(c.termios_size),
        pty_core::termios::Termios::SIZE
    );
    assert_eq!(usize::from(c.winsize_size), pty_core::stream::Winsize::SIZE);
}

#[test]
fn names_and_chains() {
    for n in ModuleName::ALL {
        assert_eq!(ModuleName::from_bytes(&n.to_bytes()), Some(n));
        assert_eq!(ModuleName::from_name(n.as_str()), Some(n));
        assert_eq!(n.to_string(), n.as_str());
    }
    assert_eq!(ModuleName::from_bytes(b"HEAD\0\0\0\0"), None);
    assert_eq!(ModuleName::from_bytes(b"head\0\0\0x"), None);
    assert_eq!(ModuleName::from_bytes(b"head    "), None);
    assert_eq!(ModuleName::from_name("ttcompat"), None);
    assert_eq!(End::Master.chain(), &MASTER_CHAIN);
    assert_eq!(End::Slave.chain(), &SLAVE_CHAIN);
}

#[test]
fn layout_matches_the_documented_table() {
    let img = slave_image();
    // 64 + head(16+8) + tioc(16+8) + ldterm(16+8+8) + pts(16+16) + 8
    assert_eq!(img.len(), 64 + 24 + 24 + 32 + 32 + 8);
    assert_eq!(&img[0..8], b"CKPTPTY\0");
    assert_eq!(&img[8..10], &1u16.to_le_bytes()); // version
    assert_eq!(&img[10..12], &64u16.to_le_bytes()); // header length
    assert_eq!(img[12], 2); // slave
    assert_eq!(img[13], 0); // AT&T
    assert_eq!(&img[14..16], &4u16.to_le_bytes()); // module count
    assert_eq!(&img[16..20], &(img.len() as u32).to_le_bytes());
    assert_eq!(&img[20..22], &4u16.to_le_bytes()); // processed
    assert_eq!(&img[22..24], &0u16.to_le_bytes()); // to process
    assert_eq!(&img[24..32], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&img[32..36], &0i32.to_le_bytes());
    assert_eq!(&img[36..38], &0xffffu16.to_le_bytes());
    assert_eq!(&img[38..40], &2u16.to_le_bytes()); // state version
    assert_eq!(&img[40..44], &(64u32 * 1024).to_le_bytes());
    assert_eq!(&img[44..48], &(64u32 * 1024).to_le_bytes());
    assert_eq!(&img[48..52], &4096u32.to_le_bytes());
    assert_eq!(&img[52..54], &19u16.to_le_bytes());
    assert_eq!(&img[54..56], &36u16.to_le_bytes());
    assert_eq!(&img[56..58], &8u16.to_le_bytes());
    assert_eq!(&img[58..64], &[0; 6]);
    // First block: head, internal 3 bytes padded to 8, no external.
    assert_eq!(&img[64..72], b"head\0\0\0\0");
    assert_eq!(&img[72..76], &3u32.to_le_bytes());
    assert_eq!(&img[76..80], &0u32.to_le_bytes());
    assert_eq!(&img[80..88], &[1, 2, 3, 0, 0, 0, 0, 0]);
    // Ldterm: internal then external, each padded.
    assert_eq!(&img[112..120], b"ldterm\0\0");
    assert_eq!(&img[128..136], &[9, 8, 7, 6, 5, 0, 0, 0]);
    assert_eq!(&img[136..144], &[b'l', b's', b'\r', 0, 0, 0, 0, 0]);
    // Trailer.
    let t = img.len() - 8;
    assert_eq!(&img[t..t + 4], &crc32(&img[..t]).to_le_bytes());
    assert_eq!(&img[t + 4..], &[0; 4]);

    let d = decode(&img).unwrap();
    assert_eq!(d.kind(), End::Slave);
    assert_eq!(d.mode(), PtyMode::Att);
    assert_eq!(d.checkpoint_id(), 0x1122_3344_5566_7788);
    assert_eq!(*d.constants(), Constants::CURRENT);
    assert!(d.is_complete());
    assert_eq!(d.status().failed_module, None);
    assert_eq!(owned_of(&d), slave_owned());
    assert_eq!(
        d.module(ModuleName::Pts).unwrap().external,
        b"echo hi\n\x03"
    );
    assert_eq!(check_chain(&d, &SLAVE_CHAIN), Ok(()));
}

#[test]
fn empty_image_is_the_minimum() {
    let h = header(End::Master, PtyMode::Bsd, 7);
    let img = build(&h, &[]);
    assert_eq!(img.len(), MIN_IMAGE_LEN);
    let d = decode(&img).unwrap();
    assert!(d.modules().is_empty());
    assert_eq!(
        check_chain(&d, &MASTER_CHAIN),
        Err(ImageError::ChainLength {
            expected: 3,
            found: 0
        })
    );
}

fn arb_name() -> impl Strategy<Value = ModuleName> {
    prop::sample::select(ModuleName::ALL.to_vec())
}

fn arb_owned() -> impl Strategy<Value = Vec<Owned>> {
    prop::collection::vec(
        (
            arb_name(),
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 0..40),
        ),
        0..=MAX_MODULES,
    )
}

fn arb_header() -> impl Strategy<Value = StreamImageHeader> {
    (
        prop::sample::select(vec![End::Master, End::Slave]),
        prop::sample::select(vec![PtyMode::Att, PtyMode::Bsd]),
        any::<u64>(),
    )
        .prop_map(|(k, m, id)| header(k, m, id))
}

/// A valid image, complete or aborted.
fn arb_image() -> impl Strategy<Value = Vec<u8>> {
    (arb_header(), arb_owned(), any::<bool>(), 1..=4095i32).prop_map(|(h, owned, abort, e)| {
        if abort && !owned.is_empty() {
            let mut out = vec![0u8; 4096];
            let mut w = ImageWriter::begin(&mut out, &h, owned.len()).unwrap();
            for b in blocks(&owned[..owned.len() - 1]) {
                w.module_bytes(&b).unwrap();
            }
            let n = w.fail(-e).unwrap();
            out.truncate(n);
            out
        } else {
            build(&h, &owned)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_and_writer_agree(h in arb_header(), owned in arb_owned()) {
        let img = build(&h, &owned);
        prop_assert_eq!(img.len() % 8, 0);
        let d = decode(&img).unwrap();
        prop_assert_eq!(d.header(), h);
        prop_assert_eq!(owned_of(&d), owned.clone());
        prop_assert_eq!(usize::from(d.status().processed), owned.len());
        prop_assert_eq!(reencode(&d), img.clone());

        // ImageWriter::module: slices handed to the module.
        let mut out = vec![0xa5u8; img.len() + 24];
        let mut w = ImageWriter::begin(&mut out, &h, owned.len()).unwrap();
        for (name, i, e) in &owned {
            let (ib, eb) = w.module(*name, i.len(), e.len()).unwrap();
            prop_assert!(ib.iter().chain(eb.iter()).all(|&b| b == 0));
            ib.copy_from_slice(i);
            eb.copy_from_slice(e);
        }
        prop_assert_eq!(w.image_len(), img.len());
        let n = w.finish().unwrap();
        prop_assert_eq!(&out[..n], &img[..]);
        prop_assert!(out[n..].iter().all(|&b| b == 0xa5));

        // ImageWriter::module_with: field writers.
        let mut out = vec![0u8; img.len()];
        let mut w = ImageWriter::begin(&mut out, &h, owned.len()).unwrap();
        for (name, i, e) in &owned {
            w.module_with(*name, i.len(), e.len(), |w| w.put_bytes(i), |w| w.put_bytes(e))
                .unwrap();
        }
        prop_assert_eq!(w.modules(), owned.len());
        prop_assert_eq!(w.finish().unwrap(), img.len());
        prop_assert_eq!(&out, &img);

        // The sizer agrees.
        let mut s = ImageSizer::new();
        for (_, i, e) in &owned {
            s.add(i.len(), e.len()).unwrap();
        }
        prop_assert_eq!(s.image_len(), img.len());
        prop_assert_eq!(s.modules(), owned.len());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(decode(&bytes).is_err());
    }

    /// A plausible header followed by random bytes, with a consistent total
    /// length and checksum, reaches the deep checks; whatever is accepted
    /// is canonical.
    #[test]
    fn random_bodies_are_checked(
        body in prop::collection::vec(any::<u8>(), 0..300),
        count in 0u16..10,
    ) {
        let mut img = slave_image()[..HEADER_LEN].to_vec();
        img.extend_from_slice(&body);
        img.extend_from_slice(&[0; TRAILER_LEN]);
        let len = img.len() as u32;
        set_u32(&mut img, layout::TOTAL_LEN, len);
        set_u16(&mut img, layout::MODULE_COUNT, count);
        set_u16(&mut img, layout::PROCESSED, count);
        reseal(&mut img);
        if let Ok(d) = decode(&img) {
            prop_assert_eq!(reencode(&d), img);
        }
    }

    /// Random edits of valid images: never a panic; an edit that the
    /// checksum does not cover is refused; whatever is accepted after
    /// resealing is canonical (re-encodes to the same bytes).
    #[test]
    fn mutated_images(
        img in arb_image(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        mode in 0u8..4,
    ) {
        let mut m = img.clone();
        for (at, v) in &edits {
            let i = at.index(m.len());
            m[i] = *v;
        }
        match mode {
            1 => { m.insert(cut.index(m.len()), 0); }
            2 => { m.remove(cut.index(m.len())); }
            _ => {}
        }
        if mode != 0 && m.len() >= MIN_IMAGE_LEN {
            let len = m.len() as u32;
            set_u32(&mut m, layout::TOTAL_LEN, len);
            reseal(&mut m);
        }
        match decode(&m) {
            Ok(d) => prop_assert_eq!(reencode(&d), m.clone()),
            Err(e) => {
                prop_assert!(e.errno().code() > 0);
                prop_assert!(!e.to_string().is_empty());
            }
        }
        if mode == 0 && m != img {
            prop_assert!(decode(&m).is_err());
        }
    }

    #[test]
    fn fields_round_trip(
        a in any::<u8>(), b in any::<bool>(), c in any::<u16>(), d in any::<u32>(),
        e in any::<u64>(), f in any::<i32>(), g in any::<i64>(),
        bytes in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let put = |w: &mut FieldWriter<'_>| -> Result<(), FieldError> {
            w.put_u8(a)?;
            w.put_bool(b)?;
            w.put_u16(c)?;
            w.put_u32(d)?;
            w.put_u64(e)?;
            w.put_i32(f)?;
            w.put_i64(g)?;
            w.put_zeros(3)?;
            w.put_bytes(&bytes)
        };
        let mut counter = FieldWriter::counting();
        put(&mut counter).unwrap();
        let len = counter.finish().unwrap();
        prop_assert_eq!(len, 1 + 1 + 2 + 4 + 8 + 4 + 8 + 3 + bytes.len());
        let mut buf = vec![0u8; len];
        let mut w = FieldWriter::new(&mut buf);
        put(&mut w).unwrap();
        prop_assert_eq!(w.finish().unwrap(), len);

        let mut r = FieldReader::new(&buf);
        prop_assert_eq!(r.get_u8().unwrap(), a);
        prop_assert_eq!(r.get_bool().unwrap(), b);
        prop_assert_eq!(r.get_u16().unwrap(), c);
        prop_assert_eq!(r.get_u32().unwrap(), d);
        prop_assert_eq!(r.get_u64().unwrap(), e);
        prop_assert_eq!(r.get_i32().unwrap(), f);
        prop_assert_eq!(r.get_i64().unwrap(), g);
        r.get_zeros(3).unwrap();
        prop_assert_eq!(r.get_bytes(bytes.len()).unwrap(), &bytes[..]);
        prop_assert_eq!(r.finish(), Ok(()));

        // Every shorter buffer makes some write short, never a panic.
        for n in 0..len {
            let mut small = vec![0u8; n];
            let mut w = FieldWriter::new(&mut small);
            let short = matches!(put(&mut w), Err(FieldError::Short { .. }));
            prop_assert!(short);
        }
    }
}

/// Which errors a single-byte corruption at `off` may give.
fn allowed(img: &[u8], off: usize, e: &ImageError) -> bool {
    use ImageError as E;
    let len = img.len();
    let trailer = len - TRAILER_LEN;
    match off {
        0..=7 => matches!(e, E::BadMagic { .. }),
        8..=9 => matches!(e, E::UnsupportedVersion { .. }),
        10..=11 => matches!(e, E::BadHeaderLength { .. }),
        // Turning one valid kind or mode into the other is structurally
        // valid: only the checksum sees it.
        12 => matches!(e, E::BadStreamKind { .. } | E::BadChecksum { .. }),
        13 => matches!(e, E::BadPtyMode { .. } | E::BadChecksum { .. }),
        14..=15 | 20..=21 => matches!(e, E::TooManyModules { .. } | E::ModuleCount { .. }),
        16..=19 => matches!(e, E::LengthMismatch { .. }),
        22..=23 => matches!(
            e,
            E::TooManyModules { .. } | E::ModuleCount { .. } | E::BadChecksum { .. }
        ),
        24..=31 => matches!(e, E::BadChecksum { .. }),
        32..=35 => matches!(
            e,
            E::BadError { .. } | E::BadFailedModule { .. } | E::BadChecksum { .. }
        ),
        36..=37 => matches!(e, E::BadFailedModule { .. }),
        38..=39 => matches!(e, E::UnsupportedStateVersion { .. }),
        40..=57 => {
            matches!(e, E::ConstantsMismatch { field, .. }
                if (field.offset()..field.offset() + if field.offset() < 52 { 4 } else { 2 })
                    .contains(&off))
        }
        58..=63 => *e == E::NonZeroReserved { offset: off },
        o if o >= trailer + 4 => *e == E::NonZeroReserved { offset: off },
        o if o >= trailer => matches!(e, E::BadChecksum { .. }),
        o => {
            for (start, il, el) in block_spans(img) {
                let istart = start + BLOCK_HEADER_LEN;
                let estart = istart + il.next_multiple_of(8);
                let next = estart + el.next_multiple_of(8);
                if !(start..next).contains(&o) {
                    continue;
                }
                return if o < start + 8 {
                    // ptm <-> pts is one byte apart.
                    matches!(e, E::BadModuleName { .. } | E::BadChecksum { .. })
                } else if o < istart {
                    true // a length: any error will do, as long as it is one
                } else if (istart..istart + il).contains(&o) || (estart..estart + el).contains(&o) {
                    matches!(e, E::BadChecksum { .. })
                } else {
                    *e == E::NonZeroPadding { offset: o }
                };
            }
            false
        }
    }
}

fn corrupt_every_byte(img: &[u8]) {
    assert!(decode(img).is_ok());
    let mut m = img.to_vec();
    for off in 0..img.len() {
        for x in 1..=255u8 {
            m[off] ^= x;
            let e = decode(&m).expect_err("corruption accepted");
            assert!(
                allowed(img, off, &e),
                "byte {off} ^ {x:#x}: unexpected {e:?} ({e})"
            );
            m[off] ^= x;
        }
    }
}

#[test]
fn every_single_byte_corruption_is_rejected() {
    corrupt_every_byte(&slave_image());
    // A master image with a ptm block (one byte from "pts").
    corrupt_every_byte(&build(
        &header(End::Master, PtyMode::Bsd, u64::MAX),
        &[
            (ModuleName::Head, vec![], b"out".to_vec()),
            (ModuleName::Tioc, vec![0; 8], vec![]),
            (ModuleName::Ptm, vec![1, 0, 0], vec![]),
        ],
    ));
    // An aborted image: the error field now holds a negative errno.
    let mut out = vec![0u8; 512];
    let mut w = ImageWriter::begin(&mut out, &header(End::Slave, PtyMode::Att, 3), 4).unwrap();
    w.module_bytes(&ModuleBlock {
        name: ModuleName::Head,
        internal: b"x",
        external: b"",
    })
    .unwrap();
    let n = w.fail(-12).unwrap();
    corrupt_every_byte(&out[..n]);
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    let img = slave_image();
    for k in 0..img.len() {
        match decode(&img[..k]) {
            Err(ImageError::Truncated { len, needed }) => {
                assert!(k < MIN_IMAGE_LEN);
                assert_eq!((len, needed), (k, MIN_IMAGE_LEN));
            }
            Err(ImageError::LengthMismatch { declared, actual }) => {
                assert!(k >= MIN_IMAGE_LEN);
                assert_eq!((declared as usize, actual), (img.len(), k));
            }
            other => panic!("truncation to {k}: {other:?}"),
        }
    }
    for extra in 1..=16 {
        let mut long = img.clone();
        long.extend(std::iter::repeat_n(0, extra));
        assert!(matches!(
            decode(&long),
            Err(ImageError::LengthMismatch { .. })
        ));
    }
}

#[test]
fn bad_magic() {
    let mut img = slave_image();
    img[3] = b'x';
    let e = decode(&img).unwrap_err();
    assert_eq!(
        e,
        ImageError::BadMagic {
            found: *b"CKPxPTY\0"
        }
    );
    assert_eq!(e.errno().code(), libc::EINVAL);
    assert_eq!(e.offset(), Some(0));
    assert!(e.to_string().contains("offset 0"), "{e}");
    assert!(matches!(
        decode(b"ELF"),
        Err(ImageError::BadMagic { found }) if &found[..3] == b"ELF"
    ));
    assert!(matches!(
        decode(&MAGIC[..5]),
        Err(ImageError::Truncated { len: 5, .. })
    ));
}

#[test]
fn unknown_versions_are_refused() {
    let mut img = slave_image();
    set_u16(&mut img, layout::VERSION, 2);
    reseal(&mut img);
    let e = decode(&img).unwrap_err();
    assert_eq!(e, ImageError::UnsupportedVersion { found: 2 });
    assert_eq!(e.errno().code(), libc::EPROTONOSUPPORT);
    assert!(e.to_string().contains("offset 8"), "{e}");

    let mut img = slave_image();
    set_u16(&mut img, layout::STATE_VERSION, 0);
    reseal(&mut img);
    let e = decode(&img).unwrap_err();
    assert_eq!(e, ImageError::UnsupportedStateVersion { found: 0 });
    assert_eq!(e.errno().code(), libc::EPROTONOSUPPORT);
    assert_eq!(e.offset(), Some(38));
}

#[test]
fn header_fields_are_checked() {
    let cases: [(usize, u8, ImageError); 3] = [
        (layout::KIND, 3, ImageError::BadStreamKind { found: 3 }),
        (layout::MODE, 2, ImageError::BadPtyMode { found: 2 }),
        (
            layout::HEADER_LEN,
            72,
            ImageError::BadHeaderLength { found: 72 },
        ),
    ];
    for (off, v, want) in cases {
        let mut img = slave_image();
        img[off] = v;
        reseal(&mut img);
        assert_eq!(decode(&img).unwrap_err(), want);
    }
}

#[test]
fn wrong_constants_name_the_field() {
    let img = slave_image();
    for field in ConstantField::ALL {
        let mut other = Constants::CURRENT;
        match field {
            ConstantField::PtsInputBound => other.pts_input_bound = 4096,
            ConstantField::MasterHeadBound => other.master_head_bound = 1,
            ConstantField::NTtyBufSize => other.n_tty_buf_size = 8192,
            ConstantField::Nccs => other.nccs = 32,
            ConstantField::TermiosSize => other.termios_size = 60,
            ConstantField::WinsizeSize => other.winsize_size = 16,
        }
        let e = decode_with(&img, &other).unwrap_err();
        assert_eq!(
            e,
            ImageError::ConstantsMismatch {
                field,
                image: Constants::CURRENT.get(field),
                kernel: other.get(field),
            }
        );
        assert_eq!(e.errno().code(), libc::EPROTONOSUPPORT);
        assert_eq!(e.offset(), Some(field.offset()));
        assert!(e.to_string().contains(field.name()), "{e}");

        // The same through the bytes: an image from another build.
        let mut patched = img.clone();
        let off = field.offset();
        if off < 52 {
            set_u32(&mut patched, off, other.get(field));
        } else {
            set_u16(&mut patched, off, other.get(field) as u16);
        }
        reseal(&mut patched);
        assert_eq!(
            decode(&patched).unwrap_err(),
            ImageError::ConstantsMismatch {
                field,
                image: other.get(field),
                kernel: Constants::CURRENT.get(field),
            }
        );
        assert!(decode_with(&patched, &other).is_ok());
    }
}

#[test]
fn counts_and_status_are_checked() {
    let img = slave_image();
    let patch = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = img.clone();
        f(&mut m);
        reseal(&mut m);
        decode(&m).unwrap_err()
    };
    assert_eq!(
        patch(&|m| set_u16(m, layout::MODULE_COUNT, 9)),
        ImageError::TooManyModules { count: 9, max: 8 }
    );
    assert_eq!(
        patch(&|m| set_u16(m, layout::PROCESSED, 3)),
        ImageError::ModuleCount {
            count: 4,
            processed: 3,
            to_process: 0
        }
    );
    assert_eq!(
        patch(&|m| set_u16(m, layout::TO_PROCESS, 5)),
        ImageError::TooManyModules { count: 9, max: 8 }
    );
    // In flight (modules left to process) but no error: not an image.
    assert_eq!(
        patch(&|m| set_u16(m, layout::TO_PROCESS, 1)),
        ImageError::ModuleCount {
            count: 4,
            processed: 4,
            to_process: 1
        }
    );
    assert_eq!(
        patch(&|m| set_u32(m, layout::ERROR, 5)),
        ImageError::BadError { value: 5 }
    );
    assert_eq!(
        patch(&|m| set_u32(m, layout::ERROR, (-4096i32) as u32)),
        ImageError::BadError { value: -4096 }
    );
    // An error needs the failed index...
    assert_eq!(
        patch(&|m| set_u32(m, layout::ERROR, (-5i32) as u32)),
        ImageError::BadFailedModule {
            found: 0xffff,
            expected: 4
        }
    );
    // ...and a module left to process.
    assert_eq!(
        patch(&|m| {
            set_u32(m, layout::ERROR, (-5i32) as u32);
            set_u16(m, layout::FAILED_MODULE, 4);
        }),
        ImageError::ModuleCount {
            count: 4,
            processed: 4,
            to_process: 0
        }
    );
    assert_eq!(
        patch(&|m| set_u16(m, layout::FAILED_MODULE, 0)),
        ImageError::BadFailedModule {
            found: 0,
            expected: 0xffff
        }
    );
    assert_eq!(
        patch(&|m| m[layout::RESERVED + 5] = 1),
        ImageError::NonZeroReserved { offset: 63 }
    );
    let t = img.len() - 2;
    assert_eq!(
        patch(&|m| m[t] = 1),
        ImageError::NonZeroReserved { offset: t }
    );
}

#[test]
fn oversized_and_overlapping_blocks() {
    let img = slave_image();
    let spans = block_spans(&img);
    let limit = img.len() - TRAILER_LEN;
    // Internal length of the first block: huge, overflowing on 32 bits.
    let mut m = img.clone();
    set_u32(&mut m, HEADER_LEN + 8, u32::MAX);
    reseal(&mut m);
    assert_eq!(
        decode(&m).unwrap_err(),
        ImageError::BlockOverrun {
            index: 0,
            offset: HEADER_LEN,
            limit
        }
    );
    // Both lengths huge.
    set_u32(&mut m, HEADER_LEN + 12, u32::MAX);
    reseal(&mut m);
    assert!(matches!(
        decode(&m).unwrap_err(),
        ImageError::BlockOverrun { index: 0, .. }
    ));
    // The last block reaching into the trailer (overlap).
    let (last, _, el) = *spans.last().unwrap();
    let mut m = img.clone();
    set_u32(&mut m, last + 12, el as u32 + 8);
    reseal(&mut m);
    let e = decode(&m).unwrap_err();
    assert_eq!(
        e,
        ImageError::BlockOverrun {
            index: 3,
            offset: last,
            limit
        }
    );
    assert!(e.to_string().contains(&format!("offset {last}")), "{e}");
    // A middle block grown over the next one: the next block header is
    // then read from inside the payload.
    let (ld, il, _) = spans[2];
    let mut m = img.clone();
    set_u32(&mut m, ld + 8, il as u32 + 8);
    reseal(&mut m);
    assert!(decode(&m).is_err());
    // One block too many claimed: the trailer is not a block.
    let mut m = img.clone();
    set_u16(&mut m, layout::MODULE_COUNT, 5);
    set_u16(&mut m, layout::PROCESSED, 5);
    reseal(&mut m);
    assert_eq!(
        decode(&m).unwrap_err(),
        ImageError::BlockOverrun {
            index: 4,
            offset: limit,
            limit
        }
    );
    // The last block shrunk: bytes that belong to no block.
    let mut m = img.clone();
    set_u32(&mut m, last + 12, 0);
    for b in &mut m[last + 16..limit] {
        *b = 0;
    }
    reseal(&mut m);
    assert_eq!(
        decode(&m).unwrap_err(),
        ImageError::TrailingBytes {
            offset: last + 16,
            len: limit - last - 16
        }
    );
    // Fewer blocks claimed than present.
    let mut m = img.clone();
    set_u16(&mut m, layout::MODULE_COUNT, 3);
    set_u16(&mut m, layout::PROCESSED, 3);
    reseal(&mut m);
    assert_eq!(
        decode(&m).unwrap_err(),
        ImageError::TrailingBytes {
            offset: last,
            len: limit - last
        }
    );
}

#[test]
fn padding_and_names_are_checked() {
    let img = slave_image();
    let mut m = img.clone();
    m[HEADER_LEN + 16 + 3] = 0x80; // after head's 3 internal bytes
    reseal(&mut m);
    assert_eq!(
        decode(&m).unwrap_err(),
        ImageError::NonZeroPadding {
            offset: HEADER_LEN + 19
        }
    );
    let mut m = img.clone();
    m[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(b"ttcompat");
    reseal(&mut m);
    let e = decode(&m).unwrap_err();
    assert_eq!(
        e,
        ImageError::BadModuleName {
            index: 0,
            offset: HEADER_LEN,
            found: *b"ttcompat"
        }
    );
    assert!(e.to_string().contains("ttcompat"), "{e}");
    m[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(b"he\xffd\0\0\0\0");
    reseal(&mut m);
    assert!(decode(&m).unwrap_err().to_string().contains("\\xff"));
}

#[test]
fn checksum_is_checked() {
    let mut img = slave_image();
    let at = img.len() - TRAILER_LEN - 16;
    img[at] ^= 1; // first byte of pts's external part
    let e = decode(&img).unwrap_err();
    assert!(matches!(e, ImageError::BadChecksum { .. }));
    assert_eq!(e.errno().code(), libc::EBADMSG);
}

#[test]
fn chain_is_checked() {
    let slave = slave_image();
    let d = decode(&slave).unwrap();
    assert_eq!(check_chain(&d, End::Slave.chain()), Ok(()));
    let e = check_chain(&d, &MASTER_CHAIN).unwrap_err();
    assert_eq!(
        e,
        ImageError::ChainLength {
            expected: 3,
            found: 4
        }
    );
    assert_eq!(e.errno().code(), libc::EINVAL);

    let h = header(End::Master, PtyMode::Att, 1);
    let wrong = build(
        &h,
        &[
            (ModuleName::Head, vec![], vec![]),
            (ModuleName::Tioc, vec![], vec![]),
            (ModuleName::Pts, vec![], vec![]),
        ],
    );
    let d = decode(&wrong).unwrap();
    let e = check_chain(&d, &MASTER_CHAIN).unwrap_err();
    assert_eq!(
        e,
        ImageError::ChainMismatch {
            index: 2,
            expected: ModuleName::Ptm,
            found: ModuleName::Pts
        }
    );
    assert!(e.to_string().contains("pts") && e.to_string().contains("ptm"));
    let swapped = build(
        &h,
        &[
            (ModuleName::Tioc, vec![], vec![]),
            (ModuleName::Head, vec![], vec![]),
            (ModuleName::Ptm, vec![], vec![]),
        ],
    );
    assert!(matches!(
        check_chain(&decode(&swapped).unwrap(), &MASTER_CHAIN),
        Err(ImageError::ChainMismatch { index: 0, .. })
    ));
}

#[test]
fn aborted_checkpoint_is_recorded_but_not_restorable() {
    let h = header(End::Slave, PtyMode::Att, 9);
    let mut out = vec![0u8; 256];
    let mut w = ImageWriter::begin(&mut out, &h, SLAVE_CHAIN.len()).unwrap();
    w.module_bytes(&ModuleBlock {
        name: ModuleName::Head,
        internal: b"abc",
        external: b"",
    })
    .unwrap();
    w.module(ModuleName::Tioc, 8, 0).unwrap();
    let n = w.fail(-libc::ENOMEM).unwrap();
    let d = decode(&out[..n]).unwrap();
    assert!(!d.is_complete());
    let st = d.status();
    assert_eq!(
        (st.processed, st.to_process, st.error, st.failed_module),
        (2, 2, -libc::ENOMEM, Some(2))
    );
    assert_eq!(reencode(&d), &out[..n]);
    let e = check_chain(&d, &SLAVE_CHAIN).unwrap_err();
    assert_eq!(
        e,
        ImageError::Aborted {
            error: -libc::ENOMEM,
            module: 2
        }
    );
    assert_eq!(e.errno().code(), libc::EINVAL);
}

#[test]
fn writer_refuses_inconsistent_images() {
    let h = header(End::Master, PtyMode::Att, 1);
    let mut out = vec![0u8; 512];

    assert_eq!(
        ImageWriter::begin(&mut out, &h, MAX_MODULES + 1).unwrap_err(),
        ImageError::TooManyModules { count: 9, max: 8 }
    );

    let mut w = ImageWriter::begin(&mut out, &h, 1).unwrap();
    w.module(ModuleName::Head, 1, 1).unwrap();
    assert_eq!(
        w.module(ModuleName::Tioc, 0, 0).unwrap_err(),
        ImageError::WriterFull { planned: 1 }
    );
    assert_eq!(
        w.fail(-5).unwrap_err(),
        ImageError::WriterFull { planned: 1 }
    );

    let mut w = ImageWriter::begin(&mut out, &h, 3).unwrap();
    w.module(ModuleName::Head, 0, 0).unwrap();
    assert_eq!(
        w.finish().unwrap_err(),
        ImageError::Incomplete {
            processed: 1,
            to_process: 2
        }
    );

    for bad in [0, 1, -4096, i32::MIN] {
        let w = ImageWriter::begin(&mut out, &h, 3).unwrap();
        assert_eq!(
            w.fail(bad).unwrap_err(),
            ImageError::BadError { value: bad }
        );
    }

    let too_many: Vec<Owned> = (0..9).map(|_| (ModuleName::Head, vec![], vec![])).collect();
    assert_eq!(
        encoded_len(&blocks(&too_many)).unwrap_err(),
        ImageError::TooManyModules { count: 9, max: 8 }
    );
}

#[test]
fn module_with_rolls_back_on_error() {
    let h = header(End::Master, PtyMode::Bsd, 2);
    let owned = vec![
        (ModuleName::Head, vec![], vec![7; 5]),
        (ModuleName::Tioc, vec![1; 8], vec![]),
        (ModuleName::Ptm, vec![0, 4, 0], vec![]),
    ];
    let want = build(&h, &owned);
    let mut out = vec![0u8; want.len()];
    let mut w = ImageWriter::begin(&mut out, &h, 3).unwrap();
    w.module_with(ModuleName::Head, 0, 5, |_| Ok(()), |e| e.put_bytes(&[7; 5]))
        .unwrap();
    // Internal part left short.
    assert_eq!(
        w.module_with(ModuleName::Tioc, 8, 0, |i| i.put_u32(1), |_| Ok(())),
        Err(ImageError::ModuleState {
            module: ModuleName::Tioc,
            part: ModulePart::Internal,
            error: FieldError::Leftover { offset: 4, len: 4 }
        })
    );
    // External part overrun.
    let e = w
        .module_with(ModuleName::Tioc, 8, 0, |i| i.put_u64(0), |e| e.put_u8(1))
        .unwrap_err();
    assert_eq!(
        e,
        ImageError::ModuleState {
            module: ModuleName::Tioc,
            part: ModulePart::External,
            error: FieldError::Short {
                offset: 0,
                needed: 1,
                len: 0
            }
        }
    );
    assert!(e.to_string().starts_with("tioc external state"), "{e}");
    // A module's own invalid value.
    assert_eq!(
        w.module_with(
            ModuleName::Tioc,
            8,
            0,
            |_| Err(FieldError::Invalid { offset: 2 }),
            |_| Ok(())
        ),
        Err(ImageError::in_module(
            FieldError::Invalid { offset: 2 },
            ModuleName::Tioc,
            ModulePart::Internal
        ))
    );
    assert_eq!(w.modules(), 1);
    w.module_with(ModuleName::Tioc, 8, 0, |i| i.put_bytes(&[1; 8]), |_| Ok(()))
        .unwrap();
    w.module_with(
        ModuleName::Ptm,
        3,
        0,
        |i| i.put_bytes(&[0, 4, 0]),
        |_| Ok(()),
    )
    .unwrap();
    assert_eq!(w.finish().unwrap(), want.len());
    assert_eq!(out, want);
}

#[test]
fn output_too_small_never_writes_past_the_buffer() {
    let owned = slave_owned();
    let b = blocks(&owned);
    let h = header(End::Slave, PtyMode::Att, 5);
    let needed = encoded_len(&b).unwrap();
    for n in 0..needed {
        let mut backing = vec![0xaau8; needed + 32];
        let e = encode(&h, &b, &mut backing[..n]).unwrap_err();
        assert_eq!(
            e,
            ImageError::OutputTooSmall {
                needed,
                available: n
            }
        );
        assert_eq!(e.errno().code(), libc::ERANGE);
        // encode checks first: nothing at all is written.
        assert!(backing.iter().all(|&x| x == 0xaa), "n = {n}");

        // The incremental writer fails at the first block that does not fit
        // and leaves everything past the buffer alone.
        let mut backing = vec![0xaau8; needed + 32];
        let failed = match ImageWriter::begin(&mut backing[..n], &h, b.len()) {
            Err(e) => e,
            Ok(mut w) => b
                .iter()
                .find_map(|m| w.module_bytes(m).err())
                .or_else(|| w.finish().err())
                .unwrap(),
        };
        assert!(
            matches!(failed, ImageError::OutputTooSmall { needed: k, available } if k > n && available == n),
            "n = {n}: {failed:?}"
        );
        assert!(backing[n..].iter().all(|&x| x == 0xaa), "n = {n}");
    }
    let mut exact = vec![0u8; needed];
    assert_eq!(encode(&h, &b, &mut exact), Ok(needed));
}

#[test]
fn sizes_beyond_u32_are_refused() {
    assert_eq!(block_len(0, 0), Ok(BLOCK_HEADER_LEN));
    assert_eq!(block_len(1, 9), Ok(BLOCK_HEADER_LEN + 8 + 16));
    assert_eq!(
        block_len(u32::MAX as usize, 0),
        Ok(BLOCK_HEADER_LEN + (u32::MAX as usize).next_multiple_of(8))
    );
    if usize::BITS > 32 {
        assert_eq!(block_len(1 << 32, 0), Err(ImageError::TooLarge));
        assert_eq!(block_len(0, 1 << 32), Err(ImageError::TooLarge));
    }
    let mut s = ImageSizer::new();
    assert_eq!(s.add(u32::MAX as usize, 0), Err(ImageError::TooLarge));
    assert_eq!(s.image_len(), MIN_IMAGE_LEN);
    s.add(1 << 30, 1 << 30).unwrap();
    s.add(1 << 30, 0).unwrap();
    let e = s.add(1 << 30, 0).unwrap_err();
    assert_eq!(e, ImageError::TooLarge);
    assert_eq!(e.errno().code(), libc::EOVERFLOW);

    let h = header(End::Master, PtyMode::Att, 0);
    let mut out = vec![0u8; 128];
    let mut w = ImageWriter::begin(&mut out, &h, 2).unwrap();
    assert_eq!(
        w.module(ModuleName::Head, u32::MAX as usize, 0)
            .unwrap_err(),
        ImageError::TooLarge
    );
}

#[test]
fn field_reader_is_strict() {
    let buf = [1u8, 2, 0, 0, 0, 9];
    let mut r = FieldReader::new(&buf);
    assert_eq!(r.get_bool(), Ok(true));
    assert_eq!(r.get_bool(), Err(FieldError::Invalid { offset: 1 }));
    assert_eq!(r.position(), 2);
    assert_eq!(
        r.get_u64(),
        Err(FieldError::Short {
            offset: 2,
            needed: 8,
            len: 6
        })
    );
    assert_eq!(r.position(), 2, "a failed read consumes nothing");
    assert_eq!(r.get_zeros(4), Err(FieldError::Invalid { offset: 5 }));
    let mut r = FieldReader::new(&buf);
    r.get_u16().unwrap();
    assert_eq!(r.remaining(), 4);
    assert_eq!(
        r.clone().finish(),
        Err(FieldError::Leftover { offset: 2, len: 4 })
    );
    assert_eq!(
        r.get_bytes(usize::MAX),
        Err(FieldError::Short {
            offset: 2,
            needed: usize::MAX,
            len: 6
        })
    );
    let e = FieldError::Short {
        offset: 2,
        needed: 8,
        len: 6,
    };
    assert_eq!(e.to_string(), "8 bytes needed at offset 2, only 4 there");

    let mut buf = [0u8; 4];
    let mut w = FieldWriter::new(&mut buf);
    w.put_u16(0xbeef).unwrap();
    assert_eq!(w.remaining(), 2);
    assert_eq!(
        w.put_u32(1),
        Err(FieldError::Short {
            offset: 2,
            needed: 4,
            len: 4
        })
    );
    assert_eq!(w.finish(), Err(FieldError::Leftover { offset: 2, len: 2 }));
    assert_eq!(buf, [0xef, 0xbe, 0, 0]);
}

#[test]
fn errno_mapping_and_display() {
    use ImageError as E;
    let cases: Vec<(ImageError, i32)> = vec![
        (E::Truncated { len: 3, needed: 72 }, libc::EINVAL),
        (
            E::LengthMismatch {
                declared: 80,
                actual: 72,
            },
            libc::EINVAL,
        ),
        (E::NonZeroPadding { offset: 90 }, libc::EINVAL),
        (E::UnsupportedVersion { found: 9 }, libc::EPROTONOSUPPORT),
        (
            E::ConstantsMismatch {
                field: ConstantField::Nccs,
                image: 32,
                kernel: 19,
            },
            libc::EPROTONOSUPPORT,
        ),
        (
            E::BadChecksum {
                computed: 1,
                stored: 2,
            },
            libc::EBADMSG,
        ),
        (
            E::OutputTooSmall {
                needed: 80,
                available: 8,
            },
            libc::ERANGE,
        ),
        (E::TooLarge, libc::EOVERFLOW),
        (E::WriterFull { planned: 3 }, libc::EINVAL),
    ];
    for (e, errno) in cases {
        assert_eq!(e.errno().code(), errno, "{e:?}");
        let text = e.to_string();
        if let Some(off) = e.offset() {
            assert!(text.contains(&format!("offset {off}")), "{text}");
        }
    }
    assert_eq!(
        E::ConstantsMismatch {
            field: ConstantField::Nccs,
            image: 32,
            kernel: 19
        }
        .to_string(),
        "kernel constant NCCS at offset 52 is 32 in the image but 19 here"
    );
}

/// Bit by bit, as the CRC is defined: the reference the table-driven
/// `crc32` must agree with at every length and alignment.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_agrees_with_the_bitwise_definition_at_every_length_and_offset() {
    let data: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in 0..9 {
        for len in 0..(data.len() - start) {
            let s = &data[start..start + len];
            assert_eq!(crc32(s), crc32_bitwise(s), "start {start} len {len}");
        }
    }
}
