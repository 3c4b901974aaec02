// SPDX-License-Identifier: GPL-2.0
//! Cutting byte slices at a length that may lie past their end: "at most
//! `n` bytes" is a request, not an index, so it has no error case to hide.

/// The first `n` bytes of `bytes` (all of them if there are fewer), and the
/// rest.
pub fn split_at_most(bytes: &[u8], n: usize) -> (&[u8], &[u8]) {
    // `None` means exactly "fewer than `n`": then all of them are taken.
    bytes.split_at_checked(n).unwrap_or((bytes, &[]))
}

/// [`split_at_most`] of a mutable slice.
pub fn split_at_most_mut(bytes: &mut [u8], n: usize) -> (&mut [u8], &mut [u8]) {
    // A cut at most at the length: `split_at_mut` cannot panic.
    let n = n.min(bytes.len());
    bytes.split_at_mut(n)
}
