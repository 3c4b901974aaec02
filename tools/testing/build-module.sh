#!/usr/bin/env bash
# Build ckpt_pty.ko. Usage: build-module.sh [KDIR]
# Without KDIR: against the project's cached test kernel (built if needed).
# With KDIR (e.g. /lib/modules/$(uname -r)/build): against that Rust-enabled
# kernel, with whatever RUSTC/BINDGEN the caller's environment names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/env.sh"

kdir=${1:-}
args=()
if [ -z "$kdir" ]; then
	kdir=$("$here/build-kernel.sh")
	# The test kernel also gets the KUnit suites' module.
	args=("${KERNEL_RUST_ARGS[@]}" CKPT_KUNIT=1)
fi
[ -f "$kdir/.config" ] || { echo "build-module: $kdir is not a configured kernel tree" >&2; exit 1; }
grep -q '^CONFIG_RUST=y' "$kdir/.config" || { echo "build-module: $kdir has no CONFIG_RUST=y" >&2; exit 1; }
# A clang-built kernel wants its modules built by clang too.
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && args+=(LLVM=1)
make -s -C "$kdir" M="$top" "${args[@]}" modules >&2
echo "$top/ckpt_pty.ko"
