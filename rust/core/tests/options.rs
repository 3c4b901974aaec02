// SPDX-License-Identifier: GPL-2.0
//! Mount options of ckptpts instances.

use pty_core::options::{MountOptions, OptionError, BSD_PAIRS_LIMIT, MAX_PAIRS_LIMIT};

const D: MountOptions = MountOptions::defaults(4096, 16);

#[test]
fn empty_string_gives_the_defaults() {
    assert_eq!(MountOptions::parse("", D), Ok(D));
    assert_eq!(D.mode, 0o620);
    assert_eq!(D.ptmx_mode, 0o666);
    assert_eq!((D.uid, D.gid), (None, None));
}

#[test]
fn every_option_is_taken() {
    let o = MountOptions::parse("uid=1000,gid=5,mode=600,ptmxmode=0644,max=64,bsd=0", D).unwrap();
    assert_eq!(
        o,
        MountOptions {
            uid: Some(1000),
            gid: Some(5),
            mode: 0o600,
            ptmx_mode: 0o644,
            max: 64,
            bsd: 0
        }
    );
}

#[test]
fn newinstance_and_empty_items_are_accepted() {
    assert_eq!(
        MountOptions::parse("newinstance,,gid=5,", D).unwrap().gid,
        Some(5)
    );
}

#[test]
fn bad_options_are_named() {
    let cases = [
        ("size=10", OptionError::Unknown("size=10")),
        ("newinstance=1", OptionError::Unknown("newinstance=1")),
        ("uid", OptionError::BadValue("uid")),
        ("uid=", OptionError::BadValue("uid=")),
        ("uid=-1", OptionError::BadValue("uid=-1")),
        ("gid=x", OptionError::BadValue("gid=x")),
        ("mode=8", OptionError::BadValue("mode=8")),
        ("mode=1777", OptionError::OutOfRange("mode=1777")),
        ("ptmxmode=4000", OptionError::OutOfRange("ptmxmode=4000")),
        ("max=0", OptionError::OutOfRange("max=0")),
        ("uid=99999999999", OptionError::BadValue("uid=99999999999")),
    ];
    for (s, e) in cases {
        assert_eq!(MountOptions::parse(s, D), Err(e), "{s}");
    }
    let over = format!("max={}", MAX_PAIRS_LIMIT + 1);
    assert!(matches!(
        MountOptions::parse(&over, D),
        Err(OptionError::OutOfRange(_))
    ));
    let bsd = format!("bsd={}", BSD_PAIRS_LIMIT + 1);
    assert!(matches!(
        MountOptions::parse(&bsd, D),
        Err(OptionError::OutOfRange(_))
    ));
    assert_eq!(
        format!("{}", OptionError::Unknown("size=1")),
        "unknown mount option 'size=1'"
    );
}

#[test]
fn later_options_win() {
    assert_eq!(
        MountOptions::parse("mode=600,mode=620", D).unwrap().mode,
        0o620
    );
}
