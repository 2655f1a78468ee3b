// SPDX-License-Identifier: GPL-2.0
/*
 * gmem's memory in user space: a file whose inode was made with
 * GMEM_FLAG_MMAP can be mapped MAP_SHARED, and its pages faulted in there
 * if the memory is shared (GMEM_FLAG_SHARED); private memory is never
 * mapped (SIGBUS).  Every file on the inode maps the same pages.
 *
 * The pages are the inode's page cache folios, mapped as any file's are:
 * the rmap knows each mapping, so a punched hole unmaps them from every
 * user mapping of every file on the inode while truncation removes them,
 * as the owners' invalidation does for theirs.  A PMD-sized folio is
 * mapped with one PMD where the mapping's address and file offset agree
 * on the offset inside it (finish_fault()); mmap() hands out such
 * addresses when it picks one (thp_get_unmapped_area() in gmem_fops).
 * Nothing collapses pages into huge folios or moves them: MADV_COLLAPSE
 * and khugepaged find no huge page support to use (no ->huge_fault, and
 * each file counts as a writer, see gmem_file_open()), and the mapping is
 * inaccessible to migration and compaction.  mbind() on a mapping sets the
 * NUMA policy of the inode's pages it covers (policy.c).
 *
 * A convertible inode (GMEM_FLAG_CONVERTIBLE) holds private and shared
 * pages side by side, in the same huge folios.  A folio that is all shared
 * is mapped as above, with a PMD where it fits.  A shared page of a folio
 * whose pages are mixed is mapped on its own, never with a PMD that would
 * take the folio's private pages along: the fault makes sure the page
 * table the page goes in exists first, and finish_fault() maps a PMD-sized
 * folio with a PMD only where there is none.  The check that the page is
 * shared is made under the invalidate lock; a conversion to private that
 * starts before finish_fault() has mapped it waits for the folio's lock,
 * which the fault holds until then, and unmaps it again (conversion.c).
 * Either way the fault first records which pages user space may now map,
 * for that conversion's reference check.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "internal.h"

static int gmem_pte_exists(pte_t *pte, unsigned long addr, void *data)
{
	return 0;
}

/*
 * A huge folio whose pages are mixed is mapped page by page: with a page
 * table in place, finish_fault() maps the one page with a PTE, never the
 * folio with a PMD.  (The PMD holds no huge mapping: a conversion that
 * made the folio mixed unmapped it.)
 */
static int gmem_map_page_alone(struct vm_fault *vmf)
{
	return apply_to_page_range(vmf->vma->vm_mm, vmf->address, PAGE_SIZE,
				   gmem_pte_exists, NULL);
}

/*
 * The faulting page, in its folio, locked and referenced, allocated if
 * need be, in *@page; or the fault's error, and no folio (-EINVAL at or
 * past the end of the file is SIGBUS).
 */
static vm_fault_t gmem_fault_page(struct vm_fault *vmf, struct page **page)
{
	struct folio *folio;

	folio = gmem_get_folio(vmf->vma->vm_file, vmf->pgoff, true);
	if (IS_ERR(folio))
		return vmf_error(PTR_ERR(folio));

	if (PageHWPoison(folio_file_page(folio, vmf->pgoff))) {
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_HWPOISON;
	}
	*page = folio_file_page(folio, vmf->pgoff);
	return 0;
}

static vm_fault_t gmem_fault_convertible(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);
	struct folio *folio;
	struct page *page;
	vm_fault_t ret;
	int err;

	filemap_invalidate_lock_shared(inode->i_mapping);
	if (!gmem_page_is_shared(inode, vmf->pgoff)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}

	err = gmem_prepare_exposed(inode, vmf->pgoff);
	if (err) {
		ret = vmf_error(err);
		goto out;
	}

	ret = gmem_fault_page(vmf, &page);
	if (ret)
		goto out;

	folio = page_folio(page);
	if (!folio_test_large(folio) || gmem_folio_is_uniform(folio))
		err = gmem_mark_exposed(inode, folio->index,
					folio_nr_pages(folio));
	else
		err = gmem_mark_exposed(inode, vmf->pgoff, 1) ?:
		      gmem_map_page_alone(vmf);
	if (err) {
		folio_unlock(folio);
		folio_put(folio);
		ret = vmf_error(err);
		goto out;
	}

	/* Mapped, then unlocked, by the fault's caller. */
	vmf->page = page;
	ret = VM_FAULT_LOCKED;
out:
	filemap_invalidate_unlock_shared(inode->i_mapping);
	return ret;
}

static vm_fault_t gmem_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	vm_fault_t ret;

	if (gmem_flags(file) & GMEM_FLAG_CONVERTIBLE)
		return gmem_fault_convertible(vmf);
	if (!(gmem_flags(file) & GMEM_FLAG_SHARED))
		return VM_FAULT_SIGBUS;

	/* Mapped, then unlocked, by the fault's caller. */
	ret = gmem_fault_page(vmf, &vmf->page);
	return ret ?: VM_FAULT_LOCKED;
}

static const struct vm_operations_struct gmem_vm_ops = {
	.fault		= gmem_fault,
#ifdef CONFIG_NUMA
	.set_policy	= gmem_set_policy,
	.get_policy	= gmem_get_policy,
#endif
};

/*
 * Shared mappings only: a private one would copy the memory on write, and
 * its copies would outlive a punch.  Executable mappings are refused by
 * the mount (MNT_NOEXEC).
 */
int gmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!(gmem_flags(file) & GMEM_FLAG_MMAP))
		return -ENODEV;
	if ((vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) !=
	    (VM_SHARED | VM_MAYSHARE))
		return -EINVAL;

	vma->vm_ops = &gmem_vm_ops;
	return 0;
}
