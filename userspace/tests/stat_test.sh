#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kvm-xbzrle-stat on fake debugfs files: exact table, derived rates, JSON,
# options, and the error message and exit status of each failure.  The
# fake files and the expected tables are in stat_data/ beside this script.
#
#   sh tests/stat_test.sh path/to/kvm-xbzrle-stat
#
# KVM_XBZRLE_DEBUGFS=<dir> replaces /sys/kernel/debug/kvm_xbzrle and
# KVM_XBZRLE_SYSROOT=<dir> is put in front of /dev, /sys and
# /proc/self/mounts (both for tests only).  Prints TAP 13; exit 0 when
# every test passes, 1 otherwise.

STAT=$1
if [ -z "$STAT" ] || [ ! -x "$STAT" ]; then
	echo "usage: $0 path/to/kvm-xbzrle-stat" >&2
	exit 2
fi
case $STAT in /*) ;; *) STAT=$PWD/$STAT ;; esac
DATA=$(cd "$(dirname "$0")/stat_data" && pwd) || exit 2

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "$2" ] || printf '%s\n' "$2" | sed 's/^/#   /'
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# run [ENV=...] ARGS...: stdout in $T/out, stderr in $T/err, status in $rc
run() {
	env "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect NAME RC [STDERR-SUBSTRING]: checks the last run
expect() {
	name=$1 want=$2 msg=$3
	if [ "$rc" != "$want" ]; then
		not_ok "$name" "exit $rc, expected $want; stderr: $(cat "$T/err")"
	elif [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/err"; then
		not_ok "$name" "stderr lacks '$msg': $(cat "$T/err")"
	else
		ok "$name"
	fi
}

# same_output NAME EXPECTED-FILE: compares the last run's stdout
same_output() {
	if [ "$rc" = 0 ] && diff -u "$2" "$T/out" >"$T/diff"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc; $(cat "$T/err" "$T/diff")"
	fi
}

# json_check NAME PYTHON-ASSERTIONS: the last run's stdout, one JSON
# document per line, each valid for python3 -m json.tool; the assertions
# see the documents as the list `docs` and `close(a, b)` for floats
json_check() {
	name=$1
	if [ "$rc" != 0 ]; then
		not_ok "$name" "exit $rc: $(cat "$T/err")"
		return
	fi
	while IFS= read -r line; do
		if ! printf '%s\n' "$line" | python3 -m json.tool >/dev/null 2>"$T/jerr"; then
			not_ok "$name" "json.tool: $(cat "$T/jerr"): $line"
			return
		fi
	done <"$T/out"
	if python3 - "$T/out" >"$T/jerr" 2>&1 <<EOF
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1])]
def close(a, b):
    return a is not None and abs(a - b) < 1e-6
$2
EOF
	then
		ok "$name"
	else
		not_ok "$name" "$(cat "$T/jerr")"
	fi
}

# stat_data/debugfs: context 2 has a counter this tool does not know and
# none of the age rule's refusals (a module without
# KVM_XBZRLE_CAP_GENERATION); context 5 did nothing yet
D=$T/debugfs
cp -r "$DATA/debugfs" "$D"

echo "TAP version 13"

# Worked out by hand, page size 4096:
#   hit rate = hits / (hits + misses): 600/900, 500/700, 100/200
#   miss rate = misses / pages: 300/1000, 200/800, 100/200
#   encoding rate = hits * 4096 / (delta + 3 * xbzrle_pages + 4096 * overflows):
#     module 2457600 / 287920 = 8.5357, ctx 1 2048000 / 267140 = 7.6664,
#     ctx 2 409600 / 20780 = 19.7113
#   MiB: 3670016 = 3.5, 2621440 = 2.5, 1048576 = 1, 6442450944 = 6144
# in stat_data/table (every column), table-m (-m) and table-p (--pid 4242)
if [ "$(getconf PAGESIZE)" = 4096 ]; then
	run KVM_XBZRLE_DEBUGFS="$D" "$STAT"
	same_output "table: module and every context, exact counters and rates" "$DATA/table"
	run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -m
	same_output "-m: module-wide only" "$DATA/table-m"
	run KVM_XBZRLE_DEBUGFS="$D" "$STAT" --pid 4242
	same_output "--pid 4242: that process's two contexts, no module column" "$DATA/table-p"
else
	skip "exact tables" "page size is not 4096"
fi

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -j
json_check "-j: counters as read, rates, null where undefined" "
d = docs[0]
assert len(docs) == 1
assert d['page_size'] > 0 and d['time'] > 0
m = d['module']
assert m['contexts'] == 3 and m['pages'] == 1000
assert m['max_cache_bytes'] == 6442450944
assert close(m['cache_hit_rate'], 600 / 900)
assert close(m['cache_miss_rate'], 0.3)
ps = d['page_size']
assert close(m['encoding_rate'], 600 * ps / (81920 + 3 * 400 + ps * 50))
assert close(m['cache_mib'], 3.5) and close(m['cache_limit_mib'], 6144)
c = d['contexts']
assert [x['id'] for x in c] == [1, 2, 5]
assert [x['pid'] for x in c] == [4242, 4243, 4242]
assert [x['bound'] for x in c] == [1, 1, 0]
assert c[0]['delta_bytes'] == 61440 and c[0]['cache_size'] == 67108864
assert close(c[0]['encoding_rate'], 500 * ps / (61440 + 3 * 300 + ps * 50))
assert close(c[1]['encoding_rate'], 100 * ps / (20480 + 3 * 100))
assert c[1]['future_counter'] == 9
assert close(c[1]['cache_limit_mib'], 128)
for k in ('cache_hit_rate', 'cache_miss_rate', 'encoding_rate'):
    assert c[2][k] is None, k
assert c[2]['cache_mib'] == 0
"

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" --json --module
json_check "-j -m: module only" "
assert 'contexts' not in docs[0] and docs[0]['module']['pages'] == 1000
"

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -j -p 4243
json_check "-j -p 4243: one context, no module" "
d = docs[0]
assert 'module' not in d and [x['id'] for x in d['contexts']] == [2]
"

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -j -i 0.05 -c 3
json_check "-j -i 0.05 -c 3: three JSON lines" "
assert len(docs) == 3 and all(x['module']['pages'] == 1000 for x in docs)
"

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -m --interval 0.05 --count 2
if [ "$rc" = 0 ] && [ "$(grep -c '^pages ' "$T/out")" = 2 ] &&
   [ "$(grep -c '^[0-9-]* [0-9:]*$' "$T/out")" = 2 ]; then
	ok "-i 0.05 -c 2: two tables, each under a time stamp"
else
	not_ok "-i 0.05 -c 2: two tables, each under a time stamp" "$(cat "$T/out" "$T/err")"
fi

run KVM_XBZRLE_DEBUGFS="$D" "$STAT" -p 999
expect "-p of a process without a context: exit 1" 1 \
	"no kvm_xbzrle context of process 999"

# an empty contexts file: no context open
E=$T/empty
mkdir -p "$E"
cp "$D/stats" "$E/stats"
: >"$E/contexts"
run KVM_XBZRLE_DEBUGFS="$E" "$STAT"
if [ "$rc" = 0 ] && head -n 1 "$T/out" | grep -q '^ *module$'; then
	ok "no context open: module column only"
else
	not_ok "no context open: module column only" "$(cat "$T/out" "$T/err")"
fi

# missing and malformed files
run KVM_XBZRLE_DEBUGFS="$T/nowhere" "$STAT"
expect "missing stats file: exit 1, path and reason" 1 \
	"$T/nowhere/stats: No such file or directory"
M=$T/nocontexts
mkdir -p "$M"
cp "$D/stats" "$M/stats"
run KVM_XBZRLE_DEBUGFS="$M" "$STAT"
expect "missing contexts file: exit 1" 1 \
	"$M/contexts: No such file or directory"
run KVM_XBZRLE_DEBUGFS="$M" "$STAT" -m
expect "missing contexts file: -m still works" 0
B=$T/bad
mkdir -p "$B"
# bad_stats NAME CONTENT STDERR: a stats file of CONTENT (printf's %b) is
# refused with exit 1 and STDERR
bad_stats() {
	printf '%b' "$2" >"$B/stats"
	run KVM_XBZRLE_DEBUGFS="$B" "$STAT" -m
	expect "$1" 1 "$3"
}
bad_stats "stats value not a number: exit 1 with file and line" \
	'contexts 0\npages 12x\n' "$B/stats:2: malformed line"
bad_stats "stats line with three fields: exit 1" \
	'pages 1 2\n' "$B/stats:1: malformed line"
bad_stats "stats counter given twice: exit 1" \
	'pages 1\npages 2\n' "$B/stats:2: malformed line (counter given twice)"
bad_stats "stats value above 2^64-1: exit 1" \
	'pages 18446744073709551616\n' "$B/stats:1: malformed line"
printf 'pages 18446744073709551615\n' >"$B/stats"
: >"$B/contexts"
run KVM_XBZRLE_DEBUGFS="$B" "$STAT" -j
json_check "stats value 2^64-1 is read exactly" "
assert docs[0]['module']['pages'] == 18446744073709551615
"
printf 'id=1 pid=2 pages\n' >"$B/contexts"
run KVM_XBZRLE_DEBUGFS="$B" "$STAT"
expect "contexts token without '=': exit 1" 1 "$B/contexts:1: malformed line"
printf 'id=1 pid=2\npid=3 pages=1\n' >"$B/contexts"
run KVM_XBZRLE_DEBUGFS="$B" "$STAT"
expect "context without id=: exit 1" 1 "$B/contexts:2: malformed line (no id= or pid=)"

# options
run "$STAT" -h
if [ "$rc" = 0 ] && grep -q '^usage: kvm-xbzrle-stat' "$T/out" && [ ! -s "$T/err" ]; then
	ok "-h: usage on stdout, exit 0"
else
	not_ok "-h: usage on stdout, exit 0" "exit $rc"
fi
for bad in "-x:unknown option '-x'" "--bogus:unknown option '--bogus'" \
	   "-p:-p needs an argument" "-p abc:-p: not a process id: 'abc'" \
	   "-p 0:-p: not a process id: '0'" "-p -5:-p: not a process id: '-5'" \
	   "-i 0:-i: not a number of seconds" "-i abc:-i: not a number of seconds" \
	   "-i 1e9:-i: not a number of seconds" "-i nan:-i: not a number of seconds" \
	   "-c 2:-c needs -i" "-i 1 -c 0:-c: not a positive count" \
	   "-m -p 1:-m and -p exclude each other" "extra:unexpected argument 'extra'"; do
	args=${bad%%:*}
	# shellcheck disable=SC2086 # the arguments are meant to split
	run KVM_XBZRLE_DEBUGFS="$D" "$STAT" $args
	expect "bad usage '$args': exit 2" 2 "${bad#*:}"
done

# diagnosis of the real paths, on a fake root
R=$T/root
mkdir -p "$R/proc/self"
run KVM_XBZRLE_SYSROOT="$R" "$STAT"
expect "module not loaded: says so and how to load it" 1 \
	"the kvm_xbzrle module is not loaded (no /dev/kvm_xbzrle, no /sys/module/kvm_xbzrle); load it with: modprobe kvm_xbzrle"
mkdir -p "$R/sys/module/kvm_xbzrle" "$R/sys/kernel/debug"
echo "sysfs /sys sysfs rw 0 0" >"$R/proc/self/mounts"
run KVM_XBZRLE_SYSROOT="$R" "$STAT"
expect "debugfs not mounted: says how to mount it" 1 \
	"debugfs is not mounted; mount it with: mount -t debugfs none /sys/kernel/debug"
echo "debugfs /sys/kernel/debug debugfs rw 0 0" >>"$R/proc/self/mounts"
run KVM_XBZRLE_SYSROOT="$R" "$STAT"
expect "module without debugfs files: names the file" 1 \
	"$R/sys/kernel/debug/kvm_xbzrle/stats: No such file or directory (the loaded kvm_xbzrle module has no statistics in debugfs"
cp -r "$D" "$R/sys/kernel/debug/kvm_xbzrle"
run KVM_XBZRLE_SYSROOT="$R" "$STAT" -j
json_check "debugfs at /sys/kernel/debug: read from there" "
assert docs[0]['module']['pages'] == 1000
"
rm -rf "$R/sys/kernel/debug/kvm_xbzrle"
mkdir -p "$R/mnt/dbg"
cp -r "$D" "$R/mnt/dbg/kvm_xbzrle"
echo "debugfs /mnt/dbg debugfs rw 0 0" >"$R/proc/self/mounts"
rm -rf "$R/sys/module/kvm_xbzrle"
mkdir -p "$R/dev"
: >"$R/dev/kvm_xbzrle"
run KVM_XBZRLE_SYSROOT="$R" "$STAT" -j
json_check "debugfs mounted elsewhere, module seen by /dev/kvm_xbzrle" "
assert [x['id'] for x in docs[0]['contexts']] == [1, 2, 5]
"

# not root: the debugfs directory is 0700 root on a real system
echo "debugfs /sys/kernel/debug debugfs rw 0 0" >"$R/proc/self/mounts"
cp -r "$D" "$R/sys/kernel/debug/kvm_xbzrle"
chmod 700 "$R/sys/kernel/debug"
if [ "$(id -u)" != 0 ]; then
	run KVM_XBZRLE_SYSROOT="$R" "$STAT"
	expect "not root: says to run as root" 1 "which only root can read; run as root"
elif command -v setpriv >/dev/null; then
	cp "$STAT" "$T/kvm-xbzrle-stat"
	chmod 755 "$T/kvm-xbzrle-stat"
	run KVM_XBZRLE_SYSROOT="$R" setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$T/kvm-xbzrle-stat"
	expect "not root: says to run as root" 1 "Permission denied: the statistics are in debugfs, which only root can read; run as root"
else
	not_ok "not root: says to run as root" \
		"no setpriv to drop root (util-linux: scripts/install-deps.sh installs it)"
fi

# a write error is a runtime error
if [ -w /dev/full ]; then
	KVM_XBZRLE_DEBUGFS="$D" "$STAT" >/dev/full 2>"$T/err"
	rc=$?
	expect "write error on stdout: exit 1" 1 "writing output"
else
	skip "write error on stdout: exit 1" "no /dev/full"
fi

# a module with the per-page rule (GET_STATS version 3's counters), the
# migration-level stops (version 4) and dirty_log_clears: its counters in
# their place, after refused (stat_data/adapt, expected: table-adapt)
D3=$T/adapt
cp -r "$DATA/adapt" "$D3"
: >"$D3/contexts"
run KVM_XBZRLE_DEBUGFS="$D3" "$STAT" -m
same_output "the per-page rule's skipped, given_back and probes, and stops, after refused" "$DATA/table-adapt"

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
