#!/usr/bin/env bash
# Build the guest initramfs: busybox, /init, the module, the guest test
# programs (static). Usage: mkinitramfs.sh KDIR MODULE OUT [EXTRA_BINARY...]
#
# CKPT_PERF=1 packs the host's perf (linux-perf) with its libraries, for
# tools/testing/profile.sh.
# CKPT_CRIU=1 also packs CRIU and the host tools it runs (see add_criu);
# they are dynamically linked, so they come with their shared libraries and
# the loader. Off by default: they add ~7 MB (gzip) to every boot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kdir=$1 module=$2 out=$3
shift 3

spec=$(mktemp)
trap 'rm -f "$spec" "$spec.gen"' EXIT

# gen_init_cpio wants each directory listed before what it holds, once.
# (Parameter expansion, not dirname: hundreds of applet links, no forks.)
declare -A listed=()
add_dir() { # GUEST_DIR
	local d=$1
	if [ -z "$d" ] || [ "$d" = / ] || [ -n "${listed[$d]:-}" ]; then return 0; fi
	add_dir "${d%/*}"
	listed[$d]=1
	echo "dir $d 0755 0 0"
}
# Files and links: a later entry for the same path replaces an earlier one
# when the archive is unpacked (an extra binary named like an applet wins).
add_file() { # GUEST_PATH HOST_PATH MODE
	add_dir "${1%/*}"
	listed[$1]=1
	echo "file $1 $2 $3 0 0"
}
add_link() { # GUEST_PATH TARGET
	add_dir "${1%/*}"
	listed[$1]=1
	echo "slink $1 $2 0777 0 0"
}
# A shared library, once however many programs need it.
add_lib() { # GUEST_PATH HOST_PATH
	if [ -n "${listed[$1]:-}" ]; then return 0; fi
	add_file "$1" "$2" 0755
}

# A dynamically linked host program (or a shared object it dlopens) at
# GUEST_PATH, with every library ldd resolves and the loader. Libraries go
# to their directory's canonical path (/lib/x86_64-linux-gnu on a merged-/usr
# host is /usr/lib/...), which the loader searches by default; the host's
# /lib and /lib64 symlinks are mirrored so the ELF interpreter path
# (/lib64/ld-linux-x86-64.so.2) resolves.
add_dynamic() { # HOST_PATH [GUEST_PATH]
	local host=$1 guest=${2:-$1} lib
	add_file "$guest" "$(readlink -f "$host")" 0755
	for lib in $(ldd "$host" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		add_lib "$(readlink -f "$(dirname "$lib")")/$(basename "$lib")" "$(readlink -f "$lib")"
	done
}

# CRIU 3.17 (Debian) and what it runs from PATH (../shared/notes/criu.md):
# `ip` (iproute2) for the addresses, routes and rules of a dumped net
# namespace; `iptables-restore` for the network lock while it dumps and
# restores TCP connections (Debian's iptables is the nft flavour, one
# multi-call binary whose extensions are dlopened objects); GNU `tar` for
# the contents of tmpfs mounts (busybox tar lacks --check-links and friends).
# busybox has its own `ip` and `tar` applets in /bin: the real ones live in
# /usr/sbin and /usr/bin, so whoever runs criu puts those first in PATH.
add_criu() {
	local d name
	for d in /lib /lib64; do
		if [ -L "$d" ]; then add_link "$d" "$(readlink "$d")"; fi
	done
	add_dynamic /usr/sbin/criu
	# Restoring a net namespace, CRIU opens /run/xtables.lock or mounts a
	# tmpfs on /run (in a mount namespace of its own): /run must exist.
	add_dir /run
	add_dynamic /usr/sbin/ip
	add_dynamic /usr/bin/tar
	add_dynamic /usr/sbin/xtables-nft-multi
	for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		add_link "/usr/sbin/$name" xtables-nft-multi
	done
	# The extensions CRIU's lock rules load: the chain jumps and verdicts
	# (standard), `-m mark` (the lock lets CRIU's own marked packets pass),
	# `--protocol tcp` (per-connection locks when the net namespace is not
	# dumped).
	for name in standard mark tcp; do
		add_dynamic "/usr/lib/x86_64-linux-gnu/xtables/libxt_$name.so"
	done
	# The ckpt_pty CRIU plugin (tools/criu-plugin), for `criu --lib`.
	if [ -n "${CKPT_CRIU_PLUGIN:-}" ]; then
		add_dynamic "$CKPT_CRIU_PLUGIN" /usr/lib/ckpt_pty/criu/libckpt_pty_criu.so
	fi
}

{
	for d in /dev /bin /sbin /proc /sys /tmp /root /etc; do add_dir $d; done
	echo "nod /dev/console 0600 0 0 c 5 1"
	add_file /bin/busybox /bin/busybox 0755
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || add_link "/bin/$applet" /bin/busybox
	done
	add_file /init "$here/init.sh" 0755
	add_file /demo.sh "$here/guest-demo.sh" 0755
	add_file /ckpt_pty.ko "$module" 0644
	# The KUnit suites' module, built beside it on kernels with KUnit.
	kunit_module="$(dirname "$module")/ckpt_pty_kunit.ko"
	[ ! -f "$kunit_module" ] || add_file /ckpt_pty_kunit.ko "$kunit_module" 0644
	add_file /bin/ckpt-load "$here/ckpt-load.sh" 0755
	add_file /story-depart.sh "$here/story-depart.sh" 0755
	add_file /story-arrive.sh "$here/story-arrive.sh" 0755
	add_file /bin/criu-container "$here/criu-container.sh" 0755
	if [ "${CKPT_CRIU:-0}" = 1 ]; then add_criu; fi
	if [ "${CKPT_PERF:-0}" = 1 ]; then
		for d in /lib /lib64; do
			if [ -L "$d" ] && [ -z "${listed[$d]:-}" ]; then add_link "$d" "$(readlink "$d")"; fi
		done
		add_dynamic /usr/bin/perf
	fi
	for bin in "$@"; do
		add_file "/bin/$(basename "$bin")" "$bin" 0755
	done
	# Extra files for the guest (e.g. a checkpoint image carried from
	# another boot): CKPT_EXTRA="guest-path=host-path ...".
	for extra in ${CKPT_EXTRA:-}; do
		add_file "${extra%%=*}" "${extra#*=}" 0644
	done
} > "$spec"

gen="$kdir/usr/gen_init_cpio"
[ -x "$gen" ] || { cc -O2 -o "$spec.gen" "$kdir/usr/gen_init_cpio.c"; gen="$spec.gen"; }
"$gen" "$spec" | gzip -1 > "$out"
