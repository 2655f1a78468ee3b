#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# Run a program and count the guest kernel's live text patches meanwhile:
# the calls of text_poke_bp_batch(), through which every static key flip,
# static call update and optimised kprobe goes (one call for a batch of
# sites).  Under multi-threaded TCG each of them risks a stale int3 (see
# kvm_static_key_holder.c), so the soak asserts that while the guest holds
# KVM's static keys, creating and destroying VMs patches nothing.
#
# Usage: count_text_pokes MAX PROGRAM [ARGS...]
# Fails when PROGRAM fails or when there were more than MAX patches; MAX
# "-" only counts, as does gmem_hold_keys=0 on the kernel command line
# (the guest holds no key then: make soak HOLD_KEYS=0).  Kprobe
# optimisation is off meanwhile, so that the probe itself stays an int3
# and patches nothing more.  A timeout that kills this script does not
# reach PROGRAM: give PROGRAM its own (vm_cycle.plan runs it under
# busybox's timeout).
max=$1
shift
[ "${gmem_hold_keys:-1}" = 0 ] && max=-
t=/sys/kernel/tracing
ev=gmem_text_pokes

hits() {
	awk -v e=$ev '$1 == e { print $2 }' $t/kprobe_profile
}

# Whatever happens, the probe goes and the sysctl comes back.
cleanup() {
	echo 0 > $t/events/kprobes/$ev/enable 2>/dev/null
	echo "-:$ev" >> $t/kprobe_events 2>/dev/null
	[ -n "$opt" ] && echo "$opt" > /proc/sys/debug/kprobes-optimization
}

[ -e $t/kprobe_events ] || mount -t tracefs tracefs $t || exit 1
opt=$(cat /proc/sys/debug/kprobes-optimization) || exit 1
trap cleanup EXIT
echo 0 > /proc/sys/debug/kprobes-optimization || exit 1
echo "p:$ev text_poke_bp_batch" >> $t/kprobe_events || exit 1
echo 1 > $t/events/kprobes/$ev/enable || exit 1
# Enabling the event patches too: count from here.
n0=$(hits)

"$@"
rc=$?

n=$(($(hits) - n0))
echo "count_text_pokes: text_poke_bp_batch() ran $n times (at most: $max)"
[ "$rc" = 0 ] || exit "$rc"
[ "$max" = - ] || [ "$n" -le "$max" ]
