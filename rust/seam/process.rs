// SPDX-License-Identifier: GPL-2.0
//! Processes: privilege checks and job-control signals to process groups.

use kernel::bindings;

// Pointers to kernel structs that bindgen left empty (as the kernel crate does).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_get_pid(pid: *mut bindings::pid) -> *mut bindings::pid;
}

/// `CAP_SYS_ADMIN` and `CAP_CHECKPOINT_RESTORE` (`uapi/linux/capability.h`).
const CAP_SYS_ADMIN: i32 = 21;
const CAP_CHECKPOINT_RESTORE: i32 = 40;

/// Whether the caller may restore checkpointed state (as CRIU requires:
/// `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN`).
pub(crate) fn may_restore() -> bool {
    // SAFETY: `capable` has no preconditions beyond process context.
    unsafe { bindings::capable(CAP_CHECKPOINT_RESTORE) || bindings::capable(CAP_SYS_ADMIN) }
}

/// The calling thread's id (for matching a request to its own open).
pub(crate) fn current_tid() -> i32 {
    kernel::current!().pid()
}

/// Whether the caller has `CAP_SYS_ADMIN` (exclusive-mode override).
pub(crate) fn is_admin() -> bool {
    // SAFETY: `capable` has no preconditions beyond process context.
    unsafe { bindings::capable(CAP_SYS_ADMIN) }
}

/// A counted reference to a `struct pid` used as a process-group id.
///
/// # Invariants
///
/// `ptr` is non-null and holds one reference, dropped with `put_pid`.
pub(crate) struct ProcessGroup {
    ptr: *mut bindings::pid,
}

// SAFETY: `struct pid` is reference counted and usable from any thread.
unsafe impl Send for ProcessGroup {}
// SAFETY: as above; shared access only reads it or passes it to kill_pgrp.
unsafe impl Sync for ProcessGroup {}

impl ProcessGroup {
    /// Looks up a process group by its number in the caller's namespace.
    pub(crate) fn from_nr(nr: i32) -> Option<Self> {
        // SAFETY: `find_get_pid` returns a counted reference or null.
        let ptr = unsafe { bindings::find_get_pid(nr) };
        (!ptr.is_null()).then_some(Self { ptr })
    }

    /// The group's number as seen from the caller's pid namespace.
    pub(crate) fn nr(&self) -> i32 {
        // SAFETY: `ptr` is a valid counted pid (type invariant).
        unsafe { bindings::pid_vnr(self.ptr) }
    }

    /// Sends `sig` to every process of the group (as the tty layer does).
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: `ptr` is a valid counted pid; priv 1 = sent by the kernel.
        unsafe { bindings::kill_pgrp(self.ptr, sig, 1) };
    }
}

impl Clone for ProcessGroup {
    fn clone(&self) -> Self {
        // SAFETY: `ptr` is valid; take one more reference for the clone.
        unsafe { ckpt_pty_get_pid(self.ptr) };
        Self { ptr: self.ptr }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: drops the reference this value holds.
        unsafe { bindings::put_pid(self.ptr) }
    }
}
