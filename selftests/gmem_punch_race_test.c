// SPDX-License-Identifier: GPL-2.0
/*
 * A vCPU writes and reads private memory while another thread punches
 * holes in it.  Whatever the interleaving, the guest may only ever read
 * what it wrote or zero (a page punched since): never another page's data,
 * never stale data from a freed page.  And all of the memory is freed at
 * the end.
 *
 * Whether the two sides ran at the same instant, not only interleaved: the
 * guest counts its steps in shared memory, and the puncher reads that
 * count before and after each punch.  Under multi-threaded TCG, with a host
 * core free for each vCPU, the guest ran on during about one punch in
 * seven; under single-threaded TCG only when QEMU switched vCPUs in the
 * middle of one (about one in 350).
 */
#include <pthread.h>

#include "gmem_test_util.h"
#include "kselftest_harness.h"

#define NPAGES		1024	/* two 2 MiB folios, until punches split them */
#define SIZE		(NPAGES * PAGE_SIZE)
/*
 * At least this many of each.  With 2 MiB mappings a round can be quick,
 * so the punches set the length of the test as often as the rounds do.
 */
#define ROUNDS		50
#define PUNCHES		100000

/* Guest steps (pages written and checked), in shared memory. */
static u64 guest_steps;

/*
 * Guest: each round writes every page's pattern and checks it right back,
 * until the host stops running it.  It reports the rounds and how often
 * it read zero right after its own write: a punch that landed between
 * those two instructions.
 */
static void guest_write_and_check(void)
{
	u64 *mem = (u64 *)TEST_GPA;
	u64 round, i, seen, zeros = 0;

	for (round = 0;; round++) {
		for (i = 0; i < NPAGES; i++) {
			WRITE_ONCE(mem[i * WORDS_PER_PAGE], page_pattern(i));
			seen = READ_ONCE(mem[i * WORDS_PER_PAGE]);
			__GUEST_ASSERT(seen == page_pattern(i) || !seen,
				       "page %lu held 0x%lx", i, seen);
			zeros += !seen;
			WRITE_ONCE(guest_steps, guest_steps + 1);
		}
		GUEST_SYNC2(round, zeros);
	}
}

struct puncher {
	int gmem;
	bool stop;
	unsigned long punches;
	const u64 *guest_steps;		/* the host's view of guest_steps */
	unsigned long punches_with_steps; /* the guest stepped meanwhile */
	int err;
};

/* Punches 1 to 16 pages at a time, all over the file, until told to stop. */
static void *punch_holes(void *arg)
{
	struct puncher *p = arg;
	unsigned int seed = 1;

	while (!READ_ONCE(p->stop)) {
		off_t first = rand_r(&seed) % NPAGES;
		off_t n = 1 + rand_r(&seed) % 16;
		u64 steps = READ_ONCE(*p->guest_steps);

		if (fallocate(p->gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			      first * PAGE_SIZE, n * PAGE_SIZE)) {
			p->err = errno;
			break;
		}
		p->punches++;
		p->punches_with_steps += READ_ONCE(*p->guest_steps) != steps;
	}
	return NULL;
}

FIXTURE(race) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct puncher p;
	long base_kb;
};

FIXTURE_SETUP(race)
{
	self->base_kb = unevictable_kb();
	self->vm = private_vm_with_vcpu(&self->vcpu, guest_write_and_check);
	self->p.gmem = vm_create_guest_memfd(self->vm, SIZE, 0);
	add_private_mem(self->vm, SIZE, self->p.gmem, 0, PG_LEVEL_4K);
	self->p.guest_steps = addr_gva2hva(self->vm,
					   (vm_vaddr_t)&guest_steps);
}

FIXTURE_TEARDOWN(race)
{
}

/* Under TCG the vCPU competes with the puncher: give it time. */
TEST_F_TIMEOUT(race, guest_sees_its_data_or_zero_while_holes_are_punched, 240)
{
	struct puncher *p = &self->p;
	pthread_t thread;
	struct ucall uc;
	u64 rounds = 0;

	ASSERT_EQ(pthread_create(&thread, NULL, punch_holes, p), 0);
	for (;;) {
		vcpu_run(self->vcpu);
		TEST_ASSERT_KVM_EXIT_REASON(self->vcpu, KVM_EXIT_IO);
		if (get_ucall(self->vcpu, &uc) != UCALL_SYNC)
			break;
		if (++rounds >= ROUNDS && READ_ONCE(p->punches) >= PUNCHES)
			break;
	}
	WRITE_ONCE(p->stop, true);
	pthread_join(thread, NULL);

	if (uc.cmd == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	ASSERT_EQ(uc.cmd, UCALL_SYNC);
	ASSERT_EQ(p->err, 0) TH_LOG("fallocate(PUNCH_HOLE): %s", strerror(p->err));
	ASSERT_GE(p->punches, PUNCHES);
	TH_LOG("%lu holes punched during %lu rounds", p->punches, rounds);
	TH_LOG("during %lu of them the guest went on running",
	       p->punches_with_steps);
	TH_LOG("the guest read zero right after its own write %lu times",
	       uc.args[1]);

	close(p->gmem);
	kvm_vm_free(self->vm);
	ASSERT_LE(unevictable_left_kb(self->base_kb), 0)
		TH_LOG("memory left behind");
}

GMEM_TEST_HARNESS_MAIN
