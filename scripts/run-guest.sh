#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel (Debian's prebuilt one, or the debug kernel built from the
# same source) with a test initramfs under TCG, keep the whole serial log,
# then judge it with scripts/tap-summary.sh.  Standard
# output shows the log as it comes, less the kernel log the guest dumps at
# the end (it is in LOG).
#
# Usage: scripts/run-guest.sh KERNEL INITRAMFS LOG
# Environment: GUEST_TIMEOUT (seconds for the whole run, default 1200),
#              GUEST_MEM (default 2G), GUEST_CPUS (default 2),
#              GUEST_NUMA_NODES (default 2: GUEST_MEM and GUEST_CPUS
#              split evenly between two NUMA nodes; 1: one node, no -numa),
#              GUEST_CMDLINE (appended to the kernel command line),
#              GUEST_DEBUG=0 (no slab and page debugging: for benchmarks),
#              GUEST_JUDGE=0 (leave the log to be judged later, with other
#              guests' logs: scripts/tap-summary.sh LOG...; exit 0).
#              GUEST_TCG=single (single-threaded TCG on the host's QEMU;
#              default multi, on a QEMU of 8.1 or newer).
#              GUEST_TIMEOUT_FACTOR=N (default 1): a kernel that runs the
#              tests N times slower (the debug kernel); multiplies the
#              whole run's timeout here and each test's in the guest
#              (gmem_timeout_factor=N on the kernel command line).
# The guest is told the whole run's timeout (gmem_run_timeout=N), and its
# watchdog dumps the kernel log a minute before the host would kill it.
#
# scripts/qemu.sh picks the QEMU and the TCG threading, and says which and
# why on the log's first line (see README.md, "No flakes").
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=$1 initrd=$2 log=$3
factor=${GUEST_TIMEOUT_FACTOR:-1}
timeout=$((${GUEST_TIMEOUT:-1200} * factor))

# slub_debug, page_poison and KFENCE turn silent slab and page corruption
# into reports; the kernel log buffer is large enough to keep a whole run.
# slub_debug without U (allocation stack traces): those go to the stack
# depot, which never shrinks, and would read as a leak to the guest's check
# that memory comes back.
# no_timer_check: on a loaded host the emulated timer can miss the boot's
# IO-APIC timer check, and the kernel panics ("IO-APIC + timer doesn't
# work!"); it did once with three guests on two shared cores.
cmdline="console=ttyS0 panic=-1 quiet loglevel=4 log_buf_len=16M"
cmdline+=" no_timer_check"
if [ "${GUEST_DEBUG:-1}" != 0 ]; then
	cmdline+=" slub_debug=FZP page_poison=1 kfence.sample_interval=10"
fi
[ "$factor" = 1 ] || cmdline+=" gmem_timeout_factor=$factor"
cmdline+=" gmem_run_timeout=$timeout"
cmdline+=" ${GUEST_CMDLINE:-}"

# NUMA nodes, so that memory policy has somewhere to place memory: one
# memory-backend-ram a node, the memory split evenly (the last node takes
# what does not divide), and the CPUs split in order, each CPU a socket of
# its own: a node must not share a socket (the kernel WARNs on a sibling
# on another node); with fewer CPUs than nodes, the last nodes have memory
# only.
mem=${GUEST_MEM:-2G} cpus=${GUEST_CPUS:-2} nodes=${GUEST_NUMA_NODES:-2}
mem_mb=0
case $mem in
*[Gg]) [[ ${mem%?} =~ ^[0-9]+$ ]] && mem_mb=$((10#${mem%?} * 1024)) ;;
*[Mm]) [[ ${mem%?} =~ ^[0-9]+$ ]] && mem_mb=$((10#${mem%?})) ;;
*) [[ $mem =~ ^[0-9]+$ ]] && mem_mb=$((10#$mem)) ;;	# QEMU: MiB
esac
if ! [[ $nodes =~ ^[1-9][0-9]*$ && $cpus =~ ^[1-9][0-9]*$ ]] ||
   { [ "$nodes" -gt 1 ] && [ $((mem_mb / nodes)) -lt 64 ]; }; then
	echo "run-guest: GUEST_NUMA_NODES=$nodes, GUEST_CPUS=$cpus and" \
	     "GUEST_MEM=$mem (MiB, or with M or G) do not make nodes of" \
	     "64 MiB or more" >&2
	exit 2
fi
topology=(-m "$mem" -smp "$cpus")
if [ "$nodes" -gt 1 ]; then
	topology=(-m "${mem_mb}M" -smp "$cpus,sockets=$cpus,cores=1,threads=1")
	for ((n = 0; n < nodes; n++)); do
		size=$((mem_mb / nodes))
		[ "$n" = $((nodes - 1)) ] && size=$((mem_mb - n * size))
		topology+=(-object "memory-backend-ram,id=ram$n,size=${size}M"
			   -numa "node,nodeid=$n,memdev=ram$n")
	done
	for ((c = 0; c < cpus; c++)); do
		topology+=(-numa "cpu,node-id=$((c * nodes / cpus)),socket-id=$c")
	done
fi

echo "guest log: $log"
timeout -s KILL "$timeout" \
	"$top/scripts/qemu.sh" exec -cpu max "${topology[@]}" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-display none -no-reboot -nic none -monitor none -serial stdio \
	< /dev/null | sed -u 's/\r$//' | tee "$log" |
	sed -u '/^--- dmesg ---$/,/^--- end dmesg ---$/d'
rc=${PIPESTATUS[0]}
[ "$rc" = 137 ] && echo "guest: killed after $timeout s" | tee -a "$log"

[ "${GUEST_JUDGE:-1}" = 0 ] && exit 0
"$top/scripts/tap-summary.sh" "$log"
