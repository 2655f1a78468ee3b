/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benches' memfd with huge pages: shmem_enabled, the transparent huge
 * page mode of shmem, read, set, and put back as the program found it.
 */
#ifndef _GMEM_BENCH_SHMEM_THP_H
#define _GMEM_BENCH_SHMEM_THP_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define SHMEM_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* shmem_enabled as the program found it, put back at exit. */
static char shmem_enabled_was[32];

static void shmem_enabled_set(const char *mode)
{
	int fd = open(SHMEM_ENABLED, O_WRONLY);

	TEST_ASSERT(fd >= 0, "open %s", SHMEM_ENABLED);
	TEST_ASSERT(write(fd, mode, strlen(mode)) == (ssize_t)strlen(mode),
		    "%s = %s", SHMEM_ENABLED, mode);
	close(fd);
}

/* The mode in brackets: "always within_size advise [never] deny force". */
static void shmem_enabled_get(char *mode, size_t size)
{
	char line[256], *open_, *close_;
	FILE *f = fopen(SHMEM_ENABLED, "r");

	TEST_ASSERT(f && fgets(line, sizeof(line), f), "read %s",
		    SHMEM_ENABLED);
	fclose(f);
	open_ = strchr(line, '[');
	close_ = open_ ? strchr(open_, ']') : NULL;
	TEST_ASSERT(close_ && (size_t)(close_ - open_) < size, "%s: %s",
		    SHMEM_ENABLED, line);
	*close_ = '\0';
	snprintf(mode, size, "%s", open_ + 1);
}

static void shmem_enabled_restore(void)
{
	if (shmem_enabled_was[0])
		shmem_enabled_set(shmem_enabled_was);
}

#endif /* _GMEM_BENCH_SHMEM_THP_H */
