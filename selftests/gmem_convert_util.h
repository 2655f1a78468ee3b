/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the tests of in-place conversion
 * (KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM): a VM that keeps
 * private/shared in its guest_memfds, KVM_SET_MEMORY_ATTRIBUTES2 on a
 * file, and the two ways user space keeps a reference on a page of it
 * (an io_uring fixed buffer pins it, vmsplice() takes a reference).
 */
#ifndef _GMEM_CONVERT_UTIL_H
#define _GMEM_CONVERT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/io_uring.h>

#include "gmem_mmap_util.h"

#define CONVERT_CAP	KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM
#define FLAGS_CAP	KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM
#define TO_PRIVATE	KVM_MEMORY_ATTRIBUTE_PRIVATE
#define TO_SHARED	0ull
#define ZERO		KVM_SET_MEMORY_ATTRIBUTES2_ZERO
#define PRESERVE	KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE

/* Makes @vm keep private/shared in its guest_memfds. */
static inline void vm_enable_conversion(struct kvm_vm *vm)
{
	vm_enable_cap(vm, CONVERT_CAP, KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

/* A SW-protected VM without vCPUs that converts in place. */
static inline struct kvm_vm *converting_vm_barebones(void)
{
	struct kvm_vm *vm = private_vm_barebones();

	vm_enable_conversion(vm);
	return vm;
}

/* KVM_SET_MEMORY_ATTRIBUTES2 on guest_memfd @gmem: 0 or the errno. */
static inline int set_attributes2(int gmem, struct kvm_memory_attributes2 *args)
{
	errno = 0;
	return ioctl(gmem, KVM_SET_MEMORY_ATTRIBUTES2, args) ? errno : 0;
}

/*
 * Converts [@offset, @offset + @size) of @gmem to @attributes: 0 or the
 * errno, and the @error_offset the kernel returned in *@err (if @err).
 */
static inline int __convert(int gmem, u64 offset, u64 size, u64 attributes,
			    u64 flags, u64 *err)
{
	struct kvm_memory_attributes2 args = {
		.offset = offset,
		.size = size,
		.attributes = attributes,
		.flags = flags,
		.error_offset = ~0ull,
	};
	int r = set_attributes2(gmem, &args);

	if (err)
		*err = args.error_offset;
	return r;
}

static inline int convert(int gmem, u64 offset, u64 size, u64 attributes,
			  u64 flags)
{
	return __convert(gmem, offset, size, attributes, flags, NULL);
}

/*
 * Like convert(), but tries again on EAGAIN for up to a second (times
 * gmem_timeout_factor()), for a reference that is dropped a moment after
 * the call that drops it returns.  *@tries: how many tries it took.
 */
static inline int convert_retrying(int gmem, u64 offset, u64 size,
				   u64 attributes, u64 flags, int *tries)
{
	int r, max = 100 * gmem_timeout_factor();

	for (*tries = 1;; (*tries)++) {
		r = convert(gmem, offset, size, attributes, flags);
		if (r != EAGAIN || *tries >= max)
			return r;
		usleep(10 * 1000);
	}
}

/*
 * A reference user space holds on the pages of [p, p + len): an io_uring
 * fixed buffer (pin_user_pages(FOLL_LONGTERM)), or a pipe buffer that
 * vmsplice() filled (get_user_pages(), a plain reference).
 */
enum hold { HOLD_IO_URING, HOLD_VMSPLICE };

struct page_hold {
	enum hold how;
	int fd[2];
};

/* 0, or the errno of the call that failed. */
static inline int hold_pages(struct page_hold *h, enum hold how, void *p,
			     size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	struct io_uring_params params = {};
	int e;

	h->how = how;
	h->fd[0] = -1;
	h->fd[1] = -1;
	if (how == HOLD_VMSPLICE) {
		if (pipe(h->fd))
			return errno;
		if (vmsplice(h->fd[1], &iov, 1, 0) == (ssize_t)len)
			return 0;
	} else {
		h->fd[0] = syscall(__NR_io_uring_setup, 1, &params);
		if (h->fd[0] < 0)
			return errno;
		if (!syscall(__NR_io_uring_register, h->fd[0],
			     IORING_REGISTER_BUFFERS, &iov, 1))
			return 0;
	}
	e = errno ? errno : EIO;
	close(h->fd[0]);
	if (h->fd[1] >= 0)
		close(h->fd[1]);
	return e;
}

/* Whether this kernel has io_uring, and lets this process use it. */
static inline bool have_io_uring(void)
{
	struct io_uring_params params = {};
	int fd = syscall(__NR_io_uring_setup, 1, &params);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Drops the reference: unregisters the buffer, or frees the pipe. */
static inline void release_pages(struct page_hold *h)
{
	if (h->how == HOLD_IO_URING)
		TEST_ASSERT(!syscall(__NR_io_uring_register, h->fd[0],
				     IORING_UNREGISTER_BUFFERS, NULL, 0),
			    "IORING_UNREGISTER_BUFFERS");
	close(h->fd[0]);
	if (h->fd[1] >= 0)
		close(h->fd[1]);
}

#endif /* _GMEM_CONVERT_UTIL_H */
