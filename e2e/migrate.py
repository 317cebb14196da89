#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""End-to-end live migration test of the kvm_xbzrle offload.

Runs inside the test VM (e2e/init chroots into the host's root, shared
read-only over 9p), where /dev/kvm is nested KVM and kvm_xbzrle is loaded.
For each case it starts a source and a destination QEMU (-accel kvm) on a
boot-sector guest, migrates with XBZRLE over a unix socket and checks that:

  1. the migration completes;
  2. the destination's RAM equals the source's: the destination runs with
     -S, so after the incoming migration it stays paused; the source is
     paused (postmigrate) once it reports completion.  Both are dumped
     with dump-guest-memory (every RAM-backed range of guest-physical
     space, as an ELF file) before either runs again, so the two dumps are
     the guest's memory at the switch-over, as sent and as received; the
     pages that differ are counted;
  3. (guests with VGA) the legacy VGA window 0xa0000-0xbffff reads the
     same on both sides (pmemsave through QEMU's VGA emulation, which
     first carries out the writes KVM queued in its coalesced MMIO ring),
     and the destination's video RAM equals the source's: pmemsave over
     the VGA device's linear framebuffer BAR, whose address query-pci
     gives on each side;
  4. the destination guest then runs on (`cont`; its serial port, one '.'
     per pass, keeps advancing);
  5. XBZRLE was used (query-migrate's xbzrle-cache counts pages);
  6. with the offload, the module's counters grew (pages, xbzrle_pages,
     delta_bytes in /sys/kernel/debug/kvm_xbzrle/stats); without, they did
     not move.

Cases, on e2e/bootsect.S (dirties 32 MiB, no VGA): a) offload on, patched
QEMU both sides; b) offload on, destination Debian's unpatched QEMU (wire
compatibility); c) offload off (QEMU's own XBZRLE).  On
e2e/bootsect-churn.S with -vga std, whose memory map moves all the time
(chain-4 aliases video RAM at 0xa0000, PAM registers remap
0xc0000-0xdffff, writes through the linear framebuffer): d) offload on,
patched both sides; e) the same to Debian's QEMU; f), g) the same two with
a system_reset of the source in the middle of the migration; h), i) the
same two with a migration cancelled before switch-over (after XBZRLE
pages were sent), then a new one to a fresh destination; j) a set-up the
module refuses, then a migration; u) xbzrle-cache-size set while gdb holds
the migration thread where it starts the module's cache (the module must
end up with the parameter's size); C) a skewed writer (e2e/bootsect-bench.S)
whose source's ram_save_iterate() must read the clock at least once per
64 pages plus one batch of the offload (gdb counts, the clock of its
MAX_WAIT check held still).  On e2e/bootsect-smp.S, writing RAM on
both sides of the PCI hole (pc.ram as two memslots), booted as its own
firmware (e2e/firmware.S, not SeaBIOS): k) offload on, patched both
sides; l) the same to Debian's QEMU; m) (not in the default list) k with
2 vCPUs writing.  On a
Linux guest (Debian's kernel through its PVH entry, e2e/guest-init.c
writing a skewed set, half its RAM above 4 GiB, kernel-irqchip=off): n)
offload on, patched both sides; o) the same to Debian's QEMU; v) (not in
the default list) offload off.  On e2e/bootsect-bench.S rewriting every
byte of 16 MiB each pass: p) offload on to Debian's QEMU, where the
offload must stop XBZRLE for the migration itself
(xbzrle-offload-min-saving); q), r) (not in the default list) QEMU's own
XBZRLE, and the offload with the switch off.  On e2e/bootsect-bench.S
writing one dword of every page of 32 MiB each pass, with a 256 KiB
cache: H) offload on to Debian's QEMU, where the offload must stop XBZRLE
by its hit rate (xbzrle-offload-min-hit-rate).  On
e2e/bootsect-coalesced.S with -vga std, whose last writes to the VGA
text buffer are still queued in KVM's coalesced MMIO ring when the source
stops: s) offload on to Debian's QEMU; t) (not in the default list) Debian's
QEMU on both sides, offload off, which loses them (QEMU 7.2's own bug,
fixed by the series' patch 17).  The
offload cases are skipped when no patched QEMU is given.  Prints TAP 13 on --tap-fd and a
comparison table of the cases on stdout (and as TAP diagnostics).
Standard library only.
"""

import argparse
import copy
import json
import mmap
import os
import queue
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

STATS = "/sys/kernel/debug/kvm_xbzrle/stats"
CONTEXTS = "/sys/kernel/debug/kvm_xbzrle/contexts"
MAX_CACHE_MB = "/sys/module/kvm_xbzrle/parameters/max_cache_mb"
MIB = 1 << 20
PAGE = 4096
HIGH_MB = 64        # RAM above 4 GiB of cases k-m
DENSE_MB = 16       # the dense writer's working set, cases p-r
# case H: a sparse writer over SCAN_MB with a cache of SCAN_CACHE_KB, so
# that the cache holds 1/128 of what every round dirties
SCAN_MB = 32
SCAN_CACHE_KB = 256
# case C: pages a MAX_WAIT check of ram_save_iterate() may be apart (64, as
# QEMU's loop of single pages, plus one batch of KVM_XBZRLE_BATCH)
CLOCK_PAGES_PER_READ = 64 + 256
CLOCK_MB = 64       # its guest's skewed working set (e2e/bootsect-bench.S)
DUMP_CHUNK = 256 * MIB  # the Linux guest's RAM is dumped this much at a time


class Tap:
    def __init__(self, fd):
        self.out = os.fdopen(fd, "w", buffering=1) if fd is not None else sys.stdout
        self.n = 0
        self.failed = 0

    def line(self, s):
        self.out.write(s + "\n")
        self.out.flush()

    def diag(self, text):
        for s in str(text).splitlines() or [""]:
            self.line("# " + s)

    def point(self, ok, desc, directive=None):
        self.n += 1
        s = ("ok %d - %s" if ok else "not ok %d - %s") % (self.n, desc)
        if directive:
            s += " # " + directive
        if not ok:
            self.failed += 1
        self.line(s)
        if self.out is not sys.stdout:
            log(s)


def log(*args):
    print(*args, flush=True)


class QMPError(Exception):
    pass


class QMP:
    """A minimal QMP client: one JSON object per line, events kept aside."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rwb")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("no QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise QMPError("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        self.send(name, **args)
        return self.reply(name)

    def send(self, name, **args):
        """Sends a command without waiting for its reply (reply() reads
        it): for a command that may block in QEMU's main loop."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg).encode() + b"\n")
        self.file.flush()

    def reply(self, name):
        while True:
            r = self._read()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise QMPError("%s: %s" % (name, r["error"].get("desc", r["error"])))
            return r.get("return")

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


def clk_tck():
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    """utime + stime of /proc/PID/stat or /proc/PID/task/TID/stat."""
    try:
        with open(stat_path) as f:
            s = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: fields follow the last ')'.
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / clk_tck()


def threads(pid, comm):
    """The threads of pid whose name starts with comm."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    found = []
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip().startswith(comm):
                    found.append(int(tid))
        except OSError:
            pass
    return found


def find_thread(pid, comm):
    """The first thread of pid whose name starts with comm."""
    found = threads(pid, comm)
    return found[0] if found else None


def vcpu_seconds(pid):
    """utime+stime of all vCPU threads of pid ("CPU n/KVM"), None if none
    or one could not be read."""
    tids = threads(pid, "CPU ")
    cpu = [cpu_seconds("/proc/%d/task/%d/stat" % (pid, t)) for t in tids]
    return sum(cpu) if cpu and None not in cpu else None


def read_stats():
    stats = {}
    try:
        with open(STATS) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if v.strip().isdigit():
                    stats[k] = int(v)
    except OSError:
        return None
    return stats


class Guest:
    """One QEMU process running the boot-sector guest."""

    def __init__(self, name, binary, accel, args, workdir, incoming=False,
                 bootsect=None, vga=False, high=False, vcpus=1, linux_seed=None,
                 offload_trace=False, extra=()):
        self.name = name
        self.qmp_path = os.path.join(workdir, name + ".qmp")
        self.serial = os.path.join(workdir, name + ".serial")
        self.console = os.path.join(workdir, name + ".console")
        self.log = os.path.join(workdir, name + ".log")
        self.tail = 2000 if not args.trace or incoming else 60000
        cmd = [
            binary, "-name", name + ",debug-threads=on",
            "-machine", "pc-i440fx-7.2", "-accel", accel,
            "-m", "%dM" % args.mem_mb, "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            # bootsect-smp.S is its own firmware (e2e/firmware.S)
            *(["-bios", bootsect] if high else [] if linux_seed is not None else
              ["-drive", "file=%s,format=raw,if=ide,snapshot=on" % (bootsect or args.bootsect)]),
            "-serial", "file:" + self.serial,
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ]
        if linux_seed is not None:
            # Debian's kernel through its PVH entry and e2e/guest-init.c:
            # passes on ttyS0, the kernel's console and guest-init's report
            # on ttyS1.  Half its RAM above 4 GiB, a second RAM memslot.
            # The interrupt controllers in QEMU, not KVM: with KVM's, the
            # kernel stalls for good waiting for an interrupt in 7 of 9
            # nested boots (Documentation/testing.rst).  Both sides alike,
            # or the destination cannot load the source's APIC state.
            cmd[cmd.index(accel)] = accel + ",kernel-irqchip=off"
            cmd[cmd.index("pc-i440fx-7.2")] += ",max-ram-below-4g=%dM" % (args.linux_mem_mb // 2)
            cmd[cmd.index("%dM" % args.mem_mb)] = "%dM" % args.linux_mem_mb
            cmd += ["-kernel", args.linux_kernel, "-initrd", args.linux_initrd,
                    "-append", "console=ttyS1 quiet e2e.ws_mb=%d e2e.seed=%d %s"
                    % (args.linux_ws_mb, linux_seed, args.linux_append),
                    "-serial", "file:" + self.console]
        if high:
            # bootsect-smp.S: pc.ram split into two memslots,
            # --mem-mb below 4 GiB and HIGH_MB from 4 GiB up (QEMU warns
            # that a split off a 1 GiB boundary may be slow: it is not
            # the point here)
            cmd[cmd.index("pc-i440fx-7.2")] += ",max-ram-below-4g=%dM" % args.mem_mb
            cmd[cmd.index("%dM" % args.mem_mb)] = "%dM" % (args.mem_mb + HIGH_MB)
            cmd[cmd.index("-smp") + 1] = str(vcpus)
        if vga:
            # -nodefaults drops the default VGA: put the std VGA back (the
            # same 00:02.0 and 16 MiB vga.vram as without -nodefaults).
            cmd += ["-vga", "std"]
        # A self-built QEMU has no firmware path of Debian's: give it
        # Debian's SeaBIOS, so both sides have the same pc.bios RAM block.
        if os.path.realpath(binary) != os.path.realpath(args.plain_qemu):
            for d in ("/usr/share/seabios", "/usr/share/qemu"):
                cmd += ["-L", d]
        if incoming:
            cmd += ["-S", "-incoming", "defer"]
        elif offload_trace:
            # one line per batch, checked against the module's counters,
            # and the per-migration switch's judgements
            cmd += ["-trace", "xbzrle_offload_batch", "-trace", "xbzrle_offload_judge",
                    "-trace", "xbzrle_offload_stop"]
        if not incoming and args.trace:
            # QEMU's trace events of the source, into its log
            for t in args.trace.split(","):
                cmd += ["-trace", t]
        cmd += list(extra)
        self.cmdline = cmd
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT)
        try:
            self.qmp = QMP(self.qmp_path, timeout=args.qmp_timeout)
        except Exception:
            self.kill()
            raise QMPError("%s did not start: %s" % (name, self.log_tail()))

    def log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-self.tail:].strip() or "(empty log)"
        except OSError:
            return "(no log)"

    def console_text(self):
        """The Linux guest's kernel console and guest-init's report."""
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def guest_init_lines(self):
        return " ".join(ln for ln in self.console_text().splitlines()
                        if ln.startswith("guest-init:"))

    def kvm_written(self):
        """The areas of guest RAM KVM writes by itself (guest-init's
        "kvm-written:" line): [(address, size)]."""
        return [(int(a, 16), int(n)) for a, n in
                re.findall(r"=0x([0-9a-f]+)\+(\d+)", " ".join(
                    ln for ln in self.console_text().splitlines()
                    if ln.startswith("guest-init: kvm-written:")))]

    def passes(self):
        try:
            return os.path.getsize(self.serial)
        except OSError:
            return 0

    def status(self):
        return self.qmp.cmd("query-status")["status"]

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.qmp.cmd("quit")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self.qmp.close()
        except AttributeError:
            pass


def wait_for(what, cond, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def elf_loads(path):
    """The PT_LOAD segments of a dump-guest-memory ELF file (32 or 64-bit),
    as (guest-physical address, file offset, size) in address order."""
    with open(path, "rb") as f:
        eh = f.read(64)
        if eh[:4] != b"\x7fELF":
            raise ValueError("%s is not an ELF file" % path)
        if eh[4] == 1:
            phoff, = struct.unpack_from("<I", eh, 28)
            phentsize, phnum = struct.unpack_from("<HH", eh, 42)
        else:
            phoff, = struct.unpack_from("<Q", eh, 32)
            phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        if phnum == 0xffff:
            raise ValueError("%s: more than 65534 program headers" % path)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    loads = []
    for i in range(phnum):
        if eh[4] == 1:
            typ, off, _, paddr, filesz, _ = struct.unpack_from("<6I", ph, i * phentsize)
        else:
            typ, _, off, _, paddr, filesz, _ = struct.unpack_from("<IIQQQQQ", ph, i * phentsize)
        if typ == 1 and filesz:
            loads.append((paddr, off, filesz))
    return sorted(loads)


def diff_pages(ma, oa, mb, ob, size):
    """Offsets of the 4 KiB pages of [0, size) that differ between the two
    buffers at oa and ob (1 MiB at a time, pages only where that differs)."""
    diff = []
    for c in range(0, size, MIB):
        n = min(MIB, size - c)
        if ma[oa + c:oa + c + n] == mb[ob + c:ob + c + n]:
            continue
        for p in range(c, c + n, PAGE):
            m = min(PAGE, size - p)
            if ma[oa + p:oa + p + m] != mb[ob + p:ob + p + m]:
                diff.append(p)
    return diff


def mapped(path):
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def compare_dumps(a, b, skip=None):
    """Compares two dump-guest-memory files over the guest-physical ranges
    both hold; skip is a (start, size) range left out (the LFB, compared
    on its own).  The ranges themselves may differ a little (QEMU splits
    them where its memory regions do, and e.g. kvmvapic maps its ROM page
    by itself on one side only): the note says so, without failing.
    Returns (pages compared, differing guest-physical pages, note)."""
    la, lb = elf_loads(a), elf_loads(b)
    note = ""
    ra = [(p, n) for p, _, n in la]
    rb = [(p, n) for p, _, n in lb]
    if ra != rb:
        note = "guest-physical RAM ranges differ (compared where both have RAM): source %s, " \
            "destination %s" % (" ".join("%x+%x" % r for r in ra), " ".join("%x+%x" % r for r in rb))
    ma, mb = mapped(a), mapped(b)
    pages, diff = 0, []
    for p, oa, n in la:
        for q, ob, m in lb:
            lo, hi = max(p, q), min(p + n, q + m)
            if skip and skip[0] is not None and skip[0] >= 0:
                if lo >= skip[0] and hi <= skip[0] + skip[1]:
                    continue
            if lo >= hi:
                continue
            pages += (hi - lo + PAGE - 1) // PAGE
            diff += [lo + d for d in diff_pages(ma, oa + lo - p, mb, ob + lo - q, hi - lo)]
    return pages, sorted(diff), note


def high_pages(path):
    """Pages of a dump-guest-memory file from 4 GiB up, and how many of
    them are not all zeros."""
    mm = mapped(path)
    high = written = 0
    zero = bytes(PAGE)
    for p, off, n in elf_loads(path):
        if p < 1 << 32:
            continue
        for o in range(off, off + n, PAGE):
            high += 1
            written += mm[o:o + PAGE] != zero
    return high, written


def compare_files(a, b):
    """(pages, differing page offsets, note) of two pmemsave files."""
    ma, mb = mapped(a), mapped(b)
    if len(ma) != len(mb):
        return 0, [], "sizes differ: %d and %d bytes" % (len(ma), len(mb))
    return (len(ma) + PAGE - 1) // PAGE, diff_pages(ma, 0, mb, 0, len(ma)), ""


def byte_spans(a, b, diff, base=0, limit=4):
    """For the first differing pages (offsets into buffers a and b), the
    spans of bytes that differ, with both sides' bytes: a span of 4
    aligned bytes is a guest dword store through a KVM mapping, 16 at 16
    a std-VGA planar store that QEMU emulated (4 planes at 4 x address),
    2 and 2 four apart an odd/even (text mode) one (planes 0 and 1),
    anything else an encoding gone wrong.  One line per page."""
    lines = []
    for d in diff[:limit]:
        pa, pb = a[d:d + PAGE], b[d:d + PAGE]
        spans, i = [], 0
        while i < PAGE:
            if pa[i] == pb[i]:
                i += 1
                continue
            j = i
            while j < PAGE and pa[j] != pb[j]:
                j += 1
            spans.append((i, j))
            i = j
        nbytes = sum(j - i for i, j in spans)
        lines.append("page 0x%x: %d bytes in %d spans: %s%s" % (
            base + d, nbytes, len(spans),
            " ".join("+0x%x..0x%x src %s dst %s" % (i, j, pa[i:min(j, i + 16)].hex(),
                                                  pb[i:min(j, i + 16)].hex())
                     for i, j in spans[:6]),
            " ..." if len(spans) > 6 else ""))
    return lines


def dump_page(path, gpa):
    """The page at guest-physical gpa in a dump-guest-memory file, or
    zeros where the dump has none."""
    for p, off, n in elf_loads(path):
        if p <= gpa < p + n:
            return mapped(path)[off + gpa - p:off + gpa - p + PAGE]
    return bytes(PAGE)


def dump_spans(a, b, diff, limit=4):
    """byte_spans() of the first differing pages of two dumps."""
    return [ln for gpa in diff[:limit]
            for ln in byte_spans(dump_page(a, gpa), dump_page(b, gpa), [0], gpa)]


def kvm_written_only(a, b, gpa, areas):
    """Whether every byte that differs in page gpa of dumps a and b lies in
    one of the areas KVM writes by itself (Guest.kvm_written())."""
    pa, pb = dump_page(a, gpa), dump_page(b, gpa)
    return all(any(lo <= gpa + i < lo + n for lo, n in areas)
               for i in range(PAGE) if pa[i] != pb[i])


def describe(pages, diff, note, base=0):
    s = "%d of %d pages differ" % (len(diff), pages)
    if diff:
        s += ", first at %s" % ", ".join("0x%x" % (base + d) for d in diff[:8])
    return s + ("; " + note if note else "")


def compare_guest_range(tap, workdir, what, guests, addrs, size, point):
    """Saves @size bytes at guest-physical @addrs of the source and the
    destination (pmemsave, so through QEMU's memory API: MMIO such as the
    VGA window included), compares them page by page, prints what differs
    and makes the TAP point @point.  Returns the number of pages differing."""
    files = [os.path.join(workdir, "%s.%s" % (side, what.replace(" ", "-")))
             for side in ("src", "dst")]
    for g, addr, f in zip(guests, addrs, files):
        g.qmp.cmd("pmemsave", val=addr, size=size, filename=f)
    pages, diff, note = compare_files(*files)
    tap.diag("%s: %s" % (what, describe(pages, diff, note, addrs[0])))
    for line in byte_spans(mapped(files[0]), mapped(files[1]), diff, addrs[0]):
        tap.diag("%s %s" % (what, line))
    tap.point(not diff and not note, point)
    for f in files:
        os.unlink(f)
    return len(diff)


# The legacy VGA window, QEMU's VGA emulation (coalesced MMIO in KVM)
VGA_WINDOW, VGA_WINDOW_SIZE = 0xa0000, 0x20000


def vga_lfb(guest):
    """(address, size) of BAR 0 of the VGA device 00:02.0, from query-pci."""
    for bus in guest.qmp.cmd("query-pci"):
        for dev in bus.get("devices", []):
            if dev.get("bus") == 0 and dev.get("slot") == 2 and dev.get("function") == 0:
                for r in dev.get("regions", []):
                    if r.get("bar") == 0 and r.get("type") == "memory":
                        return r.get("address"), r.get("size")
    return None, None


class Case:
    def __init__(self, key, title, src_qemu, dst_qemu, offload, churn=False, event=None,
                 high=False, vcpus=1, linux=False, dense=False, params=None, coalesced=False,
                 runtime=False, scan=False, module_clear=False):
        self.key = key
        self.run = 0              # which run of the case (--repeat)
        self.label = key          # key, with the run's number under --repeat
        self.title = title
        self.src_qemu = src_qemu
        self.dst_qemu = dst_qemu
        self.offload = offload
        self.churn = churn        # bootsect-churn.S with -vga std
        self.coalesced = coalesced  # bootsect-coalesced.S with -vga std
        self.vga = churn or coalesced  # -vga std: the VGA window and video RAM checked
        self.high = high          # bootsect-smp.S: RAM above 4 GiB
        self.vcpus = vcpus        # its vCPUs writing
        self.linux = linux        # Debian's kernel and e2e/guest-init.c
        self.dense = dense        # bootsect-bench.S rewriting every byte of 16 MiB
        # bootsect-bench.S writing one dword of every page of SCAN_MB at
        # every pass, with an xbzrle-cache-size of SCAN_CACHE_KB
        self.scan = scan
        self.held = dense or scan  # held for --dense-syncs dirty syncs
        self.cache_kb = SCAN_CACHE_KB if scan else None
        self.params = params or {}  # more migrate-set-parameters of the source
        self.src_log = None       # the source QEMU's log (its trace events)
        self.cache_peak = None    # the module's cached bytes, most seen during the migration
        self.event = event        # None, "reset" or "cancel"
        self.info = None          # source query-migrate at completion
        self.src_cpu = None       # source QEMU process utime+stime at completion
        self.src_cpu_start = None
        self.mig_cpu = None       # migration thread utime+stime (last sample)
        self.syncs = []           # snapshot() at each dirty sync seen, and at the end
        self.nonvcpu_cpu = None   # source CPU during migration, vCPU thread excluded
        self.module = None        # module counter deltas
        self.wall = None
        self.ram_diff = None      # pages differing, all guest RAM
        self.vram_diff = None     # pages differing, vram through the LFB
        self.window_diff = None   # pages differing, the VGA window 0xa0000-0xbffff
        self.event_at = None      # dirty sync of the reset or cancel
        self.setup_refused = None  # setupfail: whether it failed as it should
        self.size_race = None     # setsize: whether the module's size is the parameter's
        self.clock = None         # clock: ram_save_iterate()'s clock reads, batch pages
        self.skip = None if src_qemu else "patched QEMU not built"
        # the module also clears the dirty log of what it reads
        # (xbzrle-offload-clear=on); by default QEMU's lazy clear alone
        self.module_clear = module_clear
        # more -accel kvm properties of the source
        self.accel_extra = ",xbzrle-offload-clear=on" if module_clear else ""
        self.src_extra = ()       # more arguments of the source QEMU
        # the offload switched on in the running source by the
        # xbzrle-offload capability, not by the accel property
        self.runtime = runtime
        self.runtime_bound = None  # runtime: whether the capability bound it

    def trace_checked(self):
        """Whether the source's xbzrle_offload_batch trace events are
        checked against the module's counters: with the offload, in one
        migration of one source (no reset, no cancel)."""
        return self.offload and self.event is None and not self.dense

    def stop_rule(self):
        """The rule by which the offload must stop XBZRLE for the
        migration, at its parameter's default: "saving" for a dense writer
        (xbzrle-offload-min-saving), "hit rate" for the writer of a set far
        larger than the cache (xbzrle-offload-min-hit-rate); None where it
        must not stop."""
        if not self.offload:
            return None
        if self.dense and "xbzrle-offload-min-saving" not in self.params:
            return "saving"
        if self.scan and "xbzrle-offload-min-hit-rate" not in self.params:
            return "hit rate"
        return None

    def stops(self):
        return self.stop_rule() is not None

    def cache_bytes(self, args):
        """The case's xbzrle-cache-size."""
        return self.cache_kb * 1024 if self.cache_kb else args.cache_mb * MIB

    def checks(self, args):
        first = {
            None: "migration completes",
            "setsize": "xbzrle-cache-size set while the migration thread is held (gdb) "
                       "where it starts the module's cache with the size it read: the "
                       "module's cache size then equals query-migrate-parameters', and the "
                       "migration completes",
            "clock": "while the offload sends its batches, the migration thread's "
                     "ram_save_iterate() reads the clock at least once per %d pages "
                     "(64, as QEMU's loop of single pages, plus one batch; gdb counts over "
                     "%d pages or more), and the migration completes" % (
                         CLOCK_PAGES_PER_READ, args.clock_pages),
            "setupfail": "a migration the module refuses at set-up (its ceiling lowered under "
                         "xbzrle-cache-size) fails with the reason in query-migrate's error-desc; "
                         "the next one, to a fresh destination, completes",
            "reset": "system_reset of the source half-way, the migration completes",
            "cancel": "migration cancelled before switch-over, a new one to a fresh destination "
                      "completes",
        }[self.event]
        if self.runtime:
            first = ("the xbzrle-offload capability binds the running source (it reads on, "
                     "the module has one more context), and the " + first)
        c = [first, "destination RAM equals source RAM at switch-over (all guest-physical RAM%s)"
             % (" but the LFB" if self.vga else
                ", %d MiB of it above 4 GiB written by %d vCPU%s" % (
                    HIGH_MB, self.vcpus, "s" if self.vcpus > 1 else "") if self.high else
                ", %d MiB of it above 4 GiB, the guest's working set there"
                % (args.linux_mem_mb // 2) if self.linux else "")]
        if self.vga:
            c.append("the VGA window 0xa0000-0xbffff reads the same on both sides (pmemsave "
                     "through QEMU's VGA emulation, after the writes queued in KVM's coalesced "
                     "MMIO ring)")
            c.append("destination video RAM equals source's (LFB BAR from query-pci, pmemsave)")
        c += [
            "destination guest runs on after migration",
            "XBZRLE pages and cache-size %s in query-migrate%s" % (
                "%d MiB" % (self.cache_bytes(args) // MIB) if self.cache_bytes(args) % MIB == 0
                else "%d KiB" % (self.cache_bytes(args) // 1024),
                ", offload reported" if self.offload else ""),
            ("module counters grew (pages, xbzrle_pages, delta_bytes)"
             if not self.dense else "module counters grew (pages, overflows)") +
            ("; XBZRLE stopped itself by its %s rule: offload-stopped in query-migrate, "
             "xbzrle_offload_stop traced with that rule, one stop in the module's counters"
             % self.stop_rule() if self.stops() else
             "" if self.linux else
             "; XBZRLE not stopped (offload-stopped false, no xbzrle_offload_stop traced, "
             "no stop in the module's counters)") +
            ("; the module cleared the dirty log (xbzrle-offload-clear=on)"
             if self.module_clear else "; no dirty-log clear by the module (QEMU's lazy "
             "clear alone, the default)")
            if self.offload else "module counters unchanged (offload off)",
        ]
        if self.trace_checked():
            c.append("QEMU trace events: the xbzrle_offload_batch lines add up to the "
                     "module's counters (records, ZERO, UNCHANGED, XBZRLE, RAW)")
        return c


# e2e/bootsect-bench.S's flags (the dwords at 498: pages, flags, seed)
BENCH_SKEW, BENCH_DENSE = 1, 2


def bench_guest_image(bench_guest, path, ws_mb, flags, seed):
    """Writes e2e/bootsect-bench.S assembled (bench_guest) to path with
    its working set of ws_mb MiB, its flags and its seed patched in, for
    the cases here and make bench-migration's patterns."""
    with open(bench_guest, "rb") as f:
        img = bytearray(f.read())
    img[498:510] = struct.pack("<III", ws_mb * MIB // PAGE, flags, seed or 1)
    with open(path, "wb") as f:
        f.write(img)
    return path


def guest_image(case, args, workdir):
    """The image the case boots: bootsect.S, or bootsect-churn.S or the
    firmware carrying bootsect-smp.S with the case's seed in the boot
    sector's dword at offset 506 (the firmware's too)."""
    if case.linux:
        # its seed goes on the kernel command line
        case.seed = ((args.seed + case.run) * 2654435761 + ord(case.key)) & 0x7fffffff or 1
        return None
    if case.dense or case.scan or case.event == "clock":
        # dense: every byte of every page of DENSE_MB at every pass;
        # scan: one dword of every page of SCAN_MB at every pass;
        # clock: a skewed set that every round finds dirty (no round
        # converges while the count holds the migration)
        mb, flags = ((DENSE_MB, BENCH_DENSE) if case.dense else (SCAN_MB, 0) if case.scan
                     else (CLOCK_MB, BENCH_SKEW))
        case.seed = ((args.seed + case.run) * 2654435761 + ord(case.key)) & 0xffffffff or 1
        return bench_guest_image(args.bench_guest, os.path.join(workdir, "bootsect-bench.bin"),
                                 mb, flags, case.seed)
    if case.coalesced:
        case.seed = 0
        return args.bootsect_coalesced
    if not case.churn and not case.high:
        return args.bootsect
    with open(args.bootsect_churn if case.churn else args.smp_firmware, "rb") as f:
        img = bytearray(f.read())
    seed = ((args.seed + case.run) * 2654435761 + ord(case.key)) & 0xffffffff or 1
    img[506:510] = struct.pack("<I", seed)
    if case.high:
        img[502] = case.vcpus
    path = os.path.join(workdir, "bootsect-churn.bin" if case.churn else "firmware-smp.bin")
    with open(path, "wb") as f:
        f.write(img)
    case.seed = seed
    return path


def start_dest(case, args, workdir, name, image):
    dst = Guest(name, case.dst_qemu, args.accel, args, workdir, incoming=True,
                bootsect=image, vga=case.vga, high=case.high, vcpus=case.vcpus,
                linux_seed=case.seed if case.linux else None)
    dst.qmp.cmd("migrate-set-capabilities",
                capabilities=[{"capability": "xbzrle", "state": True}])
    sock = os.path.join(workdir, name + ".sock")
    dst.qmp.cmd("migrate-incoming", uri="unix:" + sock)
    wait_for("the destination to listen", lambda: os.path.exists(sock), 10)
    return dst, sock


def xbzrle_pages(info):
    return (info.get("xbzrle-cache") or {}).get("pages", 0)


# How long a completed migration's total-time may stay 0 (below).
COMPLETE_TIMES_WAIT_S = 5.0


def completed_times(src, info):
    """info, a completed query-migrate, or a later one with its times.
    QEMU 7.2's migration thread sets the state to completed in
    migration_completion() and only then, in migration_iteration_finish(),
    computes total-time and downtime (migration_calculate_complete()): a
    query-migrate in between reads completed with both 0.  10.0 computes
    them before it sets the state.  So ask again, for a while, until
    total-time is there."""
    deadline = time.monotonic() + COMPLETE_TIMES_WAIT_S
    while not info.get("total-time") and time.monotonic() < deadline:
        time.sleep(0.05)
        info = src.qmp.cmd("query-migrate")
    return info


def migrate(case, src, sock, args, hold=None, cancel=False, race=None):
    """Migrates src to the destination listening on sock and returns the
    last query-migrate.  XBZRLE starts after the first pass over RAM and
    hits only from the pass after, so the migration is held (a tiny
    downtime limit) for --warm-syncs dirty syncs, and as long as
    hold(info) says so, then allowed to converge.  With cancel, it is
    cancelled where it pauses before switch-over instead of completing.
    With race (a SizeRace), the migration starts with race's first cache
    size and race acts around the migrate command."""
    # The churn guest dirties only 8 MiB: a 1 ms downtime limit alone does
    # not hold its migration, a bandwidth limit while it is held does.
    hold_mb = args.hold_bandwidth_mb if case.vga else args.bandwidth_mb
    src.qmp.cmd("migrate-set-parameters",
                **{"xbzrle-cache-size": race.first if race else case.cache_bytes(args),
                   "downtime-limit": args.warm_downtime_ms,
                   "max-bandwidth": hold_mb * MIB}, **case.params)
    if cancel:
        # Cancelled where it pauses before switch-over, never while it
        # runs: QEMU 7.2 has two races of a cancel with the migration
        # thread entering completion.  Without the pause, the thread has
        # decided to complete, waits for the BQL and then inactivates the
        # disks although the cancel came, and nothing activates them again
        # (fixed upstream in 8.1): the next migration of that source aborts
        # in bdrv_inactivate_recurse().  With it, a cancel between the
        # thread's check for one and its move to pre-switchover leaves it
        # waiting for a migrate-continue forever.  No limit keeps a
        # migration from entering completion (it does whenever a dirty
        # sync finds nothing dirty), but once paused it waits there, and
        # a cancel then wakes it to give up before the disks.
        src.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "pause-before-switchover", "state": True}])
    if race:
        race.arm()
    src.qmp.cmd("migrate", uri="unix:" + sock)
    if race:
        race.run()
    tid = None
    warm = False
    deadline = time.monotonic() + args.migrate_timeout
    case.syncs = []
    while True:
        info = src.qmp.cmd("query-migrate")
        st = info.get("status")
        syncs = info.get("ram", {}).get("dirty-sync-count", 0)
        stats = read_stats() if case.offload else None
        if (not case.syncs or case.syncs[-1]["syncs"] != syncs or
                st in ("completed", "failed", "cancelled")):
            case.syncs.append(snapshot(info, stats))
        if cancel and st == "pre-switchover":
            src.qmp.cmd("migrate_cancel")
            wait_for("the migration to be cancelled",
                     lambda: src.qmp.cmd("query-migrate").get("status") in
                     ("cancelled", "failed", "completed"), 60)
            src.qmp.cmd("migrate-set-capabilities",
                        capabilities=[{"capability": "pause-before-switchover",
                                       "state": False}])
            return src.qmp.cmd("query-migrate")
        # asked at every poll: a hold may act before the warm-up is over
        held = hold is not None and st == "active" and hold(info)
        if not warm and st == "active" and syncs >= args.warm_syncs and not held:
            src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": args.downtime_ms,
                                                     "max-bandwidth": args.bandwidth_mb * MIB})
            warm = True
        if case.offload:
            cached = (stats or {}).get("cache_bytes")
            if cached is not None:
                case.cache_peak = max(case.cache_peak or 0, cached)
        if tid is None:
            tid = find_thread(src.proc.pid, "live_migration")
        if tid is not None:
            c = cpu_seconds("/proc/%d/task/%d/stat" % (src.proc.pid, tid))
            if c is not None:
                case.mig_cpu = c
        if st == "completed":
            return completed_times(src, info)
        if st in ("failed", "cancelled"):
            return info
        if time.monotonic() > deadline:
            src.qmp.cmd("migrate_cancel")
            info["status"] = "timeout after %ds (cancelled)" % args.migrate_timeout
            return info
        time.sleep(0.05)


def snapshot(info, stats):
    """The counters of a query-migrate (and of the module's debugfs
    stats, if given) that say what a round sent: compared between two dirty
    syncs, they give the pages the round between them sent and how."""
    ram = info.get("ram", {})
    xb = info.get("xbzrle-cache") or {}
    s = {"syncs": ram.get("dirty-sync-count", 0), "t": time.monotonic(),
         "bytes": ram.get("transferred", 0), "normal": ram.get("normal", 0),
         "zero": ram.get("duplicate", 0), "xbzrle": xb.get("pages", 0),
         "miss": xb.get("cache-miss", 0), "overflow": xb.get("overflow", 0)}
    for k in ("cache_hits", "cache_misses", "refused", "evictions", "dirty_log_clears"):
        if stats and k in stats:
            s["m_" + k] = stats[k]
    return s


def setup_refused(case, src, sock, dst, args, workdir, image, tap):
    """The module refuses the migration's cache at set-up: the ceiling
    (max_cache_mb) lowered to 1 MiB after xbzrle-cache-size was set, as an
    administrator may do.  The migration must fail, with the module's
    reason in query-migrate's error-desc, not only on QEMU's stderr; the
    source runs on.  Sets case.setup_refused; returns None (the destination
    of the failed migration is gone)."""
    with open(MAX_CACHE_MB) as f:
        old = f.read().strip()
    src.qmp.cmd("migrate-set-parameters", **{"xbzrle-cache-size": args.cache_mb * MIB})
    try:
        with open(MAX_CACHE_MB, "w") as f:
            f.write("1")
        src.qmp.cmd("migrate", uri="unix:" + sock)
        wait_for("the refused migration to end",
                 lambda: src.qmp.cmd("query-migrate").get("status") in
                 ("failed", "completed", "cancelled"), 60)
    finally:
        with open(MAX_CACHE_MB, "w") as f:
            f.write(old)
    info = src.qmp.cmd("query-migrate")
    why = info.get("error-desc", "")
    tap.diag("set-up refused: status %s, error-desc %r; source %s" % (
        info.get("status"), why, src.status()))
    case.setup_refused = (info.get("status") == "failed" and "kvm_xbzrle" in why and
                          "ceiling" in why)
    if not case.setup_refused:
        tap.diag("source log: " + src.log_tail())
    dst.kill()
    wait_for("the source to run on", lambda: src.status() == "running", 30)
    return None


def module_cache_size(pid):
    """The cache size (bytes) the module holds for the context QEMU
    process pid opened, from debugfs; None without one.  Read from
    outside QEMU, so also while its main loop is blocked."""
    try:
        with open(CONTEXTS) as f:
            for line in f:
                if re.search(r"\bpid=%d\b" % pid, line):
                    m = re.search(r"\bcache_size=(\d+)", line)
                    return int(m.group(1)) if m else None
    except OSError:
        pass
    return None


class GdbHold:
    """gdb attached to a running QEMU in non-stop mode with a breakpoint
    on one function: the thread that calls it stops there, every other
    thread runs on, until release().  The host's gdb (the VM runs in the
    host's root), driven through its machine interface (MI) on a pipe;
    --readnever: the ELF symbol table is enough for a breakpoint on a
    function, and QEMU's DWARF is slow to read under TCG."""

    def __init__(self, pid, function, timeout):
        self.timeout = timeout
        self.transcript = []
        self.lines = queue.Queue()
        self.thread = None
        self.token = 0
        self.proc = subprocess.Popen(
            ["gdb", "-nx", "-q", "--readnever", "--interpreter=mi3"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        threading.Thread(target=self._reader, daemon=True).start()
        try:
            self.mi("-gdb-set mi-async on")
            self.mi("-gdb-set non-stop on")
            self.mi("-gdb-set confirm off")
            self.mi("-target-attach %d" % pid)
            if function is not None:
                r = self.mi("-break-insert %s" % function)
                self.bkpt = re.search(r'number="(\d+)"', r).group(1)
            # Attaching stops every thread, each in its own time (not all
            # with a *stopped record): once all are, all run on.
            self.wait_threads("stopped")
            self.mi("-exec-continue --all", want="^running")
            self.wait_threads("running")
        except Exception:
            self.quit()
            raise

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _next(self, deadline, what):
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("gdb: timed out after %ss waiting for %s" % (self.timeout, what))
        if line is None:
            raise QMPError("gdb exited while waiting for %s: %s" % (what, self.tail()))
        self.transcript.append(line)
        return line

    def tail(self):
        return " | ".join(self.transcript[-8:])

    def mi(self, command, want="^done"):
        """Runs an MI command; returns its result record, which must
        start with want."""
        self.token += 1
        tok = str(self.token)
        self.proc.stdin.write(tok + command + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._next(deadline, command)
            if getattr(self, "bkpt", None):
                self._hit(line)
            if line.startswith(tok + "^"):
                if not line.startswith(tok + want):
                    raise QMPError("gdb: %s: %s" % (command, line))
                return line

    def wait_threads(self, state):
        """Waits until -thread-info shows every thread in state."""
        deadline = time.monotonic() + self.timeout
        while True:
            states = re.findall(r'state="(\w+)"', self.mi("-thread-info"))
            if states and all(st == state for st in states):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("gdb: threads not all %s after %ss: %s"
                                   % (state, self.timeout, states))
            time.sleep(0.1)

    def _hit(self, line):
        if (line.startswith("*stopped") and 'reason="breakpoint-hit"' in line and
                'bkptno="%s"' % self.bkpt in line):
            self.thread = re.search(r'thread-id="(\d+)"', line).group(1)
        return self.thread

    def wait_hit(self):
        """Waits for a thread to stop at the breakpoint; returns its
        gdb thread id."""
        deadline = time.monotonic() + self.timeout
        while self.thread is None:
            self._hit(self._next(deadline, "the breakpoint"))
        return self.thread

    def release(self):
        """Removes the breakpoint, lets the held thread go, detaches."""
        self.mi("-break-delete %s" % self.bkpt)
        if self.thread is not None:
            self.mi("-exec-continue --thread %s" % self.thread, want="^running")
        self.mi("-target-detach")
        self.quit()

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("-gdb-exit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class ClockCount:
    """Counts how often the migration thread's ram_save_iterate() reads
    the clock (its two calls of qemu_clock_get_ns(): t0 at its start, t1
    at each MAX_WAIT check) against the pages of the offload's batches
    (kvm_xbzrle_encode()'s n, its second argument, %esi), over at least
    --clock-pages pages.  QEMU's loop looks at the clock every 64 pages it
    sends, so that it hands back to the migration thread's loop (which
    decides switch-over, throttling and the bandwidth) within MAX_WAIT
    (50 ms); with batches of up to KVM_XBZRLE_BATCH pages, at least one
    read per 64 + KVM_XBZRLE_BATCH pages.

    With gdb (the host's, non-stop, attached before the migration starts:
    gdb 13 attached to a running QEMU misses its migration thread), from
    the third dirty sync on.  While it counts, the check's clock stands
    still: after each call of qemu_clock_get_ns() for t1, %rax is set to
    what the call for t0 returned, so MAX_WAIT never ends a call.  Its
    checks are then counted whatever the time, which gdb's stops (tens
    of milliseconds each in the test VM) would otherwise make exceed
    MAX_WAIT at the first check of every call.  Breakpoints only at
    instructions the migration thread alone runs: one on
    qemu_clock_get_ns() itself would trap every thread (the guest then
    hardly runs).  (Uprobes, which would not stop the thread, never fire
    in a QEMU that runs KVM in the test VM.)  Its hold() keeps the
    migration from switching over until counted.  Sets case.clock
    (reads, pages)."""

    def __init__(self, case, src, args, tap):
        self.case, self.src, self.args, self.tap = case, src, args, tap
        self.gdb = None
        self.deadline = None
        self.bkpts = []
        self.t0 = self.t1 = None
        self.syncs = 0

    def attach(self):
        t0 = time.monotonic()
        self.gdb = GdbHold(self.src.proc.pid, None, self.args.gdb_timeout)
        self.tap.diag("gdb attached to the source (non-stop) in %.1f s"
                      % (time.monotonic() - t0))

    def _insert(self, where, *commands):
        """A breakpoint that runs commands and continues: inserted
        disabled, and enabled by start() once it has its commands (a
        thread stopping at it before would stay stopped)."""
        r = self.gdb.mi("-break-insert -d %s" % where)
        n = re.search(r'number="(\d+)"', r).group(1)
        self.gdb.mi("-break-commands %s %s" % (n, " ".join(
            '"%s"' % c for c in ("silent",) + commands + ("continue",))))
        self.bkpts.append(n)
        return n

    def start(self):
        g = self.gdb
        insns = re.findall(r'address="(0x[0-9a-f]+)",func-name="ram_save_iterate",'
                           r'offset="\d+",inst="([^"]*)"',
                           g.mi("-data-disassemble -a ram_save_iterate -- 0"))
        after = [insns[i + 1][0] for i, (_, inst) in enumerate(insns[:-1])
                 if re.match(r"call\s+0x[0-9a-f]+ <qemu_clock_get_ns>$", inst)]
        if len(after) != 2:
            raise QMPError("gdb: %d calls of qemu_clock_get_ns() in ram_save_iterate(), "
                           "not 2 (t0, then the MAX_WAIT check)" % len(after))
        g.mi('-interpreter-exec console "set $xbz_pages = 0"')
        g.mi('-interpreter-exec console "set $xbz_t0 = 0"')
        self.t0 = self._insert("*" + after[0], "set $xbz_t0 = $rax")
        self.t1 = self._insert("*" + after[1], "set $rax = $xbz_t0")
        # at the first instruction (*): %esi is still the argument there
        self.encode = self._insert("*kvm_xbzrle_encode", "set $xbz_pages = $xbz_pages + $esi")
        g.mi("-break-enable %s" % " ".join(self.bkpts))
        self.deadline = time.monotonic() + self.args.gdb_timeout
        self.tap.diag("gdb counts from dirty sync %d: breakpoints after ram_save_iterate()'s "
                      "calls of qemu_clock_get_ns() (%s, %s) and at kvm_xbzrle_encode()"
                      % (self.syncs, after[0], after[1]))

    def pages(self):
        r = self.gdb.mi("-data-evaluate-expression $xbz_pages")
        return int(re.search(r'value="(-?\d+)"', r).group(1))

    def reads(self):
        n = 0
        for b in (self.t0, self.t1):
            r = self.gdb.mi("-break-info %s" % b)
            n += int(re.search(r'times="(\d+)"', r).group(1))
        return n

    def close(self):
        """Removes the breakpoints and detaches (also if the migration
        ended before the count did)."""
        if self.gdb is None:
            return
        try:
            if self.t1 is not None and self.case.clock is None:
                self.tap.diag("gdb: the migration ended with %d clock reads over %d pages "
                              "counted" % (self.reads(), self.pages()))
            for b in self.bkpts:
                self.gdb.mi("-break-delete %s" % b)
            self.gdb.mi("-target-detach")
        except (QMPError, TimeoutError) as e:
            # said, not raised: it would hide why the case is closing
            self.tap.diag("gdb: detaching: %s" % e)
        finally:
            self.gdb.quit()
            self.gdb = None

    def hold(self, info):
        """migrate()'s hold: True until counted (from the third dirty sync:
        XBZRLE, thus the offload, has started)."""
        if self.case.clock is not None:
            return False
        try:
            if not self.bkpts:
                self.syncs = info.get("ram", {}).get("dirty-sync-count", 0)
                if self.syncs < 3:
                    return True
                self.start()
            pages = self.pages()
            if pages < self.args.clock_pages:
                if time.monotonic() > self.deadline:
                    raise TimeoutError("gdb: %d of %d pages counted in %ds" % (
                        pages, self.args.clock_pages, self.args.gdb_timeout))
                return True
            # the reads first: pages counted after them only make the
            # ratio worse
            reads = self.reads()
            self.case.clock = (reads, self.pages())
            self.tap.diag("ram_save_iterate() read the clock %d times over %d pages of "
                          "kvm_xbzrle batches (one read per %.0f pages)"
                          % (reads, self.case.clock[1],
                             self.case.clock[1] / reads if reads else float("inf")))
            self.close()
        except Exception:
            if self.gdb is not None and self.gdb.transcript:
                self.tap.diag("gdb: " + self.gdb.tail())
            self.close()
            raise
        return False


class SizeRace:
    """migrate-set-parameters xbzrle-cache-size while the migration thread
    starts the module's cache.  ram_save_setup() (the migration thread)
    reads xbzrle-cache-size and passes it to kvm_xbzrle_start(), which
    empties the module's cache and sets its size; the command sizes the
    module itself, then stores the parameter.  gdb holds the migration
    thread at kvm_xbzrle_start(), the size it read (first) in hand, while
    the command asks for the case's size; then lets it go.  Whichever
    way the two are ordered, the module's cache must end up with the size
    query-migrate-parameters shows.  Sets case.size_race."""

    def __init__(self, case, src, args, tap):
        self.case, self.src, self.args, self.tap = case, src, args, tap
        self.first = args.cache_mb * MIB // 4
        self.gdb = None

    def arm(self):
        t0 = time.monotonic()
        self.gdb = GdbHold(self.src.proc.pid, "kvm_xbzrle_start", self.args.gdb_timeout)
        self.tap.diag("gdb attached to the source (non-stop, breakpoint on kvm_xbzrle_start) "
                      "in %.1f s; module cache size %s" % (
                          time.monotonic() - t0, module_cache_size(self.src.proc.pid)))

    def run(self):
        pid, want = self.src.proc.pid, self.args.cache_mb * MIB
        try:
            self.gdb.wait_hit()
            # Sent, not waited for: QEMU's main loop may have to wait for
            # the held thread.  The module says when the command sized it.
            self.src.qmp.send("migrate-set-parameters", **{"xbzrle-cache-size": want})
            t0 = time.monotonic()
            while (module_cache_size(pid) != want and
                   time.monotonic() - t0 < self.args.race_wait):
                time.sleep(0.05)
            during = module_cache_size(pid)
            self.gdb.release()
        except Exception:
            if self.gdb.transcript:
                self.tap.diag("gdb: " + self.gdb.tail())
            self.gdb.quit()
            raise
        self.src.qmp.reply("migrate-set-parameters")
        wait_for("the migration to leave set-up",
                 lambda: self.src.qmp.cmd("query-migrate").get("status") != "setup", 60)
        info = self.src.qmp.cmd("query-migrate")
        param = self.src.qmp.cmd("query-migrate-parameters").get("xbzrle-cache-size")
        module = module_cache_size(pid)
        reported = (info.get("xbzrle-cache") or {}).get("cache-size")
        self.tap.diag("migration thread held in kvm_xbzrle_start() with %d bytes: "
                      "the module's cache %s while held (the command %s), after: "
                      "query-migrate-parameters xbzrle-cache-size %s, the module's cache "
                      "size %s (debugfs), query-migrate cache-size %s"
                      % (self.first, during, "sized it then" if during == want else
                         "waited for the thread", param, module, reported))
        self.case.size_race = param == module == reported == want


class ResetHalfWay:
    """hold() of a migration that spans a system_reset of the source.

    While the offload sends the second pass over RAM, each page a cache
    miss that makes its base, and once --reset-misses of them are sent,
    the migration is slowed to --reset-bandwidth-kb (a RAW page per rate
    limit period) and the source is reset; once the guest has booted again
    and made --reset-passes passes, the bandwidth is given back: the rest
    of the pass, what the reset and the firmware changed included, goes
    against the bases of before the reset.  The hold then lasts two more
    dirty syncs.

    The cut comes in the pass of RAW pages, whose thousands of pages left
    keep the migration from completing: QEMU completes whenever a dirty
    sync finds nothing dirty, and once XBZRLE deltas of a few bytes flow
    the offload sends a round in a millisecond, so the rounds shrink to
    nothing within one poll of query-migrate, whatever the limits (and
    during the reset the vCPUs are paused).  Cutting the bandwidth only
    then let 7 of 14 reset cases complete before the reset; stopping the
    destination did not hold it either (the socket buffers a round)."""

    def __init__(self, case, src, args, tap):
        self.case, self.src, self.args, self.tap = case, src, args, tap
        self.passes = None
        self.syncs = None
        self.pass_start = None     # remaining when the second pass began
        self.checked = 0
        self.logged = False
        self.slowed = False

    def __call__(self, info):
        ram = info.get("ram", {})
        syncs = ram.get("dirty-sync-count", 0)
        if not self.slowed:
            # slower until the reset, so that a poll finds the second pass
            self.slowed = True
            self.src.qmp.cmd("migrate-set-parameters",
                             **{"max-bandwidth": self.args.reset_pass_bandwidth_mb * MIB})
        if self.passes is None:
            # query-migrate's XBZRLE counters move at dirty syncs only;
            # remaining moves with every page
            remaining = ram.get("remaining", 0)
            if syncs < 2:
                return True
            if self.pass_start is None:
                self.pass_start = remaining
            if (syncs == 2 and
                    self.pass_start - remaining < self.args.reset_misses * PAGE):
                return True
            self.src.qmp.cmd("migrate-set-parameters",
                             **{"max-bandwidth": self.args.reset_bandwidth_kb * 1024})
            self.passes, self.syncs = self.src.passes(), syncs
            self.src.qmp.cmd("system_reset")
            self.case.event_at = syncs
            self.t0 = self.moved = time.monotonic()
            self.seen = self.passes
            self.resets = 1
            self.tap.diag("system_reset of the source at dirty sync %d%s, %d XBZRLE pages sent, "
                          "guest pass %d, %.1f MiB remaining"
                          % (syncs, ", %.1f MiB of the second pass sent" %
                             ((self.pass_start - remaining) / MIB) if syncs == 2 else
                             " (the second pass was over when polled)",
                             xbzrle_pages(info), self.passes, remaining / MIB))
            return True
        if time.monotonic() - self.checked > 1:
            self.checked = time.monotonic()
            st = self.src.status()
            if st not in ("running", "finish-migrate", "postmigrate"):
                raise QMPError("source guest is %s after system_reset (log: %s)"
                               % (st, self.src.log_tail()))
        passes = self.src.passes()
        if passes != self.seen:
            self.seen, self.moved = passes, time.monotonic()
        if passes < self.passes + self.args.reset_passes:
            if self.resets < 3 and time.monotonic() - self.moved > self.args.reset_retry_s:
                # SeaBIOS under nested KVM was seen to sit for minutes
                # before booting (also at a first boot, see boot_source());
                # another reset got it going.  The reset is what the case
                # tests, so one more is no loss.  Counted from the last
                # pass seen, not from the count at the reset: a pass
                # written just as the reset came once kept the count
                # from ever matching again, and the case timed out.
                self.resets += 1
                self.moved = time.monotonic()
                self.src.qmp.cmd("system_reset")
                self.tap.diag("guest not back %.0f s after the reset (pass %d): system_reset "
                              "again" % (time.monotonic() - self.t0, self.src.passes()))
            return True
        if not self.logged:
            self.logged = True
            self.src.qmp.cmd("migrate-set-parameters",
                             **{"max-bandwidth": self.args.hold_bandwidth_mb * MIB})
            self.tap.diag("guest ran %d passes again %.1f s after the reset, dirty sync %d, "
                          "%.1f MiB remaining"
                          % (self.src.passes() - self.passes, time.monotonic() - self.t0, syncs,
                             ram.get("remaining", 0) / MIB))
            self.syncs = syncs
        return syncs < self.syncs + 2


def cpu_where(guest):
    """Where the vCPUs are, three times a second apart (CS:RIP, CR0 and
    whether halted, from HMP info registers -a): whether a guest that does
    not boot is stuck in one place of the firmware or busy."""
    out = []
    for _ in range(3):
        try:
            regs = guest.qmp.cmd("human-monitor-command",
                                 **{"command-line": "info registers -a"})
        except Exception as e:  # noqa: BLE001 - a diagnostic only
            return "info registers: %s" % e
        cpus = []
        for part in re.split(r"^CPU#\d+\s*$", regs, flags=re.M)[1:] or [regs]:
            rip = re.search(r"[RE]IP=([0-9a-f]+)", part)
            cs = re.search(r"^CS\s*=([0-9a-f]+)", part, re.M)
            cr0 = re.search(r"CR0=([0-9a-f]+)", part)
            hlt = re.search(r"HLT=(\d)", part)
            cpus.append("%s:%s cr0 %s%s" % (
                cs.group(1) if cs else "?", rip.group(1) if rip else "?",
                cr0.group(1) if cr0 else "?", " halted" if hlt and hlt.group(1) == "1" else ""))
        out.append(" / ".join(cpus))
        time.sleep(1)
    return ", ".join(out)


def boot_source(case, args, workdir, image, tap):
    """Starts the source guest, waits for its first passes and turns
    XBZRLE on; returns it."""
    accel = (args.accel + (",xbzrle-offload=on" if case.offload and not case.runtime else "") +
             case.accel_extra)
    src = None
    # The guest is dirtying before the migration starts.  The
    # destination starts only then, not while the source is in SeaBIOS:
    # a nested KVM emulation failure in SeaBIOS ("KVM internal error",
    # before the offload does anything) was seen once with the two
    # starting together.
    #
    # The guest's first 3 passes come 2-7 s after QEMU starts; but with
    # -vga std, SeaBIOS under nested KVM now and then sits for minutes
    # before booting (CI: 2 of 9 sources in one run, each past 120 s).
    # A reset got it going in some cases, a fresh QEMU in others.  So a
    # source that has not passed within a short wait is reset, then
    # replaced, up to 3 QEMU processes; the last waits boot_timeout.
    short = min(45, args.boot_timeout)
    for attempt in (1, 2, 3):
        src = Guest("src", case.src_qemu, accel, args, workdir, bootsect=image, vga=case.vga,
                    high=case.high, vcpus=case.vcpus,
                    linux_seed=case.seed if case.linux else None,
                    offload_trace=case.offload, extra=case.src_extra)
        t0 = time.monotonic()
        wait = short if attempt < 3 else args.boot_timeout
        if case.linux:
            wait = args.linux_boot_timeout
        try:
            for reset in (False, True):
                try:
                    wait_for("3 passes of the source guest", lambda: src.passes() >= 3, wait)
                    break
                except TimeoutError:
                    tap.diag("source guest (QEMU %d of 3%s): %d passes after %.0f s, %s; "
                             "vCPU at %s" % (attempt, ", after a reset" if reset else "",
                                             src.passes(), time.monotonic() - t0,
                                             src.status(), cpu_where(src)))
                    if case.linux:
                        tap.diag("its console: " + src.console_text()[-1500:])
                    if reset or case.linux or src.passes() or src.status() != "running":
                        raise
                    src.qmp.cmd("system_reset")
            tap.diag("source guest: 3 passes %.1f s after its start" % (time.monotonic() - t0))
            if case.linux:
                tap.diag("Linux guest: " + src.guest_init_lines())
            break
        except TimeoutError:
            # a guest that ran and stopped passing is not the firmware's stall
            if attempt == 3 or (src.passes() and "KVM internal error" not in src.log_tail()):
                src.kill()
                raise
            tap.diag("source guest did not boot: starting a new QEMU. " +
                     (src.log_tail().splitlines() or [""])[0])
            src.kill()
            src = None
    if case.runtime:
        # started without the accel property: the capability binds the
        # running VM and mirrors the memslots it has now
        before = (read_stats() or {}).get("contexts")
        src.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "xbzrle-offload", "state": True}])
        caps = {c["capability"]: c["state"] for c in src.qmp.cmd("query-migrate-capabilities")}
        after = (read_stats() or {}).get("contexts")
        case.runtime_bound = (caps.get("xbzrle-offload") is True and before is not None and
                              after == before + 1)
        tap.diag("xbzrle-offload capability: reads %s, module contexts %s -> %s" % (
            caps.get("xbzrle-offload"), before, after))
    src.qmp.cmd("migrate-set-capabilities",
                capabilities=[{"capability": "xbzrle", "state": True}])
    return src


def run_case(case, args, tap):
    desc = "case %s (%s):" % (case.label, case.title)
    checks = case.checks(args)
    # the points after "runs on": XBZRLE used, the module's counters and,
    # where checked, the trace events
    n_after = 2 if case.trace_checked() else 1
    if case.skip:
        for c in checks:
            tap.point(True, "%s %s" % (desc, c), "SKIP " + case.skip)
        return
    log("=== %s %s -> %s" % (desc, case.src_qemu, case.dst_qemu))
    tap.diag("%s source %s%s, destination %s" % (
        desc, case.src_qemu, " (xbzrle-offload capability)" if case.runtime else
        " (xbzrle-offload=on)" if case.offload else "", case.dst_qemu))
    workdir = os.path.join(args.workdir, case.label)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    t0 = time.monotonic()
    first = tap.n
    src = dst = None
    case.src_log = os.path.join(workdir, "src.log")
    before = read_stats()
    try:
        image = guest_image(case, args, workdir)
        if case.churn:
            tap.diag("guest %s with -vga std, seed 0x%08x" % (args.bootsect_churn, case.seed))
        if case.coalesced:
            tap.diag("guest %s with -vga std" % args.bootsect_coalesced)
        if case.high:
            tap.diag("guest %s (-bios) with %d vCPU(s), %d MiB RAM below 4 GiB and %d MiB above, "
                     "seed 0x%08x" % (args.smp_firmware, case.vcpus, args.mem_mb, HIGH_MB,
                                      case.seed))
        # A reset case whose migration completes before the reset has
        # taken effect covers no reset: QEMU completes whenever a dirty sync
        # finds nothing dirty, which happens when the guest's vCPU got no
        # CPU between two syncs (a loaded nested-KVM host) or sat in the
        # firmware's delay loops.  No limit holds a migration against that;
        # such a run is tried again with fresh guests, at most twice.
        attempts = 3 if case.event == "reset" else 1
        for attempt in range(1, attempts + 1):
            src = boot_source(case, args, workdir, image, tap)
            dst, sock = start_dest(case, args, workdir, "dst", image)
            if case.event != "reset":
                break
            hold = ResetHalfWay(case, src, args, tap)
            case.src_cpu_start = cpu_seconds("/proc/%d/stat" % src.proc.pid)
            vcpu_start = vcpu_seconds(src.proc.pid)
            info = migrate(case, src, sock, args, hold=hold)
            if (attempt == attempts or info.get("status") != "completed" or
                    (case.event_at is not None and hold.logged)):
                break
            tap.diag("attempt %d: the migration completed before %s; again with fresh guests"
                     % (attempt, "the reset" if case.event_at is None
                        else "the guest was back from its reset"))
            if args.trace:
                tap.diag("source log: " + src.log_tail())
            src.kill()
            dst.kill()
            src = dst = None
            case.event_at = None
        if case.event == "cancel":
            # Held until XBZRLE pages flow (--event-sync), then let go and
            # cancelled before switch-over (see migrate()): the source runs
            # on and migrates again to a destination that never saw the
            # first stream.
            last = {}

            def hold(info):
                last.update(info)
                return (info.get("ram", {}).get("dirty-sync-count", 0) < args.event_sync
                        or xbzrle_pages(info) == 0)
            for attempt in (1, 2, 3):
                last.clear()
                info = migrate(case, src, sock, args, hold=hold, cancel=True)
                case.event_at = last.get("ram", {}).get("dirty-sync-count")
                tap.diag("first migration: %s before switch-over, dirty sync %s, after %d "
                         "XBZRLE pages; source %s" % (info.get("status"), case.event_at,
                                                      xbzrle_pages(last), src.status()))
                # Converged before any XBZRLE page was sent: the cancel
                # would cover no base, so again.
                if xbzrle_pages(last) > 0 or info.get("status") != "cancelled" or attempt == 3:
                    break
                tap.diag("attempt %d: no XBZRLE page before the cancel; again with fresh guests"
                         % attempt)
                src.kill()
                dst.kill()
                src = dst = None
                src = boot_source(case, args, workdir, image, tap)
                dst, sock = start_dest(case, args, workdir, "dst", image)
            if xbzrle_pages(last) == 0:
                raise QMPError("no XBZRLE page before the cancel in %d attempts" % attempt)
            if info.get("status") != "cancelled":
                raise QMPError("the first migration ended %s, not cancelled" % info.get("status"))
            dst.kill()
            dst = None
            wait_for("the source to run on", lambda: src.status() == "running", 30)
            dst, sock = start_dest(case, args, workdir, "dst2", image)
        if case.event == "setupfail":
            dst = setup_refused(case, src, sock, dst, args, workdir, image, tap)
            dst, sock = start_dest(case, args, workdir, "dst2", image)
        if case.event != "reset":
            hold = None
            if case.held:
                # p, q, r and H alike: held for --dense-syncs dirty syncs,
                # by which p's and H's offload must have judged and stopped
                # XBZRLE
                def hold(info):
                    return info.get("ram", {}).get("dirty-sync-count", 0) < args.dense_syncs
            race = SizeRace(case, src, args, tap) if case.event == "setsize" else None
            clock = None
            if case.event == "clock":
                clock = ClockCount(case, src, args, tap)
                clock.attach()
                hold = clock.hold
            case.src_cpu_start = cpu_seconds("/proc/%d/stat" % src.proc.pid)
            vcpu_start = vcpu_seconds(src.proc.pid)
            try:
                info = migrate(case, src, sock, args, hold=hold, race=race)
            finally:
                if clock is not None:
                    clock.close()
        case.src_cpu = cpu_seconds("/proc/%d/stat" % src.proc.pid)
        vcpu_end = vcpu_seconds(src.proc.pid)
        if None not in (vcpu_start, vcpu_end, case.src_cpu_start, case.src_cpu):
            # Exact, unlike the sampled migration thread: everything but
            # the guest's vCPUs (mostly the migration thread).
            case.nonvcpu_cpu = (case.src_cpu - case.src_cpu_start) - (vcpu_end - vcpu_start)
        case.info = info
        ok = (info.get("status") == "completed" and case.setup_refused is not False and
              case.size_race is not False and case.runtime_bound is not False)
        if case.event == "clock":
            ok = ok and case.clock is not None and \
                case.clock[0] * CLOCK_PAGES_PER_READ >= case.clock[1]
        if case.event == "reset" and (case.event_at is None or not hold.logged):
            ok = False
            tap.diag("the migration ended before the reset" if case.event_at is None else
                     "the migration ended before the guest was back from its reset: "
                     "%d passes, source %s" % (src.passes(), src.status()))
        tap.diag(json.dumps(info, sort_keys=True))
        if not ok:
            tap.diag("source log: " + src.log_tail())
            tap.diag("destination log: " + dst.log_tail())
        tap.point(ok, "%s %s" % (desc, checks[0]), None if ok else "status " + str(info.get("status")))
        # a completed migration that failed only its case's own check (the
        # module kept the wrong cache size, setsize; too few clock reads,
        # clock) is still compared: its other points say what it did
        own_check = case.size_race is False or case.event == "clock"
        if not ok and (info.get("status") != "completed" or not own_check):
            raise QMPError("migration did not complete")

        # The destination was started with -S: it loads and then stays
        # paused, so its RAM is what it received.  The source stopped its
        # vCPUs before the last pass and stays in postmigrate.
        wait_for("the destination to finish loading",
                 lambda: dst.qmp.cmd("query-migrate").get("status") in ("completed", "failed"),
                 30)
        wait_for("the destination to be paused", lambda: dst.status() == "paused", 30)
        src_state = src.status()
        lfb = dst_lfb = None
        if case.vga:
            lfb, dst_lfb = vga_lfb(src), vga_lfb(dst)
        dumps = [os.path.join(workdir, n + ".elf") for n in ("src", "dst")]
        # The Linux guest's RAM a chunk at a time (dump-guest-memory's
        # begin and length): two whole dumps need not fit the VM's tmpfs.
        chunks = [None]
        if case.linux:
            half = args.linux_mem_mb * MIB // 2
            chunks = [b for lo in (0, 1 << 32) for b in range(lo, lo + half, DUMP_CHUNK)]
        pages, diff, notes, high, written = 0, [], [], 0, 0
        kvm_areas = src.kvm_written() if case.linux else []
        kvm_pages = []
        for begin in chunks:
            kw = {} if begin is None else {"begin": begin, "length": DUMP_CHUNK}
            src.qmp.cmd("dump-guest-memory", paging=False, protocol="file:" + dumps[0], **kw)
            dst.qmp.cmd("dump-guest-memory", paging=False, protocol="file:" + dumps[1], **kw)
            p, d, note = compare_dumps(*dumps, skip=lfb if case.vga else None)
            for line in dump_spans(*dumps, d[:max(0, 4 - len(diff) - len(kvm_pages))]):
                tap.diag("RAM " + line)
            # KVM's own writes on the destination, byte for byte inside
            # the areas it owns, are told apart; nothing else is
            k = [g for g in d if kvm_written_only(*dumps, g, kvm_areas)]
            kvm_pages += k
            d = [g for g in d if g not in k]
            pages += p
            diff += d
            notes += [note] if note else []
            if case.high or case.linux:
                h, w = high_pages(dumps[0])
                high += h
                written += w
            for f in dumps:
                os.unlink(f)
        case.ram_diff = len(diff)
        why = describe(pages, diff, "; ".join(notes))
        tap.diag("source %s, destination paused; all guest RAM (dump-guest-memory%s): %s"
                 % (src_state, ", %d MiB at a time" % (DUMP_CHUNK // MIB) if case.linux else "",
                    why))
        equal = not diff and pages > 0
        if src_state != "postmigrate":
            equal = False
            tap.diag("source is %s, not postmigrate" % src_state)
        if case.high or case.linux:
            # the memslot above 4 GiB was compared, and the guest wrote it
            tap.diag("above 4 GiB: %d pages in the source's dump, %d of them not zero"
                     % (high, written))
            equal = equal and written > 0 and high * PAGE >= (
                HIGH_MB * MIB if case.high else args.linux_mem_mb * MIB // 2)
        if case.linux:
            tap.diag("Linux guest: " + src.guest_init_lines())
            tap.diag("pages differing only inside the areas KVM writes by itself "
                     "(kvmclock's wall clock and vCPU time, rewritten by the destination's "
                     "KVM when QEMU restores their MSRs), not counted: %s" % (
                         " ".join("0x%x" % g for g in kvm_pages) or "none"))
        tap.point(equal, "%s %s" % (desc, checks[1]))

        if case.vga:
            # First through the legacy window: an access to QEMU's VGA
            # emulation there carries out what KVM queued in its coalesced
            # MMIO ring, so the source's video RAM then holds every write
            # its guest made before it stopped.
            case.window_diff = compare_guest_range(
                tap, workdir, "VGA window", (src, dst), (VGA_WINDOW, VGA_WINDOW),
                VGA_WINDOW_SIZE, "%s %s" % (desc, checks[2]))

            tap.diag("LFB (BAR 0 of 00:02.0): source 0x%x+0x%x, destination 0x%x+0x%x" % (
                lfb[0] or 0, lfb[1] or 0, dst_lfb[0] or 0, dst_lfb[1] or 0))
            if lfb != dst_lfb or not lfb[1] or not 0 < lfb[0] < 1 << 32:
                tap.point(False, "%s %s" % (desc, checks[3]), "LFB not mapped alike")
            else:
                case.vram_diff = compare_guest_range(
                    tap, workdir, "video RAM", (src, dst), (lfb[0], dst_lfb[0]),
                    lfb[1], "%s %s" % (desc, checks[3]))

        p0 = dst.passes()
        s0 = src.passes()
        dst.qmp.cmd("cont")
        time.sleep(args.run_on)
        p1 = dst.passes()
        ran = p1 - p0
        src_ran = src.passes() - s0
        dst_state = dst.status()
        tap.diag("destination %s: %d passes in %.1f s after cont; source (stopped) %d"
                 % (dst_state, ran, args.run_on, src_ran))
        tap.point(ran >= 1 and dst_state == "running" and src_ran == 0,
                  "%s %s" % (desc, checks[-2 - n_after]))

        xb = info.get("xbzrle-cache") or {}
        tap.diag("xbzrle-cache: %s (offload field: %s)" % (
            json.dumps(xb, sort_keys=True), xb.get("offload", "absent")))
        # The patched QEMU says "offload": true while the module encodes,
        # and leaves the member out otherwise.
        offload_ok = xb.get("offload", False) == case.offload
        if not offload_ok:
            tap.diag("xbzrle-cache offload is %s, expected %s" % (xb.get("offload"), case.offload))
        # with the offload, cache-size is the module's: set through
        # migrate-set-parameters xbzrle-cache-size
        size_ok = xb.get("cache-size") == case.cache_bytes(args)
        if not size_ok:
            tap.diag("xbzrle-cache cache-size %s, expected %d" % (xb.get("cache-size"),
                                                                 case.cache_bytes(args)))
        tap.point(xb.get("pages", 0) > 0 and offload_ok and size_ok,
                  "%s %s" % (desc, checks[-1 - n_after]))
    except Exception as e:  # noqa: BLE001 - every failure becomes a test point
        tb = e.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        tap.diag("%s %s: %s (%s line %d)" % (desc, type(e).__name__, e,
                                             tb.tb_frame.f_code.co_name, tb.tb_lineno))
        for g in (src, dst):
            if g is not None:
                tap.diag("%s log: %s" % (g.name, g.log_tail()))
        if src is not None and "bdrv_inactivate_recurse" in src.log_tail():
            tap.diag("a migration left the source's disks inactive: QEMU 7.2's race of a "
                     "cancel with completion, which migrate() is meant to avoid")
    finally:
        for g in (src, dst):
            if g is not None:
                g.kill()
    # Points the case did not reach (after an exception) fail, so the plan
    # stays whole; the module point (and the trace point) always run.
    for c in checks[tap.n - first:-n_after]:
        tap.point(False, "%s %s" % (desc, c), "not reached")
    after = read_stats()
    if before is not None and after is not None:
        case.module = {k: after[k] - before.get(k, 0) for k in after}
    tap.diag("module counters, change during the case: %s" % (
        " ".join("%s=%d" % kv for kv in sorted((case.module or {}).items())) or "unavailable"))
    m, xb = case.module or {}, (case.info or {}).get("xbzrle-cache") or {}
    if case.offload and m and xb and case.event is None:
        # Documentation/offload.rst: how QEMU's numbers follow from the
        # module's (bytes may also hold a RAM block name, so >= is fine).
        want = m.get("delta_bytes", 0) + 3 * m.get("xbzrle_pages", 0) + 4096 * m.get("overflows", 0)
        tap.diag("query-migrate xbzrle bytes %s, pages %s; from the module: "
                 "delta_bytes + 3 * xbzrle_pages + 4096 * overflows = %d, cache_hits = %d"
                 % (xb.get("bytes"), xb.get("pages"), want, m.get("cache_hits", 0)))
    module_point(case, tap, desc, checks[-n_after])
    if case.trace_checked():
        trace_point(case, os.path.join(workdir, "src.log"), tap, desc, checks[-1])
    case.wall = time.monotonic() - t0
    tap.diag("case %s took %.1f s" % (case.label, case.wall))


CLEAR_PARAM = "/sys/module/kvm_xbzrle/parameters/clear_dirty_log"
DEVICE = "/dev/kvm_xbzrle"
STARTUP_POINTS = 5


def start_briefly(qemu, accel):
    """Starts qemu with -accel accel and no machine, tracing the offload's
    bind, and quits it through QMP: (exit status, output)."""
    cmd = [qemu, "-machine", "none", "-accel", accel, "-S", "-display", "none",
           "-nodefaults", "-no-user-config", "-trace", "kvm_xbzrle_bind", "-qmp", "stdio"]
    qmp = '{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n'
    p = subprocess.run(cmd, input=qmp, capture_output=True, text=True, timeout=60)
    return p.returncode, (p.stderr + p.stdout).strip()


def qmp_briefly(qemu, accel, cmds):
    """Starts qemu's PC machine paused (its memslots set) with -accel
    accel and the offload's kvm_xbzrle_* trace events, runs the QMP
    commands cmds ((name, arguments) pairs) and quits: (exit status, the
    replies in order, the trace lines)."""
    cmd = [qemu, "-machine", "pc-i440fx-7.2", "-accel", accel, "-m", "64", "-S",
           "-display", "none", "-nodefaults", "-no-user-config",
           "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
           "-trace", "kvm_xbzrle_*", "-qmp", "stdio"]
    qmp = "".join(json.dumps({"execute": n, "arguments": a} if a else {"execute": n}) + "\n"
                  for n, a in [("qmp_capabilities", None)] + cmds + [("quit", None)])
    p = subprocess.run(cmd, input=qmp, capture_output=True, text=True, timeout=60)
    replies = [j for j in (json.loads(line) for line in p.stdout.splitlines() if line.strip())
               if "return" in j or "error" in j]
    return p.returncode, replies[1:-1], [line for line in p.stderr.splitlines()
                                         if "kvm_xbzrle_" in line]


def runtime_points(qemu, tap, desc, checks):
    """The xbzrle-offload capability on a VM started without the accel
    property: it binds and mirrors the memslots, off unbinds; without
    /dev/kvm_xbzrle it fails with the module-loading advice."""
    def cap(state):
        return ("migrate-set-capabilities",
                {"capabilities": [{"capability": "xbzrle-offload", "state": state}]})
    query = ("query-migrate-capabilities", None)

    def reads(reply):
        return {c["capability"]: c["state"] for c in reply.get("return", [])}.get(
            "xbzrle-offload")

    rc, r, trace = qmp_briefly(qemu, "kvm", [query, cap(True), query, cap(False), query])
    tap.diag("xbzrle-offload on then off: exit %d, replies %s" % (
        rc, [reads(x) if "return" in x and x["return"] else x for x in r]))
    tap.diag("its trace: " + "; ".join(trace)[-1200:])
    kinds = [t.split()[0].split(":")[-1] for t in trace]
    regions = [t for t in trace if "kvm_xbzrle_set_region" in t and "size 0x0 " not in t]
    ok = (rc == 0 and len(r) == 5 and reads(r[0]) is False and r[1].get("return") == {} and
          reads(r[2]) is True and r[3].get("return") == {} and reads(r[4]) is False and
          kinds.count("kvm_xbzrle_bind") == 1 and len(regions) >= 3 and
          "kvm_xbzrle_unbind" in kinds and
          kinds.index("kvm_xbzrle_bind") < kinds.index("kvm_xbzrle_set_region"))
    tap.diag("events: %s" % " ".join(kinds))
    tap.point(ok, "%s %s" % (desc, checks[0]))

    away = DEVICE + ".away"
    os.rename(DEVICE, away)
    try:
        rc, r, trace = qmp_briefly(qemu, "kvm", [cap(True), query])
    finally:
        os.rename(away, DEVICE)
    tap.diag("without %s: exit %d, replies %s" % (DEVICE, rc, r))
    err = r[0].get("error", {}).get("desc", "") if r else ""
    tap.point(rc == 0 and len(r) == 2 and "modprobe kvm_xbzrle" in err and
              DEVICE in err and reads(r[1]) is False and not trace,
              "%s %s" % (desc, checks[1]))


def startup_points(qemu, tap):
    """-accel kvm,xbzrle-offload-clear=on|off|auto: refused without the
    offload, and =on when the module withholds the clear, with the reason;
    which of the others binds with the module's clear (the bind trace
    event says)."""
    desc = "QEMU start-up:"
    checks = [
        "xbzrle-offload-clear=on without xbzrle-offload=on exits with the reason",
        "xbzrle-offload-clear=on while the module's clear_dirty_log=N exits with the reason",
        "xbzrle-offload=on binds without the module's clear by default, with it "
        "with xbzrle-offload-clear=on or auto, and auto without it when the module "
        "withholds it",
        "the xbzrle-offload capability binds a VM started without the accel property "
        "and mirrors its memslots (trace events), reads on, and off unbinds it",
        "without /dev/kvm_xbzrle, migrate-set-capabilities xbzrle-offload fails with the "
        "module-loading advice in its message, and the capability stays off",
    ]
    if not qemu:
        for c in checks:
            tap.point(True, "%s %s" % (desc, c), "SKIP patched QEMU not built")
        return

    def bind(accel):
        rc, out = start_briefly(qemu, accel)
        m = re.search(r"kvm_xbzrle_bind .*clear_dirty_log (\d)", out)
        tap.diag("%s: exit %d, bind: %s" % (accel, rc, m.group(0) if m else out[-300:]))
        return m.group(1) if m and rc == 0 else None

    rc, out = start_briefly(qemu, "kvm,xbzrle-offload-clear=on")
    tap.diag("xbzrle-offload-clear=on alone: exit %d: %s" % (rc, out[-300:]))
    tap.point(rc != 0 and "xbzrle-offload-clear needs xbzrle-offload=on" in out,
              "%s %s" % (desc, checks[0]))
    binds = [bind("kvm,xbzrle-offload=on"), bind("kvm,xbzrle-offload=on,xbzrle-offload-clear=on"),
             bind("kvm,xbzrle-offload=on,xbzrle-offload-clear=auto")]
    with open(CLEAR_PARAM) as f:
        saved = f.read().strip()
    try:
        with open(CLEAR_PARAM, "w") as f:
            f.write("N")
        rc, out = start_briefly(qemu, "kvm,xbzrle-offload=on,xbzrle-offload-clear=on")
        binds.append(bind("kvm,xbzrle-offload=on,xbzrle-offload-clear=auto"))
    finally:
        with open(CLEAR_PARAM, "w") as f:
            f.write(saved)
    tap.diag("clear_dirty_log=N, xbzrle-offload-clear=on: exit %d: %s" % (rc, out[-300:]))
    tap.point(rc != 0 and "does not offer to clear the dirty log" in out,
              "%s %s" % (desc, checks[1]))
    tap.point(binds == ["0", "1", "1", "0"], "%s %s" % (desc, checks[2]))
    runtime_points(qemu, tap, desc, checks[3:])


def module_point(case, tap, desc, check):
    m = case.module
    if m is None:
        tap.point(False, "%s %s" % (desc, check), "no %s" % STATS)
        return
    if case.offload:
        if case.dense:
            ok = m.get("pages", 0) > 0 and m.get("overflows", 0) > 0
        else:
            ok = all(m.get(k, 0) > 0 for k in ("pages", "xbzrle_pages", "delta_bytes"))
        if (m.get("dirty_log_clears", 0) > 0) != case.module_clear:
            tap.diag("module dirty_log_clears %s, xbzrle-offload-clear=%s"
                     % (m.get("dirty_log_clears"), "on" if case.module_clear else "off"))
            ok = False
        xb = (case.info or {}).get("xbzrle-cache") or {}
        stops = []
        try:
            with open(case.src_log, errors="replace") as f:
                stops = [line.strip() for line in f if "xbzrle_offload_stop" in line]
        except OSError:
            pass
        rule = case.stop_rule()
        if rule:
            left = read_stats() or {}
            tap.diag("offload-stopped %s, xbzrle_offload_stop traced: %s; module cache_bytes "
                     "now %s" % (xb.get("offload-stopped"), stops or "no",
                                 left.get("cache_bytes")))
            # the module counted the stop (KVM_XBZRLE_INVALIDATE_STOP)
            ok = (ok and xb.get("offload-stopped") is True and len(stops) == 1 and
                  "stopped by the %s rule" % rule in stops[0] and m.get("stops") == 1)
        elif not case.linux:
            # the boot-sector guests' sparse writes keep hitting and
            # saving, and r's dense writer has the saving rule off (the
            # pages the module gives up are not the hit rate's): no rule
            # may stop XBZRLE there
            if stops or xb.get("offload-stopped") is not False or m.get("stops"):
                tap.diag("offload-stopped %s, xbzrle_offload_stop traced: %s, module stops %s"
                         % (xb.get("offload-stopped"), stops or "no", m.get("stops")))
                ok = False
    else:
        ok = all(m.get(k, 0) == 0 for k in ("pages", "xbzrle_pages", "delta_bytes"))
    tap.point(ok, "%s %s" % (desc, check))


BATCH = re.compile(r"xbzrle_offload_batch \S+ pages (\d+): zero (\d+) unchanged (\d+) "
                   r"xbzrle (\d+) raw (\d+) sent by QEMU (\d+)")


def trace_point(case, path, tap, desc, check):
    """The source's xbzrle_offload_batch events (its log, -trace) against
    the module's counters of the case: every record of the migration was
    in one batch line."""
    tot = [0] * 6
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = BATCH.search(line)
                if m:
                    tot = [a + int(b) for a, b in zip(tot, m.groups())]
    except OSError as e:
        tap.point(False, "%s %s" % (desc, check), "source log: %s" % e)
        return
    m = case.module or {}
    got = {"records": sum(tot[1:5]), "zero": tot[1], "unchanged": tot[2],
           "xbzrle": tot[3], "raw": tot[4]}
    want = {"records": m.get("pages"), "zero": m.get("zero_pages"),
            "unchanged": m.get("unchanged_pages"), "xbzrle": m.get("xbzrle_pages"),
            "raw": m.get("raw_pages")}
    tap.diag("xbzrle_offload_batch events: %d pages, %s, %d sent by QEMU itself; module: %s" % (
        tot[0], " ".join("%s=%d" % kv for kv in got.items()), tot[5],
        " ".join("%s=%s" % kv for kv in want.items())))
    tap.point(got == want and tot[0] == sum(tot[1:]) and got["xbzrle"] > 0,
              "%s %s" % (desc, check))


def bad_dmesg(patterns_file):
    """(bad, left_out): the dmesg lines that match a pattern of
    patterns_file (one regular expression per line), and what
    selftests/vm/dmesg-check, next to it, left out and why (a soft lockup
    while the whole VM stood still); none without a file."""
    if not patterns_file:
        return [], []
    check = os.path.join(os.path.dirname(patterns_file), "dmesg-check")
    dm = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    r = subprocess.run([check, patterns_file], input=dm, capture_output=True, text=True)
    bad = r.stdout.splitlines()
    if r.returncode not in (0, 1):
        bad.append("%s exited with status %d: %s" % (check, r.returncode, r.stderr.strip()))
        return bad, []
    return bad, r.stderr.splitlines()


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.2f%s" % (v, unit)
    return "%s%s" % (v, unit)


def table(cases):
    ran = [c for c in cases if c.info is not None]
    rows = [
        ("status", lambda c: c.info.get("status")),
        ("case wall time (s)", lambda c: c.wall),
        ("total time (ms)", lambda c: c.info.get("total-time")),
        ("downtime (ms)", lambda c: c.info.get("downtime")),
        ("setup time (ms)", lambda c: c.info.get("setup-time")),
        ("RAM transferred (bytes)", lambda c: c.info.get("ram", {}).get("transferred")),
        ("RAM normal pages", lambda c: c.info.get("ram", {}).get("normal")),
        ("RAM dirty sync count", lambda c: c.info.get("ram", {}).get("dirty-sync-count")),
        ("XBZRLE pages", lambda c: c.info.get("xbzrle-cache", {}).get("pages")),
        ("XBZRLE bytes", lambda c: c.info.get("xbzrle-cache", {}).get("bytes")),
        ("XBZRLE cache misses", lambda c: c.info.get("xbzrle-cache", {}).get("cache-miss")),
        ("XBZRLE overflows", lambda c: c.info.get("xbzrle-cache", {}).get("overflow")),
        ("XBZRLE offload field", lambda c: c.info.get("xbzrle-cache", {}).get("offload", "absent")),
        ("reset/cancel at dirty sync", lambda c: c.event_at),
        ("RAM pages differing", lambda c: c.ram_diff),
        ("vram pages differing", lambda c: c.vram_diff),
        ("VGA window pages differing", lambda c: c.window_diff),
        ("source QEMU CPU at completion (s)", lambda c: c.src_cpu),
        ("source QEMU CPU during migration (s)",
         lambda c: None if c.src_cpu is None or c.src_cpu_start is None
         else c.src_cpu - c.src_cpu_start),
        ("  all but the vCPU thread (s)", lambda c: c.nonvcpu_cpu),
        ("  migration thread (s, sampled)", lambda c: c.mig_cpu),
        ("module xbzrle_pages", lambda c: (c.module or {}).get("xbzrle_pages")),
        ("module cache peak (KiB)", lambda c: None if c.cache_peak is None
         else c.cache_peak // 1024),
        ("module bases given back", lambda c: (c.module or {}).get("given_back")),
        ("module pages skipped", lambda c: (c.module or {}).get("skipped")),
        ("module delta_bytes", lambda c: (c.module or {}).get("delta_bytes")),
    ]
    head = ["", *("(%s)" % c.label for c in ran)]
    body = [[name, *(fmt(f(c)) for c in ran)] for name, f in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["(%s) %s" % (c.key, c.title) for c in ran if c.run == 0]
    for r in [head, *body]:
        lines.append("  ".join(s.ljust(w) if i == 0 else s.rjust(w)
                               for i, (s, w) in enumerate(zip(r, widths))))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patched-qemu", default="",
                    help="QEMU with -accel kvm,xbzrle-offload=on ('' to skip (a), (b))")
    ap.add_argument("--plain-qemu", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--bootsect", required=True)
    ap.add_argument("--bootsect-churn", default=None,
                    help="e2e/bootsect-churn.S assembled, for cases d to i")
    ap.add_argument("--bootsect-coalesced", default=None,
                    help="e2e/bootsect-coalesced.S assembled, for cases s and t")
    ap.add_argument("--bench-guest", default=None,
                    help="e2e/bootsect-bench.S assembled, for cases p to r")
    ap.add_argument("--smp-firmware", default=None,
                    help="e2e/firmware.S carrying e2e/bootsect-smp.S, for cases k to m")
    ap.add_argument("--linux-kernel", default=None,
                    help="the Linux guest's kernel, Debian's as an ELF with its PVH entry "
                    "(e2e/pvh-kernel.py), for cases n and o")
    ap.add_argument("--linux-initrd", default=None,
                    help="its initramfs: e2e/guest-init.c as /init")
    ap.add_argument("--linux-mem-mb", type=int, default=512,
                    help="the Linux guest's RAM, half of it above 4 GiB")
    ap.add_argument("--linux-ws-mb", type=int, default=64,
                    help="the working set guest-init writes")
    ap.add_argument("--linux-boot-timeout", type=int, default=150,
                    help="seconds for the Linux guest's first 3 passes, per QEMU")
    ap.add_argument("--seed", type=int, default=1,
                    help="seeds the churn guest's pseudo-random writes (printed in the TAP)")
    ap.add_argument("--event-sync", type=int, default=3,
                    help="hold a migration to be cancelled until this dirty sync "
                    "(and XBZRLE pages), then cancel it where it pauses before switch-over")
    ap.add_argument("--reset-misses", type=int, default=512,
                    help="pages of the second pass (each a cache miss that makes a base) "
                    "sent before the source is reset")
    ap.add_argument("--reset-pass-bandwidth-mb", type=int, default=8,
                    help="bandwidth limit (MiB/s) of a reset case until its reset")
    ap.add_argument("--reset-bandwidth-kb", type=int, default=1,
                    help="bandwidth limit (KiB/s) from the reset until the guest is back")
    ap.add_argument("--reset-retry-s", type=int, default=20,
                    help="system_reset again when the guest has made no pass this long after it")
    ap.add_argument("--reset-passes", type=int, default=3,
                    help="passes the guest makes after its reset before the migration may converge")
    ap.add_argument("--trace", default=None,
                    help="QEMU trace events of the source, comma-separated patterns (e.g. 'migrate_*'); "
                    "a failed case shows the end of its log")
    ap.add_argument("--bad-patterns", default=None)
    ap.add_argument("--tap-fd", type=int, default=None)
    ap.add_argument("--workdir", default="/tmp/e2e")
    ap.add_argument("--mem-mb", type=int, default=128)
    ap.add_argument("--dirty-mb", type=int, default=32, help="for the report only")
    # not QEMU's or the module's default (64), so the size is seen to arrive
    ap.add_argument("--cache-mb", type=int, default=128)
    ap.add_argument("--warm-downtime-ms", type=int, default=1,
                    help="downtime limit until --warm-syncs dirty syncs")
    ap.add_argument("--warm-syncs", type=int, default=4)
    ap.add_argument("--dense-syncs", type=int, default=10,
                    help="dirty syncs cases p-r and H are held for")
    ap.add_argument("--downtime-ms", type=int, default=10000,
                    help="downtime limit after that, high enough to converge")
    ap.add_argument("--bandwidth-mb", type=int, default=10240)
    ap.add_argument("--hold-bandwidth-mb", type=int, default=32,
                    help="bandwidth limit of (d)-(i) until the migration may converge")
    ap.add_argument("--migrate-timeout", type=int, default=120)
    ap.add_argument("--boot-timeout", type=int, default=120)
    ap.add_argument("--qmp-timeout", type=int, default=60)
    ap.add_argument("--run-on", type=float, default=1.5)
    ap.add_argument("--gdb-timeout", type=int, default=180,
                    help="seconds for each step of gdb in cases u and C (attach, a "
                    "breakpoint; in C also the whole count)")
    ap.add_argument("--race-wait", type=float, default=5,
                    help="case u: seconds the migration thread is held for the command to "
                    "size the module")
    ap.add_argument("--clock-pages", type=int, default=16384,
                    help="case C: pages of kvm_xbzrle batches over which the clock reads "
                    "are counted")
    ap.add_argument("--cases", default="abcdefghijuCRklnopsH",
                    help="the controls w, x, y, z are not in the default list: see "
                    "Documentation/testing.rst")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs each case this many times, run n with seed --seed + n - 1 "
                    "(labelled h1, h2, ...): how often a case fails")
    ap.add_argument("--accel", default="kvm", help="tcg: try the driver on a host without KVM")
    args = ap.parse_args()

    args.linux_append = ""      # more kernel arguments (e2e/bench.py's sqlite)
    tap = Tap(args.tap_fd)
    patched = args.patched_qemu or None
    plain = args.plain_qemu
    debian_dst = plain if patched else None
    all_cases = [
        Case("a", "offload on", patched, patched, True),
        Case("b", "offload on, Debian QEMU destination", patched, debian_dst, True),
        Case("c", "offload off", patched or plain, patched or plain, False),
        Case("d", "churn, offload on, the module's clear", patched, patched, True, churn=True,
             module_clear=True),
        Case("e", "churn, offload on, Debian QEMU destination",
             patched, debian_dst, True, churn=True),
        Case("f", "churn, system_reset, offload on, the module's clear", patched, patched,
             True, churn=True, event="reset", module_clear=True),
        Case("g", "churn, system_reset, offload on, Debian QEMU destination",
             patched, debian_dst, True, churn=True, event="reset"),
        Case("h", "churn, cancel and restart, offload on, the module's clear", patched,
             patched, True, churn=True, event="cancel", module_clear=True),
        Case("i", "churn, cancel and restart, offload on, Debian QEMU destination",
             patched, debian_dst, True, churn=True, event="cancel"),
        Case("j", "set-up refused by the module, then a migration, offload on",
             patched, patched, True, event="setupfail"),
        Case("u", "xbzrle-cache-size set while the migration thread starts the module, "
             "offload on", patched, patched, True, event="setsize"),
        Case("C", "skewed writer, the migration thread's clock checks counted (gdb), "
             "offload on",
             patched, patched, True, event="clock"),
        Case("R", "churn, offload switched on in the running source (xbzrle-offload "
             "capability), Debian QEMU destination", patched, debian_dst, True, churn=True,
             runtime=True),
        Case("k", "RAM above 4 GiB, offload on", patched, patched, True, high=True),
        Case("l", "RAM above 4 GiB, offload on, Debian QEMU destination",
             patched, debian_dst, True, high=True),
        # Not in the default list: in the nested test VM the second vCPU
        # mostly never gets past the first instruction of its start-up
        # code (Documentation/testing.rst).
        Case("m", "2 vCPUs, RAM above 4 GiB, offload on", patched, patched, True,
             high=True, vcpus=2),
        Case("n", "Linux guest, RAM above 4 GiB, offload on", patched, patched, True,
             linux=True),
        Case("p", "dense writer, offload on, XBZRLE stops itself, Debian QEMU destination",
             patched, debian_dst, True, dense=True),
        Case("H", "sparse writer of a set 128 times the cache, offload on, XBZRLE stops "
             "itself by its hit rate, Debian QEMU destination", patched, debian_dst, True,
             scan=True),
        Case("o", "Linux guest, RAM above 4 GiB, offload on, Debian QEMU destination",
             patched, debian_dst, True, linux=True),
        Case("s", "VGA writes queued in KVM's coalesced MMIO ring, offload on, "
             "Debian QEMU destination", patched, debian_dst, True, coalesced=True),
        # Control, not in the default list: Debian's QEMU 7.2 on both
        # sides leaves the queued writes behind (the series' patch 17).
        Case("t", "VGA writes queued in KVM's coalesced MMIO ring, Debian QEMU both sides, "
             "offload off", plain, plain, False, coalesced=True),
        # Control, not in the default list: the Linux guest with QEMU's
        # own XBZRLE.
        Case("v", "Linux guest, RAM above 4 GiB, offload off", patched or plain,
             patched or plain, False, linux=True),
        # Controls of p, not in the default list: QEMU's own XBZRLE, and
        # the offload that never stops (xbzrle-offload-min-saving 0).
        Case("q", "dense writer, offload off", patched or plain, patched or plain, False,
             dense=True),
        Case("r", "dense writer, offload on, never stopped", patched, patched, True,
             dense=True, params={"xbzrle-offload-min-saving": 0}),
        # Controls, not in the default list: the same guest and events
        # with QEMU's own XBZRLE (the harness, not the module).
        Case("w", "churn, offload off, Debian QEMU destination", patched or plain, plain, False,
             churn=True),
        Case("x", "churn, offload off", patched or plain, patched or plain, False, churn=True),
        Case("y", "churn, system_reset, offload off", patched or plain, patched or plain, False,
             churn=True, event="reset"),
        Case("z", "churn, cancel and restart, offload off", patched or plain, patched or plain,
             False, churn=True, event="cancel"),
    ]
    cases = []
    for run in range(args.repeat):
        for c in all_cases:
            if c.key in args.cases:
                c = copy.copy(c)
                c.run = run
                c.label = c.key if args.repeat == 1 else "%s%d" % (c.key, run + 1)
                cases.append(c)
    if any(c.churn for c in cases) and not args.bootsect_churn:
        ap.error("cases %s need --bootsect-churn" % "".join(c.key for c in cases if c.churn))
    if any(c.coalesced for c in cases) and not args.bootsect_coalesced:
        ap.error("cases %s need --bootsect-coalesced"
                 % "".join(c.key for c in cases if c.coalesced))
    bench = [c.key for c in cases if c.dense or c.scan or c.event == "clock"]
    if bench and not args.bench_guest:
        ap.error("cases %s need --bench-guest" % "".join(bench))
    if any(c.high for c in cases) and not args.smp_firmware:
        ap.error("cases %s need --smp-firmware" % "".join(c.key for c in cases if c.high))
    if any(c.linux for c in cases) and not (args.linux_kernel and args.linux_initrd):
        ap.error("cases %s need --linux-kernel and --linux-initrd"
                 % "".join(c.key for c in cases if c.linux))
    tap.line("TAP version 13")
    tap.line("1..%d" % (1 + STARTUP_POINTS + sum(len(c.checks(args)) for c in cases) + 2))
    tap.diag("kernel %s, %d CPUs; patched QEMU: %s; plain QEMU: %s; seed %d" % (
        os.uname().release, os.cpu_count(), patched or "not built", plain, args.seed))

    stats = read_stats()
    ok = os.path.exists("/dev/kvm") and os.path.exists("/dev/kvm_xbzrle") and stats is not None
    tap.diag("module: %s" % (" ".join("%s=%d" % kv for kv in sorted((stats or {}).items()))))
    tap.point(ok, "e2e: /dev/kvm, /dev/kvm_xbzrle and %s present" % STATS)

    startup_points(patched, tap)
    for case in cases:
        run_case(case, args, tap)

    lines = table(cases)
    if any(c.info is not None for c in cases):
        log("")
        log("Migration of a %d MiB guest, XBZRLE cache %d MiB; (a)-(c) dirty %d MiB, "
            "(d)-(i) 8 MiB, video RAM and 0xd0000-0xdffff while the memory map moves:" % (
                args.mem_mb, args.cache_mb, args.dirty_mb))
        for s in lines:
            log(s)
        tap.diag("comparison:")
        for s in lines:
            tap.diag(s)

    stats = read_stats() or {}
    rm = subprocess.run(["rmmod", "kvm_xbzrle"], capture_output=True, text=True)
    ok = stats.get("contexts", -1) == 0 and rm.returncode == 0
    tap.diag("contexts open after the cases: %s; rmmod: %s" % (
        stats.get("contexts", "unknown"), rm.stderr.strip() or "ok"))
    tap.point(ok, "e2e: no kvm_xbzrle context left open, rmmod kvm_xbzrle succeeds")

    bad, left_out = bad_dmesg(args.bad_patterns)
    for ln in bad + left_out:
        tap.diag(ln)
    tap.point(not bad, "e2e: no kernel warnings in dmesg")
    tap.diag("%d tests, %d failed" % (tap.n, tap.failed))
    return 10 if tap.failed else 0


if __name__ == "__main__":
    # 0: all passed, 10: failures, all reported; anything else (a Python
    # error's 1, argparse's 2) tells e2e/init the TAP may be incomplete.
    sys.exit(main())
