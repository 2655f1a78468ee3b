// SPDX-License-Identifier: GPL-2.0
/*
 * The NUMA policies of a guest_memfd's pages against a model: random
 * mbind() calls over random ranges of one file, each replacing part of
 * what earlier ones set, must leave every page with the policy the last
 * call over it set, as get_mempolicy(MPOL_F_ADDR) reports it through the
 * mapping that set it and through new mappings (the policy is the
 * inode's); allocation then follows it page by page (move_pages()).
 * All mbind() calls go through one mapping: the kernel's mbind() skips a
 * VMA whose own policy equals the new one, so MPOL_DEFAULT through a VMA
 * that set nothing itself (a new mapping) leaves the inode's policy be,
 * as for shmem and upstream's guest_memfd (default_needs_a_policy_set
 * shows it).
 * gmem counts the kernel's policy objects by hand (policy.c), so the test
 * ends by counting them: when the file, its mappings and its VM are gone,
 * the numa_policy slab holds what it held before, no more (a reference
 * kept) and no less (one dropped twice would also show as a use after
 * free in the guest's log).
 *
 * It wants two NUMA nodes, and the numa_policy slab cache unmerged (the
 * test guests boot with slub_debug), and fails without them.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <linux/mempolicy.h>

#include "gmem_mmap_util.h"
#include "kselftest_harness.h"

#define FILE_PAGES	1024		/* 4 MiB: two 2 MiB blocks */
#define ROUNDS		300
#define MAXNODE		64
#define POLICY_SLAB	"/sys/kernel/slab/numa_policy"

struct policy {
	int mode;
	unsigned long nodes;
};

/* What the rounds choose from; MPOL_DEFAULT has no nodes. */
static const struct policy choices[] = {
	{ MPOL_DEFAULT, 0 },
	{ MPOL_BIND, 1 },
	{ MPOL_BIND, 2 },
	{ MPOL_BIND, 3 },
	{ MPOL_PREFERRED, 2 },
	{ MPOL_PREFERRED_MANY, 3 },
	{ MPOL_INTERLEAVE, 3 },
};

static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *nodes, unsigned long maxnode,
		      unsigned int flags)
{
	return syscall(__NR_mbind, addr, len, mode, nodes, maxnode, flags);
}

static struct policy policy_at(char *addr)
{
	unsigned long nodes[MAXNODE / 64] = { 0 };
	struct policy p;

	TEST_ASSERT(!syscall(__NR_get_mempolicy, &p.mode, nodes, MAXNODE,
			     addr, MPOL_F_ADDR),
		    "get_mempolicy(MPOL_F_ADDR, %p)", addr);
	p.nodes = nodes[0];
	return p;
}

static int node_of(char *addr)
{
	void *pages[1] = { addr };
	int status = -1;

	TEST_ASSERT(!syscall(__NR_move_pages, 0, 1, pages, NULL, &status, 0),
		    "move_pages(%p)", addr);
	return status;
}

static int online_nodes(void)
{
	char buf[64] = "";
	FILE *f = fopen("/sys/devices/system/node/online", "r");
	int first, last;

	if (!f)
		return 1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (sscanf(buf, "%d-%d", &first, &last) == 2)
		return last - first + 1;
	return 1;
}

/* Objects in use in the numa_policy cache, after flushing its CPU slabs. */
static long policy_objects(void)
{
	long objects = -1;
	FILE *f;

	f = fopen(POLICY_SLAB "/shrink", "w");
	TEST_ASSERT(f, "open " POLICY_SLAB "/shrink");
	fputs("1", f);
	fclose(f);
	f = fopen(POLICY_SLAB "/objects", "r");
	TEST_ASSERT(f, "open " POLICY_SLAB "/objects");
	TEST_ASSERT(fscanf(f, "%ld", &objects) == 1, "read objects");
	fclose(f);
	return objects;
}

static bool slab_unmerged(void)
{
	struct stat st;

	return !lstat(POLICY_SLAB, &st) && S_ISDIR(st.st_mode);
}

/* Two nodes, and the numa_policy cache counted alone: or the test fails. */
static void require_policy_counting(struct __test_metadata *_metadata)
{
	ASSERT_GE(online_nodes(), 2) TH_LOG("wants two NUMA nodes");
	ASSERT_TRUE(slab_unmerged())
		TH_LOG(POLICY_SLAB " is merged: boot with slub_debug");
}

/* The numa_policy cache holds what it held at @before, no more, no less. */
static void expect_policy_objects(struct __test_metadata *_metadata,
				  long before)
{
	long now = policy_objects();

	ASSERT_EQ(now, before)
		TH_LOG("numa_policy objects: %ld before, %ld after", before,
		       now);
}

static void expect_model(struct __test_metadata *_metadata, char *map,
			 const struct policy *model, unsigned long first,
			 unsigned long npages, const char *how)
{
	unsigned long i;

	for (i = first; i < first + npages; i++) {
		struct policy p = policy_at(map + i * PAGE_SIZE);

		if (p.mode != model[i].mode || p.nodes != model[i].nodes) {
			TH_LOG("%s: page %lu: mode %d nodes %#lx, wanted %d %#lx",
			       how, i, p.mode, p.nodes, model[i].mode,
			       model[i].nodes);
			ASSERT_TRUE(false);
		}
	}
}

/*
 * Where page @i may be, by its policy: MPOL_BIND on one node, there;
 * MPOL_PREFERRED on node 1 with memory to spare, there; the rest anywhere.
 */
static bool node_fits(const struct policy *p, int node)
{
	switch (p->mode) {
	case MPOL_BIND:
	case MPOL_PREFERRED:
		return !!(p->nodes & (1UL << node));
	default:
		return node == 0 || node == 1;
	}
}

TEST(policies_follow_the_model)
{
	size_t size = FILE_PAGES * PAGE_SIZE;
	struct policy *model;
	struct kvm_vm *vm;
	long before;
	char *map, *other;
	unsigned long i;
	int fd, round;

	require_policy_counting(_metadata);
	before = policy_objects();

	model = calloc(FILE_PAGES, sizeof(*model));
	ASSERT_NE(model, NULL);
	srandom(12);

	vm = default_vm();
	fd = vm_create_guest_memfd(vm, size, SHARED_MEM);
	map = gmem_map(fd, size, 0);
	/* Another mapping, which never calls mbind(), reads policies. */
	other = gmem_map(fd, size, 0);

	for (round = 0; round < ROUNDS; round++) {
		const struct policy *c = &choices[random() % ARRAY_SIZE(choices)];
		unsigned long first = random() % FILE_PAGES;
		unsigned long npages;

		/* Mostly small ranges, some up to the end of the file. */
		if (random() % 4)
			npages = 1 + random() % 16;
		else
			npages = 1 + random() % (FILE_PAGES - first);
		npages = npages < FILE_PAGES - first ? npages :
			 FILE_PAGES - first;

		ASSERT_EQ(sys_mbind(map + first * PAGE_SIZE,
				    npages * PAGE_SIZE, c->mode,
				    c->nodes ? &c->nodes : NULL,
				    c->nodes ? MAXNODE : 0, 0), 0)
			TH_LOG("round %d: mbind(%lu, %lu, mode %d)", round,
			       first, npages, c->mode);

		for (i = first; i < first + npages; i++)
			model[i] = *c;

		/* Around the range just set, and a few pages anywhere. */
		expect_model(_metadata, map, model, first ? first - 1 : 0,
			     npages + (first ? 1 : 0) +
			     (first + npages < FILE_PAGES), "around");
		for (i = 0; i < 8; i++)
			expect_model(_metadata, map, model,
				     random() % FILE_PAGES, 1, "anywhere");

		/* Now and then, new mappings must see it all. */
		if (round % 50 == 49) {
			expect_model(_metadata, other, model, 0, FILE_PAGES,
				     "the other mapping");
			ASSERT_EQ(munmap(other, size), 0);
			other = gmem_map(fd, size, 0);
			expect_model(_metadata, other, model, 0, FILE_PAGES,
				     "a new mapping");
		}
	}

	/* Allocation follows the model page by page (reading allocates). */
	for (i = 0; i < FILE_PAGES; i++)
		ASSERT_EQ(touch(other + i * PAGE_SIZE, false, 0), 0);
	for (i = 0; i < FILE_PAGES; i++) {
		int node = node_of(other + i * PAGE_SIZE);

		if (!node_fits(&model[i], node)) {
			TH_LOG("page %lu on node %d, policy %d nodes %#lx",
			       i, node, model[i].mode, model[i].nodes);
			ASSERT_TRUE(false);
		}
	}

	ASSERT_EQ(munmap(other, size), 0);
	ASSERT_EQ(munmap(map, size), 0);
	ASSERT_EQ(close(fd), 0);
	kvm_vm_free(vm);
	free(model);

	expect_policy_objects(_metadata, before);
}

/*
 * The same count around what replaces and splits ranges: every policy
 * set over a whole range, then over its middle, then mbind(MPOL_DEFAULT)
 * over all, a thousand times, with the file kept open throughout.
 */
TEST(replaced_policies_are_freed)
{
	size_t size = 64 * PAGE_SIZE;
	unsigned long one = 2, both = 3;
	struct kvm_vm *vm;
	long before;
	char *map;
	int fd, i;

	require_policy_counting(_metadata);

	vm = default_vm();
	fd = vm_create_guest_memfd(vm, size, MMAP);
	map = gmem_map(fd, size, 0);
	before = policy_objects();

	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(sys_mbind(map, size, MPOL_BIND, &one, MAXNODE, 0), 0);
		ASSERT_EQ(sys_mbind(map + 16 * PAGE_SIZE, 16 * PAGE_SIZE,
				    MPOL_INTERLEAVE, &both, MAXNODE, 0), 0);
		ASSERT_EQ(sys_mbind(map, size, MPOL_DEFAULT, NULL, 0, 0), 0);
	}

	/*
	 * Nothing set is left: the VMA holds none (MPOL_DEFAULT took it)
	 * and gmem's table is empty.
	 */
	expect_policy_objects(_metadata, before);

	ASSERT_EQ(munmap(map, size), 0);
	ASSERT_EQ(close(fd), 0);
	kvm_vm_free(vm);
}

/*
 * A mapping may reach past the end of the file, and mbind() may cover
 * that part, but no page can be there: gmem keeps no policy for it, so
 * mapping, mbind() and munmap() in a loop leave nothing behind.
 */
TEST(policies_past_the_end_are_not_kept)
{
	size_t size = 16 * PAGE_SIZE;
	unsigned long one = 2;
	struct kvm_vm *vm;
	long before;
	char *map;
	int fd, i;

	require_policy_counting(_metadata);

	vm = default_vm();
	fd = vm_create_guest_memfd(vm, size, MMAP);
	before = policy_objects();

	for (i = 0; i < 100; i++) {
		map = gmem_map(fd, 2 * size, 0);
		ASSERT_EQ(sys_mbind(map + size, size, MPOL_BIND, &one, MAXNODE,
				    0), 0);
		ASSERT_EQ(policy_at(map + size).mode, MPOL_DEFAULT);
		ASSERT_EQ(policy_at(map + size - PAGE_SIZE).mode, MPOL_DEFAULT);
		ASSERT_EQ(munmap(map, 2 * size), 0);
	}

	expect_policy_objects(_metadata, before);
	ASSERT_EQ(close(fd), 0);
	kvm_vm_free(vm);
}

/*
 * mbind(MPOL_DEFAULT) through a new mapping changes nothing: the kernel
 * compares it with the VMA's own policy (none) and skips the VMA, for
 * shmem and upstream's guest_memfd as here.  Through a VMA that set a
 * policy, it removes the inode's.
 */
TEST(default_needs_a_policy_set)
{
	size_t size = 16 * PAGE_SIZE;
	unsigned long one = 2;
	struct kvm_vm *vm;
	struct policy p;
	char *map;
	int fd;

	ASSERT_GE(online_nodes(), 2) TH_LOG("wants two NUMA nodes");
	vm = default_vm();
	fd = vm_create_guest_memfd(vm, size, MMAP);

	map = gmem_map(fd, size, 0);
	ASSERT_EQ(sys_mbind(map, size, MPOL_BIND, &one, MAXNODE, 0), 0);
	ASSERT_EQ(munmap(map, size), 0);

	map = gmem_map(fd, size, 0);
	ASSERT_EQ(sys_mbind(map, size, MPOL_DEFAULT, NULL, 0, 0), 0);
	p = policy_at(map);
	ASSERT_EQ(p.mode, MPOL_BIND);
	ASSERT_EQ(p.nodes, one);

	ASSERT_EQ(sys_mbind(map, size, MPOL_LOCAL, NULL, 0, 0), 0);
	ASSERT_EQ(policy_at(map + PAGE_SIZE).mode, MPOL_LOCAL);
	ASSERT_EQ(sys_mbind(map, size, MPOL_DEFAULT, NULL, 0, 0), 0);
	p = policy_at(map + size - PAGE_SIZE);
	ASSERT_EQ(p.mode, MPOL_DEFAULT);
	ASSERT_EQ(p.nodes, 0);

	ASSERT_EQ(munmap(map, size), 0);
	ASSERT_EQ(close(fd), 0);
	kvm_vm_free(vm);
}

GMEM_TEST_HARNESS_MAIN
