// SPDX-License-Identifier: GPL-2.0
//! What the pair table and the socket table share: fixed-size records in a
//! [`Storage`] that grows by doubling, sorted in place, every access
//! bounds-checked by the field codec.
//!
//! An access outside the bytes a table holds would mean its `Storage`
//! gave back fewer bytes than it granted: the session reports it as
//! [`SessionError::TableFault`] instead of reading a made-up record.

use core::cmp::Ordering;

use super::super::codec::FieldError;
use super::super::storage::{AllocError, Storage};
use super::error::SessionError;

/// Records a table makes room for at least, once it holds any.
const MIN_RECORDS: usize = 16;

/// The session error for a table access outside its bytes.
pub(super) fn fault(_: FieldError) -> SessionError {
    SessionError::TableFault
}

/// Byte offset of field `field` of record `i` of `size`-byte records.
pub(super) fn offset(i: usize, size: usize, field: usize) -> usize {
    i.saturating_mul(size).saturating_add(field)
}

/// Make room in `s` for `records` records of `size` bytes, doubling.
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

/// Heapsort of the `n` records of `size` bytes at the start of `b`:
/// O(n log n), in place.
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

fn record(b: &[u8], size: usize, i: usize) -> &[u8] {
    let start = i.saturating_mul(size);
    b.get(start..start.saturating_add(size)).unwrap_or(&[])
}

fn sift_down(
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

fn swap_records(b: &mut [u8], size: usize, i: usize, j: usize) {
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
