// SPDX-License-Identifier: GPL-2.0
//! The stream heads: the master's queue that the master's reader reads,
//! with the echo held back while the slave's output is stopped; and the
//! slave's, which has nothing of its own (the slave's reader reads ldterm's
//! queue).
//!
//! # Checkpoint blocks
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! head   I      0    4 held: echo held back by ^S at the back of the
//!                      queue, out of the master's sight; <= E length
//! head   E      0    n master head queue, front first (slave output and
//!                      echo); n <= MASTER_HEAD_BOUND
//! head   I,E    -    0 (empty: the slave's reader reads ldterm's queue;
//!                      the block keeps the chain visible)
//! ```

use super::super::checkpoint::{
    len32, load_queue, save_queue, BadBlock, BlockReader, ModuleState, RestoreError,
};
use super::super::codec::{FieldError, FieldWriter};
use super::super::image::{ModuleBlock, ModuleName, StreamImageHeader};
use super::super::queue::ByteQueue;
use super::super::storage::Storage;

/// Bound of the master's stream-head queue: slave output and echo waiting
/// for the master's reader. A slave writer blocks beyond it.
pub const MASTER_HEAD_BOUND: usize = 64 * 1024;

/// The master's stream head: what the master's reader gets.
pub struct MasterHead<S: Storage> {
    /// Slave output (already through `OPOST`) and echo.
    pub read: ByteQueue<S>,
    /// Echo produced while the slave's output is stopped (`^S`), held at
    /// the back of `read` out of the master's sight until output restarts,
    /// as `n_tty` holds it in its echo buffer.
    pub held: usize,
}

impl<S: Storage> MasterHead<S> {
    /// Bytes the master may read now: all but the held echo.
    pub fn visible(&self) -> usize {
        self.read.len().saturating_sub(self.held)
    }
}

/// A master head block, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MasterHeadSaved<'a> {
    /// The queue, front first.
    pub queue: &'a [u8],
    /// Held echo at its back.
    pub held: usize,
}

impl<S: Storage> ModuleState for MasterHead<S> {
    const NAME: ModuleName = ModuleName::Head;
    type Facts = ();
    type Saved<'a> = MasterHeadSaved<'a>;

    fn save_internal(&self, _: &(), w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        let held = len32(w, self.held)?;
        w.put_u32(held)
    }

    fn save_external(&self, _: &(), w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        save_queue(w, &self.read, 0, self.read.len())
    }

    /// Internal: the held count (`u32`). External: the queue.
    fn encoded_len(&self, _: &()) -> Result<(usize, usize), super::super::image::ImageError> {
        Ok((4, self.read.len()))
    }

    fn parse<'a>(
        block: &ModuleBlock<'a>,
        _: &StreamImageHeader,
    ) -> Result<MasterHeadSaved<'a>, BadBlock> {
        let mut i = BlockReader::internal(block);
        let held_at = i.pos();
        let held = i.len(MASTER_HEAD_BOUND, "held echo longer than the queue bound")?;
        let too_much_held = i.bad(held_at, "held echo longer than the queue");
        i.finish()?;
        let mut e = BlockReader::external(block);
        let queue = e.rest(MASTER_HEAD_BOUND, "more bytes than the master head's bound")?;
        e.finish()?;
        if held > queue.len() {
            return Err(too_much_held);
        }
        Ok(MasterHeadSaved { queue, held })
    }

    fn is_fresh(&self) -> bool {
        self.read.is_empty() && self.held == 0
    }

    fn load(&mut self, saved: &MasterHeadSaved<'_>) -> Result<(), RestoreError> {
        load_queue(&mut self.read, saved.queue)?;
        self.held = saved.held;
        Ok(())
    }
}

/// The slave's stream head. The slave's reader reads ldterm's processed
/// input directly, so the head holds nothing; its (empty) block keeps the
/// chain of the checkpoint message the stream's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlaveHead;

impl ModuleState for SlaveHead {
    const NAME: ModuleName = ModuleName::Head;
    type Facts = ();
    type Saved<'a> = ();

    fn save_internal(&self, _: &(), _: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        Ok(())
    }

    fn encoded_len(&self, _: &()) -> Result<(usize, usize), super::super::image::ImageError> {
        Ok((0, 0))
    }

    fn parse(block: &ModuleBlock<'_>, _: &StreamImageHeader) -> Result<(), BadBlock> {
        BlockReader::internal(block).finish()?;
        BlockReader::external(block).finish()
    }

    fn is_fresh(&self) -> bool {
        true
    }

    fn load(&mut self, _: &()) -> Result<(), RestoreError> {
        Ok(())
    }
}
