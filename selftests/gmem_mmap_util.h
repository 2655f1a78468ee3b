/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the tests of guest_memfd's shared memory (upstream's
 * GUEST_MEMFD_FLAG_MMAP and GUEST_MEMFD_FLAG_INIT_SHARED): mapping a file,
 * catching the signal a touch raises, what /proc/self/smaps says of a
 * mapping, a pattern of words that the host and a guest both write and
 * check, and a default VM whose memslot is served from guest_memfd alone.
 */
#ifndef _GMEM_MMAP_UTIL_H
#define _GMEM_MMAP_UTIL_H

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/sizes.h>

#include "gmem_test_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define MMAP		GUEST_MEMFD_FLAG_MMAP
#define INIT_SHARED	GUEST_MEMFD_FLAG_INIT_SHARED
#define LINKABLE	GUEST_MEMFD_FLAG_GMEM_LINKABLE
#define NO_HUGEPAGE	GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE
#define SHARED_MEM	(MMAP | INIT_SHARED)

/* What KVM_CAP_GUEST_MEMFD_FLAGS reports on a VM with private memory... */
#define PRIVATE_VM_FLAGS	(MMAP | LINKABLE | NO_HUGEPAGE)
/* ...and on the system fd and a VM without (KVM_X86_DEFAULT_VM). */
#define DEFAULT_VM_FLAGS	(PRIVATE_VM_FLAGS | INIT_SHARED)

#define PUNCH_HOLE	(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)
#define WORDS(bytes)	((bytes) / sizeof(u64))

static inline struct kvm_vm *default_vm(void)
{
	return vm_create_barebones_type(KVM_X86_DEFAULT_VM);
}

static inline struct kvm_vm *private_vm_barebones(void)
{
	return vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

/* MAP_SHARED, read and write, of @size bytes of @fd from @offset. */
static inline void *gmem_map(int fd, u64 size, u64 offset)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       offset);

	TEST_ASSERT(p != MAP_FAILED, "mmap(guest_memfd, %lu bytes at %lu)",
		    size, offset);
	return p;
}

static sigjmp_buf touch_env;

static void touch_handler(int sig)
{
	siglongjmp(touch_env, sig);
}

/*
 * Reads the byte at @p, or writes @val there if @write: 0 if that worked,
 * else the signal it raised (SIGBUS, SIGSEGV), caught and returned.
 */
static inline int touch(char *p, bool write, char val)
{
	struct sigaction sa = { .sa_handler = touch_handler };
	struct sigaction old_bus, old_segv;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(touch_env, 1);
	if (!sig) {
		if (write)
			WRITE_ONCE(*p, val);
		else
			(void)READ_ONCE(*p);
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return sig;
}

/*
 * A field of /proc/self/smaps, in kB, for the mapping that starts at
 * @start; -1 if there is no such mapping or field.
 */
static inline long smaps_kb(const void *start, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	size_t len = strlen(field);
	unsigned long lo, hi;
	bool in = false;
	char line[512];
	long kb = -1;

	TEST_ASSERT(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo == (unsigned long)start;
			continue;
		}
		if (in && !strncmp(line, field, len) && line[len] == ':')
			kb = atol(line + len + 1);
	}
	fclose(f);
	return kb;
}

/* The permissions ("rw-s") of the mapping that starts at @start. */
static inline void vma_perms(const void *start, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512], p[5];

	TEST_ASSERT(f, "open /proc/self/maps");
	snprintf(perms, 5, "none");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 &&
		    lo == (unsigned long)start)
			snprintf(perms, 5, "%s", p);
	fclose(f);
}

/* How many mappings the process has. */
static inline int nr_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	TEST_ASSERT(f, "open /proc/self/maps");
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/*
 * The memory's expected contents, word by word: @seed's pattern, except in
 * up to MAX_RANGES ranges of words that hold another seed's (seed 0: zero).
 * A host and a guest compute the same (the guest's copy is synced to it).
 */
#define MAX_RANGES	4

struct word_range {
	u64 first, end, seed;
};

struct layout {
	u64 seed;
	u64 nr;
	struct word_range range[MAX_RANGES];
};

/* Never zero for a seed other than 0. */
static inline u64 word_pattern(u64 seed, u64 i)
{
	return seed ? 0x676d000000000000ull | (seed << 40) | i : 0;
}

static inline u64 expected_word(const struct layout *l, u64 i)
{
	u64 r;

	for (r = 0; r < l->nr; r++)
		if (i >= l->range[r].first && i < l->range[r].end)
			return word_pattern(l->range[r].seed, i);
	return word_pattern(l->seed, i);
}

/* @l filled with @seed, no ranges. */
static inline void layout_init(struct layout *l, u64 seed)
{
	memset(l, 0, sizeof(*l));
	l->seed = seed;
}

/* Bytes [@start, @start + @len) hold @seed's pattern (0: zero). */
static inline void layout_add(struct layout *l, u64 start, u64 len, u64 seed)
{
	TEST_ASSERT(l->nr < MAX_RANGES, "too many ranges");
	l->range[l->nr++] = (struct word_range){
		WORDS(start), WORDS(start + len), seed,
	};
}

/* Host: write @l's words [@first, @end) at @mem. */
static inline void fill_words(u64 *mem, const struct layout *l, u64 first,
			      u64 end)
{
	u64 i;

	for (i = first; i < end; i++)
		mem[i] = expected_word(l, i);
}

/* Host: the words of @mem[0..@words) that differ from @l. */
static inline u64 bad_words(const u64 *mem, const struct layout *l, u64 words)
{
	u64 i, bad = 0;

	for (i = 0; i < words; i++)
		bad += READ_ONCE(mem[i]) != expected_word(l, i);
	return bad;
}

/*
 * The guest's orders: if guest_fill, write guest_layout over its memory;
 * then count the words that differ from guest_layout and report them.
 */
static struct layout guest_layout;
static u64 guest_fill;

/*
 * Guest: report 0 before touching anything (so that the host can read
 * KVM's statistics before the memory is mapped), then, each run, do as
 * ordered over the @words words at @gpa.
 */
static void guest_fill_or_check(u64 gpa, u64 words)
{
	u64 *mem = (u64 *)gpa;
	u64 i, bad;

	GUEST_SYNC1(0);
	for (;;) {
		if (READ_ONCE(guest_fill))
			for (i = 0; i < words; i++)
				WRITE_ONCE(mem[i],
					   expected_word(&guest_layout, i));
		bad = 0;
		for (i = 0; i < words; i++)
			bad += READ_ONCE(mem[i]) !=
			       expected_word(&guest_layout, i);
		GUEST_SYNC1(bad);
	}
}

/* Runs @vcpu's guest_fill_or_check() once as ordered; the words it found bad. */
static inline u64 guest_do(struct kvm_vm *vm, struct kvm_vcpu *vcpu,
			   const struct layout *l, bool fill)
{
	guest_layout = *l;
	guest_fill = fill;
	sync_global_to_guest(vm, guest_layout);
	sync_global_to_guest(vm, guest_fill);
	return run_to_sync(vcpu);
}

/*
 * A default VM (KVM_X86_DEFAULT_VM) whose vCPU runs guest_fill_or_check()
 * over @size bytes at TEST_GPA, run to its first report (nothing touched).
 * The memslot is the caller's to add: add_gmem_slot().
 */
static inline struct kvm_vm *default_vm_with_vcpu(struct kvm_vcpu **vcpu,
						  u64 size)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_fill_or_check);

	vcpu_args_set(*vcpu, 2, TEST_GPA, WORDS(size));
	virt_map_level(vm, TEST_GPA, TEST_GPA, align_up(size, SZ_2M),
		       PG_LEVEL_2M);
	TEST_ASSERT(run_to_sync(*vcpu) == 0, "the guest's first report");
	return vm;
}

/*
 * Memslot TEST_SLOT: @size bytes at TEST_GPA on guest_memfd @fd from
 * @offset, with @hva as its userspace_addr (which a guest_memfd-only
 * memslot never uses).  The selftest library does not know of it.
 */
static inline void add_gmem_slot(struct kvm_vm *vm, u64 size, void *hva,
				 int fd, u64 offset)
{
	vm_set_user_memory_region2(vm, TEST_SLOT, KVM_MEM_GUEST_MEMFD, TEST_GPA,
				   size, hva, fd, offset);
}

/* A u64 over a socket, between a test and a process it forked. */
static inline void send_u64(int sock, u64 v)
{
	TEST_ASSERT(write(sock, &v, sizeof(v)) == sizeof(v), "send");
}

/* ~0 if the other end is gone. */
static inline u64 recv_u64(int sock)
{
	u64 v;

	return read(sock, &v, sizeof(v)) == sizeof(v) ? v : ~0ull;
}

#endif /* _GMEM_MMAP_UTIL_H */
