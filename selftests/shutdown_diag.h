/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an unexpected KVM_EXIT_SHUTDOWN was.
 *
 * The selftest library's guest keeps its page tables, GDT, IDT, stack and
 * code in memslot 0, and has an IDT: an exception it takes is reported
 * with a ucall, unless taking it faults again (a stack, IDT or page table
 * the guest cannot use), which ends in a triple fault.  On AMD, KVM then
 * INITs the vCPU, so its registers say nothing of where it was.
 *
 * What is kept instead, when the vCPU is made: a copy of memslot 0 and the
 * vCPU's first state.  On a shutdown, shutdown_explain() prints
 *  - each page of memslot 0 whose contents changed other than in the
 *    Accessed and Dirty bits the guest's page walks set (the guest's own
 *    stack, globals and ucalls change too; a page table or code page that
 *    changed is memory the guest did not write through its own accesses);
 *  - a replay: the vCPU set back to its first state and run again, which
 *    reaches a ucall if memory is as it should be, and shuts down again if
 *    what the guest needs is really broken.
 * A clean memslot 0 and a replay that reaches its ucall mean the guest saw
 * memory that L1 does not hold: a stale translation below the guest.
 */
#ifndef _SHUTDOWN_DIAG_H
#define _SHUTDOWN_DIAG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define SHUTDOWN_DIAG_MAX_PAGES	16

struct vcpu_first_state {
	void *slot0;		/* memslot 0 as the VM was made */
	u64 slot0_gpa;
	u64 slot0_size;
	u64 stack_gpa;		/* the page below the first rsp */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
};

/* What shutdown_explain() found. */
struct shutdown_report {
	u64 pages;		/* pages of memslot 0 changed */
	u64 gpa[SHUTDOWN_DIAG_MAX_PAGES];	/* the first of them */
	bool replay_reached;	/* the replay reached a ucall... */
	u64 replay_ucall;	/* ...this one */
};

/* Keeps @vcpu's first state and @vm's memslot 0; before the first run. */
static inline void shutdown_diag_save(struct vcpu_first_state *fs,
				      struct kvm_vm *vm,
				      struct kvm_vcpu *vcpu)
{
	struct userspace_mem_region *r0 = memslot2region(vm, 0);

	fs->slot0_gpa = r0->region.guest_phys_addr;
	fs->slot0_size = r0->region.memory_size;
	fs->slot0 = malloc(fs->slot0_size);
	TEST_ASSERT(fs->slot0, "no memory for a copy of memslot 0");
	memcpy(fs->slot0, (void *)r0->region.userspace_addr, fs->slot0_size);
	vcpu_regs_get(vcpu, &fs->regs);
	vcpu_sregs_get(vcpu, &fs->sregs);
	vcpu_xcrs_get(vcpu, &fs->xcrs);
	fs->stack_gpa = addr_gva2gpa(vm, fs->regs.rsp - 1) & ~(u64)(PAGE_SIZE - 1);
}

static inline void shutdown_diag_free(struct vcpu_first_state *fs)
{
	free(fs->slot0);
	fs->slot0 = NULL;
}

/*
 * Prints, each line after @prefix, what @vcpu's shutdown was (see the top
 * of this file).  Runs the vCPU again: call it only once the run that
 * shut down is over, and only to explain a failure.
 *
 * Return: what it found.
 */
static inline struct shutdown_report
shutdown_explain(struct vcpu_first_state *fs, struct kvm_vm *vm,
		 struct kvm_vcpu *vcpu, const char *prefix)
{
	struct userspace_mem_region *r0 = memslot2region(vm, 0);
	const u64 *was = fs->slot0, *now = (const u64 *)r0->region.userspace_addr;
	u64 words = PAGE_SIZE / sizeof(u64), page, w;
	struct shutdown_report rep = {};
	int r;

	printf("%smemslot 0 (gpa 0x%lx, 0x%lx bytes, stack page 0x%lx): pages changed\n",
	       prefix, fs->slot0_gpa, fs->slot0_size, fs->stack_gpa);
	for (page = 0; page < fs->slot0_size / PAGE_SIZE; page++) {
		u64 first = words, n = 0, gpa = fs->slot0_gpa + page * PAGE_SIZE;

		for (w = page * words; w < (page + 1) * words; w++) {
			if (!((was[w] ^ now[w]) & ~(u64)(PTE_ACCESSED_MASK |
							  PTE_DIRTY_MASK)))
				continue;
			if (first == words)
				first = w;
			n++;
		}
		if (!n)
			continue;
		if (rep.pages >= SHUTDOWN_DIAG_MAX_PAGES) {
			rep.pages++;
			continue;
		}
		rep.gpa[rep.pages++] = gpa;
		printf("%s  gpa 0x%lx%s: %lu words, the first at +0x%lx: 0x%016lx -> 0x%016lx\n",
		       prefix, gpa, gpa == fs->stack_gpa ? " (stack)" : "", n,
		       (first - page * words) * sizeof(u64), was[first],
		       now[first]);
	}
	printf("%s  %lu pages in all (Accessed/Dirty bits not counted)\n",
	       prefix, rep.pages);

	vcpu_xcrs_set(vcpu, &fs->xcrs);
	vcpu_sregs_set(vcpu, &fs->sregs);
	vcpu_regs_set(vcpu, &fs->regs);
	r = __vcpu_run(vcpu);
	if (!r && vcpu->run->exit_reason == KVM_EXIT_IO)
		rep.replay_ucall = get_ucall(vcpu, NULL);
	rep.replay_reached = rep.replay_ucall != UCALL_NONE;
	printf("%sreplay from the first state: %s (KVM_RUN %d, exit reason %u, %s)\n",
	       prefix, rep.replay_reached ? "reached a ucall" :
	       "did not reach a ucall",
	       r, vcpu->run->exit_reason,
	       exit_reason_str(vcpu->run->exit_reason));
	fflush(stdout);
	return rep;
}

#endif /* _SHUTDOWN_DIAG_H */
