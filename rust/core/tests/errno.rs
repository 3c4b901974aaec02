// SPDX-License-Identifier: GPL-2.0
//! Pins the errno of every variant of every core error, the numbers of
//! [`Errno`] (against libc), and that each variant's documentation names
//! the errno its `errno()` returns.

use pty_core::checkpoint::RestoreError;
use pty_core::codec::FieldError;
use pty_core::errno::Errno::{self, *};
use pty_core::image::{ConstantField, ImageError, ModuleName, ModulePart, PtyMode};
use pty_core::index::IndexError;
use pty_core::ldterm::RestoreError as LdtermRestoreError;
use pty_core::options::OptionError;
use pty_core::storage::{AllocError, FixedStorage};
use pty_core::stream::RequestError;
use pty_core::waitlist::{CommitError, Ends, RestartSession, SessionError};
use pty_core::End;

/// The errno a variant's documentation names: the last `` `EXXX` `` in the
/// doc comment right above `variant` in `enum_name` of `source`; `None` if
/// it names none (a variant that passes on another error's errno).
fn documented(source: &str, enum_name: &str, variant: &str) -> Option<String> {
    let start = source
        .find(&format!("pub enum {enum_name}"))
        .unwrap_or_else(|| panic!("enum {enum_name} not found"));
    let lines: Vec<&str> = source[start..].lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            l.strip_prefix("    ")
                .and_then(|l| l.strip_prefix(variant))
                .is_some_and(|rest| [",", " {", "("].iter().any(|p| rest.starts_with(p)))
        })
        .unwrap_or_else(|| panic!("{enum_name}::{variant} not found"));
    let doc: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with("///") || l.trim_start().starts_with("#["))
        .copied()
        .collect();
    doc.iter().find_map(|l| {
        l.rsplit('`')
            .filter(|w| {
                w.len() > 1 && w.starts_with('E') && w.chars().all(|c| c.is_ascii_uppercase())
            })
            .find(|w| Errno::ALL.iter().any(|e| format!("{e:?}") == *w))
            .map(str::to_string)
    })
}

/// Checks `cases` (variant name, value's errno, pinned errno) and that the
/// documentation of each variant names that errno.
fn check(source: &str, enum_name: &str, cases: &[(&str, Errno, Errno)]) {
    for &(variant, got, want) in cases {
        assert_eq!(got, want, "{enum_name}::{variant}");
        let doc = documented(source, enum_name, variant)
            .unwrap_or_else(|| panic!("{enum_name}::{variant}: no errno documented"));
        assert_eq!(doc, format!("{want:?}"), "{enum_name}::{variant}: doc");
    }
}

#[test]
fn errno_numbers_are_the_asm_generic_ones() {
    for e in Errno::ALL {
        let libc = match e {
            ENOENT => libc::ENOENT,
            EIO => libc::EIO,
            ENXIO => libc::ENXIO,
            ENOMEM => libc::ENOMEM,
            EBUSY => libc::EBUSY,
            EINVAL => libc::EINVAL,
            ERANGE => libc::ERANGE,
            EBADMSG => libc::EBADMSG,
            EOVERFLOW => libc::EOVERFLOW,
            EPROTONOSUPPORT => libc::EPROTONOSUPPORT,
        };
        assert_eq!(e.code(), libc, "{e:?}");
    }
    let mut codes: Vec<i32> = Errno::ALL.iter().map(|e| e.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Errno::ALL.len());
}

#[test]
fn field_error() {
    let src = include_str!("../codec.rs");
    let e = |e: FieldError| e.errno();
    check(
        src,
        "FieldError",
        &[
            (
                "Short",
                e(FieldError::Short {
                    offset: 0,
                    needed: 1,
                    len: 0,
                }),
                EINVAL,
            ),
            ("Invalid", e(FieldError::Invalid { offset: 0 }), EINVAL),
            (
                "Leftover",
                e(FieldError::Leftover { offset: 0, len: 1 }),
                EINVAL,
            ),
        ],
    );
}

/// One value of every [`ImageError`] variant, with its name.
fn image_errors() -> Vec<(&'static str, ImageError)> {
    use ImageError as E;
    let field = FieldError::Invalid { offset: 0 };
    vec![
        ("Truncated", E::Truncated { len: 0, needed: 1 }),
        ("BadMagic", E::BadMagic { found: [0; 8] }),
        ("UnsupportedVersion", E::UnsupportedVersion { found: 2 }),
        ("BadHeaderLength", E::BadHeaderLength { found: 0 }),
        ("BadStreamKind", E::BadStreamKind { found: 0 }),
        ("BadPtyMode", E::BadPtyMode { found: 9 }),
        ("TooManyModules", E::TooManyModules { count: 9, max: 8 }),
        (
            "LengthMismatch",
            E::LengthMismatch {
                declared: 0,
                actual: 72,
            },
        ),
        (
            "ModuleCount",
            E::ModuleCount {
                count: 1,
                processed: 0,
                to_process: 0,
            },
        ),
        ("BadError", E::BadError { value: 1 }),
        (
            "BadFailedModule",
            E::BadFailedModule {
                found: 0,
                expected: 1,
            },
        ),
        (
            "UnsupportedStateVersion",
            E::UnsupportedStateVersion { found: 1 },
        ),
        (
            "ConstantsMismatch",
            E::ConstantsMismatch {
                field: ConstantField::Nccs,
                image: 1,
                kernel: 19,
            },
        ),
        ("NonZeroReserved", E::NonZeroReserved { offset: 60 }),
        (
            "BadModuleName",
            E::BadModuleName {
                index: 0,
                offset: 64,
                found: [0; 8],
            },
        ),
        (
            "BlockOverrun",
            E::BlockOverrun {
                index: 0,
                offset: 64,
                limit: 64,
            },
        ),
        ("NonZeroPadding", E::NonZeroPadding { offset: 81 }),
        ("TrailingBytes", E::TrailingBytes { offset: 64, len: 8 }),
        (
            "BadChecksum",
            E::BadChecksum {
                computed: 1,
                stored: 2,
            },
        ),
        (
            "Aborted",
            E::Aborted {
                error: -5,
                module: 0,
            },
        ),
        (
            "ChainLength",
            E::ChainLength {
                expected: 3,
                found: 4,
            },
        ),
        (
            "ChainMismatch",
            E::ChainMismatch {
                index: 1,
                expected: ModuleName::Tioc,
                found: ModuleName::Ldterm,
            },
        ),
        (
            "ModuleState",
            ImageError::in_module(field, ModuleName::Pts, ModulePart::External),
        ),
        ("WriterFull", E::WriterFull { planned: 3 }),
        (
            "Incomplete",
            E::Incomplete {
                processed: 1,
                to_process: 2,
            },
        ),
        (
            "OutputTooSmall",
            E::OutputTooSmall {
                needed: 72,
                available: 0,
            },
        ),
        ("TooLarge", E::TooLarge),
    ]
}

#[test]
fn image_error() {
    let pinned = |name: &str| match name {
        "UnsupportedVersion" | "UnsupportedStateVersion" | "ConstantsMismatch" => EPROTONOSUPPORT,
        "BadChecksum" => EBADMSG,
        "OutputTooSmall" => ERANGE,
        "TooLarge" => EOVERFLOW,
        _ => EINVAL,
    };
    let cases: Vec<_> = image_errors()
        .into_iter()
        .map(|(name, e)| (name, e.errno(), pinned(name)))
        .collect();
    assert_eq!(cases.len(), 27, "one case per ImageError variant");
    check(include_str!("../image/error.rs"), "ImageError", &cases);
}

#[test]
fn checkpoint_restore_error() {
    let kind = End::Master;
    let bad = RestoreError::BadState {
        module: ModuleName::Ptm,
        part: ModulePart::Internal,
        offset: 7,
        what: "impossible packet status",
    };
    let wrong = RestoreError::WrongKind {
        expected: kind,
        found: End::Slave,
    };
    check(
        include_str!("../checkpoint/error.rs"),
        "RestoreError",
        &[
            ("WrongKind", wrong.errno(), EINVAL),
            ("NotFresh", RestoreError::NotFresh { kind }.errno(), EBUSY),
            (
                "OtherPty",
                RestoreError::OtherPty {
                    expected: (3, PtyMode::Att),
                    found: (4, PtyMode::Att),
                }
                .errno(),
                EINVAL,
            ),
            (
                "NotHere",
                RestoreError::NotHere { what: "a test" }.errno(),
                EINVAL,
            ),
            ("NoMemory", RestoreError::NoMemory.errno(), ENOMEM),
            ("BadState", bad.errno(), EINVAL),
        ],
    );
    // An image error passes on its own errno.
    for (name, e) in image_errors() {
        assert_eq!(RestoreError::Image(e).errno(), e.errno(), "Image({name})");
    }
}

#[test]
fn ldterm_restore_error() {
    check(
        include_str!("../ldterm/state.rs"),
        "RestoreError",
        &[
            (
                "Inconsistent",
                LdtermRestoreError::Inconsistent.errno(),
                EINVAL,
            ),
            ("NoMemory", LdtermRestoreError::NoMemory.errno(), ENOMEM),
        ],
    );
}

/// One value of every [`SessionError`] variant, its name and its errno.
fn session_errors() -> Vec<(&'static str, SessionError, Errno)> {
    use SessionError as E;
    let end = End::Master;
    vec![
        ("OutOfRange", E::OutOfRange { index: 9 }, EINVAL),
        ("DuplicateIndex", E::DuplicateIndex { index: 1 }, EINVAL),
        (
            "DuplicateSocket",
            E::DuplicateSocket {
                first: 1,
                second: 2,
            },
            EINVAL,
        ),
        ("UnknownIndex", E::UnknownIndex { index: 3 }, ENOENT),
        ("NotExpected", E::NotExpected { index: 1, end }, EINVAL),
        (
            "AlreadyRestored",
            E::AlreadyRestored { index: 1, end },
            EBUSY,
        ),
        ("UnknownSocket", E::UnknownSocket, ENOENT),
        (
            "SocketAlreadyRestored",
            E::SocketAlreadyRestored { index: 1 },
            EBUSY,
        ),
        ("Sealed", E::Sealed, EBUSY),
        ("NotSealed", E::NotSealed, EINVAL),
        ("Closed", E::Closed, EINVAL),
        ("NoMemory", E::NoMemory, ENOMEM),
        ("TableFault", E::TableFault, EIO),
    ]
}

#[test]
fn session_error() {
    let cases: Vec<_> = session_errors()
        .into_iter()
        .map(|(name, e, want)| (name, e.errno(), want))
        .collect();
    check(include_str!("../waitlist/error.rs"), "SessionError", &cases);
}

#[test]
fn commit_error() {
    type Fixed = FixedStorage<256>;
    let mut s = RestartSession::begin(Fixed::new(), Fixed::new(), 4);
    s.expect(0, Ends::Both, None).unwrap();
    s.seal().unwrap();
    let orphans = match s.commit() {
        Err(e @ CommitError::Orphans(_)) => e.errno(),
        other => panic!("commit with a missing pair: {other:?}"),
    };
    check(
        include_str!("../waitlist/error.rs"),
        "CommitError",
        &[("Orphans", orphans, ENXIO)],
    );
    // A session error passes on its own errno.
    for (name, e, want) in session_errors() {
        let c: CommitError<'_, Fixed> = CommitError::Session(e);
        assert_eq!(c.errno(), want, "Session({name})");
    }
}

#[test]
fn index_option_request_and_alloc_errors() {
    check(
        include_str!("../index.rs"),
        "IndexError",
        &[
            ("Busy", IndexError::Busy.errno(), EBUSY),
            ("OutOfRange", IndexError::OutOfRange.errno(), ENXIO),
        ],
    );
    check(
        include_str!("../options.rs"),
        "OptionError",
        &[
            ("Unknown", OptionError::Unknown("x=1").errno(), EINVAL),
            ("BadValue", OptionError::BadValue("uid=x").errno(), EINVAL),
            (
                "OutOfRange",
                OptionError::OutOfRange("max=0").errno(),
                EINVAL,
            ),
        ],
    );
    check(
        include_str!("../stream/mod.rs"),
        "RequestError",
        &[
            ("Invalid", RequestError::Invalid.errno(), EINVAL),
            ("Hangup", RequestError::Hangup.errno(), EIO),
        ],
    );
    assert_eq!(AllocError.errno(), ENOMEM);
    assert!(include_str!("../storage.rs").contains("pub struct AllocError;"));
}
