#!/bin/sh
# /init of the test guest (busybox). Mounts what the tests need, loads the
# modules (KUnit runs while ckpt_pty_kunit loads), runs the guest tests with their KTAP on
# ttyS1, unloads, asks kmemleak for leaks, and powers off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mode=$(sed -n 's/.*ckpt.mode=\([a-z-]*\).*/\1/p' /proc/cmdline)

# CRIU restores a mount namespace with pivot_root(2), which fails (EINVAL)
# while / is the initramfs itself (rootfs): in the criu and demo modes,
# copy the initramfs into a tmpfs and switch_root into it first; this
# script then starts again from the top, on the tmpfs.
if { [ "$mode" = criu ] || [ "$mode" = demo ]; } && [ ! -e /.tmpfs-root ]; then
	mkdir /newroot
	mount -t tmpfs -o mode=0755 tmpfs /newroot
	for d in /*; do
		case "$d" in /proc | /sys | /dev | /newroot) ;; *) cp -a "$d" /newroot/ ;; esac
	done
	mkdir /newroot/proc /newroot/sys /newroot/dev
	touch /newroot/.tmpfs-root
	umount /proc
	exec switch_root /newroot /init
fi
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp
# The usual devpts line (group tty, mode 620), as ckpt-load mounts ckptpts.
mount -t devpts -o ptmxmode=0666,newinstance,gid=5,mode=620 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
ip link set lo up

filter=$(sed -n 's/.*ckpt.filter=\([^ ]*\).*/\1/p' /proc/cmdline)
results=/dev/ttyS1

echo "CKPT-STAGE: insmod"
# KUnit runs the suites while their module loads; ckpt_pty itself carries
# no test code.
if [ -f /ckpt_pty_kunit.ko ]; then
	insmod /ckpt_pty_kunit.ko && rmmod ckpt_pty_kunit || echo "CKPT-ERROR: KUnit module failed"
fi
if ! ckpt-load; then
	echo "CKPT-ERROR: insmod failed"
fi

case "$mode" in
story-depart)
	/bin/sh /story-depart.sh
	;;
story-arrive)
	/bin/sh /story-arrive.sh
	;;
demo)
	/bin/sh /demo.sh
	;;
probe)
	echo "CKPT-PROBE-OK"
	;;
criu)
	# CRIU moves a container with a telnet login (Documentation/criu.rst).
	echo "CKPT-STAGE: criu"
	/bin/ckpt-guest-tests --criu "$filter" 2>&1 | tee $results
	;;
custom)
	# A script carried in with CKPT_EXTRA=/custom.sh=PATH (development).
	/bin/sh /custom.sh
	;;
bench)
	echo "CKPT-STAGE: bench"
	/bin/ckpt-bench --opts "$filter" | tee $results
	;;
*)
	echo "CKPT-STAGE: guest tests"
	# Live on the console (so a hang shows where), and clean on ttyS1.
	/bin/ckpt-guest-tests $filter 2>&1 | tee $results
	# A quick smoke of the benchmark harness so it cannot rot (not timed).
	if [ -x /bin/ckpt-bench ]; then
		echo "CKPT-STAGE: bench smoke"
		if /bin/ckpt-bench --smoke > /tmp/bench-smoke.json 2>&1; then
			echo "CKPT-BENCH-SMOKE: ok"
		else
			echo "CKPT-ERROR: bench smoke failed"; grep -iE "error|fail" /tmp/bench-smoke.json | head -20
		fi
	fi
	echo "CKPT-STAGE: rmmod"
	ckpt-load -u || echo "CKPT-ERROR: rmmod failed"
	# kmemleak reports objects unreferenced for at least 5 s: wait, scan twice.
	if [ -e /sys/kernel/debug/kmemleak ]; then
		sleep 6
		echo scan > /sys/kernel/debug/kmemleak
		echo scan > /sys/kernel/debug/kmemleak
		echo "CKPT-STAGE: kmemleak"
		cat /sys/kernel/debug/kmemleak
	fi
	;;
esac
echo "CKPT-DONE"
sync
reboot -f
