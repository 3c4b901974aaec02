// SPDX-License-Identifier: GPL-2.0
//! Host micro-benchmarks of the pure core (`cargo bench -p pty_core`), a
//! small hand-rolled harness: every figure is the median of repeated runs
//! (min and max kept) after a warm-up run, next to a memcpy of the same
//! bytes measured in the same run. Not a test: nothing here fails on speed.
//!
//! `CKPT_BENCH_JSON=path` also writes the figures as JSON (used by
//! `tools/testing/bench.sh`); `CKPT_BENCH_SMOKE=1` makes every run tiny.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::arithmetic_side_effects)]

use ckpt_testkit::{Stat, Xorshift};
use pty_core::checkpoint::{checkpoint, checkpoint_len, snapshot, PairMeta};
use pty_core::image::{decode, PtyMode};
use pty_core::storage::{AllocError, Storage};
use pty_core::stream::{Effects, Io, PtyPair};
use pty_core::termios::{Termios, ECHO, ICANON, IEXTEN, ISIG, OPOST};
use pty_core::waitlist::{Ends, RestartSession};
use pty_core::End;
use std::hint::black_box;
use std::time::Instant;

#[derive(Default)]
struct VecStorage(Vec<u8>);

impl Storage for VecStorage {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
    fn try_grow_to(&mut self, new_len: usize) -> Result<(), AllocError> {
        self.0.resize(new_len, 0);
        Ok(())
    }
    fn release(&mut self) {
        self.0 = Vec::new();
    }
}

type Pair = PtyPair<VecStorage>;

fn pair(t: Termios) -> Pair {
    let mut p = PtyPair::new(VecStorage::default);
    p.slave_opened();
    p.set_termios(t, false, &mut Effects::default());
    p
}

fn raw() -> Termios {
    let mut t = Termios::pty_slave_default();
    t.c_iflag = 0;
    t.c_oflag &= !OPOST;
    t.c_lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
    t
}

/// Runs `f` (which returns the units it processed) once to warm up, then
/// `reps` times; units per second.
fn measure(reps: usize, mut f: impl FnMut() -> f64) -> Stat {
    black_box(f());
    let v = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let units = f();
            units / t.elapsed().as_secs_f64()
        })
        .collect();
    Stat::of(v)
}

/// memcpy of `chunk` bytes `times` times (fresh destination each round).
fn memcpy(chunk: usize, times: usize) -> impl FnMut() -> f64 {
    let src = vec![b'x'; chunk];
    let mut dst = vec![0u8; chunk];
    move || {
        for _ in 0..times {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        }
        (chunk * times) as f64
    }
}

/// `from`'s write: `master_write` or `slave_write`.
fn write_at(p: &mut Pair, from: End, data: &[u8], fx: &mut Effects) -> Io {
    match from {
        End::Master => p.master_write(data, fx),
        End::Slave => p.slave_write(data, fx),
    }
}

/// The read at `from`'s peer: `slave_read` or `master_read`.
fn read_at_peer(p: &mut Pair, from: End, out: &mut [u8], fx: &mut Effects) -> Io {
    match from {
        End::Master => p.slave_read(out, fx),
        End::Slave => p.master_read(out, fx),
    }
}

/// Raw pass-through from the `from` end to its peer: `chunk`-byte writes
/// there, reads of `read_len` bytes at the peer, `times` times.
fn raw_pass(from: End, chunk: usize, read_len: usize, times: usize) -> impl FnMut() -> f64 {
    let mut p = pair(raw());
    let data = vec![b'x'; chunk];
    let mut out = vec![0u8; read_len];
    move || {
        let mut fx = Effects::default();
        let mut moved = 0usize;
        for _ in 0..times {
            let mut off = 0;
            while off < chunk {
                match write_at(&mut p, from, black_box(&data[off..]), &mut fx) {
                    Io::Done(n) => off += n,
                    other => panic!("{}_write: {other:?}", from.name()),
                }
                while let Io::Done(n) = read_at_peer(&mut p, from, &mut out, &mut fx) {
                    moved += n;
                    black_box(&out);
                }
            }
        }
        assert_eq!(moved, chunk * times);
        moved as f64
    }
}

/// Canonical mode with echo: 80-byte lines typed on the master, read line
/// by line on the slave, echo drained from the master. Bytes of input.
fn canon(lines: usize) -> impl FnMut() -> f64 {
    let mut p = pair(Termios::pty_slave_default());
    let mut line = vec![b'a'; 79];
    line.push(b'\n');
    let mut out = vec![0u8; 4096];
    move || {
        let mut fx = Effects::default();
        let mut got = 0usize;
        for _ in 0..lines {
            let mut off = 0;
            while off < line.len() {
                match p.master_write(black_box(&line[off..]), &mut fx) {
                    Io::Done(n) => off += n,
                    other => panic!("master_write: {other:?}"),
                }
                while let Io::Done(_) = p.master_read(&mut out, &mut fx) {}
                while let Io::Done(n) = p.slave_read(&mut out, &mut fx) {
                    got += n;
                    black_box(&out);
                }
            }
        }
        assert_eq!(got, lines * 80);
        got as f64
    }
}

/// A raw pair with 4 KiB queued each way.
fn loaded() -> Pair {
    let mut p = pair(raw());
    let mut fx = Effects::default();
    let data = vec![b'q'; 4096];
    assert_eq!(p.master_write(&data, &mut fx), Io::Done(4096));
    assert_eq!(p.slave_write(&data, &mut fx), Io::Done(4096));
    p
}

fn image(p: &Pair, kind: End) -> Vec<u8> {
    let meta = PairMeta::new(3, PtyMode::Att);
    let len = checkpoint_len(p, kind, &meta).unwrap();
    let mut out = vec![0u8; len];
    assert_eq!(checkpoint(p, kind, &meta, 1, &mut out), Ok(len));
    out
}

/// Checkpoint both streams of a loaded pair; image bytes.
fn encode(times: usize) -> impl FnMut() -> f64 {
    let p = loaded();
    let meta = PairMeta::new(3, PtyMode::Att);
    let mut bm = image(&p, End::Master);
    let mut bs = image(&p, End::Slave);
    move || {
        let mut bytes = 0;
        for i in 0..times {
            bytes += checkpoint(black_box(&p), End::Master, &meta, i as u64, &mut bm).unwrap();
            bytes += checkpoint(black_box(&p), End::Slave, &meta, i as u64, &mut bs).unwrap();
        }
        bytes as f64
    }
}

/// The part of a checkpoint of both streams the kernel does under the
/// pair's lock (sizing and writing the blocks, no sealing); image bytes.
fn snapshot_only(times: usize) -> impl FnMut() -> f64 {
    let p = loaded();
    let meta = PairMeta::new(3, PtyMode::Att);
    let mut bm = image(&p, End::Master);
    let mut bs = image(&p, End::Slave);
    move || {
        let mut bytes = 0;
        for i in 0..times {
            let m = snapshot(black_box(&p), End::Master, &meta, i as u64, &mut bm).unwrap();
            let s = snapshot(black_box(&p), End::Slave, &meta, i as u64, &mut bs).unwrap();
            bytes += m.image_len() + s.image_len();
        }
        bytes as f64
    }
}

/// Decode (and fully check) both images of a loaded pair; image bytes.
fn decode_images(times: usize) -> impl FnMut() -> f64 {
    let p = loaded();
    let bm = image(&p, End::Master);
    let bs = image(&p, End::Slave);
    move || {
        for _ in 0..times {
            black_box(decode(black_box(&bm)).unwrap());
            black_box(decode(black_box(&bs)).unwrap());
        }
        ((bm.len() + bs.len()) * times) as f64
    }
}

/// A whole restart session of `n` pairs: expect (random order), seal, both
/// ends restored in random order, commit. Operations.
fn waitlist(n: u32) -> impl FnMut() -> f64 {
    let mut rng = Xorshift::new(0x5eed);
    let mut idx: Vec<u32> = (0..n).collect();
    rng.shuffle(&mut idx);
    let mut ends: Vec<(u32, End)> = (0..n)
        .flat_map(|i| [(i, End::Master), (i, End::Slave)])
        .collect();
    rng.shuffle(&mut ends);
    move || {
        let mut s = RestartSession::begin(VecStorage::default(), VecStorage::default(), n);
        for &i in &idx {
            s.expect(i, Ends::Both, None).unwrap();
        }
        s.seal().unwrap();
        for &(i, e) in &ends {
            s.end_restored(black_box(i), e).unwrap();
        }
        assert!(s.commit().is_ok());
        (idx.len() + 1 + ends.len() + 1) as f64
    }
}

struct Row {
    id: &'static str,
    what: String,
    unit: &'static str,
    value: Stat,
    memcpy: Stat,
}

fn json_stat(s: &Stat) -> String {
    format!(
        "{{\"median\": {:.1}, \"min\": {:.1}, \"max\": {:.1}, \"runs\": {}}}",
        s.median, s.min, s.max, s.runs
    )
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is ignored.
    let smoke = std::env::var("CKPT_BENCH_SMOKE").is_ok_and(|v| v == "1");
    let (reps, scale) = if smoke { (3, 1usize) } else { (11, 16usize) };
    let mut rows = Vec::new();
    let mut add =
        |id: &'static str, what: String, unit: &'static str, value: Stat, memcpy: Stat| {
            println!(
                "{id:<22} {:>14.0} {unit} [{:.0}..{:.0}]   memcpy {:>14.0} B/s   ratio {:.3}",
                value.median,
                value.min,
                value.max,
                memcpy.median,
                value.median / memcpy.median
            );
            rows.push(Row {
                id,
                what,
                unit,
                value,
                memcpy,
            });
        };

    let times = 256 * scale;
    for (id, chunk) in [("ldterm_raw_m2s_4k", 4096usize), ("ldterm_raw_m2s_64", 64)] {
        let t = times * 4096 / chunk / if chunk < 256 { 8 } else { 1 };
        let v = measure(reps, raw_pass(End::Master, chunk, chunk, t));
        let m = measure(reps, memcpy(chunk, t));
        add(
            id,
            format!("raw master_write+slave_read, {chunk}-byte writes"),
            "B/s",
            v,
            m,
        );
    }
    // The tty core reads the slave through a 64-byte buffer: a 64 KiB
    // write is read in 1024 pieces.
    let t = times / 16;
    let v = measure(reps, raw_pass(End::Master, 65536, 64, t));
    let m = measure(reps, memcpy(65536, t));
    add(
        "ldterm_raw_m2s_64k_tty",
        "raw master_write of 64 KiB, slave_read in the tty core's 64-byte pieces".into(),
        "B/s",
        v,
        m,
    );
    let v = measure(reps, raw_pass(End::Slave, 4096, 4096, times));
    let m = measure(reps, memcpy(4096, times));
    add(
        "ldterm_raw_s2m_4k",
        "raw slave_write+master_read, 4096-byte writes".into(),
        "B/s",
        v,
        m,
    );
    let lines = 1024 * scale;
    let v = measure(reps, canon(lines));
    let m = measure(reps, memcpy(80, lines));
    add(
        "ldterm_canon_80",
        "canonical+echo, 80-byte lines: master_write, slave_read, echo drained".into(),
        "B/s",
        v,
        m,
    );

    let p = loaded();
    let img_bytes = image(&p, End::Master).len() + image(&p, End::Slave).len();
    let t = 64 * scale;
    let v = measure(reps, encode(t));
    let m = measure(reps, memcpy(img_bytes, t));
    add(
        "image_encode",
        format!("checkpoint() of both streams, 4 KiB queued each way ({img_bytes} image bytes)"),
        "B/s",
        v,
        m,
    );
    let v = measure(reps, snapshot_only(t));
    let m = measure(reps, memcpy(img_bytes, t));
    add(
        "image_snapshot",
        "checkpoint::snapshot() of both streams (the part under the pair lock: sizing, blocks, queues copied; no seal), 4 KiB queued each way".into(),
        "B/s",
        v,
        m,
    );
    let v = measure(reps, decode_images(t));
    let m = measure(reps, memcpy(img_bytes, t));
    add(
        "image_decode",
        format!("image::decode() of both images ({img_bytes} bytes)"),
        "B/s",
        v,
        m,
    );

    let n = 4096u32;
    let v = measure(reps, waitlist(n));
    // Reference: memcpy of the session's records (8 bytes per pair) once per operation.
    let ops = (3 * n + 2) as usize;
    let m = measure(reps, memcpy(8 * n as usize, ops / 64));
    add("waitlist_4096", format!("RestartSession at {n} pairs: expect (random order), seal, {} end_restored (random), commit; ops/s", 2 * n), "ops/s", v, m);

    if let Ok(path) = std::env::var("CKPT_BENCH_JSON") {
        let body: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "    {{\"id\": \"{}\", \"what\": \"{}\", \"unit\": \"{}\", \"value\": {}, \"memcpy_bytes_per_s\": {}, \"ratio_to_memcpy\": {:.4}}}",
                    r.id,
                    r.what,
                    r.unit,
                    json_stat(&r.value),
                    json_stat(&r.memcpy),
                    r.value.median / r.memcpy.median
                )
            })
            .collect();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        let doc = format!(
            "{{\n  \"smoke\": {smoke}, \"reps\": {reps}, \"host_cpu\": \"{cpu}\",\n  \"figures\": [\n{}\n  ]\n}}\n",
            body.join(",\n")
        );
        std::fs::write(&path, doc).unwrap();
    }
}
