// SPDX-License-Identifier: GPL-2.0
//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Checkpoint and restart ckpt_pty pseudo terminals";

const LONG_ABOUT: &str = "\
Checkpoint and restart ckpt_pty pseudo terminals.

ckpt_pty provides pseudo terminals (/dev/ckpt/ptmx and /dev/ckpt/pts/N, BSD \
pairs /dev/ckpt/pts/ptyN and ttyN) whose complete state - settings, \
half-typed lines, bytes in flight - can be saved and restored while the \
user stays logged in. ckptctl shows that state, freezes and thaws pairs, \
dumps the ends a set of processes hold into one image file, inspects such a \
file (without the module), and restores it, handing the restored ends to a \
command at their original descriptor numbers.";

const AFTER_HELP: &str = "\
EXAMPLES:
  ckptctl status                       show the module and every pair
  ckptctl freeze --pid 1234            stop all data on 1234's terminals
  ckptctl dump --pid 1234 -o s.img     save 1234's terminals (then thawed)
  ckptctl inspect s.img                look at an image, no module needed
  ckptctl restore s.img -- reattach    restore, run `reattach` with the fds

FILES:
  /dev/ckpt/control    restart sessions and global status
  /sys/module/ckpt_pty present while the module is loaded
  tools/ckptctl/FORMAT.md  the image file format";

const STATUS_EX: &str = "\
EXAMPLES:
  ckptctl status
  ckptctl status --json | jq '.pairs[] | select(.frozen.master)'";

const FREEZE_EX: &str = "\
EXAMPLES:
  ckptctl freeze --index 3
  ckptctl freeze --index 0 --bsd     the BSD pair /dev/ckpt/pts/pty0 + tty0
  ckptctl freeze --pid 1234";

const THAW_EX: &str = "\
EXAMPLES:
  ckptctl thaw --index 3
  ckptctl thaw --pid 1234";

const DUMP_EX: &str = "\
EXAMPLES:
  ckptctl dump --pid 1234 -o session.img
  ckptctl dump --pid 1234 --pid 1240 -o both.img --leave-frozen";

const INSPECT_EX: &str = "\
EXAMPLES:
  ckptctl inspect session.img
  ckptctl inspect session.img --json | jq '.streams[].queued'";

const RESTORE_EX: &str = "\
EXAMPLES:
  ckptctl restore session.img -- /usr/local/bin/reattach
  ckptctl restore both.img --pid 1240 -- sh -c 'exec screen -r'
  ckptctl restore many.img --order random --seed 7 -- true";

/// `ckptctl --version`: the program's version and the image versions it
/// reads and writes (pinned to pty_core's constants by a test).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (reads and writes ckpt_pty images of format version 1, state version 2, \
     in ckptctl container version 1)"
);

/// `examples` followed by the exit codes.
fn with_exit_codes(examples: &str) -> String {
    format!("{examples}\n\n{}", crate::error::exit_codes_help())
}

/// ckptctl's arguments.
#[derive(Debug, Parser)]
#[command(
    name = "ckptctl",
    version = VERSION,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = with_exit_codes(AFTER_HELP),
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show whether the module is loaded, its counters and every pair.
    #[command(
        long_about = "\
Show whether the module is loaded (and its version), the global counters \
(CKPT_GLOBAL_STATUS on /dev/ckpt/control) and every pair it can see: index \
and mode, which processes hold which end (from /proc/*/fd), whether it is \
frozen, bytes queued toward each end (CKPT_STATUS on a duplicate of a \
holder's descriptor, taken with pidfd_getfd: nothing is opened), a termios \
summary and the associated socket. Values that cannot be read (no holder, \
not root) show as '-'.

Exits with 2 when the module is not loaded.",
        after_help = STATUS_EX,
        after_long_help = with_exit_codes(STATUS_EX)
    )]
    Status {
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Freeze pairs: no data moves on either end until thawed.
    #[command(
        long_about = "\
Freeze every end of a pair (--index) or every end a process holds (--pid) \
with CKPT_FREEZE. Readers and writers of a frozen pair block (or get \
EAGAIN with O_NONBLOCK); nothing queued is lost. The ends are reached \
through duplicates of the holders' descriptors.",
        after_help = FREEZE_EX,
        after_long_help = with_exit_codes(FREEZE_EX)
    )]
    Freeze(Target),

    /// Thaw frozen pairs.
    #[command(
        long_about = "\
Thaw every end of a pair (--index) or every end a process holds (--pid) \
with CKPT_THAW: blocked readers and writers go on.",
        after_help = THAW_EX,
        after_long_help = with_exit_codes(THAW_EX)
    )]
    Thaw(Target),

    /// Save every pty end some processes hold into one image file.
    #[command(
        long_about = "\
Find every ckpt_pty end the processes hold (/proc/PID/fd), take \
duplicates of their descriptors with pidfd_open + pidfd_getfd (the \
processes need not cooperate; ckptctl needs ptrace access to them: run it \
as root), freeze all of them, checkpoint each distinct stream once, thaw \
them (unless --leave-frozen) and write one image file: the holder table \
(pid, descriptor, open flags, end, index, mode) and the kernel's image of \
every stream. See tools/ckptctl/FORMAT.md.

The file is written atomically (a temporary file renamed over IMAGE).",
        after_help = DUMP_EX,
        after_long_help = with_exit_codes(DUMP_EX)
    )]
    Dump {
        /// A process whose ends to save (repeat for more).
        #[arg(long = "pid", value_name = "PID", required = true)]
        pids: Vec<i32>,
        /// The image file to write.
        #[arg(short = 'o', long = "output", value_name = "IMAGE")]
        output: PathBuf,
        /// Leave the streams frozen (the departure side of a migration).
        #[arg(long)]
        leave_frozen: bool,
    },

    /// Decode and check an image file, and print what it holds.
    #[command(
        long_about = "\
Read an image file, check it completely with the same codec the kernel \
uses (the container, every stream image, and every module block, by \
restoring it into an in-memory pair), and print every stream: pair index, \
end, mode, module blocks (name, internal and external lengths), queued \
bytes, the status block and the termios summary. Works without the module. \
A damaged file gives a precise error (what, at which offset) and exit 3; a \
file of an incompatible version exit 4.",
        after_help = INSPECT_EX,
        after_long_help = with_exit_codes(INSPECT_EX)
    )]
    Inspect {
        /// The image file.
        #[arg(value_name = "IMAGE")]
        image: PathBuf,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Restore an image file and run a command with the restored ends.
    #[command(
        long_about = "\
Restore every pty end of an image and run CMD with the descriptors of one \
process of the image (--pid, default the first in the image) installed at \
their original numbers; every other restored descriptor is closed when \
CMD starts.

AT&T pairs are restored in one session on /dev/ckpt/control: \
CKPT_SESSION_BEGIN claims every index of the image (exit 5 if one is in \
use), each end is opened (slaves at /dev/ckpt/pts/N with their recorded \
flags, masters with CKPT_OPEN_MASTER) and given its image (CKPT_RESTART) \
in the chosen --order, and CKPT_SESSION_COMMIT brings them all to life at \
once, or names the ends that are missing (orphans, exit 6) and rolls \
everything back. BSD pairs are opened by name and restored directly. Needs \
CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN.

Sessions and controlling terminals belong to processes, which ckptctl does \
not restore: CMD runs in a new session whose controlling terminal is the \
restored slave at descriptor 0 (or else the lowest-numbered one), with CMD's \
process group in the foreground, as a login would set it up (--no-ctty: \
run CMD in ckptctl's own session instead).",
        after_help = RESTORE_EX,
        after_long_help = with_exit_codes(RESTORE_EX)
    )]
    Restore {
        /// The image file.
        #[arg(value_name = "IMAGE")]
        image: PathBuf,
        /// In which order the ends are restored.
        #[arg(long, value_enum, default_value_t = Order::Image)]
        order: Order,
        /// Seed of --order random (default: from the clock; printed).
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// Whose descriptors CMD gets (a pid of the image).
        #[arg(long, value_name = "P")]
        pid: Option<u32>,
        /// Do not make a restored slave CMD's controlling terminal.
        #[arg(long)]
        no_ctty: bool,
        /// The command to run, and its arguments.
        #[arg(
            value_name = "CMD",
            required = true,
            last = true,
            num_args = 1..,
            allow_hyphen_values = true
        )]
        command: Vec<OsString>,
    },

    /// Write the manual page or a shell completion (for packaging).
    #[command(hide = true)]
    Generate {
        /// What to write.
        #[command(subcommand)]
        what: Generate,
    },
}

/// What `ckptctl generate` writes.
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// The manual pages ckptctl.1 and ckptctl-COMMAND.1, into DIR.
    Man {
        /// Where to write them.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// The completion script of SHELL, on standard output.
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// Which pairs `freeze` and `thaw` act on.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["index", "pid"])))]
pub struct Target {
    /// The pair with this index.
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Every pair an end of which this process holds.
    #[arg(long, value_name = "P")]
    pub pid: Option<i32>,
    /// With --index: the BSD pair /dev/ckpt/pts/ptyN + ttyN, not an AT&T pair.
    #[arg(long, conflicts_with = "pid")]
    pub bsd: bool,
}

/// The order in which `restore` restores the ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// As in the image (stream table order).
    Image,
    /// The image's order, reversed.
    Reverse,
    /// Shuffled (with --seed).
    Random,
}
