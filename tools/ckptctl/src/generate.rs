// SPDX-License-Identifier: GPL-2.0
//! `ckptctl generate`: the manual pages and shell completions, made from
//! the command-line definition itself (so they never drift from `--help`).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, Generate};
use crate::error::Failure;

/// Writes what `what` asks for; returns what to print on standard output.
pub fn run(what: Generate) -> Result<String, Failure> {
    match what {
        Generate::Man { dir } => {
            man_pages(&dir).map(|n| format!("{n} manual pages in {}\n", dir.display()))
        }
        Generate::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ckptctl", &mut out);
            String::from_utf8(out).map_err(|_| Failure::other("completion script is not UTF-8"))
        }
    }
}

/// `ckptctl.1` and one page per visible subcommand (`ckptctl-dump.1`...).
fn man_pages(dir: &Path) -> Result<usize, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::io("create the manual page directory", &e))?;
    let cmd = Cli::command();
    let mut written = 0;
    let mut write = |name: String, page: clap::Command| -> Result<(), Failure> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut buf)
            .map_err(|e| Failure::io("render a manual page", &e))?;
        std::fs::write(dir.join(format!("{name}.1")), buf)
            .map_err(|e| Failure::io("write a manual page", &e))?;
        written += 1;
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("ckptctl-{}", sub.get_name());
        // A page's title is its command name: leak the few short names.
        let title: &'static str = Box::leak(name.clone().into_boxed_str());
        write(name, sub.clone().name(title))?;
    }
    write("ckptctl".into(), cmd)?;
    Ok(written)
}
