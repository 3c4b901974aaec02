// SPDX-License-Identifier: GPL-2.0
//! The `ckptpts` filesystem: where the pty nodes live. Like devpts, every
//! mount is an instance with its own index space and its own `ptmx` node.
//!
//! The filesystem types and superblock mechanics are in `fs_bridge.c`; the
//! driver supplies a [`PtsFsOps`] implementation (what an instance is, what
//! a mount option means) and instantiates the C entry points with
//! [`pts_fs_entry_points!`]. Handles: [`SuperBlock`] (a live superblock),
//! [`Node`] (a device node we created), [`InstanceRoot`] (a mount + root,
//! counted), [`OwnedFile`] (a counted open file), [`InternalMount`].

use super::file::{flags::O_CLOEXEC, File};
use core::ptr::NonNull;
use kernel::{
    bindings,
    error::{from_err_ptr, to_result},
    ffi::{c_char, c_int, c_void},
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow},
};

#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_fs_register() -> c_int;
    fn ckpt_pty_fs_unregister();
    fn ckpt_pty_internal_mount() -> *mut bindings::vfsmount;
    fn ckpt_pty_internal_sb(mnt: *mut bindings::vfsmount) -> *mut bindings::super_block;
    fn ckpt_pty_sb_info(sb: *const bindings::super_block) -> *mut c_void;
    fn ckpt_pty_sb_set_info(sb: *mut bindings::super_block, info: *mut c_void);
    fn ckpt_pty_sb_pin(sb: *mut bindings::super_block);
    fn ckpt_pty_node_create(
        sb: *mut bindings::super_block,
        name: *const c_char,
        mode: u16,
        dev: bindings::dev_t,
        uid: u32,
        gid: u32,
        private: *mut c_void,
    ) -> *mut bindings::dentry;
    fn ckpt_pty_node_remove(dentry: *mut bindings::dentry);
    fn ckpt_pty_dget(dentry: *mut bindings::dentry) -> *mut bindings::dentry;
    fn ckpt_pty_node_set_owner(dentry: *mut bindings::dentry, uid: u32, gid: u32, mode: u16);
    fn ckpt_pty_node_owner(
        dentry: *mut bindings::dentry,
        uid: *mut u32,
        gid: *mut u32,
        mode: *mut u16,
    );
    fn ckpt_pty_file_node_data(file: *const bindings::file) -> *mut c_void;
    fn ckpt_pty_instance_root(file: *const bindings::file, out: *mut bindings::path) -> c_int;
    fn ckpt_pty_path_open(
        path: *const bindings::path,
        dentry: *mut bindings::dentry,
        flags: c_int,
    ) -> *mut bindings::file;
    fn ckpt_pty_current_fsuid() -> u32;
    fn ckpt_pty_current_fsgid() -> u32;
    fn ckpt_pty_uid_from_user(uid: u32, kuid: *mut u32) -> c_int;
    fn ckpt_pty_gid_from_user(gid: u32, kgid: *mut u32) -> c_int;
    fn ckpt_pty_uid_to_user(kuid: u32) -> u32;
    fn ckpt_pty_gid_to_user(kgid: u32) -> u32;
}

/// Mount options in the order `fs_bridge.c` prints them.
pub(crate) const SHOWN_OPTIONS: usize = 6;

/// What the driver does for `ckptpts`.
pub(crate) trait PtsFsOps: 'static {
    /// One mount's state, kept in `s_fs_info`.
    type Instance: Send + Sync + 'static;
    /// What a node's inode carries (released when the inode dies).
    type NodeData: Send + Sync + 'static;

    /// A new mount: its instance from the option string (`uid=...`).
    fn fill_super(sb: &SuperBlock, options: &CStr) -> Result<Arc<Self::Instance>>;
    /// The mount is going: tear down what the instance still owns.
    fn kill_sb(instance: Arc<Self::Instance>);
    /// The values of `SHOWN_OPTIONS`, for `/proc/mounts`.
    fn show_options(instance: &Self::Instance) -> [u32; SHOWN_OPTIONS];
}

/// Kernel user and group ids (`kuid_t`/`kgid_t` values), as nodes store them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Owner {
    /// The caller's filesystem ids (`current_fsuid`, `current_fsgid`).
    pub(crate) fn current() -> Self {
        // SAFETY: Reads the caller's own credentials; no precondition.
        let uid = unsafe { ckpt_pty_current_fsuid() };
        // SAFETY: Reads the caller's own credentials; no precondition.
        let gid = unsafe { ckpt_pty_current_fsgid() };
        Self { uid, gid }
    }

    /// Ids given as numbers in the caller's user namespace; `EINVAL` for
    /// numbers that do not map.
    pub(crate) fn from_user(uid: u32, gid: u32) -> Result<Self> {
        let mut o = Self::default();
        // SAFETY: `o.uid` is valid for writes.
        to_result(unsafe { ckpt_pty_uid_from_user(uid, &mut o.uid) })?;
        // SAFETY: `o.gid` is valid for writes.
        to_result(unsafe { ckpt_pty_gid_from_user(gid, &mut o.gid) })?;
        Ok(o)
    }

    /// The ids as numbers in the caller's user namespace (overflow ids
    /// where they do not map).
    pub(crate) fn to_user(self) -> (u32, u32) {
        // SAFETY: A conversion of a number; no precondition.
        let uid = unsafe { ckpt_pty_uid_to_user(self.uid) };
        // SAFETY: A conversion of a number; no precondition.
        let gid = unsafe { ckpt_pty_gid_to_user(self.gid) };
        (uid, gid)
    }
}

/// A superblock lent for one call (fill_super), or kept alive by the
/// instance that lives in it.
///
/// # Invariants
///
/// `ptr` points to a live superblock.
pub(crate) struct SuperBlock {
    ptr: NonNull<bindings::super_block>,
}

// SAFETY: The superblock is only used through VFS calls that lock it, from
// any thread.
unsafe impl Send for SuperBlock {}
// SAFETY: Shared references only pass the pointer to VFS calls that lock
// the superblock.
unsafe impl Sync for SuperBlock {}

impl SuperBlock {
    /// Another handle to the same superblock, valid as long as the one it
    /// was made from (whoever keeps it also keeps the superblock active).
    pub(crate) fn handle(&self) -> Self {
        Self { ptr: self.ptr }
    }

    /// The user namespace that owns the instance (`s_user_ns`): whoever
    /// holds its restore capabilities there may freeze and restore its
    /// pairs.
    pub(crate) fn user_ns(&self) -> crate::seam::process::UserNs {
        // SAFETY: The superblock is alive (type invariant); `s_user_ns` is
        // set at creation, never changes, and is referenced by the
        // superblock until it is freed.
        let ns = unsafe { (*self.ptr.as_ptr()).s_user_ns };
        // `alloc_super` always sets it; the initial namespace otherwise.
        let ns = NonNull::new(ns).unwrap_or_else(|| {
            // SAFETY: The address of a static is never null.
            unsafe { NonNull::new_unchecked(core::ptr::addr_of_mut!(bindings::init_user_ns)) }
        });
        crate::seam::process::UserNs(ns)
    }

    /// Creates the character node `name` in the root, owned by `owner` with
    /// permissions `mode`; its inode keeps `data` until it dies.
    pub(crate) fn create_node<D: Send + Sync + 'static>(
        &self,
        name: &CStr,
        mode: u16,
        dev: bindings::dev_t,
        owner: Owner,
        data: Option<Arc<D>>,
    ) -> Result<Node> {
        let private = data.map_or(core::ptr::null_mut(), |d| Arc::into_raw(d).cast_mut());
        // SAFETY: The superblock is alive (type invariant) and `name` is a C
        // string; on success the inode owns `private`.
        let dentry = unsafe {
            ckpt_pty_node_create(
                self.ptr.as_ptr(),
                name.as_char_ptr(),
                mode,
                dev,
                owner.uid,
                owner.gid,
                private.cast(),
            )
        };
        match from_err_ptr(dentry) {
            Ok(d) => Ok(Node {
                // `from_err_ptr` let no null through: the C side returns a
                // dentry or an error pointer.
                dentry: NonNull::new(d).ok_or(ENOMEM)?,
            }),
            Err(e) => {
                if !private.is_null() {
                    // SAFETY: `private` came from `Arc::into_raw` above, and
                    // a failed create does not take it over.
                    drop(unsafe { Arc::from_raw(private.cast_const()) });
                }
                Err(e)
            }
        }
    }

    /// Keeps the superblock active (`s_active`), as devpts does for each
    /// pty: an unmounted instance lives on while its ptys do.
    pub(crate) fn pin(&self) -> SuperBlockPin {
        // SAFETY: The superblock is alive (type invariant) and active: the
        // caller holds a mount or another pin.
        unsafe { ckpt_pty_sb_pin(self.ptr.as_ptr()) };
        SuperBlockPin { ptr: self.ptr }
    }
}

/// An active reference on a superblock, dropped with `deactivate_super`.
///
/// # Invariants
///
/// Holds one `s_active` reference on `ptr`.
pub(crate) struct SuperBlockPin {
    ptr: NonNull<bindings::super_block>,
}

// SAFETY: `deactivate_super` may be called from any process context.
unsafe impl Send for SuperBlockPin {}
// SAFETY: Shared references only read the pointer.
unsafe impl Sync for SuperBlockPin {}

impl Drop for SuperBlockPin {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant);
        // the last one shuts the superblock down (our `kill_sb`), which
        // takes none of the locks our callers hold.
        unsafe { bindings::deactivate_super(self.ptr.as_ptr()) }
    }
}

/// A device node we created; unlinked on drop.
///
/// # Invariants
///
/// `dentry` is a positive dentry of a ckptpts (or internal) superblock on
/// which we hold the reference `ckpt_pty_node_create` returned.
pub(crate) struct Node {
    dentry: NonNull<bindings::dentry>,
}

// SAFETY: Dentries are reference counted and usable from any thread.
unsafe impl Send for Node {}
// SAFETY: Shared references only read the pointer or lock the inode.
unsafe impl Sync for Node {}

impl Node {
    /// Changes owner and permissions (a restored pty gets its old ones).
    pub(crate) fn set_owner(&self, owner: Owner, mode: u16) {
        // SAFETY: The dentry is positive and ours (type invariant); the C
        // side locks its inode.
        unsafe { ckpt_pty_node_set_owner(self.dentry.as_ptr(), owner.uid, owner.gid, mode) }
    }

    /// Owner and permission bits.
    pub(crate) fn owner(&self) -> (Owner, u16) {
        let mut o = Owner::default();
        let mut mode = 0u16;
        // SAFETY: The dentry is positive and ours (type invariant), and the
        // three out-pointers are valid for writes.
        unsafe { ckpt_pty_node_owner(self.dentry.as_ptr(), &mut o.uid, &mut o.gid, &mut mode) };
        (o, mode)
    }

    /// A counted reference to the node's dentry, to open it without
    /// holding the lock that guards the node.
    pub(crate) fn dentry(&self) -> DentryRef {
        // SAFETY: The dentry is ours (type invariant); `dget` takes one more
        // reference, which the new value owns.
        unsafe { ckpt_pty_dget(self.dentry.as_ptr()) };
        DentryRef {
            dentry: self.dentry,
        }
    }
}

/// A counted dentry of one of our nodes (it may be unlinked meanwhile:
/// opening it then still reaches the same inode).
///
/// # Invariants
///
/// Holds one reference on `dentry`, a dentry of a ckptpts or internal
/// superblock.
pub(crate) struct DentryRef {
    dentry: NonNull<bindings::dentry>,
}

// SAFETY: Dentry references may be used and dropped from any thread.
unsafe impl Send for DentryRef {}
// SAFETY: Shared references only read the pointer.
unsafe impl Sync for DentryRef {}

impl DentryRef {
    /// Opens the node with the caller's credentials, below `root`'s mount.
    pub(crate) fn open(&self, root: &InstanceRoot, flags: u32) -> Result<OwnedFile> {
        // SAFETY: `root.path` is a counted path (type invariant of
        // `InstanceRoot`) and the dentry a counted dentry of its
        // superblock; `dentry_open` takes its own references.
        let file = unsafe { ckpt_pty_path_open(&root.path, self.dentry.as_ptr(), flags as c_int) };
        OwnedFile::from_result(file)
    }

    /// Opens the node below `mount` (the module's internal mount).
    pub(crate) fn open_internal(&self, mount: &InternalMount, flags: u32) -> Result<OwnedFile> {
        let path = bindings::path {
            mnt: mount.mnt.as_ptr(),
            // SAFETY: The mount is alive (type invariant of `InternalMount`).
            dentry: unsafe { (*mount.mnt.as_ptr()).mnt_root },
        };
        // SAFETY: `path` is the root of a live mount and the dentry a counted
        // dentry of its superblock; `dentry_open` takes its own references.
        let file = unsafe { ckpt_pty_path_open(&path, self.dentry.as_ptr(), flags as c_int) };
        OwnedFile::from_result(file)
    }
}

impl Drop for DentryRef {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { bindings::dput(self.dentry.as_ptr()) }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: The node is ours (type invariant): this unlinks it and
        // drops our reference; open files keep the inode (and its data)
        // until they close.
        unsafe { ckpt_pty_node_remove(self.dentry.as_ptr()) }
    }
}

/// The data of the node a file was opened on, if it is one of our nodes
/// that carries data.
pub(crate) fn node_data<'a, D: Send + Sync + 'static>(file: &'a File) -> Option<ArcBorrow<'a, D>> {
    // SAFETY: The file is valid (type invariant of `File`).
    let raw = unsafe { ckpt_pty_file_node_data(file.as_ptr()) };
    if raw.is_null() {
        return None;
    }
    // SAFETY: Only our nodes yield a pointer, and theirs came from
    // `Arc::<D>::into_raw` in `create_node` (each filesystem type has one
    // `D`); the open file keeps the inode, and so the reference, alive.
    Some(unsafe { ArcBorrow::from_raw(raw.cast::<D>()) })
}

/// The mount and root of the ckptpts instance a file was opened through
/// (its own mount, or one mounted at `pts` next to it).
///
/// # Invariants
///
/// `path` holds a reference on its mount and its dentry (the root of a
/// ckptpts superblock).
pub(crate) struct InstanceRoot {
    path: bindings::path,
}

// SAFETY: A counted path may be used and dropped from any thread.
unsafe impl Send for InstanceRoot {}
// SAFETY: Shared references only read the path.
unsafe impl Sync for InstanceRoot {}

impl InstanceRoot {
    /// `ENODEV` if there is no such instance.
    pub(crate) fn of_file(file: &File) -> Result<Self> {
        let mut path = bindings::path {
            mnt: core::ptr::null_mut(),
            dentry: core::ptr::null_mut(),
        };
        // SAFETY: The file is valid (type invariant of `File`) and `path` is
        // valid for writes; on success it holds references.
        to_result(unsafe { ckpt_pty_instance_root(file.as_ptr(), &mut path) })?;
        Ok(Self { path })
    }

    /// The instance mounted there.
    pub(crate) fn instance<T: PtsFsOps>(&self) -> Result<Arc<T::Instance>> {
        // SAFETY: The path is counted (type invariant), so its mount is
        // alive.
        let sb = unsafe { (*self.path.mnt).mnt_sb };
        // SAFETY: The mount is alive, and so is its superblock.
        let raw = unsafe { ckpt_pty_sb_info(sb) };
        if raw.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: The instance `fill_super` stored with `Arc::into_raw`,
        // alive while its superblock is; we take our own reference.
        let borrowed = unsafe { ArcBorrow::<T::Instance>::from_raw(raw.cast()) };
        Ok(borrowed.into())
    }
}

impl Drop for InstanceRoot {
    fn drop(&mut self) {
        // SAFETY: Releases the references this value holds (type
        // invariant).
        unsafe { bindings::path_put(&self.path) }
    }
}

/// A counted `struct file` we opened (or got from an open).
///
/// # Invariants
///
/// `ptr` holds one file reference, dropped with `fput`.
pub(crate) struct OwnedFile {
    ptr: NonNull<bindings::file>,
}

// SAFETY: File references may be used and dropped from any thread.
unsafe impl Send for OwnedFile {}
// SAFETY: Shared references only read the pointer.
unsafe impl Sync for OwnedFile {}

impl OwnedFile {
    fn from_result(file: *mut bindings::file) -> Result<Self> {
        let file = from_err_ptr(file)?;
        let ptr = NonNull::new(file).ok_or(ENOMEM)?;
        Ok(Self { ptr })
    }

    /// Gives the reference to the caller.
    pub(crate) fn into_raw(self) -> NonNull<bindings::file> {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }

    /// Installs the file as a new descriptor of the calling process.
    pub(crate) fn install_fd(self, cloexec: bool) -> Result<i32> {
        let flags = if cloexec { O_CLOEXEC } else { 0 };
        // SAFETY: Reserves a descriptor slot of the current process; no
        // precondition.
        let fd = unsafe { bindings::get_unused_fd_flags(flags) };
        if fd < 0 {
            return Err(Error::from_errno(fd));
        }
        // SAFETY: `fd` is reserved and unused, and the descriptor table
        // takes over our reference.
        unsafe { bindings::fd_install(fd as u32, self.into_raw().as_ptr()) };
        Ok(fd)
    }
}

impl Drop for OwnedFile {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { bindings::fput(self.ptr.as_ptr()) }
    }
}

/// The module's own mount of the internal twin filesystem, where each
/// slave tty gets a node the module opens itself.
///
/// # Invariants
///
/// `mnt` comes from `kern_mount` and is unmounted on drop; `sb` is its
/// superblock, which lives as long as the mount.
pub(crate) struct InternalMount {
    mnt: NonNull<bindings::vfsmount>,
    sb: NonNull<bindings::super_block>,
}

// SAFETY: A kernel mount may be used from any thread.
unsafe impl Send for InternalMount {}
// SAFETY: Shared references only read the two pointers.
unsafe impl Sync for InternalMount {}

impl InternalMount {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Mounts the internal type of `fs_bridge.c`, which is static.
        let mnt = from_err_ptr(unsafe { ckpt_pty_internal_mount() })?;
        let mnt = NonNull::new(mnt).ok_or(ENOMEM)?;
        // SAFETY: `mnt` is a live mount, just made.
        let sb = unsafe { ckpt_pty_internal_sb(mnt.as_ptr()) };
        let Some(sb) = NonNull::new(sb) else {
            // SAFETY: `mnt` comes from `kern_mount` and nothing uses it yet.
            unsafe { bindings::kern_unmount(mnt.as_ptr()) };
            return Err(EIO);
        };
        // INVARIANT: `mnt` from `kern_mount`, `sb` its superblock.
        Ok(Self { mnt, sb })
    }

    pub(crate) fn sb(&self) -> SuperBlock {
        // INVARIANT: The superblock lives as long as the mount (type
        // invariant), and whoever holds this handle holds the mount.
        SuperBlock { ptr: self.sb }
    }
}

impl Drop for InternalMount {
    fn drop(&mut self) {
        // SAFETY: The mount comes from `kern_mount` (type invariant), and
        // every internal node is gone (each belongs to a pair, and pairs pin
        // the module).
        unsafe { bindings::kern_unmount(self.mnt.as_ptr()) }
    }
}

/// `ckptpts`, registered for as long as the value lives.
pub(crate) struct PtsFsRegistration(());

impl PtsFsRegistration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers the static filesystem type of `fs_bridge.c`.
        to_result(unsafe { ckpt_pty_fs_register() })?;
        Ok(Self(()))
    }
}

impl Drop for PtsFsRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered in `register`; no instance exists (a mount pins
        // the module).
        unsafe { ckpt_pty_fs_unregister() }
    }
}

/// Raw entry points; [`pts_fs_entry_points!`] gives them their C names.
#[doc(hidden)]
pub(crate) mod entry {
    use super::*;

    /// # Safety
    ///
    /// `fill_super` contract: `sb` is new and locked, `options` a C string.
    pub(crate) unsafe fn fill_super<T: PtsFsOps>(
        sb: *mut bindings::super_block,
        options: *const c_char,
    ) -> c_int {
        let Some(ptr) = NonNull::new(sb) else {
            return EINVAL.to_errno();
        };
        // INVARIANT: the VFS passes a live superblock.
        let sb = SuperBlock { ptr };
        // SAFETY: The C side passes a NUL-terminated string that lives for
        // the call.
        let options = unsafe { CStr::from_char_ptr(options) };
        match T::fill_super(&sb, options) {
            Ok(instance) => {
                let info = Arc::into_raw(instance).cast_mut().cast();
                // SAFETY: The superblock is alive; `kill_sb` takes the
                // reference back.
                unsafe { ckpt_pty_sb_set_info(ptr.as_ptr(), info) };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `kill_sb` contract: the superblock's last moments.
    pub(crate) unsafe fn kill_sb<T: PtsFsOps>(sb: *mut bindings::super_block) {
        // SAFETY: The superblock is alive until `kill_litter_super`.
        let raw = unsafe { ckpt_pty_sb_info(sb) };
        if raw.is_null() {
            return;
        }
        // SAFETY: The superblock is alive until `kill_litter_super`.
        unsafe { ckpt_pty_sb_set_info(sb, core::ptr::null_mut()) };
        // SAFETY: `raw` is the reference `fill_super` stored with
        // `Arc::into_raw`, taken back once, here.
        let instance = unsafe { Arc::<T::Instance>::from_raw(raw.cast()) };
        T::kill_sb(instance)
    }

    /// # Safety
    ///
    /// `private` is the data an inode of ours carried.
    pub(crate) unsafe fn node_release<T: PtsFsOps>(private: *mut c_void) {
        // SAFETY: `create_node` made `private` with
        // `Arc::<T::NodeData>::into_raw`, and the inode gives it back once.
        drop(unsafe { Arc::<T::NodeData>::from_raw(private.cast()) })
    }

    /// # Safety
    ///
    /// `sb` is a live ckptpts superblock; `values` holds `SHOWN_OPTIONS`.
    pub(crate) unsafe fn show_options<T: PtsFsOps>(
        sb: *mut bindings::super_block,
        values: *mut u32,
    ) {
        // SAFETY: The superblock is alive for the call.
        let raw = unsafe { ckpt_pty_sb_info(sb) };
        let shown = if raw.is_null() {
            [0; SHOWN_OPTIONS]
        } else {
            // SAFETY: The instance `fill_super` stored lives as long as the
            // superblock.
            T::show_options(unsafe { &*raw.cast::<T::Instance>() })
        };
        // SAFETY: The C side passes an array of `SHOWN_OPTIONS` values,
        // which does not overlap `shown`.
        unsafe { core::ptr::copy_nonoverlapping(shown.as_ptr(), values, SHOWN_OPTIONS) };
    }
}

/// Gives the entry points of `fs_bridge.c` their implementation by `$t`
/// (a [`PtsFsOps`]). Use once.
macro_rules! pts_fs_entry_points {
    ($t:ty) => {
        const _: () = {
            use kernel::bindings;
            use kernel::ffi::{c_char, c_int, c_void};
            use $crate::seam::fs::entry;

            /// `ckptpts`' `fill_super`.
            ///
            /// # Safety
            ///
            /// Only `fs_bridge.c`'s `fill_super` calls it, with a new, locked
            /// superblock and a C string.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_fill_super(
                sb: *mut bindings::super_block,
                options: *const c_char,
            ) -> c_int {
                // SAFETY: The caller's guarantees are `entry::fill_super`'s.
                unsafe { entry::fill_super::<$t>(sb, options) }
            }
            /// `ckptpts`' `kill_sb`.
            ///
            /// # Safety
            ///
            /// Only `fs_bridge.c`'s `kill_sb` calls it, with a superblock
            /// going away.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_kill_sb(sb: *mut bindings::super_block) {
                // SAFETY: The caller's guarantees are `entry::kill_sb`'s.
                unsafe { entry::kill_sb::<$t>(sb) }
            }
            /// The release of a node's data.
            ///
            /// # Safety
            ///
            /// Only `fs_bridge.c`'s `evict_inode` calls it, once, with the
            /// data of a dying inode of ours.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_node_release(private: *mut c_void) {
                // SAFETY: The caller's guarantees are `entry::node_release`'s.
                unsafe { entry::node_release::<$t>(private) }
            }
            /// `ckptpts`' `show_options`.
            ///
            /// # Safety
            ///
            /// Only `fs_bridge.c`'s `show_options` calls it, with a mounted
            /// superblock of ours and room for `SHOWN_OPTIONS` values.
            #[no_mangle]
            unsafe extern "C" fn ckpt_pty_rs_show_options(
                sb: *mut bindings::super_block,
                values: *mut u32,
            ) {
                // SAFETY: The caller's guarantees are `entry::show_options`'s.
                unsafe { entry::show_options::<$t>(sb, values) }
            }
        };
    };
}
pub(crate) use pts_fs_entry_points;
