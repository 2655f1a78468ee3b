// SPDX-License-Identifier: GPL-2.0
/*
 * gmem's files: each file on an inode is one owner's view of the memory.
 *
 * A file is attached to its owner from creation until either the owner
 * detaches (gmem_detach(): the owner is going away) or the file is
 * released; whichever comes first ends the owner's callbacks.  The memory
 * belongs to the inode and lives as long as any file on it.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

/*
 * Ends @gf's attachment, under the invalidate lock held exclusive.
 * Returns the ops it had, NULL if it was not attached.
 */
static const struct gmem_owner_ops *gmem_file_unset_owner(struct gmem_file *gf)
{
	const struct gmem_owner_ops *ops = gf->ops;

	gf->ops = NULL;
	gf->data = NULL;
	return ops;
}

static int gmem_release(struct inode *inode, struct file *file)
{
	struct gmem_file *gf = file->private_data;
	const struct gmem_owner_ops *ops;
	void *data;

	filemap_invalidate_lock(inode->i_mapping);
	list_del(&gf->entry);
	data = gf->data;
	ops = gmem_file_unset_owner(gf);
	filemap_invalidate_unlock(inode->i_mapping);

	if (ops) {
		ops->release(data);
		module_put(ops->owner);
	}
	kfree(gf);
	put_write_access(inode);
	return 0;
}

/*
 * ioctl()s are the owner's (KVM's conversion, on KVM's files).  A file
 * whose owner has detached has none.  The owner's module is held while
 * its code runs; its data may go meanwhile, and is not passed.
 */
static long gmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct gmem_file *gf = file->private_data;
	const struct gmem_owner_ops *ops;
	long r;

	filemap_invalidate_lock_shared(file->f_mapping);
	ops = gf->ops;
	if (ops && (!ops->ioctl || !try_module_get(ops->owner)))
		ops = NULL;
	filemap_invalidate_unlock_shared(file->f_mapping);
	if (!ops)
		return -ENOTTY;

	r = ops->ioctl(file, cmd, arg);
	module_put(ops->owner);
	return r;
}

/*
 * No read, write or seek: user space reaches the memory only through a
 * mapping, where the inode allows one (mmap.c).
 */
const struct file_operations gmem_fops = {
	.owner			= THIS_MODULE,
	.release		= gmem_release,
	.unlocked_ioctl		= gmem_ioctl,
	.compat_ioctl		= compat_ptr_ioctl,
	.fallocate		= gmem_fallocate,
	.mmap			= gmem_mmap,
	.get_unmapped_area	= thp_get_unmapped_area,
};

/* A new file on @inode, taking over the caller's reference to it. */
static struct file *gmem_file_open(struct inode *inode, unsigned int rights,
				   const struct gmem_owner_ops *ops, void *data)
{
	struct gmem_file *gf;
	struct file *file;

	gf = kzalloc(sizeof(*gf), GFP_KERNEL_ACCOUNT);
	if (!gf) {
		iput(inode);
		return ERR_PTR(-ENOMEM);
	}
	gf->rights = rights;

	/* Unlike anon_inode_getfile(), this leaves f_op's module to us. */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, gmem_mnt, "[gmem]", O_RDWR, &gmem_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		kfree(gf);
		iput(inode);
		return file;
	}
	file->f_flags |= O_LARGEFILE;
	file->private_data = gf;
	/*
	 * Counted as a writer, as a file opened read-write elsewhere is (a
	 * pseudo file is not): with CONFIG_READ_ONLY_THP_FOR_FS, khugepaged
	 * and MADV_COLLAPSE would otherwise take a mapping of it for a
	 * read-only file and collapse its page cache behind the owners'
	 * backs.  Nothing makes the count negative: the mount is noexec.
	 */
	atomic_inc(&inode->i_writecount);

	__module_get(ops->owner);
	filemap_invalidate_lock(inode->i_mapping);
	gf->ops = ops;
	gf->data = data;
	list_add(&gf->entry, &GMEM_I(inode)->files);
	filemap_invalidate_unlock(inode->i_mapping);
	return file;
}

/**
 * gmem_create() - new memory, and the first file on it
 * @size: bytes of memory, page aligned, fixed for the life of the inode
 * @flags: GMEM_FLAG_*
 * @rights: the file's rights, GMEM_RIGHT_*
 * @mops: the memory's ops (see &struct gmem_memory_ops), or NULL
 * @ops: the owner's callbacks, see &struct gmem_owner_ops
 * @data: passed to @ops
 *
 * The memory starts with no pages; they are allocated, zeroed, by
 * fallocate() or gmem_get_folio() and freed by a punched hole or when the
 * last file on the inode is gone.  They come in huge folios where they can
 * (see gmem_get_folio()), unless @flags says otherwise.
 *
 * Return: the file, opened read-write, or ERR_PTR(-EINVAL) for a bad size,
 * flags, rights, memory ops or owner kind (too long), or memory ops with
 * GMEM_FLAG_MMAP, GMEM_FLAG_SHARED or GMEM_FLAG_CONVERTIBLE; -ENOMEM.
 */
struct file *gmem_create(loff_t size, u64 flags, unsigned int rights,
			 const struct gmem_memory_ops *mops,
			 const struct gmem_owner_ops *ops, void *data)
{
	struct inode *inode;

	if ((flags & ~GMEM_FLAGS_VALID) || (rights & ~GMEM_RIGHTS_ALL) ||
	    size <= 0 || !PAGE_ALIGNED(size) ||
	    strnlen(ops->kind, GMEM_KIND_LEN) == GMEM_KIND_LEN)
		return ERR_PTR(-EINVAL);
	if (mops && (WARN_ON_ONCE(!gmem_memory_ops_valid(mops)) ||
		     (flags & (GMEM_FLAG_MMAP | GMEM_FLAG_SHARED |
			       GMEM_FLAG_CONVERTIBLE))))
		return ERR_PTR(-EINVAL);

	inode = gmem_new_inode(size, flags, mops, ops->kind);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	return gmem_file_open(inode, rights, ops, data);
}
EXPORT_SYMBOL_GPL(gmem_create);

/**
 * gmem_link() - another file on the memory of @src
 * @src: a gmem file with GMEM_RIGHT_LINK, made by an owner of the same
 *	kind as @ops, attached or not
 * @rights: the rights the new file asks for; it gets those @src has
 * @ops: the new file's owner's callbacks
 * @data: passed to @ops
 *
 * The new file shares @src's inode: its memory, its contents and its size.
 * The memory lives until the last file on it is gone.
 *
 * Return: the file, opened read-write, ERR_PTR(-EINVAL) if @src is not a
 * gmem file, its memory was made by another kind of owner or @rights are
 * bad, -EPERM if @src may not be linked, -ENOMEM.
 */
struct file *gmem_link(struct file *src, unsigned int rights,
		       const struct gmem_owner_ops *ops, void *data)
{
	struct inode *inode = file_inode(src);
	struct gmem_file *gf;

	if (!is_gmem_file(src) || (rights & ~GMEM_RIGHTS_ALL) ||
	    strcmp(GMEM_I(inode)->kind, ops->kind))
		return ERR_PTR(-EINVAL);
	gf = src->private_data;
	if (!(gf->rights & GMEM_RIGHT_LINK))
		return ERR_PTR(-EPERM);

	ihold(inode);
	return gmem_file_open(inode, rights & gf->rights, ops, data);
}
EXPORT_SYMBOL_GPL(gmem_link);

/**
 * gmem_rights() - what a gmem file may do
 * @file: a gmem file
 *
 * Return: its GMEM_RIGHT_* bits, which never change.
 */
unsigned int gmem_rights(struct file *file)
{
	struct gmem_file *gf = file->private_data;

	return gf->rights;
}
EXPORT_SYMBOL_GPL(gmem_rights);

/**
 * gmem_flags() - what the memory of a gmem file was made with
 * @file: a gmem file
 *
 * Return: its inode's GMEM_FLAG_* bits, which never change.
 */
u64 gmem_flags(struct file *file)
{
	return GMEM_I(file_inode(file))->flags;
}
EXPORT_SYMBOL_GPL(gmem_flags);

/**
 * gmem_detach() - the owner of @file is going away
 * @file: a gmem file
 *
 * Calls the owner's invalidation for the whole file, so that it stops
 * using the memory, and then never again: not for invalidation, not for
 * release.  The file and the memory stay; fallocate() on the file still
 * works.  The owner frees its data once this returns true.
 *
 * Return: true if the file was attached; false if it was not, or if its
 * release got there first (then the owner's release callback runs).
 */
bool gmem_detach(struct file *file)
{
	struct gmem_file *gf = file->private_data;
	struct address_space *mapping = file->f_mapping;
	const struct gmem_owner_ops *ops;

	filemap_invalidate_lock(mapping);
	ops = gf->ops;
	if (ops) {
		ops->invalidate_begin(gf->data, 0, ULONG_MAX);
		ops->invalidate_end(gf->data, 0, ULONG_MAX);
		gmem_file_unset_owner(gf);
	}
	filemap_invalidate_unlock(mapping);

	if (ops)
		module_put(ops->owner);
	return !!ops;
}
EXPORT_SYMBOL_GPL(gmem_detach);

/**
 * is_gmem_file() - whether @file is a gmem file
 * @file: any file
 *
 * Return: true for a file gmem_create() made.
 */
bool is_gmem_file(struct file *file)
{
	return file->f_op == &gmem_fops;
}
EXPORT_SYMBOL_GPL(is_gmem_file);

/**
 * gmem_owner_data() - the data of @file's owner, if it has @ops
 * @file: any file
 * @ops: the caller's owner ops
 *
 * The answer holds while the caller holds gmem_lock(), or otherwise knows
 * the owner cannot detach.
 *
 * Return: the owner's data, or NULL if @file is not a gmem file attached
 * to an owner with @ops.
 */
void *gmem_owner_data(struct file *file, const struct gmem_owner_ops *ops)
{
	struct gmem_file *gf;

	if (!is_gmem_file(file))
		return NULL;
	gf = file->private_data;
	return gf->ops == ops ? gf->data : NULL;
}
EXPORT_SYMBOL_GPL(gmem_owner_data);

/**
 * gmem_lock() - exclude invalidation of @file's memory
 * @file: a gmem file
 *
 * Takes the inode's invalidate lock exclusive: no owner callback runs and
 * no owner attaches or detaches until gmem_unlock().  Owners hold it while
 * they change what their callbacks read.
 */
void gmem_lock(struct file *file)
{
	filemap_invalidate_lock(file->f_mapping);
}
EXPORT_SYMBOL_GPL(gmem_lock);

/**
 * gmem_unlock() - undo gmem_lock()
 * @file: a gmem file
 */
void gmem_unlock(struct file *file)
{
	filemap_invalidate_unlock(file->f_mapping);
}
EXPORT_SYMBOL_GPL(gmem_unlock);
