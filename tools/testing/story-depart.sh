#!/bin/sh
# Guest side of the migration story, departure machine: a login-like
# session on a ckpt_pty with a half-typed line and unread output, dumped
# by ckptctl; then the processes and the module go away.
echo
echo "=== departure machine ==="
ckpt-session --line-shell 'winsize:30x100' 'expect:$ ' \
	'type:echo logged in; stty size\n' 'expect:$ ' \
	'type:(sleep 1; echo pending-output) &\n' 'expect:$ ' \
	'type:echo hal' 'expect:echo hal' 'hold' > /tmp/session.log 2>&1 &
i=0
until grep -q holding /tmp/session.log; do
	sleep 0.2; i=$((i + 1)); [ $i -gt 150 ] && break
done
# Let the background job's output arrive: it stays queued, unread.
sleep 2
cat /tmp/session.log
line=$(grep holding /tmp/session.log)
spid=$(echo "$line" | sed -n 's/.*session pid \([0-9]*\).*/\1/p')
shpid=$(echo "$line" | sed -n 's/.*shell pid \([0-9]*\).*/\1/p')
mfd=$(echo "$line" | sed -n 's/.*master fd \([0-9]*\).*/\1/p')
sfd=$(echo "$line" | sed -n 's/.*slave fd \([0-9]*\).*/\1/p')
echo "\$ ckptctl status"
ckptctl status
echo "\$ ckptctl dump --pid $spid --pid $shpid -o /tmp/story.img"
ckptctl dump --pid "$spid" --pid "$shpid" -o /tmp/story.img || echo "CKPT-ERROR: dump failed"
echo "\$ ckptctl inspect /tmp/story.img"
ckptctl inspect /tmp/story.img
kill -9 "$spid" "$shpid" 2>/dev/null
sleep 0.5
ckpt-load -u || echo "CKPT-ERROR: rmmod failed"
echo "[processes killed, module removed; the image travels to a fresh machine]"
{
	echo "CKPT-STORY-ENV spid=$spid shpid=$shpid mfd=$mfd sfd=$sfd"
	echo "CKPT-STORY-IMAGE-BEGIN"
	base64 /tmp/story.img
	echo "CKPT-STORY-IMAGE-END"
} > /dev/ttyS1
