// SPDX-License-Identifier: GPL-2.0
//! `ckptctl freeze` and `ckptctl thaw`.

use std::collections::BTreeMap;
use std::path::Path;

use pty_core::image::PtyMode;

use crate::ends::{self, HeldEnd, PairKey, Pidfds, StreamKey};
use crate::error::{Failure, Result};
use crate::procfs;
use crate::sys;
use crate::uapi;

/// Freeze or thaw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `CKPT_FREEZE`.
    Freeze,
    /// `CKPT_THAW`.
    Thaw,
}

/// Which pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One pair.
    Pair(PairKey),
    /// Every pair a process holds an end of.
    Pid(i32),
}

/// The held ends that reach the target's streams: one per stream.
fn reach(proc: &Path, target: Target) -> Result<BTreeMap<StreamKey, HeldEnd>> {
    let mut pidfds = Pidfds::default();
    let held: Vec<HeldEnd> = match target {
        Target::Pid(pid) => ends::held_by(proc, &mut pidfds, pid)?,
        Target::Pair(pair) => {
            let me = std::process::id() as i32;
            procfs::all_fds(proc)
                .into_iter()
                .filter(|e| e.pid != me && e.node.mode.as_u8() == pair.mode)
                .filter(|e| e.node.index.is_none_or(|i| i == pair.index))
                .filter_map(|e| ends::take(&mut pidfds, &e).ok())
                .filter(|h| h.key.pair() == pair)
                .collect()
        }
    };
    let mut by_key = BTreeMap::new();
    for h in held {
        by_key.entry(h.key).or_insert(h);
    }
    if by_key.is_empty() {
        return Err(Failure::other(match target {
            Target::Pid(pid) => {
                format!("process {pid} holds no ckpt_pty end: nothing to do")
            }
            Target::Pair(pair) => format!(
                "no process holds an end of {pair} (or ckptctl may not see it: run it as root): \
                 nothing to do"
            ),
        }));
    }
    Ok(by_key)
}

/// Runs `freeze` or `thaw`; returns one line per pair.
pub fn run(proc: &Path, target: Target, action: Action) -> Result<String> {
    ends::require_module()?;
    let ends = reach(proc, target)?;
    let mut out = String::new();
    let mut done: BTreeMap<PairKey, Vec<&str>> = BTreeMap::new();
    for (key, h) in &ends {
        let r = match action {
            Action::Freeze => sys::freeze(h.fd()),
            Action::Thaw => sys::thaw(h.fd()),
        };
        let verb = match action {
            Action::Freeze => "freeze",
            Action::Thaw => "thaw",
        };
        r.map_err(|e| ends::end_failure(verb, *key, &e))?;
        done.entry(key.pair()).or_default().push(key.kind().name());
    }
    for (pair, list) in &done {
        let any = ends.iter().find(|(k, _)| k.pair() == *pair).map(|(_, h)| h);
        let state = any
            .and_then(|h| sys::stream_status(h.fd()).ok())
            .map_or("-", |s| {
                match s.frozen & (uapi::CKPT_FROZEN_MASTER | uapi::CKPT_FROZEN_SLAVE) {
                    0 => "not frozen",
                    uapi::CKPT_FROZEN_MASTER => "master stream frozen",
                    uapi::CKPT_FROZEN_SLAVE => "slave stream frozen",
                    _ => "both streams frozen",
                }
            });
        out.push_str(&format!(
            "{} {pair} ({}): now {state}\n",
            match action {
                Action::Freeze => "froze",
                Action::Thaw => "thawed",
            },
            list.join(", ")
        ));
    }
    Ok(out)
}

/// The pair `--index N [--bsd]` names.
pub fn pair_key(index: u32, bsd: bool) -> PairKey {
    PairKey {
        mode: if bsd { PtyMode::Bsd } else { PtyMode::Att }.as_u8(),
        index,
    }
}
