// SPDX-License-Identifier: GPL-2.0
//! Tests of each module's own checkpoint block (`ModuleState`): every
//! module writes a block it reads back and loads into a fresh module, which
//! then writes the very same block; the size query is exact; a truncated
//! or overlong part names the module, the part and the offset; a module
//! that holds data is not fresh.

mod common;

use common::VecStorage;
use pty_core::checkpoint::{BadBlock, ModuleState, NodeOwner, RestoreError};
use pty_core::codec::FieldWriter;
use pty_core::image::{ModuleBlock, ModuleName, ModulePart, PtyMode, StreamImageHeader};
use pty_core::ldterm::Ldterm;
use pty_core::stream::*;
use pty_core::termios::Termios;
use pty_core::waitlist::SocketId;
use pty_core::End;

type Pair = PtyPair<VecStorage>;

fn header(kind: End) -> StreamImageHeader {
    StreamImageHeader {
        kind,
        mode: PtyMode::Bsd,
        checkpoint_id: 7,
    }
}

/// Both parts of `module`'s block, each written through a writer of
/// exactly the size the module counted.
fn parts<M: ModuleState>(module: &M, facts: &M::Facts) -> [Vec<u8>; 2] {
    let (il, el) = module.encoded_len(facts).unwrap();
    let mut internal = vec![0xaa; il];
    let mut w = FieldWriter::new(&mut internal);
    module.save_internal(facts, &mut w).unwrap();
    assert_eq!(w.finish(), Ok(il), "{} internal size", M::NAME);
    let mut external = vec![0xaa; el];
    let mut w = FieldWriter::new(&mut external);
    module.save_external(facts, &mut w).unwrap();
    assert_eq!(w.finish(), Ok(el), "{} external size", M::NAME);
    [internal, external]
}

fn parse<'a, M: ModuleState>(parts: &'a [Vec<u8>; 2], kind: End) -> Result<M::Saved<'a>, BadBlock> {
    let block = ModuleBlock {
        name: M::NAME,
        internal: &parts[0],
        external: &parts[1],
    };
    M::parse(&block, &header(kind))
}

/// `module`'s block loads into `fresh`, which then writes the same block.
fn round_trip<M: ModuleState>(module: &M, facts: &M::Facts, fresh: &mut M, kind: End) {
    assert!(fresh.is_fresh(), "{}: target not fresh", M::NAME);
    let block = parts(module, facts);
    let saved = parse::<M>(&block, kind).unwrap();
    fresh.load(&saved).unwrap();
    assert_eq!(parts(fresh, facts), block, "{}", M::NAME);
}

/// Cutting the last byte of `part` gives a truncated field at `last_at`
/// (where its last field starts); one byte more is left over at the end.
fn check_part_bounds<M: ModuleState>(
    module: &M,
    facts: &M::Facts,
    kind: End,
    part: ModulePart,
    last_at: usize,
) {
    let whole = parts(module, facts);
    let p = match part {
        ModulePart::Internal => 0,
        ModulePart::External => 1,
    };
    let len = whole[p].len();
    let mut cut = whole.clone();
    cut[p].pop();
    let e = parse::<M>(&cut, kind).err().expect("refused");
    let want = (M::NAME, part, last_at, "truncated field");
    assert_eq!(
        (e.module, e.part, e.offset, e.what),
        want,
        "cut to {}",
        len - 1
    );
    let mut long = whole;
    long[p].push(0);
    let e = parse::<M>(&long, kind).err().expect("refused");
    assert_eq!(
        (e.module, e.part, e.offset),
        (M::NAME, part, len),
        "{}",
        e.what
    );
    assert_eq!(e.what, "bytes left over after the last field");
}

/// A pair with something in every queue: slave output at the master, two
/// complete lines and a half-typed one, unprocessed input behind a full
/// echo path, packet status pending, window size and speeds set.
fn busy_pair() -> Pair {
    let mut p = PtyPair::new(VecStorage::new);
    p.slave_opened();
    let mut fx = Effects::default();
    p.set_packet(true);
    p.set_winsize(
        Winsize {
            rows: 24,
            cols: 80,
            xpixel: 640,
            ypixel: 480,
        },
        &mut fx,
    );
    p.slave.tioc.speeds = [9600, 19200];
    assert_eq!(p.slave_write(b"out\n", &mut fx), Io::Done(4));
    let n = MASTER_HEAD_BOUND - 5 - 14;
    assert_eq!(p.slave_write(&vec![b'z'; n], &mut fx), Io::Done(n));
    for b in b"one\ntwo\nhal\x13fg" {
        assert_eq!(p.master_write(&[*b], &mut fx), Io::Done(1));
    }
    p.master_flow(pty_core::termios::TCOOFF, &mut fx).unwrap();
    assert!(p.master.head.held > 0 && !p.slave.pts.input.is_empty());
    p
}

fn fresh_pair() -> Pair {
    PtyPair::new(VecStorage::new)
}

fn tioc_facts(end: End) -> TiocFacts {
    TiocFacts {
        exclusive: true,
        foreground_pgrp: (end == End::Slave).then_some(4242),
    }
}

fn ptm_facts() -> PtmFacts {
    PtmFacts {
        index: 0x0102_0304,
        mode: PtyMode::Bsd,
        locked: true,
        master_open: false,
        slave_closed: true,
        socket: Some(SocketId {
            family: 2,
            sock_type: 1,
            protocol: 6,
            local_addr: [10; 16],
            local_port: 23,
            remote_addr: [11; 16],
            remote_port: 4000,
        }),
    }
}

fn pts_facts() -> PtsFacts {
    PtsFacts {
        index: 9,
        mode: PtyMode::Bsd,
        slave_opens: 2,
        master_closed: false,
        node: NodeOwner {
            uid: 1000,
            gid: 5,
            mode: 0o620,
        },
    }
}

#[test]
fn every_module_round_trips_its_own_block() {
    let p = busy_pair();
    let mut r = fresh_pair();
    round_trip(&p.master.head, &(), &mut r.master.head, End::Master);
    round_trip(
        &p.master.tioc,
        &tioc_facts(End::Master),
        &mut r.master.tioc,
        End::Master,
    );
    round_trip(&p.master.ptm, &ptm_facts(), &mut r.master.ptm, End::Master);
    round_trip(&SlaveHead, &(), &mut SlaveHead, End::Slave);
    round_trip(
        &p.slave.tioc,
        &tioc_facts(End::Slave),
        &mut r.slave.tioc,
        End::Slave,
    );
    round_trip(&p.slave.ldterm, &(), &mut r.slave.ldterm, End::Slave);
    round_trip(&p.slave.pts, &pts_facts(), &mut r.slave.pts, End::Slave);
    // Loaded state is the module's state, not only its bytes.
    assert_eq!(r.master.head.held, p.master.head.held);
    assert_eq!(r.master.ptm, p.master.ptm);
    assert_eq!(r.slave.tioc, p.slave.tioc);
    assert_eq!(r.master.tioc.winsize, p.master.tioc.winsize);
    assert_eq!(r.slave.ldterm.save(), p.slave.ldterm.save());
}

#[test]
fn blocks_read_back_the_facts_they_carry() {
    let p = busy_pair();
    let block = parts(&p.master.ptm, &ptm_facts());
    let saved = parse::<Ptm>(&block, End::Master).unwrap();
    assert_eq!(saved.facts, ptm_facts());
    let block = parts(&p.slave.pts, &pts_facts());
    let saved = parse::<Pts<VecStorage>>(&block, End::Slave).unwrap();
    assert_eq!(saved.facts, pts_facts());
    assert_eq!(saved.unprocessed.len(), p.slave.pts.input.len());
    let block = parts(&p.slave.tioc, &tioc_facts(End::Slave));
    let saved = parse::<Tioc>(&block, End::Slave).unwrap();
    assert_eq!(saved.foreground_pgrp(), 4242);
    assert_eq!(saved.slave.map(|s| s.speeds), Some([9600, 19200]));
    let block = parts(&p.master.tioc, &tioc_facts(End::Master));
    let saved = parse::<Tioc>(&block, End::Master).unwrap();
    assert_eq!((saved.slave, saved.foreground_pgrp()), (None, 0));
    let block = parts(&p.slave.ldterm, &());
    let saved = parse::<Ldterm<VecStorage>>(&block, End::Slave).unwrap();
    assert_eq!(saved.line_lengths().collect::<Vec<_>>(), [4, 4]);
    assert_eq!(
        (saved.readable, saved.line),
        (&b"one\ntwo\n"[..], &b"half"[..])
    );
}

#[test]
fn truncated_and_overlong_parts_name_module_part_and_offset() {
    let p = busy_pair();
    let (master, slave) = (End::Master, End::Slave);
    let internal = ModulePart::Internal;
    check_part_bounds(&p.master.head, &(), master, internal, 0);
    check_part_bounds(&p.master.tioc, &tioc_facts(master), master, internal, 8);
    check_part_bounds(&p.slave.tioc, &tioc_facts(slave), slave, internal, 17);
    // The remote address, the last field of the socket identity.
    check_part_bounds(&p.master.ptm, &ptm_facts(), master, internal, 38);
    check_part_bounds(&p.slave.pts, &pts_facts(), slave, internal, 18);
    // ldterm's parts end in bytes counted by a length before them: cut
    // the half-typed line or the readable bytes and their read fails at
    // their start.
    let line_at = pty_core::ldterm::LdtermState::SIZE + 4;
    check_part_bounds(&p.slave.ldterm, &(), slave, internal, line_at);
    let readable_at = 4 + 2 * 2;
    check_part_bounds(
        &p.slave.ldterm,
        &(),
        slave,
        ModulePart::External,
        readable_at,
    );
}

#[test]
fn a_state_block_cut_inside_names_the_field() {
    let p = busy_pair();
    let whole = parts(&p.slave.ldterm, &());
    // Cut inside the lookahead word (offset 48).
    let mut cut = whole.clone();
    cut[0].truncate(50);
    let e = parse::<Ldterm<VecStorage>>(&cut, End::Slave).unwrap_err();
    assert_eq!(
        (e.module, e.part, e.offset),
        (ModuleName::Ldterm, ModulePart::Internal, 48)
    );
    // Cut inside the termios: the whole termios is one field at 0.
    let mut cut = whole;
    cut[0].truncate(20);
    let e = parse::<Ldterm<VecStorage>>(&cut, End::Slave).unwrap_err();
    assert_eq!((e.offset, e.what), (0, "truncated field"));
    // The slave head has no fields at all.
    let e = parse::<SlaveHead>(&[vec![], vec![1]], End::Slave).unwrap_err();
    assert_eq!(
        (e.module, e.part, e.offset),
        (ModuleName::Head, ModulePart::External, 0)
    );
}

#[test]
fn a_bad_block_is_a_restore_error() {
    let e = BadBlock {
        module: ModuleName::Pts,
        part: ModulePart::Internal,
        offset: 9,
        what: "flag is neither 0 nor 1",
    };
    assert_eq!(
        RestoreError::from(e),
        RestoreError::BadState {
            module: ModuleName::Pts,
            part: ModulePart::Internal,
            offset: 9,
            what: "flag is neither 0 nor 1",
        }
    );
    assert_eq!(
        RestoreError::from(e).to_string(),
        "pts internal state at offset 9: flag is neither 0 nor 1"
    );
}

#[test]
fn modules_with_data_or_pending_state_are_not_fresh() {
    let p = busy_pair();
    assert!(!p.master.head.is_fresh());
    assert!(!p.master.ptm.is_fresh());
    assert!(!p.slave.ldterm.is_fresh());
    assert!(!p.slave.pts.is_fresh());
    // Settings never count.
    assert!(p.master.tioc.is_fresh() && p.slave.tioc.is_fresh());
    let r = fresh_pair();
    assert!(r.master.head.is_fresh() && r.master.ptm.is_fresh());
    assert!(r.slave.ldterm.is_fresh() && r.slave.pts.is_fresh());
    // Stopped output is pending state too.
    let mut l = Ldterm::new(
        VecStorage::new(),
        VecStorage::new(),
        Termios::pty_slave_default(),
    );
    let _ = l.stop_output();
    assert!(!l.is_fresh());
}

#[test]
fn a_failed_load_leaves_the_module_as_it_was() {
    let mut p = busy_pair();
    assert_eq!(p.slave.pts.input.push(&[b'u'; 100]), Ok(100));
    let block = parts(&p.slave.pts, &pts_facts());
    let saved = parse::<Pts<VecStorage>>(&block, End::Slave).unwrap();
    let mut r = PtyPair::new(|| VecStorage::limited(8));
    assert_eq!(r.slave.pts.load(&saved), Err(RestoreError::NoMemory));
    assert!(r.slave.pts.is_fresh() && r.slave.pts.input.capacity() == 0);
    let block = parts(&p.slave.ldterm, &());
    let saved = parse::<Ldterm<VecStorage>>(&block, End::Slave).unwrap();
    assert_eq!(r.slave.ldterm.load(&saved), Err(RestoreError::NoMemory));
    assert!(r.slave.ldterm.is_fresh());
    let block = parts(&p.master.head, &());
    let saved = parse::<MasterHead<VecStorage>>(&block, End::Master).unwrap();
    assert_eq!(r.master.head.load(&saved), Err(RestoreError::NoMemory));
    assert!(r.master.head.is_fresh());
}
