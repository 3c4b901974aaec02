#!/usr/bin/env bash
# `make bench`: guest benchmarks of ckpt_pty against the native pty (one QEMU
# boot, both measured in the same guest run) and host micro-benchmarks of
# the pure core, written to results/DATE/ as Markdown, JSON and SVG.
# Not a pass/fail test. Environment:
#   CKPT_BENCH_SMOKE=1     tiny sizes (< 20 s in the guest), nothing written to results/
#   CKPT_BENCH_MAX_N=N     largest N of the restart/checkpoint-N figures (default 4096; the
#                          sparse restart uses min(N, 1024), the busy pairs at most N)
#   CKPT_BENCH_REPS=N      measured runs per figure (default 5; 3 for N >= 1024)
#   CKPT_BENCH_MIB=N       MiB per run of the 64 KiB throughput figures (default 8; less
#                          for a slow guest, e.g. the debug kernel)
#   CKPT_BENCH_ONLY=a:b    only these guest sections (raw busy canon echo ckpt1 restart sparse mem)
#   CKPT_BENCH_NS=a:b      exact N list of the restart/checkpoint-N figures (e.g. 4096)
#   CKPT_BENCH_MERGE=F:G   also merge these earlier guest JSONs into the report (e.g. the
#                          guest-raw.json of a run with smaller N); this run wins per figure
#   CKPT_BENCH_HOST=0      skip the host micro-benchmarks
#   CKPT_BENCH_HOST_JSON=F reuse the host micro-benchmark JSON F of an earlier run
#   CKPT_BENCH_MODULE=F    boot this ckpt_pty.ko instead of building the tree's
#   CKPT_BENCH_KERNEL=K    release (default: the test kernel without its debugging)
#                          or debug (the kernel of `make check`)
#   CKPT_BENCH_TSC=0       do not hand the guest the host's TSC rate (see below)
#   CKPT_BENCH_OUT=DIR     where to write (default results/$(date -u +%F))
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
out="$top/build/bench"
mkdir -p "$out"
smoke=${CKPT_BENCH_SMOKE:-0}
opts=""
[ "$smoke" = 1 ] && opts="smoke"
[ -n "${CKPT_BENCH_MAX_N:-}" ] && opts="${opts:+$opts,}maxn=$CKPT_BENCH_MAX_N"
[ -n "${CKPT_BENCH_REPS:-}" ] && opts="${opts:+$opts,}reps=$CKPT_BENCH_REPS"
[ -n "${CKPT_BENCH_MIB:-}" ] && opts="${opts:+$opts,}mib=$CKPT_BENCH_MIB"
[ -n "${CKPT_BENCH_ONLY:-}" ] && opts="${opts:+$opts,}only=$CKPT_BENCH_ONLY"
[ -n "${CKPT_BENCH_NS:-}" ] && opts="${opts:+$opts,}ns=$CKPT_BENCH_NS"
[ -z "$opts" ] && opts="full"
# The guest's clock: see guest-tsc.sh.
if [ "${CKPT_BENCH_TSC:-1}" != 0 ]; then
	tsc_words=$("$here/guest-tsc.sh")
	[ -n "$tsc_words" ] && opts="$opts $tsc_words"
fi

"$here/install-deps.sh" >/dev/null
# The release flavour of the test kernel (debugging off, everything else
# equal): KASAN, lockdep and kmemleak tax our code and the native pty
# differently. CKPT_BENCH_KERNEL=debug measures on the test kernel instead.
flavour=${CKPT_BENCH_KERNEL:-release}
case "$flavour" in
release)
	kdir=$("$here/build-kernel.sh" --release)
	[ -n "${CKPT_BENCH_MODULE:-}" ] || CKPT_BENCH_MODULE=$("$here/build-module.sh" --release) ;;
debug)
	kdir=$("$here/build-kernel.sh")
	[ -n "${CKPT_BENCH_MODULE:-}" ] || CKPT_BENCH_MODULE=$("$here/build-module.sh") ;;
*) echo "bench: CKPT_BENCH_KERNEL must be release or debug" >&2; exit 2 ;;
esac
module=$CKPT_BENCH_MODULE
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" -p ckpt_bench
bench_bin="$top/target/guest/x86_64-unknown-linux-gnu/release/ckpt-bench"
"$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" "$bench_bin"

# Only one QEMU at a time on this machine.
if pgrep -f run-qemu.sh >/dev/null; then
	echo "bench: waiting for another QEMU run to finish" >&2
	while pgrep -f run-qemu.sh >/dev/null; do sleep 1; done
fi
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-3600} \
	"$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" "$out/initramfs.cpio.gz" "$out" bench "$opts" || true
accel=$(cat "$out/accel" 2>/dev/null || echo unknown)
echo "bench: guest ran under $(echo "$accel" | tr a-z A-Z)$([ "$accel" = tcg ] && echo ' (no usable KVM: software emulation, absolute guest figures are slow; compare ratios)')"
grep '^bench:' "$out/console.log" | sed 's/^\[[^]]*\] //' || true
sed -n '/CKPT-BENCH-JSON-BEGIN/,/CKPT-BENCH-JSON-END/p' "$out/results.ktap" | sed '1d;$d' > "$out/guest.json"
[ -s "$out/guest.json" ] || { echo "bench: no guest results (see $out/console.log)" >&2; exit 1; }

host_json="$out/host.json"
rm -f "$host_json"
if [ -n "${CKPT_BENCH_HOST_JSON:-}" ]; then
	cp "$CKPT_BENCH_HOST_JSON" "$host_json"
elif [ "${CKPT_BENCH_HOST:-1}" != 0 ]; then
	echo "bench: host micro-benchmarks (cargo bench -p pty_core)"
	CKPT_BENCH_JSON="$host_json" CKPT_BENCH_SMOKE="$smoke" cargo bench -q -p pty_core --bench core 2>&1 | grep -v '^$' || true
fi

if [ "$smoke" = 1 ]; then
	dest="$out/smoke"
else
	dest=${CKPT_BENCH_OUT:-$top/results/$(date -u +%F)}
fi
merge=()
IFS=: read -ra merge_files <<< "${CKPT_BENCH_MERGE:-}"
for f in "${merge_files[@]}"; do merge+=(--guest "$f"); done
python3 "$top/tools/bench/report.py" "${merge[@]}" --guest "$out/guest.json" --host "$host_json" \
	--accel "$accel" --kernel "$kdir" --flavour "$flavour" --console "$out/console.log" --out "$dest"
cp "$out/console.log" "$dest/console.log"
cp "$out/guest.json" "$dest/guest-raw.json"
echo "bench: results in $dest"
