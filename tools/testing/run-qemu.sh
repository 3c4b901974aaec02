#!/usr/bin/env bash
# Boot the test kernel with an initramfs under QEMU and collect its output.
#   run-qemu.sh BZIMAGE INITRD OUTDIR MODE [FILTER]
# MODE is test, demo or probe (see init.sh). Writes OUTDIR/console.log (the
# whole serial console) and OUTDIR/results.ktap (guest test KTAP, ttyS1).
# Every boot has a hard timeout (CKPT_QEMU_TIMEOUT, default 600 s): a hung
# guest fails the run instead of hanging CI. Exit: 0 when the guest reached
# CKPT-DONE, 124 on timeout, 1 otherwise. CKPT_SEED=N adds ckpt.seed=N (the
# fuzzers' seed), CKPT_APPEND more words to the kernel command line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
kernel=$1 initrd=$2 out=$3 mode=$4 filter=${5:-}
timeout_s=${CKPT_QEMU_TIMEOUT:-600}
mkdir -p "$out"
rm -f "$out/console.log" "$out/results.ktap"

qemu_run() { # accel cpu timeout mode console results
	local append="console=ttyS0 panic=-1 oops=panic ckpt.mode=$4"
	[ -n "$filter" ] && append="$append ckpt.filter=$filter"
	[ -n "${CKPT_SEED:-}" ] && append="$append ckpt.seed=$CKPT_SEED"
	[ -n "${CKPT_APPEND:-}" ] && append="$append $CKPT_APPEND"
	timeout --kill-after=10 "$3" qemu-system-x86_64 -accel "$1" -cpu "$2" \
		-m 1024 -smp 2 -kernel "$kernel" -initrd "$initrd" \
		-append "$append" -display none -monitor none -no-reboot \
		-serial "file:$5" -serial "file:$6" </dev/null
}

# KVM only where it really works: /dev/kvm may be a slow software device
# whose `-cpu host` aborts. The probe boots once and the answer is cached.
accel=${CKPT_ACCEL:-}
if [ -z "$accel" ]; then
	probe_file="$CKPT_CACHE/accel-$(sha256sum "$kernel" | cut -c1-16)"
	if [ -f "$probe_file" ]; then
		accel=$(cat "$probe_file")
	else
		accel=tcg
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			p=$(mktemp -d)
			start=$(date +%s%N)
			if qemu_run kvm host 30 probe "$p/c" "$p/r" >/dev/null 2>&1 &&
				grep -q CKPT-PROBE-OK "$p/c"; then
				kvm_ms=$(( ($(date +%s%N) - start) / 1000000 ))
				# A real KVM boots this kernel in a second or two.
				[ "$kvm_ms" -lt 15000 ] && accel=kvm
			fi
			rm -rf "$p"
		fi
		mkdir -p "$CKPT_CACHE"
		echo "$accel" > "$probe_file"
	fi
fi
cpu=max
[ "$accel" = kvm ] && cpu=host
echo "run-qemu: accel=$accel mode=$mode timeout=${timeout_s}s" >&2

set +e
qemu_run "$accel" "$cpu" "$timeout_s" "$mode" "$out/console.log" "$out/results.ktap"
rc=$?
set -e
echo "$accel" > "$out/accel"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "run-qemu: TIMEOUT after ${timeout_s}s (guest hung)" >&2
	exit 124
fi
grep -q CKPT-DONE "$out/console.log" || { echo "run-qemu: guest did not finish (rc $rc)" >&2; exit 1; }
exit 0
