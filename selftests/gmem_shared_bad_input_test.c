// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to guest_memfd's shared memory, each refused with its error
 * and nothing changed:
 *
 *  - creation flags a VM type does not take (INIT_SHARED on a VM with
 *    private memory), bits nobody defined, alone and beside valid ones:
 *    EINVAL, and no fd;
 *  - mmap() of a file created without MMAP (linked ones too): ENODEV;
 *    MAP_PRIVATE: EINVAL; PROT_EXEC: EPERM (the memory's mount is
 *    noexec): no mapping appears;
 *  - mprotect(PROT_EXEC) of a mapping: EACCES; MADV_COLLAPSE: EINVAL: the
 *    mapping keeps its protection, contents and page sizes;
 *  - a guest_memfd memslot with dirty logging or read-only: EINVAL, on
 *    either VM type: no memslot appears;
 *  - linking shared memory (INIT_SHARED) into a VM with private memory:
 *    EINVAL: no fd, and the memory still links into a VM that can take it.
 */
#include "gmem_mmap_util.h"
#include "kselftest_harness.h"

#define SIZE	SZ_4M

/* errno of a KVM_CREATE_GUEST_MEMFD expected to fail; 0 if it succeeded. */
static int create_errno(struct kvm_vm *vm, u64 flags)
{
	int fd;

	errno = 0;
	fd = __vm_create_guest_memfd(vm, SIZE, flags);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

FIXTURE(vm_type) {
	struct kvm_vm *vm;
};

FIXTURE_VARIANT(vm_type) {
	unsigned long type;
	u64 valid;
};

FIXTURE_VARIANT_ADD(vm_type, default_vm) {
	.type = KVM_X86_DEFAULT_VM, .valid = DEFAULT_VM_FLAGS,
};

FIXTURE_VARIANT_ADD(vm_type, sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM, .valid = PRIVATE_VM_FLAGS,
};

FIXTURE_SETUP(vm_type)
{
	self->vm = vm_create_barebones_type(variant->type);
}

FIXTURE_TEARDOWN(vm_type)
{
	kvm_vm_free(self->vm);
}

TEST_F(vm_type, create_refuses_flags_the_vm_type_does_not_take)
{
	const u64 unknown[] = {
		1ull << 2, 1ull << 3, 1ull << 30, 1ull << 31, 1ull << 32,
		1ull << 61,
	};
	const u64 private_only_bad[] = {
		INIT_SHARED, SHARED_MEM, SHARED_MEM | LINKABLE,
		INIT_SHARED | NO_HUGEPAGE, DEFAULT_VM_FLAGS,
	};
	int i, first_free = next_fd();

	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		if (unknown[i] & DEFAULT_VM_FLAGS)
			continue;	/* a flag of gmem's own, taken */
		EXPECT_EQ(EINVAL, create_errno(self->vm, unknown[i]))
			TH_LOG("flags 0x%lx", unknown[i]);
		EXPECT_EQ(EINVAL, create_errno(self->vm, unknown[i] | MMAP))
			TH_LOG("flags MMAP | 0x%lx", unknown[i]);
		EXPECT_EQ(EINVAL, create_errno(self->vm,
					       unknown[i] | variant->valid))
			TH_LOG("flags all valid | 0x%lx", unknown[i]);
	}
	for (i = 0; i < ARRAY_SIZE(private_only_bad); i++) {
		if (variant->type != KVM_X86_SW_PROTECTED_VM)
			break;
		EXPECT_EQ(EINVAL, create_errno(self->vm, private_only_bad[i]))
			TH_LOG("flags 0x%lx on a private VM",
			       private_only_bad[i]);
	}
	EXPECT_EQ(first_free, next_fd()) TH_LOG("a refused create left an fd");

	/* The VM still creates what it takes. */
	EXPECT_EQ(0, create_errno(self->vm, variant->valid));
}

/* MMAP missing: ENODEV, whatever else the file has. */
TEST_F(vm_type, mmap_without_the_mmap_flag_is_enodev)
{
	u64 flags[] = { 0, LINKABLE, NO_HUGEPAGE, INIT_SHARED };
	struct kvm_vm *other = vm_create_barebones_type(variant->type);
	int i, n = nr_vmas();

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		int gmem, linked = -1;

		if (flags[i] & ~variant->valid)
			continue;
		gmem = vm_create_guest_memfd(self->vm, SIZE,
					     flags[i] | LINKABLE);
		if (flags[i] == LINKABLE)	/* and its link */
			linked = vm_link_guest_memfd(other, gmem, 0);
		errno = 0;
		EXPECT_EQ(MAP_FAILED, mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
					   MAP_SHARED, gmem, 0));
		EXPECT_EQ(ENODEV, errno) TH_LOG("flags 0x%lx", flags[i]);
		if (linked >= 0) {
			errno = 0;
			EXPECT_EQ(MAP_FAILED, mmap(NULL, SIZE, PROT_READ,
						   MAP_SHARED, linked, 0));
			EXPECT_EQ(ENODEV, errno) TH_LOG("the linked file");
			close(linked);
		}
		EXPECT_EQ(0, gmem_allocated_kb(gmem));
		close(gmem);
	}
	EXPECT_EQ(n, nr_vmas()) TH_LOG("a refused mmap() left a mapping");
	kvm_vm_free(other);
}

/*
 * A file of shared memory (on a default VM) or of private memory (MMAP
 * alone, on either VM type), a mapping of it with a pattern written in
 * where the memory is shared, and what each refusal must leave as it was.
 */
struct mapping {
	int gmem;
	u64 *mem;
	u64 flags;
	struct layout pattern;
	long allocated_kb, pmd_kb;
	int vmas;
};

FIXTURE(mapped) {
	struct kvm_vm *vm;
	struct mapping m;
};

FIXTURE_VARIANT(mapped) {
	unsigned long type;
	u64 flags;
};

FIXTURE_VARIANT_ADD(mapped, shared) {
	.type = KVM_X86_DEFAULT_VM, .flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mapped, shared_no_hugepage) {
	.type = KVM_X86_DEFAULT_VM, .flags = SHARED_MEM | NO_HUGEPAGE,
};

FIXTURE_VARIANT_ADD(mapped, private_on_sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM, .flags = MMAP,
};

FIXTURE_SETUP(mapped)
{
	struct mapping *m = &self->m;

	self->vm = vm_create_barebones_type(variant->type);
	m->flags = variant->flags;
	m->gmem = vm_create_guest_memfd(self->vm, SIZE, m->flags);
	m->mem = gmem_map(m->gmem, SIZE, 0);
	layout_init(&m->pattern, 7);
	if (m->flags & INIT_SHARED)
		fill_words(m->mem, &m->pattern, 0, WORDS(SIZE));
	m->allocated_kb = gmem_allocated_kb(m->gmem);
	m->pmd_kb = smaps_kb(m->mem, "FilePmdMapped");
	m->vmas = nr_vmas();
}

FIXTURE_TEARDOWN(mapped)
{
	munmap(self->m.mem, SIZE);
	close(self->m.gmem);
	kvm_vm_free(self->vm);
}

/* The mapping and the file are as the fixture left them. */
static void assert_unchanged(struct __test_metadata *_metadata,
			     const struct mapping *m)
{
	char perms[5];
	u64 bad;

	EXPECT_EQ(m->vmas, nr_vmas()) TH_LOG("mappings came or went");
	vma_perms(m->mem, perms);
	EXPECT_STREQ("rw-s", perms);
	EXPECT_EQ(m->pmd_kb, smaps_kb(m->mem, "FilePmdMapped"));
	EXPECT_EQ(m->allocated_kb, gmem_allocated_kb(m->gmem));
	/* Shared memory keeps its words; private memory stays SIGBUS. */
	if (m->flags & INIT_SHARED)
		bad = bad_words(m->mem, &m->pattern, WORDS(SIZE));
	else
		bad = touch((char *)m->mem, false, 0) != SIGBUS;
	EXPECT_EQ(0, bad);
}

TEST_F(mapped, map_private_is_einval)
{
	const int prot[] = { PROT_READ, PROT_READ | PROT_WRITE };
	int i;

	for (i = 0; i < ARRAY_SIZE(prot); i++) {
		errno = 0;
		EXPECT_EQ(MAP_FAILED, mmap(NULL, SIZE, prot[i], MAP_PRIVATE,
					   self->m.gmem, 0));
		EXPECT_EQ(EINVAL, errno) TH_LOG("prot 0x%x", prot[i]);
	}
	assert_unchanged(_metadata, &self->m);
}

TEST_F(mapped, prot_exec_is_eperm)
{
	const int prot[] = {
		PROT_EXEC, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(prot); i++) {
		errno = 0;
		EXPECT_EQ(MAP_FAILED, mmap(NULL, SIZE, prot[i], MAP_SHARED,
					   self->m.gmem, 0));
		EXPECT_EQ(EPERM, errno) TH_LOG("prot 0x%x", prot[i]);
	}
	assert_unchanged(_metadata, &self->m);
}

TEST_F(mapped, mprotect_exec_is_eacces)
{
	const int prot[] = {
		PROT_EXEC, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(prot); i++) {
		errno = 0;
		EXPECT_EQ(-1, mprotect(self->m.mem, SIZE, prot[i]));
		EXPECT_EQ(EACCES, errno) TH_LOG("prot 0x%x", prot[i]);
		errno = 0;
		EXPECT_EQ(-1, mprotect(self->m.mem, PAGE_SIZE, prot[i]));
		EXPECT_EQ(EACCES, errno) TH_LOG("one page, prot 0x%x", prot[i]);
	}
	errno = 0;
	assert_unchanged(_metadata, &self->m);
	/* Shared memory can still be written. */
	EXPECT_EQ(0, variant->flags & INIT_SHARED ?
		     touch((char *)self->m.mem, true, 0x11) : 0);
}

TEST_F(mapped, madvise_collapse_is_einval)
{
	errno = 0;
	EXPECT_EQ(-1, madvise(self->m.mem, SIZE, MADV_COLLAPSE));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, madvise(self->m.mem, SZ_2M, MADV_COLLAPSE));
	EXPECT_EQ(EINVAL, errno) TH_LOG("one 2 MiB block");
	assert_unchanged(_metadata, &self->m);
}

/*
 * Dirty logging and read-only memslots are refused on guest_memfd, on
 * either VM type and whatever the file: no memslot appears, so that the
 * same slot, guest range and file range then bind.
 */
FIXTURE(memslot) {
	struct kvm_vm *vm;
	int gmem;
	void *hva;
};

FIXTURE_VARIANT(memslot) {
	unsigned long type;
	u64 flags;
};

FIXTURE_VARIANT_ADD(memslot, default_vm_shared_memory) {
	.type = KVM_X86_DEFAULT_VM, .flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(memslot, default_vm_unmappable_file) {
	.type = KVM_X86_DEFAULT_VM, .flags = 0,
};

FIXTURE_VARIANT_ADD(memslot, sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM, .flags = MMAP,
};

FIXTURE_SETUP(memslot)
{
	self->vm = vm_create_barebones_type(variant->type);
	self->gmem = vm_create_guest_memfd(self->vm, SIZE, variant->flags);
	self->hva = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->hva);
}

FIXTURE_TEARDOWN(memslot)
{
	munmap(self->hva, SIZE);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

static int bind(FIXTURE_DATA(memslot) * self, u32 slot, u32 flags, u64 gpa)
{
	errno = 0;
	return __vm_set_user_memory_region2(self->vm, slot,
					    KVM_MEM_GUEST_MEMFD | flags, gpa,
					    SIZE, self->hva, self->gmem, 0);
}

TEST_F(memslot, dirty_logging_and_read_only_are_einval)
{
	const u32 bad[] = {
		KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY,
		KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, bind(self, TEST_SLOT, bad[i], TEST_GPA));
		EXPECT_EQ(EINVAL, errno) TH_LOG("flags 0x%x", bad[i]);
	}
	EXPECT_EQ(0, bind(self, TEST_SLOT, 0, TEST_GPA)) TH_LOG("errno %d",
								errno);
	/* It did bind: the file's range is now taken. */
	EXPECT_EQ(-1, bind(self, TEST_SLOT + 1, 0, 2 * TEST_GPA));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(0, gmem_allocated_kb(self->gmem));
}

/*
 * Shared memory on a default VM, with the link right: a VM with private
 * memory cannot link it (EINVAL, whatever the link's flags), and nothing
 * changes: no fd, the memory's contents stay, a default VM still links
 * it and maps the same pages, and the private VM still links memory it
 * can take.
 */
TEST(linking_shared_memory_into_a_private_vm_is_einval)
{
	const u64 link_flags[] = {
		0, KVM_LINK_GUEST_MEMFD_NO_FALLOCATE,
		KVM_LINK_GUEST_MEMFD_NO_LINK,
	};
	struct kvm_vm *src = default_vm(), *priv = private_vm_barebones();
	struct kvm_vm *plain = default_vm(), *priv_src = private_vm_barebones();
	int gmem = vm_create_guest_memfd(src, SIZE, SHARED_MEM | LINKABLE);
	int i, linked, first_free;
	struct layout l;
	u64 *mem;

	mem = gmem_map(gmem, SIZE, 0);
	layout_init(&l, 8);
	fill_words(mem, &l, 0, WORDS(SIZE));
	first_free = next_fd();

	for (i = 0; i < ARRAY_SIZE(link_flags); i++) {
		errno = 0;
		EXPECT_EQ(-1, __vm_link_guest_memfd(priv, gmem, link_flags[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("link flags 0x%lx",
						link_flags[i]);
	}
	EXPECT_EQ(first_free, next_fd()) TH_LOG("a refused link left an fd");
	EXPECT_EQ(0, bad_words(mem, &l, WORDS(SIZE)));
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(gmem));
	munmap(mem, SIZE);

	linked = vm_link_guest_memfd(plain, gmem, 0);
	mem = gmem_map(linked, SIZE, 0);
	EXPECT_EQ(0, bad_words(mem, &l, WORDS(SIZE)));
	munmap(mem, SIZE);
	close(linked);

	close(gmem);
	gmem = vm_create_guest_memfd(priv_src, SIZE, MMAP | LINKABLE);
	linked = vm_link_guest_memfd(priv, gmem, 0);
	close(linked);
	close(gmem);
	kvm_vm_free(priv_src);
	kvm_vm_free(plain);
	kvm_vm_free(priv);
	kvm_vm_free(src);
}

GMEM_TEST_HARNESS_MAIN
