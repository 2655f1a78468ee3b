/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared between gmem.ko's files; nothing here is exported.
 */
#ifndef _GMEM_INTERNAL_H
#define _GMEM_INTERNAL_H

#include <linux/fs.h>
#include <linux/gmem.h>
#include <linux/list.h>

/*
 * The memory.  @files lists every open file on it (struct gmem_file),
 * protected by the mapping's invalidate lock.
 */
struct gmem_inode {
	struct list_head files;
	struct inode vfs_inode;
};

/*
 * One file on a gmem inode: one owner's view of the memory.  @ops and
 * @data are NULL once the owner detached; both change only under the
 * inode's invalidate lock, held exclusive.
 */
struct gmem_file {
	struct list_head entry;
	const struct gmem_owner_ops *ops;
	void *data;
};

static inline struct gmem_inode *GMEM_I(struct inode *inode)
{
	return container_of(inode, struct gmem_inode, vfs_inode);
}

/* main.c */
extern struct vfsmount *gmem_mnt;
struct inode *gmem_new_inode(loff_t size, u64 flags);

/* memory.c */
extern const struct address_space_operations gmem_aops;
extern const struct inode_operations gmem_iops;
long gmem_fallocate(struct file *file, int mode, loff_t offset, loff_t len);

/* file.c */
extern const struct file_operations gmem_fops;

#endif /* _GMEM_INTERNAL_H */
