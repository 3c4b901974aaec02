// SPDX-License-Identifier: GPL-2.0
//! Differential tests: each script runs on a native pty (devpts + `n_tty`)
//! and on a ckpt pty, and every observation must be the same.
//!
//! # Intended differences
//!
//! Not compared here, on purpose:
//!
//! - **Controlling terminal.** A ckpt pty is not a tty-layer device, so it
//!   can never be a controlling terminal: `TIOCSCTTY`, `TIOCNOTTY`,
//!   `TIOCGSID`, `/dev/tty`, acquiring a controlling tty by opening without
//!   `O_NOCTTY`, and the `SIGHUP`/`SIGCONT` sent when a session leader
//!   exits all differ. Scripts give both kinds the same foreground process
//!   group by other means (natively `TIOCSCTTY` in a new session, on ckpt
//!   `TIOCSPGRP` alone) and compare only the effects on that group.
//! - **`TIOCSPGRP` and `TIOCGPGRP` on the slave.** Natively they fail with
//!   `ENOTTY` unless the slave is the caller's controlling tty (and
//!   `TIOCSPGRP` also checks the session); on ckpt they work from anyone
//!   holding the slave. `TIOCGPGRP` is compared on the master only, where
//!   native answers anyone.
//! - **Background job control.** `SIGTTIN`/`SIGTTOU` (and `TOSTOP`) for a
//!   background group touching its controlling tty need a controlling tty.
//! - **ioctls the ckpt device does not answer** (`ENOTTY` there):
//!   `TIOCSTI`, `TIOCSETD`, `TIOCVHANGUP`, `TIOCCONS`, `TIOCGDEV`,
//!   `TIOCSBRK`/`TIOCCBRK`, the modem ioctls (`TIOCMGET`...), the serial
//!   ones (`TIOCGSERIAL`, `TIOCGICOUNT`...), `TIOCGLCKTRMIOS`/
//!   `TIOCSLCKTRMIOS`, and the old `struct termio` ones (`TCGETA`...). Only
//!   ioctls that are `ENOTTY` on both are used to probe "unknown ioctl".
//!   The ones it does answer are compared like any other: termios2
//!   (`TCGETS2`, `TCSETS2`, `TCSETSW2`, `TCSETSF2`), `TCSBRK`/`TCSBRKP`
//!   (succeed at once, as on a native pty, which has no break to send),
//!   `TIOCGEXCL`, `TIOCGPKT`, `TIOCGETD`, `TIOCSIG` and `TIOCGPTPEER`.
//! - **Indexes, paths and node ownership.** The slave index comes from a
//!   different allocator, the nodes live in devtmpfs with its owner and
//!   mode rather than devpts' `uid=`/`gid=`/`mode=`.
//! - **Echo while output is stopped** (`^S`): `n_tty` holds echo in its
//!   echo buffer until output restarts; the ckpt ldterm may emit it at once
//!   (rust/core/ldterm.rs). Flow-control scripts run with `ECHO` off.
//! - **Echo of input in the same write as a flushing signal character.**
//!   `n_tty` commits echo once per received batch, so `"abc\x03"` in one
//!   write loses the echo of `abc`; scripts type signal characters in a
//!   write of their own.
//! - **`n_tty`'s echo buffer overflow** (echo dropped past 4 KiB pending):
//!   ckpt never drops echo but stops taking input instead.
//! - **`EXTPROC`, breaks, parity and overruns**: nothing to act on in a pty
//!   (see rust/core/ldterm.rs); not scripted.
//! - **Timing and chunking of asynchronous delivery**: only settled states
//!   are compared, and reads are classified (immediate, waited for a timer,
//!   still blocked at a deadline), never timed exactly.

use crate::ktap::{TestFn, TestResult};
use crate::pty::{
    PtyKind, PtyPair, Termios2, Winsize, FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TCXONC,
    TIOCGPGRP, TIOCGWINSZ, TIOCINQ, TIOCOUTQ, TIOCPKT, TIOCSWINSZ,
};
use crate::script::{
    compare, compare_with, drain_master, drain_slave, native_only, output, raw_mode, read_slave,
    termios, type_in, End, IoctlArg, Setup, Step,
};
use crate::uapi::{
    TCGETS2, TCSBRK, TCSBRKP, TCSETS2, TCSETSF2, TCSETSW2, TIOCGETD, TIOCGEXCL, TIOCGPKT, TIOCSIG,
    TIOCSPTLCK,
};
use crate::{ensure, ensure_eq, pty, sys};
use libc::{
    ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOPRT, ICANON, ICRNL, IEXTEN, IGNCR, INLCR,
    ISIG, ISTRIP, IUCLC, IUTF8, IXANY, IXON, NOFLSH, OCRNL, OLCUC, ONLCR, ONLRET, ONOCR, OPOST,
    TABDLY, TCIFLUSH, TCIOFF, TCIOFLUSH, TCION, TCOFLUSH, TCOOFF, TCOON, VEOF, VEOL, VEOL2, VERASE,
    VINTR, VKILL, VMIN, VSTOP, VSUSP, VTIME, XTABS,
};
use std::time::Duration;

pub const TESTS: &[(&str, TestFn)] = &[
    ("diff_default_state", default_state),
    ("diff_echo_plain", echo_plain),
    ("diff_echo_off_echonl", echo_off_echonl),
    ("diff_erase_echoe", erase_echoe),
    ("diff_erase_without_echoe", erase_without_echoe),
    ("diff_erase_tabs", erase_tabs),
    ("diff_erase_control_chars", erase_control_chars),
    ("diff_erase_utf8", erase_utf8),
    ("diff_echoprt", echoprt),
    ("diff_werase", werase),
    ("diff_kill_echoke", kill_echoke),
    ("diff_kill_echok", kill_echok),
    ("diff_reprint", reprint),
    ("diff_lnext", lnext),
    ("diff_lines_and_boundaries", lines_and_boundaries),
    ("diff_partial_reads_of_a_line", partial_reads_of_a_line),
    ("diff_veof", veof),
    ("diff_veol_veol2", veol_veol2),
    ("diff_canonical_line_overflow", canonical_line_overflow),
    ("diff_input_maps", input_maps),
    ("diff_output_processing", output_processing),
    ("diff_vmin0_vtime0", vmin0_vtime0),
    ("diff_vmin3_vtime0", vmin3_vtime0),
    ("diff_vmin0_vtime3", vmin0_vtime3),
    ("diff_vmin3_vtime3", vmin3_vtime3),
    ("diff_isig_signals", isig_signals),
    ("diff_isig_flushes", isig_flushes),
    ("diff_isig_noflsh", isig_noflsh),
    ("diff_isig_off_and_remapped", isig_off_and_remapped),
    ("diff_ixon_stop_start", ixon_stop_start),
    ("diff_ixany", ixany),
    ("diff_ixon_off", ixon_off),
    ("diff_stopped_nonblocking_write", stopped_nonblocking_write),
    ("diff_winsize", winsize),
    ("diff_sigwinch", sigwinch),
    ("diff_fionread", fionread),
    ("diff_tiocoutq", tiocoutq),
    ("diff_tcflush_slave", tcflush_slave),
    ("diff_tcflush_master", tcflush_master),
    ("diff_tcxonc_slave", tcxonc_slave),
    ("diff_tcxonc_master", tcxonc_master),
    ("diff_packet_data", packet_data),
    ("diff_packet_flush", packet_flush),
    ("diff_packet_stop_start", packet_stop_start),
    ("diff_packet_dostop_nostop", packet_dostop_nostop),
    ("diff_packet_isig", packet_isig),
    ("diff_exclusive", exclusive),
    ("diff_nonblocking_empty", nonblocking_empty),
    ("diff_poll_states", poll_states),
    ("diff_hangup_close_master", hangup_close_master),
    ("diff_close_slave", close_slave),
    ("diff_reopen_slave_keeps_state", reopen_slave_keeps_state),
    ("diff_master_before_slave_open", master_before_slave_open),
    ("diff_peer_open", peer_open),
    ("diff_termios_through_master", termios_through_master),
    ("diff_tcsets_variants", tcsets_variants),
    ("diff_tcsets_odd_values", tcsets_odd_values),
    ("diff_unknown_ioctl", unknown_ioctl),
    ("diff_bad_pointers", bad_pointers),
    ("diff_invalid_arguments", invalid_arguments),
    ("diff_bulk_raw", bulk_raw),
    ("diff_termios2", termios2),
    ("diff_termios2_arbitrary_speeds", termios2_arbitrary_speeds),
    ("diff_termios2_short_buffer", termios2_short_buffer),
    ("diff_break_and_drain", break_and_drain),
    ("diff_tiocgexcl", tiocgexcl),
    ("diff_tiocgpkt", tiocgpkt),
    ("diff_tiocgetd", tiocgetd),
    ("diff_tiocsig", tiocsig),
    ("diff_tiocsig_other_signals", tiocsig_other_signals),
    ("diff_peer_open_flags", peer_open_flags),
    ("diff_peer_open_odd_flags", peer_open_odd_flags),
    ("diff_peer_from_slave", peer_from_slave),
    (
        "diff_newer_ioctls_one_end_closed",
        newer_ioctls_one_end_closed,
    ),
];

const DEL: u8 = 0x7f;

fn on_both(steps: impl Fn(End) -> Vec<Step>) -> TestResult {
    for end in [End::Master, End::Slave] {
        compare(&steps(end)).map_err(|e| format!("on the {end:?}:\n{e}"))?;
    }
    Ok(())
}

fn default_state() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::GetTermios(Master),
        Step::GetTermios(Slave),
        Step::GetWinsize(Master),
        Step::GetWinsize(Slave),
        Step::InQ(Master),
        Step::InQ(Slave),
        Step::OutQ(Master),
        Step::OutQ(Slave),
        Step::Poll(Master),
        Step::Poll(Slave),
        Step::Pgrp(Master),
    ])
}

fn echo_plain() -> TestResult {
    compare(&[
        type_in(b"hello"),
        drain_master(),
        Step::Poll(End::Slave),
        type_in(b" world\n"),
        drain_master(),
        read_slave(100),
        type_in(b"\r"),
        drain_master(),
        read_slave(100),
    ])
}

fn echo_off_echonl() -> TestResult {
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        type_in(b"secret\n"),
        drain_master(),
        read_slave(100),
        termios("ECHONL on", |t| t.c_lflag |= ECHONL),
        type_in(b"abc\n"),
        drain_master(),
        read_slave(100),
        termios("ECHONL on, ICANON off", |t| t.c_lflag &= !ICANON),
        type_in(b"x\ny"),
        drain_master(),
    ])
}

fn erase_echoe() -> TestResult {
    compare(&[
        type_in(&[DEL]),
        drain_master(),
        type_in(b"abc"),
        type_in(&[DEL, DEL]),
        drain_master(),
        type_in(b"d\n"),
        drain_master(),
        read_slave(100),
        termios("VERASE = #", |t| t.c_cc[VERASE] = b'#'),
        type_in(b"xy#z\x7f\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn erase_without_echoe() -> TestResult {
    compare(&[
        termios("ECHOE off", |t| t.c_lflag &= !ECHOE),
        type_in(b"abc\x7f\x7fd\n"),
        drain_master(),
        read_slave(100),
        termios("ECHOE and ECHOCTL off", |t| t.c_lflag &= !(ECHOE | ECHOCTL)),
        type_in(b"ab\x7f\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn erase_tabs() -> TestResult {
    compare(&[
        type_in(b"\t\x7f"),
        drain_master(),
        type_in(b"ab\tc\x7f\x7f"),
        drain_master(),
        type_in(b"abcdefg\t\x7f"),
        drain_master(),
        type_in(b"\x01\t\x7f\x7f"),
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
        // A prompt written by the program moves the column tabs erase from.
        output(b"pr> "),
        type_in(b"\tx\x7f\x7f"),
        drain_master(),
    ])
}

fn erase_control_chars() -> TestResult {
    compare(&[
        type_in(b"a\x01b"),
        drain_master(),
        type_in(b"\x7f\x7f"),
        drain_master(),
        type_in(b"\x1b\x7f\n"),
        drain_master(),
        read_slave(100),
        termios("ECHOCTL off", |t| t.c_lflag &= !ECHOCTL),
        type_in(b"a\x01\x1b\x7f\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn erase_utf8() -> TestResult {
    compare(&[
        termios("IUTF8 on", |t| t.c_iflag |= IUTF8),
        type_in("aé€".as_bytes()),
        type_in(&[DEL, DEL]),
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
        termios("IUTF8 off", |t| t.c_iflag &= !IUTF8),
        type_in("aé".as_bytes()),
        type_in(&[DEL]),
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
    ])
}

fn echoprt() -> TestResult {
    compare(&[
        termios("ECHOPRT on, ECHOE off", |t| {
            t.c_lflag |= ECHOPRT;
            t.c_lflag &= !ECHOE;
        }),
        type_in(b"abc\x7f\x7f"),
        drain_master(),
        type_in(b"d\x7f\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn werase() -> TestResult {
    compare(&[
        type_in(b"foo bar  baz"),
        type_in(b"\x17"),
        drain_master(),
        type_in(b"\x17"),
        drain_master(),
        type_in(b"x\t\x17\n"),
        drain_master(),
        read_slave(100),
        // Without IEXTEN there is no word erase.
        termios("IEXTEN off", |t| t.c_lflag &= !IEXTEN),
        type_in(b"ab cd\x17\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn kill_echoke() -> TestResult {
    compare(&[
        type_in(b"abc def\tg\x01"),
        type_in(b"\x15"),
        drain_master(),
        type_in(b"xy\n"),
        drain_master(),
        read_slave(100),
        termios("VKILL = @", |t| t.c_cc[VKILL] = b'@'),
        type_in(b"zz@w\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn kill_echok() -> TestResult {
    compare(&[
        termios("ECHOKE off", |t| t.c_lflag &= !ECHOKE),
        type_in(b"abc\x15"),
        drain_master(),
        type_in(b"d\n"),
        read_slave(100),
        termios("ECHOKE and ECHOK off", |t| t.c_lflag &= !(ECHOKE | ECHOK)),
        type_in(b"abc\x15"),
        drain_master(),
        type_in(b"e\n"),
        read_slave(100),
        termios("ECHOKE on, ECHOE off", |t| {
            t.c_lflag |= ECHOKE | ECHOK;
            t.c_lflag &= !ECHOE;
        }),
        type_in(b"abc\x15"),
        drain_master(),
        type_in(b"f\n"),
        read_slave(100),
    ])
}

fn reprint() -> TestResult {
    compare(&[
        type_in(b"abc"),
        type_in(b"\x12"),
        drain_master(),
        output(b"noise"),
        type_in(b"d\x12"),
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
        type_in(b"\x12"),
        drain_master(),
    ])
}

fn lnext() -> TestResult {
    compare(&[
        type_in(b"a\x16"),
        drain_master(),
        type_in(b"\x03"),
        drain_master(),
        type_in(b"\x16\x7f\x16\x15\x16\n"),
        drain_master(),
        type_in(b"\n"),
        drain_master(),
        read_slave(100),
        // A literal-next erased before its character arrives.
        type_in(b"b\x16\x7f\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn lines_and_boundaries() -> TestResult {
    compare(&[
        type_in(b"one\ntwo\nthree\nfour"),
        drain_master(),
        Step::InQ(End::Slave),
        read_slave(100),
        read_slave(100),
        Step::InQ(End::Slave),
        read_slave(100),
        Step::Poll(End::Slave),
        type_in(b"\n"),
        read_slave(100),
        Step::Poll(End::Slave),
    ])
}

fn partial_reads_of_a_line() -> TestResult {
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        type_in(b"abcdefghijklmnopqrstuvwxyz\nnext\n"),
        read_slave(5),
        Step::InQ(End::Slave),
        read_slave(5),
        read_slave(10),
        read_slave(10),
        read_slave(10),
        Step::InQ(End::Slave),
        Step::Poll(End::Slave),
    ])
}

fn veof() -> TestResult {
    compare(&[
        type_in(b"\x04"),
        drain_master(),
        Step::InQ(End::Slave),
        Step::Poll(End::Slave),
        read_slave(100),
        type_in(b"abc\x04"),
        drain_master(),
        Step::InQ(End::Slave),
        read_slave(100),
        type_in(b"ab\x04cd\n\x04\x04"),
        read_slave(1),
        read_slave(100),
        read_slave(100),
        read_slave(100),
        read_slave(100),
        // An erased VEOF and a VEOF that is not at line start.
        type_in(b"x\x7f\x04"),
        read_slave(100),
        termios("VEOF = ^A", |t| t.c_cc[VEOF] = 1),
        type_in(b"q\x04\x01"),
        drain_master(),
        read_slave(100),
    ])
}

fn veol_veol2() -> TestResult {
    compare(&[
        termios("VEOL = !, VEOL2 = @", |t| {
            t.c_cc[VEOL] = b'!';
            t.c_cc[VEOL2] = b'@';
        }),
        type_in(b"ab!cd@ef\n"),
        drain_master(),
        read_slave(100),
        read_slave(100),
        read_slave(100),
        termios("IEXTEN off", |t| t.c_lflag &= !IEXTEN),
        type_in(b"gh@ij!"),
        drain_master(),
        read_slave(100),
    ])
}

fn canonical_line_overflow() -> TestResult {
    let mut long = vec![b'a'; 4200];
    long.extend_from_slice(b"\nshort\n");
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        Step::Write(End::Master, long),
        Step::InQ(End::Slave),
        Step::Read(End::Slave, 8192),
        read_slave(100),
        Step::Poll(End::Slave),
    ])
}

fn input_maps() -> TestResult {
    compare(&[
        // Canonical with the default ICRNL: CR ends a line as NL.
        type_in(b"a\rb\n"),
        drain_master(),
        read_slave(100),
        read_slave(100),
        termios("ICANON ECHO off", |t| t.c_lflag &= !(ICANON | ECHO)),
        type_in(b"1\r2\n3"),
        read_slave(100),
        termios("ICRNL off, INLCR on", |t| {
            t.c_iflag &= !ICRNL;
            t.c_iflag |= INLCR;
        }),
        type_in(b"1\r2\n3"),
        read_slave(100),
        termios("ICRNL and INLCR on", |t| t.c_iflag |= ICRNL | INLCR),
        type_in(b"1\r2\n3"),
        read_slave(100),
        termios("IGNCR on", |t| t.c_iflag |= IGNCR),
        type_in(b"1\r2\n3"),
        read_slave(100),
        termios("ISTRIP on, maps off", |t| {
            t.c_iflag &= !(IGNCR | ICRNL | INLCR);
            t.c_iflag |= ISTRIP;
        }),
        type_in(b"\xe1\xff\x80A"),
        read_slave(100),
        termios("IUCLC on, ISTRIP off", |t| {
            t.c_iflag &= !ISTRIP;
            t.c_iflag |= IUCLC;
        }),
        type_in(b"HeLLo"),
        read_slave(100),
        termios("IUCLC on, IEXTEN off", |t| t.c_lflag &= !IEXTEN),
        type_in(b"HeLLo"),
        read_slave(100),
    ])
}

fn output_processing() -> TestResult {
    let text = b"ab\ncd\r\ref\tg\n\r";
    compare(&[
        output(text),
        drain_master(),
        termios("OPOST off", |t| t.c_oflag &= !OPOST),
        output(text),
        drain_master(),
        termios("OPOST on, ONLCR off", |t| {
            t.c_oflag |= OPOST;
            t.c_oflag &= !ONLCR;
        }),
        output(text),
        drain_master(),
        termios("OCRNL", |t| t.c_oflag |= OCRNL),
        output(text),
        drain_master(),
        termios("ONOCR", |t| {
            t.c_oflag &= !OCRNL;
            t.c_oflag |= ONOCR;
        }),
        output(b"\rx\r\r"),
        output(text),
        drain_master(),
        termios("ONLRET", |t| {
            t.c_oflag &= !ONOCR;
            t.c_oflag |= ONLRET;
        }),
        output(b"x\n\r"),
        drain_master(),
        termios("ONLCR, ONOCR, ONLRET", |t| t.c_oflag |= ONLCR | ONOCR),
        output(text),
        drain_master(),
        termios("OLCUC", |t| {
            t.c_oflag &= !(ONOCR | ONLRET);
            t.c_oflag |= OLCUC;
        }),
        output(b"Hello, World\n"),
        drain_master(),
        termios("XTABS", |t| {
            t.c_oflag &= !OLCUC;
            t.c_oflag = (t.c_oflag & !TABDLY) | XTABS;
        }),
        output(b"\tab\tcdefghij\tk\x08\t\n\t"),
        drain_master(),
        // The echo goes through the same output processing.
        type_in(b"x\ty\n"),
        drain_master(),
        read_slave(100),
    ])
}

fn vmin0_vtime0() -> TestResult {
    compare(&[
        raw_mode(),
        termios("VMIN=0 VTIME=0", |t| {
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 0;
        }),
        read_slave(10),
        Step::Poll(End::Slave),
        type_in(b"abc"),
        Step::Poll(End::Slave),
        read_slave(2),
        read_slave(10),
        read_slave(10),
    ])
}

fn vmin3_vtime0() -> TestResult {
    compare(&[
        raw_mode(),
        termios("VMIN=3 VTIME=0", |t| {
            t.c_cc[VMIN] = 3;
            t.c_cc[VTIME] = 0;
        }),
        type_in(b"ab"),
        // poll asks for VMIN bytes when VTIME is 0.
        Step::Poll(End::Slave),
        Step::InQ(End::Slave),
        // Blocks for the third byte; interrupted, it returns what it had.
        read_slave(10),
        Step::InQ(End::Slave),
        Step::BackgroundRead(End::Slave, 10),
        type_in(b"c"),
        type_in(b"d"),
        type_in(b"e"),
        Step::Join,
        type_in(b"fghij"),
        Step::Poll(End::Slave),
        read_slave(10),
        type_in(b"xyz"),
        // Fewer wanted than VMIN: the read is satisfied by what it asked for.
        read_slave(2),
        Step::InQ(End::Slave),
        Step::Poll(End::Slave),
    ])
}

fn vmin0_vtime3() -> TestResult {
    compare(&[
        raw_mode(),
        termios("VMIN=0 VTIME=3", |t| {
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 3;
        }),
        read_slave(10),
        Step::Poll(End::Slave),
        type_in(b"abc"),
        read_slave(10),
        Step::BackgroundRead(End::Slave, 10),
        type_in(b"d"),
        Step::Join,
        // Left alone, the read gives up after VTIME with nothing.
        Step::BackgroundRead(End::Slave, 10),
        Step::Sleep(600),
        Step::Join,
    ])
}

fn vmin3_vtime3() -> TestResult {
    compare(&[
        raw_mode(),
        termios("VMIN=3 VTIME=3", |t| {
            t.c_cc[VMIN] = 3;
            t.c_cc[VTIME] = 3;
        }),
        type_in(b"ab"),
        Step::Poll(End::Slave),
        // The inter-byte timer runs out after the second byte.
        read_slave(10),
        // Nothing at all: the timer only starts with the first byte.
        read_slave(10),
        type_in(b"abcd"),
        read_slave(10),
    ])
}

fn isig_signals() -> TestResult {
    compare(&[
        Step::Pgrp(End::Master),
        Step::ForegroundChild,
        Step::Pgrp(End::Master),
        type_in(b"\x03"),
        Step::Signals,
        drain_master(),
        type_in(b"\x1c"),
        Step::Signals,
        drain_master(),
        type_in(b"\x1a"),
        Step::Signals,
        drain_master(),
        // Not signals: VEOF, VERASE, ordinary text.
        type_in(b"ab\x7f\x04"),
        Step::Signals,
        drain_master(),
        read_slave(100),
        termios("ECHOCTL off", |t| t.c_lflag &= !ECHOCTL),
        type_in(b"\x03"),
        Step::Signals,
        drain_master(),
    ])
}

fn isig_flushes() -> TestResult {
    compare(&[
        Step::ForegroundChild,
        // Pending input and unread output are both discarded.
        type_in(b"typed"),
        output(b"unread output"),
        Step::InQ(End::Master),
        type_in(b"\x03"),
        Step::Signals,
        Step::InQ(End::Master),
        drain_master(),
        type_in(b"new\n"),
        drain_master(),
        read_slave(100),
        // Complete lines not yet read go too.
        type_in(b"line\n"),
        type_in(b"\x1c"),
        Step::Signals,
        Step::InQ(End::Slave),
        Step::Poll(End::Slave),
        drain_master(),
        // Output written after the signal survives.
        output(b"after"),
        drain_master(),
    ])
}

fn isig_noflsh() -> TestResult {
    compare(&[
        termios("NOFLSH", |t| t.c_lflag |= NOFLSH),
        Step::ForegroundChild,
        type_in(b"typed"),
        output(b"unread output"),
        type_in(b"\x03"),
        Step::Signals,
        drain_master(),
        type_in(b"more\n"),
        drain_master(),
        read_slave(100),
        type_in(b"line\n"),
        type_in(b"\x1a"),
        Step::Signals,
        read_slave(100),
    ])
}

fn isig_off_and_remapped() -> TestResult {
    compare(&[
        Step::ForegroundChild,
        termios("ISIG off", |t| t.c_lflag &= !ISIG),
        type_in(b"\x03\x1c\x1a\n"),
        Step::Signals,
        drain_master(),
        read_slave(100),
        termios("ISIG on, VINTR = ^G, VSUSP disabled", |t| {
            t.c_lflag |= ISIG;
            t.c_cc[VINTR] = 0x07;
            t.c_cc[VSUSP] = 0;
        }),
        type_in(b"\x03\x1a\x00\n"),
        Step::Signals,
        drain_master(),
        read_slave(100),
        type_in(b"\x07"),
        Step::Signals,
        drain_master(),
        // ISIG works without ICANON too.
        termios("ICANON off", |t| t.c_lflag &= !ICANON),
        type_in(b"x"),
        type_in(b"\x07"),
        Step::Signals,
        Step::InQ(End::Slave),
        drain_master(),
    ])
}

fn ixon_stop_start() -> TestResult {
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        type_in(b"\x13"),
        Step::Poll(End::Slave),
        Step::InQ(End::Slave),
        Step::BackgroundWrite(End::Slave, b"hello\n".to_vec()),
        drain_master(),
        Step::OutQ(End::Slave),
        // Typed input still arrives while output is stopped.
        type_in(b"in\n"),
        read_slave(100),
        type_in(b"\x11"),
        Step::Join,
        drain_master(),
        Step::Poll(End::Slave),
        // ^Q while not stopped and a second ^S ^S ^Q.
        type_in(b"\x11"),
        type_in(b"\x13\x13"),
        Step::BackgroundWrite(End::Slave, b"again".to_vec()),
        drain_master(),
        type_in(b"\x11"),
        Step::Join,
        drain_master(),
        // A non-start character does not restart output without IXANY.
        type_in(b"\x13"),
        Step::BackgroundWrite(End::Slave, b"third".to_vec()),
        type_in(b"x"),
        drain_master(),
        type_in(b"\x11"),
        Step::Join,
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
    ])
}

fn ixany() -> TestResult {
    compare(&[
        termios("ECHO off, IXANY", |t| {
            t.c_lflag &= !ECHO;
            t.c_iflag |= IXANY;
        }),
        type_in(b"\x13"),
        Step::BackgroundWrite(End::Slave, b"out".to_vec()),
        drain_master(),
        type_in(b"x"),
        Step::Join,
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
        // Stopped by TCOOFF, IXANY does not restart it.
        Step::Xonc(End::Slave, TCOOFF as usize),
        Step::BackgroundWrite(End::Slave, b"tco".to_vec()),
        type_in(b"y"),
        drain_master(),
        Step::Xonc(End::Slave, TCOON as usize),
        Step::Join,
        drain_master(),
    ])
}

fn ixon_off() -> TestResult {
    compare(&[
        termios("IXON off", |t| t.c_iflag &= !IXON),
        type_in(b"a\x13b\x11c\n"),
        drain_master(),
        read_slave(100),
        output(b"still flowing\n"),
        drain_master(),
        termios("IXON on, VSTOP = ^P", |t| {
            t.c_iflag |= IXON;
            t.c_lflag &= !ECHO;
            t.c_cc[VSTOP] = 0x10;
        }),
        type_in(b"\x13\x10"),
        Step::BackgroundWrite(End::Slave, b"held".to_vec()),
        drain_master(),
        type_in(b"\x11"),
        Step::Join,
        drain_master(),
        type_in(b"\n"),
        read_slave(100),
    ])
}

fn stopped_nonblocking_write() -> TestResult {
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        Step::NonBlock(End::Slave, true),
        type_in(b"\x13"),
        output(b"blocked?"),
        Step::Poll(End::Slave),
        type_in(b"\x11"),
        output(b"flows"),
        drain_master(),
    ])
}

fn winsize() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::SetWinsize(Master, Winsize::new(24, 80, 640, 480)),
        Step::GetWinsize(Master),
        Step::GetWinsize(Slave),
        Step::SetWinsize(Slave, Winsize::new(50, 132, 0, 0)),
        Step::GetWinsize(Master),
        Step::GetWinsize(Slave),
        Step::SetWinsize(Master, Winsize::new(0xffff, 1, 2, 3)),
        Step::GetWinsize(Slave),
        // The size survives the slave closing and reopening.
        Step::CloseSlave,
        Step::GetWinsize(Master),
        Step::OpenSlave,
        Step::GetWinsize(Slave),
    ])
}

fn sigwinch() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::ForegroundChild,
        Step::SetWinsize(Master, Winsize::new(24, 80, 0, 0)),
        Step::Signals,
        // The same size again is no change and no signal.
        Step::SetWinsize(Master, Winsize::new(24, 80, 0, 0)),
        Step::Signals,
        Step::SetWinsize(Slave, Winsize::new(25, 80, 0, 0)),
        Step::Signals,
        Step::SetWinsize(Slave, Winsize::new(25, 80, 1, 0)),
        Step::Signals,
    ])
}

fn fionread() -> TestResult {
    use End::{Master, Slave};
    let tiocinq = |end| Step::Ioctl(end, TIOCINQ, IoctlArg::Int(-1));
    compare(&[
        Step::InQ(Slave),
        type_in(b"part"),
        Step::InQ(Slave),
        Step::InQ(Master),
        type_in(b"ial\nnext\n"),
        Step::InQ(Slave),
        tiocinq(Slave),
        read_slave(3),
        Step::InQ(Slave),
        drain_master(),
        Step::InQ(Master),
        output(b"xyz\n"),
        Step::InQ(Master),
        tiocinq(Master),
        raw_mode(),
        Step::InQ(Slave),
        type_in(b"raw"),
        Step::InQ(Slave),
        read_slave(100),
        Step::InQ(Slave),
        Step::Poll(Slave),
    ])
}

fn tiocoutq() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::OutQ(Master),
        Step::OutQ(Slave),
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        type_in(b"unread by the slave"),
        Step::OutQ(Master),
        Step::OutQ(Slave),
        output(b"unread by the master"),
        Step::OutQ(Master),
        Step::OutQ(Slave),
        type_in(b"\x13"),
        Step::BackgroundWrite(Slave, b"stopped".to_vec()),
        Step::OutQ(Slave),
        Step::OutQ(Master),
        type_in(b"\x11"),
        Step::Join,
        Step::OutQ(Slave),
    ])
}

/// Queues data both ways, flushes with `selector` on `end`, looks at both.
fn flush_script(end: End, selector: i32) -> Vec<Step> {
    vec![
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        type_in(b"line one\nline two\npartial"),
        output(b"output one\noutput two"),
        Step::InQ(End::Master),
        Step::InQ(End::Slave),
        Step::Flush(end, selector as usize),
        Step::InQ(End::Master),
        Step::InQ(End::Slave),
        Step::Poll(End::Master),
        Step::Poll(End::Slave),
        drain_master(),
        type_in(b" more\n"),
        drain_slave(),
    ]
}

fn tcflush_on(end: End) -> TestResult {
    for selector in [TCIFLUSH, TCOFLUSH, TCIOFLUSH] {
        compare(&flush_script(end, selector)).map_err(|e| format!("selector {selector}:\n{e}"))?;
    }
    Ok(())
}

fn tcflush_slave() -> TestResult {
    tcflush_on(End::Slave)
}

fn tcflush_master() -> TestResult {
    tcflush_on(End::Master)
}

fn tcxonc_slave() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        Step::Xonc(Slave, TCOOFF as usize),
        Step::BackgroundWrite(Slave, b"held".to_vec()),
        drain_master(),
        Step::Poll(Slave),
        // ^Q from the master restarts output stopped by TCOOFF? (n_tty: no)
        type_in(b"\x11"),
        drain_master(),
        Step::Xonc(Slave, TCOON as usize),
        Step::Join,
        drain_master(),
        // TCIOFF/TCION send VSTOP/VSTART toward the master.
        Step::Xonc(Slave, TCIOFF as usize),
        Step::Xonc(Slave, TCION as usize),
        drain_master(),
        termios("VSTOP disabled", |t| t.c_cc[VSTOP] = 0),
        Step::Xonc(Slave, TCIOFF as usize),
        drain_master(),
        // TCOON when not stopped, TCOOFF twice.
        Step::Xonc(Slave, TCOON as usize),
        Step::Xonc(Slave, TCOOFF as usize),
        Step::Xonc(Slave, TCOOFF as usize),
        Step::Xonc(Slave, TCOON as usize),
        output(b"flows"),
        drain_master(),
        Step::Poll(Master),
    ])
}

fn tcxonc_master() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        // Stops the master's output, i.e. the slave's input.
        Step::Xonc(Master, TCOOFF as usize),
        Step::Poll(Master),
        Step::BackgroundWrite(Master, b"typed\n".to_vec()),
        Step::InQ(Slave),
        Step::Poll(Slave),
        Step::Xonc(Master, TCOON as usize),
        Step::Join,
        read_slave(100),
        // TCIOFF on the master sends VSTOP into the slave's input, which
        // stops the slave's output (IXON).
        Step::Xonc(Master, TCIOFF as usize),
        Step::BackgroundWrite(Slave, b"out".to_vec()),
        drain_master(),
        Step::Xonc(Master, TCION as usize),
        Step::Join,
        drain_master(),
        Step::InQ(Slave),
    ])
}

fn packet_data() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::Packet(Master, true),
        Step::Poll(Master),
        output(b"hi\n"),
        Step::Poll(Master),
        Step::InQ(Master),
        drain_master(),
        output(b"abc"),
        // A one-byte read gets only the packet header.
        Step::Read(Master, 1),
        Step::Read(Master, 2),
        drain_master(),
        // Echo is data like any other.
        type_in(b"x"),
        drain_master(),
        Step::Packet(Master, false),
        output(b"plain"),
        drain_master(),
        // TIOCPKT is a master ioctl.
        Step::Packet(Slave, true),
        Step::Ioctl(Master, TIOCPKT, IoctlArg::BadPointer),
    ])
}

fn packet_flush() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::Packet(Master, true),
        output(b"pending"),
        Step::Flush(Slave, TCIFLUSH as usize),
        Step::Poll(Master),
        drain_master(),
        output(b"pending"),
        Step::Flush(Slave, TCOFLUSH as usize),
        Step::Poll(Master),
        drain_master(),
        output(b"pending"),
        Step::Flush(Slave, TCIOFLUSH as usize),
        drain_master(),
        // Flushes on the master's side are not reported to itself.
        type_in(b"x"),
        Step::Flush(Master, TCIOFLUSH as usize),
        drain_master(),
        // Status and data together: status first.
        output(b"data"),
        Step::Flush(Slave, TCIFLUSH as usize),
        output(b"more"),
        drain_master(),
    ])
}

fn packet_stop_start() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        Step::Packet(Master, true),
        type_in(b"\x13"),
        Step::Poll(Master),
        drain_master(),
        type_in(b"\x11"),
        drain_master(),
        // Both before reading: START replaces STOP.
        type_in(b"\x13"),
        type_in(b"\x11"),
        drain_master(),
        Step::Xonc(Slave, TCOOFF as usize),
        drain_master(),
        Step::Xonc(Slave, TCOON as usize),
        drain_master(),
        Step::Xonc(Master, TCOOFF as usize),
        drain_master(),
        Step::Xonc(Master, TCOON as usize),
        drain_master(),
    ])
}

fn packet_dostop_nostop() -> TestResult {
    use End::Master;
    compare(&[
        Step::Packet(Master, true),
        termios("IXON off", |t| t.c_iflag &= !IXON),
        Step::Poll(Master),
        drain_master(),
        termios("IXON on", |t| t.c_iflag |= IXON),
        drain_master(),
        termios("VSTOP = ^P", |t| t.c_cc[VSTOP] = 0x10),
        drain_master(),
        termios("VSTOP = ^S", |t| t.c_cc[VSTOP] = 0x13),
        drain_master(),
        // Changes that do not touch flow control report nothing.
        termios("ECHO off", |t| t.c_lflag &= !ECHO),
        drain_master(),
        // Two changes before a read: the last one wins.
        termios("IXON off", |t| t.c_iflag &= !IXON),
        termios("IXON on", |t| t.c_iflag |= IXON),
        drain_master(),
        // Through the master's TCSETS too.
        Step::SetTermios {
            end: Master,
            how: TCSETS,
            what: "IXON off",
            change: |t| t.c_iflag &= !IXON,
        },
        drain_master(),
    ])
}

fn packet_isig() -> TestResult {
    use End::Master;
    compare(&[
        Step::Packet(Master, true),
        Step::ForegroundChild,
        type_in(b"ab"),
        drain_master(),
        type_in(b"\x03"),
        Step::Signals,
        Step::Poll(Master),
        drain_master(),
        termios("NOFLSH", |t| t.c_lflag |= NOFLSH),
        drain_master(),
        type_in(b"\x03"),
        Step::Signals,
        drain_master(),
    ])
}

fn exclusive() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::OpenSlaveWithoutAdmin,
        Step::Exclusive(Slave, true),
        Step::OpenSlaveWithoutAdmin,
        // Root (with CAP_SYS_ADMIN) may open it anyway.
        Step::OpenSlave,
        Step::Exclusive(Slave, false),
        Step::OpenSlaveWithoutAdmin,
        // Exclusive on the master does not guard the slave.
        Step::Exclusive(Master, true),
        Step::OpenSlaveWithoutAdmin,
        Step::Exclusive(Master, false),
        // Exclusive set through the slave outlives closing all slaves.
        Step::Exclusive(Slave, true),
        Step::CloseSlave,
        Step::OpenSlaveWithoutAdmin,
        Step::OpenSlave,
    ])
}

fn nonblocking_empty() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::NonBlock(Master, true),
        Step::NonBlock(Slave, true),
        Step::Read(Master, 10),
        Step::Read(Slave, 10),
        type_in(b"partial"),
        Step::Read(Slave, 10),
        drain_master(),
        Step::Read(Master, 10),
        type_in(b"\n"),
        Step::Read(Slave, 3),
        Step::Read(Slave, 100),
        Step::Read(Slave, 100),
        raw_mode(),
        Step::Read(Slave, 10),
        type_in(b"raw"),
        Step::Read(Slave, 10),
        Step::NonBlock(Slave, false),
        type_in(b"x"),
        Step::Read(Slave, 10),
    ])
}

fn poll_states() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::Poll(Master),
        Step::Poll(Slave),
        type_in(b"abc"),
        Step::Poll(Master),
        Step::Poll(Slave),
        type_in(b"\n"),
        Step::Poll(Slave),
        read_slave(100),
        Step::Poll(Slave),
        drain_master(),
        Step::Poll(Master),
        output(b"out"),
        Step::Poll(Master),
        drain_master(),
        raw_mode(),
        termios("VMIN=2", |t| t.c_cc[VMIN] = 2),
        type_in(b"a"),
        Step::Poll(Slave),
        type_in(b"b"),
        Step::Poll(Slave),
        read_slave(10),
        termios("VMIN=2 VTIME=1", |t| t.c_cc[VTIME] = 1),
        type_in(b"c"),
        Step::Poll(Slave),
        read_slave(10),
        termios("VMIN=0", |t| {
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 0;
        }),
        Step::Poll(Slave),
    ])
}

fn hangup_close_master() -> TestResult {
    use End::Slave;
    compare(&[
        Step::OpenSlave,
        type_in(b"complete line\npartial"),
        output(b"unread by the master"),
        Step::CloseMaster,
        Step::Poll(Slave),
        Step::InQ(Slave),
        read_slave(100),
        read_slave(100),
        Step::Read(Slave, 0),
        output(b"x"),
        Step::GetTermios(Slave),
        Step::GetWinsize(Slave),
        Step::Flush(Slave, TCIFLUSH as usize),
        Step::NonBlock(Slave, true),
        read_slave(100),
        // The node is gone; the older descriptor is hung up as well.
        Step::OpenSlave,
        Step::CloseSlave,
    ])
}

fn close_slave() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        output(b"last words\n"),
        Step::CloseSlave,
        Step::Poll(Master),
        Step::InQ(Master),
        drain_master(),
        Step::Poll(Master),
        Step::Read(Master, 10),
        Step::NonBlock(Master, true),
        Step::Read(Master, 10),
        Step::NonBlock(Master, false),
        // The master keeps working without a slave.
        type_in(b"typed while closed\n"),
        Step::GetTermios(Master),
        Step::GetWinsize(Master),
        Step::OutQ(Master),
        // Is the input processed (and echoed) with no slave open?
        Step::InQ(Master),
        Step::OpenSlave,
        Step::Poll(Master),
        Step::Poll(Slave),
        Step::InQ(Slave),
        drain_master(),
        drain_slave(),
        output(b"back\n"),
        drain_master(),
    ])
}

fn reopen_slave_keeps_state() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        termios("ECHO off, VMIN=5", |t| {
            t.c_lflag &= !ECHO;
            t.c_cc[VMIN] = 5;
        }),
        Step::SetWinsize(Slave, Winsize::new(10, 20, 0, 0)),
        type_in(b"pending\nhalf"),
        Step::CloseSlave,
        Step::OpenSlave,
        Step::GetTermios(Slave),
        Step::GetWinsize(Slave),
        Step::InQ(Slave),
        drain_slave(),
        type_in(b" done\n"),
        drain_slave(),
        Step::Poll(Master),
    ])
}

fn master_before_slave_open() -> TestResult {
    use End::{Master, Slave};
    compare_with(
        Setup::MasterOnly,
        &[
            Step::Poll(Master),
            Step::InQ(Master),
            Step::GetTermios(Master),
            Step::NonBlock(Master, true),
            Step::Read(Master, 10),
            Step::NonBlock(Master, false),
            type_in(b"early\n"),
            Step::Poll(Master),
            Step::OpenSlave,
            Step::InQ(Slave),
            drain_slave(),
            drain_master(),
        ],
    )
}

fn peer_open() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::CloseSlave,
        Step::OpenPeer,
        type_in(b"via peer\n"),
        drain_master(),
        read_slave(100),
        output(b"back"),
        drain_master(),
        // A second peer and the node are the same slave.
        Step::OpenPeer,
        Step::OpenSlave,
        Step::Poll(Slave),
        Step::CloseSlave,
        Step::Poll(Master),
        Step::OpenPeer,
        Step::Poll(Master),
    ])
}

fn termios_through_master() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::SetTermios {
            end: Master,
            how: TCSETS,
            what: "ECHO off",
            change: |t| t.c_lflag &= !ECHO,
        },
        Step::GetTermios(Slave),
        Step::GetTermios(Master),
        type_in(b"quiet\n"),
        drain_master(),
        read_slave(100),
        termios("ECHO on, ICANON off", |t| {
            t.c_lflag |= ECHO;
            t.c_lflag &= !ICANON;
        }),
        Step::GetTermios(Master),
        type_in(b"loud"),
        drain_master(),
    ])
}

fn tcsets_variants() -> TestResult {
    on_both(|end| {
        vec![
            termios("ECHO off", |t| t.c_lflag &= !ECHO),
            type_in(b"line\npart"),
            output(b"out"),
            // TCSETSW waits for output to drain, then sets.
            Step::SetTermios {
                end,
                how: TCSETSW,
                what: "VERASE = #",
                change: |t| t.c_cc[VERASE] = b'#',
            },
            Step::InQ(End::Slave),
            Step::InQ(End::Master),
            // TCSETSF also flushes pending input.
            Step::SetTermios {
                end,
                how: TCSETSF,
                what: "VERASE = DEL",
                change: |t| t.c_cc[VERASE] = DEL,
            },
            Step::InQ(End::Slave),
            Step::InQ(End::Master),
            Step::GetTermios(End::Slave),
            type_in(b"new\n"),
            drain_slave(),
            drain_master(),
        ]
    })
}

fn tcsets_odd_values() -> TestResult {
    on_both(|end| {
        let set = |what, change| Step::SetTermios {
            end,
            how: TCSETS,
            what,
            change,
        };
        vec![
            set("CS5 PARENB CSTOPB B9600 CLOCAL HUPCL", |t| {
                t.c_cflag = libc::CS5
                    | libc::PARENB
                    | libc::PARODD
                    | libc::CSTOPB
                    | libc::B9600
                    | libc::CLOCAL
                    | libc::HUPCL;
            }),
            Step::GetTermios(End::Slave),
            set("no CREAD, B0", |t| t.c_cflag = libc::CS7 | libc::B0),
            Step::GetTermios(End::Slave),
            type_in(b"still read\n"),
            read_slave(100),
            // c_line is the one intended difference: ckpt_pty keeps its own
            // line discipline's number there (tty_ldisc_is_ckpt_ldterm).
            set("every cc 0xff", |t| t.c_cc = [0xff; pty::NCCS]),
            Step::GetTermios(End::Slave),
            set("every cc 0", |t| t.c_cc = [0; pty::NCCS]),
            Step::GetTermios(End::Slave),
            type_in(b"a\x7fb\n"),
            read_slave(100),
            set("all iflag/oflag bits", |t| {
                t.c_iflag = u32::MAX;
                t.c_oflag = u32::MAX;
            }),
            Step::GetTermios(End::Slave),
            set("all lflag and cflag bits", |t| {
                t.c_iflag = 0;
                t.c_oflag = 0;
                t.c_lflag = u32::MAX;
                t.c_cflag = u32::MAX;
            }),
            Step::GetTermios(End::Slave),
            set("BOTHER speed bits", |t| {
                t.c_lflag = libc::ICANON;
                t.c_cflag = libc::CS8 | libc::CREAD | libc::BOTHER;
            }),
            Step::GetTermios(End::Slave),
        ]
    })
}

fn unknown_ioctl() -> TestResult {
    on_both(|end| {
        vec![
            Step::Ioctl(end, 0x5499, IoctlArg::Value(0)),
            Step::Ioctl(end, 0x4004_54ff, IoctlArg::Int(1)),
            Step::Ioctl(end, 0xdead_beef, IoctlArg::Value(0)),
            Step::Ioctl(end, 0x8008_6601, IoctlArg::Buffer(8)),
        ]
    })
}

fn bad_pointers() -> TestResult {
    on_both(|end| {
        let mut steps: Vec<Step> = [
            TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, TIOCOUTQ,
        ]
        .into_iter()
        .map(|cmd| Step::Ioctl(end, cmd, IoctlArg::BadPointer))
        .collect();
        if end == End::Master {
            // Natively the slave answers these only to its session.
            steps.push(Step::Ioctl(end, TIOCGPGRP, IoctlArg::BadPointer));
            steps.push(Step::Ioctl(end, TIOCPKT, IoctlArg::BadPointer));
        }
        // Nothing changed.
        steps.push(Step::GetTermios(end));
        steps.push(Step::GetWinsize(end));
        steps
    })
}

fn invalid_arguments() -> TestResult {
    on_both(|end| {
        let mut steps = Vec::new();
        for arg in [3usize, 99, usize::MAX] {
            steps.push(Step::Flush(end, arg));
        }
        for arg in [4usize, 99, usize::MAX] {
            steps.push(Step::Xonc(end, arg));
        }
        steps.push(Step::Ioctl(end, TCXONC, IoctlArg::Value(TCOON as usize)));
        steps.push(Step::Packet(end, true));
        steps.push(Step::Ioctl(end, TIOCPKT, IoctlArg::Int(2)));
        steps.push(Step::Ioctl(end, TIOCPKT, IoctlArg::Int(0)));
        steps.push(output(b"x"));
        steps.push(drain_master());
        steps
    })
}

/// 256 KiB each way through a raw pair with a reader thread: everything
/// arrives, in order. Compared per kind against the data, not timing.
fn bulk_raw() -> TestResult {
    let kinds: &[PtyKind] = if native_only() {
        &[PtyKind::Native]
    } else {
        &[PtyKind::Native, PtyKind::Ckpt]
    };
    for &kind in kinds {
        bulk_one(kind).map_err(|e| format!("{}: {e}", kind.name()))?;
    }
    Ok(())
}

fn bulk_one(kind: PtyKind) -> TestResult {
    const SIZE: usize = 256 * 1024;
    // Every byte value, in a pattern that does not repeat every 256 bytes.
    let data: Vec<u8> = (0..SIZE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect();
    let pair = PtyPair::open(kind)?;
    pair.change_slave_termios(TCSETS, pty::make_raw)?;
    let slave = pair.slave()?;
    for (from, to, what) in [
        (&pair.master, slave, "master to slave"),
        (slave, &pair.master, "slave to master"),
    ] {
        let reader = to.try_clone().map_err(|e| e.to_string())?;
        let received = std::thread::spawn(move || {
            let mut got = Vec::with_capacity(SIZE);
            while got.len() < SIZE {
                match pty::read_timeout(&reader, 65536, Duration::from_secs(10)) {
                    Ok(Some(chunk)) if !chunk.is_empty() => got.extend(chunk),
                    Ok(_) => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        });
        let wrote = pty::write_all(from, &data, Duration::from_secs(60));
        let got = received
            .join()
            .map_err(|_| "reader panicked".to_string())?
            .map_err(|e| format!("{what}: {e}"))?;
        wrote.map_err(|e| format!("{what}: {e}"))?;
        ensure_eq!(got.len(), SIZE);
        let first_bad = got.iter().zip(&data).position(|(a, b)| a != b);
        ensure!(
            first_bad.is_none(),
            "{what}: first wrong byte at {first_bad:?}"
        );
    }
    ensure_eq!(
        sys::get_u32(&pair.master, FIONREAD).map_err(|e| e.to_string())?,
        0
    );
    Ok(())
}

/// `TCGETS2` on `end`, `change`, then `how`.
fn set2(end: End, how: u32, what: &'static str, change: fn(&mut Termios2)) -> Step {
    Step::SetTermios2 {
        end,
        how,
        what,
        change,
    }
}

/// Replaces the output speed code (`CBAUD`) of `t`.
fn set_cbaud(t: &mut Termios2, code: u32) {
    t.termios.c_cflag = (t.termios.c_cflag & !libc::CBAUD) | code;
}

/// termios2 with speeds given as `Bnnn` codes: the speeds follow `CBAUD`
/// whatever the speed fields say; `TCSETSW2`/`TCSETSF2` behave like their
/// old counterparts.
fn termios2() -> TestResult {
    on_both(|end| {
        vec![
            Step::GetTermios2(End::Master),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B9600, ECHO off", |t| {
                set_cbaud(t, libc::B9600);
                t.termios.c_lflag &= !ECHO;
            }),
            Step::GetTermios2(End::Slave),
            Step::GetTermios2(End::Master),
            Step::GetTermios(End::Slave),
            type_in(b"quiet\n"),
            drain_master(),
            read_slave(100),
            set2(end, TCSETS2, "B115200, speed fields 1 and 2", |t| {
                set_cbaud(t, libc::B115200);
                t.c_ispeed = 1;
                t.c_ospeed = 2;
            }),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B4000000", |t| set_cbaud(t, libc::B4000000)),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B50", |t| set_cbaud(t, libc::B50)),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B0", |t| set_cbaud(t, libc::B0)),
            Step::GetTermios2(End::Slave),
            // The old TCSETS changes the speeds TCGETS2 reports.
            Step::SetTermios {
                end,
                how: TCSETS,
                what: "B2400",
                change: |t| t.c_cflag = (t.c_cflag & !libc::CBAUD) | libc::B2400,
            },
            Step::GetTermios2(End::Slave),
            type_in(b"line\npart"),
            output(b"out"),
            set2(end, TCSETSW2, "VERASE = #", |t| {
                t.termios.c_cc[VERASE] = b'#'
            }),
            Step::InQ(End::Slave),
            Step::InQ(End::Master),
            set2(end, TCSETSF2, "ECHO on, B38400", |t| {
                t.termios.c_lflag |= ECHO;
                set_cbaud(t, libc::B38400);
            }),
            Step::InQ(End::Slave),
            Step::InQ(End::Master),
            Step::GetTermios2(End::Slave),
            type_in(b"ab#c\n"),
            drain_master(),
            read_slave(100),
            Step::Ioctl(end, TCGETS2, IoctlArg::BadPointer),
            Step::Ioctl(end, TCSETS2, IoctlArg::BadPointer),
            Step::Ioctl(end, TCSETSW2, IoctlArg::BadPointer),
            Step::Ioctl(end, TCSETSF2, IoctlArg::BadPointer),
            Step::GetTermios2(End::Slave),
        ]
    })
}

/// Speeds that are not a `CBAUD` code of their own: `BOTHER` (the speed
/// fields are the speeds), a separate input speed in `CIBAUD`, and the old
/// `TCSETS` with `BOTHER` (which keeps the speeds set before).
fn termios2_arbitrary_speeds() -> TestResult {
    on_both(|end| {
        vec![
            set2(end, TCSETS2, "BOTHER, speed fields 0 and 12345", |t| {
                set_cbaud(t, libc::BOTHER);
                t.c_ispeed = 0;
                t.c_ospeed = 12345;
            }),
            Step::GetTermios2(End::Slave),
            Step::GetTermios(End::Slave),
            set2(end, TCSETS2, "B9600, input speed B4800 in CIBAUD", |t| {
                t.termios.c_cflag &= !libc::CIBAUD;
                set_cbaud(t, libc::B9600);
                t.termios.c_cflag |= libc::B4800 << libc::IBSHIFT;
            }),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B38400, input BOTHER 777", |t| {
                t.termios.c_cflag &= !libc::CIBAUD;
                set_cbaud(t, libc::B38400);
                t.termios.c_cflag |= libc::BOTHER << libc::IBSHIFT;
                t.c_ispeed = 777;
            }),
            Step::GetTermios2(End::Slave),
            set2(end, TCSETS2, "B19200, no CIBAUD", |t| {
                t.termios.c_cflag &= !libc::CIBAUD;
                set_cbaud(t, libc::B19200);
            }),
            Step::SetTermios {
                end,
                how: TCSETS,
                what: "BOTHER",
                change: |t| t.c_cflag = (t.c_cflag & !libc::CBAUD) | libc::BOTHER,
            },
            Step::GetTermios2(End::Slave),
        ]
    })
}

/// A `struct termios2` must be whole: 36 readable bytes (a `struct
/// termios`) before an inaccessible page are not enough.
fn termios2_short_buffer() -> TestResult {
    on_both(|end| {
        vec![
            Step::Ioctl(end, TCGETS2, IoctlArg::ShortBuffer(44)),
            Step::Ioctl(end, TCGETS2, IoctlArg::ShortBuffer(36)),
            Step::Ioctl(end, TCSETS2, IoctlArg::ShortBuffer(36)),
            Step::Ioctl(end, TCSETSW2, IoctlArg::ShortBuffer(36)),
            Step::Ioctl(end, TCSETSF2, IoctlArg::ShortBuffer(36)),
            Step::GetTermios(End::Slave),
            // The old ioctls copy only a `struct termios`.
            Step::Ioctl(end, TCSETS, IoctlArg::ShortBuffer(36)),
            Step::GetTermios(End::Slave),
        ]
    })
}

/// `tcsendbreak` and `tcdrain`: a pty has no break to send and nothing
/// to wait for, so they succeed at once and change nothing.
fn break_and_drain() -> TestResult {
    on_both(|end| {
        vec![
            termios("ECHO off, BRKINT PARMRK", |t| {
                t.c_lflag &= !ECHO;
                t.c_iflag |= libc::BRKINT | libc::PARMRK;
                t.c_iflag &= !libc::IGNBRK;
            }),
            type_in(b"typed"),
            output(b"shown"),
            Step::Ioctl(end, TCSBRK, IoctlArg::Value(0)),
            Step::Ioctl(end, TCSBRK, IoctlArg::Value(1)),
            Step::Ioctl(end, TCSBRKP, IoctlArg::Value(0)),
            Step::Ioctl(end, TCSBRKP, IoctlArg::Value(3)),
            Step::InQ(End::Slave),
            Step::InQ(End::Master),
            drain_master(),
            type_in(b"\n"),
            read_slave(100),
            // Stopped output has nothing to drain either.
            type_in(b"\x13"),
            Step::Ioctl(end, TCSBRK, IoctlArg::Value(1)),
            Step::Ioctl(end, TCSBRKP, IoctlArg::Value(1)),
            type_in(b"\x11"),
            output(b"after"),
            drain_master(),
        ]
    })
}

fn get_int(end: End, cmd: u32) -> Step {
    Step::Ioctl(end, cmd, IoctlArg::Int(-1))
}

fn tiocgexcl() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        get_int(Master, TIOCGEXCL),
        get_int(Slave, TIOCGEXCL),
        Step::Exclusive(Slave, true),
        get_int(Slave, TIOCGEXCL),
        get_int(Master, TIOCGEXCL),
        Step::Exclusive(Master, true),
        get_int(Master, TIOCGEXCL),
        Step::Exclusive(Slave, false),
        get_int(Slave, TIOCGEXCL),
        get_int(Master, TIOCGEXCL),
        Step::Exclusive(Master, false),
        get_int(Master, TIOCGEXCL),
        // The slave's flag outlives its descriptors.
        Step::Exclusive(Slave, true),
        Step::CloseSlave,
        Step::OpenSlave,
        get_int(Slave, TIOCGEXCL),
        Step::OpenPeer,
        get_int(Slave, TIOCGEXCL),
        Step::Ioctl(Master, TIOCGEXCL, IoctlArg::BadPointer),
        Step::Ioctl(Slave, TIOCGEXCL, IoctlArg::BadPointer),
    ])
}

fn tiocgpkt() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        get_int(Master, TIOCGPKT),
        Step::Packet(Master, true),
        get_int(Master, TIOCGPKT),
        Step::Ioctl(Master, TIOCPKT, IoctlArg::Int(7)),
        get_int(Master, TIOCGPKT),
        Step::Packet(Master, false),
        get_int(Master, TIOCGPKT),
        Step::Ioctl(Master, TIOCPKT, IoctlArg::Int(-1)),
        get_int(Master, TIOCGPKT),
        // A master ioctl only.
        get_int(Slave, TIOCGPKT),
        Step::Ioctl(Master, TIOCGPKT, IoctlArg::BadPointer),
        // Closing and reopening the slave leaves packet mode alone.
        Step::CloseSlave,
        get_int(Master, TIOCGPKT),
        Step::OpenSlave,
        get_int(Master, TIOCGPKT),
    ])
}

fn tiocgetd() -> TestResult {
    on_both(|end| {
        vec![
            get_int(end, TIOCGETD),
            Step::Ioctl(end, TIOCGETD, IoctlArg::BadPointer),
            // (Setting c_line is where ckpt_pty differs by design: it keeps
            // its own line discipline's number; tty_ldisc_is_ckpt_ldterm.)
            get_int(end, TIOCGETD),
            Step::GetTermios(end),
        ]
    })
}

fn tiocsig_step(sig: usize) -> Step {
    Step::Ioctl(End::Master, TIOCSIG, IoctlArg::Value(sig))
}

/// `TIOCSIG` on the master signals the slave's foreground process group;
/// unlike the signal characters it flushes nothing.
fn tiocsig() -> TestResult {
    use End::{Master, Slave};
    let sig = |s: i32| tiocsig_step(s as usize);
    compare(&[
        // No foreground group yet: nobody to signal, still no error.
        sig(libc::SIGINT),
        Step::ForegroundChild,
        type_in(b"typed"),
        output(b"shown"),
        sig(libc::SIGINT),
        Step::Signals,
        sig(libc::SIGQUIT),
        Step::Signals,
        sig(libc::SIGTSTP),
        Step::Signals,
        Step::InQ(Slave),
        Step::InQ(Master),
        drain_master(),
        // Numbers that are no signal.
        sig(0),
        sig(-1),
        sig(65),
        tiocsig_step(usize::MAX),
        Step::Signals,
        // The argument is an int: the upper half of the long is ignored.
        tiocsig_step((1 << 32) | libc::SIGINT as usize),
        Step::Signals,
        // ISIG is about characters, not this ioctl.
        termios("ISIG off", |t| t.c_lflag &= !ISIG),
        sig(libc::SIGQUIT),
        Step::Signals,
        // A master ioctl only.
        Step::Ioctl(Slave, TIOCSIG, IoctlArg::Value(libc::SIGINT as usize)),
        Step::Signals,
        Step::Pgrp(Master),
    ])
}

/// Valid signal numbers other than `SIGINT`, `SIGQUIT` and `SIGTSTP`.
fn tiocsig_other_signals() -> TestResult {
    let sig = |s: i32| tiocsig_step(s as usize);
    compare(&[
        Step::ForegroundChild,
        sig(libc::SIGWINCH),
        Step::Signals,
        sig(libc::SIGHUP),
        Step::Signals,
        sig(libc::SIGCONT),
        Step::Signals,
        sig(libc::SIGTTIN),
        Step::Signals,
        sig(libc::SIGTTOU),
        Step::Signals,
    ])
}

/// `TIOCGPTPEER` opens with the flags it is given, and not while the slave
/// is locked.
fn peer_open_flags() -> TestResult {
    use End::{Master, Slave};
    let peer = |flags: i32| Step::OpenPeerWith(Master, flags as usize);
    let nocty = libc::O_NOCTTY;
    compare(&[
        Step::FdFlags(Master),
        Step::FdFlags(Slave),
        peer(libc::O_RDONLY | nocty),
        Step::FdFlags(Slave),
        output(b"x"),
        type_in(b"in\n"),
        read_slave(100),
        peer(libc::O_WRONLY | nocty),
        Step::FdFlags(Slave),
        read_slave(100),
        output(b"out"),
        drain_master(),
        peer(libc::O_RDWR | nocty | libc::O_NONBLOCK),
        Step::FdFlags(Slave),
        read_slave(100),
        peer(libc::O_RDWR | nocty | libc::O_CLOEXEC),
        Step::FdFlags(Slave),
        peer(libc::O_RDWR | nocty | libc::O_APPEND),
        Step::FdFlags(Slave),
        Step::Ioctl(Master, TIOCSPTLCK, IoctlArg::Int(1)),
        peer(libc::O_RDWR | nocty),
        Step::OpenSlave,
        Step::Ioctl(Master, TIOCSPTLCK, IoctlArg::Int(0)),
        peer(libc::O_RDWR | nocty),
        Step::FdFlags(Slave),
    ])
}

/// Open flags that matter to a path lookup: natively `TIOCGPTPEER` opens
/// the slave's dentry directly, so they make no difference.
fn peer_open_odd_flags() -> TestResult {
    use End::{Master, Slave};
    let peer = |flags: i32| Step::OpenPeerWith(Master, flags as usize);
    let rw = libc::O_RDWR | libc::O_NOCTTY;
    compare(&[
        peer(rw | libc::O_DIRECTORY),
        Step::FdFlags(Slave),
        peer(rw | libc::O_CREAT | libc::O_EXCL),
        Step::FdFlags(Slave),
        peer(rw | libc::O_NOFOLLOW | libc::O_TRUNC),
        Step::FdFlags(Slave),
        type_in(b"still a slave\n"),
        read_slave(100),
    ])
}

/// `TIOCGPTPEER` is for masters.
fn peer_from_slave() -> TestResult {
    compare(&[
        Step::OpenPeerWith(End::Slave, (libc::O_RDWR | libc::O_NOCTTY) as usize),
        Step::Poll(End::Master),
    ])
}

/// The newer ioctls on a master whose slave is closed, and on a slave
/// whose master is gone (hung up).
fn newer_ioctls_one_end_closed() -> TestResult {
    use End::{Master, Slave};
    compare(&[
        Step::CloseSlave,
        get_int(Master, TIOCGETD),
        get_int(Master, TIOCGEXCL),
        get_int(Master, TIOCGPKT),
        Step::GetTermios2(Master),
        set2(Master, TCSETS2, "B1200", |t| set_cbaud(t, libc::B1200)),
        Step::GetTermios2(Master),
        Step::Ioctl(Master, TCSBRK, IoctlArg::Value(1)),
        Step::Ioctl(Master, TCSBRKP, IoctlArg::Value(0)),
        tiocsig_step(libc::SIGINT as usize),
        Step::OpenSlave,
        Step::CloseMaster,
        get_int(Slave, TIOCGETD),
        get_int(Slave, TIOCGEXCL),
        get_int(Slave, TIOCGPKT),
        Step::GetTermios2(Slave),
        set2(Slave, TCSETS2, "B300", |t| set_cbaud(t, libc::B300)),
        Step::Ioctl(Slave, TCSBRK, IoctlArg::Value(1)),
        Step::Ioctl(Slave, TCSBRKP, IoctlArg::Value(0)),
        Step::Ioctl(Slave, TIOCSIG, IoctlArg::Value(libc::SIGINT as usize)),
        Step::OpenPeerWith(Slave, (libc::O_RDWR | libc::O_NOCTTY) as usize),
    ])
}
