"""Capacity: how many lines one gateway serves, and what it costs.

Usage: capacity_bench.py RELEASE_DIR PEER_DIR [--soak SECONDS]   (`make bench`; `make bench-memory` soaks)

One `fieldgw gateway` with 1, 2, 4, 8 and 16 lines: pty buses paced at 115200
baud (8N1), 32 slaves on each, served by `modbus-bench slaves` in a process
of its own (the pacing and the slaves are not the gateway's cost). Every
slave is polled (registers 40001-40010, through a [[poll]] table and a
[[device]] tag, which share one poller) every 0.5 s; 64 Modbus/TCP clients
(the C modbus_load, one request in flight each, spread over the lines) read
through the gateway to the lines, and 8 EtherNet/IP clients (pylogix) read
device tags' members from the poll cache (max_age_s 60: at one line 64
clients leave the poller one turn in 65), one each every 50 ms. Measured over 10 s
after a 3 s warm-up, for each size: transactions/s per line and in total
against the lines' physical limits, the gateway's CPU (user + system, from
/proc/PID/stat) per transaction and as a share of one core, its resident
memory, the p99 round trip a TCP client sees, the master's silence beyond
t3.5 on the lines, and the EtherNet/IP reads' p99.

Beside it, pymodbus's serial client driving the same lines (one thread per
line, reading the 32 slaves in turn) for the same time: its transactions/s,
CPU and memory.

Floors at 8 lines, on the median of three rounds: every line at 90% of its
limit or more at once, resident memory under 64 MiB, the gateway under 25%
of one core.

--soak SECONDS: the 8-line configuration for SECONDS (600 for the issue's
ten minutes): resident memory at the start and the end, and its growth per
million transactions over the second half. Floor: no growth that keeps on
(under 1 MiB from the middle to the end).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
BAUD = 115200
SLAVES = 32
TCP_CLIENTS = 64
ENIP_CLIENTS = 8
PERIOD_S = 0.5
WARM_S = 3
WINDOW_S = 10
SIZES = [1, 2, 4, 8, 16]
FLOOR_LINES = 8
FLOOR_ROUNDS = 3
# Read 10 registers: an 8-byte request, a 25-byte reply.
REQUEST_BYTES, REPLY_BYTES = 8, 25


# Transactions/s one line carries at most: both frames and two t3.5 (1.75 ms) silences.
LINE_LIMIT = benchlib.line_limit(BAUD, REQUEST_BYTES, REPLY_BYTES)


def slaves(release_dir, lines):
    """`modbus-bench slaves` serving `lines` lines: (process, the master ends' paths)."""
    process = subprocess.Popen([os.path.join(release_dir, "modbus-bench"), "slaves", str(BAUD), str(SLAVES), str(lines)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = process.stdout.readline().split()
    if not ready or ready[0] != "ready":
        process.kill()
        sys.exit(f"modbus-bench slaves did not start: {ready}")
    return process, ready[1:]


def gateway_config(paths, web_port, tcp_port, enip_port):
    text = [f'[logging]\nlevel = "warning"\n[web]\nbind = "127.0.0.1:{web_port}"\n',
            f'[[listener]]\nbind = "127.0.0.1:{tcp_port}"\n[enip]\nbind = "127.0.0.1:{enip_port}"\n']
    for line, path in enumerate(paths):
        # Room in the queue for every TCP client's request and the polls (64 would refuse some: 0x06).
        text.append(f'[[line]]\nname = "l{line}"\nadapter = "{path}"\nbaud = {BAUD}\nparity = "none"\nqueue = 128\n'
                    f'[[route]]\nunits = "{line + 1}"\nline = "l{line}"\noffset = {line}\n')
        for slave in range(1, SLAVES + 1):
            # Polls take one turn per round of clients: with 64 clients on one line a slave is read
            # every few seconds, and the tags' values may be that old (the default would refuse them).
            text.append(f'[[poll]]\nline = "l{line}"\nslave = {slave}\naddresses = ["40001-40010"]\nperiod_s = {PERIOD_S}\n'
                        f'[[device]]\ntag = "L{line}S{slave}"\nline = "l{line}"\nslave = {slave}\nperiod_s = {PERIOD_S}\nmax_age_s = 60\n')
            text.extend(f'[[device.member]]\nname = "R{k}"\nregister = "{40001 + k}"\n' for k in range(10))
    return "".join(text)


def start_gateway(release_dir, paths, directory):
    web_port, tcp_port, enip_port = benchlib.free_port(), benchlib.free_port(), benchlib.free_port()
    config = os.path.join(directory, f"capacity-{len(paths)}.toml")
    with open(config, "w") as out:
        out.write(gateway_config(paths, web_port, tcp_port, enip_port))
    process = subprocess.Popen([os.path.join(release_dir, "fieldgw"), "gateway", "-c", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for port in (tcp_port, enip_port, web_port):
        benchlib.listening(process, port, "fieldgw gateway", seconds=30)
    return process, web_port, tcp_port, enip_port


def transactions(web_port):
    """Each line's transactions so far, from the gateway's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=10).read().decode()
    counts = {}
    for row in text.splitlines():
        if row.startswith("fieldgw_line_transactions_total{"):
            line = row.split('line="', 1)[1].split('"', 1)[0]
            counts[line] = float(row.rsplit(" ", 1)[1])
    return counts


def resident_mib(pid, key="VmRSS"):
    for row in open(f"/proc/{pid}/status"):
        if row.startswith(key + ":"):
            return int(row.split()[1]) / 1024
    return 0.0


class ENIPReaders:
    """pylogix clients, each reading a device tag every 50 ms until stopped: their round trips and failures."""

    def __init__(self, port, lines):
        self.port, self.lines = port, lines
        self.latencies, self.failures, self.stopping = [], {}, threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(client,), daemon=True) for client in range(ENIP_CLIENTS)]
        for thread in self.threads:
            thread.start()

    def run(self, client):
        from pylogix import PLC
        with PLC("127.0.0.1") as plc:
            plc.Port = self.port
            turn = 0
            while not self.stopping.is_set():
                line, slave = (client + turn) % self.lines, (client * 5 + turn) % SLAVES + 1
                start = time.perf_counter()
                reply = plc.Read(f"L{line}S{slave}.R{turn % 10}")
                with self.lock:
                    if reply.Status == "Success" and reply.Value == 1000 * slave + turn % 10:
                        self.latencies.append(time.perf_counter() - start)
                    else:
                        reason = f"value {reply.Value}" if reply.Status == "Success" else reply.Status
                        self.failures[reason] = self.failures.get(reason, 0) + 1
                turn += 1
                self.stopping.wait(0.05)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(10)
        with self.lock:
            latencies = sorted(self.latencies)
        p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1e6 if latencies else 0
        return len(latencies), dict(self.failures), p99


def measure_gateway(release_dir, peer_dir, lines, directory, window=WINDOW_S, samples=None):
    """One size: the gateway's figures over the window (and, with `samples`, RSS and transactions every 10 s)."""
    served, paths = slaves(release_dir, lines)
    gateway, web_port, tcp_port, enip_port = start_gateway(release_dir, paths, directory)
    try:
        load = subprocess.Popen([os.path.join(peer_dir, "modbus_load"), str(tcp_port), str(TCP_CLIENTS), "1",
                                 str(WARM_S - 0.5 + window), str(lines)], stdout=subprocess.PIPE, text=True)
        readers = ENIPReaders(enip_port, lines)
        time.sleep(WARM_S)
        served.stdin.write("mark\n")
        served.stdin.flush()
        before, cpu_before, start = transactions(web_port), benchlib.cpu_seconds(gateway.pid), time.monotonic()
        rss_start = resident_mib(gateway.pid)
        if samples is not None:
            while time.monotonic() - start < window:
                time.sleep(min(10, window - (time.monotonic() - start)))
                samples.append((time.monotonic() - start, sum(transactions(web_port).values()) - sum(before.values()),
                                resident_mib(gateway.pid)))
        else:
            time.sleep(window)
        after, cpu_after, elapsed = transactions(web_port), benchlib.cpu_seconds(gateway.pid), time.monotonic() - start
        rss, peak = resident_mib(gateway.pid), resident_mib(gateway.pid, "VmHWM")
        enip_reads, enip_failures, enip_p99 = readers.stop()
        tcp = json.loads(load.communicate(timeout=60)[0])
    finally:
        gateway.terminate()
        gateway.wait(30)
        served.stdin.close()
    gaps = json.loads(served.stdout.readline())
    served.wait(30)
    rates = [(after.get(f"l{i}", 0) - before.get(f"l{i}", 0)) / elapsed for i in range(lines)]
    total = sum(rates)
    cpu = cpu_after - cpu_before
    return {"lines": lines, "rates": rates, "total": total, "cpu_share": cpu / elapsed, "cpu_us": cpu / max(1, total * elapsed) * 1e6,
            "rss": rss, "rss_start": rss_start, "peak": peak, "tcp_p99": tcp["p99_us"], "tcp_errors": tcp["errors"],
            "tcp_replies": tcp["replies"], "enip_reads": enip_reads, "enip_failures": enip_failures, "enip_p99": enip_p99,
            "gap_p50": gaps["all"].get("gap_p50_us", 0), "gap_p99": gaps["all"].get("gap_p99_us", 0)}


PYMODBUS_LINES = """
import json, resource, sys, threading, time
from pymodbus.client import ModbusSerialClient
paths, seconds, slaves = sys.argv[3:], float(sys.argv[1]), int(sys.argv[2])
counts = [0] * len(paths)
wrong = [0]
go, stop = threading.Event(), threading.Event()

def drive(index, path):
    client = ModbusSerialClient(port=path, baudrate=115200, bytesize=8, parity="N", stopbits=1, timeout=1)
    client.connect()
    go.wait()
    slave = 0
    while not stop.is_set():
        reply = client.read_holding_registers(0, count=10, device_id=slave + 1)
        if reply.isError() or reply.registers[0] != 1000 * (slave + 1):
            wrong[0] += 1
        else:
            counts[index] += 1
        slave = (slave + 1) % slaves
    client.close()

threads = [threading.Thread(target=drive, args=(i, p)) for i, p in enumerate(paths)]
for thread in threads:
    thread.start()
time.sleep(1)
before, start = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
go.set()
time.sleep(seconds)
done = list(counts)
stop.set()
for thread in threads:
    thread.join()
after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - start
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
rss = int(next(r for r in open("/proc/self/status") if r.startswith("VmRSS:")).split()[1]) / 1024
print(json.dumps({"counts": done, "cpu": cpu, "elapsed": elapsed, "rss": rss, "wrong": wrong[0]}))
"""


def measure_pymodbus(release_dir, lines, window=WINDOW_S):
    served, paths = slaves(release_dir, lines)
    try:
        output = subprocess.run([sys.executable, "-c", PYMODBUS_LINES, str(window), str(SLAVES), *paths],
                                capture_output=True, text=True, timeout=window + 120)
    finally:
        served.stdin.close()
        served.stdout.readline()
        served.wait(30)
    if output.returncode != 0:
        sys.exit(f"pymodbus lines failed: {output.stderr}")
    run = json.loads(output.stdout)
    rates = [count / run["elapsed"] for count in run["counts"]]
    return {"rates": rates, "total": sum(rates), "cpu_share": run["cpu"] / run["elapsed"],
            "cpu_us": run["cpu"] / max(1, sum(rates) * run["elapsed"]) * 1e6, "rss": run["rss"], "wrong": run["wrong"]}


def report(ours, theirs):
    lines = ours["lines"]
    low = min(ours["rates"]) / LINE_LIMIT * 100
    print(f"  {lines:>2} lines: fieldgw {ours['total']:7.1f} tx/s = {ours['total'] / (LINE_LIMIT * lines):6.1%} of {LINE_LIMIT * lines:7.1f}"
          f" (per line {min(ours['rates']):.1f}-{max(ours['rates']):.1f}; worst line {low:5.1f}%), CPU {ours['cpu_us']:5.1f} µs/tx = {ours['cpu_share']:6.1%} of a core,"
          f" RSS {ours['rss']:5.1f} MiB (peak {ours['peak']:5.1f}), TCP p99 {ours['tcp_p99'] / 1000:6.1f} ms"
          f" ({ours['tcp_errors']} wrong), silence beyond t3.5 p50/p99 {ours['gap_p50']:.0f}/{ours['gap_p99']:.0f} µs,"
          f" ENIP {ours['enip_reads']} reads p99 {ours['enip_p99'] / 1000:.1f} ms, refused: {ours['enip_failures'] or 'none'}")
    print(f"            pymodbus {theirs['total']:7.1f} tx/s = {theirs['total'] / (LINE_LIMIT * lines):6.1%}"
          f" (worst line {min(theirs['rates']) / LINE_LIMIT * 100:5.1f}%), CPU {theirs['cpu_us']:5.1f} µs/tx = {theirs['cpu_share']:6.1%} of a core,"
          f" RSS {theirs['rss']:5.1f} MiB, {theirs['wrong']} wrong")


def capacity(release_dir, peer_dir):
    print(f"Capacity: lines at {BAUD} baud x {SLAVES} slaves polled every {PERIOD_S} s, {TCP_CLIENTS} Modbus/TCP clients"
          f" and {ENIP_CLIENTS} EtherNet/IP clients; {WINDOW_S} s windows; line limit {LINE_LIMIT:.1f} tx/s")
    missed, at_floor = [], []
    with tempfile.TemporaryDirectory() as directory:
        for lines in SIZES:
            rounds = FLOOR_ROUNDS if lines == FLOOR_LINES else 1
            for _ in range(rounds):
                ours = measure_gateway(release_dir, peer_dir, lines, directory)
                report(ours, measure_pymodbus(release_dir, lines))
                if lines == FLOOR_LINES:
                    at_floor.append(ours)
                # A tag read refused before the slave's first poll is the gateway's rule (no value yet), not a fault.
                wrong_tags = {reason: count for reason, count in ours["enip_failures"].items() if reason != "Resource unavailable"}
                if ours["tcp_errors"] or wrong_tags:
                    missed.append(f"{lines} lines: {ours['tcp_errors']} wrong TCP replies, tag reads wrong: {wrong_tags}")
    worst = statistics.median(min(r["rates"]) / LINE_LIMIT * 100 for r in at_floor)
    rss = statistics.median(r["rss"] for r in at_floor)
    cpu = statistics.median(r["cpu_share"] for r in at_floor)
    print(f"  at {FLOOR_LINES} lines, median of {FLOOR_ROUNDS}: worst line {worst:.1f}% (floor 90%), RSS {rss:.1f} MiB (floor 64),"
          f" CPU {cpu:.1%} of a core (floor 25%)")
    if worst < 90:
        missed.append(f"capacity at {FLOOR_LINES} lines: worst line at {worst:.1f}% of its limit (floor 90%)")
    if rss >= 64:
        missed.append(f"capacity at {FLOOR_LINES} lines: {rss:.1f} MiB resident (floor 64)")
    if cpu >= 0.25:
        missed.append(f"capacity at {FLOOR_LINES} lines: {cpu:.1%} of a core (floor 25%)")
    return missed


def soak(release_dir, peer_dir, seconds):
    samples = []
    with tempfile.TemporaryDirectory() as directory:
        result = measure_gateway(release_dir, peer_dir, FLOOR_LINES, directory, window=seconds, samples=samples)
    print(f"Memory over {seconds:.0f} s at {FLOOR_LINES} lines ({result['total'] * seconds:,.0f} transactions):"
          f" resident {result['rss_start']:.1f} MiB after the warm-up, {result['rss']:.1f} MiB at the end (peak {result['peak']:.1f})")
    for at, count, rss in samples:
        print(f"  {at:6.0f} s  {count:>9,.0f} transactions  {rss:6.1f} MiB")
    middle = min(samples, key=lambda sample: abs(sample[0] - seconds / 2))
    growth = (samples[-1][2] - middle[2]) / max(1, samples[-1][1] - middle[1]) * 1e6 * 1024
    print(f"  growth over the second half: {growth:+.1f} KiB per million transactions")
    return [] if samples[-1][2] - middle[2] < 1 else [f"memory grew {samples[-1][2] - middle[2]:.1f} MiB over the second half"]


def main():
    release_dir, peer_dir = sys.argv[1:3]
    if len(sys.argv) == 5 and sys.argv[3] == "--soak":
        missed = soak(release_dir, peer_dir, float(sys.argv[4]))
    else:
        missed = capacity(release_dir, peer_dir)
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


main()
