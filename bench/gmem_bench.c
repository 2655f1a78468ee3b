// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_bench: what guest_memfd's memory costs, measured the same way on
 * either variant of kvm.ko.  `make bench` boots one guest per variant and
 * runs this program in each; scripts/bench-table.sh puts the two side by
 * side.  Only upstream's uAPI is used, so the program is the same on both.
 *
 * One line per figure, the median of REPS runs with their spread, as
 * bench_report.h prints it.
 *
 * Usage: gmem_bench [REPS [GROUP...]]
 *
 * Each GROUP (memslots, zeroing, fallocate, prefault, prefault_allocated,
 * touch, destroy) runs only the figures it names; without any, all run.
 */
#include <dirent.h>
#include <fcntl.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/sizes.h>

#include <linux/kvm_gmem.h>

#include "gmem_test_util.h"
#include "bench_report.h"

#define MAX_REPS	15
#define PREFAULT_SIZE	SZ_1G
#define TOUCH_SIZE	(256 * SZ_1M)
#define FALLOC_SIZE	SZ_1G
#define NR_SLOTS	512
#define SLOTS_GPA	BIT_ULL(33)
#define SLOTS_FIRST	100
#define DESTROY_GMEMS	4
#define DESTROY_GMEM_SIZE	SZ_1M
#define DESTROY_GPA	BIT_ULL(32)
#define MAX_OTHERS	1000

static int reps = 5;

/*
 * Bytes in slab objects, all caches together, from /proc/slabinfo.  Each
 * cache is shrunk first: that flushes the per-CPU slabs, whose free
 * objects /proc/slabinfo would otherwise count as in use, so that the
 * count is exact rather than a slab at a time.
 */
static double slab_bytes(void)
{
	char line[512], name[64], path[300];
	unsigned long active, total, size;
	double bytes = 0;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	int fd;

	dir = opendir("/sys/kernel/slab");
	TEST_ASSERT(dir, "open /sys/kernel/slab");
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || d->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 d->d_name);
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			TEST_ASSERT(write(fd, "1", 1) == 1, "%s", path);
			close(fd);
		}
	}
	closedir(dir);

	f = fopen("/proc/slabinfo", "r");
	TEST_ASSERT(f, "open /proc/slabinfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lu %lu %lu", name, &active, &total,
			   &size) == 4)
			bytes += (double)active * size;
	fclose(f);
	return bytes;
}

static void punch(int fd, u64 offset, u64 len)
{
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       offset, len), "PUNCH_HOLE");
}

static void zero_memset(void *p, size_t n)
{
	glibc_memset(p, 0, n);
}

/* Other ways, for comparison: the kernel's clear_page()s, vector stores. */
static void zero_rep_stosb(void *p, size_t n)
{
	asm volatile("rep stosb" : "+D" (p), "+c" (n) : "a" (0) : "memory");
}

static void zero_rep_stosq(void *p, size_t n)
{
	n /= 8;
	asm volatile("rep stosq" : "+D" (p), "+c" (n) : "a" (0) : "memory");
}

__attribute__((target("avx2")))
static void zero_avx2(void *p, size_t n)
{
	__m256i z = _mm256_setzero_si256(), *v = p;
	size_t i;

	for (i = 0; i < n / sizeof(*v); i += 2) {
		_mm256_store_si256(v + i, z);
		_mm256_store_si256(v + i + 1, z);
	}
}

static const struct {
	const char *figure;
	void (*zero)(void *p, size_t n);
	bool avx2;
} zero_methods[] = {
	{ "zero_1g", zero_memset },
	{ "zero_1g_rep_stosb", zero_rep_stosb },
	{ "zero_1g_rep_stosq", zero_rep_stosq },
	{ "zero_1g_avx2", zero_avx2, true },
};

/*
 * The floor: the rate at which this guest zeroes 1 GiB of memory that is
 * already faulted in, in user space, with memset() (zero_1g).  Other ways
 * of zeroing are measured too: under TCG their speeds differ tenfold,
 * see README.md, "Performance".
 */
static void bench_zeroing(void)
{
	double t[MAX_REPS];
	unsigned int m;
	char *p;
	int i;

	p = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap 1 GiB");
	for (m = 0; m < ARRAY_SIZE(zero_methods); m++) {
		if (zero_methods[m].avx2 && !__builtin_cpu_supports("avx2"))
			continue;
		for (i = 0; i < reps; i++) {
			double t0 = now_ms();

			zero_methods[m].zero(p, SZ_1G);
			t[i] = now_ms() - t0;
		}
		report(zero_methods[m].figure, "ms", t, reps);
	}
	munmap(p, SZ_1G);
}

/* fallocate() and PUNCH_HOLE of 1 GiB, and the slab it costs. */
static void bench_fallocate(void)
{
	double alloc[MAX_REPS], hole[MAX_REPS], slab[MAX_REPS];
	struct kvm_vm *vm;
	int fd, i;

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	fd = vm_create_guest_memfd(vm, FALLOC_SIZE, 0);
	for (i = 0; i < reps; i++) {
		double s0, t0, t1;

		/* The last run's xarray nodes are freed after an RCU grace. */
		settle();
		s0 = slab_bytes();
		t0 = now_ms();

		TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, FALLOC_SIZE),
			    "fallocate 1 GiB");
		t1 = now_ms();
		slab[i] = slab_bytes() - s0;
		alloc[i] = t1 - t0;

		t0 = now_ms();
		punch(fd, 0, FALLOC_SIZE);
		hole[i] = now_ms() - t0;
	}
	close(fd);
	kvm_vm_free(vm);
	report("fallocate_1g", "ms", alloc, reps);
	report("punch_1g", "ms", hole, reps);
	report("slab_per_gib", "bytes", slab, reps);
}

/*
 * A SW-protected VM with @size bytes of private memory at TEST_GPA on a
 * new guest_memfd (returned in *@fd), mapped 1:1 in the guest with 2 MiB
 * pages, as a Linux guest maps its memory.
 */
static struct kvm_vm *bench_vm(struct kvm_vcpu **vcpu, void *guest_code,
			       u64 size, int *fd)
{
	struct kvm_vm *vm = private_vm_with_vcpu(vcpu, guest_code);

	*fd = vm_create_guest_memfd(vm, size, 0);
	add_private_mem(vm, size, *fd, 0, PG_LEVEL_2M);
	return vm;
}

/* How KVM maps the guest's memory: what each run added to its counts. */
struct mapping {
	u64 k4_0, m2_0;
	double k4[MAX_REPS], m2[MAX_REPS], pct[MAX_REPS];
};

static void mapping_start(struct mapping *m, struct kvm_vm *vm)
{
	m->k4_0 = vm_get_stat(vm, "pages_4k");
	m->m2_0 = vm_get_stat(vm, "pages_2m");
}

/* Run @i mapped @size bytes of private memory. */
static void mapping_end(struct mapping *m, struct kvm_vm *vm, int i, u64 size)
{
	m->k4[i] = vm_get_stat(vm, "pages_4k") - m->k4_0;
	m->m2[i] = vm_get_stat(vm, "pages_2m") - m->m2_0;
	m->pct[i] = 100.0 * m->m2[i] * SZ_2M / size;
}

static void report_mapping(struct mapping *m, const char *prefix)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_pages_4k", prefix);
	report(name, "count", m->k4, reps);
	snprintf(name, sizeof(name), "%s_pages_2m", prefix);
	report(name, "count", m->m2, reps);
	snprintf(name, sizeof(name), "%s_pct_2m", prefix);
	report(name, "%", m->pct, reps);
}

static void guest_idle(void)
{
	GUEST_DONE();
}

/*
 * KVM_PRE_FAULT_MEMORY over 1 GiB of private memory, then how it is
 * mapped: memory not allocated yet (the pre-fault allocates it), and
 * memory that fallocate() allocated beforehand (untimed).
 */
static void bench_pre_fault(bool allocated)
{
	const char *suffix = allocated ? "_allocated" : "";
	struct mapping m;
	double t[MAX_REPS];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	char name[64];
	int fd, i;

	vm = bench_vm(&vcpu, guest_idle, PREFAULT_SIZE, &fd);
	for (i = 0; i < reps; i++) {
		double t0;

		mapping_start(&m, vm);
		if (allocated)
			TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0,
					       PREFAULT_SIZE), "fallocate");
		t0 = now_ms();
		pre_fault_memory(vcpu, TEST_GPA, PREFAULT_SIZE);
		t[i] = now_ms() - t0;
		mapping_end(&m, vm, i, PREFAULT_SIZE);
		/* Frees the memory and zaps its mappings for the next run. */
		punch(fd, 0, PREFAULT_SIZE);
	}
	close(fd);
	kvm_vm_free(vm);
	snprintf(name, sizeof(name), "prefault_1g%s", suffix);
	report(name, "ms", t, reps);
	if (!allocated)
		report_mapping(&m, "prefault");
}

/* Guest: after a first stop, write one word in each 4 KiB page, forever. */
static void guest_touch(u64 gpa, u64 size)
{
	u64 off;

	GUEST_SYNC(0);
	for (;;) {
		for (off = 0; off < size; off += PAGE_SIZE)
			WRITE_ONCE(*(u64 *)(gpa + off), off);
		GUEST_SYNC(1);
	}
}

/* A vCPU's first touch of 256 MiB of private memory. */
static void bench_first_touch(void)
{
	struct kvm_vcpu *vcpu;
	struct mapping m;
	double t[MAX_REPS];
	struct kvm_vm *vm;
	int fd, i;

	vm = bench_vm(&vcpu, guest_touch, TOUCH_SIZE, &fd);
	vcpu_args_set(vcpu, 2, TEST_GPA, TOUCH_SIZE);
	run_to_sync(vcpu);	/* the library's own memory is mapped now */
	for (i = 0; i < reps; i++) {
		double t0;

		mapping_start(&m, vm);
		t0 = now_ms();
		run_to_sync(vcpu);
		t[i] = now_ms() - t0;
		mapping_end(&m, vm, i, TOUCH_SIZE);
		punch(fd, 0, TOUCH_SIZE);
	}
	close(fd);
	kvm_vm_free(vm);
	report("touch_256m", "ms", t, reps);
	report_mapping(&m, "touch");
}

static void set_slot(struct kvm_vm *vm, int i, u64 size, void *hva, int fd)
{
	int r = __vm_set_user_memory_region2(vm, SLOTS_FIRST + i,
					     KVM_MEM_GUEST_MEMFD,
					     SLOTS_GPA + (u64)i * SZ_2M, size,
					     size ? hva + (u64)i * SZ_2M : NULL,
					     fd, (u64)i * SZ_2M);

	TEST_ASSERT(!r, "memslot %d: errno %d", i, errno);
}

/*
 * Binding and unbinding 512 memslots of 2 MiB on one guest_memfd.  Each
 * memslot change waits for an SRCU grace period, whose length under TCG
 * varies a lot: five times the runs of the other figures.
 */
static void bench_memslots(void)
{
	double bind[5 * MAX_REPS], unbind[5 * MAX_REPS];
	struct kvm_vm *vm;
	void *hva;
	int fd, i, s;

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	fd = vm_create_guest_memfd(vm, (u64)NR_SLOTS * SZ_2M, 0);
	hva = mmap(NULL, (u64)NR_SLOTS * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(hva != MAP_FAILED, "mmap");
	for (i = 0; i < 5 * reps; i++) {
		double t0 = now_ms();

		for (s = 0; s < NR_SLOTS; s++)
			set_slot(vm, s, SZ_2M, hva, fd);
		bind[i] = now_ms() - t0;

		t0 = now_ms();
		for (s = 0; s < NR_SLOTS; s++)
			set_slot(vm, s, 0, hva, fd);
		unbind[i] = now_ms() - t0;
	}
	munmap(hva, (u64)NR_SLOTS * SZ_2M);
	close(fd);
	kvm_vm_free(vm);
	report("memslots_bind_512", "ms", bind, 5 * reps);
	report("memslots_unbind_512", "ms", unbind, 5 * reps);
}

/*
 * A VM as a VMM holds it: its fd and DESTROY_GMEMS guest_memfds of
 * DESTROY_GMEM_SIZE, each with one page allocated and bound to a memslot.
 * Below 2 MiB, both variants allocate 4 KiB folios: a thousand such VMs
 * hold 16 MiB, not the 8 GiB that a 2 MiB folio in each file would.
 */
struct destroy_vm {
	int vm;
	int gmem[DESTROY_GMEMS];
};

static void destroy_vm_create(struct destroy_vm *v, int kvm_fd, void *hva)
{
	int i;

	v->vm = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	TEST_ASSERT(v->vm >= 0, "KVM_CREATE_VM: errno %d", errno);
	for (i = 0; i < DESTROY_GMEMS; i++) {
		struct kvm_create_guest_memfd args = {
			.size = DESTROY_GMEM_SIZE,
		};
		struct kvm_userspace_memory_region2 slot = {
			.slot = i,
			.flags = KVM_MEM_GUEST_MEMFD,
			.guest_phys_addr = DESTROY_GPA +
					   (u64)i * DESTROY_GMEM_SIZE,
			.memory_size = DESTROY_GMEM_SIZE,
			.userspace_addr = (u64)hva,
		};
		int fd = ioctl(v->vm, KVM_CREATE_GUEST_MEMFD, &args);

		TEST_ASSERT(fd >= 0, "KVM_CREATE_GUEST_MEMFD: errno %d", errno);
		TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE),
			    "fallocate 4 KiB");
		slot.guest_memfd = fd;
		TEST_ASSERT(!ioctl(v->vm, KVM_SET_USER_MEMORY_REGION2, &slot),
			    "memslot %d: errno %d", i, errno);
		v->gmem[i] = fd;
	}
}

/*
 * Destroys @v's VM and returns how long it took: closing its five fds,
 * in the order a VMM's exit closes them.  Upstream's guest_memfd files
 * hold their VM, so the last close destroys it; gmem's do not, so the
 * first one does, and the others free the files.  Either way close()
 * releases the file before it returns (__fput_sync()), and what the
 * release puts in turn (the files the memslots held, on gmem) is put by
 * task work, which runs before the return to user space: when the last
 * close() returns, kvm_destroy_vm() has run.  *@cpu gets the part of it
 * this thread spent on a CPU rather than waiting (for the RCU and SRCU
 * grace periods that kvm_destroy_vm() waits for, above all).
 */
static double destroy_vm_timed(struct destroy_vm *v, double *cpu)
{
	double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID), t0 = now_ms(), t;
	int i;

	TEST_ASSERT(!close(v->vm), "close VM");
	for (i = 0; i < DESTROY_GMEMS; i++)
		TEST_ASSERT(!close(v->gmem[i]), "close guest_memfd");
	t = now_ms() - t0;
	*cpu = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
	return t;
}

/*
 * The other VMs live in a child process, as other VMMs' would: it creates
 * VMs until it holds the number it reads from @cmd, answers on @ack, and
 * on end of file exits, which destroys them all.
 */
static void others_main(int cmd, int ack, int kvm_fd, void *hva)
{
	struct destroy_vm *vms = calloc(MAX_OTHERS, sizeof(*vms));
	int n = 0, want;

	TEST_ASSERT(vms, "calloc");
	while (read(cmd, &want, sizeof(want)) == sizeof(want)) {
		TEST_ASSERT(want <= MAX_OTHERS, "%d other VMs", want);
		while (n < want)
			destroy_vm_create(&vms[n++], kvm_fd, hva);
		TEST_ASSERT(write(ack, &n, sizeof(n)) == sizeof(n), "ack");
	}
	exit(0);
}

/*
 * Destroying one VM that holds DESTROY_GMEMS guest_memfds, while 1, 100
 * and 1,000 other VMs, each with as many, stay alive: five times the runs
 * of the other figures at each population, the time it takes and the
 * part of it on a CPU.  Creating a VM is not timed.
 * After each destroy, KVM's debugfs must show the others alone.
 */
static void bench_destroy(void)
{
	static const int others[] = { 1, 100, MAX_OTHERS };
	struct rlimit nofile = {
		.rlim_cur = (MAX_OTHERS + 1) * (DESTROY_GMEMS + 1) + 64,
		.rlim_max = (MAX_OTHERS + 1) * (DESTROY_GMEMS + 1) + 64,
	};
	double t[5 * MAX_REPS], cpu[5 * MAX_REPS];
	int cmd[2], ack[2], kvm_fd, status, before, n, i;
	unsigned int p;
	char name[64];
	pid_t pid;
	void *hva;

	TEST_ASSERT(!setrlimit(RLIMIT_NOFILE, &nofile), "RLIMIT_NOFILE");
	before = live_vms();
	kvm_fd = open_kvm_dev_path_or_exit();
	hva = mmap(NULL, DESTROY_GMEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(hva != MAP_FAILED, "mmap");
	TEST_ASSERT(!pipe(cmd) && !pipe(ack), "pipe");
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(cmd[1]);
		close(ack[0]);
		others_main(cmd[0], ack[1], kvm_fd, hva);
	}
	close(cmd[0]);
	close(ack[1]);

	for (p = 0; p < ARRAY_SIZE(others); p++) {
		TEST_ASSERT(write(cmd[1], &others[p], sizeof(int)) ==
			    sizeof(int), "to the other VMs' process");
		TEST_ASSERT(read(ack[0], &n, sizeof(n)) == sizeof(n) &&
			    n == others[p], "%d other VMs", others[p]);
		/* The VMs that were there before (the guest's key holder). */
		n += before;
		TEST_ASSERT(live_vms() == n, "%d VMs alive, not %d",
			    live_vms(), n);
		settle();
		for (i = 0; i < 5 * reps; i++) {
			struct destroy_vm v;

			destroy_vm_create(&v, kvm_fd, hva);
			t[i] = destroy_vm_timed(&v, &cpu[i]);
			TEST_ASSERT(live_vms() == n,
				    "%d VMs alive after the destroy, not %d",
				    live_vms(), n);
		}
		snprintf(name, sizeof(name), "vm_destroy_others_%d", others[p]);
		report(name, "ms", t, 5 * reps);
		snprintf(name, sizeof(name), "vm_destroy_cpu_others_%d",
			 others[p]);
		report(name, "ms", cpu, 5 * reps);
	}

	close(cmd[1]);
	TEST_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    !WEXITSTATUS(status), "other VMs' process: status %#x",
		    status);
	close(ack[0]);
	munmap(hva, DESTROY_GMEM_SIZE);
	close(kvm_fd);
}

static void bench_pre_fault_new(void)
{
	bench_pre_fault(false);
}

static void bench_pre_fault_allocated(void)
{
	bench_pre_fault(true);
}

/* In the order they run, each after the last has settled. */
static const struct {
	const char *name;
	void (*run)(void);
} groups[] = {
	{ "memslots", bench_memslots },
	{ "zeroing", bench_zeroing },
	{ "fallocate", bench_fallocate },
	{ "prefault", bench_pre_fault_new },
	{ "prefault_allocated", bench_pre_fault_allocated },
	{ "touch", bench_first_touch },
	{ "destroy", bench_destroy },
};

static bool selected(const char *group, int argc, char *argv[])
{
	int i;

	if (argc <= 2)
		return true;
	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], group))
			return true;
	return false;
}

int main(int argc, char *argv[])
{
	int sizes = kvm_check_cap(KVM_CAP_GUEST_MEMFD_HUGEPAGE);
	bool first = true;
	unsigned int g;
	int i, j;

	if (argc > 1)
		reps = atoi(argv[1]);
	TEST_ASSERT(reps > 0 && reps <= MAX_REPS, "REPS: 1 to %d", MAX_REPS);
	for (i = 2; i < argc; i++) {
		for (j = 0; j < (int)ARRAY_SIZE(groups); j++)
			if (!strcmp(argv[i], groups[j].name))
				break;
		TEST_ASSERT(j < (int)ARRAY_SIZE(groups), "no group %s",
			    argv[i]);
	}
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));

	printf("# guest_memfd page sizes: %s\n",
	       sizes & SZ_2M ? "4 KiB and 2 MiB" : "4 KiB");
	printf("# %d runs of each; median, min, max\n", reps);
	for (g = 0; g < ARRAY_SIZE(groups); g++) {
		if (!selected(groups[g].name, argc, argv))
			continue;
		if (!first)
			settle();
		first = false;
		groups[g].run();
	}
	return 0;
}
