// SPDX-License-Identifier: GPL-2.0
//! The index → pair map of an instance, in chunks made on first use: its
//! memory grows with the indexes in use, not with `max=` (up to 2^20 per
//! instance), and no allocation is larger than one page.

use kernel::{prelude::*, sync::Arc};

/// Indexes per chunk: one page of pointers.
const CHUNK: usize = 512;

type Chunk<T> = [Option<Arc<T>>; CHUNK];

/// `max` slots of `Option<Arc<T>>`, all `None` at first.
pub(crate) struct Slots<T> {
    /// One entry per [`CHUNK`] indexes: 16 KiB for 2^20 indexes. A chunk
    /// stays once made (a busy instance keeps its working set).
    chunks: KVVec<Option<KBox<Chunk<T>>>>,
    max: usize,
}

impl<T> Slots<T> {
    /// A table for indexes `0..max`.
    pub(crate) fn new(max: usize) -> Result<Self> {
        let count = max.div_ceil(CHUNK);
        let mut chunks = KVVec::with_capacity(count, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..count {
            chunks.push(None, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self { chunks, max })
    }

    /// The slot of `index`, making its chunk if needed: `ENOMEM` when
    /// that fails, `ENXIO` beyond `max`.
    pub(crate) fn slot_mut(&mut self, index: usize) -> Result<&mut Option<Arc<T>>> {
        if index >= self.max {
            return Err(ENXIO);
        }
        let chunk = self.chunks.get_mut(index / CHUNK).ok_or(ENXIO)?;
        if chunk.is_none() {
            *chunk = Some(KBox::new([const { None }; CHUNK], GFP_KERNEL_ACCOUNT)?);
        }
        chunk
            .as_mut()
            .and_then(|c| c.get_mut(index % CHUNK))
            .ok_or(ENXIO)
    }

    /// The slot of `index` if its chunk exists (no allocation).
    pub(crate) fn existing_mut(&mut self, index: usize) -> Option<&mut Option<Arc<T>>> {
        self.chunks
            .get_mut(index / CHUNK)?
            .as_mut()?
            .get_mut(index % CHUNK)
    }
}
