#!/usr/bin/env bash
# `make demo`: boot the test kernel, load ckpt_pty and show what it does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
out="$top/build/demo"
mkdir -p "$out"
"$here/install-deps.sh" >/dev/null
kdir=$("$here/build-kernel.sh")
module=$("$here/build-module.sh")
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" -p ckpt_guest_tests -p ckpt_session -p ckptctl
# The centrepiece moves a telnet login with CRIU: the initramfs carries
# CRIU and the ckpt_pty plugin (Documentation/criu.rst).
cargo build -q --release --target x86_64-unknown-linux-gnu \
	--target-dir "$top/target/criu-plugin" -p ckpt_criu_plugin
export CKPT_CRIU_PLUGIN="$top/target/criu-plugin/x86_64-unknown-linux-gnu/release/libckpt_pty_criu.so"
CKPT_CRIU=1 "$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" \
	"$top/target/guest/x86_64-unknown-linux-gnu/release/ckpt-guest-tests" \
	"$top/target/guest/x86_64-unknown-linux-gnu/release/ckpt-session"
"$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" "$out/initramfs.cpio.gz" "$out" demo || true
echo "--- kernel: module load ---"
grep -E 'ckpt_pty' "$out/console.log" | grep -v 'KTAP\|^\s*#' | sed 's/^\[[^]]*\] //' | head -5
echo "--- guest ---"
sed -n '/=== ckpt_pty demo ===/,/=== end of demo ===/p' "$out/console.log" | sed 's/^\[[^]]*\] //'
echo
echo "--- The migration story: dump, fresh machine, restore, continue ---"
"$here/story.sh" "$kdir" "$module" "$top/target/guest/x86_64-unknown-linux-gnu/release"
echo "(full console logs: $out/console.log, $top/build/story/)"
