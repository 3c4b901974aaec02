// SPDX-License-Identifier: GPL-2.0
//! CRIU moves a container with several telnet logins while another
//! container on the same host uses the same pty indexes
//! (Documentation/criu.rst, "Several logins, indexes taken").
//!
//! Container c1 serves SESSIONS logins, one pty each; every shell has
//! output queued behind a client that reads nothing and a half-typed line
//! in its canonical buffer. `criu dump` takes c1 down; on the ckpt kind
//! the module is reloaded (a fresh arrival server); container c2 starts on
//! its own pty instance and SESSIONS logins take the same indexes there;
//! `criu restore` brings c1 back. Every c1 connection must carry on with
//! its tty index, a shell that owns its terminal, and (ckpt) its queued
//! output exactly once and its half line; c2's sessions must be untouched.
//! The native kind runs the same steps on devpts instances with CRIU's
//! own tty code: what its queued output and half lines become is reported
//! and checked against what was measured.

use crate::criu::{self, Pts, PORT, PROMPT, T, WORK};
use crate::sys;
use crate::telnet::Telnet;
use std::time::{Duration, Instant};

/// Logins in each container.
const SESSIONS: usize = 8;
/// Lines of 1 KiB each shell prints before its `read`: with the client's
/// small window (RCVBUF) far more than the connection holds, so every
/// shell blocks in write(2) with output in its pty.
const QUEUED: usize = 300;
/// The clients' receive buffer (bytes, before the kernel's doubling).
const RCVBUF: i32 = 4096;
const ADDR_C1: &str = "10.13.0.2";
const ADDR_C2: &str = "10.13.0.3";

/// One login of c1 and what it showed.
struct Login {
    c: Telnet,
    tty: String,
}

fn half(i: usize) -> String {
    format!("half-{i}-")
}

fn rest(i: usize) -> String {
    format!("line-{i}")
}

/// Logs in SESSIONS times to `addr`; returns the clients with their ttys.
fn logins(addr: &str) -> Result<Vec<Login>, String> {
    let mut all = Vec::new();
    for _ in 0..SESSIONS {
        let mut c = Telnet::connect_small_window(addr, PORT, RCVBUF)?;
        c.expect(PROMPT, T)?;
        c.line("tty")?;
        let tty = criu::first_line_with(&c.expect(PROMPT, T)?, "/dev/");
        all.push(Login { c, tty });
    }
    Ok(all)
}

pub fn run(kind: Pts) -> Result<(), String> {
    let k = kind.name();
    let (st, out) = sys::sh(&format!("rm -rf {WORK} && mkdir -p {WORK}/img"));
    if st != 0 {
        return Err(format!("mkdir {WORK}: {out}"));
    }
    let pid = criu::start_named_container(kind, "c1", ADDR_C1)?;
    std::fs::write(format!("{WORK}/pid"), &pid).map_err(|e| e.to_string())?;
    let mut c1 = logins(ADDR_C1)?;
    let ttys: Vec<String> = c1.iter().map(|l| l.tty.clone()).collect();
    println!("# crowded {k}: c1's logins on {ttys:?}");
    queue_output_and_half_lines(&mut c1)?;
    let dumped = dump_c1(kind, &pid)?;
    if let Pts::Ckpt = kind {
        println!("# crowded ckpt: {}", criu::reload_module()?);
    }

    // c2 takes the same indexes in its own instance before c1 returns.
    let pid2 = criu::start_named_container(kind, "c2", ADDR_C2)?;
    std::fs::write(format!("{WORK}/pid-c2"), &pid2).map_err(|e| e.to_string())?;
    let mut c2 = logins(ADDR_C2)?;
    let ttys2: Vec<String> = c2.iter().map(|l| l.tty.clone()).collect();
    println!("# crowded {k}: c2 (started after the dump) holds {ttys2:?}");

    let restore = criu::restore_container("c1", kind)?;
    let restored_at = Instant::now();
    println!(
        "# crowded {k}: {SESSIONS} logins: {dumped}; restore {:.2} s",
        restore.as_secs_f64()
    );
    if let Pts::Ckpt = kind {
        println!("# crowded ckpt: restore order: {}", restore_order());
    }

    let mut problems = Vec::new();
    for (i, l) in c1.iter_mut().enumerate() {
        if let Err(e) = check_session(kind, i, l) {
            problems.push(format!("c1 session {i} ({}): {e}", l.tty));
        }
    }
    println!(
        "# crowded {k}: all {SESSIONS} sessions checked {:.1} s after the restore",
        restored_at.elapsed().as_secs_f64()
    );
    for (i, l) in c2.iter_mut().enumerate() {
        l.c.line("tty")
            .map_err(|e| format!("c2 session {i}: {e}"))?;
        let tty = criu::first_line_with(&l.c.expect(PROMPT, T)?, "/dev/");
        if tty != l.tty {
            problems.push(format!("c2 session {i}: tty {:?} -> {tty:?}", l.tty));
        }
    }
    if ttys != ttys2 {
        problems.push(format!(
            "c2 did not take c1's indexes: {ttys2:?} against {ttys:?}"
        ));
    }
    let control = criu::control_fds();
    if !control.is_empty() {
        problems.push(format!("control files still open: {}", control.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// `criu dump` of c1 (init `pid`); returns its time, the images' sizes
/// and what the ptys held.
fn dump_c1(kind: Pts, pid: &str) -> Result<String, String> {
    let images = format!("{WORK}/img");
    let mut args = vec!["-t", pid, "--tcp-established", "-D", &images];
    args.extend_from_slice(kind.criu_args());
    let dump = criu::criu("dump", &args, "dump.log")?;
    let image_bytes = sys::sh(&format!("cat {images}/* | wc -c")).1;
    let tty_images = sys::sh(&format!(
        "cat {images}/tty*.img {images}/ckpt-pty-*.img 2>/dev/null | wc -c"
    ))
    .1;
    Ok(format!(
        "dump {:.2} s, images {} bytes, terminal images {} bytes{}",
        dump.as_secs_f64(),
        image_bytes.trim(),
        tty_images.trim(),
        queued_at_dump(kind)?
    ))
}

/// Every shell prints QUEUED lines and then reads a line; the clients read
/// nothing for 8 s, so the output backs up into the ptys; then each types
/// its half line (echo queued behind the output, not awaited).
fn queue_output_and_half_lines(logins: &mut [Login]) -> Result<(), String> {
    for l in logins.iter_mut() {
        l.c.line(&format!(
            "p=0123456789abcdef; for i in 1 2 3 4 5 6; do p=$p$p; done; i=0; while [ $i -lt {QUEUED} ]; do echo \"Q-$i-$p\"; i=$((i+1)); done; echo \"Q-$((0+{QUEUED}))-END\"; read l; echo \"got-[$l]\""
        ))?;
    }
    for l in logins.iter_mut() {
        l.c.expect("got-[$l]", T)?;
    }
    std::thread::sleep(Duration::from_secs(8));
    for (i, l) in logins.iter_mut().enumerate() {
        l.c.send(&half(i))?;
    }
    std::thread::sleep(Duration::from_secs(1));
    Ok(())
}

/// What the dump found queued in the ptys, from CRIU's log: the ckpt kind
/// needs every master's stream image to hold output (at least 2 KiB).
fn queued_at_dump(kind: Pts) -> Result<String, String> {
    match kind {
        Pts::Ckpt => {
            let masters: Vec<u64> = criu::log_lines("dump.log", "stream image")
                .iter()
                .filter(|l| l.contains(": master of pair"))
                .filter_map(|l| {
                    l.split("stream image ")
                        .nth(1)?
                        .split(' ')
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            if masters.len() != SESSIONS || masters.iter().any(|&b| b < 2048) {
                return Err(format!(
                    "the masters' stream images at the dump: {masters:?} bytes (expected {SESSIONS}, each with queued output)"
                ));
            }
            Ok(format!("; masters' stream images {masters:?} bytes"))
        }
        Pts::Native => {
            let data = criu::log_lines("dump.log", "data");
            let saved = data
                .iter()
                .filter(|l| l.to_lowercase().contains("tty"))
                .count();
            Ok(format!("; CRIU's tty data lines in the dump log: {saved}"))
        }
    }
}

/// The order in which the restored tasks opened the ends, from the
/// plugin's log lines: `m3` is the master of pair 3, `s3` its slave.
fn restore_order() -> String {
    criu::log_lines("restore.log", "RESTORE_EXT_FILE file")
        .iter()
        .filter_map(|l| {
            let rest = l.split(": ").find(|p| p.contains(" of pair "))?;
            let end = if rest.starts_with("slave") { "s" } else { "m" };
            let pair = rest.split(" of pair ").nth(1)?.split(' ').next()?;
            Some(format!("{end}{pair}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One c1 session after the restore: its queued output, its half line
/// completed, its tty index, a shell that owns its terminal.
fn check_session(kind: Pts, i: usize, l: &mut Login) -> Result<(), String> {
    let queued =
        l.c.expect(&format!("Q-{QUEUED}-END"), Duration::from_secs(120))
            .map_err(|e| format!("the queued output: {e}"))?;
    let queued = criu::check_queued(&queued, QUEUED, &half(i));
    l.c.line(&rest(i))?;
    let answer = l.c.expect("]", Duration::from_secs(60))?;
    let line = answer.rsplit("got-[").next().unwrap_or("").to_string();
    l.c.expect(PROMPT, T)?;
    l.c.line("tty")?;
    let tty = criu::first_line_with(&l.c.expect(PROMPT, T)?, "/dev/");
    let stat = criu::shell_stat(&mut l.c)?;
    let mut wrong = Vec::new();
    if tty != l.tty {
        wrong.push(format!("tty {:?} -> {tty:?}", l.tty));
    }
    if !stat.owns_terminal() {
        wrong.push(format!("the shell does not own its terminal: {stat:?}"));
    }
    let (expected_line, queued_ok) = match kind {
        Pts::Ckpt => (format!("{}{}", half(i), rest(i)), queued.is_ok()),
        // CRIU drops the half line (see the one-login test); the queued
        // output is reported, whatever it became.
        Pts::Native => (rest(i), true),
    };
    let report = match &queued {
        Ok(s) | Err(s) => s.clone(),
    };
    if i == 0 || !queued_ok || matches!(kind, Pts::Native) {
        println!("# crowded {}: session {i}: {report}", kind.name());
    }
    if !queued_ok {
        wrong.push(report);
    }
    if line != expected_line {
        wrong.push(format!(
            "the shell read {line:?}, expected {expected_line:?}"
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}
