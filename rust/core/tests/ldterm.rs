// SPDX-License-Identifier: GPL-2.0
//! Unit and property tests of the ldterm on its own (the comparison with
//! Linux n_tty is in ldterm_native.rs).

mod common;

use common::{Sink, VecStorage};
use proptest::prelude::*;
use pty_core::ldterm::*;
use pty_core::termios::*;

type Ld = Ldterm<VecStorage>;

fn ld(t: Termios) -> Ld {
    Ldterm::new(VecStorage::new(), VecStorage::new(), t)
}

fn slave(f: impl FnOnce(&mut Termios)) -> Termios {
    let mut t = Termios::pty_slave_default();
    f(&mut t);
    t
}

/// Feed all of `input`, returning the echo.
fn feed(l: &mut Ld, input: &[u8]) -> (Vec<u8>, Events) {
    let mut sink = Sink::default();
    let r = l.receive(input, &mut sink);
    assert_eq!(r.consumed, input.len(), "{r:?}");
    (sink.out, r.events)
}

fn read(l: &mut Ld, n: usize) -> Result<Vec<u8>, ReadOutcome> {
    let mut buf = vec![0; n];
    match l.read(&mut buf) {
        ReadOutcome::Data(k) => Ok(buf[..k].to_vec()),
        other => Err(other),
    }
}

#[test]
fn canonical_reads_one_line_at_a_time() {
    let mut l = ld(Termios::pty_slave_default());
    let (echo, ev) = feed(&mut l, b"ab\rcd\n");
    assert_eq!(echo, b"ab\r\ncd\r\n");
    assert!(ev.contains(Events::READ_READY));
    assert_eq!(l.input_available(), 6);
    assert_eq!(read(&mut l, 100), Ok(b"ab\n".to_vec()));
    assert_eq!(read(&mut l, 100), Ok(b"cd\n".to_vec()));
    assert_eq!(l.read(&mut [0; 8]), ReadOutcome::Empty);
}

#[test]
fn half_typed_line_is_not_readable() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"partial");
    assert!(!l.has_input());
    assert!(!l.readable());
    assert_eq!(l.input_available(), 0);
    assert_eq!(l.pending_line().collect::<Vec<_>>(), b"partial");
    assert_eq!(l.read(&mut [0; 8]), ReadOutcome::Empty);
}

#[test]
fn eof_at_line_start_and_mid_line() {
    let mut l = ld(Termios::pty_slave_default());
    let (echo, _) = feed(&mut l, b"\x04abc\x04");
    assert_eq!(echo, b"abc", "EOF is not echoed");
    assert_eq!(l.input_available(), 3, "EOF characters are not counted");
    assert_eq!(l.read(&mut [0; 8]), ReadOutcome::Eof);
    assert_eq!(read(&mut l, 8), Ok(b"abc".to_vec()));
    assert_eq!(l.read(&mut [0; 8]), ReadOutcome::Empty);
}

#[test]
fn partial_line_reads_and_eof_skip() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"abcdef\nxy\x04");
    assert_eq!(read(&mut l, 4), Ok(b"abcd".to_vec()));
    assert_eq!(read(&mut l, 4), Ok(b"ef\n".to_vec()));
    // Exactly the line before an EOF: the EOF is eaten.
    assert_eq!(read(&mut l, 2), Ok(b"xy".to_vec()));
    assert_eq!(l.read(&mut [0; 8]), ReadOutcome::Empty);
}

#[test]
fn erase_word_erase_kill_lnext() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"hello wor\x7f\x7f\x17x\x16\x15\x15y z\x17\n");
    assert_eq!(read(&mut l, 64), Ok(b"y \n".to_vec()));
    feed(&mut l, b"a\x16\x7fb\n");
    assert_eq!(read(&mut l, 64), Ok(b"a\x7fb\n".to_vec()));
}

#[test]
fn erase_echo_of_tab_and_control() {
    let mut l = ld(Termios::pty_slave_default());
    let (echo, _) = feed(&mut l, b"ab\t\x7f\x01\x7f");
    assert_eq!(echo, b"ab\t\x08\x08\x08\x08\x08\x08^A\x08 \x08\x08 \x08");
}

#[test]
fn noncanonical_bytes_readable_at_once() {
    let mut l = ld(slave(|t| t.c_lflag &= !ICANON));
    let (echo, _) = feed(&mut l, b"ab\x7f\x04");
    assert_eq!(echo, b"ab^?^D");
    assert_eq!(l.input_available(), 4);
    assert_eq!(read(&mut l, 64), Ok(b"ab\x7f\x04".to_vec()));
}

#[test]
fn switching_icanon_off_releases_the_line() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"done\nhalf");
    let ev = l.set_termios(slave(|t| t.c_lflag &= !ICANON));
    assert!(ev.contains(Events::READ_READY));
    assert_eq!(read(&mut l, 64), Ok(b"done\nhalf".to_vec()));
    // And back on with pending data: it is one line.
    feed(&mut l, b"xyz");
    l.set_termios(Termios::pty_slave_default());
    assert_eq!(l.input_available(), 3);
    assert_eq!(read(&mut l, 64), Ok(b"xyz".to_vec()));
}

#[test]
fn signals_flush_and_echo() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"line\n");
    let mut sink = Sink::default();
    let r = l.receive(b"ab\x03", &mut sink);
    assert!(r
        .events
        .contains(Events::SIGINT | Events::FLUSH_READ | Events::FLUSH_WRITE));
    assert_eq!(sink.flushes, 1);
    assert_eq!(sink.out, b"ab^C");
    assert!(!l.has_input());
    let (_, ev) = feed(&mut l, b"\x1c\x1a");
    assert!(ev.contains(Events::SIGQUIT | Events::SIGTSTP));

    let mut l = ld(slave(|t| t.c_lflag |= NOFLSH));
    feed(&mut l, b"line\n");
    let mut sink = Sink::default();
    let r = l.receive(b"\x03", &mut sink);
    assert!(r.events.contains(Events::SIGINT));
    assert!(!r.events.contains(Events::FLUSH_READ));
    assert_eq!(sink.flushes, 0);
    assert!(l.has_input());
}

#[test]
fn ixon_stop_start_and_ixany() {
    let mut l = ld(Termios::pty_slave_default());
    let (echo, ev) = feed(&mut l, b"a\x13b");
    assert!(ev.contains(Events::STOP_OUTPUT));
    assert!(l.output_stopped());
    assert_eq!(echo, b"ab", "flow characters are consumed");
    let mut out = Sink::default();
    assert_eq!(l.process_output(b"xyz", &mut out), 0);
    let (_, ev) = feed(&mut l, b"\x11");
    assert!(ev.contains(Events::START_OUTPUT));
    assert_eq!(l.process_output(b"xyz", &mut out), 3);
    feed(&mut l, b"\n");
    assert_eq!(read(&mut l, 64), Ok(b"ab\n".to_vec()));

    let mut l = ld(slave(|t| t.c_iflag |= IXANY));
    feed(&mut l, b"\x13");
    let (_, ev) = feed(&mut l, b"q");
    assert!(ev.contains(Events::START_OUTPUT));
    // IXON turned off restarts output.
    feed(&mut l, b"\x13");
    let ev = l.set_termios(slave(|t| t.c_iflag &= !IXON));
    assert!(ev.contains(Events::START_OUTPUT | Events::NOSTOP));
    assert!(!l.output_stopped());
    let ev = l.set_termios(Termios::pty_slave_default());
    assert!(ev.contains(Events::DOSTOP));
}

#[test]
fn tcxonc_stop_is_not_undone_by_start_char() {
    let mut l = ld(slave(|t| t.c_iflag |= IXANY));
    assert!(l.stop_output().contains(Events::STOP_OUTPUT));
    feed(&mut l, b"\x11x");
    assert!(l.output_stopped());
    assert!(l.start_output().contains(Events::START_OUTPUT));
    assert!(!l.output_stopped());
    assert_eq!(l.stop_char(), Some(0x13));
    assert_eq!(l.start_char(), Some(0x11));
}

#[test]
fn read_full_stall_and_lookahead() {
    let mut l = ld(slave(|t| t.c_lflag &= !(ICANON | ECHO)));
    let data = vec![b'x'; 5000];
    let mut sink = Sink::default();
    let r = l.receive(&data, &mut sink);
    assert_eq!(r.consumed, N_TTY_BUF_SIZE - 1);
    assert_eq!(r.stall, Stall::ReadFull);
    // ^S behind the full queue acts through lookahead, once.
    let pending = [b'a', 0x13, b'b'];
    assert!(l.lookahead(&pending).contains(Events::STOP_OUTPUT));
    l.start_output();
    assert!(read(&mut l, 10).is_ok());
    let r = l.receive(&pending, &mut sink);
    assert_eq!(r.consumed, 3);
    assert!(
        !r.events.contains(Events::STOP_OUTPUT),
        "not acted on twice"
    );
}

#[test]
fn echo_full_stall_is_resumable() {
    let mut l = ld(Termios::pty_slave_default());
    let mut sink = Sink {
        room: Some(3),
        ..Sink::default()
    };
    let r = l.receive(b"ab\x01c", &mut sink);
    assert_eq!(r.consumed, 2, "^A needs two bytes of echo");
    assert_eq!(r.stall, Stall::EchoFull);
    sink.room = Some(100);
    let r = l.receive(b"\x01c\n", &mut sink);
    assert_eq!(r.consumed, 3);
    assert_eq!(sink.out, b"ab^Ac\r\n");
}

#[test]
fn no_memory_stall() {
    let mut l = Ldterm::new(
        VecStorage::limited(0),
        VecStorage::new(),
        Termios::pty_slave_default(),
    );
    let mut sink = Sink::default();
    let r = l.receive(b"abc", &mut sink);
    assert_eq!((r.consumed, r.stall), (0, Stall::NoMemory));
    assert!(sink.out.is_empty(), "no echo for input that was not taken");
}

#[test]
fn line_limit_4095() {
    let mut l = ld(slave(|t| t.c_lflag &= !ECHO));
    let long = vec![b'a'; 5000];
    feed(&mut l, &long);
    feed(&mut l, b"\n");
    let line = read(&mut l, 8192).unwrap();
    assert_eq!(line.len(), N_TTY_BUF_SIZE);
    assert_eq!(line[4095], b'\n');
}

#[test]
fn idle_and_drained_hold_no_memory() {
    let mut l = ld(Termios::pty_slave_default());
    assert_eq!(l.processed_input().capacity(), 0);
    feed(&mut l, b"some input\n");
    assert!(l.processed_input().capacity() > 0);
    read(&mut l, 64).unwrap();
    assert_eq!(l.processed_input().capacity(), 0);
    assert_eq!(l.line_lengths().count(), 0);
}

#[test]
fn output_processing_never_splits() {
    let mut l = ld(slave(|t| t.c_oflag |= XTABS));
    let mut sink = Sink {
        room: Some(5),
        ..Sink::default()
    };
    assert_eq!(l.process_output(b"ab\tc", &mut sink), 2);
    assert_eq!(sink.out, b"ab");
    sink.room = Some(6);
    assert_eq!(l.process_output(b"\tc\n", &mut sink), 1);
    assert_eq!(sink.out, b"ab      ");
    assert_eq!(l.column(), 8);
    sink.room = Some(1);
    assert_eq!(l.process_output(b"\n", &mut sink), 0, "CR-NL needs two");
}

#[test]
fn save_restore_mid_line() {
    let t = Termios::pty_slave_default();
    let mut a = ld(t);
    feed(&mut a, b"first\nhalf\x16");
    let st = a.save();
    assert!(st.lnext);
    let input: Vec<u8> = a.processed_input().iter().collect();
    let lines: Vec<u16> = a.line_lengths().collect();
    let st2 = LdtermState::from_bytes(&st.to_bytes()).unwrap();
    assert_eq!(st, st2);
    let mut b = ld(Termios::pty_master_default());
    b.restore(&st2, &input, &lines).unwrap();
    let (ea, _) = feed(&mut a, b"\x03 done\n");
    let (eb, _) = feed(&mut b, b"\x03 done\n");
    assert_eq!(ea, eb);
    for _ in 0..3 {
        assert_eq!(read(&mut a, 64), read(&mut b, 64));
    }
}

#[test]
fn restore_rejects_inconsistent_state() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"ab\ncd");
    let mut st = l.save();
    let input: Vec<u8> = l.processed_input().iter().collect();
    let mut fresh = ld(Termios::pty_slave_default());
    assert_eq!(
        fresh.restore(&st, &input, &[2]),
        Err(RestoreError::Inconsistent)
    );
    st.readable = 10;
    assert_eq!(
        fresh.restore(&st, &input, &[3]),
        Err(RestoreError::Inconsistent)
    );
    assert_eq!(LdtermState::from_bytes(&[0; 10]), None);
    let mut bad = l.save().to_bytes();
    bad[Termios::SIZE + 17] = 9;
    assert_eq!(LdtermState::from_bytes(&bad), None);
}

#[test]
fn read_policy_vmin_vtime() {
    use ReadDecision::*;
    let p = |vmin, vtime| ReadPolicy { vmin, vtime };
    let forever = Wait {
        timeout_ds: None,
        restart_on_byte: false,
    };
    // MIN 0, TIME 0: poll.
    assert_eq!(p(0, 0).decide(0, 10, false), Return);
    // MIN 0, TIME > 0: overall timer.
    assert_eq!(
        p(0, 5).decide(0, 10, false),
        Wait {
            timeout_ds: Some(5),
            restart_on_byte: false
        }
    );
    assert_eq!(p(0, 5).decide(1, 10, false), Return);
    assert_eq!(p(0, 5).decide(0, 10, true), Return);
    // MIN > 0, TIME 0: wait for MIN (or the reader's count).
    assert_eq!(p(3, 0).decide(2, 10, false), forever);
    assert_eq!(p(3, 0).decide(3, 10, false), Return);
    assert_eq!(p(3, 0).decide(2, 2, false), Return);
    // MIN > 0, TIME > 0: inter-byte timer after the first byte.
    assert_eq!(p(3, 2).decide(0, 10, false), forever);
    assert_eq!(
        p(3, 2).decide(1, 10, false),
        Wait {
            timeout_ds: Some(2),
            restart_on_byte: true
        }
    );
    assert_eq!(p(3, 2).decide(1, 10, true), Return);
    assert_eq!(p(3, 2).decide(3, 10, false), Return);
    let t = slave(|t| {
        t.set_cc(VMIN, 4);
        t.set_cc(VTIME, 0);
        t.c_lflag &= !ICANON;
    });
    assert_eq!(ReadPolicy::new(&t), p(4, 0));
    // poll needs VMIN bytes when VTIME is 0.
    let mut l = ld(t);
    feed(&mut l, b"abc");
    assert!(l.has_input() && !l.readable());
    feed(&mut l, b"d");
    assert!(l.readable());
}

const ALPHABET: &[u8] = &[
    b'a', b'b', b'_', b' ', b'\t', b'\r', b'\n', 0x7f, 0x15, 0x17, 0x16, 0x04, 0x12, 0x03, 0x01,
    0xc3, 0xa9, 0xff, 0x13, 0x11,
];

fn arb_termios() -> impl Strategy<Value = Termios> {
    (any::<u16>(), any::<u8>(), any::<u16>()).prop_map(|(i, o, l)| {
        let iflags = [
            ICRNL, INLCR, IGNCR, ISTRIP, IUTF8, IUCLC, PARMRK, IXON, IXANY,
        ];
        let oflags = [OPOST, ONLCR, OCRNL, ONOCR, ONLRET, OLCUC, XTABS];
        let lflags = [
            ISIG, ICANON, ECHO, ECHOE, ECHOK, ECHONL, ECHOCTL, ECHOKE, IEXTEN, NOFLSH, ECHOPRT,
        ];
        let pick = |set: &[u32], bits: u32| {
            set.iter()
                .enumerate()
                .filter(|(k, _)| bits & (1 << k) != 0)
                .fold(0, |acc, (_, f)| acc | f)
        };
        let mut t = Termios::pty_slave_default();
        t.c_iflag = pick(&iflags, u32::from(i));
        t.c_oflag = pick(&oflags, u32::from(o));
        t.c_lflag = pick(&lflags, u32::from(l));
        t
    })
}

/// Sink with a changing amount of room; `flush` frees room (as the queue
/// toward the master does) but keeps the bytes so runs can be compared.
struct TightSink {
    out: Vec<u8>,
    room: usize,
}

impl OutputSink for TightSink {
    fn room(&self) -> usize {
        self.room
    }
    fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room);
        self.out.extend_from_slice(&bytes[..n]);
        self.room -= n;
        n
    }
    fn flush(&mut self) {
        self.room = self.room.max(64);
    }
}

fn drain_reads(l: &mut Ld) -> Vec<Result<Vec<u8>, ReadOutcome>> {
    (0..40)
        .map(|_| read(l, 7))
        .take_while(|r| *r != Err(ReadOutcome::Empty))
        .collect()
}

proptest! {
    /// Any chunking of the input and any stalls for echo room give the same
    /// echo, the same reads and the same state as feeding it all at once.
    #[test]
    fn chunking_and_stalls_do_not_matter(
        t in arb_termios(),
        input in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..200),
        chunks in proptest::collection::vec(1usize..20, 1..20),
        rooms in proptest::collection::vec(0usize..12, 1..20),
    ) {
        let mut whole = ld(t);
        let mut sink = Sink::default();
        let r = whole.receive(&input, &mut sink);
        prop_assert_eq!(r.consumed, input.len());

        let mut parts = ld(t);
        let mut tight = TightSink { out: Vec::new(), room: 0 };
        let mut fed = 0;
        let mut k = 0;
        let mut stuck = 0;
        while fed < input.len() {
            let end = (fed + chunks[k % chunks.len()]).min(input.len());
            tight.room = rooms[k % rooms.len()];
            let r = parts.receive(&input[fed..end], &mut tight);
            fed += r.consumed;
            stuck = if r.consumed == 0 { stuck + 1 } else { 0 };
            if stuck > rooms.len() + 2 {
                // Make progress even if all rooms are too small.
                tight.room = 64;
                let r = parts.receive(&input[fed..end], &mut tight);
                fed += r.consumed;
                stuck = 0;
            }
            k += 1;
        }
        prop_assert_eq!(&tight.out, &sink.out);
        prop_assert_eq!(parts.save(), whole.save());
        prop_assert_eq!(drain_reads(&mut parts), drain_reads(&mut whole));
    }

    /// Save at any point, restore into a fresh ldterm, continue: same as
    /// never having stopped.
    #[test]
    fn checkpoint_anywhere(
        t in arb_termios(),
        input in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..120),
        cut in 0usize..120,
        reads_before in 0usize..3,
    ) {
        let cut = cut.min(input.len());
        let mut a = ld(t);
        let mut sa = Sink::default();
        a.receive(&input[..cut], &mut sa);
        for _ in 0..reads_before { let _ = read(&mut a, 5); }
        let st = LdtermState::from_bytes(&a.save().to_bytes()).unwrap();
        let data: Vec<u8> = a.processed_input().iter().collect();
        let lines: Vec<u16> = a.line_lengths().collect();
        let mut b = ld(Termios::pty_slave_default());
        b.restore(&st, &data, &lines).unwrap();
        prop_assert_eq!(b.save(), a.save());
        let mut sb = Sink::default();
        let mut sa2 = Sink::default();
        a.receive(&input[cut..], &mut sa2);
        b.receive(&input[cut..], &mut sb);
        prop_assert_eq!(sa2.out, sb.out);
        prop_assert_eq!(drain_reads(&mut a), drain_reads(&mut b));
    }

    /// Output processing in any chunking and with any room gives the same
    /// bytes as one call with plenty of room.
    #[test]
    fn output_chunking(
        t in arb_termios(),
        data in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..100),
        rooms in proptest::collection::vec(0usize..10, 1..10),
    ) {
        let mut whole = ld(t);
        let mut s1 = Sink::default();
        // Flow characters are not written here: keep output running.
        prop_assert_eq!(whole.process_output(&data, &mut s1), data.len());
        let mut parts = ld(t);
        let mut s2 = TightSink { out: Vec::new(), room: 0 };
        let mut done = 0;
        let mut k = 0;
        while done < data.len() {
            s2.room = rooms[k % rooms.len()].max(if k % 5 == 4 { 8 } else { 0 });
            done += parts.process_output(&data[done..], &mut s2);
            k += 1;
        }
        prop_assert_eq!(s2.out, s1.out);
        prop_assert_eq!(parts.column(), whole.column());
    }
}

#[test]
fn word_erase_resumes_after_stall() {
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"ab cd");
    // Room for erasing one character ("\b \b"), not two.
    let mut sink = Sink {
        room: Some(4),
        ..Sink::default()
    };
    let r = l.receive(b"\x17", &mut sink);
    assert_eq!((r.consumed, r.stall), (0, Stall::EchoFull));
    assert_eq!(l.pending_line().collect::<Vec<_>>(), b"ab c");
    sink.room = Some(100);
    let r = l.receive(b"\x17\n", &mut sink);
    assert_eq!(r.consumed, 2);
    assert_eq!(read(&mut l, 64), Ok(b"ab \n".to_vec()));

    // A reprint that stalls halfway continues where it stopped.
    let mut l = ld(Termios::pty_slave_default());
    feed(&mut l, b"hello");
    let mut sink = Sink {
        room: Some(7),
        ..Sink::default()
    };
    assert_eq!(l.receive(b"\x12", &mut sink).consumed, 0);
    assert!(matches!(l.save().partial, Partial::Reprint(_)));
    sink.room = None;
    assert_eq!(l.receive(b"\x12", &mut sink).consumed, 1);
    assert_eq!(sink.out, b"^R\r\nhello");
}

#[test]
fn lookahead_scans_both_runs_of_a_ring_once() {
    let mut l = ld(slave(|t| t.c_lflag &= !(ICANON | ECHO)));
    let mut sink = Sink::default();
    l.receive(&vec![b'x'; 5000], &mut sink);
    // ^S in the second run acts; the first run's bytes count as scanned.
    let ev = l.lookahead_runs([b"ab", &[b'c', 0x13]]);
    assert!(ev.contains(Events::STOP_OUTPUT));
    assert!(l.output_stopped());
    // Scanned bytes do not act again, across a different cut; a new ^Q does.
    let ev = l.lookahead_runs([b"abc", &[0x13, 0x11]]);
    assert!(ev.contains(Events::START_OUTPUT) && !ev.contains(Events::STOP_OUTPUT));
    assert!(!l.output_stopped());
    assert!(l
        .lookahead_runs([&[b'a', b'b', b'c', 0x13, 0x11], &[]])
        .is_empty());
}
