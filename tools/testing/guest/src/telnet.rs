// SPDX-License-Identifier: GPL-2.0
//! A minimal telnet client for busybox `telnetd`: the server's option
//! requests are ignored (it carries on without answers), `IAC` sequences are
//! stripped, and what the terminal shows is kept for `expect`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Telnet commands (RFC 854).
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;

pub struct Telnet {
    stream: TcpStream,
    /// Everything the terminal showed, telnet commands removed.
    seen: Vec<u8>,
    /// Where the next `expect` starts looking.
    cursor: usize,
    /// Bytes of an `IAC` sequence cut by a read boundary.
    partial: Vec<u8>,
    /// Print what the terminal shows (`make demo`).
    pub echo: bool,
}

impl Telnet {
    /// Connects to `addr:port`, retrying for 20 s while the server starts.
    pub fn connect_to(addr: &str, port: u16) -> Result<Self, String> {
        Self::connect_retrying(addr, port, || TcpStream::connect((addr, port)))
    }

    /// Connects to an IPv4 `addr:port` with a receive buffer of `rcvbuf`
    /// bytes (set before the handshake, so the window stays small): a
    /// client that reads nothing then holds little, and a server's output
    /// soon backs up into its pty (the CRIU scenarios' queued output).
    pub fn connect_small_window(addr: &str, port: u16, rcvbuf: i32) -> Result<Self, String> {
        let ip: std::net::Ipv4Addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
        Self::connect_retrying(addr, port, || connect_with_rcvbuf(ip, port, rcvbuf))
    }

    /// Calls `connect` until it succeeds or 20 s have passed.
    fn connect_retrying(
        addr: &str,
        port: u16,
        mut connect: impl FnMut() -> std::io::Result<TcpStream>,
    ) -> Result<Self, String> {
        let start = Instant::now();
        loop {
            match connect() {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_millis(100)))
                        .map_err(|e| e.to_string())?;
                    return Ok(Self {
                        stream,
                        seen: Vec::new(),
                        cursor: 0,
                        partial: Vec::new(),
                        echo: false,
                    });
                }
                Err(e) if start.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("connect to telnetd at {addr}:{port}: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Connects over loopback.
    pub fn connect(port: u16) -> Result<Self, String> {
        Self::connect_to("127.0.0.1", port)
    }

    /// Appends `data` minus telnet commands.
    fn absorb(&mut self, data: &[u8]) {
        let mut bytes = std::mem::take(&mut self.partial);
        bytes.extend_from_slice(data);
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != IAC {
                self.seen.push(bytes[i]);
                i += 1;
                continue;
            }
            let Some(&cmd) = bytes.get(i + 1) else {
                break;
            };
            let len = match cmd {
                IAC => {
                    self.seen.push(IAC);
                    2
                }
                251..=254 => 3,
                SB => match bytes[i..].windows(2).position(|w| w == [IAC, SE]) {
                    Some(p) => p + 2,
                    None => break,
                },
                _ => 2,
            };
            if i + len > bytes.len() {
                break;
            }
            i += len;
        }
        self.partial = bytes[i..].to_vec();
    }

    /// One read of what has arrived (waits at most the 100 ms read
    /// timeout). `Ok(false)` when the server closed the connection.
    pub fn pump(&mut self) -> Result<bool, String> {
        let mut buf = [0u8; 16384];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.absorb(&buf[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(true)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Waits for `needle`; returns what the terminal showed before it and
    /// moves the cursor past it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        // `seen` before this offset holds no match: each byte is searched
        // once, however long the output.
        let mut from = self.cursor;
        loop {
            if let Some(pos) = self.seen[from..]
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                let pos = from + pos;
                let before = String::from_utf8_lossy(&self.seen[self.cursor..pos]).into_owned();
                if self.echo {
                    // Without the carriage returns and ash's cursor
                    // position queries (ESC [6n), which a terminal answers
                    // and a transcript only garbles.
                    print!("{}", before.replace('\r', "").replace("\x1b[6n", ""));
                    print!("{needle}");
                    let _ = std::io::stdout().flush();
                }
                self.cursor = pos + needle.len();
                return Ok(before);
            }
            from = self
                .seen
                .len()
                .saturating_sub(needle.len().saturating_sub(1))
                .max(from);
            if start.elapsed() > timeout {
                let tail = &self.seen[self.seen.len().saturating_sub(400)..];
                return Err(format!(
                    "waiting for {needle:?}; the terminal showed: {:?}",
                    String::from_utf8_lossy(tail)
                ));
            }
            if !self.pump()? {
                return Err(format!("connection closed waiting for {needle:?}"));
            }
        }
    }

    pub fn send(&mut self, text: &str) -> Result<(), String> {
        self.stream
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())
    }

    /// Types a command line (Enter is CR LF on the wire).
    pub fn line(&mut self, cmd: &str) -> Result<(), String> {
        self.send(&format!("{cmd}\r\n"))
    }
}

/// A TCP connection to `ip:port` whose socket got `SO_RCVBUF` before
/// connect(2) (std offers no way to set it that early).
fn connect_with_rcvbuf(
    ip: std::net::Ipv4Addr,
    port: u16,
    rcvbuf: i32,
) -> std::io::Result<TcpStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor we own; `addr` and
    // `rcvbuf` outlive the calls that read them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let owned = OwnedFd::from_raw_fd(fd);
        if libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            sin_zero: [0; 8],
        };
        if libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(TcpStream::from(owned))
    }
}
