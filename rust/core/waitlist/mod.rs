// SPDX-License-Identifier: GPL-2.0
//! The wait lists of a restart session (AT&T mode), as pure logic.
//!
//! A restart opens the ends of the checkpointed pairs in whatever order the
//! restoring processes reach them — master first, slave first, minor 2
//! before minor 0 — and each end gets its restart data by ioctl. A
//! [`RestartSession`] follows that restore and tells, at commit, whether
//! every expected end and socket came back; if not, it names each orphan.
//!
//! # Protocol
//!
//! 1. [`RestartSession::begin`] opens a session for minors `0..max`.
//! 2. [`RestartSession::expect`] registers one pair of the image: which ends
//!    are expected (a process may have held only the slave, or only the
//!    master) and the identity of its associated socket, if any. A restore
//!    tool calls it once per pair (`ckptctl` or CRIU walking their table).
//!    Pairs may come in any order; ascending order is cheapest.
//! 3. [`RestartSession::seal`] ends registration (sorts, rejects duplicate
//!    indexes and duplicate socket identities).
//! 4. Events, in any order: [`RestartSession::master_restored`],
//!    [`RestartSession::slave_restored`], [`RestartSession::socket_restored`].
//!    Each is validated; a refused event changes nothing.
//! 5. [`RestartSession::commit`] succeeds only when every expected end and
//!    socket arrived (then the three lists are empty). Otherwise it changes
//!    nothing and returns the [`Orphans`] (index order; master, slave, socket
//!    within an index) for the kernel log and for user space
//!    ([`Orphan::to_record`]); the kernel then calls
//!    [`RestartSession::abort`], which yields every pair with a restored end
//!    so that they can be torn down.
//!
//! Only expected pairs cost memory: 12 bytes per pair (16 after sealing) in
//! one [`Storage`](super::storage::Storage), 52 bytes per associated socket in another. Each event is
//! O(log n): a binary search in the sorted pair (or socket) table plus a
//! Fenwick tree over the pair table that finds the highest waiting slave.
//!
//! BSD mode does not use a session: its pairs have fixed names, no ordering
//! rule, and restart loads their state directly.
//!
//! # The lists
//!
//! Each list is a function of the set of items restored so far, never of
//! the order in which they came (any two orders of the same events leave the
//! same lists). With *H* the highest minor that has a real PTS entry:
//!
//! * [`PtsList`], ordered by minor:
//!   * `Real(n)`: slave `n` restored, master `n` expected and not restored
//!     (an opened slave waiting for its master);
//!   * `Dummy(k)`: `k < H` belongs to the session and neither end of `k` is
//!     restored (a place held for a lesser minor not yet opened).
//! * [`PtmWaitList`]: master `n` restored, slave `n` expected and not
//!   restored.
//! * [`SocketWaitList`]: every expected end of `n` restored, its socket
//!   expected and not matched yet.
//!
//! Read as events:
//!
//! * Slave `n` restored, master expected but missing: `n` becomes `Real`
//!   (a `Dummy(n)` turns into it). If `n > H`, every session minor below
//!   `n` with no end restored that was not already a dummy gets a `Dummy`.
//! * Slave `n` restored, master restored or not expected: `Dummy(n)` (if
//!   any) leaves; `n` leaves the PTM wait list; if its socket is expected
//!   and unmatched, `n` enters the socket wait list.
//! * Master `n` restored: `Real(n)` or `Dummy(n)` leaves the PTS list; if
//!   `n` was *H*, the dummies above the next highest real entry leave too
//!   (they held places below a slave that no longer waits). Then `n` enters
//!   the PTM wait list if its slave is expected and missing, else the
//!   socket wait list if its socket is expected and unmatched.
//! * Socket matched to pair `n`: `n` leaves the socket wait list, or never
//!   enters it.
//!
//! # Invariants
//!
//! No minor is on two lists; the PTS list is strictly ascending, ends with a
//! real entry, and below *H* it is gap-free: every session minor `k < H` is
//! on it or has an end restored. Every list entry stands for a missing item
//! (a real entry for its master, a dummy for its ends, a PTM entry for its
//! slave, a socket entry for its socket), so the lists are empty when the
//! session is complete. The converse does not hold (before any event all
//! lists are empty): commit checks completeness itself.
//!
//! # Files
//!
//! One concept a file; this module re-exports them, so every
//! `pty_core::waitlist::X` path names the same item as before the split.
//!
//! * `session.rs`: [`RestartSession`] and its [`Phase`]s, the protocol
//!   above, and [`Restored`] (what an abort tears down);
//! * `pts_list.rs`: the [`PtsList`] and its [`PtsEntry`]s;
//! * `ptm_wait_list.rs`: the [`PtmWaitList`];
//! * `socket_wait_list.rs`: the waiting-for-socket list, [`SocketWaitList`];
//! * `orphans.rs`: [`Orphan`]s, their user-space record and log line;
//! * `pair.rs`: [`Ends`], [`PairStatus`] and the pair flags whose rules put
//!   a pair on a list;
//! * `socket_id.rs`: [`SocketId`];
//! * `error.rs`: [`SessionError`], [`CommitError`];
//! * `pair_table.rs`, `socket_table.rs`: the two tables (record layouts,
//!   sorting, search), on what they share in `table.rs`;
//! * `fenwick.rs`: the tree over the pair table that finds the highest
//!   real PTS entry.

mod error;
mod fenwick;
mod orphans;
mod pair;
mod pair_table;
mod ptm_wait_list;
mod pts_list;
mod session;
mod socket_id;
mod socket_table;
mod socket_wait_list;
mod table;

pub use error::{CommitError, SessionError};
pub use orphans::{
    Orphan, OrphanIter, OrphanKind, OrphanSummary, Orphans, ORPHAN_MASTER, ORPHAN_RECORD_LEN,
    ORPHAN_SLAVE, ORPHAN_SOCKET,
};
pub use pair::{Ends, PairStatus};
pub use ptm_wait_list::PtmWaitList;
pub use pts_list::{PtsEntry, PtsList};
pub use session::{Phase, RestartSession, Restored};
pub use socket_id::SocketId;
pub use socket_wait_list::SocketWaitList;
