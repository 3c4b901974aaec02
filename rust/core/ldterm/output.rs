// SPDX-License-Identifier: GPL-2.0
//! Output processing (`OPOST`): the slave's writes and the echo, with the
//! column tracking they share.

use super::super::bytes::split_at_most;
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
        if !self.termios.oflag(OPOST) {
            return out.push(split_at_most(input, out.room()).0);
        }
        let mut rest = input;
        while let Some(&first) = rest.first() {
            let room = out.room();
            if room == 0 {
                break;
            }
            let (run, cursor) = self.plain_run(rest, room);
            let (taken, go_on) = if run > 0 {
                let pushed = self.output_plain(split_at_most(rest, run).0, cursor, out);
                (pushed, pushed == run)
            } else {
                let went = self.output_expanded(first, room, out);
                (usize::from(went), went)
            };
            rest = split_at_most(rest, taken).1;
            if !go_on {
                break;
            }
        }
        input.len().saturating_sub(rest.len())
    }

    /// How many bytes at the front of `bytes`, at most `room`, pass
    /// unchanged (`process_output_block`), and the cursor after them.
    fn plain_run(&self, bytes: &[u8], room: usize) -> (usize, Cursor) {
        let mut cursor = self.cursor;
        let run = bytes
            .iter()
            .take(room)
            .take_while(|&&c| Self::simple_output(&self.termios, &mut cursor, c))
            .count();
        (run, cursor)
    }

    /// Pushes a run of unchanged bytes whose output leaves `cursor`
    /// behind; returns how many the sink took, with the cursor moved over
    /// exactly those.
    fn output_plain(&mut self, run: &[u8], cursor: Cursor, out: &mut dyn OutputSink) -> usize {
        let pushed = out.push(run);
        if pushed == run.len() {
            self.cursor = cursor;
        } else {
            // The sink took less than it said: account for what it took.
            for &c in run.iter().take(pushed) {
                Self::simple_output(&self.termios, &mut self.cursor, c);
            }
        }
        pushed
    }

    /// One character with an expansion, whole or not at all (it does not
    /// fit `room`): whether it went out.
    fn output_expanded(&mut self, c: u8, room: usize, out: &mut dyn OutputSink) -> bool {
        let mut st = Stage::new(self.cursor, self.erasing);
        st.opost(&self.termios, c);
        if st.bytes().len() > room {
            return false;
        }
        let _ = out.push(st.bytes());
        self.cursor = st.cursor;
        true
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
