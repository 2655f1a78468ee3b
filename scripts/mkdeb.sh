#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build gmem-dkms_VERSION_all.deb with plain dpkg-deb (make deb): the DKMS
# source tree under /usr/src/gmem-VERSION (scripts/dkms-source.sh), and the
# maintainer scripts and control file from debian/, VERSION filled in.
# Installed with apt, its postinst builds the modules through DKMS for the
# kernels that have headers.  Prints the package's path.
#
# Usage: scripts/mkdeb.sh OUTDIR
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 1; }
outdir=$1
version=$(cat "$top/VERSION")
deb=$outdir/gmem-dkms_${version}_all.deb

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
"$top/scripts/dkms-source.sh" "$root/usr/src/gmem-$version" > /dev/null
install -D -m 644 "$top/debian/copyright" \
	"$root/usr/share/doc/gmem-dkms/copyright"

mkdir -p "$root/DEBIAN"
for script in postinst prerm; do
	sed "s/@VERSION@/$version/g" "$top/debian/$script.in" \
		> "$root/DEBIAN/$script"
	chmod 755 "$root/DEBIAN/$script"
done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/g" -e "s/@SIZE@/$size/g" \
	"$top/debian/control.in" > "$root/DEBIAN/control"

mkdir -p "$outdir"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
