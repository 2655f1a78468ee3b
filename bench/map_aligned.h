/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benches' shared mappings, at an address aligned to 2 MiB, as a VMM
 * that wants huge pages maps its memory.
 */
#ifndef _GMEM_BENCH_MAP_ALIGNED_H
#define _GMEM_BENCH_MAP_ALIGNED_H

#include <errno.h>
#include <sys/mman.h>
#include <linux/sizes.h>

#include "test_util.h"

/*
 * Maps @size bytes of @fd MAP_SHARED at an address aligned to 2 MiB,
 * whatever mmap(NULL) would pick.
 */
static inline char *map_aligned(int fd, u64 size)
{
	char *res, *p;

	res = mmap(NULL, size + SZ_2M, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(res != MAP_FAILED, "mmap reserve");
	p = align_ptr_up(res, SZ_2M);
	if (p > res)
		munmap(res, p - res);
	munmap(p + size, res + SZ_2M - p);
	res = mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		   fd, 0);
	TEST_ASSERT(res == p, "mmap MAP_SHARED: errno %d", errno);
	return p;
}

#endif /* _GMEM_BENCH_MAP_ALIGNED_H */
