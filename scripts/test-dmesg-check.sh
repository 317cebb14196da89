#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-dmesg-check.sh: selftests/vm/dmesg-check and stallmon on the host,
# with the awk of the host and busybox's (the test VMs' init uses the
# latter).  The report in testdata/soft-lockup-vcpu.log is the console of
# an e2e run whose VM was stopped (SIGSTOP) for 45 s during case a: the
# kernel blamed the vCPU thread of the nested guest, the same report that
# failed a CI run.  testdata/rcu-stall-vm-stopped.log is the console of
# another such run (stopped 45 s later in case a): an RCU stall report
# and stallmon's line; testdata/soft-lockups-in-encode.log a third (soft
# lockups on both CPUs, one in our ENCODE's copy_to_user).  Every case
# names what dmesg-check must print.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/../selftests/vm
pats=$vm/bad-patterns
report=$here/testdata/soft-lockup-vcpu.log
rcu=$here/testdata/rcu-stall-vm-stopped.log
encode=$here/testdata/soft-lockups-in-encode.log
stall='[   57.901002] vm-stallmon: the VM did not run from 15.55 to 57.90 s (42.35 s)'

tmp=$(mktemp -d)
trap 'kill "${mon:-}" "${child:-}" "${parent:-}" 2>/dev/null; rm -rf "$tmp"' EXIT
failed=0
n=0

# expect NAME RC LINES [STDERR-REGEX [OPTION...]]: dmesg-check's exit
# status on $tmp/log, the number of lines it printed and, if given, a line
# of its stderr
expect() {
	local name=$1 rc=$2 lines=$3 err=${4:-} got
	shift 4 2>/dev/null || shift $#
	n=$((n + 1))
	"$vm/dmesg-check" "$@" "$pats" <"$tmp/log" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" != "$rc" ] || [ "$(wc -l <"$tmp/out")" != "$lines" ]; then
		echo "not ok $n - $awk_name: $name: exit $got (want $rc), $(wc -l <"$tmp/out") lines printed (want $lines)"
		sed 's/^/# /' "$tmp/out" "$tmp/err"
		failed=1
	elif [ -n "$err" ] && ! grep -Eq -- "$err" "$tmp/err"; then
		echo "not ok $n - $awk_name: $name: stderr lacks /$err/"
		sed 's/^/# /' "$tmp/err"
		failed=1
	elif [ -z "$err" ] && [ -s "$tmp/err" ]; then
		echo "not ok $n - $awk_name: $name: unexpected stderr"
		sed 's/^/# /' "$tmp/err"
		failed=1
	else
		echo "ok $n - $awk_name: $name"
	fi
}

cases() {
	cp "$report" "$tmp/log"
	expect "a soft lockup without a stall is printed (report line, Call Trace)" 0 2
	{ cat "$report"; echo "$stall"; } >"$tmp/log"
	expect "the same report while vm-stallmon saw the VM stand still 42 s is left out, with the reason" \
		1 0 'left out, the VM did not run from 15.55 to 57.90 s.*CPU#1 stuck for 42s'
	{ echo "$stall"; sed 's/$/\r/' "$report"; } >"$tmp/log"
	expect "the same, console line ends (CR LF), stall line first" 1 0 'left out'
	{ sed '3a\
ok 11 - case a: module counters grew (pages, xbzrle_pages)' "$report"; echo "$stall"; } >"$tmp/log"
	expect "the same, with a line of userspace (naming xbzrle) inside the report" 1 0 'left out'
	grep -v vm-stallmon "$rcu" >"$tmp/log"
	expect "an RCU stall without a stall of the VM is printed (report line, two Call Traces)" 0 3
	cp "$rcu" "$tmp/log"
	expect "the same while vm-stallmon saw the VM stand still 46 s is left out" 1 0 \
		'left out, the VM did not run from 19.26 to 65.36 s.*rcu_preempt self-detected stall'
	sed 's/from 19.26 to 65.36 s (46.10 s)/from 50.26 to 65.36 s (15.10 s)/' "$rcu" >"$tmp/log"
	expect "a stall of 15 s does not explain an RCU stall (timeout 21 s)" 0 3
	{ cat "$report"; echo '[   57.9] vm-stallmon: the VM did not run from 47.00 to 57.00 s (10.00 s)'; } >"$tmp/log"
	expect "a stall of 10 s does not explain 42 s stuck" 0 2
	{ cat "$report"; echo '[  120.0] vm-stallmon: the VM did not run from 70.00 to 115.00 s (45.00 s)'; } >"$tmp/log"
	expect "a stall after the report does not explain it" 0 2
	{ cat "$report"; echo '[   57.9] vm-stallmon: the VM did not run from 40.00 to 57.90 s (17.90 s)'; } >"$tmp/log"
	expect "a CPU stuck 24 s before a stall of 18 s began is printed" 0 2
	cp "$encode" "$tmp/log"
	expect "both CPUs, one in our ENCODE, stuck while the VM stood still: left out (the guest cannot tell)" \
		1 0 'left out.*CPU#0 stuck for 45s! \[mig/src/main'
	echo "12.0 58.5" >"$tmp/host"
	expect "the same with -H, the host saw QEMU stand still: left out" 1 0 'the host saw it too' -H "$tmp/host"
	: >"$tmp/host"
	expect "the same with -H, the host saw QEMU run (every CPU stuck in the kernel): printed" 0 4 "" -H "$tmp/host"
	echo "100.0 150.0" >"$tmp/host"
	expect "the same with -H, the host saw QEMU stand still at another time: printed" 0 4 "" -H "$tmp/host"
	echo "12.0 58.5" >"$tmp/host"
	cp "$report" "$tmp/log"
	expect "-H alone leaves nothing out without a stallmon line" 0 2 "" -H "$tmp/host"
	expect "-H with a file that is not there: usage error" 2 0 'not readable' -H "$tmp/none"
	printf '%s\n' '[   52.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [CPU 0/KVM:202]' \
		'[   52.000100] Call Trace:' '[   52.000200]  </TASK>' \
		'[   52.100000] vm-stallmon: the VM did not run from 30.00 to 52.00 s (22.00 s)' >"$tmp/log"
	echo "0.0 33.0" >"$tmp/host"
	expect "-H: QEMU idle until just before a 22 s lockup of every CPU does not explain it" 0 2 "" -H "$tmp/host"
	echo "28.0 53.5" >"$tmp/host"
	expect "-H: the same, QEMU stood still from 28 to 53.5 s since its start: left out" 1 0 'the host saw it too' -H "$tmp/host"
	{ cat "$report"; echo "$stall"; echo '[   57.900000] BUG: KASAN: use-after-free in rcu_do_batch+0x10/0x20'; } >"$tmp/log"
	expect "a KASAN report naming rcu right after a left-out report is printed" 0 1 'left out'
	mkdir -p "$tmp/badawk"
	printf '#!/bin/sh\nexit 1\n' >"$tmp/badawk/awk"
	chmod 755 "$tmp/badawk/awk"
	cp "$report" "$tmp/log"
	PATH=$tmp/badawk:$PATH expect "an awk that fails (exit 1, as busybox on an error) is an error, not a clean log" \
		2 0 'awk failed'
	{ cat "$report"; echo "$stall"; echo '[   60.1] WARNING: CPU: 0 PID: 9 at kmod/cache.c:10 f+0x1/0x2 [kvm_xbzrle]'; } >"$tmp/log"
	expect "a warning next to a left-out report is printed" 0 1 'left out'
	{ sed 's/^\[[ 0-9.]*\] //' "$report"; echo "$stall"; } >"$tmp/log"
	expect "without time stamps nothing is left out" 0 2
	printf 'all well\n' >"$tmp/log"
	expect "a clean log: nothing printed, exit 1" 1 0
}

for awk_name in "$(readlink -f "$(command -v awk)")" busybox; do
	rm -rf "${tmp:?}/bin"
	mkdir -p "$tmp/bin"
	if [ "$awk_name" = busybox ]; then
		bb=$(command -v busybox) || {
			echo "not ok - busybox is not installed (make check installs busybox-static)"
			exit 1
		}
		ln -s "$bb" "$tmp/bin/awk"
	fi
	PATH=$tmp/bin:$PATH cases
done

# stallmon: a jump of the uptime it reads is written to its kmsg
# the uptime file is replaced whole, as /proc/uptime never reads empty
set_uptime() {
	echo "$1 1.00" >"$tmp/uptime.new"
	mv "$tmp/uptime.new" "$tmp/uptime"
}
set_uptime 10.00
: >"$tmp/kmsg"
STALLMON_UPTIME=$tmp/uptime STALLMON_KMSG=$tmp/kmsg STALLMON_MIN=5 \
	"$vm/stallmon" &
mon=$!
sleep 1.5
set_uptime 11.00
sleep 1.2
set_uptime 31.05
sleep 1.5
kill "$mon"
n=$((n + 1))
want='vm-stallmon: the VM did not run from 11.00 to 31.05 s (20.05 s)'
if [ "$(cat "$tmp/kmsg")" = "$want" ]; then
	echo "ok $n - stallmon writes one line for a jump of 20.05 s and none for 1 s"
else
	echo "not ok $n - stallmon wrote '$(cat "$tmp/kmsg")', want '$want'"
	failed=1
fi
# host-stalls: a grandchild that runs, is stopped 6 s, runs again (as run.sh
# has QEMU under a subshell and timeout), named by a pid file as QEMU's
n=$((n + 1))
bash -c 'timeout 30 bash -c "echo \$\$ >$0/busy.pid; exec yes >/dev/null" & wait' "$tmp" 2>/dev/null &
parent=$!
for _ in $(seq 50); do
	[ -s "$tmp/busy.pid" ] && break
	sleep 0.1
done
child=$(cat "$tmp/busy.pid" 2>/dev/null || true)
if [ -z "$child" ]; then
	echo "not ok $n - host-stalls: the busy process did not start"
	failed=1
else
	HOST_STALLS_MIN=3 "$vm/host-stalls" "$parent" "$tmp/busy.pid" "$tmp/stalls" &
	mon=$!
	sleep 2.5
	kill -STOP "$child"
	sleep 6
	kill -CONT "$child"
	sleep 2.5
	kill "$child"
	wait "$mon"
	mon=
	if awk 'END { exit !(NR == 1 && $1 >= 1 && $2 - $1 >= 4 && $2 - $1 <= 8) }' "$tmp/stalls"; then
		echo "ok $n - host-stalls: one span of about 6 s in which the process got no CPU: $(cat "$tmp/stalls")"
	else
		echo "not ok $n - host-stalls: want one span of 4-8 s after the first second, got '$(tr '\n' ';' <"$tmp/stalls")'"
		sed 's/^/# /' "$tmp/stalls.samples"
		failed=1
	fi
fi
echo "1..$n"
exit "$failed"
