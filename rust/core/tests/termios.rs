// SPDX-License-Identifier: GPL-2.0
//! `Termios` layout and constants against the C library's view of Linux.

use proptest::prelude::*;
use pty_core::termios::*;

#[test]
fn layout_is_the_kernel_struct_termios() {
    assert_eq!(core::mem::size_of::<Termios>(), 36);
    assert_eq!(Termios::SIZE, 36);
    assert_eq!(core::mem::offset_of!(Termios, c_line), 16);
    assert_eq!(core::mem::offset_of!(Termios, c_cc), 17);
}

#[test]
fn constants_match_libc() {
    let pairs: &[(u32, libc::tcflag_t, &str)] = &[
        (IGNBRK, libc::IGNBRK, "IGNBRK"),
        (BRKINT, libc::BRKINT, "BRKINT"),
        (IGNPAR, libc::IGNPAR, "IGNPAR"),
        (PARMRK, libc::PARMRK, "PARMRK"),
        (INPCK, libc::INPCK, "INPCK"),
        (ISTRIP, libc::ISTRIP, "ISTRIP"),
        (INLCR, libc::INLCR, "INLCR"),
        (IGNCR, libc::IGNCR, "IGNCR"),
        (ICRNL, libc::ICRNL, "ICRNL"),
        (IUCLC, libc::IUCLC, "IUCLC"),
        (IXON, libc::IXON, "IXON"),
        (IXANY, libc::IXANY, "IXANY"),
        (IXOFF, libc::IXOFF, "IXOFF"),
        (IMAXBEL, libc::IMAXBEL, "IMAXBEL"),
        (IUTF8, libc::IUTF8, "IUTF8"),
        (OPOST, libc::OPOST, "OPOST"),
        (OLCUC, libc::OLCUC, "OLCUC"),
        (ONLCR, libc::ONLCR, "ONLCR"),
        (OCRNL, libc::OCRNL, "OCRNL"),
        (ONOCR, libc::ONOCR, "ONOCR"),
        (ONLRET, libc::ONLRET, "ONLRET"),
        (OFILL, libc::OFILL, "OFILL"),
        (OFDEL, libc::OFDEL, "OFDEL"),
        (NLDLY, libc::NLDLY, "NLDLY"),
        (CRDLY, libc::CRDLY, "CRDLY"),
        (TABDLY, libc::TABDLY, "TABDLY"),
        (TAB3, libc::TAB3, "TAB3"),
        (XTABS, libc::XTABS, "XTABS"),
        (BSDLY, libc::BSDLY, "BSDLY"),
        (VTDLY, libc::VTDLY, "VTDLY"),
        (FFDLY, libc::FFDLY, "FFDLY"),
        (CBAUD, libc::CBAUD, "CBAUD"),
        (B38400, libc::B38400, "B38400"),
        (B9600, libc::B9600, "B9600"),
        (CSIZE, libc::CSIZE, "CSIZE"),
        (CS7, libc::CS7, "CS7"),
        (CS8, libc::CS8, "CS8"),
        (CSTOPB, libc::CSTOPB, "CSTOPB"),
        (CREAD, libc::CREAD, "CREAD"),
        (PARENB, libc::PARENB, "PARENB"),
        (PARODD, libc::PARODD, "PARODD"),
        (HUPCL, libc::HUPCL, "HUPCL"),
        (CLOCAL, libc::CLOCAL, "CLOCAL"),
        (CBAUDEX, libc::CBAUDEX, "CBAUDEX"),
        (BOTHER, libc::BOTHER, "BOTHER"),
        (CIBAUD, libc::CIBAUD, "CIBAUD"),
        (CMSPAR, libc::CMSPAR, "CMSPAR"),
        (CRTSCTS, libc::CRTSCTS, "CRTSCTS"),
        (ISIG, libc::ISIG, "ISIG"),
        (ICANON, libc::ICANON, "ICANON"),
        (XCASE, libc::XCASE, "XCASE"),
        (ECHO, libc::ECHO, "ECHO"),
        (ECHOE, libc::ECHOE, "ECHOE"),
        (ECHOK, libc::ECHOK, "ECHOK"),
        (ECHONL, libc::ECHONL, "ECHONL"),
        (NOFLSH, libc::NOFLSH, "NOFLSH"),
        (TOSTOP, libc::TOSTOP, "TOSTOP"),
        (ECHOCTL, libc::ECHOCTL, "ECHOCTL"),
        (ECHOPRT, libc::ECHOPRT, "ECHOPRT"),
        (ECHOKE, libc::ECHOKE, "ECHOKE"),
        (FLUSHO, libc::FLUSHO, "FLUSHO"),
        (PENDIN, libc::PENDIN, "PENDIN"),
        (IEXTEN, libc::IEXTEN, "IEXTEN"),
        (EXTPROC, libc::EXTPROC, "EXTPROC"),
    ];
    for &(ours, theirs, name) in pairs {
        assert_eq!(ours, theirs, "{name}");
    }
    let cc: &[(usize, usize, &str)] = &[
        (VINTR, libc::VINTR, "VINTR"),
        (VQUIT, libc::VQUIT, "VQUIT"),
        (VERASE, libc::VERASE, "VERASE"),
        (VKILL, libc::VKILL, "VKILL"),
        (VEOF, libc::VEOF, "VEOF"),
        (VTIME, libc::VTIME, "VTIME"),
        (VMIN, libc::VMIN, "VMIN"),
        (VSWTC, libc::VSWTC, "VSWTC"),
        (VSTART, libc::VSTART, "VSTART"),
        (VSTOP, libc::VSTOP, "VSTOP"),
        (VSUSP, libc::VSUSP, "VSUSP"),
        (VEOL, libc::VEOL, "VEOL"),
        (VREPRINT, libc::VREPRINT, "VREPRINT"),
        (VDISCARD, libc::VDISCARD, "VDISCARD"),
        (VWERASE, libc::VWERASE, "VWERASE"),
        (VLNEXT, libc::VLNEXT, "VLNEXT"),
        (VEOL2, libc::VEOL2, "VEOL2"),
    ];
    for &(ours, theirs, name) in cc {
        assert_eq!(ours, theirs, "{name}");
    }
    assert_eq!(TCOOFF as i32, libc::TCOOFF);
    assert_eq!(TCOON as i32, libc::TCOON);
    assert_eq!(TCIOFF as i32, libc::TCIOFF);
    assert_eq!(TCION as i32, libc::TCION);
    assert_eq!(TCIFLUSH as i32, libc::TCIFLUSH);
    assert_eq!(TCOFLUSH as i32, libc::TCOFLUSH);
    assert_eq!(TCIOFLUSH as i32, libc::TCIOFLUSH);
    assert_eq!(TCSANOW as i32, libc::TCSANOW);
    assert_eq!(TCSAFLUSH as i32, libc::TCSAFLUSH);
}

#[test]
fn defaults() {
    let s = Termios::pty_slave_default();
    assert_eq!(s.c_iflag, ICRNL | IXON);
    assert_eq!(s.c_oflag, OPOST | ONLCR);
    assert_eq!(s.c_cflag, B38400 | CS8 | CREAD);
    assert!(s.lflag(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN));
    assert_eq!(s.cc(VINTR), 3);
    assert_eq!(s.cc(VERASE), 0x7f);
    assert_eq!(s.cc(VMIN), 1);
    assert_eq!(s.cc(99), 0);
    let m = Termios::pty_master_default();
    assert_eq!((m.c_iflag, m.c_oflag, m.c_lflag), (0, 0, 0));
    assert_eq!(m.c_cc, s.c_cc);
    let mut f = s;
    f.c_cflag = B9600 | CS5 | PARENB;
    f.pty_fixup();
    assert_eq!(f.c_cflag, B9600 | CS8 | CREAD);
}

#[test]
fn encoding_is_little_endian_struct() {
    let t = Termios::pty_slave_default();
    let b = t.to_bytes();
    assert_eq!(&b[0..4], &(ICRNL | IXON).to_le_bytes());
    assert_eq!(b[16], 0);
    assert_eq!(&b[17..], &INIT_C_CC);
    assert_eq!(Termios::from_slice(&b[..35]), None);
}

proptest! {
    #[test]
    fn bytes_roundtrip(bytes in proptest::array::uniform32(any::<u8>()), tail in proptest::array::uniform4(any::<u8>())) {
        let mut all = [0u8; 36];
        all[..32].copy_from_slice(&bytes);
        all[32..].copy_from_slice(&tail);
        let t = Termios::from_bytes(&all);
        prop_assert_eq!(t.to_bytes(), all);
        prop_assert_eq!(Termios::from_bytes(&t.to_bytes()), t);
    }
}
