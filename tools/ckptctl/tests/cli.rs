// SPDX-License-Identifier: GPL-2.0
//! The command line, exit codes and error messages, and the pieces of
//! dump/restore that do not need the module.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;

use ckptctl::cli::{Command, Order};
use ckptctl::container::StreamRecord;
use ckptctl::dump;
use ckptctl::ends::{self, HeldEnd, StreamKey};
use ckptctl::error::{Failure, Kind};
use ckptctl::procfs::{self, classify, parse_fdinfo_flags, FdEntry, Node};
use ckptctl::restore::{self, stream_order};
use ckptctl::uapi;
use common::*;
use pty_core::image::PtyMode;
use pty_core::waitlist::{Orphan, OrphanKind};
use pty_core::End;

fn parse(args: &[&str]) -> Result<Command, (String, bool, i32)> {
    ckptctl::parse(std::iter::once("ckptctl").chain(args.iter().copied())).map(|c| c.command)
}

fn usage_error(args: &[&str]) -> String {
    match parse(args) {
        Ok(c) => panic!("{args:?} accepted: {c:?}"),
        Err((text, to_stderr, code)) => {
            assert!(to_stderr, "{args:?}");
            assert_eq!(code, 64, "{args:?}");
            text
        }
    }
}

#[test]
fn parses_every_command() {
    assert!(matches!(
        parse(&["status"]),
        Ok(Command::Status { json: false })
    ));
    assert!(matches!(
        parse(&["status", "--json"]),
        Ok(Command::Status { json: true })
    ));
    match parse(&["freeze", "--index", "3"]).unwrap() {
        Command::Freeze(t) => assert_eq!((t.index, t.pid, t.bsd), (Some(3), None, false)),
        c => panic!("{c:?}"),
    }
    match parse(&["thaw", "--index", "0", "--bsd"]).unwrap() {
        Command::Thaw(t) => assert_eq!((t.index, t.bsd), (Some(0), true)),
        c => panic!("{c:?}"),
    }
    match parse(&["thaw", "--pid", "42"]).unwrap() {
        Command::Thaw(t) => assert_eq!(t.pid, Some(42)),
        c => panic!("{c:?}"),
    }
    match parse(&[
        "dump",
        "--pid",
        "1",
        "--pid",
        "2",
        "-o",
        "x.img",
        "--leave-frozen",
    ])
    .unwrap()
    {
        Command::Dump {
            pids,
            output,
            leave_frozen,
        } => {
            assert_eq!(pids, [1, 2]);
            assert_eq!(output.to_str(), Some("x.img"));
            assert!(leave_frozen);
        }
        c => panic!("{c:?}"),
    }
    match parse(&["inspect", "x.img", "--json"]).unwrap() {
        Command::Inspect { image, json } => {
            assert_eq!(image.to_str(), Some("x.img"));
            assert!(json);
        }
        c => panic!("{c:?}"),
    }
    match parse(&[
        "restore", "x.img", "--order", "random", "--seed", "9", "--pid", "7", "--", "sh", "-c",
        "echo hi",
    ])
    .unwrap()
    {
        Command::Restore {
            image,
            order,
            seed,
            pid,
            no_ctty,
            command,
        } => {
            assert_eq!(image.to_str(), Some("x.img"));
            assert_eq!(order, Order::Random);
            assert_eq!(seed, Some(9));
            assert_eq!(pid, Some(7));
            assert!(!no_ctty);
            assert_eq!(command, ["sh", "-c", "echo hi"]);
        }
        c => panic!("{c:?}"),
    }
    match parse(&["restore", "x.img", "--", "prog", "--flag"]).unwrap() {
        Command::Restore { order, command, .. } => {
            assert_eq!(order, Order::Image);
            assert_eq!(command, ["prog", "--flag"]);
        }
        c => panic!("{c:?}"),
    }
}

#[test]
fn usage_errors_exit_64() {
    usage_error(&[]);
    usage_error(&["bogus"]);
    let t = usage_error(&["freeze"]);
    assert!(t.contains("--index") && t.contains("--pid"), "{t}");
    usage_error(&["freeze", "--index", "1", "--pid", "2"]);
    usage_error(&["freeze", "--pid", "2", "--bsd"]);
    usage_error(&["freeze", "--index", "x"]);
    usage_error(&["freeze", "--index", "-1"]);
    usage_error(&["dump", "-o", "x.img"]);
    usage_error(&["dump", "--pid", "1"]);
    usage_error(&["dump", "--pid", "abc", "-o", "x"]);
    usage_error(&["inspect"]);
    usage_error(&["restore", "x.img"]);
    usage_error(&["restore", "x.img", "cmd"]);
    usage_error(&["restore", "x.img", "--"]);
    let t = usage_error(&["restore", "x.img", "--order", "sideways", "--", "true"]);
    assert!(
        t.contains("image") && t.contains("reverse") && t.contains("random"),
        "{t}"
    );
    usage_error(&["restore", "x.img", "--seed", "x", "--", "true"]);
    usage_error(&["status", "--jsn"]);
}

#[test]
fn help_and_version_exit_0() {
    let (text, to_stderr, code) = parse(&["--help"]).unwrap_err();
    assert_eq!((to_stderr, code), (false, 0));
    for needle in [
        "EXAMPLES:",
        "EXIT STATUS:",
        "64",
        "orphans",
        "status",
        "restore",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let (text, _, code) = parse(&["restore", "--help"]).unwrap_err();
    assert_eq!(code, 0);
    assert!(
        text.contains("CKPT_SESSION_BEGIN") && text.contains("EXAMPLES:"),
        "{text}"
    );
    let (text, _, code) = parse(&["--version"]).unwrap_err();
    assert_eq!(code, 0);
    assert!(text.contains("ckptctl 0.1.0"), "{text}");
    let (_, _, code) = parse(&["dump", "-h"]).unwrap_err();
    assert_eq!(code, 0);
}

#[test]
fn binary_usage_and_help() {
    let (code, _, err) = ckptctl(&["freeze"]);
    assert_eq!(code, 64);
    assert!(err.contains("required"), "{err}");
    let (code, out, _) = ckptctl(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("EXIT STATUS:"), "{out}");
    let (code, _, err) = ckptctl(&["restore", "x.img", "--seed", "3", "--", "true"]);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("--seed only makes sense with --order random"),
        "{err}"
    );
    let (code, _, err) = ckptctl(&["freeze", "--pid", "0"]);
    assert_eq!(code, 64, "{err}");
}

#[test]
fn exit_codes_are_distinct_and_documented() {
    let codes: Vec<i32> = Kind::ALL.iter().map(|k| k.exit_code()).collect();
    assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 64]);
    let help = ckptctl::error::exit_codes_help();
    for k in Kind::ALL {
        assert!(
            help.contains(&format!("{:<4} {}", k.exit_code(), k.describe())),
            "{help}"
        );
    }
}

#[test]
fn errors_map_to_exit_codes_with_advice() {
    let f = Failure::module_not_loaded();
    assert_eq!(f.exit_code(), 2);
    assert!(f.message.contains("insmod"), "{f}");
    let eperm = std::io::Error::from_raw_os_error(libc::EPERM);
    let f = Failure::io("open /dev/ckpt/control", &eperm);
    assert_eq!(f.exit_code(), 7);
    assert!(
        f.message
            .starts_with("cannot open /dev/ckpt/control: EPERM"),
        "{f}"
    );
    assert!(f.message.contains("run ckptctl as root"), "{f}");
    let eacces = std::io::Error::from_raw_os_error(libc::EACCES);
    assert_eq!(Failure::io("x", &eacces).kind, Kind::Permission);
    let eio = std::io::Error::from_raw_os_error(libc::EIO);
    let f = Failure::io("read", &eio);
    assert_eq!(f.exit_code(), 1);
    assert!(f.message.contains("EIO: Input/output error"), "{f}");
    let enotty = std::io::Error::from_raw_os_error(libc::ENOTTY);
    let key = StreamKey::new(PtyMode::Att, 3, End::Slave);
    let f = ends::end_failure("freeze", key, &enotty);
    assert!(f.message.contains("cannot freeze pty 3 slave"), "{f}");
    assert!(f.message.contains("same version"), "{f}");
}

#[test]
fn module_commands_without_module() {
    if ends::module_loaded() {
        eprintln!("module loaded: skipped");
        return;
    }
    for args in [
        &["status"][..],
        &["freeze", "--index", "1"],
        &["thaw", "--pid", "1"],
        &["dump", "--pid", "1", "-o", "/tmp/never-written.img"],
    ] {
        let (code, _, err) = ckptctl(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("ckpt_pty module is not loaded"), "{err}");
    }
    let (code, out, _) = ckptctl(&["status", "--json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["module"]["loaded"], false);
    assert!(v["pairs"].as_array().unwrap().is_empty());
    // Restore checks the image first, then the module.
    let dir = TempDir::new("nomod");
    let img = dir.path("s.img");
    std::fs::write(&img, sample().encode().unwrap()).unwrap();
    let (code, _, err) = ckptctl(&["restore", img.to_str().unwrap(), "--", "true"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ckptctl(&["restore", img.to_str().unwrap(), "--pid", "9", "--", "true"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("it has those of 100, 200"), "{err}");
}

#[test]
fn classify_nodes() {
    let n = |mode, kind, index| Some(Node { mode, kind, index });
    assert_eq!(
        classify("/dev/ckpt/ptmx"),
        n(PtyMode::Att, End::Master, None)
    );
    assert_eq!(
        classify("/dev/ckpt/pts/0"),
        n(PtyMode::Att, End::Slave, Some(0))
    );
    assert_eq!(
        classify("/dev/ckpt/pts/4095"),
        n(PtyMode::Att, End::Slave, Some(4095))
    );
    assert_eq!(
        classify("/dev/ckpt/pts/pty7"),
        n(PtyMode::Bsd, End::Master, Some(7))
    );
    assert_eq!(
        classify("/dev/ckpt/pts/tty12"),
        n(PtyMode::Bsd, End::Slave, Some(12))
    );
    assert_eq!(
        classify("/dev/ckpt/pts/ptmx"),
        n(PtyMode::Att, End::Master, None)
    );
    assert_eq!(
        classify("/dev/ckpt/pts/3 (deleted)"),
        n(PtyMode::Att, End::Slave, Some(3))
    );
    for other in [
        "/dev/ptmx",
        "/dev/pts/3",
        "/dev/ckpt/control",
        "/dev/ckpt/pts/",
        "/dev/ckpt/pts/03",
        "/dev/ckpt/pts/+3",
        "/dev/ckpt/pts/3x",
        "/dev/ckpt/pts/ttyS0",
        "/dev/ckpt/pts/pty",
        "/dev/ckpt/pty7",
        "/dev/ckpt/pts/control",
        "/dev/ckptx/ptmx",
        "socket:[1234]",
    ] {
        assert_eq!(classify(other), None, "{other}");
    }
}

#[test]
fn fdinfo_flags() {
    let info = "pos:\t0\nflags:\t02104002\nmnt_id:\t25\nino:\t3\n";
    let (flags, cloexec) = parse_fdinfo_flags(info).unwrap();
    assert!(cloexec);
    assert_eq!(
        flags as i32,
        libc::O_RDWR | libc::O_NONBLOCK | procfs::O_LARGEFILE
    );
    assert_eq!(procfs::flags_text(flags), "O_RDWR|O_NONBLOCK|O_LARGEFILE");
    assert_eq!(
        parse_fdinfo_flags("flags:\t0100000\n"),
        Some((0o100000, false))
    );
    assert_eq!(parse_fdinfo_flags("pos: 0\n"), None);
    assert_eq!(parse_fdinfo_flags("flags:\t9\n"), None);
    assert_eq!(procfs::flags_text(0), "O_RDONLY");
    assert_eq!(procfs::flags_text(1 | 0o2000), "O_WRONLY|O_APPEND");
}

#[test]
fn scan_a_fake_proc() {
    let dir = TempDir::new("proc");
    let p = dir.0.join("4242");
    std::fs::create_dir_all(p.join("fd")).unwrap();
    std::fs::create_dir_all(p.join("fdinfo")).unwrap();
    std::fs::write(p.join("comm"), "bash\n").unwrap();
    for (fd, target, flags) in [
        (0, "/dev/ckpt/pts/3", "0100002"),
        (1, "/dev/ckpt/pts/3", "0100002"),
        (3, "/dev/null", "0100000"),
        (5, "/dev/ckpt/ptmx", "02104002"),
        (10, "/dev/ckpt/pts/tty1", "0100002"),
    ] {
        symlink(target, p.join("fd").join(fd.to_string())).unwrap();
        std::fs::write(
            p.join("fdinfo").join(fd.to_string()),
            format!("pos:\t0\nflags:\t{flags}\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.0.join("self")).unwrap();
    assert_eq!(procfs::pids(&dir.0).unwrap(), [4242]);
    assert_eq!(procfs::comm(&dir.0, 4242), "bash");
    assert_eq!(procfs::comm(&dir.0, 1), "?");
    let fds = procfs::fds_of(&dir.0, 4242).unwrap();
    let got: Vec<(i32, Option<u32>, End, PtyMode, bool)> = fds
        .iter()
        .map(|e| (e.fd, e.node.index, e.node.kind, e.node.mode, e.cloexec))
        .collect();
    assert_eq!(
        got,
        [
            (0, Some(3), End::Slave, PtyMode::Att, false),
            (1, Some(3), End::Slave, PtyMode::Att, false),
            (5, None, End::Master, PtyMode::Att, true),
            (10, Some(1), End::Slave, PtyMode::Bsd, false),
        ]
    );
    assert_eq!(procfs::all_fds(&dir.0).len(), 4);

    let dev = TempDir::new("dev");
    std::fs::create_dir_all(dev.0.join("pts")).unwrap();
    for n in [
        "pts/0", "pts/7", "pts/ptmx", "pty0", "pty1", "tty0", "tty1", "ptmx",
    ] {
        std::fs::write(dev.0.join(n), "").unwrap();
    }
    assert_eq!(procfs::node_indexes(&dev.0.join("pts"), ""), [0, 7]);
    assert_eq!(procfs::node_indexes(&dev.0, "pty"), [0, 1]);
}

fn held(pid: i32, fd: i32, key: StreamKey, flags: u32) -> HeldEnd {
    let dup: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    HeldEnd {
        entry: FdEntry {
            pid,
            fd,
            node: Node {
                mode: key.mode(),
                kind: key.kind(),
                index: Some(key.index),
            },
            flags,
            cloexec: false,
        },
        key,
        dup,
    }
}

#[test]
fn dump_plan_groups_streams_and_files() {
    let m3 = StreamKey::new(PtyMode::Att, 3, End::Master);
    let s3 = StreamKey::new(PtyMode::Att, 3, End::Slave);
    let b0 = StreamKey::new(PtyMode::Bsd, 0, End::Slave);
    let m1 = StreamKey::new(PtyMode::Att, 1, End::Master);
    let ends = vec![
        held(10, 0, s3, 2),
        held(10, 1, s3, 2),
        held(10, 4, m3, 2),
        held(20, 0, s3, 2),
        held(20, 6, s3, 2 | 0o4000),
        held(20, 7, b0, 2),
        held(20, 8, m1, 2),
    ];
    // Same file: same key and same flags (as the fallback without kcmp).
    let plan = dump::plan(&ends, |a, b| {
        a.key == b.key && a.entry.flags == b.entry.flags
    });
    assert_eq!(plan.streams, [m1, m3, s3, b0]);
    assert_eq!(plan.reach, [6, 2, 0, 5]);
    let files: Vec<(usize, u32)> = plan.files.iter().map(|&(s, f, _)| (s, f)).collect();
    assert_eq!(files, [(0, 2), (1, 2), (2, 2), (2, 2 | 0o4000), (3, 2)]);
    let holder_files: Vec<usize> = plan.holders.iter().map(|&(_, f)| f).collect();
    assert_eq!(holder_files, [2, 2, 1, 2, 3, 4, 0]);
}

#[test]
fn restore_orders() {
    assert_eq!(stream_order(4, Order::Image, 0), [0, 1, 2, 3]);
    assert_eq!(stream_order(4, Order::Reverse, 0), [3, 2, 1, 0]);
    let a = stream_order(100, Order::Random, 7);
    assert_eq!(a, stream_order(100, Order::Random, 7));
    assert_ne!(a, stream_order(100, Order::Random, 8));
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert!(stream_order(0, Order::Random, 1).is_empty());
}

#[test]
fn session_table_has_every_att_pair_once() {
    let c = sample();
    let mut streams: Vec<StreamRecord> = c.streams.clone();
    streams.push(StreamRecord {
        index: 1,
        kind: End::Slave,
        mode: PtyMode::Att,
        image: Vec::new(),
    });
    let e = restore::session_entries(&streams);
    let got: Vec<(u32, u32)> = e.iter().map(|e| (e.index, e.ends)).collect();
    assert_eq!(
        got,
        [
            (1, uapi::CKPT_END_SLAVE),
            (3, uapi::CKPT_END_MASTER | uapi::CKPT_END_SLAVE)
        ]
    );
    assert_eq!(restore::node_path(&streams[1]), "/dev/ckpt/pts/3");
    assert_eq!(restore::node_path(&streams[0]), "/dev/ckpt/ptmx");
    assert_eq!(restore::node_path(&streams[2]), "/dev/ckpt/pts/pty1");
}

#[test]
fn the_controlling_slave_is_fd_0_or_the_lowest() {
    let slave = |file: usize| file % 2 == 1;
    // (target descriptor, file): files 1 and 3 are slaves.
    assert_eq!(
        restore::controlling_slave(&[(4, 1), (0, 3), (2, 0)], slave),
        Some(0)
    );
    assert_eq!(
        restore::controlling_slave(&[(7, 1), (5, 3), (0, 2)], slave),
        Some(5)
    );
    assert_eq!(restore::controlling_slave(&[(0, 0), (1, 2)], slave), None);
    assert_eq!(restore::controlling_slave(&[], slave), None);
}

#[test]
fn reopen_flags_keep_status_and_drop_the_rest() {
    let f = restore::reopen_flags(
        (libc::O_RDWR | libc::O_NONBLOCK | libc::O_CREAT | libc::O_TRUNC) as u32,
    );
    assert_eq!(f, libc::O_RDWR | libc::O_NONBLOCK | libc::O_NOCTTY);
}

#[test]
fn orphans_are_named() {
    let mut records = Vec::new();
    for o in [
        Orphan {
            index: 3,
            what: OrphanKind::Slave,
        },
        Orphan {
            index: 9,
            what: OrphanKind::Master,
        },
    ] {
        records.extend_from_slice(&o.to_record());
    }
    let m = restore::orphans_message(5, &records);
    assert!(
        m.contains("5 expected ends were never restored (pty 3 slave, pty 9 master, and 3 more)"),
        "{m}"
    );
    assert!(m.contains("rolled back"), "{m}");
    let m = restore::orphans_message(1, &records[..uapi::ORPHAN_RECORD_LEN]);
    assert!(
        m.contains("1 expected end was never restored (pty 3 slave)"),
        "{m}"
    );
}

#[test]
fn status_report_text_and_json() {
    use ckptctl::ends::PairKey;
    use ckptctl::status::{self, Holder, PairView, StatusReport};
    let mut r = StatusReport {
        loaded: true,
        version: Some("0.1.0".into()),
        srcversion: Some("ABC123".into()),
        global: Some(uapi::GlobalStatus {
            format_version: 1,
            pairs: 1,
            max_pairs: 4096,
            bsd_pairs: 16,
            checkpoints: 2,
            checkpoint_bytes: 640,
            ..Default::default()
        }),
        ..Default::default()
    };
    r.pairs.insert(
        PairKey { mode: 0, index: 3 },
        PairView {
            holders: vec![
                Holder {
                    pid: 10,
                    comm: "sshd".into(),
                    fd: 5,
                    kind: End::Master,
                },
                Holder {
                    pid: 20,
                    comm: "bash".into(),
                    fd: 0,
                    kind: End::Slave,
                },
                Holder {
                    pid: 20,
                    comm: "bash".into(),
                    fd: 1,
                    kind: End::Slave,
                },
            ],
            status: Some(uapi::StreamStatus {
                frozen: uapi::CKPT_FROZEN_SLAVE,
                to_master: 12,
                to_slave: 3,
                ..Default::default()
            }),
            termios: Some(pty_core::termios::Termios::pty_slave_default()),
        },
    );
    r.pairs
        .insert(PairKey { mode: 1, index: 0 }, PairView::default());
    let t = status::text(&r);
    for needle in [
        "module ckpt_pty: loaded, version 0.1.0 (srcversion ABC123), image format 1",
        "pairs 1 of 4096, BSD pairs 16, restart session: none",
        "checkpoints 2 (640 bytes)",
        "PTY    MODE  FROZEN  TO-MASTER  TO-SLAVE TERMIOS     SOCKET  HOLDERS",
        "master: sshd[10]:5  slave: bash[20]:0,1",
        "canon,echo",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let row = t.lines().find(|l| l.starts_with("3 ")).unwrap();
    assert!(
        row.contains("AT&T") && row.contains("slave") && row.contains("12"),
        "{row}"
    );
    let bsd = t.lines().find(|l| l.starts_with("0 ")).unwrap();
    assert!(bsd.contains("BSD") && bsd.contains(" - "), "{bsd}");

    let v = status::json(&r);
    assert_eq!(v["module"]["loaded"], true);
    assert_eq!(v["module"]["format_version"], 1);
    assert_eq!(v["global"]["max_pairs"], 4096);
    assert_eq!(v["global"]["session_active"], false);
    let p = &v["pairs"][0];
    assert_eq!(p["index"], 3);
    assert_eq!(p["mode"], "att");
    assert_eq!(p["frozen"]["slave"], true);
    assert_eq!(p["frozen"]["master"], false);
    assert_eq!(p["to_master"], 12);
    assert_eq!(p["to_slave"], 3);
    assert_eq!(p["termios"]["canonical"], true);
    assert_eq!(p["socket"], serde_json::Value::Null);
    assert_eq!(p["holders"][1]["comm"], "bash");
    assert_eq!(p["holders"][1]["end"], "slave");
    let b = &v["pairs"][1];
    assert_eq!(b["mode"], "bsd");
    assert_eq!(b["frozen"], serde_json::Value::Null);
}

#[test]
fn version_names_the_image_versions_it_reads_and_writes() {
    let v = ckptctl::cli::VERSION;
    assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
    let want = [
        format!("format version {}", pty_core::image::FORMAT_VERSION),
        format!("state version {}", pty_core::image::STATE_VERSION),
        format!("container version {}", ckptctl::container::VERSION),
    ];
    for w in want {
        assert!(v.contains(&w), "--version says {v:?}, not {w:?}");
    }
    let (out, to_stderr, code) = match ckptctl::parse(["ckptctl", "--version"]) {
        Err(e) => e,
        Ok(c) => panic!("{c:?}"),
    };
    assert_eq!((to_stderr, code), (false, 0));
    assert!(out.contains(v), "{out}");
}

#[test]
fn generated_man_pages_and_completions() {
    let dir = TempDir::new("man");
    let out = ckptctl::generate::run(ckptctl::cli::Generate::Man { dir: dir.0.clone() }).unwrap();
    assert!(out.starts_with("7 manual pages"), "{out}");
    let page = std::fs::read_to_string(dir.path("ckptctl-restore.1")).unwrap();
    assert!(
        page.contains("no\\-ctty") || page.contains("no-ctty"),
        "{page}"
    );
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let script = ckptctl::generate::run(ckptctl::cli::Generate::Completion { shell }).unwrap();
        for word in ["status", "dump", "restore", "inspect"] {
            assert!(script.contains(word), "{shell:?} completion lacks {word}");
        }
    }
}
