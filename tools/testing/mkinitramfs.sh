#!/usr/bin/env bash
# Build the guest initramfs: busybox, /init, the module, the guest test
# programs (static). Usage: mkinitramfs.sh KDIR MODULE OUT [EXTRA_BINARY...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kdir=$1 module=$2 out=$3
shift 3

spec=$(mktemp)
trap 'rm -f "$spec"' EXIT
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	for d in /bin /sbin /proc /sys /tmp /root /etc; do echo "dir $d 0755 0 0"; done
	echo "file /bin/busybox /bin/busybox 0755 0 0"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || echo "slink /bin/$applet /bin/busybox 0777 0 0"
	done
	echo "file /init $here/init.sh 0755 0 0"
	echo "file /demo.sh $here/guest-demo.sh 0755 0 0"
	echo "file /ckpt_pty.ko $module 0644 0 0"
	# The KUnit suites' module, built beside it on kernels with KUnit.
	kunit_module="$(dirname "$module")/ckpt_pty_kunit.ko"
	[ ! -f "$kunit_module" ] || echo "file /ckpt_pty_kunit.ko $kunit_module 0644 0 0"
	echo "file /bin/ckpt-load $here/ckpt-load.sh 0755 0 0"
	echo "file /story-depart.sh $here/story-depart.sh 0755 0 0"
	echo "file /story-arrive.sh $here/story-arrive.sh 0755 0 0"
	for bin in "$@"; do
		echo "file /bin/$(basename "$bin") $bin 0755 0 0"
	done
	# Extra files for the guest (e.g. a checkpoint image carried from
	# another boot): CKPT_EXTRA="guest-path=host-path ...".
	for extra in ${CKPT_EXTRA:-}; do
		echo "file ${extra%%=*} ${extra#*=} 0644 0 0"
	done
} > "$spec"

gen="$kdir/usr/gen_init_cpio"
[ -x "$gen" ] || { cc -O2 -o "$spec.gen" "$kdir/usr/gen_init_cpio.c"; gen="$spec.gen"; }
"$gen" "$spec" | gzip -1 > "$out"
rm -f "$spec.gen"
