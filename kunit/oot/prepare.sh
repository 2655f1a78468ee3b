#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lay out the sources of an out-of-tree kunit.ko under OUTDIR, from the
# kernel source SRC: OUTDIR/core (kunit.ko's Kbuild dir) and
# OUTDIR/shadow/include/kunit (the headers every KUnit module must use).
# Idempotent: does nothing when OUTDIR is already prepared from the same
# recipe.  See README.md for why each step is there.
#
# Usage: kunit/oot/prepare.sh SRC OUTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$1
out=$2
stamp=$out/.prepared-$(cat "$here"/* | sha1sum | cut -c1-12)
[ -f "$stamp" ] && exit 0

rm -rf "$out/core" "$out/shadow" "$out"/.prepared-*
mkdir -p "$out/core" "$out/shadow/include/kunit"

# 1. lib/kunit (no user_alloc.c, no self-tests) and include/kunit
for f in test.c resource.c static_stub.c string-stream.c assert.c \
	 try-catch.c executor.c attributes.c device.c platform.c debugfs.c \
	 hooks.c debugfs.h device-impl.h hooks-impl.h string-stream.h \
	 try-catch-impl.h; do
	cp "$src/lib/kunit/$f" "$out/core/"
done
cp "$src"/include/kunit/*.h "$out/shadow/include/kunit/"

# 2. CONFIG_KUNIT -> KUNIT_OOT, whole word only (CONFIG_KUNIT_DEBUGFS and
#    friends stay), so that <linux/sched.h> and <linux/module.h> keep the
#    running kernel's struct layouts
sed -i -E 's/\bCONFIG_KUNIT\b/KUNIT_OOT/g' "$out"/core/* \
	"$out"/shadow/include/kunit/*.h

# 3. a task -> test map instead of current->kunit_test; suites handed over
#    by the test module's own module_init instead of the module loader
(cd "$out" && patch -s -p1 < "$here/shadow.patch")
(cd "$out" && patch -s -p1 < "$here/kunit-src.patch")

# 4. files of our own
cp "$here/oot_current.c" "$here/Kbuild" "$out/core/"
touch "$stamp"
