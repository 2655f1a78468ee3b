#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge a test guest's serial log (see guest-init.sh) and print the closing
# line "N passed, N failed[, N skipped]".  Exit status 1 when any test
# failed, the guest did not finish (crash, panic or hang), or the kernel log
# reports a problem (oops, BUG, WARN, lockdep, KASAN, KFENCE, hung task, RCU
# stall, ...).
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
# Usage: scripts/tap-summary.sh LOG
set -uo pipefail

log=$1

awk '
function problem(line) {
	# BUG: also covers KASAN, KFENCE and soft lockups; WARNING: covers
	# lockdep; slub_debug reports start "BUG <cache>".
	return line ~ /(Oops|(^|[^A-Z_])BUG[: ]|WARNING:|Kernel panic|general protection fault|UBSAN:|inconsistent lock state|blocked for more than|rcu_.* stall|self-detected stall|Call Trace|RIP: )/
}

/^--- dmesg ---$/ { in_dmesg = 1; next }
/^--- end dmesg ---$/ { in_dmesg = 0; dumped = 1; next }
in_dmesg {
	if (problem($0)) {
		problems++
		if (problems <= 20)
			print "kernel: " $0
	}
	next
}
/^GMEM-GUEST-DONE$/ { done = 1; next }
# A panic before the dump is on the console only.
/Kernel panic|Oops|BUG:/ && !dumped { console_problem = $0 }

/^ *1\.\.[0-9]+/ {
	depth = index($0, "1") - 1
	if (depth == 0) {
		split($0, f, /\.\./)
		planned = f[2] + 0
	}
	next
}

/^ *(not )?ok [0-9]+/ {
	depth = match($0, /[^ ]/) - 1
	failed_here = ($0 ~ /^ *not ok/)
	skipped_here = !failed_here && ($0 ~ /# *[Ss][Kk][Ii][Pp]/)
	child = depth + 4
	if (nchild[child] > 0) {
		# a parent: its subtests were counted
		if (failed_here && nchildfail[child] == 0) {
			fail++
			print "failed: " $0
		}
	} else if (failed_here) {
		fail++
		print "failed: " $0
	} else if (skipped_here) {
		skip++
		print "skipped: " $0
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
	next
}

END {
	# The guest finishing and a clean kernel log count as one test each
	# when they fail, so that the closing line never says 0 failed on a
	# failed run.
	if (!done) {
		print "failed: guest did not finish (crash, panic or hang)"
		if (console_problem != "")
			print "console: " console_problem
		fail++
	}
	if (planned > top) {
		print "failed: " planned - top " planned test(s) never reported"
		fail += planned - top
	}
	if (problems) {
		print "failed: " problems " problem line(s) in the guest kernel log"
		fail++
	}
	line = pass + 0 " passed, " fail + 0 " failed"
	if (skip)
		line = line ", " skip " skipped"
	print line
	exit fail ? 1 : 0
}
' "$log"
