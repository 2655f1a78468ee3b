#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gmem_module_cycle: gmem.ko alone, loaded and unloaded CYCLES times with
# no memory made, then left unloaded for SETTLE seconds so that what
# its exit left to run later has run: RCU callbacks (an inode of gmem's
# filesystem is freed in one).  Meant for a guest booted with rcu_nocbs=all,
# where Debian's kernel (CONFIG_RCU_LAZY) holds callbacks back for up to
# 10 s, as it does on any host that offloads them.
#
# Runs in the test guest after /init has loaded gmem from /lib/modules, and
# leaves it loaded again for /init to unload.  Prints TAP.  Whatever gmem's
# exit got wrong (a slab cache destroyed with objects left in it, a callback
# into module text that is gone) is in the kernel log, which /init dumps
# for the host to judge; the second case here reports it too.
#
# Usage: gmem_module_cycle [CYCLES [SETTLE_SECONDS]]

cycles=${1:-20}
settle=${2:-12}
ko=/lib/modules/gmem.ko
n=0

loaded() {
	grep -q '^gmem ' /proc/modules
}

failed=0

result() {	# result STATUS NAME
	n=$((n + 1))
	echo "$1 $n $2"
	[ "$1" = ok ] || failed=$((failed + 1))
}

# Problem lines in the kernel log after its first $1 lines (see
# scripts/tap-summary.sh for the whole list the host looks for).
kernel_problems() {
	dmesg | tail -n +$(($1 + 1)) |
	grep -E 'Oops|BUG|WARNING:|Call Trace|RIP: |Slab cache still has objects|Objects remaining|Kernel panic'
}

echo "1..3"
log0=$(dmesg | wc -l)

# /init's load first, then the cycles: each one must succeed.
status=ok
i=0
rmmod gmem && ! loaded || status="not ok"
while [ "$i" -lt "$cycles" ] && [ "$status" = ok ]; do
	insmod "$ko" && loaded || status="not ok"
	rmmod gmem && ! loaded || status="not ok"
	i=$((i + 1))
done
echo "# $i cycles of insmod and rmmod of gmem.ko"
result "$status" "load_and_unload_${cycles}_times"

sleep "$settle"
status=ok
if kernel_problems "$log0" > /tmp/module_cycle.problems; then
	status="not ok"
	head -n 10 /tmp/module_cycle.problems | sed 's/^/# kernel: /'
	echo "# $(wc -l < /tmp/module_cycle.problems) problem line(s) in all"
fi
result "$status" "kernel_log_clean_${settle}_s_after_unload"

status=ok
insmod "$ko" && loaded || status="not ok"
result "$status" loads_again
[ "$failed" = 0 ]
