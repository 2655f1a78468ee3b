#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of scripts/tap-summary.sh on made-up guest logs: each case gives a
# log, the closing line it must print and the exit status it must return.
# Run by `make check` before the guest boots; prints TAP, fails on a miss.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp)
tmp2=$(mktemp)
trap 'rm -f "$tmp" "$tmp2"' EXIT
n=0
failed=0

# expect NAME STATUS "CLOSING LINE" [LOG...] < LOG: the judge is given the
# log on standard input first, then the others
expect() {
	local name=$1 want_rc=$2 want_line=$3 out rc
	shift 3
	cat > "$tmp"
	out=$("$top/scripts/tap-summary.sh" "$tmp" "$@")
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

echo "1..39"

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

# What gmem_exit() leaves behind when it destroys its inode cache before
# the inodes in it are freed: the WARN() of kmem_cache_destroy() (its own
# line is enough), and the RCU callback calling into the module text.
expect slab_cache_still_has_objects 1 "1 passed, 1 failed" <<LOG
1..1
ok 1 a
--- dmesg ---
[    3.0] kmem_cache_destroy gmem_inode_cache: Slab cache still has objects when called from gmem_exit+0x30/0xff0 [gmem]
--- end dmesg ---
GMEM-GUEST-DONE
LOG

expect call_into_freed_module_text 1 "1 passed, 1 failed" <<LOG
1..1
ok 1 a
--- dmesg ---
[   14.0] BUG: unable to handle page fault for address: ffffffffc0a3e060
[   14.0] #PF: supervisor instruction fetch in kernel mode
[   14.0] Oops: 0010 [#1] PREEMPT SMP NOPTI
--- end dmesg ---
GMEM-GUEST-DONE
LOG

# The debug kernel's reports, one case per kind: each gives only the
# report's own distinctive lines (no WARNING: header, no Call Trace), so
# that the judge must know the kind itself.
# report NAME LINE...: a passing test whose kernel log holds the lines
report() {
	local name=$1
	shift
	expect "$name" 1 "1 passed, 1 failed" < <(
		echo "1..1"
		echo "ok 1 a"
		echo "--- dmesg ---"
		printf '[   12.0] %s\n' "$@"
		echo "--- end dmesg ---"
		echo "GMEM-GUEST-DONE")
}

report kasan_use_after_free \
	"==================================================================" \
	"KASAN: slab-use-after-free in gmem_free_folio+0x4c/0x90 [gmem]" \
	"Read of size 8 at addr ffff888012345678 by task gmem_test/95"
report kfence_out_of_bounds \
	"KFENCE: out-of-bounds read in gmem_bind+0x1c/0x80 [gmem]"
report lockdep_circular_locking \
	"possible circular locking dependency detected" \
	"gmem_link_test/120 is trying to acquire lock:"
report lockdep_recursive_locking \
	"possible recursive locking detected"
report lockdep_inconsistent_lock_state \
	"inconsistent lock state" \
	"inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage."
report lockdep_bad_unlock_balance \
	"bad unlock balance detected!"
report lockdep_lock_held_returning_to_user \
	"lock held when returning to user space!"
report suspicious_rcu_usage \
	"suspicious RCU usage" \
	"kvm/guest_memfd_adapter.c:120 suspicious rcu_dereference_check() usage!"
report sleeping_in_atomic_context \
	"sleeping function called from invalid context at mm/page_alloc.c:4187" \
	"in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 130, name: t"
# KVM_MMU_WARN_ON() is a WARN_ON_ONCE() under CONFIG_KVM_PROVE_MMU: its
# only line of its own is the WARNING one.
report kvm_mmu_warn_on \
	"WARNING: CPU: 1 PID: 140 at arch/x86/kvm/mmu/mmu.c:3215 kvm_mmu_max_mapping_level+0x1a0/0x1c0 [kvm]"
report debug_vm_page_dumped \
	"page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x10a200" \
	"page dumped because: VM_BUG_ON_FOLIO(folio_ref_count(folio) == 0)"
report debug_vm_bug_on \
	"kernel BUG at include/linux/mm.h:1511!"
report debug_objects_rcu_head \
	"ODEBUG: activate active (active state 1) object: ffff888012340000 object type: rcu_head hint: 0x0"
report debug_list_corruption \
	"list_del corruption. prev->next should be ffff888012345678, but was dead000000000100"
report rcu_stall \
	"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
report rcu_self_detected_stall \
	"rcu: INFO: rcu_preempt self-detected stall on CPU"
report hung_task \
	"INFO: task gmem_test:130 blocked for more than 120 seconds."
report soft_lockup \
	"watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [gmem_test:130]"
# Lockdep turned off by a taint (a module without a license, a forced
# unload...) says only this; and the guest's own check at the end, should
# it have gone off silently.
report lockdep_off_by_taint \
	"Disabling lock debugging due to kernel taint"
report lockdep_off_at_the_end \
	"gmem-guest: lockdep was turned off during the run (debug_locks 0)"
report checker_parameter_unknown \
	"gmem-guest: unknown to this kernel: page_poison="

# KASAN on 6.12 with 5-level paging: the false report during identify_cpu()
# (README.md, "The debug kernel") fails the run like any other, and the
# judge says what it is.
report kasan_la57_identify_cpu_false_positive \
	"BUG: KASAN: wild-memory-access in do_raw_spin_lock+0xcf/0x260" \
	"Write of size 4 at addr ff110001000c90b8 by task swapper/0/0" \
	"RIP: 0010:identify_cpu+0x2b2/0x3460"
out=$("$top/scripts/tap-summary.sh" "$tmp")
n=$((n + 1))
if echo "$out" | grep -q '^note: that KASAN report is the known false positive'; then
	echo "ok $n kasan_la57_false_positive_is_named"
else
	echo "not ok $n kasan_la57_false_positive_is_named"
	failed=$((failed + 1))
fi

# Two guests, one closing line for both.
# Upstream's 7.x KVM selftests (selftests/upstream7.plan) print no TAP of
# their own but a random seed; a skip prints kselftest's "1..0 # SKIP" line
# and exits 4, a failure prints an assertion and exits 254 (exit codes as
# guest-init.sh reports them).  The "1..0" nested in a program's output is
# no plan of the guest's: nothing goes missing.
expect upstream7_skip_counts_once 0 "1 passed, 0 failed, 1 skipped" <<LOG
1..2
    Random seed: 0x6095d12e
# guest_memfd_test_7: exit 0 after 0.84 s
ok 1 guest_memfd_test_7
    Random seed: 0x1136d780
    1..0 # SKIP - Requirement not met: kvm_has_cap(KVM_CAP_GUEST_MEMFD)
# pre_fault_memory_test_7: exit 4 after 0.02 s
ok 2 pre_fault_memory_test_7 # SKIP exit code 4 (KSFT_SKIP)
$end
LOG

expect upstream7_failure_and_timeout 1 "1 passed, 2 failed" <<LOG
1..3
    Random seed: 0xdf93602
    Testing ADD of overlapping KVM_MEM_GUEST_MEMFD memory regions
    
    ==== Test Assertion Failure ====
      set_memory_region_test.c:537: r == -1 && errno == EEXIST
      pid=236 tid=236 errno=22 - Invalid argument
    sh: addr2line: not found
      Overlapping guest_memfd() bindings should fail with EEXIST
# set_memory_region_test_7: exit 254 after 82.62 s
not ok 1 set_memory_region_test_7 # exit code 254
    Random seed: 0x26c4a671
# private_mem_kvm_exits_test_7: exit 0 after 1.02 s
ok 2 private_mem_kvm_exits_test_7
    Random seed: 0x6d1af6cb
    Killed
# pre_fault_memory_test_7: exit 137 after 121.36 s
not ok 3 pre_fault_memory_test_7 # timed out after 120 s
$end
LOG

cat > "$tmp2" <<LOG
1..2
    1..2
    ok 1 x
    not ok 2 y
not ok 1 program # exit code 1
ok 2 b # SKIP exit code 4
$end
LOG
expect two_logs_add_up 1 "3 passed, 1 failed, 1 skipped" "$tmp2" <<LOG
1..2
ok 1 a
ok 2 b
$end
LOG

cat > "$tmp2" <<LOG
1..2
ok 1 c
[    9.0] Kernel panic - not syncing: Fatal exception in interrupt
LOG
expect second_guest_died 1 "3 passed, 2 failed" "$tmp2" <<LOG
1..2
ok 1 a
ok 2 b
$end
LOG

expect second_log_missing 1 "2 passed, 1 failed" "$tmp2.missing" <<LOG
1..2
ok 1 a
ok 2 b
$end
LOG

[ "$failed" = 0 ]
