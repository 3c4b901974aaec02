// SPDX-License-Identifier: GPL-2.0
//! What the pair table and the socket table share: fixed-size records in a
//! [`Storage`] that grows by doubling, sorted in place by [`heapsort_by`],
//! every access bounds-checked by the field codec.
//!
//! An access outside the bytes a table holds would mean its `Storage`
//! gave back fewer bytes than it granted: the session reports it as
//! [`SessionError::TableFault`] instead of reading a made-up record.

use super::super::codec::FieldError;
use super::super::storage::{AllocError, Storage};
use super::error::SessionError;
use core::cmp::Ordering;

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

/// The first `len` records of `N` bytes at the start of `bytes`, as
/// arrays: what [`heapsort_by`] sorts in place.
pub(super) fn records_mut<const N: usize>(
    bytes: &mut [u8],
    len: usize,
) -> Result<&mut [[u8; N]], SessionError> {
    let (records, _) = bytes.as_chunks_mut::<N>();
    records.get_mut(..len).ok_or(SessionError::TableFault)
}

/// Sorts `records` in place by `cmp`, in O(n log n) without allocating.
///
/// Not `core`'s `sort_unstable_by`: that one panics when `cmp` is not a
/// total order (`panic_on_ord_violation`), a function the 6.12 kernel's
/// objtool does not know never returns, so every module built with it on a
/// kernel without Rust overflow checks warns "falls through to next
/// function". A heapsort has no such path and no index that can fail.
pub(super) fn heapsort_by<T>(records: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let len = records.len();
    for start in (0..len / 2).rev() {
        sift_down(records, start, len, &mut cmp);
    }
    for end in (1..len).rev() {
        records.swap(0, end);
        sift_down(records, 0, end, &mut cmp);
    }
}

/// Restores the max-heap below `root` within the first `end` records.
fn sift_down<T>(
    records: &mut [T],
    mut root: usize,
    end: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    let heap = match records.get_mut(..end) {
        Some(heap) => heap,
        None => return,
    };
    loop {
        let left = root.saturating_mul(2).saturating_add(1);
        let right = left.saturating_add(1);
        let mut largest = root;
        for &child in [left, right].iter() {
            if let (Some(c), Some(l)) = (heap.get(child), heap.get(largest)) {
                if cmp(c, l) == Ordering::Greater {
                    largest = child;
                }
            }
        }
        if largest == root {
            return;
        }
        // Both are below `end`: `largest` was found with `get`.
        heap.swap(root, largest);
        root = largest;
    }
}

#[cfg(test)]
mod tests {
    use super::heapsort_by;

    /// A small deterministic generator (xorshift), so the test needs no crate.
    fn numbers(seed: u64, n: usize) -> impl Iterator<Item = u32> {
        let mut x = seed | 1;
        (0..n).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 97) as u32
        })
    }

    #[test]
    fn heapsort_matches_the_standard_sort() {
        for n in 0..200 {
            let mut ours: std::vec::Vec<[u8; 4]> =
                numbers(n as u64 + 7, n).map(u32::to_be_bytes).collect();
            let mut reference = ours.clone();
            heapsort_by(&mut ours, |a, b| a.cmp(b));
            reference.sort();
            assert_eq!(ours, reference, "n = {n}");
        }
    }

    #[test]
    fn heapsort_survives_an_inconsistent_order() {
        let mut v: std::vec::Vec<u32> = numbers(3, 500).collect();
        let mut flip = false;
        heapsort_by(&mut v, |_, _| {
            flip = !flip;
            if flip {
                core::cmp::Ordering::Less
            } else {
                core::cmp::Ordering::Greater
            }
        });
        let mut sorted = v.clone();
        sorted.sort();
        let mut expected: std::vec::Vec<u32> = numbers(3, 500).collect();
        expected.sort();
        assert_eq!(sorted, expected, "the records are only permuted");
    }
}
