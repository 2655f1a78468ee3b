// SPDX-License-Identifier: GPL-2.0
/*
 * The release of gmem that built this KVM module (VERSION, passed in as
 * GMEM_VERSION): modinfo and /sys/module/<module>/version then tell gmem's
 * rebuild of kvm.ko, kvm-amd.ko and kvm-intel.ko from the distribution's,
 * which have no version.  Built once for each of them (kvm/kvm.kbuild).
 */
#include <linux/module.h>

MODULE_VERSION(GMEM_VERSION);
