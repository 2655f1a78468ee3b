// SPDX-License-Identifier: GPL-2.0
/*
 * gmem.ko: module set-up, gmem's pseudo-filesystem and its inodes.
 *
 * gmem mounts a filesystem of its own, internally, at load time: every gmem
 * inode lives on it.  The filesystem type is not registered, so nothing else
 * can mount it.
 *
 * Module lifetime: every memory inode holds a reference on this module,
 * taken when it is made and dropped when it is freed, so the module cannot
 * be unloaded while any memory lives.  An open file alone would not do:
 * __fput() drops the file's module reference before it evicts the inode.
 * Inodes are freed in RCU callbacks, which run this module's code: module
 * exit unmounts the filesystem (whose root inode is freed so too), then
 * waits for those callbacks (rcu_barrier()), and only then destroys the
 * inode cache and lets its text go.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

struct vfsmount *gmem_mnt;
static struct kmem_cache *gmem_inode_cachep;

static struct inode *gmem_alloc_inode(struct super_block *sb)
{
	struct gmem_inode *gi;

	gi = alloc_inode_sb(sb, gmem_inode_cachep, GFP_KERNEL);
	if (!gi)
		return NULL;
	gi->memory = false;
	gi->mops = NULL;
	gmem_policy_init(gi);
	gmem_conversion_init(gi);
	return &gi->vfs_inode;
}

/* Also frees an inode whose alloc_inode() failed after ->alloc_inode(). */
static void gmem_free_inode(struct inode *inode)
{
	bool memory = GMEM_I(inode)->memory;

	kmem_cache_free(gmem_inode_cachep, GMEM_I(inode));
	if (memory)
		module_put(THIS_MODULE);
}

static void gmem_evict_inode(struct inode *inode)
{
	struct gmem_inode *gi = GMEM_I(inode);

	WARN_ON_ONCE(!list_empty(&gi->files));
	/* The memory ops hear of each folio as it goes. */
	truncate_inode_pages_final(&inode->i_data);
	gmem_policy_destroy(gi);
	gmem_conversion_destroy(gi);
	if (gi->mops) {
		inode->i_mapping->a_ops = &gmem_aops;
		module_put(gi->mops->owner);
		gi->mops = NULL;
	}
	clear_inode(inode);
}

static const struct super_operations gmem_sops = {
	.alloc_inode	= gmem_alloc_inode,
	.free_inode	= gmem_free_inode,
	.evict_inode	= gmem_evict_inode,
	.statfs		= simple_statfs,
};

static int gmem_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, GMEM_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->ops = &gmem_sops;
	return 0;
}

/*
 * No .owner: the mount would then hold a reference on this module and
 * it could never be unloaded.  The mount lives from module init to exit.
 */
static struct file_system_type gmem_fs_type = {
	.name		 = "gmem",
	.init_fs_context = gmem_init_fs_context,
	.kill_sb	 = kill_anon_super,
};

/*
 * A new inode for @size bytes of memory, with no pages and no files yet,
 * made by an owner of @kind, with @flags (GMEM_FLAG_*).  Its folios are
 * page cache: charged to the memory cgroup of whoever faults them in,
 * never on an LRU that reclaim scans (unevictable), and allocated without
 * __GFP_MOVABLE (nothing can migrate them).  Unless @flags has
 * GMEM_FLAG_NO_HUGEPAGE, they may be large (memory.c).  @mops, if any,
 * hear of every folio that goes.
 */
struct inode *gmem_new_inode(loff_t size, u64 flags,
			     const struct gmem_memory_ops *mops,
			     const char *kind)
{
	struct inode *inode = alloc_anon_inode(gmem_mnt->mnt_sb);
	struct gmem_inode *gi;
	int err;

	if (IS_ERR(inode))
		return inode;

	gi = GMEM_I(inode);
	__module_get(THIS_MODULE);	/* dropped by gmem_free_inode() */
	gi->memory = true;
	gi->flags = flags;
	strscpy(gi->kind, kind, sizeof(gi->kind));
	inode->i_mode |= S_IFREG;
	inode->i_op = &gmem_iops;
	inode->i_size = size;
	inode->i_mapping->a_ops = &gmem_aops;
	if (mops) {
		/* The caller runs its code: the module is live. */
		__module_get(mops->owner);	/* dropped at eviction */
		gi->mops = mops;
		inode->i_mapping->a_ops = mops->aops;
	}
	mapping_set_gfp_mask(inode->i_mapping, GFP_HIGHUSER);
	mapping_set_unevictable(inode->i_mapping);
	mapping_set_inaccessible(inode->i_mapping);
	if (!(flags & GMEM_FLAG_NO_HUGEPAGE))
		mapping_set_large_folios(inode->i_mapping);
	err = gmem_conversion_setup(inode);
	if (err) {
		iput(inode);
		return ERR_PTR(err);
	}
	return inode;
}

/* Every inode is freed with no files: the constructor's state holds. */
static void gmem_inode_init_once(void *obj)
{
	struct gmem_inode *gi = obj;

	INIT_LIST_HEAD(&gi->files);
	inode_init_once(&gi->vfs_inode);
}

static int __init gmem_init(void)
{
	gmem_inode_cachep = kmem_cache_create("gmem_inode_cache",
					      sizeof(struct gmem_inode), 0,
					      SLAB_ACCOUNT, gmem_inode_init_once);
	if (!gmem_inode_cachep)
		return -ENOMEM;

	/* Mounted, never registered: no one else can mount it. */
	gmem_mnt = kern_mount(&gmem_fs_type);
	if (IS_ERR(gmem_mnt)) {
		/* A root inode made before the failure is freed in RCU. */
		rcu_barrier();
		kmem_cache_destroy(gmem_inode_cachep);
		return PTR_ERR(gmem_mnt);
	}
	/* Guest memory is data: no mapping of it may execute. */
	gmem_mnt->mnt_flags |= MNT_NOEXEC;
	return 0;
}

static void __exit gmem_exit(void)
{
	/*
	 * Memory inodes are all gone (each holds this module), but their
	 * RCU callbacks may still run, and unmounting frees the root inode
	 * in one more: wait for all of them before the cache and the code
	 * they use go away.
	 */
	kern_unmount(gmem_mnt);
	rcu_barrier();
	kmem_cache_destroy(gmem_inode_cachep);
}

module_init(gmem_init);
module_exit(gmem_exit);

MODULE_DESCRIPTION("gmem: inode-owned guest memory for KVM");
MODULE_LICENSE("GPL");
MODULE_VERSION(GMEM_VERSION);
