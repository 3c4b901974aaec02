// SPDX-License-Identifier: GPL-2.0
//! KUnit suites registered from Rust, in the shape of later kernels'
//! `kunit_unsafe_test_suite!` (6.12 has no `#[kunit_tests]`).
//!
//! A suite is a `static` `kunit_suite` whose pointer sits in the module's
//! `.kunit_test_suites` section: KUnit runs it when the module goes live and
//! prints KTAP on the console.

use kernel::{bindings, ffi::c_char};

/// The running test, handed to every case.
///
/// # Invariants
///
/// `ptr` is the `struct kunit` of the case currently running on this thread.
pub(crate) struct Test {
    ptr: *mut bindings::kunit,
}

impl Test {
    /// # Safety
    ///
    /// `ptr` must be the test KUnit passed to the running case.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::kunit) -> Self {
        // INVARIANT: The caller guarantees that `ptr` is the running test.
        Self { ptr }
    }

    /// Records a failed expectation (the case continues, and is reported
    /// `not ok` with the file, line and condition).
    ///
    /// `file` and `condition` must end with a NUL byte.
    #[doc(hidden)]
    pub(crate) fn fail(&mut self, file: &'static [u8], line: u32, condition: &'static [u8]) {
        if file.last() != Some(&0) || condition.last() != Some(&0) {
            return;
        }
        let loc = bindings::kunit_loc {
            file: file.as_ptr().cast::<c_char>(),
            line: line as i32,
        };
        let assert = bindings::kunit_unary_assert {
            assert: bindings::kunit_assert {},
            condition: condition.as_ptr().cast::<c_char>(),
            expected_true: true,
        };
        // SAFETY: `ptr` is the running test (type invariant); location and
        // assertion outlive the call, which formats them at once; strings are
        // NUL terminated (checked above); a null message format is allowed.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.ptr,
                &loc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_unary_assert_format),
                core::ptr::null(),
            )
        }
    }
}

/// Expects `cond` to hold; on failure the case is marked failed with this
/// location and goes on (like `KUNIT_EXPECT_TRUE`).
macro_rules! check {
    ($test:expr, $cond:expr $(,)?) => {
        if !($cond) {
            $test.fail(
                concat!(file!(), "\0").as_bytes(),
                line!(),
                concat!(stringify!($cond), "\0").as_bytes(),
            );
        }
    };
}
pub(crate) use check;

/// Expects two values to be equal (compared with `==`).
macro_rules! check_eq {
    ($test:expr, $left:expr, $right:expr $(,)?) => {
        $crate::seam::kunit::check!($test, ($left) == ($right))
    };
}
pub(crate) use check_eq;

/// A KUnit case entry.
pub(crate) const fn case(
    name: &'static [u8],
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    // SAFETY: All-zero is valid for every remaining C member (null pointers,
    // status KUNIT_SUCCESS, no attributes).
    let mut c: bindings::kunit_case = unsafe { core::mem::zeroed() };
    c.run_case = Some(run);
    c.name = name.as_ptr().cast();
    c
}

/// The all-zero entry that ends a case array.
pub(crate) const fn case_end() -> bindings::kunit_case {
    // SAFETY: KUnit's terminator is an all-zero case.
    unsafe { core::mem::zeroed() }
}

/// A suite named `name` (truncated to fit) running `cases`.
pub(crate) const fn suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: All-zero is valid for every C member we do not set.
    let mut s: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    let mut i = 0;
    // Leave the last byte zero: the name stays NUL terminated.
    while i < bytes.len() && i + 1 < s.name.len() {
        s.name[i] = bytes[i] as c_char;
        i += 1;
    }
    s.test_cases = cases;
    s
}

/// Declares a KUnit suite: `kunit_suite!(module_name, "suite_name", [case, ...]);`
/// where each case is a `fn(&mut Test)` visible from the invoking module.
macro_rules! kunit_suite {
    ($module:ident, $name:literal, [$($case:ident),+ $(,)?]) => {
        mod $module {
            $(
                /// # Safety
                ///
                /// Called by KUnit with the running test.
                unsafe extern "C" fn $case(test: *mut kernel::bindings::kunit) {
                    // SAFETY: KUnit passes the test this case runs in.
                    let mut t = unsafe { $crate::seam::kunit::Test::from_raw(test) };
                    super::$case(&mut t);
                }
            )+

            const N_CASES: usize = [$(stringify!($case)),+].len();

            static mut CASES: [kernel::bindings::kunit_case; N_CASES + 1] = [
                $($crate::seam::kunit::case(concat!(stringify!($case), "\0").as_bytes(), $case),)+
                $crate::seam::kunit::case_end(),
            ];

            static mut SUITE: kernel::bindings::kunit_suite =
                $crate::seam::kunit::suite($name, (&raw mut CASES).cast());

            // KUnit finds the suite through this section when the module loads.
            #[used]
            #[link_section = ".kunit_test_suites"]
            static mut SUITE_ENTRY: *mut kernel::bindings::kunit_suite = &raw mut SUITE;
        }
    };
}
pub(crate) use kunit_suite;
