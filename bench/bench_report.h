/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every bench program prints, the same way, so that
 * scripts/bench-table.sh reads them all: one line per figure, the median
 * of the runs with their spread,
 *
 *	BENCH <name> <unit> <median> <min> <max> <runs>
 *
 * and lines starting with '#' that say what was measured.
 */
#ifndef _BENCH_REPORT_H
#define _BENCH_REPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @n samples, which it sorts. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Prints the median, minimum and maximum of @n samples. */
static inline void report(const char *name, const char *unit, double *v,
			  int n)
{
	double m = median(v, n);

	printf("BENCH %s %s %.3f %.3f %.3f %d\n", name, unit, m, v[0],
	       v[n - 1], n);
	fflush(stdout);
}

/*
 * Lets deferred work of the previous figure (freeing, RCU callbacks) end
 * before the next one is timed.
 */
static inline void settle(void)
{
	sync();
	sleep(1);
}

/*
 * glibc's memset(), whichever variant it picked for this CPU.  The selftest
 * library replaces memset() itself with a byte loop (for guest code);
 * __memset_chk() is glibc's own, in another object.
 */
void *__memset_chk(void *s, int c, size_t n, size_t size);

static inline void glibc_memset(void *p, int c, size_t n)
{
	__memset_chk(p, c, n, n);
}

#endif /* _BENCH_REPORT_H */
