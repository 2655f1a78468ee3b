/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem: guest memory owned by an inode, with one file per user of it.
 *
 * The in-kernel API of gmem.ko.  It knows nothing of KVM.  An inode of
 * gmem's own filesystem owns the memory: fixed size, unevictable, mapped
 * to user space only if made so (GMEM_FLAG_MMAP), and then only shared
 * memory (GMEM_FLAG_SHARED).  Each file on an inode is one owner's view of it;
 * the owner (the KVM adapter in kvm/: one VM) is called back before any
 * range of the memory goes away, and detaches when it goes away itself.
 *
 * Locking: ->invalidate_begin and ->invalidate_end are called with the
 * inode's invalidate lock held (shared or exclusive); owners take it
 * exclusive with gmem_lock() around changes to what those callbacks read.
 * ->release is called with no lock held.
 *
 * Rights: each file has its own (GMEM_RIGHT_*), given when it is made.  A
 * link never has more rights than its source.
 */
#ifndef _LINUX_GMEM_H
#define _LINUX_GMEM_H

#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/types.h>

/* Magic number of gmem's pseudo-filesystem (statfs f_type). */
#define GMEM_MAGIC	0x676d656d	/* "gmem" */

/*
 * gmem_create() flags, the inode's: files linked to it share them.
 *
 * By default memory comes in PMD-sized (2 MiB on x86) folios wherever a
 * naturally aligned PMD-sized range lies inside the file, in 4 KiB folios
 * elsewhere; GMEM_FLAG_NO_HUGEPAGE makes every folio 4 KiB.
 *
 * GMEM_FLAG_MMAP: every file on the inode can be mmap()ed, MAP_SHARED only.
 * GMEM_FLAG_SHARED: the memory is shared with user space, which may fault
 * it in through such a mapping; without it, every such fault is SIGBUS.
 * GMEM_FLAG_CONVERTIBLE: each page is private or shared on its own,
 * starting as GMEM_FLAG_SHARED says; gmem_convert() changes them, and
 * user space maps only the shared ones, page by page.
 * None goes with memory ops: an architecture's pages are the guest's.
 */
#define GMEM_FLAG_NO_HUGEPAGE	BIT_ULL(0)
#define GMEM_FLAG_MMAP		BIT_ULL(1)
#define GMEM_FLAG_SHARED	BIT_ULL(2)
#define GMEM_FLAG_CONVERTIBLE	BIT_ULL(3)
#define GMEM_FLAGS_VALID	(GMEM_FLAG_NO_HUGEPAGE | GMEM_FLAG_MMAP | \
				 GMEM_FLAG_SHARED | GMEM_FLAG_CONVERTIBLE)

/* What a file may do, besides being bound by its owner. */
#define GMEM_RIGHT_FALLOCATE	BIT(0)	/* allocate, and punch holes */
#define GMEM_RIGHT_LINK		BIT(1)	/* be the source of gmem_link() */
#define GMEM_RIGHTS_ALL		(GMEM_RIGHT_FALLOCATE | GMEM_RIGHT_LINK)

/**
 * struct gmem_owner_ops - what gmem calls in the owner of a file
 * @kind: what the owner is ("kvm"); gmem_link() links only between owners
 *	of the kind that made the memory.  At most 15 characters.
 * @owner: module of the callbacks; held while a file is attached
 * @invalidate_begin: pages [@start, @end) are about to be freed or poisoned:
 *	stop using them.  Called for every attached file of the inode.
 * @invalidate_end: the matching end, after the pages are gone.
 * @release: the file is being released while still attached; the owner
 *	frees its @data.  No call follows.
 * @ioctl: an ioctl() on a file attached to such an owner, or NULL (the
 *	file's ioctls are all ENOTTY).  It gets the file, not @data: the
 *	owner may detach while it runs (its module stays).
 *
 * @data is what the owner gave gmem_create().
 */
struct gmem_owner_ops {
	const char *kind;
	struct module *owner;
	void (*invalidate_begin)(void *data, pgoff_t start, pgoff_t end);
	void (*invalidate_end)(void *data, pgoff_t start, pgoff_t end);
	void (*release)(void *data);
	long (*ioctl)(struct file *file, unsigned int cmd, unsigned long arg);
};

/**
 * struct gmem_memory_ops - what gmem calls in the user of an inode's pages
 * @owner: module of @aops; every inode made with these ops holds it until
 *	the inode is evicted, after its last folio is gone
 * @aops: the inode's address space operations, made with
 *	GMEM_MEMORY_AOPS(free_folio)
 *
 * For memory whose pages an architecture takes over once it prepares
 * them.  The page cache calls free_folio(folio) as each folio leaves the
 * inode (a punch, or the inode's eviction): it undoes what was done to the
 * pages (SEV-SNP: gives them back to the host in the RMP) before anyone
 * else can have them.  It is called once per folio, each piece of a folio
 * split by a punch on its own, and may sleep.  gmem never writes to the
 * pages of an inode with memory ops: a punch that cannot split a folio
 * leaves the punched part of it as it was.
 */
struct gmem_memory_ops {
	struct module *owner;
	const struct address_space_operations *aops;
};

int gmem_migrate_folio(struct address_space *mapping, struct folio *dst,
		       struct folio *src, enum migrate_mode mode);
int gmem_error_remove_folio(struct address_space *mapping,
			    struct folio *folio);

/* gmem's address space operations, plus @free_folio. */
#define GMEM_MEMORY_AOPS(free) {					\
	.dirty_folio		= noop_dirty_folio,			\
	.migrate_folio		= gmem_migrate_folio,			\
	.error_remove_folio	= gmem_error_remove_folio,		\
	.free_folio		= (free),				\
}

struct file *gmem_create(loff_t size, u64 flags, unsigned int rights,
			 const struct gmem_memory_ops *mops,
			 const struct gmem_owner_ops *ops, void *data);
struct file *gmem_link(struct file *src, unsigned int rights,
		       const struct gmem_owner_ops *ops, void *data);
bool gmem_detach(struct file *file);
unsigned int gmem_rights(struct file *file);
u64 gmem_flags(struct file *file);

bool is_gmem_file(struct file *file);
void *gmem_owner_data(struct file *file, const struct gmem_owner_ops *ops);

void gmem_lock(struct file *file);
void gmem_unlock(struct file *file);

struct folio *gmem_get_folio(struct file *file, pgoff_t index, bool create);
int gmem_folio_map_order(struct folio *folio, pgoff_t index);
unsigned long gmem_folio_sizes(void);

bool gmem_is_shared(struct file *file, pgoff_t index);
int gmem_convert(struct file *file, pgoff_t start, pgoff_t nr, bool shared,
		 bool zero, pgoff_t *err_index);

#endif /* _LINUX_GMEM_H */
