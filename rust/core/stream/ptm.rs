// SPDX-License-Identifier: GPL-2.0
//! The ptm module: the master's driver end (packet mode and its status,
//! the master's `TCOOFF`).
//!
//! # Checkpoint block
//!
//! The block also carries the pair's facts that the master image restores:
//! index, mode, lock, whether a master file was open, whether the slave was
//! closed, and the identity of the socket the pair serves.
//!
//! ```text
//! module part off size field
//! ------ ---- --- ---- -------------------------------------------------
//! ptm    I      0    4 slave index
//!               4    1 pty mode: 0 AT&T, 1 BSD (= image header's)
//!               5    1 slave locked (TIOCSPTLCK), bool
//!               6    1 packet mode (TIOCPKT), bool
//!               7    1 pending packet status: TIOCPKT_* bits 0x3f, never
//!                      both STOP and START nor both DOSTOP and NOSTOP
//!               8    1 master output stopped (TCXONC TCOOFF), bool
//!               9    1 a master file was open, bool
//!              10    1 slave closed (TTY_OTHER_CLOSED), bool
//!              11    1 has socket: a socket is associated, bool
//!              12   42 socket identity (all zero without a socket):
//!              12    2   family
//!              14    2   socket type
//!              16    2   protocol
//!              18    2   local port
//!              20    2   remote port
//!              22   16   local address
//!              38   16   remote address
//! ptm    E      -    0 (empty)
//! ```

use super::super::checkpoint::{BadBlock, BlockReader, ModuleState, RestoreError};
use super::super::codec::{FieldError, FieldWriter};
use super::super::image::{ModuleBlock, ModuleName, PtyMode, StreamImageHeader};
use super::super::waitlist::SocketId;

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

    /// Every status bit.
    pub const ALL: u8 = FLUSHREAD | FLUSHWRITE | STOP | START | NOSTOP | DOSTOP;

    /// Whether `status` is one the master can be pending: known bits only,
    /// and never both halves of a pair that cancel each other.
    pub fn is_possible(status: u8) -> bool {
        let both = |a: u8, b: u8| status & a != 0 && status & b != 0;
        status & !ALL == 0 && !both(STOP, START) && !both(NOSTOP, DOSTOP)
    }
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

/// What the ptm block carries beside the module's own state: the facts of
/// the pair that the master image restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtmFacts {
    /// Slave index.
    pub index: u32,
    /// Pty mode (the image header's).
    pub mode: PtyMode,
    /// The slave is locked (`TIOCSPTLCK`).
    pub locked: bool,
    /// A master file is open.
    pub master_open: bool,
    /// No slave file is open (`TTY_OTHER_CLOSED`).
    pub slave_closed: bool,
    /// The socket the pair serves, if any.
    pub socket: Option<SocketId>,
}

/// A ptm block, read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtmSaved {
    /// The module's state.
    pub ptm: Ptm,
    /// The pair's facts.
    pub facts: PtmFacts,
}

impl ModuleState for Ptm {
    const NAME: ModuleName = ModuleName::Ptm;
    type Facts = PtmFacts;
    type Saved<'a> = PtmSaved;

    fn save_internal(&self, facts: &PtmFacts, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u32(facts.index)?;
        w.put_u8(facts.mode.as_u8())?;
        w.put_bool(facts.locked)?;
        w.put_bool(self.packet)?;
        w.put_u8(self.packet_status)?;
        w.put_bool(self.output_stopped)?;
        w.put_bool(facts.master_open)?;
        w.put_bool(facts.slave_closed)?;
        save_socket(w, facts.socket.as_ref())
    }

    /// Internal: index (`u32`), seven one-byte fields, the socket flag and
    /// the socket identity (zeros without a socket).
    fn encoded_len(&self, _: &PtmFacts) -> Result<(usize, usize), super::super::image::ImageError> {
        const LEN: usize = 4 + 7 + 1 + SocketId::ENCODED_LEN;
        Ok((LEN, 0))
    }

    fn parse(block: &ModuleBlock<'_>, header: &StreamImageHeader) -> Result<PtmSaved, BadBlock> {
        let mut i = BlockReader::internal(block);
        let index = i.u32()?;
        let mode = i.pty_mode(header.mode)?;
        let locked = i.bool()?;
        let packet = i.bool()?;
        let status_at = i.pos();
        let packet_status = i.u8()?;
        if !packet::is_possible(packet_status) {
            return Err(i.bad(status_at, "impossible packet status"));
        }
        let ptm = Ptm {
            packet,
            packet_status,
            output_stopped: i.bool()?,
        };
        let facts = PtmFacts {
            index,
            mode,
            locked,
            master_open: i.bool()?,
            slave_closed: i.bool()?,
            socket: parse_socket(&mut i)?,
        };
        i.finish()?;
        BlockReader::external(block).finish()?;
        Ok(PtmSaved { ptm, facts })
    }

    fn is_fresh(&self) -> bool {
        *self == Ptm::default()
    }

    fn load(&mut self, saved: &PtmSaved) -> Result<(), RestoreError> {
        *self = saved.ptm;
        Ok(())
    }
}

/// Whether a socket is associated, then its identity (zeros without one).
fn save_socket(w: &mut FieldWriter<'_>, socket: Option<&SocketId>) -> Result<(), FieldError> {
    w.put_bool(socket.is_some())?;
    let Some(s) = socket else {
        return w.put_zeros(SocketId::ENCODED_LEN);
    };
    w.put_u16(s.family)?;
    w.put_u16(s.sock_type)?;
    w.put_u16(s.protocol)?;
    w.put_u16(s.local_port)?;
    w.put_u16(s.remote_port)?;
    w.put_bytes(&s.local_addr)?;
    w.put_bytes(&s.remote_addr)
}

/// What [`save_socket`] writes; the identity must be all zero without a
/// socket.
fn parse_socket(i: &mut BlockReader<'_>) -> Result<Option<SocketId>, BadBlock> {
    if !i.bool()? {
        i.zeros(SocketId::ENCODED_LEN, "socket identity without a socket")?;
        return Ok(None);
    }
    Ok(Some(SocketId {
        family: i.u16()?,
        sock_type: i.u16()?,
        protocol: i.u16()?,
        local_port: i.u16()?,
        remote_port: i.u16()?,
        local_addr: i.array()?,
        remote_addr: i.array()?,
    }))
}
