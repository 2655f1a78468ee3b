// SPDX-License-Identifier: GPL-2.0
/*
 * Private and shared pages in one inode (GMEM_FLAG_CONVERTIBLE): each page
 * is private or shared on its own, gmem_convert() turns ranges from one to
 * the other, and user space maps the shared ones from the same folios the
 * owners map privately.  A conversion copies, splits and moves nothing: a
 * 2 MiB folio may hold pages of both kinds, and owners are told to map it
 * page by page while it does (gmem_folio_map_order()).
 *
 * @shared maps ranges of shared pages to xa_mk_value(1); a page with no
 * entry is private.  Its lock is the mapping's invalidate lock: writers
 * (gmem_convert(), set-up and teardown) hold it exclusive, readers hold it
 * or rcu_read_lock().  Shared ranges are stored merged with their shared
 * neighbours, so that a uniform range is usually one entry.
 *
 * @exposed records, per 2 MiB group of pages (512 bits), which shared pages
 * user space has mapped since they last became shared: only such a page
 * can carry a reference from user space (a GUP pin or reference needs a
 * present page table entry to take it, and every user mapping of a
 * convertible inode is made by gmem's fault: a shared page of a mixed
 * folio on its own, a folio that is all shared whole, all its pages
 * recorded).  The bits are set by the fault, under the invalidate lock
 * held shared, and cleared when the page becomes private, under it
 * exclusive.
 */
#include <linux/cpu.h>
#include <linux/highmem.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "internal.h"

#define GMEM_SHARED		xa_mk_value(1)
#define GMEM_EXPOSED_SHIFT	9		/* 512 pages a group */
#define GMEM_EXPOSED_PAGES	BIT(GMEM_EXPOSED_SHIFT)

void gmem_conversion_init(struct gmem_inode *gi)
{
	mt_init_flags(&gi->shared, MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU);
	mt_set_external_lock(&gi->shared, &gi->vfs_inode.i_data.invalidate_lock);
	xa_init(&gi->exposed);
}

static pgoff_t gmem_npages(struct inode *inode)
{
	return i_size_read(inode) >> PAGE_SHIFT;
}

/*
 * A new convertible inode's pages start private, or all shared with
 * GMEM_FLAG_SHARED.  No one else can see the inode yet.
 */
int gmem_conversion_setup(struct inode *inode)
{
	MA_STATE(mas, &GMEM_I(inode)->shared, 0, gmem_npages(inode) - 1);
	struct gmem_inode *gi = GMEM_I(inode);
	int err;

	if (!(gi->flags & GMEM_FLAG_CONVERTIBLE) ||
	    !(gi->flags & GMEM_FLAG_SHARED))
		return 0;

	filemap_invalidate_lock(inode->i_mapping);
	err = mas_store_gfp(&mas, GMEM_SHARED, GFP_KERNEL_ACCOUNT);
	filemap_invalidate_unlock(inode->i_mapping);
	return err;
}

void gmem_conversion_destroy(struct gmem_inode *gi)
{
	struct inode *inode = &gi->vfs_inode;
	unsigned long group;
	unsigned long *bits;

	filemap_invalidate_lock(inode->i_mapping);
	__mt_destroy(&gi->shared);
	filemap_invalidate_unlock(inode->i_mapping);

	xa_for_each(&gi->exposed, group, bits)
		kfree(bits);
	xa_destroy(&gi->exposed);
}

/* Whether page @index of @inode is shared with user space. */
bool gmem_page_is_shared(struct inode *inode, pgoff_t index)
{
	struct gmem_inode *gi = GMEM_I(inode);

	if (!(gi->flags & GMEM_FLAG_CONVERTIBLE))
		return gi->flags & GMEM_FLAG_SHARED;
	return mtree_load(&gi->shared, index) == GMEM_SHARED;
}

/*
 * Whether every page of [@start, @end) is @shared.  Under the invalidate
 * lock or rcu_read_lock().
 */
static bool gmem_range_is(struct gmem_inode *gi, pgoff_t start, pgoff_t end,
			  bool shared)
{
	MA_STATE(mas, &gi->shared, start, start);

	while (start < end) {
		mas_set(&mas, start);
		if ((mas_walk(&mas) == GMEM_SHARED) != shared)
			return false;
		if (mas.last >= end - 1)
			return true;
		start = mas.last + 1;
	}
	return true;
}

/*
 * Whether the pages of @folio are all private or all shared, so that an
 * owner may map it whole.  Always, for an inode that does not convert.
 */
bool gmem_folio_is_uniform(struct folio *folio)
{
	struct gmem_inode *gi = GMEM_I(folio->mapping->host);
	pgoff_t start = folio->index, end = folio_next_index(folio);
	bool uniform;

	if (!(gi->flags & GMEM_FLAG_CONVERTIBLE) || !folio_test_large(folio))
		return true;

	rcu_read_lock();
	uniform = gmem_range_is(gi, start, end, true) ||
		  gmem_range_is(gi, start, end, false);
	rcu_read_unlock();
	return uniform;
}

/* The bitmap of the group of pages holding @index, made if need be. */
static unsigned long *gmem_exposed_bits(struct gmem_inode *gi, pgoff_t index)
{
	unsigned long group = index >> GMEM_EXPOSED_SHIFT;
	unsigned long *bits, *old;

	bits = xa_load(&gi->exposed, group);
	if (!bits) {
		bits = bitmap_zalloc(GMEM_EXPOSED_PAGES, GFP_KERNEL_ACCOUNT);
		if (!bits)
			return ERR_PTR(-ENOMEM);
		old = xa_cmpxchg(&gi->exposed, group, NULL, bits,
				 GFP_KERNEL_ACCOUNT);
		if (old) {
			bitmap_free(bits);
			if (xa_is_err(old))
				return ERR_PTR(xa_err(old));
			bits = old;
		}
	}
	return bits;
}

/*
 * Make the record of the 2 MiB group of pages holding @index, before the
 * fault takes the folio lock: gmem_mark_exposed() then allocates nothing.
 */
int gmem_prepare_exposed(struct inode *inode, pgoff_t index)
{
	return PTR_ERR_OR_ZERO(gmem_exposed_bits(GMEM_I(inode), index));
}

/*
 * User space is about to map pages [@index, @index + @nr): record them.
 * Under the invalidate lock held shared, so several faults may get here
 * at once: the bits are set atomically.
 */
int gmem_mark_exposed(struct inode *inode, pgoff_t index, unsigned long nr)
{
	struct gmem_inode *gi = GMEM_I(inode);
	unsigned long *bits = NULL;
	pgoff_t end = index + nr;

	for (; index < end; index++) {
		unsigned long bit = index & (GMEM_EXPOSED_PAGES - 1);

		if (!bits || !bit) {
			bits = gmem_exposed_bits(gi, index);
			if (IS_ERR(bits))
				return PTR_ERR(bits);
		}
		if (!test_bit(bit, bits))
			set_bit(bit, bits);
	}
	return 0;
}

/*
 * The first page of [@start, @end) that user space mapped since it became
 * shared, or @end.  Under the invalidate lock held exclusive.
 */
static pgoff_t gmem_first_exposed(struct gmem_inode *gi, pgoff_t start,
				  pgoff_t end)
{
	while (start < end) {
		unsigned long group = start >> GMEM_EXPOSED_SHIFT;
		pgoff_t base = group << GMEM_EXPOSED_SHIFT;
		pgoff_t limit = min(end - base, GMEM_EXPOSED_PAGES);
		unsigned long *bits = xa_load(&gi->exposed, group);

		if (bits) {
			unsigned long bit = find_next_bit(bits, limit,
							  start - base);

			if (bit < limit)
				return base + bit;
		}
		start = base + GMEM_EXPOSED_PAGES;
	}
	return end;
}

/* Pages [@start, @end) became private: forget they were ever mapped. */
static void gmem_clear_exposed(struct gmem_inode *gi, pgoff_t start,
			       pgoff_t end)
{
	while (start < end) {
		unsigned long group = start >> GMEM_EXPOSED_SHIFT;
		pgoff_t base = group << GMEM_EXPOSED_SHIFT;
		pgoff_t limit = min(end - base, GMEM_EXPOSED_PAGES);
		unsigned long *bits = xa_load(&gi->exposed, group);

		if (bits)
			bitmap_clear(bits, start - base, limit - (start - base));
		start = base + GMEM_EXPOSED_PAGES;
	}
}

/*
 * lru_add_drain_all() is not exported: a folio only just added to the
 * page cache may still sit, with a reference, in some CPU's batch of
 * folios on their way to the LRU (small folios only).  Releasing an empty
 * batch drains the calling CPU's batches (__folio_batch_release()): do
 * that on every CPU, as lru_add_drain_all() does, without the CPU hotplug
 * lock (a CPU that goes meanwhile has its batches drained as it goes) and
 * with no lock of gmem's held (gmem_convert()).
 */
static DEFINE_PER_CPU(struct work_struct, gmem_drain_work);
static DEFINE_MUTEX(gmem_drain_lock);
static struct cpumask gmem_drain_cpus;	/* under gmem_drain_lock */

static void gmem_drain_this_cpu(struct work_struct *work)
{
	struct folio_batch fbatch;

	folio_batch_init(&fbatch);
	__folio_batch_release(&fbatch);
}

static void gmem_drain_all_cpus(void)
{
	int cpu;

	mutex_lock(&gmem_drain_lock);
	cpumask_clear(&gmem_drain_cpus);
	for_each_online_cpu(cpu) {
		struct work_struct *work = per_cpu_ptr(&gmem_drain_work, cpu);

		INIT_WORK(work, gmem_drain_this_cpu);
		queue_work_on(cpu, system_wq, work);
		cpumask_set_cpu(cpu, &gmem_drain_cpus);
	}
	for_each_cpu(cpu, &gmem_drain_cpus)
		flush_work(per_cpu_ptr(&gmem_drain_work, cpu));
	mutex_unlock(&gmem_drain_lock);
}

/*
 * Whether @folio, unmapped from user space, has references gmem cannot
 * account for: not the page cache's, not the caller's.  GUP references
 * and pins, and transient ones (a batch, a lookup), count here, and cannot
 * be told apart page by page: the kernel counts them per folio.
 */
static bool gmem_folio_has_unknown_refs(struct folio *folio)
{
	return folio_mapped(folio) ||
	       folio_ref_count(folio) != folio_nr_pages(folio) + 1;
}

/*
 * Before pages [@start, @end) become private: unmap them from user space
 * and make sure nothing user space reached them through still refers to
 * them.  A folio with unknown references blocks the conversion only if
 * one of the pages to convert was mapped by user space since it became
 * shared: only such a page can be the one referenced.  Such a folio is
 * unmapped whole first, its other pages too (they fault back in): the
 * references of mappings that fork() copies or munmap() drops meanwhile
 * would otherwise be counted against the mappings as they changed.
 * Returns 0, or -EAGAIN with *@err_index at the first page that may be,
 * and *@batched if that folio may only be waiting in a CPU's batch.
 * Under the invalidate lock held exclusive: no user fault can map a page
 * of the range meanwhile.
 */
static int gmem_unmap_unused(struct inode *inode, pgoff_t start, pgoff_t end,
			     pgoff_t *err_index, bool *batched)
{
	struct address_space *mapping = inode->i_mapping;
	struct gmem_inode *gi = GMEM_I(inode);
	struct folio_batch fbatch;
	pgoff_t index = start;
	int err = 0;

	unmap_mapping_pages(mapping, start, end - start, false);

	folio_batch_init(&fbatch);
	while (!err && filemap_get_folios(mapping, &index, end - 1, &fbatch)) {
		unsigned int i;

		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];
			pgoff_t first = max(start, folio->index);
			pgoff_t last = min(end, folio_next_index(folio));
			pgoff_t exposed = gmem_first_exposed(gi, first, last);
			bool unknown;

			if (exposed == last)
				continue;
			/*
			 * A fault that checked the page before the invalidate
			 * lock was taken may still be mapping it (the folio
			 * whole, if all shared), with the folio locked
			 * (gmem_fault_convertible()): wait for it, and unmap
			 * what it mapped.
			 */
			folio_lock(folio);
			unmap_mapping_pages(mapping, folio->index,
					    folio_nr_pages(folio), false);
			unknown = gmem_folio_has_unknown_refs(folio);
			folio_unlock(folio);
			if (!unknown)
				continue;
			/*
			 * A small folio's reference may be a CPU batch's,
			 * gone once drained: on its way to the LRU, or, in
			 * an mlock()ed mapping, to or from the unevictable
			 * list (our own unmap puts it there, PG_lru set).
			 */
			*batched = !folio_test_large(folio);
			*err_index = exposed;
			err = -EAGAIN;
			break;
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	return err;
}

/* Zero pages [@start, @end) where they have memory. */
static void gmem_zero_pages(struct address_space *mapping, pgoff_t start,
			    pgoff_t end)
{
	struct folio_batch fbatch;
	pgoff_t index = start;
	unsigned int i;

	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, end - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];
			pgoff_t first = max(start, folio->index);
			pgoff_t last = min(end, folio_next_index(folio));

			folio_lock(folio);
			for (; first < last; first++) {
				struct page *page = folio_file_page(folio, first);

				/* Memory failure's to deal with, not ours. */
				if (!PageHWPoison(page))
					clear_highpage(page);
			}
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Where the new state of [@start, @end) is stored: a shared range takes in
 * its shared neighbours, so that it stays one entry.
 */
static void gmem_store_range(struct gmem_inode *gi, pgoff_t start,
			     pgoff_t end, bool shared, struct ma_state *mas)
{
	pgoff_t first = start, last = end - 1;

	if (shared) {
		if (start) {
			mas_set(mas, start - 1);
			if (mas_walk(mas) == GMEM_SHARED)
				first = mas->index;
		}
		mas_set(mas, end);
		if (mas_walk(mas) == GMEM_SHARED)
			last = mas->last;
	}
	mas_set_range(mas, first, last);
}

/**
 * gmem_convert() - make pages of a convertible gmem file private or shared
 * @file: a gmem file whose inode was made with GMEM_FLAG_CONVERTIBLE
 * @start: first page
 * @nr: number of pages, at least one, all inside the file
 * @shared: true to make them shared, false private
 * @zero: make them read as zeros (to shared only)
 * @err_index: set to the page that made it fail (-EAGAIN, -ENOMEM)
 *
 * Every owner of every file on the inode stops mapping the pages first
 * (their invalidation, widened to the 2 MiB blocks the range touches, as
 * a punched hole's is, so that none keeps a block mapped whole that is no
 * longer uniform); to private, every user mapping of them goes too, and
 * the conversion fails if user space may still hold a reference to one of
 * them.  Memory is neither allocated, split nor moved: pages with memory
 * keep it, and their contents unless @zero.  All or nothing.
 *
 * Converting needs the file's GMEM_RIGHT_FALLOCATE: what it does to the
 * contents (zeroes them, or shows them to user space), a punch could.
 *
 * Return: 0; -EAGAIN with *@err_index at the first page user space may
 * still refer to, and nothing converted; -EINVAL for a bad range or @zero
 * to private; -EOPNOTSUPP for a file that does not convert; -EPERM for a
 * file without GMEM_RIGHT_FALLOCATE; -ENOMEM (with *@err_index at @start).
 */
int gmem_convert(struct file *file, pgoff_t start, pgoff_t nr, bool shared,
		 bool zero, pgoff_t *err_index)
{
	MA_STATE(mas, &GMEM_I(file_inode(file))->shared, start, start);
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	struct gmem_inode *gi = GMEM_I(inode);
	struct gmem_file *gf = file->private_data;
	pgoff_t end = start + nr;
	bool drained = false;
	pgoff_t first, last;
	int err;

	if (!(gi->flags & GMEM_FLAG_CONVERTIBLE))
		return -EOPNOTSUPP;
	if (!nr || end < start || end > gmem_npages(inode) ||
	    (zero && !shared))
		return -EINVAL;
	/* What a conversion can do to the contents, a punch can. */
	if (!(gf->rights & GMEM_RIGHT_FALLOCATE))
		return -EPERM;

again:
	*err_index = start;
	err = 0;
	filemap_invalidate_lock(mapping);
	if (!zero && gmem_range_is(gi, start, end, shared))
		goto out;

	gmem_store_range(gi, start, end, shared, &mas);
	err = mas_preallocate(&mas, shared ? GMEM_SHARED : NULL,
			      GFP_KERNEL_ACCOUNT);
	if (err)
		goto out;

	if (!shared) {
		bool batched = false;

		err = gmem_unmap_unused(inode, start, end, err_index, &batched);
		if (err) {
			mas_destroy(&mas);
			/* Drain the CPUs' LRU batches, with no lock held, once. */
			if (batched && !drained) {
				filemap_invalidate_unlock(mapping);
				gmem_drain_all_cpus();
				drained = true;
				goto again;
			}
			goto out;
		}
	}

	first = gmem_block_start(mapping, start);
	last = gmem_block_end(mapping, end);
	gmem_invalidate_begin(inode, first, last);
	if (zero)
		gmem_zero_pages(mapping, start, end);
	mas_store_prealloc(&mas, shared ? GMEM_SHARED : NULL);
	if (!shared)
		gmem_clear_exposed(gi, start, end);
	gmem_invalidate_end(inode, first, last);
out:
	filemap_invalidate_unlock(mapping);
	return err;
}
EXPORT_SYMBOL_GPL(gmem_convert);

/**
 * gmem_is_shared() - whether a page of a gmem file is shared
 * @file: a gmem file
 * @index: page offset in the file
 *
 * Callable from any context, under rcu_read_lock() or not.  The answer may
 * change as soon as it is given: owners act on it only under their own
 * protection against invalidation (KVM: its MMU notifier sequence, which
 * gmem_convert()'s invalidation bumps).
 *
 * Return: true if the page is shared with user space; for an inode that
 * does not convert, whether it was made GMEM_FLAG_SHARED.
 */
bool gmem_is_shared(struct file *file, pgoff_t index)
{
	return gmem_page_is_shared(file_inode(file), index);
}
EXPORT_SYMBOL_GPL(gmem_is_shared);
