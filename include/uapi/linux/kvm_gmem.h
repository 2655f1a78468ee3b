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
 * Upstream's guest_memfd creation flags (KVM_CREATE_GUEST_MEMFD's @flags)
 * and the capability that reports them, from Linux 6.18, with upstream's
 * numbers: 6.12's <linux/kvm.h> lacks them.
 *
 * KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_FLAGS) (system or VM fd): the
 * flags KVM_CREATE_GUEST_MEMFD takes (on the system fd: on some VM type).
 *
 * GUEST_MEMFD_FLAG_MMAP: the memory can be mmap()ed, MAP_SHARED only.
 * GUEST_MEMFD_FLAG_INIT_SHARED: the memory is shared, so user space may
 * fault it in and a VM maps it as shared memory; only for VMs without
 * private memory.  Without it, every user fault is SIGBUS.
 */
#ifndef KVM_CAP_GUEST_MEMFD_FLAGS
#define KVM_CAP_GUEST_MEMFD_FLAGS	244
#endif
#ifndef GUEST_MEMFD_FLAG_MMAP
#define GUEST_MEMFD_FLAG_MMAP		(1ULL << 0)
#endif
#ifndef GUEST_MEMFD_FLAG_INIT_SHARED
#define GUEST_MEMFD_FLAG_INIT_SHARED	(1ULL << 1)
#endif

/*
 * gmem's own creation flags.  KVM_CHECK_EXTENSION answers in an int, and
 * a negative answer reads as an error, so every flag cap 244 reports lies
 * in bits 0 to 30.  Upstream's grow from bit 0 (bits 2 and 3 are claimed
 * by series not yet merged), and bits 26 to 31 are where Linux encodes
 * huge page sizes in flags (MFD_HUGE_SHIFT), which a guest_memfd series
 * may follow: gmem's sit at bits 20 and 21, far from both.
 * KVM_CAP_GUEST_MEMFD_FLAGS reports them where they work.  Each is the
 * per-file form of a VM-wide KVM_ENABLE_CAP below; a file gets a right
 * or a choice if either asks for it.
 *
 * GUEST_MEMFD_FLAG_GMEM_LINKABLE: the file carries the link right (see
 * KVM_CAP_GUEST_MEMFD_LINK and KVM_LINK_GUEST_MEMFD).
 * GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE: the memory comes in 4 KiB pages only,
 * as upstream's (see KVM_CAP_GUEST_MEMFD_HUGEPAGE).
 */
#define GUEST_MEMFD_FLAG_GMEM_LINKABLE		(1ULL << 20)
#define GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE	(1ULL << 21)

/*
 * KVM_CHECK_EXTENSION (system or VM fd): 1 if KVM_LINK_GUEST_MEMFD is
 * available (on a VM: if the VM can link: any VM type but SEV-SNP).
 * gmem's capabilities are numbered from 'g' 'm' << 16, far above upstream's
 * sequence, so that no capability upstream adds can mean something else.
 *
 * KVM_ENABLE_CAP (VM fd), flags 0, args[0] 1 or 0, args[1..3] 0: whether
 * the guest_memfds this VM creates from now on may be linked into another
 * VM (they carry the link right).  Off by default: a guest_memfd fd alone
 * never gives access to the memory's contents.
 */
#define KVM_CAP_GUEST_MEMFD_LINK	0x676d0001

/*
 * KVM_CHECK_EXTENSION (system or VM fd): the page sizes guest_memfd backs
 * private memory with, a mask of sizes in bytes (4 KiB always among them,
 * 2 MiB where the kernel has PMD-sized page cache folios), and so the
 * largest KVM can map private memory with.  0 where guest_memfd is not
 * available.  A new guest_memfd uses all of them by default.
 *
 * KVM_ENABLE_CAP (VM fd), flags 0, args[0] a mask of sizes that includes
 * 4 KiB and is a subset of the above, args[1..3] 0: the page sizes of the
 * guest_memfds this VM creates from now on (4 KiB alone: as upstream).
 * A linked guest_memfd has the page sizes of the memory it links to.
 */
#define KVM_CAP_GUEST_MEMFD_HUGEPAGE	0x676d0002

/*
 * KVM_LINK_GUEST_MEMFD (VM ioctl): a new guest_memfd of this VM on the
 * memory of another VM's guest_memfd @fd (same inode, size and contents).
 * Returns the new fd.  As upstream's RFC "KVM: guest_memfd: Add ioctl
 * KVM_LINK_GUEST_MEMFD" (v2, May 2025), which was not merged.
 *
 * @fd must carry the link right (see KVM_CAP_GUEST_MEMFD_LINK), else
 * EPERM.  The new file has @fd's rights less those @flags drop:
 * NO_FALLOCATE, no fallocate() (allocation or punch: EPERM); NO_LINK, it
 * cannot be the source of a further link.
 */
struct kvm_link_guest_memfd {
	__u64 fd;
	__u64 flags;
	__u64 reserved[6];
};

#define KVM_LINK_GUEST_MEMFD_NO_FALLOCATE	(1ULL << 0)
#define KVM_LINK_GUEST_MEMFD_NO_LINK		(1ULL << 1)

#define KVM_LINK_GUEST_MEMFD	_IOWR(KVMIO, 0xd6, struct kvm_link_guest_memfd)

/*
 * In-place conversion: one guest_memfd holds both private and shared
 * memory, each page in one state, kept by the memory itself (the inode)
 * and so seen alike by every VM whose guest_memfd links it.  Modelled on
 * upstream's series "guest_memfd in-place conversion" (v8, June 2026, not
 * merged); see Documentation/conversion.rst for every difference.
 *
 * KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM) (system or
 * VM fd): the attributes KVM_SET_MEMORY_ATTRIBUTES2 takes on the VM's
 * guest_memfds (KVM_MEMORY_ATTRIBUTE_PRIVATE on VMs with private memory
 * that do not take their pages, SEV-SNP's; on the system fd, on some VM
 * type), else 0.
 *
 * KVM_ENABLE_CAP (VM fd), flags 0, args[0] KVM_MEMORY_ATTRIBUTE_PRIVATE,
 * args[1..3] 0: the VM keeps private/shared in its guest_memfds from now
 * on, not in its own attributes.  Only before the VM has a guest_memfd
 * or memory attributes (else EBUSY); enabling it again is a no-op, and it
 * cannot be turned off (args[0] 0 is EINVAL).  On such a VM:
 *  - every guest_memfd is made with GUEST_MEMFD_FLAG_MMAP (else EINVAL)
 *    and may be made GUEST_MEMFD_FLAG_INIT_SHARED (all pages start
 *    shared; without it all start private);
 *  - KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd converts its pages;
 *  - KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES) is 0 and
 *    KVM_SET_MEMORY_ATTRIBUTES refuses KVM_MEMORY_ATTRIBUTE_PRIVATE;
 *  - a GPA is private if its memslot's guest_memfd page is;
 *  - KVM_LINK_GUEST_MEMFD links only guest_memfds of such VMs, and such
 *    a VM links only those (EINVAL).
 *
 * KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM): the flags
 * KVM_SET_MEMORY_ATTRIBUTES2 takes (ZERO and PRESERVE where the ioctl is
 * available, else 0).
 */
#define KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM	0x676d0003
#define KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM		0x676d0004

/*
 * KVM_SET_MEMORY_ATTRIBUTES2 (guest_memfd ioctl), upstream's number and
 * layout: set pages [@offset, @offset + @size) of the guest_memfd to
 * @attributes, 0 (shared) or KVM_MEMORY_ATTRIBUTE_PRIVATE.
 *
 * To shared: every VM's mappings of the pages go; with ZERO the pages
 * read as zeros, with PRESERVE (or no flag) they keep their contents;
 * user space may then fault them in through a mapping of any file on
 * the memory.  To private: every user mapping of the pages goes; if one
 * may still be referenced from user space (a GUP pin or reference),
 * EAGAIN with @error_offset at the first such page, and nothing is
 * converted; then user faults on them are SIGBUS.  ZERO with to private
 * is EOPNOTSUPP.
 *
 * Errors: EINVAL for a misaligned or empty range, one past the end, bad
 * @attributes or @flags (both content modes), a @reserved field set;
 * ENOTTY on a guest_memfd of a VM that does not convert in place, or
 * whose VM is gone; EPERM on a guest_memfd linked without fallocate()
 * (KVM_LINK_GUEST_MEMFD_NO_FALLOCATE); ENOMEM (@error_offset at
 * @offset).
 */
#ifndef KVM_SET_MEMORY_ATTRIBUTES2
struct kvm_memory_attributes2 {
	union {
		__u64 address;
		__u64 offset;
	};
	__u64 size;
	__u64 attributes;
	__u64 flags;
	__u64 error_offset;
	__u64 reserved[11];
};

#define KVM_SET_MEMORY_ATTRIBUTES2 \
	_IOWR(KVMIO, 0xd2, struct kvm_memory_attributes2)
#endif

#ifndef KVM_SET_MEMORY_ATTRIBUTES2_ZERO
#define KVM_SET_MEMORY_ATTRIBUTES2_ZERO		(1ULL << 0)
#define KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE	(1ULL << 1)
#endif

#endif /* _UAPI_LINUX_KVM_GMEM_H */
