#!/bin/sh
# Guest side of `make demo`: what ckpt_pty does, told in the guest.
echo
echo "=== ckpt_pty demo ==="
echo "\$ ls -l /dev/ckpt"
ls -l /dev/ckpt
echo "\$ ckpt-guest-tests (device checks)"
/bin/ckpt-guest-tests ptmx 2>&1
echo "=== end of demo ==="
