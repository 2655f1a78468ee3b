// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's guest_memfd on top of gmem.ko.
 *
 * Compiled into the gmem variant of kvm.ko in place of upstream's
 * virt/kvm/guest_memfd.c, it fills the same contract (virt/kvm/kvm_mm.h,
 * include/linux/kvm_host.h) with different lifetimes, see
 * Documentation/lifetimes.rst:
 *
 *  - a memslot binding holds a reference on its file, so closing the VMM's
 *    guest_memfd fd frees and zaps nothing while memslots use it;
 *  - a file does not hold its VM: when the VM is destroyed its files are
 *    detached (kvm_gmem_destroy_vm()) and live on without an owner;
 *  - a file may be linked into another VM only if its VM granted that
 *    (KVM_CAP_GUEST_MEMFD_LINK or GUEST_MEMFD_FLAG_GMEM_LINKABLE), and a
 *    link may have fewer rights;
 *  - every VM type has guest_memfd, as in upstream 6.18: a file made with
 *    GUEST_MEMFD_FLAG_MMAP can be mapped by user space (gmem's mmap.c) and
 *    its memslots are guest_memfd-only (KVM_MEMSLOT_GMEM_ONLY): KVM maps
 *    shared memory from the file too, not from userspace_addr;
 *  - a VM with private memory may keep what is private in its files
 *    (in-place conversion, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM):
 *    each page of the memory is private or shared for every VM whose file
 *    links it, and KVM_SET_MEMORY_ATTRIBUTES2 on a file converts pages
 *    (gmem's conversion.c), see Documentation/conversion.rst.
 *
 * Each file is owned by one VM (struct kvm_gmem); @bindings maps file page
 * offsets to the memslots that use them.  @bindings changes only under
 * gmem_lock(), which is also held around the invalidation callbacks.  A VM
 * keeps its files on a list of its own (kvm->gmem, struct kvm_gmem_vm),
 * under its own lock: nothing here takes a lock that all VMs share.
 */
#include <linux/err.h>
#include <linux/file.h>
#include <linux/gmem.h>
#include <linux/kvm_gmem.h>
#include <linux/kvm_host.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "kvm_mm.h"

/*
 * One file of a VM.  @entry is on kvm->gmem.files while the file is
 * attached.  When the file's release races with the VM's destruction
 * (kvm_gmem_release()), @released completes once the release no longer
 * touches the VM, and @detached once the dying VM no longer touches the
 * file.
 */
struct kvm_gmem {
	struct kvm *kvm;
	struct file *file;
	struct xarray bindings;
	struct list_head entry;
	struct completion released;
	struct completion detached;
};

static bool gmem_snp;
module_param(gmem_snp, bool, 0444);
MODULE_PARM_DESC(gmem_snp,
		 "Let SEV-SNP VMs create guest_memfds on gmem (untested; default N)");

static struct kvm_gmem *kvm_gmem_alloc(struct kvm *kvm)
{
	struct kvm_gmem *gmem = kzalloc(sizeof(*gmem), GFP_KERNEL_ACCOUNT);

	if (!gmem)
		return NULL;
	gmem->kvm = kvm;
	xa_init(&gmem->bindings);
	INIT_LIST_HEAD(&gmem->entry);
	init_completion(&gmem->released);
	init_completion(&gmem->detached);
	return gmem;
}

static void kvm_gmem_free(struct kvm_gmem *gmem)
{
	xa_destroy(&gmem->bindings);
	kfree(gmem);
}

/*
 * Whether the architecture takes over the pages it prepares for @kvm, and
 * must have them back before the host uses them again: SEV-SNP assigns
 * them to the guest in the RMP, kvm_arch_gmem_invalidate() undoes that.
 */
static bool kvm_gmem_arch_takes_pages(struct kvm *kvm)
{
#if defined(CONFIG_X86) && defined(CONFIG_HAVE_KVM_ARCH_GMEM_INVALIDATE)
	return kvm->arch.vm_type == KVM_X86_SNP_VM;
#else
	return false;
#endif
}

/*
 * What KVM maps from the file of @slot: private memory, and shared memory
 * too where the memslot is guest_memfd-only.  (Only VMs whose private and
 * shared mappings live apart, TDX's, tell them apart when zapping.)
 */
static enum kvm_gfn_range_filter kvm_gmem_filter(struct kvm_memory_slot *slot)
{
	if (kvm_memslot_is_gmem_only(slot))
		return KVM_FILTER_PRIVATE | KVM_FILTER_SHARED;
	return KVM_FILTER_PRIVATE;
}

/*
 * Zap the guest's mappings of file pages [start, end) in every memslot
 * bound to them; the matching kvm_gmem_invalidate_end() lets faults in the
 * range proceed again.
 */
static void kvm_gmem_invalidate_begin(void *data, pgoff_t start, pgoff_t end)
{
	struct kvm_gmem *gmem = data;
	struct kvm *kvm = gmem->kvm;
	struct kvm_memory_slot *slot;
	bool locked = false, flush = false;
	unsigned long index;

	xa_for_each_range(&gmem->bindings, index, slot, start, end - 1) {
		pgoff_t first = max_t(pgoff_t, start, slot->gmem.pgoff);
		pgoff_t last = min_t(pgoff_t, end,
				     slot->gmem.pgoff + slot->npages);
		struct kvm_gfn_range range = {
			.start = slot->base_gfn + first - slot->gmem.pgoff,
			.end = slot->base_gfn + last - slot->gmem.pgoff,
			.slot = slot,
			.may_block = true,
			.attr_filter = kvm_gmem_filter(slot),
		};

		if (!locked) {
			KVM_MMU_LOCK(kvm);
			kvm_mmu_invalidate_begin(kvm);
			locked = true;
		}
		flush |= kvm_mmu_unmap_gfn_range(kvm, &range);
	}

	if (flush)
		kvm_flush_remote_tlbs(kvm);
	if (locked) {
		KVM_MMU_UNLOCK(kvm);
		/*
		 * The pages leave the guest: write back what the guest's key
		 * left in the caches before they are freed (SEV), as KVM does
		 * when guest memory leaves through the host's page tables.
		 */
		kvm_arch_guest_memory_reclaimed(kvm);
	}
}

static void kvm_gmem_invalidate_end(void *data, pgoff_t start, pgoff_t end)
{
	struct kvm_gmem *gmem = data;
	unsigned long index = start;

	/* Balanced with begin: @bindings cannot change in between. */
	if (!xa_find(&gmem->bindings, &index, end - 1, XA_PRESENT))
		return;

	KVM_MMU_LOCK(gmem->kvm);
	kvm_mmu_invalidate_end(gmem->kvm);
	KVM_MMU_UNLOCK(gmem->kvm);
}

/*
 * The file is being released while attached: no memslot holds it, so none
 * is bound to it.  If its VM lives, the file leaves the VM's list.  If the
 * VM has no users left, kvm_gmem_destroy_vm() runs, or is about to, and
 * finds this file on its list: its gmem_detach() fails, as the file has no
 * owner any more.  Then each side waits for the other: the VM must not be
 * freed while this looks at it, and the file must not go (it goes when
 * this returns) while the dying VM still uses it.
 */
static void kvm_gmem_release(void *data)
{
	struct kvm_gmem *gmem = data;
	struct kvm *kvm = gmem->kvm;

	WARN_ON_ONCE(!xa_empty(&gmem->bindings));
	if (kvm_get_kvm_safe(kvm)) {
		mutex_lock(&kvm->gmem.lock);
		list_del(&gmem->entry);
		mutex_unlock(&kvm->gmem.lock);
		kvm_put_kvm(kvm);
	} else {
		complete(&gmem->released);
		wait_for_completion(&gmem->detached);
	}
	kvm_gmem_free(gmem);
}

static long kvm_gmem_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg);

static const struct gmem_owner_ops kvm_gmem_owner_ops = {
	.kind			= "kvm",
	.owner			= THIS_MODULE,
	.invalidate_begin	= kvm_gmem_invalidate_begin,
	.invalidate_end		= kvm_gmem_invalidate_end,
	.release		= kvm_gmem_release,
	.ioctl			= kvm_gmem_ioctl,
};

#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_INVALIDATE
/* The architecture gives a folio's pages back to the host as it goes. */
static void kvm_gmem_free_folio(struct folio *folio)
{
	kvm_pfn_t pfn = folio_pfn(folio);

	kvm_arch_gmem_invalidate(pfn, pfn + folio_nr_pages(folio));
}

static const struct address_space_operations kvm_gmem_arch_aops =
	GMEM_MEMORY_AOPS(kvm_gmem_free_folio);
#endif

/*
 * The memory ops of a guest_memfd whose VM's architecture takes its pages
 * (kvm_gmem_arch_takes_pages()).  The memory holds the vendor module,
 * whose code kvm_arch_gmem_invalidate() calls, until its last folio is
 * gone.
 */
static struct gmem_memory_ops kvm_gmem_arch_mops = {
#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_INVALIDATE
	.aops	= &kvm_gmem_arch_aops,
#endif
};

/*
 * Whether @kvm's memory is encrypted with a key of its own that another VM
 * does not have (the SEV and SEV-ES VM types): linked into another VM,
 * the memory would read as ciphertext there, and the first VM's dirty
 * cache lines could overwrite what the new one writes.  (A VM made SEV by
 * KVM_SEV_INIT after its creation, as type 0, is not seen here.)
 */
static bool kvm_gmem_vm_has_key(struct kvm *kvm)
{
#ifdef CONFIG_X86
	return kvm->arch.vm_type == KVM_X86_SEV_VM ||
	       kvm->arch.vm_type == KVM_X86_SEV_ES_VM;
#else
	return false;
#endif
}

/* @module: the vendor module (kvm-amd, kvm-intel) that loads KVM */
void kvm_gmem_init(struct module *module)
{
	kvm_gmem_arch_mops.owner = module;
}

/* KVM_CAP_GUEST_MEMFD_HUGEPAGE: the page sizes of guest_memfd's memory. */
int kvm_gmem_page_sizes(void)
{
	return gmem_folio_sizes();
}

/**
 * kvm_gmem_init_vm() - set up a new VM's guest_memfd state
 * @kvm: the VM, from kvm_create_vm()
 *
 * Its guest_memfds get every page size and no link right until the VMM
 * chooses otherwise (KVM_ENABLE_CAP).
 */
void kvm_gmem_init_vm(struct kvm *kvm)
{
	mutex_init(&kvm->gmem.lock);
	INIT_LIST_HEAD(&kvm->gmem.files);
	kvm->gmem.page_sizes = kvm_gmem_page_sizes();
	kvm->gmem.linkable = false;
	kvm->gmem.in_place = false;
}

/**
 * kvm_gmem_cap() - KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD)
 * @kvm: a VM, or NULL for /dev/kvm
 *
 * Every VM type can create guest_memfds, as in upstream 6.18, but a VM
 * whose architecture takes its pages only if kvm.gmem_snp is on.
 *
 * Return: 1 if @kvm (any VM, for NULL) can create guest_memfds, else 0.
 */
int kvm_gmem_cap(struct kvm *kvm)
{
	return !kvm || gmem_snp || !kvm_gmem_arch_takes_pages(kvm);
}

/**
 * kvm_gmem_link_cap() - KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_LINK)
 * @kvm: a VM, or NULL for /dev/kvm
 *
 * Return: 1 if @kvm (any VM, for NULL) can link guest_memfds: any VM
 * whose architecture does not take its pages and whose memory has no key
 * of its own; else 0.
 */
int kvm_gmem_link_cap(struct kvm *kvm)
{
	return !kvm || (!kvm_gmem_arch_takes_pages(kvm) &&
			!kvm_gmem_vm_has_key(kvm));
}

/*
 * Whether @kvm (any VM, for NULL) may have memory that starts shared: a
 * VM without private memory, as upstream, and one whose files say what is
 * private (in-place conversion), as upstream's series; not one whose
 * private and shared state is the VM's.
 */
static bool kvm_gmem_can_init_shared(struct kvm *kvm)
{
	return !kvm || !kvm_arch_has_private_mem(kvm) ||
	       READ_ONCE(kvm->gmem.in_place);
}

/**
 * kvm_gmem_flags_cap() - KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_FLAGS)
 * @kvm: a VM, or NULL for /dev/kvm
 *
 * Upstream's flags as upstream answers them: GUEST_MEMFD_FLAG_MMAP for
 * every VM type, GUEST_MEMFD_FLAG_INIT_SHARED for VMs without private
 * memory; and gmem's own, GUEST_MEMFD_FLAG_GMEM_LINKABLE where the VM can
 * link and GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE where there are huge pages to
 * turn off.  None for a VM whose architecture takes its pages (SEV-SNP),
 * whose memory user space must never map and which cannot link.
 *
 * Return: the flags KVM_CREATE_GUEST_MEMFD takes on @kvm (on some VM
 * type, for NULL); 0 where guest_memfd is not available.
 */
int kvm_gmem_flags_cap(struct kvm *kvm)
{
	u64 flags = GUEST_MEMFD_FLAG_MMAP;

	if (!kvm_gmem_cap(kvm) || (kvm && kvm_gmem_arch_takes_pages(kvm)))
		return 0;
	if (kvm_gmem_can_init_shared(kvm))
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	if (kvm_gmem_link_cap(kvm))
		flags |= GUEST_MEMFD_FLAG_GMEM_LINKABLE;
	if (kvm_gmem_page_sizes() & ~PAGE_SIZE)
		flags |= GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE;
	return flags;
}

/**
 * kvm_gmem_enable_link() - KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_LINK)
 * @kvm: a VM that can link guest_memfds
 * @cap: flags 0; args[0] 1 to give the guest_memfds @kvm creates from now
 *	on the link right, 0 not to; args[1..3] 0
 *
 * Return: 0; -EINVAL for bad @cap; -EOPNOTSUPP for a VM that cannot link
 * (SEV, SEV-ES, SEV-SNP), whose memory cannot move to another VM.
 */
int kvm_gmem_enable_link(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	if (cap->flags || cap->args[0] > 1 || cap->args[1] || cap->args[2] ||
	    cap->args[3])
		return -EINVAL;
	if (!kvm_gmem_link_cap(kvm))
		return -EOPNOTSUPP;
	WRITE_ONCE(kvm->gmem.linkable, cap->args[0]);
	return 0;
}

/**
 * kvm_gmem_set_page_sizes() - KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_HUGEPAGE)
 * @kvm: a VM that can create guest_memfds
 * @cap: flags 0, args[0] the page sizes for the guest_memfds @kvm creates
 *	from now on: PAGE_SIZE and any of kvm_gmem_page_sizes(); args[1..3] 0
 *
 * Return: 0, or -EINVAL for a VM without guest_memfd or bad @cap.
 */
int kvm_gmem_set_page_sizes(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	unsigned long sizes = cap->args[0];

	if (!kvm_gmem_cap(kvm) || cap->flags ||
	    cap->args[1] || cap->args[2] || cap->args[3] ||
	    cap->args[0] != sizes || !(sizes & PAGE_SIZE) ||
	    (sizes & ~(unsigned long)kvm_gmem_page_sizes()))
		return -EINVAL;

	WRITE_ONCE(kvm->gmem.page_sizes, sizes);
	return 0;
}

/**
 * kvm_gmem_in_place_cap() - whether a VM can convert in place
 * @kvm: a VM, or NULL for /dev/kvm
 *
 * KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM).
 *
 * In-place conversion is for VMs with private memory whose pages the host
 * may map when shared: not for those whose architecture takes the pages
 * (SEV-SNP), nor for VMs without private memory, which have nothing to
 * convert.
 *
 * Return: the attributes KVM_SET_MEMORY_ATTRIBUTES2 sets on @kvm's
 * guest_memfds (on some VM type, for NULL), KVM_MEMORY_ATTRIBUTE_PRIVATE,
 * or 0 where @kvm cannot convert in place.
 */
int kvm_gmem_in_place_cap(struct kvm *kvm)
{
	if (kvm && (!kvm_gmem_cap(kvm) || !kvm_arch_has_private_mem(kvm) ||
		    kvm_gmem_arch_takes_pages(kvm)))
		return 0;
	return KVM_MEMORY_ATTRIBUTE_PRIVATE;
}

/**
 * kvm_gmem_in_place_flags_cap() - the flags of in-place conversion
 * @kvm: a VM, or NULL for /dev/kvm
 *
 * KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM).
 *
 * Return: the flags KVM_SET_MEMORY_ATTRIBUTES2 takes where @kvm can
 * convert in place, else 0.
 */
int kvm_gmem_in_place_flags_cap(struct kvm *kvm)
{
	if (!kvm_gmem_in_place_cap(kvm))
		return 0;
	return KVM_SET_MEMORY_ATTRIBUTES2_ZERO |
	       KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE;
}

/**
 * kvm_gmem_enable_in_place() - turn a VM to in-place conversion
 * @kvm: a VM with private memory
 * @cap: flags 0; args[0] KVM_MEMORY_ATTRIBUTE_PRIVATE; args[1..3] 0
 *
 * KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM).
 *
 * From now on @kvm's guest_memfds say which of its pages are private, not
 * its memory attributes.  Only while it has neither: a private page
 * would otherwise change sides without a conversion.  For good.
 *
 * Return: 0 (also if it was on already); -EINVAL for bad @cap or a VM
 * that cannot convert in place; -EBUSY if @kvm has a guest_memfd or
 * memory attributes.
 */
int kvm_gmem_enable_in_place(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	int r = 0;

	if (cap->flags || cap->args[0] != KVM_MEMORY_ATTRIBUTE_PRIVATE ||
	    cap->args[1] || cap->args[2] || cap->args[3] ||
	    !kvm_gmem_in_place_cap(kvm))
		return -EINVAL;

	/* slots_lock: KVM_SET_MEMORY_ATTRIBUTES holds it as it sets them. */
	mutex_lock(&kvm->slots_lock);
	mutex_lock(&kvm->gmem.lock);
	if (kvm->gmem.in_place)
		goto out;
	if (!list_empty(&kvm->gmem.files)) {
		r = -EBUSY;
		goto out;
	}
#ifdef CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES
	if (!xa_empty(&kvm->mem_attr_array)) {
		r = -EBUSY;
		goto out;
	}
#endif
	WRITE_ONCE(kvm->gmem.in_place, true);
out:
	mutex_unlock(&kvm->gmem.lock);
	mutex_unlock(&kvm->slots_lock);
	return r;
}

static int __kvm_gmem_create(struct kvm *kvm,
			     struct kvm_create_guest_memfd *args)
{
	const struct gmem_memory_ops *mops = NULL;
	unsigned int rights = GMEM_RIGHT_FALLOCATE;
	struct kvm_gmem *gmem;
	struct file *file;
	u64 flags = 0;
	int fd;

	lockdep_assert_held(&kvm->gmem.lock);
	/*
	 * Upstream ignores the reserved fields; refusing them keeps them
	 * usable.  gmem_create() checks the size as upstream does.
	 */
	if (memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	if (args->flags & ~(u64)kvm_gmem_flags_cap(kvm))
		return -EINVAL;
	/*
	 * In place, the file holds the shared memory too: KVM maps it from
	 * there (a guest_memfd-only memslot), and never a huge page of
	 * userspace_addr across private pages it does not know of.
	 */
	if (kvm->gmem.in_place) {
		if (!(args->flags & GUEST_MEMFD_FLAG_MMAP))
			return -EINVAL;
		flags |= GMEM_FLAG_CONVERTIBLE;
	}
	if (args->flags & GUEST_MEMFD_FLAG_MMAP)
		flags |= GMEM_FLAG_MMAP;
	if (args->flags & GUEST_MEMFD_FLAG_INIT_SHARED)
		flags |= GMEM_FLAG_SHARED;
	if (args->flags & GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE)
		flags |= GMEM_FLAG_NO_HUGEPAGE;
	if (args->flags & GUEST_MEMFD_FLAG_GMEM_LINKABLE)
		rights |= GMEM_RIGHT_LINK;
	if (kvm_gmem_arch_takes_pages(kvm)) {
		if (!gmem_snp) {
			pr_warn_ratelimited("kvm: guest_memfd for SEV-SNP VMs is untested on gmem and off; load kvm with gmem_snp=1 to allow it\n");
			return -EOPNOTSUPP;
		}
		mops = &kvm_gmem_arch_mops;
	}
	if (!(READ_ONCE(kvm->gmem.page_sizes) & ~PAGE_SIZE))
		flags |= GMEM_FLAG_NO_HUGEPAGE;
	if (READ_ONCE(kvm->gmem.linkable))
		rights |= GMEM_RIGHT_LINK;

	fd = get_unused_fd_flags(0);
	if (fd < 0)
		return fd;

	gmem = kvm_gmem_alloc(kvm);
	if (!gmem) {
		put_unused_fd(fd);
		return -ENOMEM;
	}

	file = gmem_create(args->size, flags, rights, mops,
			   &kvm_gmem_owner_ops, gmem);
	if (IS_ERR(file)) {
		kvm_gmem_free(gmem);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	gmem->file = file;

	/* The VM cannot be destroyed while its ioctl runs: no race. */
	list_add(&gmem->entry, &kvm->gmem.files);

	fd_install(fd, file);
	return fd;
}

int kvm_gmem_create(struct kvm *kvm, struct kvm_create_guest_memfd *args)
{
	int r;

	/* kvm->gmem.in_place does not change while a file is made. */
	mutex_lock(&kvm->gmem.lock);
	r = __kvm_gmem_create(kvm, args);
	mutex_unlock(&kvm->gmem.lock);
	return r;
}

static bool kvm_gmem_vm_has_inode(struct kvm *kvm, struct inode *inode)
{
	struct kvm_gmem *gmem;

	lockdep_assert_held(&kvm->gmem.lock);
	list_for_each_entry(gmem, &kvm->gmem.files, entry)
		if (file_inode(gmem->file) == inode)
			return true;
	return false;
}

#define KVM_LINK_GUEST_MEMFD_FLAGS \
	(KVM_LINK_GUEST_MEMFD_NO_FALLOCATE | KVM_LINK_GUEST_MEMFD_NO_LINK)

/**
 * kvm_gmem_link() - KVM_LINK_GUEST_MEMFD: this VM's file on another's memory
 * @kvm: the VM that gets the new file
 * @args: the other VM's guest_memfd, flags dropping rights from the new
 *	file, reserved fields zero
 *
 * The new file shares the inode of @args->fd, whose VM may be alive or
 * already destroyed, if that file has the link right; it gets the
 * source's rights less those @args->flags drop.  A VM has at most one file
 * on an inode, so the source cannot be of @kvm itself, and @kvm cannot
 * link the same memory twice.
 *
 * Memory that starts shared (GUEST_MEMFD_FLAG_INIT_SHARED) can be linked
 * only into a VM that could have created it, one without private memory
 * or one that converts in place; memory that converts in place only into
 * a VM that does, and the other way round.
 *
 * Return: the new fd, or -EINVAL for a bad or non-guest_memfd fd, flags,
 * reserved fields, shared memory and a VM with private memory, memory and
 * a VM that disagree on converting in place, or a file (or memory) @kvm
 * already has; -EPERM if the source may not be linked;
 * -EOPNOTSUPP for a VM that cannot link (SEV, SEV-ES, SEV-SNP); -ENOMEM.
 */
int kvm_gmem_link(struct kvm *kvm, struct kvm_link_guest_memfd *args)
{
	unsigned int rights = GMEM_RIGHTS_ALL;
	struct kvm_gmem *gmem;
	struct file *src, *file;
	int fd, r = -EINVAL;

	if ((args->flags & ~KVM_LINK_GUEST_MEMFD_FLAGS) ||
	    args->fd > INT_MAX ||
	    memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	if (!kvm_gmem_link_cap(kvm))
		return -EOPNOTSUPP;
	if (args->flags & KVM_LINK_GUEST_MEMFD_NO_FALLOCATE)
		rights &= ~GMEM_RIGHT_FALLOCATE;
	if (args->flags & KVM_LINK_GUEST_MEMFD_NO_LINK)
		rights &= ~GMEM_RIGHT_LINK;

	src = fget(args->fd);
	if (!src)
		return -EINVAL;
	if (!is_gmem_file(src))
		goto out_put;

	gmem = kvm_gmem_alloc(kvm);
	r = -ENOMEM;
	if (!gmem)
		goto out_put;

	fd = get_unused_fd_flags(0);
	if (fd < 0) {
		r = fd;
		goto out_free;
	}

	/* Checked and added under one lock: no second link can slip in. */
	mutex_lock(&kvm->gmem.lock);
	r = -EINVAL;
	if (kvm_gmem_vm_has_inode(kvm, file_inode(src)))
		goto out_unlock;
	if ((gmem_flags(src) & GMEM_FLAG_SHARED) &&
	    !kvm_gmem_can_init_shared(kvm))
		goto out_unlock;
	/* Memory that converts in place goes only where that is the rule. */
	if (!!(gmem_flags(src) & GMEM_FLAG_CONVERTIBLE) != kvm->gmem.in_place)
		goto out_unlock;
	file = gmem_link(src, rights, &kvm_gmem_owner_ops, gmem);
	if (IS_ERR(file)) {
		r = PTR_ERR(file);
		goto out_unlock;
	}
	gmem->file = file;
	list_add(&gmem->entry, &kvm->gmem.files);
	mutex_unlock(&kvm->gmem.lock);

	fput(src);
	fd_install(fd, file);
	return fd;

out_unlock:
	mutex_unlock(&kvm->gmem.lock);
	put_unused_fd(fd);
out_free:
	kvm_gmem_free(gmem);
out_put:
	fput(src);
	return r;
}

/**
 * kvm_gmem_destroy_vm() - detach the files of a VM that is being destroyed
 * @kvm: the VM, whose last reference is gone
 *
 * Called first thing in kvm_destroy_vm(), while the MMU still works: each
 * file of @kvm has the guest's mappings of it zapped and is then detached,
 * so no later punch reaches this VM.  The memslots, which still hold their
 * files, are freed later by kvm_destroy_vm() and drop them.
 *
 * Only this VM's own files are touched, and no lock is needed for its
 * list: no ioctl can reach a VM without users, and a file released
 * meanwhile leaves the list alone (kvm_gmem_release()).
 */
void kvm_gmem_destroy_vm(struct kvm *kvm)
{
	struct kvm_gmem *gmem, *next;

	list_for_each_entry_safe(gmem, next, &kvm->gmem.files, entry) {
		list_del(&gmem->entry);
		if (gmem_detach(gmem->file)) {
			kvm_gmem_free(gmem);
			continue;
		}
		/*
		 * Its release got there first: wait until it is done with
		 * the VM, then let it go on and free @gmem.
		 */
		wait_for_completion(&gmem->released);
		complete(&gmem->detached);
	}
	mutex_destroy(&kvm->gmem.lock);
}

int kvm_gmem_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
		  unsigned int fd, u64 offset)
{
	unsigned long start, end, index;
	struct kvm_gmem *gmem;
	struct file *file;
	u64 last;
	int r;

	file = fget(fd);
	if (!file)
		return -EBADF;
	if (!is_gmem_file(file)) {
		r = -EINVAL;
		goto out_put;
	}

	gmem_lock(file);
	gmem = gmem_owner_data(file, &kvm_gmem_owner_ops);
	r = -EINVAL;
	if (!gmem || gmem->kvm != kvm)
		goto out_unlock;
	if (!PAGE_ALIGNED(offset) ||
	    check_add_overflow(offset, (u64)slot->npages << PAGE_SHIFT, &last) ||
	    last > i_size_read(file_inode(file)))
		goto out_unlock;

	start = offset >> PAGE_SHIFT;
	end = start + slot->npages;
	index = start;		/* xa_find() moves it to what it finds */
	r = -EEXIST;
	if (xa_find(&gmem->bindings, &index, end - 1, XA_PRESENT))
		goto out_unlock;

	/*
	 * The memslot is new and not yet visible, so no fault can see it
	 * half bound.
	 */
	r = xa_err(xa_store_range(&gmem->bindings, start, end - 1, slot,
				  GFP_KERNEL_ACCOUNT));
	if (r) {
		xa_store_range(&gmem->bindings, start, end - 1, NULL, GFP_KERNEL);
		goto out_unlock;
	}
	slot->gmem.pgoff = start;
	/* Memory user space can map is all the memslot maps, as upstream. */
	if (gmem_flags(file) & GMEM_FLAG_MMAP)
		slot->flags |= KVM_MEMSLOT_GMEM_ONLY;
	WRITE_ONCE(slot->gmem.file, file);
	gmem_unlock(file);
	/* The binding keeps the reference fget() took. */
	return 0;

out_unlock:
	gmem_unlock(file);
out_put:
	fput(file);
	return r;
}

void kvm_gmem_unbind(struct kvm_memory_slot *slot)
{
	unsigned long start = slot->gmem.pgoff;
	struct file *file = slot->gmem.file;
	struct kvm_gmem *gmem;

	if (!file)
		return;

	/*
	 * synchronize_srcu() already kept faults off the memslot.  A file
	 * whose VM is being destroyed is detached: nothing to unbind there.
	 */
	gmem_lock(file);
	gmem = gmem_owner_data(file, &kvm_gmem_owner_ops);
	if (gmem)
		xa_store_range(&gmem->bindings, start, start + slot->npages - 1,
			       NULL, GFP_KERNEL);
	WRITE_ONCE(slot->gmem.file, NULL);
	gmem_unlock(file);

	fput(file);
}

static pgoff_t kvm_gmem_index(struct kvm_memory_slot *slot, gfn_t gfn)
{
	return gfn - slot->base_gfn + slot->gmem.pgoff;
}

/*
 * The folio backing @gfn, locked and referenced, with its pfn, and the
 * largest order KVM may map it with: the folio's own if @gfn and its file
 * index agree on the offset inside a block of that order, so that a
 * naturally aligned block of GPAs is one block of the folio, else 0 (KVM
 * takes only the orders of its page sizes); 0 also for a folio with a
 * poisoned page.  KVM itself lowers it further at the memslot's edges and
 * where the memory attributes are mixed.
 */
static struct folio *kvm_gmem_get_folio(struct kvm_memory_slot *slot,
					gfn_t gfn, kvm_pfn_t *pfn,
					int *max_order)
{
	struct file *file = READ_ONCE(slot->gmem.file);
	pgoff_t index = kvm_gmem_index(slot, gfn);
	struct folio *folio;
	int order;

	/* The memslot holds the file as long as it is bound. */
	if (!file)
		return ERR_PTR(-EFAULT);

	folio = gmem_get_folio(file, index, true);
	if (IS_ERR(folio))
		return folio;

	/* A folio with a poisoned page is mapped page by page, if at all. */
	order = gmem_folio_map_order(folio, index);
	if (order < 0) {
		folio_unlock(folio);
		folio_put(folio);
		return ERR_PTR(order);
	}

	*pfn = folio_pfn(folio) + (index - folio->index);
	/* KVM maps only the orders of its page sizes: this one, or 4 KiB. */
	if (max_order)
		*max_order = IS_ALIGNED(gfn ^ index, 1UL << order) ? order : 0;
	return folio;
}

/*
 * A folio's uptodate flag says it is prepared for the guest: gmem zeroed
 * it, and the architecture (SEV-SNP's RMP) made it private.  A folio is
 * prepared whole, so the architecture hears of the gfn of its first page.
 */
static int kvm_gmem_prepare_folio(struct kvm *kvm, struct kvm_memory_slot *slot,
				  gfn_t gfn, struct folio *folio)
{
	int r = 0;

	if (folio_test_uptodate(folio))
		return 0;
#ifdef CONFIG_HAVE_KVM_ARCH_GMEM_PREPARE
	gfn -= kvm_gmem_index(slot, gfn) - folio->index;
	r = kvm_arch_gmem_prepare(kvm, gfn, folio_pfn(folio),
				  folio_order(folio));
#endif
	if (!r)
		folio_mark_uptodate(folio);
	return r;
}

/**
 * kvm_gmem_get_pfn() - the page backing a private gfn, or any gfn of a
 *	guest_memfd-only memslot
 * @kvm: the VM
 * @slot: a memslot of @kvm bound to a guest_memfd
 * @gfn: a gfn in @slot
 * @pfn: set to the page's pfn
 * @max_order: set to the largest order KVM may map it with
 *
 * Allocates the page if there is none (gmem zeroes it) and prepares it for
 * the guest on first use.
 *
 * Return: 0 with a reference on the page, which the caller releases;
 * -EFAULT if @slot has no file, -EHWPOISON for a poisoned page, -ENOMEM,
 * or the architecture's error from preparing it.
 */
int kvm_gmem_get_pfn(struct kvm *kvm, struct kvm_memory_slot *slot,
		     gfn_t gfn, kvm_pfn_t *pfn, int *max_order)
{
	struct folio *folio;
	int r;

	folio = kvm_gmem_get_folio(slot, gfn, pfn, max_order);
	if (IS_ERR(folio))
		return PTR_ERR(folio);

	r = kvm_gmem_prepare_folio(kvm, slot, gfn, folio);
	folio_unlock(folio);
	/* On success the caller releases the page, as with any pfn. */
	if (r)
		folio_put(folio);
	return r;
}
EXPORT_SYMBOL_GPL(kvm_gmem_get_pfn);

static bool kvm_gmem_range_is_private(struct kvm *kvm, gfn_t gfn,
				      unsigned long npages)
{
	return kvm_range_has_memory_attributes(kvm, gfn, gfn + npages,
					       KVM_MEMORY_ATTRIBUTE_PRIVATE,
					       KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

/*
 * Whether @folio, which holds @gfn and may be mapped with @order, can be
 * populated from @gfn on with @left pages to go.  A folio is prepared
 * whole, so a huge one needs all of it, from its first page.
 */
static int kvm_gmem_can_populate(struct kvm *kvm, struct folio *folio,
				 gfn_t gfn, int order, long left)
{
	if (folio_test_uptodate(folio))
		return -EEXIST;
	if (order != folio_order(folio) || !IS_ALIGNED(gfn, 1UL << order) ||
	    left < 1L << order)
		return -EINVAL;
	if (!kvm_gmem_range_is_private(kvm, gfn, 1UL << order))
		return -EINVAL;
	return 0;
}

/*
 * A populated folio is prepared.  One that @post_populate failed on may be
 * half written: zero it, so that the guest finds it as it finds any memory
 * it did not populate; but not if the architecture takes the VM's pages.
 * There the host must not write: SEV-SNP gives the pages back on most
 * failures, but not all (a page it found already assigned, one whose
 * reclaim failed and that it leaked), and a host write to a page the RMP
 * does not give the host is a fault in the kernel.  What such a folio
 * holds is the VMM's own launch data, for its own guest.  (In 6.12 only
 * SEV-SNP populates.)
 */
static void kvm_gmem_end_populate(struct kvm *kvm, struct folio *folio,
				  int r)
{
	folio_lock(folio);
	if (!r)
		folio_mark_uptodate(folio);
	else if (!folio_test_uptodate(folio) &&
		 !kvm_gmem_arch_takes_pages(kvm))
		folio_zero_range(folio, 0, folio_size(folio));
	folio_unlock(folio);
}

/**
 * kvm_gmem_populate() - prepare private pages with initial contents
 * @kvm: the VM; the caller holds its slots_lock
 * @start_gfn: first gfn, in a memslot bound to a guest_memfd
 * @src: user memory with the contents, PAGE_SIZE per page, or NULL
 * @npages: pages to populate, at most to the end of the memslot
 * @post_populate: the architecture's callback, called for each page
 * @opaque: passed to @post_populate
 *
 * For confidential VMs whose initial image is encrypted into private
 * memory (SEV-SNP, TDX).  Each page must be private and not yet prepared.
 * A huge folio is populated whole, in one @post_populate call, so the
 * range must cover it whole.  A VM that populates single pages chooses
 * 4 KiB pages for its guest_memfds (KVM_CAP_GUEST_MEMFD_HUGEPAGE).
 *
 * Return: the number of pages populated; if none, -EEXIST for a page
 * already prepared, -EINVAL for a page that is not private, a range that
 * covers part of a huge folio, or a memslot that cannot be private,
 * -EFAULT, -EINTR, or @post_populate's error.
 */
long kvm_gmem_populate(struct kvm *kvm, gfn_t start_gfn, void __user *src,
		       long npages, kvm_gmem_populate_cb post_populate,
		       void *opaque)
{
	struct kvm_memory_slot *slot;
	struct file *file;
	int r = 0, order;
	long i;

	lockdep_assert_held(&kvm->slots_lock);
	if (npages < 0)
		return -EINVAL;

	slot = gfn_to_memslot(kvm, start_gfn);
	if (!kvm_slot_can_be_private(slot))
		return -EINVAL;
	/* slots_lock keeps the memslot, and so its file, in place. */
	file = slot->gmem.file;
	if (!file)
		return -EFAULT;

	gmem_lock(file);
	npages = min_t(ulong, slot->npages - (start_gfn - slot->base_gfn),
		       npages);
	for (i = 0; i < npages; i += 1L << order) {
		gfn_t gfn = start_gfn + i;
		struct folio *folio;
		kvm_pfn_t pfn;

		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}

		folio = kvm_gmem_get_folio(slot, gfn, &pfn, &order);
		if (IS_ERR(folio)) {
			r = PTR_ERR(folio);
			break;
		}
		folio_unlock(folio);

		r = kvm_gmem_can_populate(kvm, folio, gfn, order, npages - i);
		if (!r) {
			r = post_populate(kvm, gfn, pfn,
					  src ? src + i * PAGE_SIZE : NULL,
					  order, opaque);
			kvm_gmem_end_populate(kvm, folio, r);
		}
		folio_put(folio);
		if (r)
			break;
	}
	gmem_unlock(file);

	return r && !i ? r : i;
}
EXPORT_SYMBOL_GPL(kvm_gmem_populate);

/**
 * kvm_gmem_is_private() - whether a gfn of an in-place VM is private
 * @kvm: a VM that converts in place (kvm->gmem.in_place)
 * @gfn: a gfn; the caller holds kvm->srcu or slots_lock
 *
 * kvm_mem_is_private() on such a VM.  The answer can change as soon as it
 * is given: KVM acts on it only if no invalidation ran meanwhile
 * (mmu_invalidate_retry_gfn()), and every conversion invalidates.
 *
 * Return: true if @gfn's memslot has a guest_memfd whose page at @gfn is
 * private; false for a shared page, or a gfn without guest_memfd.
 */
bool kvm_gmem_is_private(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	struct file *file;

	if (!slot || !kvm_slot_can_be_private(slot))
		return false;
	/* The memslot holds the file while it is bound. */
	file = READ_ONCE(slot->gmem.file);
	return file && !gmem_is_shared(file, kvm_gmem_index(slot, gfn));
}
EXPORT_SYMBOL_GPL(kvm_gmem_is_private);

#define KVM_SET_MEMORY_ATTRIBUTES2_MODES \
	(KVM_SET_MEMORY_ATTRIBUTES2_ZERO | KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE)

/*
 * KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd that converts in place.  No
 * flag keeps the contents, as PRESERVE does: with no firmware in between,
 * KVM has nothing that would change them.
 */
static long kvm_gmem_set_attributes(struct file *file,
				    struct kvm_memory_attributes2 __user *uattrs)
{
	struct kvm_memory_attributes2 attrs;
	pgoff_t err_index;
	bool shared;
	u64 end;
	int r;

	if (!(gmem_flags(file) & GMEM_FLAG_CONVERTIBLE))
		return -ENOTTY;
	if (copy_from_user(&attrs, uattrs, sizeof(attrs)))
		return -EFAULT;

	if ((attrs.flags & ~KVM_SET_MEMORY_ATTRIBUTES2_MODES) ||
	    (attrs.flags & KVM_SET_MEMORY_ATTRIBUTES2_MODES) ==
	    KVM_SET_MEMORY_ATTRIBUTES2_MODES ||
	    (attrs.attributes & ~KVM_MEMORY_ATTRIBUTE_PRIVATE) ||
	    memchr_inv(attrs.reserved, 0, sizeof(attrs.reserved)))
		return -EINVAL;
	if (!attrs.size || check_add_overflow(attrs.offset, attrs.size, &end) ||
	    !PAGE_ALIGNED(attrs.offset) || !PAGE_ALIGNED(attrs.size) ||
	    end > i_size_read(file_inode(file)))
		return -EINVAL;
	shared = !(attrs.attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
	/* As upstream's v5: KVM is not trusted to zero private memory. */
	if ((attrs.flags & KVM_SET_MEMORY_ATTRIBUTES2_ZERO) && !shared)
		return -EOPNOTSUPP;

	r = gmem_convert(file, attrs.offset >> PAGE_SHIFT,
			 attrs.size >> PAGE_SHIFT, shared,
			 attrs.flags & KVM_SET_MEMORY_ATTRIBUTES2_ZERO,
			 &err_index);
	if (r == -EAGAIN || r == -ENOMEM) {
		attrs.error_offset = (u64)err_index << PAGE_SHIFT;
		if (copy_to_user(uattrs, &attrs, sizeof(attrs)))
			return -EFAULT;
	}
	return r;
}

/* The guest_memfd's own ioctls: gmem calls this for a file a VM owns. */
static long kvm_gmem_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case KVM_SET_MEMORY_ATTRIBUTES2:
		return kvm_gmem_set_attributes(file, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}
