"""Modbus benchmarks: fieldgw and its peers side by side, in one run.

Usage: modbus_bench.py RELEASE_DIR PEER_DIR   (`make bench` builds them all)
       RELEASE_DIR holds the release fieldgw and modbus-bench; PEER_DIR,
       modbus_load and libmodbus_server built from Benchmarks/ModbusPeers.

- server: Modbus/TCP requests/s on loopback (read 10 holding registers), one
  connection with 16 requests pipelined and 16 connections with one request
  each in flight, against `fieldgw modbus-sim`, a libmodbus server and
  pymodbus's server, all loaded by the same C client, alternated over three
  rounds. Floors on the median: 50,000 req/s on one connection, and at least
  libmodbus's figure.
- framer: a slave's RTU framer over 64 MiB of requests for units 1-3 buried in
  random noise (1 MiB of it, over and over), read 256 bytes at a time, and
  over the same requests back to back with no noise. Floor: 50 MB/s through
  the noise, on the median of three rounds (back to back the cost is per frame, and is reported). Beside
  it, pymodbus's RTU framer on the first MiB of each, and how many of the
  frames each side recovered.
- line: the gateway's line efficiency (transactions/s over the line's limit)
  at 9600, 19200 and 115200 baud against a line-paced slave, and the silence
  it leaves beyond t3.5 before each request (the paced bus's carrier times
  every byte), beside pymodbus's serial client on the same line, alternated
  over three rounds. Floors on the median: 95%, silence beyond t3.5 p50 under
  100 µs and p99 under 500 µs; ahead of pymodbus (each round's ratio printed).
- pty: that silence on a bare pty (no carrier, no pacing), timed by the slave.
- latency: a 10-register read's round trip on an unpaced pty, straight from
  our RTU master and through the gateway (p50, p99, microseconds).
- tcp line: the libmodbus server as a remote device behind a `tcp` line of
  `fieldgw gateway` (max_in_flight 1 and 8), loaded by the same C client as
  the server benchmark, beside the same load straight to the libmodbus
  server: requests/s, and each read's round trip. Floor: the gateway adds
  under 100 µs to a lone client's p50.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import line_limit, spread

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYMODBUS_SERVER = os.path.join(ROOT, "Tests", "ModbusTests", "Peers", "pymodbus_server.py")
SCENARIOS = [("1 connection, 16 pipelined", 1, 16), ("16 connections", 16, 1)]
ROUNDS = 3
SECONDS = 2
FRAMER_SIZE = 64 << 20
PYMODBUS_FRAMER_SIZE = 1 << 20
READ_SIZE = 256


def start(command, ready_prefix, **options):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **options)
    line = process.stdout.readline()
    if not line.startswith(ready_prefix):
        process.kill()
        sys.exit(f"{command[0]} did not start: {line!r}")
    return process, int(line.strip().rsplit(":", 1)[-1].split()[-1])


def servers(release_dir, peer_dir):
    yield "fieldgw", start([os.path.join(release_dir, "fieldgw"), "modbus-sim", "-a", "127.0.0.1:0", "40001-40100=1"],
                           "modbus-sim: Modbus/TCP on")
    yield "libmodbus", start([os.path.join(peer_dir, "libmodbus_server")], "ready")
    yield "pymodbus", start([sys.executable, PYMODBUS_SERVER, "tcp"], "ready", stdin=subprocess.PIPE)


def load(peer_dir, port, connections, depth):
    """One round of the C client against `port`: requests/s."""
    output = subprocess.run([os.path.join(peer_dir, "modbus_load"), str(port), str(connections), str(depth), str(SECONDS)],
                            capture_output=True, text=True)
    result = json.loads(output.stdout)
    if output.returncode != 0 or result["errors"]:
        sys.exit(f"modbus_load found wrong replies: {output.stdout} {output.stderr}")
    return result["requests_per_second"]


def server_bench(release_dir, peer_dir):
    """The three servers running at once, loaded in turn, round after round."""
    running = list(servers(release_dir, peer_dir))
    figures = {}
    try:
        for _ in range(ROUNDS):
            for name, (_, port) in running:
                for scenario, connections, depth in SCENARIOS:
                    figures.setdefault((name, scenario), []).append(load(peer_dir, port, connections, depth))
    finally:
        for _, (process, _) in running:
            process.kill()
            process.wait()
    missed = []
    print(f"Modbus/TCP server, read 10 holding registers, requests/s: median (range) of {ROUNDS} alternated rounds of {SECONDS} s")
    for scenario, _, _ in SCENARIOS:
        ours, libmodbus, pymodbus = (figures[(n, scenario)] for n in ("fieldgw", "libmodbus", "pymodbus"))
        mine, theirs = statistics.median(ours), statistics.median(libmodbus)
        print(f"  {scenario:28} fieldgw {spread(ours, '{:,.0f}')}   libmodbus {spread(libmodbus, '{:,.0f}')}"
              f" ({mine / theirs:.2f}x)   pymodbus {statistics.median(pymodbus):>7,.0f} ({mine / statistics.median(pymodbus):.1f}x)")
        if mine < theirs:
            missed.append(f"{scenario}: median below libmodbus's")
    if statistics.median(figures[("fieldgw", SCENARIOS[0][0])]) < 50_000:
        missed.append("one connection: median below 50,000 req/s")
    return missed


def crc16(frame):
    """The frame with its CRC."""
    return bytes(frame) + benchlib.crc16(frame)


def request(rng):
    """A request for unit 1-3: read registers, write one, or write ten."""
    unit, address = rng.randint(1, 3), rng.randrange(0, 1000)
    kind = rng.randrange(3)
    if kind == 0:
        pdu = bytes([3, address >> 8, address & 0xFF, 0, rng.randint(1, 125)])
    elif kind == 1:
        pdu = bytes([6, address >> 8, address & 0xFF]) + rng.randbytes(2)
    else:
        pdu = bytes([16, address >> 8, address & 0xFF, 0, 10, 20]) + rng.randbytes(20)
    return crc16(bytes([unit]) + pdu)


def framed_stream(size, noisy):
    """Frames, each after a run of 0-32 random bytes when noisy: the stream,
    its pieces (one frame and the noise before it), the frames and their lengths."""
    rng = random.Random(2026)
    pieces, frames, lengths, total = [], [], [], 0
    while total < size:
        noise = rng.randbytes(rng.randint(0, 32)) if noisy else b""
        frame = request(rng)
        pieces.append(noise + frame)
        frames.append(frame)
        lengths.append(len(frame))
        total += len(noise) + len(frame)
    return b"".join(pieces), pieces, b"".join(frames), bytes(lengths)


def pymodbus_framer(reads, frames, lengths):
    """pymodbus's RTU framer as its transport drives it: append each read, take frames while it finds them.
    It takes one frame per read and drops the rest of its buffer (and all of it on a CRC error)."""
    from pymodbus.framer import FramerRTU
    from pymodbus.pdu import DecodePDU
    framer = FramerRTU(DecodePDU(True))
    expected, at = [], 0
    for length in lengths:
        expected.append(frames[at:at + length])
        at += length
    wanted = set(expected)
    buffer, recovered = b"", 0
    start = time.perf_counter()
    for read in reads:
        buffer += read
        while buffer:
            used, pdu = framer.handleFrame(buffer, 0, 0)
            if pdu is not None and crc16(bytes([pdu.dev_id, pdu.function_code]) + pdu.encode()) in wanted:
                recovered += 1
            buffer = buffer[used:]
            if pdu is None:
                break
    return time.perf_counter() - start, recovered


def ours_framer(release_dir, stream, frames, lengths):
    with tempfile.TemporaryDirectory() as directory:
        paths = [os.path.join(directory, name) for name in ("stream", "frames", "lengths")]
        for path, data in zip(paths, (stream, frames, lengths)):
            with open(path, "wb") as file:
                file.write(data)
        output = subprocess.run([os.path.join(release_dir, "modbus-bench"), "framer", *paths, str(READ_SIZE)],
                                check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def framer_bench(release_dir):
    print("RTU framer, requests for units 1-3, reads of %d bytes" % READ_SIZE)
    missed = []
    for noisy in (True, False):
        small, pieces, small_frames, small_lengths = framed_stream(PYMODBUS_FRAMER_SIZE, noisy)
        copies = FRAMER_SIZE // len(small)
        ours = ours_framer(release_dir, small * copies, small_frames * copies, small_lengths * copies)
        rates = [ours["bytes"] / seconds / 1e6 for seconds in ours["rounds"]]
        ours_mb = statistics.median(rates)
        reads = [small[at:at + READ_SIZE] for at in range(0, len(small), READ_SIZE)]
        seconds, recovered = pymodbus_framer(reads, small_frames, small_lengths)
        aligned_seconds, aligned_recovered = pymodbus_framer(pieces, small_frames, small_lengths)
        label = "in random noise" if noisy else "back to back, no noise"
        print(f"  {label}:")
        print(f"    fieldgw  {spread(rates)} MB/s (median, range of {len(rates)} rounds) over {ours['bytes'] / 2**20:.0f} MiB:"
              f" {ours['recovered']:,} of {ours['frames']:,} frames"
              f" recovered, {ours['extra']} not sent, {ours['crc_errors']:,} candidates failed their CRC")
        print(f"    pymodbus {len(small) / seconds / 1e6:8.1f} MB/s over {len(small) / 2**20:.0f} MiB, same reads:"
              f" {recovered:,} of {len(small_lengths):,} frames recovered")
        aligned_mb = len(small) / aligned_seconds / 1e6
        print(f"    pymodbus {aligned_mb:8.1f} MB/s, one frame per read (its best case): {aligned_recovered:,} recovered"
              f"   (fieldgw {ours_mb / aligned_mb:.0f}x faster)")
        # The floor is for noisy input, on the median; back to back, the cost is per frame (about 4 million a second).
        if noisy and ours_mb < 50:
            missed.append(f"framer {label}: median {ours_mb:.1f} MB/s, below 50 MB/s")
        if ours["recovered"] != ours["frames"] or ours["extra"]:
            missed.append(f"framer {label}: frames lost or invented")
    return missed


PYMODBUS_LINE = """
import sys, time
from pymodbus.client import ModbusSerialClient
path, baud, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
client = ModbusSerialClient(port=path, baudrate=baud, bytesize=8, parity="N", stopbits=1, timeout=1)
client.connect()
count = wrong = 0
start = time.monotonic()
while time.monotonic() - start < seconds:
    reply = client.read_holding_registers(0, count=10, device_id=1)
    if not reply.isError() and reply.registers == list(range(10)):
        count += 1
    else:
        wrong += 1
print(count, wrong, time.monotonic() - start)
"""


def pymodbus_line(release_dir, baud, seconds):
    """pymodbus's serial client on a paced line served by modbus-bench: transactions/s,
    wrong answers, and its silences beyond t3.5 as the line's carrier saw them."""
    served = subprocess.Popen([os.path.join(release_dir, "modbus-bench"), "serve", str(baud)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    path = served.stdout.readline().split()[1]
    theirs = subprocess.run([sys.executable, "-c", PYMODBUS_LINE, path, str(baud), str(seconds)], capture_output=True, text=True)
    served.stdin.close()
    gaps = json.loads(served.stdout.readline())
    served.wait()
    count, wrong, elapsed = theirs.stdout.split()
    return {"rate": int(count) / float(elapsed), "wrong": int(wrong), **gaps}


def ours_line(release_dir, baud, seconds):
    run = json.loads(subprocess.run([os.path.join(release_dir, "modbus-bench"), "line", str(baud), str(seconds)],
                                    check=True, capture_output=True, text=True).stdout)
    return {**run, "rate": run["transactions"] / run["seconds"]}


LINE_ROUNDS = 3
# Long enough that each round's p99 rests on about 300 silences or more: on
# this shared machine one or two scheduling hiccups of a millisecond come in
# any few seconds, and in a round of 140 silences two of them are its p99.
LINE_SECONDS = {9600: 12, 19200: 6, 115200: 5}


def line_bench(release_dir):
    """Line efficiency (transactions/s over the line's limit) and the master's
    silence beyond t3.5, ours (the gateway's Bus) and pymodbus's serial client,
    alternated round by round against our slave on a line paced at the baud
    rate. Floors, on the median of the rounds: efficiency 95%, silence beyond
    t3.5 p50 under 100 µs and p99 under 500 µs, and ahead of pymodbus."""
    print(f"Line efficiency, read 10 registers (8 + 25 bytes), 8N1, slave answering after t3.5, four requests queued;"
          f" {LINE_ROUNDS} alternated rounds, median (range)")
    missed = []
    for baud, seconds in LINE_SECONDS.items():
        ours, theirs = [], []
        for _ in range(LINE_ROUNDS):
            ours.append(ours_line(release_dir, baud, seconds))
            theirs.append(pymodbus_line(release_dir, baud, seconds))
        limit = line_limit(baud, ours[0]["request_bytes"], ours[0]["reply_bytes"])
        efficiency = [run["rate"] / limit * 100 for run in ours]
        their_efficiency = [run["rate"] / limit * 100 for run in theirs]
        wrong = sum(run["wrong"] for run in ours)
        ratio = statistics.median(run["rate"] for run in ours) / statistics.median(run["rate"] for run in theirs)
        round_ratios = [a["rate"] / b["rate"] for a, b in zip(ours, theirs)]
        print(f"  {baud:>6} baud, limit {limit:.1f}/s, {seconds} s rounds")
        print(f"    fieldgw  {spread(efficiency)}%   silence beyond t3.5 µs: p50 {spread([r['gap_p50_us'] for r in ours], '{:.0f}')}"
              f"  p99 {spread([r['gap_p99_us'] for r in ours], '{:.0f}')}  max {spread([r['gap_max_us'] for r in ours], '{:.0f}')}"
              f"   {wrong} wrong")
        print(f"             (the harness's share: the slave's turnaround beyond t3.5 p50 {spread([r['slave_gap_p50_us'] for r in ours], '{:.0f}')} µs,"
              f" p99 {spread([r['slave_gap_p99_us'] for r in ours], '{:.0f}')} µs;"
              f" each silence holds one pty round trip, p50 {spread([r['pty_round_trip_us'] for r in ours], '{:.0f}')} µs)")
        print(f"    pymodbus {spread(their_efficiency)}%   silence beyond t3.5 µs: p50 {spread([r['gap_p50_us'] for r in theirs], '{:.0f}')}"
              f"  p99 {spread([r['gap_p99_us'] for r in theirs], '{:.0f}')}  max {spread([r['gap_max_us'] for r in theirs], '{:.0f}')}"
              f"   ratio of medians {ratio:.3f}x (by round: {', '.join(f'{r:.3f}' for r in round_ratios)})")
        if statistics.median(efficiency) < 95 or wrong:
            missed.append(f"line efficiency at {baud} baud: median {statistics.median(efficiency):.1f}% (floor 95%, {wrong} wrong)")
        if statistics.median(r["gap_p50_us"] for r in ours) >= 100 or statistics.median(r["gap_p99_us"] for r in ours) >= 500:
            missed.append(f"silence beyond t3.5 at {baud} baud: p50 {statistics.median(r['gap_p50_us'] for r in ours):.0f} µs"
                          f" (floor 100), p99 {statistics.median(r['gap_p99_us'] for r in ours):.0f} µs (floor 500)")
        if ratio <= 1:
            missed.append(f"line at {baud} baud: median {ratio:.3f}x pymodbus's (floor: ahead)")
    return missed


def pty_gap_bench(release_dir):
    """The same silence on a bare pty (no carrier, no pacing), timed by the slave."""
    runs = [json.loads(subprocess.run([os.path.join(release_dir, "modbus-bench"), "pty", "3"],
                                      check=True, capture_output=True, text=True).stdout) for _ in range(LINE_ROUNDS)]
    print(f"Silence beyond t3.5 on a bare pty at 115200 (1750 µs), timed by the slave, {LINE_ROUNDS} rounds of 3 s, median (range)")
    print(f"  p50 {spread([r['gap_p50_us'] for r in runs], '{:.0f}')} µs   p99 {spread([r['gap_p99_us'] for r in runs], '{:.0f}')} µs"
          f"   max {spread([r['gap_max_us'] for r in runs], '{:.0f}')} µs   {sum(r['transactions'] for r in runs):,} transactions,"
          f" {sum(r['wrong'] for r in runs)} wrong")
    return [f"pty: {sum(r['wrong'] for r in runs)} wrong replies"] if any(r["wrong"] for r in runs) else []


def latency_bench(release_dir):
    """Round trips of a 10-register read on an unpaced pty: straight from our RTU master, and through the gateway."""
    result = json.loads(subprocess.run([os.path.join(release_dir, "modbus-bench"), "latency", "3000"],
                                       check=True, capture_output=True, text=True).stdout)
    print("Latency, read 10 registers, unpaced pty at 115200 (t3.5 = 1750 us), 3000 round trips, microseconds")
    print(f"  RTU master straight to the slave  p50 {result['direct_p50']:7.0f}   p99 {result['direct_p99']:7.0f}")
    print(f"  TCP client through the gateway    p50 {result['gateway_p50']:7.0f}   p99 {result['gateway_p99']:7.0f}"
          f"   (added: p50 {result['gateway_p50'] - result['direct_p50']:+.0f}, p99 {result['gateway_p99'] - result['direct_p99']:+.0f})")
    return []


def prometheus_client_render(lines, slaves, rounds):
    """The same series in Python's prometheus_client, rendered by generate_latest: median and best ms, bytes."""
    import time
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    registry = CollectorRegistry()
    buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
    for name in ("transactions", "timeouts", "exceptions", "failed_fast", "refused_busy", "noise_bytes", "crc_errors"):
        counter = Counter(f"fieldgw_line_{name}", name, ["line"], registry=registry)
        for line in range(lines):
            counter.labels(f"line-{line}").inc(line + 1)
    for name in ("queue_depth", "utilisation"):
        gauge = Gauge(f"fieldgw_line_{name}", name, ["line"], registry=registry)
        for line in range(lines):
            gauge.labels(f"line-{line}").set(3)
    latency = Histogram("fieldgw_slave_latency_seconds", "latency", ["line", "slave"], buckets=buckets, registry=registry)
    load = Gauge("fieldgw_slave_poll_load", "load", ["line", "slave", "minutes"], registry=registry)
    for line in range(lines):
        for slave in range(1, slaves + 1):
            latency.labels(f"line-{line}", str(slave)).observe(0.007)
            for minutes in ("1", "5", "15"):
                load.labels(f"line-{line}", str(slave), minutes).set(0.01)
    times, size = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        size = len(generate_latest(registry))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[0], size


def metrics_bench(release_dir):
    """GET /metrics for 16 lines of 32 slaves: our render beside prometheus_client's, same series."""
    lines, slaves, rounds = 16, 32, 50
    ours = json.loads(subprocess.run([os.path.join(release_dir, "modbus-bench"), "metrics", str(lines), str(slaves), str(rounds)],
                                     check=True, capture_output=True, text=True).stdout)
    median, best, size = prometheus_client_render(lines, slaves, rounds)
    print(f"/metrics, {lines} lines x {slaves} slaves, median (best) of {rounds} renders")
    print(f"  fieldgw (swift-prometheus + help)  {ours['median_ms']:7.2f} ms ({ours['best_ms']:.2f})  {ours['bytes']:,} bytes")
    print(f"  prometheus_client (Python)         {median:7.2f} ms ({best:.2f})  {size:,} bytes"
          f"   ratio {median / ours['median_ms']:.1f}x")
    return [] if ours["median_ms"] < 5 else [f"/metrics render {ours['median_ms']:.2f} ms: floor 5 ms"]


def reload_bench(release_dir):
    """One line of 16 reloaded 20 times, beside one restart of the whole gateway; clients on the other 15 lines count."""
    result = json.loads(subprocess.run([os.path.join(release_dir, "modbus-bench"), "reload", "16", "20"],
                                       capture_output=True, text=True, check=True).stdout)
    print("reload of one line among 16 (20 reloads), clients reading the other 15 without pause")
    print(f"  reload:  {result['reload_reads']} reads, {result['reload_failed']} failed, longest gap {result['reload_longest_gap_ms']:.0f} ms"
          f" (quiet: {result['quiet_longest_gap_ms']:.0f} ms); a reload takes {result['reload_ms_median']:.1f} ms (max {result['reload_ms_max']:.1f})")
    print(f"  restart: {result['restart_reads']} reads, {result['restart_failed']} failed, longest gap {result['restart_longest_gap_ms']:.0f} ms;"
          f" the restart takes {result['restart_ms']:.1f} ms")
    return [] if result["reload_failed"] == 0 else [f"reload lost {result['reload_failed']} reads on the other lines: floor 0"]


TCP_LINE_SCENARIOS = [("1 client", 1), ("16 clients", 16)]




def gateway_to(release_dir, remote_port, max_in_flight, directory):
    """`fieldgw gateway` with one tcp line to 127.0.0.1:remote_port, once it listens."""
    port = benchlib.free_port()
    config = os.path.join(directory, f"tcp-line-{max_in_flight}.toml")
    with open(config, "w") as out:
        out.write(f"""[web]
enabled = false
[[line]]
name = "plc"
kind = "tcp"
address = "127.0.0.1:{remote_port}"
max_in_flight = {max_in_flight}
[[route]]
units = "1"
line = "plc"
[[listener]]
bind = "127.0.0.1:{port}"
""")
    process = subprocess.Popen([os.path.join(release_dir, "fieldgw"), "gateway", "-c", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return benchlib.listening(process, port, "fieldgw gateway")


def measure(peer_dir, port, connections):
    """The median requests/s of the rounds, and the median of their p50 and p99 round trips (µs)."""
    rounds = []
    for _ in range(ROUNDS):
        output = subprocess.run([os.path.join(peer_dir, "modbus_load"), str(port), str(connections), "1", str(SECONDS)],
                                capture_output=True, text=True)
        result = json.loads(output.stdout)
        if output.returncode != 0 or result["errors"]:
            sys.exit(f"modbus_load found wrong replies: {output.stdout} {output.stderr}")
        rounds.append(result)
    return (statistics.median(r["requests_per_second"] for r in rounds), statistics.median(r["p50_us"] for r in rounds),
            statistics.median(r["p99_us"] for r in rounds))


def tcp_line_bench(release_dir, peer_dir):
    """Requests/s and round trips through a tcp line to the libmodbus server, beside the same load straight to it."""
    libmodbus, remote = start([os.path.join(peer_dir, "libmodbus_server")], "ready")
    figures = {}
    try:
        for scenario, connections in TCP_LINE_SCENARIOS:
            figures[("direct", scenario)] = measure(peer_dir, remote, connections)
        with tempfile.TemporaryDirectory() as directory:
            for max_in_flight in (1, 8):
                gateway, port = gateway_to(release_dir, remote, max_in_flight, directory)
                try:
                    for scenario, connections in TCP_LINE_SCENARIOS:
                        figures[(max_in_flight, scenario)] = measure(peer_dir, port, connections)
                finally:
                    gateway.kill()
                    gateway.wait()
    finally:
        libmodbus.kill()
        libmodbus.wait()
    print(f"tcp line to the libmodbus server, read 10 registers: requests/s and p50/p99 µs, medians of {ROUNDS} rounds of {SECONDS} s")
    for scenario, _ in TCP_LINE_SCENARIOS:
        direct = figures[("direct", scenario)]
        text = f"  {scenario:11} direct {direct[0]:>7,.0f} ({direct[1]:.0f}/{direct[2]:.0f})"
        for max_in_flight in (1, 8):
            through = figures[(max_in_flight, scenario)]
            text += (f"   max_in_flight {max_in_flight}: {through[0]:>7,.0f} ({through[1]:.0f}/{through[2]:.0f},"
                     f" {through[0] / direct[0]:.2f}x, +{through[1] - direct[1]:.0f} µs)")
        print(text)
    added = figures[(1, "1 client")][1] - figures[("direct", "1 client")][1]
    return [f"tcp line: the gateway adds {added:.0f} µs to a lone client's p50 (floor: under 100)"] if added >= 100 else []


def main():
    release_dir, peer_dir = sys.argv[1:3]
    missed = framer_bench(release_dir) + server_bench(release_dir, peer_dir) + line_bench(release_dir) + pty_gap_bench(release_dir)
    missed += latency_bench(release_dir)
    missed += metrics_bench(release_dir)
    missed += reload_bench(release_dir)
    missed += tcp_line_bench(release_dir, peer_dir)
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


main()
