// SPDX-License-Identifier: GPL-2.0
/*
 * Random operations on guest_memfds, memslots and VMs, in two processes
 * with several threads each, seeded and replayable.
 *
 * Each process keeps NR_VMS SW-protected VMs (one vCPU each), each with
 * NR_FILES guest_memfd slots and NR_REGIONS memslots, plus a pool of
 * "loose" fds that no live VM of it owns: files left by a destroyed VM and
 * files received from the other process over a unix socket (SCM_RIGHTS).
 * Its threads draw operations at random: create guest_memfds (4 KiB to
 * 64 MiB, 4 KiB or 2 MiB pages), link them into other VMs, allocate and
 * punch, bind and unbind memslots, set memory private or shared, pre-fault,
 * run the vCPU over private pages, send, receive and close fds, and destroy
 * and recreate VMs.
 *
 * Some VMs convert in place (Documentation/conversion.rst), a choice drawn
 * when the VM is made: their guest_memfds are made with
 * GUEST_MEMFD_FLAG_MMAP (some INIT_SHARED), their memslots' userspace_addr
 * is a mapping of the file, and two more operations work on them: convert
 * a range of a file to private or shared (KVM_SET_MEMORY_ATTRIBUTES2, on a
 * dup of the fd, without the VM's lock, so that it races the VM's own
 * vCPU), and touch pages through a mapping of the file in the host
 * (SIGBUS on private pages, caught per thread).  Their vCPU touches every
 * page of its run, private or shared: both are the file's.
 *
 * What is checked, throughout:
 *  - the guest and the host read, in the first word of each page, only
 *    the tag of that page of that memory (the memory's id and the page's
 *    index in the file), which every VM and the host write, or zero (a
 *    punch, or a conversion with ZERO); zero right after their own write
 *    only if such a zeroing of that memory overlapped (mem_counts); zero
 *    where they last found the tag only if a zeroing of that memory
 *    overlapped since (struct held); a VM that does not convert in place
 *    never shows the tag in its page's shared view;
 *  - a vCPU of a converting VM exits with KVM_EXIT_MEMORY_FAULT (and is run
 *    again), a pre-fault fails with EFAULT, and the host's write to a page
 *    it had just read is SIGBUS, only if a conversion of that memory
 *    overlapped; a conversion to private fails with EAGAIN only on memory
 *    the host has mapped, at a page of the range, and not for a second;
 *  - every call's errno is in that call's documented set (calls[] below,
 *    from Documentation/uapi.rst and upstream 6.12), and is the one this
 *    test's model of the state predicts where the model knows;
 *  - at the end, with every fd closed and both processes done, the VMs
 *    alive, Unevictable memory and the gmem slab caches' active objects
 *    are back where they were before;
 *  - and the run did something: the guest checked a page, and a
 *    touch, a bind, a fallocate and a conversion each succeeded, in
 *    either process.
 *
 * Replay: with the same --seed and --threads, every thread of each process
 * draws the same operation kinds and raw random values in the same order:
 * each thread has its own generator, seeded from the seed, the process
 * and the thread, and draws a fixed number of values per operation
 * whatever the state.  Offsets and lengths derive from those values and
 * whatever file or memslot is in the slot at that moment, so they, like
 * what an operation finds (an empty slot, a memslot bound or not, an fd
 * waiting on the socket), depend on how the threads and processes
 * interleave, and so do the outcomes and how many operations fit in
 * --seconds; --ops N stops every thread after N operations.
 */
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "gmem_test_util.h"
#include "shutdown_diag.h"

#define NR_VMS		3	/* per process */
#define NR_FILES	6	/* guest_memfd slots per VM */
#define NR_REGIONS	4	/* memslots per VM, each in a GPA region of its own */
#define NR_LOOSE	6	/* fds of a process that no live VM of it owns */
#define NR_GHOSTS	16
#define MAX_THREADS	8

#define SZ_2M		(2ul << 20)
#define MAX_SIZE	(64ul << 20)
#define MAX_PAGES	(MAX_SIZE / PAGE_SIZE)
#define REGION_SIZE	MAX_SIZE
#define REGION_PAGES	(REGION_SIZE / PAGE_SIZE)
#define WINDOW_GPA	BIT_ULL(32)	/* above the library's own memory */
#define WINDOW_SIZE	(NR_REGIONS * REGION_SIZE)
#define WINDOW_PAGES	(WINDOW_SIZE / PAGE_SIZE)
#define FIRST_SLOT	10
#define TOUCH_PAGES	16
#define PREFAULT_PAGES	512
#define FALLOC_PAGES	1024	/* at most 4 MiB allocated at once */
/* Allocating operations wait while gmem holds more than this. */
#define BUDGET_KB	(512l << 10)

#define TAG_MAGIC	0x5354000000000000ull
/* Tries of a conversion to private that fails with EAGAIN, 10 ms apart. */
#define CONVERT_TRIES	100
/* KVM_RUNs of one touch that end in a memory fault a conversion made. */
#define FAULT_RETRIES	10000

#define MMAP		GUEST_MEMFD_FLAG_MMAP
#define INIT_SHARED	GUEST_MEMFD_FLAG_INIT_SHARED
#define ZERO		KVM_SET_MEMORY_ATTRIBUTES2_ZERO
#define PRESERVE	KVM_SET_MEMORY_ATTRIBUTES2_PRESERVE

/* The first word of page @page of memory @mem, as every guest writes it. */
static inline u64 tag(u32 mem, u64 page)
{
	return TAG_MAGIC | (u64)mem << 24 | page;
}

/* ---- the guest ---- */

struct touch {
	u64 gpa;
	u64 tag;
	u64 first;	/* out: what the guest read first */
};

/* What the vCPU is to do on its next run; the host writes the guest's copy. */
struct guest_req {
	u64 n;
	u64 write;
	struct touch t[TOUCH_PAGES];
};

static struct guest_req req;

/*
 * Guest: for each page asked, read the first word (the page's tag or
 * zero) and keep it in req, write the tag if asked and read it back (the
 * tag, or zero if a punch got there between).  Reports the number of bad
 * reads, the index of the last one and what it read.
 */
static void guest_code(void)
{
	for (;;) {
		u64 n = READ_ONCE(req.n), write = READ_ONCE(req.write);
		u64 i, bad = 0, at = 0, seen = 0, zeros = 0;

		for (i = 0; i < n; i++) {
			u64 *p = (u64 *)READ_ONCE(req.t[i].gpa);
			u64 want = READ_ONCE(req.t[i].tag);
			u64 v = READ_ONCE(*p);

			WRITE_ONCE(req.t[i].first, v);
			if (v && v != want) {
				bad++;
				at = i;
				seen = v;
			}
			if (!write)
				continue;
			WRITE_ONCE(*p, want);
			v = READ_ONCE(*p);
			zeros += !v;
			if (v && v != want) {
				bad++;
				at = i;
				seen = v;
			}
		}
		GUEST_SYNC4(bad, at, seen, zeros);
	}
}

/* ---- the calls, and the errors each may return ---- */

enum call {
	C_CREATE, C_CAP, C_LINK, C_ALLOC, C_PUNCH, C_BIND, C_UNBIND, C_ATTR,
	C_PREFAULT, C_SEND, C_RECV, C_CLOSE, C_CONVERT, C_MMAP, NR_CALLS,
};

/*
 * Every errno each call may return to this test, which passes only valid
 * arguments except where it means to (a file range past the end, another
 * VM's guest_memfd).  From Documentation/uapi.rst, lifetimes.rst and
 * conversion.rst, and for KVM's own calls from upstream 6.12.  0 ends a
 * list.
 */
static const struct {
	const char *name;
	int errnos[6];
} calls[NR_CALLS] = {
	/* size, flags, reserved, no MMAP on a converting VM: EINVAL */
	[C_CREATE] = { "KVM_CREATE_GUEST_MEMFD", { EINVAL } },
	/* _LINK, _HUGEPAGE: bad args, a VM without private memory: EINVAL */
	[C_CAP] = { "KVM_ENABLE_CAP", { EINVAL } },
	/*
	 * bad fd or flags, memory the VM has a file on, a VM and memory that
	 * disagree on converting in place: EINVAL; no link right: EPERM
	 */
	[C_LINK] = { "KVM_LINK_GUEST_MEMFD", { EINVAL, EPERM } },
	/* past the end, unaligned: EINVAL; no right: EPERM; bad mode */
	[C_ALLOC] = { "fallocate(KEEP_SIZE)", { EINVAL, EPERM, EOPNOTSUPP } },
	/* a punch past the end succeeds */
	[C_PUNCH] = { "fallocate(PUNCH_HOLE)", { EINVAL, EPERM, EOPNOTSUPP } },
	/* not an fd: EBADF; not a guest_memfd, another (or a dead) VM's,
	 * past its end: EINVAL; a file range already bound: EEXIST
	 */
	[C_BIND] = { "KVM_SET_USER_MEMORY_REGION2", { EBADF, EINVAL, EEXIST } },
	/* deleting a memslot: EINVAL only for a bad slot id */
	[C_UNBIND] = { "KVM_SET_USER_MEMORY_REGION2(delete)", { EINVAL } },
	/* unaligned or unknown attributes, PRIVATE in place: EINVAL */
	[C_ATTR] = { "KVM_SET_MEMORY_ATTRIBUTES", { EINVAL } },
	/* upstream: no memslot (ENOENT), a private GPA without a
	 * guest_memfd memslot or a page converted meanwhile (EFAULT, a
	 * memory fault), a signal (EINTR)
	 */
	[C_PREFAULT] = { "KVM_PRE_FAULT_MEMORY", { ENOENT, EFAULT, EINTR } },
	/*
	 * no signals here: KVM_RUN fails only with EFAULT and
	 * KVM_EXIT_MEMORY_FAULT, on a page a conversion changed meanwhile
	 * (upstream's behaviour for the race; op_touch() runs it again)
	 */
	/* the other process's queue is full, or empty */
	[C_SEND] = { "sendmsg(SCM_RIGHTS)", { EAGAIN } },
	[C_RECV] = { "recvmsg(SCM_RIGHTS)", { EAGAIN } },
	[C_CLOSE] = { "close", { 0 } },
	/*
	 * a file that does not convert in place, or whose VM is gone:
	 * ENOTTY; past the end, both ZERO and PRESERVE: EINVAL; ZERO to
	 * private: EOPNOTSUPP; to private, a page user space mapped may
	 * still be referenced: EAGAIN (op_convert() tries again); a link
	 * without fallocate(): EPERM
	 */
	[C_CONVERT] = { "KVM_SET_MEMORY_ATTRIBUTES2",
			{ ENOTTY, EINVAL, EOPNOTSUPP, EAGAIN, EPERM } },
	/* a file made without GUEST_MEMFD_FLAG_MMAP: ENODEV */
	[C_MMAP] = { "mmap(guest_memfd)", { ENODEV } },
};

static bool documented(enum call c, int err)
{
	int i;

	if (!err)
		return true;
	for (i = 0; i < ARRAY_SIZE(calls[c].errnos) && calls[c].errnos[i]; i++)
		if (calls[c].errnos[i] == err)
			return true;
	return false;
}

/* ---- the model of what each process holds ---- */

/*
 * A run of a memory's file pages that all held their tags at one time,
 * when mem_count()->finished was @zeroings: until a zeroing starts after
 * that, they still do.
 */
struct held {
	u64 first, n;
	u64 zeroings;
};

struct gfile {
	bool used;
	int fd;		/* -1: closed while a memslot still holds the file */
	u32 mem;	/* the memory's id, in its tags */
	u64 size;
	bool link, falloc;	/* its rights */
	bool sent;	/* the other process may hold it too */
	int bound;	/* memslots bound to it */
	struct held held;	/* found by this VM's vCPU */
};

struct region {
	int file;	/* index in files[], -1 if no memslot */
	u64 gpa, size, offset;
	void *hva;	/* the shared view: the file's own if in place */
};

struct stress_vm {
	pthread_mutex_t lock;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct shutdown_diag diag;	/* to explain a shutdown */
	u32 gen;	/* recreations: (process, index, gen) names a VM */
	bool inplace;	/* converts in place: its files say what is private */
	struct gfile files[NR_FILES];
	struct region regions[NR_REGIONS];
	/* memories of which a file of this VM may live on elsewhere */
	u32 ghosts[NR_GHOSTS];
	int nr_ghosts;
	bool ghost_overflow;
	u64 private[WINDOW_PAGES / 64];
};

/* An fd no live VM of this process owns, and what is known of its file. */
struct loose {
	int fd;		/* -1: free */
	u32 mem;
	u64 size;
	bool link, falloc;
	bool conv;	/* converts in place (and maps) */
	int owner_proc, owner_vm;
	u32 owner_gen;
};

/* What travels with an fd over the socket. */
struct fd_msg {
	u32 mem;
	u32 owner_gen;
	u64 size;
	u8 link, falloc, owner_proc, owner_vm, conv;
};

static struct stress_vm vms[NR_VMS];
static struct loose loose[NR_LOOSE];
static pthread_mutex_t loose_lock = PTHREAD_MUTEX_INITIALIZER;
/* The selftest library's VM set-up and teardown, one at a time. */
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static int sock;
static int proc;		/* 0: the parent, 1: the child */
static pid_t child;		/* in the parent: the child, until reaped */
static u32 next_mem;
static u64 seed;
static int nr_threads = 2;
static unsigned long max_ops = ~0ul;
static long seconds = 20;
static bool verbose;
static long base_unevictable_kb;
static struct timespec deadline;

/*
 * What happened to each memory, in memory both processes share: zeroings
 * (punches and conversions with ZERO) and conversions, counted when they
 * start and when they end, and host mappings, counted as they are made.
 * A zero that the guest reads right after its own write is a zeroing's
 * doing only if a zeroing of that memory overlapped the run; any other
 * zero is data lost.  Likewise a memory fault exit and a host SIGBUS on a
 * page just found shared need a conversion, and EAGAIN a host mapping.
 * Memories share counters modulo NR_MEM_COUNTERS, which can only excuse,
 * never accuse.
 */
#define NR_MEM_COUNTERS	1024
struct mem_count {
	u64 started, finished;			/* zeroings */
	u64 conv_started, conv_finished;	/* conversions */
	u64 mapped;				/* host mappings */
};

static struct mem_count *mem_counts;

static struct mem_count *mem_count(u32 mem)
{
	return &mem_counts[(mem + (mem >> 20) * (NR_MEM_COUNTERS / 2)) %
			   NR_MEM_COUNTERS];
}

static u64 load(u64 *counter)
{
	return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

static void count(u64 *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
}

/* ---- operations ---- */

enum kind {
	OP_CREATE, OP_LINK, OP_FALLOC, OP_BIND, OP_UNBIND, OP_ATTR,
	OP_PREFAULT, OP_TOUCH, OP_CLOSE, OP_SEND, OP_RECV, OP_RECREATE,
	OP_CONVERT, OP_HOST_TOUCH, NR_KINDS,
};

static const struct {
	const char *name;
	int weight;
} kinds[NR_KINDS] = {
	[OP_CREATE] = { "create", 24 },
	[OP_LINK] = { "link", 32 },
	[OP_FALLOC] = { "fallocate", 48 },
	[OP_BIND] = { "bind", 48 },
	[OP_UNBIND] = { "unbind", 8 },
	[OP_ATTR] = { "attributes", 32 },
	[OP_PREFAULT] = { "prefault", 24 },
	[OP_TOUCH] = { "touch", 96 },
	[OP_CLOSE] = { "close", 16 },
	[OP_SEND] = { "send", 12 },
	[OP_RECV] = { "recv", 12 },
	[OP_RECREATE] = { "recreate-vm", 1 },
	[OP_CONVERT] = { "convert", 48 },
	[OP_HOST_TOUCH] = { "host-touch", 24 },
};

#define NR_ARGS		7
#define NR_PAST		8

struct thread {
	pthread_t pthread;
	int id;
	u64 rng;
	unsigned long op;	/* index of the current operation */
	enum kind kind;
	u64 r[NR_ARGS];
	char desc[320];
	/* the last NR_PAST operations before this one, for a failure report */
	char past[NR_PAST][320];
	unsigned long done[NR_KINDS], skipped[NR_KINDS], failed_ok[NR_KINDS];
	unsigned long pages_checked, zeros_after_write, over_budget;
	unsigned long eagain, memory_faults, host_pages, host_sigbus, known;
};

/* What a process did, added up over its threads; the child sends its own. */
struct totals {
	unsigned long ops;
	/* succeeded, skipped, failed with an expected errno */
	unsigned long done[NR_KINDS], skipped[NR_KINDS], failed_ok[NR_KINDS];
	unsigned long pages_checked, zeros_after_write, over_budget;
	unsigned long eagain, memory_faults, host_pages, host_sigbus, known;
};

/* splitmix64: small, and good enough to draw operations from. */
static u64 next_rand(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Ends the process.  The parent first kills and reaps the child, so that
 * the child's VMs and files are gone before whatever runs next measures
 * memory; the child dies with the parent (PR_SET_PDEATHSIG).
 */
static void __noreturn die(int status)
{
	if (!proc && child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	_exit(status);
}

/*
 * Reports a broken invariant with all it takes to replay it, in one
 * write(), and ends the process: its peer and then the test fail with it.
 */
static void __noreturn __printf(2, 3) fail(struct thread *t, const char *fmt, ...)
{
	char msg[512], out[NR_PAST * 340 + 600];
	va_list ap;
	int len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t)
		len = snprintf(out, sizeof(out),
			       "FAIL seed %lu process %d thread %d op %lu: %s\n  %s\n  replay: gmem_stress --seed %lu --seconds %ld --threads %d --ops %lu\n",
			       seed, proc, t->id, t->op, t->desc, msg, seed,
			       seconds, nr_threads, t->op + 1);
	else
		len = snprintf(out, sizeof(out),
			       "FAIL seed %lu process %d: %s\n  replay: gmem_stress --seed %lu --seconds %ld --threads %d\n",
			       seed, proc, msg, seed, seconds, nr_threads);
	fflush(stdout);
	if (write(STDERR_FILENO, out, min(len, (int)sizeof(out) - 1)) < 0)
		die(2);
	if (t && !verbose) {
		unsigned long i = t->op > NR_PAST ? t->op - NR_PAST : 0;

		len = snprintf(out, sizeof(out), "  thread %d's operations before:\n",
			       t->id);
		for (; i < t->op && len < sizeof(out); i++)
			len += snprintf(out + len, sizeof(out) - len,
					"    op %lu: %s\n", i, t->past[i % NR_PAST]);
		if (write(STDERR_FILENO, out, min(len, (int)sizeof(out) - 1)) < 0)
			die(2);
	}
	die(1);
}

/* Appends what operation t->op found to its description, after " | ". */
static void __printf(2, 3) note(struct thread *t, const char *fmt, ...)
{
	size_t len = strlen(t->desc);
	va_list ap;

	if (len + 4 >= sizeof(t->desc))
		return;
	va_start(ap, fmt);
	len += snprintf(t->desc + len, sizeof(t->desc) - len, " | ");
	vsnprintf(t->desc + len, sizeof(t->desc) - len, fmt, ap);
	va_end(ap);
}

static void skip(struct thread *t)
{
	t->skipped[t->kind]++;
	note(t, "skipped");
}

/*
 * @err (0 or an errno) from call @c: it must be documented for @c and, if
 * @want is not -1, be @want.  Returns @err.
 */
static int check(struct thread *t, enum call c, int err, int want)
{
	if (!documented(c, err))
		fail(t, "%s: errno %d (%s) is not one it may return",
		     calls[c].name, err, strerror(err));
	if (want >= 0 && err != want)
		fail(t, "%s: errno %d (%s), expected %d (%s)", calls[c].name,
		     err, strerror(err), want, want ? strerror(want) : "success");
	if (err) {
		t->failed_ok[t->kind]++;
		note(t, "%s: %s", calls[c].name, strerror(err));
	}
	return err;
}

static u64 min64(u64 a, u64 b)
{
	return a < b ? a : b;
}

/*
 * A run of pages inside [0, @pages), drawn from @r: its first page in
 * *@first (the low bits), its length, 1 to @max, returned (the high ones).
 */
static u64 draw_run(u64 r, u64 pages, u64 max, u64 *first)
{
	*first = r % pages;
	return 1 + (r >> 32) % min64(pages - *first, max);
}

static int errno_of(long r)
{
	return r < 0 ? errno : 0;
}

static long meminfo_unevictable_kb(void)
{
	return meminfo_kb("Unevictable");
}

/* Whether allocating more would take gmem past BUDGET_KB. */
static bool over_budget(struct thread *t)
{
	if (meminfo_unevictable_kb() - base_unevictable_kb <= BUDGET_KB)
		return false;
	t->over_budget++;
	return true;
}

/* A size from 4 KiB to 64 MiB: a power of two of pages, or not. */
static u64 draw_size(u64 r)
{
	u64 pages = 1ull << (r % 15);

	if ((r >> 8) % 3 == 0)
		pages += (r >> 16) % 512;
	return min64(pages, MAX_PAGES) * PAGE_SIZE;
}

/* A file slot or loose fd: VM index and slot, or NR_VMS and loose index. */
static void draw_file(u64 r, int *vm, int *idx)
{
	r %= NR_VMS * NR_FILES + NR_LOOSE;
	if (r < NR_VMS * NR_FILES) {
		*vm = r / NR_FILES;
		*idx = r % NR_FILES;
	} else {
		*vm = NR_VMS;
		*idx = r - NR_VMS * NR_FILES;
	}
}

static const char *file_name(int vm, int idx, char *buf, size_t len)
{
	if (vm < NR_VMS)
		snprintf(buf, len, "vm%d.file%d", vm, idx);
	else
		snprintf(buf, len, "loose%d", idx);
	return buf;
}

/* A view of a file slot or loose fd, whatever it is. */
struct fview {
	int fd;
	u32 mem;
	u64 size;
	bool link, falloc;
	bool conv;	/* converts in place (and maps) */
	struct gfile *gf;	/* NULL for a loose fd */
	struct loose *l;
};

static bool get_file(int vm, int idx, struct fview *v)
{
	memset(v, 0, sizeof(*v));
	if (vm < NR_VMS) {
		struct gfile *f = &vms[vm].files[idx];

		if (!f->used || f->fd < 0)
			return false;
		*v = (struct fview){
			.fd = f->fd, .mem = f->mem, .size = f->size,
			.link = f->link, .falloc = f->falloc,
			.conv = vms[vm].inplace, .gf = f,
		};
	} else {
		struct loose *l = &loose[idx];

		if (l->fd < 0)
			return false;
		*v = (struct fview){
			.fd = l->fd, .mem = l->mem, .size = l->size,
			.link = l->link, .falloc = l->falloc, .conv = l->conv,
			.l = l,
		};
	}
	return true;
}

/* Locks VMs @a and @b (either may be NR_VMS: none) in index order. */
static void lock_two(int a, int b)
{
	if (a > b) {
		int c = a;

		a = b;
		b = c;
	}
	if (a < NR_VMS)
		pthread_mutex_lock(&vms[a].lock);
	if (b < NR_VMS && b != a)
		pthread_mutex_lock(&vms[b].lock);
	pthread_mutex_lock(&loose_lock);
}

static void unlock_two(int a, int b)
{
	pthread_mutex_unlock(&loose_lock);
	if (a < NR_VMS)
		pthread_mutex_unlock(&vms[a].lock);
	if (b < NR_VMS && b != a)
		pthread_mutex_unlock(&vms[b].lock);
}

static void add_ghost(struct stress_vm *s, u32 mem)
{
	if (s->nr_ghosts < NR_GHOSTS)
		s->ghosts[s->nr_ghosts++] = mem;
	else
		s->ghost_overflow = true;
}

/*
 * Whether @s has a file on memory @mem: 1 yes, 0 no, -1 perhaps (one was
 * sent to the other process, which may still hold it).
 */
static int vm_has_mem(struct stress_vm *s, u32 mem)
{
	int i;

	for (i = 0; i < NR_FILES; i++)
		if (s->files[i].used && s->files[i].mem == mem)
			return 1;
	if (s->ghost_overflow)
		return -1;
	for (i = 0; i < s->nr_ghosts; i++)
		if (s->ghosts[i] == mem)
			return -1;
	return 0;
}

/* The file slot's fd is closed; forget the file once no memslot holds it. */
static void file_fd_closed(struct stress_vm *s, struct gfile *f)
{
	f->fd = -1;
	if (f->bound)
		return;
	if (f->sent)
		add_ghost(s, f->mem);
	f->used = false;
}

/* ---- VMs ---- */

/* A new VM for @s; one that converts in place if @inplace. */
static void vm_up(struct stress_vm *s, bool inplace)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	int i;

	pthread_mutex_lock(&lib_lock);
	s->vm = vm_create_shape_with_one_vcpu(shape, &s->vcpu, guest_code);
	/* Before it has a guest_memfd, as it must. */
	if (inplace)
		vm_enable_cap(s->vm, KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES_GMEM,
			      KVM_MEMORY_ATTRIBUTE_PRIVATE);
	virt_map_level(s->vm, WINDOW_GPA, WINDOW_GPA, WINDOW_SIZE,
		       PG_LEVEL_2M);
	shutdown_diag_save(&s->diag, s->vm, s->vcpu);
	pthread_mutex_unlock(&lib_lock);
	for (i = 0; i < NR_REGIONS; i++)
		s->regions[i].file = -1;
	memset(s->private, 0, sizeof(s->private));
	s->inplace = inplace;
	s->nr_ghosts = 0;
	s->ghost_overflow = false;
}

/*
 * close() of an fd the model holds open: an error (EBADF) means the model
 * is wrong.  @t may be NULL (the end of the run).
 */
static void close_fd(struct thread *t, int fd)
{
	if (close(fd))
		fail(t, "close(%d): errno %d (%s): the model's fd was not open",
		     fd, errno, strerror(errno));
}

/* Moves @f's fd to a free loose slot, else closes it. */
static void orphan_file(struct thread *t, struct stress_vm *s, int vm,
			struct gfile *f)
{
	int i;

	for (i = 0; i < NR_LOOSE; i++) {
		if (loose[i].fd >= 0)
			continue;
		loose[i] = (struct loose){
			.fd = f->fd, .mem = f->mem, .size = f->size,
			.link = f->link, .falloc = f->falloc, .conv = s->inplace,
			.owner_proc = proc, .owner_vm = vm, .owner_gen = s->gen,
		};
		return;
	}
	close_fd(t, f->fd);
}

/*
 * Destroys @s's VM; its open guest_memfds are closed, or kept if @keep.
 * Called with loose_lock held (or alone, at the end): the new generation
 * is in place before op_recv() can see a file of the old one come back.
 */
static void vm_down(struct thread *t, struct stress_vm *s, int vm, bool keep)
{
	int i;

	for (i = 0; i < NR_FILES; i++) {
		struct gfile *f = &s->files[i];

		if (f->used && f->fd >= 0) {
			if (keep)
				orphan_file(t, s, vm, f);
			else
				close_fd(t, f->fd);
		}
		f->used = false;
		f->bound = 0;
	}
	WRITE_ONCE(s->gen, s->gen + 1);
	pthread_mutex_lock(&lib_lock);
	kvm_vm_free(s->vm);
	pthread_mutex_unlock(&lib_lock);
	shutdown_diag_free(&s->diag);
	s->vm = NULL;
	for (i = 0; i < NR_REGIONS; i++) {
		struct region *rg = &s->regions[i];

		if (rg->file >= 0)
			munmap(rg->hva, rg->size);
		rg->file = -1;
	}
}

static bool is_private(struct stress_vm *s, u64 gpa)
{
	u64 i = (gpa - WINDOW_GPA) / PAGE_SIZE;

	return s->private[i / 64] & BIT_ULL(i % 64);
}

/* ---- the operations: each draws its arguments from t->r[] ---- */

static void op_create(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, idx = t->r[1] % NR_FILES;
	u64 size = draw_size(t->r[2]), flags = 0;
	bool link = t->r[3] & 1, huge = t->r[3] & 2;
	/* In place: MMAP always but now and then, some INIT_SHARED. */
	bool init_shared = t->r[3] & 4, no_mmap = (t->r[3] >> 8) % 16 == 0;
	struct stress_vm *s = &vms[vm];
	struct gfile *f = &s->files[idx];
	struct kvm_enable_cap cap = { .cap = KVM_CAP_GUEST_MEMFD_LINK };
	int fd;

	snprintf(t->desc, sizeof(t->desc),
		 "create vm%d.file%d size 0x%lx%s%s", vm, idx,
		 size, link ? " linkable" : "",
		 huge ? " 2M-pages" : " 4K-pages");
	pthread_mutex_lock(&s->lock);
	if (f->used) {
		skip(t);
		goto out;
	}
	cap.args[0] = link;
	check(t, C_CAP, errno_of(__vm_ioctl(s->vm, KVM_ENABLE_CAP, &cap)), 0);
	cap.cap = KVM_CAP_GUEST_MEMFD_HUGEPAGE;
	cap.args[0] = huge ? PAGE_SIZE | SZ_2M : PAGE_SIZE;
	check(t, C_CAP, errno_of(__vm_ioctl(s->vm, KVM_ENABLE_CAP, &cap)), 0);
	if (s->inplace) {
		flags = (no_mmap ? 0 : MMAP) | (init_shared ? INIT_SHARED : 0);
		note(t, "in place, flags 0x%lx", flags);
	}
	fd = __vm_create_guest_memfd(s->vm, size, flags);
	if (check(t, C_CREATE, errno_of(fd), s->inplace && no_mmap ? EINVAL : 0))
		goto out;
	*f = (struct gfile){
		.used = true, .fd = fd,
		.mem = proc << 20 | __atomic_add_fetch(&next_mem, 1,
						       __ATOMIC_RELAXED),
		.size = size, .link = link, .falloc = true,
	};
	t->done[t->kind]++;
out:
	pthread_mutex_unlock(&s->lock);
}

static void op_link(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, idx = t->r[1] % NR_FILES, src_vm, src_idx;
	u64 flags = t->r[3] % 4 == 0 ? KVM_LINK_GUEST_MEMFD_NO_FALLOCATE : 0;
	struct stress_vm *s = &vms[vm];
	struct gfile *f = &s->files[idx];
	struct kvm_link_guest_memfd args = {};
	struct fview src;
	char name[32];
	int want, has, fd, err;

	if (t->r[4] % 4 == 0)
		flags |= KVM_LINK_GUEST_MEMFD_NO_LINK;
	draw_file(t->r[2], &src_vm, &src_idx);
	snprintf(t->desc, sizeof(t->desc),
		 "link %s into vm%d.file%d flags 0x%lx",
		 file_name(src_vm, src_idx, name, sizeof(name)), vm, idx,
		 flags);
	lock_two(vm, src_vm);
	if (f->used || !get_file(src_vm, src_idx, &src)) {
		skip(t);
		goto out;
	}
	args.fd = src.fd;
	args.flags = flags;
	fd = __vm_ioctl(s->vm, KVM_LINK_GUEST_MEMFD, &args);
	err = errno_of(fd);
	/*
	 * The adapter checks for a file of this VM on the memory first, then
	 * that the VM and the memory agree on converting in place, then the
	 * link right.  A file sent away may still be alive.
	 */
	has = vm_has_mem(s, src.mem);
	if (has > 0 || src.conv != s->inplace || (has < 0 && err == EINVAL))
		want = EINVAL;
	else
		want = src.link ? 0 : EPERM;
	check(t, C_LINK, err, want);
	if (fd >= 0) {
		*f = (struct gfile){
			.used = true, .fd = fd, .mem = src.mem,
			.size = src.size,
			.link = src.link &&
				!(flags & KVM_LINK_GUEST_MEMFD_NO_LINK),
			.falloc = src.falloc &&
				  !(flags & KVM_LINK_GUEST_MEMFD_NO_FALLOCATE),
		};
		t->done[t->kind]++;
	}
out:
	unlock_two(vm, src_vm);
}

static void op_falloc(struct thread *t)
{
	bool punch = t->r[1] & 1, huge = t->r[1] & 2;
	bool past = (t->r[1] >> 4) % 16 < 2;
	u64 unit = huge ? SZ_2M : PAGE_SIZE;
	int vm, idx, want, err;
	struct fview v;
	u64 off, len;
	char name[32];

	draw_file(t->r[0], &vm, &idx);
	snprintf(t->desc, sizeof(t->desc), "%s %s %s-aligned%s (r 0x%lx 0x%lx)",
		 punch ? "punch" : "allocate",
		 file_name(vm, idx, name, sizeof(name)), huge ? "2M" : "4K",
		 past ? " reaching past the end" : "",
		 t->r[2], t->r[3]);
	if (!punch && over_budget(t)) {
		skip(t);
		return;
	}
	lock_two(vm, vm);
	if (!get_file(vm, idx, &v)) {
		skip(t);
		goto out;
	}
	/*
	 * An allocation takes up to FALLOC_PAGES, a punch anything up to the
	 * end of the file: memory comes back as fast as it goes.
	 */
	off = (t->r[2] % ((v.size + unit - 1) / unit)) * unit;
	if (punch)
		len = (1 + t->r[3] % ((v.size - off + unit - 1) / unit)) * unit;
	else
		len = (1 + t->r[3] % (FALLOC_PAGES * PAGE_SIZE / unit)) * unit;
	if (past)
		len = v.size - off + PAGE_SIZE;
	else if (off + len > v.size)
		len = v.size - off;
	if (!v.falloc)
		want = EPERM;
	else if (!punch && off + len > v.size)
		want = EINVAL;
	else
		want = 0;
	note(t, "fd %d mem 0x%x size 0x%lx offset 0x%lx len 0x%lx", v.fd,
	     v.mem, v.size, off, len);
	if (punch)
		count(&mem_count(v.mem)->started);
	err = errno_of(fallocate(v.fd, FALLOC_FL_KEEP_SIZE |
				 (punch ? FALLOC_FL_PUNCH_HOLE : 0), off, len));
	if (punch)
		count(&mem_count(v.mem)->finished);
	if (!check(t, punch ? C_PUNCH : C_ALLOC, err, want))
		t->done[t->kind]++;
out:
	unlock_two(vm, vm);
}

/*
 * KVM_SET_MEMORY_ATTRIBUTES, and the model's copy of them.  A VM that
 * converts in place has none of its own: PRIVATE is EINVAL.
 */
static int set_attributes(struct thread *t, struct stress_vm *s, u64 gpa,
			  u64 size, bool private)
{
	struct kvm_memory_attributes attr = {
		.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
		.address = gpa,
		.size = size,
	};
	u64 p;

	if (check(t, C_ATTR, errno_of(__vm_ioctl(s->vm, KVM_SET_MEMORY_ATTRIBUTES,
						 &attr)),
		  s->inplace && private ? EINVAL : 0))
		return -1;
	for (p = (gpa - WINDOW_GPA) / PAGE_SIZE;
	     p < (gpa + size - WINDOW_GPA) / PAGE_SIZE; p++) {
		if (private)
			s->private[p / 64] |= BIT_ULL(p % 64);
		else
			s->private[p / 64] &= ~BIT_ULL(p % 64);
	}
	return 0;
}

static int set_region(struct stress_vm *s, int i, u64 gpa, u64 size, int fd,
		      u64 offset, void *hva)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = FIRST_SLOT + i,
		.flags = size ? KVM_MEM_GUEST_MEMFD : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (u64)hva,
		.guest_memfd_offset = offset,
		.guest_memfd = fd,
	};

	return __vm_ioctl(s->vm, KVM_SET_USER_MEMORY_REGION2, &region);
}

static bool ranges_overlap(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

static void op_bind(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, i = t->r[1] % NR_REGIONS, fvm, fidx, j;
	bool huge = t->r[4] & 1, congruent = t->r[4] & 2;
	bool past = (t->r[4] >> 4) % 16 == 0, private = t->r[6] & 1;
	u64 unit = huge ? SZ_2M : PAGE_SIZE;
	struct stress_vm *s = &vms[vm];
	struct region *rg = &s->regions[i];
	u64 off, size, gpa, slot_off;
	struct fview v;
	char name[32];
	void *hva;
	int want;

	/* Mostly a file of this VM, sometimes any. */
	if (t->r[2] % 8)
		fvm = vm, fidx = (t->r[2] >> 8) % NR_FILES;
	else
		draw_file(t->r[2] >> 8, &fvm, &fidx);
	snprintf(t->desc, sizeof(t->desc),
		 "bind vm%d.slot%d to %s %s-aligned%s%s%s (r 0x%lx 0x%lx)",
		 vm, i, file_name(fvm, fidx, name, sizeof(name)),
		 huge ? "2M" : "4K", congruent ? " congruent" : "",
		 past ? " past the end" : "", private ? " private" : "",
		 t->r[3], t->r[5]);
	lock_two(vm, fvm);
	if (rg->file >= 0 || !get_file(fvm, fidx, &v)) {
		skip(t);
		goto out;
	}
	off = (t->r[3] % ((v.size + unit - 1) / unit)) * unit;
	if (off >= v.size)
		off = 0;
	size = (1 + (t->r[3] >> 32) % ((v.size - off + unit - 1) / unit)) * unit;
	size = min(size, round_up(v.size - off, PAGE_SIZE));
	if (past)	/* the same size, a page further than the file goes */
		off = v.size - size + PAGE_SIZE;
	slot_off = (t->r[5] % ((REGION_SIZE - size) / PAGE_SIZE + 1)) * PAGE_SIZE;
	if (congruent) {
		slot_off = round_down(slot_off, SZ_2M) + (off & (SZ_2M - 1));
		if (slot_off + size > REGION_SIZE)
			slot_off = off & (SZ_2M - 1);
		if (slot_off + size > REGION_SIZE)
			slot_off = 0;
	}
	gpa = WINDOW_GPA + i * REGION_SIZE + slot_off;

	if (fvm != vm)
		want = EINVAL;		/* another VM's, or a dead VM's */
	else if (past)
		want = EINVAL;
	else
		want = 0;
	for (j = 0; !want && j < NR_REGIONS; j++) {
		struct region *o = &s->regions[j];

		if (o->file == fidx && ranges_overlap(off, size, o->offset, o->size))
			want = EEXIST;
	}
	note(t, "fd %d mem 0x%x size 0x%lx, offset 0x%lx size 0x%lx gpa 0x%lx",
	     v.fd, v.mem, v.size, off, size, gpa);
	/*
	 * In place, the VMM's mapping of the file, as a VMM passes it: KVM
	 * maps the guest from the file, not from here, but a conversion
	 * unmaps it all the same, and KVM hears of that.
	 */
	if (s->inplace && v.conv)
		hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   v.fd, off);
	else
		hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(hva != MAP_FAILED, "mmap");
	if (check(t, C_BIND, errno_of(set_region(s, i, gpa, size, v.fd, off, hva)),
		  want)) {
		munmap(hva, size);
		goto out;
	}
	*rg = (struct region){
		.file = fidx, .gpa = gpa, .size = size, .offset = off,
		.hva = hva,
	};
	s->files[fidx].bound++;
	if (private)
		set_attributes(t, s, gpa, size, true);
	t->done[t->kind]++;
out:
	unlock_two(vm, fvm);
}

static void op_unbind(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, i = t->r[1] % NR_REGIONS;
	struct stress_vm *s = &vms[vm];
	struct region *rg = &s->regions[i];
	struct gfile *f;

	snprintf(t->desc, sizeof(t->desc), "unbind vm%d.slot%d", vm, i);
	lock_two(vm, vm);
	if (rg->file < 0) {
		skip(t);
		goto out;
	}
	check(t, C_UNBIND, errno_of(set_region(s, i, rg->gpa, 0, 0, 0, NULL)), 0);
	munmap(rg->hva, rg->size);
	f = &s->files[rg->file];
	rg->file = -1;
	if (!--f->bound && f->fd < 0)
		file_fd_closed(s, f);
	t->done[t->kind]++;
out:
	unlock_two(vm, vm);
}

static void op_attr(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, i = t->r[1] % NR_REGIONS;
	/*
	 * Mostly private (the guest touches only private pages), mostly
	 * the whole memslot.
	 */
	bool whole = t->r[2] % 4 != 0, private = (t->r[2] >> 8) % 4 != 0;
	struct stress_vm *s = &vms[vm];
	struct region *rg = &s->regions[i];
	u64 p, gpa, size;

	snprintf(t->desc, sizeof(t->desc), "set %s vm%d.slot%d %s (r 0x%lx)",
		 private ? "private" : "shared", vm, i,
		 whole ? "the whole memslot" : "a range",
		 t->r[3]);
	pthread_mutex_lock(&s->lock);
	if (whole && rg->file >= 0) {
		gpa = rg->gpa;
		size = rg->size;
	} else {
		size = draw_run(t->r[3], REGION_PAGES, 4096, &p) * PAGE_SIZE;
		gpa = WINDOW_GPA + i * REGION_SIZE + p * PAGE_SIZE;
	}
	note(t, "gpa 0x%lx size 0x%lx", gpa, size);
	if (!set_attributes(t, s, gpa, size, private))
		t->done[t->kind]++;
	pthread_mutex_unlock(&s->lock);
}

static void op_prefault(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, i = t->r[1] % NR_REGIONS;
	bool inside = t->r[2] % 4 != 0;
	struct stress_vm *s = &vms[vm];
	struct region *rg = &s->regions[i];
	struct kvm_pre_fault_memory range = {};
	struct mem_count *mc = NULL;
	u64 p, n, conv_done = 0;
	int err, want;

	snprintf(t->desc, sizeof(t->desc), "prefault vm%d.slot%d %s (r 0x%lx)",
		 vm, i, inside ? "inside the memslot" : "anywhere in its region",
		 t->r[3]);
	if (over_budget(t)) {
		skip(t);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (inside && rg->file < 0) {
		skip(t);
		goto out;
	}
	if (inside) {
		n = draw_run(t->r[3], rg->size / PAGE_SIZE, PREFAULT_PAGES, &p);
		range.gpa = rg->gpa + p * PAGE_SIZE;
	} else {
		n = draw_run(t->r[3], REGION_PAGES, PREFAULT_PAGES, &p);
		range.gpa = WINDOW_GPA + i * REGION_SIZE + p * PAGE_SIZE;
	}
	range.size = n * PAGE_SIZE;
	note(t, "gpa 0x%lx size 0x%lx", (u64)range.gpa, (u64)range.size);
	if (inside && s->inplace) {
		mc = mem_count(s->files[rg->file].mem);
		conv_done = load(&mc->conv_finished);
	}
	do {
		err = errno_of(__vcpu_ioctl(s->vcpu, KVM_PRE_FAULT_MEMORY, &range));
	} while (!err && range.size);
	want = inside ? 0 : -1;
	/* A page that a conversion changed under the fault: a memory fault. */
	if (mc && err == EFAULT && load(&mc->conv_started) != conv_done)
		want = EFAULT;
	if (!check(t, C_PREFAULT, err, want))
		t->done[t->kind]++;
out:
	pthread_mutex_unlock(&s->lock);
}

/* Whether @page of a file, found zero, lost the tag @h says it held. */
static bool lost(const struct held *h, u64 page, u64 found, u64 zeroings)
{
	return !found && page - h->first < h->n && zeroings == h->zeroings;
}

/*
 * KVM_RUN until the guest reports.  On a VM that converts in place, a page
 * that a conversion changed under a fault exits with a memory fault:
 * upstream's answer to the race, which the VMM answers by running again.
 * Any other errno fails: nothing here interrupts the vCPU (EINTR), and
 * every page it touches is in a bound memslot and, unless the VM converts
 * in place, private.
 */
static void run_vcpu(struct thread *t, struct stress_vm *s,
		     struct mem_count *mc)
{
	u64 conv_done = load(&mc->conv_finished);
	struct kvm_run *run = s->vcpu->run;
	int err, tries = 0;

	for (;;) {
		err = errno_of(_vcpu_run(s->vcpu));
		if (!err)
			break;
		if (err != EFAULT || !s->inplace ||
		    run->exit_reason != KVM_EXIT_MEMORY_FAULT)
			fail(t, "KVM_RUN: errno %d (%s), exit reason %u", err,
			     strerror(err), run->exit_reason);
		if (load(&mc->conv_started) == conv_done)
			fail(t,
			     "KVM_RUN: memory fault at gpa 0x%llx (flags 0x%llx), no conversion of its memory meanwhile",
			     run->memory_fault.gpa, run->memory_fault.flags);
		if (++tries == FAULT_RETRIES)
			fail(t, "KVM_RUN: %d memory faults in a row, the last at gpa 0x%llx",
			     tries, run->memory_fault.gpa);
		t->memory_faults++;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		u32 exit_reason = run->exit_reason;

		if (exit_reason == KVM_EXIT_SHUTDOWN)
			shutdown_diag_explain(&s->diag, s->vm, s->vcpu, "  # ");
		fail(t, "KVM_RUN: exit reason %u (%s), expected KVM_EXIT_IO",
		     exit_reason, exit_reason_str(exit_reason));
	}
}

static void op_touch(struct thread *t)
{
	int vm = t->r[0] % NR_VMS, i = t->r[1] % NR_REGIONS;
	bool write = t->r[2] % 4 != 0;
	struct stress_vm *s = &vms[vm];
	struct region *rg = &s->regions[i];
	u64 p, n, k, zeroings, started, page[TOUCH_PAGES];
	struct mem_count *mc;
	struct guest_req *g;
	struct gfile *f;
	struct ucall uc;
	bool all_tags;

	snprintf(t->desc, sizeof(t->desc), "touch vm%d.slot%d %s (r 0x%lx)",
		 vm, i, write ? "write+read" : "read",
		 t->r[3]);
	if (over_budget(t)) {
		skip(t);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (rg->file < 0) {
		skip(t);
		goto out;
	}
	f = &s->files[rg->file];
	mc = mem_count(f->mem);
	g = addr_gva2hva(s->vm, (vm_vaddr_t)&req);
	n = draw_run(t->r[3], rg->size / PAGE_SIZE, TOUCH_PAGES, &p);
	g->n = 0;
	g->write = write;
	/* In place, shared pages are the file's too: the vCPU touches all. */
	for (k = p; k < p + n; k++) {
		u64 gpa = rg->gpa + k * PAGE_SIZE;

		if (!s->inplace && !is_private(s, gpa))
			continue;
		page[g->n] = rg->offset / PAGE_SIZE + k;
		g->t[g->n].gpa = gpa;
		g->t[g->n].tag = tag(f->mem, page[g->n]);
		g->n++;
	}
	note(t, "gpa 0x%lx, %lu pages, %lu %s, mem 0x%x offset 0x%lx",
	     (u64)(rg->gpa + p * PAGE_SIZE), n, g->n,
	     s->inplace ? "in place" : "private", f->mem,
	     (u64)(rg->offset + p * PAGE_SIZE));
	if (!g->n) {
		skip(t);
		goto out;
	}
	zeroings = load(&mc->finished);
	run_vcpu(t, s, mc);
	switch (get_ucall(s->vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		/* REPORT_GUEST_ASSERT(), with the seed and the replay line */
		fail(t, "guest assertion at %s:%lu: %s: %s",
		     (const char *)uc.args[GUEST_FILE], uc.args[GUEST_LINE],
		     (const char *)uc.args[GUEST_ERROR_STRING], uc.buffer);
	default:
		fail(t, "unexpected ucall %lu", uc.cmd);
	}
	if (uc.args[0]) {
		struct touch *bad = &g->t[min64(uc.args[1], g->n - 1)];

		fail(t, "the guest read 0x%lx at gpa 0x%lx (%lu bad reads), expected 0x%lx or 0",
		     uc.args[2],
		     bad->gpa,
		     uc.args[0],
		     bad->tag);
	}
	for (k = 0; !s->inplace && k < g->n; k++) {
		u64 *shared = rg->hva + (g->t[k].gpa - rg->gpa);

		if (READ_ONCE(*shared))
			fail(t, "the shared view of private gpa 0x%lx holds 0x%lx",
			     g->t[k].gpa,
			     *shared);
	}
	started = load(&mc->started);
	if (uc.args[3] && started == zeroings)
		fail(t, "zero read right after own write %lu times, no punch of mem 0x%x meanwhile",
		     uc.args[3], f->mem);
	all_tags = g->n == n && !uc.args[3];
	for (k = 0; k < g->n; k++) {
		t->known += lost(&f->held, page[k], 0, started);
		if (lost(&f->held, page[k], g->t[k].first, started))
			fail(t,
			     "the guest read zero at gpa 0x%lx, where it found the tag before (file pages 0x%lx+%lu), and no zeroing of mem 0x%x since",
			     g->t[k].gpa, f->held.first, f->held.n, f->mem);
		all_tags &= write || g->t[k].first;
	}
	if (all_tags)
		f->held = (struct held){
			.first = page[0], .n = n, .zeroings = zeroings,
		};
	t->pages_checked += g->n;
	t->zeros_after_write += uc.args[3];
	t->done[t->kind]++;
out:
	pthread_mutex_unlock(&s->lock);
}

static void op_close(struct thread *t)
{
	int vm, idx;
	struct fview v;
	char name[32];

	draw_file(t->r[0], &vm, &idx);
	snprintf(t->desc, sizeof(t->desc), "close %s",
		 file_name(vm, idx, name, sizeof(name)));
	lock_two(vm, vm);
	if (!get_file(vm, idx, &v)) {
		skip(t);
		goto out;
	}
	check(t, C_CLOSE, errno_of(close(v.fd)), 0);
	if (v.gf)
		file_fd_closed(&vms[vm], v.gf);
	else
		v.l->fd = -1;
	t->done[t->kind]++;
out:
	unlock_two(vm, vm);
}

static void op_send(struct thread *t)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct fd_msg m = {};
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	struct fview v;
	int vm, idx, err;
	char name[32];

	draw_file(t->r[0], &vm, &idx);
	snprintf(t->desc, sizeof(t->desc), "send %s",
		 file_name(vm, idx, name, sizeof(name)));
	lock_two(vm, vm);
	if (!get_file(vm, idx, &v)) {
		skip(t);
		goto out;
	}
	m = (struct fd_msg){
		.mem = v.mem, .size = v.size, .link = v.link,
		.falloc = v.falloc, .owner_proc = proc, .owner_vm = vm,
		.conv = v.conv,
	};
	if (v.gf) {
		m.owner_gen = vms[vm].gen;
	} else {
		m.owner_proc = v.l->owner_proc;
		m.owner_vm = v.l->owner_vm;
		m.owner_gen = v.l->owner_gen;
	}
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &v.fd, sizeof(int));
	err = errno_of(sendmsg(sock, &msg, MSG_DONTWAIT));
	/* The other end is gone: that process failed, or was killed. */
	if (err == ECONNREFUSED || err == EPIPE || err == ENOTCONN)
		fail(NULL, "process %d died", !proc);
	if (!check(t, C_SEND, err, -1)) {
		if (v.gf)
			v.gf->sent = true;
		t->done[t->kind]++;
	}
out:
	unlock_two(vm, vm);
}

static void op_recv(struct thread *t)
{
	int idx = t->r[0] % NR_LOOSE, fd, err;
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct fd_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	struct loose *l = &loose[idx];

	snprintf(t->desc, sizeof(t->desc), "receive into loose%d", idx);
	pthread_mutex_lock(&loose_lock);
	if (l->fd >= 0) {
		skip(t);
		goto out;
	}
	err = errno_of(recvmsg(sock, &msg, MSG_DONTWAIT));
	if (check(t, C_RECV, err, -1))
		goto out;
	cmsg = CMSG_FIRSTHDR(&msg);
	TEST_ASSERT(cmsg && cmsg->cmsg_type == SCM_RIGHTS, "no fd received");
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	/*
	 * A file of one of this process's live VMs, back from a round trip:
	 * the model keeps VM files in their slots only, so let it go.
	 */
	if (m.owner_proc == proc &&
	    READ_ONCE(vms[m.owner_vm].gen) == m.owner_gen) {
		close_fd(t, fd);
	} else {
		*l = (struct loose){
			.fd = fd, .mem = m.mem, .size = m.size,
			.link = m.link, .falloc = m.falloc, .conv = m.conv,
			.owner_proc = m.owner_proc, .owner_vm = m.owner_vm,
			.owner_gen = m.owner_gen,
		};
	}
	t->done[t->kind]++;
out:
	pthread_mutex_unlock(&loose_lock);
}

static void op_recreate(struct thread *t)
{
	int vm = t->r[0] % NR_VMS;
	bool keep = t->r[1] & 1, inplace = t->r[2] & 1;
	struct stress_vm *s = &vms[vm];

	snprintf(t->desc, sizeof(t->desc),
		 "recreate vm%d, %s its guest_memfds, %s", vm,
		 keep ? "keeping" : "closing",
		 inplace ? "converting in place" : "not converting");
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&loose_lock);
	vm_down(t, s, vm, keep);
	pthread_mutex_unlock(&loose_lock);
	vm_up(s, inplace);
	t->done[t->kind]++;
	pthread_mutex_unlock(&s->lock);
}

/*
 * A file slot or loose fd as draw_file() draws it from @r, but mostly of a
 * VM that converts in place: a VM's slot drawn on a VM that does not moves
 * to the next VM that does, unless @keep says to stay (one time in 8, to
 * see the errno).  The VM's lock, taken next, confirms what it is.
 */
static void draw_inplace_file(u64 r, u64 keep, int *vm, int *idx)
{
	int k;

	draw_file(r, vm, idx);
	if (*vm == NR_VMS || keep % 8 == 0)
		return;
	for (k = 0; k < NR_VMS; k++) {
		if (READ_ONCE(vms[(*vm + k) % NR_VMS].inplace)) {
			*vm = (*vm + k) % NR_VMS;
			return;
		}
	}
}

/*
 * A range of a file of @pages pages for a conversion, drawn from @shape,
 * @r1 and @r2: often inside one 2 MiB block, sometimes whole blocks,
 * sometimes across blocks, sometimes the whole file.  Its first page in
 * *@first; returns its length.
 */
static u64 draw_convert_range(u64 shape, u64 r1, u64 r2, u64 pages,
			      u64 *first)
{
	const u64 block = SZ_2M / PAGE_SIZE;
	u64 blocks = (pages + block - 1) / block, b;

	switch (shape % 8) {
	case 0 ... 3:
		*first = r1 % pages;
		return 1 + r2 % min64(pages - *first, block - *first % block);
	case 4 ... 5:
		b = r1 % blocks;
		*first = b * block;
		return min64((1 + r2 % min64(blocks - b, 4)) * block,
			     pages - *first);
	case 6:
		*first = r1 % pages;
		return 1 + r2 % min64(pages - *first, 3 * block);
	default:
		*first = 0;
		return pages;
	}
}

/*
 * Converts a range of a file to private or shared, on a dup of its fd and
 * without the VM's lock: the VM's vCPU, pre-faults and punches race it,
 * and a recreation of the VM may detach the file meanwhile.
 */
static void op_convert(struct thread *t)
{
	bool private = t->r[4] & 1, past = t->r[5] % 16 == 0;
	u64 mode = (t->r[4] >> 1) % 8;
	/*
	 * Shared: no flag 3/8, PRESERVE 3/8, ZERO 2/8; private: ZERO
	 * (EOPNOTSUPP) 1/8, PRESERVE 4/8.
	 */
	u64 flags = mode < 3 ? 0 : mode < 6 || (private && mode == 7) ?
		    PRESERVE : ZERO;
	struct kvm_memory_attributes2 args = {};
	bool detached = true;
	struct mem_count *mc;
	int vm, idx, fd, err, want, tries;
	struct fview v;
	u64 first, n;
	char name[32];
	u32 gen = 0;

	draw_inplace_file(t->r[0], t->r[6], &vm, &idx);
	snprintf(t->desc, sizeof(t->desc),
		 "convert %s to %s flags 0x%lx%s (r 0x%lx 0x%lx 0x%lx)",
		 file_name(vm, idx, name, sizeof(name)),
		 private ? "private" : "shared", flags,
		 past ? " past the end" : "", t->r[1], t->r[2], t->r[3]);
	lock_two(vm, vm);
	if (!get_file(vm, idx, &v)) {
		skip(t);
		unlock_two(vm, vm);
		return;
	}
	fd = dup(v.fd);
	TEST_ASSERT(fd >= 0, "dup");
	if (vm < NR_VMS)
		gen = vms[vm].gen;
	unlock_two(vm, vm);

	n = draw_convert_range(t->r[1], t->r[2], t->r[3], v.size / PAGE_SIZE,
			       &first);
	if (past)
		n = v.size / PAGE_SIZE - first + 1;
	note(t, "mem 0x%x size 0x%lx offset 0x%lx size 0x%lx", v.mem, v.size,
	     (u64)(first * PAGE_SIZE), (u64)(n * PAGE_SIZE));
	mc = mem_count(v.mem);
	if (flags & ZERO)
		count(&mc->started);
	count(&mc->conv_started);
	for (tries = 1;; tries++) {
		args = (struct kvm_memory_attributes2){
			.offset = first * PAGE_SIZE,
			.size = n * PAGE_SIZE,
			.attributes = private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
			.flags = flags,
			.error_offset = ~0ull,
		};
		err = errno_of(ioctl(fd, KVM_SET_MEMORY_ATTRIBUTES2, &args));
		if (err != EAGAIN || !private)
			break;
		/*
		 * Only a page user space mapped can be held, and only for a
		 * moment here: the test pins nothing.
		 */
		if (args.error_offset < args.offset ||
		    args.error_offset >= args.offset + args.size ||
		    args.error_offset % PAGE_SIZE)
			fail(t, "EAGAIN with error_offset 0x%llx, outside the range or unaligned",
			     args.error_offset);
		if (!load(&mc->mapped))
			fail(t, "EAGAIN at 0x%llx, but no process has mapped mem 0x%x",
			     args.error_offset, v.mem);
		if (tries == CONVERT_TRIES * gmem_timeout_factor())
			fail(t, "EAGAIN at 0x%llx %d times in a row: a reference that stays",
			     args.error_offset, tries);
		t->eagain++;
		usleep(10 * 1000);
	}
	count(&mc->conv_finished);
	if (flags & ZERO)
		count(&mc->finished);
	close_fd(t, fd);
	/* A file of a VM not recreated meanwhile has its VM. */
	if (vm < NR_VMS)
		detached = READ_ONCE(vms[vm].gen) != gen;
	if (!v.conv || (detached && err == ENOTTY))
		want = ENOTTY;
	else if (past)
		want = EINVAL;
	else if (private && (flags & ZERO))
		want = EOPNOTSUPP;
	else if (!v.falloc)
		want = EPERM;
	else
		want = 0;
	if (tries > 1)
		note(t, "%d tries", tries);
	if (!check(t, C_CONVERT, err, want))
		t->done[t->kind]++;
}

/*
 * Where a SIGBUS of this thread goes, while bus_step says which step of
 * a host access it is at (0: none).
 */
static __thread sigjmp_buf bus_env;
static __thread int bus_step;

static void bus_handler(int sig)
{
	if (READ_ONCE(bus_step))
		siglongjmp(bus_env, 1);
	/* Not a host access: the access faults again, and kills. */
	signal(SIGBUS, SIG_DFL);
}

/*
 * The host's access to the first word of a page through a mapping of its
 * file: reads it into *@first, then, if @write, writes @val and reads it
 * back into *@after.  Returns 0, or the step a SIGBUS (a private page)
 * stopped: 1 the read, 2 the write or the read back.
 */
static int host_access(u64 *p, u64 val, bool write, u64 *first, u64 *after)
{
	int step;

	if (sigsetjmp(bus_env, 1)) {
		step = READ_ONCE(bus_step);
		WRITE_ONCE(bus_step, 0);
		return step;
	}
	WRITE_ONCE(bus_step, 1);
	*first = READ_ONCE(*p);
	WRITE_ONCE(bus_step, 2);
	if (write) {
		WRITE_ONCE(*p, val);
		*after = READ_ONCE(*p);
	}
	WRITE_ONCE(bus_step, 0);
	return 0;
}

/*
 * The host maps a run of a file's pages and touches each as the guest
 * does: reads the tag or zero, writes the tag and reads it back.  Private
 * pages are SIGBUS; the VM's lock is not held while it touches them.
 */
static void op_host_touch(struct thread *t)
{
	bool write = t->r[2] % 4 != 0;
	u64 p, n, k, zeroings, conv_done, started;
	u32 zero_first = 0, zero_after = 0, host_bus = 0;
	struct held held = {};
	struct mem_count *mc;
	int vm, idx, err;
	struct fview v;
	char name[32];
	void *map;

	draw_inplace_file(t->r[0], t->r[6], &vm, &idx);
	snprintf(t->desc, sizeof(t->desc), "host-touch %s %s (r 0x%lx)",
		 file_name(vm, idx, name, sizeof(name)),
		 write ? "write+read" : "read", t->r[1]);
	if (over_budget(t)) {
		skip(t);
		return;
	}
	lock_two(vm, vm);
	if (!get_file(vm, idx, &v)) {
		skip(t);
		unlock_two(vm, vm);
		return;
	}
	n = draw_run(t->r[1], v.size / PAGE_SIZE, TOUCH_PAGES, &p);
	if (v.gf)
		held = v.gf->held;
	mc = mem_count(v.mem);
	/* Counted first: a conversion's EAGAIN may follow from here on. */
	count(&mc->mapped);
	map = mmap(NULL, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   v.fd, p * PAGE_SIZE);
	err = errno_of(map == MAP_FAILED ? -1 : 0);
	unlock_two(vm, vm);
	note(t, "mem 0x%x offset 0x%lx, %lu pages", v.mem, (u64)(p * PAGE_SIZE),
	     n);
	if (check(t, C_MMAP, err, v.conv ? 0 : ENODEV))
		return;

	zeroings = load(&mc->finished);
	conv_done = load(&mc->conv_finished);
	for (k = 0; k < n; k++) {
		u64 *word = map + k * PAGE_SIZE, want = tag(v.mem, p + k);
		u64 found = 0, after = 0;

		switch (host_access(word, want, write, &found, &after)) {
		case 1:
			t->host_sigbus++;
			host_bus |= BIT(k);
			continue;
		case 2:
			if (load(&mc->conv_started) == conv_done)
				fail(t,
				     "SIGBUS on page 0x%lx right after reading it, no conversion of mem 0x%x meanwhile",
				     p + k, v.mem);
			t->host_sigbus++;
			host_bus |= BIT(k);
			continue;
		}
		if ((found && found != want) || (after && after != want))
			fail(t, "the host read 0x%lx then 0x%lx at page 0x%lx, expected 0x%lx or 0",
			     found, after, p + k, want);
		zero_first |= !found << k;
		zero_after |= (write && !after) << k;
		t->host_pages++;
	}
	munmap(map, n * PAGE_SIZE);
	started = load(&mc->started);
	if (zero_after && started == zeroings)
		fail(t,
		     "the host read zero right after its own write (pages 0x%x of the run), no punch of mem 0x%x meanwhile",
		     zero_after, v.mem);
	for (k = 0; k < n; k++) {
		if (!lost(&held, p + k, 0, started) || (host_bus & BIT(k)))
			continue;
		t->known++;
		if (zero_first & BIT(k))
			fail(t,
			     "the host read zero at page 0x%lx, where the guest found the tag before (pages 0x%lx+%lu), and no zeroing of mem 0x%x since",
			     p + k, held.first, held.n, v.mem);
	}
	t->done[t->kind]++;
}

static void (*const ops[NR_KINDS])(struct thread *t) = {
	[OP_CREATE] = op_create, [OP_LINK] = op_link,
	[OP_FALLOC] = op_falloc, [OP_BIND] = op_bind,
	[OP_UNBIND] = op_unbind, [OP_ATTR] = op_attr,
	[OP_PREFAULT] = op_prefault, [OP_TOUCH] = op_touch,
	[OP_CLOSE] = op_close, [OP_SEND] = op_send, [OP_RECV] = op_recv,
	[OP_RECREATE] = op_recreate, [OP_CONVERT] = op_convert,
	[OP_HOST_TOUCH] = op_host_touch,
};

/* Draws operation t->op: always 1 + NR_ARGS values, whatever the state. */
static void draw_op(struct thread *t)
{
	int total = 0, k, i;
	u64 r = next_rand(&t->rng);

	for (k = 0; k < NR_KINDS; k++)
		total += kinds[k].weight;
	r %= total;
	for (k = 0; r >= kinds[k].weight; k++)
		r -= kinds[k].weight;
	t->kind = k;
	for (i = 0; i < NR_ARGS; i++)
		t->r[i] = next_rand(&t->rng);
}

static bool time_left(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec);
}

/* One write() a line: whole lines, whichever process or thread prints. */
static void print_op(struct thread *t)
{
	char line[400];
	int len;

	len = snprintf(line, sizeof(line), "[%d.%d] op %lu: %s\n", proc, t->id,
		       t->op, t->desc);
	TEST_ASSERT(write(STDOUT_FILENO, line, min64(len, sizeof(line) - 1)) > 0,
		    "write");
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;

	for (t->op = 0; t->op < max_ops && time_left(); t->op++) {
		draw_op(t);
		t->desc[0] = 0;
		ops[t->kind](t);
		if (verbose)
			print_op(t);
		memcpy(t->past[t->op % NR_PAST], t->desc, sizeof(t->desc));
	}
	return NULL;
}

/* ---- a process: its VMs, its threads, then everything closed ---- */

static void run_process(struct totals *sum)
{
	struct thread threads[MAX_THREADS] = {};
	u64 r = seed ^ (u64)proc << 40;
	int i, k;

	/*
	 * VM 0 converts in place, VM 1 does not, VM 2 as the seed says; a
	 * recreated VM as its operation draws.
	 */
	r = next_rand(&r);
	for (i = 0; i < NR_VMS; i++) {
		pthread_mutex_init(&vms[i].lock, NULL);
		vm_up(&vms[i], i == 0 || (i > 1 && (r >> i) & 1));
	}
	for (i = 0; i < NR_LOOSE; i++)
		loose[i].fd = -1;

	for (i = 0; i < nr_threads; i++) {
		u64 s = seed ^ ((u64)proc << 40 | (u64)i << 32);

		threads[i].id = i;
		threads[i].rng = next_rand(&s);
		TEST_ASSERT(!pthread_create(&threads[i].pthread, NULL,
					    thread_main, &threads[i]),
			    "pthread_create");
	}
	for (i = 0; i < nr_threads; i++) {
		pthread_join(threads[i].pthread, NULL);
		sum->ops += threads[i].op;
		sum->pages_checked += threads[i].pages_checked;
		sum->zeros_after_write += threads[i].zeros_after_write;
		sum->over_budget += threads[i].over_budget;
		sum->eagain += threads[i].eagain;
		sum->memory_faults += threads[i].memory_faults;
		sum->host_pages += threads[i].host_pages;
		sum->host_sigbus += threads[i].host_sigbus;
		sum->known += threads[i].known;
		for (k = 0; k < NR_KINDS; k++) {
			sum->done[k] += threads[i].done[k];
			sum->skipped[k] += threads[i].skipped[k];
			sum->failed_ok[k] += threads[i].failed_ok[k];
		}
	}

	for (i = 0; i < NR_VMS; i++)
		vm_down(NULL, &vms[i], i, false);
	for (i = 0; i < NR_LOOSE; i++)
		if (loose[i].fd >= 0)
			close_fd(NULL, loose[i].fd);

	printf("process %d: %lu operations (succeeded/skipped/expected errors):",
	       proc, sum->ops);
	for (k = 0; k < NR_KINDS; k++)
		printf(" %s %lu/%lu/%lu", kinds[k].name, sum->done[k],
		       sum->skipped[k], sum->failed_ok[k]);
	printf("\nprocess %d: the guest checked %lu pages (private, or in place)",
	       proc, sum->pages_checked);
	printf(" and read zero right after its own write %lu times;",
	       sum->zeros_after_write);
	printf(" %lu operations waited for memory\n", sum->over_budget);
	/* One printf() a line: the other process prints at the same time. */
	printf("process %d: %lu memory fault exits run again, %lu EAGAIN tried again\n",
	       proc, sum->memory_faults, sum->eagain);
	printf("process %d: the host checked %lu pages, %lu SIGBUS; %lu where the tag was known\n",
	       proc, sum->host_pages, sum->host_sigbus, sum->known);
	fflush(stdout);
}

/*
 * A run in which the guest checked no page, or no memory was ever touched,
 * bound or allocated, checked nothing: it fails.
 */
static void check_did_something(const struct totals *a,
				const struct totals *b)
{
	static const enum kind needed[] = {
		OP_TOUCH, OP_BIND, OP_FALLOC, OP_CONVERT,
	};
	int i;

	if (!a->pages_checked && !b->pages_checked)
		fail(NULL, "the guest checked no page");
	for (i = 0; i < ARRAY_SIZE(needed); i++)
		if (!a->done[needed[i]] && !b->done[needed[i]])
			fail(NULL, "no %s operation succeeded",
			     kinds[needed[i]].name);
}

/*
 * Flushes @cache's per-CPU slabs back to its lists, so that /proc/slabinfo
 * counts only allocated objects as active: without slub_debug, 6.12's
 * get_slabinfo() counts every object of a per-CPU slab as active.  Nothing
 * to do if the cache has no shrink file.
 */
static void shrink_slab_cache(const char *cache)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", cache);
	fd = open(path, O_WRONLY);
	if (fd < 0 && errno == ENOENT)
		return;
	TEST_ASSERT(fd >= 0, "open %s", path);
	TEST_ASSERT(write(fd, "1", 1) == 1, "write %s", path);
	close(fd);
}

/*
 * Active objects in the gmem slab caches (/proc/slabinfo "gmem*"), each
 * shrunk first.
 */
static long gmem_slab_objects(void)
{
	char line[512], name[64];
	long n = 0, active;
	FILE *f = fopen("/proc/slabinfo", "r");

	TEST_ASSERT(f, "open /proc/slabinfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "gmem", 4) &&
		    sscanf(line, "%63s", name) == 1)
			shrink_slab_cache(name);
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "gmem", 4) &&
		    sscanf(line, "%63s %ld", name, &active) == 2)
			n += active;
	fclose(f);
	return n;
}

static void check_all_back(long base_slab, int base_vms)
{
	int i, vms_left = 0, tries = 100 * gmem_timeout_factor();
	long kb, objs = 0;

	/* The VMs go first: a VM on its way out still holds its memory. */
	for (i = 0; i < tries; i++) {
		objs = gmem_slab_objects() - base_slab;
		vms_left = live_vms() - base_vms;
		if (objs <= 0 && vms_left <= 0)
			break;
		usleep(100 * 1000);
	}
	kb = unevictable_left_kb(base_unevictable_kb);
	printf("at the end: Unevictable %+ld kB, gmem slab objects %+ld, VMs %+d\n",
	       kb, objs, vms_left);
	if (kb > 0)
		fail(NULL, "%ld kB of Unevictable memory left behind", kb);
	if (objs > 0)
		fail(NULL, "%ld gmem slab objects left behind", objs);
	if (vms_left > 0)
		fail(NULL, "%d VMs left behind", vms_left);
}

static void usage(const char *prog)
{
	fprintf(stderr, "%s [--seed N] [--seconds N] [--threads N]", prog);
	fprintf(stderr, " [--ops N] [--verbose]\n");
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'n' },
		{ "ops", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	int socks[2], done[2], results[2], status, c;
	struct sigaction bus = { .sa_handler = bus_handler };
	struct totals mine = {}, its = {};
	ssize_t got;
	bool seeded = false;
	long base_slab;
	int base_vms;
	pid_t parent;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *end;

			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-')
				usage(argv[0]);
			seeded = true;
			break;
		}
		case 't':
			seconds = atol(optarg);
			break;
		case 'n':
			nr_threads = atoi(optarg);
			break;
		case 'o':
			max_ops = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || nr_threads < 1 || nr_threads > MAX_THREADS ||
	    seconds <= 0)
		usage(argv[0]);
	/* Whole lines, and none lost when a failure ends the process. */
	setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
	if (!seeded) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		seed = now.tv_sec * 1000003ull ^ now.tv_nsec ^ getpid();
	}
	printf("gmem_stress: seed %lu, %ld s, %d threads in each of 2 processes\n",
	       seed, seconds, nr_threads);
	fflush(stdout);

	/*
	 * Failures, not skips: the gmem variant always has all three, so a
	 * missing one is a regression, not a kernel without the feature.
	 */
	TEST_ASSERT(kvm_check_cap(KVM_CAP_VM_TYPES) &
		    BIT(KVM_X86_SW_PROTECTED_VM), "no KVM_X86_SW_PROTECTED_VM");
	TEST_ASSERT(kvm_check_cap(KVM_CAP_GUEST_MEMFD_LINK),
		    "no KVM_LINK_GUEST_MEMFD (not the gmem variant?)");
	TEST_ASSERT((kvm_check_cap(KVM_CAP_GUEST_MEMFD_HUGEPAGE) &
		     (PAGE_SIZE | SZ_2M)) == (PAGE_SIZE | SZ_2M),
		    "no KVM_CAP_GUEST_MEMFD_HUGEPAGE with 4 KiB and 2 MiB pages");
	TEST_ASSERT(kvm_check_cap(KVM_CAP_MEMORY_ATTRIBUTES2_FLAGS_GMEM) ==
		    (ZERO | PRESERVE),
		    "no KVM_SET_MEMORY_ATTRIBUTES2 with ZERO and PRESERVE");

	mem_counts = mmap(NULL, NR_MEM_COUNTERS * sizeof(*mem_counts),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	TEST_ASSERT(mem_counts != MAP_FAILED, "mmap");
	TEST_ASSERT(!sigaction(SIGBUS, &bus, NULL), "sigaction(SIGBUS)");
	base_unevictable_kb = unevictable_kb();
	base_slab = gmem_slab_objects();
	base_vms = live_vms();
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;

	/*
	 * Neither process closes its end of the socket before the other is
	 * done, so that a send never finds it gone: the child waits for the
	 * parent to close @done (or to die), the parent for the child to exit.
	 * The child sends what it did over @results.
	 */
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_DGRAM, 0, socks), "socketpair");
	TEST_ASSERT(!pipe(done), "pipe");
	TEST_ASSERT(!pipe(results), "pipe");
	parent = getpid();
	child = fork();
	TEST_ASSERT(child >= 0, "fork");
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before the prctl(). */
		if (getppid() != parent)
			_exit(1);
		close(socks[0]);
		close(done[1]);
		close(results[0]);
		sock = socks[1];
		proc = 1;
		run_process(&mine);
		TEST_ASSERT(write(results[1], &mine, sizeof(mine)) == sizeof(mine),
			    "write(results)");
		TEST_ASSERT(read(done[0], &c, 1) == 0, "read(done)");
		exit(0);
	}
	close(socks[1]);
	close(done[0]);
	close(results[1]);
	sock = socks[0];
	run_process(&mine);
	close(done[1]);

	/* Less than a whole struct: the child died, and says how below. */
	got = read(results[0], &its, sizeof(its));
	TEST_ASSERT(waitpid(child, &status, 0) == child, "waitpid");
	child = 0;
	close(sock);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(NULL, "process 1 failed (status 0x%x)", status);
	if (got != sizeof(its))
		fail(NULL, "process 1 exited without its totals");
	check_all_back(base_slab, base_vms);
	check_did_something(&mine, &its);
	printf("gmem_stress: seed %lu: every invariant held\n",
	       seed);
	return 0;
}
