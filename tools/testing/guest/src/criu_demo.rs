// SPDX-License-Identifier: GPL-2.0
//! `make demo`'s centrepiece (`ckpt-guest-tests --criu-demo`): a telnet
//! login inside a container moves with CRIU and the ckpt_pty plugin; the
//! user's connection and terminal survive. What the user's terminal shows
//! is printed as it arrives; narration lines start with `>>`.

use crate::criu::{self, Pts, PORT, PROMPT, T, WORK};
use crate::sys;
use crate::telnet::Telnet;
use std::time::{Duration, Instant};

const ADDR: &str = "10.13.0.2";
/// Lines of 1 KiB the shell prints while the client reads nothing.
const QUEUED: usize = 300;

fn say(text: &str) {
    println!();
    for l in text.lines() {
        println!(">> {l}");
    }
}

/// Runs the story; the container is killed at the end whatever happens.
pub fn main() -> Result<(), String> {
    let result = story();
    sys::sh(&format!(
        "for f in {WORK}/pid; do [ -f $f ] && kill -9 $(cat $f); done; sleep 0.5; umount -l /ctr/c1"
    ));
    result
}

fn story() -> Result<(), String> {
    sys::sh(&format!("rm -rf {WORK} && mkdir -p {WORK}/img"));
    say("A container (pid + mount + net namespaces) with its own ckptpts instance\nbind-mounted over /dev/pts and /dev/ptmx runs busybox telnetd on 10.13.0.2:2323.");
    let pid = criu::start_named_container(Pts::Ckpt, "c1", ADDR)?;
    std::fs::write(format!("{WORK}/pid"), &pid).map_err(|e| e.to_string())?;
    say(&format!(
        "The container's init is pid {pid} here. A telnet client outside it logs in over veth:"
    ));
    let mut c = Telnet::connect_small_window(ADDR, PORT, 4096)?;
    c.echo = true;
    c.expect(PROMPT, T)?;
    for cmd in ["tty", "sleep 1000 &", "jobs -l"] {
        c.line(cmd)?;
        c.expect(PROMPT, T)?;
    }
    say(&format!("The user runs a command printing {QUEUED} lines of 1 KiB, then `read l`;\nthe client reads nothing for 8 s, so the output backs up into the pty\n(the shell blocks in write), and the user types `half-` without Enter."));
    c.line(&format!(
        "p=0123456789abcdef; for i in 1 2 3 4 5 6; do p=$p$p; done; i=0; while [ $i -lt {QUEUED} ]; do echo \"Q-$i-$p\"; i=$((i+1)); done; echo \"Q-$((0+{QUEUED}))-END\"; read l; echo \"got-[$l]\""
    ))?;
    c.expect("got-[$l]\"", T)?;
    c.echo = false;
    std::thread::sleep(Duration::from_secs(8));
    c.send("half-")?;
    std::thread::sleep(Duration::from_secs(1));

    move_with_criu(&pid)?;
    let restored = Instant::now();
    say("The same TCP connection now delivers the queued output:");
    let queued = c.expect(&format!("Q-{QUEUED}-END"), Duration::from_secs(120))?;
    println!("{}", criu::check_queued(&queued, QUEUED, "half-")?);
    say(&format!(
        "({:.1} s after the restore.) The user completes the half line with `line` and Enter,\nthen checks the job, the tty and job control:",
        restored.elapsed().as_secs_f64()
    ));
    c.echo = true;
    c.line("line")?;
    c.expect("got-[half-line]", T)?;
    c.expect(PROMPT, T)?;
    for cmd in ["jobs -l", "tty"] {
        c.line(cmd)?;
        c.expect(PROMPT, T)?;
    }
    let jc = criu::job_control(&mut c)?;
    c.echo = false;
    say(&format!("{jc}.\nThe login moved: same connection, same /dev/pts index, same shell, its job,\nits half-typed line and every byte of queued output exactly once."));
    Ok(())
}

/// Dumps the container (init `pid`), reloads the module, restores it;
/// shows the plugin's log lines of each step.
fn move_with_criu(pid: &str) -> Result<(), String> {
    let images = format!("{WORK}/img");
    let mut args = vec!["-t", pid, "--tcp-established", "-D", &images];
    args.extend_from_slice(Pts::Ckpt.criu_args());
    say(&format!("criu dump -t {pid} --tcp-established -D {images} --lib /usr/lib/ckpt_pty/criu --enable-fs ckptpts"));
    let dump = criu::criu("dump", &args, "dump.log")?;
    plugin_lines("dump.log", &["DUMP_EXT_FILE file", "associated with"]);
    let size = sys::sh(&format!("du -sk {images} | cut -f1")).1;
    let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
    say(&format!(
        "dump: {:.1} s, images {} KiB; the container is gone: {}",
        dump.as_secs_f64(),
        size.trim(),
        if gone { "yes" } else { "NO" }
    ));
    say("As on a fresh arrival server: the module is removed and loaded again.");
    println!("{}", criu::reload_module()?);

    say("criu restore -D ... --tcp-established --root /ctr/c1 --veth-pair eth0=c1-h@ctr-br -d --lib ... --enable-fs ckptpts");
    let restore = criu::restore_container("c1", Pts::Ckpt)?;
    plugin_lines(
        "restore.log",
        &[
            "RESTORE_EXT_FILE file",
            "controlling tty",
            "CKPT_SOCKET_RESTORED",
            "committed",
        ],
    );
    say(&format!("restore: {:.1} s.", restore.as_secs_f64()));
    Ok(())
}

/// Prints the plugin's log lines of `log` that contain one of `what`.
fn plugin_lines(log: &str, what: &[&str]) {
    for l in criu::log_lines(log, "ckpt_pty:") {
        if what.iter().any(|w| l.contains(w)) {
            let text = l.split("ckpt_pty: ").nth(1).unwrap_or(&l);
            println!("   plugin: {text}");
        }
    }
}
