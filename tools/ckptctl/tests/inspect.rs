// SPDX-License-Identifier: GPL-2.0
//! `inspect`: synthetic images built with the core codec, real images of
//! the core's own pty, the text and JSON reports, and precise errors.

mod common;

use ckptctl::container::{Constraint, Container, FileRecord, HolderRecord, StreamRecord};
use ckptctl::error::Kind;
use ckptctl::inspect::{self, check_bytes};
use ckptctl::state::{EndState, StreamState};
use common::*;
use pty_core::image::PtyMode;
use pty_core::termios::{self, Termios};
use pty_core::End;
use serde_json::Value;

#[test]
fn synthetic_image_is_decoded() {
    let b = sample().encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    assert!(l.warnings.is_empty());
    let st: Vec<&StreamState> = l.states.iter().map(|s| s.as_ref().unwrap()).collect();
    assert_eq!(st[0].index, 3);
    assert_eq!(st[0].winsize.rows, 24);
    assert!(matches!(
        st[0].end,
        EndState::Master {
            to_master: 8,
            held_echo: 0,
            ..
        }
    ));
    match &st[1].end {
        EndState::Slave {
            readable,
            lines,
            half_typed,
            unprocessed,
            termios,
            ..
        } => {
            assert_eq!((*readable, *lines, *half_typed, *unprocessed), (3, 1, 3, 4));
            assert!(termios.lflag(termios::ICANON));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(st[1].queued(), (0, 10));
    assert_eq!(st[2].mode, PtyMode::Bsd);
}

#[test]
fn text_report_names_everything() {
    let b = sample().encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    let t = inspect::text(std::path::Path::new("s.img"), &l);
    for needle in [
        "s.img: ckptctl image, container version 1",
        "checkpoint id 0x1122334455667788",
        "created 2023-11-14 22:13:20 UTC",
        "3 streams, 4 open files, 6 descriptors",
        "stream 0: pty 3 master (AT&T)",
        "stream 1: pty 3 slave (AT&T)",
        "stream 2: pty 1 master (BSD)",
        "modules processed 4, to process 0",
        "ldterm",
        "ptm",
        "8 bytes for the master's reader",
        "3 bytes readable (1 complete lines), 3 in the half-typed line, 4 not yet processed",
        "termios: canonical, echo (icanon echo isig iexten",
        "intr ^C quit ^\\ erase ^? kill ^U eof ^D susp ^Z",
        "window: 50 rows x 132 cols",
        "O_RDWR|O_NONBLOCK",
        "(cloexec)",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
}

#[test]
fn module_lengths_are_listed() {
    let b = sample().encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    let t = inspect::text(std::path::Path::new("x"), &l);
    // Master: head 4/8, tioc 9/0, ptm 54/0.
    let re = |name: &str, i: usize, e: usize| format!("{name:<8} {i:>9} {e:>9}");
    for line in [
        re("head", 4, 8),
        re("tioc", 9, 0),
        re("ptm", 54, 0),
        re("pts", 20, 4),
    ] {
        assert!(t.contains(&line), "missing {line:?} in\n{t}");
    }
}

#[test]
fn real_core_images_are_decoded() {
    let (m, s) = real_images(5, ID, b"hello\nwor");
    let c = Container {
        checkpoint_id: ID,
        streams: vec![
            StreamRecord {
                index: 5,
                kind: End::Master,
                mode: PtyMode::Att,
                image: m,
            },
            StreamRecord {
                index: 5,
                kind: End::Slave,
                mode: PtyMode::Att,
                image: s,
            },
        ],
        files: vec![
            FileRecord {
                stream: 0,
                flags: 2,
            },
            FileRecord {
                stream: 1,
                flags: 2,
            },
        ],
        holders: vec![
            HolderRecord {
                pid: 1,
                fd: 3,
                file: 0,
                fd_flags: 0,
            },
            HolderRecord {
                pid: 1,
                fd: 4,
                file: 1,
                fd_flags: 0,
            },
        ],
        ..Default::default()
    };
    let b = c.encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    match &l.states[1].as_ref().unwrap().end {
        EndState::Slave {
            readable,
            lines,
            half_typed,
            ..
        } => assert_eq!((*readable, *lines, *half_typed), (6, 1, 3)),
        other => panic!("{other:?}"),
    }
    // The echo of what was typed waits for the master's reader.
    match &l.states[0].as_ref().unwrap().end {
        EndState::Master { to_master, .. } => assert!(*to_master >= 9, "{to_master}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_mode_summary() {
    let mut t = Termios::pty_slave_default();
    t.c_lflag &= !(termios::ICANON | termios::ECHO);
    let mut c = sample();
    c.streams[1].image = slave_image(3, PtyMode::Att, ID, t, &[], b"", b"xyz");
    let b = c.encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    let text = inspect::text(std::path::Path::new("x"), &l);
    assert!(
        text.contains("termios: raw, no echo (-icanon -echo"),
        "{text}"
    );
    assert!(text.contains("min 1 time 0"), "{text}");
}

#[test]
fn json_shape() {
    let b = sample().encode().unwrap();
    let l = check_bytes(&b, Constraint::ThisBuild).unwrap();
    let v = inspect::json(std::path::Path::new("s.img"), &l);
    assert_eq!(v["file"], "s.img");
    assert_eq!(v["container_version"], 1);
    assert_eq!(v["checkpoint_id"], ID);
    assert_eq!(v["left_frozen"], false);
    assert!(v["warnings"].as_array().unwrap().is_empty());
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 3);
    let s1 = &streams[1];
    assert_eq!(s1["index"], 3);
    assert_eq!(s1["end"], "slave");
    assert_eq!(s1["mode"], "att");
    assert_eq!(s1["decoded"], true);
    assert_eq!(s1["status"]["processed"], 4);
    assert_eq!(s1["status"]["to_process"], 0);
    assert_eq!(s1["status"]["state_version"], 2);
    assert_eq!(s1["status"]["error"], 0);
    assert_eq!(s1["status"]["checkpoint_id"], ID);
    let names: Vec<&str> = s1["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["head", "tioc", "ldterm", "pts"]);
    assert!(s1["modules"][2]["internal_len"].as_u64().unwrap() >= 60);
    assert_eq!(s1["queued"]["readable"], 3);
    assert_eq!(s1["queued"]["half_typed_line"], 3);
    assert_eq!(s1["queued"]["unprocessed"], 4);
    assert_eq!(s1["termios"]["canonical"], true);
    assert_eq!(s1["termios"]["echo"], true);
    assert_eq!(s1["termios"]["cc"]["intr"], "^C");
    assert_eq!(s1["winsize"]["cols"], 132);
    assert_eq!(streams[0]["queued"]["to_master"], 8);
    assert_eq!(streams[0]["termios"], Value::Null);
    assert_eq!(streams[2]["mode"], "bsd");
    assert_eq!(v["files"][2]["flags_text"], "O_RDWR|O_NONBLOCK");
    assert_eq!(v["holders"][0]["cloexec"], true);
    assert_eq!(v["holders"].as_array().unwrap().len(), 6);
}

#[test]
fn bad_module_contents_name_the_field_and_file_offset() {
    let mut c = sample();
    // ptm internal offset 6: "packet mode" must be 0 or 1.
    let img = &mut c.streams[0].image;
    // Header 64; head block 16 + 8 (held) + 8 ("prompt$ "); tioc block
    // 16 + 16 (winsize, exclusive); ptm block header 16.
    let ptm_internal = 64 + (16 + 8 + 8) + (16 + 16) + 16;
    img[ptm_internal + 6] = 2;
    let n = img.len();
    let crc = pty_core::image::crc32(&img[..n - 8]);
    img[n - 8..n - 4].copy_from_slice(&crc.to_le_bytes());
    let b = c.encode().unwrap();
    let (kind, msg) = check_bytes(&b, Constraint::ThisBuild).unwrap_err();
    assert_eq!(kind, Kind::Image);
    let at = c.blob_offsets()[0] + ptm_internal + 6;
    assert!(msg.contains("ptm internal state at offset 6"), "{msg}");
    assert!(msg.contains(&format!("(file offset {at})")), "{msg}");
}

#[test]
fn pair_index_must_match_the_table() {
    let mut c = sample();
    c.streams[0].image = master_image(4, PtyMode::Att, ID, b"");
    let b = c.encode().unwrap();
    let (kind, msg) = check_bytes(&b, Constraint::ThisBuild).unwrap_err();
    assert_eq!(kind, Kind::Image);
    assert!(
        msg.contains("the table says AT&T pty 3, the image's ptm block says AT&T pty 4"),
        "{msg}"
    );
}

#[test]
fn images_of_another_build() {
    let mut c = sample();
    // Change the pts input bound (offset 40) of stream 2's image.
    let img = &mut c.streams[2].image;
    img[40] ^= 0x10;
    let n = img.len();
    let crc = pty_core::image::crc32(&img[..n - 8]);
    img[n - 8..n - 4].copy_from_slice(&crc.to_le_bytes());
    let b = c.encode().unwrap();
    // Inspect: shown, with a warning, contents not decoded.
    let l = check_bytes(&b, Constraint::OwnConstants).unwrap();
    assert!(l.states[2].is_none());
    assert!(
        l.warnings[0].contains("pts input bound"),
        "{:?}",
        l.warnings
    );
    let t = inspect::text(std::path::Path::new("x"), &l);
    assert!(t.contains("module contents not decoded"), "{t}");
    // Restore: incompatible version.
    let (kind, msg) = check_bytes(&b, Constraint::ThisBuild).unwrap_err();
    assert_eq!(kind, Kind::Version);
    assert!(msg.contains("kernel constant pts input bound"), "{msg}");
}

#[test]
fn binary_inspect_exit_codes() {
    let dir = TempDir::new("inspect");
    let good = dir.path("good.img");
    let b = sample().encode().unwrap();
    std::fs::write(&good, &b).unwrap();
    let (code, out, err) = ckptctl(&["inspect", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stream 1: pty 3 slave"), "{out}");

    let (code, out, _) = ckptctl(&["inspect", "--json", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["streams"].as_array().unwrap().len(), 3);

    let bad = dir.path("bad.img");
    let mut c = b.clone();
    c[100] ^= 0xff;
    std::fs::write(&bad, &c).unwrap();
    let (code, out, err) = ckptctl(&["inspect", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(err.starts_with("ckptctl: "), "{err}");
    assert!(err.contains("offset"), "{err}");

    let short = dir.path("short.img");
    std::fs::write(&short, &b[..b.len() / 2]).unwrap();
    let (code, _, err) = ckptctl(&["inspect", short.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("total length") && err.contains("at offset 32"),
        "{err}"
    );

    let newer = dir.path("newer.img");
    let mut c = b.clone();
    c[8] = 2;
    std::fs::write(&newer, &c).unwrap();
    let (code, _, err) = ckptctl(&["inspect", newer.to_str().unwrap()]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("container version 2"), "{err}");

    let (code, _, err) = ckptctl(&["inspect", dir.path("missing.img").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        err.contains("cannot read") && err.contains("ENOENT"),
        "{err}"
    );

    let (code, _, err) = ckptctl(&["inspect", "/etc/hostname"]);
    assert_eq!(code, 3);
    assert!(err.contains("bad magic"), "{err}");
}

/// Recomputes a stream image's checksum in place.
fn reseal_image(img: &mut [u8]) {
    let n = img.len();
    let crc = pty_core::image::crc32(&img[..n - 8]);
    img[n - 8..n - 4].copy_from_slice(&crc.to_le_bytes());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Damage to module contents, with every checksum made right again:
    /// the module checks must catch it (or accept a still-valid state),
    /// never panic, and name a file offset inside the damaged image.
    #[test]
    fn module_damage_is_caught(stream in 0usize..3, at in 64usize..4096, x in 1u8..=255) {
        let mut c = sample();
        let img = &mut c.streams[stream].image;
        let limit = img.len() - 8;
        let i = 64 + (at - 64) % (limit - 64);
        img[i] ^= x;
        reseal_image(img);
        let Ok(b) = c.encode() else { return Ok(()) };
        let start = c.blob_offsets()[stream];
        let end = start + c.streams[stream].image.len();
        match check_bytes(&b, Constraint::ThisBuild) {
            Ok(l) => {
                let _ = inspect::text(std::path::Path::new("x"), &l);
                let _ = inspect::json(std::path::Path::new("x"), &l);
            }
            Err((kind, msg)) => {
                proptest::prop_assert!(kind == Kind::Image || kind == Kind::Version, "{msg}");
                if let Some(p) = msg.find("(file offset ") {
                    let n: usize = msg[p + 13..].trim_end_matches(')').parse().unwrap();
                    proptest::prop_assert!(n >= start && n < end, "{msg}");
                }
            }
        }
    }
}
