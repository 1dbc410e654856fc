#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tabulate a make bench run.

Reads the "egm-bench: {json}" lines the guest's bench programs print on
the serial console, prints one table with PASS or FAIL for every row that
has a target, writes all rows as JSON, and plots EGM_ALLOC latency against
window size (egm with clean memory, egm with dirty memory, hugetlbfs-1G)
into a PNG with gnuplot.

    report.py SERIAL_LOG OUT_DIR

Exits 1 if the log holds no measurement; a missed target is reported,
not an error: the figures are what they are.
"""
import json
import os
import re
import shutil
import subprocess
import sys

LINE = re.compile(r"egm-bench: (\{.*\})\s*$")


def read_rows(path):
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line.replace("\r", ""))
            if m:
                try:
                    rows.append(json.loads(m.group(1)))
                except json.JSONDecodeError:
                    print(f"report: bad line: {line.strip()}", file=sys.stderr)
    return rows


def fmt_value(v):
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


def table(rows):
    out = []
    w_what = max([len(r["what"]) for r in rows] + [4])
    head = f"{'id':<3} {'what':<{w_what}} {'value':>10} {'unit':<7} {'target':<22} result"
    out.append(head)
    out.append("-" * len(head))
    for r in rows:
        what = r["what"]
        if "kind" in r and r["kind"] not in what:
            what = f"{what} [{r['kind']}]"
        if "size" in r:
            what = f"{what} {r['size'] >> 20} MiB"
        target = r.get("target", "")
        result = ""
        if "pass" in r:
            result = "PASS" if r["pass"] else "FAIL"
        if "note" in r:
            result += f" ({r['note']})"
        out.append(f"{r['id']:<3} {what[:w_what + 12]:<{w_what}} "
                   f"{fmt_value(r['value']):>10} {r['unit']:<7} {target:<22} {result}")
    return "\n".join(out)


def plot(rows, png):
    series = {}
    for r in rows:
        if r["id"] == "P1" and "size" in r and r["unit"] == "ms":
            series.setdefault(r["kind"], []).append((r["size"] / 2**20, r["value"]))
    if not series or not shutil.which("gnuplot"):
        return False
    data = png[:-4] + ".dat"
    with open(data, "w") as f:
        for kind, pts in series.items():
            f.write(f"# {kind}\n")
            for x, y in sorted(pts):
                f.write(f"{x} {y}\n")
            f.write("\n\n")
    names = list(series)
    plots = ", ".join(f"'{data}' index {i} with linespoints title '{n}'"
                      for i, n in enumerate(names))
    script = f"""set terminal png size 900,560
set output '{png}'
set title 'EGM\\_ALLOC latency against window size (make bench, P1)'
set xlabel 'window size (MiB)'
set ylabel 'latency (ms)'
set logscale xy
set grid
set key left top
plot {plots}
"""
    res = subprocess.run(["gnuplot"], input=script, text=True,
                         capture_output=True)
    if res.returncode:
        print(f"report: gnuplot failed: {res.stderr.strip()}", file=sys.stderr)
        return False
    return True


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    log, outdir = sys.argv[1:]
    rows = read_rows(log)
    if not rows:
        print(f"report: no measurement in {log}", file=sys.stderr)
        return 1
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print()
    print(table(rows))
    judged = [r for r in rows if "pass" in r]
    print(f"\n{sum(r['pass'] for r in judged)} of {len(judged)} targets met; "
          f"JSON in {outdir}/bench.json")
    png = os.path.join(outdir, "bench-p1.png")
    if plot(rows, png):
        print(f"plot in {png}")
    else:
        print("no plot (no P1 rows, or no gnuplot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
