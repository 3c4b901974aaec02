#!/bin/sh
# Guest side of `make demo`: what ckpt_pty does, told in the guest.
echo
echo "=== ckpt_pty demo ==="
echo "\$ ls -l /dev/ckpt"
ls -l /dev/ckpt
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
