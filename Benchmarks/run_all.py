"""Runs every benchmark of `make bench`, one after another, whatever the one
before found; prints each one's output as it comes, then every floor missed
(the "FLOOR MISSED:" lines) and every benchmark that failed, and exits 1 if
there was any.

Usage: run_all.py 'NAME: COMMAND...' ...   (each argument a benchmark's name and command line)
"""
import shlex
import subprocess
import sys


def run(name, command):
    """Runs one benchmark, echoing its output; its missed floors, and whether it ended in error."""
    print(f"=== {name}", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    missed = []
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("FLOOR MISSED:"):
            missed.append(f"{name}: {line[len('FLOOR MISSED:'):].strip()}")
    status = process.wait()
    failed = status != 0 and not missed
    return missed, [f"{name}: exited {status} without naming a floor"] if failed else []


def main():
    missed, failed = [], []
    for argument in sys.argv[1:]:
        name, command = argument.split(":", 1)
        floors, errors = run(name.strip(), shlex.split(command))
        missed += floors
        failed += errors
    print("=== summary")
    for line in missed:
        print("FLOOR MISSED:", line)
    for line in failed:
        print("FAILED:", line)
    if not missed and not failed:
        print("every floor met")
    sys.exit(1 if missed or failed else 0)


main()
