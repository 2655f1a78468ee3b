// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-over of an ordinary VM, whose memory is shared, from one process
 * to another.  Process A runs a default VM (KVM_X86_DEFAULT_VM) on a
 * guest_memfd of shared memory created with the link right
 * (MMAP | INIT_SHARED | GMEM_LINKABLE): its guest writes a pattern over
 * the first half of every word, A itself over the second half through its
 * mapping of the file, and the guest checks all of it.  A sends the fd to
 * process B over a unix socket (SCM_RIGHTS) and exits, or is killed.  B
 * links the memory into its own new default VM (KVM_LINK_GUEST_MEMFD);
 * B's guest and B's own mapping of its linked file both find every word,
 * and nothing of the memory was freed on the way.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "gmem_mmap_util.h"
#include "scm_rights.h"
#include "kselftest_harness.h"

#define SIZE		SZ_16M
#define NR_WORDS	WORDS(SIZE)

/* Process A: a guest and A write the memory, then it goes to B. */
static void source(int sock, bool wait_for_kill)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct layout l;
	int gmem;
	char byte;
	u64 *mem;

	vm = default_vm_with_vcpu(&vcpu, SIZE);
	gmem = vm_create_guest_memfd(vm, SIZE, SHARED_MEM | LINKABLE);
	add_gmem_slot(vm, SIZE, NULL, gmem, 0);
	mem = gmem_map(gmem, SIZE, 0);

	/* The guest fills the first half (and leaves the rest zero)... */
	layout_init(&l, 1);
	layout_add(&l, SIZE / 2, SIZE / 2, 0);
	TEST_ASSERT(guest_do(vm, vcpu, &l, true) == 0, "A's guest's writes");
	/* ...A the second half, and the guest sees all of it. */
	layout_init(&l, 1);
	fill_words(mem, &l, NR_WORDS / 2, NR_WORDS);
	TEST_ASSERT(guest_do(vm, vcpu, &l, false) == 0,
		    "A's guest does not see A's writes");

	send_fd(sock, gmem);
	TEST_ASSERT(read(sock, &byte, 1) == 1, "waiting for B");
	if (wait_for_kill)
		for (;;)
			pause();
	munmap(mem, SIZE);
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
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sock));
}

FIXTURE_TEARDOWN(handover)
{
	close(self->sock[0]);
	if (self->sock[1] >= 0)
		close(self->sock[1]);
}

TEST_F(handover, every_word_survives_in_the_guest_and_the_mapping)
{
	struct kvm_vcpu *vcpu;
	int status, fd, gmem;
	bool ended_as_told;
	struct kvm_vm *vm;
	struct layout l;
	pid_t pid;
	u64 *mem;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(self->sock[0]);
		source(self->sock[1], variant->kill_source);
	}

	/* Process B. */
	close(self->sock[1]);
	self->sock[1] = -1;
	fd = recv_fd(self->sock[0]);
	ASSERT_EQ(SIZE / 1024, gmem_allocated_kb(fd));

	vm = default_vm_with_vcpu(&vcpu, SIZE);
	gmem = vm_link_guest_memfd(vm, fd, 0);
	close(fd);
	add_gmem_slot(vm, SIZE, NULL, gmem, 0);
	mem = gmem_map(gmem, SIZE, 0);

	ASSERT_EQ(1, write(self->sock[0], "L", 1));
	ASSERT_EQ(0, variant->kill_source ? kill(pid, SIGKILL) : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (variant->kill_source)
		ended_as_told = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	else
		ended_as_told = WIFEXITED(status) && !WEXITSTATUS(status);
	ASSERT_TRUE(ended_as_told) TH_LOG("process A ended with 0x%x", status);

	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(gmem))
		TH_LOG("memory freed with process A");
	layout_init(&l, 1);
	EXPECT_EQ(0, guest_do(vm, vcpu, &l, false))
		TH_LOG("words B's guest found changed");
	EXPECT_EQ(0, bad_words(mem, &l, NR_WORDS))
		TH_LOG("words B's mapping found changed");

	munmap(mem, SIZE);
	close(gmem);
	kvm_vm_free(vm);
}

GMEM_TEST_HARNESS_MAIN
