// SPDX-License-Identifier: GPL-2.0
//! Sockets: the identity (family, type, protocol, local and remote address
//! and port) of a socket given by descriptor, for socket association.

use crate::uapi::SocketRecord;
use kernel::{bindings, prelude::*};

// `struct sock` is opaque to 6.12's bindings.
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_sock_protocol(sock: *mut bindings::socket) -> u16;
    fn ckpt_pty_sockfd_put(sock: *mut bindings::socket);
}

const AF_INET: u16 = bindings::AF_INET as u16;
const AF_INET6: u16 = bindings::AF_INET6 as u16;

/// A socket looked up by descriptor, released on drop.
///
/// # Invariants
///
/// `ptr` came from `sockfd_lookup` and holds its file reference.
struct SocketRef {
    ptr: *mut bindings::socket,
}

impl Drop for SocketRef {
    fn drop(&mut self) {
        // SAFETY: Releases the reference `sockfd_lookup` took (type
        // invariant).
        unsafe { ckpt_pty_sockfd_put(self.ptr) }
    }
}

/// Fills `(address, port)` from a `sockaddr_in`/`sockaddr_in6` in `raw`.
fn parse_addr(family: u16, raw: &[u8]) -> ([u8; 16], u16) {
    let mut addr = [0u8; 16];
    let port = raw
        .get(2..4)
        .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
    let src = match family {
        AF_INET => raw.get(4..8),
        AF_INET6 => raw.get(8..24),
        _ => None,
    };
    if let Some(src) = src {
        for (d, s) in addr.iter_mut().zip(src) {
            *d = *s;
        }
    }
    (addr, port)
}

/// The identity of the socket behind descriptor `fd` of the caller.
pub(crate) fn identity(fd: i32) -> Result<SocketRecord> {
    let mut err: i32 = 0;
    // SAFETY: `err` is valid for writes; a non-null result holds a file
    // reference that `SocketRef` releases.
    let ptr = unsafe { bindings::sockfd_lookup(fd, &mut err) };
    if ptr.is_null() {
        return Err(if err < 0 {
            Error::from_errno(err)
        } else {
            EBADF
        });
    }
    let sock = SocketRef { ptr };
    // SAFETY: The socket is alive (type invariant), and `type_` is fixed
    // at creation.
    let sock_type = unsafe { (*sock.ptr).type_ } as u16;
    // SAFETY: The socket is alive (type invariant); the C side reads its
    // protocol, fixed at creation.
    let protocol = unsafe { ckpt_pty_sock_protocol(sock.ptr) };
    let mut local = [0u8; 128];
    let mut remote = [0u8; 128];
    // SAFETY: The socket is alive (type invariant), and `local` has the
    // size of `struct sockaddr_storage`, the most this writes.
    let n = unsafe { bindings::kernel_getsockname(sock.ptr, local.as_mut_ptr().cast()) };
    if n < 0 {
        return Err(Error::from_errno(n));
    }
    // An unconnected socket has no peer: its remote part stays zero.
    // SAFETY: The socket is alive (type invariant), and `remote` has the
    // size of `struct sockaddr_storage`, the most this writes.
    let _ = unsafe { bindings::kernel_getpeername(sock.ptr, remote.as_mut_ptr().cast()) };
    let [family_lo, family_hi, ..] = local;
    let family = u16::from_ne_bytes([family_lo, family_hi]);
    let (local_addr, local_port) = parse_addr(family, &local);
    let (remote_addr, remote_port) = parse_addr(family, &remote);
    Ok(SocketRecord {
        family,
        sock_type,
        protocol,
        local_port,
        remote_port,
        reserved: 0,
        local_addr,
        remote_addr,
    })
}
