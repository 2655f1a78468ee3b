// SPDX-License-Identifier: GPL-2.0
/*
 * A default VM (KVM_X86_DEFAULT_VM) running on guest_memfd alone: its
 * memslot is on a guest_memfd of shared memory (MMAP | INIT_SHARED), so
 * every guest fault is served from the file, never from the memslot's
 * userspace_addr (0 here, or memory that is not the file's):
 *
 *  - the guest finds the memory zeroed, and what it writes is what the
 *    host reads through its mapping of the file, and the other way round;
 *  - KVM maps it with 2 MiB pages (pages_2m, one per 2 MiB block) where
 *    the file's folios are 2 MiB and the GPA and file offset agree modulo
 *    2 MiB; with 4 KiB pages where they do not, or with NO_HUGEPAGE;
 *  - a hole punched through another VM's linked file zaps this guest's
 *    mappings as well as the other guest's: both read zeroes there, and
 *    everything else as before.
 */
#include "gmem_mmap_util.h"
#include "kselftest_harness.h"

#define SIZE		SZ_8M
#define NR_WORDS	WORDS(SIZE)
#define JUNK		0xa5

enum hva { HVA_ZERO, HVA_JUNK, HVA_FILE };

FIXTURE(gmem_only) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;
	u64 *mem;	/* the host's mapping of the memslot's range */
	char *junk;
};

FIXTURE_VARIANT(gmem_only) {
	enum hva hva;
	u64 size, flags, offset, file_size, pages_2m;
	long allocated_kb;
};

/* userspace_addr 0. */
FIXTURE_VARIANT_ADD(gmem_only, hva_zero) {
	.hva = HVA_ZERO, .size = SIZE, .flags = SHARED_MEM, .offset = 0, .file_size = SIZE,
	.pages_2m = SIZE / SZ_2M, .allocated_kb = SIZE / 1024,
};

/* userspace_addr: anonymous memory full of JUNK, never the guest's. */
FIXTURE_VARIANT_ADD(gmem_only, hva_junk) {
	.hva = HVA_JUNK, .size = SIZE, .flags = SHARED_MEM, .offset = 0, .file_size = SIZE,
	.pages_2m = SIZE / SZ_2M, .allocated_kb = SIZE / 1024,
};

/* userspace_addr: the host's own mapping of the file, as a VMM would. */
FIXTURE_VARIANT_ADD(gmem_only, hva_file) {
	.hva = HVA_FILE, .size = SIZE, .flags = SHARED_MEM, .offset = 0, .file_size = SIZE,
	.pages_2m = SIZE / SZ_2M, .allocated_kb = SIZE / 1024,
};

/* The memslot 2 MiB into a larger file: GPA and offset still agree. */
FIXTURE_VARIANT_ADD(gmem_only, offset_2m) {
	.hva = HVA_ZERO, .size = SIZE, .flags = SHARED_MEM, .offset = SZ_2M,
	.file_size = SIZE + SZ_4M, .pages_2m = SIZE / SZ_2M,
	.allocated_kb = SIZE / 1024,
};

/* 4 KiB into the file: no 2 MiB block of GPAs is one folio. */
FIXTURE_VARIANT_ADD(gmem_only, offset_4k) {
	.hva = HVA_ZERO, .size = SIZE, .flags = SHARED_MEM, .offset = SZ_4K,
	.file_size = SIZE + SZ_4K, .pages_2m = 0,
	.allocated_kb = SIZE / 1024 + 4,
};

/* The memslot ends 1 MiB into the last block: that one is not 2 MiB. */
FIXTURE_VARIANT_ADD(gmem_only, slot_ends_inside_a_block) {
	.hva = HVA_ZERO, .size = SIZE - SZ_1M, .flags = SHARED_MEM,
	.offset = 0, .file_size = SIZE, .pages_2m = SIZE / SZ_2M - 1,
	.allocated_kb = SIZE / 1024,
};

FIXTURE_VARIANT_ADD(gmem_only, no_hugepage) {
	.hva = HVA_ZERO, .size = SIZE, .flags = SHARED_MEM | NO_HUGEPAGE, .offset = 0,
	.file_size = SIZE, .pages_2m = 0, .allocated_kb = SIZE / 1024,
};

FIXTURE_SETUP(gmem_only)
{
	void *hva = NULL;

	self->vm = default_vm_with_vcpu(&self->vcpu, variant->size);
	self->gmem = vm_create_guest_memfd(self->vm, variant->file_size,
					   variant->flags);
	self->mem = gmem_map(self->gmem, variant->size, variant->offset);
	self->junk = mmap(NULL, variant->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->junk);
	memset(self->junk, JUNK, variant->size);
	if (variant->hva == HVA_JUNK)
		hva = self->junk;
	else if (variant->hva == HVA_FILE)
		hva = self->mem;
	add_gmem_slot(self->vm, variant->size, hva, self->gmem,
		      variant->offset);
}

FIXTURE_TEARDOWN(gmem_only)
{
	munmap(self->junk, variant->size);
	munmap(self->mem, variant->size);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(gmem_only, the_guest_runs_on_the_file_and_maps_2m_pages)
{
	u64 m2 = vm_get_stat(self->vm, "pages_2m");
	struct layout l;
	u64 i, junk_left = 0;

	/* The guest touches the memory first: zeroes, not the junk. */
	layout_init(&l, 0);
	ASSERT_EQ(0, guest_do(self->vm, self->vcpu, &l, false))
		TH_LOG("words not zero in new memory");
	layout_init(&l, 1);
	ASSERT_EQ(0, guest_do(self->vm, self->vcpu, &l, true));
	EXPECT_EQ(variant->pages_2m, vm_get_stat(self->vm, "pages_2m") - m2);

	/* The host sees the guest's writes through the file... */
	EXPECT_EQ(0, bad_words(self->mem, &l, WORDS(variant->size)));

	/* ...and the guest the host's, across a 2 MiB boundary. */
	layout_add(&l, 3 * SZ_1M, SZ_2M, 2);
	fill_words(self->mem, &l, WORDS(3 * SZ_1M), WORDS(5 * SZ_1M));
	EXPECT_EQ(0, guest_do(self->vm, self->vcpu, &l, false));

	/* Nobody wrote to the memslot's userspace_addr. */
	for (i = 0; i < variant->size; i++)
		junk_left += self->junk[i] == (char)JUNK;
	EXPECT_EQ(variant->size, junk_left);
	EXPECT_EQ(variant->allocated_kb, gmem_allocated_kb(self->gmem));
}

/*
 * VM A runs on a linkable guest_memfd; VM B, another VMM's, on a link of
 * it.  Both map it with 2 MiB pages.  A hole punched through B's file,
 * 64 KiB inside the second 2 MiB block and the whole fourth block, reads
 * zero in both guests and through A's mapping; the rest is unchanged.
 */
TEST(a_punch_through_a_linked_file_zaps_both_guests)
{
	struct kvm_vcpu *vcpu_a, *vcpu_b;
	struct kvm_vm *a, *b;
	int gmem_a, gmem_b;
	struct layout l;
	u64 *mem;

	a = default_vm_with_vcpu(&vcpu_a, SIZE);
	gmem_a = vm_create_guest_memfd(a, SIZE, SHARED_MEM | LINKABLE);
	add_gmem_slot(a, SIZE, NULL, gmem_a, 0);
	layout_init(&l, 1);
	ASSERT_EQ(0, guest_do(a, vcpu_a, &l, true));
	EXPECT_EQ(SIZE / SZ_2M, vm_get_stat(a, "pages_2m"));

	b = default_vm_with_vcpu(&vcpu_b, SIZE);
	gmem_b = vm_link_guest_memfd(b, gmem_a, 0);
	add_gmem_slot(b, SIZE, NULL, gmem_b, 0);
	ASSERT_EQ(0, guest_do(b, vcpu_b, &l, false))
		TH_LOG("B's guest does not find A's guest's writes");
	EXPECT_EQ(SIZE / SZ_2M, vm_get_stat(b, "pages_2m"));

	ASSERT_EQ(0, fallocate(gmem_b, PUNCH_HOLE, SZ_2M + SZ_1M, SZ_64K));
	ASSERT_EQ(0, fallocate(gmem_b, PUNCH_HOLE, 3 * SZ_2M, SZ_2M));
	layout_add(&l, SZ_2M + SZ_1M, SZ_64K, 0);
	layout_add(&l, 3 * SZ_2M, SZ_2M, 0);
	EXPECT_EQ(0, guest_do(a, vcpu_a, &l, false))
		TH_LOG("A's guest was not zapped");
	EXPECT_EQ(0, guest_do(b, vcpu_b, &l, false))
		TH_LOG("B's guest was not zapped");
	mem = gmem_map(gmem_a, SIZE, 0);
	EXPECT_EQ(0, bad_words(mem, &l, NR_WORDS));

	/*
	 * The split block comes back in 4 KiB pages, the whole punched one
	 * as a new 2 MiB folio: three 2 MiB mappings in each VM.
	 */
	EXPECT_EQ(SIZE / SZ_2M - 1, vm_get_stat(a, "pages_2m"));
	EXPECT_EQ(SIZE / SZ_2M - 1, vm_get_stat(b, "pages_2m"));

	munmap(mem, SIZE);
	close(gmem_b);
	close(gmem_a);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

GMEM_TEST_HARNESS_MAIN
