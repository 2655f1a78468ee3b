#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge test guests' serial logs (see guest-init.sh) and print the closing
# line "N passed, N failed[, N skipped]".  Exit status 1 when any test
# failed, a guest did not finish (crash, panic or hang), or a kernel log
# reports a problem (oops, BUG, WARN, lockdep, suspicious RCU usage, KASAN,
# KFENCE, DEBUG_VM, KVM_MMU_WARN_ON, debug objects, sleeping in atomic
# context, hung task, RCU stall, a slab cache destroyed with objects in it,
# ...).
#
# Counting: every TAP result line counts once, at whatever depth it is nested
# (program output is indented four spaces per level), except a result that
# has subtests of its own: its subtests count instead, and it adds one
# failure only when it failed while they all passed (a program that crashed
# after its last subtest).  Tests a plan announced but the log never reached
# count as failed.  Skips are counted apart, never as passes.
#
# A guest that did not finish and a kernel log with problems each add one
# failure.
#
# With several logs (one per guest booted), each is judged on its own, its
# lines of detail start with the log's file name, and the one closing line
# adds them all up.  A log that cannot be read is a guest that did not
# finish.
#
# Usage: scripts/tap-summary.sh LOG...
set -uo pipefail

if [ $# = 0 ]; then
	echo "usage: $0 LOG..." >&2
	exit 2
fi

awk '
function problem(line) {
	# BUG: also covers KASAN, KFENCE, soft lockups, sleeping in atomic
	# context, VM_BUG_ON ("kernel BUG at") and faults such as a call into
	# a module text that is gone ("BUG: unable to handle page fault");
	# WARNING: covers lockdep, suspicious RCU usage and KVM_MMU_WARN_ON;
	# slub_debug reports start "BUG <cache>".  A cache destroyed with
	# objects left in it says so in a WARN(); its own line is caught too,
	# should the WARNING line be lost.  So are the distinctive lines of
	# the debug kernel reports (KASAN, lockdep, RCU, DEBUG_VM, debug
	# objects, list debugging), each on its own, lockdep turned off (by a
	# taint, or as the guest finds it at the end), and a checker asked for
	# on the command line that the kernel did not know.
	return line ~ /(Oops|(^|[^A-Z_])BUG[: ]|WARNING:|Kernel panic|general protection fault|UBSAN:|inconsistent lock state|blocked for more than|rcu_.* stall|self-detected stall|Call Trace|RIP: |Slab cache still has objects|Objects remaining)/ ||
	       line ~ /(KASAN:|KFENCE:|possible (circular|recursive) locking|suspicious RCU usage|suspicious rcu_dereference|irq lock inversion|bad unlock balance|held lock freed|lock held when returning|sleeping function called from invalid context|page dumped because|VM_BUG_ON|VM_WARN_ON|ODEBUG:|list_(add|del) corruption|detected stalls? on CPU|Disabling lock debugging|lockdep was turned off|unknown to this kernel)/
}

function say(msg) {
	print prefix msg
}

function reset(file) {
	prefix = ""
	if (ARGC > 2) {
		prefix = file
		sub(/.*\//, "", prefix)
		prefix = prefix ": "
	}
	in_dmesg = dumped = problems = done = planned = top = 0
	la57_wild = la57_known = 0
	console_problem = ""
	split("", nchild)
	split("", nchildfail)
}

# One line of a guest log, in $0.
function judge() {
	if ($0 ~ /^--- dmesg ---$/) {
		in_dmesg = 1
		return
	}
	if ($0 ~ /^--- end dmesg ---$/) {
		in_dmesg = 0
		dumped = 1
		return
	}
	if (in_dmesg) {
		known_report()
		if (problem($0)) {
			problems++
			if (problems <= 20)
				say("kernel: " $0)
		}
		return
	}
	if ($0 ~ /^GMEM-GUEST-DONE$/) {
		done = 1
		return
	}
	# A panic before the dump is on the console only.
	if ($0 ~ /Kernel panic|Oops|BUG:/ && !dumped)
		console_problem = $0

	if ($0 ~ /^ *1\.\.[0-9]+/) {
		depth = index($0, "1") - 1
		if (depth == 0) {
			split($0, f, /\.\./)
			planned = f[2] + 0
		}
		return
	}

	if ($0 ~ /^ *(not )?ok [0-9]+/)
		result()
}

# KASAN of 6.12 on a CPU with 5-level paging: an interrupt while
# identify_cpu() has cleared the boot CPU'"'"'s feature bits sees the lock of
# its irq_desc as a wild access (README.md, "The debug kernel").  It still
# fails the run, as every report does, but is named for what it is.
function known_report() {
	if ($0 ~ /BUG: KASAN: wild-memory-access in do_raw_spin_lock/)
		la57_wild = 1
	if (la57_wild && $0 ~ /RIP: .*identify_cpu/)
		la57_known = 1
}

function result() {
	depth = match($0, /[^ ]/) - 1
	failed_here = ($0 ~ /^ *not ok/)
	skipped_here = !failed_here && ($0 ~ /# *[Ss][Kk][Ii][Pp]/)
	child = depth + 4
	if (nchild[child] > 0) {
		# a parent: its subtests were counted
		if (failed_here && nchildfail[child] == 0) {
			fail++
			say("failed: " $0)
		}
	} else if (failed_here) {
		fail++
		say("failed: " $0)
	} else if (skipped_here) {
		skip++
		say("skipped: " $0)
	} else {
		pass++
	}
	nchild[child] = 0
	nchildfail[child] = 0
	nchild[depth]++
	if (failed_here)
		nchildfail[depth]++
	if (depth == 0)
		top++
}

# The guest finishing and a clean kernel log count as one test each when
# they fail, so that the closing line never says 0 failed on a failed run.
function finish() {
	if (!done) {
		say("failed: guest did not finish (crash, panic or hang)")
		if (console_problem != "")
			say("console: " console_problem)
		fail++
	}
	if (planned > top) {
		say("failed: " planned - top " planned test(s) never reported")
		fail += planned - top
	}
	if (problems) {
		say("failed: " problems " problem line(s) in the guest kernel log")
		fail++
	}
	if (la57_known)
		say("note: that KASAN report is the known false positive of " \
		    "KASAN with 5-level paging during identify_cpu(), not " \
		    "gmem: boot the debug kernel with no5lvl")
}

BEGIN {
	for (i = 1; i < ARGC; i++) {
		reset(ARGV[i])
		while ((r = (getline < ARGV[i])) > 0)
			judge()
		if (r < 0)
			say("cannot read the log")
		close(ARGV[i])
		finish()
	}
	line = pass + 0 " passed, " fail + 0 " failed"
	if (skip)
		line = line ", " skip " skipped"
	print line
	exit fail ? 1 : 0
}
' "$@"
