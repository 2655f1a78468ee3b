/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared between gmem.ko's files; nothing here is exported.
 */
#ifndef _GMEM_INTERNAL_H
#define _GMEM_INTERNAL_H

#include <linux/fs.h>
#include <linux/gmem.h>
#include <linux/list.h>
#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/xarray.h>

#define GMEM_KIND_LEN	16

/*
 * An inode of gmem's filesystem.  @files lists every open file on it
 * (struct gmem_file), protected by the mapping's invalidate lock.
 *
 * @flags are the GMEM_FLAG_* it was made with; they never change.
 * @memory is true for an inode that holds memory (gmem_new_inode()), and
 * so a reference on this module, false for the filesystem's root.  It is
 * set at allocation, not left to the slab constructor: an inode whose
 * allocation fails later in alloc_inode() is freed with whatever i_mode
 * the slab object last held.  @mops, if any, holds its module until the
 * inode is evicted.  @kind is the kind of owner that made the memory.
 * @policy maps ranges of pages to their NUMA policy (policy.c).
 * @shared and @exposed hold which pages of a GMEM_FLAG_CONVERTIBLE inode
 * are shared, and which of those user space mapped (conversion.c).
 */
struct gmem_inode {
	struct list_head files;
	u64 flags;
	bool memory;
	const struct gmem_memory_ops *mops;
	char kind[GMEM_KIND_LEN];
#ifdef CONFIG_NUMA
	struct mutex policy_lock;	/* serializes @policy's writers */
	struct maple_tree policy;
#endif
	struct maple_tree shared;	/* under the invalidate lock */
	struct xarray exposed;
	struct inode vfs_inode;
};

/*
 * One file on a gmem inode: one owner's view of the memory.  @ops and
 * @data are NULL once the owner detached; both change only under the
 * inode's invalidate lock, held exclusive.  @rights (GMEM_RIGHT_*) never
 * change.
 */
struct gmem_file {
	struct list_head entry;
	const struct gmem_owner_ops *ops;
	void *data;
	unsigned int rights;
};

static inline struct gmem_inode *GMEM_I(struct inode *inode)
{
	return container_of(inode, struct gmem_inode, vfs_inode);
}

/* main.c */
extern struct vfsmount *gmem_mnt;
struct inode *gmem_new_inode(loff_t size, u64 flags,
			     const struct gmem_memory_ops *mops,
			     const char *kind);

/* memory.c */
extern const struct address_space_operations gmem_aops;
extern const struct inode_operations gmem_iops;
long gmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len);
void gmem_invalidate_begin(struct inode *inode, pgoff_t start, pgoff_t end);
void gmem_invalidate_end(struct inode *inode, pgoff_t start, pgoff_t end);
pgoff_t gmem_block_start(struct address_space *mapping, pgoff_t start);
pgoff_t gmem_block_end(struct address_space *mapping, pgoff_t end);
bool gmem_memory_ops_valid(const struct gmem_memory_ops *mops);

/* file.c */
extern const struct file_operations gmem_fops;

/* mmap.c */
int gmem_mmap(struct file *file, struct vm_area_struct *vma);

/* conversion.c */
void gmem_conversion_init(struct gmem_inode *gi);
int gmem_conversion_setup(struct inode *inode);
void gmem_conversion_destroy(struct gmem_inode *gi);
bool gmem_page_is_shared(struct inode *inode, pgoff_t index);
bool gmem_folio_is_uniform(struct folio *folio);
int gmem_prepare_exposed(struct inode *inode, pgoff_t index);
int gmem_mark_exposed(struct inode *inode, pgoff_t index, unsigned long nr);

/* policy.c */
#ifdef CONFIG_NUMA
void gmem_policy_init(struct gmem_inode *gi);
void gmem_policy_destroy(struct gmem_inode *gi);
int gmem_set_policy(struct vm_area_struct *vma, struct mempolicy *mpol);
struct mempolicy *gmem_get_policy(struct vm_area_struct *vma,
				  unsigned long addr, pgoff_t *ilx);
struct folio *gmem_policy_alloc_folio(struct inode *inode, pgoff_t index,
				      unsigned int order, gfp_t gfp);
#else
static inline void gmem_policy_init(struct gmem_inode *gi) { }
static inline void gmem_policy_destroy(struct gmem_inode *gi) { }
static inline struct folio *gmem_policy_alloc_folio(struct inode *inode,
						    pgoff_t index,
						    unsigned int order,
						    gfp_t gfp)
{
	return filemap_alloc_folio(gfp, order);
}
#endif

#endif /* _GMEM_INTERNAL_H */
