#!/usr/bin/env bash
# `make check`: host tests + lint, module build, QEMU run (KUnit + guest
# tests), then one verdict: a final line `N passed, N failed`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. "$here/env.sh"
start=$(date +%s)
out="$top/build/check"
rm -rf "$out"
mkdir -p "$out"
stage() { echo "== $* ($(( $(date +%s) - start )) s)"; }
die() { echo "check: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

stage "dependencies"
"$here/install-deps.sh" || die "could not install dependencies"

stage "host: cargo test"
cargo test --workspace --color never 2>&1 | tee "$out/host.log" | grep -E '^(test result|test .* FAILED|error)' || true
lint_fail=0
stage "host: rustfmt + clippy"
{ cargo fmt --all -- --check && rustfmt --check --edition 2021 rust/ckpt_pty.rs rust/ckpt_pty_kunit.rs; } >"$out/fmt.log" 2>&1 || { echo "rustfmt: not clean (cargo fmt --all)"; lint_fail=1; }
cargo clippy --workspace --all-targets --color never -- -D warnings >"$out/clippy.log" 2>&1 ||
	{ tail -30 "$out/clippy.log"; echo "clippy: warnings"; lint_fail=1; }

stage "test kernel (cached) + module"
kdir=$("$here/build-kernel.sh") || die "kernel build failed"
module=$("$here/build-module.sh") || die "module build failed"

stage "guest programs (static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --color never \
	--target x86_64-unknown-linux-gnu --target-dir "$top/target/guest" \
	-p ckpt_guest_tests -p ckpt_session -p ckptctl -p ckpt_bench 2>"$out/guest-build.log" || { cat "$out/guest-build.log"; die "guest build failed"; }
guest_bin="$top/target/guest/x86_64-unknown-linux-gnu/release/ckpt-guest-tests"

stage "initramfs + QEMU"
"$here/mkinitramfs.sh" "$kdir" "$module" "$out/initramfs.cpio.gz" "$guest_bin" \
	"${guest_bin%/*}/ckpt-session" "${guest_bin%/*}/ckptctl" "${guest_bin%/*}/ckpt-bench" ||
	die "initramfs failed"
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-1800} "$here/run-qemu.sh" "$kdir/arch/x86/boot/bzImage" "$out/initramfs.cpio.gz" "$out" test "${CKPT_FILTER:-}"
qemu_rc=$?
echo "console log: $out/console.log"
# The fuzzers' counts (Documentation/testing.rst, "Fuzzers").
grep -a -E '^(not )?ok [0-9]+ fuzz_' "$out/results.ktap" 2>/dev/null || true

stage "migration story (two VMs)"
"$here/story.sh" "$kdir" "$module" "${guest_bin%/*}" > "$out/story.txt" 2>&1 || true
tail -5 "$out/story.txt"

stage "CRIU: containers with telnet logins, dumped and restored (Documentation/criu.rst)"
"$here/criu.sh" > "$out/criu.txt" 2>&1 || true
grep -a -E '^# ((native|ckpt): (dump|typed|job control)|crowded ckpt: 8 logins)' \
	"$top/build/criu/results.ktap" 2>/dev/null || true

stage "package: deb, lintian, DKMS build for the test kernel, loaded in a guest"
"$top/tools/packaging/package-check.sh" > "$out/package.txt" 2>&1 || true
grep '^package-check:' "$out/package.txt" | grep -v ': ok$' || true

stage "verdict"
python3 "$here/ktap.py" --host "$out/host.log" --console "$out/console.log" --guest "$out/results.ktap" \
	--console "$top/build/story/console.log" --guest "$top/build/story/results.ktap" \
	--console "$top/build/criu/console.log" --guest "$top/build/criu/results.ktap" \
	--console "$top/build/package/guest/console.log" --guest "$top/build/package/results.ktap" |
	tee "$out/verdict.txt" | sed '$d'
rc=${PIPESTATUS[0]}
summary=$(tail -1 "$out/verdict.txt")
passed=${summary%% passed*}
failed=${summary#*, }; failed=${failed%% failed*}
[ "$lint_fail" = 1 ] && { failed=$((failed + 1)); rc=1; }
[ "$qemu_rc" != 0 ] && { echo "QEMU: exit $qemu_rc"; rc=1; [ "$failed" = 0 ] && failed=1; }
echo "check: $(( $(date +%s) - start )) s, accel $(cat "$out/accel" 2>/dev/null || echo ?)"
echo "$passed passed, $failed failed"
exit $rc
