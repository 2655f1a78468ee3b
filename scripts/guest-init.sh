#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test guest (busybox).  Loads the modules listed in
# /modules.load, runs every line of /plan as one test with a timeout, and
# prints the results as TAP on the console; each program's own output is
# indented by four spaces, so that a program that prints TAP itself (the
# kselftest harness, KUnit) nests as subtests.  Then it unloads the modules,
# dumps the kernel log between markers for the host to scan, and powers off.
#
# /plan: one test a line, "NAME TIMEOUT_SECONDS PROGRAM [ARGS...]", programs
# relative to /tests; blank lines and lines starting with # are skipped.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/tests
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp

uptime_cs() {
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}"
}

plan_lines() {
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' /plan
}

is_loaded() {
	grep -q "^$(echo "$1" | tr - _) " /proc/modules
}

n=0
result() {	# result STATUS NAME [DIRECTIVE]
	n=$((n + 1))
	echo "$1 $n $2${3:+ # $3}"
}

ntests=$(($(plan_lines | wc -l) + 2))
echo "TAP version 13"
echo "1..$ntests"

# Load the modules in order; a failure fails every test after it anyway,
# but report it on its own so the cause is plain.
loaded=
load_status=ok
for m in $(cat /modules.load); do
	insmod "/lib/modules/$m.ko" 2>&1 | sed 's/^/    /'
	is_loaded "$m" || load_status="not ok"
	loaded="$m $loaded"
done
result "$load_status" modules_load

cd /tests
plan_lines | while read -r name timeout prog args; do
	start=$(uptime_cs)
	{
		timeout -s KILL "$timeout" "./$prog" $args < /dev/null 2>&1
		echo $? > /tmp/rc
	} | sed 's/^/    /'
	rc=$(cat /tmp/rc)
	took=$(($(uptime_cs) - start))
	echo "# $name: exit $rc after $((took / 100)).$(printf %02d $((took % 100))) s"
	if [ "$rc" = 0 ]; then
		result ok "$name"
	elif [ "$rc" = 4 ]; then
		result ok "$name" "SKIP exit code 4 (KSFT_SKIP)"
	elif [ "$took" -ge $((timeout * 100)) ]; then
		result "not ok" "$name" "timed out after $timeout s"
	else
		result "not ok" "$name" "exit code $rc"
	fi
	echo "$n" > /tmp/n
done
n=$(cat /tmp/n 2>/dev/null || echo 1)
cd /

# Unloading must succeed once every test has closed its files.
unload_status=ok
for m in $loaded; do
	rmmod "$m" 2>&1 | sed 's/^/    /'
	is_loaded "$m" && unload_status="not ok"
done
result "$unload_status" modules_unload

echo "--- dmesg ---"
dmesg
echo "--- end dmesg ---"
echo "GMEM-GUEST-DONE"
poweroff -f
