// SPDX-License-Identifier: GPL-2.0
//! The pair table: one record per registered pair, sorted by index (and
//! free of duplicates) once sealed, followed after sealing by the
//! [`Fenwick`] tree that counts the real entries of the PTS list.
//!
//! ```text
//! offset  size  field of a pair record (12 bytes)
//!      0     4  index (slave minor)
//!      4     1  flags (see Flags)
//!      5     3  zero
//!      8     4  position of its socket in the socket table; u32::MAX if
//!               it has none or the session is not sealed
//! ```
//!
//! The tree adds one 4-byte counter per pair: 16 bytes a pair once sealed.

use core::cmp::Ordering;

use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::storage::Storage;
use super::error::SessionError;
use super::fenwick::{Fenwick, COUNTER};
use super::pair::Flags;
use super::table::{fault, grow_for, heapsort_by, offset, records_mut};

const RECORD: usize = 12;
const FLAGS: usize = 4;
const SOCKET: usize = 8;
const PADDING: usize = SOCKET - FLAGS - 1;
const NO_SOCKET: u32 = u32::MAX;
/// Bytes of a pair once sealed: its record and its counter in the tree.
const SEALED: usize = RECORD + COUNTER;

/// One pair record, decoded.
#[derive(Clone, Copy, Debug)]
pub(super) struct PairRecord {
    /// The pair's index (slave minor).
    pub(super) index: u32,
    /// What it expects and what came back.
    pub(super) flags: Flags,
    /// Position of its socket in the socket table, once sealed.
    pub(super) socket: Option<usize>,
}

impl PairRecord {
    fn read(r: &mut FieldReader<'_>) -> Result<Self, FieldError> {
        let index = r.get_u32()?;
        let flags = Flags::from_bits(r.get_u8()?);
        r.get_bytes(PADDING)?;
        let socket = r.get_u32()?;
        Ok(Self {
            index,
            flags,
            socket: (socket != NO_SOCKET).then_some(socket as usize),
        })
    }

    fn write(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        let socket = match self.socket {
            Some(s) => u32::try_from(s).map_err(|_| FieldError::Invalid {
                offset: w.position(),
            })?,
            None => NO_SOCKET,
        };
        w.put_u32(self.index)?;
        w.put_u8(self.flags.bits())?;
        w.put_zeros(PADDING)?;
        w.put_u32(socket)
    }
}

/// The index of a pair record (its first field).
fn index_of(record: &[u8; RECORD]) -> u32 {
    let [a, b, c, d, ..] = *record;
    u32::from_le_bytes([a, b, c, d])
}

/// The registered pairs.
///
/// # Invariants
///
/// `bytes` holds `len` records, then (once [`PairTable::build_tree`] ran)
/// the tree over them.
#[derive(Debug)]
pub(super) struct PairTable<S: Storage> {
    bytes: S,
    len: usize,
}

impl<S: Storage> PairTable<S> {
    /// An empty table in `bytes` (emptied first).
    pub(super) fn new(mut bytes: S) -> Self {
        bytes.release();
        Self { bytes, len: 0 }
    }

    /// Number of records.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Record `p`.
    pub(super) fn get(&self, p: usize) -> Result<PairRecord, SessionError> {
        PairRecord::read(&mut FieldReader::at(
            self.bytes.as_slice(),
            offset(p, RECORD, 0),
        ))
        .map_err(fault)
    }

    /// The records with their positions, in table order; a fault ends
    /// the walk (see [`super::table`]).
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, PairRecord)> + '_ {
        (0..self.len).map_while(move |p| self.get(p).ok().map(|r| (p, r)))
    }

    /// Make room for one more record, so that a failure to grow comes
    /// before anything is written.
    pub(super) fn reserve_one(&mut self) -> Result<(), SessionError> {
        Ok(grow_for(
            &mut self.bytes,
            self.len.saturating_add(1),
            RECORD,
        )?)
    }

    /// Append pair `index` with `flags` (room made by `reserve_one`).
    pub(super) fn push(&mut self, index: u32, flags: Flags) -> Result<(), SessionError> {
        let record = PairRecord {
            index,
            flags,
            socket: None,
        };
        self.put(self.len, &record)?;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn put(&mut self, p: usize, record: &PairRecord) -> Result<(), SessionError> {
        record
            .write(&mut FieldWriter::at(
                self.bytes.as_mut_slice(),
                offset(p, RECORD, 0),
            ))
            .map_err(fault)
    }

    /// Store `flags` in record `p`.
    pub(super) fn set_flags(&mut self, p: usize, flags: Flags) -> Result<(), SessionError> {
        FieldWriter::at(self.bytes.as_mut_slice(), offset(p, RECORD, FLAGS))
            .put_u8(flags.bits())
            .map_err(fault)
    }

    /// Record `p`'s socket is at position `socket` of the socket table.
    pub(super) fn link_socket(&mut self, p: usize, socket: usize) -> Result<(), SessionError> {
        let record = PairRecord {
            socket: Some(socket),
            ..self.get(p)?
        };
        self.put(p, &record)
    }

    /// Sort the records by index.
    pub(super) fn sort(&mut self) -> Result<(), SessionError> {
        heapsort_by(
            records_mut::<RECORD>(self.bytes.as_mut_slice(), self.len)?,
            |a, b| index_of(a).cmp(&index_of(b)),
        );
        Ok(())
    }

    /// The first index that two neighbouring records share.
    pub(super) fn first_duplicate(&self) -> Result<Option<u32>, SessionError> {
        let mut previous = None;
        for p in 0..self.len {
            let index = self.get(p)?.index;
            if previous == Some(index) {
                return Ok(Some(index));
            }
            previous = Some(index);
        }
        Ok(None)
    }

    /// Position and record of pair `index` in the sorted table, O(log n).
    pub(super) fn find(&self, index: u32) -> Result<Option<(usize, PairRecord)>, SessionError> {
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let record = self.get(mid)?;
            match record.index.cmp(&index) {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(Some((mid, record))),
            }
        }
        Ok(None)
    }

    /// Position and record of pair `index` before sealing, O(n).
    pub(super) fn find_unsorted(&self, index: u32) -> Option<(usize, PairRecord)> {
        self.iter().find(|(_, r)| r.index == index)
    }

    fn tree(&self) -> Fenwick {
        Fenwick::at(self.len.saturating_mul(RECORD), self.len)
    }

    /// Append the tree, counting nothing (at sealing).
    pub(super) fn build_tree(&mut self) -> Result<(), SessionError> {
        let total = self.len.checked_mul(SEALED).ok_or(SessionError::NoMemory)?;
        if self.bytes.len() < total {
            self.bytes.try_grow_to(total)?;
        }
        let tree = self.tree();
        tree.clear(self.bytes.as_mut_slice()).map_err(fault)
    }

    /// Count record `p` as a real PTS entry, or no longer.
    pub(super) fn count_real(&mut self, p: usize, real: bool) -> Result<(), SessionError> {
        let tree = self.tree();
        tree.update(self.bytes.as_mut_slice(), p, real)
            .map_err(fault)
    }

    /// Position of the `real`-th (the highest, given their number) real
    /// PTS entry, O(log n).
    pub(super) fn highest_real(&self, real: usize) -> Result<Option<usize>, SessionError> {
        self.tree()
            .select(self.bytes.as_slice(), real)
            .map_err(fault)
    }
}
