// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA policy of gmem's memory: mbind() on a mapping of a gmem file sets
 * the policy of the inode's pages the mapping covers, as it does for
 * shmem.  Every file on the inode shares it, it outlives the mapping and
 * a punched hole, and every allocation of those pages follows it: a fault
 * through a mapping, an owner's fault (KVM's), fallocate().  Pages no
 * policy covers follow the allocating task's, as any page cache's do.
 *
 * The kernel exports none of shmem's shared-policy helpers to modules
 * (mpol_shared_policy_*(), mpol_dup(), mpol_put()'s __mpol_put()), so
 * gmem keeps its own table, and the two things it must never do without
 * them are ruled out by construction:
 *
 *  - Hold a policy it cannot drop.  The policy ->set_policy() hands over
 *    is the one the mapping's VMA is about to take (vma_replace_policy()
 *    made it for that VMA), allocated from the kernel's policy cache.
 *    gmem takes a reference on that object and drops it as __mpol_put()
 *    does: the last put frees it with kfree(), which takes any object
 *    kmem_cache_alloc() made.
 *
 *  - Read a policy that may change or go under it.  The VMA's copy is
 *    the VMA's: a cpuset change rebinds it in place, under that mm's
 *    mmap lock only.  Allocation reads gmem's own copy instead, made at
 *    ->set_policy() while the object was still the caller's alone and
 *    never written again.  Each ->set_policy() makes one struct
 *    gmem_policy holding both; a maple tree maps page ranges to them.
 *    Readers look up under RCU and take a reference, which keeps the
 *    struct and both policies; writers serialize on the inode's policy
 *    mutex, and a struct goes (after an RCU grace period) when the tree
 *    no longer points to it and its last user is done.
 *
 * ->get_policy() hands out the kernel's object, marked MPOL_F_SHARED as
 * shmem's shared policies are, with a reference its caller drops with
 * mpol_cond_put(): so get_mempolicy(MPOL_F_ADDR) and numa_maps report the
 * inode's policy on every mapping of every file on it.  The mark stays on
 * the VMA's policy too.  Allocation, get_mempolicy() and numa_maps look a
 * gmem VMA's policy up through ->get_policy(); what reads the VMA's own
 * (mbind()'s check for an unchanged policy, VMA merging, a cpuset's
 * rebind, set_mempolicy_home_node()) only compares, copies, rebinds or
 * puts it, and the mark keeps mbind() from ever taking a gmem VMA's
 * policy for the new one.
 *
 * Allocation uses the kernel's own policy code, vma_alloc_folio() on a
 * VMA that exists only for the call (as shmem did before 6.7), so every
 * mode behaves as it does for shmem, interleaving by page offset included.
 * A PMD-sized folio is allocated only where one policy, or none, covers
 * its whole block (equal policies set by separate calls count as one);
 * elsewhere the block gets base pages, each on its own range's nodes.
 */
#include <linux/maple_tree.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>

#include "internal.h"

/*
 * The policy one ->set_policy() set on one range of pages.
 * @ref: one held while the tree points here (@nranges > 0), one per user.
 * @nranges: how many ranges of the tree point here; under the policy mutex.
 * @next_dead: links structs leaving the tree, under the policy mutex.
 * @report: the kernel's object, MPOL_F_SHARED, one reference held.
 * @alloc: gmem's copy, which allocation reads; never written once made.
 */
struct gmem_policy {
	refcount_t ref;
	unsigned long nranges;
	struct gmem_policy *next_dead;
	struct rcu_head rcu;
	struct mempolicy *report;
	struct mempolicy alloc;
};

/* __mpol_put(), which is not exported: see the comment at the top. */
static void gmem_mpol_put(struct mempolicy *mpol)
{
	if (atomic_dec_and_test(&mpol->refcnt))
		kfree(mpol);
}

static void gmem_policy_put(struct gmem_policy *pol)
{
	if (refcount_dec_and_test(&pol->ref)) {
		gmem_mpol_put(pol->report);
		kfree_rcu(pol, rcu);
	}
}

/**
 * gmem_policy_init() - an inode's empty policy table
 * @gi: the inode
 */
void gmem_policy_init(struct gmem_inode *gi)
{
	mutex_init(&gi->policy_lock);
	mt_init_flags(&gi->policy, MT_FLAGS_LOCK_EXTERN | MT_FLAGS_USE_RCU);
	mt_set_external_lock(&gi->policy, &gi->policy_lock);
}

/**
 * gmem_policy_destroy() - drop every policy of an inode going away
 * @gi: the inode, with no file and no mapping left
 */
void gmem_policy_destroy(struct gmem_inode *gi)
{
	MA_STATE(mas, &gi->policy, 0, 0);
	struct gmem_policy *pol;

	mutex_lock(&gi->policy_lock);
	mas_for_each(&mas, pol, ULONG_MAX) {
		if (!--pol->nranges)
			gmem_policy_put(pol);
		cond_resched();
	}
	__mt_destroy(&gi->policy);
	mutex_unlock(&gi->policy_lock);
}

/*
 * Set @mpol (NULL: none) on pages [@first, @last] of @gi.  @mpol is the
 * policy vma_replace_policy() made for the VMA and has not published yet.
 */
static int gmem_policy_set(struct gmem_inode *gi, pgoff_t first,
			   pgoff_t last, struct mempolicy *mpol)
{
	MA_STATE(store, &gi->policy, first, last);
	MA_STATE(walk, &gi->policy, first, first);
	struct gmem_policy *pol = NULL, *old, *dead = NULL;
	int err;

	if (mpol) {
		pol = kmalloc(sizeof(*pol), GFP_KERNEL_ACCOUNT);
		if (!pol)
			return -ENOMEM;
		refcount_set(&pol->ref, 1);
		pol->nranges = 1;
		pol->alloc = *mpol;
		pol->alloc.flags &= ~MPOL_F_SHARED;
		atomic_set(&pol->alloc.refcnt, 1);
	}

	mutex_lock(&gi->policy_lock);
	/* Once the nodes are there, the store cannot fail. */
	err = mas_preallocate(&store, pol, GFP_KERNEL_ACCOUNT);
	if (err) {
		mutex_unlock(&gi->policy_lock);
		kfree(pol);
		return err;
	}

	/*
	 * The ranges the store overlaps: one it covers goes, one it covers
	 * the middle of becomes two, one it covers an end of stays one.
	 */
	mas_for_each(&walk, old, last) {
		bool head = walk.index < first, tail = walk.last > last;

		if (head && tail) {
			old->nranges++;
		} else if (!head && !tail && !--old->nranges) {
			old->next_dead = dead;
			dead = old;
		}
	}

	if (pol) {
		mpol->flags |= MPOL_F_SHARED;
		mpol_get(mpol);
		pol->report = mpol;
	}
	mas_store_prealloc(&store, pol);
	mutex_unlock(&gi->policy_lock);

	while (dead) {
		old = dead;
		dead = dead->next_dead;
		gmem_policy_put(old);
	}
	return 0;
}

/*
 * Whether two copies place memory alike: what __mpol_equal() compares,
 * which is not exported either.
 */
static bool gmem_mpol_equal(const struct mempolicy *a,
			    const struct mempolicy *b)
{
	if (a->mode != b->mode || a->flags != b->flags ||
	    a->home_node != b->home_node)
		return false;
	/* MPOL_LOCAL's nodes are never set: whatever the slab object held. */
	if (a->mode != MPOL_LOCAL && !nodes_equal(a->nodes, b->nodes))
		return false;
	return !(a->flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) ||
	       nodes_equal(a->w.user_nodemask, b->w.user_nodemask);
}

/*
 * The policy of pages [@first, @last] of @gi, with a reference: NULL if
 * none covers any of them, ERR_PTR(-ERANGE) if they are not all under the
 * same one.  Ranges that separate ->set_policy() calls gave equal
 * policies count as one (one mbind() over several VMAs makes one range
 * per VMA).
 */
static struct gmem_policy *
gmem_policy_find(struct gmem_inode *gi, pgoff_t first, pgoff_t last)
{
	MA_STATE(mas, &gi->policy, first, first);
	struct gmem_policy *pol, *next;
	pgoff_t end;

	rcu_read_lock();
retry:
	mas_set(&mas, first);
	pol = mas_walk(&mas);
	if (!pol) {
		mas_set(&mas, first);
		if (first != last && mas_find(&mas, last))
			pol = ERR_PTR(-ERANGE);
		goto out;
	}
	/* Only the first one needs a reference: it is the one used. */
	for (end = mas.last; end < last; end = mas.last) {
		next = mas_next(&mas, last);
		if (!next || mas.index != end + 1 ||
		    !gmem_mpol_equal(&pol->alloc, &next->alloc)) {
			pol = ERR_PTR(-ERANGE);
			goto out;
		}
	}
	/* Zero: a writer just took it out of the tree; look again. */
	if (!refcount_inc_not_zero(&pol->ref))
		goto retry;
out:
	rcu_read_unlock();
	return pol;
}

/**
 * gmem_set_policy() - mbind() on a mapping of a gmem file
 * @vma: the mapping: the part of it mbind() covers, or more (the kernel
 *	 may have merged it with neighbours that have no policy)
 * @mpol: the policy (NULL: none), made for @vma and not yet published
 *
 * Only the pages inside the file get it: its size never changes, and
 * a range past the end would hold memory that nothing allocates.
 *
 * Return: 0, or -ENOMEM with nothing changed.
 */
int gmem_set_policy(struct vm_area_struct *vma, struct mempolicy *mpol)
{
	struct inode *inode = file_inode(vma->vm_file);
	pgoff_t npages = DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE);
	pgoff_t last = vma->vm_pgoff + vma_pages(vma) - 1;

	if (vma->vm_pgoff >= npages)
		return 0;
	return gmem_policy_set(GMEM_I(inode), vma->vm_pgoff,
			       min(last, npages - 1), mpol);
}

/**
 * gmem_get_policy() - the policy of a page of a mapping of a gmem file
 * @vma: the mapping
 * @addr: the page's address in it
 * @ilx: set to the base of the interleave index (the inode's number)
 *
 * Return: the policy, MPOL_F_SHARED and with a reference for the caller
 * to drop with mpol_cond_put(); NULL where none is set, not the task's,
 * so that the caller takes the default (as for shmem and upstream's
 * guest_memfd).
 */
struct mempolicy *gmem_get_policy(struct vm_area_struct *vma,
				  unsigned long addr, pgoff_t *ilx)
{
	struct inode *inode = file_inode(vma->vm_file);
	pgoff_t index = linear_page_index(vma, addr);
	struct mempolicy *mpol = NULL;
	struct gmem_policy *pol;

	*ilx = inode->i_ino;
	pol = gmem_policy_find(GMEM_I(inode), index, index);
	if (pol) {
		mpol = pol->report;
		mpol_get(mpol);
		gmem_policy_put(pol);
	}
	return mpol;
}

/* The policy of the VMA below: gmem's copy, which needs no reference. */
static struct mempolicy *gmem_alloc_get_policy(struct vm_area_struct *vma,
					       unsigned long addr,
					       pgoff_t *ilx)
{
	*ilx = ((struct inode *)vma->vm_private_data)->i_ino;
	return vma->vm_policy;
}

static const struct vm_operations_struct gmem_alloc_vm_ops = {
	.get_policy	= gmem_alloc_get_policy,
};

/**
 * gmem_policy_alloc_folio() - allocate a folio as the inode's policy says
 * @inode: a gmem inode
 * @index: the first page the folio will hold, aligned to @order
 * @order: the folio's order
 * @gfp: how to allocate it
 *
 * Return: the folio; NULL if none could be had, or if @order is not 0 and
 * the pages the folio would hold do not all have the same policy.
 */
struct folio *gmem_policy_alloc_folio(struct inode *inode, pgoff_t index,
				      unsigned int order, gfp_t gfp)
{
	struct vm_area_struct pseudo = {
		.vm_ops = &gmem_alloc_vm_ops,
		.vm_private_data = inode,
	};
	struct gmem_policy *pol;
	struct folio *folio;

	pol = gmem_policy_find(GMEM_I(inode), index,
			       index + (1UL << order) - 1);
	if (IS_ERR(pol))
		return NULL;
	if (!pol)
		return filemap_alloc_folio(gfp, order);

	/* Interleaving goes by page offset, from the inode's number. */
	pseudo.vm_policy = &pol->alloc;
	folio = vma_alloc_folio(gfp, order, &pseudo,
				(unsigned long)index << PAGE_SHIFT,
				order == PMD_ORDER);
	gmem_policy_put(pol);
	return folio;
}
