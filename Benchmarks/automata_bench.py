"""Automata benchmarks: fieldgw's engine and its peers side by side, in one run.

Usage: automata_bench.py PATH/TO/automata-bench   (a release build; `make bench`)

- compile: the suite in regex-suite.txt to minimal DFAs, ours against greenery
  (parse, to_fsm, reduce: the same work). Floor: 20x faster.
- match: anchored greedy match of cpppo's '(ab+)((, *)(ab+))*' over 64 MiB that
  it accepts whole. Floor: 500 MB/s. Peers: Python's re (C), greenery on 1 MiB.
- search: every match of a Modbus-reply-like pattern in 64 MiB of random bytes.
  Floor: 200 MB/s. Peer: Python's re.finditer.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from greenery import parse

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64 << 20
SEARCH_PATTERN = r"\x01\x03\x04.{4}.."
MATCH_PATTERN = "(ab+)((, *)(ab+))*"


def best_of(rounds, work):
    best = float("inf")
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


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

    def greenery_all():
        return sum(len(parse(p).to_fsm().reduce().states) for p in patterns)

    peer_seconds, peer_states = best_of(2, greenery_all)
    assert peer_states == mine["states"], f"state counts differ: greenery {peer_states}, ours {mine['states']}"
    return ("compile %d regexes (ms)" % len(patterns), mine["seconds"] * 1e3, peer_seconds * 1e3,
            peer_seconds / mine["seconds"], "greenery", "20x")


def match_row(binary, match_file):
    data = open(match_file, "rb").read()
    mine = ours(binary, "match", match_file, "5")
    assert mine["end"] == len(data), "our match did not cover the input"
    regex = re.compile(MATCH_PATTERN.encode())
    re_seconds, found = best_of(3, lambda: regex.match(data))
    assert found.end() == len(data)
    fsm = parse(MATCH_PATTERN).to_fsm().reduce()
    sample = data[: 1 << 20].decode()
    sample = sample[: sample.rindex("ab") + 2]
    greenery_seconds, accepted = best_of(1, lambda: fsm.accepts(sample))
    assert accepted
    ours_rate = len(data) / mine["seconds"] / 1e6
    re_rate = len(data) / re_seconds / 1e6
    greenery_rate = len(sample) / greenery_seconds / 1e6
    return [("anchored match 64 MiB (MB/s)", ours_rate, re_rate, ours_rate / re_rate, "Python re", "500 MB/s"),
            ("anchored match (MB/s)", ours_rate, greenery_rate, ours_rate / greenery_rate, "greenery, 1 MiB", "")]


def search_row(binary, random_file):
    data = open(random_file, "rb").read()
    mine = ours(binary, "search", random_file, SEARCH_PATTERN, "5")
    regex = re.compile(SEARCH_PATTERN.encode(), re.DOTALL)
    peer_seconds, count = best_of(3, lambda: sum(1 for _ in regex.finditer(data)))
    assert count == mine["matches"], f"match counts differ: re {count}, ours {mine['matches']}"
    ours_rate = len(data) / mine["seconds"] / 1e6
    peer_rate = len(data) / peer_seconds / 1e6
    return ("search 64 MiB random bytes (MB/s)", ours_rate, peer_rate, ours_rate / peer_rate, "Python re", "200 MB/s")


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="fieldgw-bench-") as directory:
        match_file, random_file = make_inputs(directory)
        rows = [compile_row(binary), *match_row(binary, match_file), search_row(binary, random_file)]
    print("%-36s %12s %12s %8s  %-16s %s" % ("benchmark", "fieldgw", "peer", "ratio", "peer", "floor"))
    for name, mine, peer, ratio, peer_name, floor in rows:
        print("%-36s %12.2f %12.2f %7.1fx  %-16s %s" % (name, mine, peer, ratio, peer_name, floor))


if __name__ == "__main__":
    main()
