#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What a migration gains and costs, per migration: the driver of
`make bench-migration` (scripts/bench-migration.sh), run in the e2e VM by
e2e/init in place of e2e/migrate.py, whose QEMU plumbing it uses.

For each write pattern of e2e/bootsect-bench.S (sparse: one dword of
every page each pass, as the seed's generator; skewed: a hot, warm and
cold set several times the cache; dense: every byte of every page; and
sqlite: Debian's kernel and sqlite3 with an in-memory table, updated
mostly in a scattered hot tenth of its pages, e2e/guest-init.c) and
each mode (no XBZRLE; QEMU's own XBZRLE, the patched QEMU with the offload
off; the offload, with QEMU's lazy dirty-log clear alone, its default;
and, asked for by --modes, offload-clear: the offload with
-accel kvm,xbzrle-offload-clear=on, the module also clearing the dirty
log of each 64 pages it reads, and
offload-scalar: the offload with the module loaded again with
encoder=scalar, the encoder QEMU 7.2 has, like for like; any mode as
MODE@N: its source with -global migration.x-clear-bitmap-shift=N, QEMU's
lazy dirty-log clear in chunks of 2^N pages instead of 2^18), --runs
migrations with seeds --seed.. --seed+runs-1,
paced by dirty-sync count as migrate.py does (a 1 ms downtime limit for
--warm-syncs syncs, then --downtime-ms), so a slower emulator does not
move the round XBZRLE starts in.  Per migration: completion within
--migrate-timeout, total time, downtime, dirty syncs, bytes on the wire,
XBZRLE pages, cache misses, the migration thread's CPU time, KVM's
remote_tlb_flush count of the source VM during the migration (the guest's
cost of dirty-log clears), and the guest's progress (passes of its writer
per second during the migration, against before it).

Output: TAP 13 on --tap-fd, one point per pattern and mode (every run
completed), then the table, median and min-max of each figure, as TAP
diagnostics, one tab-separated line per migration ("# run\\t...") and one
per round of each (the pages sent between two dirty syncs and how: "#
round\\t...") for scripts/bench-migration.sh to keep.  It asserts nothing
about speed.
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import migrate as m  # noqa: E402

PATTERNS = {
    # name: (flags of bootsect-bench.S, working-set MiB, XBZRLE cache MiB)
    "sparse": (0, 32, 64),      # the seed's load: the set fits the cache
    "skewed": (m.BENCH_SKEW, 96, 16),  # a set six times the cache, its hot part fits
    "dense": (m.BENCH_DENSE, 16, 64),  # fits, and no page gives a delta
    # Debian's kernel and sqlite3 (e2e/guest-init.c, e2e.sqlite=1): an
    # in-memory table of 64 MiB, 90% of the UPDATEs to a scattered hot
    # tenth of its pages
    "sqlite": (None, 64, 8),
}
MODES = ("none", "qemu", "offload", "offload-clear", "offload-scalar")


def split_mode(md):
    """A mode as --modes names it: MODE, or MODE@N for the source started
    with -global migration.x-clear-bitmap-shift=N (QEMU's lazy dirty-log
    clear in chunks of 2^N pages; its default is 18, 1 GiB).  Returns
    (MODE, N or None); ValueError for anything else."""
    base, at, shift = md.partition("@")
    if base not in MODES:
        raise ValueError("unknown mode %s (%s, each with an optional @N)" % (base, ", ".join(MODES)))
    if not at:
        return base, None
    if not shift.isdigit() or not 6 <= int(shift) <= 31:
        raise ValueError("mode %s: the clear-bitmap shift must be 6 to 31" % md)
    return base, int(shift)
ENCODER_PARAM = "/sys/module/kvm_xbzrle/parameters/encoder"

FIGURES = (
    ("completed", "completed"),
    ("time_ms", "total time (ms)"),
    ("downtime_ms", "downtime (ms)"),
    ("syncs", "dirty syncs"),
    ("mbytes", "bytes on the wire (MB)"),
    ("xbzrle_pages", "XBZRLE pages"),
    ("misses", "cache misses"),
    ("mig_cpu", "migration thread CPU (s)"),
    ("tlb_flushes", "remote TLB flushes"),
    ("progress", "guest passes/s during / before"),
    ("refused", "module: insertions refused"),
    ("evictions", "module: evictions"),
    ("dirty_log_clears", "module: dirty-log clears"),
)
# per round (the pages sent between two dirty syncs): migrate.snapshot()'s
# counters, and the module's (m_*) for the offload
ROUND_FIGURES = ("bytes", "normal", "zero", "xbzrle", "miss", "overflow", "m_cache_hits",
                 "m_cache_misses", "m_refused", "m_evictions", "m_dirty_log_clears")


def bench_image(args, pattern, seed, workdir):
    flags, ws_mb, _ = PATTERNS[pattern]
    if flags is None:
        return None             # the Linux guest: no boot sector
    return m.bench_guest_image(args.bench_guest, os.path.join(workdir, "bootsect-bench.bin"),
                               ws_mb, flags, seed)


def tlb_flushes(pid):
    """KVM's remote_tlb_flush of the VM of QEMU process pid (debugfs)."""
    for p in glob.glob("/sys/kernel/debug/kvm/%d-*/remote_tlb_flush" % pid):
        with open(p) as f:
            return int(f.read())
    return None


def load_module(path, params):
    """Loads kvm_xbzrle again from path with params (a list): encoder= is
    read-only once loaded.  No context may be open."""
    subprocess.run(["rmmod", "kvm_xbzrle"], check=True, capture_output=True)
    subprocess.run(["insmod", path] + params, check=True, capture_output=True)


def encoder():
    """The encoder the module runs (its encoder parameter), or None."""
    try:
        with open(ENCODER_PARAM) as f:
            return f.read().strip()
    except OSError:
        return None


def rate(guest, seconds):
    a, t = guest.passes(), time.monotonic()
    time.sleep(seconds)
    return (guest.passes() - a) / (time.monotonic() - t)


def rounds(case):
    """One line per round of the last migration: the dirty sync it
    followed, its seconds, pages sent and ROUND_FIGURES's deltas."""
    lines = []
    for a, b in zip(case.syncs, case.syncs[1:]):
        d = {k: b[k] - a[k] for k in ROUND_FIGURES if k in a and k in b}
        pages = d["normal"] + d["zero"] + d["xbzrle"]
        lines.append([a["syncs"], "%.2f" % (b["t"] - a["t"]), pages] +
                     ["-" if k not in d else d[k] for k in ROUND_FIGURES])
    return lines


def one(args, pattern, mode, seed, tap):
    """One migration; returns its figures."""
    workdir = os.path.join(args.workdir, "%s-%s-%d" % (pattern, mode, seed))
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    image = bench_image(args, pattern, seed, workdir)
    mode, shift = split_mode(mode)
    # migrate.py's boot (SeaBIOS stalls retried) and destination; XBZRLE
    # is on for both sides there, and turned off again for "none"
    case = m.Case(mode, mode, args.patched_qemu, args.patched_qemu,
                  mode.startswith("offload"), linux=image is None,
                  module_clear=mode == "offload-clear")
    if case.linux:
        case.seed = seed
        args.linux_ws_mb = PATTERNS[pattern][1]
    args.cache_mb = PATTERNS[pattern][2]
    src = dst = None
    r = {"completed": 0}
    try:
        if shift is not None:
            case.src_extra = ("-global", "migration.x-clear-bitmap-shift=%d" % shift)
        src = m.boot_source(case, args, workdir, image, tap)
        if mode == "none":
            src.qmp.cmd("migrate-set-capabilities",
                        capabilities=[{"capability": "xbzrle", "state": False}])
        before_rate = rate(src, args.rate_s)
        dst, sock = m.start_dest(case, args, workdir, "dst", image)
        flush0 = tlb_flushes(src.proc.pid)
        passes0, t0 = src.passes(), time.monotonic()
        stats0 = m.read_stats() or {}
        info = m.migrate(case, src, sock, args)
        stats1 = m.read_stats() or {}
        dt = time.monotonic() - t0
        flush1 = tlb_flushes(src.proc.pid)
        ram = info.get("ram", {})
        xb = info.get("xbzrle-cache") or {}
        r.update({
            "completed": int(info.get("status") == "completed"),
            "time_ms": info.get("total-time"),
            "downtime_ms": info.get("downtime"),
            "syncs": ram.get("dirty-sync-count"),
            "mbytes": ram.get("transferred", 0) / 1e6,
            "xbzrle_pages": xb.get("pages", 0),
            "misses": xb.get("cache-miss", 0),
            "mig_cpu": case.mig_cpu,
            "tlb_flushes": None if None in (flush0, flush1) else flush1 - flush0,
            "progress": ((src.passes() - passes0) / dt / before_rate) if before_rate else None,
        })
        for k in ("refused", "evictions", "dirty_log_clears"):
            if k in stats0 and k in stats1:
                r[k] = stats1[k] - stats0[k]
        for ln in rounds(case):
            tap.diag("round\t%s\t%s\t%d\t" % (pattern, mode, seed) +
                     "\t".join(str(x) for x in ln))
        if not r["completed"]:
            tap.diag("%s/%s seed %d: %s" % (pattern, mode, seed, info.get("status")))
    except (m.QMPError, TimeoutError, OSError) as e:
        tap.diag("%s/%s seed %d: %s" % (pattern, mode, seed, e))
    finally:
        for g in (src, dst):
            if g is not None:
                g.kill()
    return r


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    med = statistics.median(v)
    f = (lambda x: "%.2f" % x) if any(isinstance(x, float) for x in v) else str
    return "%s (%s-%s)" % (f(med), f(min(v)), f(max(v)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-guest", required=True, help="e2e/bootsect-bench.S assembled")
    ap.add_argument("--patterns", default="sparse,skewed,dense,sqlite")
    ap.add_argument("--modes", default="none,qemu,offload")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate-s", type=float, default=2.0,
                    help="how long the guest's pass rate is measured before the destination "
                    "starts")
    ap.add_argument("--patched-qemu", default="")
    ap.add_argument("--plain-qemu", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--tap-fd", type=int, default=None)
    ap.add_argument("--workdir", default="/tmp/bench")
    ap.add_argument("--mem-mb", type=int, default=160)
    ap.add_argument("--warm-downtime-ms", type=int, default=1)
    ap.add_argument("--warm-syncs", type=int, default=6)
    ap.add_argument("--downtime-ms", type=int, default=10000)
    ap.add_argument("--bandwidth-mb", type=int, default=10240)
    ap.add_argument("--hold-bandwidth-mb", type=int, default=32)
    ap.add_argument("--migrate-timeout", type=int, default=180)
    ap.add_argument("--boot-timeout", type=int, default=120)
    ap.add_argument("--qmp-timeout", type=int, default=60)
    ap.add_argument("--accel", default="kvm")
    ap.add_argument("--bad-patterns", default=None)
    ap.add_argument("--linux-kernel", default=None, help="as migrate.py's, for the sqlite pattern")
    ap.add_argument("--linux-initrd", default=None)
    ap.add_argument("--linux-mem-mb", type=int, default=512)
    ap.add_argument("--linux-boot-timeout", type=int, default=150)
    ap.add_argument("--module", default=None,
                    help="the kvm_xbzrle.ko the VM loaded, for offload-scalar's reload")
    # migrate.py's options that e2e/init passes to every driver
    args, _ = ap.parse_known_args()
    args.trace = None
    args.linux_append = "e2e.sqlite=1"
    if not args.patched_qemu:
        ap.error("the bench needs the patched QEMU (--patched-qemu)")
    patterns = args.patterns.split(",")
    modes = args.modes.split(",")
    for p in patterns:
        if p not in PATTERNS:
            ap.error("unknown pattern %s (%s)" % (p, ", ".join(PATTERNS)))
        if PATTERNS[p][0] is None and not (args.linux_kernel and args.linux_initrd):
            ap.error("pattern %s needs --linux-kernel and --linux-initrd" % p)
    for md in modes:
        try:
            split_mode(md)
        except ValueError as e:
            ap.error(str(e))
    if any(split_mode(md)[0] == "offload-scalar" for md in modes) and not args.module:
        ap.error("mode offload-scalar needs --module")

    tap = m.Tap(args.tap_fd)
    tap.line("1..%d" % (len(patterns) * len(modes) + 1))
    tap.diag("bench: %d MiB guests, %d runs from seed %d, warm-up %d syncs at %d ms "
             "downtime, then %d ms, %d s at most" % (
                 args.mem_mb, args.runs, args.seed, args.warm_syncs, args.warm_downtime_ms,
                 args.downtime_ms, args.migrate_timeout))
    tap.diag("run\tpattern\tmode\tseed\t" + "\t".join(k for k, _ in FIGURES))
    tap.diag("round\tpattern\tmode\tseed\tafter_sync\tseconds\tpages\t" +
             "\t".join(ROUND_FIGURES))
    results, encoders = {}, {}
    for p in patterns:
        for md in modes:
            rs = []
            base = split_mode(md)[0]
            if base == "offload-scalar":
                load_module(args.module, ["encoder=scalar"])
            encoders[md] = (encoder() if base.startswith("offload") else
                            "-" if base == "none" else "QEMU 7.2's")
            for seed in range(args.seed, args.seed + args.runs):
                r = one(args, p, md, seed, tap)
                rs.append(r)
                tap.diag("run\t%s\t%s\t%d\t" % (p, md, seed) + "\t".join(
                    "-" if r.get(k) is None else
                    ("%.3f" % r[k] if isinstance(r[k], float) else str(r[k]))
                    for k, _ in FIGURES))
            results[(p, md)] = rs
            if base == "offload-scalar":
                load_module(args.module, [])
            done = sum(r["completed"] for r in rs)
            tap.point(done == len(rs), "%s, %s: %d of %d migrations completed"
                      % (p, md, done, len(rs)))
    bad, left_out = m.bad_dmesg(args.bad_patterns)
    for ln in bad + left_out:
        tap.diag(ln)
    tap.point(not bad, "bench: no kernel warnings in dmesg")
    for p in patterns:
        tap.diag("")
        tap.diag("pattern %s (%d MiB written, %d MiB cache): median (min-max) of %d runs"
                 % (p, PATTERNS[p][1], PATTERNS[p][2], args.runs))
        tap.diag("%-32s" % "" + "".join("%-26s" % md for md in modes))
        tap.diag("%-32s" % "encoder" + "".join("%-26s" % encoders[md] for md in modes))
        for k, title in FIGURES:
            tap.diag("%-32s" % title + "".join(
                "%-26s" % summary([r.get(k) for r in results[(p, md)]]) for md in modes))
    return 0 if tap.failed == 0 else 10


if __name__ == "__main__":
    sys.exit(main())
