/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for gmem's selftests: a private-memory VM on one guest_memfd, a
 * guest that writes and checks one word per page, and the guest kernel's
 * own counters to see memory come and go.
 */
#ifndef _GMEM_TEST_UTIL_H
#define _GMEM_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/falloc.h>

#include <linux/kvm_gmem.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

/*
 * KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_LINK): whether the guest_memfds @vm
 * creates from now on carry the link right, that is, may be the source of
 * KVM_LINK_GUEST_MEMFD.  Off by default: a guest_memfd to be linked must be
 * created after vm_enable_gmem_link() on its VM.
 */
static inline void vm_set_gmem_link(struct kvm_vm *vm, bool on)
{
	vm_enable_cap(vm, KVM_CAP_GUEST_MEMFD_LINK, on);
}

static inline void vm_enable_gmem_link(struct kvm_vm *vm)
{
	vm_set_gmem_link(vm, true);
}

/* A new guest_memfd of @vm with the link right (the cap stays on). */
static inline int vm_create_linkable_guest_memfd(struct kvm_vm *vm, u64 size)
{
	vm_enable_gmem_link(vm);
	return vm_create_guest_memfd(vm, size, 0);
}

static inline int __vm_link_guest_memfd(struct kvm_vm *vm, u64 fd, u64 flags)
{
	struct kvm_link_guest_memfd args = { .fd = fd, .flags = flags };

	return __vm_ioctl(vm, KVM_LINK_GUEST_MEMFD, &args);
}

static inline int vm_link_guest_memfd(struct kvm_vm *vm, int fd, u64 flags)
{
	int r = __vm_link_guest_memfd(vm, fd, flags);

	TEST_ASSERT(r >= 0, KVM_IOCTL_ERROR(KVM_LINK_GUEST_MEMFD, r));
	return r;
}

#define TEST_GPA	BIT_ULL(32)	/* above the library's own memory */
#define TEST_SLOT	10
#define WORDS_PER_PAGE	(PAGE_SIZE / sizeof(u64))

/* What the guest stores in the first word of page @i: never zero. */
static inline u64 page_pattern(u64 i)
{
	return 0x676d656d00000000ull | i;
}

/*
 * Pages [hole_first, hole_first + hole_pages) must read zero, the others
 * their pattern.  The host sets these with sync_global_to_guest().
 */
static u64 hole_first, hole_pages;

/*
 * Guest: if @write, write each page's pattern and report 0; then, on every
 * run, count the pages that do not hold what they should and report that.
 */
static void guest_write_then_count(u64 npages, u64 write)
{
	u64 *mem = (u64 *)TEST_GPA;
	u64 i, bad;

	if (write) {
		for (i = 0; i < npages; i++)
			WRITE_ONCE(mem[i * WORDS_PER_PAGE], page_pattern(i));
		GUEST_SYNC1(0);
	}
	for (;;) {
		bad = 0;
		for (i = 0; i < npages; i++) {
			bool hole = i >= READ_ONCE(hole_first) &&
				    i < hole_first + READ_ONCE(hole_pages);
			u64 want = hole ? 0 : page_pattern(i);

			bad += READ_ONCE(mem[i * WORDS_PER_PAGE]) != want;
		}
		GUEST_SYNC1(bad);
	}
}

/* Runs @vcpu to its next GUEST_SYNC1() and returns the value. */
static inline u64 run_to_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		return uc.args[0];
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("unexpected ucall %lu", uc.cmd);
	}
	return 0;
}

/*
 * Adds @size bytes of private memory at TEST_GPA to @vm, backed by the
 * guest_memfd @gmem from @offset on, and maps it 1:1 in the guest with
 * pages of @level (PG_LEVEL_4K or PG_LEVEL_2M).  The library's own
 * duplicate of the fd is closed, so that the caller's fd and the memslot
 * are the only references on the file.
 */
static inline void add_private_mem(struct kvm_vm *vm, u64 size, int gmem,
				   u64 offset, int level)
{
	struct userspace_mem_region *region;

	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA, TEST_SLOT,
		   size / vm->page_size, KVM_MEM_GUEST_MEMFD, gmem, offset);
	region = memslot2region(vm, TEST_SLOT);
	close(region->region.guest_memfd);
	region->region.guest_memfd = -1;
	virt_map_level(vm, TEST_GPA, TEST_GPA, size, level);
	vm_mem_set_private(vm, TEST_GPA, size);
}

/* A SW-protected VM with one vCPU that runs @guest_code. */
static inline struct kvm_vm *private_vm_with_vcpu(struct kvm_vcpu **vcpu,
						  void *guest_code)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};

	return vm_create_shape_with_one_vcpu(shape, vcpu, guest_code);
}

/*
 * A SW-protected VM whose vCPU runs guest_write_then_count() over @size
 * bytes of private memory at TEST_GPA, backed by the guest_memfd *@gmem:
 * a new one if @src is negative (and the guest writes the pattern first),
 * carrying the link right if @linkable; else one linked with @link_flags
 * to the memory of @src (and the guest only checks).
 */
static inline struct kvm_vm *__private_vm(struct kvm_vcpu **vcpu, u64 size,
					  bool linkable, int src,
					  u64 link_flags, int *gmem)
{
	struct kvm_vm *vm = private_vm_with_vcpu(vcpu, guest_write_then_count);

	vcpu_args_set(*vcpu, 2, size / PAGE_SIZE, src < 0);
	if (linkable)
		vm_enable_gmem_link(vm);
	if (src < 0)
		*gmem = vm_create_guest_memfd(vm, size, 0);
	else
		*gmem = vm_link_guest_memfd(vm, src, link_flags);
	add_private_mem(vm, size, *gmem, 0, PG_LEVEL_4K);
	return vm;
}

/* On a new guest_memfd, which cannot be linked. */
static inline struct kvm_vm *private_vm(struct kvm_vcpu **vcpu, u64 size,
					int *gmem)
{
	return __private_vm(vcpu, size, false, -1, 0, gmem);
}

/* On a new guest_memfd that carries the link right. */
static inline struct kvm_vm *private_vm_linkable(struct kvm_vcpu **vcpu,
						 u64 size, int *gmem)
{
	return __private_vm(vcpu, size, true, -1, 0, gmem);
}

/* On a link of @src with @flags (KVM_LINK_GUEST_MEMFD_NO_*). */
static inline struct kvm_vm *private_vm_linked(struct kvm_vcpu **vcpu,
					       u64 size, int src, u64 flags,
					       int *gmem)
{
	return __private_vm(vcpu, size, false, src, flags, gmem);
}

/* On a link of @src with all of @src's rights. */
static inline struct kvm_vm *private_vm_on(struct kvm_vcpu **vcpu, u64 size,
					   int src, int *gmem)
{
	return private_vm_linked(vcpu, size, src, 0, gmem);
}

/* KVM_PRE_FAULT_MEMORY over [@gpa, @gpa + @size), to the end. */
static inline void pre_fault_memory(struct kvm_vcpu *vcpu, u64 gpa, u64 size)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = size };
	int r;

	do {
		r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	} while (range.size && (!r || errno == EINTR || errno == EAGAIN));
	TEST_ASSERT(!range.size, "KVM_PRE_FAULT_MEMORY: %d, errno %d", r,
		    errno);
}

/* Tells the guest of @vm which pages must now read zero. */
static inline void expect_hole(struct kvm_vm *vm, u64 first, u64 pages)
{
	hole_first = first;
	hole_pages = pages;
	sync_global_to_guest(vm, hole_first);
	sync_global_to_guest(vm, hole_pages);
}

/* A field of /proc/meminfo, in KiB. */
static inline long meminfo_kb(const char *field)
{
	char line[128];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	TEST_ASSERT(f, "open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = atol(line + len + 1);
	fclose(f);
	TEST_ASSERT(kb >= 0, "no %s in /proc/meminfo", field);
	return kb;
}

/*
 * gmem's memory is unevictable page cache, and nothing else in the test
 * guest is unevictable, so /proc/meminfo's Unevictable counts it.  Pages
 * wait in per-CPU LRU batches before they are counted (and, when freed,
 * before they are gone); compacting memory drains those batches first.
 */
static inline long unevictable_kb(void)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

	TEST_ASSERT(fd >= 0, "open /proc/sys/vm/compact_memory");
	TEST_ASSERT(write(fd, "1", 1) == 1, "compact memory");
	close(fd);
	return meminfo_kb("Unevictable");
}

/*
 * $GMEM_TIMEOUT_FACTOR, set by the test guest's init to the kernel command
 * line's gmem_timeout_factor=N: how many times slower than Debian's kernel
 * the tests run (4 on the debug kernel).  1 when unset or not a number.
 */
static inline int gmem_timeout_factor(void)
{
	const char *s = getenv("GMEM_TIMEOUT_FACTOR");
	int factor = s ? atoi(s) : 1;

	return factor > 0 ? factor : 1;
}

/*
 * Unevictable memory above @base_kb once it has settled.  The last
 * reference to a page can be dropped a moment after the file or memslot
 * that held it is gone (deferred frees, other CPUs' batches), so this
 * waits up to five seconds (times gmem_timeout_factor()) for the count to
 * come back down.
 */
static inline long unevictable_left_kb(long base_kb)
{
	int i, tries = 50 * gmem_timeout_factor();
	long kb = 0;

	for (i = 0; i < tries; i++) {
		kb = unevictable_kb() - base_kb;
		if (kb <= 0)
			break;
		usleep(100 * 1000);
	}
	return kb;
}

/* The lowest fd number not in use: what a wrongly created fd would get. */
static inline int next_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

/* st_blocks of a guest_memfd, in KiB: what it has allocated. */
static inline long gmem_allocated_kb(int gmem)
{
	struct stat st;

	TEST_ASSERT(!fstat(gmem, &st), "fstat(guest_memfd)");
	return st.st_blocks / 2;
}

/* VMs alive in the guest kernel: KVM's debugfs has a "PID-FD" per VM. */
static inline int live_vms(void)
{
	DIR *dir = opendir("/sys/kernel/debug/kvm");
	struct dirent *d;
	int n = 0;

	TEST_ASSERT(dir, "open /sys/kernel/debug/kvm (debugfs mounted?)");
	while ((d = readdir(dir)))
		n += !!strchr(d->d_name, '-');
	closedir(dir);
	return n;
}

/*
 * The harness's TEST_HARNESS_MAIN, with each test's timeout (30 s unless
 * TEST_F_TIMEOUT says otherwise) multiplied by gmem_timeout_factor(), so
 * that a test that a debug kernel slows down still counts as hung only
 * when it is.  Use after including kselftest_harness.h.
 */
#define GMEM_TEST_HARNESS_MAIN						\
int main(int argc, char **argv)						\
{									\
	int factor = gmem_timeout_factor();				\
	struct __fixture_metadata *f;					\
	struct __test_metadata *t;					\
									\
	for (f = __fixture_list; f; f = f->next)			\
		for (t = f->tests; t; t = t->next)			\
			t->timeout *= factor;				\
	exit(test_harness_run(argc, argv));				\
}

#endif /* _GMEM_TEST_UTIL_H */
