// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA policy on guest_memfd: mbind() on a mapping of a guest_memfd sets
 * the policy of the inode's page range the mapping covers, as shmem's
 * shared policy does, and every allocation of the range follows it.
 *
 *  - get_mempolicy(MPOL_F_ADDR) reports a range's policy through every
 *    mapping of every file on the inode: a second mapping, one made after
 *    munmap() of the first, one at another offset (to the page), a linked
 *    file's in another VM, also after the file that set it is gone;
 *    numa_maps too;
 *  - each range's pages land on its policy's node, whoever allocates them:
 *    a fault through the mapping, KVM's fault (a guest_memfd-only memslot
 *    of a default VM, and private memory of a SW-protected VM),
 *    KVM_PRE_FAULT_MEMORY, fallocate(); with MPOL_BIND, MPOL_PREFERRED,
 *    MPOL_PREFERRED_MANY and their flags, MPOL_LOCAL (the faulting CPU's
 *    node), a home node (set_mempolicy_home_node()), and MPOL_INTERLEAVE
 *    and MPOL_WEIGHTED_INTERLEAVE over both nodes;
 *  - a 2 MiB block with one policy is one 2 MiB folio on the policy's node,
 *    mapped with a PMD, also when one mbind() set it over a mapping of
 *    several VMAs; a block split between two policies (or a policy and
 *    none) is 4 KiB pages, each on its own range's node;
 *  - MPOL_DEFAULT removes a range's policy: allocation follows the
 *    allocating task's policy again;
 *  - the policy outlives munmap() and punched holes;
 *  - bad input gets upstream's errors from mbind() and changes nothing; a
 *    file without MMAP cannot be mapped (ENODEV), so cannot be mbind()ed;
 *    MPOL_MF_MOVE on gmem's pages, which cannot migrate, answers 0 (EIO
 *    with MPOL_MF_STRICT) and leaves them where they are, without a WARN;
 *  - policies changing while others read them and memory comes and goes:
 *    no crash, no WARN.
 *
 * The allocating task's own policy binds it to the other node than the
 * range's policy names (where one allocation covers ranges of both nodes,
 * it is made twice, once with the task bound to each), so that memory that
 * followed the task instead of the range is caught.  Where KVM
 * allocates private memory, which user space cannot map, the per-node
 * FilePages counters say where it went; elsewhere move_pages() asks for
 * each page.
 *
 * The test guest has two NUMA nodes, 0 and 1, with memory.  On fewer, every
 * case fails: a guest that cannot test this must not pass.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/mempolicy.h>

#include "gmem_mmap_util.h"
#include "scm_rights.h"
#include "kselftest_harness.h"

#define NODE(n)		(1ul << (n))
#define BOTH_NODES	(NODE(0) | NODE(1))
#define OTHER(n)	(1 - (n))
/* mbind()'s and set_mempolicy()'s maxnode: one word of node bits. */
#define MAXNODE		(BITS_PER_LONG + 1)
/* get_mempolicy() wants room for every possible node: MAX_NUMNODES. */
#define POLICY_LONGS	(1024 / BITS_PER_LONG)

/* The kernel's taints that a WARN, an oops or a bad page leave. */
#define BAD_TAINTS	(BIT(5) | BIT(7) | BIT(9))

#define SIZE		SZ_8M
#define SZ_6M		(SZ_4M + SZ_2M)
#define HALF		(SIZE / 2)
#define NR_PAGES(len)	((len) / PAGE_SIZE)

/* The nodes listed in /sys/devices/system/node/@name ("0-1", "0,2-3"). */
static unsigned long node_list(const char *name)
{
	unsigned long mask = 0;
	char path[80], buf[256], *s, *end;
	long a, b;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/%s", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (s = buf; *s && *s != '\n'; s = *end == ',' ? end + 1 : end) {
		a = strtol(s, &end, 10);
		if (end == s)
			break;
		b = a;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (; a <= b && a < BITS_PER_LONG; a++)
			mask |= NODE(a);
	}
	return mask;
}

/* Nodes 0 and 1 have memory; the test ends here (failed) if not. */
static void require_two_nodes(struct __test_metadata *_metadata)
{
	unsigned long mem = node_list("has_memory");

	ASSERT_EQ(BOTH_NODES, mem & BOTH_NODES)
		TH_LOG("nodes with memory %#lx, online %#lx: the guest needs nodes 0 and 1",
		       mem, node_list("online"));
}

static long sys_mbind(void *addr, u64 len, int mode,
		      const unsigned long *nodes, unsigned long maxnode,
		      unsigned int flags)
{
	return syscall(SYS_mbind, addr, len, mode, nodes, maxnode, flags);
}

/* mbind() that must work; @nodes 0 passes no node mask. */
static void set_policy(void *addr, u64 len, int mode, unsigned long nodes)
{
	long r = sys_mbind(addr, len, mode, nodes ? &nodes : NULL,
			   nodes ? MAXNODE : 0, 0);

	TEST_ASSERT(!r, "mbind(%p, %#lx, mode %#x, nodes %#lx): errno %d",
		    addr, len, mode, nodes, errno);
}

struct policy {
	int mode;
	unsigned long nodes;
};

/* What get_mempolicy(MPOL_F_ADDR) reports at @addr. */
static struct policy policy_at(void *addr)
{
	unsigned long mask[POLICY_LONGS] = {};
	struct policy pol = { .mode = -1 };
	int i;

	TEST_ASSERT(!syscall(SYS_get_mempolicy, &pol.mode, mask,
			     POLICY_LONGS * BITS_PER_LONG, addr, MPOL_F_ADDR),
		    "get_mempolicy(%p): errno %d", addr, errno);
	for (i = 1; i < POLICY_LONGS; i++)
		TEST_ASSERT(!mask[i], "a node above 63 in the mask");
	pol.nodes = mask[0];
	return pol;
}

/*
 * get_mempolicy() at @addr reports @mode (with its flags) and @nodes.
 * @line: the caller's, for the log.
 */
static void expect_policy(struct __test_metadata *_metadata, int line,
			  void *addr, int mode, unsigned long nodes)
{
	struct policy pol = policy_at(addr);

	EXPECT_EQ(mode, pol.mode) TH_LOG("line %d: mode at %p", line, addr);
	EXPECT_EQ(nodes, pol.nodes)
		TH_LOG("line %d: nodes at %p", line, addr);
}

#define EXPECT_POLICY(addr, mode, nodes)				\
	expect_policy(_metadata, __LINE__, addr, mode, nodes)

/* The calling task's own policy: bound to @node. */
static void task_bind(int node)
{
	unsigned long nodes = NODE(node);

	TEST_ASSERT(!syscall(SYS_set_mempolicy, MPOL_BIND, &nodes, MAXNODE),
		    "set_mempolicy(MPOL_BIND, node %d): errno %d", node, errno);
}

/* The first CPU of node @node; -1 if it has none. */
static int node_cpu(int node)
{
	char path[64], buf[256];
	int cpu = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9')
		cpu = atoi(buf);
	fclose(f);
	return cpu;
}

/* Runs the calling task on @cpu only. */
static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "sched_setaffinity(CPU %d): errno %d", cpu, errno);
}

/*
 * The line of /proc/self/numa_maps for the mapping that starts at @start,
 * into @line; empty if there is none.
 */
static void numa_maps_line(const void *start, char *line, size_t len)
{
	FILE *f = fopen("/proc/self/numa_maps", "r");

	TEST_ASSERT(f, "open /proc/self/numa_maps");
	while (fgets(line, len, f))
		if (strtoul(line, NULL, 16) == (unsigned long)start)
			break;
	if (feof(f))
		line[0] = 0;
	fclose(f);
}

/* Writes a byte of each page of [@p, @p + @len): faults them in. */
static void touch_pages(char *p, u64 len)
{
	u64 off;

	for (off = 0; off < len; off += PAGE_SIZE)
		WRITE_ONCE(p[off], 1);
}

/* Where the pages of a range are. */
struct where {
	u64 on[2];	/* pages on node 0, node 1 */
	u64 other;	/* anywhere else, or not there (status < 0) */
	int status;	/* the first such status */
};

/*
 * Reads a byte of each page of [@p, @p + @len), which maps the folio the
 * file has there (or faults one in), then asks move_pages() where each is.
 */
static struct where where_are(char *p, u64 len)
{
	u64 i, n = NR_PAGES(len);
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	struct where w = {};

	TEST_ASSERT(pages && status, "calloc");
	for (i = 0; i < n; i++) {
		pages[i] = p + i * PAGE_SIZE;
		(void)READ_ONCE(*(char *)pages[i]);
	}
	TEST_ASSERT(!syscall(SYS_move_pages, 0, n, pages, NULL, status, 0),
		    "move_pages(): errno %d", errno);
	for (i = 0; i < n; i++) {
		if (status[i] == 0 || status[i] == 1)
			w.on[status[i]]++;
		else if (!w.other++)
			w.status = status[i];
	}
	free(status);
	free(pages);
	return w;
}

/* Every page of [@p, @p + @len) is on @node. */
static void expect_all_on(struct __test_metadata *_metadata, int line,
			  int node, char *p, u64 len)
{
	struct where w = where_are(p, len);

	EXPECT_EQ(NR_PAGES(len), w.on[node])
		TH_LOG("line %d: [%p, +%#lx) not all on node %d: 0: %lu, 1: %lu, other: %lu (%d)",
		       line, p, len, node, w.on[0], w.on[1], w.other,
		       w.status);
}

#define EXPECT_ALL_ON(node, p, len)					\
	expect_all_on(_metadata, __LINE__, node, p, len)

/*
 * A field of /proc/self/smaps in kB, summed over the mappings that overlap
 * [@start, @start + @len): mbind() splits a mapping where the policy
 * changes.
 */
static long smaps_sum_kb(const void *start, u64 len, const char *field)
{
	unsigned long lo, hi, s = (unsigned long)start, e = s + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t flen = strlen(field);
	bool in = false;
	char line[512];
	long kb = 0;

	TEST_ASSERT(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo < e && hi > s;
			continue;
		}
		if (in && !strncmp(line, field, flen) && line[flen] == ':')
			kb += atol(line + flen + 1);
	}
	fclose(f);
	return kb;
}

static long pmd_mapped_kb(const void *p, u64 len)
{
	return smaps_sum_kb(p, len, "FilePmdMapped");
}

/*
 * Reads a byte of each 2 MiB block of [@p, @p + @len), in a mapping of
 * one VMA (one that mbind() did not split, so that it can map any block
 * with a PMD) with nothing mapped yet: FilePmdMapped then counts the
 * blocks that are one 2 MiB folio.
 */
static long huge_folios_kb(char *p, u64 len)
{
	u64 off;

	for (off = 0; off < len; off += SZ_2M)
		(void)READ_ONCE(p[off]);
	return pmd_mapped_kb(p, len);
}

/*
 * Node @node's FilePages, in kB: gmem's memory is page cache.  The
 * per-CPU counter deltas are folded in first (/proc/sys/vm/stat_refresh).
 */
static long node_file_kb(int node)
{
	char path[64], line[128];
	long kb = -1;
	int fd, n;
	FILE *f;

	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		TEST_ASSERT(write(fd, "1", 1) == 1, "stat_refresh");
		close(fd);
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 node);
	f = fopen(path, "r");
	TEST_ASSERT(f, "open %s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %d FilePages: %ld", &n, &kb) == 2)
			break;
	fclose(f);
	TEST_ASSERT(kb >= 0, "no FilePages in %s", path);
	return kb;
}

static void node_file_kb_both(long kb[2])
{
	kb[0] = node_file_kb(0);
	kb[1] = node_file_kb(1);
}

/* At least 90% of @len bytes came to node @node since @before. */
static void expect_came_to(struct __test_metadata *_metadata, int line,
			   int node, u64 len, const long before[2])
{
	long now[2];

	node_file_kb_both(now);
	EXPECT_LE((long)(len / 1024) * 9 / 10, now[node] - before[node])
		TH_LOG("line %d: node %d wants %lu kB: node 0 got %ld kB, node 1 %ld kB",
		       line, node, len / 1024, now[0] - before[0],
		       now[1] - before[1]);
}

#define EXPECT_CAME_TO(node, len, before)				\
	expect_came_to(_metadata, __LINE__, node, len, before)

static unsigned long taint_flags(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	TEST_ASSERT(f && fscanf(f, "%lu", &t) == 1, "read tainted");
	fclose(f);
	return t;
}

TEST(the_guest_has_two_nodes_with_memory)
{
	require_two_nodes(_metadata);
}

/*
 * A default VM, an 8 MiB guest_memfd of shared memory (four 2 MiB blocks)
 * and a mapping of it, and a second mapping to read policies through.
 */
FIXTURE(shared) {
	struct kvm_vm *vm;
	int gmem;
	char *p, *q;
};

FIXTURE_SETUP(shared)
{
	require_two_nodes(_metadata);
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, SIZE, SHARED_MEM);
	self->p = gmem_map(self->gmem, SIZE, 0);
	self->q = gmem_map(self->gmem, SIZE, 0);
}

FIXTURE_TEARDOWN(shared)
{
	munmap(self->q, SIZE);
	munmap(self->p, SIZE);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

/*
 * The first half bound to node 0, the second to node 1: each half's pages
 * land on its node, in 2 MiB folios mapped with PMDs.
 */
TEST_F(shared, two_ranges_on_two_nodes)
{
	char line[1024];

	set_policy(self->p, HALF, MPOL_BIND, NODE(0));
	set_policy(self->p + HALF, HALF, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q, MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + HALF - PAGE_SIZE, MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + HALF, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SIZE - PAGE_SIZE, MPOL_BIND, NODE(1));

	task_bind(1);
	touch_pages(self->p, HALF);
	task_bind(0);
	touch_pages(self->p + HALF, HALF);
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
	EXPECT_EQ(SIZE / 1024, pmd_mapped_kb(self->p, SIZE));
	EXPECT_ALL_ON(0, self->p, HALF);
	EXPECT_ALL_ON(1, self->p + HALF, HALF);
	/* The other mapping finds the same pages. */
	EXPECT_ALL_ON(0, self->q, HALF);
	EXPECT_ALL_ON(1, self->q + HALF, HALF);

	/* numa_maps: the policy at the mapping's start, and its pages. */
	numa_maps_line(self->q, line, sizeof(line));
	EXPECT_NE(NULL, strstr(line, " bind:0 ")) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, " N0=1024 N1=1024 ")) TH_LOG("%s", line);
}

/*
 * A policy set on a range with a page's granularity, inside a 2 MiB block:
 * the block is 4 KiB pages, each on its range's node; a whole block of the
 * second policy is still one 2 MiB folio.
 */
TEST_F(shared, a_block_split_between_two_policies_gets_4k_pages)
{
	set_policy(self->p, SZ_1M, MPOL_BIND, NODE(0));
	set_policy(self->p + SZ_1M, SZ_2M + SZ_1M, MPOL_BIND, NODE(1));
	/* Page granularity, as upstream's test_numa_allocation sets it. */
	set_policy(self->p + SZ_4M, 2 * PAGE_SIZE, MPOL_BIND, NODE(1));
	set_policy(self->p + SZ_4M + 2 * PAGE_SIZE, SZ_2M - 2 * PAGE_SIZE,
		   MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + SZ_4M + PAGE_SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_4M + 2 * PAGE_SIZE, MPOL_BIND, NODE(0));

	/* Each range faulted while the task is bound to the other node. */
	task_bind(1);
	touch_pages(self->p, SZ_1M);
	touch_pages(self->p + SZ_4M + 2 * PAGE_SIZE, SZ_2M - 2 * PAGE_SIZE);
	task_bind(0);
	touch_pages(self->p + SZ_1M, SZ_2M + SZ_1M);
	touch_pages(self->p + SZ_4M, 2 * PAGE_SIZE);

	EXPECT_EQ(SZ_6M / 1024, gmem_allocated_kb(self->gmem));
	/* Only the block [2 MiB, 4 MiB) has one policy. */
	EXPECT_EQ(SZ_2M / 1024, huge_folios_kb(self->q, SZ_6M));
	EXPECT_ALL_ON(0, self->p, SZ_1M);
	EXPECT_ALL_ON(1, self->p + SZ_1M, SZ_2M + SZ_1M);
	EXPECT_ALL_ON(1, self->p + SZ_4M, 2 * PAGE_SIZE);
	EXPECT_ALL_ON(0, self->p + SZ_4M + 2 * PAGE_SIZE,
		      SZ_2M - 2 * PAGE_SIZE);
}

/*
 * Half of a block with a policy, half without: 4 KiB pages, those without
 * a policy where the task's policy puts them.
 */
TEST_F(shared, a_block_half_without_policy_gets_4k_pages)
{
	set_policy(self->p + SZ_1M, SZ_1M, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q + SZ_1M, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_2M, MPOL_DEFAULT, 0);

	task_bind(0);
	touch_pages(self->p, SZ_2M);
	EXPECT_EQ(SZ_2M / 1024, gmem_allocated_kb(self->gmem));
	EXPECT_EQ(0, huge_folios_kb(self->q, SZ_2M));
	EXPECT_ALL_ON(0, self->p, SZ_1M);
	EXPECT_ALL_ON(1, self->p + SZ_1M, SZ_1M);
}

/*
 * One mbind() over the whole of a mapping that is three VMAs (one page in
 * it made read-only) sets one policy on every block: each is still one
 * 2 MiB folio, on the policy's node.  The blocks are checked through
 * another mapping, of one VMA, where each can be mapped with a PMD.
 */
TEST_F(shared, one_mbind_over_a_split_mapping_keeps_2m_folios)
{
	ASSERT_EQ(0, mprotect(self->p + SZ_1M, PAGE_SIZE, PROT_READ));
	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_1M, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_1M + PAGE_SIZE, MPOL_BIND, NODE(1));

	task_bind(0);
	EXPECT_EQ(SIZE / 1024, huge_folios_kb(self->q, SIZE));
	/* A touch of a block allocates all of it, if it is one folio. */
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
	EXPECT_ALL_ON(1, self->q, SIZE);
}

/*
 * MPOL_LOCAL on a range: its pages land on the node of the CPU that
 * faults them in, whatever the task's own policy says.
 */
TEST_F(shared, mpol_local_follows_the_faulting_cpu)
{
	int cpu[2] = { node_cpu(0), node_cpu(1) };

	ASSERT_LE(0, cpu[0]) TH_LOG("node 0 has no CPU");
	ASSERT_LE(0, cpu[1]) TH_LOG("node 1 has no CPU");
	set_policy(self->p, SIZE, MPOL_LOCAL, 0);
	EXPECT_POLICY(self->q, MPOL_LOCAL, 0);

	pin_to_cpu(cpu[1]);
	task_bind(0);
	touch_pages(self->p, HALF);
	pin_to_cpu(cpu[0]);
	task_bind(1);
	touch_pages(self->p + HALF, HALF);
	EXPECT_ALL_ON(1, self->p, HALF);
	EXPECT_ALL_ON(0, self->p + HALF, HALF);
	EXPECT_EQ(SIZE / 1024, pmd_mapped_kb(self->p, SIZE));
}

/*
 * set_mempolicy_home_node() on a range bound to both nodes: its pages land
 * on the home node, not on the faulting CPU's.
 */
TEST_F(shared, set_mempolicy_home_node_picks_the_node)
{
	int cpu = node_cpu(0);

	ASSERT_LE(0, cpu) TH_LOG("node 0 has no CPU");
	set_policy(self->p, SIZE, MPOL_BIND, BOTH_NODES);
	ASSERT_EQ(0, syscall(SYS_set_mempolicy_home_node, self->p, SIZE, 1, 0))
		TH_LOG("errno %d", errno);
	EXPECT_POLICY(self->q, MPOL_BIND, BOTH_NODES);

	pin_to_cpu(cpu);
	task_bind(0);
	touch_pages(self->p, SIZE);
	EXPECT_ALL_ON(1, self->p, SIZE);
}

/*
 * Each mode, set over the whole file: reported as set on another mapping,
 * and the pages faulted through the mapping land on its node; in 2 MiB
 * folios, PMD-mapped before and after every page is read, where the file
 * has them.
 */
FIXTURE(mode) {
	struct kvm_vm *vm;
	int gmem;
	char *p, *q;
};

FIXTURE_VARIANT(mode) {
	int mode;		/* with its flags */
	unsigned long nodes;
	int node;		/* where the pages must land */
	u64 flags;		/* of the guest_memfd */
};

FIXTURE_VARIANT_ADD(mode, bind_node_1) {
	.mode = MPOL_BIND, .nodes = NODE(1), .node = 1, .flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mode, bind_node_0) {
	.mode = MPOL_BIND, .nodes = NODE(0), .node = 0, .flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mode, bind_node_1_4k) {
	.mode = MPOL_BIND, .nodes = NODE(1), .node = 1,
	.flags = SHARED_MEM | NO_HUGEPAGE,
};

FIXTURE_VARIANT_ADD(mode, preferred_node_1) {
	.mode = MPOL_PREFERRED, .nodes = NODE(1), .node = 1,
	.flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mode, preferred_node_0_4k) {
	.mode = MPOL_PREFERRED, .nodes = NODE(0), .node = 0,
	.flags = SHARED_MEM | NO_HUGEPAGE,
};

FIXTURE_VARIANT_ADD(mode, preferred_many_node_1) {
	.mode = MPOL_PREFERRED_MANY, .nodes = NODE(1), .node = 1,
	.flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mode, bind_static_nodes_node_1) {
	.mode = MPOL_BIND | MPOL_F_STATIC_NODES, .nodes = NODE(1), .node = 1,
	.flags = SHARED_MEM,
};

FIXTURE_VARIANT_ADD(mode, preferred_relative_nodes_node_1) {
	.mode = MPOL_PREFERRED | MPOL_F_RELATIVE_NODES, .nodes = NODE(1),
	.node = 1, .flags = SHARED_MEM,
};

FIXTURE_SETUP(mode)
{
	require_two_nodes(_metadata);
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, SIZE, variant->flags);
	self->p = gmem_map(self->gmem, SIZE, 0);
	self->q = gmem_map(self->gmem, SIZE, 0);
}

FIXTURE_TEARDOWN(mode)
{
	munmap(self->q, SIZE);
	munmap(self->p, SIZE);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(mode, faults_through_the_mapping_land_on_the_node)
{
	long pmd_kb = variant->flags & NO_HUGEPAGE ? 0 : SIZE / 1024;
	u64 off;

	set_policy(self->p, SIZE, variant->mode, variant->nodes);
	EXPECT_POLICY(self->q, variant->mode, variant->nodes);
	EXPECT_POLICY(self->q + SIZE - PAGE_SIZE, variant->mode,
		      variant->nodes);

	task_bind(OTHER(variant->node));
	/* One touch per block: a 2 MiB folio is one allocation. */
	for (off = 0; off < SIZE; off += SZ_2M)
		WRITE_ONCE(self->p[off], 1);
	if (pmd_kb) {
		EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
		EXPECT_EQ(pmd_kb, pmd_mapped_kb(self->p, SIZE));
	}
	EXPECT_ALL_ON(variant->node, self->p, SIZE);
	EXPECT_EQ(pmd_kb, pmd_mapped_kb(self->p, SIZE))
		TH_LOG("no longer PMD-mapped after move_pages()");
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
}

/*
 * MPOL_INTERLEAVE (and MPOL_WEIGHTED_INTERLEAVE) over both nodes spreads
 * the pages over both, 4 KiB pages one by one and 2 MiB folios block by
 * block.
 */
FIXTURE(interleave) {
	struct kvm_vm *vm;
	int gmem;
	char *p, *q;
};

FIXTURE_VARIANT(interleave) {
	int mode;
	u64 flags, size;
};

FIXTURE_VARIANT_ADD(interleave, pages_4k) {
	.mode = MPOL_INTERLEAVE, .flags = SHARED_MEM | NO_HUGEPAGE,
	.size = SZ_4M,
};

FIXTURE_VARIANT_ADD(interleave, folios_2m) {
	.mode = MPOL_INTERLEAVE, .flags = SHARED_MEM, .size = SZ_16M,
};

/* With the default weights, one page for each node in turn. */
FIXTURE_VARIANT_ADD(interleave, weighted_pages_4k) {
	.mode = MPOL_WEIGHTED_INTERLEAVE, .flags = SHARED_MEM | NO_HUGEPAGE,
	.size = SZ_4M,
};

FIXTURE_SETUP(interleave)
{
	require_two_nodes(_metadata);
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, variant->size,
					   variant->flags);
	self->p = gmem_map(self->gmem, variant->size, 0);
	self->q = gmem_map(self->gmem, variant->size, 0);
}

FIXTURE_TEARDOWN(interleave)
{
	munmap(self->q, variant->size);
	munmap(self->p, variant->size);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(interleave, spreads_the_pages_over_both_nodes)
{
	u64 pages = NR_PAGES(variant->size);
	long pmd_kb = variant->flags & NO_HUGEPAGE ? 0 : variant->size / 1024;
	struct where w;

	set_policy(self->p, variant->size, variant->mode, BOTH_NODES);
	EXPECT_POLICY(self->q, variant->mode, BOTH_NODES);

	task_bind(0);
	touch_pages(self->p, variant->size);
	EXPECT_EQ(pmd_kb, pmd_mapped_kb(self->p, variant->size));
	w = where_are(self->p, variant->size);
	EXPECT_EQ(pages, w.on[0] + w.on[1])
		TH_LOG("%lu pages elsewhere (status %d)", w.other, w.status);
	/* At least a quarter on each: 2 of 8 blocks, 256 of 1024 pages. */
	EXPECT_LE(pages / 4, w.on[0]) TH_LOG("node 1 has %lu", w.on[1]);
	EXPECT_LE(pages / 4, w.on[1]) TH_LOG("node 0 has %lu", w.on[0]);
}

/*
 * The policy is the inode's: a mapping made after munmap() of the one that
 * set it reports it and its faults follow it; so does a mapping at another
 * offset, whose own mbind() sets the policy of the file's pages it maps.
 */
TEST_F(shared, the_policy_survives_munmap_and_follows_the_file_offset)
{
	char *r;

	munmap(self->q, SIZE);
	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	munmap(self->p, SIZE);
	self->p = gmem_map(self->gmem, SIZE, 0);
	EXPECT_POLICY(self->p, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->p + SIZE - PAGE_SIZE, MPOL_BIND, NODE(1));

	/* File offset 6 MiB: the last block. */
	r = gmem_map(self->gmem, SZ_2M, SZ_6M);
	EXPECT_POLICY(r, MPOL_BIND, NODE(1));
	set_policy(r, SZ_2M, MPOL_BIND, NODE(0));
	munmap(r, SZ_2M);
	self->q = gmem_map(self->gmem, SIZE, 0);
	EXPECT_POLICY(self->q + SZ_6M - PAGE_SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_6M, MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + SIZE - PAGE_SIZE, MPOL_BIND, NODE(0));

	task_bind(0);
	touch_pages(self->p, SZ_6M);
	task_bind(1);
	touch_pages(self->p + SZ_6M, SZ_2M);
	EXPECT_EQ(SIZE / 1024, pmd_mapped_kb(self->p, SIZE));
	EXPECT_ALL_ON(1, self->p, SZ_6M);
	EXPECT_ALL_ON(0, self->p + SZ_6M, SZ_2M);
}

/*
 * A mapping of two pages at file offset 1 MiB + 4 KiB: mbind() on it sets
 * the policy of exactly those pages of the file, not one page more.
 */
TEST_F(shared, a_mapping_at_a_page_offset_sets_exactly_its_pages)
{
	const u64 at = SZ_1M + PAGE_SIZE;
	char *r = gmem_map(self->gmem, 2 * PAGE_SIZE, at);

	set_policy(r + PAGE_SIZE, PAGE_SIZE, MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + at - PAGE_SIZE, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q + at, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q + at + PAGE_SIZE, MPOL_BIND, NODE(0));
	EXPECT_POLICY(self->q + at + 2 * PAGE_SIZE, MPOL_DEFAULT, 0);

	set_policy(r, 2 * PAGE_SIZE, MPOL_BIND, NODE(1));
	munmap(r, 2 * PAGE_SIZE);
	EXPECT_POLICY(self->q + at - PAGE_SIZE, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q + at, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + at + PAGE_SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + at + 2 * PAGE_SIZE, MPOL_DEFAULT, 0);

	task_bind(0);
	touch_pages(self->q + at - PAGE_SIZE, 4 * PAGE_SIZE);
	EXPECT_ALL_ON(0, self->q + at - PAGE_SIZE, PAGE_SIZE);
	EXPECT_ALL_ON(1, self->q + at, 2 * PAGE_SIZE);
	EXPECT_ALL_ON(0, self->q + at + 2 * PAGE_SIZE, PAGE_SIZE);
}

/*
 * Punched, whole blocks and a few pages inside one, the range keeps its
 * policy: what is faulted back lands on its node again.
 */
TEST_F(shared, the_policy_survives_a_punch)
{
	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	task_bind(0);
	touch_pages(self->p, SIZE);
	EXPECT_ALL_ON(1, self->p, SIZE);

	ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, 0, SZ_4M));
	ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, SZ_4M + SZ_1M,
			       4 * PAGE_SIZE));
	EXPECT_EQ(SZ_4M / 1024 - 16, gmem_allocated_kb(self->gmem));
	EXPECT_POLICY(self->q, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_4M + SZ_1M, MPOL_BIND, NODE(1));

	touch_pages(self->p, SIZE);
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
	EXPECT_ALL_ON(1, self->p, SIZE);
	/* The punched blocks came back whole; the split one did not. */
	EXPECT_EQ(SZ_6M / 1024, pmd_mapped_kb(self->p, SIZE));
}

/*
 * MPOL_DEFAULT removes a range's policy: there, allocation follows the
 * allocating task's policy; elsewhere the policy stays.
 */
TEST_F(shared, mpol_default_removes_the_policy)
{
	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	set_policy(self->p + HALF, HALF, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + HALF - PAGE_SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + HALF, MPOL_DEFAULT, 0);

	task_bind(0);
	touch_pages(self->p, SIZE);
	EXPECT_ALL_ON(1, self->p, HALF);
	EXPECT_ALL_ON(0, self->p + HALF, HALF);

	/* All of it, and the memory faulted back follows the task. */
	set_policy(self->p, SIZE, MPOL_DEFAULT, 0);
	EXPECT_POLICY(self->q, MPOL_DEFAULT, 0);
	ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, 0, SIZE));
	touch_pages(self->p, HALF);
	task_bind(1);
	touch_pages(self->p + HALF, HALF);
	EXPECT_ALL_ON(0, self->p, HALF);
	EXPECT_ALL_ON(1, self->p + HALF, HALF);
	EXPECT_EQ(SIZE / 1024, pmd_mapped_kb(self->p, SIZE));
}

/* fallocate() follows each range's policy. */
TEST_F(shared, fallocate_follows_the_policy)
{
	int round;

	set_policy(self->p, HALF, MPOL_BIND, NODE(0));
	set_policy(self->p + HALF, HALF, MPOL_BIND, NODE(1));
	/* Once with the task bound to either node. */
	for (round = 0; round < 2; round++) {
		task_bind(round);
		ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0,
				       SIZE));
		EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(self->gmem));
		EXPECT_ALL_ON(0, self->q, HALF);
		EXPECT_ALL_ON(1, self->q + HALF, HALF);
		EXPECT_EQ(SIZE / 1024, pmd_mapped_kb(self->q, SIZE));
		ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, 0, SIZE));
	}
}

/*
 * A default VM's guest on a guest_memfd-only memslot faults the memory in
 * through KVM: each half lands on its node, mapped 2 MiB in the guest.
 */
TEST(kvm_faults_on_a_gmem_only_memslot_follow_the_policy)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct layout l;
	int gmem, round;
	char *p;

	require_two_nodes(_metadata);
	vm = default_vm_with_vcpu(&vcpu, SIZE);
	gmem = vm_create_guest_memfd(vm, SIZE, SHARED_MEM);
	p = gmem_map(gmem, SIZE, 0);
	set_policy(p, HALF, MPOL_BIND, NODE(1));
	set_policy(p + HALF, HALF, MPOL_BIND, NODE(0));
	add_gmem_slot(vm, SIZE, NULL, gmem, 0);

	/* Once with the task (the vCPU's) bound to either node. */
	for (round = 0; round < 2; round++) {
		u64 m2 = vm_get_stat(vm, "pages_2m");

		task_bind(round);
		layout_init(&l, round + 1);
		ASSERT_EQ(0, guest_do(vm, vcpu, &l, true));
		/* The guest allocated it all: reading only maps it. */
		EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(gmem));
		EXPECT_EQ(SIZE / SZ_2M, vm_get_stat(vm, "pages_2m") - m2)
			TH_LOG("round %d", round);
		EXPECT_ALL_ON(1, p, HALF);
		EXPECT_ALL_ON(0, p + HALF, HALF);
		EXPECT_EQ(0, bad_words((u64 *)p, &l, WORDS(SIZE)));
		ASSERT_EQ(0, fallocate(gmem, PUNCH_HOLE, 0, SIZE));
	}

	munmap(p, SIZE);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * Private memory of a SW-protected VM, 16 MiB of a guest_memfd made with
 * MMAP (so that it can be mapped to mbind(); every touch of the mapping is
 * SIGBUS), the first half bound to node 0 and the second to node 1,
 * allocated by the guest's faults, KVM_PRE_FAULT_MEMORY or fallocate():
 * each node's FilePages grows by (nearly) a half.
 */
#define PRIV_SIZE	SZ_16M
#define PRIV_HALF	(PRIV_SIZE / 2)

enum how { BY_GUEST, BY_PRE_FAULT, BY_FALLOCATE };

FIXTURE(private_mem) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;
	char *p;
};

FIXTURE_VARIANT(private_mem) {
	enum how how;
};

FIXTURE_VARIANT_ADD(private_mem, kvm_fault) { .how = BY_GUEST };
FIXTURE_VARIANT_ADD(private_mem, pre_fault) { .how = BY_PRE_FAULT };
FIXTURE_VARIANT_ADD(private_mem, fallocate) { .how = BY_FALLOCATE };

FIXTURE_SETUP(private_mem)
{
	require_two_nodes(_metadata);
	self->vm = private_vm_with_vcpu(&self->vcpu, guest_write_then_count);
	vcpu_args_set(self->vcpu, 2, NR_PAGES(PRIV_SIZE), 1);
	self->gmem = vm_create_guest_memfd(self->vm, PRIV_SIZE, MMAP);
	self->p = gmem_map(self->gmem, PRIV_SIZE, 0);
	add_private_mem(self->vm, PRIV_SIZE, self->gmem, 0, PG_LEVEL_4K);
}

FIXTURE_TEARDOWN(private_mem)
{
	munmap(self->p, PRIV_SIZE);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(private_mem, each_half_lands_on_its_node)
{
	long before[2];
	char *q;
	int round;

	set_policy(self->p, PRIV_HALF, MPOL_BIND, NODE(0));
	set_policy(self->p + PRIV_HALF, PRIV_HALF, MPOL_BIND, NODE(1));
	q = gmem_map(self->gmem, PRIV_SIZE, 0);
	EXPECT_POLICY(q, MPOL_BIND, NODE(0));
	EXPECT_POLICY(q + PRIV_HALF, MPOL_BIND, NODE(1));
	munmap(q, PRIV_SIZE);

	/* Once with the task (the vCPU's) bound to either node. */
	for (round = 0; round < 2; round++) {
		task_bind(round);
		node_file_kb_both(before);
		switch (variant->how) {
		case BY_GUEST:
			/* The first run writes, the second reads. */
			ASSERT_EQ(0, run_to_sync(self->vcpu));
			break;
		case BY_PRE_FAULT:
			pre_fault_memory(self->vcpu, TEST_GPA, PRIV_SIZE);
			break;
		case BY_FALLOCATE:
			ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE,
					       0, PRIV_SIZE));
			break;
		}
		EXPECT_EQ(PRIV_SIZE / 1024, gmem_allocated_kb(self->gmem));
		EXPECT_CAME_TO(0, PRIV_HALF, before);
		EXPECT_CAME_TO(1, PRIV_HALF, before);

		/* The guest writes (first round) and checks its memory. */
		if (!round && variant->how != BY_GUEST)
			ASSERT_EQ(0, run_to_sync(self->vcpu));
		ASSERT_EQ(0, run_to_sync(self->vcpu));

		ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, 0, PRIV_SIZE));
		expect_hole(self->vm, 0, NR_PAGES(PRIV_SIZE));
	}
}

/*
 * Two VMs in one process: a policy set through the source's mapping is
 * reported through the linked file's, and one set through the linked
 * file's through the source's; the linked VM's guest faults the memory in
 * on the policy's nodes.
 */
TEST(a_linked_file_shares_the_policy_and_its_vm_follows_it)
{
	struct kvm_vm *a = default_vm(), *b;
	struct kvm_vcpu *vcpu;
	int gmem_a, gmem_b;
	struct layout l;
	char *pa, *pb;

	require_two_nodes(_metadata);
	gmem_a = vm_create_guest_memfd(a, SIZE, SHARED_MEM | LINKABLE);
	pa = gmem_map(gmem_a, SIZE, 0);
	set_policy(pa, HALF, MPOL_BIND, NODE(1));
	set_policy(pa + HALF, HALF, MPOL_BIND, NODE(0));

	b = default_vm_with_vcpu(&vcpu, SIZE);
	gmem_b = vm_link_guest_memfd(b, gmem_a, 0);
	pb = gmem_map(gmem_b, SIZE, 0);
	EXPECT_POLICY(pb, MPOL_BIND, NODE(1));
	EXPECT_POLICY(pb + HALF, MPOL_BIND, NODE(0));

	/* The last block, set through the linked file. */
	set_policy(pb + SZ_6M, SZ_2M, MPOL_BIND, NODE(1));
	EXPECT_POLICY(pa + SZ_6M, MPOL_BIND, NODE(1));
	EXPECT_POLICY(pa + SZ_6M - PAGE_SIZE, MPOL_BIND, NODE(0));

	add_gmem_slot(b, SIZE, NULL, gmem_b, 0);
	task_bind(0);
	layout_init(&l, 1);
	ASSERT_EQ(0, guest_do(b, vcpu, &l, true));
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(gmem_a));
	EXPECT_ALL_ON(1, pb, HALF);
	EXPECT_ALL_ON(0, pb + HALF, SZ_2M);
	EXPECT_ALL_ON(1, pb + SZ_6M, SZ_2M);
	EXPECT_EQ(0, bad_words((u64 *)pa, &l, WORDS(SIZE)));

	munmap(pb, SIZE);
	munmap(pa, SIZE);
	close(gmem_b);
	close(gmem_a);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

/*
 * Process A sets the policy through its mapping, allocates nothing, sends
 * its file over SCM_RIGHTS and goes, with its VM, mapping and file.  The
 * policy lives on with the inode: process B's linked file reports it, and
 * B's guest faults the memory in on the policy's nodes.
 */
static void handover_source(int sock)
{
	struct kvm_vm *vm = default_vm();
	int gmem = vm_create_guest_memfd(vm, SIZE, SHARED_MEM | LINKABLE);
	char *p = gmem_map(gmem, SIZE, 0);
	char byte;

	set_policy(p, HALF, MPOL_BIND, NODE(1));
	set_policy(p + HALF, HALF, MPOL_PREFERRED, NODE(0));
	send_fd(sock, gmem);
	TEST_ASSERT(read(sock, &byte, 1) == 1, "waiting for B");
	munmap(p, SIZE);
	close(gmem);
	kvm_vm_free(vm);
	_exit(0);
}

TEST(the_policy_outlives_the_source_and_reaches_a_new_vmm)
{
	struct kvm_vcpu *vcpu;
	int sock[2], status, fd, gmem;
	struct kvm_vm *vm;
	struct layout l;
	pid_t pid;
	char *p;

	require_two_nodes(_metadata);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sock[0]);
		handover_source(sock[1]);
	}
	close(sock[1]);
	fd = recv_fd(sock[0]);
	vm = default_vm_with_vcpu(&vcpu, SIZE);
	gmem = vm_link_guest_memfd(vm, fd, 0);
	close(fd);
	ASSERT_EQ(1, write(sock[0], "L", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("process A ended with 0x%x", status);
	close(sock[0]);

	/* B's file is the only one on the inode now. */
	p = gmem_map(gmem, SIZE, 0);
	EXPECT_POLICY(p, MPOL_BIND, NODE(1));
	EXPECT_POLICY(p + HALF, MPOL_PREFERRED, NODE(0));
	EXPECT_EQ(0, gmem_allocated_kb(gmem));

	add_gmem_slot(vm, SIZE, NULL, gmem, 0);
	task_bind(0);
	layout_init(&l, 1);
	ASSERT_EQ(0, guest_do(vm, vcpu, &l, true));
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(gmem));
	EXPECT_ALL_ON(1, p, HALF);
	EXPECT_ALL_ON(0, p + HALF, HALF);

	/* And again with the task on the other node. */
	ASSERT_EQ(0, fallocate(gmem, PUNCH_HOLE, 0, SIZE));
	task_bind(1);
	layout_init(&l, 2);
	ASSERT_EQ(0, guest_do(vm, vcpu, &l, true));
	EXPECT_ALL_ON(1, p, HALF);
	EXPECT_ALL_ON(0, p + HALF, HALF);

	munmap(p, SIZE);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * Bad input, each over the whole mapping of a file bound to node 1:
 * mbind()'s own errors, as upstream's, and afterwards the policy is still
 * node 1 on another mapping, and faults still land there.
 */
TEST_F(shared, bad_input_gets_upstreams_errors_and_changes_nothing)
{
	unsigned long offline = ~node_list("online") & ~BOTH_NODES;
	unsigned long one = NODE(1), none = 0, off_node;
	const struct {
		int mode;
		const unsigned long *nodes;
		unsigned long maxnode;
		unsigned int flags;
		int offset;
		int err;
		const char *what;
	} bad[] = {
		{ 999, &one, MAXNODE, 0, 0, EINVAL, "mode 999" },
		{ MPOL_MAX, &one, MAXNODE, 0, 0, EINVAL, "mode MPOL_MAX" },
		{ MPOL_BIND, &none, MAXNODE, 0, 0, EINVAL,
		  "MPOL_BIND, empty mask" },
		{ MPOL_BIND, NULL, 0, 0, 0, EINVAL, "MPOL_BIND, no mask" },
		{ MPOL_INTERLEAVE, &none, MAXNODE, 0, 0, EINVAL,
		  "MPOL_INTERLEAVE, empty mask" },
		{ MPOL_PREFERRED_MANY, &none, MAXNODE, 0, 0, EINVAL,
		  "MPOL_PREFERRED_MANY, empty mask" },
		{ MPOL_BIND, &off_node, MAXNODE, 0, 0, EINVAL,
		  "MPOL_BIND, a node not online" },
		{ MPOL_PREFERRED, &off_node, MAXNODE, 0, 0, EINVAL,
		  "MPOL_PREFERRED, a node not online" },
		{ MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES,
		  &one, MAXNODE, 0, 0, EINVAL,
		  "MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES" },
		{ MPOL_DEFAULT, &one, MAXNODE, 0, 0, EINVAL,
		  "MPOL_DEFAULT with a node" },
		{ MPOL_BIND, (unsigned long *)8, MAXNODE, 0, 0, EFAULT,
		  "a bad node mask pointer" },
		{ MPOL_BIND, &one, MAXNODE, 1u << 7, 0, EINVAL,
		  "an unknown flag" },
		{ MPOL_BIND, &one, MAXNODE, 0, 1, EINVAL,
		  "an address not page aligned" },
	};
	struct policy now;
	unsigned int i;

	ASSERT_NE(0, offline);
	off_node = offline & -offline;
	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, sys_mbind(self->p + bad[i].offset, SIZE,
					bad[i].mode, bad[i].nodes,
					bad[i].maxnode, bad[i].flags))
			TH_LOG("%s was taken", bad[i].what);
		EXPECT_EQ(bad[i].err, errno) TH_LOG("%s", bad[i].what);
		now = policy_at(self->q + SIZE - PAGE_SIZE);
		EXPECT_EQ(MPOL_BIND, now.mode) TH_LOG("after %s", bad[i].what);
		EXPECT_EQ(NODE(1), now.nodes) TH_LOG("after %s", bad[i].what);
	}
	/* The policy of the mapping that got the calls, too. */
	EXPECT_POLICY(self->p, MPOL_BIND, NODE(1));

	task_bind(0);
	touch_pages(self->p, SIZE);
	EXPECT_ALL_ON(1, self->p, SIZE);
}

/*
 * A guest_memfd made without MMAP cannot be mapped (ENODEV), neither its
 * own file nor a linked one, so no mbind() can reach it.
 */
TEST(a_file_without_mmap_cannot_be_mapped_to_mbind)
{
	struct kvm_vm *vm = private_vm_barebones(), *other;
	int gmem, linked;
	void *p;

	require_two_nodes(_metadata);
	vm_enable_gmem_link(vm);
	gmem = vm_create_guest_memfd(vm, SIZE, 0);
	other = private_vm_barebones();
	linked = vm_link_guest_memfd(other, gmem, 0);

	errno = 0;
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, linked, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);

	close(linked);
	close(gmem);
	kvm_vm_free(other);
	kvm_vm_free(vm);
}

/*
 * mbind() with MPOL_MF_MOVE (and MPOL_MF_STRICT) over memory populated on
 * node 0, to node 1: gmem's pages cannot migrate, so it answers 0 (EIO with
 * STRICT), without a WARN, and every page keeps its contents and its node.
 * Whatever policy get_mempolicy() reports afterwards, new faults follow
 * it.
 */
FIXTURE(move) {
	struct kvm_vm *vm;
	int gmem;
	char *p, *q;
};

FIXTURE_VARIANT(move) {
	unsigned int mf;
	u64 flags;
	int ret, err;
};

FIXTURE_VARIANT_ADD(move, move_2m) {
	.mf = MPOL_MF_MOVE, .flags = SHARED_MEM, .ret = 0,
};

FIXTURE_VARIANT_ADD(move, move_4k) {
	.mf = MPOL_MF_MOVE, .flags = SHARED_MEM | NO_HUGEPAGE, .ret = 0,
};

FIXTURE_VARIANT_ADD(move, move_strict_2m) {
	.mf = MPOL_MF_MOVE | MPOL_MF_STRICT, .flags = SHARED_MEM,
	.ret = -1, .err = EIO,
};

FIXTURE_VARIANT_ADD(move, move_strict_4k) {
	.mf = MPOL_MF_MOVE | MPOL_MF_STRICT, .flags = SHARED_MEM | NO_HUGEPAGE,
	.ret = -1, .err = EIO,
};

FIXTURE_SETUP(move)
{
	require_two_nodes(_metadata);
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, SZ_4M, variant->flags);
	self->p = gmem_map(self->gmem, SZ_4M, 0);
	self->q = gmem_map(self->gmem, SZ_4M, 0);
}

FIXTURE_TEARDOWN(move)
{
	munmap(self->q, SZ_4M);
	munmap(self->p, SZ_4M);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(move, pages_stay_with_their_contents_and_node)
{
	long pmd_kb = variant->flags & NO_HUGEPAGE ? 0 : SZ_4M / 1024;
	unsigned long to = NODE(1), taints;
	struct policy now;
	struct layout l;
	long r;

	set_policy(self->p, SZ_4M, MPOL_BIND, NODE(0));
	task_bind(1);
	layout_init(&l, 7);
	fill_words((u64 *)self->p, &l, 0, WORDS(SZ_4M));
	EXPECT_ALL_ON(0, self->p, SZ_4M);
	EXPECT_EQ(pmd_kb, pmd_mapped_kb(self->p, SZ_4M));

	taints = taint_flags();
	errno = 0;
	r = sys_mbind(self->p, SZ_4M, MPOL_BIND, &to, MAXNODE, variant->mf);
	EXPECT_EQ(variant->ret, r) TH_LOG("errno %d", errno);
	if (variant->ret)
		EXPECT_EQ(variant->err, errno);
	EXPECT_EQ(0, (taint_flags() & ~taints) & BAD_TAINTS)
		TH_LOG("the kernel was tainted: %#lx, was %#lx", taint_flags(),
		       taints);

	EXPECT_EQ(0, bad_words((u64 *)self->p, &l, WORDS(SZ_4M)));
	EXPECT_EQ(0, bad_words((u64 *)self->q, &l, WORDS(SZ_4M)));
	EXPECT_ALL_ON(0, self->p, SZ_4M);
	/*
	 * Migration may split a 2 MiB folio before it finds that the folio
	 * cannot move (when it gets no 2 MiB page to move it to): allowed,
	 * Documentation/numa.rst, so only said.
	 */
	if (pmd_mapped_kb(self->p, SZ_4M) != pmd_kb)
		TH_LOG("FilePmdMapped %ld kB, was %ld",
		       pmd_mapped_kb(self->p, SZ_4M), pmd_kb);
	EXPECT_EQ(SZ_4M / 1024, gmem_allocated_kb(self->gmem));

	now = policy_at(self->q);
	if (!variant->ret) {
		/* It worked: the new policy is the range's. */
		EXPECT_EQ(MPOL_BIND, now.mode);
		EXPECT_EQ(NODE(1), now.nodes);
	} else {
		TH_LOG("after EIO the range's policy is %d, nodes %#lx",
		       now.mode, now.nodes);
	}
	/* New memory follows what is reported. */
	ASSERT_EQ(MPOL_BIND, now.mode);
	ASSERT_TRUE(now.nodes == NODE(0) || now.nodes == NODE(1));
	ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, SZ_2M, SZ_2M));
	task_bind(now.nodes == NODE(1) ? 0 : 1);
	touch_pages(self->p + SZ_2M, SZ_2M);
	EXPECT_ALL_ON(now.nodes == NODE(1) ? 1 : 0, self->p + SZ_2M, SZ_2M);
}

/*
 * Policies set and removed over and over through one mapping, while
 * another thread reads them back through another mapping and
 * /proc/self/numa_maps, and the test faults the memory in, allocates and
 * punches it: nothing crashes or WARNs (on the debug kernel, KASAN and
 * lockdep watch the look-ups), and afterwards new memory follows the
 * policy set last.
 */
struct race {
	char *p, *q;
	bool stop;
	unsigned long mbinds, lookups;
};

static void *race_mbind(void *arg)
{
	struct race *r = arg;
	unsigned long n, nodes;
	bool none;

	for (n = 0; !READ_ONCE(r->stop); n++) {
		nodes = NODE(n & 1);
		none = !(n % 5);
		/* 1 MiB at a 512 KiB step: blocks are split and made whole. */
		sys_mbind(r->p + n * 7 % 15 * SZ_512K, SZ_1M,
			  none ? MPOL_DEFAULT : MPOL_BIND, none ? NULL : &nodes,
			  none ? 0 : MAXNODE, 0);
	}
	r->mbinds = n;
	return NULL;
}

static void *race_read(void *arg)
{
	struct race *r = arg;
	char line[1024];
	unsigned long n;

	for (n = 0; !READ_ONCE(r->stop); n++) {
		policy_at(r->q + n % NR_PAGES(SIZE) * PAGE_SIZE);
		if (!(n % 64))
			numa_maps_line(r->q, line, sizeof(line));
	}
	r->lookups = n;
	return NULL;
}

TEST_F(shared, policy_changes_race_with_faults_and_punches)
{
	struct race r = { .p = self->p, .q = self->q };
	unsigned long taints = taint_flags(), rounds = 0;
	pthread_t mbinder, reader;
	time_t end;

	ASSERT_EQ(0, pthread_create(&mbinder, NULL, race_mbind, &r));
	ASSERT_EQ(0, pthread_create(&reader, NULL, race_read, &r));
	end = time(NULL) + 3;
	do {
		touch_pages(self->q, SIZE);
		fallocate(self->gmem, PUNCH_HOLE, rounds % 4 * SZ_2M, SZ_4M);
		fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0, SIZE);
		fallocate(self->gmem, PUNCH_HOLE, 0, SIZE);
		rounds++;
	} while (time(NULL) < end);
	WRITE_ONCE(r.stop, true);
	ASSERT_EQ(0, pthread_join(mbinder, NULL));
	ASSERT_EQ(0, pthread_join(reader, NULL));
	TH_LOG("%lu rounds, %lu mbind() calls, %lu look-ups", rounds,
	       r.mbinds, r.lookups);
	EXPECT_LT(0, r.mbinds);
	EXPECT_LT(0, r.lookups);
	EXPECT_EQ(0, (taint_flags() & ~taints) & BAD_TAINTS)
		TH_LOG("the kernel was tainted: %#lx, was %#lx", taint_flags(),
		       taints);

	set_policy(self->p, SIZE, MPOL_BIND, NODE(1));
	EXPECT_POLICY(self->q + SZ_512K, MPOL_BIND, NODE(1));
	ASSERT_EQ(0, fallocate(self->gmem, PUNCH_HOLE, 0, SIZE));
	task_bind(0);
	touch_pages(self->q, SIZE);
	EXPECT_ALL_ON(1, self->q, SIZE);
}

GMEM_TEST_HARNESS_MAIN
