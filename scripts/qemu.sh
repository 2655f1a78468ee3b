#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Which QEMU the test guests run, and under which TCG.
#
# Multi-threaded TCG (each vCPU on a host thread of its own) on a QEMU of
# 8.1 or newer, QEMU 7.2 (bookworm's) being unusable for it: it killed
# the guest about once per 75-100 VMs ("Oops: int3", a stale translation of
# the int3 the kernel patches in as KVM flips a static key; "fixed" in 8.1.0,
# "accel/tcg: Always lock pages before translation").  11.1.3 still does it,
# less often, hence the guests hold KVM's static keys for the whole run
# (selftests/kvm_static_key_holder.c; README.md, "No flakes").  The QEMU:
#  - the host's qemu-system-x86_64 when it is 8.1 or newer (Debian 13 has
#    10.0);
#  - otherwise a pinned QEMU from Debian's trixie-backports, fetched into
#    $CACHE/qemu/ with a private apt configuration (the host's sources are
#    never touched) and run with its own loader and libraries;
#  - otherwise (it could not be fetched) the host's 7.2, single-threaded:
#    7.2 never runs multi-threaded.
# GUEST_TCG=single asks for single-threaded TCG on the host's QEMU.
#
# Usage: scripts/qemu.sh fetch       fetch the pinned QEMU when the host's
#                                    is too old (idempotent; root)
#        scripts/qemu.sh describe    print the choice and why
#        scripts/qemu.sh exec ARGS   print the choice, then exec QEMU with
#                                    -accel tcg,thread=... and ARGS
# Environment: GUEST_TCG=multi (default) or single;
#              CACHE            the package cache (default: .cache).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CACHE:-$top/.cache}

# Pinned: measured working on bookworm (shared notes, "A newer QEMU on the
# bookworm host").  A new version wants measuring again before it goes here.
PIN_VERSION=1:11.1.3+ds-1~bpo13+1
PIN_SUITE=trixie-backports
MIRROR=${QEMU_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MTTCG_MIN=8.1

qdir=$CACHE/qemu
aptdir=$qdir/apt
vdir=$qdir/${PIN_VERSION#*:}
root=$vdir/root
libpath=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu

log() { echo "qemu: $*" >&2; }

host_version() {
	command -v qemu-system-x86_64 >/dev/null || return 1
	qemu-system-x86_64 --version |
		sed -n '1s/^QEMU emulator version \([0-9.]*\).*/\1/p'
}

# The private apt: trixie and trixie-backports, its own lists and cache,
# no dpkg status (nothing counts as installed, nothing gets installed).
# The pin makes the resolver take the pinned QEMU, and seabios and ipxe
# from backports only so that qemu's Depends are satisfiable: they are
# left out below (the host's seabios is the BIOS; the guests boot no ROM).
apt_opts() {
	echo "-o Dir::Etc::SourceList=$aptdir/sources.list
	      -o Dir::Etc::SourceParts=/dev/null
	      -o Dir::Etc::Preferences=$aptdir/preferences
	      -o Dir::Etc::PreferencesParts=/dev/null
	      -o Dir::State::Lists=$aptdir/lists -o Dir::Cache=$aptdir/cache
	      -o Dir::State::status=/dev/null -o Debug::NoLocking=1
	      -o APT::Sandbox::User=root -q"
}

apt_setup() {
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	cat > "$aptdir/sources.list" <<-EOF
	deb [signed-by=$KEYRING] $MIRROR trixie main
	deb [signed-by=$KEYRING] $MIRROR $PIN_SUITE main
	EOF
	cat > "$aptdir/preferences" <<-EOF
	Package: qemu-*
	Pin: version $PIN_VERSION
	Pin-Priority: 1001

	Package: seabios ipxe-qemu*
	Pin: release n=$PIN_SUITE
	Pin-Priority: 990
	EOF
	log "apt-get update (private: trixie, $PIN_SUITE)"
	# shellcheck disable=SC2046
	apt-get $(apt_opts) update >&2
}

# The shared libraries QEMU loads, as its own loader resolves them in DIR,
# one path a line; fails when one is missing or comes from outside DIR.
needed_libs() {
	local dir=$1 out
	out=$("$dir/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
	      --library-path "$dir/usr/lib/x86_64-linux-gnu:$dir/lib/x86_64-linux-gnu" \
	      --list "$dir/usr/bin/qemu-system-x86_64") || return 1
	if echo "$out" | grep -q 'not found'; then
		echo "$out" | grep 'not found' >&2
		return 1
	fi
	echo "$out" | awk '$2 == "=>" { print $3 }' | grep -v "^$dir/" >&2 &&
		return 1
	echo "$out" | awk '$2 == "=>" { print $3 }'
}

fetch() {
	local v
	if v=$(host_version) && dpkg --compare-versions "$v" ge $MTTCG_MIN; then
		log "the host's QEMU $v is recent enough; nothing to fetch"
		return
	fi
	[ -f "$vdir/.complete" ] && return
	mkdir -p "$qdir"
	# Worktrees share the cache: one fetch at a time.
	exec 9> "$qdir/.lock"
	flock 9
	[ -f "$vdir/.complete" ] && return

	apt_setup
	local pkgs
	rm -rf "$vdir"
	mkdir -p "$vdir/debs" "$vdir/all"
	# The Depends closure, as apt's resolver computes it from nothing.
	# shellcheck disable=SC2046
	pkgs=$(apt-get $(apt_opts) -s --no-install-recommends \
		install "qemu-system-x86=$PIN_VERSION" |
		awk '$1 == "Inst" && $2 !~ /^(seabios|ipxe-qemu)/ { print $2 }')
	log "downloading $(echo "$pkgs" | wc -l) packages of the closure"
	# shellcheck disable=SC2046
	(cd "$vdir/debs" && apt-get $(apt_opts) download $pkgs >&2)

	# Which of them QEMU needs: what its loader resolves, by package.
	local deb lib keep="qemu-system-x86 qemu-system-common qemu-system-data libc6"
	for deb in "$vdir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$vdir/all"
		dpkg-deb -c "$deb" | awk -v p="$(dpkg-deb -f "$deb" Package)" \
			'{ sub(/^\./, "", $6); print $6, p }'
	done > "$vdir/contents"
	for lib in $(needed_libs "$vdir/all"); do
		keep+=" $(awk -v f="${lib#"$vdir/all"}" '$1 == f { print $2; exit }' \
			"$vdir/contents")"
	done
	keep=$(echo $keep | tr ' ' '\n' | sort -u)
	mkdir -p "$root"
	for deb in "$vdir"/debs/*.deb; do
		echo "$keep" | grep -qx "$(dpkg-deb -f "$deb" Package)" &&
			dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$vdir/all"
	needed_libs "$root" >/dev/null ||
		{ log "the extracted QEMU misses libraries"; return 1; }
	for deb in "$vdir"/debs/*.deb; do
		echo "$keep" | grep -qx "$(dpkg-deb -f "$deb" Package)" &&
			dpkg-deb -f "$deb" Package Version | paste -sd' '
	done | sed 's/^Package: //; s/ Version: / /' > "$vdir/packages"
	log "QEMU $PIN_VERSION in $root: $(wc -l < "$vdir/packages") of" \
		"$(echo "$pkgs" | wc -l) packages extracted, what its loader needs"
	touch "$vdir/.complete"
}

# Sets qemu (the command, as an array), accel and why.
choose() {
	local v tcg=${GUEST_TCG:-multi}
	v=$(host_version) || { log "no qemu-system-x86_64"; exit 1; }
	qemu=(qemu-system-x86_64)
	accel=tcg,thread=single
	case $tcg in
	single)
		why="GUEST_TCG=single: the host's QEMU $v, single-threaded"
		return
		;;
	multi)
		;;
	*)
		log "GUEST_TCG must be single or multi"
		exit 1
		;;
	esac
	if dpkg --compare-versions "$v" ge $MTTCG_MIN; then
		accel=tcg,thread=multi
		why="the host's QEMU $v is $MTTCG_MIN or newer"
		return
	fi
	# Set-up fetches it; a runner started without set-up fetches it here.
	"$top/scripts/qemu.sh" fetch || true
	if [ -f "$vdir/.complete" ]; then
		qemu=("$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
		      --library-path "$libpath" "$root/usr/bin/qemu-system-x86_64"
		      -L "$root/usr/share/qemu" -L /usr/share/seabios)
		accel=tcg,thread=multi
		why="the host's QEMU $v is older than $MTTCG_MIN;"
		why+=" Debian's $PIN_VERSION ($PIN_SUITE) from ${root#"$top/"}"
	else
		why="the host's QEMU $v is older than $MTTCG_MIN and no newer"
		why+=" one could be fetched (scripts/qemu.sh fetch):"
		why+=" single-threaded, as 7.2 never runs multi-threaded"
	fi
}

case ${1:-} in
fetch)
	fetch
	;;
describe)
	choose
	echo "qemu: -accel $accel: $why"
	;;
exec)
	shift
	choose
	echo "qemu: -accel $accel: $why"
	exec "${qemu[@]}" -accel "$accel" "$@"
	;;
*)
	echo "usage: $0 fetch|describe|exec ARGS..." >&2
	exit 2
	;;
esac
