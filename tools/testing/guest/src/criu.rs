// SPDX-License-Identifier: GPL-2.0
//! CRIU moves a container with a telnet login (Documentation/criu.rst).
//!
//! `ckpt-guest-tests --criu [KIND]` (the guest's `criu` mode, after init.sh
//! put the root on a tmpfs): a container (`criu-container`: pid + mount +
//! net namespaces, its own pty instance, busybox telnetd) serves logins to
//! telnet clients in the guest's root namespace over a veth pair. The first
//! login logs out, so the second holds index 1 with 0 free. In the second,
//! the user starts a background job, then the shell reads a line and the
//! user types half of it. `criu dump --tcp-established` takes the container
//! down, `criu restore --tcp-established` brings it back, and the same TCP
//! connection carries on: the user types the rest of the line. What the
//! shell read, the job and the tty after the move are checked against what
//! the pty kind is known to keep; timings and image sizes are KTAP
//! diagnostics. Any CRIU failure fails the test. Kinds: `native` (a devpts
//! instance, CRIU's own tty code) and `ckpt` (a ckptpts instance, the
//! ckpt_pty CRIU plugin from tools/criu-plugin, which must also leave no
//! control file open in any process).

use crate::criu_crowd;
use crate::sys;
use crate::telnet::Telnet;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

/// The container's address on the bridge, its telnet port and name.
pub(crate) const ADDR: &str = "10.13.0.2";
pub(crate) const PORT: u16 = 2323;
pub(crate) const NAME: &str = "c1";
pub(crate) const PROMPT: &str = "ctr$ ";
/// CRIU's images and logs (on the guest's /tmp, a tmpfs).
pub(crate) const WORK: &str = "/tmp/criu";
/// CRIU runs `ip`, `iptables-restore` and `tar` from PATH: the real ones
/// (mkinitramfs.sh CKPT_CRIU=1) before busybox's applets.
pub(crate) const CRIU_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Under TCG everything is slow: a generous bound for each exchange.
pub(crate) const T: Duration = Duration::from_secs(60);
/// What the user types before the dump (no newline) and after the restore.
const HALF: &str = "half-";
const REST: &str = "line";

/// Where mkinitramfs.sh (CKPT_CRIU=1) puts the ckpt_pty CRIU plugin
/// (tools/criu-plugin): the directory for `criu --lib`.
pub(crate) const PLUGIN_DIR: &str = "/usr/lib/ckpt_pty/criu";

/// Which ptys the container's logins run on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pts {
    /// A `newinstance` devpts: CRIU's own tty support.
    Native,
    /// A ckptpts instance: ckpt_pty's ptys, dumped and restored by the
    /// ckpt_pty CRIU plugin.
    Ckpt,
}

impl Pts {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pts::Native => "native",
            Pts::Ckpt => "ckpt",
        }
    }

    /// The `criu-container` argument.
    fn container_kind(self) -> &'static str {
        match self {
            Pts::Native => "devpts",
            Pts::Ckpt => "ckptpts",
        }
    }

    /// What both `criu dump` and `criu restore` need besides the baseline's
    /// arguments: the plugin, and the ckptpts mount treated as a virtual
    /// file system (mounted anew on restore, contents not saved).
    pub(crate) fn criu_args(self) -> &'static [&'static str] {
        match self {
            Pts::Native => &[],
            Pts::Ckpt => &["--lib", PLUGIN_DIR, "--enable-fs", "ckptpts"],
        }
    }

    /// What the shell reads after the move, as measured (Documentation/
    /// criu.rst): on native ptys CRIU drops the half-typed line, which sat
    /// in the slave's canonical line buffer (it saves only data a read(2)
    /// would return), so the shell gets only what was typed after the
    /// restore. A change shows up as a failure.
    /// ckpt_pty saves the half-typed line with the slave's line
    /// discipline state, so the shell gets all of it.
    fn expected_line(self) -> String {
        match self {
            Pts::Native => REST.to_string(),
            Pts::Ckpt => format!("{HALF}{REST}"),
        }
    }
}

/// What one run showed.
struct Observed {
    tty_before: String,
    tty_after: String,
    /// The tty of a login started after the move.
    tty_new: String,
    /// Descriptors of a pty instance's control file held by any process
    /// after the move (the plugin's restart session must leave none).
    control_fds: Vec<String>,
    job_before: String,
    job_after: String,
    /// The shell's own view of its terminal, before the dump and after
    /// the restore.
    stat_before: ShellStat,
    stat_after: ShellStat,
    /// Job control through the restored controlling terminal (^Z, `fg`,
    /// ^C), or why it failed.
    job_control: Result<String, String>,
    dump: Duration,
    restore: Duration,
    image_kib: u64,
    /// The images' exact size, and that of the terminal parts: CRIU's
    /// `tty-*.img` or the plugin's `ckpt-pty-*.img`.
    image_bytes: u64,
    tty_images: String,
    image_files: String,
    /// From the end of the restore until the shell's answer to the rest of
    /// the line reached the client.
    resume: Duration,
    /// What the shell's `read` returned after the move.
    line: String,
    /// CRIU's log lines about the data queued in the ptys.
    tty_data: Vec<String>,
    /// Phases of the dump and restore that took over a second.
    slow: Vec<String>,
}

/// One login moved (`scenario`, judged by `judge`).
fn one_login(kind: Pts) -> Result<(), String> {
    scenario(kind).and_then(|o| judge(kind, &o))
}

type Scenario = fn(Pts) -> Result<(), String>;

/// The tests, in the order they run, and whether an unfiltered run (`make
/// check`) includes them: the crowded native run is the comparison for
/// Documentation/criu.rst (some 3 minutes under TCG), run on request
/// (`criu.sh crowded`).
const TESTS: [(&str, Pts, Scenario, bool); 4] = [
    ("criu_telnet_login_native", Pts::Native, one_login, true),
    ("criu_telnet_login_ckpt", Pts::Ckpt, one_login, true),
    (
        "criu_telnet_logins_crowded_native",
        Pts::Native,
        criu_crowd::run,
        false,
    ),
    (
        "criu_telnet_logins_crowded_ckpt",
        Pts::Ckpt,
        criu_crowd::run,
        true,
    ),
];

/// Runs the tests whose names contain `filter` (without one, those run by
/// default); prints KTAP, returns the failures.
pub fn main(filter: Option<&str>) -> usize {
    let tests: Vec<_> = TESTS
        .iter()
        .filter(|(name, _, _, by_default)| match filter {
            Some(f) if !f.is_empty() => name.contains(f),
            _ => *by_default,
        })
        .collect();
    println!("KTAP version 1");
    println!("# Subtest: ckpt_pty_criu");
    println!("1..{}", tests.len());
    let mut failed = 0;
    for (i, (name, kind, run, _)) in tests.iter().enumerate() {
        let _ = std::io::stdout().flush();
        let started = Instant::now();
        let result = run(*kind);
        cleanup();
        println!("# {name}: {:.0} s", started.elapsed().as_secs_f64());
        match result {
            Ok(()) => println!("ok {} {name}", i + 1),
            Err(why) => {
                failed += 1;
                for line in why.lines() {
                    println!("# {name}: {line}");
                }
                println!("not ok {} {name}", i + 1);
            }
        }
    }
    let _ = std::io::stdout().flush();
    failed
}

/// Kills what a run left behind (the containers and their roots): each
/// container's init pid is in WORK/pid (c1) or WORK/pid-NAME.
fn cleanup() {
    sys::sh(&format!(
        "for f in {WORK}/pid {WORK}/pid-*; do [ -f $f ] && kill -9 $(cat $f); done; sleep 0.5; for d in /ctr/*; do umount -l $d; done"
    ));
}

fn scenario(kind: Pts) -> Result<Observed, String> {
    let (st, out) = sys::sh(&format!("rm -rf {WORK} && mkdir -p {WORK}/img"));
    if st != 0 {
        return Err(format!("mkdir {WORK}: {out}"));
    }
    let pid = start_container(kind)?;

    // The first login takes index 0, the second 1; the first logs out, so
    // the restore has to put the second back at 1 with 0 free.
    let mut first = login()?;
    let mut c = login()?;
    first.line("exit")?;
    let start = Instant::now();
    while first.pump()? {
        if start.elapsed() > T {
            return Err("the first login did not end".into());
        }
    }
    c.line("tty")?;
    let tty_before = c.expect(PROMPT, T)?;
    c.line("sleep 1000 &")?;
    c.expect(PROMPT, T)?;
    c.line("jobs -l")?;
    let job_before = c.expect(PROMPT, T)?;
    let stat_before = shell_stat(&mut c)?;
    if let Pts::Ckpt = kind {
        // No CKPT_SOCKET_SET here: the plugin associates telnetd's master
        // with its connection itself at the dump (checked after the move).
        refused_dumps(&pid)?;
        failed_dump(&pid)?;
        // The plugin froze the pair for its checkpoint and must have thawed
        // it when the dump failed: the session answers.
        c.line("echo ALIVE-$((1+1))")?;
        c.expect("ALIVE-2", T)
            .map_err(|e| format!("the session after a failed dump: {e}"))?;
        c.expect(PROMPT, T)?;
    }

    // The shell's `read` waits in a canonical read(2): the half line sits
    // in the slave's line buffer (its echo shows it got there), not in the
    // shell's memory as it would at the prompt (ash edits lines itself).
    if let Pts::Ckpt = kind {
        // Queued output: the shell (builtins only, so its own group stays
        // in the foreground) prints QUEUED lines of 1 KiB while the client
        // reads nothing, so the output fills the socket, telnetd and the
        // pty and the shell blocks in write(2), before its `read`. The
        // half line is typed into the canonical buffer meanwhile (its echo
        // is queued behind the output: not awaited).
        c.line(&format!(
            "p=0123456789abcdef; for i in 1 2 3 4 5 6; do p=$p$p; done; i=0; while [ $i -lt {QUEUED} ]; do echo \"Q-$i-$p\"; i=$((i+1)); done; echo \"Q-$((0+{QUEUED}))-END\"; read l; echo \"got-[$l]\""
        ))?;
        c.expect("got-[$l]", T)?;
        std::thread::sleep(Duration::from_secs(8));
        c.send(HALF)?;
        std::thread::sleep(Duration::from_secs(1));
    } else {
        c.line("read l; echo \"got-[$l]\"")?;
        c.expect("got-[$l]", T)?;
        std::thread::sleep(Duration::from_secs(1));
        c.send(HALF)?;
        c.expect(HALF, T)?;
        std::thread::sleep(Duration::from_secs(1));
    }

    let images = format!("{WORK}/img");
    let mut args = vec!["-t", &pid, "--tcp-established", "-D", &images];
    args.extend_from_slice(kind.criu_args());
    let dump = criu("dump", &args, "dump.log")
        .map_err(|e| format!("{e}\nprocesses before the dump:\n{}", processes()))?;
    let (_, du) = sys::sh(&format!("du -sk {images}"));
    let image_kib = du
        .split_whitespace()
        .next()
        .and_then(|k| k.parse().ok())
        .unwrap_or(0);
    let image_files = sys::sh(&format!("cd {images} && ls -S -s | tr '\\n' ' '")).1;
    let image_bytes = sys::sh(&format!("cat {images}/* | wc -c"))
        .1
        .trim()
        .parse()
        .unwrap_or(0);
    let tty_images = sys::sh(&format!(
        "cd {images} && for f in tty*.img ckpt-pty-*.img; do [ -f $f ] && echo -n \"$f $(wc -c < $f) \"; done"
    ))
    .1;
    if let Pts::Ckpt = kind {
        // The output must still be in the pair when it is checkpointed.
        let images: u64 = log_lines("dump.log", "stream image")
            .iter()
            .filter_map(|l| {
                l.split("stream image ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        println!("# ckpt: stream images of the pair with the queued output: {images} bytes");
        if images < 2048 {
            return Err(format!(
                "no output queued in the pty at the dump (stream images {images} bytes)"
            ));
        }
    }
    let (_, gone) = sys::sh(&format!("[ -d /proc/{pid} ] && echo alive"));
    if gone.contains("alive") {
        return Err(format!("the container's init {pid} outlived the dump"));
    }
    let reload = match kind {
        Pts::Ckpt => Some(reload_module()?),
        Pts::Native => None,
    };
    if let Some(r) = &reload {
        println!("# ckpt: {r}");
    }
    let restore = restore_container(NAME, kind)?;
    let restored_at = Instant::now();

    if let Pts::Ckpt = kind {
        let queued = c
            .expect(&format!("Q-{QUEUED}-END"), Duration::from_secs(300))
            .map_err(|e| format!("the queued output after the restore: {e}"))?;
        println!("# ckpt: {}", check_queued(&queued, QUEUED, HALF)?);
    }
    // The rest of the line, on the same connection.
    c.line(REST)?;
    let answer = c.expect("]", Duration::from_secs(120))?;
    let resume = restored_at.elapsed();
    let line = answer
        .rsplit("got-[")
        .next()
        .filter(|_| answer.contains("got-["))
        .ok_or_else(|| format!("no got-[ after the restore: {answer:?}"))?
        .to_string();
    c.expect(PROMPT, T)?;
    c.line("echo END-$((2+3))")?;
    c.expect("END-5", T)?;
    c.expect(PROMPT, T)?;
    c.line("jobs -l")?;
    let job_after = c.expect(PROMPT, T)?;
    c.line("tty")?;
    let tty_after = c.expect(PROMPT, T)?;
    let stat_after = shell_stat(&mut c)?;
    let job_control = job_control(&mut c);
    // A new login after the move gets the free index 0 of the restored
    // instance.
    let mut third = login()?;
    third.line("tty")?;
    let tty_new = third.expect(PROMPT, T)?;
    let control_fds = control_fds();

    let mut slow = slow_phases("dump.log");
    slow.extend(slow_phases("restore.log"));
    Ok(Observed {
        tty_before: first_line_with(&tty_before, "/dev/"),
        tty_after: first_line_with(&tty_after, "/dev/"),
        tty_new: first_line_with(&tty_new, "/dev/"),
        control_fds,
        job_before: first_line_with(&job_before, "sleep"),
        job_after: first_line_with(&job_after, "sleep"),
        stat_before,
        stat_after,
        job_control,
        dump,
        restore,
        image_kib,
        image_bytes,
        tty_images,
        image_files,
        resume,
        line,
        tty_data: log_lines("dump.log", "data tty")
            .into_iter()
            .chain(log_lines("dump.log", "data on tty"))
            .chain(log_lines("dump.log", "from tty"))
            .chain(log_lines("restore.log", "queued data"))
            .chain(log_lines("dump.log", "ckpt_pty:"))
            .chain(log_lines("restore.log", "ckpt_pty:"))
            .collect(),
        slow,
    })
}

/// The login shell's process group, session, controlling tty (`tty_nr`)
/// and the tty's foreground group, from its own /proc/$$/stat (pids of
/// the container's namespace).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ShellStat {
    pid: i64,
    pgrp: i64,
    session: i64,
    tty_nr: i64,
    tpgid: i64,
}

impl ShellStat {
    /// The shell leads its session, has a controlling tty, and its own
    /// group holds the foreground (it is at its prompt).
    pub(crate) fn owns_terminal(&self) -> bool {
        self.tty_nr != 0
            && self.pgrp == self.pid
            && self.session == self.pid
            && self.tpgid == self.pgrp
    }
}

/// Reads the shell's stat with builtins only (`read`, `echo`), so that the
/// shell itself stays in the foreground while it does.
pub(crate) fn shell_stat(c: &mut Telnet) -> Result<ShellStat, String> {
    c.line("read s < /proc/$$/stat; echo \"stat-[$s]\"")?;
    c.expect("stat-[$s]", T)?;
    let text = c.expect("]", T)?;
    c.expect(PROMPT, T)?;
    parse_stat(text.rsplit("stat-[").next().unwrap_or(""))
}

/// The fields of ShellStat from a /proc/PID/stat line.
fn parse_stat(text: &str) -> Result<ShellStat, String> {
    // Fields after the command name, which is in parentheses.
    let (head, tail) = text
        .rsplit_once(") ")
        .ok_or_else(|| format!("the shell's stat: {text:?}"))?;
    let f: Vec<i64> = tail
        .split_whitespace()
        .skip(1)
        .take(6)
        .map(|w| w.parse().unwrap_or(-1))
        .collect();
    let pid = head.split_whitespace().next().and_then(|p| p.parse().ok());
    match (pid, f.as_slice()) {
        (Some(pid), [_ppid, pgrp, session, tty_nr, tpgid, ..]) => Ok(ShellStat {
            pid,
            pgrp: *pgrp,
            session: *session,
            tty_nr: *tty_nr,
            tpgid: *tpgid,
        }),
        _ => Err(format!("the shell's stat: {text:?}")),
    }
}

/// Job control through the restored terminal: a foreground `sleep` is
/// stopped by ^Z (the line discipline signals the foreground group the
/// shell set with tcsetpgrp), `jobs` lists it with the job started before
/// the dump, `fg` gives it the terminal again and ^C ends it.
pub(crate) fn job_control(c: &mut Telnet) -> Result<String, String> {
    c.line("echo fg-job; sleep 300")?;
    c.expect("fg-job\r\n", T)?;
    let stops = signal_until(c, "\x1a", "Stopped").map_err(|e| format!("^Z: {e}"))?;
    c.expect(PROMPT, T)?;
    c.line("jobs")?;
    let jobs = c.expect(PROMPT, T)?;
    let listed =
        |what: &str, state: &str| jobs.lines().any(|l| l.contains(what) && l.contains(state));
    if !listed("sleep 1000", "Running") || !listed("sleep 300", "Stopped") {
        return Err(format!("jobs after ^Z: {jobs:?}"));
    }
    c.line("fg %2")?;
    c.expect("sleep 300", T).map_err(|e| format!("fg: {e}"))?;
    let interrupts = signal_until(c, "\x03", PROMPT).map_err(|e| format!("^C after fg: {e}"))?;
    c.line("echo fg-status-$?")?;
    c.expect("fg-status-$?", T)?;
    c.expect("fg-status-", T)?;
    // Reported, not judged: the prompt's return within seconds of ^C
    // already shows that `sleep 300` ended.
    let status = c.expect(PROMPT, T)?;
    Ok(format!("^Z stopped the foreground sleep ({stops} ^Z sent), jobs listed it Stopped beside sleep 1000 Running, fg resumed it, ^C ended it ({interrupts} ^C sent, then $? = {})", status.trim()))
}

/// Types the control character `key` until `needle` shows, at most 5
/// times 3 s: the shell gives a new job the terminal (tcsetpgrp) only
/// after it echoed the command, so under TCG an early key can reach the
/// shell's own group, which ignores it. Returns how many were sent.
fn signal_until(c: &mut Telnet, key: &str, needle: &str) -> Result<usize, String> {
    let mut last = String::new();
    for tries in 1..=5 {
        std::thread::sleep(Duration::from_millis(500));
        c.send(key)?;
        match c.expect(needle, Duration::from_secs(3)) {
            Ok(_) => return Ok(tries),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Lines of 1 KiB the shell prints before the dump (the ckpt kind).
const QUEUED: usize = 3000;

/// The queued output as the client read it after the restore: every line
/// `Q-<i>-<pad>` exactly once, in order (no loss, no duplicate).
pub(crate) fn check_queued(text: &str, count: usize, half: &str) -> Result<String, String> {
    let mut pad = String::from("0123456789abcdef");
    for _ in 0..6 {
        pad = pad.clone() + &pad;
    }
    let mut numbers = Vec::new();
    let mut whole = 0;
    let mut echo_in = Vec::new();
    let mut bad = Vec::new();
    for l in text.split('\n') {
        let l = l.trim_end_matches('\r');
        let Some(rest) = l.find("Q-").map(|i| &l[i + 2..]) else {
            continue;
        };
        let Some((n, tail)) = rest.split_once('-') else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else {
            continue;
        };
        numbers.push(n);
        if tail == pad {
            whole += 1;
        } else if tail.replacen(half, "", 1) == pad {
            // The half line's echo, queued where the output stood when it
            // was typed.
            echo_in.push(n);
        } else {
            bad.push(n);
        }
    }
    let expected: Vec<usize> = (0..count).collect();
    if numbers != expected {
        let first_bad = numbers
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(numbers.len().min(expected.len()));
        return Err(format!(
            "queued output: {} lines read, expected {count} in order; first difference at line {first_bad}: {:?}",
            numbers.len(),
            numbers.get(first_bad)
        ));
    }
    // Every line intact but at most one, which carries the half line's
    // echo (`half-`) once.
    if !bad.is_empty() || echo_in.len() > 1 {
        return Err(format!(
            "queued output: lines {bad:?} damaged, lines {echo_in:?} with the echo of {half:?}"
        ));
    }
    Ok(format!(
        "the client read the queued output exactly once after the restore: {count} lines in order, {whole} intact, the echo of {half:?} inside line(s) {echo_in:?}, {} bytes",
        text.len()
    ))
}

/// Between dump and restore, removes the module and loads it again
/// (`ckpt-load -u`, `ckpt-load`), as a fresh arrival server would have it:
/// nothing of the dumped container may keep it (its ckptpts instance went
/// with its mount namespace; the plugin's watcher lets go once criu
/// exited, so a few tries are allowed). Returns what it took.
pub(crate) fn reload_module() -> Result<String, String> {
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let (st, out) = sys::sh("ckpt-load -u 2>&1");
        if st == 0 {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "ckpt-load -u after the dump failed {tries} times: {out}\nckptpts mounts: {}\nprocesses:\n{}",
                sys::sh("grep ckptpts /proc/mounts").1,
                processes()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, lsmod) = sys::sh("grep -c '^ckpt_pty ' /proc/modules");
    if lsmod.trim() != "0" {
        return Err(format!("ckpt_pty still loaded after ckpt-load -u: {lsmod}"));
    }
    let (st, out) = sys::sh("ckpt-load 2>&1");
    if st != 0 {
        return Err(format!("ckpt-load after the dump: {out}"));
    }
    Ok(format!(
        "module removed and loaded again between dump and restore ({tries} tries of ckpt-load -u, {:.2} s)",
        start.elapsed().as_secs_f64()
    ))
}

/// What CRIU says without each of the two options the ckpt kind needs
/// (Documentation/criu.rst): both dumps must fail, leaving the container
/// running (the caller checks the session answers).
fn refused_dumps(pid: &str) -> Result<(), String> {
    let images = format!("{WORK}/refused-img");
    sys::sh(&format!("mkdir -p {images}"));
    let base = ["-t", pid, "--tcp-established", "-D", images.as_str()];
    let cases: [(&str, &[&str], &str); 2] = [
        (
            "without --enable-fs ckptpts",
            &["--lib", PLUGIN_DIR],
            "dump-no-enable-fs.log",
        ),
        (
            "without the plugin",
            &["--enable-fs", "ckptpts"],
            "dump-no-plugin.log",
        ),
    ];
    for (what, extra, log) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        match criu("dump", &args, log) {
            Ok(_) => return Err(format!("criu dump {what} succeeded")),
            Err(_) => {
                let errors = log_lines(log, "Error");
                let first = errors
                    .iter()
                    .find(|l| !l.contains("legacy"))
                    .cloned()
                    .unwrap_or_default();
                println!("# ckpt: criu dump {what}: {first}");
            }
        }
    }
    Ok(())
}

/// A dump that fails after the plugin checkpointed (and froze) the ptys:
/// a post-dump action script refuses, so CRIU leaves the tasks running.
/// CRIU calls the plugin's `exit` before that script, with success, so
/// the plugin's watcher must thaw the ends once criu exits (the caller
/// checks that the session answers).
fn failed_dump(pid: &str) -> Result<(), String> {
    let script = format!("{WORK}/fail-post-dump");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] && exit 1\nexit 0\n",
    )
    .map_err(|e| format!("{script}: {e}"))?;
    sys::sh(&format!("chmod +x {script}; mkdir -p {WORK}/fail-img"));
    let images = format!("{WORK}/fail-img");
    let mut args = vec![
        "-t",
        pid,
        "--tcp-established",
        "-D",
        &images,
        "--action-script",
        &script,
    ];
    args.extend_from_slice(Pts::Ckpt.criu_args());
    if criu("dump", &args, "dump-fail.log").is_ok() {
        return Err("criu dump succeeded despite the failing post-dump script".into());
    }
    for l in log_lines("dump-fail.log", "ckpt_pty: ") {
        println!("# ckpt: failed dump: {l}");
    }
    let (_, alive) = sys::sh(&format!("[ -d /proc/{pid} ] && echo alive"));
    if !alive.contains("alive") {
        return Err(format!(
            "the container's init {pid} died in the failed dump"
        ));
    }
    Ok(())
}

/// Starts the container; returns its init's pid (in our namespace).
fn start_container(kind: Pts) -> Result<String, String> {
    let pid = start_named_container(kind, NAME, ADDR)?;
    std::fs::write(format!("{WORK}/pid"), &pid).map_err(|e| e.to_string())?;
    Ok(pid)
}

/// Starts container `name` at `addr` (telnet on PORT); returns its
/// init's pid (in our namespace).
pub(crate) fn start_named_container(kind: Pts, name: &str, addr: &str) -> Result<String, String> {
    let out = Command::new("/bin/criu-container")
        .args([
            "start",
            name,
            addr,
            &PORT.to_string(),
            kind.container_kind(),
        ])
        .env("PATH", CRIU_PATH)
        .output()
        .map_err(|e| format!("criu-container: {e}"))?;
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || pid.parse::<u32>().is_err() {
        return Err(format!(
            "criu-container start: {pid}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!("# {}: container {name} init pid {pid}", kind.name());
    Ok(pid)
}

/// Connects and waits for the shell's prompt.
fn login() -> Result<Telnet, String> {
    let mut c = Telnet::connect_to(ADDR, PORT)?;
    c.expect(PROMPT, T)?;
    Ok(c)
}

/// `criu restore` of container `name` from `{WORK}/img` into its root,
/// with its veth back on the host's bridge, detached (`-d`).
pub(crate) fn restore_container(name: &str, kind: Pts) -> Result<Duration, String> {
    let images = format!("{WORK}/img");
    let veth = format!("eth0={name}-h@ctr-br");
    let root = format!("/ctr/{name}");
    // CRIU writes the restored init's pid there, and will not overwrite.
    let pidfile = format!("{WORK}/pid");
    std::fs::remove_file(&pidfile).map_err(|e| format!("{pidfile}: {e}"))?;
    let mut args = vec![
        "-D",
        &images,
        "--tcp-established",
        "--root",
        &root,
        "--veth-pair",
        &veth,
        "-d",
        "--pidfile",
        &pidfile,
    ];
    args.extend_from_slice(kind.criu_args());
    criu("restore", &args, "restore.log")
}

/// Runs `criu CMD ARGS -o WORK/LOG -v4`; returns its wall-clock time, or
/// on failure its error lines and the end of its log.
pub(crate) fn criu(cmd: &str, args: &[&str], log: &str) -> Result<Duration, String> {
    let log = format!("{WORK}/{log}");
    let start = Instant::now();
    let out = Command::new("/usr/sbin/criu")
        .arg(cmd)
        .args(args)
        .args(["-o", &log, "-v4"])
        .env("PATH", CRIU_PATH)
        .output()
        .map_err(|e| format!("criu {cmd}: {e}"))?;
    let took = start.elapsed();
    println!(
        "# criu {cmd} {}: {:.2} s, exit {}",
        args.join(" "),
        took.as_secs_f64(),
        out.status.code().unwrap_or(-1)
    );
    if out.status.success() {
        return Ok(took);
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // CRIU probes for iptables-legacy first: those errors are expected.
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error") && !l.contains("legacy"))
        .take(20)
        .collect();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(format!(
        "criu {cmd} failed ({}){}\nerrors:\n{}\nlog tail:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        errors.join("\n"),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// pid, name, state, ppid, pgrp, session, tty_nr, tpgid of every user
/// process (from /proc/PID/stat), for a failed dump.
pub(crate) fn processes() -> String {
    let mut rows = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return String::new();
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses.
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let f: Vec<&str> = tail.split_whitespace().collect();
        // Kernel threads have parent 2 (or are 2).
        if f.len() < 6 || f[1] == "2" || name == "2" {
            continue;
        }
        rows.push(format!(
            "{name} {} state {} ppid {} pgrp {} sid {} tty {} tpgid {}",
            head.split_once('(').map(|x| x.1).unwrap_or(""),
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5]
        ));
    }
    rows.join("\n")
}

/// `PID fd N -> PATH` for every descriptor of a `.../control` file.
pub(crate) fn control_fds() -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid.parse::<u32>().is_err() {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if link.to_string_lossy().ends_with("/control") {
                    found.push(format!(
                        "{pid} fd {} -> {}",
                        fd.file_name().to_string_lossy(),
                        link.display()
                    ));
                }
            }
        }
    }
    found
}

/// Lines of a CRIU log in WORK containing `what`.
pub(crate) fn log_lines(log: &str, what: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{WORK}/{log}"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(what))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Gaps of over a second between consecutive timestamped lines of a CRIU
/// log (`(12.345678) text`): where the time of a dump or restore goes.
fn slow_phases(log: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{WORK}/{log}")).unwrap_or_default();
    let mut out = Vec::new();
    let mut last: Option<(f64, &str)> = None;
    for l in text.lines() {
        let Some(t) = l
            .trim_start()
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .and_then(|(t, _)| t.trim().parse::<f64>().ok())
        else {
            continue;
        };
        if let Some((t0, l0)) = last {
            if t - t0 > 1.0 {
                out.push(format!("{log}: {:.1} s after {:?}", t - t0, l0.trim()));
            }
        }
        last = Some((t, l));
    }
    out
}

pub(crate) fn first_line_with(text: &str, what: &str) -> String {
    text.lines()
        .find(|l| l.contains(what))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The pid in a `jobs -l` line (`[1]+ 17 Running sleep 1000`).
fn job_pid(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find(|w| w.bytes().all(|b| b.is_ascii_digit()))
}

/// Prints the measurements; fails when the session did not continue or the
/// half-typed line fared otherwise than `kind` is known to.
fn judge(kind: Pts, o: &Observed) -> Result<(), String> {
    let k = kind.name();
    println!(
        "# {k}: dump {:.2} s, restore {:.2} s, images {} KiB; the shell answered {:.2} s after the restore",
        o.dump.as_secs_f64(),
        o.restore.as_secs_f64(),
        o.image_kib,
        o.resume.as_secs_f64(),
    );
    println!("# {k}: image files (KiB): {}", o.image_files.trim());
    println!(
        "# {k}: images {} bytes in all; terminal images (bytes): {}",
        o.image_bytes,
        o.tty_images.trim()
    );
    for l in &o.slow {
        println!("# {k}: slow: {l}");
    }
    for l in &o.tty_data {
        println!("# {k}: criu: {l}");
    }
    println!(
        "# {k}: tty {:?} -> {:?}, a new login after the move {:?}; job {:?} -> {:?}",
        o.tty_before, o.tty_after, o.tty_new, o.job_before, o.job_after
    );
    println!(
        "# {k}: typed {HALF:?} before the dump and {REST:?} after it: the shell read {:?}",
        o.line
    );

    println!(
        "# {k}: the shell's terminal (pgrp, session, tty_nr, tpgid) {:?} -> {:?}",
        (
            o.stat_before.pgrp,
            o.stat_before.session,
            o.stat_before.tty_nr,
            o.stat_before.tpgid
        ),
        (
            o.stat_after.pgrp,
            o.stat_after.session,
            o.stat_after.tty_nr,
            o.stat_after.tpgid
        ),
    );
    match &o.job_control {
        Ok(s) => println!("# {k}: job control after the restore: {s}"),
        Err(e) => println!("# {k}: job control after the restore failed: {e}"),
    }
    let mut problems = Vec::new();
    if !o.stat_before.owns_terminal() || !o.stat_after.owns_terminal() {
        problems.push(format!(
            "the shell does not own its terminal: before the dump {:?}, after the restore {:?}",
            o.stat_before, o.stat_after
        ));
    }
    if let Err(e) = &o.job_control {
        problems.push(format!("job control after the restore: {e}"));
    }
    if o.tty_before != "/dev/pts/1" || o.tty_before != o.tty_after || o.tty_new != "/dev/pts/0" {
        problems.push(format!(
            "ttys: the session's {:?} -> {:?} (expected /dev/pts/1), a new login's {:?} (expected /dev/pts/0)",
            o.tty_before, o.tty_after, o.tty_new
        ));
    }
    let pid = job_pid(&o.job_before);
    if !o.job_before.contains("Running")
        || !o.job_after.contains("Running")
        || pid.is_none()
        || job_pid(&o.job_after) != pid
    {
        problems.push(format!(
            "background job: {:?} -> {:?}",
            o.job_before, o.job_after
        ));
    }
    if let Pts::Ckpt = kind {
        let matched = o
            .tty_data
            .iter()
            .any(|l| l.contains("CKPT_SOCKET_RESTORED"));
        // The plugin's own association (no test help): made by the first
        // dump that reaches the master (the failed one, whose thaw keeps
        // it, or the real one).
        let associated: Vec<String> = log_lines("dump-fail.log", "ckpt_pty:")
            .into_iter()
            .chain(log_lines("dump.log", "ckpt_pty:"))
            .filter(|l| l.contains("associated with the connected TCP socket"))
            .collect();
        if associated.is_empty() {
            problems.push(
                "the plugin did not associate telnetd's master with its connection at the dump"
                    .to_string(),
            );
        } else {
            for l in &associated {
                println!("# ckpt: {l}");
            }
        }
        if !matched {
            problems.push(
                "the plugin did not match the restored TCP socket to its pair (CKPT_SOCKET_RESTORED)"
                    .to_string(),
            );
        }
    }
    if !o.control_fds.is_empty() {
        problems.push(format!(
            "control files still open after the move: {}",
            o.control_fds.join(", ")
        ));
    }
    let expected = kind.expected_line();
    if o.line != expected {
        problems.push(format!(
            "the shell read {:?} after the move, expected {expected:?} on {k}",
            o.line
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_at_its_prompt_owns_its_terminal() {
        let at_prompt = parse_stat("16 (sh) S 1 16 16 64513 16 4194560 0 0").unwrap();
        assert_eq!(
            at_prompt,
            ShellStat {
                pid: 16,
                pgrp: 16,
                session: 16,
                tty_nr: 64513,
                tpgid: 16
            }
        );
        assert!(at_prompt.owns_terminal());
        // A job in the foreground, no controlling tty, not a leader.
        for stat in [
            "16 (sh) S 1 16 16 64513 20 0",
            "16 (sh) S 1 16 16 0 -1 0",
            "16 (sh) S 1 16 12 64513 16 0",
        ] {
            assert!(!parse_stat(stat).unwrap().owns_terminal(), "{stat}");
        }
        assert!(parse_stat("garbage").is_err());
    }

    fn queued_lines(lines: std::ops::Range<usize>, echo_at: Option<usize>) -> String {
        let mut pad = String::from("0123456789abcdef");
        for _ in 0..6 {
            pad = pad.clone() + &pad;
        }
        lines
            .map(|i| match echo_at {
                Some(e) if e == i => format!("Q-{i}-{}half-{}\r\n", &pad[..10], &pad[10..]),
                _ => format!("Q-{i}-{pad}\r\n"),
            })
            .collect()
    }

    #[test]
    fn queued_output_must_arrive_exactly_once_in_order() {
        assert!(check_queued(&queued_lines(0..5, Some(2)), 5, "half-").is_ok());
        assert!(check_queued(&queued_lines(0..5, None), 5, "half-").is_ok());
        // A line lost, a line repeated, a line damaged.
        assert!(check_queued(&queued_lines(0..4, None), 5, "half-").is_err());
        let twice = queued_lines(0..3, None) + &queued_lines(2..5, None);
        assert!(check_queued(&twice, 5, "half-").is_err());
        let damaged = queued_lines(0..5, None).replacen("abc", "abd", 1);
        assert!(check_queued(&damaged, 5, "half-").is_err());
    }
}
