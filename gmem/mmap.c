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
 * pages side by side, in the same huge folios: its mappings are made page
 * by page, never with a PMD that would take a folio's private pages along
 * with its shared ones.  The fault inserts the one 4 KiB page itself
 * (vm_insert_page(), a VM_MIXEDMAP mapping, still rmap'd page cache that
 * gmem_convert() and punches unmap like any other), under the invalidate
 * lock, so that no conversion to private runs between its check that the
 * page is shared and the page table entry; and records that user space
 * mapped the page (conversion.c).
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "internal.h"

static vm_fault_t gmem_fault_convertible(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct inode *inode = file_inode(file);
	struct folio *folio;
	struct page *page;
	vm_fault_t ret;
	int err;

	/* Set at mmap(), and nothing clears it; but never a PMD. */
	if (WARN_ON_ONCE(!(vmf->vma->vm_flags & VM_MIXEDMAP)))
		return VM_FAULT_SIGBUS;

	filemap_invalidate_lock_shared(inode->i_mapping);
	if (!gmem_page_is_shared(inode, vmf->pgoff)) {
		ret = VM_FAULT_SIGBUS;
		goto out;
	}

	folio = gmem_get_folio(file, vmf->pgoff, true);
	if (IS_ERR(folio)) {
		ret = vmf_error(PTR_ERR(folio));
		goto out;
	}

	page = folio_file_page(folio, vmf->pgoff);
	if (PageHWPoison(page)) {
		ret = VM_FAULT_HWPOISON;
		goto out_folio;
	}

	err = gmem_mark_exposed(inode, vmf->pgoff);
	if (!err)
		err = vm_insert_page(vmf->vma, vmf->address, page);
	/* -EBUSY: another thread's fault mapped it first. */
	ret = !err || err == -EBUSY ? VM_FAULT_NOPAGE : vmf_error(err);
out_folio:
	folio_unlock(folio);
	folio_put(folio);
out:
	filemap_invalidate_unlock_shared(inode->i_mapping);
	return ret;
}

static vm_fault_t gmem_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct folio *folio;
	struct page *page;

	if (gmem_flags(file) & GMEM_FLAG_CONVERTIBLE)
		return gmem_fault_convertible(vmf);
	if (!(gmem_flags(file) & GMEM_FLAG_SHARED))
		return VM_FAULT_SIGBUS;

	/* -EINVAL at or past the end of the file: SIGBUS. */
	folio = gmem_get_folio(file, vmf->pgoff, true);
	if (IS_ERR(folio))
		return vmf_error(PTR_ERR(folio));

	page = folio_file_page(folio, vmf->pgoff);
	if (PageHWPoison(page)) {
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_HWPOISON;
	}

	/* Mapped, then unlocked, by the fault's caller. */
	vmf->page = page;
	return VM_FAULT_LOCKED;
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
	/* Page by page, with vm_insert_page(): see gmem_fault_convertible(). */
	if (gmem_flags(file) & GMEM_FLAG_CONVERTIBLE)
		vm_flags_set(vma, VM_MIXEDMAP);
	return 0;
}
