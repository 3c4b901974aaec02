// SPDX-License-Identifier: GPL-2.0
//! Tests of the restart session's wait lists: scenarios, errors, a model of
//! the list rules checked after every event of random restores, and scale.

mod common;

use common::VecStorage;
use proptest::prelude::*;
use pty_core::storage::{AllocError, FixedStorage, Storage};
use pty_core::waitlist::*;
use pty_core::End;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

type Session = RestartSession<VecStorage>;

fn sock(n: u16) -> SocketId {
    SocketId {
        family: 2,
        sock_type: 1,
        protocol: 6,
        local_addr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        local_port: 23,
        remote_addr: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        remote_port: 40000 + n,
    }
}

/// A sealed session over `0..max` expecting `pairs`.
fn session(max: u32, pairs: &[(u32, Ends, Option<SocketId>)]) -> Session {
    let mut s = RestartSession::begin(VecStorage::new(), VecStorage::new(), max);
    for &(i, e, so) in pairs {
        s.expect(i, e, so).unwrap();
    }
    s.seal().unwrap();
    s
}

fn pts(s: &Session) -> Vec<PtsEntry> {
    s.pts_list().iter().collect()
}

fn ptm(s: &Session) -> Vec<u32> {
    s.ptm_wait_list().iter().collect()
}

fn sockw(s: &Session) -> Vec<u32> {
    s.socket_wait_list().iter().map(|(i, _)| i).collect()
}

fn orphans(s: &Session) -> Vec<Orphan> {
    s.orphans().iter().collect()
}

fn commit_orphans(s: &mut Session) -> Vec<Orphan> {
    match s.commit() {
        Err(CommitError::Orphans(o)) => o.iter().collect(),
        other => panic!("expected orphans, got {other:?}"),
    }
}

fn o(index: u32, what: OrphanKind) -> Orphan {
    Orphan { index, what }
}

use PtsEntry::{Dummy, Real};

#[test]
fn master_first() {
    let mut s = session(8, &[(3, Ends::Both, None)]);
    s.master_restored(3).unwrap();
    assert_eq!(pts(&s), []);
    assert_eq!(ptm(&s), [3]);
    assert!(!s.lists_empty());
    s.slave_restored(3).unwrap();
    assert_eq!(ptm(&s), Vec::<u32>::new());
    assert!(s.lists_empty() && s.is_complete());
    s.commit().unwrap();
    assert_eq!(s.phase(), Phase::Committed);
}

#[test]
fn slave_first() {
    let mut s = session(8, &[(3, Ends::Both, None)]);
    s.slave_restored(3).unwrap();
    assert_eq!(pts(&s), [Real(3)]);
    assert_eq!(s.pts_list().highest(), Some(3));
    assert_eq!(ptm(&s), Vec::<u32>::new());
    s.master_restored(3).unwrap();
    assert!(s.pts_list().is_empty());
    assert_eq!(pts(&s), []);
    s.commit().unwrap();
}

#[test]
fn slave_2_before_0_makes_dummies() {
    let both = |i| (i, Ends::Both, None);
    let mut s = session(8, &[both(0), both(1), both(2), both(5)]);
    s.slave_restored(2).unwrap();
    assert_eq!(pts(&s), [Dummy(0), Dummy(1), Real(2)]);
    // A slave turns its dummy into a real entry.
    s.slave_restored(1).unwrap();
    assert_eq!(pts(&s), [Dummy(0), Real(1), Real(2)]);
    // A master removes its dummy and waits for its slave.
    s.master_restored(0).unwrap();
    assert_eq!(pts(&s), [Real(1), Real(2)]);
    assert_eq!(ptm(&s), [0]);
    // A higher slave adds dummies for the untouched minors below it only.
    s.slave_restored(5).unwrap();
    assert_eq!(pts(&s), [Real(1), Real(2), Real(5)]);
    s.master_restored(5).unwrap();
    s.master_restored(2).unwrap();
    assert_eq!(pts(&s), [Real(1)]);
    s.master_restored(1).unwrap();
    s.slave_restored(0).unwrap();
    assert!(s.lists_empty());
    s.commit().unwrap();
}

#[test]
fn dummies_leave_with_the_highest_waiting_slave() {
    let both = |i| (i, Ends::Both, None);
    let mut s = session(16, &[both(0), both(3), both(7), both(9)]);
    s.slave_restored(3).unwrap();
    s.slave_restored(9).unwrap();
    assert_eq!(pts(&s), [Dummy(0), Real(3), Dummy(7), Real(9)]);
    s.master_restored(9).unwrap();
    // 7 no longer lies below a waiting slave.
    assert_eq!(pts(&s), [Dummy(0), Real(3)]);
    assert_eq!(ptm(&s), Vec::<u32>::new());
    s.master_restored(3).unwrap();
    assert_eq!(pts(&s), []);
    assert!(s.lists_empty());
    assert!(!s.is_complete());
    assert_eq!(
        commit_orphans(&mut s),
        [
            o(0, OrphanKind::Master),
            o(0, OrphanKind::Slave),
            o(7, OrphanKind::Master),
            o(7, OrphanKind::Slave),
        ]
    );
}

#[test]
fn socket_before_ends() {
    let mut s = session(4, &[(1, Ends::Both, Some(sock(1)))]);
    assert_eq!(s.socket_restored(&sock(1)), Ok(1));
    assert!(s.lists_empty());
    s.slave_restored(1).unwrap();
    s.master_restored(1).unwrap();
    assert_eq!(sockw(&s), Vec::<u32>::new());
    s.commit().unwrap();
}

#[test]
fn socket_after_ends() {
    let mut s = session(4, &[(1, Ends::Both, Some(sock(1))), (2, Ends::Both, None)]);
    s.master_restored(1).unwrap();
    assert_eq!(sockw(&s), Vec::<u32>::new());
    s.slave_restored(1).unwrap();
    let waiting: Vec<_> = s.socket_wait_list().iter().collect();
    assert_eq!(waiting, [(1, sock(1))]);
    assert_eq!(s.socket_wait_list().len(), 1);
    assert_eq!(s.socket_restored(&sock(1)), Ok(1));
    assert!(s.socket_wait_list().is_empty());
    s.master_restored(2).unwrap();
    s.slave_restored(2).unwrap();
    s.commit().unwrap();
}

#[test]
fn only_slave_pairs() {
    let mut s = session(8, &[(1, Ends::Slave, None), (4, Ends::Both, None)]);
    s.slave_restored(4).unwrap();
    // The slave-only pair 1 is untouched below a waiting slave: a dummy.
    assert_eq!(pts(&s), [Dummy(1), Real(4)]);
    // Its slave needs no master: it leaves the list and waits for nothing.
    s.slave_restored(1).unwrap();
    assert_eq!(pts(&s), [Real(4)]);
    assert_eq!(ptm(&s), Vec::<u32>::new());
    assert_eq!(
        s.master_restored(1),
        Err(SessionError::NotExpected {
            index: 1,
            end: End::Master
        })
    );
    s.master_restored(4).unwrap();
    s.commit().unwrap();
}

#[test]
fn only_master_pairs() {
    let mut s = session(8, &[(2, Ends::Master, Some(sock(2)))]);
    s.master_restored(2).unwrap();
    // No slave to wait for; its socket is what is missing.
    assert_eq!(ptm(&s), Vec::<u32>::new());
    assert_eq!(sockw(&s), [2]);
    assert_eq!(
        s.slave_restored(2),
        Err(SessionError::NotExpected {
            index: 2,
            end: End::Slave
        })
    );
    s.socket_restored(&sock(2)).unwrap();
    s.commit().unwrap();
}

#[test]
fn event_errors_change_nothing() {
    let mut s = session(8, &[(1, Ends::Both, Some(sock(1))), (3, Ends::Slave, None)]);
    s.slave_restored(1).unwrap();
    let before = (pts(&s), ptm(&s), sockw(&s), orphans(&s));
    assert_eq!(
        s.master_restored(2),
        Err(SessionError::UnknownIndex { index: 2 })
    );
    assert_eq!(
        s.slave_restored(100),
        Err(SessionError::UnknownIndex { index: 100 })
    );
    assert_eq!(
        s.slave_restored(1),
        Err(SessionError::AlreadyRestored {
            index: 1,
            end: End::Slave
        })
    );
    assert_eq!(
        s.master_restored(3),
        Err(SessionError::NotExpected {
            index: 3,
            end: End::Master
        })
    );
    assert_eq!(
        s.socket_restored(&sock(3)),
        Err(SessionError::UnknownSocket)
    );
    s.socket_restored(&sock(1)).unwrap();
    assert_eq!(
        s.socket_restored(&sock(1)),
        Err(SessionError::SocketAlreadyRestored { index: 1 })
    );
    assert_eq!(before.0, pts(&s));
    assert_eq!(before.1, ptm(&s));
    assert_eq!(s.missing(), 2);
    assert_eq!(s.expect(5, Ends::Both, None), Err(SessionError::Sealed));
    assert_eq!(s.seal(), Err(SessionError::Sealed));
}

#[test]
fn registration_errors() {
    let mut s = Session::begin(VecStorage::new(), VecStorage::new(), 4);
    assert_eq!(s.master_restored(0), Err(SessionError::NotSealed));
    assert_eq!(
        s.expect(4, Ends::Both, None),
        Err(SessionError::OutOfRange { index: 4 })
    );
    s.expect(1, Ends::Both, Some(sock(9))).unwrap();
    assert_eq!(
        s.expect(1, Ends::Slave, None),
        Err(SessionError::DuplicateIndex { index: 1 })
    );
    assert!(matches!(
        s.commit(),
        Err(CommitError::Session(SessionError::NotSealed))
    ));
    // Out of order: duplicates are found when sealing.
    s.expect(3, Ends::Both, None).unwrap();
    s.expect(0, Ends::Both, None).unwrap();
    s.expect(3, Ends::Master, None).unwrap();
    assert_eq!(
        s.expect(2, Ends::Master, None),
        Err(SessionError::DuplicateIndex { index: 2 })
    );
    assert_eq!(s.seal(), Err(SessionError::DuplicateIndex { index: 3 }));
    assert_eq!(s.phase(), Phase::Registering);
    assert_eq!(s.abort().unwrap().count(), 0);

    let mut s = Session::begin(VecStorage::new(), VecStorage::new(), 8);
    s.expect(5, Ends::Both, Some(sock(1))).unwrap();
    s.expect(2, Ends::Both, Some(sock(1))).unwrap();
    assert_eq!(
        s.seal(),
        Err(SessionError::DuplicateSocket {
            first: 2,
            second: 5
        })
    );
}

#[test]
fn duplicate_sockets_name_the_two_lowest_pairs_in_any_order() {
    for order in [[5u32, 2, 7], [7, 5, 2], [2, 7, 5], [7, 2, 5]] {
        let mut s = Session::begin(VecStorage::new(), VecStorage::new(), 8);
        s.expect(0, Ends::Both, Some(sock(0))).unwrap();
        for i in order {
            s.expect(i, Ends::Both, Some(sock(1))).unwrap();
        }
        assert_eq!(
            s.seal(),
            Err(SessionError::DuplicateSocket {
                first: 2,
                second: 5
            }),
            "registered {order:?}"
        );
    }
}

#[test]
fn out_of_order_registration_is_sorted() {
    let mut s = Session::begin(VecStorage::new(), VecStorage::new(), 100);
    for i in [50u32, 7, 99, 0, 13] {
        s.expect(i, Ends::Both, Some(sock(i as u16))).unwrap();
    }
    assert_eq!(s.pair(13).unwrap().socket, Some(sock(13)));
    s.seal().unwrap();
    let idx: Vec<u32> = s.pairs().map(|p| p.index).collect();
    assert_eq!(idx, [0, 7, 13, 50, 99]);
    for i in [50u32, 7, 99, 0, 13] {
        assert_eq!(s.socket_restored(&sock(i as u16)), Ok(i));
        assert_eq!(s.pair(i).unwrap().socket, Some(sock(i as u16)));
    }
    assert!(s.pair(8).is_none());
}

#[test]
fn operations_after_commit_or_abort() {
    let mut s = session(4, &[(0, Ends::Master, None)]);
    s.master_restored(0).unwrap();
    s.commit().unwrap();
    assert_eq!(s.master_restored(0), Err(SessionError::Closed));
    assert_eq!(s.socket_restored(&sock(0)), Err(SessionError::Closed));
    assert!(matches!(
        s.commit(),
        Err(CommitError::Session(SessionError::Closed))
    ));
    assert!(matches!(s.abort(), Err(SessionError::Closed)));
    assert_eq!(s.expect(1, Ends::Both, None), Err(SessionError::Closed));

    let mut s = session(4, &[(0, Ends::Both, None)]);
    s.abort().unwrap();
    assert_eq!(s.phase(), Phase::Aborted);
    assert_eq!(s.slave_restored(0), Err(SessionError::Closed));
    assert!(matches!(s.abort(), Err(SessionError::Closed)));
}

#[test]
fn commit_orphans_of_each_kind_then_abort() {
    let mut s = session(
        16,
        &[
            (0, Ends::Both, None),
            (2, Ends::Both, Some(sock(2))),
            (4, Ends::Slave, None),
            (6, Ends::Both, None),
            (9, Ends::Master, Some(sock(9))),
        ],
    );
    s.master_restored(0).unwrap(); // PTM wait list: slave 0 missing
    s.slave_restored(2).unwrap();
    s.master_restored(2).unwrap(); // socket wait list: socket 2 missing
    s.slave_restored(6).unwrap(); // PTS list: master 6 missing, dummy 4
    s.socket_restored(&sock(9)).unwrap(); // pair 9's master missing
    assert_eq!(pts(&s), [Dummy(4), Real(6)]);
    assert_eq!(ptm(&s), [0]);
    assert_eq!(sockw(&s), [2]);
    let expected = [
        o(0, OrphanKind::Slave),
        o(2, OrphanKind::Socket(sock(2))),
        o(4, OrphanKind::Slave),
        o(6, OrphanKind::Master),
        o(9, OrphanKind::Master),
    ];
    {
        let Err(CommitError::Orphans(orph)) = s.commit() else {
            panic!("commit must fail");
        };
        assert_eq!(orph.len(), 5);
        assert_eq!(orph.iter().collect::<Vec<_>>(), expected);
        // Log line.
        assert_eq!(
            orph.to_string(),
            "5 orphans: pty 0 slave, pty 2 socket (inet type 1 proto 6 \
             10.0.0.1:23 -> 10.0.0.2:40002), pty 4 slave, pty 6 master, pty 9 master"
        );
        assert_eq!(
            orph.summary(2).to_string(),
            "5 orphans: pty 0 slave, pty 2 socket (inet type 1 proto 6 \
             10.0.0.1:23 -> 10.0.0.2:40002), and 3 more"
        );
        // User-space records, bounded by the buffer.
        let mut buf = [0u8; 3 * ORPHAN_RECORD_LEN + 7];
        assert_eq!(orph.write_records(&mut buf), 3);
        let decoded: Vec<Orphan> = buf
            .chunks_exact(ORPHAN_RECORD_LEN)
            .map(|c| Orphan::from_record(c.try_into().unwrap()).unwrap())
            .collect();
        assert_eq!(decoded, expected[..3]);
    }
    // A failed commit changes nothing.
    assert_eq!(s.phase(), Phase::Restoring);
    assert_eq!(orphans(&s), expected);
    let restored: Vec<_> = s.abort().unwrap().collect();
    assert_eq!(
        restored,
        [(0, Ends::Master), (2, Ends::Both), (6, Ends::Slave)]
    );
}

#[test]
fn orphan_record_layout() {
    let r = Orphan {
        index: 0x0102_0304,
        what: OrphanKind::Socket(sock(7)),
    }
    .to_record();
    assert_eq!(&r[0..4], &0x0102_0304u32.to_ne_bytes());
    assert_eq!(&r[4..6], &ORPHAN_SOCKET.to_ne_bytes());
    assert_eq!(&r[8..10], &2u16.to_ne_bytes());
    assert_eq!(&r[14..16], &23u16.to_ne_bytes());
    assert_eq!(&r[16..18], &40007u16.to_ne_bytes());
    assert_eq!(&r[20..24], &[10, 0, 0, 1]);
    assert_eq!(&r[36..40], &[10, 0, 0, 2]);
    let m = Orphan {
        index: 5,
        what: OrphanKind::Master,
    };
    assert_eq!(Orphan::from_record(&m.to_record()), Some(m));
    let mut bad = m.to_record();
    bad[4] = 9;
    assert_eq!(Orphan::from_record(&bad), None);
    let v6 = SocketId {
        family: 10,
        local_addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        local_port: 22,
        ..SocketId::default()
    };
    assert_eq!(
        v6.to_string(),
        "inet6 type 0 proto 0 [2001:db8:0:0:0:0:0:1]:22 -> [0:0:0:0:0:0:0:0]:0"
    );
}

#[test]
fn empty_session_commits() {
    let mut s = session(4, &[]);
    assert!(s.is_complete() && s.lists_empty());
    s.commit().unwrap();
}

#[test]
fn sparse_session_costs_only_its_pairs() {
    let mut s = RestartSession::begin(VecStorage::new(), VecStorage::new(), 1 << 20);
    s.expect(1_000_000, Ends::Both, None).unwrap();
    s.expect(3, Ends::Both, Some(sock(3))).unwrap();
    s.seal().unwrap();
    s.slave_restored(1_000_000).unwrap();
    assert_eq!(pts(&s), [Dummy(3), Real(1_000_000)]);
    assert!(
        s.pairs().count() == 2,
        "only the expected pairs are in the table"
    );
}

#[test]
fn fixed_storage_and_allocation_failure() {
    type Fixed = FixedStorage<256>;
    let mut s = RestartSession::begin(Fixed::new(), Fixed::new(), 1000);
    // 256 bytes hold 16 sealed pairs (16 bytes each) and 4 sockets (52).
    for i in 0..16 {
        let so = (i < 4).then(|| sock(i as u16));
        s.expect(i * 10, Ends::Both, so).unwrap();
    }
    // The socket table is full: the pair is refused as a whole.
    assert_eq!(
        s.expect(501, Ends::Slave, Some(sock(100))),
        Err(SessionError::NoMemory)
    );
    assert_eq!(s.len(), 16);
    assert_eq!(s.missing(), 16 * 2 + 4);
    s.seal().unwrap();
    for i in 0..16 {
        s.slave_restored(i * 10).unwrap();
    }
    assert_eq!(s.pts_list().real_len(), 16);
    for i in 0..16 {
        s.master_restored(i * 10).unwrap();
    }
    for i in 0..4 {
        s.socket_restored(&sock(i)).unwrap();
    }
    s.commit().unwrap();

    // 256 bytes hold 21 pair records while registering, but not their
    // Fenwick tree: sealing fails and changes nothing.
    let mut s = RestartSession::begin(Fixed::new(), Fixed::new(), 100);
    for i in 0..21 {
        s.expect(i, Ends::Both, None).unwrap();
    }
    assert_eq!(s.expect(21, Ends::Both, None), Err(SessionError::NoMemory));
    assert_eq!(s.seal(), Err(SessionError::NoMemory));
    assert_eq!(s.phase(), Phase::Registering);
    assert_eq!(s.len(), 21);
    assert_eq!(s.abort().unwrap().count(), 0);
}

/// A `Storage` that, once told to, shows none of the bytes it granted.
#[derive(Debug)]
struct Forgetful {
    buf: Vec<u8>,
    forget: Rc<Cell<bool>>,
}

impl Storage for Forgetful {
    fn as_slice(&self) -> &[u8] {
        if self.forget.get() {
            &[]
        } else {
            &self.buf
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.forget.get() {
            &mut []
        } else {
            &mut self.buf
        }
    }

    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        self.buf.resize(new_len, 0);
        Ok(())
    }

    fn release(&mut self) {
        self.buf = Vec::new();
    }
}

#[test]
fn lost_table_bytes_are_a_fault_not_a_made_up_record() {
    let forget = Rc::new(Cell::new(false));
    let storage = || Forgetful {
        buf: Vec::new(),
        forget: forget.clone(),
    };
    let mut s = RestartSession::begin(storage(), storage(), 8);
    s.expect(1, Ends::Both, Some(sock(1))).unwrap();
    forget.set(true);
    assert_eq!(s.expect(2, Ends::Both, None), Err(SessionError::TableFault));
    forget.set(false);
    s.expect(2, Ends::Both, None).unwrap();
    s.seal().unwrap();
    s.slave_restored(2).unwrap();
    forget.set(true);
    assert_eq!(s.master_restored(1), Err(SessionError::TableFault));
    assert_eq!(s.socket_restored(&sock(1)), Err(SessionError::TableFault));
    assert_eq!(
        SessionError::TableFault.errno(),
        pty_core::errno::Errno::EIO
    );
    // Queries find nothing rather than a pair 0 with no ends.
    assert!(s.pair(1).is_none());
    assert_eq!(s.pairs().count(), 0);
    assert_eq!(s.pts_list().highest(), None);
    assert!(s.orphans().iter().next().is_none());
    // The refused events changed nothing.
    forget.set(false);
    let entries: Vec<_> = s.pts_list().iter().collect();
    assert_eq!(entries, [Dummy(1), Real(2)]);
    s.master_restored(1).unwrap();
    assert_eq!(s.socket_restored(&sock(1)), Ok(1));
}

#[test]
fn scale_descending_slaves_then_masters() {
    const N: u32 = 4096;
    let start = Instant::now();
    let mut s = RestartSession::begin(VecStorage::new(), VecStorage::new(), N);
    for i in 0..N {
        s.expect(i, Ends::Both, None).unwrap();
    }
    s.seal().unwrap();
    for i in (0..N).rev() {
        s.slave_restored(i).unwrap();
        assert_eq!(s.pts_list().highest(), Some(N - 1));
    }
    assert_eq!(s.pts_list().real_len(), N as usize);
    for i in (0..N).rev() {
        s.master_restored(i).unwrap();
        assert_eq!(s.pts_list().highest(), i.checked_sub(1));
    }
    assert!(s.lists_empty());
    s.commit().unwrap();
    let t = start.elapsed();
    assert!(t < Duration::from_secs(1), "took {t:?}");
}

#[test]
fn scale_adversarial_highest_entry() {
    // A low real entry and a high one that keeps leaving: each event must
    // find the next highest waiting slave without walking the table.
    const N: u32 = 1 << 16;
    let start = Instant::now();
    let mut s = RestartSession::begin(VecStorage::new(), VecStorage::new(), N);
    for i in (0..N).rev() {
        s.expect(i, Ends::Both, None).unwrap();
    }
    s.seal().unwrap();
    s.slave_restored(0).unwrap();
    for i in (1..N).rev() {
        s.slave_restored(i).unwrap();
        s.master_restored(i).unwrap();
        assert_eq!(s.pts_list().highest(), Some(0));
    }
    s.master_restored(0).unwrap();
    s.commit().unwrap();
    let t = start.elapsed();
    assert!(t < Duration::from_secs(1), "took {t:?}");
}

// ---- Model and properties ----

#[derive(Clone, Copy, Debug)]
struct Expected {
    ends: Ends,
    socket: Option<SocketId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Master(u32),
    Slave(u32),
    Socket(SocketId),
}

/// The list rules, written from their definitions over the set of restored
/// items.
#[derive(Default)]
struct Model {
    pairs: BTreeMap<u32, Expected>,
    got: BTreeSet<(u32, u8)>, // 0 master, 1 slave, 2 socket
}

impl Model {
    fn has(&self, i: u32, k: u8) -> bool {
        self.got.contains(&(i, k))
    }

    fn is_real(&self, i: u32) -> bool {
        let e = self.pairs[&i];
        self.has(i, 1) && e.ends.has_master() && !self.has(i, 0)
    }

    fn untouched(&self, i: u32) -> bool {
        !self.has(i, 0) && !self.has(i, 1)
    }

    fn ends_done(&self, i: u32) -> bool {
        let e = self.pairs[&i];
        (!e.ends.has_master() || self.has(i, 0)) && (!e.ends.has_slave() || self.has(i, 1))
    }

    fn pts(&self) -> Vec<PtsEntry> {
        let Some(h) = self
            .pairs
            .keys()
            .copied()
            .filter(|&i| self.is_real(i))
            .max()
        else {
            return vec![];
        };
        self.pairs
            .keys()
            .copied()
            .filter(|&i| i <= h)
            .filter_map(|i| {
                if self.is_real(i) {
                    Some(Real(i))
                } else if self.untouched(i) {
                    Some(Dummy(i))
                } else {
                    None
                }
            })
            .collect()
    }

    fn ptm(&self) -> Vec<u32> {
        self.pairs
            .iter()
            .filter(|(&i, e)| self.has(i, 0) && e.ends.has_slave() && !self.has(i, 1))
            .map(|(&i, _)| i)
            .collect()
    }

    fn sockw(&self) -> Vec<u32> {
        self.pairs
            .iter()
            .filter(|(&i, e)| self.ends_done(i) && e.socket.is_some() && !self.has(i, 2))
            .map(|(&i, _)| i)
            .collect()
    }

    fn orphans(&self) -> Vec<Orphan> {
        let mut v = vec![];
        for (&i, e) in &self.pairs {
            if e.ends.has_master() && !self.has(i, 0) {
                v.push(o(i, OrphanKind::Master));
            }
            if e.ends.has_slave() && !self.has(i, 1) {
                v.push(o(i, OrphanKind::Slave));
            }
            if let Some(so) = e.socket {
                if !self.has(i, 2) {
                    v.push(o(i, OrphanKind::Socket(so)));
                }
            }
        }
        v
    }

    /// What the session must answer to `ev`, applying it when accepted.
    fn apply(&mut self, ev: Event) -> Result<(), SessionError> {
        let (i, k, end) = match ev {
            Event::Master(i) => (i, 0, End::Master),
            Event::Slave(i) => (i, 1, End::Slave),
            Event::Socket(id) => {
                let Some((&i, _)) = self.pairs.iter().find(|(_, e)| e.socket == Some(id)) else {
                    return Err(SessionError::UnknownSocket);
                };
                if !self.got.insert((i, 2)) {
                    return Err(SessionError::SocketAlreadyRestored { index: i });
                }
                return Ok(());
            }
        };
        let Some(e) = self.pairs.get(&i) else {
            return Err(SessionError::UnknownIndex { index: i });
        };
        if !e.ends.has(end) {
            return Err(SessionError::NotExpected { index: i, end });
        }
        if !self.got.insert((i, k)) {
            return Err(SessionError::AlreadyRestored { index: i, end });
        }
        Ok(())
    }

    fn all_events(&self) -> Vec<Event> {
        let mut v = vec![];
        for (&i, e) in &self.pairs {
            if e.ends.has_master() {
                v.push(Event::Master(i));
            }
            if e.ends.has_slave() {
                v.push(Event::Slave(i));
            }
            if let Some(so) = e.socket {
                v.push(Event::Socket(so));
            }
        }
        v
    }
}

fn apply(s: &mut Session, ev: Event) -> Result<(), SessionError> {
    match ev {
        Event::Master(i) => s.master_restored(i),
        Event::Slave(i) => s.slave_restored(i),
        Event::Socket(id) => s.socket_restored(&id).map(|_| ()),
    }
}

/// Structural invariants of the lists, from the session alone.
fn check_invariants(s: &Session) -> Result<(), TestCaseError> {
    let p = pts(s);
    let status: BTreeMap<u32, PairStatus> = s.pairs().map(|st| (st.index, st)).collect();
    // Ordered, ending with a real entry which is the highest.
    prop_assert!(p.windows(2).all(|w| w[0].index() < w[1].index()));
    prop_assert!(p.last().is_none_or(|e| matches!(e, Real(_))));
    prop_assert_eq!(p.last().map(|e| e.index()), s.pts_list().highest());
    prop_assert_eq!(p.is_empty(), s.pts_list().is_empty());
    let reals = p.iter().filter(|e| matches!(e, Real(_))).count();
    prop_assert_eq!(reals, s.pts_list().real_len());
    // Gap-free below the highest: every session minor below it is on the
    // list or has an end restored.
    if let Some(h) = s.pts_list().highest() {
        for st in status.values().filter(|st| st.index < h) {
            let on = p.iter().any(|e| e.index() == st.index);
            prop_assert!(on || st.master_restored || st.slave_restored);
        }
    }
    // Each entry stands for a missing item.
    for e in &p {
        let st = status[&e.index()];
        match e {
            Real(_) => prop_assert!(st.slave_restored && !st.master_restored),
            Dummy(_) => prop_assert!(!st.slave_restored && !st.master_restored),
        }
    }
    let m = ptm(s);
    let w = sockw(s);
    prop_assert_eq!(m.len(), s.ptm_wait_list().len());
    prop_assert_eq!(w.len(), s.socket_wait_list().len());
    for i in &m {
        let st = status[i];
        prop_assert!(st.master_restored && !st.slave_restored);
    }
    for (i, id) in s.socket_wait_list().iter() {
        let st = status[&i];
        prop_assert_eq!(st.socket, Some(id));
        prop_assert!(!st.socket_restored);
    }
    // No index on two lists.
    let mut seen = BTreeSet::new();
    for i in p.iter().map(|e| e.index()).chain(m).chain(w) {
        prop_assert!(seen.insert(i), "index {} on two lists", i);
    }
    prop_assert_eq!(s.lists_empty(), seen.is_empty());
    // Complete implies empty lists.
    prop_assert!(!s.is_complete() || seen.is_empty());
    Ok(())
}

/// Random sessions: up to 40 pairs among minors `0..64`, random ends,
/// optional (distinct) sockets, registered in random order.
fn arb_pairs() -> impl Strategy<Value = Vec<(u32, Ends, Option<SocketId>)>> {
    let ends = prop_oneof![Just(Ends::Master), Just(Ends::Slave), Just(Ends::Both)];
    proptest::collection::btree_map(0u32..64, (ends, any::<bool>()), 0..40)
        .prop_map(|m| {
            m.into_iter()
                .map(|(i, (e, so))| (i, e, so.then(|| sock(i as u16))))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn model_of(pairs: &[(u32, Ends, Option<SocketId>)]) -> Model {
    Model {
        pairs: pairs
            .iter()
            .map(|&(i, ends, socket)| (i, Expected { ends, socket }))
            .collect(),
        got: BTreeSet::new(),
    }
}

fn check_against(s: &Session, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(pts(s), m.pts());
    prop_assert_eq!(ptm(s), m.ptm());
    prop_assert_eq!(sockw(s), m.sockw());
    prop_assert_eq!(orphans(s), m.orphans());
    prop_assert_eq!(s.missing(), m.orphans().len());
    check_invariants(s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any order of all events drains the lists exactly at the last one;
    /// every strict prefix fails to commit, naming exactly what is missing.
    #[test]
    fn any_order_completes_exactly_at_the_end(
        (pairs, order) in arb_pairs().prop_flat_map(|pairs| {
            let n = model_of(&pairs).all_events().len();
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (Just(pairs), order)
        })
    ) {
        let mut s = session(64, &pairs);
        let mut m = model_of(&pairs);
        let events = m.all_events();
        check_against(&s, &m)?;
        for (k, &e) in order.iter().enumerate() {
            match s.commit() {
                Err(CommitError::Orphans(o)) => {
                    prop_assert_eq!(o.iter().collect::<Vec<_>>(), m.orphans());
                    prop_assert_eq!(o.len(), events.len() - k);
                }
                other => prop_assert!(false, "prefix {} committed: {:?}", k, other),
            }
            prop_assert_eq!(apply(&mut s, events[e]), m.apply(events[e]));
            check_against(&s, &m)?;
        }
        prop_assert!(s.lists_empty());
        prop_assert!(s.pts_list().iter().next().is_none());
        prop_assert!(s.is_complete());
        prop_assert!(s.commit().is_ok());
    }

    /// Valid and invalid events mixed: each answer matches the model, a
    /// refused event changes nothing, and abort yields exactly the pairs
    /// with a restored end.
    #[test]
    fn random_events_match_the_model(
        pairs in arb_pairs(),
        evs in proptest::collection::vec(
            prop_oneof![
                (0u32..70).prop_map(Event::Master),
                (0u32..70).prop_map(Event::Slave),
                (0u16..70).prop_map(|p| Event::Socket(sock(p))),
            ],
            0..120,
        ),
    ) {
        let mut s = session(64, &pairs);
        let mut m = model_of(&pairs);
        for e in evs {
            prop_assert_eq!(apply(&mut s, e), m.apply(e));
            check_against(&s, &m)?;
        }
        let complete = m.orphans().is_empty();
        prop_assert_eq!(s.commit().is_ok(), complete);
        if !complete {
            let want: Vec<(u32, Ends)> = m
                .pairs
                .keys()
                .filter_map(|&i| Ends::from_parts(m.has(i, 0), m.has(i, 1)).map(|e| (i, e)))
                .collect();
            let got: Vec<_> = s.abort().unwrap().collect();
            prop_assert_eq!(got, want);
        }
    }
}
