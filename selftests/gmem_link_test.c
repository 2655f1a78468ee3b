// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_LINK_GUEST_MEMFD: a new VM's guest_memfd on another's memory.
 * Every source here is created after its VM enabled the link right
 * (KVM_CAP_GUEST_MEMFD_LINK); gmem_link_rights_test.c tests the right.
 *
 *  - the RFC's bad input (bad fd, non-guest_memfd fd, unknown flags, the
 *    same VM, the same memory twice) is refused with EINVAL, and no fd
 *    appears;
 *  - the new file shares the inode, size and memory: nothing is copied;
 *  - a guest in the new VM reads what the old one wrote, also after the old
 *    VM is destroyed;
 *  - a hole punched through any file reaches the guests of every VM that
 *    links the memory (2 and 8 of them);
 *  - the memory goes with the last file or binding, in any order.
 */
#include <sys/syscall.h>

#include "gmem_test_util.h"
#include "kselftest_harness.h"

#define SIZE		(8ul << 20)
#define SIZE_KB		(SIZE >> 10)
#define NPAGES		(SIZE / PAGE_SIZE)

static int link_with(struct kvm_vm *vm, u64 fd, u64 flags, u64 reserved)
{
	struct kvm_link_guest_memfd args = {
		.fd = fd,
		.flags = flags,
		.reserved = { [5] = reserved },
	};

	return __vm_ioctl(vm, KVM_LINK_GUEST_MEMFD, &args);
}

TEST(capability_is_reported)
{
	struct kvm_vm *vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);

	ASSERT_EQ(kvm_check_cap(KVM_CAP_GUEST_MEMFD_LINK), 1);
	ASSERT_EQ(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_LINK), 1);
	kvm_vm_free(vm);
}

TEST(link_refuses_bad_input)
{
	struct kvm_vm *src = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	struct kvm_vm *dst = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	int gmem = vm_create_linkable_guest_memfd(src, SIZE);
	int memfd = memfd_create("not-gmem", 0);
	int fd = next_fd(), linked;
	const struct {
		struct kvm_vm *vm;
		u64 fd, flags, reserved;
		const char *what;
	} bad[] = {
		{ dst, 999, 0, 0, "a fd that is not open" },
		{ dst, -1ull, 0, 0, "fd -1" },
		{ dst, 1ull << 32, 0, 0, "fd past 32 bits" },
		{ dst, 0, 0, 0, "stdin, not a guest_memfd" },
		{ dst, memfd, 0, 0, "a plain memfd" },
		{ dst, dst->fd, 0, 0, "a VM fd" },
		{ dst, gmem, 1ull << 2, 0, "flag bit 2 (the lowest unknown)" },
		{ dst, gmem, 1ull << 63, 0, "flag bit 63" },
		{ dst, gmem, 0, 1, "reserved[5] set" },
		{ src, gmem, 0, 0, "a guest_memfd of the same VM" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(link_with(bad[i].vm, bad[i].fd, bad[i].flags,
				    bad[i].reserved), -1)
			TH_LOG("%s was accepted", bad[i].what);
		EXPECT_EQ(errno, EINVAL) TH_LOG("%s", bad[i].what);
	}
	ASSERT_EQ(next_fd(), fd) TH_LOG("a failed link left an fd behind");

	/* Once, not twice: a VM has one file on a given memory. */
	linked = vm_link_guest_memfd(dst, gmem, 0);
	errno = 0;
	EXPECT_EQ(link_with(dst, gmem, 0, 0), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("the same memory twice");
	errno = 0;
	EXPECT_EQ(link_with(dst, linked, 0, 0), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("its own linked file");

	close(linked);
	close(memfd);
	close(gmem);
	kvm_vm_free(dst);
	kvm_vm_free(src);
}

TEST(the_link_shares_the_memory_without_a_copy)
{
	struct kvm_vm *src = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	struct kvm_vm *dst = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	int gmem = vm_create_linkable_guest_memfd(src, SIZE);
	struct stat a, b;
	long base;
	int linked;

	ASSERT_EQ(fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	base = unevictable_kb();
	linked = vm_link_guest_memfd(dst, gmem, 0);
	ASSERT_NE(linked, gmem);
	/* A copy would be SIZE_KB; allow a few pages of counter noise. */
	ASSERT_LE(unevictable_kb() - base, 256) TH_LOG("linking copied memory");

	ASSERT_EQ(fstat(gmem, &a), 0);
	ASSERT_EQ(fstat(linked, &b), 0);
	EXPECT_EQ(a.st_ino, b.st_ino);
	EXPECT_EQ(a.st_size, b.st_size);
	EXPECT_EQ(b.st_blocks, SIZE / 512);

	/* A hole punched through one is a hole in the other. */
	ASSERT_EQ(fallocate(linked, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    0, SIZE / 2), 0);
	EXPECT_EQ(gmem_allocated_kb(gmem), SIZE_KB / 2);

	close(linked);
	close(gmem);
	kvm_vm_free(dst);
	kvm_vm_free(src);
}

TEST(a_linked_vm_reads_what_the_source_wrote_while_both_run)
{
	struct kvm_vcpu *vcpu_a, *vcpu_b;
	struct kvm_vm *a, *b;
	int gmem_a, gmem_b;

	a = private_vm_linkable(&vcpu_a, SIZE, &gmem_a);
	ASSERT_EQ(run_to_sync(vcpu_a), 0);
	b = private_vm_on(&vcpu_b, SIZE, gmem_a, &gmem_b);
	ASSERT_EQ(run_to_sync(vcpu_b), 0) TH_LOG("pages B did not find");
	ASSERT_EQ(run_to_sync(vcpu_a), 0) TH_LOG("pages A lost");

	close(gmem_b);
	close(gmem_a);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

TEST(link_from_a_destroyed_vm)
{
	long base = unevictable_kb();
	struct kvm_vcpu *vcpu_a, *vcpu_b;
	struct kvm_vm *a, *b;
	int gmem_a, gmem_b;

	a = private_vm_linkable(&vcpu_a, SIZE, &gmem_a);
	ASSERT_EQ(run_to_sync(vcpu_a), 0);
	kvm_vm_free(a);

	b = private_vm_on(&vcpu_b, SIZE, gmem_a, &gmem_b);
	close(gmem_a);
	ASSERT_EQ(run_to_sync(vcpu_b), 0) TH_LOG("pages lost with VM A");
	ASSERT_GE(unevictable_kb() - base, SIZE_KB - 256);

	close(gmem_b);
	kvm_vm_free(b);
	ASSERT_LE(unevictable_left_kb(base), 0) TH_LOG("memory left behind");
}

/* N VMs on one memory; a hole punched through the last reaches them all. */
FIXTURE(fan_out) {
	struct kvm_vm *vm[8];
	struct kvm_vcpu *vcpu[8];
	int gmem[8];
	long base_kb;
};

FIXTURE_VARIANT(fan_out) {
	int nr_vms;
};

FIXTURE_VARIANT_ADD(fan_out, two_vms) { .nr_vms = 2 };
FIXTURE_VARIANT_ADD(fan_out, eight_vms) { .nr_vms = 8 };

FIXTURE_SETUP(fan_out)
{
	int i;

	self->base_kb = unevictable_kb();
	self->vm[0] = private_vm_linkable(&self->vcpu[0], SIZE, &self->gmem[0]);
	ASSERT_EQ(run_to_sync(self->vcpu[0]), 0);
	for (i = 1; i < variant->nr_vms; i++)
		self->vm[i] = private_vm_on(&self->vcpu[i], SIZE,
					    self->gmem[0], &self->gmem[i]);
}

FIXTURE_TEARDOWN(fan_out)
{
	int i;

	for (i = 0; i < variant->nr_vms; i++) {
		close(self->gmem[i]);
		kvm_vm_free(self->vm[i]);
	}
	EXPECT_LE(unevictable_left_kb(self->base_kb), 0)
		TH_LOG("memory left behind");
}

TEST_F(fan_out, a_punch_through_any_file_zeroes_the_range_in_every_vm)
{
	int i, last = variant->nr_vms - 1;

	for (i = 0; i < variant->nr_vms; i++)
		ASSERT_EQ(run_to_sync(self->vcpu[i]), 0) TH_LOG("VM %d", i);

	ASSERT_EQ(fallocate(self->gmem[last],
			    FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    16 * PAGE_SIZE, 32 * PAGE_SIZE), 0);
	for (i = 0; i < variant->nr_vms; i++) {
		expect_hole(self->vm[i], 16, 32);
		EXPECT_EQ(run_to_sync(self->vcpu[i]), 0)
			TH_LOG("VM %d: pages not zero in the hole or lost around it",
			       i);
	}
}

/*
 * The memory goes with the last of four references (A's fd and VM, B's fd
 * and VM), in every one of their 24 orders.
 */
enum reference { FD_A, VM_A, FD_B, VM_B, NR_REFS };

static void swap_int(int *a, int *b)
{
	int t = *a;

	*a = *b;
	*b = t;
}

/* The next permutation of @order in lexicographic order; false after the last. */
static bool next_order(int *order, int n)
{
	int i = n - 2, j = n - 1;

	while (i >= 0 && order[i] > order[i + 1])
		i--;
	if (i < 0)
		return false;
	while (order[j] < order[i])
		j--;
	swap_int(&order[i], &order[j]);
	for (i++, j = n - 1; i < j; i++, j--)
		swap_int(&order[i], &order[j]);
	return true;
}

TEST(memory_goes_with_the_last_reference_in_every_order)
{
	int order[NR_REFS] = { FD_A, VM_A, FD_B, VM_B };
	int orders = 0;

	do {
		long base = unevictable_kb();
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm[2];
		int gmem[2], i;

		vm[0] = private_vm_linkable(&vcpu, SIZE, &gmem[0]);
		ASSERT_EQ(run_to_sync(vcpu), 0);
		vm[1] = private_vm_on(&vcpu, SIZE, gmem[0], &gmem[1]);

		for (i = 0; i < NR_REFS; i++) {
			if (order[i] == FD_A || order[i] == FD_B)
				close(gmem[order[i] == FD_B]);
			else
				kvm_vm_free(vm[order[i] == VM_B]);
			if (i < NR_REFS - 1)
				ASSERT_GE(unevictable_kb() - base, SIZE_KB - 256)
					TH_LOG("order %d: freed at step %d",
					       orders, i);
		}
		ASSERT_LE(unevictable_left_kb(base), 0)
			TH_LOG("order %d: memory left behind", orders);
		orders++;
	} while (next_order(order, NR_REFS));
	ASSERT_EQ(orders, 24);
}

GMEM_TEST_HARNESS_MAIN
