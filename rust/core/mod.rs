// SPDX-License-Identifier: GPL-2.0
//! Pure logic of ckpt_pty: no kernel crate, no `unsafe`, no panics, no
//! allocation on the data path. Files refer to each other with `super::` so
//! they compile both as this module of the kernel crate and as the host crate.
//! A module may be a directory (`image/mod.rs`, whose files reach the
//! others with `super::super::`): both builds find it from here.

pub mod bytes;
pub mod checkpoint;
pub mod codec;
pub mod end;
pub mod errno;
pub mod image;
pub mod index;
pub mod ldterm;
pub mod options;
pub mod queue;
pub mod quota;
pub mod ratelimit;
pub mod storage;
pub mod stream;
pub mod termios;
pub mod waitlist;

pub use end::End;
