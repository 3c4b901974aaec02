// SPDX-License-Identifier: GPL-2.0
//! Character devices with a `file_operations` vtable and devtmpfs nodes, in
//! the shape of later kernels' `kernel::miscdevice` (a trait with `open`,
//! `release`, `read`, `write`, `poll`, `ioctl`; per-open data kept in
//! `file->private_data` as a [`ForeignOwnable`]).

use super::{file::File, poll::PollTable};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    bindings, build_error, c_str,
    error::{from_err_ptr, from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    str::CStr,
    sync::Arc,
    types::{ForeignOwnable, Opaque},
    uaccess::{UserSlice, UserSliceReader, UserSliceWriter},
};

// `linux/cdev.h` is not among 6.12's binding headers (`struct cdev` is
// opaque to Rust there): the cdev is allocated in C, the rest is exported.
// Pointers to kernel structs that bindgen left empty (as the kernel crate does).
#[allow(improper_ctypes)]
extern "C" {
    fn ckpt_pty_cdev_alloc(fops: *const bindings::file_operations) -> *mut bindings::cdev;
    fn cdev_add(cdev: *mut bindings::cdev, dev: bindings::dev_t, count: c_uint) -> c_int;
    fn cdev_del(cdev: *mut bindings::cdev);
    fn ckpt_pty_iminor(inode: *const bindings::inode) -> c_uint;
}

const MINORBITS: u32 = bindings::MINORBITS;

/// Builds a `dev_t` like the C `MKDEV`.
pub(crate) fn mkdev(major: u32, minor: u32) -> bindings::dev_t {
    (major << MINORBITS) | minor
}

/// The file operations of one character device region.
///
/// `Self` is the device-wide context (reachable from every open through the
/// `cdev`); `Open` is the per-open state kept in `file->private_data`.
#[vtable]
pub(crate) trait FileOperations: Sized + Send + Sync + 'static {
    type Open: ForeignOwnable + Send + Sync;

    /// A file was opened on `minor` (relative to the region's first minor).
    fn open(&self, minor: u32, file: &File) -> Result<Self::Open>;

    /// The last reference to the open file went away.
    fn release(&self, open: Self::Open, _file: &File) {
        drop(open);
    }

    fn read(
        _open: <Self::Open as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _buf: &mut UserSliceWriter,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    fn write(
        _open: <Self::Open as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _buf: &mut UserSliceReader,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the ready mask (`POLL*` bits).
    fn poll(
        _open: <Self::Open as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: &PollTable,
    ) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    fn ioctl(
        _open: <Self::Open as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered region of character device numbers with its `cdev`.
///
/// # Invariants
///
/// `base`/`count` are allocated; `cdev` is null (only while `register` has
/// not finished) or a live cdev added with `fops`; the value never moves, so the
/// VFS's `file->f_op`, which points at `fops`, leads back to it.
#[pin_data(PinnedDrop)]
pub(crate) struct CharDevice<T: FileOperations> {
    cdev: *mut bindings::cdev,
    #[pin]
    fops: Opaque<bindings::file_operations>,
    base: bindings::dev_t,
    count: u32,
    ops: T,
}

// SAFETY: The C parts are only touched at registration and removal, which
// any thread may do, and the context `T` is `Send`.
unsafe impl<T: FileOperations> Send for CharDevice<T> {}
// SAFETY: Shared references never touch the C parts (the VFS reads `fops`
// on its own), and the context `T` is `Sync`.
unsafe impl<T: FileOperations> Sync for CharDevice<T> {}

impl<T: FileOperations> CharDevice<T> {
    /// Allocates `count` minors under a dynamic major called `name` and makes
    /// them live with the context `make_ops(major)` builds. `module` becomes
    /// the fops owner, so an open file pins the module: `rmmod` is refused
    /// while any device is open.
    pub(crate) fn register(
        name: &'static CStr,
        count: u32,
        module: &'static ThisModule,
        make_ops: impl FnOnce(u32) -> Result<T>,
    ) -> Result<Pin<KBox<Self>>> {
        let mut base: bindings::dev_t = 0;
        // SAFETY: `base` is valid for writes and `name` is a static C string.
        to_result(unsafe {
            bindings::alloc_chrdev_region(&mut base, 0, count, name.as_char_ptr())
        })?;
        let ops = match make_ops(base >> MINORBITS) {
            Ok(ops) => ops,
            Err(e) => {
                // SAFETY: The region was allocated above and nothing uses it.
                unsafe { bindings::unregister_chrdev_region(base, count) };
                return Err(e);
            }
        };
        let boxed = KBox::pin(
            Self {
                cdev: core::ptr::null_mut(),
                fops: Opaque::new(Self::vtable(module)),
                base,
                count,
                ops,
            },
            GFP_KERNEL,
        );
        let mut this = match boxed {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: The region was allocated above and nothing uses it.
                unsafe { bindings::unregister_chrdev_region(base, count) };
                return Err(e.into());
            }
        };
        // SAFETY: The box is pinned, so `fops` keeps its address until the
        // pinned drop, which deletes the cdev first.
        let cdev = match unsafe { add_cdev(this.fops.get(), base, count) } {
            Ok(cdev) => cdev,
            // The pinned drop gives the region back (and deletes no cdev:
            // `cdev` is still null), and frees the box: nothing leaks.
            Err(e) => return Err(e),
        };
        // SAFETY: Only the `cdev` field is written; nothing is moved out of
        // the pinned box.
        unsafe { Pin::get_unchecked_mut(this.as_mut()).cdev = cdev };
        Ok(this)
    }

    pub(crate) fn major(&self) -> u32 {
        self.base >> MINORBITS
    }

    pub(crate) fn first_minor(&self) -> u32 {
        self.base & ((1 << MINORBITS) - 1)
    }

    fn vtable(module: &'static ThisModule) -> bindings::file_operations {
        bindings::file_operations {
            owner: module.as_ptr(),
            open: Some(Self::open_callback),
            release: Some(Self::release_callback),
            read: if T::HAS_READ {
                Some(Self::read_callback)
            } else {
                None
            },
            write: if T::HAS_WRITE {
                Some(Self::write_callback)
            } else {
                None
            },
            poll: if T::HAS_POLL {
                Some(Self::poll_callback)
            } else {
                None
            },
            unlocked_ioctl: if T::HAS_IOCTL {
                Some(Self::ioctl_callback)
            } else {
                None
            },
            compat_ioctl: if T::HAS_IOCTL {
                Some(Self::compat_ioctl_callback)
            } else {
                None
            },
            // SAFETY: All-zero is the C default for every other member.
            ..unsafe { core::mem::zeroed() }
        }
    }

    /// # Safety
    ///
    /// `file` must be a file opened through this region: the VFS then set
    /// `f_op` to our `fops`, inside a live pinned `CharDevice<T>` (the open
    /// file pins the module, which owns the registration).
    unsafe fn from_file<'a>(file: *mut bindings::file) -> &'a Self {
        // SAFETY: The caller guarantees that `file` is valid.
        let fops = unsafe { (*file).f_op };
        // SAFETY: The caller guarantees that `f_op` is the `fops` field of
        // a live `Self`, and `Opaque<T>` has `T`'s layout.
        unsafe { &*kernel::container_of!(fops, Self, fops) }
    }

    /// The per-open state of `file`, borrowed for one call.
    ///
    /// # Safety
    ///
    /// `file` was opened by `open_callback` and is not released during
    /// `'a`.
    unsafe fn open_of<'a>(file: *mut bindings::file) -> <T::Open as ForeignOwnable>::Borrowed<'a> {
        // SAFETY: The caller guarantees that `file` is valid.
        let private = unsafe { (*file).private_data };
        // SAFETY: `open_callback` set `private_data` from `into_foreign`,
        // and `release_callback`, which takes it back, does not run during
        // `'a` (the caller's guarantee).
        unsafe { T::Open::borrow(private) }
    }

    /// # Safety
    ///
    /// Called by the VFS with a valid inode of this region and a new file.
    unsafe extern "C" fn open_callback(
        inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The VFS opens `file` through this region (the
            // function's safety requirement).
            let this = unsafe { Self::from_file(file) };
            // SAFETY: The VFS passes a valid inode.
            let minor = unsafe { ckpt_pty_iminor(inode) }.wrapping_sub(this.first_minor());
            // SAFETY: `file` is valid for the duration of the open.
            let f = unsafe { File::from_raw(file) };
            let open = this.ops.open(minor, &f)?;
            let private = open.into_foreign().cast_mut();
            // SAFETY: `file` is valid, and its `private_data` belongs to the
            // driver from open to release.
            unsafe { (*file).private_data = private };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the VFS once, after a successful open of this region.
    unsafe extern "C" fn release_callback(
        _inode: *mut bindings::inode,
        file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: `file` was opened through this region (the function's
        // safety requirement).
        let this = unsafe { Self::from_file(file) };
        // SAFETY: `file` is valid during release.
        let private = unsafe { (*file).private_data };
        // SAFETY: `open_callback` set `private_data` from `into_foreign`,
        // and release is its last user.
        let open = unsafe { T::Open::from_foreign(private) };
        // SAFETY: `file` is valid during release.
        let f = unsafe { File::from_raw(file) };
        this.ops.release(open, &f);
        0
    }

    /// # Safety
    ///
    /// `file` was opened by `open_callback`; `buf` is a user pointer.
    unsafe extern "C" fn read_callback(
        file: *mut bindings::file,
        buf: *mut c_char,
        count: usize,
        _pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: `open_callback` opened `file` (the function's safety
        // requirement), and release cannot run during this call.
        let open = unsafe { Self::open_of(file) };
        // SAFETY: `file` is valid for this call.
        let f = unsafe { File::from_raw(file) };
        let mut writer = UserSlice::new(buf as usize, count).writer();
        match T::read(open, &f, &mut writer) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` was opened by `open_callback`; `buf` is a user pointer.
    unsafe extern "C" fn write_callback(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _pos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: `open_callback` opened `file` (the function's safety
        // requirement), and release cannot run during this call.
        let open = unsafe { Self::open_of(file) };
        // SAFETY: `file` is valid for this call.
        let f = unsafe { File::from_raw(file) };
        let mut reader = UserSlice::new(buf as usize, count).reader();
        match T::write(open, &f, &mut reader) {
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` was opened by `open_callback`; `table` is null or valid.
    unsafe extern "C" fn poll_callback(
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: `open_callback` opened `file` (the function's safety
        // requirement), and release cannot run during this call.
        let open = unsafe { Self::open_of(file) };
        // SAFETY: `file` is valid for this call.
        let f = unsafe { File::from_raw(file) };
        // SAFETY: The VFS passes a valid or null table for this call.
        let t = unsafe { PollTable::from_raw(table) };
        T::poll(open, &f, &t)
    }

    /// # Safety
    ///
    /// `file` was opened by `open_callback`.
    unsafe extern "C" fn ioctl_callback(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: `open_callback` opened `file` (the function's safety
        // requirement), and release cannot run during this call.
        let open = unsafe { Self::open_of(file) };
        // SAFETY: `file` is valid for this call.
        let f = unsafe { File::from_raw(file) };
        match T::ioctl(open, &f, cmd, arg as usize) {
            Ok(n) => n as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// `compat_ioctl`: a 32-bit caller's argument is a 32-bit value;
    /// `compat_ptr` makes it a user pointer by zero extension (x86_64,
    /// arm64, and every other architecture Rust-for-Linux builds for),
    /// which is also what an integer argument must become. The uapi
    /// structures have the same layout for 32-bit callers (64-bit pointer
    /// fields, explicit padding), so the native handler does the rest.
    ///
    /// # Safety
    ///
    /// As for [`Self::ioctl_callback`].
    unsafe extern "C" fn compat_ioctl_callback(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        let arg = (arg as u32) as c_ulong;
        // SAFETY: The caller's guarantees are `ioctl_callback`'s.
        unsafe { Self::ioctl_callback(file, cmd, arg) }
    }
}

/// Makes a cdev with the file operations `fops` live on the `count`
/// device numbers from `base`.
///
/// # Safety
///
/// `fops` must point to a `file_operations` that stays at its address
/// until the cdev is deleted.
unsafe fn add_cdev(
    fops: *const bindings::file_operations,
    base: bindings::dev_t,
    count: u32,
) -> Result<*mut bindings::cdev> {
    // SAFETY: `fops` stays valid until the cdev is deleted (the function's
    // safety requirement).
    let cdev = unsafe { ckpt_pty_cdev_alloc(fops) };
    if cdev.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `cdev` is a fresh cdev whose operations are `fops`.
    let err = unsafe { cdev_add(cdev, base, count) };
    if err != 0 {
        // SAFETY: `cdev_del` drops the allocation's only reference, also of
        // a cdev that was never added.
        unsafe { cdev_del(cdev) };
        return Err(Error::from_errno(err));
    }
    Ok(cdev)
}

#[pinned_drop]
impl<T: FileOperations> PinnedDrop for CharDevice<T> {
    fn drop(self: Pin<&mut Self>) {
        if !self.cdev.is_null() {
            // SAFETY: The cdev was added in `register` (type invariant);
            // files still open pin the module, so this runs only when none
            // is open.
            unsafe { cdev_del(self.cdev) };
        }
        // SAFETY: The region was allocated in `register` (type invariant),
        // and its cdev is gone.
        unsafe { bindings::unregister_chrdev_region(self.base, self.count) };
    }
}

/// A device class: its devices get devtmpfs nodes.
///
/// # Invariants
///
/// `ptr` is a class returned by `class_create`, destroyed on drop.
pub(crate) struct DeviceClass {
    ptr: *mut bindings::class,
}

// SAFETY: A class is usable from any thread (the driver core locks it).
unsafe impl Send for DeviceClass {}
// SAFETY: Shared references only pass the class to the driver core, which
// locks it, or set its `devnode` before any device of it exists.
unsafe impl Sync for DeviceClass {}

impl DeviceClass {
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a static C string.
        let ptr = from_err_ptr(unsafe { bindings::class_create(name.as_char_ptr()) })?;
        Ok(Self { ptr })
    }

    /// Makes devtmpfs create the node of `devt` with mode 0666 (a `ptmx`
    /// every user may open); call before creating that node.
    pub(crate) fn set_world_accessible(&self, devt: bindings::dev_t) {
        WORLD_DEVT.store(devt, Ordering::Release);
        // SAFETY: The class is alive (type invariant), and its `devnode`
        // callback is only read when a device of it is created, which
        // happens after this store on the same thread.
        unsafe { (*self.ptr).devnode = Some(devnode) };
    }
}

/// The device number `devnode` gives mode 0666 (0: none).
static WORLD_DEVT: AtomicU32 = AtomicU32::new(0);

/// `class->devnode`: the default name, and mode 0666 for `WORLD_DEVT`.
///
/// # Safety
///
/// Called by the driver core with a valid device and a valid (or null)
/// mode pointer.
unsafe extern "C" fn devnode(
    dev: *const bindings::device,
    mode: *mut bindings::umode_t,
) -> *mut c_char {
    // SAFETY: The driver core passes a live device.
    let devt = unsafe { (*dev).devt };
    if !mode.is_null() && devt != 0 && devt == WORLD_DEVT.load(Ordering::Acquire) {
        // SAFETY: `mode` is non-null, and valid for writes (the function's
        // safety requirement).
        unsafe { *mode = 0o666 };
    }
    core::ptr::null_mut()
}

impl Drop for DeviceClass {
    fn drop(&mut self) {
        // SAFETY: Created in `create` (type invariant); every `DeviceNode`
        // holds an `Arc` on the class, so none outlives it.
        unsafe { bindings::class_destroy(self.ptr) }
    }
}

/// One device under a [`DeviceClass`]; devtmpfs shows it as `/dev/<name>`
/// (a `/` in the name makes subdirectories, as for `/dev/pts/N`).
///
/// # Invariants
///
/// `devt` was created under `class` by `device_create`; destroyed on drop.
/// The node holds a reference on its class, so the class outlives it.
pub(crate) struct DeviceNode {
    class: Arc<DeviceClass>,
    devt: bindings::dev_t,
}

impl DeviceNode {
    pub(crate) fn create(
        class: &Arc<DeviceClass>,
        devt: bindings::dev_t,
        name: &CStr,
    ) -> Result<Self> {
        // SAFETY: The class is alive; the format is a static "%s" and `name`
        // a valid C string, matching the variadic argument list.
        let dev = unsafe {
            bindings::device_create(
                class.ptr,
                core::ptr::null_mut(),
                devt,
                core::ptr::null_mut::<c_void>(),
                c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        from_err_ptr(dev)?;
        Ok(Self {
            class: class.clone(),
            devt,
        })
    }
}

impl Drop for DeviceNode {
    fn drop(&mut self) {
        // SAFETY: Created in `create` under this class (type invariant).
        unsafe { bindings::device_destroy(self.class.ptr, self.devt) }
    }
}
