// SPDX-License-Identifier: GPL-2.0
//! `ckptctl dump`: freeze, checkpoint and (unless told otherwise) thaw
//! every pty end some processes hold, and write one image file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pty_core::End;

use crate::container::{
    Container, FileRecord, HolderRecord, StreamRecord, FD_CLOEXEC, FLAG_LEFT_FROZEN,
};
use crate::ends::{self, HeldEnd, Pidfds, StreamKey};
use crate::error::{Failure, Kind, Result};
use crate::sys;
use crate::uapi;

/// What `dump` was asked to do.
#[derive(Clone, Debug)]
pub struct DumpOptions {
    /// Processes whose ends to save.
    pub pids: Vec<i32>,
    /// Image file.
    pub output: PathBuf,
    /// Leave the streams frozen.
    pub leave_frozen: bool,
}

/// A fresh checkpoint id: clock and pid mixed, never zero.
fn new_checkpoint_id() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ (u64::from(std::process::id()) << 40);
    // splitmix64 finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x.max(1)
}

/// Whether two held ends are the same open file description: `kcmp` when
/// the kernel has it; otherwise a master (only one file per pair) always,
/// a slave when the open flags agree.
fn same_file(a: &HeldEnd, b: &HeldEnd) -> bool {
    if a.key != b.key {
        return false;
    }
    match sys::same_file(a.fd(), b.fd()) {
        Ok(same) => same,
        Err(_) => a.key.kind() == End::Master || a.entry.flags == b.entry.flags,
    }
}

/// The tables of a dump, before the images are taken.
#[derive(Debug, Default)]
pub struct Plan {
    /// Distinct streams, sorted.
    pub streams: Vec<StreamKey>,
    /// For each stream, the held end used to reach it.
    pub reach: Vec<usize>,
    /// Open file descriptions: (stream, flags, held end).
    pub files: Vec<(usize, u32, usize)>,
    /// Descriptors: (held end, file).
    pub holders: Vec<(usize, usize)>,
}

/// Groups held ends (in pid, then fd order) into streams and files.
pub fn plan(held: &[HeldEnd], same: impl Fn(&HeldEnd, &HeldEnd) -> bool) -> Plan {
    let mut by_key: BTreeMap<StreamKey, usize> = BTreeMap::new();
    for (i, h) in held.iter().enumerate() {
        by_key.entry(h.key).or_insert(i);
    }
    let streams: Vec<StreamKey> = by_key.keys().copied().collect();
    let reach: Vec<usize> = by_key.values().copied().collect();
    // Files in stream order, then first appearance.
    let mut files: Vec<(usize, u32, usize)> = Vec::new();
    let mut file_of = vec![0usize; held.len()];
    for (s, key) in streams.iter().enumerate() {
        for (i, h) in held.iter().enumerate().filter(|(_, h)| h.key == *key) {
            let existing = files
                .iter()
                .position(|&(fs, _, rep)| fs == s && same(&held[rep], h));
            file_of[i] = match existing {
                Some(f) => f,
                None => {
                    files.push((s, h.entry.flags, i));
                    files.len() - 1
                }
            };
        }
    }
    let holders = (0..held.len()).map(|i| (i, file_of[i])).collect();
    Plan {
        streams,
        reach,
        files,
        holders,
    }
}

/// Thaws the ends we froze; returns the first error.
fn thaw_all(held: &[HeldEnd], frozen_by_us: &[(StreamKey, usize)]) -> Option<Failure> {
    let mut first = None;
    for &(key, i) in frozen_by_us {
        if let Err(e) = sys::thaw(held[i].fd()) {
            first.get_or_insert_with(|| ends::end_failure("thaw", key, &e));
        }
    }
    first
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EISDIR))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What a dump did.
#[derive(Debug)]
pub struct DumpReport {
    /// Streams saved.
    pub streams: usize,
    /// Pairs they belong to.
    pub pairs: usize,
    /// Descriptors recorded.
    pub holders: usize,
    /// File size.
    pub bytes: usize,
    /// Checkpoint id.
    pub checkpoint_id: u64,
    /// Streams that were frozen before the dump (left frozen).
    pub already_frozen: Vec<StreamKey>,
}

impl DumpReport {
    /// What `dump` prints: what was saved where, and which streams stay
    /// frozen because they were frozen before.
    pub fn summary(&self, opts: &DumpOptions) -> String {
        let mut text = format!(
            "dumped {} streams of {} ptys ({} descriptors) to {} ({} bytes, checkpoint id \
             {:#018x}); streams {}\n",
            self.streams,
            self.pairs,
            self.holders,
            opts.output.display(),
            self.bytes,
            self.checkpoint_id,
            if opts.leave_frozen {
                "left frozen"
            } else {
                "thawed"
            }
        );
        for k in &self.already_frozen {
            text.push_str(&format!(
                "note: {k} was frozen before the dump and stays frozen\n"
            ));
        }
        text
    }
}

/// Runs `dump`.
pub fn run(proc: &Path, opts: &DumpOptions) -> Result<DumpReport> {
    ends::require_module()?;
    let held = held_ends(proc, &opts.pids)?;
    let plan = plan(&held, same_file);
    // Freeze every stream first, so the images are one instant.
    let frozen = freeze_all(&held, &plan)?;
    let checkpoint_id = new_checkpoint_id();
    let streams = checkpoint_all(&held, &plan, checkpoint_id).inspect_err(|_| {
        thaw_all(&held, &frozen.by_us);
    })?;
    if !opts.leave_frozen {
        if let Some(f) = thaw_all(&held, &frozen.by_us) {
            return Err(f);
        }
    }
    let container = container_of(&held, &plan, streams, checkpoint_id, opts.leave_frozen);
    let bytes = container.encode().map_err(|e| {
        Failure::new(
            Kind::Image,
            format!("the kernel produced an image ckptctl cannot store: {e}"),
        )
    })?;
    write_atomically(&opts.output, &bytes)
        .map_err(|e| Failure::io(format_args!("write {}", opts.output.display()), &e))?;
    let mut pairs: Vec<_> = plan.streams.iter().map(|k| k.pair()).collect();
    pairs.dedup();
    Ok(DumpReport {
        streams: plan.streams.len(),
        pairs: pairs.len(),
        holders: plan.holders.len(),
        bytes: bytes.len(),
        checkpoint_id,
        already_frozen: frozen.before,
    })
}

/// Every ckpt_pty end the processes `pids` hold (each pid once, in the
/// order given); none at all is a failure.
fn held_ends(proc: &Path, pids: &[i32]) -> Result<Vec<HeldEnd>> {
    let mut seen = std::collections::HashSet::new();
    let pids: Vec<i32> = pids.iter().copied().filter(|p| seen.insert(*p)).collect();
    if let Some(p) = pids.iter().find(|&&p| p <= 0) {
        return Err(Failure::usage(format!(
            "--pid {p}: a pid is a positive number"
        )));
    }
    let mut pidfds = Pidfds::default();
    let mut held = Vec::new();
    for &pid in &pids {
        held.extend(ends::held_by(proc, &mut pidfds, pid)?);
    }
    if held.is_empty() {
        let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        return Err(Failure::other(format!(
            "process{} {} hold{} no ckpt_pty end (no /dev/ckpt/... in /proc/PID/fd): nothing to \
             dump",
            if pids.len() == 1 { "" } else { "es" },
            list.join(", "),
            if pids.len() == 1 { "s" } else { "" },
        )));
    }
    Ok(held)
}

/// Which streams [`freeze_all`] froze, and which were frozen already.
struct Frozen {
    /// Frozen by this dump: (stream, held end that reaches it).
    by_us: Vec<(StreamKey, usize)>,
    /// Frozen before the dump; they stay frozen.
    before: Vec<StreamKey>,
}

/// Freezes every stream of `plan` that is not frozen yet. On failure the
/// streams it froze are thawed again.
fn freeze_all(held: &[HeldEnd], plan: &Plan) -> Result<Frozen> {
    let mut frozen = Frozen {
        by_us: Vec::new(),
        before: Vec::new(),
    };
    for (&key, &i) in plan.streams.iter().zip(&plan.reach) {
        match freeze_unless_frozen(&held[i], key) {
            Ok(true) => frozen.before.push(key),
            Ok(false) => frozen.by_us.push((key, i)),
            Err(f) => {
                thaw_all(held, &frozen.by_us);
                return Err(f);
            }
        }
    }
    Ok(frozen)
}

/// Freezes stream `key` through `end` unless it is frozen already;
/// returns whether it was.
fn freeze_unless_frozen(end: &HeldEnd, key: StreamKey) -> Result<bool> {
    let bit = match key.kind() {
        End::Master => uapi::CKPT_FROZEN_MASTER,
        End::Slave => uapi::CKPT_FROZEN_SLAVE,
    };
    let status = sys::stream_status(end.fd())
        .map_err(|e| ends::end_failure("read the status of", key, &e))?;
    if status.frozen & bit != 0 {
        return Ok(true);
    }
    sys::freeze(end.fd()).map_err(|e| ends::end_failure("freeze", key, &e))?;
    Ok(false)
}

/// Checkpoints each stream of `plan` once; frozen streams stay frozen.
fn checkpoint_all(held: &[HeldEnd], plan: &Plan, checkpoint_id: u64) -> Result<Vec<StreamRecord>> {
    plan.streams
        .iter()
        .zip(&plan.reach)
        .map(|(&key, &i)| {
            let image = sys::checkpoint(held[i].fd(), checkpoint_id, false)
                .map_err(|e| ends::end_failure("checkpoint", key, &e))?;
            Ok(StreamRecord {
                index: key.index,
                kind: key.kind(),
                mode: key.mode(),
                image,
            })
        })
        .collect()
}

/// The image file's contents: `plan`'s tables and the stream images.
fn container_of(
    held: &[HeldEnd],
    plan: &Plan,
    streams: Vec<StreamRecord>,
    checkpoint_id: u64,
    left_frozen: bool,
) -> Container {
    Container {
        flags: if left_frozen { FLAG_LEFT_FROZEN } else { 0 },
        checkpoint_id,
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        streams,
        files: plan
            .files
            .iter()
            .map(|&(stream, flags, _)| FileRecord {
                stream: stream as u32,
                flags,
            })
            .collect(),
        holders: plan
            .holders
            .iter()
            .map(|&(i, file)| HolderRecord {
                pid: held[i].entry.pid as u32,
                fd: held[i].entry.fd as u32,
                file: file as u32,
                fd_flags: if held[i].entry.cloexec { FD_CLOEXEC } else { 0 },
            })
            .collect(),
    }
}
