// SPDX-License-Identifier: GPL-2.0
//! The image mutation fuzzer: real checkpoint images of pairs in many
//! states, mutated (bit flips, byte and field sets, huge lengths,
//! truncations, extensions, blocks swapped, spliced or taken from other
//! images, the other end's image, other indexes), fed to `CKPT_RESTART` on
//! the ends of restart-session pairs (and of BSD pairs, directly).
//!
//! Batched for speed: a session of `PAIRS` pairs; each end gets mutated
//! images until one is accepted (at most `ATTEMPTS`, then its unmutated
//! image); then the session commits (or, some rounds, aborts or fails its
//! commit on purpose) and every pair must work.
//!
//! The oracle is the pure core itself (`pty_core`, the very source the
//! module runs) on the host side of the guest: `decode` + `restore` into a
//! fresh pair predict acceptance or the errno of every image. Findings:
//! - an errno outside the documented set (`EINVAL`, `EBADMSG`,
//!   `EPROTONOSUPPORT`, `EOVERFLOW`, `ERANGE`, `ENOMEM`, `EBUSY`);
//! - the kernel and the oracle disagree (accepted vs refused, or errno);
//! - a refused image left state behind (the end's queue or restart count
//!   changed, or its unmutated image is then refused);
//! - after acceptance the end's queues differ from the oracle's, or its
//!   checkpoint is an image the oracle refuses;
//! - the commit fails although every end was restored, or an aborted
//!   session leaves a node;
//! - after commit, bytes written on the master do not arrive at the slave
//!   or the other way round (settings normalised first: raw, flow on,
//!   packet mode off, queues flushed), within 3 s.
//!
//! Every finding names the seed, the image number (`iteration`), the round,
//! pair and end, the mutations, and shows the image in hex: the same seed
//! replays the same images in the same order.

use crate::fuzz::{self, Rng};
use crate::ktap::{TestFn, TestResult};
use crate::sys::{self, errno_str};
use crate::uapi::*;
use pty_core::checkpoint;
use pty_core::image::{self, StreamKind};
use pty_core::storage::{AllocError, Storage};
use pty_core::stream::PtyPair;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

pub const TESTS: &[(&str, TestFn)] = &[("fuzz_image", fuzz_image)];

const RW: i32 = libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK;
const BOTH: u32 = CKPT_END_MASTER | CKPT_END_SLAVE;
/// Pairs per restart session.
const PAIRS: usize = 24;
/// Mutated images an end gets before its unmutated one.
const ATTEMPTS: usize = 24;
/// The largest image `CKPT_RESTART` takes (`rust/device/restart.rs`).
const MAX_IMAGE_LEN: usize = 512 * 1024;
/// Errnos a refused image may give (Documentation/checkpoint.rst).
const EXPECTED: [i32; 7] = [
    libc::EINVAL,
    libc::EBADMSG,
    libc::EPROTONOSUPPORT,
    libc::EOVERFLOW,
    libc::ERANGE,
    libc::ENOMEM,
    libc::EBUSY,
];

fn e(err: std::io::Error) -> String {
    sys::errno_name(&err)
}

// ---------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct VecStorage(Vec<u8>);

impl Storage for VecStorage {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        self.0.resize(new_len, 0);
        Ok(())
    }
    fn release(&mut self) {
        self.0 = Vec::new();
    }
}

/// What the pure core makes of an image given to a fresh `kind` end:
/// `Ok((bytes toward the master, bytes toward the slave))` or the errno.
fn oracle(img: &[u8], kind: StreamKind) -> Result<(usize, usize), i32> {
    oracle_meta(img, kind).map(|(q, _)| q)
}

/// [`oracle`], and the image's metadata.
fn oracle_meta(
    img: &[u8],
    kind: StreamKind,
) -> Result<((usize, usize), checkpoint::MetaPart), i32> {
    if img.is_empty() || img.len() > MAX_IMAGE_LEN {
        return Err(libc::EINVAL);
    }
    let decoded = image::decode(img).map_err(|x| x.errno())?;
    let mut pair = PtyPair::new(VecStorage::default);
    let meta = checkpoint::restore(&mut pair, &decoded, kind).map_err(|x| x.errno())?;
    Ok((queues(&pair), meta))
}

// ---------------------------------------------------------------------
// Known kernel defects (issue 10)
// ---------------------------------------------------------------------

use crate::fuzz::KNOWN_DEFECTS;

/// Which known defect (index into [`KNOWN_DEFECTS`]) `img` would hit on a
/// fresh `kind` end.
fn known_defect(img: &[u8], kind: StreamKind) -> Option<usize> {
    match oracle_meta(img, kind) {
        Ok((_, checkpoint::MetaPart::Slave(s)))
            if s.node.uid == u32::MAX || s.node.gid == u32::MAX =>
        {
            Some(0)
        }
        _ => None,
    }
}

fn queues(pair: &PtyPair<VecStorage>) -> (usize, usize) {
    (
        pair.master.head.read.len(),
        pair.slave.pts.input.len() + pair.slave.ldterm.processed_input().len(),
    )
}

fn kind_of(img: &[u8]) -> StreamKind {
    if img.get(12) == Some(&1) {
        StreamKind::Master
    } else {
        StreamKind::Slave
    }
}

fn end_name(k: StreamKind) -> &'static str {
    match k {
        StreamKind::Master => "master",
        StreamKind::Slave => "slave",
    }
}

// ---------------------------------------------------------------------
// Image layout (Documentation/checkpoint.rst)
// ---------------------------------------------------------------------

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *v = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn put_u32(img: &mut [u8], at: usize, v: u32) {
    if at + 4 <= img.len() {
        img[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// Recomputes the checksum in the trailer (if there is room for one).
fn fix_crc(img: &mut [u8]) {
    if img.len() >= 8 {
        let n = img.len() - 8;
        let c = crc32(&img[..n]);
        put_u32(img, n, c);
    }
}

/// Sets the total length field to the real length.
fn fix_len(img: &mut [u8]) {
    let n = img.len() as u32;
    put_u32(img, 16, n);
}

#[derive(Clone, Debug)]
struct Block {
    name: [u8; 8],
    internal: Vec<u8>,
    external: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Parsed {
    header: Vec<u8>,
    blocks: Vec<Block>,
}

/// Splits a well-formed image into header and module blocks.
fn parse(img: &[u8]) -> Option<Parsed> {
    let header = img.get(..64)?.to_vec();
    let n = u16::from_le_bytes([header[14], header[15]]) as usize;
    let mut at = 64;
    let mut blocks = Vec::new();
    for _ in 0..n {
        let name: [u8; 8] = img.get(at..at + 8)?.try_into().ok()?;
        let i = u32::from_le_bytes(img.get(at + 8..at + 12)?.try_into().ok()?) as usize;
        let x = u32::from_le_bytes(img.get(at + 12..at + 16)?.try_into().ok()?) as usize;
        let internal = img.get(at + 16..at + 16 + i)?.to_vec();
        let ext_at = at + 16 + pad8(i);
        let external = img.get(ext_at..ext_at + x)?.to_vec();
        at = ext_at + pad8(x);
        blocks.push(Block {
            name,
            internal,
            external,
        });
    }
    Some(Parsed { header, blocks })
}

/// Builds a consistent image: module counts, lengths, padding, checksum.
fn build(p: &Parsed) -> Vec<u8> {
    let mut img = p.header.clone();
    img.resize(64, 0);
    let n = p.blocks.len() as u16;
    img[14..16].copy_from_slice(&n.to_le_bytes());
    img[20..22].copy_from_slice(&n.to_le_bytes());
    for b in &p.blocks {
        img.extend_from_slice(&b.name);
        img.extend_from_slice(&(b.internal.len() as u32).to_le_bytes());
        img.extend_from_slice(&(b.external.len() as u32).to_le_bytes());
        img.extend_from_slice(&b.internal);
        img.resize(pad8(img.len()), 0);
        img.extend_from_slice(&b.external);
        img.resize(pad8(img.len()), 0);
    }
    img.extend_from_slice(&[0u8; 8]);
    fix_len(&mut img);
    fix_crc(&mut img);
    img
}

/// Offsets and widths of the fields of an image: the header's, every
/// block's lengths, and the named fields inside the module blocks.
fn fields(p: &Parsed) -> Vec<(usize, usize)> {
    let mut f: Vec<(usize, usize)> = vec![
        (8, 2),
        (10, 2),
        (12, 1),
        (13, 1),
        (14, 2),
        (16, 4),
        (20, 2),
        (22, 2),
        (24, 4),
        (32, 4),
        (36, 2),
        (38, 2),
        (40, 4),
        (44, 4),
        (48, 4),
        (52, 2),
        (54, 2),
        (56, 2),
        (58, 1),
        (63, 1),
    ];
    let master = p.header.get(12) == Some(&1);
    let mut at = 64;
    for b in &p.blocks {
        f.push((at, 1));
        f.push((at + 7, 1));
        f.push((at + 8, 4));
        f.push((at + 12, 4));
        let i = at + 16;
        let x = i + pad8(b.internal.len());
        let name = std::str::from_utf8(&b.name)
            .unwrap_or("")
            .trim_end_matches('\0');
        let inner: &[(usize, usize)] = match (name, master) {
            ("head", true) => &[(0, 4)],
            ("tioc", true) => &[(0, 2), (2, 2), (4, 2), (6, 2), (8, 1)],
            ("ptm", _) => &[
                (0, 4),
                (4, 1),
                (5, 1),
                (6, 1),
                (7, 1),
                (8, 1),
                (9, 1),
                (10, 1),
                (11, 1),
                (12, 2),
                (14, 2),
                (16, 2),
                (18, 2),
                (20, 2),
                (22, 4),
            ],
            ("tioc", false) => &[(0, 2), (2, 2), (8, 1), (9, 4), (13, 4), (17, 4)],
            ("ldterm", _) => &[
                (0, 4),
                (4, 4),
                (8, 4),
                (12, 4),
                (16, 1),
                (17, 1),
                (19, 1),
                (22, 1),
                (23, 1),
                (36, 4),
                (40, 4),
                (44, 4),
                (48, 4),
                (52, 1),
                (53, 1),
                (54, 2),
                (56, 4),
            ],
            ("pts", _) => &[(0, 4), (4, 1), (5, 4), (9, 1), (10, 4), (14, 4), (18, 2)],
            _ => &[],
        };
        for &(o, w) in inner {
            if o + w <= b.internal.len() {
                f.push((i + o, w));
            }
        }
        if name == "ldterm" && b.external.len() >= 4 {
            // Line count and the first line lengths.
            f.push((x, 4));
            for k in 0..3 {
                if 4 + 2 * k + 2 <= b.external.len() {
                    f.push((x + 4 + 2 * k, 2));
                }
            }
        }
        at = x + pad8(b.external.len());
    }
    f
}

fn interesting(rng: &mut Rng, width: usize, cur: u64, len: usize) -> u64 {
    let random = rng.next_u64();
    let v = *rng.pick(&[
        0,
        1,
        2,
        3,
        7,
        8,
        0x7f,
        0x80,
        0xff,
        0x100,
        0x7fff,
        0x8000,
        0xffff,
        0x1_0000,
        0x1_0001,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        cur.wrapping_add(1),
        cur.wrapping_sub(1),
        cur.wrapping_add(8),
        cur ^ 0x80,
        len as u64,
        len as u64 + 8,
        (len as u64).wrapping_sub(8),
        4096,
        4097,
        4098,
        8194,
        65536,
        65537,
        random,
    ]);
    if width >= 8 {
        v
    } else {
        v & ((1u64 << (8 * width)) - 1)
    }
}

// ---------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------

struct Image {
    name: String,
    bytes: Vec<u8>,
}

fn checkpoint_of(fd: &OwnedFd) -> Result<Vec<u8>, String> {
    crate::tests_restart::checkpoint(fd, 0x00c0_ffee, 0)
}

fn set_termios(fd: &OwnedFd, edit: impl FnOnce(&mut [u8; 36])) -> Result<(), String> {
    let mut t = [0u8; 36];
    sys::ioctl_ptr(fd, TCGETS, t.as_mut_ptr()).map_err(e)?;
    edit(&mut t);
    sys::ioctl_ptr(fd, TCSETS, t.as_mut_ptr()).map_err(e)?;
    Ok(())
}

fn flag(t: &mut [u8; 36], at: usize, set: u32, clear: u32) {
    let v = u32::from_ne_bytes(t[at..at + 4].try_into().unwrap_or_default());
    t[at..at + 4].copy_from_slice(&((v | set) & !clear).to_ne_bytes());
}

fn settle() {
    std::thread::sleep(Duration::from_millis(20));
}

/// Real images of pairs in many states, both ends of each.
fn corpus() -> Result<Vec<Image>, String> {
    let mut out = Vec::new();
    let mut add = |name: &str, m: &OwnedFd, s: &OwnedFd| -> Result<(), String> {
        settle();
        for (end, fd) in [("master", m), ("slave", s)] {
            let bytes = checkpoint_of(fd).map_err(|x| format!("{name} {end}: {x}"))?;
            out.push(Image {
                name: format!("{name} {end}"),
                bytes,
            });
        }
        Ok(())
    };
    let open = || -> Result<(OwnedFd, OwnedFd, u32), String> {
        let (m, s, n) = crate::tests_restart::open_pair()?;
        sys::set_nonblocking(&m, true).map_err(e)?;
        sys::set_nonblocking(&s, true).map_err(e)?;
        Ok((m, s, n))
    };
    {
        let (m, s, _) = open()?;
        add("fresh", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        set_termios(&s, |t| {
            flag(t, 12, 0, libc::ICANON | libc::ECHO | libc::ISIG);
            t[17 + libc::VMIN] = 1;
        })?;
        sys::write_once(&m, b"raw input \x01\x02\xff").map_err(e)?;
        sys::write_once(&s, b"raw output\n").map_err(e)?;
        add("raw both ways", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        sys::write_once(&m, b"first line\nsecond\nhalf-ty").map_err(e)?;
        settle();
        sys::write_once(&s, b"$ ").map_err(e)?;
        add("canonical, half-typed line, echo pending", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        set_termios(&s, |t| flag(t, 12, 0, libc::ECHO))?;
        sys::write_once(&m, b"a\nbb\nccc\n\x16\x03x").map_err(e)?;
        add("canonical no echo, lines and lnext", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        sys::set_i32(&m, TIOCPKT, 1).map_err(e)?;
        sys::write_once(&s, b"packet data").map_err(e)?;
        sys::ioctl_val(&s, TCFLSH, 0).map_err(e)?;
        sys::ioctl_val(&m, TCXONC, 0).map_err(e)?;
        let ws = [24u16, 80, 640, 480];
        sys::ioctl_ptr(&m, TIOCSWINSZ, ws.as_ptr().cast_mut()).map_err(e)?;
        sys::ioctl_val(&m, TIOCEXCL, 0).map_err(e)?;
        sys::ioctl_val(&s, TIOCEXCL, 0).map_err(e)?;
        add(
            "packet mode, flush status, master stopped, winsize, exclusive",
            &m,
            &s,
        )?;
    }
    {
        let (m, s, _) = open()?;
        sys::ioctl_val(&s, TCXONC, 0).map_err(e)?;
        let _ = sys::write_once(&s, b"stopped");
        sys::write_once(&m, b"typed while stopped").map_err(e)?;
        add("slave output stopped by TCOOFF", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        set_termios(&s, |t| flag(t, 0, libc::IXON, 0))?;
        sys::write_once(&m, b"abc\x13def\x12").map_err(e)?;
        add("^S held echo and a reprint", &m, &s)?;
    }
    {
        let (m, s, n) = open()?;
        let path = format!("{PTS_DIR}/{n}");
        std::os::unix::fs::chown(&path, Some(1000), Some(5)).map_err(|x| x.to_string())?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|x| x.to_string())?;
        sys::set_i32(&m, TIOCSPTLCK, 1).map_err(e)?;
        add("node owner and mode, locked", &m, &s)?;
    }
    {
        let (m, s, _) = open()?;
        set_termios(&s, |t| flag(t, 12, 0, libc::ICANON | libc::ECHO))?;
        let big: Vec<u8> = (0..6000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut done = 0;
        while done < big.len() {
            match sys::write_once(&m, &big[done..]) {
                Ok(n) => done += n,
                Err(_) => break,
            }
        }
        let out: Vec<u8> = (0..3000u32).map(|i| b'A' + (i % 26) as u8).collect();
        let _ = sys::write_once(&s, &out);
        add("kilobytes both ways", &m, &s)?;
    }
    {
        // A BSD pair (if the instance has some).
        if let (Ok(m), Ok(s)) = (
            sys::open(&format!("{PTS_DIR}/pty7"), RW),
            sys::open(&format!("{PTS_DIR}/tty7"), RW),
        ) {
            sys::write_once(&m, b"bsd typed").map_err(e)?;
            sys::write_once(&s, b"bsd out").map_err(e)?;
            add("BSD pair", &m, &s)?;
        }
    }
    for img in &out {
        let kind = kind_of(&img.bytes);
        if let Err(x) = oracle(&img.bytes, kind) {
            return Err(format!(
                "corpus image '{}' refused by the core: {}",
                img.name,
                errno_str(x)
            ));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------

/// A mutated image and what was done to it.
struct Mutant {
    bytes: Vec<u8>,
    how: Vec<String>,
}

fn structural(rng: &mut Rng, corpus: &[Image], base: usize, how: &mut Vec<String>) -> Vec<u8> {
    let Some(mut p) = parse(&corpus[base].bytes) else {
        return corpus[base].bytes.clone();
    };
    for _ in 0..rng.range(1, 2) {
        let nb = p.blocks.len();
        match rng.below(9) {
            0 if nb > 0 => {
                // A block from another image of the same end.
                let same: Vec<usize> = (0..corpus.len())
                    .filter(|&i| kind_of(&corpus[i].bytes) == kind_of(&corpus[base].bytes))
                    .collect();
                let other = *rng.pick(&same);
                if let Some(q) = parse(&corpus[other].bytes) {
                    let k = rng.below(nb.min(q.blocks.len()).max(1));
                    if k < q.blocks.len() {
                        p.blocks[k] = q.blocks[k].clone();
                        how.push(format!("block {k} from '{}'", corpus[other].name));
                    }
                }
            }
            1 if nb > 1 => {
                let (a, b) = (rng.below(nb), rng.below(nb));
                p.blocks.swap(a, b);
                how.push(format!("blocks {a} and {b} swapped"));
            }
            2 if nb > 0 => {
                let k = rng.below(nb);
                p.blocks.remove(k);
                how.push(format!("block {k} removed"));
            }
            3 if nb > 0 => {
                let k = rng.below(nb);
                let b = p.blocks[k].clone();
                p.blocks.insert(k, b);
                how.push(format!("block {k} duplicated"));
            }
            4 if nb > 0 => {
                let k = rng.below(nb);
                let b = &mut p.blocks[k];
                let part = if rng.percent(50) {
                    &mut b.internal
                } else {
                    &mut b.external
                };
                let n = *rng.pick(&[1usize, 2, 3, 4, 8, 16, 100]);
                if rng.percent(50) && part.len() >= n {
                    let at = rng.below(part.len() - n + 1);
                    part.drain(at..at + n);
                    how.push(format!("block {k}: {n} bytes cut"));
                } else {
                    let at = rng.below(part.len() + 1);
                    let mut ins = vec![0u8; n];
                    if rng.percent(50) {
                        rng.fill(&mut ins);
                    }
                    part.splice(at..at, ins);
                    how.push(format!("block {k}: {n} bytes inserted at {at}"));
                }
            }
            5 if nb > 0 => {
                let k = rng.below(nb);
                let names: [&[u8]; 7] =
                    [b"head", b"tioc", b"ldterm", b"ptm", b"pts", b"HEAD", b"x"];
                let mut name = [0u8; 8];
                let pick = rng.pick(&names);
                name[..pick.len()].copy_from_slice(pick);
                if rng.percent(20) {
                    name[7] = b'!';
                }
                p.blocks[k].name = name;
                how.push(format!("block {k} renamed"));
            }
            6 if nb > 0 => {
                // A queue filled to (or past) a bound.
                let k = rng.below(nb);
                let n = *rng.pick(&[4096usize, 4098, 4099, 65536, 65537]);
                let fill = vec![b'q'; n];
                p.blocks[k].external = fill;
                how.push(format!("block {k}: external of {n} bytes"));
            }
            7 => {
                p.header[12] ^= 3;
                how.push("kind switched".into());
            }
            _ => {
                p.header[13] ^= 1;
                how.push("mode switched".into());
            }
        }
    }
    how.push("rebuilt".into());
    build(&p)
}

fn raw_mutations(rng: &mut Rng, corpus: &[Image], img: &mut Vec<u8>, how: &mut Vec<String>) {
    let fields = parse(img).map(|p| fields(&p)).unwrap_or_default();
    let mut length_changed = false;
    for _ in 0..rng.range(1, 3) {
        if img.is_empty() {
            break;
        }
        match rng.weighted(&[20, 10, 30, 10, 8, 8, 6]) {
            0 => {
                let at = rng.below(img.len());
                let bit = rng.below(8);
                img[at] ^= 1 << bit;
                how.push(format!("bit {bit} of byte {at} flipped"));
            }
            1 => {
                let at = rng.below(img.len());
                let random = rng.u8();
                let v = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, random]);
                img[at] = v;
                how.push(format!("byte {at} = {v:#x}"));
            }
            2 if !fields.is_empty() => {
                let (at, w) = *rng.pick(&fields);
                if at + w <= img.len() {
                    let mut cur = [0u8; 8];
                    cur[..w].copy_from_slice(&img[at..at + w]);
                    let v = interesting(rng, w, u64::from_le_bytes(cur), img.len());
                    img[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                    how.push(format!("{w}-byte field at {at} = {v:#x}"));
                }
            }
            3 => {
                let n = if rng.percent(50) {
                    rng.below(img.len())
                } else {
                    img.len().saturating_sub(*rng.pick(&[1usize, 4, 8, 9, 16]))
                };
                img.truncate(n);
                length_changed = true;
                how.push(format!("truncated to {n}"));
            }
            4 => {
                let n = *rng.pick(&[1usize, 7, 8, 16, 64, 4096]);
                let mut ext = vec![0u8; n];
                if rng.percent(50) {
                    rng.fill(&mut ext);
                }
                img.extend(ext);
                length_changed = true;
                how.push(format!("{n} bytes appended"));
            }
            5 => {
                // Head of this image, tail of another.
                let other = rng.below(corpus.len());
                let o = &corpus[other].bytes;
                let cut = rng.below(img.len().min(o.len()));
                img.truncate(cut);
                img.extend_from_slice(&o[cut..]);
                length_changed = true;
                how.push(format!("tail from '{}' at {cut}", corpus[other].name));
            }
            _ => {
                let at = rng.below(img.len());
                let n = rng.range(1, 16).min(img.len() - at);
                let mut r = vec![0u8; n];
                rng.fill(&mut r);
                img[at..at + n].copy_from_slice(&r);
                how.push(format!("{n} random bytes at {at}"));
            }
        }
    }
    if length_changed && rng.percent(50) {
        fix_len(img);
        how.push("length fixed".into());
    }
}

fn mutate(rng: &mut Rng, corpus: &[Image], kind: StreamKind) -> Mutant {
    // Mostly this end's images; sometimes the other end's.
    let matching: Vec<usize> = (0..corpus.len())
        .filter(|&i| (kind_of(&corpus[i].bytes) == kind) != rng.percent(10))
        .collect();
    let base = if matching.is_empty() {
        rng.below(corpus.len())
    } else {
        *rng.pick(&matching)
    };
    let mut how = vec![format!("'{}'", corpus[base].name)];
    if rng.percent(4) {
        how.push("unchanged".into());
        return Mutant {
            bytes: corpus[base].bytes.clone(),
            how,
        };
    }
    let mut img = if rng.percent(35) {
        structural(rng, corpus, base, &mut how)
    } else {
        corpus[base].bytes.clone()
    };
    if how.len() == 1 || rng.percent(50) {
        raw_mutations(rng, corpus, &mut img, &mut how);
        if rng.percent(75) {
            fix_crc(&mut img);
            how.push("checksum fixed".into());
        }
    }
    Mutant { bytes: img, how }
}

fn hex(b: &[u8]) -> String {
    let shown = &b[..b.len().min(512)];
    let mut s: String = shown.iter().map(|x| format!("{x:02x}")).collect();
    if b.len() > shown.len() {
        s.push_str(&format!("... ({} bytes)", b.len()));
    }
    s
}

// ---------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------

struct Fuzz {
    /// The run's seed (`ckpt.seed=`), for the reports.
    seed: u64,
    rng: Rng,
    corpus: Vec<Image>,
    /// Images given to the kernel (mutated or not).
    images: u64,
    accepted: u64,
    results: BTreeMap<i32, u64>,
    findings: BTreeMap<String, u64>,
    shown: usize,
    round: u64,
    /// Known defects hit (index into [`KNOWN_DEFECTS`]) and how often.
    known_hits: BTreeMap<usize, u64>,
}

/// How restoring an end went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restored {
    Yes,
    /// A known defect left the end unusable: the round is set aside.
    Poisoned,
}

/// One end of a pair in a round.
struct EndRun {
    fd: OwnedFd,
    kind: StreamKind,
    /// How the accepted image was made (for findings after commit).
    accepted: Option<Vec<String>>,
    /// The accepted image (mutated or not).
    image: Vec<u8>,
}

fn status(fd: &OwnedFd) -> Result<StreamStatus, String> {
    let mut st = StreamStatus::default();
    sys::ioctl_ptr(fd, CKPT_STATUS, &mut st).map_err(e)?;
    Ok(st)
}

fn restart(fd: &OwnedFd, img: &[u8]) -> Result<(), i32> {
    let mut a = RestartArg {
        buf: img.as_ptr() as u64,
        buf_len: img.len() as u32,
        flags: 0,
    };
    sys::ioctl_ptr(fd, CKPT_RESTART, &mut a)
        .map(|_| ())
        .map_err(|x| x.raw_os_error().unwrap_or(0))
}

impl Fuzz {
    fn finding(&mut self, key: &str, what: String, img: Option<&[u8]>) {
        let n = self.findings.entry(key.to_string()).or_insert(0);
        *n += 1;
        if *n > 3 {
            return;
        }
        println!("FAIL {what} (seed {:#x})", self.seed);
        if let Some(img) = img {
            if self.shown < 6 {
                self.shown += 1;
                println!("# image: {}", hex(img));
            }
        }
    }

    /// Gives `end` mutated images until one is accepted (or its own
    /// unmutated image after `ATTEMPTS`). `bsd`: the pair runs at once.
    fn restore_end(
        &mut self,
        end: &mut EndRun,
        pair: usize,
        fallback: &[u8],
        bsd: bool,
    ) -> Result<Restored, String> {
        // A refused image changes nothing: the status after one refusal is
        // the status before the next image.
        let mut before = status(&end.fd).map_err(|x| format!("status of a new end: {x}"))?;
        for attempt in 0..=ATTEMPTS {
            let m = if attempt == ATTEMPTS {
                Mutant {
                    bytes: fallback.to_vec(),
                    how: vec!["unmutated fallback".into()],
                }
            } else {
                mutate(&mut self.rng, &self.corpus, end.kind)
            };
            self.images += 1;
            let iteration = self.images;
            let want = oracle(&m.bytes, end.kind);
            let got = restart(&end.fd, &m.bytes);
            *self.results.entry(got.err().unwrap_or(0)).or_insert(0) += 1;
            let at = format!(
                "iteration {iteration} (round {}, pair {pair}, {} end, attempt {attempt}; {})",
                self.round,
                end_name(end.kind),
                m.how.join(", ")
            );
            if let Some(k) = known_defect(&m.bytes, end.kind) {
                let now = status(&end.fd)
                    .map_err(|x| format!("status after a known defect: {x}: {at}"))?;
                if got == Err(libc::EINVAL) && now.restarts == before.restarts {
                    self.known(k, &at, &m.bytes);
                    return Ok(Restored::Poisoned);
                }
                println!(
                    "# known defect {} did not show (kernel: {}): {at}",
                    KNOWN_DEFECTS[k].0,
                    got.err().map_or("accepted".into(), errno_str)
                );
            }
            match (&want, got) {
                (_, Err(x)) if !EXPECTED.contains(&x) => self.finding(
                    &format!("errno {x}"),
                    format!("unexpected errno {}: {at}", errno_str(x)),
                    Some(&m.bytes),
                ),
                (Ok(_), Err(x)) => self.finding(
                    &format!("refused {x} {}", end_name(end.kind)),
                    format!(
                        "kernel refused with {} an image the core accepts: {at}",
                        errno_str(x)
                    ),
                    Some(&m.bytes),
                ),
                (Err(w), Ok(())) => self.finding(
                    &format!("accepted {w}"),
                    format!(
                        "kernel accepted an image the core refuses with {}: {at}",
                        errno_str(*w)
                    ),
                    Some(&m.bytes),
                ),
                (Err(w), Err(x)) if *w != x && !(bsd && x == libc::EBUSY) => self.finding(
                    &format!("errno {w} vs {x}"),
                    format!(
                        "kernel refused with {}, the core with {}: {at}",
                        errno_str(x),
                        errno_str(*w)
                    ),
                    Some(&m.bytes),
                ),
                _ => {}
            }
            if got.is_err() {
                // Nothing may have changed.
                let after = status(&end.fd)
                    .map_err(|x| format!("status after a refused image: {x}: {at}"))?;
                let (q0, q1) = match end.kind {
                    StreamKind::Master => (before.to_master, after.to_master),
                    StreamKind::Slave => (before.to_slave, after.to_slave),
                };
                if after.restarts != before.restarts || q0 != q1 {
                    self.finding(
                        &format!("left state {}", end_name(end.kind)),
                        format!(
                            "a refused image left state behind (queue {q0} -> {q1} bytes, restarts {} -> {}): {at}",
                            before.restarts, after.restarts
                        ),
                        Some(&m.bytes),
                    );
                }
                before = after;
                if attempt == ATTEMPTS {
                    return Err(format!(
                        "the unmutated image was refused ({}): {at}",
                        errno_str(got.err().unwrap_or(0))
                    ));
                }
                continue;
            }
            self.accepted += 1;
            end.image = m.bytes.clone();
            if attempt < ATTEMPTS {
                end.accepted = Some(m.how.clone());
            }
            // The kernel's queues are what the core predicts, and its own
            // checkpoint of the restored end is an image the core takes.
            if let (Ok((to_m, to_s)), false) = (&want, bsd) {
                let st = status(&end.fd)?;
                let (k, o) = match end.kind {
                    StreamKind::Master => (st.to_master as usize, *to_m),
                    StreamKind::Slave => (st.to_slave as usize, *to_s),
                };
                if k != o {
                    self.finding(
                        &format!("queue {}", end_name(end.kind)),
                        format!("restored queue holds {k} bytes, the core {o}: {at}"),
                        Some(&m.bytes),
                    );
                }
                match checkpoint_of(&end.fd) {
                    Ok(again) => {
                        if let Err(x) = oracle(&again, end.kind) {
                            self.finding(
                                "recheckpoint",
                                format!(
                                    "the checkpoint of a restored end is refused by the core ({}): {at}",
                                    errno_str(x)
                                ),
                                Some(&again),
                            );
                        }
                    }
                    Err(x) => self.finding(
                        "recheckpoint failed",
                        format!("checkpoint of a restored end failed ({x}): {at}"),
                        Some(&m.bytes),
                    ),
                }
            }
            return Ok(Restored::Yes);
        }
        Ok(Restored::Yes)
    }

    /// A case hit known defect `k`: shown in full the first time, counted.
    fn known(&mut self, k: usize, at: &str, img: &[u8]) {
        let n = self.known_hits.entry(k).or_insert(0);
        *n += 1;
        if *n == 1 {
            let (id, what) = KNOWN_DEFECTS[k];
            println!(
                "# KNOWN DEFECT {id} ({what}); reproducer: seed {:#x}, {at}",
                self.seed
            );
            println!("# image: {}", hex(img));
        }
    }

    /// After commit: settings normalised, then data both ways.
    fn check_pair(&mut self, m: &EndRun, s: &EndRun, index: u32, pair: usize) {
        let how = format!(
            "round {}, pair {pair} (pty {index}); master image: {}; slave image: {}",
            self.round,
            m.accepted
                .as_ref()
                .map_or("unmutated".into(), |h| h.join(", ")),
            s.accepted
                .as_ref()
                .map_or("unmutated".into(), |h| h.join(", "))
        );
        if let Err(x) = works(&m.fd, &s.fd, pair) {
            if stopped_without_ixon(&s.image)
                && toggle_ixon(&s.fd)
                && works(&m.fd, &s.fd, pair).is_ok()
            {
                self.known(
                    3,
                    &format!("{x}: {how}; works after IXON on and off"),
                    &s.image,
                );
                return;
            }
            self.finding(
                "dead pair",
                format!("a restored pair does not work: {x}: {how}"),
                None,
            );
        }
    }

    fn session_round(&mut self, base: u32) -> Result<(), String> {
        let ctl = crate::tests_restart::control()?;
        let indexes: Vec<u32> = (0..PAIRS as u32).map(|i| base + i).collect();
        let entries: Vec<RestartEntry> = indexes
            .iter()
            .map(|&index| RestartEntry { index, ends: BOTH })
            .collect();
        crate::tests_restart::begin(&ctl, &entries).map_err(|x| format!("begin at {base}: {x}"))?;
        let outcome = self.rng.below(10);
        // 0: abort; 1: one end left out, commit must name it; else commit.
        let left_out = (outcome == 1).then(|| self.rng.below(PAIRS));
        let fallback_m = self.corpus[0].bytes.clone();
        let fallback_s = self.corpus[1].bytes.clone();
        let mut ends = Vec::new();
        for (p, &index) in indexes.iter().enumerate() {
            let master_first = self.rng.percent(50);
            let open_m = || crate::tests_restart::open_master(&ctl, index);
            let open_s = || sys::open(&format!("{PTS_DIR}/{index}"), RW).map_err(e);
            let (mfd, sfd) = if master_first {
                let m = open_m()?;
                (m, open_s()?)
            } else {
                let s = open_s()?;
                (open_m()?, s)
            };
            let _ = sys::set_nonblocking(&mfd, true);
            let mut m = EndRun {
                fd: mfd,
                kind: StreamKind::Master,
                accepted: None,
                image: Vec::new(),
            };
            let mut s = EndRun {
                fd: sfd,
                kind: StreamKind::Slave,
                accepted: None,
                image: Vec::new(),
            };
            let order = if master_first { [0, 1] } else { [1, 0] };
            for which in order {
                if left_out == Some(p) && which == 1 {
                    continue;
                }
                let r = if which == 0 {
                    self.restore_end(&mut m, p, &fallback_m, false)?
                } else {
                    self.restore_end(&mut s, p, &fallback_s, false)?
                };
                if r == Restored::Poisoned {
                    // Set aside: the session rolls back.
                    sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e)?;
                    return Ok(());
                }
            }
            ends.push((index, m, s));
        }
        match (outcome, left_out) {
            (0, _) => {
                sys::ioctl_val(&ctl, CKPT_SESSION_ABORT, 0).map_err(e)?;
                for &index in &indexes {
                    if sys::exists(&format!("{PTS_DIR}/{index}")) {
                        self.finding(
                            "abort left node",
                            format!("round {}: an aborted session left pty {index}", self.round),
                            None,
                        );
                    }
                }
            }
            (_, Some(p)) => {
                let r = crate::tests_restart::commit(&ctl);
                let want = Err(("ENXIO".to_string(), vec![(indexes[p], 2u16)]));
                if r != want {
                    self.finding(
                        "commit orphans",
                        format!(
                            "round {}: commit with the slave of pty {} missing gave {r:?}",
                            self.round, indexes[p]
                        ),
                        None,
                    );
                }
            }
            _ => {
                if let Err((x, orphans)) = crate::tests_restart::commit(&ctl) {
                    self.finding(
                        "commit failed",
                        format!(
                            "round {}: commit failed ({x}, orphans {orphans:?}) though every end was restored",
                            self.round
                        ),
                        None,
                    );
                    return Ok(());
                }
                for (p, (index, m, s)) in ends.iter().enumerate() {
                    self.check_pair(m, s, *index, p);
                }
            }
        }
        Ok(())
    }

    /// BSD pairs restore directly: master first (a restored slave runs at
    /// once and may echo into the master's queue), then the slave.
    fn bsd_round(&mut self, pairs: u32) -> Result<(), String> {
        let fallback: Vec<(Vec<u8>, Vec<u8>)> = {
            let find = |end: StreamKind| {
                self.corpus
                    .iter()
                    .find(|i| i.name.starts_with("BSD") && kind_of(&i.bytes) == end)
                    .or_else(|| self.corpus.iter().find(|i| kind_of(&i.bytes) == end))
                    .map(|i| i.bytes.clone())
                    .unwrap_or_default()
            };
            vec![(find(StreamKind::Master), find(StreamKind::Slave))]
        };
        let (fm, fs) = &fallback[0];
        for n in 0..pairs.min(4) {
            // Pair 7 gave the corpus its image; it is fresh again now.
            let m = sys::open(&format!("{PTS_DIR}/pty{n}"), RW)
                .map_err(|x| format!("open pty{n}: {}", e(x)))?;
            let s = sys::open(&format!("{PTS_DIR}/tty{n}"), RW)
                .map_err(|x| format!("open tty{n}: {}", e(x)))?;
            let mut m = EndRun {
                fd: m,
                kind: StreamKind::Master,
                accepted: None,
                image: Vec::new(),
            };
            let mut s = EndRun {
                fd: s,
                kind: StreamKind::Slave,
                accepted: None,
                image: Vec::new(),
            };
            // A poisoned pair is set aside: closing both ends resets it.
            if self.restore_end(&mut m, n as usize, fm, true)? == Restored::Poisoned
                || self.restore_end(&mut s, n as usize, fs, true)? == Restored::Poisoned
            {
                continue;
            }
            self.check_pair(&m, &s, n, n as usize);
            // Closed again, the pair opens again (a fresh session).
            let how = |e: &EndRun| {
                e.accepted
                    .as_ref()
                    .map_or("unmutated".into(), |h| h.join(", "))
            };
            let (mhow, show) = (how(&m), how(&s));
            let (mimg, simg) = (std::mem::take(&mut m.image), std::mem::take(&mut s.image));
            drop((m, s));
            if let Err(x) = reopen_bsd(n) {
                if unlock_bsd(n) && reopen_bsd(n).is_ok() {
                    let at = format!(
                        "BSD pair {n} restored, working, closed: {x}; round {}; master image: {mhow}; slave image: {show}",
                        self.round
                    );
                    self.known(1, &at, &mimg);
                    continue;
                }
                self.finding(
                    "BSD pair unusable after close",
                    format!(
                        "BSD pair {n} restored, working, closed: {x}; round {}; master image: {mhow}; slave image: {show}",
                        self.round
                    ),
                    None,
                );
                println!("# master image: {}", hex(&mimg));
                println!("# slave image: {}", hex(&simg));
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Unlocks BSD pair `n` through its master; whether it was locked.
pub fn unlock_bsd(n: u32) -> bool {
    let Ok(m) = sys::open(&format!("{PTS_DIR}/pty{n}"), RW) else {
        return false;
    };
    let locked = sys::get_u32(&m, TIOCGPTLCK).is_ok_and(|l| l != 0);
    if locked {
        let _ = sys::set_i32(&m, TIOCSPTLCK, 0);
    }
    locked
}

/// Known defect K4: the slave image restores output stopped by `^S`
/// with `IXON` off.
fn stopped_without_ixon(img: &[u8]) -> bool {
    let Ok(decoded) = image::decode(img) else {
        return false;
    };
    let mut pair = PtyPair::new(VecStorage::default);
    if checkpoint::restore(&mut pair, &decoded, StreamKind::Slave).is_err() {
        return false;
    }
    let l = &pair.slave.ldterm;
    l.output_stopped() && !l.termios().iflag(pty_core::termios::IXON)
}

/// Sets `IXON` on the slave and clears it again (what restarts output
/// stopped by `^S` on Linux).
fn toggle_ixon(s: &OwnedFd) -> bool {
    let on = set_termios(s, |t| flag(t, 0, libc::IXON, 0));
    let off = set_termios(s, |t| flag(t, 0, 0, libc::IXON));
    on.is_ok() && off.is_ok()
}

/// Opens both ends of BSD pair `n` (retrying for a second).
pub fn reopen_bsd(n: u32) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..20 {
        match (
            sys::open(&format!("{PTS_DIR}/pty{n}"), RW),
            sys::open(&format!("{PTS_DIR}/tty{n}"), RW),
        ) {
            (Ok(_), Ok(_)) => return Ok(()),
            (m, s) => {
                last = format!(
                    "reopening: pty{n} {}, tty{n} {}",
                    m.map_or_else(e, |_| "ok".into()),
                    s.map_or_else(e, |_| "ok".into())
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last)
}

/// Normalises a restored pair and moves bytes both ways.
fn works(m: &OwnedFd, s: &OwnedFd, pair: usize) -> Result<(), String> {
    let step = |what: &str, r: std::io::Result<i32>| {
        r.map(|_| ()).map_err(|x| format!("{what}: {}", e(x)))
    };
    step("TIOCPKT 0", sys::ioctl_ptr(m, TIOCPKT, &mut 0i32))?;
    step("master TCOON", sys::ioctl_val(m, TCXONC, 1))?;
    let mut t = [0u8; 36];
    step("TCGETS", sys::ioctl_ptr(s, TCGETS, t.as_mut_ptr()))?;
    t[..16].fill(0);
    let cflag: u32 = libc::CS8 | libc::CREAD;
    t[8..12].copy_from_slice(&cflag.to_ne_bytes());
    t[17 + libc::VMIN] = 1;
    t[17 + libc::VTIME] = 0;
    step("TCSETS raw", sys::ioctl_ptr(s, TCSETS, t.as_mut_ptr()))?;
    step("slave TCOON", sys::ioctl_val(s, TCXONC, 1))?;
    step("slave TCIOFLUSH", sys::ioctl_val(s, TCFLSH, 2))?;
    step("master TCIOFLUSH", sys::ioctl_val(m, TCFLSH, 2))?;
    drain(m);
    drain(s);
    let ping = format!("ping{pair}.");
    sys::write_once(m, ping.as_bytes()).map_err(|x| format!("write to master: {}", e(x)))?;
    expect(s, ping.as_bytes()).map_err(|x| format!("master to slave: {x}"))?;
    let pong = format!("pong{pair}.");
    sys::write_once(s, pong.as_bytes()).map_err(|x| format!("write to slave: {}", e(x)))?;
    expect(m, pong.as_bytes()).map_err(|x| format!("slave to master: {x}"))?;
    Ok(())
}

fn drain(fd: &OwnedFd) {
    for _ in 0..64 {
        match sys::read_once(fd, 65536) {
            Ok(b) if !b.is_empty() => {}
            _ => break,
        }
    }
}

/// Reads until `want` shows up (left-over bytes before it are tolerated),
/// for at most 3 s.
fn expect(fd: &OwnedFd, want: &[u8]) -> Result<(), String> {
    let start = Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < Duration::from_secs(3) {
        if got.windows(want.len()).any(|w| w == want) {
            return Ok(());
        }
        match sys::poll_events(fd, libc::POLLIN, 200) {
            Ok(ev) if ev & libc::POLLIN != 0 => match sys::read_once(fd, 4096) {
                Ok(b) => got.extend(b),
                Err(x) if x.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(x) => return Err(format!("read: {}", e(x))),
            },
            Ok(ev) if ev & (libc::POLLHUP | libc::POLLERR) != 0 => {
                return Err(format!(
                    "poll {ev:#x} after {:?}",
                    String::from_utf8_lossy(&got)
                ))
            }
            Ok(_) => {}
            Err(x) => return Err(format!("poll: {}", e(x))),
        }
    }
    if got.windows(want.len()).any(|w| w == want) {
        return Ok(());
    }
    Err(format!(
        "{:?} did not arrive within 3 s (got {:?})",
        String::from_utf8_lossy(want),
        String::from_utf8_lossy(&got)
    ))
}

fn bsd_pairs() -> u32 {
    crate::tests_restart::control()
        .ok()
        .and_then(|c| {
            let mut st = GlobalStatus::default();
            sys::ioctl_ptr(&c, CKPT_GLOBAL_STATUS, &mut st).ok()?;
            Some(st.bsd_pairs)
        })
        .unwrap_or(0)
}

/// The fuzzer process (`--fuzz-child image SEED`).
pub fn child(seed: u64) -> i32 {
    sys::install_deadline_handler();
    // SAFETY: ignoring SIGHUP (restored pairs may hang up) is sound.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let target = fuzz::knob_u64("fuzz_images", 22_000);
    let secs = fuzz::knob_u64("fuzz_image_secs", 150);
    // Findings name the run's seed (`ckpt.seed=`); this fuzzer's stream
    // is derived from it.
    let stream = seed ^ fuzz::mix(0x1a6e);
    let corpus = match corpus() {
        Ok(c) => c,
        Err(x) => {
            println!("FAIL corpus: {x}");
            return fuzz::CHILD_FOUND;
        }
    };
    let sizes: Vec<usize> = corpus.iter().map(|i| i.bytes.len()).collect();
    println!(
        "# image fuzzer: seed {seed:#x} (stream {stream:#x}), {} corpus images ({sizes:?} bytes), target {target} images or {secs} s, {PAIRS} pairs per session",
        corpus.len()
    );
    let bsd = bsd_pairs();
    let mut f = Fuzz {
        seed,
        rng: Rng::new(stream),
        corpus,
        images: 0,
        accepted: 0,
        results: BTreeMap::new(),
        findings: BTreeMap::new(),
        shown: 0,
        round: 0,
        known_hits: BTreeMap::new(),
    };
    let start = Instant::now();
    let mut last = Instant::now();
    let mut failed = None;
    let mut failed_rounds = 0;
    while f.images < target && start.elapsed() < Duration::from_secs(secs) {
        f.round += 1;
        let r = if bsd > 0 && f.round.is_multiple_of(6) {
            f.bsd_round(bsd)
        } else {
            let base = 100 + (f.round % 16) as u32 * PAIRS as u32;
            f.session_round(base)
        };
        match r {
            Ok(()) => failed_rounds = 0,
            Err(x) => {
                // Reported; the next round starts afresh (its pairs and
                // session went with this one's files), three in a row end
                // the run.
                let what = format!("round {} failed: {x} (after {} images)", f.round, f.images);
                f.finding(
                    &format!("round failed {}", x.split(':').next().unwrap_or("")),
                    what.clone(),
                    None,
                );
                failed_rounds += 1;
                if failed_rounds == 3 {
                    failed = Some(format!("three rounds in a row failed; last: {what}"));
                    break;
                }
            }
        }
        if last.elapsed() >= Duration::from_secs(15) {
            println!(
                "# {:.0} s: {} images, {} accepted, {} rounds",
                start.elapsed().as_secs_f64(),
                f.images,
                f.accepted,
                f.round
            );
            last = Instant::now();
        }
    }
    let took = start.elapsed().as_secs_f64();
    let hist: Vec<String> = f
        .results
        .iter()
        .map(|(x, c)| {
            let name = if *x == 0 {
                "accepted".into()
            } else {
                errno_str(*x)
            };
            format!("{name} {c}")
        })
        .collect();
    println!(
        "# {} images in {took:.1} s ({:.0}/s), {} rounds; {}",
        f.images,
        f.images as f64 / took,
        f.round,
        hist.join(", ")
    );
    if let Some(x) = &failed {
        println!("FAIL {x}");
    }
    for (k, n) in &f.findings {
        if *n > 1 {
            println!("# finding '{k}' seen {n} times");
        }
    }
    for (&k, n) in &f.known_hits {
        println!(
            "# KNOWN DEFECT {} hit {n} time(s), set aside (see Documentation/testing.rst)",
            KNOWN_DEFECTS[k].0
        );
    }
    let min = fuzz::knob_u64("fuzz_min_images", 20_000).min(target);
    if f.images < min {
        println!(
            "FAIL only {} images in {took:.1} s (at least {min} wanted; seed {seed:#x})",
            f.images
        );
    }
    let known: Vec<String> = f
        .known_hits
        .iter()
        .map(|(&k, n)| format!("{} x{n}", KNOWN_DEFECTS[k].0))
        .collect();
    println!(
        "NOTE seed {seed:#x}: {} images in {took:.0} s, {} accepted, {} finding(s){}",
        f.images,
        f.accepted,
        f.findings.len(),
        if known.is_empty() {
            String::new()
        } else {
            format!(", known defects {}", known.join(" "))
        }
    );
    if failed.is_some() || !f.findings.is_empty() || f.images < min {
        fuzz::CHILD_FOUND
    } else {
        0
    }
}

fn global() -> Result<GlobalStatus, String> {
    let c = crate::tests_restart::control()?;
    let mut st = GlobalStatus::default();
    sys::ioctl_ptr(&c, CKPT_GLOBAL_STATUS, &mut st).map_err(e)?;
    Ok(st)
}

fn fuzz_image() -> TestResult {
    let seed = fuzz::seed();
    println!("# seed: {seed:#x} (fuzz_image; reproduce with ckpt.seed={seed:#x})");
    let before = global()?;
    let secs = fuzz::knob_u64("fuzz_image_secs", 150);
    fuzz::run_child(
        "fuzz_image",
        "image",
        seed,
        Duration::from_secs(secs + 120),
        &[],
    )?;
    // Nothing left behind: no session, and every pair closed.
    let mut after = global()?;
    for _ in 0..50 {
        if after.pairs == before.pairs && after.session_active == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        after = global()?;
    }
    crate::ensure_eq!((after.pairs, after.session_active), (before.pairs, 0));
    Ok(())
}
