// SPDX-License-Identifier: GPL-2.0
//! `ckptctl inspect`, and loading image files for `restore`: read, check
//! everything, and describe.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use pty_core::checkpoint::RestoreError;
use pty_core::errno::Errno;
use pty_core::image::{
    ConstantField, Constants, ModuleName, ModulePart, PtyMode, Status, StreamImage,
};
use pty_core::End;
use serde_json::{json, Value};

use crate::container::{self, mode_name, Constraint, Container, StreamRecord};
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
    /// Each stream image's framing (status block, module block lengths).
    pub framings: Vec<Framing>,
    /// Each stream's state; `None` when its constants are not this
    /// build's (then only the framing could be checked).
    pub states: Vec<Option<StreamState>>,
    /// File size.
    pub len: usize,
    /// Things worth knowing that do not stop inspection.
    pub warnings: Vec<String>,
}

/// What a stream image's framing says, whichever build wrote it.
#[derive(Debug)]
pub struct Framing {
    /// The status block.
    pub status: Status,
    /// The module blocks in chain order, head first.
    pub modules: Vec<BlockLengths>,
}

/// A module block's name and the lengths of its two parts.
#[derive(Debug)]
pub struct BlockLengths {
    /// Which module.
    pub name: ModuleName,
    /// Internal state bytes.
    pub internal: usize,
    /// External (in-flight) state bytes.
    pub external: usize,
}

impl Framing {
    fn of(image: &StreamImage<'_>) -> Self {
        Self {
            status: *image.status(),
            modules: image
                .modules()
                .iter()
                .map(|m| BlockLengths {
                    name: m.name,
                    internal: m.internal.len(),
                    external: m.external.len(),
                })
                .collect(),
        }
    }
}

/// One stream of a loaded image, with what checking it learnt.
struct StreamView<'a> {
    /// Stream number.
    number: usize,
    record: &'a StreamRecord,
    /// File offset of its image.
    start: usize,
    framing: &'a Framing,
    /// `None` for an image of another build.
    state: Option<&'a StreamState>,
}

impl Loaded {
    /// Every stream, in stream-table order.
    fn streams(&self) -> impl Iterator<Item = StreamView<'_>> {
        let records = self.container.streams.iter().zip(&self.starts);
        let learnt = self.framings.iter().zip(&self.states);
        records
            .zip(learnt)
            .enumerate()
            .map(
                |(number, ((record, &start), (framing, state)))| StreamView {
                    number,
                    record,
                    start,
                    framing,
                    state: state.as_ref(),
                },
            )
    }
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

/// A refusal of [`check_bytes`]: the kind of failure and what is wrong.
pub type Refusal = (Kind, String);

/// Checks the bytes of an image file completely. With
/// [`Constraint::ThisBuild`] every stream must be restorable by this
/// build; with [`Constraint::OwnConstants`] streams of another build are
/// framed-checked only (and a warning says so).
pub fn check_bytes(bytes: &[u8], constraint: Constraint) -> std::result::Result<Loaded, Refusal> {
    let c = container::decode(bytes, constraint).map_err(|e| {
        let kind = if e.is_version() {
            Kind::Version
        } else {
            Kind::Image
        };
        (kind, e.to_string())
    })?;
    let starts = c.blob_offsets();
    let mut framings = Vec::with_capacity(c.streams.len());
    let mut states = Vec::with_capacity(c.streams.len());
    let mut warnings = Vec::new();
    for (i, (s, &start)) in c.streams.iter().zip(&starts).enumerate() {
        // `decode` checked every image already, so this cannot fail.
        let image = container::decode_image(&s.image, Constraint::OwnConstants)
            .map_err(|e| (Kind::Image, format!("stream {i}: {e}")))?;
        framings.push(Framing::of(&image));
        match another_build_warning(i, image.constants()) {
            Some(warning) => {
                warnings.push(warning);
                states.push(None);
            }
            None => states.push(Some(examine_stream(i, s, start, &image)?)),
        }
    }
    Ok(Loaded {
        container: c,
        starts,
        framings,
        states,
        len: bytes.len(),
        warnings,
    })
}

/// The warning for stream `i` whose image has kernel constants `own`, if
/// they are not this build's.
fn another_build_warning(i: usize, own: &Constants) -> Option<String> {
    let field = ConstantField::ALL
        .into_iter()
        .find(|&f| own.get(f) != Constants::CURRENT.get(f))?;
    Some(format!(
        "stream {i}: kernel constant {} is {} in the image but {} in this build: the image \
         cannot be restored by this build, and its module blocks are shown by length only",
        field.name(),
        own.get(field),
        Constants::CURRENT.get(field)
    ))
}

/// Restores stream `i` (its image at file offset `start`) into memory and
/// checks that its ptm or pts block names the pair its entry does.
fn examine_stream(
    i: usize,
    s: &StreamRecord,
    start: usize,
    image: &StreamImage<'_>,
) -> std::result::Result<StreamState, Refusal> {
    let st = state::examine(image).map_err(|e| {
        let at = part_offset(image, &s.image, start, &e)
            .map(|o| format!(" (file offset {o})"))
            .unwrap_or_default();
        let kind = if e.errno() == Errno::EPROTONOSUPPORT {
            Kind::Version
        } else {
            Kind::Image
        };
        (
            kind,
            format!(
                "stream {i} ({} {} of pty {}), image at offset {start}: {e}{at}",
                mode_name(s.mode),
                s.kind.name(),
                s.index
            ),
        )
    })?;
    if st.index != s.index || st.mode != s.mode {
        let block = match s.kind {
            End::Master => "ptm",
            End::Slave => "pts",
        };
        return Err((
            Kind::Image,
            format!(
                "stream {i}: the table says {} pty {}, the image's {block} block says {} pty {}",
                mode_name(s.mode),
                s.index,
                mode_name(st.mode),
                st.index
            ),
        ));
    }
    Ok(st)
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
    let mut o = String::new();
    describe_file(&mut o, path, l);
    describe_holders(&mut o, &l.container);
    for stream in l.streams() {
        describe_stream(&mut o, &stream);
    }
    o
}

/// The file's header and counts, and the warnings.
fn describe_file(o: &mut String, path: &Path, l: &Loaded) {
    let c = &l.container;
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
}

/// The holder table, each descriptor with its file's flags and its end.
fn describe_holders(o: &mut String, c: &Container) {
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
}

/// A stream: its entry, its image's framing and, if decoded, its state.
fn describe_stream(o: &mut String, v: &StreamView<'_>) {
    let s = v.record;
    let _ = writeln!(
        o,
        "\nstream {}: pty {} {} ({}), image of {} bytes at offset {}",
        v.number,
        s.index,
        s.kind.name(),
        mode_name(s.mode),
        s.image.len(),
        v.start
    );
    describe_framing(o, v.framing);
    match v.state {
        None => {
            let _ = writeln!(o, "  (module contents not decoded: image of another build)");
        }
        Some(state) => describe_state(o, state),
    }
}

/// A stream image's status block and module block lengths.
fn describe_framing(o: &mut String, framing: &Framing) {
    let st = &framing.status;
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
    for m in &framing.modules {
        let _ = writeln!(
            o,
            "           {:<8} {:>9} {:>9}",
            m.name.as_str(),
            m.internal,
            m.external
        );
    }
}

/// What restoring a stream in memory showed: queues, settings, flags.
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
            let _ = writeln!(
                o,
                "  window: {} rows x {} cols; packet mode {}, output {}, slave {}, exclusive {}, \
                 slave {}",
                ws.rows,
                ws.cols,
                on_off(*packet),
                word(*output_stopped, "stopped (TCOOFF)", "running"),
                word(*locked, "locked", "unlocked"),
                on_off(*exclusive),
                word(*slave_closed, "closed", "open")
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
            let pgrp = match foreground_pgrp {
                0 => "-".to_string(),
                pgrp => pgrp.to_string(),
            };
            let _ = writeln!(
                o,
                "  window: {} rows x {} cols; column {column}, output {}, foreground pgrp {pgrp}, \
                 {slave_opens} slave files open, exclusive {}, master {}",
                ws.rows,
                ws.cols,
                word(*output_stopped, "stopped", "running"),
                on_off(*exclusive),
                word(*master_closed, "closed (hung up)", "open")
            );
        }
    }
}

/// `if_set` or `if_clear`, as `flag` says.
fn word(flag: bool, if_set: &'static str, if_clear: &'static str) -> &'static str {
    if flag {
        if_set
    } else {
        if_clear
    }
}

fn on_off(b: bool) -> &'static str {
    word(b, "on", "off")
}

/// JSON report of a loaded image.
pub fn json(path: &Path, l: &Loaded) -> Value {
    let c = &l.container;
    let streams: Vec<Value> = l.streams().map(|v| stream_json(&v)).collect();
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

/// JSON of a stream: its entry, its image's framing and, if decoded, its
/// state.
fn stream_json(v: &StreamView<'_>) -> Value {
    let (s, framing) = (v.record, v.framing);
    let st = &framing.status;
    let modules: Vec<Value> = framing
        .modules
        .iter()
        .map(|m| {
            json!({
                "name": m.name.as_str(),
                "internal_len": m.internal,
                "external_len": m.external,
            })
        })
        .collect();
    let mut out = json!({
        "stream": v.number,
        "index": s.index,
        "end": s.kind.name(),
        "mode": if s.mode == PtyMode::Bsd { "bsd" } else { "att" },
        "offset": v.start,
        "image_len": s.image.len(),
        "status": {
            "total_len": st.total_len,
            "processed": st.processed,
            "to_process": st.to_process,
            "checkpoint_id": st.checkpoint_id,
            "format_version": pty_core::image::FORMAT_VERSION,
            "state_version": st.state_version,
            "error": st.error,
            "failed_module": st.failed_module,
        },
        "modules": modules,
        "decoded": false,
        "queued": Value::Null,
        "termios": Value::Null,
        "winsize": Value::Null,
    });
    if let (Some(st), Value::Object(obj)) = (v.state, &mut out) {
        obj.insert("decoded".into(), Value::Bool(true));
        if let Value::Object(extra) = state::state_json(st) {
            obj.extend(extra);
        }
    }
    out
}

/// Runs `inspect`: returns the text or JSON to print.
pub fn run(path: &Path, as_json: bool) -> Result<String> {
    let l = load(path, Constraint::OwnConstants)?;
    if as_json {
        crate::json_text(&json(path, &l))
    } else {
        Ok(text(path, &l))
    }
}
