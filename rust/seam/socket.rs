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

/// A `struct sockaddr_storage` for the kernel to fill: its size and
/// alignment, read back as bytes.
struct SockaddrStorage(bindings::__kernel_sockaddr_storage);

impl SockaddrStorage {
    fn zeroed() -> Self {
        // SAFETY: All-zero bytes are a valid `sockaddr_storage` (plain
        // integers and byte arrays).
        Self(unsafe { core::mem::zeroed() })
    }

    fn as_sockaddr(&mut self) -> *mut bindings::sockaddr {
        core::ptr::addr_of_mut!(self.0).cast()
    }

    /// Its bytes (a copy: the address is small).
    fn bytes(&self) -> [u8; SOCKADDR_STORAGE_LEN] {
        let mut out = [0u8; SOCKADDR_STORAGE_LEN];
        // SAFETY: `self.0` is `SOCKADDR_STORAGE_LEN` initialized bytes
        // (zeroed, then written by the kernel) and `out` has that room.
        unsafe {
            core::ptr::copy_nonoverlapping(
                core::ptr::addr_of!(self.0).cast::<u8>(),
                out.as_mut_ptr(),
                SOCKADDR_STORAGE_LEN,
            )
        };
        out
    }
}

const SOCKADDR_STORAGE_LEN: usize = core::mem::size_of::<bindings::__kernel_sockaddr_storage>();

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
    let mut local = SockaddrStorage::zeroed();
    let mut remote = SockaddrStorage::zeroed();
    // SAFETY: The socket is alive (type invariant), and `local` is a
    // `struct sockaddr_storage`, the most this writes, correctly aligned.
    let n = unsafe { bindings::kernel_getsockname(sock.ptr, local.as_sockaddr()) };
    if n < 0 {
        return Err(Error::from_errno(n));
    }
    // An unconnected socket has no peer: its remote part stays zero.
    // SAFETY: As for `local`.
    let _ = unsafe { bindings::kernel_getpeername(sock.ptr, remote.as_sockaddr()) };
    let (local, remote) = (local.bytes(), remote.bytes());
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
