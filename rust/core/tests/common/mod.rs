// SPDX-License-Identifier: GPL-2.0
//! Host-side helpers shared by the integration tests.
#![allow(dead_code)]

use pty_core::storage::{AllocError, Storage};

/// `Vec<u8>`-backed storage, as the kernel's `KVec<u8>` one, with an
/// optional limit to provoke allocation failure.
#[derive(Debug, Default)]
pub struct VecStorage {
    pub buf: Vec<u8>,
    /// Growing past this many bytes fails.
    pub limit: Option<usize>,
    /// Number of successful grow calls.
    pub grows: usize,
}

impl VecStorage {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn limited(limit: usize) -> Self {
        Self {
            limit: Some(limit),
            ..Self::default()
        }
    }
}

impl Storage for VecStorage {
    fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        assert!(new_len >= self.buf.len(), "try_grow_to must never shrink");
        if self.limit.is_some_and(|l| new_len > l) {
            return Err(AllocError);
        }
        self.buf.resize(new_len, 0);
        self.grows += 1;
        Ok(())
    }

    fn release(&mut self) {
        self.buf = Vec::new();
    }
}

pub mod native;

/// Echo sink for the model: unbounded, and `flush` keeps what is queued
/// (Linux only drops output the master side has not yet taken in, which a
/// settled native pty never has).
#[derive(Debug, Default)]
pub struct Sink {
    pub out: Vec<u8>,
    pub room: Option<usize>,
    pub flushes: usize,
}

impl pty_core::ldterm::OutputSink for Sink {
    fn room(&self) -> usize {
        self.room.unwrap_or(usize::MAX)
    }

    fn push(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room());
        self.out.extend_from_slice(&bytes[..n]);
        if let Some(r) = self.room.as_mut() {
            *r -= n;
        }
        n
    }

    fn flush(&mut self) {
        self.flushes += 1;
    }
}
