// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_hugepage_test: private memory in 2 MiB folios, mapped with 2 MiB
 * pages where KVM can, and what punching and converting inside one does.
 *
 * KVM's pages_4k and pages_2m statistics say how the guest's memory is
 * mapped; /proc/meminfo's FileHugePages counts gmem's 2 MiB folios (page
 * cache THPs), Unevictable all of gmem's memory.
 */
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "gmem_test_util.h"

#define FOUR_MIB	(4 * SZ_1M)

/*
 * Like private_vm(), with the VM's choice of page sizes (0: the default)
 * and the memslot at @offset in a guest_memfd of @size + @offset bytes.
 */
static struct kvm_vm *huge_vm(struct kvm_vcpu **vcpu, u64 size, u64 offset,
			      u64 sizes, int *gmem)
{
	struct kvm_vm *vm = private_vm_with_vcpu(vcpu, guest_write_then_count);

	vcpu_args_set(*vcpu, 2, size / PAGE_SIZE, 1);
	if (sizes)
		vm_enable_cap(vm, KVM_CAP_GUEST_MEMFD_HUGEPAGE, sizes);
	*gmem = vm_create_guest_memfd(vm, size + offset, 0);
	add_private_mem(vm, size, *gmem, offset, PG_LEVEL_4K);
	return vm;
}

static int enable_sizes(struct kvm_vm *vm, u64 flags, u64 arg0, u64 arg1)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_GUEST_MEMFD_HUGEPAGE,
		.flags = flags,
		.args = { arg0, arg1 },
	};

	return __vm_ioctl(vm, KVM_ENABLE_CAP, &cap);
}

TEST(capability_reports_4k_and_2m_and_takes_a_choice)
{
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	struct kvm_vm *plain = vm_create_barebones();
	const u64 bad[][3] = {	/* flags, args[0], args[1] */
		{ 0, 0, 0 }, { 0, SZ_2M, 0 }, { 0, SZ_4K | SZ_1G, 0 },
		{ 0, SZ_4K | 1, 0 }, { 1, SZ_4K, 0 }, { 0, SZ_4K, 1 },
		{ 0, SZ_4K | BIT_ULL(40), 0 },
	};
	unsigned int i;

	ASSERT_EQ(SZ_4K | SZ_2M, kvm_check_cap(KVM_CAP_GUEST_MEMFD_HUGEPAGE));
	ASSERT_EQ(SZ_4K | SZ_2M,
		  vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_HUGEPAGE));
	/* Every VM type has guest_memfd since 6.18's uAPI, and chooses. */
	ASSERT_EQ(SZ_4K | SZ_2M,
		  vm_check_cap(plain, KVM_CAP_GUEST_MEMFD_HUGEPAGE));
	ASSERT_EQ(0, enable_sizes(plain, 0, SZ_4K, 0));

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(-1, enable_sizes(vm, bad[i][0], bad[i][1], bad[i][2]))
			TH_LOG("case %u", i);
		ASSERT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, enable_sizes(vm, 0, SZ_4K, 0));
	ASSERT_EQ(0, enable_sizes(vm, 0, SZ_4K | SZ_2M, 0));
	kvm_vm_free(plain);
	kvm_vm_free(vm);
}

/*
 * Pre-faulting 8 MiB of private memory maps it with four 2 MiB pages, in
 * four 2 MiB folios; a VM that chose 4 KiB gets 2048 4 KiB pages and no
 * huge folio.  Either way, the guest then reads and writes all of it.
 */
FIXTURE(prefault) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;
	long huge_kb;
};

FIXTURE_VARIANT(prefault) {
	u64 sizes;
	u64 offset;
	u64 pages_2m;
	u64 huge_kb;
};

FIXTURE_VARIANT_ADD(prefault, default_sizes) {
	.sizes = 0, .offset = 0, .pages_2m = 4, .huge_kb = 8192,
};

FIXTURE_VARIANT_ADD(prefault, chose_4k) {
	.sizes = SZ_4K, .offset = 0, .pages_2m = 0, .huge_kb = 0,
};

/*
 * The memslot starts 4 KiB into the file: no 2 MiB block of GPAs is one
 * folio, so KVM must map 4 KiB pages although the folios are huge (the
 * 4 KiB past the last whole 2 MiB block of the file is a 4 KiB folio).
 */
FIXTURE_VARIANT_ADD(prefault, misaligned_offset) {
	.sizes = 0, .offset = SZ_4K, .pages_2m = 0, .huge_kb = 8192,
};

/*
 * The memslot starts 1 MiB into the file: GPA and file offset agree
 * modulo 1 MiB but not 2 MiB, so 4 KiB pages again, and guest_memfd must
 * report order 0, not the order 8 they agree on, which KVM's MMU refuses
 * (a WARN under KVM_PROVE_MMU, which the test modules are built with).
 */
FIXTURE_VARIANT_ADD(prefault, misaligned_by_1m) {
	.sizes = 0, .offset = SZ_1M, .pages_2m = 0, .huge_kb = 8192,
};

FIXTURE_SETUP(prefault)
{
	self->huge_kb = meminfo_kb("FileHugePages");
	self->vm = huge_vm(&self->vcpu, 8 * SZ_1M, variant->offset,
			   variant->sizes, &self->gmem);
}

FIXTURE_TEARDOWN(prefault)
{
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(prefault, maps_2m_where_folio_and_gpa_agree)
{
	u64 k4 = vm_get_stat(self->vm, "pages_4k");
	u64 m2 = vm_get_stat(self->vm, "pages_2m");

	pre_fault_memory(self->vcpu, TEST_GPA, 8 * SZ_1M);
	EXPECT_EQ(variant->pages_2m, vm_get_stat(self->vm, "pages_2m") - m2);
	EXPECT_EQ(2048 - variant->pages_2m * 512,
		  vm_get_stat(self->vm, "pages_4k") - k4);
	EXPECT_EQ(variant->huge_kb,
		  meminfo_kb("FileHugePages") - self->huge_kb);

	/* The mappings lead to the right pages: write, then read back. */
	ASSERT_EQ(0, run_to_sync(self->vcpu));
	ASSERT_EQ(0, run_to_sync(self->vcpu));
}

/*
 * Punching 8 KiB inside a 2 MiB folio: the guest reads zeroes there and
 * its data all around; the folio is split and only the punched pages are
 * freed; the guest's next touch of the hole faults new 4 KiB pages in.
 */
TEST(punch_inside_a_2m_folio)
{
	long base = unevictable_kb(), huge = meminfo_kb("FileHugePages");
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 k4, m2;
	int gmem;

	vm = huge_vm(&vcpu, FOUR_MIB, 0, 0, &gmem);
	ASSERT_EQ(0, run_to_sync(vcpu));	/* the guest wrote every page */
	ASSERT_EQ(2, vm_get_stat(vm, "pages_2m"));
	ASSERT_EQ(4096, gmem_allocated_kb(gmem));
	ASSERT_EQ(4096, meminfo_kb("FileHugePages") - huge);
	ASSERT_LE(4096, unevictable_kb() - base);

	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       SZ_1M, 2 * PAGE_SIZE));
	/* Only the punched pages are gone; the first folio is split. */
	EXPECT_EQ(4096 - 8, gmem_allocated_kb(gmem));
	EXPECT_EQ(2048, meminfo_kb("FileHugePages") - huge);
	EXPECT_EQ(1, vm_get_stat(vm, "pages_2m"));

	k4 = vm_get_stat(vm, "pages_4k");
	m2 = vm_get_stat(vm, "pages_2m");
	expect_hole(vm, SZ_1M / PAGE_SIZE, 2);
	ASSERT_EQ(0, run_to_sync(vcpu));
	/* The guest faulted the split range back in, 4 KiB at a time. */
	EXPECT_EQ(4096, gmem_allocated_kb(gmem));
	EXPECT_EQ(m2, vm_get_stat(vm, "pages_2m"));
	EXPECT_LT(k4, vm_get_stat(vm, "pages_4k"));

	close(gmem);
	kvm_vm_free(vm);
	EXPECT_GE(0, unevictable_left_kb(base));
	EXPECT_EQ(huge, meminfo_kb("FileHugePages"));
}

/*
 * Converting one page inside a 2 MiB mapping to shared and back: the
 * mapping is broken up while the attributes are mixed and comes back once
 * they are not; the guest reads the shared page's memory (zero) while
 * shared and its own data again once private (a SW-protected VM keeps
 * private data across conversions), and every other page keeps its data
 * throughout.
 */
TEST(conversions_inside_a_2m_range)
{
	const u64 page = 300;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;

	vm = huge_vm(&vcpu, SZ_2M, 0, 0, &gmem);
	ASSERT_EQ(0, run_to_sync(vcpu));
	ASSERT_EQ(1, vm_get_stat(vm, "pages_2m"));

	vm_mem_set_shared(vm, TEST_GPA + page * PAGE_SIZE, PAGE_SIZE);
	EXPECT_EQ(0, vm_get_stat(vm, "pages_2m"));
	expect_hole(vm, page, 1);
	EXPECT_EQ(0, run_to_sync(vcpu));
	/* The shared page is the memslot's user memory. */
	EXPECT_EQ(0, *(u64 *)addr_gpa2hva(vm, TEST_GPA + page * PAGE_SIZE));

	vm_mem_set_private(vm, TEST_GPA + page * PAGE_SIZE, PAGE_SIZE);
	expect_hole(vm, 0, 0);
	EXPECT_EQ(0, run_to_sync(vcpu));
	/* Uniform again: the guest's touch of the page maps 2 MiB again. */
	EXPECT_EQ(1, vm_get_stat(vm, "pages_2m"));
	/* Still one folio: conversions do not split it. */
	EXPECT_EQ(2048, gmem_allocated_kb(gmem));

	close(gmem);
	kvm_vm_free(vm);
}

/*
 * fallocate() fills a file with 2 MiB folios where whole 2 MiB blocks fit
 * and with 4 KiB folios in the tail; punch and close give it all back.
 */
TEST(memory_returns_to_baseline_after_punch_and_close)
{
	const u64 size = 5 * SZ_1M + 3 * PAGE_SIZE;
	long base = unevictable_kb(), huge = meminfo_kb("FileHugePages");
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	int gmem = vm_create_guest_memfd(vm, size, 0);

	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, size));
	EXPECT_EQ(size / 1024, gmem_allocated_kb(gmem));
	EXPECT_EQ(4096, meminfo_kb("FileHugePages") - huge);
	EXPECT_LE((long)size / 1024 - 64, unevictable_kb() - base);

	/* One page out of each huge folio, and the whole tail. */
	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       PAGE_SIZE, PAGE_SIZE));
	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       SZ_2M + 7 * PAGE_SIZE, PAGE_SIZE));
	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       SZ_4M, size - SZ_4M));
	EXPECT_EQ(4096 - 8, gmem_allocated_kb(gmem));
	EXPECT_EQ(0, meminfo_kb("FileHugePages") - huge);

	/* The whole file: nothing is left allocated. */
	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, size));
	EXPECT_EQ(0, gmem_allocated_kb(gmem));
	EXPECT_GE(0, unevictable_left_kb(base));

	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, size));
	close(gmem);
	kvm_vm_free(vm);
	EXPECT_GE(0, unevictable_left_kb(base));
	EXPECT_EQ(huge, meminfo_kb("FileHugePages"));
}

GMEM_TEST_HARNESS_MAIN
