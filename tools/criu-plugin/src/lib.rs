// SPDX-License-Identifier: GPL-2.0
//! A CRIU plugin for ckpt_pty (Documentation/criu.rst): CRIU dumps and
//! restores the processes, the plugin the ptys they hold, through ckpt_pty's
//! own checkpoint and restart — every queued byte and the half-typed line
//! included.
//!
//! CRIU 3.17 (`criu/criu-plugin.h`, plugin version 0.2.0) `dlopen`s
//! `libckpt_pty_criu.so` from the `--lib` directory and calls:
//!
//! - dump, in the criu process: [`dump::dump_ext_file`] for every file it
//!   does not know, on its own copy of the task's descriptor. Both ends of a
//!   ckpt_pty pair are such files (their majors are dynamic, so CRIU's tty
//!   code does not take the slave). Each end is checkpointed with
//!   `CKPT_LEAVE_FROZEN` into `ckpt-pty-<ID>.img`; `exit` thaws them again
//!   if the dump failed.
//! - restore, in the restored task that opens the file, after its session
//!   and process group are back: [`restore::restore_ext_file`]. The first
//!   call begins the instance's restart session; each call opens its end
//!   (slave by path, master with `CKPT_OPEN_MASTER`) and restarts it.
//! - restore, in the criu process, for every task once all are restored
//!   and stopped: [`restore::resume_devices_late`], which matches the
//!   restored sockets to the pairs that serve them (when the images record
//!   an association) and commits the session (the control file waits in
//!   criu's fdstore meanwhile).
//!
//! No panic crosses into CRIU: every entry point runs under
//! [`std::panic::catch_unwind`], and every refusal is one line in CRIU's
//! log.

pub mod dump;
pub mod image;
pub mod procfs;
pub mod restore;

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `CR_PLUGIN_STAGE__DUMP` and friends (`init`'s and `exit`'s argument).
pub const STAGE_DUMP: c_int = 0;
/// `CR_PLUGIN_STAGE__PRE_DUMP`.
pub const STAGE_PRE_DUMP: c_int = 1;
/// `CR_PLUGIN_STAGE__RESTORE`.
pub const STAGE_RESTORE: c_int = 2;

/// `CR_PLUGIN_HOOK__DUMP_EXT_FILE`.
const HOOK_DUMP_EXT_FILE: usize = 2;
/// `CR_PLUGIN_HOOK__RESTORE_EXT_FILE`.
const HOOK_RESTORE_EXT_FILE: usize = 3;
/// `CR_PLUGIN_HOOK__RESUME_DEVICES_LATE`.
const HOOK_RESUME_DEVICES_LATE: usize = 9;
/// `CR_PLUGIN_HOOK__MAX` of CRIU 3.17.
const HOOK_MAX: usize = 10;

/// `CRIU_PLUGIN_GEN_VERSION(0, 2, 0)`.
const PLUGIN_VERSION: c_uint = 2 << 8;

/// `cr_plugin_desc_t` of `criu-plugin.h`.
#[repr(C)]
pub struct PluginDesc {
    name: *const c_char,
    init: unsafe extern "C" fn(c_int) -> c_int,
    exit: unsafe extern "C" fn(c_int, c_int),
    version: c_uint,
    max_hooks: c_uint,
    hooks: [*const c_void; HOOK_MAX],
}

// SAFETY: The descriptor is immutable; its pointers are to a static string
// and to functions, which any thread may read.
unsafe impl Sync for PluginDesc {}

const fn hooks() -> [*const c_void; HOOK_MAX] {
    let mut h = [std::ptr::null(); HOOK_MAX];
    h[HOOK_DUMP_EXT_FILE] = cr_dump_ext_file as *const c_void;
    h[HOOK_RESTORE_EXT_FILE] = cr_restore_ext_file as *const c_void;
    h[HOOK_RESUME_DEVICES_LATE] = cr_resume_devices_late as *const c_void;
    h
}

/// What CRIU looks up with `dlsym` (`CR_PLUGIN_REGISTER`).
#[no_mangle]
pub static CR_PLUGIN_DESC: PluginDesc = PluginDesc {
    name: c"ckpt_pty".as_ptr(),
    init: cr_init,
    exit: cr_exit,
    version: PLUGIN_VERSION,
    max_hooks: HOOK_MAX as c_uint,
    hooks: hooks(),
};

/// CRIU's log levels (`LOG_ERROR`, `LOG_WARN`, `LOG_INFO`).
#[derive(Clone, Copy)]
pub enum Level {
    /// An error.
    Error = 1,
    /// A warning.
    Warn = 2,
    /// Information.
    Info = 3,
}

type PrintOnLevel = unsafe extern "C" fn(c_uint, *const c_char, ...);

/// Looks `name` up among the symbols of the process (criu exports its
/// plugin API): `None` outside criu, e.g. in the host tests.
pub(crate) fn criu_symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the loaded
    // objects and keeps no pointer.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

/// One line in CRIU's log (`print_on_level`, so it has CRIU's timestamp and
/// obeys `-v`), or on stderr outside criu.
pub fn log(level: Level, msg: &str) {
    let tag = match level {
        Level::Error => "Error: ",
        Level::Warn => "Warning: ",
        Level::Info => "",
    };
    let line = format!("ckpt_pty: {tag}{msg}\n");
    let Some(p) = criu_symbol(c"print_on_level") else {
        eprint!("{line}");
        return;
    };
    let Ok(text) = CString::new(line.replace('\0', "\\0")) else {
        return;
    };
    // SAFETY: `print_on_level` is criu's `void print_on_level(unsigned int
    // loglevel, const char *format, ...)`; the format "%s" takes exactly the
    // one NUL-terminated string passed.
    unsafe {
        let f: PrintOnLevel = std::mem::transmute::<*mut c_void, PrintOnLevel>(p);
        f(level as c_uint, c"%s".as_ptr(), text.as_ptr());
    }
}

/// `criu_get_image_dir()`: a descriptor of the image directory.
pub fn image_dir() -> Result<c_int, String> {
    let p = criu_symbol(c"criu_get_image_dir")
        .ok_or("criu_get_image_dir not found: not running inside criu")?;
    // SAFETY: `criu_get_image_dir` is criu's `int criu_get_image_dir(void)`.
    let fd = unsafe {
        let f: unsafe extern "C" fn() -> c_int =
            std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> c_int>(p);
        f()
    };
    if fd < 0 {
        Err(format!("criu_get_image_dir() returned {fd}"))
    } else {
        Ok(fd)
    }
}

/// Runs `f`, turning a panic into `on_panic` and a log line.
fn guard<T>(what: &str, on_panic: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(e) => {
            let why = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log(
                Level::Error,
                &format!("{what}: internal error (panic) {why}"),
            );
            on_panic
        }
    }
}

unsafe extern "C" fn cr_init(stage: c_int) -> c_int {
    guard("init", -1, || {
        log(Level::Info, &format!("init({})", stage_name(stage)));
        match stage {
            STAGE_DUMP | STAGE_PRE_DUMP => dump::init(),
            STAGE_RESTORE => restore::init(),
            _ => 0,
        }
    })
}

fn stage_name(stage: c_int) -> String {
    match stage {
        STAGE_DUMP => "DUMP".into(),
        STAGE_PRE_DUMP => "PRE_DUMP".into(),
        STAGE_RESTORE => "RESTORE".into(),
        n => n.to_string(),
    }
}

unsafe extern "C" fn cr_exit(stage: c_int, ret: c_int) {
    guard("exit", (), || {
        if stage != STAGE_RESTORE {
            log(Level::Info, &format!("exit({}, {ret})", stage_name(stage)));
        }
        match stage {
            STAGE_DUMP => dump::exit(ret),
            STAGE_RESTORE => restore::exit(ret),
            _ => {}
        }
    })
}

/// Runs a hook under [`guard`]; logs how long it took when it acted
/// (returned anything but `-ENOTSUP`).
fn timed(what: &str, f: impl FnOnce() -> c_int) -> c_int {
    let start = std::time::Instant::now();
    let ret = guard(what, -1, f);
    if ret != -libc::ENOTSUP {
        log(
            Level::Info,
            &format!(
                "{what}: returned {ret} after {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            ),
        );
    }
    ret
}

unsafe extern "C" fn cr_dump_ext_file(fd: c_int, id: c_int) -> c_int {
    timed(&format!("DUMP_EXT_FILE {id}"), || {
        dump::dump_ext_file(fd, id)
    })
}

unsafe extern "C" fn cr_restore_ext_file(id: c_int) -> c_int {
    timed(&format!("RESTORE_EXT_FILE {id}"), || {
        restore::restore_ext_file(id)
    })
}

unsafe extern "C" fn cr_resume_devices_late(pid: c_int) -> c_int {
    timed(&format!("RESUME_DEVICES_LATE {pid}"), || {
        restore::resume_devices_late(pid)
    })
}
