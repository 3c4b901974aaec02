// SPDX-License-Identifier: GPL-2.0
//! Module parameters (`insmod ckpt_pty.ko max_pairs=N`), which 6.12's
//! `module!` macro cannot declare: a `kernel_param` in the `__param`
//! section, as C's `module_param(name, uint, 0444)` emits, plus its
//! `.modinfo` description for `modinfo`.

use kernel::{bindings, ffi::c_void, types::Opaque};

/// A `kernel_param` that may live in a `static`.
#[repr(transparent)]
pub(crate) struct KernelParam(pub(crate) bindings::kernel_param);

// SAFETY: The kernel only reads the descriptor (under its param lock); the
// value it points at is written by the loader before `init` runs and is
// read-only afterwards (permission 0444).
unsafe impl Sync for KernelParam {}

// `struct module` is opaque to bindgen here (as in the kernel crate).
#[allow(improper_ctypes)]
extern "C" {
    // The module's own `struct module`, defined by modpost for every module.
    pub(crate) static __this_module: Opaque<bindings::module>;
}

/// Read-only in sysfs, like `module_param(..., 0444)`.
pub(crate) const PERM_READ_ONLY: u16 = 0o444;

/// The descriptor of a `uint` parameter stored at `value`; `name` ends
/// with a NUL byte.
pub(crate) const fn uint_descriptor(name: &'static str, value: *mut u32) -> KernelParam {
    KernelParam(bindings::kernel_param {
        name: name.as_ptr().cast(),
        // SAFETY: Only the address of the module's own descriptor is taken.
        mod_: unsafe { __this_module.get() },
        // `param_ops_uint` is an exported, immutable ops table.
        ops: &raw const bindings::param_ops_uint,
        perm: PERM_READ_ONLY,
        level: -1,
        flags: 0,
        __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
            arg: value.cast::<c_void>(),
        },
    })
}

/// Copies a string into a byte array of exactly its length (for
/// `.modinfo` entries built with `concat!`).
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N && i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a `uint` module parameter: `uint_param!(STORAGE, getter,
/// "name", default, "description")` creates `static mut STORAGE`, the
/// `__param` descriptor, the `modinfo` lines, and `fn getter() -> u32`.
macro_rules! uint_param {
    ($value:ident, $getter:ident, $name:literal, $default:expr, $desc:literal) => {
        static mut $value: u32 = $default;

        /// The parameter's value (set by the loader before `init`).
        fn $getter() -> u32 {
            // SAFETY: Written only by the module loader before `init`;
            // read-only afterwards (permission 0444).
            unsafe { core::ptr::read_volatile(&raw const $value) }
        }

        const _: () = {
            #[used]
            #[link_section = "__param"]
            static PARAM: $crate::seam::param::KernelParam =
                $crate::seam::param::uint_descriptor(concat!($name, "\0"), &raw mut $value);

            const TYPE: &str = concat!("parmtype=", $name, ":uint\0");
            #[used]
            #[link_section = ".modinfo"]
            static PARMTYPE: [u8; TYPE.len()] = $crate::seam::param::modinfo(TYPE);

            const DESC: &str = concat!("parm=", $name, ":", $desc, "\0");
            #[used]
            #[link_section = ".modinfo"]
            static PARM: [u8; DESC.len()] = $crate::seam::param::modinfo(DESC);
        };
    };
}
pub(crate) use uint_param;
