// SPDX-License-Identifier: GPL-2.0
//! The master stream's chain, head → tioc → ptm: its blocks in order, what
//! they say about the pair, and loading them.

use super::super::end::End;
use super::super::image::{ImageError, ModuleBlock, StreamImageHeader};
use super::super::storage::Storage;
use super::super::stream::{
    MasterHead, MasterHeadSaved, Ptm, PtmFacts, PtmSaved, PtyPair, Tioc, TiocFacts, TiocSaved,
};
use super::frame::BlockSink;
use super::{BadBlock, MasterMeta, ModuleState, PairMeta, RestoreError};

/// A master image, read back and checked.
pub(super) struct MasterSaved<'a> {
    head: MasterHeadSaved<'a>,
    tioc: TiocSaved,
    ptm: PtmSaved,
}

impl MasterSaved<'_> {
    /// What the image says about the pair.
    pub(super) fn meta(&self) -> MasterMeta {
        let facts = &self.ptm.facts;
        MasterMeta {
            index: facts.index,
            mode: facts.mode,
            locked: facts.locked,
            exclusive: self.tioc.exclusive,
            master_open: facts.master_open,
            slave_closed: facts.slave_closed,
            socket: facts.socket,
        }
    }
}

/// Hands the master's blocks to `out`, head first.
pub(super) fn save<S: Storage>(
    pair: &PtyPair<S>,
    meta: &PairMeta,
    out: &mut impl BlockSink,
) -> Result<(), ImageError> {
    let m = &pair.master;
    out.block(&m.head, &())?;
    let tioc = TiocFacts {
        exclusive: meta.exclusive[0],
        foreground_pgrp: None,
    };
    out.block(&m.tioc, &tioc)?;
    let ptm = PtmFacts {
        index: meta.index,
        mode: meta.mode,
        locked: meta.locked,
        master_open: meta.master_open,
        slave_closed: pair.life.slave_closed,
        socket: meta.socket,
    };
    out.block(&m.ptm, &ptm)
}

/// Reads and checks the master's blocks, head first.
pub(super) fn parse<'a, S: Storage>(
    blocks: &[ModuleBlock<'a>; 3],
    header: &StreamImageHeader,
) -> Result<MasterSaved<'a>, BadBlock> {
    let [head, tioc, ptm] = blocks;
    Ok(MasterSaved {
        head: MasterHead::<S>::parse(head, header)?,
        tioc: Tioc::parse(tioc, header)?,
        ptm: Ptm::parse(ptm, header)?,
    })
}

/// Whether every module of the master stream is fresh.
pub(super) fn is_fresh<S: Storage>(pair: &PtyPair<S>) -> bool {
    let m = &pair.master;
    m.head.is_fresh() && m.tioc.is_fresh() && m.ptm.is_fresh()
}

/// Loads the master stream, which must be fresh, and leaves it frozen.
/// Only the head can fail (memory), and it goes first.
pub(super) fn load<S: Storage>(
    pair: &mut PtyPair<S>,
    saved: &MasterSaved<'_>,
) -> Result<(), RestoreError> {
    if !super::is_fresh(pair, End::Master) {
        return Err(RestoreError::NotFresh { kind: End::Master });
    }
    let m = &mut pair.master;
    m.head.load(&saved.head)?;
    m.tioc.load(&saved.tioc)?;
    m.ptm.load(&saved.ptm)?;
    if pair.life.slave_opens == 0 {
        pair.life.slave_closed = saved.ptm.facts.slave_closed;
    }
    pair.freeze(true);
    Ok(())
}
