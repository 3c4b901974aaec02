// SPDX-License-Identifier: GPL-2.0
//! ckptctl: see `ckptctl --help`.

fn main() {
    std::process::exit(ckptctl::main_with(std::env::args_os()));
}
