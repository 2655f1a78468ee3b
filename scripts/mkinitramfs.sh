#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test guest's initramfs: static busybox as the only tool,
# scripts/guest-init.sh as /init, the modules in load order, the test plan
# and the programs it names.
#
# Usage: scripts/mkinitramfs.sh OUT.cpio.gz PLAN BINDIR MODULE...
#   PLAN     lines "NAME TIMEOUT PROGRAM [ARGS...]" (see guest-init.sh);
#            each PROGRAM is copied from BINDIR/PROGRAM, with the .ko files
#            beside it
#   MODULE   .ko or .ko.xz files, in the order they are to be loaded
# Environment: INITRAMFS_INSTALLED=ROOT: the guest loads the modules of
#            an installed system instead (make check-install): ROOT's
#            /lib/modules, with kmod (modprobe, modinfo, depmod) and its
#            libraries from the host, as a Debian system has them; each
#            MODULE is then a name that /init loads with modprobe, which
#            finds it, and what it depends on, through modules.dep.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$1 plan=$2 bindir=$3
shift 3

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules,tests}

cp /bin/busybox "$root/bin/busybox"
install -m 755 "$top/scripts/guest-init.sh" "$root/init"
cp "$plan" "$root/plan"

# kmod, and the libraries its loader resolves, at the host's paths.
add_kmod() {
	local lib tool

	cp /bin/kmod "$root/bin/kmod"
	for tool in modprobe modinfo depmod; do
		ln -s kmod "$root/bin/$tool"
	done
	for lib in $(ldd /bin/kmod | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }'); do
		install -D "$(readlink -f "$lib")" "$root$lib"
	done
}

installed=${INITRAMFS_INSTALLED:-}
if [ -n "$installed" ]; then
	cp -a "$installed/lib/modules/." "$root/lib/modules/"
	add_kmod
	printf '%s\n' "$@" > "$root/modprobe.load"
	set --
fi

for ko in "$@"; do
	name=$(basename "$ko")
	name=${name%.xz}
	case "$ko" in
	*.xz) xz -dc "$ko" > "$root/lib/modules/$name" ;;
	*) cp "$ko" "$root/lib/modules/$name" ;;
	esac
	echo "${name%.ko}" >> "$root/modules.load"
done

# A program's directory may hold modules it loads itself (KUnit's).  An
# argument that names a file of BINDIR is a program too (a wrapper's).
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$plan" |
while read -r _ _ prog args; do
	dir=$(dirname "$prog")
	mkdir -p "$root/tests/$dir"
	cp "$bindir/$prog" "$root/tests/$prog"
	find "$bindir/$dir" -maxdepth 1 -name '*.ko' -exec cp {} "$root/tests/$dir/" \;
	for arg in $args; do
		[ -f "$bindir/$arg" ] || continue
		mkdir -p "$root/tests/$(dirname "$arg")"
		cp "$bindir/$arg" "$root/tests/$arg"
	done
done

# Holds KVM's static keys while the tests run (guest-init.sh says why).
holder=$bindir/gmem/kvm_static_key_holder
[ -x "$holder" ] && cp "$holder" "$root/sbin/"

(cd "$root" && find . | sort | cpio -o -H newc --quiet | gzip -1) > "$out"
