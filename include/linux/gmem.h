/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem: guest memory owned by an inode, with one file per user of it.
 *
 * The in-kernel API of gmem.ko.  It knows nothing of KVM: a user (the KVM
 * adapter in kvm/) creates files on gmem inodes and is called back when a
 * range of memory goes away.
 */
#ifndef _LINUX_GMEM_H
#define _LINUX_GMEM_H

#include <linux/fs.h>
#include <linux/types.h>

/* Magic number of gmem's pseudo-filesystem (statfs f_type). */
#define GMEM_MAGIC	0x676d656d	/* "gmem" */

struct file *gmem_file_create(loff_t size, u64 flags);

#endif /* _LINUX_GMEM_H */
