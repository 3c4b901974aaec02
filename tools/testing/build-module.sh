#!/usr/bin/env bash
# Build ckpt_pty.ko. Usage: build-module.sh [KDIR | --release]
# Without KDIR: against the project's cached test kernel (built if needed).
# With KDIR (e.g. /lib/modules/$(uname -r)/build): against that Rust-enabled
# kernel, with whatever RUSTC/BINDGEN the caller's environment names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/env.sh"

# --release: against the release flavour of the test kernel (`make bench`),
# built in a copy of the sources (build/module-release/) so the checkout's
# own ckpt_pty.ko stays the debug kernel's.
src="$top"
if [ "${1:-}" = --release ]; then
	kdir=$("$here/build-kernel.sh" --release)
	src="$top/build/module-release"
	mkdir -p "$src"
	rsync -a --delete --exclude '*.o' --exclude '.*.cmd' "$top/Kbuild" "$top/rust" "$top/include" "$src/"
	args=("${KERNEL_RUST_ARGS[@]}")
else
	kdir=${1:-}
	args=()
	if [ -z "$kdir" ]; then
		kdir=$("$here/build-kernel.sh")
		# The test kernel also gets the KUnit suites' module.
		args=("${KERNEL_RUST_ARGS[@]}" CKPT_KUNIT=1)
	fi
fi
[ -f "$kdir/.config" ] || { echo "build-module: $kdir is not a configured kernel tree" >&2; exit 1; }
grep -q '^CONFIG_RUST=y' "$kdir/.config" || { echo "build-module: $kdir has no CONFIG_RUST=y" >&2; exit 1; }
# A clang-built kernel wants its modules built by clang too.
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && args+=(LLVM=1)
make -s -C "$kdir" M="$src" "${args[@]}" modules >&2
echo "$src/ckpt_pty.ko"
