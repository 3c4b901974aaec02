#!/bin/sh
# Guest helper: load ckpt_pty (insmod arguments pass through) and mount its
# default ckptpts instance at /dev/ckpt/pts, as a system would at boot
# (group tty = 5, as the usual devpts line). `ckpt-load -u` unmounts every
# ckptpts instance and removes the module.
set -e
if [ "${1:-}" = -u ]; then
	grep ' ckptpts ' /proc/mounts | cut -d' ' -f2 | sort -r | while read -r dir; do
		umount "$dir"
	done
	rmmod ckpt_pty
	exit 0
fi
insmod /ckpt_pty.ko "$@"
mkdir -p /dev/ckpt/pts
mount -t ckptpts -o gid=5 ckptpts /dev/ckpt/pts
