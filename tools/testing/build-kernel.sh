#!/usr/bin/env bash
# Build (or reuse) the ckpt_pty test kernel. Prints the kernel tree's path on
# stdout. The build is cached in $CKPT_CACHE/kernel/<key>, where the key hashes
# the kernel source version, the config fragments, the toolchain versions and
# the build recipe's version, so a warm rerun takes a second and any change
# rebuilds.
#
# Usage: build-kernel.sh [--release] [--path]
#   (default)  the debug kernel of `make check`: kernel.config (KASAN,
#              lockdep, kmemleak, Rust overflow checks ...)
#   --release  the kernel of `make bench`: the same fragment with
#              kernel-release.config over it, which turns the debugging off
#              and nothing else, so both kernels run the same code paths
#   --path     only print where the tree for this key lives
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

log() { echo "build-kernel: $*" >&2; }

flavour=debug
path_only=0
for arg in "$@"; do
	case "$arg" in
	--release) flavour=release ;;
	--path) path_only=1 ;;
	*) log "unknown argument: $arg"; exit 2 ;;
	esac
done
fragments=("$here/kernel.config")
[ "$flavour" = release ] && fragments+=("$here/kernel-release.config")

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
# Bump RECIPE when the build steps below change what gets built; comments
# and argument handling do not rebuild kernels.
RECIPE=2
key_input=$(
	echo "linux-source-6.12 $src_version recipe $RECIPE"
	cat "${fragments[@]}"
	/usr/bin/rustc --version; clang --version | head -1; "$CKPT_BINDGEN" --version
)
key=$(printf '%s' "$key_input" | sha256sum | cut -c1-16)
suffix=""
[ "$flavour" = release ] && suffix="-release"
tree="$CKPT_CACHE/kernel/$src_version$suffix-$key"

[ "$path_only" = 1 ] && { echo "$tree"; exit 0; }

if [ -f "$tree/.ckpt-built" ]; then
	log "cached: $tree"
	echo "$tree"
	exit 0
fi

# One build per key at a time: a second caller (another worktree, a bench
# next to a check) waits for the first instead of wiping its tree.
mkdir -p "$CKPT_CACHE/kernel"
exec 9>"$CKPT_CACHE/kernel/.lock-${tree##*/}"
if ! flock -n 9; then
	log "waiting for another build of $tree"
	flock 9
fi
if [ -f "$tree/.ckpt-built" ]; then
	log "built meanwhile: $tree"
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
(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null)
"${mk[@]}" -s olddefconfig >&2

# Kconfig silently drops symbols whose dependencies are unmet: refuse that.
# A later fragment's line for a symbol replaces an earlier one's.
effective=$(cat "${fragments[@]}" | awk '
	/^CONFIG_[A-Za-z0-9_]+=/ { sym = $0; sub(/=.*/, "", sym) }
	/^# CONFIG_[A-Za-z0-9_]+ is not set/ { sym = $2 }
	sym != "" { if (!(sym in line)) order[n++] = sym; line[sym] = $0; sym = "" }
	END { for (i = 0; i < n; i++) print line[order[i]] }')
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qx "$line" "$tree/.config" || { log "config lost: $line"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		grep -q "^$sym=" "$tree/.config" && { log "config should be unset: $sym"; bad=1; } ;;
	esac
done <<< "$effective"
[ "$bad" = 0 ] || { log "config fragment not honoured"; exit 1; }

log "building the $flavour kernel: bzImage + modules ($(nproc) jobs; about 12 minutes cold)"
# `modules` also writes Module.symvers, which out-of-tree modpost needs.
"${mk[@]}" -s -j"$(nproc)" bzImage modules >&2
touch "$tree/.ckpt-built"
log "built in $(( $(date +%s) - start )) s: $tree"
echo "$tree"
