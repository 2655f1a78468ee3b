# SPDX-License-Identifier: GPL-2.0
#
# gmem: build and test against Debian 12's prebuilt Linux 6.12.
#
#   make                 gmem.ko and KVM's modules (VARIANT=gmem|reference)
#   make demo            boot a guest and hand a VM's memory to a new VMM
#   make bench           boot both variants, compare them (build/bench.*)
#   make check           run every test on both kernels (KERNEL=stock|debug)
#   make debug-kernel    build the debug kernel once (KASAN, lockdep...)
#   make soak            VMs created and destroyed, SOAK_BOOTS guests x 2500
#                        (HOLD_KEYS=0: KVM's static keys not held)
#   make checkpatch      checkpatch.pl --strict over gmem's C files
#   make install         install the gmem variant's modules for the running
#                        kernel (TARGET_KERNEL=<uname -r>, DESTDIR=<root>)
#   make uninstall       remove them; the stock KVM modules rank first again
#   make deb             build/deb/gmem-dkms_<VERSION>_all.deb (DKMS)
#   make check-install   guests on make install's and DKMS's modules, loaded
#                        with modprobe from a staged /lib/modules
#   make check-deb       gmem-dkms through apt in a debootstrapped Debian
#                        root of KVER's release, then a guest on its modules
#   make clean           remove build/ (distclean: also the package cache)
#
# KVER=6.12.N+deb12 or 6.12.N+deb13 pins the kernel; KVER=deb13 takes the
# newest Debian 13 one; by default the newest 6.12.N+deb12 whose packages
# are all available is used.  Every target installs what it needs
# first (scripts/setup.sh); nothing is loaded into the running kernel.
# Guests run multi-threaded TCG on QEMU 8.1 or newer, fetched when the
# host's is older; GUEST_TCG=single asks for single-threaded TCG on the
# host's QEMU (scripts/qemu.sh; README.md, "No flakes").
# KERNEL=stock or KERNEL=debug: make check boots only Debian's kernel, or
# only the debug kernel built from the same source (README.md, "The debug
# kernel"); by default both, stock first.
# make check also runs upstream's newest KVM selftests that touch
# guest_memfd, from the newest linux-source-7.* in Debian's trixie-backports
# and sid (scripts/setup-linux7.sh prints which): LINUX7=linux-source-7.3
# pins the package, LINUX7=linux-source-7.3=7.3.4-1~bpo13+1 the version too.

# gmem: kvm.ko on gmem.ko; reference: upstream's guest_memfd.c, unchanged.
VARIANT ?= gmem
ifeq ($(filter $(VARIANT),reference gmem),)
$(error VARIANT must be reference or gmem)
endif

# Which kernels make check boots, in this order.
KERNEL ?= stock debug
ifneq ($(filter-out stock debug,$(KERNEL)),)
$(error KERNEL must be stock, debug or both)
endif
check_kernels := $(filter stock,$(KERNEL)) $(filter debug,$(KERNEL))

no_setup_goals := clean distclean help uninstall deb

# make install puts the modules under /lib/modules/TARGET_KERNEL (default:
# the running kernel), which must be the kernel they were built for: when
# KVER is not given and TARGET_KERNEL is one of Debian's 6.12 -amd64
# kernels, make install builds for that one.
TARGET_KERNEL ?= $(shell uname -r)
ifneq ($(filter install,$(MAKECMDGOALS)),)
ifeq ($(origin KVER),undefined)
KVER := $(filter 6.12.%+deb12 6.12.%+deb13,$(TARGET_KERNEL:%-amd64=%))
endif
endif
ifneq ($(filter-out $(no_setup_goals),$(or $(MAKECMDGOALS),all)),)
# override: KVER=deb13 on the command line names the newest Debian 13
# kernel, which set-up resolves to its version.
override KVER := $(shell scripts/setup.sh $(KVER))
ifeq ($(KVER),)
$(error scripts/setup.sh failed)
endif
$(info gmem: KVER=$(KVER) VARIANT=$(VARIANT))
endif

top := $(CURDIR)
cache := $(top)/.cache/$(KVER)
kroot := $(cache)/root
kheaders := $(kroot)/usr/src/linux-headers-$(KVER)-amd64
kcommon := $(kroot)/usr/src/linux-headers-$(KVER)-common
ksrc := $(cache)/src/linux-source-6.12
kuapi := $(cache)/uapi
out := $(top)/build/$(KVER)
moddir := $(out)/modules-$(VARIANT)

# Kbuild for external modules against the extracted headers.  Calling the
# -common Makefile directly stands in for the -amd64 one, which includes it
# by its installed path under /usr/src.
# W=1 by default: the whole build, KVM's sources included, is clean with
# it, and gmem's own objects turn its warnings into errors.
W ?= 1
# Debian 13's kbuild programs need trixie's C library and its gcc-14: on a
# host that cannot run them (Debian 12), kbuild runs in a Debian 13 build
# root, made once under .cache/ (scripts/buildroot.sh); elsewhere as is.
ifneq ($(KVER),)
kbuild_run := $(shell scripts/buildroot.sh wrap $(KVER) || echo FAILED)
ifeq ($(kbuild_run),FAILED)
$(error scripts/buildroot.sh could not make the build root KVER=$(KVER) needs)
endif
endif
kbuild = $(kbuild_run) $(MAKE) -C $(kheaders) -f $(kcommon)/Makefile \
	 M=$(moddir) GMEM_VARIANT=$(VARIANT) W=$(W)

.PHONY: all modules tests demo bench check soak checkpatch clean distclean help

all: modules

modules:
	@scripts/stage-modules.sh $(ksrc) $(moddir) $(VARIANT)
	+$(kbuild) modules
	@scripts/check-symvers.sh $(moddir)/Module.symvers \
		$(kheaders)/Module.symvers

# ---- programs that run in the guest, all static, under $(testdir) ----
# kvm/...   upstream's KVM selftests, built from the source package against
#           its own uAPI (bookworm's /usr/include is 6.1: no guest_memfd)
# kvm7/...  upstream's newest KVM selftests that touch guest_memfd, built
#           unchanged from linux-source-7.* against its own uAPI
# gmem/...  gmem's own programs, linked against the same selftest library
testdir := $(out)/tests
ksft_kvm := $(ksrc)/tools/testing/selftests/kvm
plan_programs = $(shell awk '!/^[[:space:]]*\#/ && NF { print $$3 }' $(1))
upstream_tests := $(sort $(call plan_programs,selftests/upstream.plan \
	selftests/upstream-reference.plan))
upstream7_tests := $(sort $(call plan_programs,selftests/upstream7.plan))
LINUX7 ?=
gmem_programs := $(patsubst %.c,gmem/%,$(notdir $(wildcard demo/*.c \
	selftests/*.c bench/*.c)))
gmem_scripts := $(patsubst %.sh,gmem/%,$(notdir $(wildcard selftests/*.sh)))

tests: $(addprefix $(testdir)/,$(gmem_programs) $(gmem_scripts))

.PHONY: upstream-tests
upstream-tests:
	+$(MAKE) -C $(ksft_kvm) OUTPUT=$(testdir)/kvm \
		INSTALL_HDR_PATH=$(kuapi) KHDR_INCLUDES="-isystem $(kuapi)/include" \
		EXTRA_CFLAGS=-static $(addprefix $(testdir)/,$(upstream_tests))

# scripts/setup-linux7.sh fetches, extracts and installs the uAPI of the
# source LINUX7 names (default: the newest) and prints its directory; the
# programs are built again from scratch when that changes.
.PHONY: upstream7-tests
upstream7-tests:
	+@l7=$$(scripts/setup-linux7.sh $(LINUX7)) && \
	src=$$(echo $$l7/src/linux-source-7.*) && \
	if [ "$$(cat $(testdir)/kvm7/.source 2>/dev/null)" != "$$l7" ]; then \
		rm -rf $(testdir)/kvm7 && mkdir -p $(testdir)/kvm7 && \
		echo "$$l7" > $(testdir)/kvm7/.source; \
	fi && \
	$(MAKE) -C $$src/tools/testing/selftests/kvm OUTPUT=$(testdir)/kvm7 \
		INSTALL_HDR_PATH=$$l7/uapi \
		KHDR_INCLUDES="-isystem $$l7/uapi/include" EXTRA_CFLAGS=-static \
		$(addprefix $(testdir)/,$(upstream7_tests))

# The selftest library's guest code is built into the same binary as the
# host code, hence upstream's flags.
libkvm_cflags := -D_GNU_SOURCE= -O2 -g -std=gnu99 -Wall -Wstrict-prototypes \
	-Wuninitialized -U_FORTIFY_SOURCE -fno-builtin-memcmp \
	-fno-builtin-memcpy -fno-builtin-memset -fno-builtin-strnlen \
	-fno-stack-protector -fno-PIE -fno-strict-aliasing -march=x86-64-v2 \
	-DCONFIG_64BIT -I$(ksrc)/tools/include -I$(ksrc)/tools/arch/x86/include \
	-isystem $(kuapi)/include -I$(ksft_kvm)/include \
	-I$(ksft_kvm)/include/x86_64 -I$(ksrc)/tools/testing/selftests \
	-I$(top)/include/uapi -I$(top)/selftests
libkvm_ldflags := -static -pthread -no-pie

define gmem_program
$(testdir)/gmem/%: $(1)/%.c $(wildcard $(1)/*.h selftests/*.h) upstream-tests
	@mkdir -p $$(@D)
	$$(CC) $$(libkvm_cflags) $$< $$(wildcard $$(testdir)/kvm/lib/*.o \
		$$(testdir)/kvm/lib/x86_64/*.o) $$(libkvm_ldflags) -ldl -o $$@
endef
$(eval $(call gmem_program,demo))
$(eval $(call gmem_program,selftests))
$(eval $(call gmem_program,bench))

# Scripts the guest's busybox runs.
$(testdir)/gmem/%: selftests/%.sh
	install -D -m 755 $< $@

# ---- KUnit: kunit.ko out of tree (Debian has CONFIG_KUNIT unset) ----
kunitdir := $(out)/kunit
kunit_kbuild = $(kbuild_run) $(MAKE) -C $(kheaders) -f $(kcommon)/Makefile

.PHONY: kunit
kunit: modules
	@kunit/oot/prepare.sh $(ksrc) $(kunitdir)
	+$(kunit_kbuild) M=$(kunitdir)/core modules
	@mkdir -p $(kunitdir)/tests
	@rsync -a kunit/Kbuild kunit/gmem_kunit.c $(kunitdir)/tests/
	@rsync -a include $(kunitdir)/
	+$(kunit_kbuild) M=$(kunitdir)/tests W=$(W) modules \
		KBUILD_EXTRA_SYMBOLS="$(moddir)/Module.symvers \
				      $(kunitdir)/core/Module.symvers"
	@mkdir -p $(testdir)/kunit
	cp $(kunitdir)/core/kunit.ko $(kunitdir)/tests/gmem_kunit.ko \
		$(testdir)/kunit/
	install -m 755 kunit/run-kunit.sh $(testdir)/kunit/run_kunit

# ---- the test guest ----
kimage := $(kroot)/boot/vmlinuz-$(KVER)-amd64
# The image package's modules: Debian 13's are under /usr/lib/modules
# (its /lib is a link to /usr/lib), Debian 12's under /lib/modules.
kmodtop := $(firstword $(wildcard $(kroot)/lib/modules $(kroot)/usr/lib/modules))
kmods := $(kmodtop)/$(KVER)-amd64/kernel
guest_modules := $(kmods)/virt/lib/irqbypass.ko.xz \
	$(if $(filter gmem,$(VARIANT)),$(moddir)/gmem/gmem.ko) \
	$(moddir)/kvm.ko $(kmods)/drivers/crypto/ccp/ccp.ko.xz \
	$(moddir)/kvm-amd.ko

# run_guest NAME PLANS [MODULES [ENV [KERNEL [BINDIR]]]]: boot KERNEL
# (default: Debian's, $(kimage)) in a guest that runs the plans' tests from
# BINDIR (default $(testdir)) with MODULES loaded (default:
# $(guest_modules)), and run-guest.sh's ENV settings; its log is
# $(out)/guest/NAME-$(VARIANT).log
guest_log = $(out)/guest/$(1)-$(VARIANT).log
define run_guest
	@mkdir -p $(out)/guest
	cat $(2) > $(out)/guest/$(1)-$(VARIANT).plan
	scripts/mkinitramfs.sh $(out)/guest/$(1)-$(VARIANT).cpio.gz \
		$(out)/guest/$(1)-$(VARIANT).plan $(or $(6),$(testdir)) \
		$(or $(3),$(guest_modules))
	$(4) scripts/run-guest.sh $(or $(5),$(kimage)) \
		$(out)/guest/$(1)-$(VARIANT).cpio.gz $(call guest_log,$(1))
endef

# The hand-over needs the gmem variant; the reference variant shows a
# private-memory VM on upstream's guest_memfd.
demo_plan := $(if $(filter gmem,$(VARIANT)),demo/demo.plan,demo/private_mem.plan)

demo: modules tests
	$(call run_guest,demo,$(demo_plan))

# The same benchmark program in one guest per variant, same QEMU settings,
# without the slab and page debugging the tests boot with; then one table
# with both columns and their ratio, and the same in JSON; then, from the
# gmem guest, the shared-memory and NUMA tables (bench/bench.plan).
bench_dir := $(top)/build/bench

bench:
	+$(MAKE) VARIANT=reference bench-guest
	+$(MAKE) VARIANT=gmem bench-guest
	@mkdir -p $(bench_dir)
	scripts/bench-table.sh $(out)/guest/bench-reference.log \
		$(out)/guest/bench-gmem.log $(bench_dir)/bench.json \
		| tee $(bench_dir)/bench.txt

.PHONY: bench-guest
bench-guest: export GUEST_DEBUG := 0
# 3 GiB on two NUMA nodes (scripts/run-guest.sh): gmem_numa_bench binds
# 1 GiB to node 1, which has 1.5 GiB.
bench-guest: export GUEST_MEM := 3G
# The VM destroy figures keep a thousand VMs alive at once: the percpu
# allocator adds a chunk for them and keeps it once it is empty (its pages
# and 2 MB of memcg records in vmalloc), and the slab caches keep partly
# used slabs, so free memory ends about 4 MB below where it began.
bench-guest: export GUEST_CMDLINE += gmem_free_slack_kb=8192
bench-guest: modules tests
	$(call run_guest,bench,bench/bench.plan)

# Upstream's selftests are the contract both variants fill, 6.12's and
# the newest 7.x's; gmem's own test what only the gmem variant does.
# 6.12's guest_memfd_test, which wants every creation flag refused, runs on
# the reference variant only: upstream itself has flags since 6.18.
check_plans := selftests/upstream.plan selftests/upstream7.plan \
	demo/private_mem.plan \
	$(if $(filter gmem,$(VARIANT)),selftests/gmem.plan kunit/kunit.plan \
		demo/demo.plan,selftests/upstream-reference.plan)

# On the gmem variant, make check also boots Debian's kernel on the
# installed layout, as make check-install does (below): once from make
# install's root and once from DKMS's, each loading gmem's modules with
# modprobe from updates/ and running the demo (about 2 minutes in all,
# DKMS's build included).
check_install_guests := $(if $(filter gmem,$(VARIANT)),make dkms)

# On the gmem variant, a second, short guest loads and unloads gmem.ko
# alone, then waits for the RCU callbacks its exit left behind
# (selftests/module_cycle.plan); rcu_nocbs=all makes them lazy, as they
# are wherever callbacks are offloaded.
module_cycle_guest := $(if $(filter gmem,$(VARIANT)),module-cycle)

# ---- the debug kernel: the same source, debug-kernel/*.config ----
# scripts/build-debug-kernel.sh builds it once per source version and
# fragments, under .cache/ ($(dbgtree) links to it); gmem.ko, KVM's modules
# and the KUnit suites then build against its tree, in $(dbgout).  The
# programs are the stock kernel's (static, the same uAPI); only KUnit's
# directory differs: the debug kernel's own kunit.ko, no out-of-tree one.
dbgtree := $(cache)/debug-kernel/current
dbgimage := $(dbgtree)/arch/x86/boot/bzImage
dbgout := $(out)/debug
dbgmoddir := $(dbgout)/modules-$(VARIANT)
dbgkunitdir := $(dbgout)/kunit
dbgtestdir := $(dbgout)/tests
dbg_guest_modules := $(dbgtree)/virt/lib/irqbypass.ko \
	$(if $(filter gmem,$(VARIANT)),$(dbgmoddir)/gmem/gmem.ko) \
	$(dbgmoddir)/kvm.ko $(dbgtree)/drivers/crypto/ccp/ccp.ko \
	$(dbgmoddir)/kvm-amd.ko

.PHONY: debug-kernel debug-modules debug-kunit debug-tests

debug-kernel:
	@scripts/build-debug-kernel.sh $(KVER) > /dev/null

# Module.symvers is the debug kernel's own: scripts/check-symvers.sh
# compares with Debian's, which only the stock kernel has to match.
debug-modules: debug-kernel
	@scripts/stage-modules.sh $(ksrc) $(dbgmoddir) $(VARIANT)
	+$(MAKE) -C $(dbgtree) M=$(dbgmoddir) GMEM_VARIANT=$(VARIANT) W=$(W) \
		modules

debug-kunit: debug-modules
	@mkdir -p $(dbgkunitdir)/tests $(dbgtestdir)/kunit
	@rsync -a kunit/Kbuild kunit/gmem_kunit.c $(dbgkunitdir)/tests/
	@rsync -a include $(dbgkunitdir)/
	+$(MAKE) -C $(dbgtree) M=$(dbgkunitdir)/tests W=$(W) modules \
		KBUILD_EXTRA_SYMBOLS=$(dbgmoddir)/Module.symvers
	cp $(dbgtree)/lib/kunit/kunit.ko $(dbgkunitdir)/tests/gmem_kunit.ko \
		$(dbgtestdir)/kunit/
	install -m 755 kunit/run-kunit.sh $(dbgtestdir)/kunit/run_kunit

debug-tests: tests upstream-tests upstream7-tests \
		$(if $(filter gmem,$(VARIANT)),debug-kunit)
	@mkdir -p $(dbgtestdir)
	@ln -sfn $(testdir)/kvm $(testdir)/kvm7 $(testdir)/gmem $(dbgtestdir)/

# The debug kernel runs the tests several times slower (KASAN, lockdep):
# every timeout is DEBUG_TIMEOUT_FACTOR times the stock one.  Its command
# line: kasan_multi_shot, so that KASAN reports every bug and not only the
# first (a first report also turns lockdep off, but the run has failed by
# then); no5lvl, 4-level paging: with -cpu max the guest has LA57, and
# KASAN on 6.12 then reports a false wild-memory-access when an interrupt
# comes while identify_cpu() has cleared the boot CPU's feature bits
# (README.md, "The debug kernel"); gmem_drain_slabs=1, so that KASAN's
# quarantine is empty when memory is counted (scripts/guest-init.sh).
# Each debug guest also has a free-memory slack of its own
# (gmem_free_slack_kb; the stack depot's growth, which /init measures, is
# not counted against it): for what the debug kernel keeps for itself
# outside meminfo's counters, which grows with what a run does (KASAN's
# shadow of vmalloc memory is the suspect, not shown: it is freed only in
# whole shadow pages, when lazily freed areas are purged, and never its
# page tables; the stack depot grew by 288 kB of the 70 MB).  After the
# main guest's plan, free memory ended 67 MB below its start there, and
# 2.4 MB on Debian's kernel with the same tests and modules: that guest
# has 128 MB, the module cycle 16 MB (it measured 3.1 MB) and make stress
# 32 MB (10.8 MB after 32 minutes).  Free memory is the stock kernel's leak
# check; both kernels keep the exact ones (every unevictable page back,
# no gmem slab cache left).
DEBUG_TIMEOUT_FACTOR ?= 4
debug_cmdline := kasan_multi_shot no5lvl gmem_drain_slabs=1
debug_env = GUEST_TIMEOUT_FACTOR=$(DEBUG_TIMEOUT_FACTOR) \
	GUEST_CMDLINE="$(debug_cmdline) $(1)"

# check_guests_KERNEL: the guests make check boots on that kernel (each
# ends with a newline, so that the next kernel's start on lines of their
# own).
# A whole guest's timeout (GUEST_TIMEOUT, times the factor on the debug
# kernel) is a few times what it takes, so that a run whose every guest
# hangs (gmem.ko failing to unload would) still ends, with each guest's
# log, inside CI's 90 minutes: stock 11 and 3 minutes (the main guest took
# 224 s in CI, the module cycle 32 s; upstream7.plan adds about 110 s),
# debug 40 and 10 (1,318 s and 78 s; upstream7.plan adds about 540 s).
# The stock main guest drains the slab caches before it counts free
# memory too (gmem_drain_slabs=1): on two NUMA nodes each cache keeps
# partly used slabs on each node, and free memory ended 3.1 MB below its
# start, close to the 4 MB slack, where one node's ended 2.4 MB below.
define check_guests_stock
$(call run_guest,check,$(check_plans),,GUEST_TIMEOUT=660 \
	GUEST_CMDLINE=gmem_drain_slabs=1)
$(if $(module_cycle_guest),$(call run_guest,module-cycle,\
	selftests/module_cycle.plan,$(moddir)/gmem/gmem.ko,\
	GUEST_MEM=512M GUEST_TIMEOUT=180 GUEST_CMDLINE=rcu_nocbs=all))
$(foreach how,$(check_install_guests),$(call install_guest,$(how)))
endef
define check_guests_debug
$(call run_guest,check-debug,$(check_plans),$(dbg_guest_modules),\
	GUEST_TIMEOUT=600 $(call debug_env,gmem_free_slack_kb=131072),\
	$(dbgimage),$(dbgtestdir))
$(if $(module_cycle_guest),$(call run_guest,module-cycle-debug,\
	selftests/module_cycle.plan,$(dbgmoddir)/gmem/gmem.ko,\
	GUEST_MEM=512M GUEST_TIMEOUT=150 \
	$(call debug_env,rcu_nocbs=all gmem_free_slack_kb=16384),\
	$(dbgimage),$(dbgtestdir)))

endef
check_logs_stock = $(call guest_log,check) \
	$(if $(module_cycle_guest),$(call guest_log,module-cycle)) \
	$(foreach how,$(check_install_guests),$(out)/guest/install-$(how).log)
check_logs_debug = $(call guest_log,check-debug) \
	$(if $(module_cycle_guest),$(call guest_log,module-cycle-debug))
check_deps_stock := modules tests upstream-tests upstream7-tests \
	$(if $(filter gmem,$(VARIANT)),kunit install-roots)
check_deps_debug := debug-modules debug-tests

# The summariser decides pass or fail, so it is tested first, on the host.
# Every guest runs whatever the one before it found; the summariser then
# judges all their logs, both kernels', and prints one closing line for
# them all.
check: export GUEST_JUDGE := 0
check: checkpatch $(foreach k,$(check_kernels),$(check_deps_$(k)))
	@scripts/test-tap-summary.sh > $(out)/test-tap-summary.tap || \
		{ cat $(out)/test-tap-summary.tap; exit 1; }
	$(foreach k,$(check_kernels),$(check_guests_$(k)))
	scripts/tap-summary.sh $(foreach k,$(check_kernels),$(check_logs_$(k)))

# The trigger of multi-threaded TCG's stale int3, VMs created and destroyed
# one after another (selftests/vm_cycle.plan: 2500 a boot), in SOAK_BOOTS
# guests booted one after another; one closing line for all.  The guests
# hold KVM's static keys as make check's do; HOLD_KEYS=0 lets every VM
# flip them, to show the bug the holding avoids.
SOAK_BOOTS ?= 4
HOLD_KEYS ?= 1
soak_boots := $(shell seq $(SOAK_BOOTS))
define soak_boot
$(call run_guest,soak-$(1),selftests/vm_cycle.plan)

endef

soak: export GUEST_JUDGE := 0
soak: export GUEST_CMDLINE += gmem_hold_keys=$(HOLD_KEYS)
soak: modules tests
	$(foreach i,$(soak_boots),$(call soak_boot,$(i)))
	scripts/tap-summary.sh $(foreach i,$(soak_boots),$(call guest_log,soak-$(i)))

# selftests/gmem_stress.c in a guest of its own on each of KERNEL's
# kernels: random operations for SECONDS (default 300) on each of SEED's
# seeds in turn (default: one the program picks and prints; the same seed
# replays the same operations, see README.md) with THREADS threads in each
# of its two processes.  One closing line for all.
SECONDS ?= 300
SEED ?=
THREADS ?= 2
stress_seeds := $(or $(SEED),picked)
stress_plan := $(out)/guest/stress-$(VARIANT).plan.in
stress_timeout := $(shell echo $$(($(words $(stress_seeds)) * \
	($(SECONDS) + 300) + 300)))
stress_deps_stock := modules tests
stress_deps_debug := debug-modules debug-tests
define stress_guests_stock
$(call run_guest,stress,$(stress_plan))

endef
define stress_guests_debug
$(call run_guest,stress-debug,$(stress_plan),$(dbg_guest_modules),\
	$(call debug_env,gmem_free_slack_kb=32768),$(dbgimage),$(dbgtestdir))

endef

.PHONY: stress
ifeq ($(VARIANT),reference)
stress:
	$(error make stress needs VARIANT=gmem: gmem_stress links memory)
endif
stress: export GUEST_JUDGE := 0
stress: export GUEST_TIMEOUT := $(stress_timeout)
stress: $(foreach k,$(check_kernels),$(stress_deps_$(k)))
	@mkdir -p $(out)/guest
	@for seed in $(stress_seeds); do \
		echo "gmem_stress_seed_$$seed $$(($(SECONDS) + 300))" \
			"gmem/gmem_stress --seconds $(SECONDS)" \
			"--threads $(THREADS)$(if $(SEED), --seed $$seed)"; \
	done > $(stress_plan)
	$(foreach k,$(check_kernels),$(stress_guests_$(k)))
	scripts/tap-summary.sh $(foreach k,$(check_kernels),\
		$(call guest_log,stress$(if $(filter debug,$(k)),-debug)))

# ---- installing on a host ----
# The modules built for KVER go under /lib/modules/TARGET_KERNEL/updates/gmem
# (scripts/install-modules.sh; TARGET_KERNEL is set at the top).  DESTDIR
# installs under a staging root.
DESTDIR ?=

.PHONY: install uninstall
install_goals := $(filter install install-roots check-install check-deb,$(MAKECMDGOALS))
ifneq ($(filter reference,$(VARIANT))$(install_goals),$(install_goals))
$(error make $(install_goals) installs the gmem variant only, not VARIANT=reference)
endif
install: modules
	DESTDIR="$(DESTDIR)" scripts/install-modules.sh install $(moddir) \
		"$(TARGET_KERNEL)"

uninstall:
	DESTDIR="$(DESTDIR)" scripts/install-modules.sh uninstall \
		"$(TARGET_KERNEL)"

# ---- the installed layout, as a user installs gmem ----
# Two guests boot Debian's kernel with the modules of a staged root that
# holds the kernel's own KVM modules (scripts/stage-kernel-root.sh): one
# after make install DESTDIR=<root>, one after dkms add, build and install
# run on this host against the extracted headers and the source package's
# tarball (scripts/dkms-stage.sh).  In each, /init runs modprobe kvm_amd,
# which must take gmem's modules from updates/ through modules.dep
# (selftests/installed_layout.sh), and the demo must pass.
instdir := $(out)/install
krelease := $(KVER)-amd64
kmoddir := $(kmodtop)/$(krelease)
install_guests := make dkms
install_dir_make := updates/gmem kept
install_dir_dkms := updates/dkms any
gmem_version = $(shell cat $(top)/VERSION)

# The installed-layout guests' free-memory slack: 16 MB, not 4.  In one of
# about ten runs (Debian 13's kernel, the DKMS root, on a host loaded with
# other guests) free memory ended 8.9 MB below its start: 2.2 MB of
# MemFree and 6.7 MB of the per-CPU free lists, and no meminfo counter
# grew by more than 0.8 MB (slab); the other runs ended under 1 MB below.
# Not understood.  These guests test where the modules are installed and
# that they load and run the demo; the exact leak checks (unevictable
# memory back, no gmem slab cache left) still hold for them, and the main
# guests keep 4 MB.
install_slack_kb := 16384

# install_guest HOW: boot the root staged by HOW with its plan.
# install_dir_HOW: where HOW installs, and whether the kernel's own KVM
# modules stay in place (selftests/installed_layout.sh).
define install_guest
	printf '%s\n' "installed_layout 60 gmem/installed_layout \
		$(word 1,$(install_dir_$(1))) $(gmem_version) \
		$(word 2,$(install_dir_$(1)))" \
		"handover_demo 600 gmem/handover_demo" \
		> $(out)/guest/install-$(1).plan
	INITRAMFS_INSTALLED=$(instdir)/$(1)-root scripts/mkinitramfs.sh \
		$(out)/guest/install-$(1).cpio.gz $(out)/guest/install-$(1).plan \
		$(testdir) kvm_amd
	GUEST_TIMEOUT=900 GUEST_CMDLINE=gmem_free_slack_kb=$(install_slack_kb) \
		scripts/run-guest.sh $(kimage) \
		$(out)/guest/install-$(1).cpio.gz $(out)/guest/install-$(1).log

endef

.PHONY: check-install install-roots
install-roots: modules
	rm -rf $(instdir)
	@mkdir -p $(out)/guest
	scripts/stage-kernel-root.sh $(kmoddir) $(instdir)/make-root
	+$(MAKE) install DESTDIR=$(instdir)/make-root TARGET_KERNEL=$(krelease)
	scripts/stage-kernel-root.sh $(kmoddir) $(instdir)/dkms-root
	DKMS_RUN="$(kbuild_run)" scripts/dkms-stage.sh $(KVER) $(out)/dkms \
		$(instdir)/dkms-root

check-install: export GUEST_JUDGE := 0
check-install: install-roots tests
	$(foreach how,$(install_guests),$(call install_guest,$(how)))
	scripts/tap-summary.sh $(foreach how,$(install_guests),\
		$(out)/guest/install-$(how).log)

# make check-deb: gmem-dkms through apt, as a user installs it, in a
# Debian root of KVER's release (scripts/check-deb.sh: debootstrap, apt-get
# install of the kernel's packages and of the .deb, DKMS's build in there,
# apt-get remove), then a guest on the modules DKMS installed there.
install_dir_deb := updates/dkms any

.PHONY: check-deb
check-deb: export GUEST_JUDGE := 0
check-deb: deb tests
	@mkdir -p $(out)/guest
	scripts/check-deb.sh $(KVER) $(top)/build/deb/gmem-dkms_$(gmem_version)_all.deb \
		$(out)/deb $(instdir)/deb-root
	$(call install_guest,deb)
	scripts/tap-summary.sh $(out)/guest/install-deb.log

# The Debian package: gmem's DKMS source tree and maintainer scripts
# (scripts/mkdeb.sh); it needs no kernel packages to be made.
.PHONY: deb
deb:
	scripts/mkdeb.sh $(top)/build/deb

clean:
	rm -rf build

distclean: clean
	rm -rf .cache

help:
	@sed -n '3,36s/^# \{0,1\}//p' Makefile

# ---- style ----
c_sources = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h')

checkpatch:
	$(ksrc)/scripts/checkpatch.pl --strict --no-tree --quiet \
		-f $(c_sources)
