// SPDX-License-Identifier: GPL-2.0
//! Slave ttys: a tty driver and a line discipline whose operations are Rust
//! functions, so each slave is a real `struct tty_struct` (controlling
//! terminal, job control, hangup, the tty core's permission checks) while
//! every byte and every bit of line-discipline state stays in the module.
//!
//! The operation tables and the few inline kernel functions we need are in
//! `tty_bridge.c` (6.12's bindings lack the tty types); the driver supplies
//! a [`SlaveTtyOps`] implementation and instantiates the C entry points
//! with [`slave_tty_entry_points!`]. Handles here are thin: [`Tty`] is a tty
//! the tty core lends for one call, [`SlaveFile`] an open file that keeps a
//! tty alive, [`TtyPort`] the port every tty needs.

use super::file::File;
use super::poll::PollTable;
use super::process::PidRef;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    ffi::{c_char, c_int, c_uint, c_ulong, c_void},
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// `struct tty_driver` (absent from 6.12's bindings).
#[repr(C)]
pub(crate) struct RawTtyDriver {
    _opaque: [u8; 0],
}

/// `struct tty_port` (absent from 6.12's bindings).
#[repr(C)]
pub(crate) struct RawTtyPort {
    _opaque: [u8; 0],
}

/// `struct ktermios`: the user `struct termios2` layout (checked by a
/// `static_assert` in tty_bridge.c).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KTermios {
    pub(crate) c_iflag: u32,
    pub(crate) c_oflag: u32,
    pub(crate) c_cflag: u32,
    pub(crate) c_lflag: u32,
    pub(crate) c_line: u8,
    pub(crate) c_cc: [u8; 19],
    pub(crate) c_ispeed: u32,
    pub(crate) c_ospeed: u32,
}

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawWinsize {
    pub(crate) rows: u16,
    pub(crate) cols: u16,
    pub(crate) xpixel: u16,
    pub(crate) ypixel: u16,
}

/// The line discipline number the module registers (`N_DEVELOPMENT`).
pub(crate) const LDISC: i32 = 29;

/// `ENOIOCTLCMD`: "not mine, ask the next layer" (kernel-internal, so not
/// one of the core's [`crate::pty_core::errno::Errno`] values).
const ENOIOCTLCMD: i32 = bindings::ENOIOCTLCMD as i32;

#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_tty_driver_alloc(
        driver_name: *const c_char,
        name: *const c_char,
        lines: c_uint,
    ) -> *mut RawTtyDriver;
    fn ckpt_pty_tty_driver_major(driver: *const RawTtyDriver) -> c_int;
    fn ckpt_pty_tty_driver_destroy(driver: *mut RawTtyDriver);
    fn ckpt_pty_ldisc_register() -> c_int;
    fn ckpt_pty_ldisc_unregister();
    fn ckpt_pty_port_alloc() -> *mut RawTtyPort;
    fn ckpt_pty_port_free(port: *mut RawTtyPort);
    fn ckpt_pty_tty_driver_data(tty: *const bindings::tty_struct) -> *mut c_void;
    fn ckpt_pty_tty_set_driver_data(tty: *mut bindings::tty_struct, data: *mut c_void);
    fn ckpt_pty_tty_driver(tty: *const bindings::tty_struct) -> *mut RawTtyDriver;
    fn ckpt_pty_tty_count(tty: *const bindings::tty_struct) -> c_int;
    fn ckpt_pty_tty_termios(tty: *const bindings::tty_struct, out: *mut KTermios);
    fn ckpt_pty_tty_set_cflag(tty: *mut bindings::tty_struct, cflag: c_uint);
    fn ckpt_pty_tty_store_termios(tty: *mut bindings::tty_struct, t: *const KTermios);
    fn ckpt_pty_tty_store_winsize(tty: *mut bindings::tty_struct, ws: *const RawWinsize);
    fn ckpt_pty_tty_exclusive(tty: *const bindings::tty_struct) -> c_int;
    fn ckpt_pty_tty_set_exclusive(tty: *mut bindings::tty_struct, on: c_int);
    fn ckpt_pty_tty_lock_line(tty: *mut bindings::tty_struct);
    fn ckpt_pty_tty_is_current_ctty(tty: *const bindings::tty_struct) -> c_int;
    fn ckpt_pty_tty_session(tty: *mut bindings::tty_struct) -> *mut bindings::pid;
    fn ckpt_pty_file_tty(file: *const bindings::file) -> *mut bindings::tty_struct;
    fn ckpt_pty_file_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> i64;
    fn ckpt_pty_get_file(file: *mut bindings::file) -> *mut bindings::file;

    fn tty_register_driver(driver: *mut RawTtyDriver) -> c_int;
    fn tty_driver_kref_put(driver: *mut RawTtyDriver);
    fn tty_vhangup(tty: *mut bindings::tty_struct);
    fn tty_get_pgrp(tty: *mut bindings::tty_struct) -> *mut bindings::pid;
    fn tty_check_change(tty: *mut bindings::tty_struct) -> c_int;
    fn tty_hung_up_p(file: *mut bindings::file) -> c_int;
    fn tty_mode_ioctl(tty: *mut bindings::tty_struct, cmd: c_uint, arg: c_ulong) -> c_int;
    fn tty_do_resize(tty: *mut bindings::tty_struct, ws: *mut RawWinsize) -> c_int;
}

/// The tty drivers this module registered: only their ttys carry our
/// `driver_data`, so the line discipline refuses every other tty.
static OUR_DRIVERS: [AtomicPtr<RawTtyDriver>; 2] = [
    AtomicPtr::new(core::ptr::null_mut()),
    AtomicPtr::new(core::ptr::null_mut()),
];

/// A tty the tty core lent us for the duration of one call.
///
/// # Invariants
///
/// A `&Tty` is only made from a pointer to a live `struct tty_struct`, and
/// never outlives the call (or the [`SlaveFile`]) that keeps it alive.
#[repr(transparent)]
pub(crate) struct Tty(Opaque<bindings::tty_struct>);

impl Tty {
    /// # Safety
    ///
    /// `ptr` must point to a live tty for all of `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::tty_struct) -> &'a Self {
        // SAFETY: `Tty` is a transparent wrapper of the C struct, and the
        // caller guarantees that the pointee lives for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_ptr(&self) -> *mut bindings::tty_struct {
        self.0.get()
    }

    /// Whether one of this module's drivers made this tty.
    fn is_ours(&self) -> bool {
        // SAFETY: The tty is alive (type invariant), and its `driver` is set
        // at allocation and never changes.
        let driver = unsafe { ckpt_pty_tty_driver(self.as_ptr()) };
        OUR_DRIVERS
            .iter()
            .any(|d| !driver.is_null() && d.load(Ordering::Acquire) == driver)
    }

    /// Open files of the tty (`tty->count`), the module's own included.
    pub(crate) fn count(&self) -> i32 {
        // SAFETY: The tty is alive (type invariant); `count` is a plain word.
        unsafe { ckpt_pty_tty_count(self.as_ptr()) }
    }

    /// A snapshot of the tty core's termios.
    pub(crate) fn termios(&self) -> KTermios {
        let mut t = KTermios::default();
        // SAFETY: The tty is alive (type invariant), and `t` is valid for
        // writes of a `struct ktermios` (same layout, asserted in C).
        unsafe { ckpt_pty_tty_termios(self.as_ptr(), &mut t) };
        t
    }

    /// Replaces the tty core's termios without telling the line
    /// discipline (restart loads ldterm itself).
    pub(crate) fn store_termios(&self, t: &KTermios) {
        // SAFETY: The tty is alive (type invariant); the C side takes
        // `termios_rwsem` and copies the struct.
        unsafe { ckpt_pty_tty_store_termios(self.as_ptr(), t) }
    }

    /// Sets the window size without signalling anybody (restart).
    pub(crate) fn store_winsize(&self, ws: &RawWinsize) {
        // SAFETY: The tty is alive (type invariant); the C side takes
        // `winsize_mutex`.
        unsafe { ckpt_pty_tty_store_winsize(self.as_ptr(), ws) }
    }

    /// `TIOCSWINSZ` as the tty core does it: a changed size is stored and
    /// `SIGWINCH` goes to the foreground process group.
    pub(crate) fn resize(&self, ws: &RawWinsize) -> Result {
        let mut copy = *ws;
        // SAFETY: The tty is alive (type invariant), and `copy` is a valid
        // winsize that `tty_do_resize` only reads.
        to_result(unsafe { tty_do_resize(self.as_ptr(), &mut copy) })
    }

    /// `TIOCEXCL` state (`TTY_EXCLUSIVE`).
    pub(crate) fn exclusive(&self) -> bool {
        // SAFETY: The tty is alive (type invariant); the flag is an atomic
        // bit.
        unsafe { ckpt_pty_tty_exclusive(self.as_ptr()) != 0 }
    }

    pub(crate) fn set_exclusive(&self, on: bool) {
        // SAFETY: The tty is alive (type invariant); the flag is an atomic
        // bit.
        unsafe { ckpt_pty_tty_set_exclusive(self.as_ptr(), c_int::from(on)) }
    }

    /// Whether this tty is the calling process's controlling terminal.
    pub(crate) fn is_callers_ctty(&self) -> bool {
        // SAFETY: The tty is alive (type invariant); the C side only
        // compares it with the caller's controlling tty.
        unsafe { ckpt_pty_tty_is_current_ctty(self.as_ptr()) != 0 }
    }

    /// The foreground process group (`tty_get_pgrp`), if any.
    pub(crate) fn foreground(&self) -> Option<PidRef> {
        // SAFETY: The tty is alive (type invariant); `tty_get_pgrp` returns
        // a counted reference or null, which `PidRef` takes over.
        unsafe { PidRef::from_counted(tty_get_pgrp(self.as_ptr())) }
    }

    /// The session this tty controls, if any.
    pub(crate) fn session(&self) -> Option<PidRef> {
        // SAFETY: The tty is alive (type invariant); the C side returns a
        // counted reference taken under `ctrl.lock`, or null, which
        // `PidRef` takes over.
        unsafe { PidRef::from_counted(ckpt_pty_tty_session(self.as_ptr())) }
    }

    /// Sends `sig` to the foreground process group, as the line
    /// discipline does for `ISIG` characters (`__isig`).
    pub(crate) fn signal_foreground(&self, sig: i32) {
        if let Some(pgrp) = self.foreground() {
            pgrp.signal(sig);
        }
    }

    /// The tty core's background-process check for output and settings
    /// (`tty_check_change`: `SIGTTOU`, or `EIO` for an orphaned group).
    pub(crate) fn check_change(&self) -> Result {
        // SAFETY: The tty is alive (type invariant), and this runs in process
        // context, as `tty_check_change` may sleep.
        to_result(unsafe { tty_check_change(self.as_ptr()) })
    }

    /// The tty core's termios ioctls (`TCGETS`, `TCSETS*`, termios2,
    /// locked termios...), applied to this tty; `ENOTTY` for any other.
    pub(crate) fn mode_ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: The tty is alive (type invariant); `arg` is the caller's
        // user pointer, which `tty_mode_ioctl` only reaches with uaccess.
        let r = unsafe { tty_mode_ioctl(self.as_ptr(), cmd, arg as c_ulong) };
        match r {
            r if r >= 0 => Ok(r as isize),
            r if r == -ENOIOCTLCMD => Err(ENOTTY),
            r => Err(Error::from_errno(r)),
        }
    }

    /// Keeps `c_line` (our ldisc) whatever `TCSETS*` ask, also after a
    /// privileged `TIOCSLCKTRMIOS`.
    pub(crate) fn lock_line(&self) {
        // SAFETY: The tty is alive (type invariant); the C side takes
        // `termios_rwsem`.
        unsafe { ckpt_pty_tty_lock_line(self.as_ptr()) }
    }
}

/// A counted tty pointer handed back to the tty core from `lookup`.
#[derive(Clone, Copy)]
pub(crate) struct TtyPtr(NonNull<bindings::tty_struct>);

/// What `lookup` found for a node being opened.
pub(crate) enum Lookup<D> {
    /// The node's tty exists: open it.
    Existing(TtyPtr),
    /// The node's tty is being created by this thread: make it, for `D`.
    Create(Arc<D>),
}

/// The terminal settings inside the driver's `set_termios`, where the tty
/// core holds `termios_rwsem` for writing.
pub(crate) struct LockedTermios<'a>(&'a Tty);

impl LockedTermios<'_> {
    pub(crate) fn get(&self) -> KTermios {
        self.0.termios()
    }

    pub(crate) fn set_cflag(&mut self, cflag: u32) {
        // SAFETY: The tty is alive (type invariant of `Tty`), and the tty
        // core holds `termios_rwsem` for writing around this call.
        unsafe { ckpt_pty_tty_set_cflag(self.0.as_ptr(), cflag) }
    }
}

/// Whether `file`, an open file of a tty, was hung up (`tty_hung_up_p`).
pub(crate) fn file_hung_up(file: &File) -> bool {
    // SAFETY: The file is valid for the call (type invariant of `File`).
    unsafe { tty_hung_up_p(file.as_ptr()) != 0 }
}

/// The tty driver's and line discipline's operations, implemented by the
/// driver; each receives the `Data` it attached at `install`.
pub(crate) trait SlaveTtyOps: 'static {
    /// What each slave tty carries (its pair).
    type Data: Send + Sync + 'static;

    /// A node is being opened: its existing tty, or the pair whose tty
    /// this thread is creating.
    fn lookup(file: &File) -> Result<Lookup<Self::Data>>;
    /// A new tty for `data`: the port it uses.
    fn install(data: &Arc<Self::Data>, tty: &Tty) -> Result<NonNull<RawTtyPort>>;
    /// Every open of the tty, after the tty core's checks.
    fn open(data: ArcBorrow<'_, Self::Data>, tty: &Tty, file: &File) -> Result;
    /// Every close (also of a failed open), before `count` drops.
    fn close(data: ArcBorrow<'_, Self::Data>, tty: &Tty, file: &File);
    /// Raw output from the tty core itself (`tty_write_message`).
    fn write(data: ArcBorrow<'_, Self::Data>, buf: &[u8]) -> usize;
    fn write_room(data: ArcBorrow<'_, Self::Data>) -> u32;
    /// Driver ioctls; `None` passes `cmd` on to the line discipline.
    fn ioctl(
        data: ArcBorrow<'_, Self::Data>,
        tty: &Tty,
        cmd: u32,
        arg: usize,
    ) -> Option<Result<isize>>;
    /// New settings are being stored (the hardware's part of them).
    fn set_termios(data: ArcBorrow<'_, Self::Data>, termios: &mut LockedTermios<'_>);
    /// `TIOCSWINSZ` on the slave.
    fn resize(data: ArcBorrow<'_, Self::Data>, tty: &Tty, ws: &RawWinsize) -> Result;
    /// `TIOCSETD`: whether `ldisc` may replace ours.
    fn ldisc_ok(ldisc: i32) -> Result;

    /// Our line discipline attached to one of our ttys.
    fn ldisc_open(data: ArcBorrow<'_, Self::Data>, tty: &Tty) -> Result;
    /// Input flush (`TCSETSF`, hangup).
    fn flush_buffer(data: ArcBorrow<'_, Self::Data>, tty: &Tty);
    /// `read(2)`: `more` is true on a continuation call, and set by the
    /// callee when the same read should go on without waiting.
    fn read(
        data: ArcBorrow<'_, Self::Data>,
        tty: &Tty,
        file: &File,
        buf: &mut [u8],
        more: &mut bool,
    ) -> Result<usize>;
    /// `write(2)` (output processing).
    fn write_output(
        data: ArcBorrow<'_, Self::Data>,
        tty: &Tty,
        file: &File,
        buf: &[u8],
    ) -> Result<usize>;
    /// Line-discipline ioctls (`ENOTTY` for unknown ones).
    fn ldisc_ioctl(
        data: ArcBorrow<'_, Self::Data>,
        tty: &Tty,
        cmd: u32,
        arg: usize,
    ) -> Result<isize>;
    /// Settings changed (after [`SlaveTtyOps::set_termios`]); `old` are
    /// the previous ones.
    fn ldisc_set_termios(data: ArcBorrow<'_, Self::Data>, tty: &Tty, old: &KTermios);
    fn poll(data: ArcBorrow<'_, Self::Data>, tty: &Tty, file: &File, table: &PollTable) -> u32;
    /// The tty is being hung up: wake every sleeper.
    fn hangup(data: ArcBorrow<'_, Self::Data>, tty: &Tty);
    /// Input injected by the tty core (`TIOCSTI`).
    fn receive(data: ArcBorrow<'_, Self::Data>, tty: &Tty, bytes: &[u8]);
}

/// Raw entry points; [`slave_tty_entry_points!`] gives them their C names.
#[doc(hidden)]
pub(crate) mod entry {
    use super::*;

    /// The pair a `lookup` asked to be created, waiting for `install`.
    /// Both run under the tty core's `tty_mutex` (in `tty_open_by_driver`),
    /// so at most one creation is in flight.
    static INSTALLING: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

    /// Drops the pair `data` if a `lookup` left it waiting for an
    /// `install` that never came (the tty core failed in between).
    pub(crate) fn forget_install<D>(data: &Arc<D>) {
        let ours = (&**data as *const D).cast_mut().cast::<c_void>();
        if INSTALLING
            .compare_exchange(
                ours,
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            // SAFETY: `lookup` stored this reference with `Arc::into_raw`,
            // and the exchange took it back exactly once.
            drop(unsafe { Arc::<D>::from_raw(ours.cast_const().cast()) });
        }
    }

    fn err_ptr<T>(e: Error) -> *mut T {
        e.to_errno() as isize as *mut T
    }

    /// The data `install` attached to `tty`.
    ///
    /// # Safety
    ///
    /// `tty` is one of our ttys, between `install` and `cleanup`, and stays
    /// alive for `'a`.
    unsafe fn data<'a, T: SlaveTtyOps>(tty: *mut bindings::tty_struct) -> ArcBorrow<'a, T::Data> {
        // SAFETY: The caller guarantees that `tty` is alive.
        let raw = unsafe { ckpt_pty_tty_driver_data(tty) };
        // SAFETY: `install` stored an `Arc<T::Data>` from `into_raw` in
        // `driver_data`, which `cleanup` takes back only after the last call
        // (the caller guarantees we are before it).
        unsafe { ArcBorrow::from_raw(raw.cast::<T::Data>()) }
    }

    /// The data `install` attached to `tty`, and `tty` itself.
    ///
    /// # Safety
    ///
    /// As for [`data`].
    unsafe fn ours<'a, T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
    ) -> (ArcBorrow<'a, T::Data>, &'a Tty) {
        // SAFETY: The caller's guarantees are `data`'s.
        let data = unsafe { data::<T>(tty) };
        // SAFETY: The caller guarantees that `tty` stays alive for `'a`.
        let t = unsafe { Tty::from_raw(tty) };
        (data, t)
    }

    /// # Safety
    ///
    /// The tty core's `lookup` contract: `file` is being opened on a node
    /// of our driver, under `tty_mutex`.
    pub(crate) unsafe fn lookup<T: SlaveTtyOps>(
        file: *mut bindings::file,
    ) -> *mut bindings::tty_struct {
        // SAFETY: The file being opened is valid for the duration of the
        // open.
        let file = unsafe { File::from_raw(file) };
        match T::lookup(&file) {
            Ok(Lookup::Existing(tty)) => tty.0.as_ptr(),
            Ok(Lookup::Create(data)) => {
                let old = INSTALLING.swap(Arc::into_raw(data).cast_mut().cast(), Ordering::AcqRel);
                if !old.is_null() {
                    // SAFETY: A stale entry from a creation that failed
                    // before `install`; it came from `Arc::into_raw`.
                    drop(unsafe { Arc::<T::Data>::from_raw(old.cast()) });
                }
                core::ptr::null_mut()
            }
            Err(e) => err_ptr(e),
        }
    }

    /// # Safety
    ///
    /// The tty core's `install` contract: a new tty, under `tty_mutex`,
    /// right after [`lookup`] returned null.
    pub(crate) unsafe fn install<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
    ) -> *mut RawTtyPort {
        let raw = INSTALLING.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if raw.is_null() {
            return err_ptr(EIO);
        }
        // SAFETY: `lookup` stored this pointer from `Arc::into_raw`, and
        // the swap took it back exactly once.
        let data = unsafe { Arc::<T::Data>::from_raw(raw.cast()) };
        // SAFETY: The tty core passes a tty that lives for the call.
        let t = unsafe { Tty::from_raw(tty) };
        match T::install(&data, t) {
            Ok(port) => {
                let raw = Arc::into_raw(data).cast_mut().cast();
                // SAFETY: The tty is alive; `driver_data` is ours from here
                // until `cleanup` takes the reference back.
                unsafe { ckpt_pty_tty_set_driver_data(tty, raw) };
                port.as_ptr()
            }
            Err(e) => err_ptr(e),
        }
    }

    /// # Safety
    ///
    /// The tty core's `open` contract: one of our ttys, installed, locked,
    /// and `file` being opened on it.
    pub(crate) unsafe fn open<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: The file being opened is valid for the call.
        let f = unsafe { File::from_raw(file) };
        match T::open(data, t, &f) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The tty core's `close` contract: one of our ttys, installed, and
    /// `file` being closed on it.
    pub(crate) unsafe fn close<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        file: *mut bindings::file,
    ) {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: The file being closed is valid for the call.
        let f = unsafe { File::from_raw(file) };
        T::close(data, t, &f)
    }

    /// # Safety
    ///
    /// The tty core's `cleanup` contract: the last call for one of our
    /// ttys.
    pub(crate) unsafe fn cleanup<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) {
        // SAFETY: The tty is alive until this returns.
        let raw = unsafe { ckpt_pty_tty_driver_data(tty) };
        if raw.is_null() {
            return;
        }
        // SAFETY: The tty is alive until this returns.
        unsafe { ckpt_pty_tty_set_driver_data(tty, core::ptr::null_mut()) };
        // SAFETY: `raw` is the reference `install` stored with
        // `Arc::into_raw`; nothing uses the tty's data after cleanup, so it
        // is released here, once.
        drop(unsafe { Arc::<T::Data>::from_raw(raw.cast()) });
    }

    /// # Safety
    ///
    /// The tty core's `write` contract: one of our installed ttys, and
    /// `buf` holds `count` bytes.
    pub(crate) unsafe fn write<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        buf: *const u8,
        count: usize,
    ) -> isize {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let data = unsafe { data::<T>(tty) };
        // SAFETY: `buf` is a kernel buffer of `count` bytes for the call.
        let bytes = unsafe { slice(buf, count) };
        T::write(data, bytes) as isize
    }

    /// # Safety
    ///
    /// The tty core's `write_room` contract: one of our installed ttys.
    pub(crate) unsafe fn write_room<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) -> c_uint {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let data = unsafe { data::<T>(tty) };
        T::write_room(data)
    }

    /// # Safety
    ///
    /// The tty core's `ioctl` contract: one of our installed ttys; `arg`
    /// may be a user pointer.
    pub(crate) unsafe fn ioctl<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_int {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        match T::ioctl(data, t, cmd, arg as usize) {
            None => -ENOIOCTLCMD,
            Some(Ok(n)) => n as c_int,
            Some(Err(e)) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The tty core's `set_termios` contract: one of our installed ttys,
    /// `termios_rwsem` held for writing.
    pub(crate) unsafe fn set_termios<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        T::set_termios(data, &mut LockedTermios(t))
    }

    /// # Safety
    ///
    /// The tty core's `resize` contract: one of our installed ttys, and
    /// `ws` a valid winsize.
    pub(crate) unsafe fn resize<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        ws: *mut RawWinsize,
    ) -> c_int {
        // SAFETY: Only our driver's operations lead here, with one of our
        // installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: `ws` points to the tty core's copy of the new size.
        let ws = unsafe { *ws };
        match T::resize(data, t, &ws) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    pub(crate) fn ldisc_ok<T: SlaveTtyOps>(ldisc: c_int) -> c_int {
        match T::ldisc_ok(ldisc) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The ldisc `open` contract: a live tty, possibly not ours.
    pub(crate) unsafe fn ldisc_open<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) -> c_int {
        // SAFETY: The tty core passes a tty that lives for the call.
        let t = unsafe { Tty::from_raw(tty) };
        // Anyone may ask for our ldisc number on any tty (TIOCSETD); only
        // our ttys carry the pair it works on.
        if !t.is_ours() {
            return EINVAL.to_errno();
        }
        // SAFETY: The tty is alive, and one of ours: its `driver_data` is
        // ours to read.
        if unsafe { ckpt_pty_tty_driver_data(tty) }.is_null() {
            return EINVAL.to_errno();
        }
        // SAFETY: One of our ttys, installed (its data is set), alive for
        // the call.
        let data = unsafe { data::<T>(tty) };
        match T::ldisc_open(data, t) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The ldisc `flush_buffer` contract, on a tty our `ldisc_open`
    /// accepted.
    pub(crate) unsafe fn flush_buffer<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        T::flush_buffer(data, t)
    }

    /// # Safety
    ///
    /// The ldisc `read` contract, on a tty our `ldisc_open` accepted:
    /// `file` is valid, `buf` holds `nr` bytes, `cookie` is the tty core's
    /// continuation word.
    pub(crate) unsafe fn read<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        file: *mut bindings::file,
        buf: *mut u8,
        nr: usize,
        cookie: *mut *mut c_void,
    ) -> isize {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: The file being read is valid for the call.
        let f = unsafe { File::from_raw(file) };
        // SAFETY: `buf` is the tty core's kernel buffer of `nr` bytes, ours
        // to write for the call.
        let out = unsafe { slice_mut(buf, nr) };
        // SAFETY: `cookie` is a valid word owned by the tty core's loop.
        let mut more = unsafe { !(*cookie).is_null() };
        let r = T::read(data, t, &f, out, &mut more);
        // A non-null cookie asks the tty core to call again at once.
        let next = if more {
            tty.cast()
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: `cookie` is a valid word owned by the tty core's loop.
        unsafe { *cookie = next };
        match r {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// The ldisc `write` contract, on a tty our `ldisc_open` accepted:
    /// `file` is valid and `buf` holds `nr` bytes.
    pub(crate) unsafe fn write_output<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        file: *mut bindings::file,
        buf: *const u8,
        nr: usize,
    ) -> isize {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: The file being written is valid for the call.
        let f = unsafe { File::from_raw(file) };
        // SAFETY: `buf` is the tty core's kernel buffer of `nr` bytes.
        let bytes = unsafe { slice(buf, nr) };
        match T::write_output(data, t, &f, bytes) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// The ldisc `ioctl` contract, on a tty our `ldisc_open` accepted;
    /// `arg` may be a user pointer.
    pub(crate) unsafe fn ldisc_ioctl<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_int {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        match T::ldisc_ioctl(data, t, cmd, arg as usize) {
            Ok(n) => n as c_int,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// The ldisc `set_termios` contract, on a tty our `ldisc_open`
    /// accepted: `old` is null or valid for the call.
    pub(crate) unsafe fn ldisc_set_termios<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        old: *const KTermios,
    ) {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // Null on the first call, which we treat as "same".
        let old = if old.is_null() {
            t.termios()
        } else {
            // SAFETY: `old` is the tty core's copy, non-null and valid for
            // the call.
            unsafe { *old }
        };
        T::ldisc_set_termios(data, t, &old)
    }

    /// # Safety
    ///
    /// The ldisc `poll` contract, on a tty our `ldisc_open` accepted:
    /// `file` is valid, `table` null or valid for the call.
    pub(crate) unsafe fn poll<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> u32 {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: The file being polled is valid for the call.
        let f = unsafe { File::from_raw(file) };
        // SAFETY: The tty core passes a table that is null or valid for the
        // call.
        let pt = unsafe { PollTable::from_raw(table) };
        T::poll(data, t, &f, &pt)
    }

    /// # Safety
    ///
    /// The ldisc `hangup` contract, on a tty our `ldisc_open` accepted.
    pub(crate) unsafe fn hangup<T: SlaveTtyOps>(tty: *mut bindings::tty_struct) {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        T::hangup(data, t)
    }

    /// # Safety
    ///
    /// The ldisc `receive_buf` contract, on a tty our `ldisc_open`
    /// accepted: `cp` holds `count` bytes.
    pub(crate) unsafe fn receive<T: SlaveTtyOps>(
        tty: *mut bindings::tty_struct,
        cp: *const u8,
        count: usize,
    ) {
        // SAFETY: Only ttys our `ldisc_open` accepted run our ldisc: one of
        // our installed ttys, alive for the call.
        let (data, t) = unsafe { ours::<T>(tty) };
        // SAFETY: `cp` is the tty core's buffer of `count` bytes.
        let bytes = unsafe { slice(cp, count) };
        T::receive(data, t, bytes)
    }

    /// # Safety
    ///
    /// `ptr` is null with `len` 0, or valid for reads of `len` bytes for
    /// the rest of the call.
    unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
        if ptr.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: `ptr` is non-null and valid for reads of `len` bytes (the
        // function's safety requirement).
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    /// # Safety
    ///
    /// `ptr` is null with `len` 0, or valid for reads and writes of `len`
    /// bytes, and not otherwise accessed, for the rest of the call.
    unsafe fn slice_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
        if ptr.is_null() || len == 0 {
            return &mut [];
        }
        // SAFETY: `ptr` is non-null, valid for reads and writes of `len`
        // bytes and not otherwise accessed (the function's safety
        // requirement).
        unsafe { core::slice::from_raw_parts_mut(ptr, len) }
    }
}

/// Gives the entry points of `tty_bridge.c` their implementation by `$t`
/// (a [`SlaveTtyOps`]). Use once.
macro_rules! slave_tty_entry_points {
    ($t:ty) => {
        const _: () = {
            use kernel::bindings;
            use kernel::ffi::{c_int, c_uint, c_ulong, c_void};
            use $crate::seam::tty::{entry, KTermios, RawTtyDriver, RawTtyPort, RawWinsize};

            /// The slave tty's `lookup`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `lookup`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_lookup(
                _driver: *mut RawTtyDriver,
                file: *mut bindings::file,
                _idx: c_int,
            ) -> *mut bindings::tty_struct {
                // SAFETY: The tty core calls this as `lookup`, whose
                // contract is [`entry::lookup`]'s.
                unsafe { entry::lookup::<$t>(file) }
            }
            /// The slave tty's `install`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `install`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_install(
                _driver: *mut RawTtyDriver,
                tty: *mut bindings::tty_struct,
            ) -> *mut RawTtyPort {
                // SAFETY: The tty core calls this as `install`, whose
                // contract is [`entry::install`]'s.
                unsafe { entry::install::<$t>(tty) }
            }
            /// The slave tty's `open`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `open`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_open(
                tty: *mut bindings::tty_struct,
                file: *mut bindings::file,
            ) -> c_int {
                // SAFETY: The tty core calls this as `open`, whose
                // contract is [`entry::open`]'s.
                unsafe { entry::open::<$t>(tty, file) }
            }
            /// The slave tty's `close`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `close`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_close(
                tty: *mut bindings::tty_struct,
                file: *mut bindings::file,
            ) {
                // SAFETY: The tty core calls this as `close`, whose
                // contract is [`entry::close`]'s.
                unsafe { entry::close::<$t>(tty, file) }
            }
            /// The slave tty's `cleanup`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `cleanup`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_cleanup(tty: *mut bindings::tty_struct) {
                // SAFETY: The tty core calls this as `cleanup`, whose
                // contract is [`entry::cleanup`]'s.
                unsafe { entry::cleanup::<$t>(tty) }
            }
            /// The slave tty's `write`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `write`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_write(
                tty: *mut bindings::tty_struct,
                buf: *const u8,
                count: usize,
            ) -> isize {
                // SAFETY: The tty core calls this as `write`, whose
                // contract is [`entry::write`]'s.
                unsafe { entry::write::<$t>(tty, buf, count) }
            }
            /// The slave tty's `write_room`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `write_room`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_write_room(tty: *mut bindings::tty_struct) -> c_uint {
                // SAFETY: The tty core calls this as `write_room`, whose
                // contract is [`entry::write_room`]'s.
                unsafe { entry::write_room::<$t>(tty) }
            }
            /// The slave tty's the driver's `ioctl`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the driver's `ioctl`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ioctl(
                tty: *mut bindings::tty_struct,
                cmd: c_uint,
                arg: c_ulong,
            ) -> c_int {
                // SAFETY: The tty core calls this as the driver's `ioctl`, whose
                // contract is [`entry::ioctl`]'s.
                unsafe { entry::ioctl::<$t>(tty, cmd, arg) }
            }
            /// The slave tty's the driver's `set_termios`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the driver's `set_termios`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_set_termios(
                tty: *mut bindings::tty_struct,
                _old: *const KTermios,
            ) {
                // SAFETY: The tty core calls this as the driver's `set_termios`, whose
                // contract is [`entry::set_termios`]'s.
                unsafe { entry::set_termios::<$t>(tty) }
            }
            /// The slave tty's `resize`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `resize`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_resize(
                tty: *mut bindings::tty_struct,
                ws: *mut RawWinsize,
            ) -> c_int {
                // SAFETY: The tty core calls this as `resize`, whose
                // contract is [`entry::resize`]'s.
                unsafe { entry::resize::<$t>(tty, ws) }
            }
            #[no_mangle]
            extern "C" fn ckpt_pty_rs_ldisc_ok(
                _tty: *mut bindings::tty_struct,
                ldisc: c_int,
            ) -> c_int {
                entry::ldisc_ok::<$t>(ldisc)
            }
            /// The slave tty's the ldisc's `open`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `open`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_open(tty: *mut bindings::tty_struct) -> c_int {
                // SAFETY: The tty core calls this as the ldisc's `open`, whose
                // contract is [`entry::ldisc_open`]'s.
                unsafe { entry::ldisc_open::<$t>(tty) }
            }
            #[no_mangle]
            extern "C" fn ckpt_pty_rs_ldisc_close(_tty: *mut bindings::tty_struct) {}
            /// The slave tty's `flush_buffer`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `flush_buffer`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_flush_buffer(tty: *mut bindings::tty_struct) {
                // SAFETY: The tty core calls this as `flush_buffer`, whose
                // contract is [`entry::flush_buffer`]'s.
                unsafe { entry::flush_buffer::<$t>(tty) }
            }
            /// The slave tty's the ldisc's `read`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `read`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_read(
                tty: *mut bindings::tty_struct,
                file: *mut bindings::file,
                buf: *mut u8,
                nr: usize,
                cookie: *mut *mut c_void,
                _offset: c_ulong,
            ) -> isize {
                // SAFETY: The tty core calls this as the ldisc's `read`, whose
                // contract is [`entry::read`]'s.
                unsafe { entry::read::<$t>(tty, file, buf, nr, cookie) }
            }
            /// The slave tty's the ldisc's `write`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `write`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_write(
                tty: *mut bindings::tty_struct,
                file: *mut bindings::file,
                buf: *const u8,
                nr: usize,
            ) -> isize {
                // SAFETY: The tty core calls this as the ldisc's `write`, whose
                // contract is [`entry::write_output`]'s.
                unsafe { entry::write_output::<$t>(tty, file, buf, nr) }
            }
            /// The slave tty's the ldisc's `ioctl`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `ioctl`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_ioctl(
                tty: *mut bindings::tty_struct,
                cmd: c_uint,
                arg: c_ulong,
            ) -> c_int {
                // SAFETY: The tty core calls this as the ldisc's `ioctl`, whose
                // contract is [`entry::ldisc_ioctl`]'s.
                unsafe { entry::ldisc_ioctl::<$t>(tty, cmd, arg) }
            }
            /// The slave tty's the ldisc's `set_termios`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `set_termios`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_set_termios(
                tty: *mut bindings::tty_struct,
                old: *const KTermios,
            ) {
                // SAFETY: The tty core calls this as the ldisc's `set_termios`, whose
                // contract is [`entry::ldisc_set_termios`]'s.
                unsafe { entry::ldisc_set_termios::<$t>(tty, old) }
            }
            /// The slave tty's the ldisc's `poll`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `poll`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_poll(
                tty: *mut bindings::tty_struct,
                file: *mut bindings::file,
                table: *mut bindings::poll_table_struct,
            ) -> u32 {
                // SAFETY: The tty core calls this as the ldisc's `poll`, whose
                // contract is [`entry::poll`]'s.
                unsafe { entry::poll::<$t>(tty, file, table) }
            }
            /// The slave tty's the ldisc's `hangup`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as the ldisc's `hangup`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_hangup(tty: *mut bindings::tty_struct) {
                // SAFETY: The tty core calls this as the ldisc's `hangup`, whose
                // contract is [`entry::hangup`]'s.
                unsafe { entry::hangup::<$t>(tty) }
            }
            /// The slave tty's `receive_buf`.
            ///
            /// # Safety
            ///
            /// Only the tty core calls it, as `receive_buf`, under that operation's
            /// contract.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_ldisc_receive_buf(
                tty: *mut bindings::tty_struct,
                cp: *const u8,
                _fp: *const u8,
                count: usize,
            ) {
                // SAFETY: The tty core calls this as `receive_buf`, whose
                // contract is [`entry::receive`]'s.
                unsafe { entry::receive::<$t>(tty, cp, count) }
            }
        };
    };
}
pub(crate) use slave_tty_entry_points;

/// A registered slave tty driver (one major, `lines` minors).
///
/// # Invariants
///
/// `ptr` is a driver allocated by `ckpt_pty_tty_driver_alloc` and
/// registered with the tty core, and is listed in `OUR_DRIVERS[slot]`.
pub(crate) struct SlaveDriver {
    ptr: *mut RawTtyDriver,
    slot: usize,
}

// SAFETY: A registered driver is only used through the tty core, which
// locks it; the value keeps a pointer to compare and to unregister at the
// end, which any thread may do.
unsafe impl Send for SlaveDriver {}
// SAFETY: Shared references only read the pointer and the slot.
unsafe impl Sync for SlaveDriver {}

impl SlaveDriver {
    /// Registers a driver named `name` (the tty core's node name prefix,
    /// as `/proc/tty/drivers` shows it) with `lines` minors. `slot` (0 or
    /// 1) says which of the two module drivers this is.
    pub(crate) fn register(
        driver_name: &'static CStr,
        name: &'static CStr,
        lines: u32,
        slot: usize,
    ) -> Result<Self> {
        let cell = OUR_DRIVERS.get(slot).ok_or(EINVAL)?;
        // SAFETY: Both names are static C strings, as the driver keeps them.
        let ptr = from_err_ptr(unsafe {
            ckpt_pty_tty_driver_alloc(driver_name.as_char_ptr(), name.as_char_ptr(), lines)
        })?;
        // SAFETY: `ptr` is a fresh, fully set up driver.
        let err = unsafe { tty_register_driver(ptr) };
        if err != 0 {
            // SAFETY: `ptr` was never registered; this drops the allocation's
            // reference.
            unsafe { tty_driver_kref_put(ptr) };
            return Err(Error::from_errno(err));
        }
        cell.store(ptr, Ordering::Release);
        Ok(Self { ptr, slot })
    }

    pub(crate) fn major(&self) -> u32 {
        // SAFETY: The driver is registered (type invariant), and its major is
        // fixed once registered.
        unsafe { ckpt_pty_tty_driver_major(self.ptr) as u32 }
    }
}

impl Drop for SlaveDriver {
    fn drop(&mut self) {
        if let Some(cell) = OUR_DRIVERS.get(self.slot) {
            cell.store(core::ptr::null_mut(), Ordering::Release);
        }
        // SAFETY: The driver is registered (type invariant). No tty of ours
        // is left: each holds a module reference, so the module cannot be
        // unloading.
        unsafe { ckpt_pty_tty_driver_destroy(self.ptr) }
    }
}

/// Our line discipline, registered for as long as the value lives.
pub(crate) struct LineDiscipline(());

impl LineDiscipline {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers the static operations table of `tty_bridge.c`;
        // `EEXIST` if another module took the number.
        to_result(unsafe { ckpt_pty_ldisc_register() })?;
        Ok(Self(()))
    }
}

impl Drop for LineDiscipline {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; no tty uses it any more (each
        // ldisc instance holds a module reference).
        unsafe { ckpt_pty_ldisc_unregister() }
    }
}

/// A `struct tty_port`, which every tty needs (the tty core keeps its flip
/// buffers there; ours stay empty).
///
/// # Invariants
///
/// `ptr` came from `ckpt_pty_port_alloc` and is freed on drop.
pub(crate) struct TtyPort {
    ptr: NonNull<RawTtyPort>,
}

// SAFETY: The tty core uses the port under its own locks; the value only
// hands out its address and frees it after the tty is gone, from any
// thread.
unsafe impl Send for TtyPort {}
// SAFETY: Shared references only read the pointer.
unsafe impl Sync for TtyPort {}

impl TtyPort {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Allocates and initialises a port, or returns null; no
        // precondition.
        let ptr = NonNull::new(unsafe { ckpt_pty_port_alloc() }).ok_or(ENOMEM)?;
        Ok(Self { ptr })
    }

    pub(crate) fn as_raw(&self) -> NonNull<RawTtyPort> {
        self.ptr
    }
}

impl Drop for TtyPort {
    fn drop(&mut self) {
        // SAFETY: Allocated in `new` (type invariant); its owner (the pair)
        // outlives the tty, which no longer uses the port after `cleanup`.
        unsafe { ckpt_pty_port_free(self.ptr.as_ptr()) }
    }
}

/// An open file of a slave tty that the module itself holds: it keeps the
/// tty (and the ldisc on it) alive while no user has the slave open, as a
/// native master keeps its slave.
///
/// # Invariants
///
/// `file` is a counted `struct file` opened on one of our tty nodes, and
/// `tty` is its tty, alive while the file is.
pub(crate) struct SlaveFile {
    file: NonNull<bindings::file>,
    tty: NonNull<bindings::tty_struct>,
}

// SAFETY: A counted file reference may be used and dropped from any thread.
unsafe impl Send for SlaveFile {}
// SAFETY: Shared references only read the pointers.
unsafe impl Sync for SlaveFile {}

impl SlaveFile {
    /// Takes over `file`, a file just opened on one of our tty nodes.
    pub(crate) fn from_opened(file: super::fs::OwnedFile) -> Result<Self> {
        let raw = file.into_raw();
        // SAFETY: `raw` is a file just opened on a tty node, whose
        // `private_data` `tty_open` set to the tty's file record.
        let tty = NonNull::new(unsafe { ckpt_pty_file_tty(raw.as_ptr()) });
        match tty {
            Some(tty) => Ok(Self { file: raw, tty }),
            None => {
                // SAFETY: `raw` holds the reference taken over from `file`.
                unsafe { bindings::fput(raw.as_ptr()) };
                Err(EIO)
            }
        }
    }

    /// Another counted reference to the same file.
    pub(crate) fn clone_ref(&self) -> Self {
        // SAFETY: The file is alive (type invariant); `get_file` takes one
        // more reference, which the new value owns.
        unsafe { ckpt_pty_get_file(self.file.as_ptr()) };
        // INVARIANT: the same file and tty, with a reference of its own.
        Self {
            file: self.file,
            tty: self.tty,
        }
    }

    pub(crate) fn tty(&self) -> &Tty {
        // SAFETY: The tty lives as long as this file (type invariant).
        unsafe { Tty::from_raw(self.tty.as_ptr()) }
    }

    pub(crate) fn tty_ptr(&self) -> TtyPtr {
        TtyPtr(self.tty)
    }

    pub(crate) fn is(&self, file: &File) -> bool {
        self.file.as_ptr() == file.as_ptr()
    }

    /// Hangs the tty up synchronously (`tty_vhangup`): every file of it
    /// gets the hung-up operations, the session leader `SIGHUP`.
    pub(crate) fn hang_up(&self) {
        // SAFETY: The tty is alive (type invariant); this runs in process
        // context with none of our locks held (the hangup calls back into
        // the ldisc).
        unsafe { tty_vhangup(self.tty.as_ptr()) }
    }

    /// Runs a tty ioctl as if on a file of the slave, with the caller's
    /// credentials and process (`TIOCSPGRP` through the master).
    pub(crate) fn tty_ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: The file is alive (type invariant) and its `f_op` is the
        // tty core's; `arg` is the caller's user pointer.
        let r = unsafe { ckpt_pty_file_ioctl(self.file.as_ptr(), cmd, arg as c_ulong) };
        if r < 0 {
            Err(Error::from_errno(r as i32))
        } else {
            Ok(r as isize)
        }
    }
}

impl Drop for SlaveFile {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant); the
        // release runs later from task work, outside our locks.
        unsafe { bindings::fput(self.file.as_ptr()) }
    }
}
