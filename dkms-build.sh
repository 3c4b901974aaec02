#!/bin/sh
# Build ckpt_pty.ko against an installed or given kernel tree (DKMS, `make
# KDIR=...`, `make install`). Usage: dkms-build.sh KDIR [KERNELRELEASE]
#                                     dkms-build.sh --clean
# Checks what a Rust module needs and says what is missing in one line,
# instead of a wall of compiler errors:
#   - CONFIG_RUST=y in the kernel's configuration;
#   - the rustc that built the kernel (CONFIG_RUSTC_VERSION): $RUSTC, then
#     `rustc` on PATH, then /usr/bin/rustc;
#   - clang-built kernels get LLVM=1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --clean ]; then
	rm -f "$here"/*.ko "$here"/*.o "$here"/*.mod "$here"/*.mod.c "$here"/Module.symvers \
		"$here"/modules.order "$here"/rust/*.o "$here"/rust/seam/*.o
	exit 0
fi
kdir=${1:?usage: dkms-build.sh KDIR [KERNELRELEASE]}
kver=${2:-$(basename "$(dirname "$kdir")")}
config="$kdir/.config"
die() { echo "ckpt_pty: $*" >&2; exit 1; }
[ -f "$config" ] || die "no kernel configuration at $config: install the headers of kernel $kver"
grep -q '^CONFIG_RUST=y' "$config" ||
	die "kernel $kver was built without Rust support (CONFIG_RUST is not set); ckpt_pty needs a kernel with CONFIG_RUST=y"
want=$(sed -n 's/^CONFIG_RUSTC_VERSION=//p' "$config")
version_of() { # rustc -> e.g. 109600 (1.96.0)
	"$1" --version 2>/dev/null | sed -n 's/^rustc \([0-9]*\)\.\([0-9]*\)\.\([0-9]*\).*/\1 \2 \3/p' |
		{ read -r a b c && echo $((a * 100000 + b * 100 + c)); }
}
rustc=
for candidate in ${RUSTC:-} rustc /usr/bin/rustc; do
	command -v "$candidate" >/dev/null 2>&1 || continue
	if [ -z "$want" ] || [ "$(version_of "$candidate")" = "$want" ]; then
		rustc=$(command -v "$candidate")
		break
	fi
done
[ -n "$rustc" ] ||
	die "kernel $kver was built with rustc version code $want; no such rustc found (set RUSTC=/path/to/rustc)"
args="RUSTC=$rustc"
grep -q '^CONFIG_CC_IS_CLANG=y' "$config" && args="$args LLVM=1"
# shellcheck disable=SC2086
exec make -C "$kdir" M="$here" $args modules
