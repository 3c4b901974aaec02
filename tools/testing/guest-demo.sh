#!/bin/sh
# Guest side of `make demo`: what ckpt_pty does, told in the guest.
echo
echo "=== ckpt_pty demo ==="
echo "\$ grep ckptpts /proc/mounts; ls -l /dev/ckpt /dev/ckpt/pts | head"
grep ckptpts /proc/mounts
ls -l /dev/ckpt
ls -l /dev/ckpt/pts | head -5
echo
echo "--- The centrepiece: a telnet login inside a container moves with CRIU and the"
echo "    ckpt_pty plugin; the user's TCP connection and terminal survive"
echo "    (Documentation/criu.rst; the guest's CRIU commands log to /tmp/criu) ---"
# Only warnings and worse on the console meanwhile: the bridge and veth
# chatter of each container start, dump and restore would cut the story.
printk=$(cut -f1 /proc/sys/kernel/printk)
echo 4 > /proc/sys/kernel/printk
if ckpt-guest-tests --criu-demo; then
	echo "=== the CRIU move: ok ==="
else
	echo "=== the CRIU move: FAILED ==="
fi
echo "$printk" > /proc/sys/kernel/printk
echo
echo "--- A telnet login on ckpt_pty: busybox telnetd in a mount namespace where a"
echo "    ckptpts instance is bind-mounted over /dev/pts and its ptmx over /dev/ptmx ---"
echo "    (the slave is the login shell's controlling terminal: tty, ps, jobs, ^Z, fg, ^C)"
ckpt-guest-tests --telnet-demo
echo
echo
echo "--- An interactive shell on a ckpt_pty slave, typed into through the master ---"
ckpt-session 'expect:$ ' \
	'type:tty; stty size\n' 'expect:$ ' \
	'winsize:40x120' 'type:stty size\n' 'expect:$ ' \
	'type:echo hello from $((6*7))\n' 'expect:$ ' \
	'type:echo typo\x7f\x7fpo fixed\n' 'expect:$ ' \
	'type:sleep 30\n' 'sleep:500' 'type:^C' 'expect:$ ' \
	'type:stty -a | head -3\n' 'expect:$ '
echo "=== end of demo ==="
