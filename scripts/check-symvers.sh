#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The rebuilt KVM modules must export every symbol the distribution's do,
# with the same CRC: other stock modules (kvmgt, for one) import them, and
# with CONFIG_MODVERSIONS a CRC that differs keeps them from loading
# ("disagrees about version of symbol").  A change to a structure that an
# export's prototype reaches (struct kvm) changes CRCs unless genksyms is
# kept from seeing it.
#
# Usage: scripts/check-symvers.sh OUR_MODULE_SYMVERS DISTRO_MODULE_SYMVERS
set -euo pipefail

ours=$1 distro=$2

# Module.symvers: CRC, symbol, module path, export type, namespace.
awk -F'\t' '
FNR == NR {
	if ($3 ~ /(^|\/)arch\/x86\/kvm\/kvm(-amd|-intel)?$/)
		want[$2] = $1
	next
}
{ have[$2] = $1 }
END {
	for (s in want) {
		if (!(s in have)) {
			printf "check-symvers: %s is not exported\n", s
			bad++
		} else if (have[s] != want[s]) {
			printf "check-symvers: %s has CRC %s, the distribution %s\n",
			       s, have[s], want[s]
			bad++
		}
		n++
	}
	if (!n) {
		print "check-symvers: no KVM export in the distribution list"
		exit 1
	}
	if (bad) {
		printf "check-symvers: %d of %d KVM exports differ\n", bad, n
		exit 1
	}
	printf "check-symvers: all %d KVM exports match the distribution\n", n
}' "$distro" "$ours"
