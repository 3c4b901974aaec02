// SPDX-License-Identifier: GPL-2.0
//! What the two fuzzers share: the seed and knobs, a seeded random number
//! generator, and the runner that starts a fuzzer as a child process of its
//! own session and watches it with a deadline.
//!
//! Knobs come from the kernel command line (`ckpt.NAME=VALUE`, which
//! `CKPT_APPEND` or `CKPT_SEED` put there through `run-qemu.sh`) or, on a
//! host, from the environment (`CKPT_NAME`, e.g. `CKPT_SEED`, `CKPT_FUZZ_OPS`):
//!
//! - `ckpt.seed=0x...`: the run's seed (random when absent, always printed);
//! - `ckpt.fuzz_ioctls=N`, `ckpt.fuzz_threads=N`, `ckpt.fuzz_secs=N`: the
//!   ioctl fuzzer's count, workers and time cap;
//! - `ckpt.fuzz_images=N`, `ckpt.fuzz_image_secs=N`: the image fuzzer's;
//! - `ckpt.fuzz_verbose=1`: more progress lines.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The value of knob `name`: `ckpt.NAME=` on the kernel command line, else
/// the environment variable `CKPT_NAME` (upper case).
pub fn knob(name: &str) -> Option<String> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let key = format!("ckpt.{name}=");
    if let Some(v) = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key.as_str()))
    {
        return Some(v.to_string());
    }
    std::env::var(format!("CKPT_{}", name.to_uppercase())).ok()
}

/// A number, decimal or `0x` hexadecimal.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A numeric knob with a default.
pub fn knob_u64(name: &str, default: u64) -> u64 {
    knob(name).and_then(|v| parse_u64(&v)).unwrap_or(default)
}

/// The run's seed: `ckpt.seed=` (or `CKPT_SEED`), else random. The
/// same value for both fuzzers of a run; each derives its own stream.
pub fn seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        knob("seed").and_then(|v| parse_u64(&v)).unwrap_or_else(|| {
            let mut b = [0u8; 8];
            // SAFETY: `b` is valid for 8 bytes.
            let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            if n == 8 {
                u64::from_ne_bytes(b)
            } else {
                t ^ u64::from(std::process::id()) << 32
            }
        })
    })
}

/// splitmix64: derives independent streams from one seed.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small, fast, seeded generator (xoshiro256**).
#[derive(Clone, Debug)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let a = mix(seed);
        let b = mix(a);
        let c = mix(b);
        let d = mix(c);
        Self([a, b, c, d | 1])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    pub fn u8(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            ((self.next_u64() >> 11) % n as u64) as usize
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    /// Index chosen with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_ne_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Kernel defects the fuzzers found (issue 10), all fixed. Each has a case
/// the fuzzers make on purpose and check exactly, so that a recurrence
/// fails the run (Documentation/testing.rst, "Found and fixed").
pub const FIXED_DEFECTS: &[(&str, &str)] = &[
    (
        "K1",
        "a refused restart changes nothing: a slave image whose node owner uid or gid \
         does not map is refused with EINVAL before anything loads, and the end's correct \
         image is then accepted",
    ),
    (
        "K2",
        "BSD pairs are never locked: a restored master image's lock flag is not applied, \
         and a BSD pair opens again once its session ended",
    ),
    (
        "K3",
        "a pair a restart session lists with its slave only ends at commit as one whose \
         master closed (slave hung up, node gone) and is freed at its last slave close",
    ),
    (
        "K4",
        "a slave image with output stopped by ^S (not TCOOFF) while IXON is off is \
         refused with EINVAL",
    ),
];

/// What [`FIXED_DEFECTS`] says of `id`.
pub fn fixed_defect(id: &str) -> &'static str {
    FIXED_DEFECTS
        .iter()
        .find(|(k, _)| *k == id)
        .map_or("?", |(_, what)| what)
}

/// Exit status of a fuzzer child that found problems (its `FAIL` lines say
/// which).
pub const CHILD_FOUND: i32 = 3;

/// Runs fuzzer `kind` as `ckpt-guest-tests --fuzz-child KIND SEED`, a child
/// in a session of its own (so terminal ioctls such as `TIOCSCTTY`,
/// `TIOCNOTTY`, `TIOCSPGRP` and `TIOCSIG` reach only its own processes).
/// Its `# ...` lines are shown as the test's diagnostics as they come, its
/// `FAIL ...` lines make the failure message, `NOTE ...` the result note.
/// `env` adds knobs (`CKPT_NAME`) for this child only.
/// A child still running at `deadline` is killed and the test fails
/// (a hang in the kernel becomes a failure, not a stuck run).
pub fn run_child(
    test: &str,
    kind: &str,
    seed: u64,
    deadline: Duration,
    env: &[(&str, String)],
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.arg("--fuzz-child")
        .arg(kind)
        .arg(format!("{seed:#018x}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: setsid is async-signal-safe and has no preconditions.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn fuzzer: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err("no pipe to the fuzzer".to_string());
    };
    let start = Instant::now();
    let fd = stdout.as_raw_fd();
    let mut lines = BufReader::new(stdout);
    let mut fails = Vec::new();
    let mut last = Vec::<String>::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        if lines.buffer().is_empty() {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(1000) as i32;
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r == 0
                || (r < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted)
            {
                continue;
            }
        }
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the fuzzer: {e}")),
        }
        let line = line.trim_end();
        if let Some(d) = line.strip_prefix("# ") {
            println!("# {test}: {d}");
        } else if let Some(f) = line.strip_prefix("FAIL ") {
            println!("# {test}: {f}");
            fails.push(f.to_string());
        } else if let Some(n) = line.strip_prefix("NOTE ") {
            crate::ktap::note(n);
        } else if !line.is_empty() {
            println!("# {test}: {line}");
        }
        last.push(line.to_string());
        if last.len() > 8 {
            last.remove(0);
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    // The child is gone or killed: reap it, bounded (a task stuck in the
    // kernel may never exit).
    let mut status = None;
    for _ in 0..200 {
        match child.try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break,
        }
    }
    if timed_out {
        return Err(format!(
            "seed {seed:#x}: still running after {} s (a hang; killed{}); last lines:\n{}",
            deadline.as_secs(),
            if status.is_some() {
                ""
            } else {
                ", but it did not exit"
            },
            last.join("\n")
        ));
    }
    let Some(status) = status else {
        return Err(format!(
            "seed {seed:#x}: the fuzzer closed its output but did not exit"
        ));
    };
    if !fails.is_empty() {
        return Err(format!(
            "seed {seed:#x}: {} finding(s), see above; first: {}",
            fails.len(),
            fails[0]
        ));
    }
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        return Err(format!(
            "seed {seed:#x}: the fuzzer exited with {:?} (signal {:?}); last lines:\n{}",
            status.code(),
            status.signal(),
            last.join("\n")
        ));
    }
    Ok(())
}
