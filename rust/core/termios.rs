// SPDX-License-Identifier: GPL-2.0
//! The terminal settings as user space sees them through `TCGETS`/`TCSETS`.
//!
//! [`Termios`] is the x86_64 (asm-generic) `struct termios`: four `u32`
//! flag words, the line discipline number and [`NCCS`] control characters,
//! 36 bytes. Flag and index values are exactly those of
//! `include/uapi/asm-generic/termbits{,-common}.h`, so the words can be
//! copied to and from user space unchanged. Defaults are those Linux gives a
//! fresh unix98 pty (`tty_std_termios` adjusted by `drivers/tty/pty.c`), so
//! programs cannot tell our ptys from the native ones.

use super::codec::{FieldError, FieldReader, FieldWriter};

/// Number of control characters in `c_cc`.
pub const NCCS: usize = 19;

// c_cc indexes.
/// Interrupt character (`^C`): `SIGINT`.
pub const VINTR: usize = 0;
/// Quit character (`^\`): `SIGQUIT`.
pub const VQUIT: usize = 1;
/// Erase one character (DEL).
pub const VERASE: usize = 2;
/// Erase the whole line (`^U`).
pub const VKILL: usize = 3;
/// End of file (`^D`).
pub const VEOF: usize = 4;
/// Non-canonical read timer, deciseconds.
pub const VTIME: usize = 5;
/// Non-canonical read minimum byte count.
pub const VMIN: usize = 6;
/// Switch character (unused by Linux).
pub const VSWTC: usize = 7;
/// Restart output (`^Q`).
pub const VSTART: usize = 8;
/// Stop output (`^S`).
pub const VSTOP: usize = 9;
/// Suspend character (`^Z`): `SIGTSTP`.
pub const VSUSP: usize = 10;
/// Additional end of line.
pub const VEOL: usize = 11;
/// Reprint the line being typed (`^R`).
pub const VREPRINT: usize = 12;
/// Discard output (`^O`, not acted upon by Linux).
pub const VDISCARD: usize = 13;
/// Erase one word (`^W`).
pub const VWERASE: usize = 14;
/// Take the next character literally (`^V`).
pub const VLNEXT: usize = 15;
/// Second additional end of line.
pub const VEOL2: usize = 16;

/// A control character set to this value is disabled (`_POSIX_VDISABLE`).
pub const DISABLED_CHAR: u8 = 0;

// c_iflag bits.
/// Ignore break.
pub const IGNBRK: u32 = 0x001;
/// Break raises `SIGINT`.
pub const BRKINT: u32 = 0x002;
/// Ignore characters with parity errors.
pub const IGNPAR: u32 = 0x004;
/// Mark parity errors (and double `\377`).
pub const PARMRK: u32 = 0x008;
/// Input parity check.
pub const INPCK: u32 = 0x010;
/// Strip the eighth bit.
pub const ISTRIP: u32 = 0x020;
/// Map NL to CR on input.
pub const INLCR: u32 = 0x040;
/// Ignore CR on input.
pub const IGNCR: u32 = 0x080;
/// Map CR to NL on input.
pub const ICRNL: u32 = 0x100;
/// Map upper case to lower case on input (with `IEXTEN`).
pub const IUCLC: u32 = 0x200;
/// Enable start/stop output control.
pub const IXON: u32 = 0x400;
/// Any character restarts stopped output.
pub const IXANY: u32 = 0x800;
/// Enable start/stop input control.
pub const IXOFF: u32 = 0x1000;
/// Ring the bell when the input queue is full (not acted upon by Linux).
pub const IMAXBEL: u32 = 0x2000;
/// Input is UTF-8: erase removes whole characters.
pub const IUTF8: u32 = 0x4000;

// c_oflag bits.
/// Enable output processing.
pub const OPOST: u32 = 0x01;
/// Map lower case to upper case on output.
pub const OLCUC: u32 = 0x02;
/// Map NL to CR-NL on output.
pub const ONLCR: u32 = 0x04;
/// Map CR to NL on output.
pub const OCRNL: u32 = 0x08;
/// Do not output CR at column 0.
pub const ONOCR: u32 = 0x10;
/// NL performs the CR function.
pub const ONLRET: u32 = 0x20;
/// Use fill characters for delay.
pub const OFILL: u32 = 0x40;
/// Fill character is DEL.
pub const OFDEL: u32 = 0x80;
/// Newline delay mask.
pub const NLDLY: u32 = 0x100;
/// Newline delay type 0.
pub const NL0: u32 = 0x000;
/// Newline delay type 1.
pub const NL1: u32 = 0x100;
/// Carriage return delay mask.
pub const CRDLY: u32 = 0x600;
/// Carriage return delay type 0.
pub const CR0: u32 = 0x000;
/// Carriage return delay type 1.
pub const CR1: u32 = 0x200;
/// Carriage return delay type 2.
pub const CR2: u32 = 0x400;
/// Carriage return delay type 3.
pub const CR3: u32 = 0x600;
/// Horizontal tab delay mask.
pub const TABDLY: u32 = 0x1800;
/// Horizontal tab delay type 0.
pub const TAB0: u32 = 0x0000;
/// Horizontal tab delay type 1.
pub const TAB1: u32 = 0x0800;
/// Horizontal tab delay type 2.
pub const TAB2: u32 = 0x1000;
/// Expand tabs to spaces.
pub const TAB3: u32 = 0x1800;
/// Expand tabs to spaces (same as [`TAB3`]).
pub const XTABS: u32 = 0x1800;
/// Backspace delay mask.
pub const BSDLY: u32 = 0x2000;
/// Backspace delay type 0.
pub const BS0: u32 = 0x0000;
/// Backspace delay type 1.
pub const BS1: u32 = 0x2000;
/// Vertical tab delay mask.
pub const VTDLY: u32 = 0x4000;
/// Vertical tab delay type 0.
pub const VT0: u32 = 0x0000;
/// Vertical tab delay type 1.
pub const VT1: u32 = 0x4000;
/// Form feed delay mask.
pub const FFDLY: u32 = 0x8000;
/// Form feed delay type 0.
pub const FF0: u32 = 0x0000;
/// Form feed delay type 1.
pub const FF1: u32 = 0x8000;

// c_cflag bits.
/// Baud rate mask.
pub const CBAUD: u32 = 0x0000_100f;
/// Hang up.
pub const B0: u32 = 0x0;
/// 50 baud.
pub const B50: u32 = 0x1;
/// 75 baud.
pub const B75: u32 = 0x2;
/// 110 baud.
pub const B110: u32 = 0x3;
/// 134 baud.
pub const B134: u32 = 0x4;
/// 150 baud.
pub const B150: u32 = 0x5;
/// 200 baud.
pub const B200: u32 = 0x6;
/// 300 baud.
pub const B300: u32 = 0x7;
/// 600 baud.
pub const B600: u32 = 0x8;
/// 1200 baud.
pub const B1200: u32 = 0x9;
/// 1800 baud.
pub const B1800: u32 = 0xa;
/// 2400 baud.
pub const B2400: u32 = 0xb;
/// 4800 baud.
pub const B4800: u32 = 0xc;
/// 9600 baud.
pub const B9600: u32 = 0xd;
/// 19200 baud.
pub const B19200: u32 = 0xe;
/// 38400 baud (what ptys report).
pub const B38400: u32 = 0xf;
/// Character size mask.
pub const CSIZE: u32 = 0x30;
/// 5 bits.
pub const CS5: u32 = 0x00;
/// 6 bits.
pub const CS6: u32 = 0x10;
/// 7 bits.
pub const CS7: u32 = 0x20;
/// 8 bits.
pub const CS8: u32 = 0x30;
/// Two stop bits.
pub const CSTOPB: u32 = 0x40;
/// Enable receiver.
pub const CREAD: u32 = 0x80;
/// Parity enable.
pub const PARENB: u32 = 0x100;
/// Odd parity.
pub const PARODD: u32 = 0x200;
/// Hang up on last close.
pub const HUPCL: u32 = 0x400;
/// Ignore modem control lines.
pub const CLOCAL: u32 = 0x800;
/// Extended baud rates.
pub const CBAUDEX: u32 = 0x1000;
/// Custom baud rate (termios2).
pub const BOTHER: u32 = 0x1000;
/// Input baud rate mask.
pub const CIBAUD: u32 = 0x100f_0000;
/// Shift from [`CBAUD`] to [`CIBAUD`].
pub const IBSHIFT: u32 = 16;
/// Address bit.
pub const ADDRB: u32 = 0x2000_0000;
/// Mark or space (stick) parity.
pub const CMSPAR: u32 = 0x4000_0000;
/// Hardware flow control.
pub const CRTSCTS: u32 = 0x8000_0000;

// c_lflag bits.
/// Enable signal characters.
pub const ISIG: u32 = 0x00001;
/// Canonical input (line editing).
pub const ICANON: u32 = 0x00002;
/// Canonical upper/lower presentation (not acted upon by Linux).
pub const XCASE: u32 = 0x00004;
/// Echo input.
pub const ECHO: u32 = 0x00008;
/// Erase echoes as backspace-space-backspace.
pub const ECHOE: u32 = 0x00010;
/// Echo NL after the kill character.
pub const ECHOK: u32 = 0x00020;
/// Echo NL even if `ECHO` is off.
pub const ECHONL: u32 = 0x00040;
/// Do not flush on signal characters.
pub const NOFLSH: u32 = 0x00080;
/// Background writes raise `SIGTTOU`.
pub const TOSTOP: u32 = 0x00100;
/// Echo control characters as `^X`.
pub const ECHOCTL: u32 = 0x00200;
/// Echo erased characters between `\` and `/`.
pub const ECHOPRT: u32 = 0x00400;
/// Kill erases the line visibly.
pub const ECHOKE: u32 = 0x00800;
/// Output being flushed.
pub const FLUSHO: u32 = 0x01000;
/// Retype pending input.
pub const PENDIN: u32 = 0x04000;
/// Extended input processing (`VWERASE`, `VLNEXT`, `VREPRINT`, `VEOL2`).
pub const IEXTEN: u32 = 0x08000;
/// External processing (line editing done by the master side).
pub const EXTPROC: u32 = 0x10000;

// TCXONC arguments.
/// Suspend output.
pub const TCOOFF: u32 = 0;
/// Restart suspended output.
pub const TCOON: u32 = 1;
/// Send a STOP character.
pub const TCIOFF: u32 = 2;
/// Send a START character.
pub const TCION: u32 = 3;

// TCFLSH arguments.
/// Flush data received but not read.
pub const TCIFLUSH: u32 = 0;
/// Flush data written but not transmitted.
pub const TCOFLUSH: u32 = 1;
/// Flush both.
pub const TCIOFLUSH: u32 = 2;

// tcsetattr actions.
/// Change immediately.
pub const TCSANOW: u32 = 0;
/// Change after output drained.
pub const TCSADRAIN: u32 = 1;
/// Change after output drained, flushing input.
pub const TCSAFLUSH: u32 = 2;

/// Linux's initial control characters (`INIT_C_CC`).
pub const INIT_C_CC: [u8; NCCS] = [
    0x03, // VINTR ^C
    0x1c, // VQUIT ^\
    0x7f, // VERASE DEL
    0x15, // VKILL ^U
    0x04, // VEOF ^D
    0,    // VTIME
    1,    // VMIN
    0,    // VSWTC
    0x11, // VSTART ^Q
    0x13, // VSTOP ^S
    0x1a, // VSUSP ^Z
    0,    // VEOL
    0x12, // VREPRINT ^R
    0x0f, // VDISCARD ^O
    0x17, // VWERASE ^W
    0x16, // VLNEXT ^V
    0,    // VEOL2
    0,    // unused
    0,    // unused
];

/// `struct termios` of the `TCGETS`/`TCSETS` ioctls (asm-generic layout,
/// 36 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Termios {
    /// Input modes.
    pub c_iflag: u32,
    /// Output modes.
    pub c_oflag: u32,
    /// Control modes.
    pub c_cflag: u32,
    /// Local modes.
    pub c_lflag: u32,
    /// Line discipline number.
    pub c_line: u8,
    /// Control characters, indexed by `V*`.
    pub c_cc: [u8; NCCS],
}

impl Default for Termios {
    fn default() -> Self {
        Self::pty_slave_default()
    }
}

impl Termios {
    /// Size of the user-space structure and of its encoding.
    pub const SIZE: usize = 36;

    /// Settings of a fresh unix98 pty slave: `tty_std_termios` with
    /// `c_cflag = B38400 | CS8 | CREAD`.
    pub const fn pty_slave_default() -> Self {
        Self {
            c_iflag: ICRNL | IXON,
            c_oflag: OPOST | ONLCR,
            c_cflag: B38400 | CS8 | CREAD,
            c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            c_line: 0,
            c_cc: INIT_C_CC,
        }
    }

    /// Settings of a fresh unix98 pty master: raw, `B38400 | CS8 | CREAD`.
    pub const fn pty_master_default() -> Self {
        Self {
            c_iflag: 0,
            c_oflag: 0,
            c_cflag: B38400 | CS8 | CREAD,
            c_lflag: 0,
            c_line: 0,
            c_cc: INIT_C_CC,
        }
    }

    /// What the pty driver does to settings it is given
    /// (`pty_set_termios`): always 8 bits, receiver on, no parity.
    pub fn pty_fixup(&mut self) {
        self.c_cflag &= !(CSIZE | PARENB);
        self.c_cflag |= CS8 | CREAD;
    }

    /// Control character `index` (`V*`), 0 when out of range.
    pub fn cc(&self, index: usize) -> u8 {
        self.c_cc.get(index).copied().unwrap_or(0)
    }

    /// Set control character `index` (`V*`); ignored when out of range.
    pub fn set_cc(&mut self, index: usize, value: u8) {
        if let Some(slot) = self.c_cc.get_mut(index) {
            *slot = value;
        }
    }

    /// Whether all bits of `flags` are set in `c_iflag`.
    pub fn iflag(&self, flags: u32) -> bool {
        self.c_iflag & flags == flags
    }

    /// Whether all bits of `flags` are set in `c_oflag`.
    pub fn oflag(&self, flags: u32) -> bool {
        self.c_oflag & flags == flags
    }

    /// Whether all bits of `flags` are set in `c_cflag`.
    pub fn cflag(&self, flags: u32) -> bool {
        self.c_cflag & flags == flags
    }

    /// Whether all bits of `flags` are set in `c_lflag`.
    pub fn lflag(&self, flags: u32) -> bool {
        self.c_lflag & flags == flags
    }

    /// Writes the user-space layout (little-endian, as on x86_64):
    /// the four flag words, `c_line`, `c_cc`.
    pub fn write(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u32(self.c_iflag)?;
        w.put_u32(self.c_oflag)?;
        w.put_u32(self.c_cflag)?;
        w.put_u32(self.c_lflag)?;
        w.put_u8(self.c_line)?;
        w.put_bytes(&self.c_cc)
    }

    /// Reads what [`Self::write`] writes.
    pub fn read(r: &mut FieldReader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            c_iflag: r.get_u32()?,
            c_oflag: r.get_u32()?,
            c_cflag: r.get_u32()?,
            c_lflag: r.get_u32()?,
            c_line: r.get_u8()?,
            c_cc: r.get_array()?,
        })
    }

    /// The user-space bytes (little-endian, as on x86_64).
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        // Exactly `SIZE` bytes: the write cannot fall short.
        let _ = self.write(&mut FieldWriter::new(&mut out));
        out
    }

    /// Decode the user-space bytes.
    pub fn from_bytes(bytes: &[u8; Self::SIZE]) -> Self {
        Self::from_slice(bytes).unwrap_or_default()
    }

    /// Decode the first [`Self::SIZE`] bytes of `bytes`, `None` if shorter.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Self::read(&mut FieldReader::new(bytes)).ok()
    }
}
