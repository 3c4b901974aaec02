// SPDX-License-Identifier: GPL-2.0
//! ckptctl: inspect, freeze, checkpoint and restart ckpt_pty pseudo
//! terminals from user space.
//!
//! The binary (`src/main.rs`) only calls [`main_with`]; everything is here
//! so the host tests can drive it. All `unsafe` lives in [`sys`].

#![warn(missing_docs)]

pub mod cli;
pub mod container;
pub mod dump;
pub mod ends;
pub mod error;
pub mod freeze;
pub mod generate;
pub mod inspect;
pub mod procfs;
pub mod restore;
pub mod state;
pub mod status;
pub mod sys;

/// The module's user-space interface, shared with the kernel by path.
#[path = "../../../rust/uapi.rs"]
pub mod uapi;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::Parser;

use cli::{Cli, Command};
use error::{Failure, Kind};

/// Where /proc is.
pub const PROC: &str = "/proc";
/// Where the module's sysfs directory is.
pub const SYS_MODULE: &str = "/sys/module/ckpt_pty";

/// Parses the command line; `Err` carries what to print, where, and the
/// exit code (0 for `--help` and `--version`, 64 for usage errors).
pub fn parse<I, T>(args: I) -> Result<Cli, (String, bool, i32)>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|e| {
        let tty = if e.use_stderr() {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let text = if tty {
            e.render().ansi().to_string()
        } else {
            e.render().to_string()
        };
        if e.use_stderr() {
            (text, true, Kind::Usage.exit_code())
        } else {
            (text, false, 0)
        }
    })
}

/// `value` as `--json` prints it: pretty, with a final newline.
pub fn json_text(value: &serde_json::Value) -> error::Result<String> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::other(format!("cannot write the JSON report: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Output of a command that returns (all but `restore`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// For stdout.
    pub stdout: String,
    /// For stderr.
    pub stderr: String,
}

impl Output {
    /// `stdout` and nothing on stderr.
    fn stdout_only(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
        }
    }
}

/// What [`execute`] returns: the output, or the output so far and why the
/// command failed.
pub type Outcome = Result<Output, (Output, Failure)>;

/// A failure with nothing to print before its message.
fn without_output(f: Failure) -> (Output, Failure) {
    (Output::default(), f)
}

/// Runs a parsed command. `restore` only returns on failure.
pub fn execute(cli: Cli) -> Outcome {
    let proc = Path::new(PROC);
    match cli.command {
        Command::Status { json } => status_command(proc, json),
        Command::Freeze(t) => freeze_thaw(proc, &t, freeze::Action::Freeze),
        Command::Thaw(t) => freeze_thaw(proc, &t, freeze::Action::Thaw),
        Command::Dump {
            pids,
            output,
            leave_frozen,
        } => dump_command(
            proc,
            dump::DumpOptions {
                pids,
                output,
                leave_frozen,
            },
        ),
        Command::Inspect { image, json } => plain(inspect::run(&image, json)),
        Command::Restore {
            image,
            order,
            seed,
            pid,
            no_ctty,
            command,
        } => restore_command(restore::RestoreOptions {
            image,
            order,
            seed,
            pid,
            ctty: !no_ctty,
            command,
        }),
        Command::Generate { what } => plain(generate::run(what)),
    }
}

/// A command's text for stdout, or its failure.
fn plain(result: error::Result<String>) -> Outcome {
    result.map(Output::stdout_only).map_err(without_output)
}

/// `status`: the report is printed even when the module is not loaded,
/// which is still a failure (exit 2).
fn status_command(proc: &Path, json: bool) -> Outcome {
    let r = status::gather(proc, Path::new(procfs::DEV_DIR), Path::new(SYS_MODULE));
    let stdout = if json {
        json_text(&status::json(&r)).map_err(without_output)?
    } else {
        status::text(&r)
    };
    if r.loaded {
        Ok(Output::stdout_only(stdout))
    } else {
        Err((Output::stdout_only(stdout), Failure::module_not_loaded()))
    }
}

/// `freeze` and `thaw`: a pair by index or every pair of a process.
fn freeze_thaw(proc: &Path, t: &cli::Target, action: freeze::Action) -> Outcome {
    if t.pid.is_some_and(|p| p <= 0) {
        return Err(without_output(Failure::usage(
            "--pid: a pid is a positive number",
        )));
    }
    let target = match (t.index, t.pid) {
        (Some(i), _) => freeze::Target::Pair(freeze::pair_key(i, t.bsd)),
        (None, Some(p)) => freeze::Target::Pid(p),
        (None, None) => return Err(without_output(Failure::usage("give --index N or --pid P"))),
    };
    plain(freeze::run(proc, target, action))
}

/// `dump`: prints a summary of what was saved.
fn dump_command(proc: &Path, opts: dump::DumpOptions) -> Outcome {
    plain(dump::run(proc, &opts).map(|report| report.summary(&opts)))
}

/// `restore`: returns only on failure.
fn restore_command(opts: restore::RestoreOptions) -> Outcome {
    if opts.seed.is_some() && opts.order != cli::Order::Random {
        return Err(without_output(Failure::usage(
            "--seed only makes sense with --order random",
        )));
    }
    Err(without_output(restore::run(&opts)))
}

/// The whole program: parse, run, print, and return the exit code.
pub fn main_with<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err((text, to_stderr, code)) => {
            if to_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return code;
        }
    };
    let (out, code) = match execute(cli) {
        Ok(out) => (out, 0),
        Err((mut out, f)) => {
            out.stderr.push_str(&format!("ckptctl: {f}\n"));
            (out, f.exit_code())
        }
    };
    let _ = std::io::stdout().write_all(out.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(out.stderr.as_bytes());
    code
}
