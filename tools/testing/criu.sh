#!/usr/bin/env bash
# CRIU moves a container with a telnet login inside one guest boot
# (Documentation/criu.rst): builds the module and the guest programs, packs
# CRIU and the host tools it runs into the initramfs (CKPT_CRIU=1), boots in
# the `criu` mode and prints the verdict. Results in build/criu/.
#   tools/testing/criu.sh [FILTER]    FILTER: part of test names (native, ckpt,
#                                     crowded); the default set when empty
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
out="$top/build/criu"
rm -rf "$out"
mkdir -p "$out"
kdir=$("$here/build-kernel.sh")
module=$("$here/build-module.sh")
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet --color never \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" -p ckpt_guest_tests
bin="$top/target/guest/x86_64-unknown-linux-gnu/release"
# The CRIU plugin: a shared object criu dlopens, so dynamically linked
# (no crt-static) and built apart from the static guest programs.
cargo build --release --quiet --color never --target x86_64-unknown-linux-gnu \
	--target-dir "$top/target/criu-plugin" -p ckpt_criu_plugin
export CKPT_CRIU_PLUGIN="$top/target/criu-plugin/x86_64-unknown-linux-gnu/release/libckpt_pty_criu.so"
CKPT_CRIU=1 "$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" "$bin/ckpt-guest-tests"
echo "criu: initramfs $(stat -c %s "$out/initramfs.cpio.gz") bytes" >&2
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-1800} "$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" \
	"$out/initramfs.cpio.gz" "$out" criu "${1:-}" || true
grep -a '^# ' "$out/results.ktap" || true
python3 "$here/ktap.py" --console "$out/console.log" --guest "$out/results.ktap"
