// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_convert_bench: a round trip of a VM's memory from private to shared
 * (contents kept, for the host to read) and back to private, the two ways
 * a VMM can do it, measured in one run so that their ratio means something
 * under TCG:
 *
 *	in_place	one guest_memfd (GUEST_MEMFD_FLAG_MMAP) of a
 *			SW-protected VM that converts in place
 *			(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM), bound
 *			with KVM_MEM_GUEST_MEMFD and the VMM's mapping of it
 *			as userspace_addr: KVM_SET_MEMORY_ATTRIBUTES2 on the
 *			file to shared (PRESERVE), the host reads the memory
 *			through its mapping, KVM_SET_MEMORY_ATTRIBUTES2 back to
 *			private.  One copy of the memory throughout.
 *	two_backings	what VMMs do on upstream 6.12 (and on the reference
 *			variant): a SW-protected VM without the cap, a
 *			guest_memfd (no MMAP) for private memory and a memfd
 *			with huge pages (shmem_enabled=advise, MADV_HUGEPAGE)
 *			mapped as userspace_addr for shared memory:
 *			KVM_SET_MEMORY_ATTRIBUTES (VM ioctl) to shared, punch
 *			the guest_memfd's range (so that memory is not held
 *			twice), copy the contents into the memfd, the host
 *			reads them; KVM_SET_MEMORY_ATTRIBUTES to private,
 *			punch the memfd's range, fallocate() the guest_memfd's
 *			range again.
 *
 * The host reads alike in both: one word of each 4 KiB page, summed and
 * checked.  On the two-backings way the host cannot read private memory,
 * so the contents come from a staging buffer (anonymous memory holding what
 * the private memory held, filled once, untimed, and not counted in the
 * memory figures): its copy into the memfd is the cost a conversion that
 * keeps the memory where it is takes away.  Going back to private, the
 * two-backings way drops the shared copy (upstream's private memory comes
 * back zeroed), where in place the contents stay; nothing is copied back.
 *
 * For 2 MiB and 256 MiB, each way's memory and VM set up once (untimed),
 * one untimed round trip, then REPS timed ones, the two ways taking turns
 * within each.  Figures as bench_report.h prints them, named
 * convert_<figure>_<size>.<way>: the time of a round trip (the sum of its
 * steps; each step's median is in a "# convert:" line), and the memory of
 * the files, fstat()'s st_blocks of the guest_memfd (and of the memfd), at
 * the shared point (after the host read) and the most across the round
 * trip (sampled after each step, outside the timed steps).
 * scripts/bench-table.sh puts the ways side by side with the ratio
 * two_backings/in_place.
 *
 * Only gmem's kvm.ko converts in place: where
 * KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM reads 0 (the reference
 * variant), the program measures nothing and exits with KSFT_SKIP.  It
 * fails only on a functional error: an ioctl that fails, contents that do
 * not read back.
 *
 * Usage: gmem_convert_bench [REPS_256M [REPS_2M]]	(default 2 and 50)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/sizes.h>

#include <linux/kvm_gmem.h>

#include "gmem_mmap_util.h"
#include "bench_report.h"
#include "map_aligned.h"
#include "shmem_thp.h"

#define MAX_REPS	500
#define MAX_STEPS	7
#define NR_SIZES	2

static const u64 sizes[NR_SIZES] = { SZ_2M, 256 * SZ_1M };
static const char * const size_name[NR_SIZES] = { "2m", "256m" };
static int reps[NR_SIZES] = { 50, 2 };

enum way { IN_PLACE, TWO_BACKINGS, NR_WAYS };

static const char * const way_name[NR_WAYS] = { "in_place", "two_backings" };

/* The steps of each way's round trip, in their order. */
static const char * const step_name[NR_WAYS][MAX_STEPS] = {
	[IN_PLACE] = {
		"to shared (ATTRIBUTES2, PRESERVE)", "host reads",
		"to private (ATTRIBUTES2)",
	},
	[TWO_BACKINGS] = {
		"to shared (ATTRIBUTES)", "punch private", "copy in",
		"host reads", "to private (ATTRIBUTES)", "punch shared",
		"fallocate private",
	},
};

static const int nr_steps[NR_WAYS] = { 3, 7 };

/* One way's VM and memory of one size, and what its round trips took. */
struct side {
	enum way way;
	u64 size;
	struct kvm_vm *vm;
	int gmem;		/* the private memory; in place, shared too */
	int memfd;		/* two backings: the shared memory; else -1 */
	char *shared;		/* the host's mapping of the shared memory */
	char *staging;		/* two backings: what private memory holds */
	u64 sum;		/* what the host's read must find */

	/* The round trip under way: its slot, step, and the step's start. */
	int rep, step;
	double t;
	bool first;		/* the untimed one: look at the mapping */

	double steps[MAX_STEPS][MAX_REPS];
	double total[MAX_REPS];
	double mem_shared[MAX_REPS], mem_peak[MAX_REPS];	/* MiB */
	long rss_kb, pmd_kb;	/* the host's mapping at the shared point */
	int eagain;		/* conversions to private tried again */
};

/*
 * The copy: rep movsb, the kernel's memcpy() on a CPU with FSRM (what a
 * guest kernel filling a shared buffer runs); the selftest library's
 * memcpy() is a byte loop (for guest code).  Under TCG, a copy of 256 MiB
 * takes many times as long a byte as one of 2 MiB, this one as glibc's
 * memcpy() (41 s for 256 MiB between anonymous buffers, in one call or
 * 2 MiB a call): the floor the program prints for each size shows how
 * much of "copy in" that is.
 */
static void copy(void *dst, const void *src, size_t n)
{
	asm volatile("rep movsb"
		     : "+D" (dst), "+S" (src), "+c" (n) : : "memory");
}

/* What the first word of each page holds, and their sum. */
static u64 fill_pattern(char *p, u64 size)
{
	u64 i, sum = 0;

	for (i = 0; i < size / PAGE_SIZE; i++) {
		*(u64 *)(p + i * PAGE_SIZE) = page_pattern(i);
		sum += page_pattern(i);
	}
	return sum;
}

/* The host's read: the first word of each 4 KiB page, summed. */
static u64 host_read(const char *p, u64 size)
{
	u64 off, sum = 0;

	for (off = 0; off < size; off += PAGE_SIZE)
		sum += READ_ONCE(*(const u64 *)(p + off));
	return sum;
}

static void allocate(int fd, u64 size)
{
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, size),
		    "fallocate %lu bytes", size);
}

static void punch(int fd, u64 size)
{
	TEST_ASSERT(!fallocate(fd, PUNCH_HOLE, 0, size),
		    "PUNCH_HOLE of %lu bytes", size);
}

static double file_mib(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat");
	return (double)st.st_blocks * 512 / SZ_1M;
}

/* The memory the side's files hold, in MiB. */
static double side_mib(struct side *s)
{
	return file_mib(s->gmem) + (s->memfd >= 0 ? file_mib(s->memfd) : 0);
}

/*
 * KVM_SET_MEMORY_ATTRIBUTES2 on the whole in-place guest_memfd: to shared
 * keeping the contents, or to private.  To private is refused (EAGAIN)
 * while user space may still refer to a page it mapped; that is tried
 * again for a second, and counted.
 */
static void convert(struct side *s, bool shared)
{
	struct kvm_memory_attributes2 args = {
		.size = s->size,
		.attributes = shared ? 0 : KVM_MEMORY_ATTRIBUTE_PRIVATE,
		.flags = shared ? KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE : 0,
	};
	int tries;

	for (tries = 1; ioctl(s->gmem, KVM_SET_MEMORY_ATTRIBUTES2, &args);
	     tries++) {
		TEST_ASSERT(errno == EAGAIN && tries < 100,
			    "KVM_SET_MEMORY_ATTRIBUTES2 of %lu bytes to %s: errno %d, error_offset %llu, try %d",
			    s->size, shared ? "shared" : "private", errno,
			    args.error_offset, tries);
		s->eagain++;
		usleep(10 * 1000);
	}
}

/*
 * In place: a VM that converts in place, a guest_memfd of @size whose
 * memory is allocated, then made shared to write the pattern, then private
 * again; the memslot on it, the VMM's mapping as userspace_addr.
 */
static void setup_in_place(struct side *s)
{
	u64 flags;

	s->vm = private_vm_barebones();
	vm_enable_cap(s->vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM,
		      KVM_MEMORY_ATTRIBUTE_PRIVATE);
	flags = vm_check_cap(s->vm, KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM);
	TEST_ASSERT(flags & KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE,
		    "KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM reads %#lx, without PRESERVE",
		    flags);
	s->gmem = vm_create_guest_memfd(s->vm, s->size, MMAP);
	s->memfd = -1;
	allocate(s->gmem, s->size);
	s->shared = gmem_map(s->gmem, s->size, 0);
	convert(s, true);
	s->sum = fill_pattern(s->shared, s->size);
	convert(s, false);
	vm_set_user_memory_region2(s->vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
				   TEST_GPA, s->size, s->shared, s->gmem, 0);
}

/*
 * Two backings: a SW-protected VM, its private memory a guest_memfd of
 * @size, allocated, its shared memory a memfd mapped with huge pages (empty
 * while the memory is private), all of it private; and the staging buffer.
 */
static void setup_two_backings(struct side *s)
{
	s->vm = private_vm_barebones();
	s->gmem = vm_create_guest_memfd(s->vm, s->size, 0);
	allocate(s->gmem, s->size);
	s->memfd = memfd_create("gmem_convert_bench", MFD_CLOEXEC);
	TEST_ASSERT(s->memfd >= 0, "memfd_create: errno %d", errno);
	TEST_ASSERT(!ftruncate(s->memfd, s->size), "ftruncate");
	s->shared = map_aligned(s->memfd, s->size);
	TEST_ASSERT(!madvise(s->shared, s->size, MADV_HUGEPAGE),
		    "MADV_HUGEPAGE");
	s->staging = mmap(NULL, s->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	TEST_ASSERT(s->staging != MAP_FAILED, "mmap staging: errno %d", errno);
	s->sum = fill_pattern(s->staging, s->size);
	vm_set_user_memory_region2(s->vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
				   TEST_GPA, s->size, s->shared, s->gmem, 0);
	vm_mem_set_private(s->vm, TEST_GPA, s->size);
}

static void side_setup(struct side *s, enum way w, u64 size)
{
	memset(s, 0, sizeof(*s));
	s->way = w;
	s->size = size;
	if (w == IN_PLACE)
		setup_in_place(s);
	else
		setup_two_backings(s);
}

static void side_free(struct side *s)
{
	vm_set_user_memory_region2(s->vm, TEST_SLOT, 0, TEST_GPA, 0, NULL, 0,
				   0);
	munmap(s->shared, s->size);
	if (s->staging)
		munmap(s->staging, s->size);
	if (s->memfd >= 0)
		close(s->memfd);
	close(s->gmem);
	kvm_vm_free(s->vm);
}

static void trip_begin(struct side *s, int rep)
{
	s->rep = rep;
	s->step = 0;
	s->mem_peak[rep] = side_mib(s);
	s->t = now_ms();
}

/*
 * A step ended: its time, then (untimed) the memory; at the shared point,
 * what the memory holds, and on the first trip the host's mapping.
 */
static void step_done(struct side *s, bool shared_point)
{
	double mib;

	s->steps[s->step++][s->rep] = now_ms() - s->t;
	mib = side_mib(s);
	if (mib > s->mem_peak[s->rep])
		s->mem_peak[s->rep] = mib;
	if (shared_point) {
		s->mem_shared[s->rep] = mib;
		if (s->first) {
			s->rss_kb = smaps_kb(s->shared, "Rss");
			s->pmd_kb = smaps_kb(s->shared, s->memfd >= 0 ?
					     "ShmemPmdMapped" : "FilePmdMapped");
		}
	}
	s->t = now_ms();
}

static void trip_end(struct side *s)
{
	int i;

	s->total[s->rep] = 0;
	for (i = 0; i < s->step; i++)
		s->total[s->rep] += s->steps[i][s->rep];
}

static void check_read(struct side *s)
{
	u64 sum = host_read(s->shared, s->size);

	TEST_ASSERT(sum == s->sum,
		    "%s, %lu MiB: the host read %#lx, not %#lx: contents lost",
		    way_name[s->way], s->size / SZ_1M, sum, s->sum);
}

static void round_trip_in_place(struct side *s)
{
	convert(s, true);
	step_done(s, false);
	check_read(s);
	step_done(s, true);
	convert(s, false);
	step_done(s, false);
}

static void round_trip_two_backings(struct side *s)
{
	vm_mem_set_shared(s->vm, TEST_GPA, s->size);
	step_done(s, false);
	punch(s->gmem, s->size);
	step_done(s, false);
	copy(s->shared, s->staging, s->size);
	step_done(s, false);
	check_read(s);
	step_done(s, true);
	vm_mem_set_private(s->vm, TEST_GPA, s->size);
	step_done(s, false);
	punch(s->memfd, s->size);
	step_done(s, false);
	allocate(s->gmem, s->size);
	step_done(s, false);
}

static void round_trip(struct side *s, int rep)
{
	trip_begin(s, rep);
	if (s->way == IN_PLACE)
		round_trip_in_place(s);
	else
		round_trip_two_backings(s);
	trip_end(s);
}

static struct side side[NR_WAYS];

/* Digits as the table shows them: three significant, no exponent. */
static int ms_digits(double ms)
{
	return ms >= 100 ? 0 : ms >= 10 ? 1 : 2;
}

static void report_size(int z)
{
	int n = reps[z], w, i;
	char name[64];

	for (w = 0; w < NR_WAYS; w++) {
		struct side *s = &side[w];

		printf("# convert: %lu MiB %s, median ms:", sizes[z] / SZ_1M,
		       way_name[w]);
		for (i = 0; i < nr_steps[w]; i++) {
			double m = median(s->steps[i], n);

			printf("%s %s %.*f", i ? "," : "", step_name[w][i],
			       ms_digits(m), m);
		}
		printf("\n");
		printf("# convert: %lu MiB %s, host mapping: Rss %ld kB, PMD %ld kB\n",
		       sizes[z] / SZ_1M, way_name[w], s->rss_kb, s->pmd_kb);
		if (s->eagain)
			printf("# convert: %lu MiB %s: %d EAGAIN to private, retried\n",
			       sizes[z] / SZ_1M, way_name[w], s->eagain);
	}
	for (w = 0; w < NR_WAYS; w++) {
		struct side *s = &side[w];

		snprintf(name, sizeof(name), "convert_roundtrip_%s.%s",
			 size_name[z], way_name[w]);
		report(name, "ms", s->total, n);
		snprintf(name, sizeof(name), "convert_mem_shared_%s.%s",
			 size_name[z], way_name[w]);
		report(name, "MiB", s->mem_shared, n);
		snprintf(name, sizeof(name), "convert_mem_peak_%s.%s",
			 size_name[z], way_name[w]);
		report(name, "MiB", s->mem_peak, n);
	}
	printf("# convert: %lu MiB: two_backings/in_place, round trip %.3f\n",
	       sizes[z] / SZ_1M, median(side[TWO_BACKINGS].total, n) /
	       median(side[IN_PLACE].total, n));
}

/*
 * The copy's floor: copy() of @size bytes between two anonymous buffers
 * already faulted in; the rest of "copy in" is the memfd's allocation.
 */
static void report_copy_floor(u64 size)
{
	char *src = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	char *dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double t0;

	TEST_ASSERT(src != MAP_FAILED && dst != MAP_FAILED, "mmap floor");
	fill_pattern(src, size);
	fill_pattern(dst, size);
	t0 = now_ms();
	copy(dst, src, size);
	t0 = now_ms() - t0;
	printf("# convert: %lu MiB: floor of copy in, anonymous to anonymous: %.*f ms\n",
	       size / SZ_1M, ms_digits(t0), t0);
	munmap(src, size);
	munmap(dst, size);
}

static void bench_size(int z)
{
	double t0 = now_ms();
	int i, w;

	for (w = 0; w < NR_WAYS; w++) {
		side_setup(&side[w], w, sizes[z]);
		side[w].first = true;
		round_trip(&side[w], 0);
		side[w].first = false;
	}
	for (i = 0; i < reps[z]; i++) {
		for (w = 0; w < NR_WAYS; w++)
			round_trip(&side[w], i);
		printf("# run %d, %lu MiB, ms: in_place %.*f two_backings %.*f\n",
		       i + 1, sizes[z] / SZ_1M,
		       ms_digits(side[IN_PLACE].total[i]), side[IN_PLACE].total[i],
		       ms_digits(side[TWO_BACKINGS].total[i]),
		       side[TWO_BACKINGS].total[i]);
	}
	report_size(z);
	for (w = 0; w < NR_WAYS; w++)
		side_free(&side[w]);
	report_copy_floor(sizes[z]);
	printf("# convert: %lu MiB: %d round trips of each way in %.1f s\n",
	       sizes[z] / SZ_1M, reps[z] + 1, (now_ms() - t0) / 1e3);
}

int main(int argc, char *argv[])
{
	int z;

	if (argc > 1)
		reps[1] = atoi(argv[1]);
	if (argc > 2)
		reps[0] = atoi(argv[2]);
	for (z = 0; z < NR_SIZES; z++)
		TEST_ASSERT(reps[z] > 0 && reps[z] <= MAX_REPS,
			    "REPS: 1 to %d", MAX_REPS);
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));
	__TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM) &
		       KVM_MEMORY_ATTRIBUTE_PRIVATE,
		       "no in-place conversion (the reference variant): nothing to compare");

	shmem_enabled_get(shmem_enabled_was, sizeof(shmem_enabled_was));
	atexit(shmem_enabled_restore);
	shmem_enabled_set("advise");
	printf("# convert: private -> shared (kept, host reads) -> private\n");
	printf("# convert: in_place: one guest_memfd (MMAP), ATTRIBUTES2\n");
	printf("# convert: two_backings: guest_memfd and memfd THP (advise)\n");
	printf("# convert: runs: 2 MiB %d, 256 MiB %d (and one untimed first)\n",
	       reps[0], reps[1]);

	for (z = 0; z < NR_SIZES; z++)
		bench_size(z);
	return 0;
}
