// SPDX-License-Identifier: GPL-2.0
//! What a failed commit names: each [`Orphan`] (index, which end or which
//! socket), its user-space record and its log line.

use core::fmt;

use super::super::codec::{FieldError, FieldReader, FieldWriter};
use super::super::end::End;
use super::super::storage::Storage;
use super::session::RestartSession;
use super::socket_id::SocketId;

/// What is missing of a pair at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanKind {
    /// Its master end was not restored.
    Master,
    /// Its slave end was not restored.
    Slave,
    /// This associated socket was not restored.
    Socket(SocketId),
}

/// An expected item that was not restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orphan {
    /// The pair.
    pub index: u32,
    /// What is missing.
    pub what: OrphanKind,
}

/// Size of [`Orphan::to_record`]: the user-space record
///
/// ```text
/// struct ckpt_pty_orphan {          /* native endian */
///     __u32 index;
///     __u16 kind;                   /* 1 master, 2 slave, 3 socket */
///     __u16 reserved;               /* 0 */
///     __u16 family, type, protocol; /* socket only, else 0 */
///     __u16 local_port, remote_port;
///     __u16 reserved2;              /* 0 */
///     __u8  local_addr[16];
///     __u8  remote_addr[16];
/// };
/// ```
pub const ORPHAN_RECORD_LEN: usize = 52;

/// `kind` of a missing master in an orphan record.
pub const ORPHAN_MASTER: u16 = 1;
/// `kind` of a missing slave in an orphan record.
pub const ORPHAN_SLAVE: u16 = 2;
/// `kind` of a missing socket in an orphan record.
pub const ORPHAN_SOCKET: u16 = 3;

impl Orphan {
    /// The fixed-size user-space record (see [`ORPHAN_RECORD_LEN`]).
    pub fn to_record(&self) -> [u8; ORPHAN_RECORD_LEN] {
        let mut r = [0u8; ORPHAN_RECORD_LEN];
        // Exactly `ORPHAN_RECORD_LEN` bytes: the write cannot fall short.
        let _ = self.write_record(&mut FieldWriter::new(&mut r));
        r
    }

    /// Writes the record, native endian; a master or slave orphan has an
    /// all-zero socket part.
    fn write_record(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        let (kind, socket) = match self.what {
            OrphanKind::Master => (ORPHAN_MASTER, SocketId::default()),
            OrphanKind::Slave => (ORPHAN_SLAVE, SocketId::default()),
            OrphanKind::Socket(s) => (ORPHAN_SOCKET, s),
        };
        w.put_u32_ne(self.index)?;
        w.put_u16_ne(kind)?;
        w.put_u16_ne(0)?;
        w.put_u16_ne(socket.family)?;
        w.put_u16_ne(socket.sock_type)?;
        w.put_u16_ne(socket.protocol)?;
        w.put_u16_ne(socket.local_port)?;
        w.put_u16_ne(socket.remote_port)?;
        w.put_u16_ne(0)?;
        w.put_bytes(&socket.local_addr)?;
        w.put_bytes(&socket.remote_addr)
    }

    /// Decode a record made by [`Orphan::to_record`]; `None` for an unknown
    /// kind. Reserved fields are not looked at.
    pub fn from_record(r: &[u8; ORPHAN_RECORD_LEN]) -> Option<Self> {
        Self::read_record(&mut FieldReader::new(r)).ok().flatten()
    }

    fn read_record(r: &mut FieldReader<'_>) -> Result<Option<Self>, FieldError> {
        let index = r.get_u32_ne()?;
        let kind = r.get_u16_ne()?;
        r.get_u16_ne()?;
        let family = r.get_u16_ne()?;
        let sock_type = r.get_u16_ne()?;
        let protocol = r.get_u16_ne()?;
        let local_port = r.get_u16_ne()?;
        let remote_port = r.get_u16_ne()?;
        r.get_u16_ne()?;
        let local_addr = r.get_array()?;
        let remote_addr = r.get_array()?;
        let what = match kind {
            ORPHAN_MASTER => OrphanKind::Master,
            ORPHAN_SLAVE => OrphanKind::Slave,
            ORPHAN_SOCKET => OrphanKind::Socket(SocketId {
                family,
                sock_type,
                protocol,
                local_addr,
                local_port,
                remote_addr,
                remote_port,
            }),
            _ => return Ok(None),
        };
        Ok(Some(Self { index, what }))
    }
}

impl fmt::Display for Orphan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            OrphanKind::Master => write!(f, "pty {} master", self.index),
            OrphanKind::Slave => write!(f, "pty {} slave", self.index),
            OrphanKind::Socket(s) => write!(f, "pty {} socket ({s})", self.index),
        }
    }
}

/// The expected items not restored, in index order (master, slave, socket
/// within an index).
#[derive(Debug)]
pub struct Orphans<'a, S: Storage> {
    pub(super) session: &'a RestartSession<S>,
}

impl<'a, S: Storage> Orphans<'a, S> {
    /// Number of orphans (O(1)).
    pub fn len(&self) -> usize {
        self.session.missing
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.session.missing == 0
    }

    /// The orphans, in index order.
    pub fn iter(&self) -> OrphanIter<'a, S> {
        OrphanIter {
            session: self.session,
            pos: 0,
            stage: 0,
        }
    }

    /// Write the first orphans as [`ORPHAN_RECORD_LEN`]-byte records into
    /// `out`, as many as fit; returns how many were written.
    pub fn write_records(&self, out: &mut [u8]) -> usize {
        out.chunks_exact_mut(ORPHAN_RECORD_LEN)
            .zip(self.iter())
            .map(|(chunk, o)| chunk.copy_from_slice(&o.to_record()))
            .count()
    }

    /// A log line naming at most `limit` orphans, then how many more.
    pub fn summary(&self, limit: usize) -> OrphanSummary<'a, S> {
        OrphanSummary {
            session: self.session,
            limit,
        }
    }
}

impl<S: Storage> fmt::Display for Orphans<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.summary(usize::MAX).fmt(f)
    }
}

/// A log line naming the orphans: `"2 orphans: pty 0 master, pty 3 slave"`.
#[derive(Debug)]
pub struct OrphanSummary<'a, S: Storage> {
    session: &'a RestartSession<S>,
    limit: usize,
}

impl<S: Storage> fmt::Display for OrphanSummary<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.session.missing;
        write!(f, "{total} orphan{}", if total == 1 { "" } else { "s" })?;
        let orphans = Orphans {
            session: self.session,
        };
        for (i, o) in orphans.iter().take(self.limit).enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            o.fmt(f)?;
        }
        let more = total.saturating_sub(self.limit);
        if more != 0 {
            write!(f, ", and {more} more")?;
        }
        Ok(())
    }
}

/// Iterator over [`Orphans`].
#[derive(Debug)]
pub struct OrphanIter<'a, S: Storage> {
    session: &'a RestartSession<S>,
    pos: usize,
    /// 0: master, 1: slave, 2: socket of the pair at `pos`.
    stage: u8,
}

impl<S: Storage> Iterator for OrphanIter<'_, S> {
    type Item = Orphan;

    fn next(&mut self) -> Option<Orphan> {
        let s = self.session;
        while self.pos < s.pairs.len() {
            let record = s.pairs.get(self.pos).ok()?;
            let stage = self.stage;
            if stage >= 2 {
                self.stage = 0;
                self.pos = self.pos.saturating_add(1);
            } else {
                self.stage = stage.saturating_add(1);
            }
            let f = record.flags;
            let what = match stage {
                0 if f.missing_end(End::Master) => OrphanKind::Master,
                1 if f.missing_end(End::Slave) => OrphanKind::Slave,
                2 if f.missing_socket() => match s.socket_of(&record) {
                    Some(id) => OrphanKind::Socket(id),
                    None => continue,
                },
                _ => continue,
            };
            return Some(Orphan {
                index: record.index,
                what,
            });
        }
        None
    }
}
