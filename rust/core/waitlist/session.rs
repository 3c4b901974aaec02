// SPDX-License-Identifier: GPL-2.0
//! The restart session: registration, restore events, commit and abort.

use core::cmp::Ordering;

use super::super::end::End;
use super::super::storage::Storage;
use super::error::{CommitError, SessionError};
use super::orphans::Orphans;
use super::pair::{
    Ends, Flags, PairStatus, EXP_MASTER, EXP_SLAVE, EXP_SOCKET, GOT_MASTER, GOT_SLAVE, GOT_SOCKET,
};
use super::ptm_wait_list::PtmWaitList;
use super::pts_list::PtsList;
use super::socket_id::SocketId;
use super::socket_wait_list::SocketWaitList;
use super::tables::{
    cmp_pairs, cmp_sockets, grow_for, read_u32, read_u8, rec_off, record, sort_records, to_u32,
    write_key, write_u32, write_u8, FEN, PAIR_FLAGS, PAIR_INDEX, PAIR_REC, PAIR_SEALED,
    PAIR_SOCKET, SOCK_INDEX, SOCK_PAIR, SOCK_REC,
};

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Pairs are being registered.
    Registering,
    /// Sealed; restore events are accepted.
    Restoring,
    /// Committed: the restore is complete.
    Committed,
    /// Aborted: the restored ends are to be torn down.
    Aborted,
}

/// A restart session of AT&T-mode pairs: the registered pairs, what has
/// been restored of them, and the three wait lists (see the module doc for
/// the rules).
///
/// # Invariants
///
/// `pairs` holds `n` records (sorted by index and free of duplicates once
/// sealed), followed after sealing by a Fenwick tree of `n` counters where
/// position `p` counts 1 exactly when record `p` is a real PTS entry.
/// `sockets` holds `n_sockets` records, sorted by identity once sealed,
/// each naming its pair's position; the pair's record names it back.
/// `missing`, `real`, `ptm` and `socket_wait` count the expected items not
/// restored, the real PTS entries, the PTM wait list and the socket wait
/// list.
#[derive(Debug)]
pub struct RestartSession<S: Storage> {
    pub(super) pairs: S,
    pub(super) sockets: S,
    pub(super) max: u32,
    pub(super) n: usize,
    pub(super) n_sockets: usize,
    pub(super) ascending: bool,
    pub(super) phase: Phase,
    pub(super) missing: usize,
    pub(super) real: usize,
    pub(super) ptm: usize,
    pub(super) socket_wait: usize,
}

impl<S: Storage> RestartSession<S> {
    /// A session for minors `0..max`, with its pair table in `pairs` and
    /// its socket table in `sockets` (both emptied; they grow as pairs are
    /// registered).
    pub fn begin(mut pairs: S, mut sockets: S, max: u32) -> Self {
        pairs.release();
        sockets.release();
        Self {
            pairs,
            sockets,
            max,
            n: 0,
            n_sockets: 0,
            ascending: true,
            phase: Phase::Registering,
            missing: 0,
            real: 0,
            ptm: 0,
            socket_wait: 0,
        }
    }

    /// Register pair `index`: the `ends` the checkpoint holds and its
    /// associated socket, if any.
    pub fn expect(
        &mut self,
        index: u32,
        ends: Ends,
        socket: Option<SocketId>,
    ) -> Result<(), SessionError> {
        self.open_for(Phase::Registering)?;
        if index >= self.max {
            return Err(SessionError::OutOfRange { index });
        }
        if self.n >= self.max as usize {
            return Err(SessionError::DuplicateIndex { index });
        }
        let mut ascending = self.ascending;
        if let Some(last) = self.n.checked_sub(1) {
            let last = read_u32(self.pairs.as_slice(), rec_off(last, PAIR_REC, PAIR_INDEX));
            if index == last {
                return Err(SessionError::DuplicateIndex { index });
            }
            ascending &= index > last;
        }
        // Grow both tables before writing, so that a failure changes nothing.
        let n1 = self.n.saturating_add(1);
        grow_for(&mut self.pairs, n1, PAIR_REC)?;
        if socket.is_some() {
            grow_for(
                &mut self.sockets,
                self.n_sockets.saturating_add(1),
                SOCK_REC,
            )?;
        }
        let mut flags = 0u8;
        let mut items = 0usize;
        if ends.has_master() {
            flags |= EXP_MASTER;
            items = items.saturating_add(1);
        }
        if ends.has_slave() {
            flags |= EXP_SLAVE;
            items = items.saturating_add(1);
        }
        if let Some(id) = socket {
            flags |= EXP_SOCKET;
            items = items.saturating_add(1);
            let b = self.sockets.as_mut_slice();
            write_key(b, rec_off(self.n_sockets, SOCK_REC, 0), &id);
            write_u32(b, rec_off(self.n_sockets, SOCK_REC, SOCK_INDEX), index);
            self.n_sockets = self.n_sockets.saturating_add(1);
        }
        let b = self.pairs.as_mut_slice();
        write_u32(b, rec_off(self.n, PAIR_REC, PAIR_INDEX), index);
        write_u8(b, rec_off(self.n, PAIR_REC, PAIR_FLAGS), flags);
        write_u32(b, rec_off(self.n, PAIR_REC, PAIR_SOCKET), u32::MAX);
        self.n = n1;
        self.ascending = ascending;
        self.missing = self.missing.saturating_add(items);
        Ok(())
    }

    /// End registration: from now on restore events are accepted.
    pub fn seal(&mut self) -> Result<(), SessionError> {
        self.open_for(Phase::Registering)?;
        let n = self.n;
        let pairs_len = n.saturating_mul(PAIR_REC);
        if !self.ascending {
            if let Some(b) = self.pairs.as_mut_slice().get_mut(..pairs_len) {
                sort_records(b, PAIR_REC, n, cmp_pairs);
            }
            self.ascending = true;
        }
        for p in 1..n {
            let b = self.pairs.as_slice();
            let index = read_u32(b, rec_off(p, PAIR_REC, PAIR_INDEX));
            if read_u32(b, rec_off(p.saturating_sub(1), PAIR_REC, PAIR_INDEX)) == index {
                return Err(SessionError::DuplicateIndex { index });
            }
        }
        let ns = self.n_sockets;
        if let Some(b) = self
            .sockets
            .as_mut_slice()
            .get_mut(..ns.saturating_mul(SOCK_REC))
        {
            sort_records(b, SOCK_REC, ns, cmp_sockets);
        }
        for s in 1..ns {
            let b = self.sockets.as_slice();
            let prev = record(b, SOCK_REC, s.saturating_sub(1));
            let this = record(b, SOCK_REC, s);
            if cmp_sockets(prev, this) == Ordering::Equal {
                let a = read_u32(prev, SOCK_INDEX);
                let c = read_u32(this, SOCK_INDEX);
                return Err(SessionError::DuplicateSocket {
                    first: a.min(c),
                    second: a.max(c),
                });
            }
        }
        // The Fenwick tree after the records, all zero: nothing restored.
        let total = n.checked_mul(PAIR_SEALED).ok_or(SessionError::NoMemory)?;
        if self.pairs.len() < total {
            self.pairs.try_grow_to(total)?;
        }
        if let Some(fen) = self.pairs.as_mut_slice().get_mut(pairs_len..total) {
            fen.fill(0);
        }
        for s in 0..ns {
            let index = read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_INDEX));
            let Some(p) = self.find_pair(index) else {
                continue;
            };
            let (p32, s32) = (to_u32(p), to_u32(s));
            write_u32(
                self.sockets.as_mut_slice(),
                rec_off(s, SOCK_REC, SOCK_PAIR),
                p32,
            );
            write_u32(
                self.pairs.as_mut_slice(),
                rec_off(p, PAIR_REC, PAIR_SOCKET),
                s32,
            );
        }
        self.phase = Phase::Restoring;
        Ok(())
    }

    /// The master end of pair `index` was restored.
    pub fn master_restored(&mut self, index: u32) -> Result<(), SessionError> {
        self.end_restored(index, End::Master)
    }

    /// The slave end of pair `index` was restored.
    pub fn slave_restored(&mut self, index: u32) -> Result<(), SessionError> {
        self.end_restored(index, End::Slave)
    }

    /// `end` of pair `index` was restored.
    pub fn end_restored(&mut self, index: u32, end: End) -> Result<(), SessionError> {
        self.open_for(Phase::Restoring)?;
        let p = self
            .find_pair(index)
            .ok_or(SessionError::UnknownIndex { index })?;
        let before = self.flags(p);
        if !before.expects(end) {
            return Err(SessionError::NotExpected { index, end });
        }
        if before.got(end) {
            return Err(SessionError::AlreadyRestored { index, end });
        }
        let after = Flags(
            before.0
                | match end {
                    End::Master => GOT_MASTER,
                    End::Slave => GOT_SLAVE,
                },
        );
        self.apply(p, before, after);
        Ok(())
    }

    /// The socket `id` was restored; returns the index of the pair that
    /// expects it.
    pub fn socket_restored(&mut self, id: &SocketId) -> Result<u32, SessionError> {
        self.open_for(Phase::Restoring)?;
        let s = self.find_socket(id).ok_or(SessionError::UnknownSocket)?;
        let p = read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_PAIR)) as usize;
        let index = self.index_at(p);
        let before = self.flags(p);
        if before.has(GOT_SOCKET) {
            return Err(SessionError::SocketAlreadyRestored { index });
        }
        self.apply(p, before, Flags(before.0 | GOT_SOCKET));
        Ok(index)
    }

    /// Finish the restore. Succeeds (and closes the session) only when every
    /// expected end and socket was restored; otherwise changes nothing and
    /// names the orphans.
    pub fn commit(&mut self) -> Result<(), CommitError<'_, S>> {
        if let Err(e) = self.open_for(Phase::Restoring) {
            return Err(CommitError::Session(e));
        }
        if self.missing != 0 {
            return Err(CommitError::Orphans(Orphans { session: self }));
        }
        self.phase = Phase::Committed;
        Ok(())
    }

    /// Roll the session back: closes it and yields every pair with a
    /// restored end, in index order, for the caller to tear down.
    pub fn abort(&mut self) -> Result<Restored<'_, S>, SessionError> {
        match self.phase {
            Phase::Registering | Phase::Restoring => {
                self.phase = Phase::Aborted;
                Ok(self.restored())
            }
            Phase::Committed | Phase::Aborted => Err(SessionError::Closed),
        }
    }

    /// Where the session stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The session covers minors `0..max`.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Number of registered pairs.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no pair is registered.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether every expected end and socket was restored.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Number of expected ends and sockets not restored yet.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// Whether the three lists are empty, in O(1).
    pub fn lists_empty(&self) -> bool {
        self.real == 0 && self.ptm == 0 && self.socket_wait == 0
    }

    /// Status of pair `index` (O(log n) once sealed, O(n) before).
    pub fn pair(&self, index: u32) -> Option<PairStatus> {
        let p = if self.phase == Phase::Registering {
            (0..self.n).find(|&p| self.index_at(p) == index)?
        } else {
            self.find_pair(index)?
        };
        Some(self.status_at(p))
    }

    /// Status of every registered pair, in table order (index order once
    /// sealed).
    pub fn pairs(&self) -> impl Iterator<Item = PairStatus> + '_ {
        (0..self.n).map(move |p| self.status_at(p))
    }

    /// The PTS list.
    pub fn pts_list(&self) -> PtsList<'_, S> {
        PtsList { session: self }
    }

    /// The PTM wait list.
    pub fn ptm_wait_list(&self) -> PtmWaitList<'_, S> {
        PtmWaitList { session: self }
    }

    /// The waiting-for-socket list.
    pub fn socket_wait_list(&self) -> SocketWaitList<'_, S> {
        SocketWaitList { session: self }
    }

    /// What is still missing, in index order.
    pub fn orphans(&self) -> Orphans<'_, S> {
        Orphans { session: self }
    }

    /// Every pair with a restored end, in index order.
    pub fn restored(&self) -> Restored<'_, S> {
        Restored {
            session: self,
            pos: 0,
        }
    }

    pub(super) fn open_for(&self, want: Phase) -> Result<(), SessionError> {
        match (self.phase, want) {
            (a, b) if a == b => Ok(()),
            (Phase::Committed | Phase::Aborted, _) => Err(SessionError::Closed),
            (Phase::Restoring, _) => Err(SessionError::Sealed),
            (_, _) => Err(SessionError::NotSealed),
        }
    }

    /// Move pair `p` from `before` to `after`, keeping counters and the
    /// Fenwick tree in step.
    pub(super) fn apply(&mut self, p: usize, before: Flags, after: Flags) {
        write_u8(
            self.pairs.as_mut_slice(),
            rec_off(p, PAIR_REC, PAIR_FLAGS),
            after.0,
        );
        self.missing = self.missing.saturating_sub(1);
        match (before.is_real(), after.is_real()) {
            (false, true) => {
                self.fen_update(p, true);
                self.real = self.real.saturating_add(1);
            }
            (true, false) => {
                self.fen_update(p, false);
                self.real = self.real.saturating_sub(1);
            }
            _ => {}
        }
        step(&mut self.ptm, before.on_ptm_wait(), after.on_ptm_wait());
        step(
            &mut self.socket_wait,
            before.on_socket_wait(),
            after.on_socket_wait(),
        );
    }

    pub(super) fn flags(&self, p: usize) -> Flags {
        Flags(read_u8(
            self.pairs.as_slice(),
            rec_off(p, PAIR_REC, PAIR_FLAGS),
        ))
    }

    pub(super) fn index_at(&self, p: usize) -> u32 {
        read_u32(self.pairs.as_slice(), rec_off(p, PAIR_REC, PAIR_INDEX))
    }

    pub(super) fn socket_at(&self, p: usize) -> Option<SocketId> {
        if !self.flags(p).has(EXP_SOCKET) {
            return None;
        }
        let b = self.pairs.as_slice();
        let s = if self.phase == Phase::Registering {
            // Not linked yet: look the pair up by index.
            let index = read_u32(b, rec_off(p, PAIR_REC, PAIR_INDEX));
            (0..self.n_sockets).find(|&s| {
                read_u32(self.sockets.as_slice(), rec_off(s, SOCK_REC, SOCK_INDEX)) == index
            })?
        } else {
            read_u32(b, rec_off(p, PAIR_REC, PAIR_SOCKET)) as usize
        };
        Some(SocketId::decode(record(
            self.sockets.as_slice(),
            SOCK_REC,
            s,
        )))
    }

    pub(super) fn status_at(&self, p: usize) -> PairStatus {
        let f = self.flags(p);
        PairStatus {
            index: self.index_at(p),
            expected: Ends::from_parts(f.has(EXP_MASTER), f.has(EXP_SLAVE)).unwrap_or(Ends::Both),
            socket: self.socket_at(p),
            master_restored: f.has(GOT_MASTER),
            slave_restored: f.has(GOT_SLAVE),
            socket_restored: f.has(GOT_SOCKET),
        }
    }

    /// Position of pair `index` in the sorted table.
    pub(super) fn find_pair(&self, index: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.n);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            match self.index_at(mid).cmp(&index) {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Position of socket `id` in the sorted socket table.
    pub(super) fn find_socket(&self, id: &SocketId) -> Option<usize> {
        let key = id.encode();
        let b = self.sockets.as_slice();
        let (mut lo, mut hi) = (0usize, self.n_sockets);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let rec = record(b, SOCK_REC, mid);
            match rec
                .get(..SocketId::ENCODED_LEN)
                .unwrap_or(&[])
                .cmp(&key[..])
            {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Fenwick counter `i` (1-based).
    pub(super) fn fen(&self, i: usize) -> u32 {
        let off = self
            .n
            .saturating_mul(PAIR_REC)
            .saturating_add(i.saturating_sub(1).saturating_mul(FEN));
        read_u32(self.pairs.as_slice(), off)
    }

    pub(super) fn fen_update(&mut self, p: usize, add: bool) {
        let base = self.n.saturating_mul(PAIR_REC);
        let mut i = p.saturating_add(1);
        while i <= self.n {
            let off = base.saturating_add(i.saturating_sub(1).saturating_mul(FEN));
            let b = self.pairs.as_mut_slice();
            let v = read_u32(b, off);
            let v = if add {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            };
            write_u32(b, off, v);
            i = i.saturating_add(i & i.wrapping_neg());
        }
    }

    /// Position of the highest real PTS entry, in O(log n).
    pub(super) fn highest_real(&self) -> Option<usize> {
        if self.real == 0 || self.n == 0 {
            return None;
        }
        // The real-th set position: descend the tree from its top bit.
        let mut step = 1usize
            .checked_shl(
                usize::BITS
                    .saturating_sub(1)
                    .saturating_sub(self.n.leading_zeros()),
            )
            .unwrap_or(0);
        let mut pos = 0usize;
        let mut rem = u32::try_from(self.real).unwrap_or(u32::MAX);
        while step != 0 {
            let next = pos.saturating_add(step);
            if next <= self.n {
                let v = self.fen(next);
                if v < rem {
                    pos = next;
                    rem = rem.saturating_sub(v);
                }
            }
            step >>= 1;
        }
        Some(pos)
    }
}

fn step(count: &mut usize, before: bool, after: bool) {
    match (before, after) {
        (false, true) => *count = count.saturating_add(1),
        (true, false) => *count = count.saturating_sub(1),
        _ => {}
    }
}

/// Pairs with a restored end and which ends, in index order (what an abort
/// must tear down).
#[derive(Debug)]
pub struct Restored<'a, S: Storage> {
    session: &'a RestartSession<S>,
    pos: usize,
}

impl<S: Storage> Iterator for Restored<'_, S> {
    type Item = (u32, Ends);

    fn next(&mut self) -> Option<(u32, Ends)> {
        let s = self.session;
        while self.pos < s.n {
            let p = self.pos;
            self.pos = p.saturating_add(1);
            if let Some(ends) = s.flags(p).restored() {
                return Some((s.index_at(p), ends));
            }
        }
        None
    }
}
