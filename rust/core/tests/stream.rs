// SPDX-License-Identifier: GPL-2.0
//! Tests of one pty as two streams (`PtyPair`): unit tests of each
//! operation, property tests of the data paths under back-pressure, and a
//! differential test of pair-level behaviour (packet mode, `FIONREAD`,
//! hangup) against the real Linux pty of this machine.

mod common;

use common::VecStorage;
use proptest::prelude::*;
use pty_core::ldterm::{INPUT_BOUND, N_TTY_BUF_SIZE};
use pty_core::stream::*;
use pty_core::termios::*;

type Pair = PtyPair<VecStorage>;

/// A pair whose slave has been opened once, as after `open("/dev/pts/N")`.
fn pair() -> Pair {
    let mut p = PtyPair::new(VecStorage::new);
    p.slave_opened();
    p
}

fn slave(f: impl FnOnce(&mut Termios)) -> Termios {
    let mut t = Termios::pty_slave_default();
    f(&mut t);
    t
}

/// `cfmakeraw`-like settings: every byte passes untouched both ways.
fn raw() -> Termios {
    slave(|t| {
        t.c_iflag = 0;
        t.c_oflag &= !OPOST;
        t.c_lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
    })
}

fn set(p: &mut Pair, t: Termios) -> Effects {
    let mut fx = Effects::default();
    p.set_termios(t, false, &mut fx);
    fx
}

/// Write all of `data` to the master in one call.
fn type_in(p: &mut Pair, data: &[u8]) -> Effects {
    let mut fx = Effects::default();
    assert_eq!(p.master_write(data, &mut fx), Io::Done(data.len()));
    fx
}

/// Write all of `data` to the slave in one call.
fn output(p: &mut Pair, data: &[u8]) -> Effects {
    let mut fx = Effects::default();
    assert_eq!(p.slave_write(data, &mut fx), Io::Done(data.len()));
    fx
}

/// One master read with an `n`-byte buffer.
fn mread(p: &mut Pair, n: usize) -> Result<Vec<u8>, Io> {
    let mut buf = vec![0; n];
    match p.master_read(&mut buf, &mut Effects::default()) {
        Io::Done(k) => Ok(buf[..k].to_vec()),
        other => Err(other),
    }
}

/// One slave read with an `n`-byte buffer.
fn sread(p: &mut Pair, n: usize) -> Result<Vec<u8>, Io> {
    let mut buf = vec![0; n];
    match p.slave_read(&mut buf, &mut Effects::default()) {
        Io::Done(k) => Ok(buf[..k].to_vec()),
        other => Err(other),
    }
}

/// Everything the master can read now (not in packet mode).
fn drain_master(p: &mut Pair) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(d) = mread(p, 4096) {
        assert!(!d.is_empty());
        out.extend(d);
    }
    out
}

/// Everything the slave can read now.
fn drain_slave(p: &mut Pair) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(d) = sread(p, 4096) {
        assert!(!d.is_empty());
        out.extend(d);
    }
    out
}

fn packet_pair() -> Pair {
    let mut p = pair();
    p.set_packet(true);
    p
}

// ---------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------

#[test]
fn typed_chars_are_echoed_to_the_master() {
    let mut p = pair();
    let fx = type_in(&mut p, b"hi");
    assert!(fx.wake.intersects(Wake::MASTER_READ));
    assert!(p.master_ready().readable);
    assert_eq!(p.master_inq(), 2);
    assert_eq!(mread(&mut p, 64), Ok(b"hi".to_vec()));
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    assert!(!p.master_ready().readable);
}

#[test]
fn canonical_line_is_readable_only_after_newline() {
    let mut p = pair();
    type_in(&mut p, b"abc");
    assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock));
    assert!(!p.slave_ready().readable);
    assert!(!p.slave_read_ready());
    assert_eq!(p.slave_inq(), 0);
    let fx = type_in(&mut p, b"d\n");
    assert!(fx.wake.intersects(Wake::SLAVE_READ));
    assert!(p.slave_ready().readable);
    assert_eq!(p.slave_inq(), 5);
    assert_eq!(sread(&mut p, 64), Ok(b"abcd\n".to_vec()));
    assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock));
    // Echo of the newline is "\r\n" (OPOST | ONLCR).
    assert_eq!(drain_master(&mut p), b"abcd\r\n");
}

#[test]
fn canonical_reads_stop_at_line_ends() {
    let mut p = pair();
    type_in(&mut p, b"one\ntwo\nthr");
    assert_eq!(sread(&mut p, 2), Ok(b"on".to_vec()));
    assert_eq!(sread(&mut p, 64), Ok(b"e\n".to_vec()));
    assert_eq!(sread(&mut p, 64), Ok(b"two\n".to_vec()));
    assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock));
    // ^D on an empty line reads as end of file.
    type_in(&mut p, b"\x15\x04");
    assert_eq!(sread(&mut p, 64), Err(Io::Eof));
}

#[test]
fn raw_mode_passes_bytes_straight() {
    let mut p = pair();
    let mut t = Termios::pty_slave_default();
    t.c_lflag &= !(ICANON | ECHO | ISIG);
    set(&mut p, t);
    let data = b"a\x03\x7f\x15\x04\x1a\x1c\nz";
    let fx = type_in(&mut p, data);
    assert!(fx.signals.is_empty());
    assert!(p.slave_ready().readable);
    assert_eq!(p.slave_inq(), data.len());
    assert_eq!(sread(&mut p, 4), Ok(data[..4].to_vec()));
    assert_eq!(sread(&mut p, 64), Ok(data[4..].to_vec()));
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock), "no echo");
    // Fully raw: every byte value, both ways.
    set(&mut p, raw());
    let all: Vec<u8> = (0..=255).collect();
    type_in(&mut p, &all);
    assert_eq!(drain_slave(&mut p), all);
    output(&mut p, &all);
    assert_eq!(drain_master(&mut p), all);
}

#[test]
fn slave_output_onlcr() {
    let mut p = pair();
    let fx = output(&mut p, b"a\nb\r\n");
    assert!(fx.wake.intersects(Wake::MASTER_READ));
    assert_eq!(drain_master(&mut p), b"a\r\nb\r\r\n");
    set(&mut p, slave(|t| t.c_oflag &= !OPOST));
    output(&mut p, b"a\nb");
    assert_eq!(drain_master(&mut p), b"a\nb");
}

#[test]
fn packet_mode_data_reads_have_a_leading_zero() {
    let mut p = packet_pair();
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    output(&mut p, b"xy");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::DATA, b'x', b'y']));
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    // A one-byte buffer gets just the data marker; the data stays.
    output(&mut p, b"xy");
    assert_eq!(mread(&mut p, 1), Ok(vec![packet::DATA]));
    assert_eq!(mread(&mut p, 2), Ok(vec![packet::DATA, b'x']));
    assert_eq!(mread(&mut p, 2), Ok(vec![packet::DATA, b'y']));
    p.set_packet(false);
    output(&mut p, b"z");
    assert_eq!(mread(&mut p, 64), Ok(b"z".to_vec()));
}

#[test]
fn packet_mode_flow_control_status() {
    let mut p = packet_pair();
    let fx = type_in(&mut p, b"\x13");
    assert!(fx.wake.intersects(Wake::MASTER_READ));
    let r = p.master_ready();
    assert!(r.priority && r.readable);
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::STOP]));
    assert!(!p.master_ready().priority);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    type_in(&mut p, b"\x11");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START]));
    // STOP then START before the master reads: START cancels STOP.
    type_in(&mut p, b"\x13");
    type_in(&mut p, b"\x11");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START]));
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    // Also within one write; the last one wins.
    type_in(&mut p, b"\x13\x11");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START]));
    type_in(&mut p, b"\x11\x13");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::STOP]));
    type_in(&mut p, b"\x11");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START]));
    // Status comes alone, before data.
    type_in(&mut p, b"a\x13");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::STOP]));
    type_in(&mut p, b"\x11");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START]));
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::DATA, b'a']));
}

#[test]
fn packet_mode_slave_flush_status() {
    let mut p = packet_pair();
    let mut fx = Effects::default();
    p.slave_flush(TCIFLUSH, &mut fx).unwrap();
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::FLUSHREAD]));
    p.slave_flush(TCOFLUSH, &mut fx).unwrap();
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::FLUSHWRITE]));
    p.slave_flush(TCIOFLUSH, &mut fx).unwrap();
    assert_eq!(
        mread(&mut p, 64),
        Ok(vec![packet::FLUSHREAD | packet::FLUSHWRITE])
    );
    // TCIFLUSH drops the slave's pending input, typed and unprocessed.
    type_in(&mut p, b"abc\ndef");
    p.slave_flush(TCIFLUSH, &mut fx).unwrap();
    assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock));
    assert_eq!(p.slave_inq(), 0);
    type_in(&mut p, b"\n");
    assert_eq!(sread(&mut p, 64), Ok(b"\n".to_vec()));
    // Without packet mode nothing is posted.
    let mut p = pair();
    p.slave_flush(TCIOFLUSH, &mut fx).unwrap();
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
}

#[test]
fn packet_mode_ixon_changes_post_nostop_and_dostop() {
    let mut p = packet_pair();
    set(&mut p, slave(|t| t.c_iflag &= !IXON));
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::NOSTOP]));
    set(&mut p, Termios::pty_slave_default());
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::DOSTOP]));
    // Other characters for VSTOP also mean "no ^S/^Q flow control".
    set(&mut p, slave(|t| t.set_cc(VSTOP, b'x')));
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::NOSTOP]));
    set(&mut p, Termios::pty_slave_default());
    // Off and on again before the master reads: the latest wins.
    set(&mut p, slave(|t| t.c_iflag &= !IXON));
    set(&mut p, Termios::pty_slave_default());
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::DOSTOP]));
    // Clearing IXON while stopped restarts output.
    type_in(&mut p, b"\x13");
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::STOP]));
    set(&mut p, slave(|t| t.c_iflag &= !IXON));
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::START | packet::NOSTOP]));
    assert!(p.slave_ready().writable);
}

#[test]
fn intr_signals_and_flushes() {
    let mut p = pair();
    type_in(&mut p, b"done\nhalf");
    let fx = type_in(&mut p, b"\x03");
    assert!(fx.signals.contains(Signals::INT));
    assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock), "input flushed");
    assert!(drain_master(&mut p).ends_with(b"^C"));
    let fx = type_in(&mut p, b"\x1c\x1a");
    assert!(fx.signals.contains(Signals::QUIT));
    assert!(fx.signals.contains(Signals::TSTP));
    // NOFLSH: signal only.
    let mut p = pair();
    set(&mut p, slave(|t| t.c_lflag |= NOFLSH));
    type_in(&mut p, b"done\nhalf");
    let fx = type_in(&mut p, b"\x03");
    assert_eq!(fx.signals, Signals::INT);
    type_in(&mut p, b"\n");
    assert_eq!(sread(&mut p, 64), Ok(b"done\n".to_vec()));
    assert_eq!(sread(&mut p, 64), Ok(b"half\n".to_vec()));
    assert_eq!(drain_master(&mut p), b"done\r\nhalf^C\r\n");
    // Without ISIG ^C is data.
    let mut p = pair();
    set(&mut p, slave(|t| t.c_lflag &= !ISIG));
    let fx = type_in(&mut p, b"\x03\n");
    assert!(fx.signals.is_empty());
    assert_eq!(sread(&mut p, 64), Ok(b"\x03\n".to_vec()));
}

#[test]
fn intr_keeps_output_the_master_has_not_read() {
    // A settled Linux pty keeps what already reached the master: typed
    // echo and program output survive ^C (see the native test).
    let mut p = pair();
    type_in(&mut p, b"abc");
    output(&mut p, b"OUT");
    type_in(&mut p, b"\x03");
    assert_eq!(drain_master(&mut p), b"abcOUT^C");
    // Echo of the same write as the ^C is discarded with it (n_tty
    // defers echo to the end of each received batch).
    type_in(&mut p, b"q\x03");
    assert_eq!(drain_master(&mut p), b"^C");
    // In packet mode ^C posts both flushes.
    let mut p = packet_pair();
    type_in(&mut p, b"\x03");
    assert_eq!(
        mread(&mut p, 64),
        Ok(vec![packet::FLUSHREAD | packet::FLUSHWRITE])
    );
    assert_eq!(mread(&mut p, 64), Ok(b"\0^C".to_vec()));
}

#[test]
fn winsize_change_signals_winch() {
    let mut p = pair();
    assert_eq!(p.winsize(), Winsize::default());
    let ws = Winsize {
        rows: 24,
        cols: 80,
        xpixel: 0,
        ypixel: 0,
    };
    let mut fx = Effects::default();
    p.set_winsize(ws, &mut fx);
    assert!(fx.signals.contains(Signals::WINCH));
    assert_eq!(p.winsize(), ws);
    assert_eq!(p.master.tioc.winsize, ws);
    let mut fx = Effects::default();
    p.set_winsize(ws, &mut fx);
    assert!(fx.signals.is_empty(), "unchanged: no SIGWINCH");
    let mut fx = Effects::default();
    p.set_winsize(Winsize { xpixel: 1, ..ws }, &mut fx);
    assert!(fx.signals.contains(Signals::WINCH));
    assert_eq!(Winsize::from_bytes(ws.to_bytes()), ws);
}

#[test]
fn master_tcooff_blocks_master_writes() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.master_flow(TCOOFF, &mut fx).unwrap();
    assert!(!p.master_ready().writable);
    assert_eq!(p.master_write(b"a", &mut fx), Io::WouldBlock);
    let mut fx = Effects::default();
    p.master_flow(TCOON, &mut fx).unwrap();
    assert!(fx.wake.intersects(Wake::MASTER_WRITE));
    assert!(p.master_ready().writable);
    type_in(&mut p, b"a");
    assert_eq!(drain_master(&mut p), b"a");
    // TCIOFF/TCION send ^S/^Q to the slave, which stop and start it.
    p.master_flow(TCIOFF, &mut fx).unwrap();
    assert!(!p.slave_ready().writable);
    p.master_flow(TCION, &mut fx).unwrap();
    assert!(p.slave_ready().writable);
    assert_eq!(p.master_flow(7, &mut fx), Err(RequestError::Invalid));
}

#[test]
fn stopped_output_blocks_slave_writes() {
    let mut p = pair();
    type_in(&mut p, b"\x13");
    assert!(!p.slave_ready().writable);
    let mut fx = Effects::default();
    assert_eq!(p.slave_write(b"out", &mut fx), Io::WouldBlock);
    // Echo is held while stopped and comes out on ^Q.
    type_in(&mut p, b"ab");
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    let fx = type_in(&mut p, b"\x11");
    assert!(fx.wake.intersects(Wake::SLAVE_WRITE));
    assert!(p.slave_ready().writable);
    output(&mut p, b"out");
    assert_eq!(drain_master(&mut p), b"about");
    // TCOOFF on the slave is not undone by ^Q, only by TCOON.
    let mut fx = Effects::default();
    p.slave_flow(TCOOFF, &mut fx).unwrap();
    type_in(&mut p, b"\x11");
    assert_eq!(p.slave_write(b"x", &mut fx), Io::WouldBlock);
    p.slave_flow(TCOON, &mut fx).unwrap();
    output(&mut p, b"x");
    // TCIOFF/TCION on the slave send the characters to the master.
    p.slave_flow(TCIOFF, &mut fx).unwrap();
    p.slave_flow(TCION, &mut fx).unwrap();
    assert_eq!(drain_master(&mut p), b"x\x13\x11");
    assert_eq!(p.slave_flow(4, &mut fx), Err(RequestError::Invalid));
}

#[test]
fn input_goes_on_while_output_is_stopped() {
    // Echo is held (like n_tty's echo buffer) but input is processed:
    // lines become readable while the master sees nothing.
    let mut p = pair();
    type_in(&mut p, b"\x13");
    type_in(&mut p, b"ls\n");
    assert_eq!(sread(&mut p, 64), Ok(b"ls\n".to_vec()));
    assert_eq!(p.master_inq(), 0);
    assert!(!p.master_ready().readable);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    type_in(&mut p, b"\x11");
    assert_eq!(p.master_inq(), 4);
    assert_eq!(drain_master(&mut p), b"ls\r\n");
    // Echo goes out at the end of a write's batch, or where ^Q restarts
    // output; what a batch leaves while stopped is held.
    type_in(&mut p, b"a\x13");
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    type_in(&mut p, b"\x11b\x13c");
    assert_eq!(drain_master(&mut p), b"a");
    type_in(&mut p, b"\x13d\x11");
    assert_eq!(drain_master(&mut p), b"bcd");
    type_in(&mut p, b"e\x11f\x13g");
    assert_eq!(drain_master(&mut p), b"e");
    type_in(&mut p, b"\x11");
    assert_eq!(drain_master(&mut p), b"fg");
    // A master flush leaves held echo alone.
    output(&mut p, b"OUT");
    type_in(&mut p, b"\x13e");
    let mut fx = Effects::default();
    p.master_flush(TCIFLUSH, &mut fx).unwrap();
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    p.slave_flow(TCOOFF, &mut fx).unwrap();
    type_in(&mut p, b"\x11");
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock), "TCOOFF still holds");
    p.slave_flow(TCOON, &mut fx).unwrap();
    // TCOON restarts output but, as in n_tty, not the held echo: that goes
    // out with the next echo or before the next slave write.
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    output(&mut p, b"!");
    assert_eq!(drain_master(&mut p), b"e!");
    type_in(&mut p, b"\x13f");
    p.slave_flow(TCOOFF, &mut fx).unwrap();
    p.slave_flow(TCOON, &mut fx).unwrap();
    type_in(&mut p, b"g");
    assert_eq!(drain_master(&mut p), b"fg");
    // Clearing IXON restarts output and lets held echo out.
    type_in(&mut p, b"\x13h");
    set(&mut p, slave(|t| t.c_iflag &= !IXON));
    assert_eq!(drain_master(&mut p), b"h");
}

#[test]
fn signal_while_stopped_restarts_output() {
    // n_tty: ^C under IXON restarts output and echoes (see native test).
    let mut p = pair();
    type_in(&mut p, b"\x13");
    type_in(&mut p, b"ab");
    let fx = type_in(&mut p, b"\x03");
    assert!(fx.signals.contains(Signals::INT));
    assert!(p.slave_ready().writable);
    assert_eq!(drain_master(&mut p), b"^C");
    // Also with NOFLSH, where the held echo survives.
    let mut p = pair();
    set(&mut p, slave(|t| t.c_lflag |= NOFLSH));
    type_in(&mut p, b"\x13");
    type_in(&mut p, b"ab");
    let fx = type_in(&mut p, b"\x03");
    assert!(fx.signals.contains(Signals::INT));
    assert!(p.slave_ready().writable);
    assert_eq!(drain_master(&mut p), b"ab^C");
}

#[test]
fn ixany_restarts_output() {
    let mut p = pair();
    set(&mut p, slave(|t| t.c_iflag |= IXANY));
    type_in(&mut p, b"\x13");
    assert!(!p.slave_ready().writable);
    type_in(&mut p, b"a");
    assert!(p.slave_ready().writable);
    output(&mut p, b"Y");
    assert_eq!(drain_master(&mut p), b"aY");
}

#[test]
fn master_close_hangs_up_the_slave() {
    let mut p = pair();
    type_in(&mut p, b"line\n");
    let mut fx = Effects::default();
    p.master_released(&mut fx);
    assert_eq!(fx.wake, Wake::ALL);
    assert_eq!(sread(&mut p, 64), Err(Io::Eof), "pending input is lost");
    assert_eq!(sread(&mut p, 64), Err(Io::Eof));
    assert!(p.slave_read_ready());
    assert_eq!(p.slave_write(b"x", &mut fx), Io::Hangup);
    assert_eq!(p.slave_write(b"", &mut fx), Io::Hangup);
    let r = p.slave_ready();
    assert!(r.hangup && r.readable && r.writable);
}

#[test]
fn slave_close_hangs_up_the_master_after_draining() {
    let mut p = pair();
    output(&mut p, b"bye");
    let mut fx = Effects::default();
    p.slave_released(&mut fx);
    assert!(fx.wake.intersects(Wake::MASTER_READ));
    let r = p.master_ready();
    assert!(r.hangup && r.readable);
    assert!(p.master_read_ready());
    assert_eq!(mread(&mut p, 64), Ok(b"bye".to_vec()));
    assert_eq!(mread(&mut p, 64), Err(Io::Hangup));
    assert!(p.master_ready().hangup);
    // Reopening the slave ends it.
    p.slave_opened();
    assert!(!p.master_ready().hangup);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    output(&mut p, b"z");
    assert_eq!(mread(&mut p, 64), Ok(b"z".to_vec()));
    // Only the last of several slave files counts.
    p.slave_opened();
    p.slave_released(&mut fx);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    p.slave_released(&mut fx);
    assert_eq!(mread(&mut p, 64), Err(Io::Hangup));
    // Packet status still comes first.
    let mut p = packet_pair();
    type_in(&mut p, b"\x13");
    p.slave_released(&mut fx);
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::STOP]));
    assert_eq!(mread(&mut p, 64), Err(Io::Hangup));
}

#[test]
fn a_fresh_master_does_not_hang_up() {
    let mut p: Pair = PtyPair::new(VecStorage::new);
    assert!(!p.master_ready().hangup);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
}

#[test]
fn invalid_selectors_are_refused() {
    let mut p = packet_pair();
    let mut fx = Effects::default();
    for bad in [3, 4, 0xffff_ffff] {
        assert_eq!(p.slave_flush(bad, &mut fx), Err(RequestError::Invalid));
        assert_eq!(p.master_flush(bad, &mut fx), Err(RequestError::Invalid));
    }
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock), "no status posted");
}

#[test]
fn master_flush_drops_its_queues() {
    let mut p = pair();
    set(&mut p, raw());
    output(&mut p, b"unread");
    let mut fx = Effects::default();
    p.master_flush(TCIFLUSH, &mut fx).unwrap();
    assert_eq!(p.master_inq(), 0);
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
    // TCOFLUSH drops what the master wrote that ldterm has not taken.
    type_in(&mut p, &[b'x'; N_TTY_BUF_SIZE + 100]);
    assert_eq!(p.slave.pts.input.len(), 101);
    p.master_flush(TCOFLUSH, &mut fx).unwrap();
    assert!(p.slave.pts.input.is_empty());
    assert_eq!(drain_slave(&mut p).len(), N_TTY_BUF_SIZE - 1);
}

#[test]
fn tcsetsf_flushes_input_and_posts_flushread() {
    let mut p = packet_pair();
    type_in(&mut p, b"abc\nde");
    assert_eq!(mread(&mut p, 64), Ok(b"\0abc\r\nde".to_vec()));
    let mut fx = Effects::default();
    p.set_termios(Termios::pty_slave_default(), true, &mut fx);
    assert_eq!(p.slave_inq(), 0);
    assert_eq!(mread(&mut p, 64), Ok(vec![packet::FLUSHREAD]));
    assert_eq!(mread(&mut p, 64), Err(Io::WouldBlock));
}

#[test]
fn master_write_is_bounded_when_nobody_reads() {
    let mut p = pair();
    set(&mut p, raw());
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut fx = Effects::default();
    // A partial write up to the pts bound; ldterm then takes what its read
    // side holds, which makes that much room again, and no more.
    assert_eq!(p.master_write(&data, &mut fx), Io::Done(PTS_INPUT_BOUND));
    let written = PTS_INPUT_BOUND + N_TTY_BUF_SIZE - 1;
    assert_eq!(
        p.master_write(&data[PTS_INPUT_BOUND..], &mut fx),
        Io::Done(N_TTY_BUF_SIZE - 1)
    );
    assert_eq!(p.master_write(&data[written..], &mut fx), Io::WouldBlock);
    assert!(!p.master_ready().writable);
    assert_eq!(p.slave.pts.input.len(), PTS_INPUT_BOUND);
    assert_eq!(p.slave_inq(), N_TTY_BUF_SIZE - 1);
    // Reading makes room; nothing was lost.
    let mut fx = Effects::default();
    let mut got = vec![0; 1000];
    assert_eq!(p.slave_read(&mut got, &mut fx), Io::Done(1000));
    assert!(
        fx.wake.intersects(Wake::MASTER_WRITE),
        "blocked writers wake"
    );
    assert_eq!(got, data[..1000]);
    assert!(p.master_ready().writable);
    assert_eq!(p.master_write(&data[written..], &mut fx), Io::Done(1000));
    let mut all = got;
    all.extend(drain_slave(&mut p));
    assert_eq!(all, data[..written + 1000]);
}

#[test]
fn slave_write_is_bounded_when_nobody_reads() {
    let mut p = pair();
    set(&mut p, raw());
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mut fx = Effects::default();
    assert_eq!(p.slave_write(&data, &mut fx), Io::Done(MASTER_HEAD_BOUND));
    assert_eq!(p.slave_write(&data, &mut fx), Io::WouldBlock);
    assert!(!p.slave_ready().writable);
    assert_eq!(mread(&mut p, 10), Ok(data[..10].to_vec()));
    assert!(p.slave_ready().writable);
    assert_eq!(
        p.slave_write(&data[MASTER_HEAD_BOUND..], &mut fx),
        Io::Done(10)
    );
    let mut all = data[..10].to_vec();
    all.extend(drain_master(&mut p));
    assert_eq!(all, data[..MASTER_HEAD_BOUND + 10]);
    // With ONLCR an expansion that does not fit waits whole.
    set(&mut p, Termios::pty_slave_default());
    let fill = vec![b'a'; MASTER_HEAD_BOUND - 1];
    output(&mut p, &fill);
    assert_eq!(p.slave_write(b"\n", &mut fx), Io::WouldBlock);
    assert_eq!(mread(&mut p, 1), Ok(b"a".to_vec()));
    output(&mut p, b"\n");
    let all = drain_master(&mut p);
    assert_eq!(all.len(), MASTER_HEAD_BOUND);
    assert!(all.ends_with(b"a\r\n"));
}

#[test]
fn echo_waits_for_the_master_reader() {
    // Echo never gets lost: typing stalls while the master head is full.
    let mut p = pair();
    set(&mut p, slave(|t| t.c_lflag &= !ICANON));
    output(&mut p, &vec![b'o'; MASTER_HEAD_BOUND - 1]);
    let mut fx = Effects::default();
    assert_eq!(p.master_write(b"abc", &mut fx), Io::Done(3));
    assert_eq!(sread(&mut p, 64), Ok(b"a".to_vec()));
    assert_eq!(p.slave.pts.input.len(), 2);
    assert_eq!(mread(&mut p, 2).unwrap().len(), 2);
    assert_eq!(sread(&mut p, 64), Ok(b"bc".to_vec()));
    let all = drain_master(&mut p);
    assert!(all.ends_with(b"oabc"));
}

// ---------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------

fn check_bounds(p: &Pair) {
    assert!(p.slave.pts.input.len() <= PTS_INPUT_BOUND);
    assert!(p.master.head.read.len() <= MASTER_HEAD_BOUND);
    assert!(p.slave.ldterm.processed_input().len() <= INPUT_BOUND);
}

#[derive(Debug, Clone)]
enum Step {
    /// Write the next this-many bytes (from the side's data).
    Write(usize),
    /// Read with a buffer of this size.
    Read(usize),
}

fn steps(max_write: usize, max_read: usize) -> impl Strategy<Value = Vec<Step>> {
    let size = |max: usize| {
        prop_oneof![
            3 => 1usize..16,
            2 => 1usize..=max,
            1 => Just(max),
        ]
    };
    proptest::collection::vec(
        prop_oneof![
            size(max_write).prop_map(Step::Write),
            size(max_read).prop_map(Step::Read),
        ],
        1..40,
    )
}

/// Moves `data` one way under `steps`: `write` returns what the writing
/// side did, `read` what the reading side did. Returns the bytes read,
/// after draining, and how many were accepted.
fn one_way(
    p: &mut Pair,
    data: &[u8],
    steps: &[Step],
    write: fn(&mut Pair, &[u8]) -> Io,
    read: fn(&mut Pair, &mut [u8]) -> Io,
) -> (Vec<u8>, usize) {
    let mut sent = 0;
    let mut got = Vec::new();
    for step in steps {
        match *step {
            Step::Write(n) => {
                let end = (sent + n).min(data.len());
                match write(p, &data[sent..end]) {
                    Io::Done(k) => {
                        assert!(k > 0 || sent == end, "Done(0) for non-empty input");
                        assert!(k <= end - sent);
                        sent += k;
                    }
                    Io::WouldBlock => assert!(end > sent),
                    other => panic!("write: {other:?}"),
                }
            }
            Step::Read(n) => {
                let mut buf = vec![0; n];
                match read(p, &mut buf) {
                    Io::Done(k) => {
                        assert!(k > 0, "Done(0) for a non-empty buffer");
                        got.extend_from_slice(&buf[..k]);
                    }
                    Io::WouldBlock => {}
                    other => panic!("read: {other:?}"),
                }
            }
        }
        check_bounds(p);
        assert_eq!(got, data[..got.len()], "reordered or corrupted");
    }
    let mut buf = vec![0; 4096];
    while let Io::Done(k) = read(p, &mut buf) {
        got.extend_from_slice(&buf[..k]);
    }
    (got, sent)
}

fn master_write_fn(p: &mut Pair, d: &[u8]) -> Io {
    p.master_write(d, &mut Effects::default())
}

fn slave_read_fn(p: &mut Pair, b: &mut [u8]) -> Io {
    p.slave_read(b, &mut Effects::default())
}

fn slave_write_fn(p: &mut Pair, d: &[u8]) -> Io {
    p.slave_write(d, &mut Effects::default())
}

fn master_read_fn(p: &mut Pair, b: &mut [u8]) -> Io {
    p.master_read(b, &mut Effects::default())
}

/// Printable lines, each with its newline.
fn lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(0x20u8..0x7f, 0..40), 1..12).prop_map(
        |ls| {
            ls.into_iter()
                .map(|mut l| {
                    l.push(b'\n');
                    l
                })
                .collect()
        },
    )
}

#[derive(Debug, Clone)]
enum Op3 {
    MasterWrite(usize),
    SlaveWrite(usize),
    MasterRead(usize),
    SlaveRead(usize),
}

fn ops3() -> impl Strategy<Value = Vec<Op3>> {
    let w = prop_oneof![3 => 1usize..64, 1 => 1usize..20_000];
    proptest::collection::vec(
        prop_oneof![
            w.clone().prop_map(Op3::MasterWrite),
            w.prop_map(Op3::SlaveWrite),
            (1usize..8).prop_map(Op3::MasterRead),
            (1usize..8).prop_map(Op3::SlaveRead),
        ],
        1..60,
    )
}

#[derive(Debug, Clone)]
enum FlowOp {
    /// Type this many letters.
    Type(usize),
    /// Type ^S (`true`) or ^Q.
    Stop(bool),
    /// Slave writes this many letters.
    Output(usize),
    MasterRead(usize),
    SlaveRead(usize),
}

fn flow_ops() -> impl Strategy<Value = Vec<FlowOp>> {
    let n = prop_oneof![4 => 1usize..20, 1 => 1usize..6000];
    proptest::collection::vec(
        prop_oneof![
            3 => n.clone().prop_map(FlowOp::Type),
            2 => any::<bool>().prop_map(FlowOp::Stop),
            2 => n.prop_map(FlowOp::Output),
            2 => (1usize..300).prop_map(FlowOp::MasterRead),
            2 => (1usize..300).prop_map(FlowOp::SlaveRead),
        ],
        1..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// ^S/^Q in any interleaving: while stopped the master sees nothing
    /// new and the slave cannot write, yet typed input still reaches the
    /// slave; after ^Q every echo and output byte arrives once, in order.
    #[test]
    fn flow_control_keeps_every_byte(ops in flow_ops()) {
        let mut p = pair();
        set(&mut p, slave(|t| t.c_lflag &= !(ICANON | ISIG | IEXTEN)));
        let typed: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let out: Vec<u8> = (0..200_000u32).map(|i| b'A' + (i % 26) as u8).collect();
        let (mut tsent, mut osent) = (0, 0);
        let (mut slave_got, mut master_got) = (Vec::new(), Vec::new());
        let mut fx = Effects::default();
        for op in &ops {
            let stopped = p.slave.ldterm.output_stopped();
            match *op {
                FlowOp::Type(n) => {
                    if let Io::Done(k) = p.master_write(&typed[tsent..tsent + n], &mut fx) {
                        tsent += k;
                    }
                }
                FlowOp::Stop(stop) => {
                    let c = if stop { 0x13 } else { 0x11 };
                    if p.master_write(&[c], &mut fx) == Io::Done(1) {
                        // It acts at once, even behind input the slave has
                        // not read (lookahead), unless that input wraps
                        // around the pts ring (the known bug of
                        // `lookahead_sees_flow_chars_past_the_ring_wrap`).
                        let (_, wrapped) = p.slave.pts.input.front_slices();
                        if wrapped.is_empty() {
                            prop_assert_eq!(p.slave.ldterm.output_stopped(), stop);
                        }
                    }
                }
                FlowOp::Output(n) => match p.slave_write(&out[osent..osent + n], &mut fx) {
                    Io::Done(k) => {
                        prop_assert!(!stopped && k > 0);
                        osent += k;
                    }
                    r => prop_assert_eq!(r, Io::WouldBlock),
                },
                FlowOp::MasterRead(n) => {
                    let visible = p.master_inq();
                    if let Ok(d) = mread(&mut p, n) {
                        prop_assert!(d.len() <= visible);
                        master_got.extend(d);
                    }
                }
                FlowOp::SlaveRead(n) => {
                    if let Ok(d) = sread(&mut p, n) {
                        slave_got.extend(d);
                    }
                }
            }
            check_bounds(&p);
            prop_assert!(p.master.head.held <= p.master.head.read.len());
            if p.slave.ldterm.output_stopped() {
                prop_assert!(!p.slave_ready().writable);
            } else {
                prop_assert_eq!(p.master.head.held, 0);
            }
        }
        // Restart output and drain both sides in turn.
        prop_assert_eq!(p.master_write(b"\x11", &mut fx), Io::Done(1));
        for _ in 0..100 {
            slave_got.extend(drain_slave(&mut p));
            master_got.extend(drain_master(&mut p));
        }
        prop_assert!(slave_got == typed[..tsent]);
        let echo: Vec<u8> = master_got.iter().copied().filter(u8::is_ascii_lowercase).collect();
        let output: Vec<u8> = master_got.iter().copied().filter(u8::is_ascii_uppercase).collect();
        prop_assert_eq!(echo.len() + output.len(), master_got.len());
        prop_assert!(echo == typed[..tsent]);
        prop_assert!(output == out[..osent]);
    }

    /// Raw mode, master to slave: exactly the accepted bytes arrive, in
    /// order, whatever the chunking.
    #[test]
    fn raw_master_to_slave_is_lossless(
        seed in any::<u8>(),
        steps in steps(80_000, 5000),
    ) {
        let mut p = pair();
        set(&mut p, raw());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let (got, sent) = one_way(&mut p, &data, &steps, master_write_fn, slave_read_fn);
        prop_assert_eq!(got.len(), sent);
        prop_assert!(got == data[..sent]);
        prop_assert!(p.slave.pts.input.is_empty());
    }

    /// Raw mode (OPOST off), slave to master.
    #[test]
    fn raw_slave_to_master_is_lossless(
        seed in any::<u8>(),
        steps in steps(80_000, 70_000),
    ) {
        let mut p = pair();
        set(&mut p, raw());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect();
        let (got, sent) = one_way(&mut p, &data, &steps, slave_write_fn, master_read_fn);
        prop_assert_eq!(got.len(), sent);
        prop_assert!(got == data[..sent]);
        prop_assert_eq!(p.master_inq(), 0);
    }

    /// Canonical mode with echo: the slave reads exactly the lines (never
    /// across a line end, never before its newline was typed) and the
    /// master reads exactly their echo, however the typing is chunked and
    /// the reads interleave.
    #[test]
    fn canonical_lines_and_echo(
        lines in lines(),
        chunks in proptest::collection::vec(1usize..30, 1..40),
        reads in proptest::collection::vec((any::<bool>(), 1usize..50), 0..40),
    ) {
        let mut p = pair();
        let typed: Vec<u8> = lines.concat();
        let echo: Vec<u8> = typed
            .iter()
            .flat_map(|&c| if c == b'\n' { b"\r\n".to_vec() } else { vec![c] })
            .collect();
        let mut sent = 0;
        let mut slave_got: Vec<u8> = Vec::new();
        let mut master_got: Vec<u8> = Vec::new();
        let mut reads = reads.into_iter();
        let mut chunks = chunks.into_iter().cycle();
        let slave_read = |p: &mut Pair, n: usize, sent: usize, slave_got: &mut Vec<u8>| {
            if let Ok(d) = sread(p, n) {
                assert!(!d.is_empty());
                let start = slave_got.len();
                slave_got.extend_from_slice(&d);
                // Within one line, and that line was completely typed.
                let nl = d.iter().position(|&c| c == b'\n');
                assert!(nl.is_none() || nl == Some(d.len() - 1), "read crossed a line: {d:?}");
                let line_end = typed[start..].iter().position(|&c| c == b'\n').unwrap() + start;
                assert!(line_end < sent, "read before the newline was typed");
            }
        };
        while sent < typed.len() {
            let n = chunks.next().unwrap().min(typed.len() - sent);
            let mut fx = Effects::default();
            prop_assert_eq!(p.master_write(&typed[sent..sent + n], &mut fx), Io::Done(n));
            sent += n;
            if let Some((master, len)) = reads.next() {
                if master {
                    if let Ok(d) = mread(&mut p, len) {
                        master_got.extend(d);
                    }
                } else {
                    slave_read(&mut p, len, sent, &mut slave_got);
                }
            }
            prop_assert!(echo.starts_with(&master_got));
            prop_assert!(typed.starts_with(&slave_got));
        }
        while slave_got.len() < typed.len() {
            let before = slave_got.len();
            slave_read(&mut p, 7, sent, &mut slave_got);
            prop_assert!(slave_got.len() > before, "stuck");
        }
        prop_assert_eq!(sread(&mut p, 64), Err(Io::WouldBlock));
        master_got.extend(drain_master(&mut p));
        prop_assert!(master_got == echo);
    }

    /// Both directions at once, non-canonical with echo, small readers: no
    /// operation moves zero bytes, and once both sides are drained in turn
    /// every accepted byte has arrived exactly once.
    #[test]
    fn interleaved_pressure(ops in ops3()) {
        let mut p = pair();
        set(&mut p, slave(|t| {
            t.c_iflag = 0;
            t.c_oflag = 0;
            t.c_lflag &= !(ICANON | ISIG | IEXTEN);
        }));
        // Disjoint alphabets tell echo from slave output on the master.
        let typed: Vec<u8> = (0..500_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let out: Vec<u8> = (0..500_000u32).map(|i| b'A' + (i % 26) as u8).collect();
        let (mut tsent, mut osent) = (0, 0);
        let mut slave_got = Vec::new();
        let mut master_got = Vec::new();
        let mut run = |p: &mut Pair, op: &Op3, slave_got: &mut Vec<u8>, master_got: &mut Vec<u8>| {
            let mut fx = Effects::default();
            match *op {
                Op3::MasterWrite(n) => match p.master_write(&typed[tsent..tsent + n], &mut fx) {
                    Io::Done(k) => {
                        assert!(k > 0 && k <= n);
                        tsent += k;
                    }
                    Io::WouldBlock => assert!(!p.master_ready().writable),
                    other => panic!("{other:?}"),
                },
                Op3::SlaveWrite(n) => match p.slave_write(&out[osent..osent + n], &mut fx) {
                    Io::Done(k) => {
                        assert!(k > 0 && k <= n);
                        osent += k;
                    }
                    Io::WouldBlock => assert!(!p.slave_ready().writable),
                    other => panic!("{other:?}"),
                },
                Op3::MasterRead(n) => {
                    let mut buf = vec![0; n];
                    match p.master_read(&mut buf, &mut fx) {
                        Io::Done(k) => {
                            assert!(k > 0);
                            master_got.extend_from_slice(&buf[..k]);
                        }
                        Io::WouldBlock => assert!(!p.master_ready().readable),
                        other => panic!("{other:?}"),
                    }
                }
                Op3::SlaveRead(n) => {
                    let mut buf = vec![0; n];
                    match p.slave_read(&mut buf, &mut fx) {
                        Io::Done(k) => {
                            assert!(k > 0);
                            slave_got.extend_from_slice(&buf[..k]);
                        }
                        Io::WouldBlock => assert!(!p.slave_read_ready()),
                        other => panic!("{other:?}"),
                    }
                }
            }
            check_bounds(p);
        };
        for op in &ops {
            run(&mut p, op, &mut slave_got, &mut master_got);
        }
        // Drain both sides in turn, with small buffers, until quiet.
        let mut idle = 0;
        while idle < 2 {
            let before = (slave_got.len(), master_got.len());
            for _ in 0..200 {
                run(&mut p, &Op3::SlaveRead(4096), &mut slave_got, &mut master_got);
                run(&mut p, &Op3::MasterRead(4096), &mut slave_got, &mut master_got);
            }
            idle = if before == (slave_got.len(), master_got.len()) { idle + 1 } else { 0 };
        }
        prop_assert!(slave_got == typed[..tsent]);
        let echo: Vec<u8> = master_got.iter().copied().filter(u8::is_ascii_lowercase).collect();
        let output: Vec<u8> = master_got.iter().copied().filter(u8::is_ascii_uppercase).collect();
        prop_assert_eq!(echo.len() + output.len(), master_got.len());
        prop_assert!(echo == typed[..tsent]);
        prop_assert!(output == out[..osent]);
        prop_assert!(p.slave.pts.input.is_empty());
        prop_assert_eq!(p.master_inq(), 0);
    }
}

// ---------------------------------------------------------------------
// Differential test against the Linux pty
// ---------------------------------------------------------------------

mod native {
    use super::*;
    use common::native::NativePty;
    use std::time::Duration;

    /// One step of a pair-level script.
    #[derive(Debug, Clone, Copy)]
    pub enum Op<'a> {
        MasterWrite(&'a [u8]),
        SlaveWrite(&'a [u8]),
        MasterRead(usize),
        SlaveRead(usize),
        MasterInq,
        SlaveInq,
        Packet(bool),
        SlaveFlush(u32),
        MasterFlush(u32),
        SlaveFlow(u32),
        MasterFlow(u32),
        /// TCSETS on the slave; `true` is `TCSETSF`.
        Set(Termios, bool),
        /// poll() of the master: (POLLIN, POLLPRI, POLLHUP).
        MasterPoll,
        /// poll() of the slave: (POLLIN, POLLOUT, POLLHUP).
        SlavePoll,
        CloseSlave,
        ReopenSlave,
        CloseMaster,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Obs {
        /// Bytes a write accepted.
        Wrote(usize),
        /// Data read.
        Data(Vec<u8>),
        /// read returned 0.
        Eof,
        /// EAGAIN.
        Again,
        /// EIO.
        Eio,
        /// EINVAL.
        Inval,
        /// ioctl succeeded.
        Ok,
        Inq(usize),
        Poll(bool, bool, bool),
    }

    fn io(r: Io, data: &[u8]) -> Obs {
        match r {
            Io::Done(n) => Obs::Data(data[..n].to_vec()),
            Io::WouldBlock => Obs::Again,
            Io::Eof => Obs::Eof,
            Io::Hangup => Obs::Eio,
            Io::Fault => panic!("EFAULT"),
            Io::NoMemory => panic!("ENOMEM"),
        }
    }

    fn req(r: Result<(), RequestError>) -> Obs {
        match r {
            Ok(()) => Obs::Ok,
            Err(RequestError::Invalid) => Obs::Inval,
            Err(RequestError::Hangup) => Obs::Eio,
        }
    }

    pub fn run_model(ops: &[Op]) -> Vec<Obs> {
        let mut p = pair();
        let mut obs = Vec::new();
        let mut fx = Effects::default();
        for op in ops {
            let o = match *op {
                Op::MasterWrite(d) => match p.master_write(d, &mut fx) {
                    Io::Done(n) => Obs::Wrote(n),
                    r => io(r, &[]),
                },
                Op::SlaveWrite(d) => match p.slave_write(d, &mut fx) {
                    Io::Done(n) => Obs::Wrote(n),
                    r => io(r, &[]),
                },
                Op::MasterRead(n) => {
                    let mut buf = vec![0; n];
                    io(p.master_read(&mut buf, &mut fx), &buf)
                }
                Op::SlaveRead(n) => {
                    let mut buf = vec![0; n];
                    io(p.slave_read(&mut buf, &mut fx), &buf)
                }
                Op::MasterInq => Obs::Inq(p.master_inq()),
                Op::SlaveInq => Obs::Inq(p.slave_inq()),
                Op::Packet(on) => {
                    p.set_packet(on);
                    Obs::Ok
                }
                Op::SlaveFlush(w) => req(p.slave_flush(w, &mut fx)),
                Op::MasterFlush(w) => req(p.master_flush(w, &mut fx)),
                Op::SlaveFlow(a) => req(p.slave_flow(a, &mut fx)),
                Op::MasterFlow(a) => req(p.master_flow(a, &mut fx)),
                Op::Set(t, flush) => {
                    p.set_termios(t, flush, &mut fx);
                    Obs::Ok
                }
                Op::MasterPoll => {
                    let r = p.master_ready();
                    Obs::Poll(r.readable, r.priority, r.hangup)
                }
                Op::SlavePoll => {
                    let r = p.slave_ready();
                    Obs::Poll(r.readable, r.writable, r.hangup)
                }
                Op::CloseSlave => {
                    p.slave_released(&mut fx);
                    Obs::Ok
                }
                Op::ReopenSlave => {
                    p.slave_opened();
                    Obs::Ok
                }
                Op::CloseMaster => {
                    p.master_released(&mut fx);
                    Obs::Ok
                }
            };
            obs.push(o);
        }
        obs
    }

    fn errno_obs(what: &str) -> Obs {
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => Obs::Again,
            Some(libc::EIO) => Obs::Eio,
            Some(libc::EINVAL) => Obs::Inval,
            _ => panic!("{what}: {e}"),
        }
    }

    struct Native {
        pty: NativePty,
    }

    impl Native {
        fn settle(&self) {
            for _ in 0..2 {
                for fd in [self.pty.slave, self.pty.master] {
                    if fd >= 0 {
                        let mut p = libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        };
                        // SAFETY: one valid pollfd; polling a tty waits for
                        // its pending input work.
                        unsafe { libc::poll(&mut p, 1, 0) };
                    }
                }
                std::thread::sleep(self.pty.settle);
            }
        }

        fn write(&self, fd: libc::c_int, d: &[u8]) -> Obs {
            // SAFETY: valid buffer.
            let n = unsafe { libc::write(fd, d.as_ptr().cast(), d.len()) };
            if n < 0 {
                errno_obs("write")
            } else {
                Obs::Wrote(n as usize)
            }
        }

        fn read(&self, fd: libc::c_int, len: usize) -> Obs {
            let mut buf = vec![0u8; len];
            // SAFETY: valid buffer.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) };
            match n {
                0 => Obs::Eof,
                n if n > 0 => Obs::Data(buf[..n as usize].to_vec()),
                _ => errno_obs("read"),
            }
        }

        fn ioctl_val(&self, fd: libc::c_int, req: libc::c_ulong, arg: libc::c_ulong) -> Obs {
            // SAFETY: these ioctls take their argument by value.
            if unsafe { libc::ioctl(fd, req, arg) } < 0 {
                errno_obs("ioctl")
            } else {
                Obs::Ok
            }
        }

        fn inq(&self, fd: libc::c_int) -> Obs {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes an int.
            if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } < 0 {
                errno_obs("FIONREAD")
            } else {
                Obs::Inq(n as usize)
            }
        }

        fn poll(&self, fd: libc::c_int, bits: [libc::c_short; 3]) -> Obs {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN | libc::POLLOUT | libc::POLLPRI,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, 0) };
            let has = |b: libc::c_short| p.revents & b != 0;
            Obs::Poll(has(bits[0]), has(bits[1]), has(bits[2]))
        }

        fn close(fd: &mut libc::c_int) {
            // SAFETY: closing a descriptor we own, once.
            unsafe { libc::close(*fd) };
            *fd = -1;
        }

        fn reopen_slave(&mut self) {
            let mut name = [0 as libc::c_char; 128];
            // SAFETY: plain libc calls on descriptors we own.
            unsafe {
                assert_eq!(
                    libc::ptsname_r(self.pty.master, name.as_mut_ptr(), name.len()),
                    0
                );
                self.pty.slave = libc::open(
                    name.as_ptr(),
                    libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK,
                );
            }
            assert!(self.pty.slave >= 0, "reopen slave");
        }
    }

    pub fn run_native(ops: &[Op], settle: Duration) -> Vec<Obs> {
        let mut n = Native {
            pty: NativePty::open(),
        };
        n.pty.settle = settle;
        let mut obs = Vec::new();
        for op in ops {
            let (m, s) = (n.pty.master, n.pty.slave);
            let o = match *op {
                Op::MasterWrite(d) => n.write(m, d),
                Op::SlaveWrite(d) => n.write(s, d),
                Op::MasterRead(len) => n.read(m, len),
                Op::SlaveRead(len) => n.read(s, len),
                Op::MasterInq => n.inq(m),
                Op::SlaveInq => n.inq(s),
                Op::Packet(on) => {
                    let mut v: libc::c_int = on.into();
                    // SAFETY: TIOCPKT reads an int.
                    assert!(unsafe { libc::ioctl(m, libc::TIOCPKT, &mut v) } == 0);
                    Obs::Ok
                }
                Op::SlaveFlush(w) => n.ioctl_val(s, libc::TCFLSH, w.into()),
                Op::MasterFlush(w) => n.ioctl_val(m, libc::TCFLSH, w.into()),
                Op::SlaveFlow(a) => n.ioctl_val(s, libc::TCXONC, a.into()),
                Op::MasterFlow(a) => n.ioctl_val(m, libc::TCXONC, a.into()),
                Op::Set(t, flush) => {
                    let buf = t.to_bytes();
                    let req = if flush { libc::TCSETSF } else { libc::TCSETS };
                    // SAFETY: TCSETS* read a 36-byte struct termios.
                    assert!(unsafe { libc::ioctl(s, req, buf.as_ptr()) } == 0);
                    Obs::Ok
                }
                Op::MasterPoll => n.poll(m, [libc::POLLIN, libc::POLLPRI, libc::POLLHUP]),
                Op::SlavePoll => n.poll(s, [libc::POLLIN, libc::POLLOUT, libc::POLLHUP]),
                Op::CloseSlave => {
                    Native::close(&mut n.pty.slave);
                    Obs::Ok
                }
                Op::ReopenSlave => {
                    n.reopen_slave();
                    Obs::Ok
                }
                Op::CloseMaster => {
                    Native::close(&mut n.pty.master);
                    Obs::Ok
                }
            };
            obs.push(o);
            n.settle();
        }
        obs
    }

    pub fn compare(ops: &[Op]) {
        let model = run_model(ops);
        let mut native = run_native(ops, Duration::from_micros(300));
        if native != model {
            // n_tty works asynchronously: confirm with slower settling.
            native = run_native(ops, Duration::from_millis(5));
        }
        if native != model {
            let rows: Vec<String> = ops
                .iter()
                .zip(native.iter().zip(&model))
                .map(|(op, (n, m))| {
                    let mark = if n == m { " " } else { "*" };
                    let short = |s: String| match s.char_indices().nth(160) {
                        Some((i, _)) => format!("{}...", &s[..i]),
                        None => s,
                    };
                    short(format!("{mark} {op:x?}: native {n:x?} model {m:x?}"))
                })
                .collect();
            panic!("stream differs from the Linux pty:\n{}", rows.join("\n"));
        }
    }
}

use native::{compare, Op};

fn no_ixon() -> Termios {
    slave(|t| t.c_iflag &= !IXON)
}

#[test]
fn native_packet_mode_status_sequence() {
    use Op::*;
    compare(&[
        Packet(true),
        MasterRead(64),
        MasterWrite(b"\x13"),
        MasterPoll,
        MasterRead(64),
        MasterRead(64),
        MasterWrite(b"\x11"),
        MasterRead(64),
        MasterWrite(b"\x13\x11"),
        MasterRead(64),
        MasterWrite(b"\x13"),
        MasterWrite(b"\x11"),
        MasterRead(64),
        MasterRead(64),
        SlaveFlush(TCIFLUSH),
        MasterRead(64),
        SlaveFlush(TCOFLUSH),
        MasterRead(64),
        SlaveFlush(TCIOFLUSH),
        MasterPoll,
        MasterRead(64),
        Set(no_ixon(), false),
        MasterRead(64),
        Set(Termios::pty_slave_default(), false),
        MasterRead(64),
        Set(no_ixon(), false),
        Set(Termios::pty_slave_default(), false),
        MasterRead(64),
        MasterRead(64),
        MasterWrite(b"ab"),
        MasterRead(64),
        SlaveWrite(b"xy"),
        MasterRead(1),
        MasterRead(2),
        MasterRead(64),
        MasterWrite(b"q\x03"),
        MasterRead(64),
        MasterRead(64),
        MasterWrite(b"\x13"),
        MasterWrite(b"ab"),
        MasterRead(64),
        SlaveFlush(TCOFLUSH),
        MasterRead(64),
        MasterWrite(b"\x11"),
        MasterRead(64),
        MasterRead(64),
        // IXON off while stopped: START and NOSTOP in one byte.
        MasterWrite(b"\x13"),
        MasterRead(64),
        Set(no_ixon(), false),
        MasterRead(64),
        Set(Termios::pty_slave_default(), true),
        MasterRead(64),
        MasterRead(64),
        // TCSETSF posts FLUSHREAD.
        MasterWrite(b"abc"),
        MasterRead(64),
        Set(Termios::pty_slave_default(), true),
        MasterRead(64),
        SlaveFlow(TCOOFF),
        MasterRead(64),
        SlaveWrite(b"Z"),
        MasterWrite(b"\x11"),
        MasterRead(64),
        SlaveFlow(TCOON),
        MasterRead(64),
        SlaveWrite(b"Z"),
        MasterRead(64),
        MasterFlow(TCIOFF),
        MasterRead(64),
        MasterFlow(TCION),
        MasterRead(64),
        SlaveFlow(TCIOFF),
        SlaveFlow(TCION),
        MasterRead(64),
        Packet(false),
        SlaveWrite(b"plain"),
        MasterRead(64),
    ]);
}

#[test]
fn native_xchar_while_stopped() {
    use Op::*;
    compare(&[
        Packet(true),
        MasterWrite(b"\x13"),
        MasterRead(64),
        MasterWrite(b"ab"),
        MasterInq,
        // Past a ^S stop, ahead of the held echo.
        SlaveFlow(TCIOFF),
        MasterPoll,
        MasterInq,
        MasterRead(64),
        MasterRead(64),
        MasterRead(64),
        MasterWrite(b"\x11"),
        MasterRead(64),
        MasterRead(64),
        // Echo goes out where ^Q restarts or processes it.
        Packet(false),
        MasterWrite(b"a\x13"),
        MasterRead(64),
        MasterWrite(b"\x11b\x13c"),
        MasterRead(64),
        MasterWrite(b"\x13d\x11"),
        MasterRead(64),
        MasterWrite(b"e\x11f\x13g"),
        MasterRead(64),
        MasterWrite(b"\x11"),
        MasterRead(64),
        Packet(true),
        // TCOON leaves held echo held until echo or a slave write.
        Packet(false),
        MasterWrite(b"\x13h"),
        SlaveFlow(TCOOFF),
        SlaveFlow(TCOON),
        MasterRead(64),
        MasterWrite(b"\x7f"),
        MasterRead(64),
        SlaveWrite(b"!"),
        MasterRead(64),
        MasterWrite(b"\x13i"),
        SlaveFlow(TCOOFF),
        SlaveFlow(TCOON),
        MasterWrite(b"j"),
        MasterRead(64),
        MasterWrite(b"\x13k"),
        Set(no_ixon(), false),
        MasterRead(64),
        Set(Termios::pty_slave_default(), false),
        Packet(true),
        // Not at all after TCOOFF.
        SlaveFlow(TCOOFF),
        MasterRead(64),
        SlaveFlow(TCION),
        MasterRead(64),
        SlaveFlow(TCOON),
        MasterRead(64),
        MasterRead(64),
        MasterFlow(TCOOFF),
        MasterFlow(TCIOFF),
        MasterFlow(TCOON),
        SlaveWrite(b"ok"),
        MasterRead(64),
    ]);
}

#[test]
fn native_fionread_both_ends() {
    use Op::*;
    compare(&[
        MasterWrite(b"one\ntwo\nthr"),
        SlaveInq,
        MasterInq,
        SlaveRead(2),
        SlaveInq,
        MasterRead(3),
        MasterInq,
        MasterWrite(b"\x04"),
        SlaveInq,
        SlaveWrite(b"out\n"),
        MasterInq,
        Set(slave(|t| t.c_lflag &= !ICANON), false),
        SlaveInq,
        MasterWrite(b"\x7fz"),
        SlaveInq,
        SlaveRead(64),
        SlaveInq,
        MasterRead(64),
        MasterInq,
        Packet(true),
        MasterWrite(b"\x13"),
        MasterInq,
        SlaveWrite(b"x"),
        MasterWrite(b"\x11"),
        SlaveWrite(b"x"),
        MasterInq,
        MasterRead(64),
        MasterRead(64),
        MasterInq,
        MasterFlush(TCIFLUSH),
        SlaveFlush(TCIOFLUSH),
        MasterRead(64),
        SlaveInq,
    ]);
}

#[test]
fn native_flush_and_flow_selectors() {
    use Op::*;
    compare(&[
        SlaveFlush(3),
        MasterFlush(3),
        SlaveFlow(4),
        MasterFlow(4),
        SlaveWrite(b"kept"),
        SlaveFlush(TCOFLUSH),
        MasterInq,
        MasterFlush(TCIFLUSH),
        MasterRead(64),
        MasterFlow(TCOOFF),
        MasterWrite(b"a"),
        MasterFlow(TCOON),
        MasterWrite(b"a"),
        MasterRead(64),
    ]);
}

#[test]
fn native_intr_flush_keeps_what_reached_the_master() {
    use Op::*;
    compare(&[
        MasterWrite(b"abc"),
        SlaveWrite(b"OUT"),
        MasterInq,
        MasterWrite(b"\x03"),
        MasterRead(64),
        MasterWrite(b"q\x03"),
        MasterRead(64),
        SlaveRead(64),
        // ^C while stopped restarts output and is echoed.
        MasterWrite(b"\x13"),
        MasterWrite(b"ab"),
        MasterRead(64),
        SlaveWrite(b"X"),
        MasterWrite(b"\x03"),
        MasterRead(64),
        SlaveWrite(b"Y"),
        MasterRead(64),
        Set(slave(|t| t.c_lflag |= NOFLSH), false),
        MasterWrite(b"\x13"),
        MasterWrite(b"ab"),
        MasterWrite(b"\x03"),
        MasterRead(64),
        SlaveWrite(b"Y"),
        MasterRead(64),
        // IXANY: any character restarts output.
        Set(slave(|t| t.c_iflag |= IXANY), false),
        MasterWrite(b"\x13"),
        SlaveWrite(b"X"),
        MasterWrite(b"a"),
        MasterRead(64),
        SlaveWrite(b"Y"),
        MasterRead(64),
    ]);
}

#[test]
fn native_master_eio_after_slave_close() {
    use Op::*;
    // With pending data: it is read first, then EIO.
    compare(&[
        SlaveWrite(b"bye"),
        CloseSlave,
        MasterPoll,
        MasterInq,
        MasterRead(2),
        MasterRead(64),
        MasterRead(64),
        MasterPoll,
        MasterWrite(b"abc"),
        ReopenSlave,
        MasterPoll,
        MasterRead(64),
        SlaveRead(64),
        SlaveWrite(b"z"),
        MasterRead(64),
        // Without pending data.
        CloseSlave,
        MasterRead(64),
        MasterPoll,
    ]);
    // Packet status comes before EIO.
    compare(&[
        Packet(true),
        MasterWrite(b"\x13"),
        CloseSlave,
        MasterPoll,
        MasterRead(64),
        MasterRead(64),
    ]);
}

#[test]
fn native_slave_after_master_close() {
    use Op::*;
    compare(&[
        MasterWrite(b"line\n"),
        SlaveInq,
        CloseMaster,
        SlavePoll,
        SlaveRead(64),
        SlaveRead(64),
        SlaveWrite(b"abc"),
    ]);
}

#[test]
fn lookahead_sees_flow_chars_past_the_ring_wrap() {
    // Linux sees the ^Q (n_tty looks ahead over all flip buffers).
    let mut p = pair();
    set(
        &mut p,
        slave(|t| {
            t.c_iflag = IXON;
            t.c_lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
        }),
    );
    // The read side fills (4095) and the pts ring's head moves on.
    type_in(&mut p, &[b'x'; N_TTY_BUF_SIZE + 100]);
    type_in(&mut p, b"\x13");
    assert!(!p.slave_ready().writable);
    type_in(&mut p, &[b'y'; 8000]);
    type_in(&mut p, b"\x11");
    assert!(
        p.slave_ready().writable,
        "^Q in the wrapped part was not seen"
    );
}

const CHUNKS: &[&[u8]] = &[
    b"a",
    b"bc",
    b"\n",
    b"x\n",
    b"\x13",
    b"\x11",
    b"\x13\x11",
    b"q\x13",
    b"\x03",
    b"z\x03",
    b"\x7f",
    b"\x04",
    b"\x15",
    b"\r",
    b"ab\ncd",
];

fn arb_pair_ops() -> impl Strategy<Value = Vec<Op<'static>>> {
    use Op::*;
    let chunk = proptest::sample::select(CHUNKS);
    let termios = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(ixon, canon, noflsh, ixany)| {
            slave(|t| {
                if !ixon {
                    t.c_iflag &= !IXON;
                }
                if ixany {
                    t.c_iflag |= IXANY;
                }
                if !canon {
                    t.c_lflag &= !ICANON;
                }
                if noflsh {
                    t.c_lflag |= NOFLSH;
                }
            })
        },
    );
    let op = prop_oneof![
        6 => chunk.clone().prop_map(MasterWrite),
        3 => chunk.prop_map(SlaveWrite),
        4 => (1usize..16).prop_map(MasterRead),
        3 => (1usize..16).prop_map(SlaveRead),
        1 => Just(MasterInq),
        1 => Just(SlaveInq),
        1 => any::<bool>().prop_map(Packet),
        1 => (0u32..4).prop_map(SlaveFlush),
        1 => (0u32..4).prop_map(MasterFlush),
        1 => (0u32..5).prop_map(SlaveFlow),
        1 => (1u32..5).prop_map(MasterFlow),
        1 => (termios, any::<bool>()).prop_map(|(t, f)| Set(t, f)),
        1 => Just(MasterPoll),
        1 => Just(SlavePoll),
        1 => Just(CloseSlave),
        1 => Just(ReopenSlave),
    ];
    proptest::collection::vec(op, 1..24).prop_map(|ops| {
        use Op::*;
        // Keep closing and reopening the slave in turn, and use its file
        // only while open.
        let mut open = true;
        let mut ops: Vec<Op> = ops
            .into_iter()
            .filter(|op| {
                let keep = match op {
                    CloseSlave => open,
                    ReopenSlave => !open,
                    SlaveWrite(_) | SlaveRead(_) | SlaveInq | SlaveFlush(_) | SlaveFlow(_)
                    | Set(..) | SlavePoll => open,
                    _ => true,
                };
                if keep && matches!(op, CloseSlave | ReopenSlave) {
                    open = !open;
                }
                keep
            })
            .collect();
        if !open {
            ops.push(ReopenSlave);
        }
        // Restart everything and read it all back.
        ops.extend([
            Set(Termios::pty_slave_default(), false),
            SlaveFlow(TCOON),
            MasterFlow(TCOON),
            MasterWrite(b"\x11"),
            MasterRead(64),
            MasterRead(64),
            MasterRead(64),
            SlaveRead(64),
            SlaveRead(64),
        ]);
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    /// Random pair-level scripts behave as on Linux.
    #[test]
    fn native_random_pair_scripts(ops in arb_pair_ops()) {
        compare(&ops);
    }
}

#[test]
fn slave_write_reports_allocation_failure() {
    // Every queue may hold at most 64 bytes of memory: a slave writer fills
    // what memory there is, then gets NoMemory (ENOMEM), not WouldBlock,
    // since no reader can ever make room that memory does not have.
    let mut p = PtyPair::new(|| VecStorage::limited(64));
    p.slave_opened();
    let mut fx = Effects::default();
    let raw = slave(|t| t.c_oflag &= !OPOST);
    p.set_termios(raw, false, &mut fx);
    assert_eq!(p.slave_write(&[b'a'; 100], &mut fx), Io::Done(64));
    assert_eq!(p.slave_write(&[b'b'; 10], &mut fx), Io::NoMemory);
    let mut out = [0u8; 128];
    assert_eq!(p.master_read(&mut out, &mut fx), Io::Done(64));
    assert!(out[..64].iter().all(|&c| c == b'a'));
}

#[test]
fn tcsets_keeps_addrb_as_linux_does() {
    // Found by the guest differential test: Linux ignores ADDRB in TCSETS.
    let mut p = pair();
    let mut fx = Effects::default();
    let t = slave(|t| t.c_cflag |= pty_core::termios::ADDRB);
    p.set_termios(t, false, &mut fx);
    assert_eq!(p.termios().c_cflag & pty_core::termios::ADDRB, 0);
}

#[test]
fn frozen_pair_moves_no_data_either_way_and_loses_nothing() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_termios(slave(|t| t.c_lflag &= !(ICANON | ECHO)), false, &mut fx);
    assert_eq!(p.master_write(b"before", &mut fx), Io::Done(6));
    p.freeze(false);
    // Every data operation on both ends waits; poll shows nothing ready.
    let mut buf = [0u8; 64];
    assert_eq!(p.master_write(b"x", &mut fx), Io::WouldBlock);
    assert_eq!(p.slave_write(b"y", &mut fx), Io::WouldBlock);
    assert_eq!(p.slave_read(&mut buf, &mut fx), Io::WouldBlock);
    assert_eq!(p.master_read(&mut buf, &mut fx), Io::WouldBlock);
    assert!(!p.slave_ready().readable && !p.slave_ready().writable);
    assert!(!p.master_ready().readable && !p.master_ready().writable);
    // Both streams frozen, one thawed: still frozen.
    p.freeze(true);
    let mut fx = Effects::default();
    p.thaw(false, &mut fx);
    assert_eq!(p.slave_read(&mut buf, &mut fx), Io::WouldBlock);
    assert!(fx.wake.is_empty());
    p.thaw(true, &mut fx);
    assert_eq!(fx.wake, Wake::ALL);
    assert_eq!(p.slave_read(&mut buf, &mut fx), Io::Done(6));
    assert_eq!(&buf[..6], b"before");
}

#[test]
fn master_close_thaws_so_the_slave_sees_the_hangup() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.freeze(true);
    p.master_released(&mut fx);
    let mut buf = [0u8; 8];
    assert_eq!(p.slave_read(&mut buf, &mut fx), Io::Eof);
    assert!(p.slave_ready().hangup);
}

#[test]
fn master_writer_on_full_queue_gets_hangup_when_no_slave_is_open() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_termios(slave(|t| t.c_lflag &= !(ICANON | ECHO)), false, &mut fx);
    let big = vec![b'x'; 200 * 1024];
    let mut sent = 0;
    while let Io::Done(n) = p.master_write(&big[sent..], &mut fx) {
        sent += n;
    }
    assert_eq!(p.master_write(b"y", &mut fx), Io::WouldBlock);
    p.slave_released(&mut fx);
    assert_eq!(p.master_write(b"y", &mut fx), Io::Hangup);
}

#[test]
fn frozen_master_reads_hangup_once_the_slave_is_gone() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_termios(slave(|t| t.c_lflag &= !(ICANON | ECHO)), false, &mut fx);
    assert_eq!(p.slave_write(b"queued", &mut fx), Io::Done(6));
    p.freeze(true);
    let mut buf = [0u8; 16];
    assert_eq!(p.master_read(&mut buf, &mut fx), Io::WouldBlock);
    let mut fx = Effects::default();
    p.slave_released(&mut fx);
    // The reader is woken and sees what poll says: a hangup, not EAGAIN.
    assert!(fx.wake.intersects(Wake::MASTER_READ));
    assert!(p.master_ready().hangup);
    assert_eq!(p.master_read(&mut buf, &mut fx), Io::Hangup);
    // The bytes stay for the image; after a thaw they can be read.
    p.thaw(true, &mut fx);
    assert_eq!(p.master_read(&mut buf, &mut fx), Io::Done(6));
    assert_eq!(&buf[..6], b"queued");
}

// ---------------------------------------------------------------------
// Wake-ups on edges
// ---------------------------------------------------------------------

/// The wake-ups of one master read of `n` bytes.
fn mread_wakes(p: &mut Pair, n: usize) -> Wake {
    let mut fx = Effects::default();
    let mut buf = vec![0; n];
    assert!(matches!(p.master_read(&mut buf, &mut fx), Io::Done(_)));
    fx.wake
}

/// The wake-ups of one slave read of `n` bytes.
fn sread_wakes(p: &mut Pair, n: usize) -> Wake {
    let mut fx = Effects::default();
    let mut buf = vec![0; n];
    assert!(matches!(p.slave_read(&mut buf, &mut fx), Io::Done(_)));
    fx.wake
}

#[test]
fn master_readers_are_woken_when_the_head_stops_being_empty() {
    let mut p = pair();
    set(&mut p, raw());
    assert!(output(&mut p, b"a").wake.intersects(Wake::MASTER_READ));
    // Nobody sleeps on a head with bytes in it.
    assert!(!output(&mut p, b"b").wake.intersects(Wake::MASTER_READ));
    assert_eq!(drain_master(&mut p), b"ab");
    assert!(output(&mut p, b"c").wake.intersects(Wake::MASTER_READ));
}

#[test]
fn slave_writers_are_woken_when_the_head_has_room_for_an_expansion() {
    let mut p = pair();
    set(&mut p, raw());
    let mut fx = Effects::default();
    let full = vec![b'o'; MASTER_HEAD_BOUND];
    assert_eq!(p.slave_write(&full, &mut fx), Io::Done(MASTER_HEAD_BOUND));
    // A tab under XTABS needs 8 bytes of room: a writer sleeps below it.
    set(&mut p, slave(|t| t.c_oflag |= OPOST | XTABS));
    for room in 1..=SLAVE_WRITER_ROOM {
        assert!(
            mread_wakes(&mut p, 1).intersects(Wake::SLAVE_WRITE),
            "{room}"
        );
        let expect = if room < SLAVE_WRITER_ROOM {
            Io::WouldBlock
        } else {
            Io::Done(1)
        };
        let mut fx = Effects::default();
        let went = p.slave_write(b"\t", &mut fx);
        assert_eq!(went, expect, "room {room}");
        if went == Io::Done(1) {
            assert_eq!(mread(&mut p, 8).unwrap().len(), 8);
        }
    }
    // With room for any character nobody can be asleep for room.
    assert!(!mread_wakes(&mut p, 1).intersects(Wake::SLAVE_WRITE));
}

#[test]
fn master_writers_are_woken_when_the_full_input_queue_gets_room() {
    let mut p = pair();
    // ICRNL keeps the bytes out of the fast path: they wait in pts.
    set(
        &mut p,
        slave(|t| {
            *t = raw();
            t.c_iflag |= ICRNL;
        }),
    );
    let mut fx = Effects::default();
    let big = vec![b'x'; PTS_INPUT_BOUND + N_TTY_BUF_SIZE];
    assert!(matches!(p.master_write(&big, &mut fx), Io::Done(_)));
    while let Io::Done(_) = p.master_write(&big, &mut fx) {}
    assert!(!p.master_ready().writable);
    assert!(sread_wakes(&mut p, 1).intersects(Wake::MASTER_WRITE));
    // Not full any more: no writer is asleep.
    assert!(!sread_wakes(&mut p, 1).intersects(Wake::MASTER_WRITE));
}

#[test]
fn raw_master_writes_skip_the_input_queue() {
    let mut p = pair();
    set(&mut p, raw());
    let data: Vec<u8> = (0..=255u8).cycle().take(N_TTY_BUF_SIZE + 100).collect();
    let fx = type_in(&mut p, &data);
    assert!(fx.wake.intersects(Wake::SLAVE_READ));
    // ldterm took what it has room for; only the rest waits unprocessed.
    assert_eq!(p.slave.ldterm.processed_input().len(), N_TTY_BUF_SIZE - 1);
    assert_eq!(p.slave.pts.input.len(), 101);
    assert_eq!(drain_slave(&mut p), data);
    assert!(p.slave.pts.input.is_empty());
}

proptest! {
    /// Canonical lines with echo (what `script` or a login shell sees):
    /// whatever the interleaving of master writes, slave reads and master
    /// reads, and whatever their sizes, every line reaches the slave once
    /// and every echo byte (`\n` as `\r\n`) reaches the master once; and
    /// whenever an end has nothing it could take, the other side's next
    /// step is not left waiting for a wake-up that never comes.
    #[test]
    fn canonical_lines_with_echo_all_arrive(
        ops in proptest::collection::vec((0u8..3, 1usize..5000), 1..400),
        lines in 1usize..300,
    ) {
        let mut p = pair();
        let line: std::vec::Vec<u8> = std::iter::repeat_n(b'a', 79).chain([b'\n']).collect();
        let total_in = lines * line.len();
        let (mut written, mut slave_got, mut echo_got) = (0usize, 0usize, 0usize);
        let mut buf = vec![0u8; 65536];
        let step = |p: &mut Pair, op: u8, size: usize, written: &mut usize,
                    slave_got: &mut usize, echo_got: &mut usize, buf: &mut [u8]| {
            let mut fx = Effects::default();
            match op {
                0 if *written < total_in => {
                    let at = *written % line.len();
                    let n = (line.len() - at).min(size);
                    if let Io::Done(k) = p.master_write(&line[at..at + n], &mut fx) {
                        *written += k;
                    }
                }
                1 => {
                    if let Io::Done(k) = p.slave_read(&mut buf[..size.min(4096)], &mut fx) {
                        *slave_got += k;
                    }
                }
                _ => {
                    if let Io::Done(k) = p.master_read(&mut buf[..size], &mut fx) {
                        *echo_got += k;
                    }
                }
            }
        };
        for (op, size) in ops {
            step(&mut p, op, size, &mut written, &mut slave_got, &mut echo_got, &mut buf);
        }
        // Then drain as the bench's three threads would, round robin.
        for _ in 0..100_000 {
            if written == total_in && slave_got == total_in && echo_got == lines * 81 {
                break;
            }
            for op in 0..3 {
                step(&mut p, op, 65536, &mut written, &mut slave_got, &mut echo_got, &mut buf);
            }
        }
        prop_assert_eq!(written, total_in);
        prop_assert_eq!(slave_got, total_in);
        prop_assert_eq!(echo_got, lines * 81, "echo bytes; visible now {}", p.master_inq());
    }
}

proptest! {
    /// The same three parties as [`canonical_lines_with_echo_all_arrive`],
    /// now sleeping as the kernel lets them: a party whose step would
    /// block sleeps until an operation's effects wake its kind (master
    /// writers, slave readers, master readers). The edges the core
    /// reports must be enough: never all asleep with work left.
    #[test]
    fn canonical_echo_wakeups_never_lose_a_sleeper(
        order in proptest::collection::vec(0usize..3, 1..64),
        sizes in proptest::collection::vec(1usize..5000, 1..64),
        lines in 1usize..300,
    ) {
        let mut p = pair();
        let line: std::vec::Vec<u8> = std::iter::repeat_n(b'a', 79).chain([b'\n']).collect();
        let total_in = lines * line.len();
        let goal = [total_in, total_in, lines * 81];
        let mut done = [0usize; 3];
        let mut awake = [true; 3];
        let kinds = [Wake::MASTER_WRITE, Wake::SLAVE_READ, Wake::MASTER_READ];
        let mut buf = vec![0u8; 65536];
        for turn in 0..200_000usize {
            if done == goal {
                break;
            }
            let runnable: std::vec::Vec<usize> =
                (0..3).filter(|&i| awake[i] && done[i] < goal[i]).collect();
            prop_assert!(!runnable.is_empty(),
                "all asleep with work left: done {:?} of {:?}, master visible {}, slave inq {}",
                done, goal, p.master_inq(), p.slave_inq());
            let who = runnable[order[turn % order.len()] % runnable.len()];
            let size = sizes[turn % sizes.len()];
            let mut fx = Effects::default();
            let io = match who {
                0 => {
                    let at = done[0] % line.len();
                    let n = (line.len() - at).min(size);
                    p.master_write(&line[at..at + n], &mut fx)
                }
                1 => p.slave_read(&mut buf[..size.min(4096)], &mut fx),
                _ => p.master_read(&mut buf[..size], &mut fx),
            };
            match io {
                Io::Done(k) => done[who] += k,
                Io::WouldBlock => awake[who] = false,
                other => prop_assert!(false, "party {} got {:?}", who, other),
            }
            for (i, kind) in kinds.iter().enumerate() {
                if fx.wake.intersects(*kind) {
                    awake[i] = true;
                }
            }
        }
        prop_assert_eq!(done, goal);
    }
}

/// One slave `read(2)` of `len` bytes as the tty core makes it: pieces of
/// 64 bytes, the first letting input into ldterm at once, the others
/// deferring it until ldterm drains, and a last call with no room that
/// ends the read. The bytes read, or what the first piece got.
fn tty_core_read(p: &mut Pair, len: usize, fx: &mut Effects) -> Result<Vec<u8>, Io> {
    let mut got = Vec::new();
    let mut piece = [0u8; 64];
    let mut refill = Refill::Now;
    loop {
        let want = (len - got.len()).min(piece.len());
        match p.slave_read_piece(&mut piece[..want], refill, fx) {
            (Io::Done(n), more) => {
                got.extend_from_slice(&piece[..n]);
                if !more || n == 0 {
                    break;
                }
            }
            (other, _) if got.is_empty() => return Err(other),
            _ => break,
        }
        refill = Refill::WhenDrained;
    }
    // The tty core's last call, with no room: the read ends.
    let _ = p.slave_read_piece(&mut [], Refill::WhenDrained, fx);
    if got.is_empty() {
        return Err(Io::WouldBlock);
    }
    Ok(got)
}

#[test]
fn deferred_refill_waits_for_ldterm_to_drain_or_the_read_to_end() {
    let mut p = pair();
    set(&mut p, raw());
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    type_in(&mut p, &data);
    assert_eq!(p.slave_inq(), N_TTY_BUF_SIZE - 1, "ldterm takes what fits");
    let mut fx = Effects::default();
    let mut piece = [0u8; 64];
    assert!(matches!(
        p.slave_read_piece(&mut piece, Refill::Now, &mut fx),
        (Io::Done(64), true)
    ));
    assert_eq!(
        p.slave_inq(),
        N_TTY_BUF_SIZE - 1,
        "refilled after the first piece"
    );
    assert!(matches!(
        p.slave_read_piece(&mut piece, Refill::WhenDrained, &mut fx),
        (Io::Done(64), true)
    ));
    assert_eq!(
        p.slave_inq(),
        N_TTY_BUF_SIZE - 1 - 64,
        "deferred while ldterm has bytes"
    );
    let _ = p.slave_read_piece(&mut [], Refill::WhenDrained, &mut fx);
    assert_eq!(p.slave_inq(), N_TTY_BUF_SIZE - 1, "the read's end refills");
    let mut read = piece.to_vec();
    read.extend_from_slice(&piece);
    while read.len() < data.len() {
        let got = tty_core_read(&mut p, 4096, &mut fx).expect("input left");
        read.extend_from_slice(&got);
    }
    assert_eq!(read[128..], data[128..], "every byte once, in order");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Raw mode, a master writer and a slave reader reading as the tty
    /// core does (deferred refills): whatever the sizes and the
    /// interleaving, every byte arrives once and in order, and the edges
    /// the core reports never leave both asleep with work left.
    #[test]
    fn deferred_refill_loses_no_byte_and_no_sleeper(
        writes in proptest::collection::vec(1usize..70_000, 1..6),
        reads in proptest::collection::vec(1usize..9000, 1..8),
        order in proptest::collection::vec(0usize..2, 1..50),
    ) {
        let mut p = pair();
        set(&mut p, raw());
        let total: usize = writes.iter().sum();
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let (mut written, mut read) = (0usize, Vec::new());
        let mut awake = [true, true];
        let mut w = 0usize;
        for turn in 0..100_000usize {
            if read.len() == total {
                break;
            }
            let runnable: Vec<usize> = (0..2)
                .filter(|&i| awake[i] && (i == 1 || written < total))
                .collect();
            prop_assert!(!runnable.is_empty(),
                "both asleep: written {} read {} of {}, slave inq {}", written, read.len(), total, p.slave_inq());
            let who = runnable[order[turn % order.len()] % runnable.len()];
            let mut fx = Effects::default();
            if who == 0 {
                let end = (written + writes[w % writes.len()]).min(total);
                w += 1;
                match p.master_write(&data[written..end], &mut fx) {
                    Io::Done(n) => written += n,
                    Io::WouldBlock => awake[0] = false,
                    other => prop_assert!(false, "master write: {:?}", other),
                }
            } else {
                match tty_core_read(&mut p, reads[turn % reads.len()], &mut fx) {
                    Ok(got) => read.extend_from_slice(&got),
                    Err(Io::WouldBlock) => awake[1] = false,
                    Err(other) => prop_assert!(false, "slave read: {:?}", other),
                }
            }
            if fx.wake.intersects(Wake::MASTER_WRITE) {
                awake[0] = true;
            }
            if fx.wake.intersects(Wake::SLAVE_READ) {
                awake[1] = true;
            }
        }
        prop_assert_eq!(read.len(), total);
        prop_assert!(read == data, "bytes out of order");
    }
}
