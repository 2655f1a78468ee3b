#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test guest's debug kernel (KASAN, lockdep, KVM's MMU
# assertions, DEBUG_VM...) from the same linux-source-6.12 as Debian's
# image, so that the KVM code under test is the same on both kernels.
#
#  1. extracts a fresh copy of the source from the cached linux-source .deb
#     (the tree scripts/setup.sh unpacks also serves as the modules' source
#     and is not clean enough to build a kernel in with O=);
#  2. merges debug-kernel/*.config onto x86_64_defconfig with
#     scripts/kconfig/merge_config.sh, then olddefconfig;
#  3. checks that every line of the fragments holds in the final .config,
#     and fails naming the ones that do not (a dependency Kconfig resolved
#     otherwise);
#  4. builds bzImage and the modules in an O= tree that external modules
#     then build against (make -C TREE M=...).
#
# The tree is kept under $CACHE/$KVER/debug-kernel/, keyed by the source
# package's version and a hash of the fragments, this script and the
# compiler's version: built once, and again only when one changes
# (incrementally, from the previous tree of the same source).  Its log,
# the merged .config and the build time (build-time: wall clock, and
# the CPU time of make and its children) stay beside it;
# $CACHE/$KVER/debug-kernel/current links to the tree of the fragments as
# they are now, for the Makefile.
# Prints the tree's path on stdout as its last line; progress goes to
# stderr.
#
# Usage: scripts/build-debug-kernel.sh KVER
# Environment: JOBS (make -j, default: the number of CPUs).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}
kver=$1
log() { echo "debug-kernel: $*" >&2; }

# Called from make check's recipe: none of the caller's make flags or
# command-line variables (W=1, V=, CC=) may reach the kernel's build.
unset MAKEFLAGS MAKEOVERRIDES MFLAGS MAKELEVEL

deb=$(ls "$CACHE/$kver"/debs/linux-source-6.12_*.deb | tail -n 1)
srcver=$(dpkg-deb -f "$deb" Version)
fragments=$(ls "$top"/debug-kernel/*.config)
# The tree is keyed by what makes it: the fragments, this script and the
# compiler.
key=$srcver-$({ cat $fragments "$0"; gcc --version | head -n 1; } |
	sha256sum | cut -c1-12)
base=$CACHE/$kver/debug-kernel
src=$base/src-$srcver/linux-source-6.12
obj=$base/build-$key

# One build at a time: a second caller waits for the first, then finds
# the tree built.
mkdir -p "$base"
exec 9> "$base/.lock"
flock 9

if [ -f "$obj/.complete" ]; then
	log "$obj (built in $(head -n 1 "$obj/build-time"); config: $obj/.config)"
	ln -sfn "build-$key" "$base/current"
	echo "$obj"
	exit 0
fi

if [ ! -f "$src/.extracted" ]; then
	log "extracting a fresh linux-source $srcver"
	rm -rf "$base/src-$srcver"
	mkdir -p "$base/src-$srcver"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz |
		tar -xJ -C "$base/src-$srcver"
	touch "$src/.extracted"
fi

# A tree whose build was interrupted is reused: Kbuild rebuilds only what
# is missing.  A new key of the same source version starts from the tree
# "current" links to (the fragments as they were), which it takes over:
# Kbuild then rebuilds only what the changed options reach.
if [ ! -d "$obj" ] && [ -d "$base/current/" ] &&
   [[ "$(readlink "$base/current")" == "build-$srcver-"* ]]; then
	log "starting from $(readlink "$base/current")"
	mv "$(readlink -f "$base/current")" "$obj"
	rm -f "$obj/.complete" "$base/current"
fi
mkdir -p "$obj"
log "merging $(cd "$top" && echo debug-kernel/*.config) onto x86_64_defconfig"
(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" \
	arch/x86/configs/x86_64_defconfig $fragments) > "$obj/merge.log"
make -s -C "$src" O="$obj" olddefconfig >> "$obj/merge.log"

# Every line of the fragments must hold: "CONFIG_X=v" exactly, and
# "# CONFIG_X is not set" as unset or absent.
missing=0
while read -r line; do
	case $line in
	CONFIG_*=*)
		opt=${line%%=*}
		grep -qxF "$line" "$obj/.config" && continue ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		grep -q "^$opt=" "$obj/.config" || continue ;;
	*)
		continue ;;
	esac
	log "wanted '$line', got '$(grep -E "^(# )?$opt[= ]" "$obj/.config" ||
		echo absent)'"
	missing=1
done < <(cat $fragments)
[ "$missing" = 0 ] || { log "the fragments did not hold; see $obj/.config"; exit 1; }
log "every option of the fragments holds ($(grep -c '^CONFIG_' "$obj/.config") set in $obj/.config):"
# The fragments' options as the final .config has them, for the log.
grep -hoE '^(# )?CONFIG_[A-Za-z0-9_]+' $fragments | sed 's/^# //' |
	while read -r opt; do
		grep -E "^(# )?$opt[= ]" "$obj/.config" || echo "# $opt absent"
	done | sed 's/^/debug-kernel:   /' >&2

log "building bzImage and modules with -j${JOBS:-$(nproc)} (log: $obj/build.log)"
TIMEFORMAT="%0R s wall clock, %0U s user + %0S s system CPU"
{ time make -C "$src" O="$obj" -j"${JOBS:-$(nproc)}" bzImage modules \
	> "$obj/build.log" 2>&1 ; } 2> "$obj/build-time" ||
	{ tail -n 30 "$obj/build.log" >&2; log "build failed"; exit 1; }
log "built $(make -s -C "$src" O="$obj" kernelrelease) in $(head -n 1 "$obj/build-time")"
touch "$obj/.complete"
ln -sfn "build-$key" "$base/current"
echo "$obj"
