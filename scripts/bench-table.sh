#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Put the figures of two `make bench` guests side by side: one table with
# the reference and gmem columns and the ratio gmem/reference, then the
# issue's targets, each met or missed.  Then, from the gmem guest alone, an
# ordinary VM's memory on a memfd, a memfd with huge pages and a
# guest_memfd (bench/gmem_shared_bench.c, whose figures are named
# <figure>.<backing>), with gmem's ratios to the two memfds and issue 11's
# targets; and where 1 GiB lands under mbind(MPOL_BIND, node 1) on the same
# three backings (bench/gmem_numa_bench.c, named the same way), with issue
# 12's target; and a round trip of memory from private to shared and back,
# in place on one guest_memfd against a guest_memfd and a memfd
# (bench/gmem_convert_bench.c, named <figure>.<way>), with the ratio of the
# two ways.  Writes the same as JSON.
#
# Usage: scripts/bench-table.sh REFERENCE_LOG GMEM_LOG JSON_OUT
#
# A figure line in a guest log (indented, as the guest's /init prints
# program output):  BENCH <name> <unit> <median> <min> <max> <runs>
set -euo pipefail

ref=$1 gmem=$2 json=$3

for log in "$ref" "$gmem"; do
	if ! grep -q '^ *BENCH ' "$log"; then
		echo "bench-table: no figures in $log" >&2
		exit 1
	fi
done

awk -v json="$json" -v kver="$(basename "$(dirname "$(dirname "$ref")")")" '
# Figures in the order the table shows them, with their labels.
BEGIN {
	n = split("zero_1g zero_1g_rep_stosb zero_1g_rep_stosq zero_1g_avx2 " \
		  "fallocate_1g punch_1g slab_per_gib prefault_1g " \
		  "prefault_pages_4k prefault_pages_2m prefault_pct_2m " \
		  "prefault_1g_allocated " \
		  "touch_256m touch_pages_4k touch_pages_2m touch_pct_2m " \
		  "memslots_bind_512 memslots_unbind_512 " \
		  "vm_destroy_others_1 vm_destroy_cpu_others_1 " \
		  "vm_destroy_others_100 vm_destroy_cpu_others_100 " \
		  "vm_destroy_others_1000 vm_destroy_cpu_others_1000", order, " ")
	label["zero_1g"] = "floor: memset() 1 GiB in user space"
	label["zero_1g_rep_stosb"] = "  zero 1 GiB: rep stosb"
	label["zero_1g_rep_stosq"] = "  zero 1 GiB: rep stosq"
	label["zero_1g_avx2"] = "  zero 1 GiB: AVX2 stores"
	label["prefault_1g_allocated"] = "KVM_PRE_FAULT_MEMORY 1 GiB, fallocated"
	label["fallocate_1g"] = "fallocate 1 GiB"
	label["punch_1g"] = "PUNCH_HOLE 1 GiB"
	label["slab_per_gib"] = "slab per GiB allocated"
	label["prefault_1g"] = "KVM_PRE_FAULT_MEMORY 1 GiB"
	label["prefault_pages_4k"] = "  then mapped 4 KiB (pages_4k)"
	label["prefault_pages_2m"] = "  then mapped 2 MiB (pages_2m)"
	label["prefault_pct_2m"] = "  share mapped 2 MiB"
	label["touch_256m"] = "vCPU first touch of 256 MiB"
	label["touch_pages_4k"] = "  then mapped 4 KiB (pages_4k)"
	label["touch_pages_2m"] = "  then mapped 2 MiB (pages_2m)"
	label["touch_pct_2m"] = "  share mapped 2 MiB"
	label["memslots_bind_512"] = "bind 512 memslots"
	label["memslots_unbind_512"] = "unbind 512 memslots"
	label["vm_destroy_others_1"] = "destroy VM of 4 gmems, 1 other VM"
	label["vm_destroy_others_100"] = "destroy VM of 4 gmems, 100 others"
	label["vm_destroy_others_1000"] = "destroy VM of 4 gmems, 1000 others"
	label["vm_destroy_cpu_others_1"] = "  of it, the thread on a CPU"
	label["vm_destroy_cpu_others_100"] = "  of it, the thread on a CPU"
	label["vm_destroy_cpu_others_1000"] = "  of it, the thread on a CPU"

	# The shared-memory figures: one guest, the gmem variant, three backings.
	ns = split("shared_write_256m shared_write_pct_pmd shared_touch_256m " \
		   "shared_touch_pages_4k shared_touch_pages_2m " \
		   "shared_touch_pct_2m shared_prefault_256m " \
		   "shared_prefault_pages_4k shared_prefault_pages_2m " \
		   "shared_prefault_pct_2m", sorder, " ")
	nb = split("memfd memfd_thp gmem", backing, " ")
	blabel["memfd"] = "memfd"
	blabel["memfd_thp"] = "memfd THP"
	blabel["gmem"] = "gmem"
	label["shared_write_256m"] = "VMM writes 256 MiB (memset)"
	label["shared_write_pct_pmd"] = "  then its mapping: share PMD-mapped"
	label["shared_touch_256m"] = "vCPU first touch of 256 MiB"
	label["shared_touch_pages_4k"] = "  then mapped 4 KiB (pages_4k)"
	label["shared_touch_pages_2m"] = "  then mapped 2 MiB (pages_2m)"
	label["shared_touch_pct_2m"] = "  share mapped 2 MiB"
	label["shared_prefault_256m"] = "KVM_PRE_FAULT_MEMORY 256 MiB"
	label["shared_prefault_pages_4k"] = "  then mapped 4 KiB (pages_4k)"
	label["shared_prefault_pages_2m"] = "  then mapped 2 MiB (pages_2m)"
	label["shared_prefault_pct_2m"] = "  share mapped 2 MiB"

	# The NUMA figures: the gmem guest too, the same three backings.
	nn_ = split("numa_fallocate_1g numa_touch_1g numa_pct_node1 " \
		    "numa_pct_pmd", norder, " ")
	label["numa_fallocate_1g"] = "fallocate 1 GiB, MPOL_BIND node 1"
	label["numa_touch_1g"] = "  then read it through the mapping"
	label["numa_pct_node1"] = "  share on node 1 (move_pages)"
	label["numa_pct_pmd"] = "  share PMD-mapped (2 MiB folios)"

	# The conversion figures: the gmem guest too, two ways.
	ncv = split("convert_roundtrip_2m convert_mem_shared_2m " \
		    "convert_mem_peak_2m convert_roundtrip_256m " \
		    "convert_mem_shared_256m convert_mem_peak_256m", cvorder, " ")
	label["convert_roundtrip_2m"] = "round trip of 2 MiB"
	label["convert_mem_shared_2m"] = "  memory at the shared point"
	label["convert_mem_peak_2m"] = "  memory, most in the round trip"
	label["convert_roundtrip_256m"] = "round trip of 256 MiB"
	label["convert_mem_shared_256m"] = "  memory at the shared point"
	label["convert_mem_peak_256m"] = "  memory, most in the round trip"
}
# The shared-memory bench: its notes (what the program found), and whether
# each guest ran it.
/^ *# shared: / && FILENAME == ARGV[2] {
	sub(/^ *# shared: /, "")
	snote[++nn] = $0
}
/^(not )?ok [0-9]+ gmem_shared_bench/ {
	sran[FILENAME == ARGV[1] ? "reference" : "gmem"] = $0
}
# The NUMA bench: the same, and the nodes of the gmem guest.
/^ *# numa: / && FILENAME == ARGV[2] {
	sub(/^ *# numa: /, "")
	nnote[++nnn] = $0
}
/^# numa nodes: / && FILENAME == ARGV[2] {
	sub(/^# numa nodes: /, "")
	nnodes = $0
}
/^(not )?ok [0-9]+ gmem_numa_bench/ {
	nran[FILENAME == ARGV[1] ? "reference" : "gmem"] = $0
}
# The conversion bench: the same.
/^ *# convert: / && FILENAME == ARGV[2] {
	sub(/^ *# convert: /, "")
	cvnote[++ncvn] = $0
}
/^(not )?ok [0-9]+ gmem_convert_bench/ {
	cvran[FILENAME == ARGV[1] ? "reference" : "gmem"] = $0
}
# The figures of the tables of the gmem guest alone, shared_, numa_ and
# convert_: one set of cells, keyed by backing (or way) and figure; tseen
# says which tables have any.
/^ *BENCH (shared|numa|convert)_[a-z0-9_]+\.[a-z_]+ / {
	if (FILENAME != ARGV[2])
		next
	sub(/^ */, "")
	split($2, nameb, ".")
	f = nameb[1]; b = nameb[2]
	sunit[f] = $3
	smed[b, f] = $4; slo[b, f] = $5; shi[b, f] = $6; sruns[b, f] = $7
	sseen[b, f] = 1
	tseen[substr(f, 1, index(f, "_") - 1)] = 1
	next
}
/^ *BENCH / {
	v = FILENAME == ARGV[1] ? "reference" : "gmem"
	sub(/^ */, "")
	unit[$2] = $3
	med[v, $2] = $4; lo[v, $2] = $5; hi[v, $2] = $6; runs[v, $2] = $7
	seen[v, $2] = 1
}
function num(x,   a) {
	a = x < 0 ? -x : x
	if (a >= 100 || x == int(x))
		return sprintf("%.0f", x)
	return sprintf(a >= 10 ? "%.1f" : "%.2f", x)
}
function cell(v, f) {
	if (!((v, f) in seen))
		return "-"
	if (lo[v, f] == hi[v, f])
		return num(med[v, f])
	return num(med[v, f]) " (" num(lo[v, f]) "-" num(hi[v, f]) ")"
}
function ratio(f) {
	if (!(("reference", f) in seen) || !(("gmem", f) in seen) ||
	    med["reference", f] == 0)
		return ""
	return med["gmem", f] / med["reference", f]
}
# The median of figure @b over that of figure @a, in variant @v.
function growth(v, a, b) {
	if (!((v, a) in seen) || !((v, b) in seen) || med[v, a] == 0)
		return ""
	return med[v, b] / med[v, a]
}
function jfig(v, f) {
	if (!((v, f) in seen))
		return "null"
	return sprintf("{\"median\": %s, \"min\": %s, \"max\": %s, \"runs\": %d}",
		       med[v, f], lo[v, f], hi[v, f], runs[v, f])
}
# target(name, value, op, limit): op is "<=" or ">="
function target(name, value, op, limit,   met) {
	met = value != "" && (op == "<=" ? value + 0 <= limit : value + 0 >= limit)
	nt++
	tname[nt] = name; tval[nt] = value; top_[nt] = op; tlim[nt] = limit
	tmet[nt] = met
	missed += !met
}
# The shared-memory table: its cells, the ratio of gmem to backing @b, and JSON.
function scell(b, f) {
	if (!((b, f) in sseen))
		return "-"
	if (slo[b, f] == shi[b, f])
		return num(smed[b, f])
	return num(smed[b, f]) " (" num(slo[b, f]) "-" num(shi[b, f]) ")"
}
function sratio(b, f) {
	if (!((b, f) in sseen) || !(("gmem", f) in sseen) || smed[b, f] == 0)
		return ""
	return smed["gmem", f] / smed[b, f]
}
# gmem less backing @b, for shares in percent: points.
function sdiff(b, f) {
	if (!((b, f) in sseen) || !(("gmem", f) in sseen))
		return ""
	return smed["gmem", f] - smed[b, f]
}
function sjfig(b, f) {
	if (!((b, f) in sseen))
		return "null"
	return sprintf("{\"median\": %s, \"min\": %s, \"max\": %s, \"runs\": %d}",
		       smed[b, f], slo[b, f], shi[b, f], sruns[b, f])
}
function jnum(x) {
	return x == "" ? "null" : sprintf("%.4f", x)
}
function jstr(x) {
	gsub(/\\/, "\\\\", x)
	gsub(/"/, "\\\"", x)
	return "\"" x "\""
}
function starget(name, value, op, limit,   met) {
	met = value != "" && (op == "<=" ? value + 0 <= limit : value + 0 >= limit)
	nst++
	stname[nst] = name; stval[nst] = value; stop[nst] = op
	stlim[nst] = limit; stmet[nst] = met
	smissed += !met
}
function shared_table(   i, f, sep) {
	printf "\nAn ordinary VM'"'"'s memory, 256 MiB: memfd, memfd with huge pages, " \
	       "guest_memfd (MMAP | INIT_SHARED);\nall three in the gmem " \
	       "variant'"'"'s guest, taking turns (the reference variant has no " \
	       "guest_memfd\nfor an ordinary VM: cap 244 reads 0 there)\n"
	printf "  reference guest: %s\n  gmem guest:      %s\n",
	       "reference" in sran ? sran["reference"] : "not in its plan",
	       "gmem" in sran ? sran["gmem"] : "not in its plan"
	if (!("shared" in tseen)) {
		printf "no shared-memory figures in the gmem guest'"'"'s log\n"
		return
	}
	printf "%-38s %-6s %-22s %-22s %-22s %-10s %s\n",
	       "figure (median (min-max))", "unit", "memfd", "memfd THP",
	       "gmem", "gmem/memfd", "gmem/THP"
	for (i = 1; i <= ns; i++) {
		f = sorder[i]
		printf "%-38s %-6s %-22s %-22s %-22s %-10s %s\n", label[f],
		       sunit[f], scell("memfd", f), scell("memfd_thp", f),
		       scell("gmem", f),
		       sratio("memfd", f) == "" ? "-" : \
		       sprintf("%.3f", sratio("memfd", f)),
		       sratio("memfd_thp", f) == "" ? "-" : \
		       sprintf("%.3f", sratio("memfd_thp", f))
	}
	for (i = 1; i <= nn; i++)
		printf "%s %s\n", i == 1 ? "found:" : "      ", snote[i]

	starget("first touch at least 4x faster than memfd (gmem/memfd)",
		sratio("memfd", "shared_touch_256m"), "<=", 0.25)
	# Times: "no worse" within the noise, as for the figures above.
	for (i = 1; i <= ns; i++) {
		f = sorder[i]
		if (sunit[f] == "ms")
			starget(sprintf("%s: at most 10%% worse than memfd THP", f),
				sratio("memfd_thp", f), "<=", 1.10)
		else if (sunit[f] == "%")
			starget(sprintf("%s: no less than memfd THP (points)", f),
				sdiff("memfd_thp", f), ">=", 0)
	}
	printf "\n%-58s %-10s %s\n", "shared-memory target", "value", "result"
	for (i = 1; i <= nst; i++)
		printf "%-58s %-10s %s\n", stname[i],
		       stval[i] == "" ? "-" : sprintf("%.3f", stval[i]),
		       (stmet[i] ? "met" : "MISSED") " (" stop[i] " " stlim[i] ")"
	printf "\n%d of %d shared-memory targets met%s\n", nst - smissed, nst,
	       smissed ? "; see README.md, Performance, for each miss" : ""
}
function shared_json(   i, f) {
	if (!("shared" in tseen)) {
		printf "  \"shared\": null,\n" > json
		return
	}
	printf "  \"shared\": {\n    \"figures\": [\n" > json
	for (i = 1; i <= ns; i++) {
		f = sorder[i]
		printf "      {\"name\": \"%s\", \"unit\": \"%s\", " \
		       "\"memfd\": %s, \"memfd_thp\": %s, \"gmem\": %s, " \
		       "\"ratio_memfd\": %s, \"ratio_memfd_thp\": %s}%s\n",
		       f, sunit[f], sjfig("memfd", f), sjfig("memfd_thp", f),
		       sjfig("gmem", f), jnum(sratio("memfd", f)),
		       jnum(sratio("memfd_thp", f)), i < ns ? "," : "" > json
	}
	printf "    ],\n    \"targets\": [\n" > json
	for (i = 1; i <= nst; i++)
		printf "      {\"target\": %s, \"value\": %s, \"op\": \"%s\", " \
		       "\"limit\": %s, \"met\": %s}%s\n", jstr(stname[i]),
		       jnum(stval[i]), stop[i], stlim[i],
		       stmet[i] ? "true" : "false", i < nst ? "," : "" > json
	printf "    ],\n    \"found\": [\n" > json
	for (i = 1; i <= nn; i++)
		printf "      %s%s\n", jstr(snote[i]), i < nn ? "," : "" > json
	printf "    ]\n  },\n" > json
}
# The NUMA table: its figures go in the s* arrays too (their names do
# not collide), so its cells are scell(), sratio() and sdiff(); its targets.
function ntarget(name, value, op, limit,   met) {
	met = value != "" && (op == "<=" ? value + 0 <= limit : value + 0 >= limit)
	nnt++
	ntname[nnt] = name; ntval[nnt] = value; ntop[nnt] = op
	ntlim[nnt] = limit; ntmet[nnt] = met
	nmissed += !met
}
function numa_table(   i, f) {
	printf "\nNUMA policy, 1 GiB: mbind(MPOL_BIND, node 1) on the mapping, then " \
	       "fallocate, then a read\nof each page; memfd, memfd with huge " \
	       "pages, guest_memfd (MMAP | INIT_SHARED), taking\nturns in the " \
	       "gmem variant'"'"'s guest, the program on node 0'"'"'s CPUs\n"
	printf "  reference guest: %s\n  gmem guest:      %s\n",
	       "reference" in nran ? nran["reference"] : "not in its plan",
	       "gmem" in nran ? nran["gmem"] : "not in its plan"
	printf "  gmem guest'"'"'s nodes: %s\n", nnodes == "" ? "not shown" : nnodes
	if (!("numa" in tseen)) {
		printf "no NUMA figures in the gmem guest'"'"'s log\n"
		return
	}
	printf "%-38s %-6s %-22s %-22s %-22s %-10s %s\n",
	       "figure (median (min-max))", "unit", "memfd", "memfd THP",
	       "gmem", "gmem/memfd", "gmem/THP"
	for (i = 1; i <= nn_; i++) {
		f = norder[i]
		printf "%-38s %-6s %-22s %-22s %-22s %-10s %s\n", label[f],
		       sunit[f], scell("memfd", f), scell("memfd_thp", f),
		       scell("gmem", f),
		       sratio("memfd", f) == "" ? "-" : \
		       sprintf("%.3f", sratio("memfd", f)),
		       sratio("memfd_thp", f) == "" ? "-" : \
		       sprintf("%.3f", sratio("memfd_thp", f))
	}
	for (i = 1; i <= nnn; i++)
		printf "%s %s\n", i == 1 ? "found:" : "      ", nnote[i]

	ntarget("gmem: share on node 1 (%)",
		("gmem", "numa_pct_node1") in sseen ? \
		smed["gmem", "numa_pct_node1"] : "", ">=", 100)
	ntarget("gmem: share PMD-mapped no less than memfd THP (points)",
		sdiff("memfd_thp", "numa_pct_pmd"), ">=", 0)
	ntarget("fallocate at most 10% worse than memfd THP (gmem/THP)",
		sratio("memfd_thp", "numa_fallocate_1g"), "<=", 1.10)
	printf "\n%-58s %-10s %s\n", "NUMA target", "value", "result"
	for (i = 1; i <= nnt; i++)
		printf "%-58s %-10s %s\n", ntname[i],
		       ntval[i] == "" ? "-" : sprintf("%.3f", ntval[i]),
		       (ntmet[i] ? "met" : "MISSED") " (" ntop[i] " " ntlim[i] ")"
	printf "\n%d of %d NUMA targets met%s\n", nnt - nmissed, nnt,
	       nmissed ? "; see README.md, Performance, for each miss" : ""
}
function numa_json(   i, f) {
	if (!("numa" in tseen)) {
		printf "  \"numa\": null\n" > json
		return
	}
	printf "  \"numa\": {\n    \"nodes\": %s,\n    \"figures\": [\n",
	       jstr(nnodes) > json
	for (i = 1; i <= nn_; i++) {
		f = norder[i]
		printf "      {\"name\": \"%s\", \"unit\": \"%s\", " \
		       "\"memfd\": %s, \"memfd_thp\": %s, \"gmem\": %s, " \
		       "\"ratio_memfd\": %s, \"ratio_memfd_thp\": %s}%s\n",
		       f, sunit[f], sjfig("memfd", f), sjfig("memfd_thp", f),
		       sjfig("gmem", f), jnum(sratio("memfd", f)),
		       jnum(sratio("memfd_thp", f)), i < nn_ ? "," : "" > json
	}
	printf "    ],\n    \"targets\": [\n" > json
	for (i = 1; i <= nnt; i++)
		printf "      {\"target\": %s, \"value\": %s, \"op\": \"%s\", " \
		       "\"limit\": %s, \"met\": %s}%s\n", jstr(ntname[i]),
		       jnum(ntval[i]), ntop[i], ntlim[i],
		       ntmet[i] ? "true" : "false", i < nnt ? "," : "" > json
	printf "    ],\n    \"found\": [\n" > json
	for (i = 1; i <= nnn; i++)
		printf "      %s%s\n", jstr(nnote[i]), i < nnn ? "," : "" > json
	printf "    ]\n  }\n" > json
}
# The conversion table: in place against two backings, no targets (the
# program measures; speed is not pass or fail).
# Its cells are those of the shared-memory table (scell(), sjfig()); its
# ratio is of the two ways.
function cvratio(f) {
	if (!(("in_place", f) in sseen) || !(("two_backings", f) in sseen) ||
	    smed["in_place", f] == 0)
		return ""
	return smed["two_backings", f] / smed["in_place", f]
}
function convert_table(   i, f) {
	printf "\nConversion, a round trip private -> shared (contents kept, the " \
	       "host reads a word of\neach page) -> private: in place on one " \
	       "guest_memfd (KVM_SET_MEMORY_ATTRIBUTES2),\nagainst a guest_memfd " \
	       "and a memfd with huge pages (KVM_SET_MEMORY_ATTRIBUTES, punch,\n" \
	       "copy, fallocate), taking turns in the gmem variant'"'"'s guest; " \
	       "memory: the files'"'"'\nst_blocks\n"
	printf "  reference guest: %s\n  gmem guest:      %s\n",
	       "reference" in cvran ? cvran["reference"] : "not in its plan",
	       "gmem" in cvran ? cvran["gmem"] : "not in its plan"
	if (!("convert" in tseen)) {
		printf "no conversion figures in the gmem guest'"'"'s log\n"
		return
	}
	printf "%-38s %-6s %-22s %-22s %s\n", "figure (median (min-max))",
	       "unit", "in place", "two backings", "two/in place"
	for (i = 1; i <= ncv; i++) {
		f = cvorder[i]
		printf "%-38s %-6s %-22s %-22s %s\n", label[f], sunit[f],
		       scell("in_place", f), scell("two_backings", f),
		       cvratio(f) == "" ? "-" : sprintf("%.3f", cvratio(f))
	}
	for (i = 1; i <= ncvn; i++)
		printf "%s %s\n", i == 1 ? "found:" : "      ", cvnote[i]
}
function convert_json(   i, f) {
	if (!("convert" in tseen)) {
		printf "  \"convert\": null,\n" > json
		return
	}
	printf "  \"convert\": {\n    \"figures\": [\n" > json
	for (i = 1; i <= ncv; i++) {
		f = cvorder[i]
		printf "      {\"name\": \"%s\", \"unit\": \"%s\", " \
		       "\"in_place\": %s, \"two_backings\": %s, " \
		       "\"ratio_two_backings\": %s}%s\n", f, sunit[f],
		       sjfig("in_place", f), sjfig("two_backings", f),
		       jnum(cvratio(f)), i < ncv ? "," : "" > json
	}
	printf "    ],\n    \"found\": [\n" > json
	for (i = 1; i <= ncvn; i++)
		printf "      %s%s\n", jstr(cvnote[i]), i < ncvn ? "," : "" > json
	printf "    ]\n  },\n" > json
}
END {
	printf "%-38s %-6s %-26s %-26s %s\n", "figure (median (min-max))", "unit",
	       "reference", "gmem", "gmem/ref"
	for (i = 1; i <= n; i++) {
		f = order[i]
		r = ratio(f)
		printf "%-38s %-6s %-26s %-26s %s\n", label[f], unit[f],
		       cell("reference", f), cell("gmem", f),
		       r == "" ? "-" : sprintf("%.3f", r)
	}

	target("pre-fault 1 GiB at least 8x faster (gmem/ref)",
	       ratio("prefault_1g"), "<=", 0.125)
	target("first touch 256 MiB at least 4x faster (gmem/ref)",
	       ratio("touch_256m"), "<=", 0.25)
	target("after pre-fault, share mapped 2 MiB (%)",
	       med["gmem", "prefault_pct_2m"], ">=", 99)
	target("fallocate no slower than reference (gmem/ref)",
	       ratio("fallocate_1g"), "<=", 1.0)
	target("fallocate within 1.5x of the zeroing floor (gmem/floor)",
	       med["gmem", "zero_1g"] ? \
	       med["gmem", "fallocate_1g"] / med["gmem", "zero_1g"] : "",
	       "<=", 1.5)
	# Destroying a VM costs the same however many other VMs there are.
	for (i = 1; i <= 2; i++) {
		v = i == 1 ? "reference" : "gmem"
		target(sprintf("VM destroy flat: 1000 others / 1 (%s)", v),
		       growth(v, "vm_destroy_others_1", "vm_destroy_others_1000"),
		       "<=", 1.2)
	}
	# Not the destroy figures: they have the target above.
	for (i = 1; i <= n; i++) {
		f = order[i]
		if (unit[f] != "ms" && unit[f] != "bytes" ||
		    f ~ /^(zero_1g|vm_destroy)/)
			continue
		target(sprintf("%s: at most 10%% worse (gmem/ref)", f),
		       ratio(f), "<=", 1.10)
	}

	printf "\n%-58s %-10s %s\n", "target", "value", "result"
	for (i = 1; i <= nt; i++)
		printf "%-58s %-10s %s\n", tname[i],
		       tval[i] == "" ? "-" : sprintf("%.3f", tval[i]),
		       (tmet[i] ? "met" : "MISSED") " (" top_[i] " " tlim[i] ")"
	printf "\n%d of %d targets met%s\n", nt - missed, nt,
	       missed ? "; see README.md, Performance, for each miss" : ""
	shared_table()
	numa_table()
	convert_table()

	printf "{\n  \"kernel\": \"%s\",\n  \"figures\": [\n", kver > json
	for (i = 1; i <= n; i++) {
		f = order[i]
		r = ratio(f)
		printf "    {\"name\": \"%s\", \"unit\": \"%s\", " \
		       "\"reference\": %s, \"gmem\": %s, \"ratio\": %s}%s\n",
		       f, unit[f], jfig("reference", f), jfig("gmem", f),
		       r == "" ? "null" : sprintf("%.4f", r),
		       i < n ? "," : "" > json
	}
	printf "  ],\n  \"targets\": [\n" > json
	for (i = 1; i <= nt; i++)
		printf "    {\"target\": \"%s\", \"value\": %s, \"op\": \"%s\", " \
		       "\"limit\": %s, \"met\": %s}%s\n", tname[i],
		       tval[i] == "" ? "null" : sprintf("%.4f", tval[i]),
		       top_[i], tlim[i], tmet[i] ? "true" : "false",
		       i < nt ? "," : "" > json
	printf "  ],\n" > json
	shared_json()
	convert_json()
	numa_json()
	printf "}\n" > json
}
' "$ref" "$gmem"
