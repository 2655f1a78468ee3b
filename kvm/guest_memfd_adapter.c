// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's guest_memfd on top of gmem.ko.
 *
 * Compiled into the gmem variant of kvm.ko in place of upstream's
 * virt/kvm/guest_memfd.c, it fills the same contract (virt/kvm/kvm_mm.h,
 * include/linux/kvm_host.h).  For now it is a shell: creation is handed to
 * gmem.ko, which does not create files yet, so no memslot can be bound.
 */
#include <linux/err.h>
#include <linux/gmem.h>
#include <linux/kvm_host.h>

#include "kvm_mm.h"

void kvm_gmem_init(struct module *module)
{
}

int kvm_gmem_create(struct kvm *kvm, struct kvm_create_guest_memfd *args)
{
	struct file *file = gmem_file_create(args->size, args->flags);

	if (IS_ERR(file))
		return PTR_ERR(file);
	fput(file);
	return -EOPNOTSUPP;
}

int kvm_gmem_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
		  unsigned int fd, u64 offset)
{
	return -EINVAL;
}

void kvm_gmem_unbind(struct kvm_memory_slot *slot)
{
}

int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
		     gfn_t gfn, kvm_pfn_t *pfn, int *max_order)
{
	return -EFAULT;
}
EXPORT_SYMBOL_GPL(kvm_gmem_get_pfn);

long kvm_gmem_populate(struct kvm *kvm, gfn_t start_gfn, void __user *src,
		       long npages, kvm_gmem_populate_cb post_populate,
		       void *opaque)
{
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(kvm_gmem_populate);
