// SPDX-License-Identifier: GPL-2.0
/*
 * Intra-host migration end to end, across processes: process A runs a
 * private-memory VM whose vCPU writes a pattern over every word of its
 * guest_memfd, created with the link right (KVM_CAP_GUEST_MEMFD_LINK), and
 * sends the fd to process B over a unix socket
 * (SCM_RIGHTS).  B creates its VM, links the memory (KVM_LINK_GUEST_MEMFD),
 * creates the same memslot and memory attributes, and tells A.  A then
 * destroys its VM and exits, or is killed with SIGKILL.  B's vCPU checks
 * every word.  The guest kernel's unevictable memory shows that nothing
 * was copied and nothing freed on the way.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gmem_test_util.h"
#include "scm_rights.h"
#include "kselftest_harness.h"

#define SIZE		(16ul << 20)
#define SIZE_KB		(SIZE >> 10)
#define WORDS		(SIZE / sizeof(u64))

/* Guest: if @write, fill every word; report the words that differ. */
static void guest_fill_or_check(u64 write)
{
	u64 *mem = (u64 *)TEST_GPA;
	u64 i, bad = 0;

	if (write)
		for (i = 0; i < WORDS; i++)
			WRITE_ONCE(mem[i], page_pattern(i));
	for (i = 0; i < WORDS; i++)
		bad += READ_ONCE(mem[i]) != page_pattern(i);
	GUEST_SYNC1(bad);
}

/* A VM whose vCPU runs guest_fill_or_check(@write). */
static struct kvm_vm *vm_with_vcpu(struct kvm_vcpu **vcpu, bool write)
{
	struct kvm_vm *vm = private_vm_with_vcpu(vcpu, guest_fill_or_check);

	vcpu_args_set(*vcpu, 1, write);
	return vm;
}

/* Process A: write the memory, hand it over, then go as told. */
static void source(int sock, bool wait_for_kill)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char byte;
	int gmem;

	vm = vm_with_vcpu(&vcpu, true);
	/* A grants the right to link the memory before creating it. */
	vm_enable_gmem_link(vm);
	gmem = vm_create_guest_memfd(vm, SIZE, 0);
	/* The same memslot and attributes in either VM: what a VMM recreates. */
	add_private_mem(vm, SIZE, gmem, 0, PG_LEVEL_4K);
	TEST_ASSERT(run_to_sync(vcpu) == 0, "process A's guest found its writes changed");

	send_fd(sock, gmem);
	TEST_ASSERT(read(sock, &byte, 1) == 1, "waiting for the destination");
	if (wait_for_kill)
		for (;;)
			pause();
	close(gmem);
	kvm_vm_free(vm);
	_exit(0);
}

FIXTURE(handover) {
	int sock[2];
};

FIXTURE_VARIANT(handover) {
	bool kill_source;
};

FIXTURE_VARIANT_ADD(handover, source_exits) { .kill_source = false };
FIXTURE_VARIANT_ADD(handover, source_killed) { .kill_source = true };

FIXTURE_SETUP(handover)
{
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, self->sock), 0);
}

FIXTURE_TEARDOWN(handover)
{
	close(self->sock[0]);
	close(self->sock[1]);
}

TEST_F(handover, every_word_survives_and_nothing_is_copied)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *probe, *vm;
	long base, written, linked;
	int status, fd, gmem;
	bool ended_as_told;
	pid_t pid;

	base = unevictable_kb();
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(self->sock[0]);
		source(self->sock[1], variant->kill_source);
	}

	/* Process B; each keeps only its end, to see the other fail early. */
	close(self->sock[1]);
	self->sock[1] = -1;
	fd = recv_fd(self->sock[0]);
	written = unevictable_kb() - base;
	ASSERT_GE(written, SIZE_KB - 256) TH_LOG("A's memory is not there");

	probe = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	ASSERT_EQ(vm_check_cap(probe, KVM_CAP_GUEST_MEMFD_LINK), 1);
	kvm_vm_free(probe);

	vm = vm_with_vcpu(&vcpu, false);
	gmem = vm_link_guest_memfd(vm, fd, 0);
	close(fd);
	add_private_mem(vm, SIZE, gmem, 0, PG_LEVEL_4K);
	linked = unevictable_kb() - base;
	/* A copy would be SIZE_KB; allow a few pages of counter noise. */
	ASSERT_LE(linked - written, 256) TH_LOG("linking copied %ld KiB",
						linked - written);

	ASSERT_EQ(write(self->sock[0], "L", 1), 1);
	if (variant->kill_source)
		ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (variant->kill_source)
		ended_as_told = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	else
		ended_as_told = WIFEXITED(status) && !WEXITSTATUS(status);
	ASSERT_TRUE(ended_as_told) TH_LOG("process A ended with 0x%x", status);

	ASSERT_GE(unevictable_kb() - base, SIZE_KB - 256)
		TH_LOG("memory freed with process A");
	ASSERT_EQ(run_to_sync(vcpu), 0) TH_LOG("words B's guest found changed");

	close(gmem);
	kvm_vm_free(vm);
	ASSERT_LE(unevictable_left_kb(base), 0) TH_LOG("memory left behind");
}

GMEM_TEST_HARNESS_MAIN
