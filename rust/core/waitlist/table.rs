// SPDX-License-Identifier: GPL-2.0
//! What the pair table and the socket table share: fixed-size records in a
//! [`Storage`] that grows by doubling, sorted in place by `core`'s
//! allocation-free `sort_unstable_by`, every access bounds-checked by the
//! field codec.
//!
//! An access outside the bytes a table holds would mean its `Storage`
//! gave back fewer bytes than it granted: the session reports it as
//! [`SessionError::TableFault`] instead of reading a made-up record.

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

/// The first `len` records of `N` bytes at the start of `bytes`, as
/// arrays: what `sort_unstable_by` sorts in place (it does not allocate).
pub(super) fn records_mut<const N: usize>(
    bytes: &mut [u8],
    len: usize,
) -> Result<&mut [[u8; N]], SessionError> {
    let (records, _) = bytes.as_chunks_mut::<N>();
    records.get_mut(..len).ok_or(SessionError::TableFault)
}
