// SPDX-License-Identifier: GPL-2.0
//! The plugin's own image of one pty file: `ckpt-pty-<ID>.img` in CRIU's
//! image directory, `ID` being CRIU's file id (CRIU itself stores only the
//! id for files a plugin dumps).
//!
//! Little-endian:
//!
//! ```text
//! off  size  field
//!   0     8  magic "CKPTCRIU"
//!   8     4  version = 1
//!  12     4  end: 1 master, 2 slave (ckpt_pty's CKPT_END_* numbering)
//!  16     4  pair index
//!  20     4  pty mode: 0 AT&T, 1 BSD
//!  24     4  open flags of the file (O_ACCMODE, O_NONBLOCK...)
//!  28     4  slave only: the pid (in the task's pid namespace) of the
//!            session leader whose controlling tty it is, or 0
//!  32     4  slave only: the foreground process group, same namespace, or 0
//!  36     .  instance directory, path, stream image: each a u32 length
//!            and its bytes
//! ```

/// Magic at the start of every file.
pub const MAGIC: &[u8; 8] = b"CKPTCRIU";
/// The only version written and read.
pub const VERSION: u32 = 1;

/// Which end of a pair a file is (as `CKPT_STATUS` reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The master (ptmx clone).
    Master,
    /// The slave tty.
    Slave,
}

impl End {
    /// From `StreamStatus::end`.
    pub fn from_status(end: u32) -> Option<End> {
        match end {
            1 => Some(End::Master),
            2 => Some(End::Slave),
            _ => None,
        }
    }

    /// The `CKPT_END_*` bit of a restart entry.
    pub fn bit(self) -> u32 {
        match self {
            End::Master => ckptctl::uapi::CKPT_END_MASTER,
            End::Slave => ckptctl::uapi::CKPT_END_SLAVE,
        }
    }

    fn code(self) -> u32 {
        match self {
            End::Master => 1,
            End::Slave => 2,
        }
    }

    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            End::Master => "master",
            End::Slave => "slave",
        }
    }
}

/// Everything the restore needs for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileImage {
    /// CRIU's id of the file (not stored: it is the file's name).
    pub id: u32,
    /// Which end.
    pub end: End,
    /// The pair's index.
    pub index: u32,
    /// 0 AT&T, 1 BSD.
    pub mode: u32,
    /// Open flags.
    pub flags: u32,
    /// Slave: session leader (namespace pid) whose ctty it is, or 0.
    pub ctty_leader: i32,
    /// Slave: foreground process group (namespace pid), or 0.
    pub fg_pgrp: i32,
    /// The instance's directory as the task saw it (`/dev/pts`), or empty
    /// when not known (a master opened through a bind-mounted ptmx).
    pub dir: String,
    /// The file's path as the task saw it.
    pub path: String,
    /// The stream's checkpoint message (`CKPT_CHECKPOINT`).
    pub stream: Vec<u8>,
}

/// The name of the image file of CRIU file `id`.
pub fn file_name(id: u32) -> String {
    format!("ckpt-pty-{id}.img")
}

/// The id in an image file's name.
pub fn id_of(name: &str) -> Option<u32> {
    name.strip_prefix("ckpt-pty-")?
        .strip_suffix(".img")?
        .parse()
        .ok()
}

impl FileImage {
    /// The bytes of the file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.stream.len());
        out.extend_from_slice(MAGIC);
        for v in [
            VERSION,
            self.end.code(),
            self.index,
            self.mode,
            self.flags,
            self.ctty_leader as u32,
            self.fg_pgrp as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for part in [self.dir.as_bytes(), self.path.as_bytes(), &self.stream] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// Parses a file; `Err` names what is wrong and where.
    pub fn decode(id: u32, bytes: &[u8]) -> Result<FileImage, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("bad magic at offset 0 (not a ckpt_pty CRIU image)".into());
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(format!(
                "unsupported version {version} at offset 8 (supported: {VERSION})"
            ));
        }
        let end_code = r.u32()?;
        let end =
            End::from_status(end_code).ok_or_else(|| format!("bad end {end_code} at offset 12"))?;
        let index = r.u32()?;
        let mode = r.u32()?;
        let flags = r.u32()?;
        let ctty_leader = r.u32()? as i32;
        let fg_pgrp = r.u32()? as i32;
        let dir = r.string()?;
        let path = r.string()?;
        let stream = r.part()?.to_vec();
        if r.at != bytes.len() {
            return Err(format!(
                "{} bytes after the end at offset {}",
                bytes.len() - r.at,
                r.at
            ));
        }
        Ok(FileImage {
            id,
            end,
            index,
            mode,
            flags,
            ctty_leader,
            fg_pgrp,
            dir,
            path,
            stream,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| format!("truncated at offset {} (need {n} bytes)", self.at))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn part(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, String> {
        let at = self.at;
        String::from_utf8(self.part()?.to_vec())
            .map_err(|_| format!("a path that is not UTF-8 at offset {at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileImage {
        FileImage {
            id: 7,
            end: End::Slave,
            index: 1,
            mode: 0,
            flags: 0o2,
            ctty_leader: 12,
            fg_pgrp: 12,
            dir: "/dev/pts".into(),
            path: "/dev/pts/1".into(),
            stream: b"CKPTPTY\0stream".to_vec(),
        }
    }

    #[test]
    fn round_trip() {
        let i = sample();
        assert_eq!(FileImage::decode(7, &i.encode()), Ok(i));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(FileImage::decode(7, &bytes[..n]).is_err(), "{n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(FileImage::decode(7, &long).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(id_of(&file_name(42)), Some(42));
        assert_eq!(id_of("ckpt-pty-x.img"), None);
        assert_eq!(id_of("pages-1.img"), None);
    }
}
