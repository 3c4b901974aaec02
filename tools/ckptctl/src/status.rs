// SPDX-License-Identifier: GPL-2.0
//! `ckptctl status`: the module, its counters, and every pair with its
//! holders, freeze state, queues and settings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::fd::AsFd;
use std::path::Path;

use pty_core::image::PtyMode;
use pty_core::termios::Termios;
use pty_core::End;
use serde_json::{json, Value};

use crate::ends::{self, HeldEnd, PairKey, Pidfds};
use crate::procfs::{self, FdEntry};
use crate::state;
use crate::sys;
use crate::uapi;

/// One process descriptor on a pair.
#[derive(Clone, Debug)]
pub struct Holder {
    /// Pid.
    pub pid: i32,
    /// Command name.
    pub comm: String,
    /// Descriptor.
    pub fd: i32,
    /// Which end.
    pub kind: End,
}

/// One pair as `status` sees it.
#[derive(Clone, Debug, Default)]
pub struct PairView {
    /// Who holds its ends.
    pub holders: Vec<Holder>,
    /// `CKPT_STATUS`, if an end could be reached.
    pub status: Option<uapi::StreamStatus>,
    /// `TCGETS`, if an end could be reached.
    pub termios: Option<Termios>,
}

/// Everything `status` shows.
#[derive(Clone, Debug, Default)]
pub struct StatusReport {
    /// `/sys/module/ckpt_pty` or `/dev/ckpt/control` exists.
    pub loaded: bool,
    /// `/sys/module/ckpt_pty/version`.
    pub version: Option<String>,
    /// `/sys/module/ckpt_pty/srcversion`.
    pub srcversion: Option<String>,
    /// `CKPT_GLOBAL_STATUS`.
    pub global: Option<uapi::GlobalStatus>,
    /// Why the global status could not be read.
    pub global_error: Option<String>,
    /// Pairs by mode and index.
    pub pairs: BTreeMap<PairKey, PairView>,
    /// `/dev/ckpt/ptmx` descriptors whose index could not be learnt.
    pub unknown_masters: Vec<Holder>,
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn holder(proc: &Path, e: &FdEntry) -> Holder {
    Holder {
        pid: e.pid,
        comm: procfs::comm(proc, e.pid),
        fd: e.fd,
        kind: e.node.kind,
    }
}

/// Gathers the report. `proc` is normally `/proc`, `dev` `/dev/ckpt`.
pub fn gather(proc: &Path, dev: &Path, sys_module: &Path) -> StatusReport {
    let mut r = StatusReport {
        loaded: sys_module.exists() || dev.join("control").exists(),
        version: read_trimmed(&sys_module.join("version")),
        srcversion: read_trimmed(&sys_module.join("srcversion")),
        ..Default::default()
    };
    if !r.loaded {
        return r;
    }
    match read_global_status(dev) {
        Ok(g) => r.global = Some(g),
        Err(e) => r.global_error = Some(e),
    }
    for (mode, dir, prefix) in [
        (PtyMode::Att, dev.join("pts"), ""),
        (PtyMode::Bsd, dev.to_path_buf(), "pty"),
    ] {
        for index in procfs::node_indexes(&dir, prefix) {
            r.pairs
                .entry(PairKey {
                    mode: mode.as_u8(),
                    index,
                })
                .or_default();
        }
    }
    let reached = add_holders(&mut r, proc);
    for (pair, held) in &reached {
        if let Some(view) = r.pairs.get_mut(pair) {
            view.status = sys::stream_status(held.fd()).ok();
            view.termios = sys::termios(held.fd()).ok();
        }
    }
    r
}

/// `CKPT_GLOBAL_STATUS` on `dev`/control, or why it cannot be read.
fn read_global_status(dev: &Path) -> Result<uapi::GlobalStatus, String> {
    let control = sys::open(&dev.join("control").to_string_lossy(), libc::O_RDONLY)
        .map_err(|e| sys::errno_name(&e))?;
    sys::global_status(control.as_fd()).map_err(|e| sys::errno_name(&e))
}

/// Adds every other process's ckpt_pty descriptor to its pair (or to the
/// masters of unknown index); returns one end reached for each pair whose
/// descriptor could be duplicated.
fn add_holders(r: &mut StatusReport, proc: &Path) -> BTreeMap<PairKey, HeldEnd> {
    let mut pidfds = Pidfds::default();
    let mut reached: BTreeMap<PairKey, HeldEnd> = BTreeMap::new();
    let me = std::process::id() as i32;
    for e in procfs::all_fds(proc).into_iter().filter(|e| e.pid != me) {
        let h = holder(proc, &e);
        match ends::take(&mut pidfds, &e) {
            Ok(held) => {
                let pair = held.key.pair();
                r.pairs.entry(pair).or_default().holders.push(h);
                reached.entry(pair).or_insert(held);
            }
            Err(_) => match e.node.index {
                Some(index) => r
                    .pairs
                    .entry(PairKey {
                        mode: e.node.mode.as_u8(),
                        index,
                    })
                    .or_default()
                    .holders
                    .push(h),
                None => r.unknown_masters.push(h),
            },
        }
    }
    reached
}

fn frozen_text(st: &Option<uapi::StreamStatus>) -> &'static str {
    match st.map(|s| s.frozen & (uapi::CKPT_FROZEN_MASTER | uapi::CKPT_FROZEN_SLAVE)) {
        None => "-",
        Some(0) => "no",
        Some(uapi::CKPT_FROZEN_MASTER) => "master",
        Some(uapi::CKPT_FROZEN_SLAVE) => "slave",
        Some(_) => "both",
    }
}

fn holders_text(hs: &[Holder]) -> String {
    let mut parts = Vec::new();
    for kind in [End::Master, End::Slave] {
        let mut by_pid: BTreeMap<(i32, &str), Vec<String>> = BTreeMap::new();
        for h in hs.iter().filter(|h| h.kind == kind) {
            by_pid
                .entry((h.pid, &h.comm))
                .or_default()
                .push(h.fd.to_string());
        }
        if by_pid.is_empty() {
            continue;
        }
        let list: Vec<String> = by_pid
            .into_iter()
            .map(|((pid, comm), fds)| format!("{comm}[{pid}]:{}", fds.join(",")))
            .collect();
        parts.push(format!("{}: {}", kind.name(), list.join(" ")));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("  ")
    }
}

/// Text form.
pub fn text(r: &StatusReport) -> String {
    let mut o = String::new();
    if !r.loaded {
        let _ = writeln!(o, "module ckpt_pty: not loaded");
        return o;
    }
    describe_module(&mut o, r);
    describe_pairs(&mut o, r);
    if !r.unknown_masters.is_empty() {
        let _ = writeln!(
            o,
            "\n{} /dev/ckpt/ptmx descriptors of unknown index (run as root to see them): {}",
            r.unknown_masters.len(),
            holders_text(&r.unknown_masters)
        );
    }
    o
}

/// The module's version and its global counters.
fn describe_module(o: &mut String, r: &StatusReport) {
    let _ = writeln!(
        o,
        "module ckpt_pty: loaded, version {}{}, image format {}",
        r.version.as_deref().unwrap_or("-"),
        r.srcversion
            .as_deref()
            .map(|s| format!(" (srcversion {s})"))
            .unwrap_or_default(),
        r.global
            .map_or("-".to_string(), |g| g.format_version.to_string())
    );
    match (&r.global, &r.global_error) {
        (Some(g), _) => {
            let _ = writeln!(
                o,
                "pairs {} of {}, BSD pairs {}, restart session: {}",
                g.pairs,
                g.max_pairs,
                g.bsd_pairs,
                if g.session_active != 0 {
                    "in progress"
                } else {
                    "none"
                }
            );
            let _ = writeln!(
                o,
                "checkpoints {} ({} bytes), restarts {} ({} bytes), sessions {} committed, {} \
                 rolled back",
                g.checkpoints,
                g.checkpoint_bytes,
                g.restarts,
                g.restart_bytes,
                g.sessions_committed,
                g.sessions_rolled_back
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(o, "global status: - (cannot read /dev/ckpt/control: {e})");
        }
        (None, None) => {}
    }
}

/// The table of pairs, one row each.
fn describe_pairs(o: &mut String, r: &StatusReport) {
    let _ = writeln!(
        o,
        "\n{:<6} {:<5} {:<7} {:>9} {:>9} {:<11} {:<7} HOLDERS",
        "PTY", "MODE", "FROZEN", "TO-MASTER", "TO-SLAVE", "TERMIOS", "SOCKET"
    );
    for (k, v) in &r.pairs {
        let num = |f: fn(&uapi::StreamStatus) -> u32| {
            v.status.as_ref().map_or("-".into(), |s| f(s).to_string())
        };
        let _ = writeln!(
            o,
            "{:<6} {:<5} {:<7} {:>9} {:>9} {:<11} {:<7} {}",
            k.index,
            if k.mode == PtyMode::Bsd.as_u8() {
                "BSD"
            } else {
                "AT&T"
            },
            frozen_text(&v.status),
            num(|s| s.to_master),
            num(|s| s.to_slave),
            v.termios.as_ref().map_or("-".into(), state::termios_short),
            "-",
            holders_text(&v.holders)
        );
    }
    if r.pairs.is_empty() {
        let _ = writeln!(o, "(no pairs)");
    }
}

/// JSON form.
pub fn json(r: &StatusReport) -> Value {
    let holder =
        |h: &Holder| json!({ "pid": h.pid, "comm": h.comm, "fd": h.fd, "end": h.kind.name() });
    let pairs: Vec<Value> = r
        .pairs
        .iter()
        .map(|(k, v)| {
            json!({
                "index": k.index,
                "mode": if k.mode == PtyMode::Bsd.as_u8() { "bsd" } else { "att" },
                "holders": v.holders.iter().map(holder).collect::<Vec<_>>(),
                "frozen": v.status.map(|s| json!({
                    "master": s.frozen & uapi::CKPT_FROZEN_MASTER != 0,
                    "slave": s.frozen & uapi::CKPT_FROZEN_SLAVE != 0,
                })),
                "to_master": v.status.map(|s| s.to_master),
                "to_slave": v.status.map(|s| s.to_slave),
                "checkpoints": v.status.map(|s| s.checkpoints),
                "restarts": v.status.map(|s| s.restarts),
                "termios": v.termios.as_ref().map(|t| json!({
                    "canonical": t.lflag(pty_core::termios::ICANON),
                    "echo": t.lflag(pty_core::termios::ECHO),
                })),
                "socket": Value::Null,
            })
        })
        .collect();
    json!({
        "module": {
            "loaded": r.loaded,
            "version": r.version,
            "srcversion": r.srcversion,
            "format_version": r.global.map(|g| g.format_version),
        },
        "global": r.global.map(|g| json!({
            "pairs": g.pairs,
            "max_pairs": g.max_pairs,
            "bsd_pairs": g.bsd_pairs,
            "session_active": g.session_active != 0,
            "checkpoints": g.checkpoints,
            "restarts": g.restarts,
            "checkpoint_bytes": g.checkpoint_bytes,
            "restart_bytes": g.restart_bytes,
            "sessions_committed": g.sessions_committed,
            "sessions_rolled_back": g.sessions_rolled_back,
        })),
        "global_error": r.global_error,
        "pairs": pairs,
        "unknown_masters": r.unknown_masters.iter().map(holder).collect::<Vec<_>>(),
    })
}
