// SPDX-License-Identifier: GPL-2.0
//! Bounded FIFO ring of bytes whose memory grows on demand.
//!
//! Every queue of a stream (unprocessed input, processed input, output
//! toward the peer, the canonical line) is a [`ByteQueue`]. The *bound* is
//! the flow-control limit (what `n_tty` calls its buffer size); the
//! *capacity* is what is allocated right now. Capacity starts at zero,
//! doubles from [`MIN_CAPACITY`] as data arrives, never exceeds the bound,
//! and is given back when the queue drains, so an idle pty holds no queue
//! memory at all.
//!
//! [`ByteQueue::push`] never drops data: bytes that do not fit are simply not
//! consumed and stay with the caller, which is how back-pressure travels up
//! a stream.

use super::bytes::{split_at_most, ByteSink, ByteSource, CopyFault, SliceSource};
use super::storage::{AllocError, Storage};

/// Why [`ByteQueue::push_from`] pushed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The queue could not grow.
    NoMemory,
    /// The source faulted.
    Fault,
}

/// First allocation of an empty queue, in bytes.
pub const MIN_CAPACITY: usize = 64;

/// A bounded FIFO ring of bytes over a growable [`Storage`].
///
/// # Invariants
///
/// `len <= capacity() <= bound` (except that a storage handed in larger
/// than the bound is used as is), and `head < capacity()` whenever
/// `capacity() > 0`. The queued bytes are `len` bytes starting at `head`,
/// wrapping at `capacity()`.
#[derive(Debug)]
pub struct ByteQueue<S: Storage> {
    storage: S,
    head: usize,
    len: usize,
    bound: usize,
}

impl<S: Storage> ByteQueue<S> {
    /// An empty queue that will hold at most `bound` bytes. Memory already
    /// in `storage` is released: the queue allocates only when data comes.
    pub fn new(mut storage: S, bound: usize) -> Self {
        storage.release();
        Self {
            storage,
            head: 0,
            len: 0,
            bound,
        }
    }

    /// Number of queued bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most bytes the queue accepts.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Change the bound. Queued bytes are kept even when they exceed a
    /// smaller bound; [`Self::room`] is then 0 until they drain.
    pub fn set_bound(&mut self, bound: usize) {
        self.bound = bound;
    }

    /// Bytes that may still be pushed before the bound is reached.
    pub fn room(&self) -> usize {
        self.bound.saturating_sub(self.len)
    }

    /// Whether the bound is reached.
    pub fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Bytes currently allocated.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Physical position of the byte `off` places after the head.
    /// Callers keep `off <= capacity()`.
    fn wrap(&self, off: usize) -> usize {
        let cap = self.capacity();
        let to_end = cap.saturating_sub(self.head);
        if off < to_end {
            self.head.saturating_add(off)
        } else {
            off.saturating_sub(to_end)
        }
    }

    /// Make room for `needed` bytes in total (`needed <= bound`). Returns
    /// whether the capacity now suffices; on failure the contents are
    /// unchanged (possibly moved to the start of the storage) and the
    /// capacity may still have grown a little.
    fn reserve(&mut self, needed: usize) -> bool {
        let cap = self.capacity();
        if needed <= cap {
            return true;
        }
        // Geometric growth: at least MIN_CAPACITY, at least double, enough
        // for `needed` in one step, and never past the bound.
        let mut target = cap.saturating_mul(2).max(MIN_CAPACITY);
        while target < needed {
            target = target.saturating_mul(2);
        }
        let target = target.min(self.bound.max(needed));
        // Make the contents contiguous from index 0 so that the new, zeroed
        // bytes land after the tail and the ring stays consistent.
        if self.head != 0 {
            if let Some(all) = self.storage.as_mut_slice().get_mut(..cap) {
                if self.head < all.len() {
                    all.rotate_left(self.head);
                }
            }
            self.head = 0;
        }
        if self.storage.try_grow_to(target).is_ok() {
            return true;
        }
        // Under memory pressure, ask for just what this push needs, and
        // failing that for a small step so that a partial push can progress.
        if target > needed && self.storage.try_grow_to(needed).is_ok() {
            return true;
        }
        let step = cap.saturating_add(MIN_CAPACITY).min(needed);
        if step > cap {
            let _partial = self.storage.try_grow_to(step);
        }
        false
    }

    /// Make sure that pushing `additional` more bytes (up to the bound)
    /// cannot fail for lack of memory, so that a caller can update several
    /// queues all-or-nothing.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        let needed = self
            .len
            .saturating_add(additional)
            .min(self.bound.max(self.len));
        if self.reserve(needed) {
            Ok(())
        } else {
            Err(AllocError)
        }
    }

    /// Append as many bytes of `data` as fit under the bound, growing the
    /// storage on demand. Returns how many were taken; the rest were not
    /// consumed. If growing fails, fills what the current capacity allows;
    /// `Err` only when allocation failure left no byte pushed.
    pub fn push(&mut self, data: &[u8]) -> Result<usize, AllocError> {
        if self.push_in_place(data) {
            return Ok(data.len());
        }
        match self.push_from(&mut SliceSource::new(data), data.len()) {
            Ok(n) => Ok(n),
            Err(PushError::NoMemory | PushError::Fault) => Err(AllocError),
        }
    }

    /// The common case of [`Self::push`] (ldterm queues and echoes its
    /// bytes one or two at a time): all of `data` fits under the bound in
    /// the memory already allocated, before the ring wraps. Whether it was
    /// pushed; nothing changes when not.
    fn push_in_place(&mut self, data: &[u8]) -> bool {
        let n = data.len();
        if n == 0 || n > self.room() || self.len.saturating_add(n) > self.capacity() {
            return false;
        }
        let tail = self.wrap(self.len);
        let Some(dst) = self
            .storage
            .as_mut_slice()
            .get_mut(tail..tail.saturating_add(n))
        else {
            return false;
        };
        match (dst, data) {
            ([d], [b]) => *d = *b,
            (dst, data) => dst.copy_from_slice(data),
        }
        self.len = self.len.saturating_add(n);
        true
    }

    /// [`Self::push`] of at most `max` bytes taken from `src`, copied
    /// straight into the ring (one copy, no intermediate buffer). A fault
    /// of `src` keeps the bytes copied before it; `Err` only when nothing
    /// was pushed.
    pub fn push_from<R: ByteSource + ?Sized>(
        &mut self,
        src: &mut R,
        max: usize,
    ) -> Result<usize, PushError> {
        let want = src.remaining().min(max).min(self.room());
        if want == 0 {
            return Ok(0);
        }
        let needed = self.len.saturating_add(want);
        let n = if self.reserve(needed) {
            want
        } else {
            want.min(self.capacity().saturating_sub(self.len))
        };
        if n == 0 {
            return Err(PushError::NoMemory);
        }
        let cap = self.capacity();
        let tail = self.wrap(self.len);
        let first = n.min(cap.saturating_sub(tail));
        let runs = [tail..tail.saturating_add(first), 0..n.saturating_sub(first)];
        let mut pushed = 0usize;
        // By reference: the kernel's `core` does not inline an array's
        // `IntoIter`, which profiles showed on every push.
        for run in runs.iter() {
            if run.is_empty() {
                continue;
            }
            let Some(dst) = self.storage.as_mut_slice().get_mut(run.clone()) else {
                break;
            };
            let len = dst.len();
            if src.fill(dst).is_err() {
                return if pushed == 0 {
                    Err(PushError::Fault)
                } else {
                    Ok(pushed)
                };
            }
            pushed = pushed.saturating_add(len);
            self.len = self.len.saturating_add(len);
        }
        Ok(pushed)
    }

    /// Append one byte. Returns `Ok(false)` when the bound is reached.
    pub fn push_byte(&mut self, byte: u8) -> Result<bool, AllocError> {
        self.push(&[byte]).map(|n| n == 1)
    }

    /// The queued bytes in order, as the two contiguous runs of the ring
    /// (the second is empty unless the contents wrap).
    pub fn front_slices(&self) -> (&[u8], &[u8]) {
        let cap = self.capacity();
        let first = self.len.min(cap.saturating_sub(self.head));
        let second = self.len.saturating_sub(first);
        let buf = self.storage.as_slice();
        let a = buf
            .get(self.head..self.head.saturating_add(first))
            .unwrap_or(&[]);
        let b = buf.get(..second).unwrap_or(&[]);
        (a, b)
    }

    /// Moves the queued bytes to the start of the storage so that they are
    /// one slice, and returns it (for scans that must see all pending
    /// input at once, like flow-control lookahead).
    pub fn make_contiguous(&mut self) -> &[u8] {
        let cap = self.capacity();
        if self.head != 0 {
            if let Some(all) = self.storage.as_mut_slice().get_mut(..cap) {
                if self.head < all.len() {
                    all.rotate_left(self.head);
                }
            }
            self.head = 0;
        }
        self.storage.as_slice().get(..self.len).unwrap_or(&[])
    }

    /// Iterate over the queued bytes without consuming them (checkpoint
    /// serialization).
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        let (a, b) = self.front_slices();
        a.iter().chain(b.iter()).copied()
    }

    /// The byte `index` places from the front, if queued.
    pub fn get(&self, index: usize) -> Option<u8> {
        if index >= self.len {
            return None;
        }
        self.storage.as_slice().get(self.wrap(index)).copied()
    }

    /// The most recently pushed byte.
    pub fn back(&self) -> Option<u8> {
        self.get(self.len.checked_sub(1)?)
    }

    /// Remove and return the most recently pushed byte (erasing a typed
    /// character from the canonical line).
    pub fn pop_back(&mut self) -> Option<u8> {
        let byte = self.back()?;
        self.len = self.len.saturating_sub(1);
        self.after_shrink();
        Some(byte)
    }

    /// Overwrite the byte `index` places from the front. Returns whether
    /// it was queued.
    pub fn set(&mut self, index: usize, byte: u8) -> bool {
        if index >= self.len {
            return false;
        }
        let pos = self.wrap(index);
        match self.storage.as_mut_slice().get_mut(pos) {
            Some(slot) => {
                *slot = byte;
                true
            }
            None => false,
        }
    }

    /// Keep only the first `len` bytes (drop the most recently pushed).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.after_shrink();
        }
    }

    /// Copy queued bytes, starting `offset` bytes from the front, into
    /// `out` without consuming them. Returns the number copied.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.front_slices();
        let mut copied = 0;
        let mut skip = offset;
        for &run in [a, b].iter() {
            let run = match run.get(skip..) {
                Some(rest) => {
                    skip = 0;
                    rest
                }
                None => {
                    skip = skip.saturating_sub(run.len());
                    continue;
                }
            };
            let dst = out.get_mut(copied..).unwrap_or(&mut []);
            let n = dst.len().min(run.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..n), run.get(..n)) {
                d.copy_from_slice(s);
            }
            copied = copied.saturating_add(n);
        }
        copied
    }

    /// Move up to `out.len()` bytes from the front into `out`. Returns the
    /// number moved.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.copy_out(0, out);
        self.discard(n);
        n
    }

    /// Moves up to `max` bytes from the front into `sink` (as much as it
    /// takes), one copy per contiguous run. A fault of `sink` keeps the
    /// bytes that did not reach it; `Err` only when none did.
    pub fn pop_to<W: ByteSink + ?Sized>(
        &mut self,
        sink: &mut W,
        max: usize,
    ) -> Result<usize, CopyFault> {
        let mut budget = max.min(sink.room());
        let mut moved = 0usize;
        let (a, b) = self.front_slices();
        for &run in [a, b].iter() {
            let (now, _) = split_at_most(run, budget);
            if now.is_empty() {
                break;
            }
            if sink.take(now).is_err() {
                if moved == 0 {
                    return Err(CopyFault);
                }
                break;
            }
            moved = moved.saturating_add(now.len());
            budget = budget.saturating_sub(now.len());
        }
        self.discard(moved);
        Ok(moved)
    }

    /// Remove and return the front byte.
    pub fn pop_byte(&mut self) -> Option<u8> {
        let byte = self.get(0)?;
        self.discard(1);
        Some(byte)
    }

    /// Drop up to `n` bytes from the front. Returns the number dropped.
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.head = self.wrap(n);
        self.len = self.len.saturating_sub(n);
        self.after_shrink();
        n
    }

    /// Drop every queued byte and release the memory.
    pub fn clear(&mut self) {
        self.len = 0;
        self.head = 0;
        self.storage.release();
    }

    /// Release the memory if nothing is queued. Draining already does this;
    /// kept for callers that want to be explicit.
    pub fn shrink_if_empty(&mut self) {
        if self.len == 0 {
            self.clear();
        }
    }

    /// Keep the invariants after bytes left the queue: an empty queue holds
    /// no memory, so an idle pty costs nothing.
    fn after_shrink(&mut self) {
        if self.len == 0 {
            self.clear();
        } else if self.head >= self.capacity() {
            self.head = 0;
        }
    }

    /// The storage, e.g. to account memory.
    pub fn storage(&self) -> &S {
        &self.storage
    }
}
