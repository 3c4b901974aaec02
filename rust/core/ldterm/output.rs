// SPDX-License-Identifier: GPL-2.0
//! Output processing (`OPOST`): the slave's writes and the echo, with the
//! column tracking they share.

use super::super::storage::Storage;
use super::super::termios::{Termios, OCRNL, OLCUC, ONLCR, ONLRET, ONOCR, OPOST, TABDLY, XTABS};
use super::ctype::{is_continuation, iscntrl, toupper};
use super::echo::Stage;
use super::{Ldterm, OutputSink};

/// Output position, shared by echo and slave output like `n_tty`'s
/// `column` and `canon_column`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) struct Cursor {
    pub(super) column: u32,
    pub(super) canon_column: u32,
}

impl Stage {
    /// One character through output processing (`do_output_char`).
    pub(super) fn opost(&mut self, t: &Termios, c: u8) {
        let cur = &mut self.cursor;
        let mut c = c;
        match c {
            b'\n' => {
                if t.oflag(ONLRET) {
                    cur.column = 0;
                }
                if t.oflag(ONLCR) {
                    cur.column = 0;
                    cur.canon_column = 0;
                    self.put(b'\r');
                    self.put(b'\n');
                    return;
                }
                cur.canon_column = cur.column;
            }
            b'\r' => {
                if t.oflag(ONOCR) && cur.column == 0 {
                    return;
                }
                if t.oflag(OCRNL) {
                    c = b'\n';
                    if t.oflag(ONLRET) {
                        cur.column = 0;
                        cur.canon_column = 0;
                    }
                } else {
                    cur.column = 0;
                    cur.canon_column = 0;
                }
            }
            b'\t' => {
                let spaces = 8u32.wrapping_sub(cur.column & 7);
                cur.column = cur.column.wrapping_add(spaces);
                if t.c_oflag & TABDLY == XTABS {
                    for _ in 0..spaces {
                        self.put(b' ');
                    }
                    return;
                }
            }
            0x08 => {
                cur.column = cur.column.saturating_sub(1);
            }
            _ => {
                if !iscntrl(c) {
                    if t.oflag(OLCUC) {
                        c = toupper(c);
                    }
                    if !is_continuation(t, c) {
                        cur.column = cur.column.wrapping_add(1);
                    }
                }
            }
        }
        self.put(c);
    }
}

/// The slave's write path.
impl<S: Storage> Ldterm<S> {
    /// The slave's write path: `OPOST` processing (`ONLCR`, `OCRNL`,
    /// `ONOCR`, `ONLRET`, `OLCUC`, `XTABS`) with column tracking. An
    /// expansion is never split: a character whose output does not fit
    /// stays unconsumed. Returns the number of input bytes consumed;
    /// nothing while output is stopped.
    pub fn process_output(&mut self, input: &[u8], out: &mut dyn OutputSink) -> usize {
        if self.stopped {
            return 0;
        }
        let t = self.termios;
        if !t.oflag(OPOST) {
            let n = out.room().min(input.len());
            return out.push(input.get(..n).unwrap_or(&[]));
        }
        let mut done = 0usize;
        loop {
            let rest = input.get(done..).unwrap_or(&[]);
            if rest.is_empty() {
                break;
            }
            let room = out.room();
            if room == 0 {
                break;
            }
            // Run of bytes that pass unchanged (`process_output_block`).
            let mut cursor = self.cursor;
            let mut run = 0usize;
            for &c in rest.iter().take(room) {
                if !Self::simple_output(&t, &mut cursor, c) {
                    break;
                }
                run = run.saturating_add(1);
            }
            if run > 0 {
                let pushed = out.push(rest.get(..run).unwrap_or(&[]));
                if pushed == run {
                    self.cursor = cursor;
                } else {
                    // The sink took less than it said: account for what
                    // it took.
                    for &c in rest.iter().take(pushed) {
                        Self::simple_output(&t, &mut self.cursor, c);
                    }
                }
                done = done.saturating_add(pushed);
                if pushed < run {
                    break;
                }
                continue;
            }
            // One character with an expansion.
            let Some(&c) = rest.first() else {
                break;
            };
            let mut st = Stage::new(self.cursor, self.erasing);
            st.opost(&t, c);
            if st.len > room {
                break;
            }
            let _ = out.push(st.bytes());
            self.cursor = st.cursor;
            done = done.saturating_add(1);
        }
        done
    }

    /// Whether `c` is output as itself; if so, track its column.
    fn simple_output(t: &Termios, cur: &mut Cursor, c: u8) -> bool {
        match c {
            b'\n' => {
                if t.oflag(ONLCR) {
                    return false;
                }
                if t.oflag(ONLRET) {
                    cur.column = 0;
                }
                cur.canon_column = cur.column;
            }
            b'\r' => {
                if (t.oflag(ONOCR) && cur.column == 0) || t.oflag(OCRNL) {
                    return false;
                }
                cur.column = 0;
                cur.canon_column = 0;
            }
            b'\t' => return false,
            0x08 => cur.column = cur.column.saturating_sub(1),
            _ => {
                if !iscntrl(c) {
                    if t.oflag(OLCUC) {
                        return false;
                    }
                    if !is_continuation(t, c) {
                        cur.column = cur.column.wrapping_add(1);
                    }
                }
            }
        }
        true
    }

    /// Output column (for tests and diagnostics).
    pub fn column(&self) -> u32 {
        self.cursor.column
    }
}
