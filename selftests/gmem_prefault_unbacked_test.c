// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY of a GPA that no memslot backs fails with ENOENT,
 * and must leave nothing behind: once a guest_memfd memslot is bound
 * there and the page made private, a vCPU touching it runs.
 *
 * On KVM 6.12 as released it does not: the pre-fault installs an MMIO
 * SPTE for the GPA, which no later zap removes (zaps skip SPTEs that are
 * not present), and the guest's access to it takes the reserved-bit path,
 * which never counts as private.  KVM_RUN then fails with EFAULT and
 * KVM_EXIT_MEMORY_FAULT (flags 0: a shared access to a private GPA), also
 * after converting the page to shared and back.  kvm/patches/0006 fixes
 * it on the gmem variant; the reference variant keeps the bug (README).
 */
#include "gmem_test_util.h"
#include "kselftest_harness.h"

#define SIZE		PAGE_SIZE
#define PATTERN		0x676d656d70726566ull

static void guest_touch(void)
{
	u64 *mem = (u64 *)TEST_GPA;

	GUEST_ASSERT_EQ(READ_ONCE(*mem), 0);
	WRITE_ONCE(*mem, PATTERN);
	GUEST_ASSERT_EQ(READ_ONCE(*mem), PATTERN);
	GUEST_SYNC1(0);
}

/* KVM_PRE_FAULT_MEMORY of one page at TEST_GPA, where no memslot is. */
static void pre_fault_unbacked(struct __test_metadata *_metadata,
			       struct kvm_vcpu *vcpu)
{
	struct kvm_pre_fault_memory range = {
		.gpa = TEST_GPA,
		.size = PAGE_SIZE,
	};
	int r;

	errno = 0;
	r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	ASSERT_EQ(r, -1);
	ASSERT_EQ(errno, ENOENT) TH_LOG("pre-fault of an unbacked GPA");
	ASSERT_EQ(range.size, PAGE_SIZE);
}

/* Runs @vcpu: it must reach its GUEST_SYNC, with no memory fault exit. */
static void assert_guest_runs(struct __test_metadata *_metadata,
			      struct kvm_vcpu *vcpu, const char *when)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	int r;

	errno = 0;
	r = _vcpu_run(vcpu);
	ASSERT_EQ(r, 0)
		TH_LOG("%s: KVM_RUN: %s, exit reason %u%s, flags 0x%llx, gpa 0x%llx",
		       when, strerror(errno), run->exit_reason,
		       run->exit_reason == KVM_EXIT_MEMORY_FAULT ?
		       " (KVM_EXIT_MEMORY_FAULT)" : "",
		       run->memory_fault.flags, run->memory_fault.gpa);
	ASSERT_EQ(run->exit_reason, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
}

FIXTURE(prefault) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int gmem;
};

/*
 * A SW-protected VM whose vCPU will touch TEST_GPA, pre-faulted there
 * before any memslot backs it; then a guest_memfd memslot bound at
 * TEST_GPA, private.
 */
FIXTURE_SETUP(prefault)
{
	self->vm = private_vm_with_vcpu(&self->vcpu, guest_touch);
	pre_fault_unbacked(_metadata, self->vcpu);
	self->gmem = vm_create_guest_memfd(self->vm, SIZE, 0);
	add_private_mem(self->vm, SIZE, self->gmem, 0, PG_LEVEL_4K);
}

FIXTURE_TEARDOWN(prefault)
{
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(prefault, private_page_runs)
{
	assert_guest_runs(_metadata, self->vcpu, "private");
	ASSERT_EQ(gmem_allocated_kb(self->gmem), PAGE_SIZE >> 10);
}

TEST_F(prefault, private_page_runs_after_shared_and_back)
{
	vm_mem_set_shared(self->vm, TEST_GPA, SIZE);
	vm_mem_set_private(self->vm, TEST_GPA, SIZE);
	assert_guest_runs(_metadata, self->vcpu, "private, shared, private");
}

/* A pre-fault of the page once it is backed still works, and maps it. */
TEST_F(prefault, private_page_pre_faults_then_runs)
{
	pre_fault_memory(self->vcpu, TEST_GPA, SIZE);
	assert_guest_runs(_metadata, self->vcpu, "pre-faulted private");
}

/* The shared side was never broken: as shared, the page runs. */
TEST_F(prefault, shared_page_runs)
{
	vm_mem_set_shared(self->vm, TEST_GPA, SIZE);
	assert_guest_runs(_metadata, self->vcpu, "shared");
}

GMEM_TEST_HARNESS_MAIN
