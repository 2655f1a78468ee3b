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
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

#include "internal.h"

static vm_fault_t gmem_fault(struct vm_fault *vmf)
{
	struct file *file = vmf->vma->vm_file;
	struct folio *folio;
	struct page *page;

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
	return 0;
}
