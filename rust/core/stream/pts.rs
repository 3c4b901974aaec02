// SPDX-License-Identifier: GPL-2.0
//! The pts module: the slave's driver end, where the master's writes wait
//! unprocessed until ldterm takes them.
//!
//! # Checkpoint block
//!
//! The block also carries the pair's facts that the slave image restores
//! or records: index, mode, open slave files, whether the master had
//! closed, and the slave node's owner and permissions.
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! pts    I      0    4 slave index
//!               4    1 pty mode (= image header's)
//!               5    4 open slave files at checkpoint
//!               9    1 master closed (slave hung up), bool
//!              10    4 node owner uid (as the checkpointing process sees it)
//!              14    4 node group gid
//!              18    2 node permission bits, <= 0o7777
//! pts    E      0    n unprocessed input (master writes ldterm has not
//!                      taken), front first; n <= PTS_INPUT_BOUND
//! ```

use super::super::checkpoint::{
    load_queue, save_queue, BadBlock, BlockReader, ModuleState, NodeOwner, RestoreError,
    NODE_MODE_MASK,
};
use super::super::codec::{FieldError, FieldWriter};
use super::super::image::{ModuleBlock, ModuleName, PtyMode, StreamImageHeader};
use super::super::queue::ByteQueue;
use super::super::storage::Storage;

/// Bound of the pts input queue: bytes the master wrote that ldterm has not
/// taken yet. A master writer blocks (or gets `EAGAIN`) beyond it.
pub const PTS_INPUT_BOUND: usize = 64 * 1024;

/// The pts module: the slave's driver end, holding the unprocessed input
/// that crossed from the master.
pub struct Pts<S: Storage> {
    /// Bytes written by the master that ldterm has not taken yet.
    pub input: ByteQueue<S>,
}

/// What the pts block carries beside the module's own state: the facts of
/// the pair that the slave image restores or records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtsFacts {
    /// Slave index.
    pub index: u32,
    /// Pty mode (the image header's).
    pub mode: PtyMode,
    /// Slave files open at checkpoint.
    pub slave_opens: u32,
    /// The master had closed (the slave was hung up).
    pub master_closed: bool,
    /// Owner and permissions of the slave node.
    pub node: NodeOwner,
}

/// A pts block, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtsSaved<'a> {
    /// Unprocessed input, front first.
    pub unprocessed: &'a [u8],
    /// The pair's facts.
    pub facts: PtsFacts,
}

impl<S: Storage> ModuleState for Pts<S> {
    const NAME: ModuleName = ModuleName::Pts;
    type Facts = PtsFacts;
    type Saved<'a> = PtsSaved<'a>;

    fn save_internal(&self, facts: &PtsFacts, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u32(facts.index)?;
        w.put_u8(facts.mode.as_u8())?;
        w.put_u32(facts.slave_opens)?;
        w.put_bool(facts.master_closed)?;
        w.put_u32(facts.node.uid)?;
        w.put_u32(facts.node.gid)?;
        w.put_u16(facts.node.mode)
    }

    fn save_external(&self, _: &PtsFacts, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        save_queue(w, &self.input, 0, self.input.len())
    }

    /// Internal: index, mode, open count, master-closed flag, node owner
    /// and mode (4 + 1 + 4 + 1 + 4 + 4 + 2). External: the queue.
    fn encoded_len(&self, _: &PtsFacts) -> Result<(usize, usize), super::super::image::ImageError> {
        const LEN: usize = 4 + 1 + 4 + 1 + 4 + 4 + 2;
        Ok((LEN, self.input.len()))
    }

    fn parse<'a>(
        block: &ModuleBlock<'a>,
        header: &StreamImageHeader,
    ) -> Result<PtsSaved<'a>, BadBlock> {
        let mut i = BlockReader::internal(block);
        let index = i.u32()?;
        let mode = i.pty_mode(header.mode)?;
        let slave_opens = i.u32()?;
        let master_closed = i.bool()?;
        let node = parse_node(&mut i)?;
        i.finish()?;
        let mut e = BlockReader::external(block);
        let unprocessed = e.rest(PTS_INPUT_BOUND, "more bytes than the pts input bound")?;
        e.finish()?;
        let facts = PtsFacts {
            index,
            mode,
            slave_opens,
            master_closed,
            node,
        };
        Ok(PtsSaved { unprocessed, facts })
    }

    fn is_fresh(&self) -> bool {
        self.input.is_empty()
    }

    fn load(&mut self, saved: &PtsSaved<'_>) -> Result<(), RestoreError> {
        load_queue(&mut self.input, saved.unprocessed)
    }
}

/// The slave node's owner, group and permission bits.
fn parse_node(i: &mut BlockReader<'_>) -> Result<NodeOwner, BadBlock> {
    let uid = i.u32()?;
    let gid = i.u32()?;
    let mode_at = i.pos();
    let mode = i.u16()?;
    if mode & !NODE_MODE_MASK != 0 {
        return Err(i.bad(mode_at, "node permission bits out of range"));
    }
    Ok(NodeOwner { uid, gid, mode })
}
