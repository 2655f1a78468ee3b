// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for gmem.ko alone, with fake owners that record what gmem
 * calls them with and what the memory looked like at that moment.
 *
 * Files are released with __fput_sync(): KUnit runs each case in a
 * kthread, where a plain fput() would leave the release to a workqueue.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gmem.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sizes.h>

#define NPAGES	8
#define SIZE	(NPAGES * PAGE_SIZE)

struct fake_owner {
	struct file *file;
	int index;
	int begins, ends, releases;
	pgoff_t start, end;
	/* the folio the owner holds, as a guest mapping would */
	struct folio *held;
	bool held_cached_at_begin, held_cached_at_end;
};

static void fake_invalidate_begin(void *data, pgoff_t start, pgoff_t end)
{
	struct fake_owner *o = data;

	o->begins++;
	o->start = start;
	o->end = end;
	if (o->held)
		o->held_cached_at_begin = o->held->mapping;
}

static void fake_invalidate_end(void *data, pgoff_t start, pgoff_t end)
{
	struct fake_owner *o = data;

	o->ends++;
	if (o->held)
		o->held_cached_at_end = o->held->mapping;
}

static void fake_release(void *data)
{
	struct fake_owner *o = data;

	o->releases++;
}

static const struct gmem_owner_ops fake_ops = {
	.kind			= "kunit",
	.owner			= THIS_MODULE,
	.invalidate_begin	= fake_invalidate_begin,
	.invalidate_end		= fake_invalidate_end,
	.release		= fake_release,
};

static struct file *fake_create(struct kunit *test, struct fake_owner *o)
{
	struct file *file = gmem_create(SIZE, 0, GMEM_RIGHTS_ALL, NULL,
					&fake_ops, o);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	o->file = file;
	return file;
}

static struct file *fake_link(struct kunit *test, struct file *src,
			      struct fake_owner *o)
{
	struct file *file = gmem_link(src, GMEM_RIGHTS_ALL, &fake_ops, o);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	o->file = file;
	return file;
}

static long punch(struct file *file, loff_t offset, loff_t len)
{
	return vfs_fallocate(file, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			     offset, len);
}

static unsigned long nrpages(struct file *file)
{
	return READ_ONCE(file->f_mapping->nrpages);
}

/* ---- creation and the memory ---- */

static void create_rejects_bad_size_and_flags(struct kunit *test)
{
	struct fake_owner o = {};
	const struct { loff_t size; u64 flags; } bad[] = {
		{ 0, 0 }, { 1, 0 }, { PAGE_SIZE - 1, 0 }, { PAGE_SIZE + 1, 0 },
		{ -PAGE_SIZE, 0 }, { PAGE_SIZE, BIT_ULL(4) },
		{ PAGE_SIZE, BIT_ULL(63) }, { PAGE_SIZE, ~GMEM_FLAGS_VALID },
	};
	struct file *file;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		file = gmem_create(bad[i].size, bad[i].flags, GMEM_RIGHTS_ALL,
				   NULL, &fake_ops, &o);
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL, "case %d", i);
		if (!IS_ERR(file))
			__fput_sync(file);
	}
}

static void new_memory_is_empty_and_sized(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = fake_create(test, &o);

	KUNIT_EXPECT_TRUE(test, is_gmem_file(file));
	KUNIT_EXPECT_EQ(test, i_size_read(file_inode(file)), SIZE);
	KUNIT_EXPECT_EQ(test, nrpages(file), 0);
	KUNIT_EXPECT_PTR_EQ(test, gmem_owner_data(file, &fake_ops), (void *)&o);
	__fput_sync(file);
	KUNIT_EXPECT_EQ(test, o.releases, 1);
}

static void get_folio_creates_zeroed_folios_inside_the_file(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = fake_create(test, &o);
	struct folio *folio, *again;
	void *p;

	KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_get_folio(file, 3, false)), -ENOENT);
	KUNIT_EXPECT_EQ(test, PTR_ERR(gmem_get_folio(file, NPAGES, true)),
			-EINVAL);

	folio = gmem_get_folio(file, 3, true);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	KUNIT_EXPECT_TRUE(test, folio_test_locked(folio));
	KUNIT_EXPECT_EQ(test, folio->index, 3);
	KUNIT_EXPECT_FALSE(test, folio_test_uptodate(folio));
	p = kmap_local_folio(folio, 0);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(p, 0, PAGE_SIZE));
	kunmap_local(p);
	folio_unlock(folio);

	again = gmem_get_folio(file, 3, false);
	KUNIT_EXPECT_PTR_EQ(test, again, folio);
	if (!IS_ERR(again)) {
		folio_unlock(again);
		folio_put(again);
	}
	folio_put(folio);
	KUNIT_EXPECT_EQ(test, nrpages(file), 1);
	__fput_sync(file);
}

/* ---- fallocate and punch ---- */

static void fallocate_allocates_and_punches_whole_pages(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = fake_create(test, &o);

	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), NPAGES);

	/* Unaligned, empty or past-the-end allocations change nothing. */
	KUNIT_EXPECT_EQ(test, punch(file, 1, PAGE_SIZE), -EINVAL);
	KUNIT_EXPECT_EQ(test, punch(file, 0, PAGE_SIZE + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, punch(file, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, SIZE,
					    PAGE_SIZE), -EINVAL);
	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, 0, 0, PAGE_SIZE), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, nrpages(file), NPAGES);
	KUNIT_EXPECT_EQ(test, o.begins, 0);

	/* Past the end there is nothing to free, and no error. */
	KUNIT_EXPECT_EQ(test, punch(file, SIZE, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), NPAGES);

	KUNIT_EXPECT_EQ(test, punch(file, 2 * PAGE_SIZE, 3 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), NPAGES - 3);
	KUNIT_EXPECT_EQ(test, o.start, 2);
	KUNIT_EXPECT_EQ(test, o.end, 5);

	KUNIT_EXPECT_EQ(test, punch(file, 0, SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), 0);
	KUNIT_EXPECT_EQ(test, o.start, 0);
	KUNIT_EXPECT_EQ(test, o.end, NPAGES);
	KUNIT_EXPECT_EQ(test, o.begins, o.ends);
	__fput_sync(file);
}

/*
 * Every owner of every file on the inode hears of a punch exactly once,
 * begin while the folio is still in the file, end after it is gone.
 */
static void punch_invalidates_every_owner_once_before_freeing(struct kunit *test)
{
	struct fake_owner a = {}, b = {}, c = {};
	struct file *fa = fake_create(test, &a);
	struct file *fb = fake_link(test, fa, &b);
	struct file *fc = fake_link(test, fa, &c);
	struct fake_owner *all[] = { &a, &b, &c };
	struct folio *folio;
	int i;

	folio = gmem_get_folio(fb, 4, true);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	folio_unlock(folio);
	for (i = 0; i < ARRAY_SIZE(all); i++)
		all[i]->held = folio;

	KUNIT_EXPECT_EQ(test, punch(fc, 4 * PAGE_SIZE, PAGE_SIZE), 0);
	for (i = 0; i < ARRAY_SIZE(all); i++) {
		KUNIT_EXPECT_EQ_MSG(test, all[i]->begins, 1, "owner %d", i);
		KUNIT_EXPECT_EQ_MSG(test, all[i]->ends, 1, "owner %d", i);
		KUNIT_EXPECT_EQ_MSG(test, all[i]->start, 4, "owner %d", i);
		KUNIT_EXPECT_EQ_MSG(test, all[i]->end, 5, "owner %d", i);
		KUNIT_EXPECT_TRUE_MSG(test, all[i]->held_cached_at_begin,
				      "owner %d: folio gone before begin", i);
		KUNIT_EXPECT_FALSE_MSG(test, all[i]->held_cached_at_end,
				       "owner %d: folio still there at end", i);
		all[i]->held = NULL;
	}
	folio_put(folio);
	KUNIT_EXPECT_EQ(test, nrpages(fa), 0);

	__fput_sync(fc);
	__fput_sync(fb);
	__fput_sync(fa);
}

/*
 * Fan-out over eight files, two of them detached: every attached owner
 * hears begin before any page goes and end after all have, exactly once;
 * the detached ones hear nothing.
 */
static int fanout_clock, fanout_begun_at[8], fanout_ended_at[8];

static void fanout_begin(void *data, pgoff_t start, pgoff_t end)
{
	struct fake_owner *o = data;

	fake_invalidate_begin(data, start, end);
	fanout_begun_at[o->index] = ++fanout_clock;
}

static void fanout_end(void *data, pgoff_t start, pgoff_t end)
{
	struct fake_owner *o = data;

	fake_invalidate_end(data, start, end);
	fanout_ended_at[o->index] = ++fanout_clock;
}

static const struct gmem_owner_ops fanout_ops = {
	.kind			= "kunit",
	.owner			= THIS_MODULE,
	.invalidate_begin	= fanout_begin,
	.invalidate_end		= fanout_end,
	.release		= fake_release,
};

static void punch_fans_out_to_eight_files(struct kunit *test)
{
	struct fake_owner o[8] = {};
	struct file *f[8];
	int i, last_begin = 0, first_end = INT_MAX;

	for (i = 0; i < 8; i++) {
		o[i].index = i;
		f[i] = i ? gmem_link(f[0], GMEM_RIGHTS_ALL, &fanout_ops,
				     &o[i]) :
			   gmem_create(SIZE, 0, GMEM_RIGHTS_ALL, NULL,
				       &fanout_ops, &o[i]);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, f[i]);
	}
	KUNIT_EXPECT_TRUE(test, gmem_detach(f[2]));
	KUNIT_EXPECT_TRUE(test, gmem_detach(f[5]));
	fanout_clock = 0;
	o[2].begins = 0;
	o[5].begins = 0;
	KUNIT_EXPECT_EQ(test, vfs_fallocate(f[0], FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);

	KUNIT_EXPECT_EQ(test, punch(f[7], PAGE_SIZE, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(f[0]), NPAGES - 2);
	for (i = 0; i < 8; i++) {
		bool detached = i == 2 || i == 5;

		KUNIT_EXPECT_EQ_MSG(test, o[i].begins, detached ? 0 : 1, "file %d", i);
		if (detached)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, o[i].ends, 1, "file %d", i);
		KUNIT_EXPECT_EQ_MSG(test, o[i].start, 1, "file %d", i);
		KUNIT_EXPECT_EQ_MSG(test, o[i].end, 3, "file %d", i);
		last_begin = max(last_begin, fanout_begun_at[i]);
		first_end = min(first_end, fanout_ended_at[i]);
	}
	KUNIT_EXPECT_LT_MSG(test, last_begin, first_end,
			    "an owner heard end before another heard begin");

	for (i = 7; i >= 0; i--)
		__fput_sync(f[i]);
	for (i = 0; i < 8; i++)
		KUNIT_EXPECT_EQ_MSG(test, o[i].releases,
				    i == 2 || i == 5 ? 0 : 1, "file %d", i);
}

/* ---- files: creation, release and detaching in any order ---- */

static void memory_lives_until_the_last_file(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	struct file *fb = fake_link(test, fa, &b);
	struct address_space *mapping = fa->f_mapping;
	struct folio *folio;
	u8 *p;

	KUNIT_EXPECT_PTR_EQ(test, file_inode(fb), file_inode(fa));
	KUNIT_EXPECT_EQ(test, vfs_fallocate(fa, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);

	/* Write through one file's memory; the other sees it. */
	folio = gmem_get_folio(fa, 0, false);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	p = kmap_local_folio(folio, 0);
	*p = 0x5a;
	kunmap_local(p);
	folio_unlock(folio);
	folio_put(folio);

	__fput_sync(fa);
	KUNIT_EXPECT_EQ(test, a.releases, 1);
	KUNIT_EXPECT_EQ(test, b.releases, 0);
	KUNIT_EXPECT_EQ(test, mapping->nrpages, NPAGES);

	folio = gmem_get_folio(fb, 0, false);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	p = kmap_local_folio(folio, 0);
	KUNIT_EXPECT_EQ(test, *p, 0x5a);
	kunmap_local(p);
	folio_unlock(folio);
	folio_put(folio);

	__fput_sync(fb);
	KUNIT_EXPECT_EQ(test, b.releases, 1);
}

static void detached_owner_hears_once_and_never_again(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	struct file *fb = fake_link(test, fa, &b);

	KUNIT_EXPECT_TRUE(test, gmem_detach(fa));
	KUNIT_EXPECT_EQ(test, a.begins, 1);
	KUNIT_EXPECT_EQ(test, a.ends, 1);
	KUNIT_EXPECT_EQ(test, a.start, 0);
	KUNIT_EXPECT_EQ(test, a.end, ULONG_MAX);
	KUNIT_EXPECT_EQ(test, b.begins, 0);
	KUNIT_EXPECT_NULL(test, gmem_owner_data(fa, &fake_ops));
	KUNIT_EXPECT_FALSE(test, gmem_detach(fa));

	/* The file still works; only the attached owner hears of it. */
	KUNIT_EXPECT_EQ(test, vfs_fallocate(fa, FALLOC_FL_KEEP_SIZE, 0, SIZE), 0);
	KUNIT_EXPECT_EQ(test, punch(fa, 0, SIZE), 0);
	KUNIT_EXPECT_EQ(test, a.begins, 1);
	KUNIT_EXPECT_EQ(test, b.begins, 1);

	__fput_sync(fa);
	KUNIT_EXPECT_EQ(test, a.releases, 0);
	__fput_sync(fb);
	KUNIT_EXPECT_EQ(test, b.releases, 1);
}

static void link_refuses_what_is_not_gmem(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	struct file *other, *file;

	/* A gmem file's inode is not a file: any other file will do. */
	other = filp_open("/", O_RDONLY, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, other);
	KUNIT_EXPECT_FALSE(test, is_gmem_file(other));
	file = gmem_link(other, GMEM_RIGHTS_ALL, &fake_ops, &b);
	KUNIT_EXPECT_EQ(test, PTR_ERR(file), -EINVAL);
	KUNIT_EXPECT_NULL(test, gmem_owner_data(other, &fake_ops));
	KUNIT_EXPECT_NULL(test, gmem_owner_data(fa, NULL));
	__fput_sync(other);
	__fput_sync(fa);
	KUNIT_EXPECT_EQ(test, b.releases, 0);
}

/* ---- rights ---- */

static void file_without_link_right_cannot_be_linked(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = gmem_create(SIZE, 0, GMEM_RIGHT_FALLOCATE, NULL,
				      &fake_ops, &a);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fa);
	KUNIT_EXPECT_EQ(test, gmem_rights(fa), GMEM_RIGHT_FALLOCATE);
	KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(gmem_link(fa, GMEM_RIGHTS_ALL,
						    &fake_ops, &b)), -EPERM,
			    "link from a file without GMEM_RIGHT_LINK");
	KUNIT_EXPECT_EQ_MSG(test, vfs_fallocate(fa, FALLOC_FL_KEEP_SIZE, 0,
						SIZE), 0,
			    "fallocate with GMEM_RIGHT_FALLOCATE");
	KUNIT_EXPECT_EQ(test, punch(fa, 0, SIZE), 0);
	__fput_sync(fa);
	KUNIT_EXPECT_EQ(test, b.releases, 0);
}

static void link_gets_only_the_rights_asked_and_held(struct kunit *test)
{
	struct fake_owner a = {}, b = {}, c = {};
	struct file *fa = fake_create(test, &a);
	struct file *fb, *fc;

	fb = gmem_link(fa, GMEM_RIGHT_LINK, &fake_ops, &b);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fb);
	KUNIT_EXPECT_EQ_MSG(test, gmem_rights(fb), GMEM_RIGHT_LINK,
			    "a link should get only the rights it asks for");
	KUNIT_EXPECT_EQ_MSG(test, vfs_fallocate(fb, FALLOC_FL_KEEP_SIZE, 0,
						SIZE), -EPERM,
			    "allocation without GMEM_RIGHT_FALLOCATE");
	KUNIT_EXPECT_EQ_MSG(test, punch(fb, 0, SIZE), -EPERM,
			    "punch without GMEM_RIGHT_FALLOCATE");

	fc = gmem_link(fb, GMEM_RIGHTS_ALL, &fake_ops, &c);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fc);
	KUNIT_EXPECT_EQ_MSG(test, gmem_rights(fc), GMEM_RIGHT_LINK,
			    "a link never has more rights than its source");
	KUNIT_EXPECT_EQ(test, gmem_rights(fa), GMEM_RIGHTS_ALL);
	__fput_sync(fc);
	__fput_sync(fb);
	__fput_sync(fa);
}

static void bad_rights_and_other_kinds_are_invalid(struct kunit *test)
{
	static const struct gmem_owner_ops other_ops = {
		.kind			= "other",
		.owner			= THIS_MODULE,
		.invalidate_begin	= fake_invalidate_begin,
		.invalidate_end		= fake_invalidate_end,
		.release		= fake_release,
	};
	static const struct gmem_owner_ops long_kind_ops = {
		.kind			= "sixteen-letters!",
		.owner			= THIS_MODULE,
		.invalidate_begin	= fake_invalidate_begin,
		.invalidate_end		= fake_invalidate_end,
		.release		= fake_release,
	};
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	const unsigned int bad[] = { BIT(2), GMEM_RIGHTS_ALL | BIT(31), ~0u };
	struct file *file;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		file = gmem_create(SIZE, 0, bad[i], NULL, &fake_ops, &b);
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL,
				    "create with rights %#x", bad[i]);
		if (!IS_ERR(file))
			__fput_sync(file);
		file = gmem_link(fa, bad[i], &fake_ops, &b);
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL,
				    "link with rights %#x", bad[i]);
		if (!IS_ERR(file))
			__fput_sync(file);
	}
	file = gmem_link(fa, GMEM_RIGHTS_ALL, &other_ops, &b);
	KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL,
			    "link by an owner of another kind");
	if (!IS_ERR(file))
		__fput_sync(file);
	/* A kind must fit the inode's record of it, or links could not match. */
	file = gmem_create(SIZE, 0, GMEM_RIGHTS_ALL, NULL, &long_kind_ops, &b);
	KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL,
			    "create by an owner whose kind is 16 characters");
	if (!IS_ERR(file))
		__fput_sync(file);
	__fput_sync(fa);
	KUNIT_EXPECT_EQ(test, b.releases, 0);
}

static void detached_file_with_link_right_can_be_linked(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	struct file *fb;

	KUNIT_EXPECT_TRUE(test, gmem_detach(fa));
	fb = gmem_link(fa, GMEM_RIGHTS_ALL, &fake_ops, &b);
	KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, fb,
					 "link from a detached file");
	KUNIT_EXPECT_EQ(test, gmem_rights(fb), GMEM_RIGHTS_ALL);
	KUNIT_EXPECT_PTR_EQ(test, file_inode(fb), file_inode(fa));
	__fput_sync(fa);
	__fput_sync(fb);
	KUNIT_EXPECT_EQ(test, b.releases, 1);
}

/*
 * gmem.ko cannot go while any of its memory lives: each memory inode holds
 * a reference on the module, and drops it once the inode is freed (after
 * an RCU grace period), not when its last file is closed.
 */
static void every_memory_inode_pins_the_module(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = fake_create(test, &a);
	struct module *gmem = fa->f_op->owner;
	struct file *fb;
	int refs;

	KUNIT_ASSERT_NOT_NULL(test, gmem);
	/* Inodes of earlier cases may still be waiting for their RCU free. */
	rcu_barrier();
	refs = module_refcount(gmem);
	fb = fake_create(test, &b);
	/* one for the file's f_op, one for its inode */
	KUNIT_EXPECT_EQ(test, module_refcount(gmem), refs + 2);
	__fput_sync(fb);
	rcu_barrier();
	KUNIT_EXPECT_EQ(test, module_refcount(gmem), refs);
	__fput_sync(fa);
}

/*
 * alloc_inode() calls ->free_inode() at once on an object fresh from
 * ->alloc_inode() when inode_init_always() fails: i_mode is then whatever
 * the slab object last held, S_IFREG if it was a memory inode before.  An
 * inode that never became memory took no reference on gmem.ko, so freeing
 * it must drop none (gmem once decided by S_ISREG(i_mode), and did).
 */
static void failed_inode_alloc_leaves_the_module_count(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = fake_create(test, &o);
	struct super_block *sb = file_inode(file)->i_sb;
	struct module *gmem = file->f_op->owner;
	struct inode *inode;
	int refs;

	rcu_barrier();
	refs = module_refcount(gmem);
	inode = sb->s_op->alloc_inode(sb);
	KUNIT_ASSERT_NOT_NULL(test, inode);
	inode->i_mode = S_IFREG | 0600;		/* a recycled memory inode's */
	sb->s_op->free_inode(inode);
	rcu_barrier();
	KUNIT_EXPECT_EQ_MSG(test, module_refcount(gmem), refs,
			    "freeing an inode that was never memory changed gmem.ko's count");
	/* Give back a reference taken in error, or later puts underflow. */
	while (module_refcount(gmem) < refs)
		__module_get(gmem);
	__fput_sync(file);
}

/* ---- folio sizes: 2 MiB where a whole aligned 2 MiB block fits ---- */

#define HUGE_PAGES	BIT(PMD_ORDER)

static struct file *sized_create(struct kunit *test, struct fake_owner *o,
				 loff_t size, u64 flags)
{
	struct file *file = gmem_create(size, flags, GMEM_RIGHTS_ALL, NULL,
					&fake_ops, o);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	o->file = file;
	return file;
}

/* The folio holding @index, allocated if need be: its order and index. */
static int folio_at(struct kunit *test, struct file *file, pgoff_t index,
		    pgoff_t *first)
{
	struct folio *folio = gmem_get_folio(file, index, true);
	int order;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	order = folio_order(folio);
	if (first)
		*first = folio->index;
	folio_unlock(folio);
	folio_put(folio);
	return order;
}

static void folio_order_follows_the_file_edges(struct kunit *test)
{
	/* 5 MiB: two whole 2 MiB blocks, then a 1 MiB tail. */
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, 5 * SZ_1M, 0);
	pgoff_t first;

	KUNIT_EXPECT_EQ(test, folio_at(test, file, 511, &first), PMD_ORDER);
	KUNIT_EXPECT_EQ(test, first, 0);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 0, &first), PMD_ORDER);
	KUNIT_EXPECT_EQ(test, first, 0);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 612, &first), PMD_ORDER);
	KUNIT_EXPECT_EQ(test, first, HUGE_PAGES);
	/* The block [4 MiB, 6 MiB) does not fit: 4 KiB folios. */
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 1024, &first), 0);
	KUNIT_EXPECT_EQ(test, first, 1024);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 1279, &first), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), 2 * HUGE_PAGES + 2);
	__fput_sync(file);

	/* Exactly 2 MiB fits; one page less does not. */
	file = sized_create(test, &o, SZ_2M, 0);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, HUGE_PAGES - 1, NULL),
			PMD_ORDER);
	__fput_sync(file);
	file = sized_create(test, &o, SZ_2M - PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 0, NULL), 0);
	__fput_sync(file);
}

static void no_hugepage_flag_gives_4k_folios(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_4M,
					 GMEM_FLAG_NO_HUGEPAGE);

	KUNIT_EXPECT_EQ(test, folio_at(test, file, 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, 0,
					    SZ_4M), 0);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, HUGE_PAGES, NULL), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), 2 * HUGE_PAGES);
	__fput_sync(file);
}

/* fallocate() of one page allocates its whole 2 MiB block. */
static void fallocate_fills_whole_blocks(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_4M, 0);

	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE,
					    SZ_2M + PAGE_SIZE, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, HUGE_PAGES, NULL),
			PMD_ORDER);
	__fput_sync(file);
}

static void fill(struct folio *folio, pgoff_t i, u8 byte)
{
	void *p = kmap_local_folio(folio, i * PAGE_SIZE);

	memset(p, byte, PAGE_SIZE);
	kunmap_local(p);
}

static bool holds(struct folio *folio, pgoff_t i, u8 byte)
{
	void *p = kmap_local_folio(folio, i * PAGE_SIZE);
	bool ok = !memchr_inv(p, byte, PAGE_SIZE);

	kunmap_local(p);
	return ok;
}

/*
 * A punch inside a huge folio splits it and frees the punched page only;
 * the neighbours keep their data, and the hole is refilled with a 4 KiB
 * folio, as the block now holds other folios.
 */
static void punch_splits_and_refills_with_4k(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M, 0);
	struct folio *folio = gmem_get_folio(file, 0, true);
	pgoff_t i, first;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	for (i = 0; i < HUGE_PAGES; i++)
		fill(folio, i, 0x5a);
	folio_unlock(folio);
	folio_put(folio);

	KUNIT_EXPECT_EQ(test, punch(file, 7 * PAGE_SIZE, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES - 1);
	KUNIT_EXPECT_EQ(test, folio_at(test, file, 6, &first), 0);
	KUNIT_EXPECT_EQ(test, first, 6);

	for (i = 6; i < 9; i++) {
		folio = gmem_get_folio(file, i, true);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
		KUNIT_EXPECT_EQ(test, folio_order(folio), 0);
		KUNIT_EXPECT_TRUE_MSG(test, holds(folio, 0, i == 7 ? 0 : 0x5a),
				      "page %lu", i);
		folio_unlock(folio);
		folio_put(folio);
	}
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES);
	__fput_sync(file);
}

/*
 * While someone holds a reference (as a guest mapping would), a huge
 * folio cannot be split: the punch leaves it whole and zeroes the hole.
 */
static void punch_zeroes_a_folio_it_cannot_split(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M, 0);
	struct folio *folio = gmem_get_folio(file, 0, true);
	pgoff_t i;
	int bad = 0;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	for (i = 0; i < HUGE_PAGES; i++)
		fill(folio, i, 0x5a);
	folio_unlock(folio);

	KUNIT_EXPECT_EQ(test, punch(file, 7 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, folio_order(folio), PMD_ORDER);
	KUNIT_EXPECT_PTR_EQ(test, folio->mapping, file->f_mapping);
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES);
	for (i = 0; i < HUGE_PAGES; i++)
		bad += !holds(folio, i, i == 7 || i == 8 ? 0 : 0x5a);
	KUNIT_EXPECT_EQ(test, bad, 0);
	folio_put(folio);

	/* Once it is let go, the next punch splits it. */
	KUNIT_EXPECT_EQ(test, punch(file, 7 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES - 2);
	__fput_sync(file);
}

/*
 * Memory failure in a 2 MiB folio that it cannot split (someone holds a
 * reference, as a guest mapping would) marks the failed page and the
 * folio's has_hwpoisoned bit, not the head page: a check of the head
 * alone, folio_test_hwpoison() (as KVM's adapter once made), misses it.
 * The failed page must never be mapped; the others only page by page.
 *
 * memory_failure() with MF_SW_SIMULATED, as hwpoison-inject and
 * MADV_HWPOISON call it (without it, a "hardware" failure turns unpoison
 * off for the rest of the boot).  It drains the per-CPU LRU batches itself
 * (shake_page()) until the folio is on the LRU, which it needs, and prints
 * "Memory failure: <pfn>: recovery action for unsplit thp: Failed".
 * unpoison_memory() refuses a page still in the page cache, so the test
 * clears both flags itself before the folio is freed (a block freed with a
 * PG_hwpoison page in it is taken out of use when next allocated).  Only
 * the kernel's count of poisoned pages (HardwareCorrupted) keeps the 4 KiB.
 */
static void map_order_refuses_a_poisoned_tail_page(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M, 0);
	struct folio *folio = gmem_get_folio(file, 0, true);
	struct page *bad;
	int ret;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	KUNIT_ASSERT_EQ(test, folio_order(folio), PMD_ORDER);
	bad = folio_page(folio, 5);
	folio_unlock(folio);	/* memory_failure() locks it; we keep our ref */

	ret = memory_failure(page_to_pfn(bad), MF_SW_SIMULATED);
	folio_lock(folio);
	KUNIT_EXPECT_EQ_MSG(test, ret, -EHWPOISON,
			    "memory_failure() should fail to split the folio");
	KUNIT_EXPECT_EQ_MSG(test, folio_order(folio), PMD_ORDER,
			    "the folio should still be whole");
	KUNIT_EXPECT_TRUE(test, PageHWPoison(bad));
	KUNIT_EXPECT_EQ_MSG(test, gmem_folio_map_order(folio, 5), -EHWPOISON,
			    "the poisoned page must not be mapped");
	KUNIT_EXPECT_EQ_MSG(test, gmem_folio_map_order(folio, 6), 0,
			    "its neighbour may be mapped as 4 KiB only");
	KUNIT_EXPECT_EQ_MSG(test, gmem_folio_map_order(folio, 0), 0,
			    "the head may be mapped as 4 KiB only");
	KUNIT_EXPECT_FALSE_MSG(test, folio_test_hwpoison(folio),
			       "the head page is not the poisoned one");

	/* Undo what memory_failure() did to the page and the folio. */
	ClearPageHWPoison(bad);
	if (folio_test_large(folio))
		folio_clear_has_hwpoisoned(folio);
	KUNIT_EXPECT_EQ(test, gmem_folio_map_order(folio, 5), PMD_ORDER);
	folio_unlock(folio);
	folio_put(folio);
	__fput_sync(file);
}

#define RACE_BLOCKS	64
#define TOKEN_MS	20

struct toucher {
	struct file *file;
	pgoff_t offset;		/* in each block */
	int id;			/* 0 or 1 */
	atomic_t *ready;
	atomic_t *token;	/* thread (token % 2) holds it */
	unsigned long passes;	/* of the token, by this thread */
	int errors;
	struct completion done;
	u64 start[RACE_BLOCKS], end[RACE_BLOCKS];	/* ns, each touch */
};

/*
 * Pass a token to the other thread and wait for it back, for TOKEN_MS.
 * Each pass needs the other thread to run: with both CPUs running at the
 * same instant a pass takes microseconds; when one CPU at a time runs
 * (single-threaded TCG), one pass per switch between them.  No
 * cpu_relax() while waiting: TCG's PAUSE hands its host thread to the
 * next vCPU, so single-threaded TCG would switch at every wait and the
 * threads would pass the token as if they ran at once.
 */
static void pass_the_token(struct toucher *t)
{
	u64 end = ktime_get_ns() + TOKEN_MS * NSEC_PER_MSEC;

	while (ktime_get_ns() < end) {
		if (atomic_read(t->token) % 2 == t->id) {
			atomic_inc(t->token);
			t->passes++;
		}
	}
}

static int touch_every_block(void *arg)
{
	struct toucher *t = arg;
	pgoff_t b;

	/* Both threads start together, each on its own CPU. */
	atomic_dec(t->ready);
	while (atomic_read(t->ready))
		cpu_relax();
	pass_the_token(t);
	for (b = 0; b < RACE_BLOCKS; b++) {
		struct folio *folio;

		t->start[b] = ktime_get_ns();
		folio = gmem_get_folio(t->file, b * HUGE_PAGES + t->offset,
				       true);
		t->end[b] = ktime_get_ns();
		if (IS_ERR(folio)) {
			t->errors++;
			continue;
		}
		folio_unlock(folio);
		folio_put(folio);
	}
	complete(&t->done);
	return 0;
}

/*
 * Two threads touch opposite ends of the same empty blocks at once: both
 * may allocate a 2 MiB folio for a block; one adds it, the other frees
 * its own (clean: a page freed dirty is a bad page, which the guest's
 * kernel log shows) and takes the winner's.  Each block ends up as one
 * 2 MiB folio.
 */
static void racing_first_touches_leave_one_folio_per_block(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, RACE_BLOCKS * SZ_2M, 0);
	atomic_t ready = ATOMIC_INIT(2), token = ATOMIC_INIT(0);
	struct toucher *t = kunit_kcalloc(test, 2, sizeof(*t), GFP_KERNEL);
	struct task_struct *task;
	int i, overlaps = 0;
	pgoff_t b;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_GE(test, num_online_cpus(), 2);
	for (i = 0; i < 2; i++) {
		t[i].file = file;
		t[i].offset = i ? HUGE_PAGES - 1 : 0;
		t[i].id = i;
		t[i].ready = &ready;
		t[i].token = &token;
		init_completion(&t[i].done);
		task = kthread_create(touch_every_block, &t[i], "gmem-touch%d",
				      i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
		kthread_bind(task, i);
		wake_up_process(task);
	}
	for (i = 0; i < 2; i++) {
		wait_for_completion(&t[i].done);
		KUNIT_EXPECT_EQ(test, t[i].errors, 0);
	}
	/* Whether the race was run: both threads in the same block at once. */
	for (b = 0; b < RACE_BLOCKS; b++)
		overlaps += t[0].start[b] < t[1].end[b] &&
			    t[1].start[b] < t[0].end[b];
	kunit_info(test, "%d of %d blocks touched by both threads at once\n",
		   overlaps, RACE_BLOCKS);
	kunit_info(test, "before that, they passed a token %lu times in %d ms\n",
		   t[0].passes + t[1].passes, TOKEN_MS);
	KUNIT_EXPECT_EQ(test, nrpages(file), RACE_BLOCKS * HUGE_PAGES);
	for (b = 0; b < RACE_BLOCKS; b++)
		KUNIT_EXPECT_EQ_MSG(test, folio_at(test, file, b * HUGE_PAGES,
						   NULL), PMD_ORDER,
				    "block %lu", b);
	__fput_sync(file);
}

/* ---- memory ops: the free_folio hook ---- */

/* What the hook heard: the pfns of each folio, in the order they went. */
#define FREED_MAX	16

static struct {
	int calls;
	unsigned long pages;	/* over every call */
	unsigned long pfn[FREED_MAX], nr[FREED_MAX];
} freed;

static void record_free_folio(struct folio *folio)
{
	if (freed.calls < FREED_MAX) {
		freed.pfn[freed.calls] = folio_pfn(folio);
		freed.nr[freed.calls] = folio_nr_pages(folio);
	}
	freed.calls++;
	freed.pages += folio_nr_pages(folio);
}

/* How many calls freed exactly the pages [@pfn, @pfn + @nr). */
static int freed_calls_for(unsigned long pfn, unsigned long nr)
{
	int i, n = 0;

	for (i = 0; i < min(freed.calls, FREED_MAX); i++)
		n += freed.pfn[i] == pfn && freed.nr[i] == nr;
	return n;
}

static const struct address_space_operations test_aops =
	GMEM_MEMORY_AOPS(record_free_folio);

static const struct gmem_memory_ops test_mops = {
	.owner	= THIS_MODULE,
	.aops	= &test_aops,
};

static int memory_ops_case_init(struct kunit *test)
{
	memset(&freed, 0, sizeof(freed));
	return 0;
}

static struct file *mops_create(struct kunit *test, struct fake_owner *o,
				loff_t size)
{
	struct file *file = gmem_create(size, 0, GMEM_RIGHTS_ALL, &test_mops,
					&fake_ops, o);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	o->file = file;
	return file;
}

/* The first pfn and the order of the folio holding @index. */
static unsigned long pfn_at(struct kunit *test, struct file *file,
			    pgoff_t index, int order)
{
	struct folio *folio = gmem_get_folio(file, index, true);
	unsigned long pfn;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	KUNIT_ASSERT_EQ(test, folio_order(folio), order);
	pfn = folio_pfn(folio);
	folio_unlock(folio);
	folio_put(folio);
	return pfn;
}

/* An architecture's pages are never user space's: no mapping, no sharing. */
static void memory_ops_refuse_user_mappings(struct kunit *test)
{
	const u64 flags[] = { GMEM_FLAG_MMAP, GMEM_FLAG_SHARED,
			      GMEM_FLAG_MMAP | GMEM_FLAG_SHARED,
			      GMEM_FLAG_CONVERTIBLE };
	struct fake_owner o = {};
	struct file *file;
	int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		file = gmem_create(SZ_2M, flags[i], GMEM_RIGHTS_ALL, &test_mops,
				   &fake_ops, &o);
		KUNIT_EXPECT_EQ_MSG(test, PTR_ERR(file), -EINVAL, "case %d", i);
		if (!IS_ERR(file))
			__fput_sync(file);
	}
	KUNIT_EXPECT_EQ(test, freed.calls, 0);
}

/* 2 MiB and a 4 KiB tail: one huge folio, then one small one. */
#define MOPS_SIZE	(SZ_2M + PAGE_SIZE)

static void memory_ops_hear_each_punched_folio_whole(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = mops_create(test, &o, MOPS_SIZE);
	unsigned long huge = pfn_at(test, file, 0, PMD_ORDER);
	unsigned long small = pfn_at(test, file, HUGE_PAGES, 0);

	KUNIT_EXPECT_EQ(test, punch(file, SZ_2M, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 1, "one call for the 4 KiB folio");
	KUNIT_EXPECT_EQ_MSG(test, freed_calls_for(small, 1), 1,
			    "the call should have the 4 KiB folio's pfn");

	KUNIT_EXPECT_EQ(test, punch(file, 0, SZ_2M), 0);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 2, "one call for the 2 MiB folio");
	KUNIT_EXPECT_EQ_MSG(test, freed_calls_for(huge, HUGE_PAGES), 1,
			    "the call should have the 2 MiB folio's pfns");
	KUNIT_EXPECT_EQ(test, nrpages(file), 0);
	__fput_sync(file);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 2, "nothing left to free");

	/* Without memory ops, nothing calls the hook. */
	file = sized_create(test, &o, MOPS_SIZE, 0);
	KUNIT_EXPECT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, 0,
					    MOPS_SIZE), 0);
	KUNIT_EXPECT_EQ(test, punch(file, 0, MOPS_SIZE), 0);
	__fput_sync(file);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 2, "hook called without mops");
}

/* A punch that splits a 2 MiB folio: one call per punched 4 KiB piece. */
static void memory_ops_hear_each_punched_piece_of_a_split(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = mops_create(test, &o, SZ_2M);
	unsigned long huge = pfn_at(test, file, 0, PMD_ORDER);
	int i;

	KUNIT_EXPECT_EQ(test, punch(file, 100 * PAGE_SIZE, 3 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), HUGE_PAGES - 3);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 3,
			    "one call per punched page, none for the rest");
	for (i = 100; i < 103; i++)
		KUNIT_EXPECT_EQ_MSG(test, freed_calls_for(huge + i, 1), 1,
				    "page %d: one call with its own pfn", i);
	__fput_sync(file);
	KUNIT_EXPECT_EQ_MSG(test, freed.pages, HUGE_PAGES,
			    "every page heard of exactly once in the end");
}

/*
 * The last file's close evicts the inode: one call per folio left, and
 * only then does the inode let go of the memory ops' module.
 */
static void memory_ops_hear_the_rest_at_eviction_and_pin_their_module(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file;
	unsigned long huge, small;
	int refs = module_refcount(THIS_MODULE);

	file = mops_create(test, &o, MOPS_SIZE);
	huge = pfn_at(test, file, 0, PMD_ORDER);
	small = pfn_at(test, file, HUGE_PAGES, 0);
	/* The owner's reference goes with it: only the inode's is left. */
	KUNIT_EXPECT_TRUE(test, gmem_detach(file));
	KUNIT_EXPECT_EQ_MSG(test, module_refcount(THIS_MODULE), refs + 1,
			    "the inode should hold the memory ops' module once");
	KUNIT_EXPECT_EQ(test, freed.calls, 0);

	__fput_sync(file);
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 2, "one call per folio left");
	KUNIT_EXPECT_EQ(test, freed_calls_for(huge, HUGE_PAGES), 1);
	KUNIT_EXPECT_EQ(test, freed_calls_for(small, 1), 1);
	KUNIT_EXPECT_EQ_MSG(test, module_refcount(THIS_MODULE), refs,
			    "eviction should drop the memory ops' module");
}

/*
 * A punch that cannot split a folio (a reference is held) leaves the
 * punched pages of an inode with memory ops as they were: they may be the
 * architecture's, so gmem does not zero them, and nothing is freed.
 */
static void memory_ops_unsplit_punch_leaves_pages_untouched(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = mops_create(test, &o, SZ_2M);
	struct folio *folio = gmem_get_folio(file, 0, true);
	unsigned long pfn;
	pgoff_t i;
	int changed = 0;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	KUNIT_ASSERT_EQ(test, folio_order(folio), PMD_ORDER);
	pfn = folio_pfn(folio);
	for (i = 0; i < HUGE_PAGES; i++)
		fill(folio, i, 0x5a);
	folio_unlock(folio);

	KUNIT_EXPECT_EQ(test, punch(file, 7 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, folio_order(folio), PMD_ORDER);
	KUNIT_EXPECT_PTR_EQ(test, folio->mapping, file->f_mapping);
	for (i = 0; i < HUGE_PAGES; i++)
		changed += !holds(folio, i, 0x5a);
	KUNIT_EXPECT_EQ_MSG(test, changed, 0,
			    "gmem wrote to pages of an inode with memory ops");
	KUNIT_EXPECT_EQ_MSG(test, freed.calls, 0,
			    "nothing left the page cache, nothing to hear of");
	folio_put(folio);
	__fput_sync(file);
	KUNIT_EXPECT_EQ_MSG(test, freed_calls_for(pfn, HUGE_PAGES), 1,
			    "the whole folio should go at eviction");
}

/* ---- in-place conversion: GMEM_FLAG_CONVERTIBLE ---- */

static int map_order_at(struct kunit *test, struct file *file, pgoff_t index)
{
	struct folio *folio = gmem_get_folio(file, index, true);
	int order;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	order = gmem_folio_map_order(folio, index);
	folio_unlock(folio);
	folio_put(folio);
	return order;
}

static int convert(struct file *file, pgoff_t start, pgoff_t nr, bool shared,
		   bool zero, pgoff_t *err_index)
{
	pgoff_t unused;

	return gmem_convert(file, start, nr, shared, zero,
			    err_index ?: &unused);
}

static void convert_refuses_bad_input_and_changes_nothing(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M, 0);

	KUNIT_EXPECT_EQ_MSG(test, convert(file, 0, 1, true, false, NULL),
			    -EOPNOTSUPP, "memory that does not convert");
	__fput_sync(file);

	file = sized_create(test, &o, SZ_2M, GMEM_FLAG_CONVERTIBLE);
	KUNIT_EXPECT_EQ(test, convert(file, 0, 0, true, false, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, convert(file, HUGE_PAGES - 1, 2, true, false,
				      NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, convert(file, HUGE_PAGES, 1, true, false, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, convert(file, 1, ULONG_MAX, true, false, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ_MSG(test, convert(file, 0, 1, false, true, NULL),
			    -EINVAL, "zeroing is for pages made shared");
	KUNIT_EXPECT_EQ(test, o.begins, 0);
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 0));
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, HUGE_PAGES - 1));
	__fput_sync(file);
}

static void convertible_memory_starts_as_its_flags_say(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file;

	file = sized_create(test, &o, SZ_4M, GMEM_FLAG_CONVERTIBLE);
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 0));
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 2 * HUGE_PAGES - 1));
	__fput_sync(file);

	file = sized_create(test, &o, SZ_4M,
			    GMEM_FLAG_CONVERTIBLE | GMEM_FLAG_SHARED);
	KUNIT_EXPECT_TRUE(test, gmem_is_shared(file, 0));
	KUNIT_EXPECT_TRUE(test, gmem_is_shared(file, 2 * HUGE_PAGES - 1));
	__fput_sync(file);
}

static void mixed_folio_maps_page_by_page_until_uniform(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_4M,
					 GMEM_FLAG_CONVERTIBLE);

	KUNIT_ASSERT_EQ(test, map_order_at(test, file, 0), PMD_ORDER);
	KUNIT_ASSERT_EQ(test, map_order_at(test, file, HUGE_PAGES), PMD_ORDER);

	KUNIT_EXPECT_EQ(test, convert(file, 5, 1, true, false, NULL), 0);
	KUNIT_EXPECT_TRUE(test, gmem_is_shared(file, 5));
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 4));
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 6));
	KUNIT_EXPECT_EQ_MSG(test, map_order_at(test, file, 5), 0,
			    "a mixed folio is mapped page by page");
	KUNIT_EXPECT_EQ(test, map_order_at(test, file, 0), 0);
	KUNIT_EXPECT_EQ(test, map_order_at(test, file, HUGE_PAGES), PMD_ORDER);
	KUNIT_EXPECT_EQ_MSG(test, nrpages(file), 2 * HUGE_PAGES,
			    "conversion split or freed a folio");

	/* The rest of the block too: uniform again, shared. */
	KUNIT_EXPECT_EQ(test, convert(file, 0, 5, true, false, NULL), 0);
	KUNIT_EXPECT_EQ(test, convert(file, 6, HUGE_PAGES - 6, true, false,
				      NULL), 0);
	KUNIT_EXPECT_EQ(test, map_order_at(test, file, 0), PMD_ORDER);

	/* And back to private, in pieces. */
	KUNIT_EXPECT_EQ(test, convert(file, 0, 100, false, false, NULL), 0);
	KUNIT_EXPECT_EQ(test, map_order_at(test, file, 0), 0);
	KUNIT_EXPECT_EQ(test, convert(file, 100, HUGE_PAGES - 100, false,
				      false, NULL), 0);
	KUNIT_EXPECT_EQ(test, map_order_at(test, file, 0), PMD_ORDER);
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 5));
	__fput_sync(file);
}

static void conversion_invalidates_whole_blocks(struct kunit *test)
{
	struct fake_owner a = {}, b = {};
	struct file *fa = sized_create(test, &a, SZ_4M, GMEM_FLAG_CONVERTIBLE);
	struct file *fb = fake_link(test, fa, &b);

	KUNIT_EXPECT_EQ(test, convert(fb, HUGE_PAGES + 7, 2, true, false,
				      NULL), 0);
	KUNIT_EXPECT_EQ(test, a.begins, 1);
	KUNIT_EXPECT_EQ(test, a.ends, 1);
	KUNIT_EXPECT_EQ(test, b.begins, 1);
	KUNIT_EXPECT_EQ(test, a.start, HUGE_PAGES);
	KUNIT_EXPECT_EQ(test, a.end, 2 * HUGE_PAGES);
	KUNIT_EXPECT_TRUE_MSG(test, gmem_is_shared(fa, HUGE_PAGES + 8),
			      "a link sees another file's conversion");

	/* Already shared: nothing to do, no one to tell. */
	KUNIT_EXPECT_EQ(test, convert(fa, HUGE_PAGES + 7, 2, true, false,
				      NULL), 0);
	KUNIT_EXPECT_EQ(test, a.begins, 1);
	__fput_sync(fb);
	__fput_sync(fa);
}

static void zero_clears_only_the_range(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M,
					 GMEM_FLAG_CONVERTIBLE);
	struct folio *folio = gmem_get_folio(file, 0, true);
	u8 *p;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, folio);
	fill(folio, 4, 0x44);
	fill(folio, 5, 0x55);
	fill(folio, 6, 0x66);
	folio_unlock(folio);

	KUNIT_EXPECT_EQ(test, convert(file, 5, 1, true, true, NULL), 0);
	KUNIT_EXPECT_EQ(test, convert(file, 4, 1, true, false, NULL), 0);
	p = kmap_local_folio(folio, 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ_MSG(test, p[0], 0x44, "no flag keeps the contents");
	KUNIT_EXPECT_EQ(test, p[PAGE_SIZE - 1], 0x44);
	KUNIT_EXPECT_EQ(test, p[PAGE_SIZE], 0);
	KUNIT_EXPECT_EQ(test, p[2 * PAGE_SIZE - 1], 0);
	KUNIT_EXPECT_EQ(test, p[2 * PAGE_SIZE], 0x66);
	kunmap_local(p);
	folio_put(folio);
	__fput_sync(file);
}

static void punch_keeps_the_state(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file = sized_create(test, &o, SZ_2M,
					 GMEM_FLAG_CONVERTIBLE);

	KUNIT_ASSERT_EQ(test, vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, 0,
					    SZ_2M), 0);
	KUNIT_EXPECT_EQ(test, convert(file, 5, 1, true, false, NULL), 0);
	KUNIT_EXPECT_EQ(test, punch(file, 0, SZ_2M), 0);
	KUNIT_EXPECT_EQ(test, nrpages(file), 0);
	KUNIT_EXPECT_TRUE(test, gmem_is_shared(file, 5));
	KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 4));
	KUNIT_EXPECT_EQ_MSG(test, map_order_at(test, file, 5), 0,
			    "a refilled block is still mixed");
	__fput_sync(file);
}

static void eviction_frees_the_state(struct kunit *test)
{
	struct fake_owner o = {};
	struct file *file;
	int i;

	/* Many fragments: kmemleak and the slab counts catch a leak. */
	for (i = 0; i < 4; i++) {
		pgoff_t index;

		file = sized_create(test, &o, SZ_4M, GMEM_FLAG_CONVERTIBLE);
		for (index = 0; index < 2 * HUGE_PAGES; index += 2)
			KUNIT_ASSERT_EQ(test, convert(file, index, 1, true,
						      false, NULL), 0);
		KUNIT_EXPECT_TRUE(test, gmem_is_shared(file, 2));
		KUNIT_EXPECT_FALSE(test, gmem_is_shared(file, 3));
		__fput_sync(file);
	}
}

static struct kunit_case gmem_conversion_cases[] = {
	KUNIT_CASE(convert_refuses_bad_input_and_changes_nothing),
	KUNIT_CASE(convertible_memory_starts_as_its_flags_say),
	KUNIT_CASE(mixed_folio_maps_page_by_page_until_uniform),
	KUNIT_CASE(conversion_invalidates_whole_blocks),
	KUNIT_CASE(zero_clears_only_the_range),
	KUNIT_CASE(punch_keeps_the_state),
	KUNIT_CASE(eviction_frees_the_state),
	{}
};

static struct kunit_suite gmem_conversion_suite = {
	.name = "gmem_conversion",
	.test_cases = gmem_conversion_cases,
};

static struct kunit_case gmem_folio_cases[] = {
	KUNIT_CASE(folio_order_follows_the_file_edges),
	KUNIT_CASE(no_hugepage_flag_gives_4k_folios),
	KUNIT_CASE(fallocate_fills_whole_blocks),
	KUNIT_CASE(punch_splits_and_refills_with_4k),
	KUNIT_CASE(punch_zeroes_a_folio_it_cannot_split),
	KUNIT_CASE(map_order_refuses_a_poisoned_tail_page),
	KUNIT_CASE(racing_first_touches_leave_one_folio_per_block),
	{}
};

static struct kunit_suite gmem_folio_suite = {
	.name = "gmem_folio",
	.test_cases = gmem_folio_cases,
};

static struct kunit_case gmem_memory_cases[] = {
	KUNIT_CASE(create_rejects_bad_size_and_flags),
	KUNIT_CASE(new_memory_is_empty_and_sized),
	KUNIT_CASE(get_folio_creates_zeroed_folios_inside_the_file),
	KUNIT_CASE(fallocate_allocates_and_punches_whole_pages),
	KUNIT_CASE(punch_invalidates_every_owner_once_before_freeing),
	KUNIT_CASE(every_memory_inode_pins_the_module),
	KUNIT_CASE(failed_inode_alloc_leaves_the_module_count),
	KUNIT_CASE(punch_fans_out_to_eight_files),
	{}
};

static struct kunit_suite gmem_memory_suite = {
	.name = "gmem_memory",
	.test_cases = gmem_memory_cases,
};

static struct kunit_case gmem_file_cases[] = {
	KUNIT_CASE(memory_lives_until_the_last_file),
	KUNIT_CASE(detached_owner_hears_once_and_never_again),
	KUNIT_CASE(link_refuses_what_is_not_gmem),
	KUNIT_CASE(file_without_link_right_cannot_be_linked),
	KUNIT_CASE(link_gets_only_the_rights_asked_and_held),
	KUNIT_CASE(bad_rights_and_other_kinds_are_invalid),
	KUNIT_CASE(detached_file_with_link_right_can_be_linked),
	{}
};

static struct kunit_suite gmem_file_suite = {
	.name = "gmem_file",
	.test_cases = gmem_file_cases,
};

static struct kunit_case gmem_memory_ops_cases[] = {
	KUNIT_CASE(memory_ops_refuse_user_mappings),
	KUNIT_CASE(memory_ops_hear_each_punched_folio_whole),
	KUNIT_CASE(memory_ops_hear_each_punched_piece_of_a_split),
	KUNIT_CASE(memory_ops_hear_the_rest_at_eviction_and_pin_their_module),
	KUNIT_CASE(memory_ops_unsplit_punch_leaves_pages_untouched),
	{}
};

static struct kunit_suite gmem_memory_ops_suite = {
	.name = "gmem_memory_ops",
	.init = memory_ops_case_init,
	.test_cases = gmem_memory_ops_cases,
};

kunit_test_suites(&gmem_memory_suite, &gmem_folio_suite, &gmem_file_suite,
		  &gmem_memory_ops_suite, &gmem_conversion_suite);

MODULE_DESCRIPTION("KUnit suites for gmem.ko");
MODULE_LICENSE("GPL");
