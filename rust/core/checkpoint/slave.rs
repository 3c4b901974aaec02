// SPDX-License-Identifier: GPL-2.0
//! The slave stream's chain, head → tioc → ldterm → pts: its blocks in
//! order, what they say about the pair, and loading them.

use super::super::end::End;
use super::super::image::{ImageError, ModuleBlock, StreamImageHeader};
use super::super::ldterm::{Ldterm, LdtermSaved};
use super::super::storage::Storage;
use super::super::stream::{
    Pts, PtsFacts, PtsSaved, PtyPair, SlaveHead, Tioc, TiocFacts, TiocSaved,
};
use super::frame::BlockSink;
use super::{BadBlock, ModuleState, PairMeta, RestoreError, SlaveMeta};

/// A slave image, read back and checked.
pub(super) struct SlaveSaved<'a> {
    tioc: TiocSaved,
    ldterm: LdtermSaved<'a>,
    pts: PtsSaved<'a>,
}

impl SlaveSaved<'_> {
    /// What the image says about the pair.
    pub(super) fn meta(&self) -> SlaveMeta {
        let facts = &self.pts.facts;
        SlaveMeta {
            index: facts.index,
            mode: facts.mode,
            exclusive: self.tioc.exclusive,
            foreground_pgrp: self.tioc.foreground_pgrp(),
            slave_opens: facts.slave_opens,
            master_closed: facts.master_closed,
            node: facts.node,
        }
    }
}

/// Hands the slave's blocks to `out`, head first.
pub(super) fn save<S: Storage>(
    pair: &PtyPair<S>,
    meta: &PairMeta,
    out: &mut impl BlockSink,
) -> Result<(), ImageError> {
    let s = &pair.slave;
    out.block(&SlaveHead, &())?;
    let tioc = TiocFacts {
        exclusive: meta.exclusive[1],
        foreground_pgrp: Some(meta.foreground_pgrp),
    };
    out.block(&s.tioc, &tioc)?;
    out.block(&s.ldterm, &())?;
    let pts = PtsFacts {
        index: meta.index,
        mode: meta.mode,
        slave_opens: pair.life.slave_opens,
        master_closed: pair.life.master_closed,
        node: meta.node,
    };
    out.block(&s.pts, &pts)
}

/// Reads and checks the slave's blocks, head first.
pub(super) fn parse<'a, S: Storage>(
    blocks: &[ModuleBlock<'a>; 4],
    header: &StreamImageHeader,
) -> Result<SlaveSaved<'a>, BadBlock> {
    let [head, tioc, ldterm, pts] = blocks;
    SlaveHead::parse(head, header)?;
    Ok(SlaveSaved {
        tioc: Tioc::parse(tioc, header)?,
        ldterm: Ldterm::<S>::parse(ldterm, header)?,
        pts: Pts::<S>::parse(pts, header)?,
    })
}

/// Whether every module of the slave stream is fresh.
pub(super) fn is_fresh<S: Storage>(pair: &PtyPair<S>) -> bool {
    let s = &pair.slave;
    SlaveHead.is_fresh() && s.tioc.is_fresh() && s.ldterm.is_fresh() && s.pts.is_fresh()
}

/// Loads the slave stream, which must be fresh, and leaves it frozen: the
/// pts queue first (it was empty: clearing it undoes the load), then
/// ldterm, which reserves its memory before it changes anything, then
/// tioc, which cannot fail.
pub(super) fn load<S: Storage>(
    pair: &mut PtyPair<S>,
    saved: &SlaveSaved<'_>,
) -> Result<(), RestoreError> {
    if !super::is_fresh(pair, End::Slave) {
        return Err(RestoreError::NotFresh { kind: End::Slave });
    }
    let s = &mut pair.slave;
    s.pts.load(&saved.pts)?;
    if let Err(e) = s.ldterm.load(&saved.ldterm) {
        s.pts.input.clear();
        return Err(e);
    }
    s.tioc.load(&saved.tioc)?;
    pair.freeze(false);
    Ok(())
}
