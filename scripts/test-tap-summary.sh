#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/tap-summary.sh on made-up guest logs: each case gives a
# log, the closing line it must print and the exit status it must return.
# Run by `make check` before the guest boots; prints TAP, fails on a miss.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
n=0
failed=0

# expect NAME STATUS "CLOSING LINE" < LOG
expect() {
	local name=$1 want_rc=$2 want_line=$3 out rc
	cat > "$tmp"
	out=$("$top/scripts/tap-summary.sh" "$tmp")
	rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] &&
	   [ "$(echo "$out" | tail -n 1)" = "$want_line" ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "$out" | sed 's/^/# /'
		echo "# wanted exit $want_rc and '$want_line', got exit $rc"
		failed=$((failed + 1))
	fi
}

end='--- dmesg ---
[    1.0] kvm_amd: Nested Paging enabled
--- end dmesg ---
GMEM-GUEST-DONE'

echo "1..9"

expect all_pass 0 "3 passed, 0 failed" <<LOG
1..3
ok 1 a
ok 2 b
ok 3 c
$end
LOG

expect one_failure 1 "1 passed, 1 failed" <<LOG
1..2
ok 1 a
not ok 2 b # exit code 1
$end
LOG

expect skip_is_not_pass 0 "1 passed, 0 failed, 1 skipped" <<LOG
1..2
ok 1 a
ok 2 b # SKIP exit code 4
$end
LOG

expect subtests_count_instead_of_parent 0 "3 passed, 0 failed" <<LOG
1..2
    1..2
    ok 1 x
    ok 2 y
ok 1 program
ok 2 c
$end
LOG

expect failed_parent_with_passing_subtests 1 "2 passed, 1 failed" <<LOG
1..1
    1..3
    ok 1 x
    ok 2 y
not ok 1 program # exit code 139
$end
LOG

expect failed_subtest_fails_once 1 "1 passed, 1 failed" <<LOG
1..1
    ok 1 x
    not ok 2 y
not ok 1 program # exit code 1
$end
LOG

expect guest_died 1 "1 passed, 2 failed" <<LOG
1..2
ok 1 a
[    9.0] Kernel panic - not syncing: Fatal exception
LOG

expect kernel_warning 1 "1 passed, 1 failed" <<LOG
1..1
ok 1 a
--- dmesg ---
[    2.0] WARNING: CPU: 1 PID: 80 at mm/filemap.c:123 foo+0x1/0x2
--- end dmesg ---
GMEM-GUEST-DONE
LOG

expect program_text_is_not_a_kernel_report 0 "1 passed, 0 failed" <<LOG
1..1
    WARNING: this line is a program's own output
ok 1 a
$end
LOG

[ "$failed" = 0 ]
