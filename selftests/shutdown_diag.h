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
 * vCPU's first state.  On a shutdown, shutdown_diag_explain() prints
 *  - the vCPU's registers as the shutdown left them (after an INIT, rip
 *    0xfff0 with a CS base of 0xffff0000: they then say nothing);
 *  - each page of memslot 0 whose contents changed, not counting bits 5
 *    and 6 of any word (the Accessed and Dirty bits the guest's page walks
 *    set in its page tables).  The guest's own stack, globals and ucalls
 *    change too; a page table or code page that changed is memory the
 *    guest did not write through its own accesses;
 *  - a replay: the vCPU set back to its first state and run again, which
 *    reaches its first GUEST_SYNC if memory is as it should be, and shuts
 *    down again (or reports an exception) if what the guest needs is
 *    really broken.
 * A clean memslot 0 and a replay that reaches its sync mean the shutdown
 * is not explained by memslot 0 as user space sees it: a view of memory
 * the guest had and L1 does not hold (a stale translation below the
 * guest), or vCPU state gone wrong.
 */
#ifndef _SHUTDOWN_DIAG_H
#define _SHUTDOWN_DIAG_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define SHUTDOWN_DIAG_MAX_PAGES	16

struct shutdown_diag {
	void *slot0;		/* memslot 0 as the VM was made */
	u64 slot0_gpa;
	u64 slot0_size;
	u64 stack_gpa;		/* the page below the first rsp */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
};

/* What shutdown_diag_explain() found. */
struct shutdown_report {
	u64 pages;		/* pages of memslot 0 changed */
	u64 gpa[SHUTDOWN_DIAG_MAX_PAGES];	/* the first of them */
	/* the replay's ucall: UCALL_SYNC if it reached its sync */
	u64 replay_ucall;
};

/*
 * Keeps @vcpu's first state and @vm's memslot 0: call it after all set-up
 * that writes memslot 0 or the vCPU's state, before the first run.
 */
static inline void shutdown_diag_save(struct shutdown_diag *d,
				      struct kvm_vm *vm,
				      struct kvm_vcpu *vcpu)
{
	struct userspace_mem_region *r0 = memslot2region(vm, 0);

	d->slot0_gpa = r0->region.guest_phys_addr;
	d->slot0_size = r0->region.memory_size;
	d->slot0 = malloc(d->slot0_size);
	TEST_ASSERT(d->slot0, "no memory for a copy of memslot 0");
	memcpy(d->slot0, (void *)r0->region.userspace_addr, d->slot0_size);
	vcpu_regs_get(vcpu, &d->regs);
	vcpu_sregs_get(vcpu, &d->sregs);
	vcpu_events_get(vcpu, &d->events);
	d->stack_gpa = align_down(addr_gva2gpa(vm, d->regs.rsp - 1), PAGE_SIZE);
}

static inline void shutdown_diag_free(struct shutdown_diag *d)
{
	free(d->slot0);
	d->slot0 = NULL;
}

/* Prints the pages of memslot 0 that changed since shutdown_diag_save(). */
static inline void shutdown_diag_diff(struct shutdown_diag *d,
				      struct kvm_vm *vm, const char *prefix,
				      struct shutdown_report *rep)
{
	struct userspace_mem_region *r0 = memslot2region(vm, 0);
	const u64 *now = (const u64 *)r0->region.userspace_addr;
	const u64 ad = PTE_ACCESSED_MASK | PTE_DIRTY_MASK;
	const u64 words = PAGE_SIZE / sizeof(u64);
	const u64 *was = d->slot0;
	u64 page, w;

	printf("%smemslot 0 (gpa 0x%lx, 0x%lx bytes, stack page 0x%lx): pages changed\n",
	       prefix, d->slot0_gpa, d->slot0_size, d->stack_gpa);
	for (page = 0; page < d->slot0_size / PAGE_SIZE; page++) {
		u64 gpa = d->slot0_gpa + page * PAGE_SIZE;
		u64 first = words, n = 0;

		for (w = page * words; w < (page + 1) * words; w++) {
			if (!((was[w] ^ now[w]) & ~ad))
				continue;
			if (first == words)
				first = w;
			n++;
		}
		if (!n)
			continue;
		if (rep->pages >= SHUTDOWN_DIAG_MAX_PAGES) {
			rep->pages++;
			continue;
		}
		rep->gpa[rep->pages++] = gpa;
		printf("%s  gpa 0x%lx%s: %lu words, the first at +0x%lx: 0x%016lx -> 0x%016lx\n",
		       prefix, gpa, gpa == d->stack_gpa ? " (stack)" : "", n,
		       (first - page * words) * sizeof(u64), was[first],
		       now[first]);
	}
	printf("%s  %lu pages in all (Accessed/Dirty bits not counted)\n",
	       prefix, rep->pages);
}

/*
 * Prints, each line after @prefix, what @vcpu's shutdown was (see the top
 * of this file), and returns what it found.  The replay overwrites the
 * vCPU's registers and run->exit_reason: take what the failed run left
 * before calling it, and do not run the vCPU again after it.
 */
static inline struct shutdown_report
shutdown_diag_explain(struct shutdown_diag *d, struct kvm_vm *vm,
		      struct kvm_vcpu *vcpu, const char *prefix)
{
	struct shutdown_report rep = {};
	struct kvm_vcpu_events events;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct ucall uc;
	int r;

	vcpu_regs_get(vcpu, &regs);
	vcpu_sregs_get(vcpu, &sregs);
	vcpu_events_get(vcpu, &events);
	printf("%safter the shutdown: rip 0x%llx rsp 0x%llx cs.base 0x%llx",
	       prefix, regs.rip, regs.rsp, sregs.cs.base);
	/* What the guest was taking: an INIT clears the flags, not the vector. */
	printf(" cr0 0x%llx cr2 0x%llx cr3 0x%llx; exception vector %u%s%s\n",
	       sregs.cr0, sregs.cr2, sregs.cr3, events.exception.nr,
	       events.exception.injected ? " injected" : "",
	       events.exception.pending ? " pending" : "");
	shutdown_diag_diff(d, vm, prefix, &rep);
	fflush(stdout);

	vcpu_events_set(vcpu, &d->events);
	vcpu_sregs_set(vcpu, &d->sregs);
	vcpu_regs_set(vcpu, &d->regs);
	r = __vcpu_run(vcpu);
	if (!r && vcpu->run->exit_reason == KVM_EXIT_IO)
		rep.replay_ucall = get_ucall(vcpu, &uc);
	printf("%sreplay from the first state: %s", prefix,
	       rep.replay_ucall == UCALL_SYNC ? "reached its sync" :
	       "did not reach its sync");
	printf(" (KVM_RUN %d errno %d, exit reason %u %s, ucall %lu)\n",
	       r, r ? errno : 0, vcpu->run->exit_reason,
	       exit_reason_str(vcpu->run->exit_reason), rep.replay_ucall);
	if (rep.replay_ucall == UCALL_ABORT)
		printf("%s  the guest reported: %s\n", prefix, uc.buffer);
	fflush(stdout);
	return rep;
}

#endif /* _SHUTDOWN_DIAG_H */
