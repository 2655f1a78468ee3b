// SPDX-License-Identifier: GPL-2.0
/*
 * Keep KVM's static keys enabled for as long as this program lives, so that
 * the VMs the tests create and destroy never flip them.
 *
 * Why: each 0 -> 1 and 1 -> 0 change of a static key makes the guest kernel
 * live-patch every site of that key (text_poke_bp(): an int3 first, then
 * the new bytes, then the int3 replaced, each step followed by an IPI to
 * every CPU).  Under multi-threaded TCG, QEMU can keep a translation of the
 * int3 after the kernel has replaced it: its store path invalidates the
 * translations of a code page before it writes the new bytes, so a vCPU
 * that translates the page in between reads the int3 again, and nothing
 * invalidates that translation afterwards.  The vCPU then runs the int3
 * where no patch is in progress, and the kernel dies with "Oops: int3"
 * (seen in finish_task_switch(), at the preempt-notifier key's site).  With
 * no other VM alive, every VM create and destroy flips that key.
 *
 * What it holds, as KVM x86 on 6.12 counts them:
 *  - preempt_notifier_key: one per VM (kvm_create_vm());
 *  - kvm_has_noapic_vcpu: one per vCPU of a VM without an in-kernel
 *    irqchip (the first VM below);
 *  - apic_sw_disabled: one per in-kernel local APIC that the guest has not
 *    software-enabled, as at reset (the second VM's vCPU never runs);
 *  - apic_hw_disabled: one per local APIC whose APIC base MSR has the
 *    enable bit clear (the second VM's vCPU, set so with KVM_SET_MSRS).
 * The Xen key (kvm_xen_enabled) is left alone: no test configures Xen.
 *
 * Usage: kvm_static_key_holder READY_FILE
 * Creates READY_FILE once every key is held, then waits for SIGTERM (or
 * SIGINT, when started where it is not ignored), closes its VMs and exits
 * 0.  Exits 1, saying why, when a step
 * fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#define MSR_IA32_APICBASE	0x1b
#define APIC_DEFAULT_BASE	0xfee00000ULL

static int fail(const char *what)
{
	fprintf(stderr, "kvm_static_key_holder: %s: %s\n", what,
		strerror(errno));
	return -1;
}

/* A VM and its vCPU 0; an in-kernel irqchip first when @irqchip. */
static int create_vm(int kvm, int fds[2], int irqchip)
{
	fds[0] = ioctl(kvm, KVM_CREATE_VM, 0);
	if (fds[0] < 0)
		return fail("KVM_CREATE_VM");
	if (irqchip && ioctl(fds[0], KVM_CREATE_IRQCHIP, 0))
		return fail("KVM_CREATE_IRQCHIP");
	fds[1] = ioctl(fds[0], KVM_CREATE_VCPU, 0);
	if (fds[1] < 0)
		return fail("KVM_CREATE_VCPU");
	return 0;
}

/* Clear the enable bit of the vCPU's APIC base MSR. */
static int disable_apic(int vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = {
		.hdr.nmsrs = 1,
		.entry.index = MSR_IA32_APICBASE,
		.entry.data = APIC_DEFAULT_BASE,
	};

	int set = ioctl(vcpu, KVM_SET_MSRS, &msrs);

	if (set < 0)
		return fail("KVM_SET_MSRS(APIC base, disabled)");
	if (set != 1) {
		fprintf(stderr, "kvm_static_key_holder: KVM_SET_MSRS: %d set\n",
			set);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int kvm, noapic[2], apic[2], ready, sig;
	sigset_t mask;

	if (argc != 2) {
		fprintf(stderr, "usage: %s READY_FILE\n", argv[0]);
		return 2;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fail("open /dev/kvm");
		return 1;
	}
	if (create_vm(kvm, noapic, 0) || create_vm(kvm, apic, 1) ||
	    disable_apic(apic[1]))
		return 1;

	ready = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ready < 0) {
		fail(argv[1]);
		return 1;
	}
	close(ready);
	printf("kvm_static_key_holder: holding KVM's static keys (2 VMs)\n");
	fflush(stdout);

	sigwait(&mask, &sig);

	close(apic[1]);
	close(apic[0]);
	close(noapic[1]);
	close(noapic[0]);
	close(kvm);
	printf("kvm_static_key_holder: released\n");
	return 0;
}
