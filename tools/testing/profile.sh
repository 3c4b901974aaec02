#!/usr/bin/env bash
# Where the guest's time goes in a benchmark section: boots the release
# kernel (as `make bench`) with perf in the initramfs, records every CPU
# while ckpt-bench runs the sections, and prints the hottest symbols
# (kernel, module and user) to build/profile/report.txt. Development aid,
# not part of `make check`. Needs the host's linux-perf package.
#   profile.sh SECTIONS [BENCH_OPTS]
#   e.g. profile.sh raw reps=3,mib=4     profile.sh canon kind=ckpt
# (kind=ckpt or kind=native: only that pty is measured, so the profile
# is its alone; the figures of the other kind then mean nothing)
# Environment: CKPT_BENCH_KERNEL=release|debug, CKPT_PROFILE_FREQ (Hz, 999).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
sections=${1:?usage: profile.sh SECTIONS [BENCH_OPTS]}
extra=${2:-}
out="$top/build/profile"
mkdir -p "$out"
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null

case "${CKPT_BENCH_KERNEL:-release}" in
release)
	kdir=$("$here/build-kernel.sh" --release)
	module=$("$here/build-module.sh" --release) ;;
*)
	kdir=$("$here/build-kernel.sh")
	module=$("$here/build-module.sh") ;;
esac
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" -p ckpt_bench
bench_bin="$top/target/guest/x86_64-unknown-linux-gnu/release/ckpt-bench"

opts="only=$(echo "$sections" | tr , :)${extra:+,$extra}"
cat > "$out/custom.sh" <<SCRIPT
echo "profile: \$(nproc) CPUs"
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
/usr/bin/perf record -q -F ${CKPT_PROFILE_FREQ:-999} -a -g -o /tmp/perf.data -- /bin/ckpt-bench --opts $opts > /tmp/bench.json 2>&1
echo "profile: bench exit \$?"
grep -i error /tmp/bench.json | head -5
grep '"id"' /tmp/bench.json | sed -E 's/.*"id": "([^"]*)".*"ratio_ckpt_over_native": ([^}]*)\}.*/profile: \1 ckpt\/native \2/'
echo CKPT-PROFILE-BEGIN
/usr/bin/perf report -i /tmp/perf.data --stdio --no-children --sort dso,sym --percent-limit 0.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^\$'
echo CKPT-PROFILE-CALLERS
/usr/bin/perf report -i /tmp/perf.data --stdio --no-children --sort sym --percent-limit 1 -g caller,0.5,callee,function,percent --max-stack 12 2>/dev/null | grep -v '^#' | head -1500
echo CKPT-PROFILE-END
SCRIPT
CKPT_PERF=1 CKPT_EXTRA="/custom.sh=$out/custom.sh" \
	"$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" "$bench_bin"
CKPT_APPEND="$("$here/guest-tsc.sh")" CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-1800} \
	"$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" "$out/initramfs.cpio.gz" "$out" custom || true
sed -n '/CKPT-PROFILE-BEGIN/,/CKPT-PROFILE-END/p' "$out/console.log" | sed 's/\r$//' > "$out/report.txt"
grep '^profile:' "$out/console.log" || true
echo "profile: report in $out/report.txt ($(wc -l < "$out/report.txt") lines)"
