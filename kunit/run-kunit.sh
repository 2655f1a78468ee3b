#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the test guest: loads kunit.ko, then gmem_kunit.ko, whose suites
# run inside insmod; prints each suite's KTAP results from debugfs (they
# nest as subtests in the guest's TAP), unloads both and fails if any case
# failed or a suite did not report.
cd "$(dirname "$0")" || exit 1
insmod ./kunit.ko || exit 1
insmod ./gmem_kunit.ko
suites=0
failed=0
for results in /sys/kernel/debug/kunit/*/results; do
	[ -f "$results" ] || continue
	cat "$results"
	suites=$((suites + 1))
	grep -q 'not ok' "$results" && failed=1
done
rmmod gmem_kunit
rmmod kunit
[ "$suites" -gt 0 ] || { echo "# no KUnit suite reported"; exit 1; }
exit "$failed"
