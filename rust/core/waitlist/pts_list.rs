// SPDX-License-Identifier: GPL-2.0
//! The PTS list: opened slaves waiting for their master, with dummy entries
//! for lesser minors not yet opened.

use super::super::storage::Storage;
use super::session::RestartSession;

/// An entry of the [`PtsList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtsEntry {
    /// The slave of this minor is restored and waits for its master.
    Real(u32),
    /// Nothing of this minor is restored yet; it lies below a waiting slave.
    Dummy(u32),
}

impl PtsEntry {
    /// The minor of the entry.
    pub fn index(self) -> u32 {
        match self {
            Self::Real(i) | Self::Dummy(i) => i,
        }
    }
}

/// The [`PtsList`]: opened slaves waiting for their master, and dummy
/// entries for lesser minors not yet opened, ascending.
#[derive(Debug)]
pub struct PtsList<'a, S: Storage> {
    pub(super) session: &'a RestartSession<S>,
}

impl<'a, S: Storage> PtsList<'a, S> {
    /// Whether the list is empty (O(1)).
    pub fn is_empty(&self) -> bool {
        self.session.real == 0
    }

    /// Number of real entries (O(1)).
    pub fn real_len(&self) -> usize {
        self.session.real
    }

    /// The highest slave waiting for its master: the last entry (O(log n)).
    pub fn highest(&self) -> Option<u32> {
        let s = self.session;
        s.pairs.get(s.highest_real()?).ok().map(|r| r.index)
    }

    /// The entries, ascending (O(position of the highest entry)).
    pub fn iter(&self) -> impl Iterator<Item = PtsEntry> + 'a {
        let s = self.session;
        let end = s.highest_real().map_or(0, |p| p.saturating_add(1));
        s.pairs.iter().take(end).filter_map(|(_, r)| {
            if r.flags.is_real() {
                Some(PtsEntry::Real(r.index))
            } else if r.flags.untouched() {
                Some(PtsEntry::Dummy(r.index))
            } else {
                None
            }
        })
    }
}
