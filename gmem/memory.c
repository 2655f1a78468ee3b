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
static void gmem_invalidate_begin(struct inode *inode, pgoff_t start,
				  pgoff_t end)
{
	struct gmem_file *gf;

	list_for_each_entry(gf, &GMEM_I(inode)->files, entry)
		if (gf->ops)
			gf->ops->invalidate_begin(gf->data, start, end);
}

static void gmem_invalidate_end(struct inode *inode, pgoff_t start,
				pgoff_t end)
{
	struct gmem_file *gf;

	list_for_each_entry(gf, &GMEM_I(inode)->files, entry)
		if (gf->ops)
			gf->ops->invalidate_end(gf->data, start, end);
}

/* A new folio for @index, zeroed, locked and in the page cache. */
static struct folio *gmem_add_folio(struct address_space *mapping,
				    pgoff_t index)
{
	gfp_t gfp = mapping_gfp_mask(mapping);
	struct folio *folio;
	long i;
	int err;

	folio = filemap_alloc_folio(gfp, 0);
	if (!folio)
		return ERR_PTR(-ENOMEM);

	for (i = 0; i < folio_nr_pages(folio); i++)
		clear_highpage(folio_page(folio, i));

	err = filemap_add_folio(mapping, folio, index, gfp);
	if (err) {
		folio_put(folio);
		return ERR_PTR(err);
	}
	return folio;
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
 * Punching a hole in one file frees the memory of the inode, so every
 * owner of every file on it stops using the range first.  Past the end of
 * the file there is nothing to free, which is not an error.
 */
static long gmem_punch_hole(struct inode *inode, loff_t offset, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t start = offset >> PAGE_SHIFT;
	pgoff_t end = (offset + len) >> PAGE_SHIFT;

	filemap_invalidate_lock(mapping);
	gmem_invalidate_begin(inode, start, end);
	truncate_inode_pages_range(mapping, offset, offset + len - 1);
	gmem_invalidate_end(inode, start, end);
	filemap_invalidate_unlock(mapping);
	return 0;
}

long gmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	long err;

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

/* Nothing may move the memory: owners hold its physical addresses. */
static int gmem_migrate_folio(struct address_space *mapping,
			      struct folio *dst, struct folio *src,
			      enum migrate_mode mode)
{
	WARN_ON_ONCE(1);
	return -EINVAL;
}

/*
 * A poisoned folio stays in the file: owners stop using it, and what to do
 * next is their user's decision.  A later lookup finds it poisoned.
 */
static int gmem_error_remove_folio(struct address_space *mapping,
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

const struct address_space_operations gmem_aops = {
	.dirty_folio		= noop_dirty_folio,
	.migrate_folio		= gmem_migrate_folio,
	.error_remove_folio	= gmem_error_remove_folio,
};

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
