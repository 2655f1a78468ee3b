// SPDX-License-Identifier: GPL-2.0
/*
 * gmem.ko: module set-up and gmem's pseudo-filesystem.
 *
 * gmem mounts a filesystem of its own, internally, at load time: every gmem
 * inode lives on it.  The filesystem type is not registered, so nothing else
 * can mount it and its superblock lives exactly as long as the module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/gmem.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

static struct vfsmount *gmem_mnt;

static int gmem_init_fs_context(struct fs_context *fc)
{
	if (!init_pseudo(fc, GMEM_MAGIC))
		return -ENOMEM;
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

/**
 * gmem_file_create() - create a gmem file of @size bytes
 * @size: size of the memory, fixed for the life of the inode
 * @flags: reserved, must be zero
 *
 * Placeholder until gmem's inode and file code lands: fails for every input,
 * so that the gmem variant of kvm.ko already links against gmem.ko.
 *
 * Return: the new file, or ERR_PTR(-EOPNOTSUPP) for now.
 */
struct file *gmem_file_create(loff_t size, u64 flags)
{
	return ERR_PTR(-EOPNOTSUPP);
}
EXPORT_SYMBOL_GPL(gmem_file_create);

static int __init gmem_init(void)
{
	/* Mounted, never registered: no one else can mount it. */
	gmem_mnt = kern_mount(&gmem_fs_type);
	return PTR_ERR_OR_ZERO(gmem_mnt);
}

static void __exit gmem_exit(void)
{
	kern_unmount(gmem_mnt);
}

module_init(gmem_init);
module_exit(gmem_exit);

MODULE_DESCRIPTION("gmem: inode-owned guest memory for KVM");
MODULE_LICENSE("GPL");
