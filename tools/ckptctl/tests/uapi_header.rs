// SPDX-License-Identifier: GPL-2.0
//! The C header `include/uapi/linux/ckpt_pty.h` and `rust/uapi.rs` can
//! never drift: a C program compiled (C89, pedantic, warnings as errors)
//! against the header (and the kernel's `<asm/ioctls.h>` for Linux's own
//! tty ioctls) prints every number, structure size and field offset, and
//! each must equal Rust's. Every `pub const` and every field of every
//! `pub struct` of uapi.rs must appear, so a new definition without its C
//! twin fails here.

use ckptctl::uapi;
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// C name of a Rust constant.
fn c_const(rust: &str) -> String {
    match rust {
        "PTMX_PATH" | "PTS_DIR" | "CONTROL_PATH" | "FS_TYPE" => format!("CKPT_PTY_{rust}"),
        "LDISC_CKPT" => "CKPT_PTY_LDISC".into(),
        "ORPHAN_RECORD_LEN" => "CKPT_ORPHAN_RECORD_LEN".into(),
        other => other.into(),
    }
}

/// C name of a Rust structure: `StreamStatus` -> `ckpt_stream_status`.
fn c_struct(rust: &str) -> String {
    let mut s = String::from("ckpt");
    for c in rust.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// The `pub const` names and `pub struct` fields of uapi.rs, by reading it.
fn rust_items() -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let text = std::fs::read_to_string(top().join("rust/uapi.rs")).unwrap();
    let mut consts = Vec::new();
    let mut structs: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("pub const ") {
            consts.push(rest.split(':').next().unwrap().trim().to_string());
        } else if let Some(rest) = l.strip_prefix("pub struct ") {
            current = Some((
                rest.split_whitespace().next().unwrap().to_string(),
                Vec::new(),
            ));
        } else if l == "}" {
            if let Some(s) = current.take() {
                structs.push(s);
            }
        } else if let (Some(rest), Some((_, fields))) = (l.strip_prefix("pub "), current.as_mut()) {
            fields.push(rest.split(':').next().unwrap().trim().to_string());
        }
    }
    (consts, structs)
}

/// Every number Rust defines, by C name.
fn rust_numbers() -> BTreeMap<String, u64> {
    use uapi::*;
    let mut m = BTreeMap::new();
    let mut n = |name: &str, v: u64| {
        m.insert(c_const(name), v);
    };
    macro_rules! consts {
        ($($c:ident),* $(,)?) => { $( n(stringify!($c), $c as u64); )* };
    }
    consts!(
        LDISC_CKPT,
        TCGETS,
        TCSETS,
        TCSETSW,
        TCSETSF,
        TCSBRK,
        TCXONC,
        TCFLSH,
        TIOCEXCL,
        TIOCNXCL,
        TIOCSCTTY,
        TIOCGPGRP,
        TIOCSPGRP,
        TIOCOUTQ,
        TIOCGWINSZ,
        TIOCSWINSZ,
        FIONREAD,
        TIOCPKT,
        TIOCNOTTY,
        TIOCSETD,
        TIOCGETD,
        TCSBRKP,
        TIOCGSID,
        TCGETA,
        TCSETA,
        TCSETAW,
        TCSETAF,
        TIOCGSOFTCAR,
        TIOCSSOFTCAR,
        TIOCGLCKTRMIOS,
        TIOCSLCKTRMIOS,
        TCGETS2,
        TCSETS2,
        TCSETSW2,
        TCSETSF2,
        TIOCGPTN,
        TIOCSPTLCK,
        TIOCSIG,
        TIOCGPKT,
        TIOCGPTLCK,
        TIOCGEXCL,
        TIOCGPTPEER,
        CKPT_IOC_TYPE,
        CKPT_FREEZE,
        CKPT_THAW,
        CKPT_STATUS,
        CKPT_SUPPORT_CHECKPOINT,
        CKPT_SUPPORT_RESTART,
        CKPT_FROZEN_MASTER,
        CKPT_FROZEN_SLAVE,
        CKPT_OP_NONE,
        CKPT_OP_FREEZE,
        CKPT_OP_THAW,
        CKPT_OP_CHECKPOINT,
        CKPT_OP_RESTART,
        CKPT_CHECKPOINT,
        CKPT_RESTART,
        CKPT_LEAVE_FROZEN,
        CKPT_SESSION_BEGIN,
        CKPT_SESSION_COMMIT,
        CKPT_SESSION_ABORT,
        CKPT_OPEN_MASTER,
        CKPT_GLOBAL_STATUS,
        CKPT_END_MASTER,
        CKPT_END_SLAVE,
        ORPHAN_RECORD_LEN,
        CKPT_SOCKET_SET,
        CKPT_SOCKET_GET,
        CKPT_SESSION_BEGIN_SOCKETS,
        CKPT_SOCKET_RESTORED,
    );
    macro_rules! layout {
        ($($t:ident { $($f:ident),* $(,)? }),* $(,)?) => { $(
            m.insert(format!("sizeof {}", c_struct(stringify!($t))), size_of::<$t>() as u64);
            $( m.insert(
                format!("offsetof {}.{}", c_struct(stringify!($t)), stringify!($f)),
                offset_of!($t, $f) as u64,
            ); )*
        )* };
    }
    layout!(
        StreamStatus {
            support,
            frozen,
            last_op,
            index,
            end,
            mode,
            to_master,
            to_slave,
            checkpoints,
            restarts,
            checkpoint_bytes,
            restart_bytes
        },
        CheckpointArg {
            buf,
            buf_len,
            flags,
            checkpoint_id,
            image_len,
            reserved
        },
        RestartArg {
            buf,
            buf_len,
            flags
        },
        RestartEntry { index, ends },
        SessionArg {
            entries,
            count,
            flags
        },
        CommitArg {
            orphans,
            orphans_cap,
            orphans_count
        },
        OpenMasterArg { index, flags },
        GlobalStatus {
            format_version,
            pairs,
            max_pairs,
            bsd_pairs,
            session_active,
            reserved,
            checkpoints,
            restarts,
            checkpoint_bytes,
            restart_bytes,
            sessions_committed,
            sessions_rolled_back
        },
        SocketRecord {
            family,
            sock_type,
            protocol,
            local_port,
            remote_port,
            reserved,
            local_addr,
            remote_addr
        },
        RestartSocketEntry {
            index,
            ends,
            has_socket,
            socket
        },
    );
    m
}

/// Every string Rust defines, by C name.
fn rust_strings() -> BTreeMap<String, String> {
    use uapi::*;
    [
        ("PTMX_PATH", PTMX_PATH),
        ("PTS_DIR", PTS_DIR),
        ("CONTROL_PATH", CONTROL_PATH),
        ("FS_TYPE", FS_TYPE),
    ]
    .into_iter()
    .map(|(k, v)| (c_const(k), v.to_string()))
    .collect()
}

/// The C program: prints `NAME VALUE` lines.
fn c_program(numbers: &BTreeMap<String, u64>, strings: &BTreeMap<String, String>) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <asm/ioctls.h>\n\
         #include <asm/termbits.h>\n#include \"linux/ckpt_pty.h\"\n\
         int main(void)\n{\n",
    );
    for name in numbers.keys() {
        let expr = if let Some(t) = name.strip_prefix("sizeof ") {
            format!("sizeof(struct {t})")
        } else if let Some(tf) = name.strip_prefix("offsetof ") {
            let (t, f) = tf.split_once('.').unwrap();
            format!("offsetof(struct {t}, {f})")
        } else {
            name.clone()
        };
        c.push_str(&format!(
            "\tprintf(\"%s %lu\\n\", \"{name}\", (unsigned long)({expr}));\n"
        ));
    }
    for name in strings.keys() {
        c.push_str(&format!("\tprintf(\"%s %s\\n\", \"{name}\", {name});\n"));
    }
    c.push_str("\treturn 0;\n}\n");
    c
}

#[test]
fn c_header_matches_rust_uapi() {
    let numbers = rust_numbers();
    let strings = rust_strings();
    // Completeness: every definition of uapi.rs is in the tables above.
    let (consts, structs) = rust_items();
    for c in consts {
        let name = c_const(&c);
        assert!(
            numbers.contains_key(&name) || strings.contains_key(&name),
            "uapi.rs defines {c} but the header test does not check it"
        );
    }
    for (s, fields) in structs {
        let cs = c_struct(&s);
        assert!(
            numbers.contains_key(&format!("sizeof {cs}")),
            "struct {s} unchecked"
        );
        for f in fields {
            assert!(
                numbers.contains_key(&format!("offsetof {cs}.{f}")),
                "field {s}.{f} unchecked"
            );
        }
    }

    let dir = std::env::temp_dir().join(format!("ckpt-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("uapi.c");
    let bin = dir.join("uapi");
    std::fs::write(&src, c_program(&numbers, &strings)).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c89", "-pedantic", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg("-I")
        .arg(top().join("include/uapi"))
        .arg(&src)
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "the header does not compile as C89:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let (name, value) = line.rsplit_once(' ').unwrap();
        if let Some(&rust) = numbers.get(name) {
            assert_eq!(
                value.parse::<u64>().unwrap(),
                rust,
                "{name}: C says {value}, Rust {rust}"
            );
        } else {
            assert_eq!(Some(value), strings.get(name).map(String::as_str), "{name}");
        }
        seen += 1;
    }
    assert_eq!(seen, numbers.len() + strings.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A C translation unit that fails to compile unless every structure size
/// and field offset (and so every ioctl number, which encodes the size) is
/// what Rust has on x86_64: `typedef char name[cond ? 1 : -1]`, C89's
/// static assertion.
fn c_layout_asserts(numbers: &BTreeMap<String, u64>) -> String {
    let mut c = String::from("#include <stddef.h>\n#include \"linux/ckpt_pty.h\"\n");
    for (i, (name, value)) in numbers.iter().enumerate() {
        let expr = if let Some(t) = name.strip_prefix("sizeof ") {
            format!("sizeof(struct {t})")
        } else if let Some(tf) = name.strip_prefix("offsetof ") {
            let (t, f) = tf.split_once('.').unwrap();
            format!("offsetof(struct {t}, {f})")
        } else if name.starts_with("CKPT_")
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        {
            name.clone()
        } else {
            continue;
        };
        c.push_str(&format!(
            "/* {name} */ typedef char same_{i}[({expr}) == {value}UL ? 1 : -1];\n"
        ));
    }
    c
}

/// A 32-bit caller (i386, compat_ioctl) sees the same structure layout and
/// ioctl numbers as a 64-bit one: the header compiled with `-m32` has every
/// size, offset and `CKPT_*` number Rust has on x86_64. (x86's uapi `asm/`
/// headers are one set for both; Debian installs them for x86_64 only.)
#[test]
fn c_header_layout_is_the_same_for_32_bit_callers() {
    let dir = std::env::temp_dir().join(format!("ckpt-uapi32-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("uapi32.c");
    std::fs::write(&src, c_layout_asserts(&rust_numbers())).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args([
            "-m32",
            "-std=c89",
            "-pedantic",
            "-Wall",
            "-Werror",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(top().join("include/uapi"))
        .args(["-idirafter", "/usr/include/x86_64-linux-gnu"])
        .arg(&src)
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "the uapi layout differs for 32-bit callers:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
