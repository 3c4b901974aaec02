// SPDX-License-Identifier: GPL-2.0
//! The byte layout of the session's two tables and their access helpers.

use core::cmp::Ordering;

use super::super::codec::{FieldReader, FieldWriter};
use super::super::storage::{AllocError, Storage};
use super::socket_id::SocketId;

// Pair table: records of `PAIR_REC` bytes sorted by index (once sealed),
// then the Fenwick tree (`FEN` bytes per pair).
pub(super) const PAIR_REC: usize = 12;
pub(super) const PAIR_INDEX: usize = 0;
pub(super) const PAIR_FLAGS: usize = 4;
pub(super) const PAIR_SOCKET: usize = 8;
pub(super) const FEN: usize = 4;
pub(super) const PAIR_SEALED: usize = 16;

// Socket table: records of `SOCK_REC` bytes sorted by encoded identity.
pub(super) const SOCK_REC: usize = 52;
pub(super) const SOCK_INDEX: usize = 44;
pub(super) const SOCK_PAIR: usize = 48;

pub(super) const MIN_RECORDS: usize = 16;

// Table access through the field codec: every access is bounds-checked and
// falls back to zero (or writes nothing), the invariants of the tables
// keeping all offsets in range.

pub(super) fn rec_off(i: usize, size: usize, field: usize) -> usize {
    i.saturating_mul(size).saturating_add(field)
}

pub(super) fn record(b: &[u8], size: usize, i: usize) -> &[u8] {
    let start = i.saturating_mul(size);
    b.get(start..start.saturating_add(size)).unwrap_or(&[])
}

pub(super) fn read_u8(b: &[u8], off: usize) -> u8 {
    FieldReader::at(b, off).get_u8().unwrap_or(0)
}

pub(super) fn write_u8(b: &mut [u8], off: usize, v: u8) {
    let _ = FieldWriter::at(b, off).put_u8(v);
}

pub(super) fn read_u32(b: &[u8], off: usize) -> u32 {
    FieldReader::at(b, off).get_u32().unwrap_or(0)
}

pub(super) fn write_u32(b: &mut [u8], off: usize, v: u32) {
    let _ = FieldWriter::at(b, off).put_u32(v);
}

pub(super) fn write_key(b: &mut [u8], off: usize, id: &SocketId) {
    let _ = FieldWriter::at(b, off).put_bytes(&id.encode());
}

pub(super) fn to_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Make room for `records` records of `size` bytes, doubling.
pub(super) fn grow_for<S: Storage>(
    s: &mut S,
    records: usize,
    size: usize,
) -> Result<(), AllocError> {
    let need = records.checked_mul(size).ok_or(AllocError)?;
    let len = s.len();
    if need <= len {
        return Ok(());
    }
    let target = len
        .saturating_mul(2)
        .max(MIN_RECORDS.saturating_mul(size))
        .max(need);
    if s.try_grow_to(target).is_ok() {
        return Ok(());
    }
    s.try_grow_to(need)
}

pub(super) fn cmp_pairs(a: &[u8], b: &[u8]) -> Ordering {
    read_u32(a, PAIR_INDEX).cmp(&read_u32(b, PAIR_INDEX))
}

pub(super) fn cmp_sockets(a: &[u8], b: &[u8]) -> Ordering {
    a.get(..SocketId::ENCODED_LEN)
        .cmp(&b.get(..SocketId::ENCODED_LEN))
}

/// Heapsort of `n` records of `size` bytes: O(n log n), in place.
pub(super) fn sort_records(b: &mut [u8], size: usize, n: usize, cmp: fn(&[u8], &[u8]) -> Ordering) {
    let mut start = n / 2;
    while start > 0 {
        start = start.saturating_sub(1);
        sift_down(b, size, start, n, cmp);
    }
    let mut end = n;
    while end > 1 {
        end = end.saturating_sub(1);
        swap_records(b, size, 0, end);
        sift_down(b, size, 0, end, cmp);
    }
}

pub(super) fn sift_down(
    b: &mut [u8],
    size: usize,
    mut root: usize,
    end: usize,
    cmp: fn(&[u8], &[u8]) -> Ordering,
) {
    loop {
        let left = root.saturating_mul(2).saturating_add(1);
        if left >= end {
            return;
        }
        let right = left.saturating_add(1);
        let mut child = left;
        if right < end && cmp(record(b, size, left), record(b, size, right)) == Ordering::Less {
            child = right;
        }
        if cmp(record(b, size, root), record(b, size, child)) != Ordering::Less {
            return;
        }
        swap_records(b, size, root, child);
        root = child;
    }
}

pub(super) fn swap_records(b: &mut [u8], size: usize, i: usize, j: usize) {
    let (lo, hi) = match i.cmp(&j) {
        Ordering::Less => (i, j),
        Ordering::Greater => (j, i),
        Ordering::Equal => return,
    };
    let split = hi.saturating_mul(size);
    if split > b.len() {
        return;
    }
    let (a, c) = b.split_at_mut(split);
    let lo_off = lo.saturating_mul(size);
    if let (Some(x), Some(y)) = (
        a.get_mut(lo_off..lo_off.saturating_add(size)),
        c.get_mut(..size),
    ) {
        x.swap_with_slice(y);
    }
}
