// SPDX-License-Identifier: GPL-2.0
/*
 * shutdown_diag.h tells the two kinds of triple fault apart: memory of the
 * guest's that changed under it (shown, and the replay shuts down too), and
 * a shutdown that memory does not explain (the replay reaches its sync).
 * Each case makes one on purpose.
 */
#include "kselftest_harness.h"

#include "gmem_test_util.h"
#include "shutdown_diag.h"

/* A triple fault: no IDT, then an exception. */
static void guest_triple_fault(void)
{
	struct desc_ptr idt = {};

	__asm__ __volatile__("lidt %0" : : "m"(idt));
	__asm__ __volatile__("ud2");
}

static void guest_sync_then_walk_again(void)
{
	GUEST_SYNC1(0);
	/* Drop the TLB: the next fetch walks the page tables. */
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(get_cr3()) : "memory");
	GUEST_SYNC1(1);
}

TEST(a_changed_page_table_is_shown_and_the_replay_shuts_down_too)
{
	struct shutdown_diag diag;
	struct shutdown_report rep;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	bool found = false;
	u64 i;

	vm = vm_create_with_one_vcpu(&vcpu, guest_sync_then_walk_again);
	shutdown_diag_save(&diag, vm, vcpu);
	ASSERT_EQ(0, run_to_sync(vcpu));

	/* A stray write: the top-level page table, gone. */
	memset(addr_gpa2hva(vm, vm->pgd), 0, PAGE_SIZE);
	vcpu_run(vcpu);
	ASSERT_EQ(KVM_EXIT_SHUTDOWN, vcpu->run->exit_reason);

	rep = shutdown_diag_explain(&diag, vm, vcpu, "# ");
	for (i = 0; i < min_t(u64, rep.pages, SHUTDOWN_DIAG_MAX_PAGES); i++)
		found |= rep.gpa[i] == vm->pgd;
	EXPECT_TRUE(found);
	EXPECT_NE(UCALL_SYNC, rep.replay_ucall);
	EXPECT_EQ(KVM_EXIT_SHUTDOWN, vcpu->run->exit_reason);

	shutdown_diag_free(&diag);
	kvm_vm_free(vm);
}

static u64 shut_down_before;

static void guest_triple_fault_once(void)
{
	if (!READ_ONCE(shut_down_before)) {
		WRITE_ONCE(shut_down_before, 1);
		guest_triple_fault();
	}
	GUEST_SYNC1(0);
}

TEST(a_shutdown_memory_does_not_explain_replays_to_its_sync)
{
	u64 flag_page, i, others = 0;
	struct shutdown_diag diag;
	struct shutdown_report rep;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	vm = vm_create_with_one_vcpu(&vcpu, guest_triple_fault_once);
	shutdown_diag_save(&diag, vm, vcpu);
	vcpu_run(vcpu);
	ASSERT_EQ(KVM_EXIT_SHUTDOWN, vcpu->run->exit_reason);

	rep = shutdown_diag_explain(&diag, vm, vcpu, "# ");
	EXPECT_EQ(UCALL_SYNC, rep.replay_ucall);

	/* What changed is the flag's page, and maybe the stack. */
	flag_page = align_down(addr_gva2gpa(vm, (vm_vaddr_t)&shut_down_before),
			       PAGE_SIZE);
	ASSERT_GE(SHUTDOWN_DIAG_MAX_PAGES, rep.pages);
	for (i = 0; i < rep.pages; i++)
		others += rep.gpa[i] != flag_page && rep.gpa[i] != diag.stack_gpa;
	EXPECT_NE(0, rep.pages);
	EXPECT_EQ(0, others);

	shutdown_diag_free(&diag);
	kvm_vm_free(vm);
}

GMEM_TEST_HARNESS_MAIN
