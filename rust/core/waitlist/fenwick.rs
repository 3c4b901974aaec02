// SPDX-License-Identifier: GPL-2.0
//! The index that finds the highest real entry of the PTS list in
//! O(log n): a Fenwick (binary indexed) tree of `u32` counters stored
//! after the pair records, where position `p` counts 1 exactly when pair
//! `p` is a real entry.
//!
//! Counter `i` (1-based) holds the sum over positions `i - lowbit(i)` to
//! `i - 1`; an update touches O(log n) counters, and finding the k-th
//! counted position descends the tree from its top bit.

use super::super::codec::{FieldError, FieldReader, FieldWriter};

/// Bytes of one counter.
pub(super) const COUNTER: usize = 4;

/// A tree of `n` counters stored from byte `base` of a table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fenwick {
    base: usize,
    n: usize,
}

impl Fenwick {
    /// The tree over `n` positions at byte `base` of its table.
    pub(super) fn at(base: usize, n: usize) -> Self {
        Self { base, n }
    }

    /// Byte offset of counter `i` (1-based).
    fn offset(&self, i: usize) -> usize {
        self.base
            .saturating_add(i.saturating_sub(1).saturating_mul(COUNTER))
    }

    /// All counts zero: nothing counted.
    pub(super) fn clear(&self, bytes: &mut [u8]) -> Result<(), FieldError> {
        FieldWriter::at(bytes, self.base).put_zeros(self.n.saturating_mul(COUNTER))
    }

    /// Counts position `p` in (`counted`) or out.
    pub(super) fn update(
        &self,
        bytes: &mut [u8],
        p: usize,
        counted: bool,
    ) -> Result<(), FieldError> {
        let mut i = p.saturating_add(1);
        while i <= self.n {
            let off = self.offset(i);
            let v = FieldReader::at(bytes, off).get_u32()?;
            let v = if counted {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            };
            FieldWriter::at(bytes, off).put_u32(v)?;
            i = i.saturating_add(i & i.wrapping_neg());
        }
        Ok(())
    }

    /// Position of the `k`-th counted position (1-based), `None` for
    /// `k == 0` or an empty tree.
    pub(super) fn select(&self, bytes: &[u8], k: usize) -> Result<Option<usize>, FieldError> {
        if k == 0 || self.n == 0 {
            return Ok(None);
        }
        // The largest prefix counting fewer than k positions ends just
        // before the k-th: descend bit by bit, keeping what is left to
        // count (steps beyond `n` are skipped).
        let mut step = !(usize::MAX >> 1);
        let mut pos = 0usize;
        let mut rem = k;
        while step != 0 {
            let next = pos.saturating_add(step);
            if next <= self.n {
                // u32 to usize is lossless on every target the kernel builds.
                let v = FieldReader::at(bytes, self.offset(next)).get_u32()? as usize;
                if v < rem {
                    pos = next;
                    rem = rem.saturating_sub(v);
                }
            }
            step >>= 1;
        }
        Ok(Some(pos))
    }
}
