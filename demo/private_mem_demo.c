// SPDX-License-Identifier: GPL-2.0
/*
 * A private-memory VM backed by a guest_memfd, end to end, with each step
 * printed: what a VMM does and what the guest and the host then see.
 *
 *  1. create a KVM_X86_SW_PROTECTED_VM and a guest_memfd, bind it to a
 *     memslot (KVM_SET_USER_MEMORY_REGION2) and make the range private
 *     (KVM_SET_MEMORY_ATTRIBUTES);
 *  2. a vCPU writes a pattern over all of it;
 *  3. the host's shared mapping of the same range still reads zero: private
 *     memory is not the host's memory;
 *  4. the vCPU reads every word back;
 *  5. the host punches a hole (fallocate) in the first MiB; the vCPU reads
 *     zeros there and the pattern everywhere else.
 *
 * Exit status 0 when every check held.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#include "shutdown_diag.h"

#define DEMO_GPA	BIT_ULL(32)	/* above the library's own memory */
#define DEMO_SLOT	10
#define DEMO_SIZE	(64ULL << 20)
#define DEMO_HOLE	BIT_ULL(20)
#define DEMO_WORDS	(DEMO_SIZE / sizeof(u64))

/* The value the guest stores in word @i: never zero. */
static inline u64 pattern(u64 i)
{
	return 0x676d656d00000000ull | i;
}

enum demo_stage { DEMO_WRITTEN = 1, DEMO_READ, DEMO_READ_AFTER_PUNCH };

/*
 * Counts the words in [first, last) that differ from what they should hold:
 * zero inside the punched hole (once @punched), the pattern elsewhere.
 */
static u64 guest_count_bad(u64 *mem, bool punched)
{
	u64 i, bad = 0;

	for (i = 0; i < DEMO_WORDS; i++) {
		bool in_hole = punched && i < DEMO_HOLE / sizeof(u64);

		if (READ_ONCE(mem[i]) != (in_hole ? 0 : pattern(i)))
			bad++;
	}
	return bad;
}

static void guest_code(void)
{
	u64 *mem = (u64 *)DEMO_GPA;
	u64 i;

	for (i = 0; i < DEMO_WORDS; i++)
		WRITE_ONCE(mem[i], pattern(i));
	GUEST_SYNC2(DEMO_WRITTEN, 0);
	GUEST_SYNC2(DEMO_READ, guest_count_bad(mem, false));
	GUEST_SYNC2(DEMO_READ_AFTER_PUNCH, guest_count_bad(mem, true));
	GUEST_DONE();
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The vCPU's first state and memslot 0, should it shut down */
static struct shutdown_diag demo_diag;

/* Runs the vCPU to its next GUEST_SYNC; returns the value it reported. */
static u64 run_to_stage(struct kvm_vcpu *vcpu, enum demo_stage stage,
			double *seconds)
{
	struct ucall uc;
	double start = now();

	vcpu_run(vcpu);
	*seconds = now() - start;
	if (vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN) {
		shutdown_diag_explain(&demo_diag, vcpu->vm, vcpu, "   # ");
		TEST_FAIL("the guest shut down (triple fault) in stage %u",
			  stage);
	}
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(uc.args[0] == stage,
			    "guest reached stage %lu, expected %u",
			    uc.args[0], stage);
		return uc.args[1];
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	return 0;
}

static bool check(bool ok, const char *what)
{
	printf("  %s: %s\n", ok ? "yes" : "NO", what);
	return ok;
}

int main(void)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	u64 *shared, i, bad, nonzero = 0;
	double secs;
	bool ok = true;
	int gmem;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));

	printf("1. VMM: create a SW-protected VM with one vCPU and a %llu MiB guest_memfd,\n"
	       "   bound at GPA 0x%llx, all of it private\n",
	       DEMO_SIZE >> 20, DEMO_GPA);
	vm = vm_create_shape_with_one_vcpu(shape, &vcpu, guest_code);
	gmem = vm_create_guest_memfd(vm, DEMO_SIZE, 0);
	vm_mem_add(vm, VM_MEM_SRC_SHMEM, DEMO_GPA, DEMO_SLOT,
		   DEMO_SIZE / vm->page_size, KVM_MEM_GUEST_MEMFD, gmem, 0);
	virt_map(vm, DEMO_GPA, DEMO_GPA, DEMO_SIZE / vm->page_size);
	vm_mem_set_private(vm, DEMO_GPA, DEMO_SIZE);
	shutdown_diag_save(&demo_diag, vm, vcpu);

	run_to_stage(vcpu, DEMO_WRITTEN, &secs);
	printf("2. guest: wrote %llu words of pattern over all %llu MiB (%.2f s)\n",
	       DEMO_WORDS, DEMO_SIZE >> 20, secs);

	shared = addr_gpa2hva(vm, DEMO_GPA);
	for (i = 0; i < DEMO_WORDS; i++)
		nonzero += shared[i] != 0;
	printf("3. host: the shared mapping of the same GPAs holds %lu non-zero words\n",
	       nonzero);
	ok &= check(nonzero == 0, "private memory is invisible to the host");

	bad = run_to_stage(vcpu, DEMO_READ, &secs);
	printf("4. guest: read back every word, %lu differ from what it wrote (%.2f s)\n",
	       bad, secs);
	ok &= check(bad == 0, "the guest reads what it wrote");

	TEST_ASSERT(!fallocate(gmem, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, DEMO_HOLE),
		    "fallocate(PUNCH_HOLE) failed, errno %d", errno);
	printf("5. host: punched a hole in the first %llu KiB\n", DEMO_HOLE >> 10);
	bad = run_to_stage(vcpu, DEMO_READ_AFTER_PUNCH, &secs);
	printf("   guest: %lu words differ from zero in the hole, pattern elsewhere (%.2f s)\n",
	       bad, secs);
	ok &= check(bad == 0, "a punched range reads zero, the rest is intact");

	close(gmem);
	kvm_vm_free(vm);
	shutdown_diag_free(&demo_diag);
	printf("private-memory VM: %s\n", ok ? "every check held" : "FAILED");
	return ok ? 0 : 1;
}
