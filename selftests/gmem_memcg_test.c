// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_memcg_test: gmem's memory is charged to the memory cgroup of whoever
 * allocates it, and a 2 MiB folio that does not fit under the cgroup's
 * memory.max falls back to 4 KiB folios at once, without reclaim: gmem's
 * memory is unevictable, so reclaim can only stall the allocation, and
 * near the limit it would do so for every 2 MiB block.
 *
 * memory.events counts a "max" event each time a charge meets memory.max
 * and tries direct reclaim; a charge that may not reclaim fails without
 * one.  The test runs in a cgroup of its own, pinned to one CPU so that
 * only one per-CPU stock of pre-charged pages (64 of them) is in play.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "gmem_test_util.h"

#define CGROUP_ROOT	"/sys/fs/cgroup"
#define TEST_CGROUP	CGROUP_ROOT "/gmem_memcg_test"
#define GMEM_SIZE	(8 * SZ_1M)

/*
 * Pages a cgroup may have charged ahead, on top of what it uses: the
 * per-CPU stock of one CPU (MEMCG_CHARGE_BATCH, 64 pages) and a page of
 * byte-sized slab charges.
 */
#define STOCK_KB	(64 * 4 + 4)

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = strlen(val), n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n != len)
		n = n < 0 ? -errno : -EIO;
	close(fd);
	return n < 0 ? n : 0;
}

static FILE *cg_open(const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), TEST_CGROUP "/%s", file);
	return fopen(path, "r");
}

/* The value of @key in a "key value" file of the test cgroup, or -1. */
static long cg_read_key(const char *file, const char *key)
{
	size_t len = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = cg_open(file);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ' ')
			val = atol(line + len + 1);
	fclose(f);
	return val;
}

/* A file of the test cgroup holding one number (memory.current), or -1. */
static long cg_read_long(const char *file)
{
	long val = -1;
	FILE *f;

	f = cg_open(file);
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

static int cg_write_long(const char *file, long val)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), TEST_CGROUP "/%s", file);
	snprintf(buf, sizeof(buf), "%ld", val);
	return write_file(path, buf);
}

/* Moves the calling process to the cgroup whose directory is @dir. */
static int cg_enter(const char *dir)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(buf, sizeof(buf), "%d", getpid());
	return write_file(path, buf);
}

/* The test cgroup's memory.current in KiB. */
static long memory_current_kb(void)
{
	return cg_read_long("memory.current") / 1024;
}

/* The test cgroup's unevictable memory in KiB (memory.stat), settled. */
static long cgroup_unevictable_left_kb(void)
{
	long kb;
	int i;

	/* memory.stat is flushed every 2 s, or sooner once enough changed. */
	for (i = 0; i < 50 * gmem_timeout_factor(); i++) {
		unevictable_kb();	/* drains the per-CPU LRU batches */
		kb = cg_read_key("memory.stat", "unevictable") / 1024;
		if (!kb)
			break;
		usleep(100 * 1000);
	}
	return kb;
}

FIXTURE(memcg) {
	struct kvm_vm *vm;
	int gmem;
	bool entered;
};

FIXTURE_SETUP(memcg)
{
	struct statfs fs;
	cpu_set_t cpu;

	self->vm = NULL;
	self->gmem = -1;
	self->entered = false;

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu))
		TH_LOG("expected to pin the test to CPU 0");

	if (statfs(CGROUP_ROOT, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		ASSERT_EQ(0, mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
			TH_LOG("expected to mount cgroup2 at " CGROUP_ROOT
			       ": errno %d", errno);
	}
	ASSERT_EQ(0, write_file(CGROUP_ROOT "/cgroup.subtree_control",
				"+memory"))
		TH_LOG("expected the memory controller to be available");

	rmdir(TEST_CGROUP);	/* left by an earlier run that died */
	ASSERT_EQ(0, mkdir(TEST_CGROUP, 0755))
		TH_LOG("expected to create " TEST_CGROUP ": errno %d", errno);
	ASSERT_EQ(0, cg_enter(TEST_CGROUP))
		TH_LOG("expected to move into " TEST_CGROUP);
	self->entered = true;
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->gmem >= 0)
		close(self->gmem);
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->entered) {
		EXPECT_EQ(0, cg_enter(CGROUP_ROOT))
			TH_LOG("expected to move back to the root cgroup");
	}
	EXPECT_EQ(0, rmdir(TEST_CGROUP))
		TH_LOG("expected to remove " TEST_CGROUP ": errno %d", errno);
}

/*
 * memory.max is set 3 MiB above what the cgroup has charged, with a
 * guest_memfd of 8 MiB (2 MiB folios by default) and its VM made.  The
 * first 2 MiB block fits and is one 2 MiB folio.  A second one would not
 * fit: 512 KiB into the next block come as 128 4 KiB folios, and without
 * an attempt at reclaim, so memory.events' "max" stays where it was.  At
 * most 2 MiB + 512 KiB + STOCK_KB is charged: the 4 KiB charges fit under
 * memory.max with room to spare.  Closing the file and the VM gives every
 * page back to the cgroup.
 */
TEST_F(memcg, huge_folio_falls_back_without_reclaim_near_memory_max)
{
	long start_kb, base_kb, used_kb, end_kb;
	long huge_kb, max_events, max_events2;
	int i;

	start_kb = memory_current_kb();
	ASSERT_LE(0, start_kb)
		TH_LOG("expected to read memory.current of " TEST_CGROUP);

	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	self->gmem = vm_create_guest_memfd(self->vm, GMEM_SIZE, 0);

	base_kb = memory_current_kb();
	ASSERT_EQ(0, cg_write_long("memory.max", (base_kb + 3 * 1024) * 1024))
		TH_LOG("expected to set memory.max");
	max_events = cg_read_key("memory.events", "max");
	ASSERT_LE(0, max_events)
		TH_LOG("expected a \"max\" line in memory.events");
	huge_kb = meminfo_kb("FileHugePages");

	ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0, SZ_2M))
		TH_LOG("expected the first 2 MiB to fit under memory.max: errno %d",
		       errno);
	ASSERT_EQ(2048, gmem_allocated_kb(self->gmem))
		TH_LOG("expected 2 MiB allocated by the first fallocate");
	ASSERT_EQ(2048, meminfo_kb("FileHugePages") - huge_kb)
		TH_LOG("expected the first 2 MiB to be one 2 MiB folio");
	ASSERT_EQ(max_events, cg_read_key("memory.events", "max"))
		TH_LOG("expected no \"max\" event 1 MiB below memory.max");

	ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, SZ_2M,
			       SZ_512K))
		TH_LOG("expected 512 KiB more to fit under memory.max in 4 KiB folios: errno %d",
		       errno);
	EXPECT_EQ(2048 + 512, gmem_allocated_kb(self->gmem))
		TH_LOG("expected exactly 512 KiB more allocated (4 KiB folios), not a 2 MiB folio");
	EXPECT_EQ(2048, meminfo_kb("FileHugePages") - huge_kb)
		TH_LOG("expected no second 2 MiB folio above memory.max");
	max_events2 = cg_read_key("memory.events", "max");
	EXPECT_EQ(max_events, max_events2)
		TH_LOG("expected the 2 MiB charge to fail without reclaim: \"max\" %ld -> %ld",
		       max_events, max_events2);
	used_kb = memory_current_kb();
	EXPECT_GE(3 * 1024, used_kb - base_kb)
		TH_LOG("expected the cgroup to stay under memory.max");

	close(self->gmem);
	self->gmem = -1;
	kvm_vm_free(self->vm);
	self->vm = NULL;

	EXPECT_EQ(0, cgroup_unevictable_left_kb())
		TH_LOG("expected every gmem page of the cgroup freed after close");
	for (i = 0; i < 50 * gmem_timeout_factor(); i++) {
		end_kb = memory_current_kb();
		if (end_kb - start_kb <= STOCK_KB)
			break;
		usleep(100 * 1000);
	}
	TH_LOG("memory.current (KiB): %ld at start, %ld with VM and file, %ld used, %ld after",
	       start_kb, base_kb, used_kb, end_kb);
	EXPECT_GE(STOCK_KB, end_kb - start_kb)
		TH_LOG("expected memory.current back within %d KiB of its start",
		       STOCK_KB);
}

GMEM_TEST_HARNESS_MAIN
