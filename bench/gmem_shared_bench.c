// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_shared_bench: an ordinary VM's memory (KVM_CREATE_VM type 0), three
 * ways a VMM can back it, measured in one run so that their ratios mean
 * something under TCG:
 *
 *	memfd		a memfd (shmem) mapped MAP_SHARED, the memslot's
 *			userspace_addr; 4 KiB pages (shmem_enabled=never)
 *	memfd_thp	the same with transparent huge pages (see
 *			choose_shmem_thp(): shmem_enabled=advise plus
 *			MADV_HUGEPAGE, or =always)
 *	gmem		a guest_memfd created with GUEST_MEMFD_FLAG_MMAP |
 *			GUEST_MEMFD_FLAG_INIT_SHARED, mapped MAP_SHARED by
 *			the VMM and bound with KVM_MEM_GUEST_MEMFD: KVM serves
 *			the guest from the file, not from userspace_addr
 *
 * For each, on new memory every time (a new file, mapping and memslot):
 * the VMM writing 256 MiB through its mapping, and how its mapping is
 * mapped afterwards (/proc/self/smaps, ShmemPmdMapped or FilePmdMapped of
 * the VMA); a vCPU's first touch of 256 MiB, one word per 4 KiB page; and
 * KVM_PRE_FAULT_MEMORY of 256 MiB; after each of the last two, how KVM
 * mapped the memory (the VM's pages_4k and pages_2m).  The three backings
 * take turns within each run, so that a change in the host's load weighs
 * on them alike.  Figures as bench_report.h prints them, named
 * <figure>.<backing>; scripts/bench-table.sh puts the backings side by
 * side with gmem's ratios.
 *
 * Only gmem's kvm.ko has the flags: where KVM_CAP_GUEST_MEMFD_HUGEPAGE
 * reads 0 (the reference variant: upstream 6.12, whose cap 244 reads 0),
 * the program measures nothing and exits with KSFT_SKIP.  Where gmem's
 * kvm.ko does not report MMAP | INIT_SHARED on a default VM, the memfd
 * figures are measured and the program then fails, saying so.
 *
 * Usage: gmem_shared_bench [REPS]	(default 5)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/sizes.h>

#include <linux/kvm_gmem.h>

#include "gmem_test_util.h"
#include "bench_report.h"
#include "map_aligned.h"
#include "shmem_thp.h"

#define MAX_REPS	15
#define MEM_SIZE	(256 * SZ_1M)
#define PROBE_SIZE	(4 * SZ_1M)
#define GMEM_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

static int reps = 5;

enum backing { MEMFD, MEMFD_THP, GMEM, NR_BACKINGS };

static const char * const backing_name[NR_BACKINGS] = {
	"memfd", "memfd_thp", "gmem",
};

/* How memfd_thp gets its huge pages, from choose_shmem_thp(). */
static const char *thp_mode = "advise";
static bool thp_madvise = true;

/* The VMA at @addr in /proc/self/smaps: its Rss and PMD-mapped KiB. */
struct smaps_vma {
	long rss_kb, pmd_kb;
};

static struct smaps_vma smaps_of(void *addr)
{
	struct smaps_vma v = { -1, 0 };
	unsigned long start, end;
	bool in = false;
	char line[512];
	long kb;
	FILE *f = fopen("/proc/self/smaps", "r");

	TEST_ASSERT(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line; its fields' lines never parse so. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)addr;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			v.rss_kb = kb;
		else if (sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1 ||
			 sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
			v.pmd_kb += kb;
	}
	fclose(f);
	TEST_ASSERT(v.rss_kb >= 0, "no VMA at %p in /proc/self/smaps", addr);
	return v;
}

/*
 * New memory of one backing, @size bytes, the VMM's mapping of it at a
 * 2 MiB aligned address (advised huge for memfd_thp), not bound yet.
 */
struct mem {
	enum backing b;
	int fd;
	char *hva;
	u64 size;
};

static struct mem mem_new(struct kvm_vm *vm, enum backing b, u64 size)
{
	struct mem m = { .b = b, .size = size };

	if (b == GMEM) {
		m.fd = vm_create_guest_memfd(vm, size, GMEM_FLAGS);
	} else {
		shmem_enabled_set(b == MEMFD ? "never" : thp_mode);
		m.fd = memfd_create("gmem_shared_bench", MFD_CLOEXEC);
		TEST_ASSERT(m.fd >= 0, "memfd_create: errno %d", errno);
		TEST_ASSERT(!ftruncate(m.fd, size), "ftruncate");
	}
	m.hva = map_aligned(m.fd, size);
	if (b == MEMFD_THP && thp_madvise)
		TEST_ASSERT(!madvise(m.hva, size, MADV_HUGEPAGE),
			    "MADV_HUGEPAGE: errno %d", errno);
	return m;
}

/*
 * The memslot a VMM makes for it: userspace_addr is the mapping; for
 * gmem, the file too, and since the file has MMAP, KVM serves the guest
 * from the file alone.
 */
static void mem_bind(struct kvm_vm *vm, struct mem *m)
{
	int r = __vm_set_user_memory_region2(vm, TEST_SLOT,
				m->b == GMEM ? KVM_MEM_GUEST_MEMFD : 0,
				TEST_GPA, m->size, m->hva,
				m->b == GMEM ? m->fd : 0, 0);

	TEST_ASSERT(!r, "memslot for %s: errno %d", backing_name[m->b],
		    errno);
}

static void mem_free(struct kvm_vm *vm, struct mem *m, bool bound)
{
	if (bound)
		vm_set_user_memory_region2(vm, TEST_SLOT, 0, TEST_GPA, 0, NULL,
					   0, 0);
	munmap(m->hva, m->size);
	close(m->fd);
}

/* One backing's samples, a run per slot. */
struct figures {
	double write[MAX_REPS], write_pmd[MAX_REPS];
	double touch[MAX_REPS], touch_4k[MAX_REPS], touch_2m[MAX_REPS];
	double touch_pct[MAX_REPS];
	double prefault[MAX_REPS], prefault_4k[MAX_REPS];
	double prefault_2m[MAX_REPS], prefault_pct[MAX_REPS];
	struct smaps_vma first_write;	/* the first run's, in full */
};

static struct figures fig[NR_BACKINGS];

/* The VMM writes all of new memory through its mapping. */
static void bench_write(struct kvm_vm *vm, enum backing b, int i)
{
	struct mem m = mem_new(vm, b, MEM_SIZE);
	struct smaps_vma v;
	double t0;

	t0 = now_ms();
	glibc_memset(m.hva, 0x5a, MEM_SIZE);
	fig[b].write[i] = now_ms() - t0;
	v = smaps_of(m.hva);
	fig[b].write_pmd[i] = 100.0 * v.pmd_kb * SZ_1K / MEM_SIZE;
	if (!i)
		fig[b].first_write = v;
	mem_free(vm, &m, false);
}

/* What KVM mapped, in 4 KiB and 2 MiB pages, since @k4 and @m2. */
static void kvm_mapped(struct kvm_vm *vm, u64 k4, u64 m2, double *d4,
		       double *d2, double *pct)
{
	*d4 = vm_get_stat(vm, "pages_4k") - k4;
	*d2 = vm_get_stat(vm, "pages_2m") - m2;
	*pct = 100.0 * *d2 * SZ_2M / MEM_SIZE;
}

/* What the guest does on its next run: 0 nothing, 1 touch the memory. */
static u64 guest_cmd;

/* Guest: on each run, write one word in each 4 KiB page if told to. */
static void guest_touch(u64 gpa, u64 size)
{
	u64 off, cmd;

	for (;;) {
		cmd = READ_ONCE(guest_cmd);
		if (cmd)
			for (off = 0; off < size; off += PAGE_SIZE)
				WRITE_ONCE(*(u64 *)(gpa + off), off);
		GUEST_SYNC1(cmd);
	}
}

/* Runs the vCPU once, the guest doing @cmd. */
static void vcpu_do(struct kvm_vm *vm, struct kvm_vcpu *vcpu, u64 cmd)
{
	guest_cmd = cmd;
	sync_global_to_guest(vm, guest_cmd);
	TEST_ASSERT(run_to_sync(vcpu) == cmd, "the guest's run");
}

/*
 * Deleting a memslot of a default VM zaps all its mappings
 * (KVM_X86_QUIRK_SLOT_ZAP_ALL) and makes the vCPU's page-table root
 * obsolete, and 6.12 frees that root only when the vCPU next enters the
 * guest: a KVM_PRE_FAULT_MEMORY before then retries until a signal comes
 * (6.12's kvm_mmu_reload() does not look at KVM_REQ_MMU_FREE_OBSOLETE_ROOTS;
 * 7.3's does).  A VMM pre-faults a new VM, where nothing was deleted; here
 * the last run's memslot was, so the vCPU enters the guest once, untimed,
 * before each figure.
 */
static void vcpu_fresh_root(struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	vcpu_do(vm, vcpu, 0);
}

/* The vCPU's first touch of new memory, bound at TEST_GPA. */
static void bench_touch(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			enum backing b, int i)
{
	struct mem m = mem_new(vm, b, MEM_SIZE);
	u64 k4, m2;
	double t0;

	mem_bind(vm, &m);
	vcpu_fresh_root(vm, vcpu);
	guest_cmd = 1;
	sync_global_to_guest(vm, guest_cmd);
	k4 = vm_get_stat(vm, "pages_4k");
	m2 = vm_get_stat(vm, "pages_2m");
	t0 = now_ms();
	TEST_ASSERT(run_to_sync(vcpu) == 1, "the guest's touch");
	fig[b].touch[i] = now_ms() - t0;
	kvm_mapped(vm, k4, m2, &fig[b].touch_4k[i], &fig[b].touch_2m[i],
		   &fig[b].touch_pct[i]);
	mem_free(vm, &m, true);
}

/* KVM_PRE_FAULT_MEMORY of new memory, bound at TEST_GPA. */
static void bench_prefault(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			   enum backing b, int i)
{
	struct mem m = mem_new(vm, b, MEM_SIZE);
	u64 k4, m2;
	double t0;

	mem_bind(vm, &m);
	vcpu_fresh_root(vm, vcpu);
	k4 = vm_get_stat(vm, "pages_4k");
	m2 = vm_get_stat(vm, "pages_2m");
	t0 = now_ms();
	pre_fault_memory(vcpu, TEST_GPA, MEM_SIZE);
	fig[b].prefault[i] = now_ms() - t0;
	kvm_mapped(vm, k4, m2, &fig[b].prefault_4k[i],
		   &fig[b].prefault_2m[i], &fig[b].prefault_pct[i]);
	mem_free(vm, &m, true);
}

/*
 * KiB of a new PROBE_SIZE memfd mapped with PMDs after the VMM wrote it,
 * under shmem_enabled=@mode, with MADV_HUGEPAGE or not.
 */
static long shmem_thp_probe(const char *mode, bool advise)
{
	int fd = memfd_create("gmem_shared_bench_probe", MFD_CLOEXEC);
	char *p;
	long kb;

	TEST_ASSERT(fd >= 0, "memfd_create: errno %d", errno);
	shmem_enabled_set(mode);
	TEST_ASSERT(!ftruncate(fd, PROBE_SIZE), "ftruncate");
	p = map_aligned(fd, PROBE_SIZE);
	if (advise)
		TEST_ASSERT(!madvise(p, PROBE_SIZE, MADV_HUGEPAGE),
			    "MADV_HUGEPAGE: errno %d", errno);
	glibc_memset(p, 1, PROBE_SIZE);
	kb = smaps_of(p).pmd_kb;
	munmap(p, PROBE_SIZE);
	close(fd);
	return kb;
}

/*
 * Which of the two ways to give a memfd huge pages works on this kernel:
 * shmem_enabled=advise with MADV_HUGEPAGE on the mapping (what QEMU does
 * for guest RAM), else shmem_enabled=always.  Prints what each gave.
 */
static void choose_shmem_thp(void)
{
	long advise = shmem_thp_probe("advise", true);
	long always = shmem_thp_probe("always", false);
	long never = shmem_thp_probe("never", true);

	printf("# shared: a %d MiB memfd written by the VMM, PMD-mapped:\n",
	       PROBE_SIZE / SZ_1M);
	printf("# shared:   shmem_enabled=advise with MADV_HUGEPAGE %ld kB\n",
	       advise);
	printf("# shared:   shmem_enabled=always without %ld kB\n", always);
	printf("# shared:   shmem_enabled=never with %ld kB\n", never);
	if (!advise && always) {
		thp_mode = "always";
		thp_madvise = false;
	}
	printf("# shared: memfd_thp is shmem_enabled=%s%s\n", thp_mode,
	       thp_madvise ? " with MADV_HUGEPAGE" : "");
	if (!advise && !always)
		printf("# shared: no huge pages for a memfd on this kernel\n");
}

/*
 * Whether mmap(NULL) of each backing picks a 2 MiB aligned address, as a
 * VMM that does not align its mapping itself would get.
 */
static void report_alignment(struct kvm_vm *vm, bool gmem)
{
	int b;

	for (b = 0; b < NR_BACKINGS; b++) {
		struct mem m = { .b = b, .size = MEM_SIZE };
		void *p;

		if (b == GMEM && !gmem)
			continue;
		if (b == GMEM) {
			m.fd = vm_create_guest_memfd(vm, MEM_SIZE, GMEM_FLAGS);
		} else {
			shmem_enabled_set(b == MEMFD ? "never" : thp_mode);
			m.fd = memfd_create("gmem_shared_bench", MFD_CLOEXEC);
			TEST_ASSERT(m.fd >= 0 && !ftruncate(m.fd, MEM_SIZE),
				    "memfd");
		}
		p = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 m.fd, 0);
		TEST_ASSERT(p != MAP_FAILED, "mmap(NULL) of %s: errno %d",
			    backing_name[b], errno);
		printf("# shared: mmap(NULL) of %s: %p, %s2 MiB aligned\n",
		       backing_name[b], p,
		       (unsigned long)p % SZ_2M ? "not " : "");
		munmap(p, MEM_SIZE);
		close(m.fd);
	}
}

static void report_backing(enum backing b)
{
	struct {
		const char *name, *unit;
		double *v;
	} f[] = {
		{ "shared_write_256m", "ms", fig[b].write },
		{ "shared_write_pct_pmd", "%", fig[b].write_pmd },
		{ "shared_touch_256m", "ms", fig[b].touch },
		{ "shared_touch_pages_4k", "count", fig[b].touch_4k },
		{ "shared_touch_pages_2m", "count", fig[b].touch_2m },
		{ "shared_touch_pct_2m", "%", fig[b].touch_pct },
		{ "shared_prefault_256m", "ms", fig[b].prefault },
		{ "shared_prefault_pages_4k", "count", fig[b].prefault_4k },
		{ "shared_prefault_pages_2m", "count", fig[b].prefault_2m },
		{ "shared_prefault_pct_2m", "%", fig[b].prefault_pct },
	};
	char name[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(f); i++) {
		snprintf(name, sizeof(name), "%s.%s", f[i].name,
			 backing_name[b]);
		report(name, f[i].unit, f[i].v, reps);
	}
}

/* gmem's time over another backing's, medians, for reading the log. */
static void report_ratios(enum backing against)
{
	double w = median(fig[GMEM].write, reps);
	double t = median(fig[GMEM].touch, reps);
	double p = median(fig[GMEM].prefault, reps);

	printf("# shared: gmem/%s: write %.3f, first touch %.3f, pre-fault %.3f\n",
	       backing_name[against], w / median(fig[against].write, reps),
	       t / median(fig[against].touch, reps),
	       p / median(fig[against].prefault, reps));
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int flags, b, i, nr;
	bool gmem;

	if (argc > 1)
		reps = atoi(argv[1]);
	TEST_ASSERT(reps > 0 && reps <= MAX_REPS, "REPS: 1 to %d", MAX_REPS);
	__TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_HUGEPAGE),
		       "not gmem's kvm.ko (the reference variant): no guest_memfd for an ordinary VM to compare");

	vm = vm_create_with_one_vcpu(&vcpu, guest_touch);
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	gmem = (flags & GMEM_FLAGS) == GMEM_FLAGS;
	printf("# shared: an ordinary VM, %d MiB of memory on each of memfd,\n",
	       MEM_SIZE / SZ_1M);
	printf("# shared: memfd_thp, gmem (MMAP | INIT_SHARED); %d runs of each\n",
	       reps);
	printf("# shared: KVM_CAP_GUEST_MEMFD_FLAGS on this VM: %#x\n", flags);
	if (!gmem)
		printf("# shared: cap 244 lacks MMAP | INIT_SHARED: memfd only, then fail\n");

	shmem_enabled_get(shmem_enabled_was, sizeof(shmem_enabled_was));
	atexit(shmem_enabled_restore);
	choose_shmem_thp();
	report_alignment(vm, gmem);

	vcpu_args_set(vcpu, 2, TEST_GPA, MEM_SIZE);
	virt_map_level(vm, TEST_GPA, TEST_GPA, MEM_SIZE, PG_LEVEL_2M);
	vcpu_do(vm, vcpu, 0);	/* the library's own memory is mapped now */

	nr = gmem ? NR_BACKINGS : GMEM;
	for (i = 0; i < reps; i++) {
		printf("# run %d, ms:", i + 1);
		for (b = 0; b < nr; b++) {
			bench_write(vm, b, i);
			printf(" write %s %.0f", backing_name[b], fig[b].write[i]);
		}
		for (b = 0; b < nr; b++) {
			bench_touch(vm, vcpu, b, i);
			printf(" touch %s %.0f", backing_name[b], fig[b].touch[i]);
		}
		for (b = 0; b < nr; b++) {
			bench_prefault(vm, vcpu, b, i);
			printf(" pre-fault %s %.0f", backing_name[b],
			       fig[b].prefault[i]);
		}
		printf("\n");
	}
	kvm_vm_free(vm);

	for (b = 0; b < nr; b++)
		printf("# shared: %s, VMM mapping after the write: Rss %ld kB, PMD %ld kB\n",
		       backing_name[b], fig[b].first_write.rss_kb,
		       fig[b].first_write.pmd_kb);
	for (b = 0; b < nr; b++)
		report_backing(b);
	TEST_ASSERT(gmem,
		    "cap 244 (GUEST_MEMFD_FLAGS) on a default VM reads %#x, not %#llx (MMAP | INIT_SHARED): no gmem figures",
		    flags, GMEM_FLAGS);
	report_ratios(MEMFD);
	report_ratios(MEMFD_THP);
	return 0;
}
