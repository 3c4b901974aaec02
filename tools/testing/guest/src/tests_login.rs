// SPDX-License-Identifier: GPL-2.0
//! An unmodified login server on ckpt_pty: busybox `telnetd` in a mount
//! namespace where the bind-mount recipe puts a ckptpts instance over
//! `/dev/pts` and its `ptmx` over `/dev/ptmx` (Documentation/pty.rst), a
//! telnet client over loopback, and a login shell with job control — the
//! same session as on the native pty.

use crate::ensure;
use crate::ktap::{TestFn, TestResult};
use crate::pty::PtyKind;
use crate::script::native_only;
use crate::sys;
use crate::telnet::Telnet;
use crate::uapi::PTS_DIR;
use std::ffi::CString;
use std::time::Duration;

pub const TESTS: &[(&str, TestFn)] = &[
    ("login_glibc_openpt_bind_mount_recipe", glibc_openpt),
    ("login_telnetd_bind_mount_recipe", telnetd_login),
];

const PROMPT: &str = "login-prompt$ ";

fn telnetd_login() -> TestResult {
    let native = login_session(PtyKind::Native, 2323).map_err(|e| format!("native: {e}"))?;
    if native_only() {
        return Ok(());
    }
    let ckpt = login_session(PtyKind::Ckpt, 2324).map_err(|e| format!("ckpt: {e}"))?;
    ensure!(
        ckpt == native,
        "ckpt differs from native:\n  native: {native}\n  ckpt:   {ckpt}"
    );
    Ok(())
}

/// Starts busybox telnetd in a new mount namespace (with the recipe for
/// ckpt_pty), logs in over loopback and drives a shell with job control.
fn login_session(kind: PtyKind, port: u16) -> Result<String, String> {
    serve(kind, port, drive).map(|(_, r)| r)?
}

/// Runs telnetd (`kind`'s ptys) on `port` while `client` runs.
fn serve<T>(
    kind: PtyKind,
    port: u16,
    client: impl FnOnce(u16) -> Result<T, String>,
) -> Result<(i32, Result<T, String>), String> {
    let script = match kind {
        PtyKind::Native => String::new(),
        PtyKind::Ckpt => {
            format!("mount --bind {PTS_DIR}/ptmx /dev/ptmx && mount --bind {PTS_DIR} /dev/pts && ")
        }
    };
    let cmd = format!("mount --make-rprivate / && {script}exec telnetd -F -p {port} -l /bin/sh");
    let sh = CString::new("/bin/sh").map_err(|e| e.to_string())?;
    let args = [
        CString::new("sh").map_err(|e| e.to_string())?,
        CString::new("-c").map_err(|e| e.to_string())?,
        CString::new(cmd).map_err(|e| e.to_string())?,
    ];
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let env = [
        CString::new(format!("PS1={PROMPT}")).map_err(|e| e.to_string())?,
        CString::new("PATH=/bin:/sbin").map_err(|e| e.to_string())?,
        CString::new("HOME=/tmp").map_err(|e| e.to_string())?,
    ];
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: the child only unshares its mount namespace and execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", sys::last_errno()));
    }
    if pid == 0 {
        // SAFETY: prepared before the fork; exec or exit.
        unsafe {
            libc::setsid();
            libc::unshare(libc::CLONE_NEWNS);
            libc::execve(sh.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let result = client(port);
    // SAFETY: kill the server's whole session and reap it.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    Ok((pid, result))
}

/// `make demo`: the login session, shown as the user sees it.
pub fn demo(port: u16) -> Result<(), String> {
    let (_, result) = serve(PtyKind::Ckpt, port, |port| {
        let mut c = Telnet::connect(port)?;
        c.echo = true;
        session(&mut c, true)
    })?;
    result.map(|_| ())
}

fn drive(port: u16) -> Result<String, String> {
    let mut c = Telnet::connect(port)?;
    session(&mut c, false)
}

fn session(c: &mut Telnet, show: bool) -> Result<String, String> {
    let t = Duration::from_secs(20);
    // telnetd's `-l /bin/sh` shell (PS1 comes from telnetd's environment):
    // wait for its first prompt, then sync on a marker.
    c.expect(PROMPT, t)?;
    c.line("echo ready-$((1+1))")?;
    c.expect("ready-2", t)?;
    c.expect(PROMPT, t)?;
    c.line("tty")?;
    let tty = c.expect(PROMPT, t)?;
    if show {
        c.line("ps -o pid,tty,stat,comm")?;
        c.expect(PROMPT, t)?;
    }
    let tty_ok = tty.lines().any(|l| l.trim().starts_with("/dev/pts/"));
    ensure!(tty_ok, "tty printed {tty:?}");
    c.line("test -c /dev/tty && echo ctty-$((1+1))")?;
    c.expect("ctty-2", t)?;
    c.expect(PROMPT, t)?;
    c.line("sleep 100 &")?;
    c.expect(PROMPT, t)?;
    c.line("jobs")?;
    let jobs = c.expect(PROMPT, t)?;
    ensure!(jobs.contains("Running"), "jobs printed {jobs:?}");
    c.line("echo fg-job; sleep 50")?;
    c.expect("fg-job\r\n", t)?;
    std::thread::sleep(Duration::from_millis(500));
    // ^Z travels as a byte through telnetd into the master.
    c.send("\x1a")?;
    c.expect("Stopped", t)?;
    c.expect(PROMPT, t)?;
    c.line("fg")?;
    c.expect("sleep 50", t)?;
    std::thread::sleep(Duration::from_millis(500));
    c.send("\x03")?;
    c.expect(PROMPT, t)?;
    c.line("kill %1; wait; echo done-$((3+4))")?;
    c.expect("done-7", t)?;
    c.expect(PROMPT, t)?;
    c.line("exit")?;
    Ok("tty=/dev/pts/N ctty=yes jobs=Running ^Z=Stopped fg+^C=prompt".into())
}

/// glibc's `posix_openpt`, `grantpt`, `unlockpt` and `ptsname` work
/// unchanged through the recipe, as on devpts.
fn glibc_openpt() -> TestResult {
    let native = openpt_story(PtyKind::Native).map_err(|e| format!("native: {e}"))?;
    ensure!(
        native == "ptsname=/dev/pts/N ttyname=same grantpt=ok unlockpt=ok data=hi",
        "native: {native}"
    );
    if native_only() {
        return Ok(());
    }
    let ckpt = openpt_story(PtyKind::Ckpt).map_err(|e| format!("ckpt: {e}"))?;
    ensure!(ckpt == native, "ckpt: {ckpt}\nnative: {native}");
    Ok(())
}

fn openpt_story(kind: PtyKind) -> Result<String, String> {
    let mut p = [0i32; 2];
    // SAFETY: `p` has room for two descriptors.
    if unsafe { libc::pipe(p.as_mut_ptr()) } < 0 {
        return Err(sys::last_errno());
    }
    // SAFETY: the child reports through the pipe and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let text = openpt_in_namespace(kind).unwrap_or_else(|e| format!("error: {e}"));
        // SAFETY: writes our own buffer, then leaves.
        unsafe {
            libc::write(p[1], text.as_ptr().cast(), text.len());
            libc::_exit(0);
        }
    }
    // SAFETY: our descriptors; reap our child.
    unsafe {
        libc::close(p[1]);
        let mut buf = [0u8; 512];
        let n = libc::read(p[0], buf.as_mut_ptr().cast(), buf.len());
        libc::close(p[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        Ok(String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned())
    }
}

fn openpt_in_namespace(kind: PtyKind) -> Result<String, String> {
    // SAFETY: plain system calls in our own child.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } < 0 {
        return Err(format!("unshare: {}", sys::last_errno()));
    }
    let recipe = match kind {
        PtyKind::Native => "mount --make-rprivate /".to_string(),
        PtyKind::Ckpt => format!(
            "mount --make-rprivate / && mount --bind {PTS_DIR}/ptmx /dev/ptmx && mount --bind {PTS_DIR} /dev/pts"
        ),
    };
    let (st, out) = sys::sh(&format!("{recipe} 2>&1"));
    if st != 0 {
        return Err(format!("recipe: {out}"));
    }
    // SAFETY: the libc pty functions on a descriptor we own.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        if m < 0 {
            return Err(format!("posix_openpt: {}", sys::last_errno()));
        }
        let g = if libc::grantpt(m) == 0 {
            "ok".to_string()
        } else {
            sys::last_errno()
        };
        let u = if libc::unlockpt(m) == 0 {
            "ok".to_string()
        } else {
            sys::last_errno()
        };
        let name = libc::ptsname(m);
        if name.is_null() {
            return Err(format!("ptsname: {}", sys::last_errno()));
        }
        let name = std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned();
        let c = CString::new(name.clone()).map_err(|x| x.to_string())?;
        let s = libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        if s < 0 {
            return Err(format!("open {name}: {}", sys::last_errno()));
        }
        let mut tn = [0u8; 128];
        let tn_ok = libc::ttyname_r(s, tn.as_mut_ptr().cast(), tn.len()) == 0
            && std::ffi::CStr::from_ptr(tn.as_ptr().cast()).to_string_lossy() == name;
        libc::write(m, b"hi\n".as_ptr().cast(), 3);
        let mut buf = [0u8; 8];
        let n = libc::read(s, buf.as_mut_ptr().cast(), buf.len());
        let data = String::from_utf8_lossy(&buf[..n.max(0) as usize])
            .trim()
            .to_string();
        let shown =
            if name.starts_with("/dev/pts/") && name[9..].bytes().all(|b| b.is_ascii_digit()) {
                "/dev/pts/N".to_string()
            } else {
                name
            };
        Ok(format!(
            "ptsname={shown} ttyname={} grantpt={g} unlockpt={u} data={data}",
            if tn_ok { "same" } else { "other" }
        ))
    }
}
