// SPDX-License-Identifier: GPL-2.0
//! Allocator of pty slave indexes (minors).
//!
//! Opening the clone device takes the lowest free index, as Linux devpts
//! does, so restarted and fresh sessions see the numbering they expect.
//! Restart instead needs a pair back at its *original* index:
//! [`IndexAllocator::claim`] takes one exact index in O(1), or reports
//! [`IndexError::Busy`] (`EBUSY`) when it is held.
//!
//! The bitmap lives in a [`Storage`] allocated once at construction: one bit
//! per index, plus a summary with one bit per 64-index word telling whether
//! that word is full. Finding the lowest free index scans summary words
//! first, so even a million indexes cost at most a few hundred word reads.

use super::codec::{FieldReader, FieldWriter};
use super::errno::Errno;
use super::storage::{AllocError, Storage};

/// Why an exact index could not be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// The index is already in use. `EBUSY`.
    Busy,
    /// The index is not below [`IndexAllocator::max`]. `ENXIO`.
    OutOfRange,
}

impl IndexError {
    /// The errno for this error.
    pub const fn errno(&self) -> Errno {
        match self {
            Self::Busy => Errno::EBUSY,
            Self::OutOfRange => Errno::ENXIO,
        }
    }
}

const WORD_BYTES: usize = 8;
const WORD_BITS: usize = 64;

/// Lowest-free allocator of indexes `0..max`.
///
/// # Invariants
///
/// The storage holds `words` bitmap words followed by `summary_words`
/// summary words, little-endian `u64`s. Bitmap bits at or above `max` are
/// set (they never count as free); summary bit `w` is set exactly when
/// bitmap word `w` is all ones; summary bits at or above `words` are set.
#[derive(Debug)]
pub struct IndexAllocator<S: Storage> {
    storage: S,
    max: usize,
    words: usize,
    summary_words: usize,
    used: usize,
}

/// Number of 64-bit words needed for `bits` bits.
fn words_for(bits: usize) -> usize {
    bits.div_ceil(WORD_BITS)
}

/// A word with bits `from..64` set (`from < 64`), i.e. the padding mask.
fn mask_from(from: usize) -> u64 {
    u64::MAX
        .checked_shl(u32::try_from(from).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

impl<S: Storage> IndexAllocator<S> {
    /// An allocator of indexes `0..max`, all free, its bitmap allocated in
    /// `storage`.
    pub fn new(mut storage: S, max: usize) -> Result<Self, AllocError> {
        let words = words_for(max);
        let summary_words = words_for(words);
        let bytes = words
            .checked_add(summary_words)
            .and_then(|w| w.checked_mul(WORD_BYTES))
            .ok_or(AllocError)?;
        storage.release();
        storage.try_grow_to(bytes)?;
        let mut this = Self {
            storage,
            max,
            words,
            summary_words,
            used: 0,
        };
        // Padding past `max` in the last bitmap word counts as used.
        let rem = max % WORD_BITS;
        if rem != 0 {
            let last = words.saturating_sub(1);
            this.set_word(last, mask_from(rem));
        }
        // Padding past `words` in the last summary word counts as full.
        let srem = words % WORD_BITS;
        if srem != 0 {
            let last = words.saturating_add(summary_words).saturating_sub(1);
            this.set_word(last, mask_from(srem));
        }
        Ok(this)
    }

    /// Number of indexes managed (valid indexes are `0..max`).
    pub fn max(&self) -> usize {
        self.max
    }

    /// Number of indexes in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Storage word `w` (bitmap words first, then summary words).
    fn word(&self, w: usize) -> u64 {
        let start = w.saturating_mul(WORD_BYTES);
        FieldReader::at(self.storage.as_slice(), start)
            .get_u64()
            .unwrap_or(u64::MAX)
    }

    fn set_word(&mut self, w: usize, value: u64) {
        let start = w.saturating_mul(WORD_BYTES);
        // Past the storage (never, by the invariants) nothing is written.
        let _ = FieldWriter::at(self.storage.as_mut_slice(), start).put_u64(value);
    }

    /// Record in the summary whether bitmap word `w` is now full.
    fn update_summary(&mut self, w: usize, full: bool) {
        let sw = self.words.saturating_add(w / WORD_BITS);
        let bit = 1u64 << (w % WORD_BITS);
        let old = self.word(sw);
        self.set_word(sw, if full { old | bit } else { old & !bit });
    }

    /// Whether `index` is in use (`false` when out of range).
    pub fn is_used(&self, index: usize) -> bool {
        index < self.max && self.word(index / WORD_BITS) & (1u64 << (index % WORD_BITS)) != 0
    }

    /// Take the lowest free index, or `None` when all are in use.
    pub fn alloc(&mut self) -> Option<usize> {
        let mut s = 0;
        while s < self.summary_words {
            let summary = self.word(self.words.saturating_add(s));
            if summary != u64::MAX {
                let w = s
                    .saturating_mul(WORD_BITS)
                    .saturating_add(summary.trailing_ones() as usize);
                let bit = self.word(w).trailing_ones() as usize;
                let index = w.saturating_mul(WORD_BITS).saturating_add(bit);
                return self.claim(index).ok().map(|()| index);
            }
            s = s.saturating_add(1);
        }
        None
    }

    /// Take exactly `index` (restart puts a pair back where it was).
    pub fn claim(&mut self, index: usize) -> Result<(), IndexError> {
        if index >= self.max {
            return Err(IndexError::OutOfRange);
        }
        let w = index / WORD_BITS;
        let bit = 1u64 << (index % WORD_BITS);
        let old = self.word(w);
        if old & bit != 0 {
            return Err(IndexError::Busy);
        }
        let new = old | bit;
        self.set_word(w, new);
        if new == u64::MAX {
            self.update_summary(w, true);
        }
        self.used = self.used.saturating_add(1);
        Ok(())
    }

    /// Give `index` back. Returns whether it was in use.
    pub fn release(&mut self, index: usize) -> bool {
        if !self.is_used(index) {
            return false;
        }
        let w = index / WORD_BITS;
        let bit = 1u64 << (index % WORD_BITS);
        let old = self.word(w);
        self.set_word(w, old & !bit);
        if old == u64::MAX {
            self.update_summary(w, false);
        }
        self.used = self.used.saturating_sub(1);
        true
    }

    /// Iterate over the indexes in use, ascending (checkpoint of the
    /// global pty table, diagnostics). Skips empty words.
    pub fn iter_used(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.words)
            .flat_map(move |w| {
                let mut bits = self.word(w);
                let base = w.saturating_mul(WORD_BITS);
                core::iter::from_fn(move || {
                    if bits == 0 {
                        return None;
                    }
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits.wrapping_sub(1);
                    Some(base.saturating_add(bit))
                })
            })
            .take_while(move |&i| i < self.max)
    }
}
