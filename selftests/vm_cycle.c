// SPDX-License-Identifier: GPL-2.0
/*
 * Create and destroy VMs one after another, CYCLES times: each a private-
 * memory VM (KVM_X86_SW_PROTECTED_VM) with one vCPU that runs to its end,
 * and a 2 MiB guest_memfd, then all of it closed before the next.
 *
 * This is what killed the test guest under multi-threaded TCG: with no
 * other VM open, each create and each destroy flips KVM's preempt-notifier
 * static key, the guest kernel live-patches the scheduler's call sites
 * through a temporary int3, and QEMU could keep a stale translation of it
 * ("Oops: int3" in __schedule: QEMU 7.2 about once per 75-100 VMs, 11.1.3
 * twice in about 6,100).  The test guests now hold KVM's static keys
 * (kvm_static_key_holder.c), and `make soak` runs this for thousands of
 * cycles over several boots, counting the text patches meanwhile; whatever
 * goes wrong in the kernel is in the log the host judges.
 *
 * Usage: vm_cycle [CYCLES]   (default 1000); exit 0 when every cycle ran.
 */
#include <stdlib.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

static void guest_done(void)
{
	GUEST_DONE();
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One VM, its vCPU run to GUEST_DONE, a guest_memfd; all closed. */
static void cycle(void)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int fd;

	vm = vm_create_shape_with_one_vcpu(shape, &vcpu, guest_done);
	fd = vm_create_guest_memfd(vm, 2 << 20, 0);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE,
		    "the guest should be done, got ucall %lu", uc.cmd);
	close(fd);
	kvm_vm_free(vm);
}

int main(int argc, char **argv)
{
	long cycles = argc > 1 ? atol(argv[1]) : 1000, i;
	double start = now(), last = start;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));
	for (i = 1; i <= cycles; i++) {
		cycle();
		if (i % 100 == 0 || i == cycles) {
			printf("%ld VMs created and destroyed, %.1f ms each\n",
			       i, (now() - last) * 1000 / (i % 100 ? i % 100 : 100));
			fflush(stdout);
			last = now();
		}
	}
	printf("%ld VMs in %.1f s\n", cycles, now() - start);
	return 0;
}
