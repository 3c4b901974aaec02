// SPDX-License-Identifier: GPL-2.0
//! Processes: privilege checks, process-group references and the pieces of
//! job control a line discipline decides with (the decisions are in
//! `device::end`).

use kernel::bindings;

// Pointers to kernel structs that bindgen left empty (as the kernel crate does).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_current_in_pgrp(pgrp: *const bindings::pid) -> i32;
    fn ckpt_pty_signal_ignored(sig: i32) -> i32;
    fn ckpt_pty_current_pgrp_orphaned() -> i32;
    fn ckpt_pty_signal_current_pgrp(sig: i32);
    fn ckpt_pty_cond_resched();
}

/// `CAP_SYS_ADMIN` and `CAP_CHECKPOINT_RESTORE` (`uapi/linux/capability.h`).
const CAP_SYS_ADMIN: i32 = 21;
const CAP_CHECKPOINT_RESTORE: i32 = 40;

/// Signal numbers (x86, `asm/signal.h`).
pub(crate) mod signal {
    pub(crate) const SIGINT: i32 = 2;
    pub(crate) const SIGQUIT: i32 = 3;
    pub(crate) const SIGTSTP: i32 = 20;
    pub(crate) const SIGTTIN: i32 = 21;
}

/// Whether the caller may restore checkpointed state into, or stop the
/// data of, an instance owned by the user namespace `ns` (as CRIU
/// requires: `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN`, there). Checked
/// without audit records: a refusal is an answer (`EPERM`) to an ordinary
/// caller, not a security event.
pub(crate) fn may_restore_in(ns: UserNs) -> bool {
    [CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN]
        .into_iter()
        .any(|cap| {
            // SAFETY: `ns` is a live user namespace (type invariant of
            // `UserNs`); process context.
            unsafe { bindings::ns_capable_noaudit(ns.0.as_ptr(), cap) }
        })
}

/// The user namespace that owns an instance, borrowed from its superblock.
///
/// # Invariants
///
/// Points to a live user namespace for as long as the value exists (the
/// superblock it came from holds a reference).
#[derive(Clone, Copy)]
pub(crate) struct UserNs(pub(super) core::ptr::NonNull<bindings::user_namespace>);

impl UserNs {
    /// Whether this is the initial user namespace (the host's).
    pub(crate) fn is_initial(self) -> bool {
        // Only the address of the static is taken.
        core::ptr::eq(
            self.0.as_ptr(),
            core::ptr::addr_of_mut!(bindings::init_user_ns),
        )
    }
}

/// Lets other tasks run between the items of a long loop (creating or
/// tearing down hundreds of pairs): on a kernel without preemption a loop
/// that never schedules starves the CPU it runs on (RCU stall reports).
pub(crate) fn yield_between_items() {
    // SAFETY: Called from process context with no spinlock held (callers
    // hold at most sleeping mutexes).
    unsafe { ckpt_pty_cond_resched() }
}

/// The calling thread's id (for matching a request to its own open).
pub(crate) fn current_tid() -> i32 {
    kernel::current!().pid()
}

/// A counted reference to a `struct pid` (a process group or a session).
///
/// # Invariants
///
/// `ptr` is non-null and holds one reference, dropped with `put_pid`.
pub(crate) struct PidRef {
    ptr: *mut bindings::pid,
}

// SAFETY: `struct pid` is reference counted and usable from any thread.
unsafe impl Send for PidRef {}
// SAFETY: Shared references only read the pointer or pass it to
// `kill_pgrp`, `pid_vnr` and the group check, which any thread may call.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// Takes over a counted reference; `None` for null.
    ///
    /// # Safety
    ///
    /// `ptr` is null or holds a reference the caller gives away.
    pub(crate) unsafe fn from_counted(ptr: *mut bindings::pid) -> Option<Self> {
        // INVARIANT: non-null and counted per the contract.
        (!ptr.is_null()).then_some(Self { ptr })
    }

    /// The number as seen from the caller's pid namespace.
    pub(crate) fn nr(&self) -> i32 {
        // SAFETY: `ptr` is a valid counted pid (type invariant).
        unsafe { bindings::pid_vnr(self.ptr) }
    }

    /// Sends `sig` to every process of the group, as the tty layer does.
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: `ptr` is a valid counted pid (type invariant); `priv` 1
        // marks the signal as sent by the kernel.
        unsafe { bindings::kill_pgrp(self.ptr, sig, 1) };
    }

    /// Whether the caller belongs to this process group.
    pub(crate) fn has_current(&self) -> bool {
        // SAFETY: `ptr` is a valid counted pid (type invariant); the C side
        // compares under RCU.
        unsafe { ckpt_pty_current_in_pgrp(self.ptr) != 0 }
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { bindings::put_pid(self.ptr) }
    }
}

/// Whether the caller blocks or ignores `sig`.
pub(crate) fn signal_ignored(sig: i32) -> bool {
    // SAFETY: Reads the caller's own signal state; no precondition.
    unsafe { ckpt_pty_signal_ignored(sig) != 0 }
}

/// Whether the caller's process group is orphaned (POSIX: no member has a
/// parent in another group of the same session).
pub(crate) fn current_pgrp_orphaned() -> bool {
    // SAFETY: Walks the caller's own group under RCU; no precondition.
    unsafe { ckpt_pty_current_pgrp_orphaned() != 0 }
}

/// Stops the caller's process group with `sig` (job control) and marks a
/// signal pending so the system call restarts after it.
pub(crate) fn signal_current_pgrp(sig: i32) {
    // SAFETY: Signals the caller's own group; no precondition.
    unsafe { ckpt_pty_signal_current_pgrp(sig) }
}
