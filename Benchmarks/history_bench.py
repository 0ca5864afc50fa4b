#!/usr/bin/env python3
"""The historian against cpppo's, side by side in one run, on the same records:
records written per second (cpppo's history.logger vs fieldgw's HistoryWriter,
block-buffered as cpppo's logger is, and line by line) and records read back
through a rotated set (cpppo's history.reader vs fieldgw's HistoryFiles).
Floors (issue 17): 50x for writing and for reading. A missed floor is reported."""
import os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPPPO = os.path.join(ROOT, ".build/venv-cpppo/bin/python")
BENCH = os.path.join(ROOT, ".build/release/history-bench")
COUNT = int(os.environ.get("HISTORY_COUNT", "200000"))

CPPPO_WRITE = """
import sys, time
from cpppo.history import logger
path, count = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
log = logger(path)
for i in range(count):
    log.write({"40001": i, "40002": [i, i + 1, i + 2]}, now=1400000000.0 + i * 0.01, serial=i)
log.close()
print(count, time.perf_counter() - start)
"""

CPPPO_READ = """
import sys, time
from cpppo.history import reader, HistoryExhausted, timestamp
start = time.perf_counter()
r = reader(sys.argv[1], historical=timestamp(1400000000.0), basis=timestamp(), factor=1e9)
count, last, after = 0, timestamp(1400000000.0), False
while True:
    try:
        for (f, n, cur), (ts, js) in r.open(target=last, after=after, strict=after):
            if js is not None:
                count += 1
                last = ts
    except HistoryExhausted:
        break
    after = True
print(count, time.perf_counter() - start)
"""


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]) / float(out[1])


def median_of(command, times=5):
    """fieldgw's side takes tens of milliseconds where cpppo's takes seconds:
    the median of five runs keeps one scheduling hiccup from being the figure."""
    return sorted(run(command) for _ in range(times))[times // 2]


def main():
    missed = []
    with tempfile.TemporaryDirectory() as directory:
        theirs, ours = os.path.join(directory, "cpppo.hst"), os.path.join(directory, "ours.hst")
        cpppo_write = run([CPPPO, "-W", "ignore", "-c", CPPPO_WRITE, theirs, str(COUNT)])
        expected = open(theirs, "rb").read()
        figures = {}
        for name, arguments in (("block", ["block"]), ("block, JSONValue", ["block", "tree"]), ("line", ["line"])):
            figures[name] = median_of([BENCH, "write", ours, str(COUNT)] + arguments)
            if open(ours, "rb").read() != expected:
                missed.append(f"written files differ ({name})")
        block = figures["block"]
        print(f"history write: cpppo {cpppo_write:,.0f} rec/s; fieldgw " + ", ".join(
            f"{name} {rate:,.0f} rec/s ({rate / cpppo_write:.1f}x)" for name, rate in figures.items()))
        if block / cpppo_write < 50:
            missed.append(f"write {block / cpppo_write:.1f}x < 50x")
        # A rotated set: the same records split over three files, the older two compressed.
        os.remove(ours)
        lines = open(theirs, "rb").readlines()
        third = len(lines) // 3
        for suffix, part in ((".1", lines[:third]), (".0", lines[third:2 * third]), ("", lines[2 * third:])):
            open(theirs + suffix, "wb").writelines(part)
        subprocess.run(["gzip", theirs + ".1"], check=True)
        cpppo_read = run([CPPPO, "-W", "ignore", "-c", CPPPO_READ, theirs])
        ours_read = median_of([BENCH, "read", theirs])
        print(f"history read (3 files, 1 gzip): cpppo reader {cpppo_read:,.0f} rec/s; fieldgw {ours_read:,.0f} rec/s "
              f"({ours_read / cpppo_read:.1f}x)")
        if ours_read / cpppo_read < 50:
            missed.append(f"read {ours_read / cpppo_read:.1f}x < 50x")
    for miss in missed:
        print("FLOOR MISSED:", miss)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
