#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lay out gmem's DKMS source tree, what /usr/src/gmem-VERSION holds once
# gmem-dkms is installed: the files the module build needs (Kbuild,
# VERSION, version.kbuild, gmem/, kvm/, include/), the two scripts it runs
# (stage-modules.sh, check-symvers.sh), dkms/build.sh, and dkms.conf made
# from dkms/dkms.conf.in with VERSION.  Only the files git knows and does
# not ignore are taken (as make checkpatch does), so that nothing a build
# or an editor left behind is shipped.
#
# Usage: scripts/dkms-source.sh DIR   (DIR is made; it must not exist)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 1; }
dir=$1
[ -e "$dir" ] && { echo "dkms-source: $dir exists" >&2; exit 1; }

version=$(cat "$top/VERSION")
paths=(Kbuild VERSION version.kbuild gmem kvm include dkms/build.sh
       scripts/stage-modules.sh scripts/check-symvers.sh)

mkdir -p "$dir"
git -C "$top" ls-files -z --cached --others --exclude-standard -- \
	"${paths[@]}" |
	(cd "$top" && xargs -0 cp --parents -a -t "$dir")
sed "s/@VERSION@/$version/" "$top/dkms/dkms.conf.in" > "$dir/dkms.conf"
echo "$dir"
