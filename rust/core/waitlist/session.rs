// SPDX-License-Identifier: GPL-2.0
//! The restart session: registration, restore events, commit and abort.

use super::super::end::End;
use super::super::storage::Storage;
use super::error::{CommitError, SessionError};
use super::orphans::Orphans;
use super::pair::{Ends, Flags, PairStatus};
use super::pair_table::{PairRecord, PairTable};
use super::ptm_wait_list::PtmWaitList;
use super::pts_list::PtsList;
use super::socket_id::SocketId;
use super::socket_table::SocketTable;
use super::socket_wait_list::SocketWaitList;

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
/// `pairs` is sorted by index and free of duplicates once sealed, and then
/// counts in its tree exactly the real PTS entries. `sockets` is sorted
/// by identity once sealed, each record naming its pair's position; the
/// pair's record names it back. `missing`, `real`, `ptm` and
/// `socket_wait` count the expected items not restored, the real PTS
/// entries, the PTM wait list and the socket wait list.
#[derive(Debug)]
pub struct RestartSession<S: Storage> {
    pub(super) pairs: PairTable<S>,
    pub(super) sockets: SocketTable<S>,
    max: u32,
    /// Registered in ascending index order so far: sealing need not sort.
    ascending: bool,
    phase: Phase,
    pub(super) missing: usize,
    pub(super) real: usize,
    pub(super) ptm: usize,
    pub(super) socket_wait: usize,
}

impl<S: Storage> RestartSession<S> {
    /// A session for minors `0..max`, with its pair table in `pairs` and
    /// its socket table in `sockets` (both emptied; they grow as pairs are
    /// registered).
    pub fn begin(pairs: S, sockets: S, max: u32) -> Self {
        Self {
            pairs: PairTable::new(pairs),
            sockets: SocketTable::new(sockets),
            max,
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
        if self.pairs.len() >= self.max as usize {
            return Err(SessionError::DuplicateIndex { index });
        }
        let mut ascending = self.ascending;
        if let Some(last) = self.pairs.len().checked_sub(1) {
            let last = self.pairs.get(last)?.index;
            if index == last {
                return Err(SessionError::DuplicateIndex { index });
            }
            ascending &= index > last;
        }
        // Grow both tables before writing, so that a failure changes nothing.
        self.pairs.reserve_one()?;
        if socket.is_some() {
            self.sockets.reserve_one()?;
        }
        let flags = Flags::expecting(ends, socket.is_some());
        if let Some(id) = socket {
            self.sockets.push(&id, index)?;
        }
        self.pairs.push(index, flags)?;
        self.ascending = ascending;
        self.missing = self.missing.saturating_add(flags.expected_items());
        Ok(())
    }

    /// End registration: from now on restore events are accepted.
    pub fn seal(&mut self) -> Result<(), SessionError> {
        self.open_for(Phase::Registering)?;
        if !self.ascending {
            self.pairs.sort()?;
            self.ascending = true;
        }
        if let Some(index) = self.pairs.first_duplicate()? {
            return Err(SessionError::DuplicateIndex { index });
        }
        self.sockets.sort()?;
        if let Some((first, second)) = self.sockets.first_duplicate()? {
            return Err(SessionError::DuplicateSocket { first, second });
        }
        // The tree after the records, all zero: nothing restored.
        self.pairs.build_tree()?;
        for s in 0..self.sockets.len() {
            let index = self.sockets.pair_index(s)?;
            let (p, _) = self.pairs.find(index)?.ok_or(SessionError::TableFault)?;
            self.sockets.link_pair(s, p)?;
            self.pairs.link_socket(p, s)?;
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
        let (p, record) = self
            .pairs
            .find(index)?
            .ok_or(SessionError::UnknownIndex { index })?;
        let before = record.flags;
        if !before.expects(end) {
            return Err(SessionError::NotExpected { index, end });
        }
        if before.got(end) {
            return Err(SessionError::AlreadyRestored { index, end });
        }
        self.apply(p, before, before.with_end(end))
    }

    /// The socket `id` was restored; returns the index of the pair that
    /// expects it.
    pub fn socket_restored(&mut self, id: &SocketId) -> Result<u32, SessionError> {
        self.open_for(Phase::Restoring)?;
        let s = self.sockets.find(id)?.ok_or(SessionError::UnknownSocket)?;
        let p = self.sockets.pair_position(s)?;
        let PairRecord { index, flags, .. } = self.pairs.get(p)?;
        if flags.got_socket() {
            return Err(SessionError::SocketAlreadyRestored { index });
        }
        self.apply(p, flags, flags.with_socket())?;
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
        self.pairs.len()
    }

    /// Whether no pair is registered.
    pub fn is_empty(&self) -> bool {
        self.pairs.len() == 0
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
        let (_, record) = if self.phase == Phase::Registering {
            self.pairs.find_unsorted(index)?
        } else {
            self.pairs.find(index).ok()??
        };
        self.status(&record)
    }

    /// Status of every registered pair, in table order (index order once
    /// sealed).
    pub fn pairs(&self) -> impl Iterator<Item = PairStatus> + '_ {
        self.pairs.iter().filter_map(|(_, r)| self.status(&r))
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

    fn open_for(&self, want: Phase) -> Result<(), SessionError> {
        match (self.phase, want) {
            (a, b) if a == b => Ok(()),
            (Phase::Committed | Phase::Aborted, _) => Err(SessionError::Closed),
            (Phase::Restoring, _) => Err(SessionError::Sealed),
            (_, _) => Err(SessionError::NotSealed),
        }
    }

    /// Move pair `p` from `before` to `after`, keeping counters and the
    /// tree in step.
    fn apply(&mut self, p: usize, before: Flags, after: Flags) -> Result<(), SessionError> {
        self.pairs.set_flags(p, after)?;
        self.missing = self.missing.saturating_sub(1);
        match (before.is_real(), after.is_real()) {
            (false, true) => {
                self.pairs.count_real(p, true)?;
                self.real = self.real.saturating_add(1);
            }
            (true, false) => {
                self.pairs.count_real(p, false)?;
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
        Ok(())
    }

    /// The socket a pair record expects, if any.
    pub(super) fn socket_of(&self, record: &PairRecord) -> Option<SocketId> {
        if !record.flags.expects_socket() {
            return None;
        }
        let s = if self.phase == Phase::Registering {
            // Not linked yet: look the socket up by its pair's index.
            self.sockets.find_by_pair_index(record.index)?
        } else {
            record.socket?
        };
        self.sockets.id(s).ok()
    }

    fn status(&self, record: &PairRecord) -> Option<PairStatus> {
        let f = record.flags;
        Some(PairStatus {
            index: record.index,
            expected: f.expected_ends()?,
            socket: self.socket_of(record),
            master_restored: f.got(End::Master),
            slave_restored: f.got(End::Slave),
            socket_restored: f.got_socket(),
        })
    }

    /// Position of the highest real PTS entry, O(log n).
    pub(super) fn highest_real(&self) -> Option<usize> {
        self.pairs.highest_real(self.real).ok().flatten()
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
        while self.pos < s.pairs.len() {
            let record = s.pairs.get(self.pos).ok()?;
            self.pos = self.pos.saturating_add(1);
            if let Some(ends) = record.flags.restored() {
                return Some((record.index, ends));
            }
        }
        None
    }
}
