// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_numa_bench: whether memory lands on the node a NUMA policy names
 * (issue 12), for a guest_memfd and, as the reference measured in the
 * same run, for a memfd, which has followed mbind() for ever:
 *
 *	memfd		a memfd (shmem), 4 KiB pages (shmem_enabled=never)
 *	memfd_thp	the same with huge pages: shmem_enabled=always, as
 *			fallocate() has no VMA for =advise to go by
 *	gmem		a guest_memfd created with GUEST_MEMFD_FLAG_MMAP |
 *			GUEST_MEMFD_FLAG_INIT_SHARED on a default VM
 *
 * For each, on a new file every time: 1 GiB mapped MAP_SHARED at a 2 MiB
 * aligned address, mbind(MPOL_BIND, node 1) on the whole mapping, then
 * fallocate() of the whole file (timed), then a read of one byte in each
 * 4 KiB page through the mapping (timed), then where the pages are,
 * move_pages() with no target nodes (the share on node 1; target 100%),
 * and how much of the mapping is mapped with PMDs (/proc/self/smaps,
 * FilePmdMapped or ShmemPmdMapped: the share in 2 MiB folios).  The
 * program runs on node 0's CPUs only, so that without the policy the
 * memory would land on node 0 (local allocation): only the policy puts it
 * on node 1.  The three backings take turns within each run.  Figures as
 * bench_report.h prints them, named <figure>.<backing>;
 * scripts/bench-table.sh puts the backings side by side with gmem's
 * ratios.
 *
 * It needs a second node with room for 1 GiB (make bench's guest: 3 GiB,
 * two nodes of 1.5 GiB) and fails, saying so, before each run that would
 * not fit on node 1.  Only gmem's kvm.ko has the flags: where
 * KVM_CAP_GUEST_MEMFD_HUGEPAGE reads 0 (the reference variant) the program
 * measures nothing and exits with KSFT_SKIP.
 *
 * Usage: gmem_numa_bench [REPS]	(default 3)
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>
#include <linux/sizes.h>

#include <linux/kvm_gmem.h>

#include "gmem_test_util.h"
#include "bench_report.h"
#include "map_aligned.h"
#include "shmem_thp.h"

#define MAX_REPS	15
#define MEM_SIZE	SZ_1G
#define NR_PAGES	(MEM_SIZE / PAGE_SIZE)
#define NODE		1
/* Room on node 1 beyond the 1 GiB: its watermarks and the program's own. */
#define NODE_SLACK_KB	(64 * 1024)
#define GMEM_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define NODE_DIR	"/sys/devices/system/node"

static int reps = 3;

enum backing { MEMFD, MEMFD_THP, GMEM, NR_BACKINGS };

static const char * const backing_name[NR_BACKINGS] = {
	"memfd", "memfd_thp", "gmem",
};

/* No libnuma in the static build: the system calls themselves. */
static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *nodemask, unsigned long maxnode,
		      unsigned int flags)
{
	return syscall(__NR_mbind, addr, len, mode, nodemask, maxnode, flags);
}

static long sys_get_mempolicy(int *mode, unsigned long *nodemask,
			      unsigned long maxnode, void *addr,
			      unsigned long flags)
{
	return syscall(__NR_get_mempolicy, mode, nodemask, maxnode, addr,
		       flags);
}

static long sys_move_pages(int pid, unsigned long count, void **pages,
			   const int *nodes, int *status, int flags)
{
	return syscall(__NR_move_pages, pid, count, pages, nodes, status,
		       flags);
}

/* A field of /sys/devices/system/node/node<N>/meminfo, in KiB. */
static long node_meminfo_kb(int node, const char *field)
{
	char path[64], line[128], name[64];
	long kb = -1, v;
	int n;
	FILE *f;

	snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", node);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s: the guest has no node %d (GUEST_NUMA_NODES)",
		    path, node);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %d %63[^:]: %ld kB", &n, name, &v) == 3 &&
		    !strcmp(name, field))
			kb = v;
	fclose(f);
	TEST_ASSERT(kb >= 0, "no %s in %s", field, path);
	return kb;
}

/*
 * Runs the program on node 0's CPUs, so that local allocation would put
 * the memory on node 0; prints them.
 */
static void run_on_node0(void)
{
	char list[256], *s = list, *end;
	unsigned long a, b;
	cpu_set_t set;
	FILE *f = fopen(NODE_DIR "/node0/cpulist", "r");

	TEST_ASSERT(f && fgets(list, sizeof(list), f), "read node0/cpulist");
	fclose(f);
	list[strcspn(list, "\n")] = '\0';
	TEST_ASSERT(list[0], "node 0 has no CPU");
	CPU_ZERO(&set);
	for (;;) {
		a = strtoul(s, &end, 10);
		b = *end == '-' ? strtoul(end + 1, &end, 10) : a;
		while (a <= b)
			CPU_SET(a++, &set);
		if (*end != ',')
			break;
		s = end + 1;
	}
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "sched_setaffinity to node 0's CPUs %s: errno %d", list,
		    errno);
	printf("# numa: the program runs on node 0's CPUs (%s)\n", list);
}

/* KiB of the VMA at @addr mapped with PMDs, from /proc/self/smaps. */
static long smaps_pmd_kb(void *addr)
{
	unsigned long start, end;
	bool in = false, found = false;
	char line[512];
	long kb, pmd_kb = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	TEST_ASSERT(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line; its fields' lines never parse so. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)addr;
			found |= in;
			continue;
		}
		if (in && (sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1 ||
			   sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1))
			pmd_kb += kb;
	}
	fclose(f);
	TEST_ASSERT(found, "no VMA at %p in /proc/self/smaps", addr);
	return pmd_kb;
}

/* One backing's samples, a run per slot. */
struct figures {
	double fallocate[MAX_REPS], touch[MAX_REPS];
	double node_pct[MAX_REPS], pmd_pct[MAX_REPS];
};

static struct figures fig[NR_BACKINGS];

static void *pages[NR_PAGES];
static int status[NR_PAGES];

/* New memory of one backing, mapped at a 2 MiB aligned address. */
static int mem_new(struct kvm_vm *vm, enum backing b, char **p)
{
	int fd;

	if (b == GMEM) {
		fd = vm_create_guest_memfd(vm, MEM_SIZE, GMEM_FLAGS);
	} else {
		shmem_enabled_set(b == MEMFD ? "never" : "always");
		fd = memfd_create("gmem_numa_bench", MFD_CLOEXEC);
		TEST_ASSERT(fd >= 0, "memfd_create: errno %d", errno);
		TEST_ASSERT(!ftruncate(fd, MEM_SIZE), "ftruncate");
	}
	*p = map_aligned(fd, MEM_SIZE);
	return fd;
}

/*
 * Node 1 must have room for all of it, or MPOL_BIND would fail the
 * allocation (or reclaim and kill): not a figure.
 */
static void require_room(enum backing b, int i)
{
	long free_kb = node_meminfo_kb(NODE, "MemFree");

	TEST_ASSERT(free_kb >= MEM_SIZE / SZ_1K + NODE_SLACK_KB,
		    "%s, run %d: node %d has %ld kB free, not %d MiB and %d MiB of slack: too small for this bench",
		    backing_name[b], i + 1, NODE, free_kb, MEM_SIZE / SZ_1M,
		    NODE_SLACK_KB / 1024);
}

/* The policy get_mempolicy(MPOL_F_ADDR) reports at @p, printed. */
static void report_policy(enum backing b, char *p)
{
	unsigned long mask = 0;
	int mode = -1;

	TEST_ASSERT(!sys_get_mempolicy(&mode, &mask, 8 * sizeof(mask), p,
				       MPOL_F_ADDR),
		    "get_mempolicy(MPOL_F_ADDR) on %s: errno %d",
		    backing_name[b], errno);
	printf("# numa: %s: get_mempolicy(MPOL_F_ADDR) after mbind: mode %d%s, nodes %#lx\n",
	       backing_name[b], mode, mode == MPOL_BIND ? " (MPOL_BIND)" : "",
	       mask);
}

static void bench_one(struct kvm_vm *vm, enum backing b, int i)
{
	const unsigned long mask = 1UL << NODE;
	long free0[2], free1[2], on_node = 0, absent = 0, elsewhere = 0;
	unsigned long n;
	double t0;
	char *p;
	int fd;

	require_room(b, i);
	fd = mem_new(vm, b, &p);
	TEST_ASSERT(!sys_mbind(p, MEM_SIZE, MPOL_BIND, &mask,
			       8 * sizeof(mask), 0),
		    "mbind(MPOL_BIND, node %d) on %s: errno %d", NODE,
		    backing_name[b], errno);
	if (!i)
		report_policy(b, p);

	free0[0] = node_meminfo_kb(0, "MemFree");
	free0[1] = node_meminfo_kb(NODE, "MemFree");
	t0 = now_ms();
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, MEM_SIZE),
		    "fallocate 1 GiB of %s: errno %d", backing_name[b], errno);
	fig[b].fallocate[i] = now_ms() - t0;
	free1[0] = node_meminfo_kb(0, "MemFree");
	free1[1] = node_meminfo_kb(NODE, "MemFree");

	t0 = now_ms();
	for (n = 0; n < NR_PAGES; n++)
		(void)READ_ONCE(p[n * PAGE_SIZE]);
	fig[b].touch[i] = now_ms() - t0;

	for (n = 0; n < NR_PAGES; n++)
		pages[n] = p + n * PAGE_SIZE;
	TEST_ASSERT(!sys_move_pages(0, NR_PAGES, pages, NULL, status, 0),
		    "move_pages of %s: errno %d", backing_name[b], errno);
	for (n = 0; n < NR_PAGES; n++) {
		if (status[n] == NODE)
			on_node++;
		else if (status[n] < 0)
			absent++;
		else
			elsewhere++;
	}
	fig[b].node_pct[i] = 100.0 * on_node / NR_PAGES;
	fig[b].pmd_pct[i] = 100.0 * smaps_pmd_kb(p) * SZ_1K / MEM_SIZE;

	if (!i || on_node != NR_PAGES) {
		printf("# numa: %s, run %d: of %lu pages, on node %d %ld,",
		       backing_name[b], i + 1, (unsigned long)NR_PAGES, NODE,
		       on_node);
		printf(" on another node %ld, not found %ld;", elsewhere,
		       absent);
		printf(" fallocate took %ld MiB of node 0, %ld MiB of node %d\n",
		       (free0[0] - free1[0]) / 1024,
		       (free0[1] - free1[1]) / 1024, NODE);
	}
	munmap(p, MEM_SIZE);
	close(fd);
	settle();
}

/* One run's figures of one backing, for reading the log. */
static void report_run(enum backing b, int i)
{
	printf("# run %d, %s: fallocate %.0f ms, read %.0f ms, node %d %.1f%%, PMD %.1f%%\n",
	       i + 1, backing_name[b], fig[b].fallocate[i], fig[b].touch[i],
	       NODE, fig[b].node_pct[i], fig[b].pmd_pct[i]);
}

static void report_backing(enum backing b)
{
	struct {
		const char *name, *unit;
		double *v;
	} f[] = {
		{ "numa_fallocate_1g", "ms", fig[b].fallocate },
		{ "numa_touch_1g", "ms", fig[b].touch },
		{ "numa_pct_node1", "%", fig[b].node_pct },
		{ "numa_pct_pmd", "%", fig[b].pmd_pct },
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
	double fa = median(fig[GMEM].fallocate, reps);
	double t = median(fig[GMEM].touch, reps);

	printf("# numa: gmem/%s: fallocate %.3f, read through the mapping %.3f\n",
	       backing_name[against],
	       fa / median(fig[against].fallocate, reps),
	       t / median(fig[against].touch, reps));
}

int main(int argc, char *argv[])
{
	struct kvm_vm *vm;
	int flags, b, i;

	if (argc > 1)
		reps = atoi(argv[1]);
	TEST_ASSERT(reps > 0 && reps <= MAX_REPS, "REPS: 1 to %d", MAX_REPS);
	__TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_HUGEPAGE),
		       "not gmem's kvm.ko (the reference variant): no guest_memfd to map and mbind");

	vm = vm_create_barebones();
	flags = vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_FLAGS);
	TEST_ASSERT((flags & GMEM_FLAGS) == GMEM_FLAGS,
		    "cap 244 (GUEST_MEMFD_FLAGS) on a default VM reads %#x, not %#llx (MMAP | INIT_SHARED)",
		    flags, GMEM_FLAGS);
	printf("# numa: %d MiB of each of memfd, memfd_thp, gmem (MMAP | INIT_SHARED),\n",
	       MEM_SIZE / SZ_1M);
	printf("# numa: mbind(MPOL_BIND, node %d), fallocate, read; %d runs of each\n",
	       NODE, reps);
	printf("# numa: node 0 %ld kB, node %d %ld kB of memory, %ld kB free\n",
	       node_meminfo_kb(0, "MemTotal"), NODE,
	       node_meminfo_kb(NODE, "MemTotal"),
	       node_meminfo_kb(NODE, "MemFree"));
	run_on_node0();

	shmem_enabled_get(shmem_enabled_was, sizeof(shmem_enabled_was));
	atexit(shmem_enabled_restore);

	for (i = 0; i < reps; i++) {
		for (b = 0; b < NR_BACKINGS; b++)
			bench_one(vm, b, i);
		for (b = 0; b < NR_BACKINGS; b++)
			report_run(b, i);
		fflush(stdout);
	}
	kvm_vm_free(vm);

	for (b = 0; b < NR_BACKINGS; b++)
		report_backing(b);
	report_ratios(MEMFD);
	report_ratios(MEMFD_THP);
	return 0;
}
