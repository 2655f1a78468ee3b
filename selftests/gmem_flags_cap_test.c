// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_CAP_GUEST_MEMFD_FLAGS (244) and the creation flags it reports
 * (include/uapi/linux/kvm_gmem.h):
 *
 *  - on the system fd and a default VM: MMAP | INIT_SHARED and gmem's
 *    LINKABLE | NO_HUGEPAGE; on a VM with private memory
 *    (KVM_X86_SW_PROTECTED_VM) the same without INIT_SHARED, as upstream;
 *    every flag fits the int that KVM_CHECK_EXTENSION returns;
 *  - KVM_CAP_GUEST_MEMFD, KVM_CAP_GUEST_MEMFD_LINK and
 *    KVM_CAP_GUEST_MEMFD_HUGEPAGE on every VM type, default VMs included;
 *  - KVM_CREATE_GUEST_MEMFD takes each reported bit alone (and all of them
 *    together) and refuses every other bit with EINVAL: upstream 7.x's
 *    guest_memfd_test checks the same, and takes its mmap branches where
 *    the cap reports MMAP (and INIT_SHARED);
 *  - each flag does what it says: MMAP, the file can be mapped; INIT_SHARED,
 *    user space can touch it; LINKABLE, another VM can link it (as can the
 *    files of a VM that enabled KVM_CAP_GUEST_MEMFD_LINK); NO_HUGEPAGE,
 *    4 KiB folios only.
 */
#include <sys/ioctl.h>

#include "gmem_mmap_util.h"
#include "kselftest_harness.h"

/* KVM_CHECK_EXTENSION as user space sees it: ioctl()'s int. */
static int check_extension(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

static int system_check_extension(long cap)
{
	int kvm = open(KVM_DEV_PATH, O_RDWR);
	int r;

	TEST_ASSERT(kvm >= 0, "open " KVM_DEV_PATH);
	r = check_extension(kvm, cap);
	close(kvm);
	return r;
}

/*
 * KVM_CHECK_EXTENSION returns an int (kvm_vm_ioctl_check_extension(),
 * ioctl()): a flag above bit 30 cannot be reported, and bit 31 would make
 * the answer negative, which user space (the selftest library's
 * vm_check_cap() among them) takes for an error.
 */
TEST(every_flag_fits_check_extensions_int)
{
	EXPECT_EQ(0, DEFAULT_VM_FLAGS & ~0x7fffffffull)
		TH_LOG("flags 0x%llx: bits above 30 cannot be reported",
		       DEFAULT_VM_FLAGS & ~0x7fffffffull);
	EXPECT_EQ(4, __builtin_popcountll(DEFAULT_VM_FLAGS))
		TH_LOG("two flags share a bit");
}

TEST(cap_244_on_the_system_fd_and_each_vm_type)
{
	struct kvm_vm *plain = default_vm(), *priv = private_vm_barebones();
	int r;

	r = system_check_extension(KVM_CAP_GUEST_MEMFD_FLAGS);
	EXPECT_EQ(DEFAULT_VM_FLAGS, (u64)(s64)r)
		TH_LOG("system fd: 0x%x", r);
	r = check_extension(plain->fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	EXPECT_EQ(DEFAULT_VM_FLAGS, (u64)(s64)r)
		TH_LOG("default VM: 0x%x", r);
	r = check_extension(priv->fd, KVM_CAP_GUEST_MEMFD_FLAGS);
	EXPECT_EQ(PRIVATE_VM_FLAGS, (u64)(s64)r)
		TH_LOG("SW-protected VM: 0x%x", r);

	/* What upstream's guest_memfd_test needs to take its mmap branches. */
	EXPECT_TRUE(r > 0 && (r & MMAP));
	kvm_vm_free(priv);
	kvm_vm_free(plain);
}

TEST(guest_memfd_link_and_hugepage_caps_on_each_vm_type)
{
	struct kvm_vm *plain = default_vm(), *priv = private_vm_barebones();
	const struct {
		long cap;
		int want;
		const char *name;
	} caps[] = {
		{ KVM_CAP_GUEST_MEMFD, 1, "KVM_CAP_GUEST_MEMFD" },
		{ KVM_CAP_GUEST_MEMFD_LINK, 1, "KVM_CAP_GUEST_MEMFD_LINK" },
		{ KVM_CAP_GUEST_MEMFD_HUGEPAGE, SZ_4K | SZ_2M,
		  "KVM_CAP_GUEST_MEMFD_HUGEPAGE" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		EXPECT_EQ(caps[i].want, system_check_extension(caps[i].cap))
			TH_LOG("%s on the system fd", caps[i].name);
		EXPECT_EQ(caps[i].want, check_extension(plain->fd, caps[i].cap))
			TH_LOG("%s on a default VM", caps[i].name);
		EXPECT_EQ(caps[i].want, check_extension(priv->fd, caps[i].cap))
			TH_LOG("%s on a SW-protected VM", caps[i].name);
	}
	kvm_vm_free(priv);
	kvm_vm_free(plain);
}

FIXTURE(vm_type) {
	struct kvm_vm *vm;
};

FIXTURE_VARIANT(vm_type) {
	unsigned long type;
	u64 flags;
};

FIXTURE_VARIANT_ADD(vm_type, default_vm) {
	.type = KVM_X86_DEFAULT_VM, .flags = DEFAULT_VM_FLAGS,
};

FIXTURE_VARIANT_ADD(vm_type, sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM, .flags = PRIVATE_VM_FLAGS,
};

FIXTURE_SETUP(vm_type)
{
	self->vm = vm_create_barebones_type(variant->type);
}

FIXTURE_TEARDOWN(vm_type)
{
	kvm_vm_free(self->vm);
}

/* As upstream 7.x's test_guest_memfd_flags(), against the expected flags. */
TEST_F(vm_type, create_takes_each_reported_flag_and_refuses_the_rest)
{
	int bit, fd, created = 0, first_free = next_fd();

	for (bit = 0; bit < 64; bit++) {
		u64 flag = 1ull << bit;

		errno = 0;
		fd = __vm_create_guest_memfd(self->vm, PAGE_SIZE, flag);
		if (variant->flags & flag) {
			EXPECT_LE(0, fd) TH_LOG("flag bit %d refused (%d)", bit,
						errno);
			created += fd >= 0;
		} else {
			EXPECT_EQ(-1, fd) TH_LOG("flag bit %d accepted", bit);
			EXPECT_EQ(EINVAL, errno) TH_LOG("flag bit %d", bit);
		}
		if (fd >= 0)
			close(fd);
	}
	EXPECT_EQ(__builtin_popcountll(variant->flags), created);

	fd = __vm_create_guest_memfd(self->vm, PAGE_SIZE, variant->flags);
	EXPECT_LE(0, fd) TH_LOG("all reported flags together: %d", errno);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(first_free, next_fd()) TH_LOG("an fd left behind");
}

/* MMAP: mmap() works; without it, ENODEV. */
TEST_F(vm_type, mmap_flag_makes_the_file_mappable)
{
	int with = vm_create_guest_memfd(self->vm, SZ_2M, MMAP);
	int without = vm_create_guest_memfd(self->vm, SZ_2M, 0);
	void *p;

	p = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, with, 0);
	EXPECT_NE(MAP_FAILED, p) TH_LOG("MMAP file: errno %d", errno);
	if (p != MAP_FAILED)
		munmap(p, SZ_2M);

	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
				   MAP_SHARED, without, 0));
	EXPECT_EQ(ENODEV, errno);
	close(without);
	close(with);
}

/*
 * INIT_SHARED (default VM only): user space reads zeroes and writes; a
 * file without it is private memory, and every touch is SIGBUS.
 */
TEST_F(vm_type, init_shared_flag_lets_user_space_touch_the_memory)
{
	int gmem = vm_create_guest_memfd(self->vm, SZ_2M, MMAP);
	char *p = gmem_map(gmem, SZ_2M, 0);

	EXPECT_EQ(SIGBUS, touch(p, false, 0)) TH_LOG("private memory read");
	EXPECT_EQ(SIGBUS, touch(p, true, 1)) TH_LOG("private memory written");
	munmap(p, SZ_2M);
	close(gmem);
	if (!(variant->flags & INIT_SHARED))
		return;

	gmem = vm_create_guest_memfd(self->vm, SZ_2M, SHARED_MEM);
	p = gmem_map(gmem, SZ_2M, 0);
	ASSERT_EQ(0, touch(p + 4096, false, 0));
	EXPECT_EQ(0, p[4096]);
	ASSERT_EQ(0, touch(p + 4096, true, 0x5a));
	EXPECT_EQ(0x5a, p[4096]);
	munmap(p, SZ_2M);
	close(gmem);
}

static int link_errno(struct kvm_vm *vm, int fd)
{
	int r;

	errno = 0;
	r = __vm_link_guest_memfd(vm, fd, 0);
	if (r < 0)
		return errno;
	close(r);
	return 0;
}

/*
 * LINKABLE: a VM of the same type links the file; without it, EPERM,
 * unless the file's VM enabled KVM_CAP_GUEST_MEMFD_LINK first.
 */
TEST_F(vm_type, linkable_flag_or_the_cap_gives_the_link_right)
{
	struct kvm_vm *other = vm_create_barebones_type(variant->type);
	u64 mem = variant->flags & INIT_SHARED ? SHARED_MEM : MMAP;
	int plain = vm_create_guest_memfd(self->vm, SZ_2M, mem);
	int linkable = vm_create_guest_memfd(self->vm, SZ_2M, mem | LINKABLE);
	int by_cap;

	EXPECT_EQ(EPERM, link_errno(other, plain));
	EXPECT_EQ(0, link_errno(other, linkable));

	vm_enable_gmem_link(self->vm);
	by_cap = vm_create_guest_memfd(self->vm, SZ_2M, mem);
	EXPECT_EQ(0, link_errno(other, by_cap));
	/* The cap reaches only the files created after it. */
	EXPECT_EQ(EPERM, link_errno(other, plain));

	close(by_cap);
	close(linkable);
	close(plain);
	kvm_vm_free(other);
}

/*
 * NO_HUGEPAGE: allocating one page of an aligned 2 MiB block allocates
 * that page only (st_blocks 8), where a default file allocates the block.
 */
TEST_F(vm_type, no_hugepage_flag_allocates_4k_folios)
{
	int huge = vm_create_guest_memfd(self->vm, SZ_4M, 0);
	int small = vm_create_guest_memfd(self->vm, SZ_4M, NO_HUGEPAGE);
	struct stat st;

	ASSERT_EQ(0, fallocate(huge, FALLOC_FL_KEEP_SIZE, SZ_2M, PAGE_SIZE));
	ASSERT_EQ(0, fallocate(small, FALLOC_FL_KEEP_SIZE, SZ_2M, PAGE_SIZE));
	ASSERT_EQ(0, fstat(huge, &st));
	EXPECT_EQ(SZ_2M / 512, st.st_blocks);
	ASSERT_EQ(0, fstat(small, &st));
	EXPECT_EQ(PAGE_SIZE / 512, st.st_blocks);
	close(small);
	close(huge);
}

GMEM_TEST_HARNESS_MAIN
