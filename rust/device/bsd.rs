// SPDX-License-Identifier: GPL-2.0
//! BSD mode: a fixed set of named pairs per instance, `ptyN` (master) and
//! `ttyN` (slave), created at mount (`bsd=N`) and living as long as it.
//!
//! Unlike the AT&T clone device there is no ordering rule: either end may
//! be opened first (a slave reader then waits for its master), and a
//! restart loads a pair's state directly. A pair starts a fresh session
//! when it is opened while no end is open. As with Linux's legacy ptys,
//! the master is exclusive (a second open gets `EIO`), and after the
//! master closes the slave is hung up until all its files are closed.

use super::instance::Instance;
use super::pair::Pair;
use super::settings;
use kernel::{prelude::*, sync::Arc};

/// If nobody holds the pair, a new session starts: fresh streams, and a
/// slave tty with a fresh pty's settings.
pub(crate) fn maybe_fresh_session(pair: &Pair<Instance>) {
    let fresh = {
        let mut streams = pair.streams.lock();
        let idle = !streams.master_open && streams.pty.life.slave_opens == 0;
        if idle {
            streams.reset_session();
            // BSD pairs are never locked: a lock an image brought ends
            // with the session that restored it.
            pair.set_locked(false);
        }
        idle
    };
    if !fresh {
        return;
    }
    // Outside the pair lock: the tty core's termios lock comes first.
    if let Some(file) = pair.slave_file() {
        settings::reset_slave_tty(pair, &file);
    }
}

/// An open of `ptyN`: BSD pair `minor` of `instance`, whose master is
/// exclusive.
pub(crate) fn open_master(instance: &Instance, minor: u32) -> Result<Arc<Pair<Instance>>> {
    let pair = instance.bsd_pair(minor).ok_or(ENXIO)?;
    maybe_fresh_session(&pair);
    {
        let mut streams = pair.streams.lock();
        if streams.master_open || streams.pty.life.master_closed {
            return Err(EIO);
        }
        streams.master_open = true;
    }
    Ok(pair)
}
