// SPDX-License-Identifier: GPL-2.0
//! The identity of the socket a pair serves, its socket-table key and its
//! log form.

use core::fmt;

use super::super::codec::{FieldError, FieldReader, FieldWriter};

/// Identity of the socket a pair serves (telnet/rlogin-style login), as
/// the checkpoint recorded it. Addresses are in network byte order (IPv4 in
/// the first 4 bytes), ports as recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId {
    /// Address family (`AF_INET`, `AF_INET6`, ...).
    pub family: u16,
    /// Socket type (`SOCK_STREAM`, ...).
    pub sock_type: u16,
    /// Protocol (`IPPROTO_TCP`, ...).
    pub protocol: u16,
    /// Local address.
    pub local_addr: [u8; 16],
    /// Local port.
    pub local_port: u16,
    /// Remote address.
    pub remote_addr: [u8; 16],
    /// Remote port.
    pub remote_port: u16,
}

impl SocketId {
    /// Bytes of an encoded identity: family, type, protocol and the two
    /// ports (`u16` each) and the two 16-byte addresses. The socket table
    /// and the checkpoint's ptm block both encode it in this many bytes.
    pub const ENCODED_LEN: usize = 5 * 2 + 2 * 16;

    /// Writes the encoding used in the socket table: family, type,
    /// protocol, local address and port, remote address and port. Byte
    /// order only matters for sorting, which needs nothing but a total
    /// order consistent with `==`.
    pub(super) fn write_key(&self, w: &mut FieldWriter<'_>) -> Result<(), FieldError> {
        w.put_u16(self.family)?;
        w.put_u16(self.sock_type)?;
        w.put_u16(self.protocol)?;
        w.put_bytes(&self.local_addr)?;
        w.put_u16(self.local_port)?;
        w.put_bytes(&self.remote_addr)?;
        w.put_u16(self.remote_port)
    }

    /// Reads what [`Self::write_key`] writes.
    pub(super) fn read_key(r: &mut FieldReader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            family: r.get_u16()?,
            sock_type: r.get_u16()?,
            protocol: r.get_u16()?,
            local_addr: r.get_array()?,
            local_port: r.get_u16()?,
            remote_addr: r.get_array()?,
            remote_port: r.get_u16()?,
        })
    }

    /// The socket-table key of this identity.
    pub(super) fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut b = [0u8; Self::ENCODED_LEN];
        // Exactly `ENCODED_LEN` bytes: the write cannot fall short.
        let _ = self.write_key(&mut FieldWriter::new(&mut b));
        b
    }
}

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// One address and port, formatted by family.
struct Endpoint<'a> {
    family: u16,
    addr: &'a [u8; 16],
    port: u16,
}

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            AF_INET => {
                let [a, b, c, d, ..] = *self.addr;
                write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
            }
            AF_INET6 => {
                f.write_str("[")?;
                for (i, g) in self.addr.chunks_exact(2).enumerate() {
                    if i != 0 {
                        f.write_str(":")?;
                    }
                    if let &[hi, lo] = g {
                        write!(f, "{:x}", u16::from_be_bytes([hi, lo]))?;
                    }
                }
                write!(f, "]:{}", self.port)
            }
            _ => {
                for b in self.addr {
                    write!(f, "{b:02x}")?;
                }
                write!(f, ":{}", self.port)
            }
        }
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            AF_UNIX => f.write_str("unix")?,
            AF_INET => f.write_str("inet")?,
            AF_INET6 => f.write_str("inet6")?,
            other => write!(f, "family {other}")?,
        }
        write!(
            f,
            " type {} proto {} {} -> {}",
            self.sock_type,
            self.protocol,
            Endpoint {
                family: self.family,
                addr: &self.local_addr,
                port: self.local_port,
            },
            Endpoint {
                family: self.family,
                addr: &self.remote_addr,
                port: self.remote_port,
            }
        )
    }
}
