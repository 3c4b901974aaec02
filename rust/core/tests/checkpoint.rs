// SPDX-License-Identifier: GPL-2.0
//! Tests of stream checkpoint and restore (`pty_core::checkpoint`): round
//! trips of random pair states followed by identical behaviour, explicit
//! scenarios, rejection of every corrupt or inconsistent image with the
//! pair left untouched, and size queries.

mod common;

use common::VecStorage;
use proptest::prelude::*;
use pty_core::checkpoint::*;
use pty_core::errno::Errno::{EBADMSG, EBUSY, EINVAL, ENOMEM, ERANGE};
use pty_core::image::{
    decode, encode, encoded_len, ImageError, ModuleBlock, ModuleName, ModulePart, PtyMode,
    StreamImage, StreamImageHeader,
};
use pty_core::ldterm::{LdtermState, Partial, N_TTY_BUF_SIZE};
use pty_core::stream::*;
use pty_core::termios::*;
use pty_core::waitlist::SocketId;
use pty_core::End;

type Pair = PtyPair<VecStorage>;

/// A pair whose slave has been opened once.
fn pair() -> Pair {
    let mut p = PtyPair::new(VecStorage::new);
    p.slave_opened();
    p
}

fn meta() -> PairMeta {
    PairMeta::new(3, PtyMode::Att)
}

fn slave(f: impl FnOnce(&mut Termios)) -> Termios {
    let mut t = Termios::pty_slave_default();
    f(&mut t);
    t
}

/// The image of one stream; checks that the size query is exact.
fn ckpt_with(p: &Pair, kind: End, m: &PairMeta) -> Vec<u8> {
    let len = checkpoint_len(p, kind, m).unwrap();
    let mut out = vec![0u8; len + 16];
    let n = checkpoint(p, kind, m, 42, &mut out).unwrap();
    assert_eq!(n, len, "size query differs from the written size");
    out.truncate(n);
    out
}

fn ckpt(p: &Pair, kind: End) -> Vec<u8> {
    ckpt_with(p, kind, &meta())
}

fn restore_bytes(p: &mut Pair, img: &[u8], kind: End) -> Result<MetaPart, RestoreError> {
    let image = decode(img)?;
    restore(p, &image, kind)
}

/// Checkpoints both streams of `p` (frozen, as the kernel does) and
/// restores them into a fresh pair in the given order, then thaws both.
fn clone_pair(p: &mut Pair, master_first: bool) -> Pair {
    let mut fx = Effects::default();
    p.freeze(true);
    p.freeze(false);
    let (mi, si) = (ckpt(p, End::Master), ckpt(p, End::Slave));
    p.thaw(true, &mut fx);
    p.thaw(false, &mut fx);
    let mut r = pair();
    let order = if master_first {
        [(&mi, End::Master), (&si, End::Slave)]
    } else {
        [(&si, End::Slave), (&mi, End::Master)]
    };
    for (img, kind) in order {
        restore_bytes(&mut r, img, kind).unwrap();
        let frozen = match kind {
            End::Master => r.freeze.master,
            End::Slave => r.freeze.slave,
        };
        assert!(frozen, "restore must leave the stream frozen");
    }
    // Restored state saves to the very same images.
    assert_eq!(ckpt(&r, End::Master), mi);
    assert_eq!(ckpt(&r, End::Slave), si);
    r.thaw(true, &mut fx);
    r.thaw(false, &mut fx);
    r
}

/// Everything about a pair that must not change when a restore is
/// refused: its images (all of its state), freeze, lifecycle and the
/// memory its visible queues hold.
fn fingerprint(p: &Pair) -> (Vec<u8>, Vec<u8>, Freeze, Lifecycle, [usize; 3]) {
    (
        ckpt(p, End::Master),
        ckpt(p, End::Slave),
        p.freeze,
        p.life,
        [
            p.master.head.read.capacity(),
            p.slave.pts.input.capacity(),
            p.slave.ldterm.processed_input().capacity(),
        ],
    )
}

// ---------------------------------------------------------------------
// Driving a pair
// ---------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    MasterWrite(Vec<u8>),
    SlaveWrite(Vec<u8>),
    MasterRead(usize),
    SlaveRead(usize),
    Packet(bool),
    SlaveFlush(u32),
    MasterFlush(u32),
    SlaveFlow(u32),
    MasterFlow(u32),
    Set(Termios, bool),
    Winsize(Winsize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Res {
    Io(Io, Vec<u8>),
    Req(Result<(), RequestError>),
    Unit,
}

/// What user space can see of a pair at any moment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    master: Ready,
    slave: Ready,
    master_inq: usize,
    slave_inq: usize,
    master_read_ready: bool,
    slave_read_ready: bool,
    termios: Termios,
    winsize: Winsize,
}

fn view(p: &Pair) -> View {
    View {
        master: p.master_ready(),
        slave: p.slave_ready(),
        master_inq: p.master_inq(),
        slave_inq: p.slave_inq(),
        master_read_ready: p.master_read_ready(),
        slave_read_ready: p.slave_read_ready(),
        termios: p.termios(),
        winsize: p.winsize(),
    }
}

fn apply(p: &mut Pair, op: &Op) -> (Res, Effects, View) {
    let mut fx = Effects::default();
    let r = match op {
        Op::MasterWrite(d) => Res::Io(p.master_write(d, &mut fx), Vec::new()),
        Op::SlaveWrite(d) => Res::Io(p.slave_write(d, &mut fx), Vec::new()),
        Op::MasterRead(n) => {
            let mut buf = vec![0; *n];
            let r = p.master_read(&mut buf, &mut fx);
            if let Io::Done(k) = r {
                buf.truncate(k);
            }
            Res::Io(r, buf)
        }
        Op::SlaveRead(n) => {
            let mut buf = vec![0; *n];
            let r = p.slave_read(&mut buf, &mut fx);
            if let Io::Done(k) = r {
                buf.truncate(k);
            }
            Res::Io(r, buf)
        }
        Op::Packet(on) => {
            p.set_packet(*on);
            Res::Unit
        }
        Op::SlaveFlush(w) => Res::Req(p.slave_flush(*w, &mut fx)),
        Op::MasterFlush(w) => Res::Req(p.master_flush(*w, &mut fx)),
        Op::SlaveFlow(a) => Res::Req(p.slave_flow(*a, &mut fx)),
        Op::MasterFlow(a) => Res::Req(p.master_flow(*a, &mut fx)),
        Op::Set(t, flush) => {
            p.set_termios(*t, *flush, &mut fx);
            Res::Unit
        }
        Op::Winsize(ws) => {
            p.set_winsize(*ws, &mut fx);
            Res::Unit
        }
    };
    (r, fx, view(p))
}

fn run(p: &mut Pair, ops: &[Op]) {
    for op in ops {
        apply(p, op);
    }
}

/// Drives all pairs with `ops` and asserts every observation is equal.
fn same_behaviour(pairs: &mut [&mut Pair], ops: &[Op]) {
    for (step, op) in ops.iter().enumerate() {
        let mut seen = pairs.iter_mut().map(|p| apply(p, op));
        let first = seen.next().unwrap();
        for (k, other) in seen.enumerate() {
            assert_eq!(
                first,
                other,
                "restored pair {} differs at step {step}: {op:?}",
                k + 1
            );
        }
    }
}

/// Puts every stopped or held thing in motion and reads everything out.
fn drain_ops() -> Vec<Op> {
    let mut ops = vec![
        Op::Set(Termios::pty_slave_default(), false),
        Op::SlaveFlow(TCOON),
        Op::MasterFlow(TCOON),
        Op::MasterWrite(b"\x11".to_vec()),
    ];
    for _ in 0..6 {
        ops.push(Op::MasterRead(100_000));
        ops.push(Op::SlaveRead(8192));
    }
    ops.push(Op::Set(slave(|t| t.c_lflag &= !ICANON), false));
    for _ in 0..4 {
        ops.push(Op::SlaveRead(100_000));
        ops.push(Op::MasterRead(100_000));
    }
    ops
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => proptest::sample::select(b"abcxyz -".to_vec()),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        2 => proptest::sample::select(vec![
            0x03u8, 0x04, 0x11, 0x13, 0x15, 0x16, 0x17, 0x12, 0x7f, 0x08, b'\t', 0x1a, 0x1c,
            0xff, 0xc3, 0xa9, 0x00,
        ]),
    ];
    prop_oneof![
        10 => proptest::collection::vec(byte, 1..12),
        1 => (1usize..6000, any::<bool>())
            .prop_map(|(n, nl)| vec![if nl { b'\n' } else { b'x' }; n]),
    ]
}

fn arb_termios() -> impl Strategy<Value = Termios> {
    (proptest::collection::vec(any::<bool>(), 12), 0u8..3, 0u8..2).prop_map(|(f, vmin, vtime)| {
        slave(|t| {
            let flip = |word: &mut u32, bit: u32, on: bool| {
                if on {
                    *word |= bit;
                } else {
                    *word &= !bit;
                }
            };
            flip(&mut t.c_lflag, ICANON, f[0]);
            flip(&mut t.c_lflag, ECHO, f[1]);
            flip(&mut t.c_iflag, IXON, f[2]);
            flip(&mut t.c_lflag, ISIG, f[3]);
            flip(&mut t.c_lflag, NOFLSH, f[4]);
            flip(&mut t.c_iflag, IXANY, f[5]);
            flip(&mut t.c_iflag, ICRNL, f[6]);
            flip(&mut t.c_oflag, OPOST, f[7]);
            flip(&mut t.c_lflag, ECHOCTL, f[8]);
            flip(&mut t.c_lflag, IEXTEN, f[9]);
            flip(&mut t.c_lflag, ECHOPRT, f[10]);
            flip(&mut t.c_lflag, ECHOE, !f[10] && f[11]);
            t.set_cc(VMIN, vmin);
            t.set_cc(VTIME, vtime);
        })
    })
}

fn arb_op() -> impl Strategy<Value = Op> {
    let winsize = (0u16..300, 0u16..300).prop_map(|(rows, cols)| Winsize {
        rows,
        cols,
        xpixel: rows.wrapping_mul(8),
        ypixel: cols.wrapping_mul(16),
    });
    prop_oneof![
        8 => arb_bytes().prop_map(Op::MasterWrite),
        3 => arb_bytes().prop_map(Op::SlaveWrite),
        1 => (1usize..70_000).prop_map(|n| Op::SlaveWrite(vec![b'o'; n])),
        3 => prop_oneof![1usize..16, 1usize..100_000].prop_map(Op::MasterRead),
        3 => prop_oneof![1usize..16, 1usize..8192].prop_map(Op::SlaveRead),
        1 => any::<bool>().prop_map(Op::Packet),
        1 => (0u32..4).prop_map(Op::SlaveFlush),
        1 => (0u32..4).prop_map(Op::MasterFlush),
        1 => (0u32..5).prop_map(Op::SlaveFlow),
        1 => (0u32..5).prop_map(Op::MasterFlow),
        2 => (arb_termios(), any::<bool>()).prop_map(|(t, f)| Op::Set(t, f)),
        1 => winsize.prop_map(Op::Winsize),
    ]
}

/// Settings near raw mode: raw, with one of the flags that end it (or a
/// `VMIN`/`VTIME`) now and then, so that the fast path of master writes
/// is taken and left often.
fn arb_rawish_termios() -> impl Strategy<Value = Termios> {
    let spoilers = [0, 0, 0, ISTRIP, PARMRK, IXON, ICRNL, INLCR, IGNCR];
    let lflags = [0, 0, 0, ECHO, ISIG, ICANON, IEXTEN];
    (
        proptest::sample::select(spoilers.to_vec()),
        proptest::sample::select(lflags.to_vec()),
        0u8..3,
        0u8..2,
    )
        .prop_map(|(iflag, lflag, vmin, vtime)| {
            slave(|t| {
                t.c_iflag = iflag;
                t.c_oflag &= !OPOST;
                t.c_lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
                t.c_lflag |= lflag;
                t.set_cc(VMIN, vmin);
                t.set_cc(VTIME, vtime);
            })
        })
}

/// [`arb_op`] with many more near-raw settings and long writes.
fn arb_rawish_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => arb_op(),
        3 => (arb_rawish_termios(), any::<bool>()).prop_map(|(t, f)| Op::Set(t, f)),
        2 => (1usize..9000).prop_map(|n| Op::MasterWrite(vec![b'r'; n])),
        2 => prop_oneof![1usize..64, 4000usize..9000].prop_map(Op::SlaveRead),
    ]
}

/// Typing: lines of plain letters with now and then a character that
/// means something (erase, kill, newline, ^S/^Q, a tab, a control
/// character, a byte past ASCII), so that runs of plain characters are
/// taken in bulk and left often.
fn arb_typing_op() -> impl Strategy<Value = Op> {
    let plain = proptest::sample::select(b"abcdefxyz ABC~{}0123".to_vec());
    let other = proptest::sample::select(vec![
        b'\n', b'\r', b'\t', 0x7f, 0x15, 0x17, 0x16, 0x12, 0x13, 0x11, 0x03, 0x04, 0x01, 0xc3,
        0xa9, 0xff,
    ]);
    let byte = prop_oneof![30 => plain, 1 => other];
    prop_oneof![
        8 => proptest::collection::vec(byte, 1..300).prop_map(Op::MasterWrite),
        1 => (1usize..5000).prop_map(|n| Op::MasterWrite(vec![b'k'; n])),
        4 => arb_op(),
    ]
}

/// `ops` on a pair with its fast paths and on one with
/// `reference_paths`: the same results, effects and readiness after every
/// operation, and the same images, so every byte sits in the same queue
/// and every column and line state is the same either way.
fn fast_paths_match_reference(ops: &[Op]) -> Result<(), TestCaseError> {
    let (mut fast, mut reference) = (pair(), pair());
    reference.reference_paths = true;
    for (step, op) in ops.iter().enumerate() {
        let (a, b) = (apply(&mut fast, op), apply(&mut reference, op));
        prop_assert_eq!(a, b, "step {}: {:?}", step, op);
        prop_assert_eq!(ckpt(&fast, End::Master), ckpt(&reference, End::Master));
        prop_assert_eq!(ckpt(&fast, End::Slave), ckpt(&reference, End::Slave));
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Any reachable state survives checkpoint and restore (in either
    /// order of the two images): the restored pair then behaves exactly
    /// as the original under any continuation, so nothing was lost,
    /// duplicated or processed twice.
    #[test]
    fn round_trip_behaves_identically(
        prefix in proptest::collection::vec(arb_op(), 0..40),
        rest in proptest::collection::vec(arb_op(), 0..40),
    ) {
        let mut p = pair();
        run(&mut p, &prefix);
        let mut a = clone_pair(&mut p, true);
        let mut b = clone_pair(&mut p, false);
        let mut ops = rest;
        ops.extend(drain_ops());
        same_behaviour(&mut [&mut p, &mut a, &mut b], &ops);
    }

    /// The raw fast paths (master writes that skip the pts input queue,
    /// raw input moved in bulk) do exactly what the general paths do:
    /// same results, effects and readiness after every operation, and the
    /// same images, so every byte sits in the same queue either way.
    #[test]
    fn raw_fast_paths_match_the_general_paths(
        ops in proptest::collection::vec(arb_rawish_op(), 0..60),
    ) {
        fast_paths_match_reference(&ops)?;
    }

    /// Runs of plain characters taken in bulk do exactly what taking them
    /// one at a time does: same results, effects and readiness after
    /// every operation, in every mode, and the same images (echo,
    /// columns, line state).
    #[test]
    fn plain_runs_match_byte_at_a_time(
        ops in proptest::collection::vec(arb_typing_op(), 0..60),
    ) {
        fast_paths_match_reference(&ops)?;
    }

    /// The size query equals the written size, and nothing is written
    /// into a buffer that is too small.
    #[test]
    fn size_query_is_exact(ops in proptest::collection::vec(arb_op(), 0..30)) {
        let mut p = pair();
        run(&mut p, &ops);
        for kind in [End::Master, End::Slave] {
            let len = checkpoint_len(&p, kind, &meta()).unwrap();
            let mut exact = vec![0u8; len];
            prop_assert_eq!(checkpoint(&p, kind, &meta(), 1, &mut exact), Ok(len));
            let mut short = vec![0xa5u8; len - 1];
            let e = checkpoint(&p, kind, &meta(), 1, &mut short).unwrap_err();
            prop_assert_eq!(e, ImageError::OutputTooSmall { needed: len, available: len - 1 });
            prop_assert_eq!(e.errno(), ERANGE);
            prop_assert!(short.iter().all(|&b| b == 0xa5));
        }
    }
}

/// Every module's arithmetic size equals what its writing code counts,
/// for every kind of facts its block may carry.
fn sizes_are_arithmetic(p: &Pair) -> Result<(), TestCaseError> {
    fn same<M: ModuleState>(m: &M, facts: &M::Facts) -> Result<(), TestCaseError> {
        prop_assert_eq!(m.encoded_len(facts).unwrap(), m.counted_len(facts).unwrap());
        Ok(())
    }
    same(&p.master.head, &())?;
    same(&SlaveHead, &())?;
    same(&p.slave.ldterm, &())?;
    for foreground_pgrp in [None, Some(0), Some(77)] {
        for exclusive in [false, true] {
            let facts = TiocFacts {
                exclusive,
                foreground_pgrp,
            };
            same(&p.master.tioc, &facts)?;
            same(&p.slave.tioc, &facts)?;
        }
    }
    for socket in [None, Some(socket_id())] {
        let facts = PtmFacts {
            index: 9,
            mode: PtyMode::Bsd,
            locked: true,
            master_open: false,
            slave_closed: true,
            socket,
        };
        same(&p.master.ptm, &facts)?;
    }
    let facts = PtsFacts {
        index: 9,
        mode: PtyMode::Att,
        slave_opens: 2,
        master_closed: false,
        node: NodeOwner::default(),
    };
    same(&p.slave.pts, &facts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The sizes a checkpoint computes under the pair's lock are exact,
    /// the image it writes without reading it back is one restore takes,
    /// and sealing after the snapshot gives the same bytes as a
    /// checkpoint in one go.
    #[test]
    fn snapshot_is_sized_arithmetically_and_restorable(ops in proptest::collection::vec(arb_op(), 0..40)) {
        let mut p = pair();
        run(&mut p, &ops);
        sizes_are_arithmetic(&p)?;
        for kind in [End::Master, End::Slave] {
            let whole = ckpt(&p, kind);
            prop_assert!(whole.len() <= MAX_CHECKPOINT_LEN);
            prop_assert_eq!(check_restorable::<VecStorage>(&whole), Ok(()));
            let mut split = vec![0x5au8; whole.len()];
            let unsealed = snapshot(&p, kind, &meta(), 42, &mut split).unwrap();
            prop_assert_eq!(unsealed.image_len(), whole.len());
            prop_assert_eq!(unsealed.seal(&mut split), Ok(whole.len()));
            prop_assert_eq!(&split, &whole);
        }
    }
}

// ---------------------------------------------------------------------
// Explicit scenarios
// ---------------------------------------------------------------------

fn type_in(p: &mut Pair, data: &[u8]) {
    assert_eq!(
        p.master_write(data, &mut Effects::default()),
        Io::Done(data.len())
    );
}

fn drain_master(p: &mut Pair) -> Vec<u8> {
    let mut buf = vec![0u8; 200_000];
    match p.master_read(&mut buf, &mut Effects::default()) {
        Io::Done(n) => buf[..n].to_vec(),
        Io::WouldBlock => Vec::new(),
        r => panic!("master read: {r:?}"),
    }
}

fn sread(p: &mut Pair) -> Result<Vec<u8>, Io> {
    let mut buf = vec![0u8; 8192];
    match p.slave_read(&mut buf, &mut Effects::default()) {
        Io::Done(n) => Ok(buf[..n].to_vec()),
        r => Err(r),
    }
}

#[test]
fn half_typed_line_completes_after_restart() {
    for master_first in [true, false] {
        let mut p = pair();
        assert_eq!(
            p.slave_write(b"pending\n", &mut Effects::default()),
            Io::Done(8)
        );
        type_in(&mut p, b"ls -l");
        let mut r = clone_pair(&mut p, master_first);
        assert_eq!(sread(&mut r), Err(Io::WouldBlock), "line not complete yet");
        type_in(&mut r, b"a\n");
        assert_eq!(sread(&mut r), Ok(b"ls -la\n".to_vec()));
        assert_eq!(drain_master(&mut r), b"pending\r\nls -la\r\n".to_vec());
        assert_eq!(drain_master(&mut r), b"");
        // Erase still works, with its echo.
        type_in(&mut r, b"xy\x7fz\n");
        assert_eq!(sread(&mut r), Ok(b"xz\n".to_vec()));
        assert_eq!(drain_master(&mut r), b"xy\x08 \x08z\r\n".to_vec());
        assert_eq!(sread(&mut r), Err(Io::WouldBlock));
    }
}

/// Checkpoints `p` and checks that copies restored in both orders then
/// behave exactly as `p` under `ops` and a full drain.
fn check_continuation(p: &mut Pair, ops: &[Op]) {
    let mut a = clone_pair(p, true);
    let mut b = clone_pair(p, false);
    let mut ops = ops.to_vec();
    ops.extend(drain_ops());
    same_behaviour(&mut [p, &mut a, &mut b], &ops);
}

#[test]
fn mid_edit_states_survive() {
    let typed = |d: &[u8]| Op::MasterWrite(d.to_vec());
    // ^V: the next byte is literal.
    let mut p = pair();
    type_in(&mut p, b"ab\x16");
    assert!(p.slave.ldterm.save().lnext);
    check_continuation(
        &mut p,
        &[typed(b"\x03\n"), Op::SlaveRead(64), Op::MasterRead(64)],
    );

    // ECHOPRT: inside a "\...": erased characters.
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_termios(slave(|t| t.c_lflag |= ECHOPRT), false, &mut fx);
    type_in(&mut p, b"abc\x7f\x7f");
    assert!(p.slave.ldterm.save().erasing);
    check_continuation(
        &mut p,
        &[typed(b"\x7fd\n"), Op::MasterRead(64), Op::SlaveRead(64)],
    );

    // ^R whose echo stalled halfway: the reprint resumes where it stopped.
    let mut p = pair();
    type_in(&mut p, b"hello");
    let n = MASTER_HEAD_BOUND - p.master.head.read.len() - 4;
    assert_eq!(p.slave_write(&vec![b'z'; n], &mut fx), Io::Done(n));
    type_in(&mut p, b"\x12x\n");
    assert!(matches!(p.slave.ldterm.save().partial, Partial::Reprint(_)));
    assert_eq!(p.slave.pts.input.len(), 3);
    check_continuation(
        &mut p,
        &[
            Op::MasterRead(MASTER_HEAD_BOUND - 3),
            Op::MasterRead(3),
            Op::MasterRead(64),
            Op::SlaveRead(64),
        ],
    );
}

#[test]
fn stopped_output_packet_status_and_winsize_survive() {
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_packet(true);
    let ws = Winsize {
        rows: 50,
        cols: 132,
        xpixel: 1,
        ypixel: 2,
    };
    p.set_winsize(ws, &mut fx);
    type_in(&mut p, b"\x13"); // ^S: output stopped, STOP status pending
    type_in(&mut p, b"abc"); // echo held while stopped
    assert_eq!(p.slave_write(b"out", &mut fx), Io::WouldBlock);
    let mut r = clone_pair(&mut p, false);
    assert_eq!(r.winsize(), ws);
    assert_eq!(r.master.tioc.winsize, ws);
    assert!(r.master_ready().priority);
    let mut buf = [0u8; 64];
    assert_eq!(r.master_read(&mut buf, &mut fx), Io::Done(1));
    assert_eq!(buf[0], packet::STOP);
    assert_eq!(r.master_read(&mut buf, &mut fx), Io::WouldBlock);
    assert_eq!(r.slave_write(b"out", &mut fx), Io::WouldBlock);
    type_in(&mut r, b"\x11");
    assert_eq!(r.master_read(&mut buf, &mut fx), Io::Done(1));
    assert_eq!(buf[0], packet::START);
    assert_eq!(r.master_read(&mut buf, &mut fx), Io::Done(4));
    assert_eq!(&buf[..4], b"\0abc");
    assert_eq!(r.slave_write(b"out", &mut fx), Io::Done(3));
}

/// The most complete lines ldterm holds (empty ones: every line length
/// queued), with the pts queue full behind them, stay within the bound.
#[test]
fn most_lines_fit_the_image_bound() {
    let mut p = pair();
    let mut fx = Effects::default();
    let newlines = vec![b'\n'; PTS_INPUT_BOUND + N_TTY_BUF_SIZE];
    let _ = p.master_write(&newlines, &mut fx);
    let lines = p.slave.ldterm.line_lengths().count();
    assert!(lines >= N_TTY_BUF_SIZE - 1, "only {lines} lines");
    let len = checkpoint_len(&p, End::Slave, &meta()).unwrap();
    let queued = p.slave.pts.input.len();
    assert!(
        len > queued + 3 * lines,
        "{len}: the lines and the queue are not all in the image"
    );
    assert!(len <= MAX_CHECKPOINT_LEN, "{len} > {MAX_CHECKPOINT_LEN}");
    assert_eq!(ckpt(&p, End::Slave).len(), len);
}

#[test]
fn large_half_line_and_full_queues_round_trip() {
    let mut p = pair();
    let mut fx = Effects::default();
    // 60 KiB of output toward the master, then a canonical line as long
    // as it gets, whose echo fills the master head to its bound.
    assert_eq!(
        p.slave_write(&vec![b'o'; MASTER_HEAD_BOUND - N_TTY_BUF_SIZE], &mut fx),
        Io::Done(MASTER_HEAD_BOUND - N_TTY_BUF_SIZE)
    );
    let typed = p.master_write(&vec![b'l'; N_TTY_BUF_SIZE], &mut fx);
    assert_eq!(typed, Io::Done(N_TTY_BUF_SIZE));
    // 64 KiB more typed: stuck, unprocessed, behind the full echo path.
    let more: Vec<u8> = (0..PTS_INPUT_BOUND).map(|i| b"ab\n"[i % 3]).collect();
    let _ = p.master_write(&more, &mut fx);
    assert_eq!(p.master.head.read.len(), MASTER_HEAD_BOUND);
    assert_eq!(p.slave.pts.input.len(), PTS_INPUT_BOUND);
    let line = p.slave.ldterm.pending_line().count();
    assert!(line >= N_TTY_BUF_SIZE - 1, "half line of {line} bytes");
    for kind in [End::Master, End::Slave] {
        let len = checkpoint_len(&p, kind, &meta()).unwrap();
        assert_eq!(ckpt(&p, kind).len(), len);
        assert!(len <= MAX_CHECKPOINT_LEN, "{len} > {MAX_CHECKPOINT_LEN}");
    }
    let mut a = clone_pair(&mut p, true);
    let mut b = clone_pair(&mut p, false);
    let mut ops = Vec::new();
    for _ in 0..40 {
        ops.push(Op::MasterRead(70_000));
        ops.push(Op::SlaveRead(8192));
        ops.push(Op::SlaveRead(3));
    }
    ops.extend(drain_ops());
    same_behaviour(&mut [&mut p, &mut a, &mut b], &ops);
}

#[test]
fn meta_travels_in_its_blocks() {
    let m = PairMeta {
        index: 17,
        mode: PtyMode::Bsd,
        locked: true,
        exclusive: [true, false],
        foreground_pgrp: 4321,
        master_open: true,
        socket: Some(socket_id()),
        node: NodeOwner {
            uid: 1000,
            gid: 5,
            mode: 0o620,
        },
    };
    let mut p = pair();
    p.slave_opened();
    let mi = ckpt_with(&p, End::Master, &m);
    let si = ckpt_with(&p, End::Slave, &m);
    assert_eq!(decode(&mi).unwrap().mode(), PtyMode::Bsd);
    let mut r = pair();
    let mut got = PairMeta::new(0, PtyMode::Att);
    let sp = restore_bytes(&mut r, &si, End::Slave).unwrap();
    let MetaPart::Slave(s) = sp else {
        panic!("{sp:?}")
    };
    assert_eq!((s.slave_opens, s.master_closed), (2, false));
    sp.apply(&mut got);
    restore_bytes(&mut r, &mi, End::Master)
        .unwrap()
        .apply(&mut got);
    assert_eq!(got, m);
}

/// A socket identity with every field distinct and non-zero.
fn socket_id() -> SocketId {
    let mut local_addr = [0u8; 16];
    let mut remote_addr = [0u8; 16];
    for k in 0..16u8 {
        local_addr[usize::from(k)] = 0x10 + k;
        remote_addr[usize::from(k)] = 0xe0 + k;
    }
    SocketId {
        family: 10,
        sock_type: 1,
        protocol: 6,
        local_addr,
        local_port: 23,
        remote_addr,
        remote_port: 0xc001,
    }
}

/// Length of the master's ptm internal part.
const PTM_INTERNAL_LEN: usize = 54;
/// Offset of `has socket` in the ptm internal part.
const HAS_SOCKET_AT: usize = 11;

#[test]
fn socket_identity_round_trips() {
    assert_eq!(PairMeta::new(3, PtyMode::Att).socket, None);
    let v4 = SocketId {
        family: 2,
        sock_type: 1,
        protocol: 6,
        local_addr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        local_port: 513,
        remote_addr: [10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        remote_port: 1023,
    };
    let all_ones = SocketId {
        family: u16::MAX,
        sock_type: u16::MAX,
        protocol: u16::MAX,
        local_addr: [0xff; 16],
        local_port: u16::MAX,
        remote_addr: [0xff; 16],
        remote_port: u16::MAX,
    };
    for socket in [
        None,
        Some(socket_id()),
        Some(v4),
        Some(all_ones),
        Some(SocketId::default()),
    ] {
        let m = PairMeta { socket, ..meta() };
        let p = pair();
        let mi = ckpt_with(&p, End::Master, &m);
        let d = decode(&mi).unwrap();
        let ptm = &d.modules()[PTM];
        assert_eq!(ptm.internal.len(), PTM_INTERNAL_LEN, "fixed ptm length");
        assert_eq!(ptm.internal[HAS_SOCKET_AT], u8::from(socket.is_some()));
        if let Some(s) = socket {
            let id = &ptm.internal[HAS_SOCKET_AT + 1..];
            assert_eq!(id[0..2], s.family.to_le_bytes());
            assert_eq!(id[2..4], s.sock_type.to_le_bytes());
            assert_eq!(id[4..6], s.protocol.to_le_bytes());
            assert_eq!(id[6..8], s.local_port.to_le_bytes());
            assert_eq!(id[8..10], s.remote_port.to_le_bytes());
            assert_eq!(id[10..26], s.local_addr);
            assert_eq!(id[26..42], s.remote_addr);
        } else {
            assert!(ptm.internal[HAS_SOCKET_AT + 1..].iter().all(|&b| b == 0));
        }
        // The slave image does not carry it.
        assert_eq!(ckpt_with(&p, End::Slave, &m), ckpt(&p, End::Slave));
        let mut r = pair();
        let part = restore(&mut r, &d, End::Master).unwrap();
        let MetaPart::Master(got) = part else {
            panic!("{part:?}")
        };
        assert_eq!(got.socket, socket);
        // Applied to whatever the pair had: replaced, both ways.
        for before in [None, Some(v4)] {
            let mut pm = PairMeta {
                socket: before,
                ..meta()
            };
            part.apply(&mut pm);
            assert_eq!(pm, m);
        }
        // The restored pair checkpoints to the same image.
        assert_eq!(ckpt_with(&r, End::Master, &m), mi);
    }
}

#[test]
fn malformed_socket_identity_is_refused() {
    let p = pair();
    let without = ckpt(&p, End::Master);
    let with = ckpt_with(
        &p,
        End::Master,
        &PairMeta {
            socket: Some(socket_id()),
            ..meta()
        },
    );
    let bs = |img: Vec<u8>| bad_state(refused(&img, End::Master));
    let ptm_internal = (ModuleName::Ptm, ModulePart::Internal);
    for img in [&without, &with] {
        // has_socket neither 0 nor 1.
        for flag in [2u8, 3, 0x80, 0xff] {
            let bad = reseal(img, |p| p[PTM].1[HAS_SOCKET_AT] = flag);
            assert_eq!(bs(bad), (ptm_internal.0, ptm_internal.1, HAS_SOCKET_AT));
        }
        // Truncated identity, and bytes after it.
        let bad = reseal(img, |p| {
            p[PTM].1.pop();
        });
        assert_eq!(bs(bad).0, ModuleName::Ptm);
        let bad = reseal(img, |p| p[PTM].1.truncate(HAS_SOCKET_AT + 1));
        assert_eq!(bs(bad).0, ModuleName::Ptm);
        let bad = reseal(img, |p| p[PTM].1.push(0));
        assert_eq!(bs(bad), (ptm_internal.0, ptm_internal.1, PTM_INTERNAL_LEN));
        // No socket field at all (the block without this field).
        let bad = reseal(img, |p| p[PTM].1.truncate(HAS_SOCKET_AT));
        assert_eq!(bs(bad), (ptm_internal.0, ptm_internal.1, HAS_SOCKET_AT));
    }
    // has_socket = 0 with any non-zero identity byte: refused at that byte.
    for at in HAS_SOCKET_AT + 1..PTM_INTERNAL_LEN {
        for x in [0x01u8, 0xff] {
            let bad = reseal(&without, |p| p[PTM].1[at] = x);
            let e = refused(&bad, End::Master);
            let RestoreError::BadState { what, .. } = e else {
                panic!("{e:?}")
            };
            assert!(what.contains("socket"), "{what}");
            assert_eq!(bs(bad), (ptm_internal.0, ptm_internal.1, at));
        }
    }
    // Clearing has_socket of an image with a socket leaves its identity.
    let bad = reseal(&with, |p| p[PTM].1[HAS_SOCKET_AT] = 0);
    let first_nonzero = HAS_SOCKET_AT + 1; // family
    assert_eq!(bs(bad), (ptm_internal.0, ptm_internal.1, first_nonzero));
    // Setting has_socket of an image without one yields an all-zero
    // identity, which is well formed.
    let zero = reseal(&without, |p| p[PTM].1[HAS_SOCKET_AT] = 1);
    let MetaPart::Master(m) = restore_bytes(&mut pair(), &zero, End::Master).unwrap() else {
        panic!()
    };
    assert_eq!(m.socket, Some(SocketId::default()));
}

#[test]
fn slave_closed_is_restored_only_without_open_slaves() {
    let mut p = pair();
    p.slave_released(&mut Effects::default());
    assert!(p.life.slave_closed);
    let mi = ckpt(&p, End::Master);
    // No slave open in the new pair: master reads see the hangup.
    let mut r = PtyPair::new(VecStorage::new);
    let MetaPart::Master(m) = restore_bytes(&mut r, &mi, End::Master).unwrap() else {
        panic!()
    };
    assert!(m.slave_closed);
    assert!(r.life.slave_closed);
    r.thaw(true, &mut Effects::default());
    assert_eq!(drain_master_io(&mut r), Io::Hangup);
    // A slave is open already: it is not closed.
    let mut r = pair();
    restore_bytes(&mut r, &mi, End::Master).unwrap();
    assert!(!r.life.slave_closed);
}

fn drain_master_io(p: &mut Pair) -> Io {
    let mut buf = [0u8; 16];
    p.master_read(&mut buf, &mut Effects::default())
}

// ---------------------------------------------------------------------
// Rejection
// ---------------------------------------------------------------------

/// Images of a pair with something in every queue and flag: output and
/// echo toward the master with echo held by ^S, packet status pending,
/// master output stopped, two complete lines, a half-typed line, and
/// unprocessed input stuck behind the full echo path.
fn images() -> (Vec<u8>, Vec<u8>) {
    images_with(true)
}

/// As [`images`]; without `fill` the master head is small (and the
/// unprocessed input empty), for tests that try every byte.
fn images_with(fill: bool) -> (Vec<u8>, Vec<u8>) {
    let mut p = pair();
    let mut fx = Effects::default();
    p.set_packet(true);
    assert_eq!(p.slave_write(b"out\n", &mut fx), Io::Done(4));
    if fill {
        let n = MASTER_HEAD_BOUND - 5 - 14;
        assert_eq!(p.slave_write(&vec![b'z'; n], &mut fx), Io::Done(n));
    }
    type_in(&mut p, b"one\ntwo\nhal\x13fg");
    p.master_flow(TCOOFF, &mut fx).unwrap();
    assert!(p.master.head.held > 0);
    assert_eq!(p.slave.pts.input.len(), usize::from(fill));
    (ckpt(&p, End::Master), ckpt(&p, End::Slave))
}

fn blocks<'a>(img: &'a StreamImage<'a>) -> Vec<ModuleBlock<'a>> {
    img.modules().to_vec()
}

/// Re-encodes `img` (valid checksum) after `edit` changed its blocks.
fn reseal(img: &[u8], edit: impl FnOnce(&mut Vec<(ModuleName, Vec<u8>, Vec<u8>)>)) -> Vec<u8> {
    let d = decode(img).unwrap();
    let mut parts: Vec<(ModuleName, Vec<u8>, Vec<u8>)> = blocks(&d)
        .iter()
        .map(|b| (b.name, b.internal.to_vec(), b.external.to_vec()))
        .collect();
    edit(&mut parts);
    let mods: Vec<ModuleBlock<'_>> = parts
        .iter()
        .map(|(name, i, e)| ModuleBlock {
            name: *name,
            internal: i,
            external: e,
        })
        .collect();
    let header: StreamImageHeader = d.header();
    let mut out = vec![0u8; encoded_len(&mods).unwrap()];
    let n = encode(&header, &mods, &mut out).unwrap();
    out.truncate(n);
    out
}

fn with_header(img: &[u8], header: StreamImageHeader) -> Vec<u8> {
    let d = decode(img).unwrap();
    let mods = blocks(&d);
    let mut out = vec![0u8; encoded_len(&mods).unwrap()];
    let n = encode(&header, &mods, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Restoring `img` as `kind` into a fresh pair fails with `expect`, and
/// leaves the pair as it was.
fn refused(img: &[u8], kind: End) -> RestoreError {
    let mut target = pair();
    let before = fingerprint(&target);
    let e = restore_bytes(&mut target, img, kind).unwrap_err();
    assert_eq!(
        fingerprint(&target),
        before,
        "refused restore changed the pair"
    );
    assert!(!e.to_string().is_empty());
    e
}

fn bad_state(e: RestoreError) -> (ModuleName, ModulePart, usize) {
    match e {
        RestoreError::BadState {
            module,
            part,
            offset,
            what,
        } => {
            assert!(!what.is_empty());
            assert_eq!(e.errno(), EINVAL);
            (module, part, offset)
        }
        other => panic!("expected BadState, got {other:?}"),
    }
}

#[test]
fn test_images_are_rich_and_valid() {
    let (mi, si) = images();
    let mut r = pair();
    restore_bytes(&mut r, &mi, End::Master).unwrap();
    restore_bytes(&mut r, &si, End::Slave).unwrap();
    assert!(!r.master.head.read.is_empty() && r.master.head.held > 0);
    assert!(r.master.ptm.packet && r.master.ptm.output_stopped);
    assert!(r.master.ptm.packet_status != 0);
    assert!(r.slave.ldterm.line_lengths().count() == 2);
    assert!(r.slave.ldterm.pending_line().count() > 0);
}

#[test]
fn every_single_byte_corruption_is_refused() {
    let (mi, _) = images_with(false);
    let (_, si) = images();
    for (img, kind) in [(&mi, End::Master), (&si, End::Slave)] {
        for i in 0..img.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut bad = img.clone();
                bad[i] ^= x;
                refused(&bad, kind);
            }
        }
    }
    // The checksum is what catches payload damage.
    let mut bad = si.clone();
    let at = si.windows(3).position(|w| w == b"one").unwrap();
    bad[at] ^= 1;
    assert_eq!(refused(&bad, End::Slave).errno(), EBADMSG);
}

#[test]
fn wrong_kind_and_wrong_chain_are_refused() {
    let (mi, si) = images();
    let e = refused(&mi, End::Slave);
    assert_eq!(
        e,
        RestoreError::WrongKind {
            expected: End::Slave,
            found: End::Master
        }
    );
    assert_eq!(e.errno(), EINVAL);
    refused(&si, End::Master);
    // A master image's blocks under a slave header: chain too short.
    let mut h = decode(&mi).unwrap().header();
    h.kind = End::Slave;
    let e = refused(&with_header(&mi, h), End::Slave);
    assert!(
        matches!(e, RestoreError::Image(ImageError::ChainLength { .. })),
        "{e:?}"
    );
    // Swapped blocks.
    let swapped = reseal(&si, |p| p.swap(2, 3));
    let e = refused(&swapped, End::Slave);
    assert!(
        matches!(e, RestoreError::Image(ImageError::ChainMismatch { .. })),
        "{e:?}"
    );
    assert_eq!(e.errno(), EINVAL);
}

/// Index of each module in its chain.
const HEAD: usize = 0;
const TIOC: usize = 1;
const PTM: usize = 2;
const LDTERM: usize = 2;
const PTS: usize = 3;

#[test]
fn resealed_inconsistent_master_blocks_are_refused() {
    let (mi, _) = images();
    let m = End::Master;
    let bs = |img: Vec<u8>| bad_state(refused(&img, m));
    // Held echo longer than the queue.
    let img = reseal(&mi, |p| {
        let len = p[HEAD].2.len() as u32;
        p[HEAD].1 = (len + 1).to_le_bytes().to_vec();
    });
    assert_eq!(bs(img), (ModuleName::Head, ModulePart::Internal, 0));
    // Oversized master head queue.
    let img = reseal(&mi, |p| {
        p[HEAD].1 = 0u32.to_le_bytes().to_vec();
        p[HEAD].2 = vec![b'q'; MASTER_HEAD_BOUND + 1];
    });
    assert_eq!(bs(img).0, ModuleName::Head);
    // Bad bool (packet mode).
    let img = reseal(&mi, |p| p[PTM].1[6] = 2);
    assert_eq!(bs(img), (ModuleName::Ptm, ModulePart::Internal, 6));
    // Unknown pty mode, and one that differs from the header.
    let img = reseal(&mi, |p| p[PTM].1[4] = 7);
    assert_eq!(bs(img), (ModuleName::Ptm, ModulePart::Internal, 4));
    let img = reseal(&mi, |p| p[PTM].1[4] = 1);
    assert_eq!(bs(img), (ModuleName::Ptm, ModulePart::Internal, 4));
    // Impossible packet status.
    let img = reseal(&mi, |p| p[PTM].1[7] = 0x40);
    assert_eq!(bs(img), (ModuleName::Ptm, ModulePart::Internal, 7));
    let img = reseal(&mi, |p| p[PTM].1[7] = packet::STOP | packet::START);
    assert_eq!(bs(img), (ModuleName::Ptm, ModulePart::Internal, 7));
    // Truncated field, leftover bytes.
    let img = reseal(&mi, |p| {
        p[PTM].1.pop();
    });
    assert_eq!(bs(img).0, ModuleName::Ptm);
    let img = reseal(&mi, |p| p[TIOC].1.push(0));
    assert_eq!(bs(img), (ModuleName::Tioc, ModulePart::Internal, 9));
    let img = reseal(&mi, |p| p[TIOC].2.push(0));
    assert_eq!(bs(img), (ModuleName::Tioc, ModulePart::External, 0));
    let img = reseal(&mi, |p| p[TIOC].1[8] = 3);
    assert_eq!(bs(img), (ModuleName::Tioc, ModulePart::Internal, 8));
}

/// The ldterm flags byte of a slave image.
fn si_flags(si: &[u8]) -> u8 {
    let d = decode(si).unwrap();
    blocks(&d)[LDTERM].internal[52]
}

#[test]
fn resealed_inconsistent_slave_blocks_are_refused() {
    let (_, si) = images();
    let s = End::Slave;
    let bs = |img: Vec<u8>| bad_state(refused(&img, s));
    let lines_at = 4; // ldterm external: count, then lengths
                      // Line lengths that do not add up to the readable bytes.
    let img = reseal(&si, |p| p[LDTERM].2[lines_at] += 1);
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    // An empty line.
    let img = reseal(&si, |p| {
        p[LDTERM].2[lines_at] = 0;
        p[LDTERM].2[lines_at + 1] = 0;
    });
    assert_eq!(
        bs(img),
        (ModuleName::Ldterm, ModulePart::External, lines_at)
    );
    // Line count past the data.
    let img = reseal(&si, |p| p[LDTERM].2[0] = 200);
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    // Truncated readable bytes; leftover after them.
    let img = reseal(&si, |p| {
        p[LDTERM].2.pop();
    });
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    let img = reseal(&si, |p| p[LDTERM].2.push(b'!'));
    assert_eq!(bs(img).1, ModulePart::External);
    // Half line length beyond its bytes, and leftover after them.
    let pend_at = LdtermState::SIZE;
    let img = reseal(&si, |p| p[LDTERM].1[pend_at] += 1);
    assert_eq!(
        bs(img),
        (ModuleName::Ldterm, ModulePart::Internal, pend_at + 4)
    );
    let img = reseal(&si, |p| p[LDTERM].1.push(b'x'));
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    // A termios the pty would never have (parity), unknown flags,
    // TCOOFF without stopped output, unknown step, readable mismatch.
    let img = reseal(&si, |p| p[LDTERM].1[9] |= (PARENB >> 8) as u8);
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 8));
    let img = reseal(&si, |p| p[LDTERM].1[52] |= 0x10);
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 52));
    let img = reseal(&si, |p| p[LDTERM].1[52] = 8);
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 52));
    // Output stopped by ^S (flag 4) with IXON (c_iflag bit 0x400) off: no
    // byte or request could ever restart it.
    assert_eq!(si_flags(&si) & 4, 4, "the image has a ^S stop");
    let img = reseal(&si, |p| p[LDTERM].1[1] &= !((IXON >> 8) as u8));
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 52));
    let img = reseal(&si, |p| p[LDTERM].1[53] = 2);
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 53));
    let img = reseal(&si, |p| p[LDTERM].1[54] = 1);
    assert_eq!(bs(img), (ModuleName::Ldterm, ModulePart::Internal, 54));
    let img = reseal(&si, |p| p[LDTERM].1[44] += 1);
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    // Non-canonical mode with a half-typed line.
    let img = reseal(&si, |p| p[LDTERM].1[12] &= !(ICANON as u8));
    assert_eq!(bs(img).0, ModuleName::Ldterm);
    // Oversized unprocessed input; bad bool in pts.
    let img = reseal(&si, |p| p[PTS].2 = vec![b'u'; PTS_INPUT_BOUND + 1]);
    assert_eq!(
        bs(img),
        (ModuleName::Pts, ModulePart::External, PTS_INPUT_BOUND)
    );
    let img = reseal(&si, |p| p[PTS].1[9] = 9);
    assert_eq!(bs(img), (ModuleName::Pts, ModulePart::Internal, 9));
    let img = reseal(&si, |p| p[PTS].1.truncate(3));
    assert_eq!(bs(img), (ModuleName::Pts, ModulePart::Internal, 0));
    // The slave head has nothing of its own.
    let img = reseal(&si, |p| p[HEAD].2.push(0));
    assert_eq!(bs(img), (ModuleName::Head, ModulePart::External, 0));
    // Foreground process group out of range.
    let img = reseal(&si, |p| {
        p[TIOC].1[9..13].copy_from_slice(&(-5i32).to_le_bytes())
    });
    assert_eq!(bs(img), (ModuleName::Tioc, ModulePart::Internal, 9));
}

#[test]
fn restore_into_a_stream_with_data_is_refused() {
    let (mi, si) = images();
    let mut busy = pair();
    assert_eq!(busy.slave_write(b"x", &mut Effects::default()), Io::Done(1));
    let before = fingerprint(&busy);
    let e = restore_bytes(&mut busy, &mi, End::Master).unwrap_err();
    assert_eq!(e, RestoreError::NotFresh { kind: End::Master });
    assert_eq!(e.errno(), EBUSY);
    assert_eq!(fingerprint(&busy), before);
    // Its slave stream is fresh though.
    restore_bytes(&mut busy, &si, End::Slave).unwrap();
    // Restoring a stream twice is refused.
    let mut r = pair();
    restore_bytes(&mut r, &si, End::Slave).unwrap();
    let before = fingerprint(&r);
    let e = restore_bytes(&mut r, &si, End::Slave).unwrap_err();
    assert_eq!(e.errno(), EBUSY);
    assert_eq!(fingerprint(&r), before);
    let mut typed = pair();
    type_in(&mut typed, b"x");
    typed.master_read(&mut [0u8; 4], &mut Effects::default());
    assert!(!is_fresh(&typed, End::Slave));
    assert!(is_fresh(&typed, End::Master));
}

#[test]
fn allocation_failure_leaves_the_pair_unchanged() {
    let (mi, si) = images();
    for (img, kind) in [(&mi, End::Master), (&si, End::Slave)] {
        let mut p = PtyPair::new(|| VecStorage::limited(8));
        p.slave_opened();
        let before = fingerprint(&p);
        let e = restore_bytes(&mut p, img, kind).unwrap_err();
        assert_eq!(e, RestoreError::NoMemory);
        assert_eq!(e.errno(), ENOMEM);
        assert_eq!(fingerprint(&p), before);
    }
}

#[test]
fn aborted_and_foreign_images_are_refused() {
    let e: RestoreError = ImageError::BadChecksum {
        computed: 1,
        stored: 2,
    }
    .into();
    assert_eq!(e.errno(), EBADMSG);
    assert!(e.to_string().contains("checksum"));
    let (mi, _) = images();
    assert!(matches!(
        refused(&mi[..mi.len() - 8], End::Master),
        RestoreError::Image(_)
    ));
}

#[test]
fn restore_at_refuses_another_pty_before_changing_anything() {
    let (mi, si) = images();
    for (img, kind) in [(&mi, End::Master), (&si, End::Slave)] {
        let image = decode(img).unwrap();
        for target in [
            RestoreTarget {
                index: 4,
                mode: PtyMode::Att,
            },
            RestoreTarget {
                index: 3,
                mode: PtyMode::Bsd,
            },
        ] {
            let mut p = pair();
            let before = fingerprint(&p);
            let e = restore_at(&mut p, &image, kind, target, |_| Ok(())).unwrap_err();
            assert_eq!(
                e,
                RestoreError::OtherPty {
                    expected: (target.index, target.mode),
                    found: (3, PtyMode::Att),
                }
            );
            assert_eq!(e.errno(), EINVAL);
            assert_eq!(fingerprint(&p), before, "{kind:?} into {target:?}");
            assert!(is_fresh(&p, kind));
        }
        let mut p = pair();
        let at = RestoreTarget {
            index: 3,
            mode: PtyMode::Att,
        };
        // What the caller refuses is refused before anything changes too.
        let before = fingerprint(&p);
        let no = RestoreError::NotHere { what: "a test" };
        assert_eq!(restore_at(&mut p, &image, kind, at, |_| Err(no)), Err(no));
        assert_eq!(fingerprint(&p), before);
        let part = restore_at(&mut p, &image, kind, at, |_| Ok(())).unwrap();
        assert_eq!(part.index(), 3);
    }
}
