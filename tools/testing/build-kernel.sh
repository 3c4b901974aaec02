#!/usr/bin/env bash
# Build (or reuse) the ckpt_pty test kernel. Prints the kernel tree's path on
# stdout. The build is cached in $CKPT_CACHE/kernel/<key>, where the key hashes
# the kernel source version, the config fragment, the toolchain versions and
# this script, so a warm rerun takes a second and any change rebuilds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

log() { echo "build-kernel: $*" >&2; }

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key_input=$(
	echo "linux-source-6.12 $src_version"
	cat "$here/kernel.config" "$here/build-kernel.sh"
	/usr/bin/rustc --version; clang --version | head -1; "$CKPT_BINDGEN" --version
)
key=$(printf '%s' "$key_input" | sha256sum | cut -c1-16)
tree="$CKPT_CACHE/kernel/$src_version-$key"

# --path: only say where the tree for this key lives.
[ "${1:-}" = --path ] && { echo "$tree"; exit 0; }

if [ -f "$tree/.ckpt-built" ]; then
	log "cached: $tree"
	echo "$tree"
	exit 0
fi

start=$(date +%s)
# Built in place (module builds want the tree where it was built); the
# marker file is written last, so an interrupted build starts over.
rm -rf "$tree"
mkdir -p "$tree"
log "extracting linux-source-6.12 $src_version"
tar -xf "$KERNEL_TARBALL" -C "$tree" --strip-components=1

# KASAN together with Rust needs a clang-built kernel in 6.12.
mk=(make -C "$tree" LLVM=1 "${KERNEL_RUST_ARGS[@]}")
"${mk[@]}" -s rustavailable >&2
"${mk[@]}" -s tinyconfig >&2
(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "$here/kernel.config" >/dev/null)
"${mk[@]}" -s olddefconfig >&2

# Kconfig silently drops symbols whose dependencies are unmet: refuse that.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qx "$line" "$tree/.config" || { log "config lost: $line"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		grep -q "^$sym=" "$tree/.config" && { log "config should be unset: $sym"; bad=1; } ;;
	esac
done < "$here/kernel.config"
[ "$bad" = 0 ] || { log "config fragment not honoured"; exit 1; }

log "building bzImage + modules ($(nproc) jobs; about 12 minutes cold)"
# `modules` also writes Module.symvers, which out-of-tree modpost needs.
"${mk[@]}" -s -j"$(nproc)" bzImage modules >&2
touch "$tree/.ckpt-built"
log "built in $(( $(date +%s) - start )) s: $tree"
echo "$tree"
