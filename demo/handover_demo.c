// SPDX-License-Identifier: GPL-2.0
/*
 * gmem's main job: a VMM hands a running guest's private memory to a new
 * VMM process on the same host, without copying it.
 *
 *  A  creates a SW-protected VM, grants its guest_memfds the right to be
 *     linked into another VM (KVM_ENABLE_CAP(KVM_CAP_GUEST_MEMFD_LINK)),
 *     creates a guest_memfd and a vCPU that writes a pattern over every
 *     byte of it;
 *  A  sends the guest_memfd to B over a unix socket (SCM_RIGHTS);
 *  B  creates its VM, links the memory into it (KVM_LINK_GUEST_MEMFD),
 *     recreates the memslot and makes the range private;
 *  A  destroys its VM and exits;
 *  B  runs a vCPU that checks every byte.
 *
 * The guest kernel's counters show the memory in use at each step: it is
 * neither copied when B links it nor freed when A goes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/kvm_gmem.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"
#include "scm_rights.h"

#define GUEST_GPA	BIT_ULL(32)	/* above the library's own memory */
#define GUEST_SLOT	10
#define GUEST_SIZE	(256ull << 20)
#define GUEST_WORDS	(GUEST_SIZE / sizeof(u64))

/* Never zero, different in every word. */
static inline u64 pattern(u64 i)
{
	return 0x676d656d00000000ull ^ (i * 0x9e3779b97f4a7c15ull) ^ 1;
}

/* If @write, fill every word; then report how many words differ. */
static void guest_code(u64 write)
{
	u64 *mem = (u64 *)GUEST_GPA;
	u64 i, bad = 0;

	if (write)
		for (i = 0; i < GUEST_WORDS; i++)
			WRITE_ONCE(mem[i], pattern(i));
	for (i = 0; i < GUEST_WORDS; i++)
		bad += READ_ONCE(mem[i]) != pattern(i);
	GUEST_SYNC1(bad);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Private memory in use in this (guest) kernel, in KiB. */
static long memory_in_use_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f;
	int fd;

	/* Drain per-CPU page batches so that the count is current. */
	fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	if (fd >= 0) {
		TEST_ASSERT(write(fd, "1", 1) == 1, "compact memory");
		close(fd);
	}
	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Unevictable:", 12))
			kb = atol(line + 12);
	fclose(f);
	return kb;
}

/* KVM_LINK_GUEST_MEMFD: this VM's own file on the memory of @fd. */
static int link_guest_memfd(struct kvm_vm *vm, int fd)
{
	struct kvm_link_guest_memfd args = { .fd = fd };
	int r = __vm_ioctl(vm, KVM_LINK_GUEST_MEMFD, &args);

	TEST_ASSERT(r >= 0, KVM_IOCTL_ERROR(KVM_LINK_GUEST_MEMFD, r));
	return r;
}

static struct kvm_vm *vm_with_vcpu(struct kvm_vcpu **vcpu, bool write)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	struct kvm_vm *vm;

	vm = vm_create_shape_with_one_vcpu(shape, vcpu, guest_code);
	vcpu_args_set(*vcpu, 1, write);
	return vm;
}

/* What a VMM recreates in the new VM: the memslot and its attributes. */
static void bind_private(struct kvm_vm *vm, int gmem)
{
	vm_mem_add(vm, VM_MEM_SRC_ANONYMOUS, GUEST_GPA, GUEST_SLOT,
		   GUEST_SIZE / vm->page_size, KVM_MEM_GUEST_MEMFD, gmem, 0);
	virt_map(vm, GUEST_GPA, GUEST_GPA, GUEST_SIZE / vm->page_size);
	vm_mem_set_private(vm, GUEST_GPA, GUEST_SIZE);
}

static u64 run_guest(struct kvm_vcpu *vcpu, double *seconds)
{
	double start = now();
	struct ucall uc;

	vcpu_run(vcpu);
	*seconds = now() - start;
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
	TEST_ASSERT(uc.cmd == UCALL_SYNC, "unexpected ucall %lu", uc.cmd);
	return uc.args[0];
}

/* Process A, the VMM being replaced. */
static void old_vmm(int sock)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	double secs;
	char byte;
	u64 bad;
	int gmem;

	vm = vm_with_vcpu(&vcpu, true);
	/* Off by default: the fd alone must not let another VM reach the memory. */
	vm_enable_cap(vm, KVM_CAP_GUEST_MEMFD_LINK, 1);
	gmem = vm_create_guest_memfd(vm, GUEST_SIZE, 0);
	bind_private(vm, gmem);
	printf("A: VM with a %llu MiB guest_memfd that may be linked, private, at GPA 0x%llx\n",
	       GUEST_SIZE >> 20, GUEST_GPA);
	bad = run_guest(vcpu, &secs);
	printf("A: guest wrote all %llu MiB (%.2f s), %lu words differ\n",
	       GUEST_SIZE >> 20, secs, bad);
	printf("   private memory in use: %.1f MiB\n", memory_in_use_kb() / 1024.0);

	send_fd(sock, gmem);
	printf("A: sent the guest_memfd to B (SCM_RIGHTS)\n");
	TEST_ASSERT(read(sock, &byte, 1) == 1, "waiting for B");

	close(gmem);
	kvm_vm_free(vm);
	printf("A: destroyed its VM and exits\n");
	fflush(stdout);
	_exit(bad ? 1 : 0);
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	double start, handover, secs;
	long in_use, after_link, after_a;
	struct stat sa, sb;
	struct kvm_vm *vm;
	int sock[2], status, fd, gmem;
	bool survived, unchanged;
	u64 bad;
	pid_t pid;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_LINK));
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, sock), "socketpair");
	setvbuf(stdout, NULL, _IOLBF, 0);

	pid = fork();
	TEST_ASSERT(pid >= 0, "fork");
	if (!pid) {
		close(sock[0]);
		old_vmm(sock[1]);
	}
	/* Each keeps only its end: if A fails, B's recvmsg() ends. */
	close(sock[1]);

	fd = recv_fd(sock[0]);
	start = now();
	in_use = memory_in_use_kb();
	vm = vm_with_vcpu(&vcpu, false);
	gmem = link_guest_memfd(vm, fd);
	TEST_ASSERT(!fstat(fd, &sa) && !fstat(gmem, &sb), "fstat");
	printf("B: KVM_LINK_GUEST_MEMFD: fd %d on the same inode (%s), %lld MiB\n",
	       gmem, sa.st_ino == sb.st_ino ? "yes" : "NO",
	       (long long)sb.st_size >> 20);
	close(fd);
	bind_private(vm, gmem);
	printf("B: same memslot, made private\n");
	handover = now() - start;
	after_link = memory_in_use_kb();

	TEST_ASSERT(write(sock[0], "B", 1) == 1, "telling A");
	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
	TEST_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status),
		    "process A failed: status 0x%x", status);
	after_a = memory_in_use_kb();
	/* A copy would be all of it; a few pages come and go on their own. */
	unchanged = labs(after_link - in_use) < 1024 &&
		    labs(after_a - in_use) < 1024;
	printf("   hand-over took %.1f ms (from receiving the fd to the memory bound in B's VM)\n",
	       handover * 1000);
	printf("   private memory in use: %.1f MiB before, %.1f linked, %.1f after A went\n",
	       in_use / 1024.0, after_link / 1024.0, after_a / 1024.0);
	printf("   so: %s\n", unchanged ? "no copy, nothing freed" : "CHANGED");

	bad = run_guest(vcpu, &secs);
	printf("B: guest checked every byte of %llu MiB (%.2f s): %lu words differ\n",
	       GUEST_SIZE >> 20, secs, bad);

	close(gmem);
	kvm_vm_free(vm);
	survived = !bad && sa.st_ino == sb.st_ino && unchanged;
	printf("every byte survived the hand-over: %s\n", survived ? "yes" : "NO");
	return survived ? 0 : 1;
}
