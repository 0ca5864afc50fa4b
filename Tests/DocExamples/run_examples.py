#!/usr/bin/env python3
"""Runs the shell examples of the README and docs/ that are marked runnable.

A block opened with "```sh run" is one example. Each runs alone, with
`bash -e -o pipefail`, in a network namespace of its own (so the fixed ports
the docs show, 502, 5020, 44818, are free and no two examples meet), in a
fresh temporary directory where `etc`, `udev` and `Tests` link to the
repository's, with the repository's `fieldgw` first on PATH. A command
ending in " &" starts a server: the next waits until the namespace has more
listening sockets than before, and their number holds for 0.5 s. When the
block ends the servers still running are stopped, and one that ended by
itself must have ended with status 0; every process the block started ends
with it (it has a process namespace of its own too).

    run_examples.py [--bin DIR] [--jobs N] [FILE.md ...]

With no files: README.md and docs/*.md. Exits 1 when any example fails (or
when none is found), printing each failure's file, line, script and output.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 60
WAIT_SECONDS = 20

# Sockets listening in the namespace: TCP in LISTEN, UDP bound (ss -l shows both).
PRELUDE = f"""
__listeners() {{ ss -Hltun | wc -l; }}
# A server may open several sockets (a gateway: listeners, EtherNet/IP, web):
# once one more listens, wait until the count holds for 0.5 s.
__wait_more() {{
  local before=$1 last=-1 steady=0 i now
  __servers+=($!)
  for i in $(seq {WAIT_SECONDS * 20}); do
    kill -0 $! 2>/dev/null || {{ echo "background command exited" >&2; return 1; }}
    now=$(__listeners)
    if [ "$now" -gt "$before" ] && [ "$now" -eq "$last" ]; then
      steady=$((steady + 1)); [ "$steady" -ge 10 ] && return 0
    else
      steady=0
    fi
    last=$now
    sleep 0.05
  done
  echo "nothing new listened within {WAIT_SECONDS} s" >&2; return 1
}}
# At the end a server still running is stopped; one that ended by itself
# must have ended well (a crash fails the example, as a failing command does).
__end() {{
  local status=$? pid
  for pid in "${{__servers[@]}}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    else
      wait "$pid" || {{ echo "a server of the example ended with status $?" >&2; status=1; }}
    fi
  done
  exit $status
}}
__servers=()
trap __end EXIT
ip link set lo up
"""


class Example:
    def __init__(self, path, line, text, expected=None):
        self.path, self.line, self.text = path, line, text
        # With "```sh run output": the lines the next ```text block shows.
        self.expected = expected

    def name(self):
        shown = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{shown}:{self.line}"


def fenced(lines, opening):
    """The lines of the fenced block opened at index `opening`, and the index of its close."""
    for index in range(opening + 1, len(lines)):
        if lines[index].strip().startswith("```"):
            return lines[opening + 1:index], index
    return None, None


def examples(path):
    """The "```sh run" blocks of one markdown file, with their first lines.

    "```sh run output" also names the next fenced ```text block (after blank
    lines or prose) as what the example prints: each of its lines but "..."
    must be a line of the output, in that order.
    """
    lines, found, index = path.read_text().splitlines(), [], 0
    while index < len(lines):
        match = re.fullmatch(r"\s*```sh\s+run(\s+output)?\s*", lines[index])
        if not match:
            index += 1
            continue
        block, close = fenced(lines, index)
        if block is None:
            sys.exit(f"{path}:{index + 1}: a runnable block is never closed")
        expected = None
        if match.group(1):
            following = next((i for i in range(close + 1, len(lines)) if lines[i].strip().startswith("```")), None)
            if following is None or lines[following].strip() != "```text":
                sys.exit(f"{path}:{index + 1}: \"run output\" and no ```text block follows")
            expected, _ = fenced(lines, following)
        found.append(Example(path, index + 2, "\n".join(block), expected))
        index = close + 1
    return found


def unmatched(expected, output):
    """The first expected line not found, in order, among the output's lines (None: all found)."""
    printed = iter(line.rstrip() for line in output.splitlines())
    for line in expected:
        if line.strip() in ("", "..."):
            continue
        if not any(line.rstrip() == candidate for candidate in printed):
            return line
    return None


def commands(text):
    """The block's lines, with a command continued by a backslash joined into one."""
    joined, pending = [], ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line + "\n"
        else:
            joined.append(pending + line)
            pending = ""
    return joined + ([pending] if pending else [])


def script(text):
    """The block, each background command followed by a wait for its sockets."""
    lines = []
    for line in commands(text):
        if re.search(r"(?<!&)&\s*$", line):
            lines += ["__n=$(__listeners)", line, "__wait_more $__n"]
        else:
            lines.append(line)
    return PRELUDE + "\n".join(lines) + "\n"


def run(example, bin_dir):
    with tempfile.TemporaryDirectory(prefix="fieldgw-doc-") as work:
        for name in ("etc", "udev", "Tests"):
            os.symlink(REPO / name, pathlib.Path(work) / name)
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", HOME=work)
        # Root makes a plain network namespace; anyone else maps to root in a
        # user namespace of their own for it (where mosquitto, say, cannot
        # drop to its own user, so its examples want root). A process
        # namespace too, with its own /proc (the host's would name other
        # processes by the example's pids): when bash ends (or is killed at
        # the time limit), every process the example started ends with it.
        unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
        command = unshare + ["--pid", "--fork", "--mount-proc", "--kill-child", "bash", "-e", "-o", "pipefail", "-c", script(example.text)]
        try:
            # One stream, so that errors and output keep the order they came in.
            done = subprocess.run(command, cwd=work, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
            return done.returncode, done.stdout
        except subprocess.TimeoutExpired as late:
            output = (late.stdout or b"").decode(errors="replace")
            return "timeout", output + f"\n(still running after {TIMEOUT} s)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(REPO / ".build" / "debug"))
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    # The examples run in a directory of their own: a relative --bin would miss.
    args.bin = str(pathlib.Path(args.bin).resolve())
    if not (pathlib.Path(args.bin) / "fieldgw").exists():
        sys.exit(f"no fieldgw in {args.bin}: build it first (swift build --product fieldgw)")
    if not shutil.which("unshare"):
        sys.exit("unshare (util-linux) is needed to give each example its own network")
    files = [pathlib.Path(f).resolve() for f in args.files] or \
        [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found = [e for f in files for e in examples(f)]
    if not found:
        sys.exit("no runnable examples (```sh run) in " + ", ".join(str(f) for f in files))
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = pool.map(lambda e: (e, run(e, args.bin)), found)
        for example, (status, output) in results:
            missing = unmatched(example.expected, output) if example.expected is not None else None
            if status == 0 and missing is None:
                print(f"ok      {example.name()}")
                continue
            failed += 1
            why = f"exit {status}" if status != 0 else f"no line (in order) reads: {missing}"
            print(f"FAILED  {example.name()} ({why})\n--- script\n{example.text}\n--- output\n{output.rstrip()}\n---")
    print(f"{len(found) - failed} of {len(found)} examples passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
