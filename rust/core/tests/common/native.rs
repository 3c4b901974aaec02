// SPDX-License-Identifier: GPL-2.0
//! A native Linux pty driven through libc: the reference the ldterm is
//! compared with.
#![allow(dead_code)]

use pty_core::termios::Termios;
use std::ffi::CStr;
use std::time::Duration;

/// Result of one nonblocking read of the slave, in the model's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeRead {
    Data(usize),
    Zero,
    Again,
}

pub struct NativePty {
    pub master: libc::c_int,
    pub slave: libc::c_int,
    /// Quiet time that counts as "the line discipline is done". Polling
    /// the slave only waits for its input work while it has no input
    /// available, so some waiting by time is unavoidable.
    pub settle: Duration,
}

fn check(r: libc::c_int, what: &str) -> libc::c_int {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

impl NativePty {
    pub fn open() -> Self {
        // SAFETY: plain libc calls on descriptors this object owns.
        unsafe {
            let master = check(
                libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK),
                "posix_openpt",
            );
            check(libc::grantpt(master), "grantpt");
            check(libc::unlockpt(master), "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            check(
                libc::ptsname_r(master, name.as_mut_ptr(), name.len()),
                "ptsname_r",
            );
            let slave = check(
                libc::open(
                    CStr::from_ptr(name.as_ptr()).as_ptr(),
                    libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK,
                ),
                "open slave",
            );
            Self {
                master,
                slave,
                settle: Duration::from_micros(300),
            }
        }
    }

    pub fn tcgets(&self, fd: libc::c_int) -> Termios {
        let mut buf = [0u8; Termios::SIZE];
        // SAFETY: TCGETS writes a 36-byte struct termios.
        check(
            unsafe { libc::ioctl(fd, libc::TCGETS, buf.as_mut_ptr()) },
            "TCGETS",
        );
        Termios::from_bytes(&buf)
    }

    pub fn tcsets(&self, fd: libc::c_int, t: &Termios) {
        let buf = t.to_bytes();
        // SAFETY: TCSETS reads a 36-byte struct termios.
        check(
            unsafe { libc::ioctl(fd, libc::TCSETS, buf.as_ptr()) },
            "TCSETS",
        );
    }

    pub fn inq(&self) -> usize {
        // Let pending input reach n_tty first (poll waits for that work).
        self.poll(self.slave);
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes an int.
        check(
            unsafe { libc::ioctl(self.slave, libc::FIONREAD, &mut n) },
            "FIONREAD",
        );
        n as usize
    }

    fn poll(&self, fd: libc::c_int) {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd. Polling a tty waits for its pending
        // input work (tty_buffer_flush_work), which synchronizes us with the
        // line discipline.
        unsafe { libc::poll(&mut p, 1, 0) };
    }

    fn read_fd(fd: libc::c_int, buf: &mut [u8]) -> isize {
        // SAFETY: buf is valid for writes of its length.
        unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
    }

    /// Everything the master can read once the slave side has settled.
    pub fn drain_master(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut empty = 0;
        while empty < 2 {
            self.poll(self.slave);
            self.poll(self.master);
            let mut buf = [0u8; 4096];
            let n = Self::read_fd(self.master, &mut buf);
            if n > 0 {
                out.extend_from_slice(&buf[..n as usize]);
                empty = 0;
            } else {
                empty += 1;
                std::thread::sleep(self.settle);
            }
        }
        out
    }

    /// Write `bytes` to the master, returning what the master reads back
    /// (echo). `chunk` bytes per write, settling in between.
    pub fn type_bytes(&self, bytes: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            let mut done = 0;
            while done < piece.len() {
                // SAFETY: valid buffer.
                let n = unsafe {
                    libc::write(
                        self.master,
                        piece[done..].as_ptr().cast(),
                        piece.len() - done,
                    )
                };
                assert!(n > 0, "master write: {}", std::io::Error::last_os_error());
                done += n as usize;
            }
            out.extend(self.drain_master());
        }
        out
    }

    /// Write to the slave (output processing); returns bytes accepted and
    /// what the master reads.
    pub fn write_slave(&self, bytes: &[u8]) -> (usize, Vec<u8>) {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(self.slave, bytes.as_ptr().cast(), bytes.len()) };
        (n.max(0) as usize, self.drain_master())
    }

    pub fn read_slave(&self, len: usize) -> (NativeRead, Vec<u8>) {
        self.poll(self.slave);
        let mut buf = vec![0u8; len];
        let n = Self::read_fd(self.slave, &mut buf);
        match n {
            0 => (NativeRead::Zero, Vec::new()),
            n if n > 0 => (NativeRead::Data(n as usize), buf[..n as usize].to_vec()),
            _ => {
                let e = std::io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "slave read: {e}");
                (NativeRead::Again, Vec::new())
            }
        }
    }
}

impl Drop for NativePty {
    fn drop(&mut self) {
        // SAFETY: closing descriptors we own.
        unsafe {
            libc::close(self.slave);
            libc::close(self.master);
        }
    }
}
