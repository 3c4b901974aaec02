// SPDX-License-Identifier: GPL-2.0
//! The ptm module: the master's driver end (packet mode and its status,
//! the master's `TCOOFF`).

/// `TIOCPKT` status bits (`include/uapi/asm-generic/ioctls.h`).
pub mod packet {
    /// Data follows (the leading byte of a data read).
    pub const DATA: u8 = 0;
    /// The slave's input was flushed.
    pub const FLUSHREAD: u8 = 1;
    /// The slave's output was flushed.
    pub const FLUSHWRITE: u8 = 2;
    /// Output was stopped (`^S`).
    pub const STOP: u8 = 4;
    /// Output was restarted (`^Q`).
    pub const START: u8 = 8;
    /// `^S`/`^Q` are no longer the flow-control characters.
    pub const NOSTOP: u8 = 16;
    /// `^S`/`^Q` became the flow-control characters.
    pub const DOSTOP: u8 = 32;
}

/// The ptm module: the master's driver end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ptm {
    /// `TIOCPKT` packet mode.
    pub packet: bool,
    /// Pending `TIOCPKT_*` status for the master's next read.
    pub packet_status: u8,
    /// `TCXONC TCOOFF` on the master: master writes wait for `TCOON`.
    pub output_stopped: bool,
}
