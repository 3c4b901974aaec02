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

/// Runs a parsed command. `restore` only returns on failure.
pub fn execute(cli: Cli) -> Result<Output, (Output, Failure)> {
    let proc = Path::new(PROC);
    let plain = |stdout: String| Output {
        stdout,
        stderr: String::new(),
    };
    let fail = |f: Failure| (Output::default(), f);
    match cli.command {
        Command::Status { json } => {
            let r = status::gather(proc, Path::new(procfs::DEV_DIR), Path::new(SYS_MODULE));
            let stdout = if json {
                let mut s = serde_json::to_string_pretty(&status::json(&r)).unwrap_or_default();
                s.push('\n');
                s
            } else {
                status::text(&r)
            };
            if r.loaded {
                Ok(plain(stdout))
            } else {
                Err((plain(stdout), Failure::module_not_loaded()))
            }
        }
        Command::Freeze(t) | Command::Thaw(t) if t.pid.is_some_and(|p| p <= 0) => {
            Err(fail(Failure::usage("--pid: a pid is a positive number")))
        }
        Command::Freeze(t) => freeze_thaw(proc, &t, freeze::Action::Freeze),
        Command::Thaw(t) => freeze_thaw(proc, &t, freeze::Action::Thaw),
        Command::Dump {
            pids,
            output,
            leave_frozen,
        } => {
            let opts = dump::DumpOptions {
                pids,
                output: output.clone(),
                leave_frozen,
            };
            let r = dump::run(proc, &opts).map_err(fail)?;
            let mut stdout = format!(
                "dumped {} streams of {} ptys ({} descriptors) to {} ({} bytes, checkpoint id \
                 {:#018x}); streams {}\n",
                r.streams,
                r.pairs,
                r.holders,
                output.display(),
                r.bytes,
                r.checkpoint_id,
                if leave_frozen {
                    "left frozen"
                } else {
                    "thawed"
                }
            );
            for k in &r.already_frozen {
                stdout.push_str(&format!(
                    "note: {k} was frozen before the dump and stays frozen\n"
                ));
            }
            Ok(plain(stdout))
        }
        Command::Inspect { image, json } => inspect::run(&image, json).map(plain).map_err(fail),
        Command::Restore {
            image,
            order,
            seed,
            pid,
            no_ctty,
            command,
        } => {
            if seed.is_some() && order != cli::Order::Random {
                return Err(fail(Failure::usage(
                    "--seed only makes sense with --order random",
                )));
            }
            let opts = restore::RestoreOptions {
                image,
                ctty: !no_ctty,
                order,
                seed,
                pid,
                command,
            };
            Err(fail(restore::run(&opts)))
        }
        Command::Generate { what } => generate::run(what).map(plain).map_err(fail),
    }
}

fn freeze_thaw(
    proc: &Path,
    t: &cli::Target,
    action: freeze::Action,
) -> Result<Output, (Output, Failure)> {
    let target = match (t.index, t.pid) {
        (Some(i), _) => freeze::Target::Pair(freeze::pair_key(i, t.bsd)),
        (None, Some(p)) => freeze::Target::Pid(p),
        (None, None) => {
            return Err((
                Output::default(),
                Failure::usage("give --index N or --pid P"),
            ))
        }
    };
    freeze::run(proc, target, action)
        .map(|stdout| Output {
            stdout,
            stderr: String::new(),
        })
        .map_err(|f| (Output::default(), f))
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
