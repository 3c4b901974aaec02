// SPDX-License-Identifier: GPL-2.0
//! The waiting-for-socket list: pairs whose associated socket is not
//! restored yet.

use super::super::storage::Storage;
use super::session::RestartSession;
use super::socket_id::SocketId;

/// The waiting-for-socket list: pairs whose expected ends are all restored
/// but whose socket is not matched yet, ascending.
#[derive(Debug)]
pub struct SocketWaitList<'a, S: Storage> {
    pub(super) session: &'a RestartSession<S>,
}

impl<'a, S: Storage> SocketWaitList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.socket_wait == 0
    }

    /// Number of entries (O(1)).
    pub fn len(&self) -> usize {
        self.session.socket_wait
    }

    /// The waiting pairs and the socket each waits for, ascending (O(n)).
    pub fn iter(&self) -> impl Iterator<Item = (u32, SocketId)> + 'a {
        let s = self.session;
        s.pairs
            .iter()
            .filter(move |(_, r)| s.socket_wait != 0 && r.flags.on_socket_wait())
            .filter_map(move |(_, r)| s.socket_of(&r).map(|id| (r.index, id)))
    }
}
