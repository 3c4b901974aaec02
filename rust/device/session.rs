// SPDX-License-Identifier: GPL-2.0
//! A restart session of an instance: the wait lists of the pure core
//! ([`RestartSession`]: the PTS list, the PTM wait list, the
//! waiting-for-socket list) and the pairs the session created, which it
//! holds until commit or rollback.
//!
//! The control device begins, commits and aborts sessions; `CKPT_RESTART`
//! on an end of a session's pair records that end here.

use super::pair::{Pair, PairOwner};
use super::uaccess::filled;
use crate::pty_core::waitlist::{self, CommitError, RestartSession, SocketId};
use crate::pty_core::End;
use crate::seam::log::warn_limited;
use crate::seam::storage::KernelStorage;
use crate::uapi::{SocketRecord, ORPHAN_RECORD_LEN};
use kernel::{prelude::*, sync::Arc};

// The records `CKPT_SESSION_COMMIT` copies out are the core's.
const _: () = assert!(ORPHAN_RECORD_LEN == waitlist::ORPHAN_RECORD_LEN);

/// A restart session in progress: the wait lists and the pairs it created.
pub(crate) struct Session<O: PairOwner> {
    lists: RestartSession<KernelStorage>,
    /// In ascending index order, as the sealed lists list them.
    pairs: KVVec<Arc<Pair<O>>>,
    /// Which control file began it (its release aborts the session).
    owner: u64,
}

/// A commit that found orphans: the session is to be rolled back.
pub(crate) struct Orphaned {
    /// How many orphans there are.
    pub(crate) count: usize,
    /// The first orphans' records, as many as the caller has room for.
    records: KVVec<u8>,
    /// Bytes of `records` the core wrote.
    written: usize,
    /// What the commit returns.
    pub(crate) error: Error,
}

impl Orphaned {
    /// The records to copy out.
    pub(crate) fn records(&self) -> Result<&[u8]> {
        filled(&self.records, self.written)
    }
}

impl<O: PairOwner> Session<O> {
    /// A session of `lists` (sealed) and the `pairs` it claimed, begun by
    /// the control file `owner`.
    pub(crate) fn new(
        lists: RestartSession<KernelStorage>,
        pairs: KVVec<Arc<Pair<O>>>,
        owner: u64,
    ) -> Self {
        Self {
            lists,
            pairs,
            owner,
        }
    }

    /// Whether the control file `owner` began this session.
    pub(crate) fn is_owned_by(&self, owner: u64) -> bool {
        self.owner == owner
    }

    /// The pairs the session created.
    pub(crate) fn pairs(&self) -> &[Arc<Pair<O>>] {
        &self.pairs
    }

    /// The session's pair `index`, in O(log n): `pairs` is in index order
    /// (begin claims them in the sealed lists' order).
    fn pair(&self, index: u32) -> Option<&Arc<Pair<O>>> {
        let at = self.pairs.binary_search_by_key(&index, |p| p.index).ok()?;
        self.pairs.get(at)
    }

    /// Whether `end` of pty `index` may get its image now, checked before
    /// anything loads (a refused restart changes nothing): `EINVAL` when
    /// the session expects no such end, `EBUSY` when it had its image.
    pub(crate) fn check_restorable(&self, index: u32, end: End) -> Result {
        let st = self.lists.pair(index).ok_or(EINVAL)?;
        let (expected, done) = match end {
            End::Master => (st.expected.has_master(), st.master_restored),
            End::Slave => (st.expected.has_slave(), st.slave_restored),
        };
        if !expected {
            warn_limited!(
                "restart of pty {}: the session expects no {} image\n",
                index,
                end.name()
            );
            return Err(EINVAL);
        }
        if done {
            return Err(EBUSY);
        }
        Ok(())
    }

    /// `end` of pty `index` got its image: the wait lists move on.
    pub(crate) fn end_restored(&mut self, index: u32, end: End) -> Result {
        self.lists.end_restored(index, end).map_err(|e| {
            warn_limited!("restart of pty {}: {}\n", index, e);
            Error::from(e.errno())
        })
    }

    /// A restored socket (`CKPT_SOCKET_RESTORED`) finds the pair that
    /// waits for it, whose association it becomes; the pair's index.
    pub(crate) fn socket_restored(&mut self, record: SocketRecord) -> Result<u32> {
        let id = socket_id(&record);
        let index = self.lists.socket_restored(&id).map_err(|e| {
            warn_limited!("restart session: socket {}: {}\n", id, e);
            Error::from(e.errno())
        })?;
        if let Some(pair) = self.pair(index) {
            pair.streams.lock().socket = Some(record);
        }
        Ok(index)
    }

    /// Whether the session restores a master for pty `index` (a pair
    /// restored without one behaves as one whose master closed).
    pub(crate) fn expects_master(&self, index: u32) -> bool {
        self.lists
            .pair(index)
            .is_some_and(|st| st.expected.has_master())
    }

    /// The pair `index` whose master `CKPT_OPEN_MASTER` opens: `ENOENT`
    /// if the session has no such pair, `EINVAL` if it expects no master.
    pub(crate) fn master_to_open(&self, index: u32) -> Result<Arc<Pair<O>>> {
        let st = self.lists.pair(index).ok_or(ENOENT)?;
        if !st.expected.has_master() {
            return Err(EINVAL);
        }
        self.pair(index).cloned().ok_or(ENOENT)
    }

    /// Checks that every wait list is empty: `None` then, the orphans
    /// (with room for the first `cap` records) otherwise.
    pub(crate) fn check_commit(&mut self, cap: u32) -> Result<Option<Orphaned>> {
        let e = match self.lists.commit() {
            Ok(()) => return Ok(None),
            Err(e) => e,
        };
        let orphans = match &e {
            CommitError::Session(_) => return Err(e.errno().into()),
            CommitError::Orphans(orphans) => orphans,
        };
        warn_limited!("restart session commit failed: {}\n", orphans.summary(16));
        let count = orphans.len();
        let cap = (cap as usize).min(count);
        let mut records = KVVec::from_elem(
            0u8,
            cap.saturating_mul(ORPHAN_RECORD_LEN),
            GFP_KERNEL_ACCOUNT,
        )?;
        let written = orphans
            .write_records(&mut records)
            .saturating_mul(ORPHAN_RECORD_LEN);
        Ok(Some(Orphaned {
            count,
            records,
            written,
            error: Error::from(e.errno()),
        }))
    }
}

/// A socket's identity as the wait lists compare it.
pub(crate) fn socket_id(r: &SocketRecord) -> SocketId {
    SocketId {
        family: r.family,
        sock_type: r.sock_type,
        protocol: r.protocol,
        local_addr: r.local_addr,
        local_port: r.local_port,
        remote_addr: r.remote_addr,
        remote_port: r.remote_port,
    }
}

/// A socket's identity as `CKPT_SOCKET_GET` reports it.
pub(crate) fn socket_record(id: &SocketId) -> SocketRecord {
    SocketRecord {
        family: id.family,
        sock_type: id.sock_type,
        protocol: id.protocol,
        local_port: id.local_port,
        remote_port: id.remote_port,
        reserved: 0,
        local_addr: id.local_addr,
        remote_addr: id.remote_addr,
    }
}
