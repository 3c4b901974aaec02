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
use pty_core::checkpoint::{self, RestoreError, RestoreTarget};
use pty_core::image::{self, PtyMode};
use pty_core::storage::{AllocError, Storage};
use pty_core::stream::PtyPair;
use pty_core::End;
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

/// Queue memory of the oracle pairs (and of images checked in other tests).
#[derive(Debug, Default)]
pub(crate) struct VecStorage(Vec<u8>);

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

/// What the pure core makes of an image given to a fresh `kind` end of
/// the pty `at`, as `CKPT_RESTART` runs it (`rust/device/restart.rs`):
/// `restore_at` with the pair's index and mode, the slave node's owner
/// checked before anything loads. `Ok((bytes toward the master, bytes
/// toward the slave))`, or the errno and the core's reason.
fn oracle(img: &[u8], kind: End, at: RestoreTarget) -> Result<(usize, usize), (i32, String)> {
    if img.is_empty() || img.len() > MAX_IMAGE_LEN {
        return Err((libc::EINVAL, "length".into()));
    }
    let decoded = image::decode(img).map_err(|x| (x.errno().code(), x.to_string()))?;
    let mut pair = PtyPair::new(VecStorage::default);
    checkpoint::restore_at(&mut pair, &decoded, kind, at, owner_maps)
        .map_err(|x| (x.errno().code(), x.to_string()))?;
    Ok(queues(&pair))
}

/// What the kernel refuses of an image's facts before it loads: a slave
/// node owner that does not map into the instance's user namespace (the
/// fuzzer runs in the initial one, where only `-1` does not map).
fn owner_maps(meta: &checkpoint::MetaPart) -> Result<(), RestoreError> {
    match meta {
        checkpoint::MetaPart::Slave(s) if s.node.uid == u32::MAX || s.node.gid == u32::MAX => {
            Err(RestoreError::NotHere {
                what: UNMAPPED_OWNER,
            })
        }
        _ => Ok(()),
    }
}

const UNMAPPED_OWNER: &str = "the slave node's owner does not map";

fn queues(pair: &PtyPair<VecStorage>) -> (usize, usize) {
    (
        pair.master.head.read.len(),
        pair.slave.pts.input.len() + pair.slave.ldterm.processed_input().len(),
    )
}

fn kind_of(img: &[u8]) -> End {
    if img.get(12) == Some(&1) {
        End::Master
    } else {
        End::Slave
    }
}

fn end_name(k: End) -> &'static str {
    match k {
        End::Master => "master",
        End::Slave => "slave",
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

/// Byte offsets of the index and mode in the `ptm` and `pts` blocks'
/// internal parts (Documentation/checkpoint.rst).
const INDEX_AT: usize = 0;
const MODE_AT: usize = 4;
/// In the `pts` block: the node owner uid and gid.
const NODE_UID_AT: usize = 10;
const NODE_GID_AT: usize = 14;
/// In the `ptm` block: the lock flag.
const LOCKED_AT: usize = 5;
/// In the `ldterm` block: `c_iflag` and the flags byte (4: output
/// stopped, 8: stopped by `TCOOFF`).
const IFLAG_AT: usize = 0;
const LDTERM_FLAGS_AT: usize = 52;

fn block_name(b: &Block) -> &str {
    std::str::from_utf8(&b.name)
        .unwrap_or("")
        .trim_end_matches('\0')
}

/// The block `name` of a parsed image.
fn block_mut<'a>(p: &'a mut Parsed, name: &str) -> Option<&'a mut Block> {
    p.blocks.iter_mut().find(|b| block_name(b) == name)
}

/// The pty a well-formed image was taken from.
fn target_of(img: &[u8]) -> Option<RestoreTarget> {
    let p = parse(img)?;
    let b = p
        .blocks
        .iter()
        .find(|b| matches!(block_name(b), "ptm" | "pts"))?;
    let index = u32::from_le_bytes(b.internal.get(INDEX_AT..INDEX_AT + 4)?.try_into().ok()?);
    let mode = if *p.header.get(13)? == 1 {
        PtyMode::Bsd
    } else {
        PtyMode::Att
    };
    Some(RestoreTarget { index, mode })
}

/// `img` as if taken from the pty `at`: the index and mode in the header
/// and the `ptm`/`pts` block set, the checksum fixed (an image restores
/// only into the pty it was taken from).
pub fn retarget(img: &[u8], at: RestoreTarget) -> Vec<u8> {
    let Some(mut p) = parse(img) else {
        return img.to_vec();
    };
    let mode = at.mode as u8;
    p.header[13] = mode;
    for b in p.blocks.iter_mut() {
        if matches!(block_name(b), "ptm" | "pts") && b.internal.len() > MODE_AT {
            b.internal[INDEX_AT..INDEX_AT + 4].copy_from_slice(&at.index.to_le_bytes());
            b.internal[MODE_AT] = mode;
        }
    }
    build(&p)
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
        let Some(at) = target_of(&img.bytes) else {
            return Err(format!("corpus image '{}': no index", img.name));
        };
        if let Err((x, why)) = oracle(&img.bytes, kind, at) {
            return Err(format!(
                "corpus image '{}' refused by the core: {} ({why})",
                img.name,
                errno_str(x)
            ));
        }
        // Rebuilding changes nothing, so retargeted images differ from
        // the kernel's only in index and mode.
        if parse(&img.bytes).map(|p| build(&p)).as_ref() != Some(&img.bytes) {
            return Err(format!("corpus image '{}' does not rebuild", img.name));
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
    /// A case of a defect the fuzzers found (fixed), made on purpose.
    case: Option<Case>,
}

/// Cases of the kernel defects the fuzzers found, now fixed
/// ([`fuzz::FIXED_DEFECTS`]), that `fuzz_image` makes on purpose and checks
/// exactly. K3 is a round shape (a slave-only pair), not an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    /// A slave image whose node owner does not map: `EINVAL`, nothing
    /// changes, the end's correct image is then accepted.
    K1,
    /// A master image with the lock flag, restored on a BSD pair: the pair
    /// is not locked, and opens again after its session.
    K2,
    /// A slave-only session pair: at commit it ends as one whose master
    /// closed, freed at its last slave close.
    K3,
    /// A slave image stopped by `^S` with `IXON` off: `EINVAL`, nothing
    /// changes, the end's correct image is then accepted.
    K4,
}

impl Case {
    fn id(self) -> &'static str {
        match self {
            Case::K1 => "K1",
            Case::K2 => "K2",
            Case::K3 => "K3",
            Case::K4 => "K4",
        }
    }

    /// The core's reason for refusing a K1 or K4 case.
    fn reason(self) -> &'static str {
        match self {
            Case::K1 => UNMAPPED_OWNER,
            Case::K4 => "with IXON off",
            _ => "",
        }
    }
}

/// The K1 case of slave image `img`: its node owner uid, gid or both set
/// to `-1`, which maps to no id.
fn unmapped_owner(rng: &mut Rng, img: &[u8], how: &mut Vec<String>) -> Option<Vec<u8>> {
    let mut p = parse(img)?;
    let pts = block_mut(&mut p, "pts")?;
    let which = rng.below(3);
    for (k, at) in [NODE_UID_AT, NODE_GID_AT].into_iter().enumerate() {
        if which == k || which == 2 {
            pts.internal.get_mut(at..at + 4)?.fill(0xff);
        }
    }
    how.push(["node uid", "node gid", "node uid and gid"][which].to_string() + " = 0xffffffff");
    Some(build(&p))
}

/// The K4 case of slave image `img`: output stopped by `^S` (not
/// `TCOOFF`) with `IXON` off.
fn stopped_without_ixon(img: &[u8], how: &mut Vec<String>) -> Option<Vec<u8>> {
    let mut p = parse(img)?;
    let l = block_mut(&mut p, "ldterm")?;
    let iflag = u32::from_le_bytes(l.internal.get(IFLAG_AT..IFLAG_AT + 4)?.try_into().ok()?);
    let iflag = iflag & !pty_core::termios::IXON;
    l.internal[IFLAG_AT..IFLAG_AT + 4].copy_from_slice(&iflag.to_le_bytes());
    let flags = l.internal.get_mut(LDTERM_FLAGS_AT)?;
    *flags = (*flags | 4) & !8;
    how.push("output stopped by ^S, IXON off".into());
    Some(build(&p))
}

/// The K2 case of master image `img`: its lock flag set.
fn with_lock(img: &[u8], how: &mut Vec<String>) -> Option<Vec<u8>> {
    let mut p = parse(img)?;
    *block_mut(&mut p, "ptm")?.internal.get_mut(LOCKED_AT)? = 1;
    how.push("lock flag set".into());
    Some(build(&p))
}

/// Whether well-formed master image `img` has its lock flag set.
fn locked_flag(img: &[u8]) -> bool {
    parse(img).is_some_and(|mut p| {
        block_mut(&mut p, "ptm")
            .and_then(|b| b.internal.get(LOCKED_AT).copied())
            .is_some_and(|l| l != 0)
    })
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

/// A mutant for a `kind` end of the pty the images of `here` are
/// retargeted to (`orig`: the same images as taken, from other ptys).
fn mutate(rng: &mut Rng, here: &[Image], orig: &[Image], kind: End) -> Mutant {
    // Now and then a K1 or K4 case, exactly.
    if kind == End::Slave && rng.percent(4) {
        let slaves: Vec<usize> = (0..here.len())
            .filter(|&i| kind_of(&here[i].bytes) == End::Slave)
            .collect();
        let base = *rng.pick(&slaves);
        let mut how = vec![format!("'{}'", here[base].name)];
        let (case, bytes) = if rng.percent(50) {
            (Case::K1, unmapped_owner(rng, &here[base].bytes, &mut how))
        } else {
            (Case::K4, stopped_without_ixon(&here[base].bytes, &mut how))
        };
        if let Some(bytes) = bytes {
            how.push(format!("{} case", case.id()));
            return Mutant {
                bytes,
                how,
                case: Some(case),
            };
        }
    }
    // Mostly images of this pty; sometimes as taken, of another.
    let corpus = if rng.percent(3) { orig } else { here };
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
    if std::ptr::eq(corpus, orig) {
        how.push("of another pty".into());
    }
    if rng.percent(4) {
        how.push("unchanged".into());
        return Mutant {
            bytes: corpus[base].bytes.clone(),
            how,
            case: None,
        };
    }
    let plain = how.len();
    let mut img = if rng.percent(35) {
        structural(rng, corpus, base, &mut how)
    } else {
        corpus[base].bytes.clone()
    };
    if how.len() == plain || rng.percent(50) {
        raw_mutations(rng, corpus, &mut img, &mut how);
        if rng.percent(75) {
            fix_crc(&mut img);
            how.push("checksum fixed".into());
        }
    }
    Mutant {
        bytes: img,
        how,
        case: None,
    }
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
    /// The images as taken (each of its own pty).
    corpus: Vec<Image>,
    /// Images given to the kernel (mutated or not).
    images: u64,
    accepted: u64,
    results: BTreeMap<i32, u64>,
    findings: BTreeMap<String, u64>,
    shown: usize,
    round: u64,
    /// Cases of the fixed defects checked and passed, by case.
    covered: BTreeMap<Case, u64>,
}

/// One end of a pair in a round.
struct EndRun {
    fd: OwnedFd,
    kind: End,
    /// How the accepted image was made (for findings after commit).
    accepted: Option<Vec<String>>,
    /// The accepted image (mutated or not).
    image: Vec<u8>,
}

impl EndRun {
    fn new(fd: OwnedFd, kind: End) -> Self {
        Self {
            fd,
            kind,
            accepted: None,
            image: Vec::new(),
        }
    }

    fn how(&self) -> String {
        self.accepted
            .as_ref()
            .map_or("unmutated".into(), |h| h.join(", "))
    }
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

    /// The corpus as taken from the pty `at` (index and mode set).
    fn corpus_at(&self, at: RestoreTarget) -> Vec<Image> {
        self.corpus
            .iter()
            .map(|i| Image {
                name: i.name.clone(),
                bytes: retarget(&i.bytes, at),
            })
            .collect()
    }

    /// Gives `end` of the pty `at` mutated images (of `here`, the corpus
    /// retargeted to it) until one is accepted, or `fallback` (its correct
    /// image) after `ATTEMPTS`; `first` (a case made on purpose) before the
    /// mutants. After a K1 or K4 case is refused, the correct image comes
    /// next and must be accepted. `bsd`: the pair runs at once.
    #[allow(clippy::too_many_arguments)]
    fn restore_end(
        &mut self,
        end: &mut EndRun,
        pair: usize,
        here: &[Image],
        at: RestoreTarget,
        fallback: &[u8],
        bsd: bool,
        mut first: Option<Mutant>,
    ) -> Result<(), String> {
        // A refused image changes nothing: the status after one refusal is
        // the status before the next image.
        let mut before = status(&end.fd).map_err(|x| format!("status of a new end: {x}"))?;
        // A K1 or K4 case refused: its end's correct image comes next.
        let mut after_case: Option<Case> = None;
        for attempt in 0..=ATTEMPTS {
            let pending = after_case;
            let m = if let Some(m) = first.take() {
                m
            } else if attempt == ATTEMPTS || pending.is_some() {
                Mutant {
                    bytes: fallback.to_vec(),
                    how: vec![match pending {
                        Some(c) => format!("the correct image, after the {} case", c.id()),
                        None => "unmutated fallback".into(),
                    }],
                    case: None,
                }
            } else {
                mutate(&mut self.rng, here, &self.corpus, end.kind)
            };
            self.images += 1;
            let iteration = self.images;
            let want = oracle(&m.bytes, end.kind, at);
            let got = restart(&end.fd, &m.bytes);
            *self.results.entry(got.err().unwrap_or(0)).or_insert(0) += 1;
            let where_ = format!(
                "iteration {iteration} (round {}, pair {pair}, pty {}{}, {} end, attempt {attempt}; {})",
                self.round,
                if at.mode == PtyMode::Bsd { "BSD " } else { "" },
                at.index,
                end_name(end.kind),
                m.how.join(", ")
            );
            let why = match &want {
                Err((_, why)) => format!(" (core: {why})"),
                Ok(_) => String::new(),
            };
            // The cases made on purpose are refused with EINVAL, by the
            // core for the case's reason.
            if let Some(case @ (Case::K1 | Case::K4)) = m.case {
                let core_refuses = matches!(&want, Err((x, why)) if *x == libc::EINVAL && why.contains(case.reason()));
                if !core_refuses {
                    self.finding(
                        &format!("{} case not refused by the core", case.id()),
                        format!(
                            "the core does not refuse a {} case as such ({want:?}): {where_}",
                            case.id()
                        ),
                        Some(&m.bytes),
                    );
                } else if got != Err(libc::EINVAL) {
                    self.finding(
                        &format!("{} case", case.id()),
                        format!(
                            "{} again: the kernel gave {} (EINVAL wanted) for {}: {where_}",
                            case.id(),
                            got.err().map_or("acceptance".into(), errno_str),
                            fuzz::fixed_defect(case.id())
                        ),
                        Some(&m.bytes),
                    );
                }
            }
            match (&want, got) {
                (_, Err(x)) if !EXPECTED.contains(&x) => self.finding(
                    &format!("errno {x}"),
                    format!("unexpected errno {}{why}: {where_}", errno_str(x)),
                    Some(&m.bytes),
                ),
                (Ok(_), Err(x)) => self.finding(
                    &format!("refused {x} {}", end_name(end.kind)),
                    format!(
                        "kernel refused with {} an image the core accepts: {where_}",
                        errno_str(x)
                    ),
                    Some(&m.bytes),
                ),
                (Err((w, _)), Ok(())) => self.finding(
                    &format!("accepted {w}"),
                    format!(
                        "kernel accepted an image the core refuses with {}{why}: {where_}",
                        errno_str(*w)
                    ),
                    Some(&m.bytes),
                ),
                (Err((w, _)), Err(x)) if *w != x && !(bsd && x == libc::EBUSY) => self.finding(
                    &format!("errno {w} vs {x}"),
                    format!(
                        "kernel refused with {}, the core with {}{why}: {where_}",
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
                    .map_err(|x| format!("status after a refused image: {x}: {where_}"))?;
                let (q0, q1) = match end.kind {
                    End::Master => (before.to_master, after.to_master),
                    End::Slave => (before.to_slave, after.to_slave),
                };
                if after.restarts != before.restarts || q0 != q1 {
                    self.finding(
                        &format!("left state {}", end_name(end.kind)),
                        format!(
                            "a refused image left state behind (queue {q0} -> {q1} bytes, restarts {} -> {}): {where_}",
                            before.restarts, after.restarts
                        ),
                        Some(&m.bytes),
                    );
                }
                before = after;
                if let Some(c) = pending {
                    return Err(format!(
                        "{} again: after the {} case the end's correct image was refused ({}){why}: {where_}",
                        c.id(),
                        c.id(),
                        errno_str(got.err().unwrap_or(0))
                    ));
                }
                if attempt == ATTEMPTS {
                    return Err(format!(
                        "the unmutated image was refused ({}){why}: {where_}",
                        errno_str(got.err().unwrap_or(0))
                    ));
                }
                if let Some(c @ (Case::K1 | Case::K4)) = m.case {
                    after_case = Some(c);
                }
                continue;
            }
            self.accepted += 1;
            end.image = m.bytes.clone();
            if attempt < ATTEMPTS {
                end.accepted = Some(m.how.clone());
            }
            if let Some(c) = pending {
                *self.covered.entry(c).or_insert(0) += 1;
            }
            // The kernel's queues are what the core predicts, and its own
            // checkpoint of the restored end is an image the core takes.
            if let (Ok((to_m, to_s)), false) = (&want, bsd) {
                let st = status(&end.fd)?;
                let (k, o) = match end.kind {
                    End::Master => (st.to_master as usize, *to_m),
                    End::Slave => (st.to_slave as usize, *to_s),
                };
                if k != o {
                    self.finding(
                        &format!("queue {}", end_name(end.kind)),
                        format!("restored queue holds {k} bytes, the core {o}: {where_}"),
                        Some(&m.bytes),
                    );
                }
                match checkpoint_of(&end.fd) {
                    Ok(again) => {
                        if let Err((x, why)) = oracle(&again, end.kind, at) {
                            self.finding(
                                "recheckpoint",
                                format!(
                                    "the checkpoint of a restored end is refused by the core ({}: {why}): {where_}",
                                    errno_str(x)
                                ),
                                Some(&again),
                            );
                        }
                    }
                    Err(x) => self.finding(
                        "recheckpoint failed",
                        format!("checkpoint of a restored end failed ({x}): {where_}"),
                        Some(&m.bytes),
                    ),
                }
            }
            return Ok(());
        }
        Ok(())
    }

    /// After commit: settings normalised, then data both ways.
    fn check_pair(&mut self, m: &EndRun, s: &EndRun, index: u32, pair: usize) {
        if let Err(x) = works(&m.fd, &s.fd, pair) {
            let how = format!(
                "round {}, pair {pair} (pty {index}); master image: {}; slave image: {}",
                self.round,
                m.how(),
                s.how()
            );
            self.finding(
                "dead pair",
                format!("a restored pair does not work: {x}: {how}"),
                None,
            );
            if stopped_by_s(&s.image) {
                println!("# slave image: {}", hex(&s.image));
            }
        }
    }

    /// After commit, a pair the session listed with its slave only (K3):
    /// it ends as one whose master closed: its node is gone, the slave is
    /// hung up (end of file). Whether it is freed at the last slave close
    /// is the round's pair count.
    fn check_slave_only(&mut self, s: &EndRun, index: u32, pair: usize) -> bool {
        let mut wrong = Vec::new();
        let path = format!("{PTS_DIR}/{index}");
        if sys::exists(&path) {
            wrong.push(format!("{path} stayed"));
        }
        match sys::poll_events(&s.fd, libc::POLLIN, 1000) {
            Ok(ev) if ev & libc::POLLHUP != 0 => {}
            r => wrong.push(format!(
                "poll gave {:?}, no POLLHUP",
                r.map_err(|x| sys::errno_name(&x))
            )),
        }
        match sys::read_once(&s.fd, 64) {
            Ok(b) if b.is_empty() => {}
            r => wrong.push(format!(
                "read gave {:?}, not end of file",
                r.map_err(|x| sys::errno_name(&x))
            )),
        }
        if wrong.is_empty() {
            return true;
        }
        self.finding(
            "K3 slave-only pair",
            format!(
                "K3 again: a committed slave-only pair did not end as one whose master closed: {}; round {}, pair {pair} (pty {index}); slave image: {}",
                wrong.join(", "),
                self.round,
                s.how()
            ),
            None,
        );
        false
    }

    fn session_round(&mut self, base: u32) -> Result<(), String> {
        let ctl = crate::tests_restart::control()?;
        let pairs_before = global()?.pairs;
        let indexes: Vec<u32> = (0..PAIRS as u32).map(|i| base + i).collect();
        let outcome = self.rng.below(10);
        // 0: abort; 1: one end left out, commit must name it; else commit.
        let left_out = (outcome == 1).then(|| self.rng.below(PAIRS));
        // Some rounds list one pair with its slave only (K3).
        let slave_only = self
            .rng
            .percent(30)
            .then(|| self.rng.below(PAIRS))
            .filter(|&p| Some(p) != left_out);
        let entries: Vec<RestartEntry> = indexes
            .iter()
            .enumerate()
            .map(|(p, &index)| RestartEntry {
                index,
                ends: if slave_only == Some(p) {
                    CKPT_END_SLAVE
                } else {
                    BOTH
                },
            })
            .collect();
        crate::tests_restart::begin(&ctl, &entries).map_err(|x| format!("begin at {base}: {x}"))?;
        let mut ends = Vec::new();
        for (p, &index) in indexes.iter().enumerate() {
            let at = RestoreTarget {
                index,
                mode: PtyMode::Att,
            };
            let here = self.corpus_at(at);
            // The fresh pair's images (the corpus starts with them).
            let (fallback_m, fallback_s) = (here[0].bytes.clone(), here[1].bytes.clone());
            let with_master = slave_only != Some(p);
            let master_first = self.rng.percent(50);
            let open_m = || crate::tests_restart::open_master(&ctl, index);
            let open_s = || sys::open(&format!("{PTS_DIR}/{index}"), RW).map_err(e);
            let (mfd, sfd) = if !with_master {
                (None, open_s()?)
            } else if master_first {
                let m = open_m()?;
                (Some(m), open_s()?)
            } else {
                let s = open_s()?;
                (Some(open_m()?), s)
            };
            let mut m = mfd.map(|fd| {
                let _ = sys::set_nonblocking(&fd, true);
                EndRun::new(fd, End::Master)
            });
            let mut s = EndRun::new(sfd, End::Slave);
            let order = if master_first { [0, 1] } else { [1, 0] };
            for which in order {
                if which == 0 {
                    if let Some(m) = m.as_mut() {
                        self.restore_end(m, p, &here, at, &fallback_m, false, None)?;
                    }
                } else if left_out != Some(p) {
                    self.restore_end(&mut s, p, &here, at, &fallback_s, false, None)?;
                }
            }
            ends.push((index, m, s));
        }
        let committed = match (outcome, left_out) {
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
                false
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
                false
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
                true
            }
        };
        let mut slave_only_ok = false;
        if committed {
            for (p, (index, m, s)) in ends.iter().enumerate() {
                match m {
                    Some(m) => self.check_pair(m, s, *index, p),
                    None => slave_only_ok = self.check_slave_only(s, *index, p),
                }
            }
        }
        // Every file closed, every pair of the round is gone (K3: also a
        // slave-only one, at its last slave close).
        drop(ends);
        drop(ctl);
        let mut after = global()?;
        for _ in 0..40 {
            if after.pairs == pairs_before && after.session_active == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            after = global()?;
        }
        if after.pairs != pairs_before || after.session_active != 0 {
            let so = match slave_only {
                Some(p) if committed => format!(
                    "; K3 again? pair {p} (pty {}) was listed with its slave only",
                    indexes[p]
                ),
                _ => String::new(),
            };
            self.finding(
                "pairs left behind",
                format!(
                    "round {} (outcome {outcome}): {} pair(s) left behind, session active {}, after every file closed{so}",
                    self.round,
                    i64::from(after.pairs) - i64::from(pairs_before),
                    after.session_active
                ),
                None,
            );
        } else if slave_only_ok {
            *self.covered.entry(Case::K3).or_insert(0) += 1;
        }
        Ok(())
    }

    /// BSD pairs restore directly: master first (a restored slave runs at
    /// once and may echo into the master's queue), then the slave. Half
    /// the pairs get a master image with the lock flag first (K2): a BSD
    /// pair is never locked.
    fn bsd_round(&mut self, pairs: u32) -> Result<(), String> {
        for n in 0..pairs.min(4) {
            let at = RestoreTarget {
                index: n,
                mode: PtyMode::Bsd,
            };
            let here = self.corpus_at(at);
            let find = |end: End| {
                here.iter()
                    .find(|i| i.name.starts_with("BSD") && kind_of(&i.bytes) == end)
                    .or_else(|| here.iter().find(|i| kind_of(&i.bytes) == end))
                    .map(|i| i.bytes.clone())
                    .unwrap_or_default()
            };
            let (fm, fs) = (find(End::Master), find(End::Slave));
            // Pair 7 gave the corpus its image; it is fresh again now.
            let m = sys::open(&format!("{PTS_DIR}/pty{n}"), RW)
                .map_err(|x| format!("open pty{n}: {}", e(x)))?;
            let s = sys::open(&format!("{PTS_DIR}/tty{n}"), RW)
                .map_err(|x| format!("open tty{n}: {}", e(x)))?;
            let mut m = EndRun::new(m, End::Master);
            let mut s = EndRun::new(s, End::Slave);
            let first = if self.rng.percent(50) {
                let mut how = vec!["'BSD pair master'".to_string()];
                with_lock(&fm, &mut how).map(|bytes| Mutant {
                    bytes,
                    how,
                    case: Some(Case::K2),
                })
            } else {
                None
            };
            self.restore_end(&mut m, n as usize, &here, at, &fm, true, first)?;
            // K2: the lock flag of a restored image is not applied.
            let lock_restored = locked_flag(&m.image);
            if lock_restored {
                let lock = sys::get_u32(&m.fd, TIOCGPTLCK).map_err(e);
                let again = sys::open(&format!("{PTS_DIR}/tty{n}"), RW)
                    .map(drop)
                    .map_err(e);
                if lock != Ok(0) || again.is_err() {
                    self.finding(
                        "K2 lock applied",
                        format!(
                            "K2 again: BSD pair {n} restored from a master image with the lock flag is locked (TIOCGPTLCK {lock:?}, opening tty{n} {again:?}); round {}; master image: {}",
                            self.round,
                            m.how()
                        ),
                        Some(&m.image),
                    );
                }
            }
            self.restore_end(&mut s, n as usize, &here, at, &fs, true, None)?;
            self.check_pair(&m, &s, n, n as usize);
            // Closed again, the pair opens again (a fresh session, never
            // locked: K2).
            let (mhow, show) = (m.how(), s.how());
            let (mimg, simg) = (std::mem::take(&mut m.image), std::mem::take(&mut s.image));
            drop((m, s));
            if let Err(x) = reopen_bsd(n) {
                self.finding(
                    "BSD pair unusable after close",
                    format!(
                        "{}BSD pair {n} restored, working, closed: {x}; round {}; master image: {mhow}; slave image: {show}",
                        if lock_restored { "K2 again: " } else { "" },
                        self.round
                    ),
                    None,
                );
                println!("# master image: {}", hex(&mimg));
                println!("# slave image: {}", hex(&simg));
                return Ok(());
            }
            if lock_restored {
                *self.covered.entry(Case::K2).or_insert(0) += 1;
            }
        }
        Ok(())
    }
}

/// Whether slave image `img` has output stopped by `^S` (shown with a
/// dead pair: the state K4 was about).
fn stopped_by_s(img: &[u8]) -> bool {
    parse(img).is_some_and(|mut p| {
        block_mut(&mut p, "ldterm")
            .and_then(|b| b.internal.get(LDTERM_FLAGS_AT).copied())
            .is_some_and(|f| f & 12 == 4)
    })
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
        covered: BTreeMap::new(),
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
    let min = fuzz::knob_u64("fuzz_min_images", 20_000).min(target);
    if f.images < min {
        println!(
            "FAIL only {} images in {took:.1} s (at least {min} wanted; seed {seed:#x})",
            f.images
        );
    }
    // The cases of the defects the fuzzers found (all fixed), checked and
    // passed; a full run checks each (K2 where the instance has BSD pairs).
    let mut cases = Vec::new();
    let mut missing = Vec::new();
    for case in [Case::K1, Case::K2, Case::K3, Case::K4] {
        let n = f.covered.get(&case).copied().unwrap_or(0);
        println!(
            "# {} case passed {n} time(s): {}",
            case.id(),
            fuzz::fixed_defect(case.id())
        );
        cases.push(format!("{} x{n}", case.id()));
        if n == 0 && (case != Case::K2 || bsd > 0) {
            missing.push(case.id());
        }
    }
    let unchecked = !missing.is_empty() && f.images >= 20_000 && failed.is_none();
    if unchecked {
        println!(
            "FAIL cases of {} never checked in {} images (seed {seed:#x})",
            missing.join(", "),
            f.images
        );
    }
    println!(
        "NOTE seed {seed:#x}: {} images in {took:.0} s, {} accepted, {} finding(s), cases {}",
        f.images,
        f.accepted,
        f.findings.len(),
        cases.join(" ")
    );
    if failed.is_some() || !f.findings.is_empty() || f.images < min || unchecked {
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

#[cfg(test)]
mod tests {
    //! The image surgery the fuzzer's cases rely on, against the pure core
    //! on the host.
    use super::*;
    use pty_core::checkpoint::PairMeta;
    use pty_core::stream::Effects;

    /// Both images of a pair at `index` with input typed and output
    /// stopped by ^S (IXON on, echo held).
    fn images(index: u32) -> (Vec<u8>, Vec<u8>) {
        let mut p = PtyPair::new(VecStorage::default);
        p.slave_opened();
        let mut fx = Effects::default();
        p.master_write(b"ab\x13cd", &mut fx);
        let meta = PairMeta::new(index, PtyMode::Att);
        let one = |kind| {
            let len = checkpoint::checkpoint_len(&p, kind, &meta).unwrap();
            let mut out = vec![0u8; len];
            let n = checkpoint::checkpoint(&p, kind, &meta, 1, &mut out).unwrap();
            out.truncate(n);
            out
        };
        (one(End::Master), one(End::Slave))
    }

    fn at(index: u32, mode: PtyMode) -> RestoreTarget {
        RestoreTarget { index, mode }
    }

    #[test]
    fn images_rebuild_and_retarget() {
        let (mi, si) = images(3);
        for (img, kind) in [(&mi, End::Master), (&si, End::Slave)] {
            assert_eq!(parse(img).map(|p| build(&p)).as_ref(), Some(img));
            assert_eq!(target_of(img), Some(at(3, PtyMode::Att)));
            assert!(oracle(img, kind, at(3, PtyMode::Att)).is_ok());
            let (x, why) = oracle(img, kind, at(4, PtyMode::Att)).unwrap_err();
            assert_eq!(x, libc::EINVAL, "{why}");
            for to in [at(4, PtyMode::Att), at(1, PtyMode::Bsd)] {
                let moved = retarget(img, to);
                assert_eq!(target_of(&moved), Some(to));
                assert!(oracle(&moved, kind, to).is_ok(), "{to:?}");
            }
        }
    }

    #[test]
    fn cases_are_what_they_say() {
        let (mi, si) = images(5);
        let here = at(5, PtyMode::Att);
        let mut rng = Rng::new(1);
        let mut how = Vec::new();
        for _ in 0..6 {
            let k1 = unmapped_owner(&mut rng, &si, &mut how).unwrap();
            let (x, why) = oracle(&k1, End::Slave, here).unwrap_err();
            assert_eq!(x, libc::EINVAL);
            assert!(why.contains(Case::K1.reason()), "{why}");
        }
        assert!(stopped_by_s(&si), "the slave image has a ^S stop");
        let k4 = stopped_without_ixon(&si, &mut how).unwrap();
        let (x, why) = oracle(&k4, End::Slave, here).unwrap_err();
        assert_eq!(x, libc::EINVAL);
        assert!(why.contains(Case::K4.reason()), "{why}");
        assert!(!locked_flag(&mi));
        let bsd = at(2, PtyMode::Bsd);
        let k2 = with_lock(&retarget(&mi, bsd), &mut how).unwrap();
        assert!(locked_flag(&k2));
        assert!(oracle(&k2, End::Master, bsd).is_ok());
    }
}
