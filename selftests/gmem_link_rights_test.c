// SPDX-License-Identifier: GPL-2.0
/*
 * The link right (include/uapi/linux/kvm_gmem.h, Documentation/uapi.rst):
 *
 *  - a guest_memfd can be the source of KVM_LINK_GUEST_MEMFD only if its
 *    VM enabled KVM_CAP_GUEST_MEMFD_LINK before creating it, else EPERM,
 *    whoever holds the fd;
 *  - a link has its source's rights less those its flags drop
 *    (NO_FALLOCATE: fallocate() gives EPERM; NO_LINK: linking from it
 *    gives EPERM), and never more, whatever its VM enabled;
 *  - a file whose VM is gone keeps its rights;
 *  - bad input to the cap and to the link flags, and a VM without private
 *    memory, get EINVAL.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "gmem_test_util.h"
#include "scm_rights.h"
#include "kselftest_harness.h"

#define SIZE		(4ul << 20)	/* two 2 MiB blocks */
#define SIZE_KB		(SIZE >> 10)
#define ALLOC		FALLOC_FL_KEEP_SIZE
#define PUNCH		(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)
#define NO_FALLOCATE	KVM_LINK_GUEST_MEMFD_NO_FALLOCATE
#define NO_LINK		KVM_LINK_GUEST_MEMFD_NO_LINK

static struct kvm_vm *sw_vm(void)
{
	return vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
}

/* errno of a KVM_LINK_GUEST_MEMFD expected to fail; 0 if it succeeded. */
static int link_errno(struct kvm_vm *vm, int fd, u64 flags)
{
	int r;

	errno = 0;
	r = __vm_link_guest_memfd(vm, fd, flags);
	if (r < 0)
		return errno;
	close(r);
	return 0;
}

/* errno of a fallocate() expected to fail; 0 if it succeeded. */
static int fallocate_errno(int fd, int mode, off_t offset, off_t len)
{
	errno = 0;
	return fallocate(fd, mode, offset, len) ? errno : 0;
}

/* The inode of @fd: a link is on the same one as its source. */
static ino_t ino(int fd)
{
	struct stat st;

	TEST_ASSERT(!fstat(fd, &st), "fstat");
	return st.st_ino;
}

TEST(a_guest_memfd_created_without_the_cap_cannot_be_linked)
{
	struct kvm_vm *a = sw_vm(), *b = sw_vm();
	int gmem = vm_create_guest_memfd(a, SIZE, 0);
	int fd = next_fd();

	EXPECT_EQ(link_errno(b, gmem, 0), EPERM)
		TH_LOG("expected EPERM: its VM never enabled the cap");
	ASSERT_EQ(next_fd(), fd) TH_LOG("expected no new fd");
	close(gmem);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

TEST(enabling_the_cap_does_not_reach_guest_memfds_created_before)
{
	struct kvm_vm *a = sw_vm(), *b = sw_vm();
	int before = vm_create_guest_memfd(a, SIZE, 0), after;

	vm_enable_gmem_link(a);
	after = vm_create_guest_memfd(a, SIZE, 0);
	EXPECT_EQ(link_errno(b, before, 0), EPERM)
		TH_LOG("expected EPERM: created before the cap was enabled");
	EXPECT_EQ(link_errno(b, after, 0), 0)
		TH_LOG("expected a link: created after the cap was enabled");
	close(after);
	close(before);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

/*
 * Process A creates a guest_memfd without the link right and sends the fd
 * alone to process B over a unix socket; B, with its own VM, cannot link
 * it, even if B's VM enabled the cap: the right is the creator's to grant.
 */
FIXTURE(sent_over_scm_rights) {
	int sock[2];
};

FIXTURE_VARIANT(sent_over_scm_rights) {
	bool receiver_enables_the_cap;
};

FIXTURE_VARIANT_ADD(sent_over_scm_rights, receiver_without_the_cap) {
	.receiver_enables_the_cap = false,
};

FIXTURE_VARIANT_ADD(sent_over_scm_rights, receiver_with_the_cap) {
	.receiver_enables_the_cap = true,
};

FIXTURE_SETUP(sent_over_scm_rights)
{
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, self->sock), 0);
}

FIXTURE_TEARDOWN(sent_over_scm_rights)
{
	close(self->sock[0]);
}

/* Process A: send a guest_memfd without the right; keep its VM until B tried. */
static void send_unlinkable_guest_memfd(int sock)
{
	struct kvm_vm *vm = sw_vm();
	int gmem = vm_create_guest_memfd(vm, SIZE, 0);
	char byte;

	send_fd(sock, gmem);
	TEST_ASSERT(read(sock, &byte, 1) == 1, "waiting for process B");
	close(gmem);
	kvm_vm_free(vm);
	_exit(0);
}

TEST_F(sent_over_scm_rights, cannot_be_linked_without_the_creators_right)
{
	struct kvm_vm *vm;
	int fd, status;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(self->sock[0]);
		send_unlinkable_guest_memfd(self->sock[1]);
	}
	/* Process B; A sees the socket close if B fails first. */
	close(self->sock[1]);
	vm = sw_vm();
	if (variant->receiver_enables_the_cap)
		vm_enable_gmem_link(vm);
	fd = recv_fd(self->sock[0]);
	EXPECT_EQ(link_errno(vm, fd, 0), EPERM)
		TH_LOG("expected EPERM: A created it without the link right");
	ASSERT_EQ(write(self->sock[0], "B", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("expected process A to exit 0, it ended with 0x%x",
		       status);
	close(fd);
	kvm_vm_free(vm);
}

/* VM src enabled the cap and created gmem; VM dst enabled nothing. */
FIXTURE(rights) {
	struct kvm_vm *src, *dst;
	int gmem;
};

FIXTURE_SETUP(rights)
{
	self->src = sw_vm();
	self->dst = sw_vm();
	self->gmem = vm_create_linkable_guest_memfd(self->src, SIZE);
}

FIXTURE_TEARDOWN(rights)
{
	close(self->gmem);
	kvm_vm_free(self->dst);
	kvm_vm_free(self->src);
}

TEST_F(rights, a_guest_memfd_created_with_the_cap_can_be_linked)
{
	int linked = __vm_link_guest_memfd(self->dst, self->gmem, 0);

	ASSERT_GE(linked, 0) TH_LOG("expected a new fd, got errno %d", errno);
	EXPECT_EQ(ino(linked), ino(self->gmem))
		TH_LOG("expected the link on its source's inode");
	close(linked);
}

TEST_F(rights, turning_the_cap_off_makes_later_guest_memfds_unlinkable)
{
	int later;

	vm_set_gmem_link(self->src, false);
	later = vm_create_guest_memfd(self->src, SIZE, 0);
	EXPECT_EQ(link_errno(self->dst, later, 0), EPERM)
		TH_LOG("expected EPERM: created after the cap was turned off");
	EXPECT_EQ(link_errno(self->dst, self->gmem, 0), 0)
		TH_LOG("expected a link: created while the cap was on");
	close(later);
}

TEST_F(rights, a_no_fallocate_link_can_neither_allocate_nor_punch)
{
	int linked = vm_link_guest_memfd(self->dst, self->gmem, NO_FALLOCATE);

	ASSERT_EQ(fallocate(self->gmem, ALLOC, 0, SIZE / 2), 0);
	EXPECT_EQ(fallocate_errno(linked, ALLOC, SIZE / 2, SIZE / 2), EPERM)
		TH_LOG("expected EPERM allocating through a NO_FALLOCATE link");
	EXPECT_EQ(fallocate_errno(linked, PUNCH, 0, SIZE / 2), EPERM)
		TH_LOG("expected EPERM punching through a NO_FALLOCATE link");
	EXPECT_EQ(gmem_allocated_kb(self->gmem), SIZE_KB / 2)
		TH_LOG("expected the memory unchanged by the refused calls");
	close(linked);
}

TEST_F(rights, the_source_of_a_no_fallocate_link_can_still_allocate_and_punch)
{
	int linked = vm_link_guest_memfd(self->dst, self->gmem, NO_FALLOCATE);

	ASSERT_EQ(fallocate_errno(self->gmem, ALLOC, 0, SIZE), 0)
		TH_LOG("expected the source to allocate");
	EXPECT_EQ(gmem_allocated_kb(linked), SIZE_KB)
		TH_LOG("expected the allocation seen through the link");
	ASSERT_EQ(fallocate_errno(self->gmem, PUNCH, 0, SIZE / 2), 0)
		TH_LOG("expected the source to punch");
	EXPECT_EQ(gmem_allocated_kb(linked), SIZE_KB / 2)
		TH_LOG("expected the hole seen through the link");
	close(linked);
}

TEST(a_punch_through_the_source_reaches_the_guest_of_a_no_fallocate_link)
{
	struct kvm_vcpu *vcpu_a, *vcpu_b;
	struct kvm_vm *a, *b;
	int gmem_a, gmem_b;

	a = private_vm_linkable(&vcpu_a, SIZE, &gmem_a);
	ASSERT_EQ(run_to_sync(vcpu_a), 0);
	b = private_vm_linked(&vcpu_b, SIZE, gmem_a, NO_FALLOCATE, &gmem_b);
	ASSERT_EQ(run_to_sync(vcpu_b), 0)
		TH_LOG("expected B's guest to find every page A's wrote");

	ASSERT_EQ(fallocate(gmem_a, PUNCH, 16 * PAGE_SIZE, 32 * PAGE_SIZE), 0);
	expect_hole(b, 16, 32);
	EXPECT_EQ(run_to_sync(vcpu_b), 0)
		TH_LOG("expected zeroes in the hole and the pattern around it");

	close(gmem_b);
	close(gmem_a);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

TEST_F(rights, a_no_link_link_cannot_be_linked_from)
{
	int linked = vm_link_guest_memfd(self->dst, self->gmem, NO_LINK);
	struct kvm_vm *third = sw_vm();

	EXPECT_EQ(link_errno(third, linked, 0), EPERM)
		TH_LOG("expected EPERM linking from a NO_LINK link");
	EXPECT_EQ(link_errno(third, self->gmem, 0), 0)
		TH_LOG("expected a link from its source, which kept the right");
	close(linked);
	kvm_vm_free(third);
}

/* A VMM that took the memory over can hand it on again. */
TEST_F(rights, a_link_has_its_sources_link_right_without_its_vms_cap)
{
	int linked = vm_link_guest_memfd(self->dst, self->gmem, 0);
	struct kvm_vm *third = sw_vm();

	EXPECT_EQ(link_errno(third, linked, 0), 0)
		TH_LOG("expected a link from a link made without flags");
	close(linked);
	kvm_vm_free(third);
}

/*
 * gmem -NO_FALLOCATE-> f[0] -(no flags)-> f[1] -NO_LINK-> f[2], in VMs
 * that all enabled the cap: a dropped right stays dropped down the chain.
 */
TEST_F(rights, rights_never_grow_along_a_chain)
{
	struct kvm_vm *vm[4];
	int f[3], i;

	for (i = 0; i < 4; i++) {
		vm[i] = sw_vm();
		vm_enable_gmem_link(vm[i]);
	}
	f[0] = vm_link_guest_memfd(vm[0], self->gmem, NO_FALLOCATE);
	f[1] = vm_link_guest_memfd(vm[1], f[0], 0);
	f[2] = vm_link_guest_memfd(vm[2], f[1], NO_LINK);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(fallocate_errno(f[i], ALLOC, 0, PAGE_SIZE), EPERM)
			TH_LOG("expected EPERM allocating through link %d", i);
	EXPECT_EQ(link_errno(vm[3], f[2], 0), EPERM)
		TH_LOG("expected EPERM linking from the NO_LINK end of the chain");
	EXPECT_EQ(gmem_allocated_kb(self->gmem), 0)
		TH_LOG("expected nothing allocated by the refused calls");

	for (i = 0; i < 4; i++) {
		if (i < 3)
			close(f[i]);
		kvm_vm_free(vm[i]);
	}
}

TEST_F(rights, a_link_with_both_flags_has_neither_right)
{
	int linked = vm_link_guest_memfd(self->dst, self->gmem,
					 NO_LINK | NO_FALLOCATE);
	struct kvm_vm *third = sw_vm();

	vm_enable_gmem_link(third);
	EXPECT_EQ(fallocate_errno(linked, ALLOC, 0, PAGE_SIZE), EPERM)
		TH_LOG("expected EPERM allocating");
	EXPECT_EQ(fallocate_errno(linked, PUNCH, 0, PAGE_SIZE), EPERM)
		TH_LOG("expected EPERM punching");
	EXPECT_EQ(link_errno(third, linked, 0), EPERM)
		TH_LOG("expected EPERM linking from it");
	close(linked);
	kvm_vm_free(third);
}

TEST(linking_from_a_file_whose_vm_is_gone_works_with_the_right)
{
	struct kvm_vm *a = sw_vm(), *b = sw_vm();
	int gmem = vm_create_linkable_guest_memfd(a, SIZE);

	kvm_vm_free(a);
	EXPECT_EQ(link_errno(b, gmem, 0), 0)
		TH_LOG("expected a link: the file kept its right with its VM gone");
	close(gmem);
	kvm_vm_free(b);
}

TEST(linking_from_a_file_whose_vm_is_gone_fails_without_the_right)
{
	struct kvm_vm *a = sw_vm(), *b = sw_vm();
	int gmem = vm_create_guest_memfd(a, SIZE, 0);

	kvm_vm_free(a);
	EXPECT_EQ(link_errno(b, gmem, 0), EPERM)
		TH_LOG("expected EPERM: its VM never enabled the cap");
	close(gmem);
	kvm_vm_free(b);
}

static int enable_link_cap(struct kvm_vm *vm, u32 flags, const u64 *args)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_GUEST_MEMFD_LINK,
		.flags = flags,
		.args = { args[0], args[1], args[2], args[3] },
	};

	errno = 0;
	return __vm_ioctl(vm, KVM_ENABLE_CAP, &cap);
}

TEST(enable_cap_refuses_bad_flags_and_args)
{
	const struct {
		u64 flags, args[4];
		const char *what;
	} bad[] = {
		{ 1, { 1 }, "flags 1" },
		{ 1u << 31, { 1 }, "flags bit 31" },
		{ 0, { 2 }, "args[0] 2" },
		{ 0, { 1ull << 63 }, "args[0] bit 63" },
		{ 0, { 1, 1 }, "args[1] set" },
		{ 0, { 1, 0, 1 }, "args[2] set" },
		{ 0, { 1, 0, 0, 1 }, "args[3] set" },
		{ 0, { 0, 1 }, "args[1] set, turning off" },
	};
	struct kvm_vm *a = sw_vm(), *b = sw_vm();
	int i, gmem;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(enable_link_cap(a, bad[i].flags, bad[i].args), -1)
			TH_LOG("expected %s refused", bad[i].what);
		EXPECT_EQ(errno, EINVAL)
			TH_LOG("expected EINVAL for %s", bad[i].what);
	}
	gmem = vm_create_guest_memfd(a, SIZE, 0);
	EXPECT_EQ(link_errno(b, gmem, 0), EPERM)
		TH_LOG("expected EPERM: a refused enable granted nothing");
	close(gmem);
	kvm_vm_free(b);
	kvm_vm_free(a);
}

/* Since 6.18's uAPI every VM type has guest_memfd, and can hand it over. */
TEST(enable_cap_grants_the_right_on_a_vm_without_private_memory)
{
	struct kvm_vm *plain = vm_create_barebones(), *other;
	const u64 on[4] = { 1 }, off[4] = { 0 };
	int gmem, link;

	EXPECT_EQ(enable_link_cap(plain, 0, on), 0);
	gmem = vm_create_guest_memfd(plain, SIZE, 0);
	EXPECT_EQ(enable_link_cap(plain, 0, off), 0);
	other = vm_create_barebones();
	link = __vm_link_guest_memfd(other, gmem, 0);
	EXPECT_GE(link, 0) TH_LOG("expected a link: the file has the right");
	close(link);
	close(gmem);
	gmem = vm_create_guest_memfd(plain, SIZE, 0);
	EXPECT_EQ(link_errno(other, gmem, 0), EPERM)
		TH_LOG("expected EPERM: the cap was turned off again");
	close(gmem);
	kvm_vm_free(other);
	kvm_vm_free(plain);
}

TEST_F(rights, link_refuses_unknown_flag_bits)
{
	int bit, fd = next_fd();

	for (bit = 2; bit < 64; bit++)
		EXPECT_EQ(link_errno(self->dst, self->gmem, 1ull << bit), EINVAL)
			TH_LOG("expected EINVAL for flag bit %d", bit);
	ASSERT_EQ(next_fd(), fd) TH_LOG("expected no new fd");
}

/*
 * Private memory links into a VM without private memory (which could have
 * created it too: INIT_SHARED is what only such VMs may have).
 */
TEST_F(rights, linking_private_memory_into_a_vm_without_it_works)
{
	struct kvm_vm *plain = vm_create_barebones();
	int link = __vm_link_guest_memfd(plain, self->gmem, 0);

	EXPECT_GE(link, 0) TH_LOG("expected a link into a default VM");
	close(link);
	kvm_vm_free(plain);
}

/* What KVM_CHECK_EXTENSION says agrees with what the ioctls do. */
TEST(capability_is_1_on_dev_kvm_and_on_every_vm_type_here)
{
	struct kvm_vm *vm = sw_vm(), *plain = vm_create_barebones();

	EXPECT_EQ(kvm_check_cap(KVM_CAP_GUEST_MEMFD_LINK), 1)
		TH_LOG("expected 1 on /dev/kvm");
	EXPECT_EQ(vm_check_cap(vm, KVM_CAP_GUEST_MEMFD_LINK), 1)
		TH_LOG("expected 1 on a VM with private memory");
	EXPECT_EQ(vm_check_cap(plain, KVM_CAP_GUEST_MEMFD_LINK), 1)
		TH_LOG("expected 1 on a VM without private memory");
	kvm_vm_free(plain);
	kvm_vm_free(vm);
}

GMEM_TEST_HARNESS_MAIN
