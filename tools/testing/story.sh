#!/usr/bin/env bash
# The migration story on two freshly booted VMs: a session with a half-typed
# line and unread output is dumped by ckptctl on the departure VM; the image
# is carried to an arrival VM with a fresh module, restored in random order,
# and the session continues. Prints the transcript; writes the verdict KTAP
# to build/story/results.ktap.
#   story.sh KDIR MODULE BIN_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kdir=$1 module=$2 bins=$3
out="$top/build/story"
rm -rf "$out"
mkdir -p "$out/depart" "$out/arrive"
kernel="$kdir/arch/x86/boot/bzImage"
progs=("$bins/ckptctl" "$bins/ckpt-session")

"$here/mkinitramfs.sh" "$kdir" "$module" "$out/depart.cpio.gz" "${progs[@]}"
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-300} "$here/run-qemu.sh" "$kernel" "$out/depart.cpio.gz" "$out/depart" story-depart ||
	echo "story: departure boot failed" >&2
sed -n '/CKPT-STORY-IMAGE-BEGIN/,/CKPT-STORY-IMAGE-END/p' "$out/depart/results.ktap" |
	sed '1d;$d' | tr -d '\r' | base64 -d > "$out/story.img" || true
env_line=$(grep -a 'CKPT-STORY-ENV' "$out/depart/results.ktap" | head -1 | tr -d '\r' || true)
echo "${env_line#CKPT-STORY-ENV }" | tr ' ' '\n' > "$out/story.env"

CKPT_EXTRA="/story.img=$out/story.img /story.env=$out/story.env" \
	"$here/mkinitramfs.sh" "$kdir" "$module" "$out/arrive.cpio.gz" "${progs[@]}"
CKPT_QEMU_TIMEOUT=${CKPT_QEMU_TIMEOUT:-300} "$here/run-qemu.sh" "$kernel" "$out/arrive.cpio.gz" "$out/arrive" story-arrive ||
	echo "story: arrival boot failed" >&2

strip() { sed 's/^\[[^]]*\] //' | grep -av '^CKPT-\|KTAP\|^ok \|^not ok\|^1\.\.\|^# Subtest\|ckpt_pty: \|random: \|Run /init\|Freeing\|Write protecting' ; }
sed -n '/=== departure machine ===/,/image travels/p' "$out/depart/console.log" | strip
sed -n '/=== arrival machine/,$p' "$out/arrive/console.log" | strip | sed '/reboot: Restarting/,$d'
grep -a -E '^(KTAP|# Subtest|1\.\.|ok |not ok )' "$out/arrive/results.ktap" > "$out/results.ktap" || true
# The departure console must be clean too.
cat "$out/depart/console.log" > "$out/console.log"
cat "$out/arrive/console.log" >> "$out/console.log"
