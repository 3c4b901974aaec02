// SPDX-License-Identifier: GPL-2.0
//! `ckptctl inspect`, and loading image files for `restore`: read, check
//! everything, and describe.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use pty_core::checkpoint::RestoreError;
use pty_core::errno::Errno;
use pty_core::image::{ConstantField, Constants, ModulePart, StreamImage};
use serde_json::{json, Value};

use crate::container::{self, mode_name, Constraint, Container};
use crate::error::{Failure, Kind, Result};
use crate::procfs::flags_text;
use crate::state::{self, EndState, StreamState};

/// A checked image file.
#[derive(Debug)]
pub struct Loaded {
    /// The container.
    pub container: Container,
    /// File offset of each stream's image.
    pub starts: Vec<usize>,
    /// Each stream's state; `None` when its constants are not this
    /// build's (then only the framing could be checked).
    pub states: Vec<Option<StreamState>>,
    /// File size.
    pub len: usize,
    /// Things worth knowing that do not stop inspection.
    pub warnings: Vec<String>,
}

/// File offset of `part` of `module`'s block in `image`, whose first byte
/// is at `start` in the file.
fn part_offset(
    image: &StreamImage<'_>,
    blob: &[u8],
    start: usize,
    e: &RestoreError,
) -> Option<usize> {
    let RestoreError::BadState {
        module,
        part,
        offset,
        ..
    } = *e
    else {
        return None;
    };
    let block = image.module(module)?;
    let bytes = match part {
        ModulePart::Internal => block.internal,
        ModulePart::External => block.external,
    };
    let in_blob = (bytes.as_ptr() as usize).checked_sub(blob.as_ptr() as usize)?;
    Some(start + in_blob + offset)
}

/// Checks the bytes of an image file completely. With
/// [`Constraint::ThisBuild`] every stream must be restorable by this
/// build; with [`Constraint::OwnConstants`] streams of another build are
/// framed-checked only (and a warning says so).
pub fn check_bytes(
    bytes: &[u8],
    constraint: Constraint,
) -> std::result::Result<Loaded, (Kind, String)> {
    let c = container::decode(bytes, constraint).map_err(|e| {
        (
            if e.is_version() {
                Kind::Version
            } else {
                Kind::Image
            },
            e.to_string(),
        )
    })?;
    let starts = c.blob_offsets();
    let mut states = Vec::with_capacity(c.streams.len());
    let mut warnings = Vec::new();
    for (i, s) in c.streams.iter().enumerate() {
        let start = starts.get(i).copied().unwrap_or(0);
        let own = container::image_constants(&s.image).unwrap_or(Constants::CURRENT);
        if own != Constants::CURRENT {
            let field = ConstantField::ALL
                .into_iter()
                .find(|&f| own.get(f) != Constants::CURRENT.get(f))
                .unwrap_or(ConstantField::PtsInputBound);
            warnings.push(format!(
                "stream {i}: kernel constant {} is {} in the image but {} in this build: the \
                 image cannot be restored by this build, and its module blocks are shown by \
                 length only",
                field.name(),
                own.get(field),
                Constants::CURRENT.get(field)
            ));
            states.push(None);
            continue;
        }
        let image = container::decode_image(&s.image, Constraint::ThisBuild)
            .map_err(|e| (Kind::Image, format!("stream {i}: {e}")))?;
        let st = state::examine(&image).map_err(|e| {
            let at = part_offset(&image, &s.image, start, &e)
                .map(|o| format!(" (file offset {o})"))
                .unwrap_or_default();
            (
                if e.errno() == Errno::EPROTONOSUPPORT {
                    Kind::Version
                } else {
                    Kind::Image
                },
                format!(
                    "stream {i} ({} {} of pty {}), image at offset {start}: {e}{at}",
                    mode_name(s.mode),
                    s.kind.name(),
                    s.index
                ),
            )
        })?;
        if st.index != s.index || st.mode != s.mode {
            return Err((
                Kind::Image,
                format!(
                    "stream {i}: the table says {} pty {}, the image's {} block says {} pty {}",
                    mode_name(s.mode),
                    s.index,
                    if s.kind == pty_core::End::Master {
                        "ptm"
                    } else {
                        "pts"
                    },
                    mode_name(st.mode),
                    st.index
                ),
            ));
        }
        states.push(Some(st));
    }
    Ok(Loaded {
        container: c,
        starts,
        states,
        len: bytes.len(),
        warnings,
    })
}

/// Reads and checks an image file.
pub fn load(path: &Path, constraint: Constraint) -> Result<Loaded> {
    let bytes = fs::read(path).map_err(|e| {
        Failure::new(
            Kind::Image,
            format!(
                "cannot read {}: {}; check the path and its permissions",
                path.display(),
                crate::sys::errno_name(&e)
            ),
        )
    })?;
    check_bytes(&bytes, constraint).map_err(|(kind, msg)| {
        let advice = match kind {
            Kind::Version => {
                "; restore it with the ckptctl and module of the version that dumped it"
            }
            _ => "",
        };
        Failure::new(
            kind,
            format!(
                "{} is not a usable ckptctl image: {msg}{advice}",
                path.display()
            ),
        )
    })
}

/// `seconds` since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Text report of a loaded image.
pub fn text(path: &Path, l: &Loaded) -> String {
    let c = &l.container;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: ckptctl image, container version {}, {} bytes",
        path.display(),
        container::VERSION,
        l.len
    );
    let _ = writeln!(
        o,
        "checkpoint id {:#018x}, created {}, streams left frozen: {}",
        c.checkpoint_id,
        format_utc(c.created),
        if c.flags & container::FLAG_LEFT_FROZEN != 0 {
            "yes"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        o,
        "{} streams, {} open files, {} descriptors",
        c.streams.len(),
        c.files.len(),
        c.holders.len()
    );
    for w in &l.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let _ = writeln!(o, "\nholders:");
    let _ = writeln!(
        o,
        "  {:>8} {:>5}  {:>4}  {:<28} END",
        "PID", "FD", "FILE", "FLAGS"
    );
    for h in &c.holders {
        let f = &c.files[h.file as usize];
        let s = &c.streams[f.stream as usize];
        let cloexec = if h.fd_flags & container::FD_CLOEXEC != 0 {
            " (cloexec)"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  {:>8} {:>5}  {:>4}  {:<28} {} pty {} {} (stream {}){cloexec}",
            h.pid,
            h.fd,
            h.file,
            flags_text(f.flags),
            mode_name(s.mode),
            s.index,
            s.kind.name(),
            f.stream
        );
    }
    for (i, s) in c.streams.iter().enumerate() {
        let _ = writeln!(
            o,
            "\nstream {i}: pty {} {} ({}), image of {} bytes at offset {}",
            s.index,
            s.kind.name(),
            mode_name(s.mode),
            s.image.len(),
            l.starts.get(i).copied().unwrap_or(0)
        );
        let Ok(img) = container::decode_image(&s.image, Constraint::OwnConstants) else {
            continue;
        };
        let st = img.status();
        let _ = writeln!(
            o,
            "  status: checkpoint id {:#018x}, modules processed {}, to process {}, format \
             version {}, state version {}, error {}",
            st.checkpoint_id,
            st.processed,
            st.to_process,
            pty_core::image::FORMAT_VERSION,
            st.state_version,
            st.error
        );
        let _ = writeln!(
            o,
            "  modules: {:<8} {:>9} {:>9}",
            "NAME", "INTERNAL", "EXTERNAL"
        );
        for m in img.modules() {
            let _ = writeln!(
                o,
                "           {:<8} {:>9} {:>9}",
                m.name.as_str(),
                m.internal.len(),
                m.external.len()
            );
        }
        match l.states.get(i).and_then(Option::as_ref) {
            None => {
                let _ = writeln!(o, "  (module contents not decoded: image of another build)");
            }
            Some(state) => describe_state(&mut o, state),
        }
    }
    o
}

fn describe_state(o: &mut String, st: &StreamState) {
    let ws = st.winsize;
    match &st.end {
        EndState::Master {
            to_master,
            held_echo,
            packet,
            output_stopped,
            locked,
            exclusive,
            slave_closed,
        } => {
            let _ = writeln!(
                o,
                "  queued: {to_master} bytes for the master's reader ({held_echo} of them echo \
                 held back by ^S)"
            );
            let _ =
                writeln!(
                o,
                "  window: {} rows x {} cols; packet mode {}, output {}, slave {}, exclusive {}, \
                 slave {}",
                ws.rows,
                ws.cols,
                on_off(*packet),
                if *output_stopped { "stopped (TCOOFF)" } else { "running" },
                if *locked { "locked" } else { "unlocked" },
                on_off(*exclusive),
                if *slave_closed { "closed" } else { "open" }
            );
        }
        EndState::Slave {
            readable,
            lines,
            half_typed,
            unprocessed,
            termios,
            column,
            foreground_pgrp,
            slave_opens,
            master_closed,
            exclusive,
            output_stopped,
        } => {
            let _ = writeln!(
                o,
                "  queued: {readable} bytes readable ({lines} complete lines), {half_typed} in \
                 the half-typed line, {unprocessed} not yet processed"
            );
            let _ = writeln!(o, "  termios: {}", state::termios_summary(termios));
            let _ = writeln!(
                o,
                "  window: {} rows x {} cols; column {column}, output {}, foreground pgrp {}, \
                 {slave_opens} slave files open, exclusive {}, master {}",
                ws.rows,
                ws.cols,
                if *output_stopped {
                    "stopped"
                } else {
                    "running"
                },
                if *foreground_pgrp == 0 {
                    "-".to_string()
                } else {
                    foreground_pgrp.to_string()
                },
                on_off(*exclusive),
                if *master_closed {
                    "closed (hung up)"
                } else {
                    "open"
                }
            );
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// JSON report of a loaded image.
pub fn json(path: &Path, l: &Loaded) -> Value {
    let c = &l.container;
    let streams: Vec<Value> = c
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let img = container::decode_image(&s.image, Constraint::OwnConstants).ok();
            let status = img.as_ref().map(|img| {
                let st = img.status();
                json!({
                    "total_len": st.total_len,
                    "processed": st.processed,
                    "to_process": st.to_process,
                    "checkpoint_id": st.checkpoint_id,
                    "format_version": pty_core::image::FORMAT_VERSION,
                    "state_version": st.state_version,
                    "error": st.error,
                    "failed_module": st.failed_module,
                })
            });
            let modules: Vec<Value> = img
                .as_ref()
                .map(|img| {
                    img.modules()
                        .iter()
                        .map(|m| {
                            json!({
                                "name": m.name.as_str(),
                                "internal_len": m.internal.len(),
                                "external_len": m.external.len(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut v = json!({
                "stream": i,
                "index": s.index,
                "end": s.kind.name(),
                "mode": if s.mode == pty_core::image::PtyMode::Bsd { "bsd" } else { "att" },
                "offset": l.starts.get(i),
                "image_len": s.image.len(),
                "status": status,
                "modules": modules,
                "decoded": false,
                "queued": Value::Null,
                "termios": Value::Null,
                "winsize": Value::Null,
            });
            if let (Some(st), Some(obj)) =
                (l.states.get(i).and_then(Option::as_ref), v.as_object_mut())
            {
                obj.insert("decoded".into(), Value::Bool(true));
                if let Value::Object(extra) = state::state_json(st) {
                    obj.extend(extra);
                }
            }
            v
        })
        .collect();
    json!({
        "file": path.display().to_string(),
        "len": l.len,
        "container_version": container::VERSION,
        "checkpoint_id": c.checkpoint_id,
        "created": c.created,
        "created_utc": format_utc(c.created),
        "left_frozen": c.flags & container::FLAG_LEFT_FROZEN != 0,
        "warnings": l.warnings,
        "streams": streams,
        "files": c.files.iter().enumerate().map(|(i, f)| json!({
            "file": i,
            "stream": f.stream,
            "flags": f.flags,
            "flags_text": flags_text(f.flags),
        })).collect::<Vec<_>>(),
        "holders": c.holders.iter().map(|h| json!({
            "pid": h.pid,
            "fd": h.fd,
            "file": h.file,
            "cloexec": h.fd_flags & container::FD_CLOEXEC != 0,
        })).collect::<Vec<_>>(),
    })
}

/// Runs `inspect`: returns the text or JSON to print.
pub fn run(path: &Path, as_json: bool) -> Result<String> {
    let l = load(path, Constraint::OwnConstants)?;
    Ok(if as_json {
        let mut s = serde_json::to_string_pretty(&json(path, &l)).unwrap_or_default();
        s.push('\n');
        s
    } else {
        text(path, &l)
    })
}
