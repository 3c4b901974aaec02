// SPDX-License-Identifier: GPL-2.0
//! Builders of stream images and image files for the host tests.
#![allow(dead_code)]

use ckptctl::container::{Container, FileRecord, HolderRecord, StreamRecord, FD_CLOEXEC};
use ckptctl::state::VecStorage;
use pty_core::checkpoint::{self, PairMeta};
use pty_core::image::{encode, ModuleBlock, ModuleName, PtyMode, StreamImageHeader};
use pty_core::ldterm::{LdtermState, Partial};
use pty_core::stream::{Effects, PtyPair};
use pty_core::termios::Termios;
use pty_core::End;

pub const ID: u64 = 0x1122_3344_5566_7788;

fn image(kind: End, mode: PtyMode, id: u64, blocks: &[ModuleBlock<'_>]) -> Vec<u8> {
    let header = StreamImageHeader {
        kind,
        mode,
        checkpoint_id: id,
    };
    let mut out = vec![0u8; 1 << 16];
    let n = encode(&header, blocks, &mut out).expect("encode");
    out.truncate(n);
    out
}

fn winsize(rows: u16, cols: u16) -> Vec<u8> {
    [rows, cols, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// A master image built by hand from the documented block layout, with
/// `queue` waiting for the master's reader.
pub fn master_image(index: u32, mode: PtyMode, id: u64, queue: &[u8]) -> Vec<u8> {
    let head_i = 0u32.to_le_bytes();
    let mut tioc_i = winsize(24, 80);
    tioc_i.push(0); // exclusive
    let mut ptm_i = index.to_le_bytes().to_vec();
    // mode, locked, packet, packet status, output stopped, master open,
    // slave closed
    ptm_i.extend_from_slice(&[mode.as_u8(), 0, 0, 0, 0, 1, 0]);
    // has socket (no), then the 42-byte identity, all zero
    ptm_i.extend_from_slice(&[0u8; 43]);
    image(
        End::Master,
        mode,
        id,
        &[
            ModuleBlock {
                name: ModuleName::Head,
                internal: &head_i,
                external: queue,
            },
            ModuleBlock {
                name: ModuleName::Tioc,
                internal: &tioc_i,
                external: &[],
            },
            ModuleBlock {
                name: ModuleName::Ptm,
                internal: &ptm_i,
                external: &[],
            },
        ],
    )
}

/// A slave image built by hand: canonical termios, `lines` complete and
/// readable, `half` typed, `unprocessed` not yet seen by ldterm.
pub fn slave_image(
    index: u32,
    mode: PtyMode,
    id: u64,
    termios: Termios,
    lines: &[&[u8]],
    half: &[u8],
    unprocessed: &[u8],
) -> Vec<u8> {
    let readable: Vec<u8> = lines.concat();
    let state = LdtermState {
        termios,
        column: 3,
        canon_column: 0,
        readable: readable.len() as u32,
        lookahead: 0,
        lnext: false,
        erasing: false,
        output_stopped: false,
        tco_stopped: false,
        partial: Partial::None,
    };
    let mut tioc_i = winsize(50, 132);
    tioc_i.push(0);
    tioc_i.extend_from_slice(&0i32.to_le_bytes());
    // Input and output speeds (B38400).
    tioc_i.extend_from_slice(&38400u32.to_le_bytes());
    tioc_i.extend_from_slice(&38400u32.to_le_bytes());
    let mut ld_i = state.to_bytes().to_vec();
    ld_i.extend_from_slice(&(half.len() as u32).to_le_bytes());
    ld_i.extend_from_slice(half);
    let mut ld_e = (lines.len() as u32).to_le_bytes().to_vec();
    for l in lines {
        ld_e.extend_from_slice(&(l.len() as u16).to_le_bytes());
    }
    ld_e.extend_from_slice(&readable);
    let mut pts_i = index.to_le_bytes().to_vec();
    pts_i.push(mode.as_u8());
    pts_i.extend_from_slice(&1u32.to_le_bytes());
    pts_i.push(0);
    // The node: uid 1000, gid 5, mode 0620.
    pts_i.extend_from_slice(&1000u32.to_le_bytes());
    pts_i.extend_from_slice(&5u32.to_le_bytes());
    pts_i.extend_from_slice(&0o620u16.to_le_bytes());
    image(
        End::Slave,
        mode,
        id,
        &[
            ModuleBlock {
                name: ModuleName::Head,
                internal: &[],
                external: &[],
            },
            ModuleBlock {
                name: ModuleName::Tioc,
                internal: &tioc_i,
                external: &[],
            },
            ModuleBlock {
                name: ModuleName::Ldterm,
                internal: &ld_i,
                external: &ld_e,
            },
            ModuleBlock {
                name: ModuleName::Pts,
                internal: &pts_i,
                external: unprocessed,
            },
        ],
    )
}

/// Images of both ends of a pair the core itself ran: the master typed
/// `typed` (echoed back), nobody read.
pub fn real_images(index: u32, id: u64, typed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut pair = PtyPair::new(VecStorage::default);
    pair.slave_opened();
    let mut fx = Effects::default();
    let _ = pair.master_write(typed, &mut fx);
    let meta = PairMeta::new(index, PtyMode::Att);
    let take = |kind| {
        let n = checkpoint::checkpoint_len(&pair, kind, &meta).expect("len");
        let mut out = vec![0u8; n];
        let n = checkpoint::checkpoint(&pair, kind, &meta, id, &mut out).expect("checkpoint");
        out.truncate(n);
        out
    };
    (take(End::Master), take(End::Slave))
}

/// A container: pty 3 (master held by pid 100 fd 5; slave by pid 200 fds
/// 0, 1, 2 through one file and fd 7 through another), BSD pty 1 master
/// held by pid 100 fd 9.
pub fn sample() -> Container {
    let t = Termios::pty_slave_default();
    Container {
        flags: 0,
        checkpoint_id: ID,
        created: 1_700_000_000,
        streams: vec![
            StreamRecord {
                index: 3,
                kind: End::Master,
                mode: PtyMode::Att,
                image: master_image(3, PtyMode::Att, ID, b"prompt$ "),
            },
            StreamRecord {
                index: 3,
                kind: End::Slave,
                mode: PtyMode::Att,
                image: slave_image(3, PtyMode::Att, ID, t, &[b"ls\n"], b"ech", b"o hi"),
            },
            StreamRecord {
                index: 1,
                kind: End::Master,
                mode: PtyMode::Bsd,
                image: master_image(1, PtyMode::Bsd, ID, b""),
            },
        ],
        files: vec![
            FileRecord {
                stream: 0,
                flags: libc::O_RDWR as u32,
            },
            FileRecord {
                stream: 1,
                flags: libc::O_RDWR as u32,
            },
            FileRecord {
                stream: 1,
                flags: (libc::O_RDWR | libc::O_NONBLOCK) as u32,
            },
            FileRecord {
                stream: 2,
                flags: libc::O_RDWR as u32,
            },
        ],
        holders: vec![
            HolderRecord {
                pid: 100,
                fd: 5,
                file: 0,
                fd_flags: FD_CLOEXEC,
            },
            HolderRecord {
                pid: 100,
                fd: 9,
                file: 3,
                fd_flags: 0,
            },
            HolderRecord {
                pid: 200,
                fd: 0,
                file: 1,
                fd_flags: 0,
            },
            HolderRecord {
                pid: 200,
                fd: 1,
                file: 1,
                fd_flags: 0,
            },
            HolderRecord {
                pid: 200,
                fd: 2,
                file: 1,
                fd_flags: 0,
            },
            HolderRecord {
                pid: 200,
                fd: 7,
                file: 2,
                fd_flags: 0,
            },
        ],
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "ckptctl-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the built binary.
pub fn ckptctl(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptctl"))
        .args(args)
        .output()
        .expect("run ckptctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
