"""Automata benchmarks: fieldgw's engine and its peers side by side, in one run.

Usage: automata_bench.py PATH/TO/automata-bench   (a release build; `make bench`)

- compile: the suite in regex-suite.txt to minimal DFAs, ours against greenery
  (parse, to_fsm, reduce: the same work). Floor: 20x faster.
- match: anchored greedy match of cpppo's '(ab+)((, *)(ab+))*' over 64 MiB that
  it accepts whole. Floor: 500 MB/s. Peers: Python's re (C), greenery on 1 MiB.
- search: every match of a Modbus-reply-like pattern in 64 MiB of random bytes.
  Floor: 200 MB/s. Peer: Python's re.finditer.
Ours over every round, as median (range); the floors are judged on the median.
"""
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

from greenery import parse

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64 << 20
SEARCH_PATTERN = r"\x01\x03\x04.{4}.."
MATCH_PATTERN = "(ab+)((, *)(ab+))*"


class Row(NamedTuple):
    """One line of the table: our figure over rounds (the median is judged), the peer's, the floor and whether it holds."""
    name: str
    ours: list
    peer: float
    ratio: float
    peer_name: str
    floor: str
    met: bool


def median_of(rounds, work):
    """The median time of `rounds` runs of `work`, and its result."""
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def ours(binary, *arguments):
    output = subprocess.run([binary, *arguments], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def make_inputs(directory):
    rng = random.Random(2026)
    words = ["ab", "abbb", "abbbbbbb", "ab"]
    separators = [",", ", ", ",   "]
    parts, size = [], 0
    while size < SIZE - 64:
        part = rng.choice(words) + rng.choice(separators)
        parts.append(part)
        size += len(part)
    text = ("".join(parts) + "ab").encode()
    match_file = os.path.join(directory, "match.txt")
    random_file = os.path.join(directory, "random.bin")
    with open(match_file, "wb") as out:
        out.write(text)
    with open(random_file, "wb") as out:
        out.write(rng.randbytes(SIZE))
    return match_file, random_file


def compile_row(binary):
    suite = os.path.join(HERE, "regex-suite.txt")
    patterns = [line for line in open(suite).read().split("\n") if line]
    mine = ours(binary, "compile", suite, "5")
    mine_ms = [t * 1e3 for t in mine["rounds"]]

    def greenery_all():
        return sum(len(parse(p).to_fsm().reduce().states) for p in patterns)

    peer_seconds, peer_states = median_of(2, greenery_all)
    assert peer_states == mine["states"], f"state counts differ: greenery {peer_states}, ours {mine['states']}"
    median = statistics.median(mine_ms)
    return Row("compile %d regexes (ms)" % len(patterns), mine_ms, peer_seconds * 1e3, peer_seconds * 1e3 / median, "greenery",
               "20x", peer_seconds * 1e3 / median >= 20)


def match_row(binary, match_file):
    data = open(match_file, "rb").read()
    mine = ours(binary, "match", match_file, "5")
    assert mine["end"] == len(data), "our match did not cover the input"
    regex = re.compile(MATCH_PATTERN.encode())
    re_seconds, found = median_of(3, lambda: regex.match(data))
    assert found.end() == len(data)
    fsm = parse(MATCH_PATTERN).to_fsm().reduce()
    sample = data[: 1 << 20].decode()
    sample = sample[: sample.rindex("ab") + 2]
    greenery_seconds, accepted = median_of(1, lambda: fsm.accepts(sample))
    assert accepted
    rates = [len(data) / t / 1e6 for t in mine["rounds"]]
    ours_rate = statistics.median(rates)
    re_rate = len(data) / re_seconds / 1e6
    greenery_rate = len(sample) / greenery_seconds / 1e6
    return [Row("anchored match 64 MiB (MB/s)", rates, re_rate, ours_rate / re_rate, "Python re", "500 MB/s", ours_rate >= 500),
            Row("anchored match (MB/s)", rates, greenery_rate, ours_rate / greenery_rate, "greenery, 1 MiB", "", True)]


def search_row(binary, random_file):
    data = open(random_file, "rb").read()
    mine = ours(binary, "search", random_file, SEARCH_PATTERN, "5")
    regex = re.compile(SEARCH_PATTERN.encode(), re.DOTALL)
    peer_seconds, count = median_of(3, lambda: sum(1 for _ in regex.finditer(data)))
    assert count == mine["matches"], f"match counts differ: re {count}, ours {mine['matches']}"
    rates = [len(data) / t / 1e6 for t in mine["rounds"]]
    peer_rate = len(data) / peer_seconds / 1e6
    ours_rate = statistics.median(rates)
    return Row("search 64 MiB random bytes (MB/s)", rates, peer_rate, ours_rate / peer_rate, "Python re", "200 MB/s", ours_rate >= 200)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="fieldgw-bench-") as directory:
        match_file, random_file = make_inputs(directory)
        rows = [compile_row(binary), *match_row(binary, match_file), search_row(binary, random_file)]
    print("%-36s %28s %12s %8s  %-16s %s" % ("benchmark", "fieldgw median (range)", "peer", "ratio", "peer", "floor"))
    for row in rows:
        print("%-36s %28s %12.2f %7.1fx  %-16s %s" % (row.name, benchlib.spread(row.ours, "{:.2f}"), row.peer, row.ratio, row.peer_name, row.floor))
    missed = [f"{row.name}: median below the floor ({row.floor})" for row in rows if not row.met]
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
