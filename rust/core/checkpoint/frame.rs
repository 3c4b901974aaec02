// SPDX-License-Identifier: GPL-2.0
//! Where the blocks of a chain go as it is walked: counted for the size
//! query, or framed into the image.

use super::super::image::{ImageError, ImageSizer, ImageWriter};
use super::ModuleState;

/// Takes the chain's blocks, head first.
pub(super) trait BlockSink {
    /// The block of `module`, whose facts are `facts`.
    fn block<M: ModuleState>(&mut self, module: &M, facts: &M::Facts) -> Result<(), ImageError>;
}

/// Adds up the image's size.
pub(super) struct Sizing(pub(super) ImageSizer);

impl BlockSink for Sizing {
    fn block<M: ModuleState>(&mut self, module: &M, facts: &M::Facts) -> Result<(), ImageError> {
        let (internal, external) = module.encoded_len(facts)?;
        self.0.add(internal, external)
    }
}

/// Writes the blocks into the image.
pub(super) struct Writing<'a>(pub(super) ImageWriter<'a>);

impl BlockSink for Writing<'_> {
    fn block<M: ModuleState>(&mut self, module: &M, facts: &M::Facts) -> Result<(), ImageError> {
        let (internal, external) = module.encoded_len(facts)?;
        self.0.module_with(
            M::NAME,
            internal,
            external,
            |w| module.save_internal(facts, w),
            |w| module.save_external(facts, w),
        )
    }
}
