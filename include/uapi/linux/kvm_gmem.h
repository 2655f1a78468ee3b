/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * gmem's additions to KVM's uAPI (<linux/kvm.h>); see
 * Documentation/uapi.rst.
 */
#ifndef _UAPI_LINUX_KVM_GMEM_H
#define _UAPI_LINUX_KVM_GMEM_H

#include <linux/ioctl.h>
#include <linux/kvm.h>
#include <linux/types.h>

/*
 * KVM_CHECK_EXTENSION on a VM fd: 1 if KVM_LINK_GUEST_MEMFD is available.
 * gmem's capabilities are numbered from 'g' 'm' << 16, far above upstream's
 * sequence, so that no capability upstream adds can mean something else.
 */
#define KVM_CAP_GUEST_MEMFD_LINK	0x676d0001

/*
 * KVM_LINK_GUEST_MEMFD (VM ioctl): a new guest_memfd of this VM on the
 * memory of another VM's guest_memfd @fd (same inode, size and contents).
 * Returns the new fd.  As upstream's RFC "KVM: guest_memfd: Add ioctl
 * KVM_LINK_GUEST_MEMFD" (v2, May 2025), which was not merged.
 */
struct kvm_link_guest_memfd {
	__u64 fd;
	__u64 flags;
	__u64 reserved[6];
};

#define KVM_LINK_GUEST_MEMFD	_IOWR(KVMIO, 0xd6, struct kvm_link_guest_memfd)

#endif /* _UAPI_LINUX_KVM_GMEM_H */
