// SPDX-License-Identifier: GPL-2.0
/*
 * A guest_memfd mapped into user space (GUEST_MEMFD_FLAG_MMAP):
 *
 *  - MAP_SHARED reads zeroes at first and keeps what is written, across
 *    mappings and after munmap();
 *  - a mapping may reach past the end of the file, but touching a page
 *    at or past the end is SIGBUS; so is every touch of a file without
 *    INIT_SHARED (private memory), which allocates nothing;
 *  - MADV_HUGEPAGE is taken, MADV_COLLAPSE refused (EINVAL); mprotect()
 *    to read-only and back works, to PROT_EXEC does not (EACCES);
 *  - mremap() shrinks and moves a mapping with its contents; grown past
 *    the end, the part beyond is SIGBUS;
 *  - a 2 MiB-aligned file range is mapped at a 2 MiB-aligned address, and
 *    each 2 MiB folio with one PMD (FilePmdMapped in /proc/self/smaps);
 *    with GUEST_MEMFD_FLAG_GMEM_NO_HUGEPAGE, none;
 *  - a hole punched through one file of an inode reads as zeroes through
 *    the mappings of every file on it, the linked file of another VM in
 *    another process (another VMM) as well as its own, and everything
 *    around the hole keeps its contents.
 *
 * The refusals that change nothing are gmem_shared_bad_input_test's.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "gmem_mmap_util.h"
#include "scm_rights.h"
#include "kselftest_harness.h"

static long allocated_kb(int fd)
{
	return gmem_allocated_kb(fd);
}

static off_t file_size(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat");
	return st.st_size;
}

FIXTURE(shared_file) {
	struct kvm_vm *vm;
	int gmem;
};

/* A default VM and a 4 MiB guest_memfd of shared memory. */
FIXTURE_SETUP(shared_file)
{
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, SZ_4M, SHARED_MEM);
}

FIXTURE_TEARDOWN(shared_file)
{
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(shared_file, map_shared_starts_zeroed_and_keeps_writes)
{
	struct layout zero, pattern;
	u64 *a, *b;

	layout_init(&zero, 0);
	layout_init(&pattern, 1);
	a = gmem_map(self->gmem, SZ_4M, 0);
	b = gmem_map(self->gmem, SZ_4M, 0);
	EXPECT_EQ(0, bad_words(a, &zero, WORDS(SZ_4M)));

	fill_words(a, &pattern, 0, WORDS(SZ_4M));
	EXPECT_EQ(0, bad_words(b, &pattern, WORDS(SZ_4M)))
		TH_LOG("two mappings of one file, not the same pages");
	munmap(a, SZ_4M);
	munmap(b, SZ_4M);

	/* The file keeps them: a new mapping finds them. */
	a = gmem_map(self->gmem, SZ_4M, 0);
	EXPECT_EQ(0, bad_words(a, &pattern, WORDS(SZ_4M)));
	EXPECT_EQ(SZ_4M / 1024, allocated_kb(self->gmem));
	munmap(a, SZ_4M);
}

/*
 * A file of 2 MiB + 8 KiB mapped 4 MiB: every page up to the end works;
 * at the end and beyond, reads and writes are SIGBUS, and the file keeps
 * its size and allocates nothing there.  A mapping at an offset past the
 * end is allowed too, and all SIGBUS.
 */
TEST(touching_at_or_past_the_end_is_sigbus)
{
	const u64 size = SZ_2M + 2 * PAGE_SIZE;
	struct kvm_vm *vm = default_vm();
	int gmem = vm_create_guest_memfd(vm, size, SHARED_MEM);
	char *p = gmem_map(gmem, SZ_4M, 0), *q;
	long kb;
	u64 off;

	for (off = 0; off < size; off += PAGE_SIZE) {
		ASSERT_EQ(0, touch(p + off, false, 0)) TH_LOG("offset %lu", off);
		ASSERT_EQ(0, touch(p + off + PAGE_SIZE - 1, true, 1));
	}
	kb = allocated_kb(gmem);
	for (off = size; off < SZ_4M; off += 511 * PAGE_SIZE) {
		EXPECT_EQ(SIGBUS, touch(p + off, false, 0))
			TH_LOG("read at %lu", off);
		EXPECT_EQ(SIGBUS, touch(p + off, true, 1))
			TH_LOG("write at %lu", off);
	}
	EXPECT_EQ(SIGBUS, touch(p + SZ_4M - 1, true, 1));
	EXPECT_EQ(size, file_size(gmem));
	EXPECT_EQ(kb, allocated_kb(gmem));
	EXPECT_EQ(1, p[size - 1]) TH_LOG("the last page lost its write");

	q = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, SZ_4M);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mapping past the end: %d", errno);
	EXPECT_EQ(SIGBUS, touch(q, false, 0));
	EXPECT_EQ(SIGBUS, touch(q + SZ_1M, true, 1));
	EXPECT_EQ(kb, allocated_kb(gmem));

	munmap(q, SZ_2M);
	munmap(p, SZ_4M);
	close(gmem);
	kvm_vm_free(vm);
}

/* Private memory (no INIT_SHARED): every page, read or written, SIGBUS. */
FIXTURE(private_file) {
	struct kvm_vm *vm;
	int gmem;
};

FIXTURE_VARIANT(private_file) {
	unsigned long type;
	u64 flags;
};

FIXTURE_VARIANT_ADD(private_file, default_vm) {
	.type = KVM_X86_DEFAULT_VM, .flags = MMAP,
};

FIXTURE_VARIANT_ADD(private_file, sw_protected_vm) {
	.type = KVM_X86_SW_PROTECTED_VM, .flags = MMAP,
};

FIXTURE_SETUP(private_file)
{
	self->vm = vm_create_barebones_type(variant->type);
	self->gmem = vm_create_guest_memfd(self->vm, SZ_4M, variant->flags);
}

FIXTURE_TEARDOWN(private_file)
{
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(private_file, every_touch_is_sigbus_and_allocates_nothing)
{
	char *p = gmem_map(self->gmem, SZ_4M, 0);
	u64 off;

	for (off = 0; off < SZ_4M; off += 64 * PAGE_SIZE) {
		EXPECT_EQ(SIGBUS, touch(p + off, false, 0))
			TH_LOG("read at %lu", off);
		EXPECT_EQ(SIGBUS, touch(p + off, true, 1))
			TH_LOG("write at %lu", off);
	}
	EXPECT_EQ(0, allocated_kb(self->gmem));

	/* Allocated memory is still private. */
	ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0, SZ_4M));
	EXPECT_EQ(SIGBUS, touch(p, false, 0));
	EXPECT_EQ(SIGBUS, touch(p + SZ_4M - 1, true, 1));
	munmap(p, SZ_4M);
}

TEST_F(shared_file, madvise_hugepage_works_and_collapse_is_einval)
{
	struct layout pattern;
	u64 *p;

	layout_init(&pattern, 2);
	p = gmem_map(self->gmem, SZ_4M, 0);
	fill_words(p, &pattern, 0, WORDS(SZ_4M));

	EXPECT_EQ(0, madvise(p, SZ_4M, MADV_HUGEPAGE)) TH_LOG("errno %d", errno);
	errno = 0;
	EXPECT_EQ(-1, madvise(p, SZ_4M, MADV_COLLAPSE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, bad_words(p, &pattern, WORDS(SZ_4M)));

	/* Dropped from the page tables, faulted back: the same pages. */
	EXPECT_EQ(0, madvise(p, SZ_4M, MADV_DONTNEED));
	EXPECT_EQ(0, bad_words(p, &pattern, WORDS(SZ_4M)));
	munmap(p, SZ_4M);
}

TEST_F(shared_file, mprotect_read_only_and_back_but_never_exec)
{
	char *p = gmem_map(self->gmem, SZ_4M, 0);
	char perms[5];

	ASSERT_EQ(0, touch(p, true, 7));
	ASSERT_EQ(0, mprotect(p, SZ_4M, PROT_READ));
	EXPECT_EQ(0, touch(p, false, 0));
	EXPECT_EQ(SIGSEGV, touch(p, true, 8)) TH_LOG("read-only, written");
	EXPECT_EQ(7, p[0]);

	errno = 0;
	EXPECT_EQ(-1, mprotect(p, SZ_4M, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	errno = 0;

	ASSERT_EQ(0, mprotect(p, SZ_4M, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, touch(p, true, 9));
	vma_perms(p, perms);
	EXPECT_STREQ("rw-s", perms);
	munmap(p, SZ_4M);
	p = gmem_map(self->gmem, PAGE_SIZE, 0);
	EXPECT_EQ(9, p[0]);
	munmap(p, PAGE_SIZE);
}

/*
 * Shrinking keeps the first part; growing again (maybe moving) maps the
 * file's next pages; moving to a fixed address keeps everything; growing
 * past the end of the file maps pages that are SIGBUS.  Nothing of the
 * file changes.
 */
TEST_F(shared_file, mremap_shrinks_grows_and_moves_with_the_contents)
{
	const u64 words = WORDS(SZ_4M);
	struct layout pattern;
	u64 *p, *q, *dst;

	layout_init(&pattern, 3);
	p = gmem_map(self->gmem, SZ_4M, 0);
	fill_words(p, &pattern, 0, words);

	q = mremap(p, SZ_4M, SZ_2M, 0);
	ASSERT_EQ(p, q) TH_LOG("shrinking: errno %d", errno);
	EXPECT_EQ(0, bad_words(q, &pattern, words / 2));
	EXPECT_EQ(SIGSEGV, touch((char *)q + SZ_2M, false, 0))
		TH_LOG("the shrunk part is still mapped");

	q = mremap(q, SZ_2M, SZ_4M, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("growing: errno %d", errno);
	EXPECT_EQ(0, bad_words(q, &pattern, words));

	dst = mmap(NULL, SZ_4M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	p = mremap(q, SZ_4M, SZ_4M, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, p) TH_LOG("moving: errno %d", errno);
	EXPECT_EQ(0, bad_words(p, &pattern, words));
	EXPECT_EQ(SIGSEGV, touch((char *)q, false, 0))
		TH_LOG("the old address is still mapped");

	q = mremap(p, SZ_4M, SZ_8M, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("growing past the end: errno %d", errno);
	EXPECT_EQ(0, bad_words(q, &pattern, words));
	EXPECT_EQ(SIGBUS, touch((char *)q + SZ_4M, false, 0));
	EXPECT_EQ(SIGBUS, touch((char *)q + SZ_8M - 1, true, 1));

	/* Still the file's pages: a write shows in a new mapping. */
	q[words - 1] = 0x1234;
	p = gmem_map(self->gmem, SZ_4M, 0);
	EXPECT_EQ(0x1234, p[words - 1]);
	EXPECT_EQ(SZ_4M, file_size(self->gmem));
	EXPECT_EQ(SZ_4M / 1024, allocated_kb(self->gmem));
	munmap(p, SZ_4M);
	munmap(q, SZ_8M);
}

/*
 * Mapping @map bytes of a @size-byte file from @offset: the address is
 * 2 MiB aligned, and touching one byte of each whole 2 MiB block (and of
 * the tail, if any) allocates a 2 MiB folio per block and maps it with a
 * PMD: FilePmdMapped 2048 kB per block.  With NO_HUGEPAGE, 4 KiB folios
 * and no PMD.  Filling the whole mapping then changes neither.
 */
FIXTURE(pmd) {
	struct kvm_vm *vm;
	int gmem;
	char *p;
};

FIXTURE_VARIANT(pmd) {
	u64 flags, size, offset, map;
	long pmd_kb, allocated_kb;
};

FIXTURE_VARIANT_ADD(pmd, four_blocks) {
	.flags = SHARED_MEM, .size = SZ_8M, .offset = 0, .map = SZ_8M,
	.pmd_kb = 8192, .allocated_kb = 8192,
};

FIXTURE_VARIANT_ADD(pmd, four_blocks_from_2m_in) {
	.flags = SHARED_MEM, .size = SZ_8M + SZ_2M, .offset = SZ_2M,
	.map = SZ_8M, .pmd_kb = 8192, .allocated_kb = 8192,
};

/* 5 MiB: two whole blocks and a 1 MiB tail of 4 KiB folios. */
FIXTURE_VARIANT_ADD(pmd, two_blocks_and_a_tail) {
	.flags = SHARED_MEM, .size = SZ_4M + SZ_1M, .offset = 0,
	.map = SZ_4M + SZ_1M, .pmd_kb = 4096, .allocated_kb = 4096 + 4,
};

FIXTURE_VARIANT_ADD(pmd, no_hugepage) {
	.flags = SHARED_MEM | NO_HUGEPAGE, .size = SZ_8M, .offset = 0,
	.map = SZ_8M, .pmd_kb = 0, .allocated_kb = 16,
};

FIXTURE_SETUP(pmd)
{
	self->vm = default_vm();
	self->gmem = vm_create_guest_memfd(self->vm, variant->size,
					   variant->flags);
	self->p = gmem_map(self->gmem, variant->map, variant->offset);
}

FIXTURE_TEARDOWN(pmd)
{
	munmap(self->p, variant->map);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(pmd, each_2m_folio_is_mapped_with_one_pmd)
{
	const u64 words = WORDS(variant->map);
	bool aligned = !((unsigned long)self->p % SZ_2M);
	struct layout pattern;
	int sigs = 0;
	u64 off;

	EXPECT_TRUE(aligned || (variant->flags & NO_HUGEPAGE))
		TH_LOG("mapped at %p", self->p);
	EXPECT_EQ(0, smaps_kb(self->p, "FilePmdMapped"));

	for (off = 0; off < variant->map; off += SZ_2M)
		sigs += !!touch(self->p + off, true, 1);
	ASSERT_EQ(0, sigs);
	EXPECT_EQ(variant->allocated_kb, allocated_kb(self->gmem));
	EXPECT_EQ(variant->pmd_kb, smaps_kb(self->p, "FilePmdMapped"))
		TH_LOG("ShmemPmdMapped %ld kB, Rss %ld kB",
		       smaps_kb(self->p, "ShmemPmdMapped"),
		       smaps_kb(self->p, "Rss"));

	layout_init(&pattern, 4);
	fill_words((u64 *)self->p, &pattern, 0, words);
	EXPECT_EQ(0, bad_words((u64 *)self->p, &pattern, words));
	EXPECT_EQ(variant->pmd_kb, smaps_kb(self->p, "FilePmdMapped"));
	EXPECT_EQ(variant->map / 1024, smaps_kb(self->p, "Rss"));
}

/*
 * Punching through one file of an inode while another VMM (a process of
 * its own, with its own VM and a linked file it maps) looks on.  The
 * other VMM answers each order over a socket with the words it found
 * differing from what it was told to expect.
 */
#define PUNCH_SIZE	SZ_4M

enum vmm_order { CHECK, PUNCH };

struct vmm_msg {
	u64 order;
	struct layout expect;
	u64 offset, len;	/* PUNCH */
};

static void other_vmm(int sock)
{
	struct kvm_vm *vm = default_vm();
	int src = recv_fd(sock), gmem;
	struct vmm_msg msg;
	u64 *p;

	gmem = vm_link_guest_memfd(vm, src, 0);
	close(src);
	p = gmem_map(gmem, PUNCH_SIZE, 0);
	while (read(sock, &msg, sizeof(msg)) == sizeof(msg)) {
		u64 r = 0;

		if (msg.order == PUNCH)
			r = fallocate(gmem, PUNCH_HOLE, msg.offset, msg.len) ?
			    ~0ull : 0;
		else
			r = bad_words(p, &msg.expect, WORDS(PUNCH_SIZE));
		send_u64(sock, r);
	}
	_exit(0);
}

static u64 order(int sock, u64 what, const struct layout *expect,
		 u64 offset, u64 len)
{
	struct vmm_msg msg = {
		.order = what, .expect = *expect, .offset = offset, .len = len,
	};

	TEST_ASSERT(write(sock, &msg, sizeof(msg)) == sizeof(msg), "order");
	return recv_u64(sock);
}

TEST(a_punch_zeroes_the_mappings_of_every_file_on_the_inode)
{
	const u64 words = WORDS(PUNCH_SIZE);
	struct kvm_vm *vm = default_vm();
	int gmem = vm_create_guest_memfd(vm, PUNCH_SIZE, SHARED_MEM | LINKABLE);
	struct layout l;
	int sock[2], status;
	pid_t pid;
	u64 *p;

	p = gmem_map(gmem, PUNCH_SIZE, 0);
	layout_init(&l, 5);
	fill_words(p, &l, 0, words);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sock[0]);
		other_vmm(sock[1]);
	}
	close(sock[1]);
	send_fd(sock[0], gmem);
	ASSERT_EQ(0, order(sock[0], CHECK, &l, 0, 0))
		TH_LOG("the other VMM's mapping is not of the same pages");

	/* 8 KiB inside the first 2 MiB folio, and the whole second one. */
	ASSERT_EQ(0, fallocate(gmem, PUNCH_HOLE, SZ_1M, 2 * PAGE_SIZE));
	ASSERT_EQ(0, fallocate(gmem, PUNCH_HOLE, SZ_2M, SZ_2M));
	EXPECT_EQ(2048 - 8, allocated_kb(gmem));
	layout_add(&l, SZ_1M, 2 * PAGE_SIZE, 0);
	layout_add(&l, SZ_2M, SZ_2M, 0);
	EXPECT_EQ(0, bad_words(p, &l, words)) TH_LOG("our own mapping");
	EXPECT_EQ(0, order(sock[0], CHECK, &l, 0, 0))
		TH_LOG("the other VMM's mapping");

	/* Written again here, seen there; punched there, zero here. */
	layout_init(&l, 6);
	fill_words(p, &l, 0, words);
	EXPECT_EQ(0, order(sock[0], CHECK, &l, 0, 0));
	ASSERT_EQ(0, order(sock[0], PUNCH, &l, SZ_64K, SZ_64K));
	layout_add(&l, SZ_64K, SZ_64K, 0);
	EXPECT_EQ(0, bad_words(p, &l, words)) TH_LOG("punched by the other");
	EXPECT_EQ(0, order(sock[0], CHECK, &l, 0, 0));

	close(sock[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the other VMM ended with 0x%x", status);
	munmap(p, PUNCH_SIZE);
	close(gmem);
	kvm_vm_free(vm);
}

GMEM_TEST_HARNESS_MAIN
