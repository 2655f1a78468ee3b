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
 *    detached (kvm_gmem_destroy_vm()) and live on without an owner.
 *
 * Each file is owned by one VM (struct kvm_gmem); @bindings maps file page
 * offsets to the memslots that use them.  @bindings changes only under
 * gmem_lock(), which is also held around every owner callback.
 */
#include <linux/err.h>
#include <linux/file.h>
#include <linux/gmem.h>
#include <linux/kvm_gmem.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "kvm_mm.h"

struct kvm_gmem {
	struct kvm *kvm;
	struct file *file;
	struct xarray bindings;
	struct list_head entry;
};

/*
 * Every attached file, so that a dying VM finds its own.  Protects the
 * list, and the end of each entry's life: whoever removes an entry frees it.
 */
static DEFINE_MUTEX(kvm_gmem_files_lock);
static LIST_HEAD(kvm_gmem_files);

static struct kvm_gmem *kvm_gmem_alloc(struct kvm *kvm)
{
	struct kvm_gmem *gmem = kzalloc(sizeof(*gmem), GFP_KERNEL_ACCOUNT);

	if (!gmem)
		return NULL;
	gmem->kvm = kvm;
	xa_init(&gmem->bindings);
	INIT_LIST_HEAD(&gmem->entry);
	return gmem;
}

static void kvm_gmem_free(struct kvm_gmem *gmem)
{
	list_del(&gmem->entry);
	xa_destroy(&gmem->bindings);
	kfree(gmem);
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
			/* guest_memfd backs private mappings only. */
			.attr_filter = KVM_FILTER_PRIVATE,
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
	if (locked)
		KVM_MMU_UNLOCK(kvm);
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
 * The file is being released while its VM lives.  Memslots hold the file,
 * so none is bound to it any more.
 */
static void kvm_gmem_release(void *data)
{
	struct kvm_gmem *gmem = data;

	WARN_ON_ONCE(!xa_empty(&gmem->bindings));
	mutex_lock(&kvm_gmem_files_lock);
	kvm_gmem_free(gmem);
	mutex_unlock(&kvm_gmem_files_lock);
}

static const struct gmem_owner_ops kvm_gmem_owner_ops = {
	.owner			= THIS_MODULE,
	.invalidate_begin	= kvm_gmem_invalidate_begin,
	.invalidate_end		= kvm_gmem_invalidate_end,
	.release		= kvm_gmem_release,
};

void kvm_gmem_init(struct module *module)
{
}

/* KVM_CAP_GUEST_MEMFD_HUGEPAGE: the page sizes of guest_memfd's memory. */
int kvm_gmem_page_sizes(void)
{
	return gmem_folio_sizes();
}

/*
 * The page sizes a VM chose with KVM_ENABLE_CAP, for the few VMs that did;
 * the others get all of kvm_gmem_page_sizes().  Under kvm_gmem_files_lock.
 */
struct kvm_gmem_vm_choice {
	struct list_head entry;
	struct kvm *kvm;
	unsigned long sizes;
};

static LIST_HEAD(kvm_gmem_vm_choices);

static struct kvm_gmem_vm_choice *kvm_gmem_vm_choice(struct kvm *kvm)
{
	struct kvm_gmem_vm_choice *c;

	lockdep_assert_held(&kvm_gmem_files_lock);
	list_for_each_entry(c, &kvm_gmem_vm_choices, entry)
		if (c->kvm == kvm)
			return c;
	return NULL;
}

static unsigned long kvm_gmem_vm_page_sizes(struct kvm *kvm)
{
	struct kvm_gmem_vm_choice *c;
	unsigned long sizes;

	mutex_lock(&kvm_gmem_files_lock);
	c = kvm_gmem_vm_choice(kvm);
	sizes = c ? c->sizes : kvm_gmem_page_sizes();
	mutex_unlock(&kvm_gmem_files_lock);
	return sizes;
}

/**
 * kvm_gmem_set_page_sizes() - KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_HUGEPAGE)
 * @kvm: a VM with private memory
 * @cap: flags 0, args[0] the page sizes for the guest_memfds @kvm creates
 *	from now on: PAGE_SIZE and any of kvm_gmem_page_sizes(); args[1..3] 0
 *
 * Return: 0, -EINVAL for a VM without private memory or bad @cap, -ENOMEM.
 */
int kvm_gmem_set_page_sizes(struct kvm *kvm, struct kvm_enable_cap *cap)
{
	unsigned long sizes = cap->args[0];
	struct kvm_gmem_vm_choice *c, *new;

	if (!kvm_arch_has_private_mem(kvm) || cap->flags ||
	    cap->args[1] || cap->args[2] || cap->args[3] ||
	    cap->args[0] != sizes || !(sizes & PAGE_SIZE) ||
	    (sizes & ~(unsigned long)kvm_gmem_page_sizes()))
		return -EINVAL;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;
	new->kvm = kvm;
	new->sizes = sizes;

	mutex_lock(&kvm_gmem_files_lock);
	c = kvm_gmem_vm_choice(kvm);
	if (c) {
		c->sizes = sizes;
	} else {
		list_add(&new->entry, &kvm_gmem_vm_choices);
		new = NULL;
	}
	mutex_unlock(&kvm_gmem_files_lock);
	kfree(new);
	return 0;
}

int kvm_gmem_create(struct kvm *kvm, struct kvm_create_guest_memfd *args)
{
	struct kvm_gmem *gmem;
	struct file *file;
	u64 flags = 0;
	int fd;

	/*
	 * Upstream ignores the reserved fields; refusing them keeps them
	 * usable.  gmem_create() checks the size as upstream does.
	 */
	if (memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;
	if (args->flags)
		return -EINVAL;
	if (!(kvm_gmem_vm_page_sizes(kvm) & ~PAGE_SIZE))
		flags |= GMEM_FLAG_NO_HUGEPAGE;

	fd = get_unused_fd_flags(0);
	if (fd < 0)
		return fd;

	gmem = kvm_gmem_alloc(kvm);
	if (!gmem) {
		put_unused_fd(fd);
		return -ENOMEM;
	}

	file = gmem_create(args->size, flags, &kvm_gmem_owner_ops, gmem);
	if (IS_ERR(file)) {
		kfree(gmem);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	gmem->file = file;

	/* The VM cannot be destroyed while its ioctl runs: no race. */
	mutex_lock(&kvm_gmem_files_lock);
	list_add(&gmem->entry, &kvm_gmem_files);
	mutex_unlock(&kvm_gmem_files_lock);

	fd_install(fd, file);
	return fd;
}

/* Does @kvm already have a file on @inode?  Under kvm_gmem_files_lock. */
static bool kvm_gmem_vm_has_inode(struct kvm *kvm, struct inode *inode)
{
	struct kvm_gmem *gmem;

	list_for_each_entry(gmem, &kvm_gmem_files, entry)
		if (gmem->kvm == kvm && file_inode(gmem->file) == inode)
			return true;
	return false;
}

/**
 * kvm_gmem_link() - KVM_LINK_GUEST_MEMFD: this VM's file on another's memory
 * @kvm: the VM that gets the new file
 * @args: the other VM's guest_memfd, no flags, reserved fields zero
 *
 * The new file shares the inode of @args->fd, whose VM may be alive or
 * already destroyed.  A VM has at most one file on an inode, so the source
 * cannot be of @kvm itself, and @kvm cannot link the same memory twice.
 *
 * Return: the new fd, or -EINVAL for a bad or non-guest_memfd fd, flags,
 * reserved fields, or a file (or memory) @kvm already has; -ENOMEM.
 */
int kvm_gmem_link(struct kvm *kvm, struct kvm_link_guest_memfd *args)
{
	struct kvm_gmem *gmem;
	struct file *src, *file;
	int fd, r = -EINVAL;

	if (args->flags || args->fd > INT_MAX ||
	    memchr_inv(args->reserved, 0, sizeof(args->reserved)))
		return -EINVAL;

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
	mutex_lock(&kvm_gmem_files_lock);
	r = -EINVAL;
	if (kvm_gmem_vm_has_inode(kvm, file_inode(src)))
		goto out_unlock;
	file = gmem_link(src, &kvm_gmem_owner_ops, gmem);
	if (IS_ERR(file)) {
		r = PTR_ERR(file);
		goto out_unlock;
	}
	gmem->file = file;
	list_add(&gmem->entry, &kvm_gmem_files);
	mutex_unlock(&kvm_gmem_files_lock);

	fput(src);
	fd_install(fd, file);
	return fd;

out_unlock:
	mutex_unlock(&kvm_gmem_files_lock);
	put_unused_fd(fd);
out_free:
	kfree(gmem);
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
 * files, are freed later by kvm_destroy_vm() and drop them.  The VM's
 * choice of page sizes, if it made one, goes too.
 */
void kvm_gmem_destroy_vm(struct kvm *kvm)
{
	struct kvm_gmem_vm_choice *choice;
	struct kvm_gmem *gmem, *next;

	mutex_lock(&kvm_gmem_files_lock);
	choice = kvm_gmem_vm_choice(kvm);
	if (choice) {
		list_del(&choice->entry);
		kfree(choice);
	}
	list_for_each_entry_safe(gmem, next, &kvm_gmem_files, entry) {
		/*
		 * If detaching fails, the file's release is under way and its
		 * callback frees @gmem once this lock is dropped.
		 */
		if (gmem->kvm == kvm && gmem_detach(gmem->file))
			kvm_gmem_free(gmem);
	}
	mutex_unlock(&kvm_gmem_files_lock);
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
 * largest order KVM may map it with: the folio's own, lowered until @gfn
 * and its file index agree on the offset inside a block of that order, so
 * that a naturally aligned block of GPAs is one block of the folio.  KVM
 * itself lowers it further at the memslot's edges and where the memory
 * attributes are mixed.
 */
static struct folio *kvm_gmem_get_folio(struct kvm_memory_slot *slot,
					gfn_t gfn, kvm_pfn_t *pfn,
					int *max_order)
{
	struct file *file = READ_ONCE(slot->gmem.file);
	pgoff_t index = kvm_gmem_index(slot, gfn);
	struct folio *folio;

	/* The memslot holds the file as long as it is bound. */
	if (!file)
		return ERR_PTR(-EFAULT);

	folio = gmem_get_folio(file, index, true);
	if (IS_ERR(folio))
		return folio;

	if (folio_test_hwpoison(folio)) {
		folio_unlock(folio);
		folio_put(folio);
		return ERR_PTR(-EHWPOISON);
	}

	*pfn = folio_pfn(folio) + (index - folio->index);
	if (max_order) {
		int order = folio_order(folio);

		while (order && !IS_ALIGNED(gfn ^ index, 1UL << order))
			order--;
		*max_order = order;
	}
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
 * kvm_gmem_get_pfn() - the page backing a private gfn
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
		if (!r)
			r = post_populate(kvm, gfn, pfn,
					  src ? src + i * PAGE_SIZE : NULL,
					  order, opaque);
		if (!r)
			folio_mark_uptodate(folio);
		folio_put(folio);
		if (r)
			break;
	}
	gmem_unlock(file);

	return r && !i ? r : i;
}
EXPORT_SYMBOL_GPL(kvm_gmem_populate);
