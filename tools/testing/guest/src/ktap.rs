// SPDX-License-Identifier: GPL-2.0
//! A tiny KTAP producer: each test is a named function returning
//! `Result<(), String>`; failures print the reason as a KTAP diagnostic.

use std::io::Write;

pub type TestResult = Result<(), String>;
pub type TestFn = fn() -> TestResult;

/// A short note the running test attaches to its result line, after `#`
/// (KTAP's diagnostic data): e.g. the seed and counts of a fuzzer.
static NOTE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Sets the note shown on the running test's result line.
pub fn note(text: impl Into<String>) {
    *NOTE.lock().unwrap_or_else(|e| e.into_inner()) = Some(text.into());
}

/// The running test's note so far.
pub fn current_note() -> Option<String> {
    NOTE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn take_note() -> String {
    NOTE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .map(|n| format!(" # {n}"))
        .unwrap_or_default()
}

/// Runs `tests` as one KTAP document on stdout; returns the failure count.
pub fn run(suite: &str, tests: &[(&str, TestFn)], filter: Option<&str>) -> usize {
    let selected: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f)))
        .collect();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "KTAP version 1");
    let _ = writeln!(out, "# Subtest: {suite}");
    let _ = writeln!(out, "1..{}", selected.len());
    let mut failed = 0;
    for (i, (name, test)) in selected.iter().enumerate() {
        let _ = out.flush();
        let start = std::time::Instant::now();
        let result = std::panic::catch_unwind(test).unwrap_or_else(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        });
        let took = start.elapsed();
        let note = take_note();
        if took >= std::time::Duration::from_secs(2) {
            let _ = writeln!(out, "# {name}: {:.1} s", took.as_secs_f64());
        }
        match result {
            Ok(()) => {
                let _ = writeln!(out, "ok {} {}{note}", i + 1, name);
            }
            Err(why) => {
                failed += 1;
                for line in why.lines() {
                    let _ = writeln!(out, "# {name}: {line}");
                }
                let _ = writeln!(out, "not ok {} {}{note}", i + 1, name);
            }
        }
    }
    let _ = out.flush();
    failed
}

/// `ensure!(cond, "format", args)`: fail the test with a message.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !($cond) {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

/// `ensure_eq!(left, right [, message...])`: fail with both values shown.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}:{}: {} == {} failed: {:?} != {:?}",
                file!(),
                line!(),
                stringify!($left),
                stringify!($right),
                l,
                r
            ));
        }
    }};
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}:{}: {}: {:?} != {:?}",
                file!(),
                line!(),
                format!($($msg)+),
                l,
                r
            ));
        }
    }};
}
