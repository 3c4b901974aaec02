// SPDX-License-Identifier: GPL-2.0
//! `ckptctl restore`: recreate every end of an image in one restart
//! session, then run a command with one process's descriptors.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pty_core::image::PtyMode;
use pty_core::waitlist::Orphan;
use pty_core::End;

use crate::cli::Order;
use crate::container::{mode_name, Constraint, StreamRecord};
use crate::ends;
use crate::error::{Failure, Kind, Result};
use crate::inspect;
use crate::sys::{self, CommitError};
use crate::uapi;

/// What `restore` was asked to do.
#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// Image file.
    pub image: PathBuf,
    /// Order of the ends.
    pub order: Order,
    /// Seed of [`Order::Random`].
    pub seed: Option<u64>,
    /// Whose descriptors the command gets.
    pub pid: Option<u32>,
    /// Make a restored slave the command's controlling terminal.
    pub ctty: bool,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// splitmix64: a small, seedable generator (no dependency needed).
#[derive(Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() as u128) * (n as u128)) >> 64) as usize
    }
}

/// The order in which the `n` streams are restored.
pub fn stream_order(n: usize, order: Order, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    match order {
        Order::Image => {}
        Order::Reverse => v.reverse(),
        Order::Random => {
            let mut rng = SplitMix::new(seed);
            for i in (1..n).rev() {
                v.swap(i, rng.below(i + 1));
            }
        }
    }
    v
}

/// The `CKPT_SESSION_BEGIN` table: every AT&T pair of the image with the
/// ends it has, by index.
pub fn session_entries(streams: &[StreamRecord]) -> Vec<uapi::RestartEntry> {
    let mut ends: BTreeMap<u32, u32> = BTreeMap::new();
    for s in streams.iter().filter(|s| s.mode == PtyMode::Att) {
        *ends.entry(s.index).or_default() |= match s.kind {
            End::Master => uapi::CKPT_END_MASTER,
            End::Slave => uapi::CKPT_END_SLAVE,
        };
    }
    ends.into_iter()
        .map(|(index, ends)| uapi::RestartEntry { index, ends })
        .collect()
}

/// Open flags to reopen a file with: access mode and the status flags
/// `open` honours; never a controlling terminal.
pub fn reopen_flags(recorded: u32) -> i32 {
    let keep = libc::O_ACCMODE | libc::O_NONBLOCK | libc::O_APPEND | crate::procfs::O_LARGEFILE;
    (recorded as i32 & keep) | libc::O_NOCTTY
}

/// The node of an end.
pub fn node_path(s: &StreamRecord) -> String {
    match (s.mode, s.kind) {
        (PtyMode::Att, End::Slave) => format!("{}/{}", uapi::PTS_DIR, s.index),
        (PtyMode::Att, End::Master) => uapi::PTMX_PATH.to_string(),
        (PtyMode::Bsd, End::Master) => format!("{}/pty{}", uapi::PTS_DIR, s.index),
        (PtyMode::Bsd, End::Slave) => format!("{}/tty{}", uapi::PTS_DIR, s.index),
    }
}

fn describe(s: &StreamRecord) -> String {
    match s.mode {
        PtyMode::Att => format!("pty {} {}", s.index, s.kind.name()),
        PtyMode::Bsd => format!("BSD pty {} {}", s.index, s.kind.name()),
    }
}

/// The message for orphans at commit.
pub fn orphans_message(count: u32, records: &[u8]) -> String {
    let (whole, _) = records.as_chunks::<{ uapi::ORPHAN_RECORD_LEN }>();
    let names: Vec<String> = whole
        .iter()
        .map(|r| {
            Orphan::from_record(r)
                .map_or_else(|| "an unknown orphan".to_string(), |o| o.to_string())
        })
        .collect();
    let more = (count as usize).saturating_sub(names.len());
    let mut list = names.join(", ");
    if more > 0 {
        list.push_str(&format!(", and {more} more"));
    }
    format!(
        "the restart session was rolled back: {count} expected end{} never restored ({list}); \
         nothing was changed. Check that the image holds every end of every pair (ckptctl \
         inspect) and see the kernel log (dmesg)",
        if count == 1 { " was" } else { "s were" }
    )
}

/// Failure of `CKPT_RESTART` on stream `i`.
fn restart_failure(i: usize, s: &StreamRecord, e: &std::io::Error) -> Failure {
    let what = describe(s);
    let errno = sys::errno_name(e);
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => Failure::new(
            Kind::Permission,
            format!(
                "the kernel refused to restart {what} ({errno}): restoring needs \
                 CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN; run ckptctl as root"
            ),
        ),
        Some(libc::EPROTONOSUPPORT) => Failure::new(
            Kind::Version,
            format!(
                "the loaded module cannot restore stream {i} ({what}): {errno}; the image is of \
                 another module version or build: load the module that dumped it"
            ),
        ),
        Some(libc::EINVAL) | Some(libc::EBADMSG) => Failure::new(
            Kind::Image,
            format!(
                "the kernel refused the image of stream {i} ({what}): {errno}; see the kernel \
                 log (dmesg) for the reason and check the file with `ckptctl inspect`"
            ),
        ),
        Some(libc::EBUSY) => Failure::new(
            Kind::Busy,
            format!("{what} is in use or was restored already ({errno}); close the pty first"),
        ),
        _ => Failure::io(format_args!("restart {what}"), e),
    }
}

/// Failure of opening an end.
fn open_failure(s: &StreamRecord, e: &std::io::Error) -> Failure {
    let what = describe(s);
    match (s.mode, e.raw_os_error()) {
        (PtyMode::Bsd, Some(libc::EIO)) | (PtyMode::Bsd, Some(libc::EBUSY)) => Failure::new(
            Kind::Busy,
            format!(
                "{what} is in use ({}): the BSD pair must be free; close the programs using {}",
                sys::errno_name(e),
                node_path(s)
            ),
        ),
        (_, Some(libc::ENOENT)) if !ends::module_loaded() => Failure::module_not_loaded(),
        _ => Failure::io(format_args!("open {what} ({})", node_path(s)), e),
    }
}

/// Why `CKPT_SESSION_BEGIN` failed.
fn begin_failure(control: &OwnedFd, entries: &[uapi::RestartEntry], e: &std::io::Error) -> Failure {
    match e.raw_os_error() {
        Some(libc::EBUSY) => {
            let active = sys::global_status(control.as_fd()).is_ok_and(|g| g.session_active != 0);
            if active {
                return Failure::new(
                    Kind::Busy,
                    "another restart session is in progress on /dev/ckpt/control; wait for it \
                     to finish and try again",
                );
            }
            let busy: Vec<String> = entries
                .iter()
                .filter(|e| Path::new(&format!("{}/{}", uapi::PTS_DIR, e.index)).exists())
                .map(|e| e.index.to_string())
                .collect();
            let which = if busy.is_empty() {
                "a pty index of the image is".to_string()
            } else {
                format!(
                    "pty {} {} (/dev/ckpt/pts/{} exists)",
                    busy.join(", "),
                    if busy.len() == 1 { "is" } else { "are" },
                    busy[0]
                )
            };
            Failure::new(
                Kind::Busy,
                format!(
                    "{which} in use: a restored pair keeps its original index; close the \
                     programs using it (ckptctl status shows them) and try again"
                ),
            )
        }
        Some(libc::EINVAL) => {
            let max = sys::global_status(control.as_fd())
                .map(|g| g.max_pairs)
                .unwrap_or(0);
            Failure::other(format!(
                "the module refused the restart session (EINVAL): an index of the image may \
                 exceed its max_pairs ({max}); load it with a larger max_pairs"
            ))
        }
        _ => Failure::io("begin a restart session (CKPT_SESSION_BEGIN)", e),
    }
}

/// Progress on stderr: "restored 512/4096 ends".
struct Progress {
    total: usize,
    tty: bool,
}

impl Progress {
    const MIN: usize = 64;

    fn new(total: usize) -> Self {
        Self {
            total,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, done: usize) {
        if self.total < Self::MIN || (!done.is_multiple_of(256) && done != self.total) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let end = if self.tty && done != self.total {
            "\r"
        } else {
            "\n"
        };
        let _ = write!(err, "restored {done}/{} ends{end}", self.total);
        let _ = err.flush();
    }
}

/// Opens and restarts every stream in `order`; returns the descriptor of
/// every file, by file number.
fn restore_streams(
    l: &inspect::Loaded,
    order: &[usize],
    control: Option<&OwnedFd>,
) -> Result<Vec<Option<OwnedFd>>> {
    let c = &l.container;
    let mut files: Vec<Option<OwnedFd>> = (0..c.files.len()).map(|_| None).collect();
    let mut progress = Progress::new(order.len());
    for (done, &i) in order.iter().enumerate() {
        let s = &c.streams[i];
        let mut mine = c
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.stream as usize == i)
            .map(|(n, f)| (n, f.flags));
        let Some((primary, flags)) = mine.next() else {
            return Err(Failure::new(
                Kind::Image,
                format!("stream {i} ({}) is held by no file", describe(s)),
            ));
        };
        let flags = reopen_flags(flags);
        let fd = match (s.mode, s.kind, control) {
            (PtyMode::Att, End::Master, Some(control)) => {
                sys::open_master(control.as_fd(), s.index, flags).map_err(|e| {
                    Failure::io(format_args!("open {} (CKPT_OPEN_MASTER)", describe(s)), &e)
                })?
            }
            _ => sys::open(&node_path(s), flags).map_err(|e| open_failure(s, &e))?,
        };
        sys::restart(fd.as_fd(), &s.image).map_err(|e| restart_failure(i, s, &e))?;
        // Further open files of the same end: a slave is opened again, a
        // master (one file per pair) shares the first.
        for (n, f) in mine {
            let extra = match s.kind {
                End::Slave => sys::open(&node_path(s), reopen_flags(f)),
                End::Master => fd.try_clone(),
            }
            .map_err(|e| open_failure(s, &e))?;
            files[n] = Some(extra);
        }
        files[primary] = Some(fd);
        progress.update(done + 1);
    }
    Ok(files)
}

/// Restores every stream; returns the descriptor of every file (by file
/// number) and the control file (whose session is committed).
fn restore_all(
    l: &inspect::Loaded,
    order: &[usize],
) -> Result<(Vec<Option<OwnedFd>>, Option<OwnedFd>)> {
    let c = &l.container;
    let entries = session_entries(&c.streams);
    let control = if entries.is_empty() {
        None
    } else {
        let control = sys::open(uapi::CONTROL_PATH, libc::O_RDWR).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOENT) {
                Failure::module_not_loaded()
            } else {
                Failure::io(format_args!("open {}", uapi::CONTROL_PATH), &e)
            }
        })?;
        sys::session_begin(control.as_fd(), &entries)
            .map_err(|e| begin_failure(&control, &entries, &e))?;
        Some(control)
    };

    let files = restore_streams(l, order, control.as_ref()).map_err(|mut f| {
        if control.is_some() {
            f.message.push_str("; the restart session was rolled back");
        }
        f
    })?;

    if let Some(control) = &control {
        match sys::session_commit(control.as_fd(), 64) {
            Ok(()) => {}
            Err(CommitError::Orphans(o)) => {
                return Err(Failure::new(
                    Kind::Orphans,
                    orphans_message(o.count, &o.records),
                ))
            }
            Err(CommitError::Io(e)) => {
                return Err(Failure::io(
                    "commit the restart session (CKPT_SESSION_COMMIT)",
                    &e,
                ))
            }
        }
    }
    Ok((files, control))
}

/// The (target descriptor, file number) pairs of process `pid`.
pub fn fds_for(l: &inspect::Loaded, pid: u32) -> Vec<(i32, usize)> {
    l.container
        .holders
        .iter()
        .filter(|h| h.pid == pid)
        .map(|h| (h.fd as i32, h.file as usize))
        .collect()
}

/// Runs `restore`; returns only on failure (on success the process becomes
/// the command).
pub fn run(opts: &RestoreOptions) -> Failure {
    match run_inner(opts) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

fn run_inner(opts: &RestoreOptions) -> Result<std::convert::Infallible> {
    let Some((program, args)) = opts.command.split_first() else {
        return Err(Failure::usage("give the command to run after --"));
    };
    let l = load_restorable(&opts.image)?;
    let (pid, targets) = targets_of(&l, opts.pid)?;
    ends::require_module()?;
    let order = stream_order(l.container.streams.len(), opts.order, seed_of(opts));
    let (files, control) = restore_all(&l, &order)?;
    announce(&l, opts, program, pid, &targets);

    // A channel for the exec error once descriptor 2 may be replaced.
    let above_targets = highest_target(&targets).saturating_add(1);
    let err_out = sys::dup_at_least(std::io::stderr().as_fd(), above_targets.max(10)).ok();
    install(files, control, &targets, err_out.as_ref())?;
    let c = &l.container;
    let ctty = if opts.ctty {
        controlling_slave(&targets, |file| {
            c.files
                .get(file)
                .and_then(|f| c.streams.get(f.stream as usize))
                .is_some_and(|s| s.kind == End::Slave)
        })
    } else {
        None
    };
    if let Some(fd) = ctty {
        become_session_of(fd, err_out.as_ref());
    }
    let e = Command::new(program).args(args).exec();
    let msg = format!(
        "ckptctl: cannot run {}: {}; the restored ptys are closed again\n",
        program.to_string_lossy(),
        sys::errno_name(&e)
    );
    write_err(err_out.as_ref(), &msg);
    std::process::exit(Kind::Other.exit_code());
}

/// Reads and checks `image` for this build; it must hold an end.
fn load_restorable(image: &Path) -> Result<inspect::Loaded> {
    let l = inspect::load(image, Constraint::ThisBuild)?;
    if l.container.streams.is_empty() {
        return Err(Failure::new(
            Kind::Image,
            format!("{} holds no pty end: nothing to restore", image.display()),
        ));
    }
    Ok(l)
}

/// The process whose descriptors the command gets (`pid`, else the first
/// holder's) and its (target descriptor, file number) pairs; a process
/// without any is a usage error that lists the image's processes.
fn targets_of(l: &inspect::Loaded, pid: Option<u32>) -> Result<(u32, Vec<(i32, usize)>)> {
    let holders = &l.container.holders;
    let pid = pid.unwrap_or_else(|| holders.first().map_or(0, |h| h.pid));
    let targets = fds_for(l, pid);
    if targets.is_empty() {
        let mut seen = std::collections::HashSet::new();
        let pids: Vec<String> = holders
            .iter()
            .map(|h| h.pid)
            .filter(|p| seen.insert(*p))
            .map(|p| p.to_string())
            .collect();
        return Err(Failure::usage(format!(
            "--pid {pid}: the image has no descriptors of process {pid}; it has those of {}",
            pids.join(", ")
        )));
    }
    Ok((pid, targets))
}

/// The seed of the restore order: `--seed`, else from the clock; printed
/// for `--order random` so that an order can be repeated.
fn seed_of(opts: &RestoreOptions) -> u64 {
    let seed = opts.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    if opts.order == Order::Random {
        eprintln!("ckptctl: restoring in random order, seed {seed}");
    }
    seed
}

/// Tells what was restored and what `program` gets, and notes the ends
/// only other processes of the image held (they close when it starts).
fn announce(
    l: &inspect::Loaded,
    opts: &RestoreOptions,
    program: &OsString,
    pid: u32,
    targets: &[(i32, usize)],
) {
    let c = &l.container;
    let mut pairs: Vec<(u8, u32)> = c
        .streams
        .iter()
        .map(|s| (s.mode.as_u8(), s.index))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let fd_list: Vec<String> = targets.iter().map(|(fd, _)| fd.to_string()).collect();
    eprintln!(
        "ckptctl: restored {} ends of {} ptys from {}; running {} with descriptors {} of process \
         {pid}",
        c.streams.len(),
        pairs.len(),
        opts.image.display(),
        program.to_string_lossy(),
        fd_list.join(", ")
    );
    for (i, s) in c.streams.iter().enumerate() {
        if !targets
            .iter()
            .any(|&(_, f)| c.files[f].stream as usize == i)
        {
            eprintln!(
                "ckptctl: note: {} ({} mode) is held only by other processes of the image; it \
                 closes when {} starts",
                describe(s),
                mode_name(s.mode),
                program.to_string_lossy()
            );
        }
    }
}

/// The highest target descriptor (0 for none).
fn highest_target(targets: &[(i32, usize)]) -> i32 {
    targets.iter().map(|&(fd, _)| fd).max().unwrap_or(0)
}

/// Installs each target's restored file at its descriptor number. Every
/// restored file is first moved above every target, so installing one
/// cannot clobber another's source, nor close an end that must stay open
/// until the command starts (a master closed early hangs its slave up).
/// Failing to install exits: descriptors may already be replaced.
fn install(
    files: Vec<Option<OwnedFd>>,
    control: Option<OwnedFd>,
    targets: &[(i32, usize)],
    err_out: Option<&OwnedFd>,
) -> Result<()> {
    let floor = highest_target(targets).saturating_add(1).max(3);
    let above = |fd: &OwnedFd| {
        sys::dup_at_least(fd.as_fd(), floor)
            .map_err(|e| Failure::io("duplicate a restored descriptor", &e))
    };
    let files = files
        .into_iter()
        .map(|slot| slot.as_ref().map(above).transpose())
        .collect::<Result<Vec<Option<OwnedFd>>>>()?;
    let mut moved = Vec::with_capacity(targets.len());
    for &(target, file) in targets {
        let src = files
            .get(file)
            .and_then(Option::as_ref)
            .ok_or_else(|| Failure::other(format!("file {file} was not restored")))?;
        moved.push((target, above(src)?));
    }
    // From here on nothing is dropped: descriptors that dup2 replaces are
    // not ours any more, and the rest are close-on-exec.
    std::mem::forget(files);
    std::mem::forget(control);
    for (target, high) in &moved {
        if let Err(e) = sys::dup2_keep(high.as_fd(), *target) {
            let msg = format!(
                "ckptctl: cannot install descriptor {target}: {}\n",
                sys::errno_name(&e)
            );
            write_err(err_out, &msg);
            std::process::exit(Kind::Other.exit_code());
        }
    }
    std::mem::forget(moved);
    Ok(())
}

/// The descriptor (of `targets`) whose slave becomes the controlling
/// terminal: descriptor 0 if it is a slave, else the lowest-numbered slave.
pub fn controlling_slave(
    targets: &[(i32, usize)],
    is_slave: impl Fn(usize) -> bool,
) -> Option<i32> {
    let mut slaves: Vec<i32> = targets
        .iter()
        .filter(|&&(_, file)| is_slave(file))
        .map(|&(fd, _)| fd)
        .collect();
    slaves.sort_unstable();
    slaves.first().copied()
}

/// Makes the calling process the leader of a new session whose
/// controlling terminal is the slave at `fd`, its group in the foreground.
/// A process-group leader cannot start a session, so ckptctl forks: the
/// child goes on (to exec the command), the parent waits for it and exits
/// with its status.
fn become_session_of(fd: i32, err: Option<&OwnedFd>) {
    // SAFETY: plain system call.
    if unsafe { libc::setsid() } < 0 {
        // SAFETY: fork; the child continues below, the parent only waits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            write_err(err, "ckptctl: cannot fork for a new session\n");
            std::process::exit(Kind::Other.exit_code());
        }
        if pid > 0 {
            wait_and_exit_as(pid);
        }
        // SAFETY: the child is no group leader: setsid succeeds.
        unsafe { libc::setsid() };
    }
    // SAFETY: an ioctl with an integer argument on a descriptor we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        let e = std::io::Error::last_os_error();
        let msg = format!(
            "ckptctl: note: the slave at descriptor {fd} cannot be the controlling terminal: {}\n",
            sys::errno_name(&e)
        );
        write_err(err, &msg);
        return;
    }
    // SAFETY: as above; our own group becomes the foreground one.
    unsafe { libc::tcsetpgrp(fd, libc::getpgrp()) };
}

/// The parent's part of [`become_session_of`]: it holds no restored end
/// (they are the child's now) and leaves as the child does.
fn wait_and_exit_as(pid: i32) -> ! {
    // SAFETY: closing every descriptor but the standard error copies is
    // harmless for a process that only waits from here on.
    unsafe {
        for fd in 0..1024 {
            libc::close(fd);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            std::process::exit(Kind::Other.exit_code());
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code);
}

fn write_err(fd: Option<&OwnedFd>, msg: &str) {
    if let Some(fd) = fd {
        if let Ok(clone) = fd.try_clone() {
            let mut f = std::fs::File::from(clone);
            let _ = f.write_all(msg.as_bytes());
        }
    }
}
