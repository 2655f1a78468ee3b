#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test guest (busybox).  Loads the modules listed in
# /modules.load, runs every line of /plan as one test with a timeout, and
# prints the results as TAP on the console; each program's own output is
# indented by four spaces, so that a program that prints TAP itself (the
# kselftest harness, KUnit) nests as subtests.  Then it unloads the modules,
# dumps the kernel log between markers for the host to scan, and powers off.
#
# /plan: one test a line, "NAME TIMEOUT_SECONDS PROGRAM [ARGS...]", programs
# relative to /tests; blank lines and lines starting with # are skipped.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp

# The kernel hands /init, as environment variables, the name=value
# parameters it did not know.  The checkers the host asks for must not be
# among them (a kernel built without PAGE_POISONING or RCU_NOCB_CPU would
# silently ignore them): say so in the kernel log, which fails the run.
for p in slub_debug page_poison log_buf_len rcu_nocbs; do
	env | grep -q "^$p=" &&
		echo "gmem-guest: unknown to this kernel: $p=" > /dev/kmsg
done

uptime_cs() {
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}"
}

plan_lines() {
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' /plan
}

is_loaded() {
	grep -q "^$(echo "$1" | tr - _) " /proc/modules
}

# result STATUS NAME [DIRECTIVE]: one TAP line; the count lives in a file
# because the plan runs in a subshell.
result() {
	n=$(($(cat /tmp/n) + 1))
	echo "$n" > /tmp/n
	echo "$1 $n $2${3:+ # $3}"
}

# Loading must succeed; report it on its own so that the cause is plain.
# An installed system's modules (/modprobe.load, make check-install) load
# with modprobe, through modules.dep, as on a Debian host; what that
# loaded is kept in /tmp/probed, for unloading.
load_modules() {
	local status=ok m

	if [ -f /modprobe.load ]; then
		# The empty line: busybox's grep -f matches nothing when
		# given no pattern at all.
		{ echo; cut -d' ' -f1 /proc/modules; } > /tmp/before
		for m in $(cat /modprobe.load); do
			modprobe "$m" 2>&1 | sed 's/^/    /'
			is_loaded "$m" || status="not ok"
		done
		cut -d' ' -f1 /proc/modules | grep -vxF -f /tmp/before \
			> /tmp/probed
		echo "# modprobe loaded: $(echo $(cat /tmp/probed))"
		result "$status" modules_load
		return
	fi
	for m in $(cat /modules.load); do
		insmod "/lib/modules/$m.ko" 2>&1 | sed 's/^/    /'
		is_loaded "$m" || status="not ok"
	done
	result "$status" modules_load
}

# Every test's timeout is multiplied by gmem_timeout_factor=N from the
# kernel command line (default 1): the debug kernel runs the same tests
# several times slower (scripts/run-guest.sh, GUEST_TIMEOUT_FACTOR).  Our
# harness tests multiply their own per-case timeouts by the same factor,
# from the environment (GMEM_TEST_HARNESS_MAIN, selftests/gmem_test_util.h).
TIMEOUT_FACTOR=${gmem_timeout_factor:-1}
export GMEM_TIMEOUT_FACTOR=$TIMEOUT_FACTOR

run_test() {	# run_test NAME TIMEOUT PROGRAM [ARGS...]
	local name=$1 timeout=$(($2 * TIMEOUT_FACTOR)) prog=$3 start took rc
	shift 3

	start=$(uptime_cs)
	{
		timeout -s KILL "$timeout" "./$prog" "$@" < /dev/null 2>&1
		echo $? > /tmp/rc
	} | sed 's/^/    /'
	rc=$(cat /tmp/rc)
	took=$(($(uptime_cs) - start))
	echo "# $name: exit $rc after $((took / 100)).$(printf %02d $((took % 100))) s"
	if [ "$rc" = 0 ]; then
		result ok "$name"
	elif [ "$rc" = 4 ]; then
		result ok "$name" "SKIP exit code 4 (KSFT_SKIP)"
	elif [ "$took" -ge $((timeout * 100)) ]; then
		result "not ok" "$name" "timed out after $timeout s"
	else
		result "not ok" "$name" "exit code $rc"
	fi
}

# Drain per-CPU LRU batches and drop caches before reading memory counters.
# With gmem_drain_slabs=1 on the kernel command line, also shrink every
# slab cache: on a KASAN kernel that empties KASAN's quarantine, where
# freed objects wait (tens of MB after a run) before their slab pages can
# go back (kasan_cache_shrink()).
settle_memory() {
	local shrink

	echo 1 > /proc/sys/vm/compact_memory
	echo 3 > /proc/sys/vm/drop_caches
	[ "${gmem_drain_slabs:-0}" = 1 ] || return 0
	for shrink in /sys/kernel/slab/*/shrink; do
		echo 1 > "$shrink"
	done
}

# A /proc/meminfo field in KiB.
meminfo_kb() {
	awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo
}

# Free memory in KiB: MemFree does not count the free pages waiting on
# per-CPU lists, whose size the kernel tunes with activity (megabytes that
# come and go); /proc/zoneinfo's "count:" lines do.
free_kb() {
	echo $(($(meminfo_kb MemFree) + $(awk '$1 == "count:" { s += $2 }
		END { print s * 4 }' /proc/zoneinfo)))
}

# KVM's static keys stay enabled while the tests run, held by two idle VMs
# (selftests/kvm_static_key_holder.c says which keys and why): otherwise
# every VM a test creates or destroys flips them, and each flip live-
# patches the kernel's text, which multi-threaded TCG does not always see
# (README.md, "No flakes").  Only where KVM is loaded; gmem_hold_keys=0 on
# the kernel command line leaves the keys alone (make soak HOLD_KEYS=0).
holding_keys() {
	[ "${gmem_hold_keys:-1}" != 0 ] && [ -x /sbin/kvm_static_key_holder ] &&
		grep -qs -e '^kvm$' -e '^kvm_' /modules.load /modprobe.load
}

hold_keys() {
	local i

	/sbin/kvm_static_key_holder /tmp/keys-held > /tmp/holder.log 2>&1 &
	holder=$!
	for i in $(seq $((300 * TIMEOUT_FACTOR))); do
		[ -e /tmp/keys-held ] && break
		kill -0 "$holder" 2>/dev/null || break
		sleep 0.1
	done
	if [ -e /tmp/keys-held ]; then
		result ok kvm_static_keys_held
		return
	fi
	release_keys
	result "not ok" kvm_static_keys_held
}

# The holder closes its VMs before it exits.
release_keys() {
	[ -n "$holder" ] || return 0
	kill -TERM "$holder" 2>/dev/null
	wait "$holder"
	sed 's/^/    /' /tmp/holder.log
	holder=
}

# Unloading must succeed once every test has closed its files.
unload_modules() {
	local status=ok m

	if [ -f /modprobe.load ]; then
		for m in $(sed '1!G;h;$!d' /modprobe.load); do
			modprobe -r "$m" 2>&1 | sed 's/^/    /'
		done
		for m in $(cat /tmp/probed); do
			is_loaded "$m" && status="not ok"
		done
		result "$status" modules_unload
		return
	fi
	for m in $(sed '1!G;h;$!d' /modules.load); do
		rmmod "$m" 2>&1 | sed 's/^/    /'
		is_loaded "$m" && status="not ok"
	done
	result "$status" modules_unload
}

# After the modules are gone, memory must be back where it was before they
# came: every unevictable page (gmem's memory) exactly, once deferred frees
# have settled; free memory within a slack for what the kernel keeps for
# itself as it runs (slab pages, page tables).  gmem's own slab caches are
# destroyed at unload, which reports any object left in them.  The kernel
# command line can allow another slack: gmem_free_slack_kb=N, which the
# kernel hands to /init in its environment (make bench does, see Makefile).
FREE_SLACK_KB=${gmem_free_slack_kb:-4096}

# The stack depot's pools in KiB (16 KiB each), where there is one.
depot_kb() {
	local f=/sys/kernel/debug/stackdepot/stats

	[ -r "$f" ] && awk '$1 == "pools:" { print $2 * 16 }' "$f"
}
check_memory_returned() {
	local status=ok i unevictable free depot depot_grew=0

	for i in $(seq $((10 * TIMEOUT_FACTOR))); do
		settle_memory
		unevictable=$(meminfo_kb Unevictable)
		[ "$unevictable" -le "$unevictable0" ] && break
		sleep 1
	done
	free=$(free_kb)
	# KASAN's stack depot grows with every new stack trace and never gives
	# memory back (debug kernel): its growth is not counted as lost.
	depot=$(depot_kb)
	if [ -n "$depot0" ] && [ -n "$depot" ] && [ "$depot" != 0 ]; then
		depot_grew=$((depot - depot0))
		echo "# stack depot: $depot0 -> $depot kB (never freed)"
	fi
	echo "# memory: Unevictable $unevictable0 -> $unevictable kB," \
	     "free $free0 -> $free kB (slack $FREE_SLACK_KB kB," \
	     "plus the stack depot's $depot_grew kB)"
	[ "$unevictable" -le "$unevictable0" ] || status="not ok"
	[ "$((free + depot_grew))" -ge $((free0 - FREE_SLACK_KB)) ] ||
		status="not ok"
	grep -q '^gmem' /proc/slabinfo && status="not ok"
	[ "$status" = ok ] ||
		diff /tmp/meminfo0 /proc/meminfo | grep '^[-+][A-Z]' |
		sed 's/^/#   /'
	result "$status" memory_returned
}

# The NUMA nodes the guest has (scripts/run-guest.sh, GUEST_NUMA_NODES),
# each with its memory and CPUs, on one line.
numa_nodes() {
	local node line= cpus

	for node in /sys/devices/system/node/node[0-9]*; do
		[ -d "$node" ] || continue
		cpus=$(cat "$node/cpulist")
		line="$line ${node##*/} $(awk '$3 == "MemTotal:" { print $4 }' \
			"$node/meminfo") kB cpus ${cpus:-none},"
	done
	echo "# numa nodes:${line%,}"
}

run_all() {
	local extra=3 hold=

	holding_keys && hold=1 extra=4
	echo "TAP version 13"
	echo "1..$(($(plan_lines | wc -l) + extra))"
	numa_nodes
	settle_memory
	unevictable0=$(meminfo_kb Unevictable)
	free0=$(free_kb)
	depot0=$(depot_kb)
	cat /proc/meminfo > /tmp/meminfo0
	load_modules
	holder=
	[ -n "$hold" ] && hold_keys
	cd /tests || return
	plan_lines | while read -r name timeout prog args; do
		# $args unquoted: split into the program's arguments
		run_test "$name" "$timeout" "$prog" $args
	done
	cd / || return
	release_keys
	unload_modules
	check_memory_returned
}

# The tests run in the background so that one stuck where no signal reaches
# it (a task in D state, a module that will not unload) still leaves time to
# dump the kernel log: the budget is every test's timeout plus a minute each
# for loading and unloading, and one for the key holder (30 s to start, and
# to stop), but never past a minute before the host kills the guest
# (gmem_run_timeout=N from scripts/run-guest.sh), so that the log is dumped
# first.  Tests not reported by then count as failed.
echo 0 > /tmp/n
budget=$(plan_lines | awk -v f="$TIMEOUT_FACTOR" '{ s += $2 * f }
	END { print s + 180 * f }')
capped=
if [ -n "${gmem_run_timeout:-}" ]; then
	cap=$((gmem_run_timeout - $(uptime_cs) / 100 - 60))
	[ "$cap" -lt 1 ] && cap=1
	[ "$cap" -lt "$budget" ] && budget=$cap capped=" (gmem_run_timeout)"
fi
deadline=$(($(uptime_cs) / 100 + budget))
run_all &
tests=$!
while kill -0 "$tests" 2>/dev/null; do
	if [ "$(($(uptime_cs) / 100))" -ge "$deadline" ]; then
		echo "# guest: tests still running after $budget s$capped," \
		     "giving up"
		break
	fi
	sleep 1
done

# Lockdep turns itself off after its first report, or when something
# taints the kernel, and then checks nothing more: say so in the kernel
# log, where scripts/tap-summary.sh fails the run on it.
if [ -r /proc/lockdep_stats ] &&
   grep -qE '^ *debug_locks: +0$' /proc/lockdep_stats; then
	echo "gmem-guest: lockdep was turned off during the run (debug_locks 0)" \
		> /dev/kmsg
fi

echo "--- dmesg ---"
dmesg
echo "--- end dmesg ---"
echo "GMEM-GUEST-DONE"
poweroff -f
