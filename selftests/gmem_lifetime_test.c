// SPDX-License-Identifier: GPL-2.0
/*
 * gmem's lifetime rules (Documentation/lifetimes.rst), one test each:
 *
 *  - closing the guest_memfd fd while a memslot is bound frees and zaps
 *    nothing: the guest keeps its memory;
 *  - a guest_memfd does not keep its VM alive; the file outlives it,
 *    fallocate() still works on it, and no other VM can bind it;
 *  - the memory lives while any file of it is open or bound and is freed
 *    when the last one goes, whatever the order, also when a VM and its
 *    files are closed at the same time;
 *  - an O_PATH fd on the file keeps the memory too, until it is closed.
 *
 * Memory is seen through the guest kernel's Unevictable counter and the
 * file's st_blocks; a VM's life through KVM's debugfs.
 */
#include <pthread.h>
#include <linux/sizes.h>

#include "gmem_test_util.h"
#include "kselftest_harness.h"

#define SIZE		(16ul << 20)
#define SIZE_KB		(SIZE >> 10)
/* Allocated memory may still wait in LRU batches of other CPUs. */
#define SLACK_KB	256

static void assert_allocated(long base_kb, const char *when)
{
	long kb = unevictable_kb() - base_kb;

	TEST_ASSERT(kb >= SIZE_KB - SLACK_KB,
		    "%s: %ld KiB allocated, expected %lu", when, kb, SIZE_KB);
}

static void assert_freed(long base_kb, const char *when)
{
	long kb = unevictable_left_kb(base_kb);

	TEST_ASSERT(kb <= 0, "%s: %ld KiB still allocated, expected none",
		    when, kb);
}

TEST(closing_the_fd_keeps_bound_memory)
{
	long base = unevictable_kb();
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int gmem;

	vm = private_vm(&vcpu, SIZE, &gmem);
	ASSERT_EQ(run_to_sync(vcpu), 0);
	assert_allocated(base, "after the guest wrote");

	close(gmem);
	assert_allocated(base, "after closing the only fd");
	ASSERT_EQ(run_to_sync(vcpu), 0) TH_LOG("pages the guest lost");

	kvm_vm_free(vm);
	assert_freed(base, "after the memslot went with the VM");
}

TEST(the_file_does_not_keep_its_vm)
{
	long base = unevictable_kb();
	int vms = live_vms();
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm, *other;
	int gmem, r;

	vm = private_vm(&vcpu, SIZE, &gmem);
	ASSERT_EQ(run_to_sync(vcpu), 0);
	ASSERT_EQ(live_vms(), vms + 1);

	kvm_vm_free(vm);
	ASSERT_EQ(live_vms(), vms) TH_LOG("the VM outlived its last fd");

	/* The memory is the file's, not the VM's. */
	ASSERT_EQ(gmem_allocated_kb(gmem), SIZE_KB);
	ASSERT_EQ(fallocate(gmem, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    0, SIZE / 2), 0);
	ASSERT_EQ(gmem_allocated_kb(gmem), SIZE_KB / 2);
	ASSERT_EQ(fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	ASSERT_EQ(gmem_allocated_kb(gmem), SIZE_KB);

	other = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	r = __vm_set_user_memory_region2(other, TEST_SLOT, KVM_MEM_GUEST_MEMFD,
					 TEST_GPA, SIZE, NULL, gmem, 0);
	ASSERT_EQ(r, -1);
	ASSERT_EQ(errno, EINVAL) TH_LOG("binding an ownerless file");
	kvm_vm_free(other);

	close(gmem);
	assert_freed(base, "after closing the ownerless file");
}

/*
 * The memory goes with the last of the references to it, in every order:
 * the fd, the memslot, the VM (which takes its memslots with it).
 */
enum reference { FD, MEMSLOT, VM };

FIXTURE(release) {
	struct kvm_vm *vm;
	int gmem;
	long base_kb;
};

FIXTURE_VARIANT(release) {
	enum reference first, last;
};

FIXTURE_VARIANT_ADD(release, fd_then_memslot) { .first = FD, .last = MEMSLOT };
FIXTURE_VARIANT_ADD(release, memslot_then_fd) { .first = MEMSLOT, .last = FD };
FIXTURE_VARIANT_ADD(release, fd_then_vm) { .first = FD, .last = VM };
FIXTURE_VARIANT_ADD(release, vm_then_fd) { .first = VM, .last = FD };

/* A VM whose guest has written all of its private memory. */
FIXTURE_SETUP(release)
{
	struct kvm_vcpu *vcpu;

	self->base_kb = unevictable_kb();
	self->vm = private_vm(&vcpu, SIZE, &self->gmem);
	ASSERT_EQ(run_to_sync(vcpu), 0);
}

FIXTURE_TEARDOWN(release)
{
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->gmem >= 0)
		close(self->gmem);
}

static void drop(FIXTURE_DATA(release) * self, enum reference ref)
{
	switch (ref) {
	case FD:
		close(self->gmem);
		self->gmem = -1;
		break;
	case MEMSLOT:
		vm_mem_region_delete(self->vm, TEST_SLOT);
		break;
	case VM:
		kvm_vm_free(self->vm);
		self->vm = NULL;
		break;
	}
}

TEST_F(release, memory_goes_with_the_last_reference)
{
	drop(self, variant->first);
	assert_allocated(self->base_kb, "after the first reference went");
	drop(self, variant->last);
	assert_freed(self->base_kb, "after the last reference went");
}

TEST(memory_of_an_unbound_file_goes_with_the_fd)
{
	long base = unevictable_kb();
	struct kvm_vm *vm;
	int gmem;

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	gmem = vm_create_guest_memfd(vm, SIZE, 0);
	ASSERT_EQ(fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	assert_allocated(base, "after fallocate()");
	close(gmem);
	assert_freed(base, "after closing the fd");
	kvm_vm_free(vm);
}

/*
 * An O_PATH descriptor opened through /proc/self/fd holds the file's path,
 * and so its inode: the memory stays until it is closed too, although
 * the O_PATH fd can do nothing with it (no fallocate, binding or link).
 */
TEST(an_o_path_fd_keeps_the_memory)
{
	long base = unevictable_kb();
	char path[64];
	struct kvm_vm *vm;
	int gmem, opath;

	vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	gmem = vm_create_guest_memfd(vm, SIZE, 0);
	ASSERT_EQ(fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	assert_allocated(base, "after fallocate()");

	snprintf(path, sizeof(path), "/proc/self/fd/%d", gmem);
	opath = open(path, O_PATH);
	ASSERT_GE(opath, 0) TH_LOG("open(%s, O_PATH): %s", path, strerror(errno));
	close(gmem);
	assert_allocated(base, "after closing the guest_memfd, O_PATH fd open");

	errno = 0;
	EXPECT_EQ(fallocate(opath, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			    0, SIZE), -1);
	EXPECT_EQ(errno, EBADF) TH_LOG("punch through the O_PATH fd");
	errno = 0;
	EXPECT_EQ(__vm_set_user_memory_region2(vm, TEST_SLOT,
					       KVM_MEM_GUEST_MEMFD, TEST_GPA,
					       SIZE, NULL, opath, 0), -1);
	EXPECT_EQ(errno, EBADF) TH_LOG("binding the O_PATH fd");
	errno = 0;
	EXPECT_EQ(__vm_link_guest_memfd(vm, opath, 0), -1);
	EXPECT_EQ(errno, EINVAL) TH_LOG("linking from the O_PATH fd");
	assert_allocated(base, "after the O_PATH fd was refused");

	close(opath);
	assert_freed(base, "after closing the O_PATH fd");
	kvm_vm_free(vm);
}

/*
 * A VM and its guest_memfds closed at the same moment, from two threads:
 * a file's release and the VM's destruction race for the file's owner,
 * and whichever loses must leave the other to finish (the adapter hands
 * the file's data to the dying VM).  Every memory is freed each time, and
 * the run's module unload and memory checks see nothing left behind.
 */
#define RACE_ROUNDS	150
#define RACE_FILES	4

struct close_race {
	pthread_barrier_t go;
	int fds[RACE_FILES];
};

static void *close_files(void *arg)
{
	struct close_race *race = arg;
	int i;

	pthread_barrier_wait(&race->go);
	for (i = 0; i < RACE_FILES; i++)
		close(race->fds[i]);
	return NULL;
}

TEST(closing_a_vm_and_its_files_at_once)
{
	long base = unevictable_kb();
	int vms = live_vms(), kvm, vm, round, i;
	struct close_race race;
	pthread_t thread;

	kvm = open("/dev/kvm", O_RDWR);
	ASSERT_GE(kvm, 0);
	ASSERT_EQ(pthread_barrier_init(&race.go, NULL, 2), 0);
	for (round = 0; round < RACE_ROUNDS; round++) {
		vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
		ASSERT_GE(vm, 0);
		for (i = 0; i < RACE_FILES; i++) {
			struct kvm_create_guest_memfd args = { .size = SZ_2M };

			race.fds[i] = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);
			ASSERT_GE(race.fds[i], 0);
			ASSERT_EQ(fallocate(race.fds[i], FALLOC_FL_KEEP_SIZE,
					    0, PAGE_SIZE), 0);
		}
		ASSERT_EQ(pthread_create(&thread, NULL, close_files, &race), 0);
		pthread_barrier_wait(&race.go);
		close(vm);
		ASSERT_EQ(pthread_join(thread, NULL), 0);
	}
	pthread_barrier_destroy(&race.go);
	close(kvm);
	EXPECT_EQ(live_vms(), vms) TH_LOG("a VM outlived its last fd");
	assert_freed(base, "after every VM and file was closed");
}

GMEM_TEST_HARNESS_MAIN
