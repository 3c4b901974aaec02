// SPDX-License-Identifier: GPL-2.0
//! The socket table: one record per associated socket, sorted by identity
//! (and free of duplicates) once sealed, so that a restored socket finds
//! its pair in O(log n).
//!
//! ```text
//! offset  size  field of a socket record (52 bytes)
//!      0    42  identity (SocketId::write_key)
//!     42     2  zero
//!     44     4  index of the pair that expects it
//!     48     4  position of that pair in the pair table, once sealed
//! ```

use core::cmp::Ordering;

use super::super::codec::{FieldReader, FieldWriter};
use super::super::storage::Storage;
use super::error::SessionError;
use super::socket_id::SocketId;
use super::table::{fault, grow_for, heapsort_by, offset, records_mut};

const RECORD: usize = 52;
const INDEX: usize = 44;
const PAIR: usize = 48;
// `pair_index_of` reads the index by its place from the record's end.
const _: () = assert!(INDEX + 4 == PAIR && PAIR + 4 == RECORD);

/// Orders socket records by identity, then by pair index: a total order,
/// so that which duplicates `first_duplicate` names does not depend on the
/// order of registration.
fn by_identity(a: &[u8; RECORD], b: &[u8; RECORD]) -> Ordering {
    key_of(a)
        .cmp(&key_of(b))
        .then_with(|| pair_index_of(a).cmp(&pair_index_of(b)))
}

/// The identity bytes of a socket record (always `Some`: the record is
/// longer than the key).
fn key_of(record: &[u8; RECORD]) -> Option<&[u8; SocketId::ENCODED_LEN]> {
    record.first_chunk()
}

/// The pair index of a socket record: the 4 bytes before the last 4.
fn pair_index_of(record: &[u8; RECORD]) -> u32 {
    let [.., a, b, c, d, _, _, _, _] = *record;
    u32::from_le_bytes([a, b, c, d])
}

/// The associated sockets of the registered pairs.
///
/// # Invariants
///
/// `bytes` holds `len` records.
#[derive(Debug)]
pub(super) struct SocketTable<S: Storage> {
    bytes: S,
    len: usize,
}

impl<S: Storage> SocketTable<S> {
    /// An empty table in `bytes` (emptied first).
    pub(super) fn new(mut bytes: S) -> Self {
        bytes.release();
        Self { bytes, len: 0 }
    }

    /// Number of records.
    pub(super) fn len(&self) -> usize {
        self.len
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

    /// Append socket `id` of pair `index` (room made by `reserve_one`).
    pub(super) fn push(&mut self, id: &SocketId, index: u32) -> Result<(), SessionError> {
        let b = self.bytes.as_mut_slice();
        id.write_key(&mut FieldWriter::at(b, offset(self.len, RECORD, 0)))
            .and_then(|()| FieldWriter::at(b, offset(self.len, RECORD, INDEX)).put_u32(index))
            .map_err(fault)?;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn read_u32(&self, s: usize, field: usize) -> Result<u32, SessionError> {
        FieldReader::at(self.bytes.as_slice(), offset(s, RECORD, field))
            .get_u32()
            .map_err(fault)
    }

    /// The identity of socket `s`.
    pub(super) fn id(&self, s: usize) -> Result<SocketId, SessionError> {
        SocketId::read_key(&mut FieldReader::at(
            self.bytes.as_slice(),
            offset(s, RECORD, 0),
        ))
        .map_err(fault)
    }

    /// The index of the pair that expects socket `s`.
    pub(super) fn pair_index(&self, s: usize) -> Result<u32, SessionError> {
        self.read_u32(s, INDEX)
    }

    /// The position of that pair in the pair table (once linked).
    pub(super) fn pair_position(&self, s: usize) -> Result<usize, SessionError> {
        self.read_u32(s, PAIR).map(|p| p as usize)
    }

    /// Socket `s` belongs to the pair at position `p` of the pair table.
    pub(super) fn link_pair(&mut self, s: usize, p: usize) -> Result<(), SessionError> {
        let p = u32::try_from(p).map_err(|_| SessionError::TableFault)?;
        FieldWriter::at(self.bytes.as_mut_slice(), offset(s, RECORD, PAIR))
            .put_u32(p)
            .map_err(fault)
    }

    /// Sort the records by identity.
    pub(super) fn sort(&mut self) -> Result<(), SessionError> {
        heapsort_by(
            records_mut::<RECORD>(self.bytes.as_mut_slice(), self.len)?,
            by_identity,
        );
        Ok(())
    }

    /// The indexes of the first two pairs (lower first) whose sockets,
    /// neighbours in the sorted table, have the same identity.
    pub(super) fn first_duplicate(&self) -> Result<Option<(u32, u32)>, SessionError> {
        for s in 1..self.len {
            let previous = s.saturating_sub(1);
            if self.id(previous)? == self.id(s)? {
                let a = self.pair_index(previous)?;
                let b = self.pair_index(s)?;
                return Ok(Some((a.min(b), a.max(b))));
            }
        }
        Ok(None)
    }

    /// Position of socket `id` in the sorted table, O(log n).
    pub(super) fn find(&self, id: &SocketId) -> Result<Option<usize>, SessionError> {
        let key = id.encode();
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let at = FieldReader::at(self.bytes.as_slice(), offset(mid, RECORD, 0))
                .get_bytes(SocketId::ENCODED_LEN)
                .map_err(fault)?;
            match at.cmp(&key[..]) {
                Ordering::Less => lo = mid.saturating_add(1),
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(Some(mid)),
            }
        }
        Ok(None)
    }

    /// Position of the socket of pair `index` before sealing, O(n).
    pub(super) fn find_by_pair_index(&self, index: u32) -> Option<usize> {
        (0..self.len).find(|&s| self.pair_index(s).ok() == Some(index))
    }
}
