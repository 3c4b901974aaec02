#!/bin/sh
# Guest helper: a minimal "container" that CRIU can move, serving telnet
# logins on its own pty instance.
#
#   criu-container start NAME ADDR PORT [PTS]   prints the container init's pid
#   criu-container network                      the outside half: a bridge
#
# The container is pid + mount + net namespaces whose init (pid 1 inside)
# leads its own session (CRIU refuses a session leader outside the pid
# namespace). Its root is a tmpfs at /ctr/NAME, mounted in the guest's root
# namespace so it outlives a dump: `criu restore --root /ctr/NAME` needs it.
# Inside: a fresh proc, its own pty instance on /dev/pts with its ptmx bound
# over /dev/ptmx (PTS=devpts: `newinstance`, the native ptys; PTS=ckptpts:
# a fresh ckptpts instance, ckpt_pty's ptys, which `criu --enable-fs
# ckptpts` mounts anew on restore and the ckpt_pty CRIU plugin fills), a tmpfs on
# /tmp (CRIU saves tmpfs contents with tar), and eth0, one end of a veth pair
# whose other end NAME-h sits on the bridge ctr-br (10.13.0.1/24) in the
# root namespace. Its init execs busybox `telnetd -F -p PORT -l /bin/sh`.
set -eu
# The real iproute2 (busybox's `ip` applet cannot create veth pairs).
IP=/usr/sbin/ip
BRIDGE=ctr-br
PROMPT='ctr$ '

network() {
	if ! $IP link show "$BRIDGE" >/dev/null 2>&1; then
		$IP link add "$BRIDGE" type bridge
		$IP addr add 10.13.0.1/24 dev "$BRIDGE"
		$IP link set "$BRIDGE" up
	fi
}

# The container's root: busybox and the device nodes a login needs.
make_root() { # DIR
	mkdir -p "$1"
	mount -t tmpfs -o mode=0755,size=16m "ctr-root" "$1"
	cd "$1"
	mkdir -p bin dev/pts proc tmp etc
	cp /bin/busybox bin/busybox
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "bin/$applet"
	done
	mknod -m 666 dev/null c 1 3
	mknod -m 666 dev/zero c 1 5
	mknod -m 666 dev/urandom c 1 9
	# No /dev/tty: busybox ash keeps it open for job control, and CRIU
	# (3.17 to 4.x, tty_verify_ctty) refuses to dump a /dev/tty whose
	# session's pty it first met in another task, here telnetd's master:
	# "ctty inheritance detected sid/pgrp N (ctty pid_real A pty pid_real
	# B)". Without the node ash uses a copy of its stderr, the slave.
	# The mount point of the pty instance's ptmx (a bind mount needs one).
	touch dev/ptmx
	echo "root:x:0:0:root:/tmp:/bin/sh" > etc/passwd
	echo "tty:x:5:" > etc/group
	cd /
}

# Runs as the container's pid 1, still in the guest's root directory.
inside() { # NAME ADDR PORT PTS
	root=/ctr/$1
	mount --make-rprivate /
	cd "$root"
	mount -t proc proc proc
	case "$4" in
	devpts) mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts dev/pts ;;
	ckptpts) mount -t ckptpts -o ptmxmode=0666,mode=620,gid=5 ckptpts dev/pts ;;
	*) echo "criu-container: unknown pty kind $4" >&2; exit 1 ;;
	esac
	mount --bind dev/pts/ptmx dev/ptmx
	mount -t tmpfs -o size=4m tmpfs tmp
	# Leave the guest's tree behind: only the container's mounts remain
	# (CRIU dumps every mount of the namespace and knows no debugfs, and
	# ckptpts only with --enable-fs).
	mkdir .old
	pivot_root . .old
	cd /
	umount -l /.old
	rmdir /.old
	# Only files inside the container stay open (CRIU dumps them by path).
	exec </dev/null >/tmp/init.log 2>&1
	# The outside moves eth0 in once our pid is known.
	i=0
	until ip link show eth0 >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "no eth0"; exit 1; }
		sleep 0.1
	done
	ip link set lo up
	ip addr add "$2/24" dev eth0
	ip link set eth0 up
	export PS1="$PROMPT" HOME=/tmp PATH=/bin
	# By its path: busybox sh runs an applet named alone through
	# /proc/self/exe, the guest's busybox, a file CRIU cannot reach from
	# the container's mounts ("Can't lookup mount=N ... path=/bin/busybox").
	exec /bin/busybox telnetd -F -p "$3" -l /bin/sh
}

start() { # NAME ADDR PORT PTS
	network
	make_root "/ctr/$1"
	# setsid does not fork here: the child of unshare --fork leads no
	# process group, so it becomes the session leader and keeps pid 1.
	# Started by start-stop-daemon -b, not with `&`: a shell without job
	# control starts `&` commands with SIGINT and SIGQUIT ignored, which
	# telnetd and every login shell would inherit (^C could not interrupt
	# a command; a shell keeps signals ignored at its start ignored).
	pidfile=/tmp/criu-container-$1.pid
	rm -f "$pidfile"
	start-stop-daemon -S -b -m -p "$pidfile" -x "$(command -v unshare)" -- \
		-p -m -n -f setsid /bin/sh "$0" inside "$@"
	ushare=
	i=0
	while [ -z "$ushare" ]; do
		ushare=$(cat "$pidfile" 2>/dev/null || true)
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "criu-container: no pid in $pidfile" >&2; exit 1; }
		[ -n "$ushare" ] || sleep 0.1
	done
	pid=
	i=0
	while [ -z "$pid" ]; do
		pid=$(cat "/proc/$ushare/task/$ushare/children" 2>/dev/null | tr -d ' ')
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "criu-container: no init under unshare $ushare" >&2; exit 1; }
		[ -n "$pid" ] || sleep 0.1
	done
	$IP link add "$1-h" type veth peer name eth0 netns "$pid"
	$IP link set "$1-h" master "$BRIDGE" up
	echo "$pid"
}

cmd=$1
shift
case "$cmd" in
start) start "$1" "$2" "$3" "${4:-devpts}" ;;
inside) inside "$@" ;;
network) network ;;
*) echo "usage: criu-container start NAME ADDR PORT [devpts|ckptpts] | network" >&2; exit 2 ;;
esac
