#!/usr/bin/env bash
# Development loop: build the module and the guest programs, boot the test
# kernel once and run only the guest tests whose names contain FILTER (all
# when empty). No host tests, story or packaging: `make check` does those.
#   tools/testing/guest-run.sh [FILTER]      results in build/guest-run/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
out="$top/build/guest-run"
rm -rf "$out"
mkdir -p "$out"
kdir=$("$here/build-kernel.sh")
module=$("$here/build-module.sh")
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --color never \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" \
	-p ckpt_guest_tests -p ckpt_session -p ckptctl -p ckpt_bench
bin="$top/target/guest/x86_64-unknown-linux-gnu/release"
"$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" "$bin/ckpt-guest-tests" \
	"$bin/ckpt-session" "$bin/ckptctl" "$bin/ckpt-bench"
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-1800} "$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" \
	"$out/initramfs.cpio.gz" "$out" test "${1:-}" || true
python3 "$here/ktap.py" --console "$out/console.log" --guest "$out/results.ktap"
