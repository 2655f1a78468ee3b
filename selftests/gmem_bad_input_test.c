// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input on every entry point of a guest_memfd gets the documented
 * error code (Documentation/uapi.rst) and changes nothing: no fd is
 * created, no memslot appears, no memory is allocated or freed.
 */
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "gmem_test_util.h"
#include "kselftest_harness.h"

#define SIZE	(4 * PAGE_SIZE)

FIXTURE(guest_memfd) {
	struct kvm_vm *vm;
	int gmem;
	long allocated_kb;
};

/* A SW-protected VM and a 4-page guest_memfd with its first page allocated. */
FIXTURE_SETUP(guest_memfd)
{
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	self->gmem = vm_create_guest_memfd(self->vm, SIZE, 0);
	ASSERT_EQ(fallocate(self->gmem, FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE), 0);
	self->allocated_kb = gmem_allocated_kb(self->gmem);
	ASSERT_EQ(self->allocated_kb, PAGE_SIZE >> 10);
}

FIXTURE_TEARDOWN(guest_memfd)
{
	close(self->gmem);
	kvm_vm_free(self->vm);
}

/* The file is as the fixture made it: size, and memory allocated. */
static void assert_file_unchanged(struct __test_metadata *_metadata, int gmem,
				  long allocated_kb)
{
	struct stat st;

	ASSERT_EQ(fstat(gmem, &st), 0);
	ASSERT_EQ(st.st_size, SIZE);
	ASSERT_EQ(gmem_allocated_kb(gmem), allocated_kb);
}

static int create_guest_memfd(struct kvm_vm *vm, u64 size, u64 flags,
			      u64 reserved)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = flags,
		.reserved = { [5] = reserved },
	};

	return __vm_ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
}

TEST_F(guest_memfd, create_rejects_bad_size_flags_and_reserved)
{
	const struct {
		u64 size, flags, reserved;
		const char *what;
	} bad[] = {
		{ 0, 0, 0, "size 0" },
		{ 1, 0, 0, "size 1" },
		{ PAGE_SIZE - 1, 0, 0, "size under a page" },
		{ PAGE_SIZE + 1, 0, 0, "unaligned size" },
		{ 1ull << 63, 0, 0, "size negative as loff_t" },
		{ -PAGE_SIZE, 0, 0, "size -PAGE_SIZE" },
		{ PAGE_SIZE, GUEST_MEMFD_FLAG_INIT_SHARED, 0,
		  "INIT_SHARED on a VM with private memory" },
		{ PAGE_SIZE, 1ull << 2, 0, "flag bit 2 (upstream's, unmerged)" },
		{ PAGE_SIZE, 1ull << 31, 0, "flag bit 31" },
		{ PAGE_SIZE, 1ull << 63, 0, "flag bit 63" },
		{ PAGE_SIZE, 0, 1, "reserved[5] set" },
	};
	int i, fd = next_fd();

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(create_guest_memfd(self->vm, bad[i].size,
					     bad[i].flags, bad[i].reserved), -1)
			TH_LOG("%s was accepted", bad[i].what);
		EXPECT_EQ(errno, EINVAL) TH_LOG("%s", bad[i].what);
	}
	ASSERT_EQ(next_fd(), fd) TH_LOG("a failed create left an fd behind");
}

static int bind(struct kvm_vm *vm, u32 slot, u64 gpa, u64 size, int fd,
		u64 offset)
{
	return __vm_set_user_memory_region2(vm, slot, KVM_MEM_GUEST_MEMFD, gpa,
					    size, NULL, fd, offset);
}

TEST_F(guest_memfd, bind_rejects_what_is_not_this_vms_guest_memfd)
{
	struct kvm_vm *other = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	int others = vm_create_guest_memfd(other, SIZE, 0);
	int memfd = memfd_create("not-gmem", 0);
	int closed = next_fd();
	const struct {
		int fd, err;
		const char *what;
	} bad[] = {
		{ -1, EBADF, "fd -1" },
		{ closed, EBADF, "a closed fd" },
		{ self->vm->kvm_fd, EINVAL, "the KVM fd" },
		{ self->vm->fd, EINVAL, "the VM fd" },
		{ memfd, EINVAL, "a plain memfd" },
		{ others, EINVAL, "another VM's guest_memfd" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(bind(self->vm, TEST_SLOT, TEST_GPA, SIZE, bad[i].fd, 0),
			  -1) TH_LOG("%s was accepted", bad[i].what);
		EXPECT_EQ(errno, bad[i].err) TH_LOG("%s", bad[i].what);
	}

	/* Nothing was bound: the slot and the file's whole range are free. */
	ASSERT_EQ(bind(self->vm, TEST_SLOT, TEST_GPA, SIZE, self->gmem, 0), 0);
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);

	close(memfd);
	close(others);
	kvm_vm_free(other);
}

TEST_F(guest_memfd, bind_rejects_bad_offsets_and_sizes)
{
	const struct {
		u64 offset, size;
		const char *what;
	} bad[] = {
		{ 1, PAGE_SIZE, "offset 1" },
		{ PAGE_SIZE - 1, PAGE_SIZE, "unaligned offset" },
		{ SIZE, PAGE_SIZE, "offset at the end" },
		{ SIZE + PAGE_SIZE, PAGE_SIZE, "offset past the end" },
		{ PAGE_SIZE, SIZE, "range past the end" },
		{ 0, 2 * SIZE, "size over the file's" },
		{ -PAGE_SIZE, 2 * PAGE_SIZE, "offset + size overflowing" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(bind(self->vm, TEST_SLOT, TEST_GPA, bad[i].size,
			       self->gmem, bad[i].offset), -1)
			TH_LOG("%s was accepted", bad[i].what);
		EXPECT_EQ(errno, EINVAL) TH_LOG("%s", bad[i].what);
	}
	ASSERT_EQ(bind(self->vm, TEST_SLOT, TEST_GPA, SIZE, self->gmem, 0), 0);
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);
}

TEST_F(guest_memfd, bind_rejects_overlapping_file_ranges)
{
	ASSERT_EQ(bind(self->vm, TEST_SLOT, TEST_GPA, 2 * PAGE_SIZE, self->gmem,
		       PAGE_SIZE), 0);

	/* Different guest addresses, overlapping offsets in the file. */
	errno = 0;
	EXPECT_EQ(bind(self->vm, TEST_SLOT + 1, 2 * TEST_GPA, 2 * PAGE_SIZE,
		       self->gmem, 0), -1);
	EXPECT_EQ(errno, EEXIST) TH_LOG("front overlap");
	errno = 0;
	EXPECT_EQ(bind(self->vm, TEST_SLOT + 1, 2 * TEST_GPA, 2 * PAGE_SIZE,
		       self->gmem, 2 * PAGE_SIZE), -1);
	EXPECT_EQ(errno, EEXIST) TH_LOG("back overlap");

	/* What is left of the file still binds. */
	ASSERT_EQ(bind(self->vm, TEST_SLOT + 1, 2 * TEST_GPA, PAGE_SIZE,
		       self->gmem, 0), 0);
	ASSERT_EQ(bind(self->vm, TEST_SLOT + 2, 3 * TEST_GPA, PAGE_SIZE,
		       self->gmem, 3 * PAGE_SIZE), 0);
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);
}

TEST_F(guest_memfd, fallocate_rejects_bad_modes_and_ranges)
{
	const int keep = FALLOC_FL_KEEP_SIZE, punch = keep | FALLOC_FL_PUNCH_HOLE;
	const struct {
		int mode;
		off_t offset, len;
		int err;
		const char *what;
	} bad[] = {
		{ 0, 0, PAGE_SIZE, EOPNOTSUPP, "mode 0 (would grow the file)" },
		{ FALLOC_FL_PUNCH_HOLE, 0, PAGE_SIZE, EOPNOTSUPP,
		  "PUNCH_HOLE without KEEP_SIZE" },
		{ keep | FALLOC_FL_ZERO_RANGE, 0, PAGE_SIZE, EOPNOTSUPP,
		  "ZERO_RANGE" },
		{ keep | FALLOC_FL_COLLAPSE_RANGE, 0, PAGE_SIZE, EOPNOTSUPP,
		  "COLLAPSE_RANGE" },
		{ keep, 1, PAGE_SIZE, EINVAL, "unaligned offset" },
		{ keep, 0, PAGE_SIZE + 1, EINVAL, "unaligned length" },
		{ keep, 0, 0, EINVAL, "length 0" },
		{ keep, -PAGE_SIZE, PAGE_SIZE, EINVAL, "negative offset" },
		{ keep, SIZE, PAGE_SIZE, EINVAL, "allocating at the end" },
		{ keep, PAGE_SIZE, SIZE, EINVAL, "allocating past the end" },
		{ punch, 1, PAGE_SIZE, EINVAL, "punch, unaligned offset" },
		{ punch, 0, 1, EINVAL, "punch, unaligned length" },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(fallocate(self->gmem, bad[i].mode, bad[i].offset,
				    bad[i].len), -1)
			TH_LOG("%s was accepted", bad[i].what);
		EXPECT_EQ(errno, bad[i].err) TH_LOG("%s", bad[i].what);
	}
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);
}

TEST_F(guest_memfd, user_space_cannot_touch_the_memory)
{
	char buf[16];

	errno = 0;
	EXPECT_EQ(read(self->gmem, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("read");
	errno = 0;
	EXPECT_EQ(write(self->gmem, buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("write");
	errno = 0;
	EXPECT_EQ(mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, self->gmem, 0),
		  MAP_FAILED);
	EXPECT_EQ(errno, ENODEV) TH_LOG("mmap");
	errno = 0;
	EXPECT_EQ(lseek(self->gmem, PAGE_SIZE, SEEK_SET), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("lseek");
	errno = 0;
	EXPECT_EQ(ftruncate(self->gmem, 2 * SIZE), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("ftruncate");
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);
}

/*
 * Reads and writes: the file has no read or write method, and it cannot be
 * read or written at an offset.  What each call answers is what the VFS
 * answers for such a file, on upstream's guest_memfd too: EINVAL without
 * an offset, ESPIPE with one (checked before anything else).
 */
TEST_F(guest_memfd, reads_and_writes_answer_einval_or_espipe)
{
	char buf[16] = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	off_t off = 0;
	int pipefd[2];

	ASSERT_EQ(pipe(pipefd), 0);

	/* read() and write(): user_space_cannot_touch_the_memory. */
	errno = 0;
	EXPECT_EQ(readv(self->gmem, &iov, 1), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("readv");
	errno = 0;
	EXPECT_EQ(writev(self->gmem, &iov, 1), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("writev");

	errno = 0;
	EXPECT_EQ(pread(self->gmem, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("pread");
	errno = 0;
	EXPECT_EQ(pwrite(self->gmem, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("pwrite");
	errno = 0;
	EXPECT_EQ(preadv(self->gmem, &iov, 1, 0), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("preadv");
	errno = 0;
	EXPECT_EQ(pwritev(self->gmem, &iov, 1, 0), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("pwritev");

	errno = 0;
	EXPECT_EQ(sendfile(pipefd[1], self->gmem, &off, sizeof(buf)), -1);
	EXPECT_EQ(errno, ESPIPE) TH_LOG("sendfile with an offset");
	EXPECT_EQ(off, 0);
	errno = 0;
	EXPECT_EQ(sendfile(pipefd[1], self->gmem, NULL, sizeof(buf)), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("sendfile without an offset");

	/* Nothing reached the pipe, nothing changed in the file. */
	ASSERT_EQ(fcntl(pipefd[0], F_SETFL, O_NONBLOCK), 0);
	errno = 0;
	EXPECT_EQ(read(pipefd[0], buf, sizeof(buf)), -1);
	EXPECT_EQ(errno, EAGAIN);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_file_unchanged(_metadata, self->gmem, self->allocated_kb);
}

GMEM_TEST_HARNESS_MAIN
