// SPDX-License-Identifier: GPL-2.0
/*
 * gmem's memory: the folios of an inode, how they come (allocation, always
 * zeroed before they are in the page cache) and how they go (a punched hole,
 * after every owner of every file on the inode has stopped using them).
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "internal.h"

/*
 * Each owner of a file on @inode hears of [start, end) exactly once, begin
 * before the pages go and end after.  The files' list and their owners
 * cannot change in between: the caller holds the invalidate lock.
 */
void gmem_invalidate_begin(struct inode *inode, pgoff_t start, pgoff_t end)
{
	struct gmem_file *gf;

	list_for_each_entry(gf, &GMEM_I(inode)->files, entry)
		if (gf->ops)
			gf->ops->invalidate_begin(gf->data, start, end);
}

void gmem_invalidate_end(struct inode *inode, pgoff_t start, pgoff_t end)
{
	struct gmem_file *gf;

	list_for_each_entry(gf, &GMEM_I(inode)->files, entry)
		if (gf->ops)
			gf->ops->invalidate_end(gf->data, start, end);
}

/*
 * Owners may map a huge folio whole (KVM with a 2 MiB page), so they must
 * stop using every block a punch touches, not just the hole: while part of
 * a block is being invalidated, nothing may map the block whole, or a
 * mapping could outlive the punched pages once the folio is split.  The
 * block may hold a huge folio, or get one from a fault that races with the
 * punch, whenever it lies inside the file and the inode allows large
 * folios (gmem_folio_order()).  These widen [@start, @end) to such blocks.
 */
static bool gmem_block_may_be_huge(struct address_space *mapping,
				   pgoff_t index)
{
	pgoff_t npages = i_size_read(mapping->host) >> PAGE_SHIFT;

	return mapping_max_folio_order(mapping) >= PMD_ORDER &&
	       round_down(index, 1UL << PMD_ORDER) + (1UL << PMD_ORDER) <=
	       npages;
}

pgoff_t gmem_block_start(struct address_space *mapping, pgoff_t start)
{
	if (!gmem_block_may_be_huge(mapping, start))
		return start;
	return round_down(start, 1UL << PMD_ORDER);
}

pgoff_t gmem_block_end(struct address_space *mapping, pgoff_t end)
{
	if (!gmem_block_may_be_huge(mapping, end - 1))
		return end;
	return round_up(end, 1UL << PMD_ORDER);
}

/*
 * The order of the folio to allocate for @index: PMD-sized where the inode
 * allows large folios and the naturally aligned PMD-sized range around
 * @index lies inside the file and holds no folio yet (a range split by a
 * partial punch is refilled page by page); 0 otherwise.  A racing add can
 * still fill the range, which gmem_add_folio() notices.
 */
static unsigned int gmem_folio_order(struct address_space *mapping,
				     pgoff_t index)
{
	pgoff_t start = round_down(index, 1UL << PMD_ORDER);

	if (!gmem_block_may_be_huge(mapping, index))
		return 0;
	if (filemap_range_has_page(mapping, (loff_t)start << PAGE_SHIFT,
				   ((loff_t)(start + (1UL << PMD_ORDER)) <<
				    PAGE_SHIFT) - 1))
		return 0;
	return PMD_ORDER;
}

static struct folio *gmem_alloc_zeroed_folio(struct address_space *mapping,
					     pgoff_t index, unsigned int order)
{
	/*
	 * The page allocator zeroes it (__GFP_ZERO), once: with init_on_alloc
	 * on, as in Debian's kernel, zeroing it again here would double the
	 * cost.  A huge page is worth one try at compaction, not an OOM kill.
	 */
	gfp_t gfp = mapping_gfp_mask(mapping) | __GFP_ZERO;

	if (order)
		gfp |= __GFP_NORETRY | __GFP_NOWARN;
	return gmem_policy_alloc_folio(mapping->host,
				       round_down(index, 1UL << order), order,
				       gfp);
}

/*
 * A new folio holding @index, zeroed, locked and in the page cache: huge
 * if gmem_folio_order() says so, one can be had and the inode's NUMA
 * policy is the same for all of it (policy.c), else 4 KiB.  -EEXIST
 * if someone else added a folio holding @index first.
 */
static struct folio *gmem_add_folio(struct address_space *mapping,
				    pgoff_t index)
{
	unsigned int order = gmem_folio_order(mapping, index);
	struct folio *folio;
	gfp_t gfp;
	int err;

	for (;;) {
		folio = gmem_alloc_zeroed_folio(mapping, index, order);
		if (!folio) {
			if (!order)
				return ERR_PTR(-ENOMEM);
			order = 0;
			continue;
		}

		/*
		 * filemap_add_folio() charges the folio to the memory cgroup
		 * with @gfp.  A huge folio that does not fit under the
		 * cgroup's limit falls back to 4 KiB at once: no reclaim
		 * for it, from what may be a vCPU's fault (as shmem's
		 * default huge page gfp, GFP_TRANSHUGE_LIGHT).
		 */
		gfp = mapping_gfp_mask(mapping);
		if (order)
			gfp = (gfp & ~__GFP_DIRECT_RECLAIM) | __GFP_NORETRY |
			      __GFP_NOWARN;
		err = filemap_add_folio(mapping, folio,
					round_down(index, 1UL << order), gfp);
		if (!err) {
			/*
			 * Dirty: what the memory holds is nowhere else, and
			 * the page cache keeps a dirty folio where it would
			 * drop a clean one: truncation drops a clean large
			 * folio that it cannot split, data and all (a dirty
			 * one stays, and gmem_punch_hole() zeroes its
			 * punched part), and mapping_evict_folio() never
			 * takes a dirty one.  Nothing writes it back
			 * (noop_dirty_folio()); truncation clears the bit as
			 * it removes the folio (folio_cancel_dirty()).
			 */
			folio_set_dirty(folio);
			return folio;
		}
		folio_put(folio);
		/* A racing add took part of the huge range: try 4 KiB. */
		if (!order || (err != -EEXIST && err != -ENOMEM))
			return ERR_PTR(err);
		order = 0;
	}
}

/* The folio at @index, locked; added if there is none and @create. */
static struct folio *gmem_find_folio(struct address_space *mapping,
				     pgoff_t index, bool create)
{
	struct folio *folio;

	do {
		folio = __filemap_get_folio(mapping, index, FGP_LOCK, 0);
		if (!IS_ERR(folio) || PTR_ERR(folio) != -ENOENT || !create)
			return folio;
		/* -EEXIST: someone else added it first; take theirs. */
		folio = gmem_add_folio(mapping, index);
	} while (IS_ERR(folio) && PTR_ERR(folio) == -EEXIST);

	return folio;
}

/**
 * gmem_get_folio() - the folio holding page @index of a gmem file
 * @file: a gmem file
 * @index: page offset in the file
 * @create: allocate the folio if there is none
 *
 * A folio is zeroed before it enters the page cache, so no one ever sees
 * what the page held before.  Its uptodate flag is left to the owner, to
 * mark the folio as prepared for its use.
 *
 * The folio may be large and hold pages around @index: PMD-sized and
 * naturally aligned in the file, where the inode allows it, the whole
 * aligned range lies inside the file and no folio is in that range yet.
 *
 * Return: the folio, locked and with a reference; ERR_PTR(-ENOENT) if there
 * is none and !@create, -EINVAL past the end of the file, -ENOMEM.
 */
struct folio *gmem_get_folio(struct file *file, pgoff_t index, bool create)
{
	struct inode *inode = file_inode(file);

	if (index >= DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE))
		return ERR_PTR(-EINVAL);
	return gmem_find_folio(inode->i_mapping, index, create);
}
EXPORT_SYMBOL_GPL(gmem_get_folio);

/**
 * gmem_folio_map_order() - the largest order an owner may map a page with
 * @folio: a gmem folio, locked, from gmem_get_folio()
 * @index: the page's offset in the file, inside @folio
 *
 * A folio that memory failure could not split holds a poisoned page and
 * good ones: the good ones may still be used, but only page by page, so
 * that no new mapping takes the poisoned one with them.  (Mappings made
 * before the failure are not undone here: memory failure does not tell
 * the file when it cannot split the folio.)
 *
 * Likewise a huge folio of a convertible inode whose pages are not all
 * private or all shared (conversion.c): each page is mapped on its own,
 * as what it is, until they are uniform again.
 *
 * Return: the folio's order; 0 if any page of it is poisoned, or its
 * pages are mixed private and shared; -EHWPOISON if the page at @index is.
 */
int gmem_folio_map_order(struct folio *folio, pgoff_t index)
{
	if (PageHWPoison(folio_page(folio, index - folio->index)))
		return -EHWPOISON;
	if (folio_test_large(folio) && folio_test_has_hwpoisoned(folio))
		return 0;
	if (!gmem_folio_is_uniform(folio))
		return 0;
	return folio_order(folio);
}
EXPORT_SYMBOL_GPL(gmem_folio_map_order);

/**
 * gmem_folio_sizes() - the folio sizes gmem may back memory with
 *
 * Return: a mask of sizes in bytes: PAGE_SIZE, and PMD_SIZE where the
 * kernel supports PMD-sized page cache folios.
 */
unsigned long gmem_folio_sizes(void)
{
	unsigned long sizes = PAGE_SIZE;

	if (PMD_ORDER <= MAX_PAGECACHE_ORDER)
		sizes |= PMD_SIZE;
	return sizes;
}
EXPORT_SYMBOL_GPL(gmem_folio_sizes);

static long gmem_allocate(struct inode *inode, loff_t offset, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t index = offset >> PAGE_SHIFT;
	pgoff_t end = (offset + len) >> PAGE_SHIFT;
	long err = 0;

	/* The size is fixed at creation. */
	if (offset + len > i_size_read(inode))
		return -EINVAL;

	filemap_invalidate_lock_shared(mapping);
	while (index < end) {
		struct folio *folio;

		if (signal_pending(current)) {
			err = -EINTR;
			break;
		}

		folio = gmem_find_folio(mapping, index, true);
		if (IS_ERR(folio)) {
			err = PTR_ERR(folio);
			break;
		}
		index = folio_next_index(folio);
		folio_unlock(folio);
		folio_put(folio);
		cond_resched();
	}
	filemap_invalidate_unlock_shared(mapping);
	return err;
}

/*
 * Truncation frees the folios inside [@start, @end) and splits a large one
 * that is only partly inside, freeing the pages in the hole.  If the split
 * fails (someone holds a reference), the folio stays whole; as the mapping
 * is inaccessible, truncation did not zero it either.  Zero the punched
 * part of the folio holding @index here, so the hole reads as zeroes.
 */
static void gmem_zero_unsplit(struct address_space *mapping, pgoff_t index,
			      loff_t start, loff_t end)
{
	struct folio *folio;
	loff_t from, to;

	/* Its pages may be the architecture's: see gmem_memory_ops. */
	if (GMEM_I(mapping->host)->mops)
		return;

	folio = __filemap_get_folio(mapping, index, FGP_LOCK, 0);
	if (IS_ERR(folio))
		return;
	from = max(start, folio_pos(folio));
	to = min(end, folio_pos(folio) + (loff_t)folio_size(folio));
	if (folio_test_large(folio) && from < to)
		folio_zero_range(folio, from - folio_pos(folio), to - from);
	folio_unlock(folio);
	folio_put(folio);
}

/*
 * Punching a hole in one file frees the memory of the inode, so every
 * owner of every file on it stops using the range first.  Past the end of
 * the file there is nothing to free, which is not an error.
 */
static long gmem_punch_hole(struct inode *inode, loff_t offset, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t start = offset >> PAGE_SHIFT;
	pgoff_t end = (offset + len) >> PAGE_SHIFT;
	pgoff_t first = gmem_block_start(mapping, start);
	pgoff_t last = gmem_block_end(mapping, end);

	filemap_invalidate_lock(mapping);
	gmem_invalidate_begin(inode, first, last);
	truncate_inode_pages_range(mapping, offset, offset + len - 1);
	gmem_zero_unsplit(mapping, start, offset, offset + len);
	if (end - 1 != start)
		gmem_zero_unsplit(mapping, end - 1, offset, offset + len);
	gmem_invalidate_end(inode, first, last);
	filemap_invalidate_unlock(mapping);
	return 0;
}

long gmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	struct gmem_file *gf = file->private_data;
	long err;

	if (!(gf->rights & GMEM_RIGHT_FALLOCATE))
		return -EPERM;
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len))
		return -EINVAL;

	if (mode & FALLOC_FL_PUNCH_HOLE)
		err = gmem_punch_hole(file_inode(file), offset, len);
	else
		err = gmem_allocate(file_inode(file), offset, len);
	if (!err)
		file_modified(file);
	return err;
}

/**
 * gmem_migrate_folio() - nothing may move the memory
 * @mapping: a gmem inode's mapping
 * @dst: unused
 * @src: unused
 * @mode: unused
 *
 * Owners hold the memory's physical addresses; gmem allocates it without
 * __GFP_MOVABLE, so no one should try.  For GMEM_MEMORY_AOPS().
 *
 * Return: -EINVAL.
 */
int gmem_migrate_folio(struct address_space *mapping, struct folio *dst,
		       struct folio *src, enum migrate_mode mode)
{
	WARN_ON_ONCE(1);
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(gmem_migrate_folio);

/**
 * gmem_error_remove_folio() - memory failure hit a folio of gmem's
 * @mapping: a gmem inode's mapping
 * @folio: the poisoned folio
 *
 * The folio stays in the file: owners stop using it, and what to do next
 * is their user's decision.  A later lookup finds it poisoned.  For
 * GMEM_MEMORY_AOPS().
 *
 * Return: MF_DELAYED.
 */
int gmem_error_remove_folio(struct address_space *mapping,
			    struct folio *folio)
{
	pgoff_t start = folio->index;
	pgoff_t end = start + folio_nr_pages(folio);

	filemap_invalidate_lock_shared(mapping);
	gmem_invalidate_begin(mapping->host, start, end);
	gmem_invalidate_end(mapping->host, start, end);
	filemap_invalidate_unlock_shared(mapping);
	return MF_DELAYED;
}
EXPORT_SYMBOL_GPL(gmem_error_remove_folio);

const struct address_space_operations gmem_aops = GMEM_MEMORY_AOPS(NULL);

/* Memory ops must keep gmem's own operations: GMEM_MEMORY_AOPS(). */
bool gmem_memory_ops_valid(const struct gmem_memory_ops *mops)
{
	const struct address_space_operations *aops = mops->aops;

	return aops && aops->free_folio &&
	       aops->dirty_folio == gmem_aops.dirty_folio &&
	       aops->migrate_folio == gmem_aops.migrate_folio &&
	       aops->error_remove_folio == gmem_aops.error_remove_folio;
}

/* st_blocks counts the memory allocated, in 512-byte units. */
static int gmem_getattr(struct mnt_idmap *idmap, const struct path *path,
			struct kstat *stat, u32 request_mask,
			unsigned int query_flags)
{
	struct inode *inode = d_inode(path->dentry);

	generic_fillattr(idmap, request_mask, inode, stat);
	stat->blocks = (u64)READ_ONCE(inode->i_mapping->nrpages) <<
		       (PAGE_SHIFT - 9);
	return 0;
}

/* The size is fixed at creation; nothing else is settable either. */
static int gmem_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			struct iattr *attr)
{
	return -EINVAL;
}

const struct inode_operations gmem_iops = {
	.getattr	= gmem_getattr,
	.setattr	= gmem_setattr,
};
