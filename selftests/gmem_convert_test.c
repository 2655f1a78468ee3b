// SPDX-License-Identifier: GPL-2.0
/*
 * In-place conversion: a SW-protected VM that keeps private/shared in its
 * guest_memfds (KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM)),
 * whose pages KVM_SET_MEMORY_ATTRIBUTES2 converts through the file, each
 * page one page of memory whatever its state:
 *
 *  - the capabilities report PRIVATE and ZERO | PRESERVE; KVM_ENABLE_CAP
 *    refuses bad arguments and VMs without private memory (EINVAL) and
 *    VMs that have a guest_memfd or attributes already (EBUSY); a
 *    converting VM has no attributes of its own and only MMAP files;
 *  - what the guest writes to private memory, the host reads once it is
 *    shared, and what the host writes there, the guest reads once it is
 *    private again: a page, a 2 MiB block, a range across blocks;
 *  - to shared with ZERO reads zeros, with PRESERVE or no flag the data;
 *    a conversion allocates nothing;
 *  - private pages are SIGBUS through the host's mapping, before and
 *    after a round trip, and in a child that mapped the page while shared;
 *  - a page user space holds a reference on (io_uring pin, vmsplice) does
 *    not go private: EAGAIN at that page and nothing converted, while a
 *    page of the same folio user space never mapped does (one it mapped
 *    does not);
 *  - KVM maps a 2 MiB block with 4 KiB pages while it is mixed and with a
 *    2 MiB page again once it is uniform;
 *  - linked files see one state: a conversion through either applies to
 *    both VMs and both files' mappings;
 *  - bad input is refused (EINVAL, EOPNOTSUPP, ENOTTY), nothing changed;
 *  - converting half of 256 MiB to shared allocates nothing more.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gmem_convert_util.h"
#include "kselftest_harness.h"

#define SIZE		SZ_8M
#define BLOCKS		(SIZE / SZ_2M)
#define PAGES(bytes)	((bytes) / PAGE_SIZE)

/*
 * A converting VM whose vCPU runs guest_fill_or_check() over @size bytes
 * at TEST_GPA, on guest_memfd @gmem (created with MMAP | @flags, or
 * linked to another VM's), and the host's mapping of the whole file.
 */
struct cvm {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;
	char *mem;
	void *hva;
	u64 size;
};

/*
 * The memslot's userspace_addr: address space where nothing is mapped.
 * Not 0: the test's own program may be mapped below 8 MiB, and NUMA
 * balancing's scans of it would zap the guest's mappings there (KVM's MMU
 * notifier), which the tests that count them would see.
 */
static void *hva_reservation(u64 size)
{
	void *p = mmap(NULL, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "reserve %lu bytes", size);
	return p;
}

/* A new file if @src is negative, else a link of @src. */
static void cvm_init(struct cvm *c, u64 size, u64 flags, int src)
{
	c->size = size;
	c->vm = private_vm_with_vcpu(&c->vcpu, guest_fill_or_check);
	vm_enable_conversion(c->vm);
	vcpu_args_set(c->vcpu, 2, TEST_GPA, WORDS(size));
	virt_map_level(c->vm, TEST_GPA, TEST_GPA, size, PG_LEVEL_2M);
	TEST_ASSERT(run_to_sync(c->vcpu) == 0, "the guest's first report");
	if (src < 0)
		c->gmem = vm_create_guest_memfd(c->vm, size, MMAP | flags);
	else
		c->gmem = vm_link_guest_memfd(c->vm, src, 0);
	c->hva = hva_reservation(size);
	add_gmem_slot(c->vm, size, c->hva, c->gmem, 0);
	c->mem = gmem_map(c->gmem, size, 0);
}

static void cvm_free(struct cvm *c)
{
	munmap(c->mem, c->size);
	munmap(c->hva, c->size);
	close(c->gmem);
	kvm_vm_free(c->vm);
}

/* The guest fills (if @fill) and checks @l; the words it found bad. */
static u64 guest(struct cvm *c, const struct layout *l, bool fill)
{
	return guest_do(c->vm, c->vcpu, l, fill);
}

/* One of the VM's statistics: pages_4k, pages_2m. */
static u64 mapped(struct cvm *c, const char *name)
{
	return vm_get_stat(c->vm, name);
}

/* Host: the words of [@start, @start + @len) at @mem that differ from @l. */
static u64 bad_words_in(const char *mem, const struct layout *l, u64 start,
			u64 len)
{
	const u64 *words = (const u64 *)mem;
	u64 i, bad = 0;

	for (i = WORDS(start); i < WORDS(start + len); i++)
		bad += READ_ONCE(words[i]) != expected_word(l, i);
	return bad;
}

/* Host: writes @l's words of [@start, @start + @len) at @mem. */
static void fill_range(char *mem, const struct layout *l, u64 start, u64 len)
{
	fill_words((u64 *)mem, l, WORDS(start), WORDS(start + len));
}

/* The pages of [@start, @start + @len) whose read gives @sig (0: none). */
static u64 pages_raising(char *mem, u64 start, u64 len, int sig)
{
	u64 off, n = 0;

	for (off = start; off < start + len; off += PAGE_SIZE)
		n += touch(mem + off, false, 0) == sig;
	return n;
}

/* KVM_ENABLE_CAP(CONVERT_CAP) with these flags and args: 0 or the errno. */
static int enable_conversion(struct kvm_vm *vm, u64 flags, const u64 args[4])
{
	struct kvm_enable_cap cap = { .cap = CONVERT_CAP, .flags = flags };

	memcpy(cap.args, args, sizeof(cap.args));
	errno = 0;
	return __vm_ioctl(vm, KVM_ENABLE_CAP, &cap) ? errno : 0;
}

static const u64 private_args[4] = { KVM_MEMORY_ATTRIBUTE_PRIVATE };

/* KVM_SET_MEMORY_ATTRIBUTES on the VM: 0 or the errno. */
static int set_vm_attributes(struct kvm_vm *vm, u64 attributes)
{
	struct kvm_memory_attributes attr = {
		.address = TEST_GPA, .size = SZ_2M, .attributes = attributes,
	};

	errno = 0;
	return __vm_ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES, &attr) ? errno : 0;
}

/* errno of a KVM_CREATE_GUEST_MEMFD expected to fail; 0 if it succeeded. */
static int create_errno(struct kvm_vm *vm, u64 flags)
{
	int fd;

	errno = 0;
	fd = __vm_create_guest_memfd(vm, SZ_2M, flags);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/*
 * Conversion is for VMs with private memory: the capability says PRIVATE
 * on /dev/kvm and on a SW-protected VM, 0 on a default VM, and the flags
 * capability ZERO | PRESERVE wherever conversion is.
 */
TEST(capabilities_report_private_and_both_content_modes)
{
	struct kvm_vm *priv = private_vm_barebones(), *plain = default_vm();

	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE, kvm_check_cap(CONVERT_CAP));
	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE, vm_check_cap(priv, CONVERT_CAP));
	EXPECT_EQ(0, vm_check_cap(plain, CONVERT_CAP));
	EXPECT_EQ(ZERO | PRESERVE, kvm_check_cap(FLAGS_CAP));
	EXPECT_EQ(ZERO | PRESERVE, vm_check_cap(priv, FLAGS_CAP));
	EXPECT_EQ(0, vm_check_cap(plain, FLAGS_CAP));

	/* Still so once the VM converts. */
	vm_enable_conversion(priv);
	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE, vm_check_cap(priv, CONVERT_CAP));
	EXPECT_EQ(ZERO | PRESERVE, vm_check_cap(priv, FLAGS_CAP));
	kvm_vm_free(plain);
	kvm_vm_free(priv);
}

/*
 * KVM_ENABLE_CAP takes flags 0, args[0] PRIVATE and nothing else: any
 * other is EINVAL and leaves the VM as it was (VM attributes still
 * offered), and so is a VM without private memory.
 */
TEST(enable_cap_refuses_bad_arguments_and_default_vms)
{
	const struct { u64 flags, args[4]; } bad[] = {
		{ 0, { 0 } },
		{ 0, { 1 } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE | 1 } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE << 1 } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE | BIT_ULL(63) } },
		{ 1, { KVM_MEMORY_ATTRIBUTE_PRIVATE } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE, 1 } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, 1 } },
		{ 0, { KVM_MEMORY_ATTRIBUTE_PRIVATE, 0, 0, 1 } },
	};
	struct kvm_vm *vm = private_vm_barebones(), *plain = default_vm();
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(EINVAL, enable_conversion(vm, bad[i].flags,
						    bad[i].args))
			TH_LOG("flags 0x%lx args 0x%lx 0x%lx 0x%lx 0x%lx",
			       bad[i].flags, bad[i].args[0], bad[i].args[1],
			       bad[i].args[2], bad[i].args[3]);
	}
	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE,
		  vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES))
		TH_LOG("a refused KVM_ENABLE_CAP made the VM convert");
	EXPECT_EQ(0, enable_conversion(vm, 0, private_args));

	EXPECT_EQ(EINVAL, enable_conversion(plain, 0, private_args))
		TH_LOG("a default VM");
	kvm_vm_free(plain);
	kvm_vm_free(vm);
}

/*
 * Only before the VM has a guest_memfd (of either kind) or memory
 * attributes: EBUSY after, and the VM goes on as before.  Enabling it
 * again once on changes nothing (kvm_gmem_enable_in_place(): 0).
 */
TEST(enable_cap_is_ebusy_once_the_vm_has_a_guest_memfd_or_attributes)
{
	const u64 flags[] = { 0, MMAP };
	struct kvm_vm *vm;
	int i, gmem;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		vm = private_vm_barebones();
		gmem = vm_create_guest_memfd(vm, SZ_2M, flags[i]);
		EXPECT_EQ(EBUSY, enable_conversion(vm, 0, private_args))
			TH_LOG("after a guest_memfd with flags 0x%lx", flags[i]);
		EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE,
			  vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES));
		EXPECT_EQ(ENOTTY, convert(gmem, 0, SZ_2M, TO_SHARED, 0));
		close(gmem);
		kvm_vm_free(vm);
	}

	vm = private_vm_barebones();
	ASSERT_EQ(0, set_vm_attributes(vm, KVM_MEMORY_ATTRIBUTE_PRIVATE));
	EXPECT_EQ(EBUSY, enable_conversion(vm, 0, private_args))
		TH_LOG("after KVM_SET_MEMORY_ATTRIBUTES");
	kvm_vm_free(vm);

	/* On already, it stays on: a no-op, guest_memfd or not. */
	vm = converting_vm_barebones();
	gmem = vm_create_guest_memfd(vm, SZ_2M, MMAP);
	EXPECT_EQ(0, enable_conversion(vm, 0, private_args));
	EXPECT_EQ(0, convert(gmem, 0, SZ_2M, TO_SHARED, 0));
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * A converting VM: no VM attributes (the capability is 0, PRIVATE is
 * EINVAL); guest_memfds only with MMAP (else EINVAL, and no fd), private
 * from the start, or shared with INIT_SHARED; both convert.
 */
TEST(a_converting_vm_has_no_attributes_and_only_mmap_files)
{
	const u64 no_mmap[] = { 0, LINKABLE, NO_HUGEPAGE, INIT_SHARED };
	struct kvm_vm *vm = converting_vm_barebones();
	int i, priv, shared, first_free = next_fd();
	char *p, *s;

	EXPECT_EQ(0, vm_check_cap(vm, KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_EQ(EINVAL, set_vm_attributes(vm, KVM_MEMORY_ATTRIBUTE_PRIVATE));

	for (i = 0; i < ARRAY_SIZE(no_mmap); i++) {
		EXPECT_EQ(EINVAL, create_errno(vm, no_mmap[i]))
			TH_LOG("flags 0x%lx", no_mmap[i]);
	}
	EXPECT_EQ(first_free, next_fd()) TH_LOG("a refused create left an fd");

	priv = vm_create_guest_memfd(vm, SZ_4M, MMAP);
	shared = vm_create_guest_memfd(vm, SZ_4M, MMAP | INIT_SHARED);
	p = gmem_map(priv, SZ_4M, 0);
	s = gmem_map(shared, SZ_4M, 0);
	EXPECT_EQ(PAGES(SZ_4M), pages_raising(p, 0, SZ_4M, SIGBUS));
	EXPECT_EQ(0, touch(s, true, 0x11));
	EXPECT_EQ(0, touch(s + SZ_4M - 1, true, 0x22));

	ASSERT_EQ(0, convert(priv, 0, SZ_4M, TO_SHARED, 0));
	ASSERT_EQ(0, convert(shared, 0, SZ_4M, TO_PRIVATE, 0));
	EXPECT_EQ(PAGES(SZ_4M), pages_raising(p, 0, SZ_4M, 0));
	EXPECT_EQ(PAGES(SZ_4M), pages_raising(s, 0, SZ_4M, SIGBUS));

	munmap(s, SZ_4M);
	munmap(p, SZ_4M);
	close(shared);
	close(priv);
	kvm_vm_free(vm);
}

/*
 * Private to shared (PRESERVE) and back (no flag), over a range of the
 * 8 MiB the guest filled: the host reads the guest's words, only there;
 * the guest reads the host's words, shared and then private; and once
 * more the other way, all in the same pages.
 */
FIXTURE(round_trip) {
	struct cvm c;
};

FIXTURE_VARIANT(round_trip) {
	u64 start, len;
};

FIXTURE_VARIANT_ADD(round_trip, one_page_inside_a_2m_block) {
	.start = SZ_2M + 300 * PAGE_SIZE, .len = PAGE_SIZE,
};

FIXTURE_VARIANT_ADD(round_trip, one_whole_2m_block) {
	.start = SZ_4M, .len = SZ_2M,
};

/* Part of block 0, all of block 1, part of block 2. */
FIXTURE_VARIANT_ADD(round_trip, a_range_across_blocks) {
	.start = SZ_1M + PAGE_SIZE, .len = SZ_4M - 2 * PAGE_SIZE,
};

FIXTURE_SETUP(round_trip)
{
	cvm_init(&self->c, SIZE, 0, -1);
}

FIXTURE_TEARDOWN(round_trip)
{
	cvm_free(&self->c);
}

TEST_F(round_trip, guest_and_host_see_each_others_words)
{
	const u64 start = variant->start, len = variant->len;
	struct cvm *c = &self->c;
	struct layout l;

	layout_init(&l, 1);
	ASSERT_EQ(0, guest(c, &l, true));
	EXPECT_EQ(SIGBUS, touch(c->mem + start, false, 0));

	ASSERT_EQ(0, convert(c->gmem, start, len, TO_SHARED, PRESERVE));
	EXPECT_EQ(0, bad_words_in(c->mem, &l, start, len))
		TH_LOG("the host does not read the guest's private words");
	EXPECT_EQ(SIGBUS, touch(c->mem + start - PAGE_SIZE, false, 0))
		TH_LOG("the page before the range is not private");
	EXPECT_EQ(SIGBUS, touch(c->mem + start + len, false, 0))
		TH_LOG("the page after the range is not private");
	EXPECT_EQ(0, guest(c, &l, false));

	layout_add(&l, start, len, 2);
	fill_range(c->mem, &l, start, len);
	EXPECT_EQ(0, guest(c, &l, false))
		TH_LOG("the guest does not read the host's shared words");

	ASSERT_EQ(0, convert(c->gmem, start, len, TO_PRIVATE, 0));
	EXPECT_EQ(PAGES(len), pages_raising(c->mem, start, len, SIGBUS));
	EXPECT_EQ(0, guest(c, &l, false))
		TH_LOG("the host's words did not stay on going private");

	/* Once more: the guest's writes to private memory, then shared. */
	layout_init(&l, 3);
	ASSERT_EQ(0, guest(c, &l, true));
	ASSERT_EQ(0, convert(c->gmem, start, len, TO_SHARED, 0));
	EXPECT_EQ(0, bad_words_in(c->mem, &l, start, len));
	EXPECT_EQ(0, guest(c, &l, false));
	EXPECT_EQ(SIZE / 1024, gmem_allocated_kb(c->gmem));
}

/*
 * To shared with ZERO: host and guest read zeros there; with PRESERVE or
 * no flag: the guest's words.  Either way back to private keeps what the
 * pages then hold, and nothing outside the range changes.
 */
FIXTURE(content) {
	struct cvm c;
};

FIXTURE_VARIANT(content) {
	u64 flags;
	bool zeroed;
};

FIXTURE_VARIANT_ADD(content, zero) { .flags = ZERO, .zeroed = true };
FIXTURE_VARIANT_ADD(content, preserve) { .flags = PRESERVE };
FIXTURE_VARIANT_ADD(content, no_flag) { .flags = 0 };

FIXTURE_SETUP(content)
{
	cvm_init(&self->c, SIZE, 0, -1);
}

FIXTURE_TEARDOWN(content)
{
	cvm_free(&self->c);
}

TEST_F(content, zero_reads_zeros_and_preserve_keeps_the_data)
{
	/* Across two block boundaries, one whole block inside. */
	const u64 start = SZ_2M - 2 * PAGE_SIZE, len = SZ_2M + 4 * PAGE_SIZE;
	struct cvm *c = &self->c;
	struct layout l;

	layout_init(&l, 1);
	ASSERT_EQ(0, guest(c, &l, true));
	ASSERT_EQ(0, convert(c->gmem, start, len, TO_SHARED, variant->flags));
	layout_add(&l, start, len, variant->zeroed ? 0 : 1);
	EXPECT_EQ(0, bad_words_in(c->mem, &l, start, len))
		TH_LOG("the host's view of the converted range");
	EXPECT_EQ(0, guest(c, &l, false))
		TH_LOG("the guest's view of the memory");

	ASSERT_EQ(0, convert(c->gmem, start, len, TO_PRIVATE, PRESERVE));
	EXPECT_EQ(0, guest(c, &l, false))
		TH_LOG("the guest's view once private again");
}

/*
 * A conversion allocates and frees nothing: memory never allocated stays
 * so and reads as zeros either way.  A range already in the state asked
 * for is left as it is, but for ZERO, which zeroes it all the same.
 */
TEST(conversion_allocates_nothing_and_zero_zeroes_shared_pages_too)
{
	struct kvm_vm *vm = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(vm, SZ_4M, MMAP);
	char *mem = gmem_map(gmem, SZ_4M, 0);
	struct layout l;

	ASSERT_EQ(0, convert(gmem, 0, SZ_4M, TO_SHARED, PRESERVE));
	ASSERT_EQ(0, convert(gmem, 0, SZ_4M, TO_PRIVATE, 0));
	ASSERT_EQ(0, convert(gmem, 0, SZ_4M, TO_SHARED, 0));
	EXPECT_EQ(0, gmem_allocated_kb(gmem));

	/* Shared already: PRESERVE and no flag keep the words, ZERO not. */
	layout_init(&l, 5);
	fill_range(mem, &l, 0, SZ_4M);
	EXPECT_EQ(SZ_4M / 1024, gmem_allocated_kb(gmem));
	EXPECT_EQ(0, convert(gmem, 0, SZ_4M, TO_SHARED, PRESERVE));
	EXPECT_EQ(0, convert(gmem, 0, SZ_4M, TO_SHARED, 0));
	EXPECT_EQ(0, bad_words_in(mem, &l, 0, SZ_4M));
	EXPECT_EQ(0, convert(gmem, SZ_1M, SZ_2M, TO_SHARED, ZERO));
	layout_add(&l, SZ_1M, SZ_2M, 0);
	EXPECT_EQ(0, bad_words_in(mem, &l, 0, SZ_4M));
	EXPECT_EQ(SZ_4M / 1024, gmem_allocated_kb(gmem));

	munmap(mem, SZ_4M);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * Private memory is SIGBUS through the host's mapping, read or written;
 * shared, it reads and writes; private again, SIGBUS again, and what the
 * host wrote is still there the next time it is shared.
 */
TEST(private_pages_are_sigbus_before_and_after_a_round_trip)
{
	struct kvm_vm *vm = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(vm, SZ_4M, MMAP);
	char *mem = gmem_map(gmem, SZ_4M, 0);
	const u64 page = SZ_2M + 7 * PAGE_SIZE;

	EXPECT_EQ(SIGBUS, touch(mem + page, false, 0));
	EXPECT_EQ(SIGBUS, touch(mem + page, true, 1));

	ASSERT_EQ(0, convert(gmem, page, PAGE_SIZE, TO_SHARED, 0));
	EXPECT_EQ(0, touch(mem + page, true, 0x42));
	EXPECT_EQ(0x42, mem[page]);
	EXPECT_EQ(SIGBUS, touch(mem + page + PAGE_SIZE, false, 0));

	ASSERT_EQ(0, convert(gmem, page, PAGE_SIZE, TO_PRIVATE, 0));
	EXPECT_EQ(SIGBUS, touch(mem + page, false, 0));
	EXPECT_EQ(SIGBUS, touch(mem + page, true, 1));

	ASSERT_EQ(0, convert(gmem, page, PAGE_SIZE, TO_SHARED, PRESERVE));
	EXPECT_EQ(0x42, mem[page]);

	munmap(mem, SZ_4M);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * The host's own mapping: a 2 MiB block that is all shared is mapped with
 * one PMD; once a page of it is private, the rest is mapped page by page
 * and the private page stays SIGBUS (a PMD would map it along); all shared
 * again, a PMD again.
 */
TEST(the_host_maps_a_shared_block_whole_and_a_mixed_one_page_by_page)
{
	struct kvm_vm *vm = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(vm, SZ_4M, MMAP | INIT_SHARED);
	char *mem = gmem_map(gmem, SZ_4M, 0);
	const u64 page = SZ_2M + 9 * PAGE_SIZE;

	ASSERT_EQ(0, fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, SZ_4M));
	EXPECT_EQ(0, pages_raising(mem, SZ_2M, SZ_2M, SIGBUS));
	EXPECT_EQ(SZ_2M / 1024, smaps_kb(mem, "FilePmdMapped"));

	ASSERT_EQ(0, convert(gmem, page, PAGE_SIZE, TO_PRIVATE, 0));
	EXPECT_EQ(0, smaps_kb(mem, "FilePmdMapped"));
	EXPECT_EQ(1, pages_raising(mem, SZ_2M, SZ_2M, SIGBUS));
	EXPECT_EQ(SIGBUS, touch(mem + page, false, 0));
	EXPECT_EQ(0, smaps_kb(mem, "FilePmdMapped"));
	EXPECT_EQ(SZ_2M / 1024 - 4, smaps_kb(mem, "Rss"));

	/*
	 * All shared again.  The old mapping keeps its page table, where a
	 * fault maps a page, not a PMD: a new mapping.
	 */
	ASSERT_EQ(0, convert(gmem, page, PAGE_SIZE, TO_SHARED, 0));
	EXPECT_EQ(0, pages_raising(mem, SZ_2M, SZ_2M, SIGBUS));
	munmap(mem, SZ_4M);
	mem = gmem_map(gmem, SZ_4M, 0);
	EXPECT_EQ(0, pages_raising(mem, SZ_2M, SZ_2M, SIGBUS));
	EXPECT_EQ(SZ_2M / 1024, smaps_kb(mem, "FilePmdMapped"));

	munmap(mem, SZ_4M);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * A link without fallocate() (KVM_LINK_GUEST_MEMFD_NO_FALLOCATE) cannot
 * convert either: zeroing the memory, or showing it to user space, is as
 * much as a punch could do.  Nothing changes.
 */
TEST(a_link_without_fallocate_cannot_convert)
{
	struct kvm_vm *a = converting_vm_barebones();
	struct kvm_vm *b = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(a, SZ_2M, MMAP | LINKABLE);
	int link = vm_link_guest_memfd(b, gmem,
				       KVM_LINK_GUEST_MEMFD_NO_FALLOCATE);
	char *mem = gmem_map(link, SZ_2M, 0);

	EXPECT_EQ(EPERM, __convert(link, 0, PAGE_SIZE, TO_SHARED, 0, NULL));
	EXPECT_EQ(EPERM, __convert(link, 0, SZ_2M, TO_SHARED, ZERO, NULL));
	EXPECT_EQ(EPERM, __convert(link, 0, PAGE_SIZE, TO_PRIVATE, 0, NULL));
	EXPECT_EQ(SIGBUS, touch(mem, false, 0)) TH_LOG("the page went shared");

	ASSERT_EQ(0, convert(gmem, 0, PAGE_SIZE, TO_SHARED, 0));
	EXPECT_EQ(0, touch(mem, true, 0x17));
	EXPECT_EQ(EPERM, __convert(link, 0, PAGE_SIZE, TO_PRIVATE, 0, NULL));
	EXPECT_EQ(0x17, mem[0]) TH_LOG("the page went private");

	munmap(mem, SZ_2M);
	close(link);
	close(gmem);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

/*
 * An mlock()ed mapping (QEMU's -overcommit mem-lock=on): mapping and
 * unmapping a 4 KiB folio there leaves a reference in a CPU's mlock batch
 * for a while, which must not make the conversion fail.
 */
TEST(a_page_of_an_mlocked_mapping_converts)
{
	struct kvm_vm *vm = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(vm, SZ_2M, MMAP | NO_HUGEPAGE);
	char *mem = gmem_map(gmem, SZ_2M, 0);
	struct rlimit limit = { RLIM_INFINITY, RLIM_INFINITY };
	u64 page;

	/* mlock() faults the pages in: shared first, or SIGBUS (ENOMEM). */
	ASSERT_EQ(0, convert(gmem, 0, SZ_2M, TO_SHARED, 0));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &limit));
	ASSERT_EQ(0, mlock(mem, SZ_2M)) TH_LOG("errno %d", errno);
	for (page = 0; page < 8; page++)
		EXPECT_EQ(0, touch(mem + page * PAGE_SIZE, true, 0x5a));
	for (page = 0; page < 8; page++)
		EXPECT_EQ(0, __convert(gmem, page * PAGE_SIZE, PAGE_SIZE,
				       TO_PRIVATE, 0, NULL))
			TH_LOG("page %lu", page);
	EXPECT_EQ(SIGBUS, touch(mem, false, 0));

	munmap(mem, SZ_2M);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * A child that inherited the mapping and read a shared page through it
 * gets SIGBUS there once the parent converts the page to private.
 */
TEST(a_forked_child_loses_the_page_when_the_parent_converts_it)
{
	struct kvm_vm *vm = converting_vm_barebones();
	int gmem = vm_create_guest_memfd(vm, SZ_4M, MMAP | INIT_SHARED);
	char *mem = gmem_map(gmem, SZ_4M, 0);
	const u64 page = SZ_1M;
	int sock[2], status, r;
	pid_t pid;

	ASSERT_EQ(0, touch(mem + page, true, 0x3c));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sock));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sock[0]);
		r = touch(mem + page, false, 0);
		send_u64(sock[1], r ? r : mem[page] != 0x3c);
		recv_u64(sock[1]);	/* the parent converted the page */
		send_u64(sock[1], touch(mem + page, false, 0));
		send_u64(sock[1], touch(mem + page, true, 1));
		_exit(0);
	}
	close(sock[1]);
	EXPECT_EQ(0, recv_u64(sock[0])) TH_LOG("the child's read while shared");
	ASSERT_EQ(0, convert(gmem, 0, SZ_2M, TO_PRIVATE, 0));
	send_u64(sock[0], 1);
	EXPECT_EQ(SIGBUS, recv_u64(sock[0])) TH_LOG("the child's read");
	EXPECT_EQ(SIGBUS, recv_u64(sock[0])) TH_LOG("the child's write");
	EXPECT_EQ(SIGBUS, touch(mem + page, false, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the child ended with 0x%x", status);
	EXPECT_EQ(0, touch(mem + SZ_2M, false, 0)) TH_LOG("the rest stays shared");

	close(sock[0]);
	munmap(mem, SZ_4M);
	close(gmem);
	kvm_vm_free(vm);
}

/*
 * The host writes one page of a shared range inside a 2 MiB folio and
 * holds a reference on it.  Converting a range that holds it to private
 * is EAGAIN with error_offset at that page, and converts nothing; a page
 * of the same folio the host never mapped converts all the while; once
 * the reference is dropped, the range converts.
 */
FIXTURE(held) {
	struct kvm_vm *vm;
	long huge_kb;
	int gmem;
	char *mem;
};

FIXTURE_VARIANT(held) {
	enum hold how;
};

FIXTURE_VARIANT_ADD(held, io_uring_fixed_buffer) { .how = HOLD_IO_URING };
FIXTURE_VARIANT_ADD(held, vmsplice_into_a_pipe) { .how = HOLD_VMSPLICE };

FIXTURE_SETUP(held)
{
	self->vm = converting_vm_barebones();
	self->gmem = vm_create_guest_memfd(self->vm, SZ_4M, MMAP);
	self->huge_kb = meminfo_kb("FileHugePages");
	ASSERT_EQ(0, fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0, SZ_4M));
	self->mem = gmem_map(self->gmem, SZ_4M, 0);
}

FIXTURE_TEARDOWN(held)
{
	munmap(self->mem, SZ_4M);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F(held, a_held_page_stays_shared_and_an_unmapped_one_converts)
{
	/* Shared: 16 pages of block 1; the range: the first 8. */
	const u64 shared = SZ_2M, range = 8 * PAGE_SIZE;
	const u64 held = shared + 4 * PAGE_SIZE;
	const u64 unmapped = shared + 12 * PAGE_SIZE;
	char *mem = self->mem;
	struct page_hold h;
	int r, tries;
	u64 err;

	if (variant->how == HOLD_IO_URING && !have_io_uring())
		SKIP(return, "no io_uring here");
	ASSERT_EQ(0, convert(self->gmem, shared, 16 * PAGE_SIZE, TO_SHARED, 0));
	ASSERT_EQ(0, touch(mem + held, true, 0x5a));
	r = hold_pages(&h, variant->how, mem + held, PAGE_SIZE);
	ASSERT_EQ(0, r) TH_LOG("holding the page: %s", strerror(r));

	EXPECT_EQ(0, convert(self->gmem, unmapped, PAGE_SIZE, TO_PRIVATE, 0))
		TH_LOG("a page never mapped, in the held page's folio");
	EXPECT_EQ(SIGBUS, touch(mem + unmapped, false, 0));
	/* Both were pages of one 2 MiB folio, and still are. */
	EXPECT_EQ(SZ_4M / 1024, meminfo_kb("FileHugePages") - self->huge_kb);

	EXPECT_EQ(EAGAIN, __convert(self->gmem, shared, range, TO_PRIVATE, 0,
				    &err));
	EXPECT_EQ(held, err);
	EXPECT_EQ(EAGAIN, __convert(self->gmem, held, PAGE_SIZE, TO_PRIVATE,
				    PRESERVE, &err))
		TH_LOG("the held page alone");
	EXPECT_EQ(held, err);
	EXPECT_EQ(PAGES(range), pages_raising(mem, shared, range, 0))
		TH_LOG("pages of a refused range went private");
	EXPECT_EQ(0x5a, mem[held]);

	/*
	 * Now mapped, the first page of the range shares a folio with the
	 * held page, and which of its pages a reference is on the kernel
	 * cannot tell: refused too (Documentation/conversion.rst).
	 */
	EXPECT_EQ(EAGAIN, __convert(self->gmem, shared, PAGE_SIZE, TO_PRIVATE,
				    0, &err));
	EXPECT_EQ(shared, err);

	release_pages(&h);
	EXPECT_EQ(0, convert_retrying(self->gmem, shared, range, TO_PRIVATE, 0,
				      &tries));
	if (tries > 1)
		TH_LOG("converted at try %d after the reference went", tries);
	EXPECT_EQ(PAGES(range), pages_raising(mem, shared, range, SIGBUS));
	/* The other shared pages, all but the one made private. */
	EXPECT_EQ(7, pages_raising(mem, shared + range, range, 0));
}

/*
 * KVM maps a uniform 2 MiB block with one 2 MiB page: one page of it
 * made shared breaks that mapping up at once, the guest's next touch maps
 * the block with 4 KiB pages, and once the page is private again, with
 * one 2 MiB page again.
 */
TEST(a_mixed_2m_block_is_mapped_with_4k_pages_until_it_is_uniform)
{
	const u64 page = SZ_2M + 300 * PAGE_SIZE;
	u64 k4, m2, k4_full, m2_full, k4_mixed, m2_mixed;
	struct layout l;
	struct cvm c;

	cvm_init(&c, SIZE, 0, -1);
	k4 = mapped(&c, "pages_4k");
	m2 = mapped(&c, "pages_2m");
	layout_init(&l, 1);
	ASSERT_EQ(0, guest(&c, &l, true));
	k4_full = mapped(&c, "pages_4k");
	m2_full = mapped(&c, "pages_2m");
	TH_LOG("private: pages_2m %lu -> %lu, pages_4k %lu -> %lu", m2,
	       m2_full, k4, k4_full);
	EXPECT_EQ(BLOCKS, m2_full - m2);

	ASSERT_EQ(0, convert(c.gmem, page, PAGE_SIZE, TO_SHARED, PRESERVE));
	TH_LOG("one page shared: pages_2m %lu, pages_4k %lu",
	       mapped(&c, "pages_2m"), mapped(&c, "pages_4k"));
	EXPECT_EQ(BLOCKS - 1, mapped(&c, "pages_2m") - m2)
		TH_LOG("the block's 2 MiB mapping outlived the conversion");
	ASSERT_EQ(0, guest(&c, &l, false));
	k4_mixed = mapped(&c, "pages_4k");
	m2_mixed = mapped(&c, "pages_2m");
	TH_LOG("touched while mixed: pages_2m %lu, pages_4k %lu", m2_mixed,
	       k4_mixed);
	EXPECT_EQ(BLOCKS - 1, m2_mixed - m2);
	EXPECT_LE(k4_full + PAGES(SZ_2M), k4_mixed);

	ASSERT_EQ(0, convert(c.gmem, page, PAGE_SIZE, TO_PRIVATE, 0));
	ASSERT_EQ(0, guest(&c, &l, false));
	TH_LOG("private again, touched: pages_2m %lu, pages_4k %lu",
	       mapped(&c, "pages_2m"), mapped(&c, "pages_4k"));
	EXPECT_EQ(BLOCKS, mapped(&c, "pages_2m") - m2);
	cvm_free(&c);
}

/*
 * Only converting VMs link a converting VM's file, and they link nothing
 * else (EINVAL).  VM B runs on a link of VM A's file: a conversion
 * through B reaches A's VM (its 2 MiB mapping goes) and A's mapping, one
 * through A reaches B's; both guests and both mappings see one memory.
 */
TEST(linked_files_share_one_private_shared_state)
{
	const u64 page = SZ_2M + 5 * PAGE_SIZE;
	struct kvm_vm *priv = private_vm_barebones(), *plain = default_vm();
	struct kvm_vm *conv = converting_vm_barebones();
	u64 a2m, b2m;
	struct layout l;
	struct cvm a, b;
	int other;

	cvm_init(&a, SZ_4M, LINKABLE, -1);
	EXPECT_EQ(-1, __vm_link_guest_memfd(priv, a.gmem, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("a SW-protected VM that does not convert");
	EXPECT_EQ(-1, __vm_link_guest_memfd(plain, a.gmem, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("a default VM");
	other = vm_create_guest_memfd(priv, SZ_4M, MMAP | LINKABLE);
	EXPECT_EQ(-1, __vm_link_guest_memfd(conv, other, 0));
	EXPECT_EQ(EINVAL, errno) TH_LOG("a converting VM, another VM's file");
	close(other);

	cvm_init(&b, SZ_4M, 0, a.gmem);
	layout_init(&l, 1);
	ASSERT_EQ(0, guest(&a, &l, true));
	EXPECT_EQ(0, guest(&b, &l, false))
		TH_LOG("B's guest does not find A's guest's private words");
	a2m = mapped(&a, "pages_2m");
	b2m = mapped(&b, "pages_2m");
	TH_LOG("pages_2m: A %lu, B %lu", a2m, b2m);

	/* Through B, to shared: A's VM and A's mapping follow. */
	ASSERT_EQ(0, convert(b.gmem, page, PAGE_SIZE, TO_SHARED, PRESERVE));
	EXPECT_EQ(a2m - 1, mapped(&a, "pages_2m"))
		TH_LOG("A's VM kept its 2 MiB mapping of a page B made shared");
	EXPECT_EQ(b2m - 1, mapped(&b, "pages_2m"));
	EXPECT_EQ(0, bad_words_in(a.mem, &l, page, PAGE_SIZE))
		TH_LOG("A's mapping does not read the shared page");
	EXPECT_EQ(SIGBUS, touch(a.mem + page + PAGE_SIZE, false, 0));
	layout_add(&l, page, PAGE_SIZE, 4);
	fill_range(a.mem, &l, page, PAGE_SIZE);
	EXPECT_EQ(0, bad_words_in(b.mem, &l, page, PAGE_SIZE));
	EXPECT_EQ(0, guest(&a, &l, false));
	EXPECT_EQ(0, guest(&b, &l, false));
	EXPECT_EQ(a2m - 1, mapped(&a, "pages_2m"));

	/* Through A, back to private: B's mapping and B's VM follow. */
	ASSERT_EQ(0, convert(a.gmem, page, PAGE_SIZE, TO_PRIVATE, 0));
	EXPECT_EQ(SIGBUS, touch(b.mem + page, false, 0))
		TH_LOG("B's mapping still reads a page A made private");
	EXPECT_EQ(SIGBUS, touch(a.mem + page, false, 0));
	EXPECT_EQ(0, guest(&b, &l, false));
	EXPECT_EQ(0, guest(&a, &l, false));
	EXPECT_EQ(b2m, mapped(&b, "pages_2m"));
	EXPECT_EQ(a2m, mapped(&a, "pages_2m"));

	/* Through A, a whole block to shared with ZERO: zeros in B. */
	ASSERT_EQ(0, convert(a.gmem, 0, SZ_2M, TO_SHARED, ZERO));
	layout_add(&l, 0, SZ_2M, 0);
	EXPECT_EQ(0, bad_words_in(b.mem, &l, 0, SZ_2M));
	EXPECT_EQ(0, guest(&b, &l, false));
	EXPECT_EQ(SZ_4M / 1024, gmem_allocated_kb(b.gmem));

	cvm_free(&b);
	cvm_free(&a);
	kvm_vm_free(conv);
	kvm_vm_free(plain);
	kvm_vm_free(priv);
}

/*
 * A 4 MiB file: block 0 shared, holding the host's words; block 1
 * private.  Each bad call is refused and must leave it so.
 */
FIXTURE(bad) {
	struct kvm_vm *vm;
	struct layout l;
	long kb;
	int gmem;
	char *mem;
};

FIXTURE_SETUP(bad)
{
	self->vm = converting_vm_barebones();
	self->gmem = vm_create_guest_memfd(self->vm, SZ_4M, MMAP);
	self->mem = gmem_map(self->gmem, SZ_4M, 0);
	ASSERT_EQ(0, convert(self->gmem, 0, SZ_2M, TO_SHARED, 0));
	layout_init(&self->l, 9);
	fill_range(self->mem, &self->l, 0, SZ_2M);
	self->kb = gmem_allocated_kb(self->gmem);
}

FIXTURE_TEARDOWN(bad)
{
	munmap(self->mem, SZ_4M);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

static void assert_unchanged(struct __test_metadata *_metadata,
			     FIXTURE_DATA(bad) * self)
{
	EXPECT_EQ(0, bad_words_in(self->mem, &self->l, 0, SZ_2M))
		TH_LOG("the shared block changed");
	EXPECT_EQ(PAGES(SZ_2M), pages_raising(self->mem, SZ_2M, SZ_2M, SIGBUS))
		TH_LOG("the private block changed");
	EXPECT_EQ(self->kb, gmem_allocated_kb(self->gmem));
}

TEST_F(bad, bad_ranges_attributes_flags_and_reserved_are_einval)
{
	/* Both blocks' pages, so that either direction would change some. */
	const u64 mid = SZ_2M - 2 * PAGE_SIZE, mid_len = 4 * PAGE_SIZE;
	const u64 attrs[] = { TO_SHARED, TO_PRIVATE };
	const struct { u64 offset, size; } ranges[] = {
		{ 1, PAGE_SIZE },
		{ SZ_2M - PAGE_SIZE / 2, PAGE_SIZE },
		{ mid, PAGE_SIZE + 1 },
		{ mid, 100 },
		{ mid, 0 },
		{ SZ_2M, 0 },
		{ SZ_4M - PAGE_SIZE, 2 * PAGE_SIZE },
		{ SZ_4M, PAGE_SIZE },
		{ 2 * SZ_4M, SZ_2M },
		{ SZ_2M, -(u64)SZ_2M },		/* the end wraps to 0 */
		{ -(u64)PAGE_SIZE, 2 * PAGE_SIZE },	/* past 0 */
		{ mid, -(u64)PAGE_SIZE },
	};
	const u64 bad_attrs[] = {
		1, 2, 4, KVM_MEMORY_ATTRIBUTE_PRIVATE | 1,
		KVM_MEMORY_ATTRIBUTE_PRIVATE << 1, BIT_ULL(63),
	};
	const u64 bad_flags[] = { ZERO | PRESERVE, BIT_ULL(2), BIT_ULL(63) };
	struct kvm_memory_attributes2 args;
	int i;

	for (i = 0; i < ARRAY_SIZE(ranges) * ARRAY_SIZE(attrs); i++) {
		u64 offset = ranges[i / 2].offset, size = ranges[i / 2].size;

		EXPECT_EQ(EINVAL, convert(self->gmem, offset, size,
					  attrs[i % 2], 0))
			TH_LOG("offset 0x%lx size 0x%lx attributes 0x%lx",
			       offset, size, attrs[i % 2]);
	}
	for (i = 0; i < ARRAY_SIZE(bad_attrs); i++) {
		EXPECT_EQ(EINVAL, convert(self->gmem, mid, mid_len,
					  bad_attrs[i], 0))
			TH_LOG("attributes 0x%lx", bad_attrs[i]);
	}
	for (i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		EXPECT_EQ(EINVAL, convert(self->gmem, mid, mid_len, TO_SHARED,
					  bad_flags[i]))
			TH_LOG("to shared, flags 0x%lx", bad_flags[i]);
		/*
		 * ZERO | PRESERVE to private: both content modes (EINVAL)
		 * and ZERO to private (EOPNOTSUPP); which wins is not said.
		 */
		if (bad_flags[i] & PRESERVE)
			continue;
		EXPECT_EQ(EINVAL, convert(self->gmem, mid, mid_len, TO_PRIVATE,
					  bad_flags[i]))
			TH_LOG("to private, flags 0x%lx", bad_flags[i]);
	}
	for (i = 0; i < ARRAY_SIZE(args.reserved) * ARRAY_SIZE(attrs); i++) {
		memset(&args, 0, sizeof(args));
		args.offset = mid;
		args.size = mid_len;
		args.attributes = attrs[i % 2];
		args.reserved[i / 2] = 1;
		EXPECT_EQ(EINVAL, set_attributes2(self->gmem, &args))
			TH_LOG("reserved[%d], attributes 0x%lx", i / 2,
			       attrs[i % 2]);
	}
	assert_unchanged(_metadata, self);
}

TEST_F(bad, zero_to_private_is_eopnotsupp)
{
	EXPECT_EQ(EOPNOTSUPP, convert(self->gmem, 0, SZ_4M, TO_PRIVATE, ZERO));
	EXPECT_EQ(EOPNOTSUPP, convert(self->gmem, SZ_2M - PAGE_SIZE,
				      2 * PAGE_SIZE, TO_PRIVATE, ZERO));
	assert_unchanged(_metadata, self);
}

/*
 * A guest_memfd of a VM that does not convert in place, or whose VM is
 * gone: ENOTTY, even for a call that would be good.
 */
TEST(files_of_vms_that_do_not_convert_are_enotty)
{
	const struct { unsigned long type; u64 flags; } files[] = {
		{ KVM_X86_SW_PROTECTED_VM, 0 },
		{ KVM_X86_SW_PROTECTED_VM, MMAP },
		{ KVM_X86_DEFAULT_VM, 0 },
		{ KVM_X86_DEFAULT_VM, SHARED_MEM },
	};
	struct kvm_vm *vm;
	int i, gmem;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		vm = vm_create_barebones_type(files[i].type);
		gmem = vm_create_guest_memfd(vm, SZ_2M, files[i].flags);
		EXPECT_EQ(ENOTTY, convert(gmem, 0, SZ_2M, TO_SHARED, 0))
			TH_LOG("VM type %lu, flags 0x%lx", files[i].type,
			       files[i].flags);
		EXPECT_EQ(ENOTTY, convert(gmem, 0, SZ_2M, TO_PRIVATE, 0));
		close(gmem);
		kvm_vm_free(vm);
	}

	vm = converting_vm_barebones();
	gmem = vm_create_guest_memfd(vm, SZ_2M, MMAP);
	ASSERT_EQ(0, convert(gmem, 0, SZ_2M, TO_SHARED, 0));
	kvm_vm_free(vm);
	EXPECT_EQ(ENOTTY, convert(gmem, 0, SZ_2M, TO_PRIVATE, 0))
		TH_LOG("a file whose VM is gone");
	close(gmem);
}

/*
 * One memory, whatever its state: the guest writes all of 256 MiB
 * private, the host converts half of it to shared and reads and writes
 * every page of that half, and the guest still finds all its words.  The
 * file holds 256 MiB throughout, and the guest kernel's free memory went
 * down by about that much, not by 384 MiB.
 */
#define BIG		SZ_256M
#define MEM_SLACK_KB	(44 * 1024)

FIXTURE(big) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;
	u64 *mem;
};

FIXTURE_SETUP(big)
{
	self->vm = private_vm_with_vcpu(&self->vcpu, guest_write_then_count);
	vm_enable_conversion(self->vm);
	vcpu_args_set(self->vcpu, 2, PAGES(BIG), 1);
	virt_map_level(self->vm, TEST_GPA, TEST_GPA, BIG, PG_LEVEL_2M);
	self->gmem = vm_create_guest_memfd(self->vm, BIG, MMAP);
	add_gmem_slot(self->vm, BIG, NULL, self->gmem, 0);
	self->mem = gmem_map(self->gmem, BIG, 0);
}

FIXTURE_TEARDOWN(big)
{
	munmap(self->mem, BIG);
	close(self->gmem);
	kvm_vm_free(self->vm);
}

TEST_F_TIMEOUT(big, converting_half_to_shared_allocates_nothing, 180)
{
	const long big_kb = BIG / 1024;
	long unevictable0 = unevictable_kb(), free0 = meminfo_kb("MemFree");
	long unevictable, used;
	u64 i, bad = 0;

	ASSERT_EQ(0, run_to_sync(self->vcpu));	/* it wrote every page */
	EXPECT_EQ(big_kb, gmem_allocated_kb(self->gmem));
	TH_LOG("private: MemFree -%ld KiB, Unevictable +%ld KiB",
	       free0 - meminfo_kb("MemFree"), unevictable_kb() - unevictable0);

	ASSERT_EQ(0, convert(self->gmem, 0, BIG / 2, TO_SHARED, PRESERVE));
	for (i = 0; i < PAGES(BIG / 2); i++) {
		bad += self->mem[i * WORDS_PER_PAGE] != page_pattern(i);
		self->mem[i * WORDS_PER_PAGE + 1] = i;
	}
	EXPECT_EQ(0, bad) TH_LOG("shared pages without the guest's word");
	EXPECT_EQ(0, run_to_sync(self->vcpu))
		TH_LOG("pages without their word, in the guest");
	EXPECT_EQ(big_kb, gmem_allocated_kb(self->gmem));

	unevictable = unevictable_kb() - unevictable0;
	used = free0 - meminfo_kb("MemFree");
	TH_LOG("half shared: MemFree -%ld KiB, Unevictable +%ld KiB", used,
	       unevictable);
	EXPECT_GT(big_kb + MEM_SLACK_KB, unevictable);
	EXPECT_GT(big_kb + MEM_SLACK_KB, used);
}

GMEM_TEST_HARNESS_MAIN
