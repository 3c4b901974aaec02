// SPDX-License-Identifier: GPL-2.0
//! The PTM wait list: restored masters waiting for their slave.

use super::super::storage::Storage;
use super::session::RestartSession;

/// The PTM wait list: restored masters whose expected slave is not
/// restored yet, ascending.
#[derive(Debug)]
pub struct PtmWaitList<'a, S: Storage> {
    pub(super) session: &'a RestartSession<S>,
}

impl<'a, S: Storage> PtmWaitList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.ptm == 0
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> usize {
        self.session.ptm
    }

    /// The waiting masters' indexes, ascending (O(n)).
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        let s = self.session;
        s.pairs
            .iter()
            .filter(move |(_, r)| s.ptm != 0 && r.flags.on_ptm_wait())
            .map(|(_, r)| r.index)
    }
}
