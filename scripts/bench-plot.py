#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/bench-plot.py RUNS.TSV OUT.PNG: the plot of make bench-migration.

Reads the per-migration lines e2e/bench.py prints (kept by
scripts/bench-migration.sh in build/bench-migration/runs.tsv) and draws,
with Debian's gnuplot, one row per write pattern: bytes on the wire and
the guest's progress during the migration (passes per second during it
over the rate before it), one box per mode at the median with the
min-max range as an error bar.  Standard library and gnuplot only.
"""

import csv
import os
import statistics
import subprocess
import sys
import tempfile

FIGURES = (("mbytes", "bytes on the wire (MB)"),
           ("progress", "guest rate during / before"))


def load(path):
    """{(pattern, mode): {figure: [values]}}, patterns and modes in order."""
    runs, patterns, modes = {}, [], []
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            p, md = row["pattern"], row["mode"]
            if p not in patterns:
                patterns.append(p)
            if md not in modes:
                modes.append(md)
            d = runs.setdefault((p, md), {k: [] for k, _ in FIGURES})
            for k, _ in FIGURES:
                if row.get(k, "-") not in ("-", ""):
                    d[k].append(float(row[k]))
    return runs, patterns, modes


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench-plot.py RUNS.TSV OUT.PNG")
    runs, patterns, modes = load(sys.argv[1])
    if not runs:
        sys.exit("bench-plot: no runs in %s" % sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        script = [
            "set terminal pngcairo size %d,%d font ',10'" % (
                420 * len(FIGURES), 300 * len(patterns)),
            "set output '%s'" % sys.argv[2],
            "set multiplot layout %d,%d" % (len(patterns), len(FIGURES)),
            "set style fill solid 0.5",
            "set boxwidth 0.6",
            "set xrange [-0.6:%f]" % (len(modes) - 0.4),
            "set yrange [0:*]",
            "set grid ytics",
            "unset key",
            "set xtics (%s)" % ", ".join('"%s" %d' % (md, i) for i, md in enumerate(modes)),
        ]
        for p in patterns:
            for k, title in FIGURES:
                dat = os.path.join(tmp, "%s-%s.dat" % (p, k))
                with open(dat, "w") as f:
                    for i, md in enumerate(modes):
                        v = runs.get((p, md), {}).get(k, [])
                        if v:
                            f.write("%d %f %f %f\n" % (i, statistics.median(v), min(v), max(v)))
                script += [
                    "set title '%s: %s, median (min-max) of %d runs'" % (
                        p, title, max(len(runs.get((p, md), {}).get(k, [])) for md in modes)),
                    "plot '%s' using 1:2 with boxes, '' using 1:2:3:4 with yerrorbars pt 0 lc rgb 'black'"
                    % dat,
                ]
        script.append("unset multiplot")
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    print("bench-plot: %s" % sys.argv[2])


if __name__ == "__main__":
    main()
