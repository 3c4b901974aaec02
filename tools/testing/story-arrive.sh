#!/bin/sh
# Guest side of the migration story, arrival machine: a fresh boot with a
# fresh module; ckptctl restores the ptys in random order and hands them
# to the session program, which restarts its shell on them.
echo
echo "=== arrival machine (fresh boot, fresh module) ==="
. /story.env
echo "\$ ckptctl inspect /story.img | head -3"
ckptctl inspect /story.img | head -3
echo "\$ ckptctl restore /story.img --order random --seed 7 --pid $spid -- ckpt-session --resume $mfd $sfd ..."
ckptctl restore /story.img --order random --seed 7 --pid "$spid" -- \
	ckpt-session --line-shell --resume "$mfd" "$sfd" \
	'expect:pending-output' \
	'type:lo\n' 'expect:hallo' 'expect:$ ' \
	'type:stty size\n' 'expect:30 100' 'expect:$ ' \
	'type:tty; echo ctty-$((40+2)) > /dev/tty\n' 'expect:ctty-42' 'expect:$ ' > /tmp/resume.log 2>&1
rc=$?
cat /tmp/resume.log
pend=$(grep -c pending-output /tmp/resume.log)

# The same image again, in every order (the session above has ended, so
# the index is free): the story must hold whatever order the ends come in.
orders_ok=0
for order in "image" "reverse" "random --seed 1" "random --seed 2" "random --seed 3"; do
	if ckptctl restore /story.img --order $order --pid "$spid" -- \
		ckpt-session --line-shell --resume "$mfd" "$sfd" \
		'expect:pending-output' 'type:lo\n' 'expect:hallo' 'expect:$ ' > /tmp/order.log 2>&1 &&
		[ "$(grep -c pending-output /tmp/order.log)" = 1 ]; then
		orders_ok=$((orders_ok + 1))
	else
		echo "order $order failed:"; cat /tmp/order.log
	fi
done
echo "[restored and continued in 5 more orders: $orders_ok ok]"
# A process that held only the slave (the shell): its descriptors come
# back at their numbers; the master, held by nobody now, is closed, which
# hangs the slave up (so --no-ctty: as its controlling terminal it would
# get SIGHUP). Its stdout is the restored slave, so it reports into a file.
ckptctl restore /story.img --pid "$shpid" --no-ctty -- \
	/bin/sh -c 'readlink /proc/self/fd/0 > /tmp/slaveonly.log; readlink /proc/self/fd/4 >> /tmp/slaveonly.log'
echo "a process that held only the slave got back:"; cat /tmp/slaveonly.log
slaves=$(grep -c '^/dev/ckpt/pts/' /tmp/slaveonly.log)
{
	echo "KTAP version 1"
	echo "# Subtest: ckpt_pty_story"
	echo "1..6"
	[ $rc = 0 ] && echo "ok 1 story_session_continues" || echo "not ok 1 story_session_continues"
	[ "$pend" = 1 ] && echo "ok 2 story_pending_output_once" || echo "not ok 2 story_pending_output_once # seen $pend times"
	grep -q "hallo" /tmp/resume.log && echo "ok 3 story_half_typed_line_completes" || echo "not ok 3 story_half_typed_line_completes"
	[ "$orders_ok" = 5 ] && echo "ok 4 story_every_restore_order" || echo "not ok 4 story_every_restore_order # $orders_ok of 5"
	[ "$slaves" = 2 ] && echo "ok 5 story_process_holding_only_slaves" || echo "not ok 5 story_process_holding_only_slaves"
	# The restored slave is the resumed shell's controlling terminal again.
	grep -q "ctty-42" /tmp/resume.log && grep -q "/dev/ckpt/pts/[0-9]" /tmp/resume.log &&
		echo "ok 6 story_slave_is_controlling_terminal_again" ||
		echo "not ok 6 story_slave_is_controlling_terminal_again"
} | tee /dev/ttyS1
