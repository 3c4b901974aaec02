// SPDX-License-Identifier: GPL-2.0
//! What a stream image holds, beyond its framing: the image is restored
//! into a fresh pair in memory with the kernel's own code
//! ([`pty_core::checkpoint::restore`]), which checks every field of every
//! module block, and the result is read back: queued bytes, termios,
//! window size, flags.

use pty_core::checkpoint::{self, MetaPart, RestoreError};
use pty_core::image::{PtyMode, StreamImage};
use pty_core::storage::{AllocError, Storage};
use pty_core::stream::{PtyPair, Winsize};
use pty_core::termios::{self as t, Termios};
use serde_json::{json, Value};

/// Host [`Storage`]: a `Vec<u8>`.
#[derive(Debug, Default)]
pub struct VecStorage(Vec<u8>);

impl Storage for VecStorage {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }

    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        self.0
            .try_reserve(new_len.saturating_sub(self.0.len()))
            .map_err(|_| AllocError)?;
        self.0.resize(new_len, 0);
        Ok(())
    }

    fn release(&mut self) {
        self.0 = Vec::new();
    }
}

/// The state of one end, read back from a restored pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndState {
    /// A master stream.
    Master {
        /// Bytes queued for the master's reader (slave output and echo).
        to_master: usize,
        /// Of which echo held back by `^S`.
        held_echo: usize,
        /// Packet mode.
        packet: bool,
        /// Master output stopped (`TCOOFF`).
        output_stopped: bool,
        /// The slave was locked.
        locked: bool,
        /// `TIOCEXCL` on the master.
        exclusive: bool,
        /// No slave file was open.
        slave_closed: bool,
    },
    /// A slave stream.
    Slave {
        /// Processed input a reader may take (complete lines when
        /// canonical).
        readable: usize,
        /// Complete lines (canonical mode).
        lines: usize,
        /// The half-typed canonical line.
        half_typed: usize,
        /// Input the line discipline has not processed yet.
        unprocessed: usize,
        /// The terminal settings.
        termios: Termios,
        /// Output column.
        column: u32,
        /// Foreground process group (0 for none).
        foreground_pgrp: i32,
        /// Slave files open at checkpoint.
        slave_opens: u32,
        /// The master had closed.
        master_closed: bool,
        /// `TIOCEXCL` on the slave.
        exclusive: bool,
        /// Output stopped by `^S` or `TCOOFF`.
        output_stopped: bool,
    },
}

/// What a stream image holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    /// Pair index, from the ptm or pts block.
    pub index: u32,
    /// Pty mode, from the ptm or pts block.
    pub mode: PtyMode,
    /// Window size of this end's tioc.
    pub winsize: Winsize,
    /// Per-end state.
    pub end: EndState,
}

impl StreamState {
    /// Bytes queued toward the master's reader and toward the slave's
    /// reader (processed, half-typed and unprocessed).
    pub fn queued(&self) -> (usize, usize) {
        match self.end {
            EndState::Master { to_master, .. } => (to_master, 0),
            EndState::Slave {
                readable,
                half_typed,
                unprocessed,
                ..
            } => (0, readable + half_typed + unprocessed),
        }
    }
}

/// Restores `image` into a fresh in-memory pair and reads it back.
pub fn examine(image: &StreamImage<'_>) -> Result<StreamState, RestoreError> {
    let mut pair = PtyPair::new(VecStorage::default);
    let kind = image.kind();
    let meta = checkpoint::restore(&mut pair, image, kind)?;
    let (index, mode) = (meta.index(), meta.mode());
    Ok(match meta {
        MetaPart::Master(m) => StreamState {
            index,
            mode,
            winsize: pair.master.tioc.winsize,
            end: EndState::Master {
                to_master: pair.master.head.read.len(),
                held_echo: pair.master.head.held,
                packet: pair.master.ptm.packet,
                output_stopped: pair.master.ptm.output_stopped,
                locked: m.locked,
                exclusive: m.exclusive,
                slave_closed: m.slave_closed,
            },
        },
        MetaPart::Slave(s) => {
            let ld = &pair.slave.ldterm;
            let saved = ld.save();
            let readable = ld.readable_len();
            StreamState {
                index,
                mode,
                winsize: pair.slave.tioc.winsize,
                end: EndState::Slave {
                    readable,
                    lines: ld.line_lengths().count(),
                    half_typed: ld.processed_input().len().saturating_sub(readable),
                    unprocessed: pair.slave.pts.input.len(),
                    termios: *ld.termios(),
                    column: saved.column,
                    foreground_pgrp: s.foreground_pgrp,
                    slave_opens: s.slave_opens,
                    master_closed: s.master_closed,
                    exclusive: s.exclusive,
                    output_stopped: saved.output_stopped,
                },
            }
        }
    })
}

/// A control character as `^C`, `DEL` or `undef`.
pub fn cc_name(c: u8) -> String {
    match c {
        t::DISABLED_CHAR => "undef".into(),
        0x7f => "^?".into(),
        0x01..=0x1f => format!("^{}", char::from(c + 0x40)),
        0x20..=0x7e => char::from(c).to_string(),
        _ => format!("\\x{c:02x}"),
    }
}

/// Flags shown in summaries: (name, word, bit).
const SHOWN: [(&str, u8, u32); 12] = [
    ("icanon", b'l', t::ICANON),
    ("echo", b'l', t::ECHO),
    ("isig", b'l', t::ISIG),
    ("iexten", b'l', t::IEXTEN),
    ("echoe", b'l', t::ECHOE),
    ("echoctl", b'l', t::ECHOCTL),
    ("icrnl", b'i', t::ICRNL),
    ("ixon", b'i', t::IXON),
    ("ixoff", b'i', t::IXOFF),
    ("iutf8", b'i', t::IUTF8),
    ("opost", b'o', t::OPOST),
    ("onlcr", b'o', t::ONLCR),
];

fn has(tio: &Termios, word: u8, bit: u32) -> bool {
    match word {
        b'i' => tio.iflag(bit),
        b'o' => tio.oflag(bit),
        b'c' => tio.cflag(bit),
        _ => tio.lflag(bit),
    }
}

/// One line: `canonical, echo (icanon echo isig ... -ixoff ...)`.
pub fn termios_summary(tio: &Termios) -> String {
    let mode = if tio.lflag(t::ICANON) {
        "canonical"
    } else {
        "raw"
    };
    let echo = if tio.lflag(t::ECHO) {
        "echo"
    } else {
        "no echo"
    };
    let flags: Vec<String> = SHOWN
        .iter()
        .map(|&(name, w, bit)| {
            if has(tio, w, bit) {
                name.to_string()
            } else {
                format!("-{name}")
            }
        })
        .collect();
    let mut s = format!("{mode}, {echo} ({})", flags.join(" "));
    if !tio.lflag(t::ICANON) {
        s.push_str(&format!(
            ", min {} time {}",
            tio.cc(t::VMIN),
            tio.cc(t::VTIME)
        ));
    }
    s.push_str(&format!(
        "; intr {} quit {} erase {} kill {} eof {} susp {}",
        cc_name(tio.cc(t::VINTR)),
        cc_name(tio.cc(t::VQUIT)),
        cc_name(tio.cc(t::VERASE)),
        cc_name(tio.cc(t::VKILL)),
        cc_name(tio.cc(t::VEOF)),
        cc_name(tio.cc(t::VSUSP)),
    ));
    s
}

/// Short form for tables: `canon,echo` / `raw,-echo`.
pub fn termios_short(tio: &Termios) -> String {
    format!(
        "{},{}",
        if tio.lflag(t::ICANON) { "canon" } else { "raw" },
        if tio.lflag(t::ECHO) { "echo" } else { "-echo" }
    )
}

/// JSON form of termios.
pub fn termios_json(tio: &Termios) -> Value {
    let flags: serde_json::Map<String, Value> = SHOWN
        .iter()
        .map(|&(name, w, bit)| (name.to_string(), Value::Bool(has(tio, w, bit))))
        .collect();
    json!({
        "canonical": tio.lflag(t::ICANON),
        "echo": tio.lflag(t::ECHO),
        "flags": flags,
        "c_iflag": tio.c_iflag,
        "c_oflag": tio.c_oflag,
        "c_cflag": tio.c_cflag,
        "c_lflag": tio.c_lflag,
        "c_line": tio.c_line,
        "vmin": tio.cc(t::VMIN),
        "vtime": tio.cc(t::VTIME),
        "cc": {
            "intr": cc_name(tio.cc(t::VINTR)),
            "quit": cc_name(tio.cc(t::VQUIT)),
            "erase": cc_name(tio.cc(t::VERASE)),
            "kill": cc_name(tio.cc(t::VKILL)),
            "eof": cc_name(tio.cc(t::VEOF)),
            "start": cc_name(tio.cc(t::VSTART)),
            "stop": cc_name(tio.cc(t::VSTOP)),
            "susp": cc_name(tio.cc(t::VSUSP)),
        },
    })
}

/// JSON form of a stream's state.
pub fn state_json(st: &StreamState) -> Value {
    let ws = json!({
        "rows": st.winsize.rows,
        "cols": st.winsize.cols,
        "xpixel": st.winsize.xpixel,
        "ypixel": st.winsize.ypixel,
    });
    match &st.end {
        EndState::Master {
            to_master,
            held_echo,
            packet,
            output_stopped,
            locked,
            exclusive,
            slave_closed,
        } => json!({
            "winsize": ws,
            "queued": { "to_master": to_master, "held_echo": held_echo },
            "packet_mode": packet,
            "output_stopped": output_stopped,
            "slave_locked": locked,
            "exclusive": exclusive,
            "slave_closed": slave_closed,
            "termios": Value::Null,
        }),
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
        } => json!({
            "winsize": ws,
            "queued": {
                "readable": readable,
                "lines": lines,
                "half_typed_line": half_typed,
                "unprocessed": unprocessed,
            },
            "column": column,
            "foreground_pgrp": foreground_pgrp,
            "slave_opens": slave_opens,
            "master_closed": master_closed,
            "exclusive": exclusive,
            "output_stopped": output_stopped,
            "termios": termios_json(termios),
        }),
    }
}
