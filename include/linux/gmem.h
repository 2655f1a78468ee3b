/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem: guest memory owned by an inode, with one file per user of it.
 *
 * The in-kernel API of gmem.ko.  It knows nothing of KVM.  An inode of
 * gmem's own filesystem owns the memory: fixed size, unevictable, never
 * mapped to user space.  Each file on an inode is one owner's view of it;
 * the owner (the KVM adapter in kvm/: one VM) is called back before any
 * range of the memory goes away, and detaches when it goes away itself.
 *
 * Locking: every call into an owner's ops is made with the inode's
 * invalidate lock held (shared or exclusive); owners take it exclusive with
 * gmem_lock() around changes to what their callbacks read.
 */
#ifndef _LINUX_GMEM_H
#define _LINUX_GMEM_H

#include <linux/fs.h>
#include <linux/types.h>

/* Magic number of gmem's pseudo-filesystem (statfs f_type). */
#define GMEM_MAGIC	0x676d656d	/* "gmem" */

/*
 * gmem_create() flags.  By default memory comes in PMD-sized (2 MiB on
 * x86) folios wherever a naturally aligned PMD-sized range lies inside the
 * file, in 4 KiB folios elsewhere; GMEM_FLAG_NO_HUGEPAGE makes every folio
 * 4 KiB.  The choice is the inode's: files linked to it share it.
 */
#define GMEM_FLAG_NO_HUGEPAGE	BIT_ULL(0)
#define GMEM_FLAGS_VALID	GMEM_FLAG_NO_HUGEPAGE

struct folio;
struct module;

/**
 * struct gmem_owner_ops - what gmem calls in the owner of a file
 * @owner: module of the callbacks; held while a file is attached
 * @invalidate_begin: pages [@start, @end) are about to be freed or poisoned:
 *	stop using them.  Called for every attached file of the inode.
 * @invalidate_end: the matching end, after the pages are gone.
 * @release: the file is being released while still attached; the owner
 *	frees its @data.  No call follows.
 *
 * @data is what the owner gave gmem_create().
 */
struct gmem_owner_ops {
	struct module *owner;
	void (*invalidate_begin)(void *data, pgoff_t start, pgoff_t end);
	void (*invalidate_end)(void *data, pgoff_t start, pgoff_t end);
	void (*release)(void *data);
};

struct file *gmem_create(loff_t size, u64 flags,
			 const struct gmem_owner_ops *ops, void *data);
struct file *gmem_link(struct file *src, const struct gmem_owner_ops *ops,
		       void *data);
bool gmem_detach(struct file *file);

bool is_gmem_file(struct file *file);
void *gmem_owner_data(struct file *file, const struct gmem_owner_ops *ops);

void gmem_lock(struct file *file);
void gmem_unlock(struct file *file);

struct folio *gmem_get_folio(struct file *file, pgoff_t index, bool create);
unsigned long gmem_folio_sizes(void);

#endif /* _LINUX_GMEM_H */
