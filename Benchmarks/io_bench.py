"""Class 1 I/O: how evenly an adapter produces its inputs (T->O) at the RPI,
and the CPU it spends per connection. fieldgw's enip-server and, when its
path is given, OpENer (github EIPStackGroup/OpENer, the POSIX sample
adapter, fetched and built by hand: no peer source is committed) run side by
side in one run, each in turn, with the same assemblies (input 100 and
output 150 of 32 bytes, configuration 151 of 10) and the same originator.

Each adapter runs in a network namespace of its own, reached over a veth
pair (10.77.0.2), so that it binds UDP 2222 as the standard says; this
script is the originator on 10.77.0.1: it opens input-only connections
(heartbeats O->T every 100 ms) and takes each input packet's kernel receive
time (SO_TIMESTAMPNS), so its own scheduling is not what is measured. Per
connection, each interval between two packets minus the RPI is the jitter;
p50, p99 and the worst are over every interval of every connection. CPU:
the adapter's user and system seconds over the measured time, per connection.
Needs root (ip netns).

Usage: io_bench.py FIELDGW [--opener PATH] [--seconds 60] [--rpis 10,2] [--counts 1,16]
Floor (issue 19): fieldgw's p99 jitter under 1 ms at RPI 10 ms and 2 ms, with 1 and 16 connections.
"""
import argparse
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time


NAMESPACE = "fgw-io-bench"
HOST, ADAPTER = "10.77.0.1", "10.77.0.2"
SO_TIMESTAMPNS = 35
HEARTBEAT_RPI_US = 100_000


def sh(*command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_namespace():
    remove_namespace()
    sh("ip", "netns", "add", NAMESPACE)
    sh("ip", "link", "add", "fgwb0", "type", "veth", "peer", "name", "fgwb1")
    sh("ip", "link", "set", "fgwb1", "netns", NAMESPACE)
    sh("ip", "addr", "add", f"{HOST}/24", "dev", "fgwb0")
    sh("ip", "link", "set", "fgwb0", "up")
    inside = ["ip", "netns", "exec", NAMESPACE]
    sh(*inside, "ip", "addr", "add", f"{ADAPTER}/24", "dev", "fgwb1")
    sh(*inside, "ip", "link", "set", "fgwb1", "up")
    sh(*inside, "ip", "link", "set", "lo", "up")


def remove_namespace():
    subprocess.run(["ip", "link", "del", "fgwb0"], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "del", NAMESPACE], stderr=subprocess.DEVNULL)


class Session:
    """An encapsulation session with the adapter: Forward Opens by SendRRData."""

    def __init__(self):
        deadline = time.time() + 15
        while True:
            try:
                self.socket = socket.create_connection((ADAPTER, 44818), timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        reply = self.request(0x65, struct.pack("<HH", 1, 0), handle=0)
        self.handle = struct.unpack_from("<I", reply, 4)[0]

    def request(self, command, data, handle=None):
        header = struct.pack("<HHII8sI", command, len(data), self.handle if handle is None else handle, 0, b"bench\0\0\0", 0)
        self.socket.sendall(header + data)
        head = self.receive(24)
        return head + self.receive(struct.unpack_from("<H", head, 2)[0])

    def receive(self, count):
        data = b""
        while len(data) < count:
            chunk = self.socket.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the adapter closed the session")
            data += chunk
        return data

    def forward_open(self, serial, t2o_id, points, o2t_size, rpi_us):
        """(status, extended words, O->T id) of an input-only Forward Open (point-to-point, fixed, scheduled)."""
        path = bytes([0x20, 0x04, 0x24, points[0], 0x2C, points[1], 0x2C, points[2]])
        body = struct.pack("<BBIIHHIB3xIHIHBB", 0x0A, 0x0E, 0, t2o_id, serial, 342, 0xB0B, 2,
                           HEARTBEAT_RPI_US, 0x4800 | o2t_size, rpi_us, 0x4800 | 34, 0x01, len(path) // 2) + path
        cip = bytes([0x54, 2, 0x20, 0x06, 0x24, 0x01]) + body
        data = struct.pack("<IHHHHHH", 0, 10, 2, 0, 0, 0xB2, len(cip)) + cip
        reply = self.request(0x6F, data)
        status, words = reply[24 + 16 + 2], reply[24 + 16 + 3]
        extended = struct.unpack_from(f"<{words}H", reply, 24 + 16 + 4)
        o2t = struct.unpack_from("<I", reply, 24 + 16 + 4 + 2 * words)[0] if status == 0 else None
        return status, extended, o2t


def open_connections(count, rpi_us, heartbeat_point, o2t_sizes=(0, 2, 6)):
    """Up to `count` input-only connections: [(O->T id, T->O id)], and why the first refused one was."""
    session = Session()
    opened, refusal = [], None
    for index in range(count):
        t2o_id = random.randrange(1 << 30, 1 << 31)
        for size in o2t_sizes:
            status, extended, o2t = session.forward_open(100 + index, t2o_id, (151, heartbeat_point, 100), size, rpi_us)
            if status != 1 or not extended or extended[0] != 0x0127:
                break
        if status != 0:
            refusal = f"0x{status:02X}/" + ",".join(f"0x{word:04X}" for word in extended)
            break
        opened.append((o2t, t2o_id))
    return session, opened, refusal


def heartbeats(sender, connections, stop):
    """O->T heartbeats (the sequence count alone) every 100 ms for each connection."""
    sequence = 0
    while not stop.wait(HEARTBEAT_RPI_US / 1e6):
        sequence += 1
        for o2t, _ in connections:
            packet = struct.pack("<HHHIIHHH", 2, 0x8002, 8, o2t, sequence, 0x00B1, 2, sequence & 0xFFFF)
            sender.sendto(packet, (ADAPTER, 2222))


def arrivals(receiver, seconds):
    """{T->O id: [kernel receive times, ns]} of the packets that arrive in the next `seconds` (not those queued before)."""
    times = {}
    start, first = time.monotonic(), time.time_ns()
    receiver.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            data, ancillary, _, _ = receiver.recvmsg(1500, 64)
        except socket.timeout:
            continue
        stamp = next((struct.unpack("<qq", payload[:16]) for level, kind, payload in ancillary
                      if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
        if len(data) >= 18 and stamp and stamp[0] * 1_000_000_000 + stamp[1] >= first:
            times.setdefault(struct.unpack_from("<I", data, 6)[0], []).append(stamp[0] * 1_000_000_000 + stamp[1])
    return times


def cpu_seconds(pid):
    """Time on a CPU of every thread of a process so far, to the nanosecond (schedstat; /proc's ticks miss short wakes)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def measure(name, command, heartbeat_point, rpi_ms, count, seconds):
    """One adapter, one RPI, `count` connections: a result dict, or the reason there is none."""
    adapter = subprocess.Popen(["ip", "netns", "exec", NAMESPACE] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    receiver.bind((HOST, 2222))
    stop = threading.Event()
    try:
        session, connections, refusal = open_connections(count, int(rpi_ms * 1000), heartbeat_point)
        if not connections:
            return {"error": f"no connection opened ({refusal})"}
        sender = threading.Thread(target=heartbeats, args=(receiver, connections, stop), daemon=True)
        sender.start()
        time.sleep(1.0)
        cpu_before, wall_before = cpu_seconds(adapter.pid), time.monotonic()
        times = arrivals(receiver, seconds)
        cpu = (cpu_seconds(adapter.pid) - cpu_before) / (time.monotonic() - wall_before)
        session.socket.close()
    finally:
        stop.set()
        adapter.kill()
        adapter.wait()
        receiver.close()
    rpi_ns = int(rpi_ms * 1_000_000)
    jitter = sorted(abs(b - a - rpi_ns) / 1000 for stamps in times.values() for a, b in zip(stamps, stamps[1:]))
    if not jitter:
        return {"error": "no input packets"}
    expected = len(connections) * seconds * 1000 / rpi_ms
    return {"connections": len(connections), "refusal": refusal, "p50": jitter[len(jitter) // 2],
            "p99": jitter[int(len(jitter) * 0.99)], "max": jitter[-1],
            "received": sum(map(len, times.values())) / expected, "cpu": cpu / len(connections)}


def describe(name, result):
    if "error" in result:
        return f"  {name:8} {result['error']}"
    opened = f"{result['connections']} opened" + (f" (then {result['refusal']})" if result["refusal"] else "")
    return (f"  {name:8} jitter p50 {result['p50']:7.0f} µs  p99 {result['p99']:7.0f} µs  max {result['max']:7.0f} µs  "
            f"packets {result['received'] * 100:5.1f}% of RPIs  CPU {result['cpu'] * 100:5.2f}% per connection  [{opened}]")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("fieldgw", help="the directory holding the fieldgw binary (.build/release)")
    parser.add_argument("--opener", help="OpENer's POSIX binary, built from github EIPStackGroup/OpENer")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rpis", default="10,2")
    parser.add_argument("--counts", default="1,16")
    parser.add_argument("--spin", help="fieldgw's --io-spin, in microseconds (default: its own)")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("io_bench needs root: each adapter runs in a network namespace of its own")
    fieldgw = [os.path.abspath(os.path.join(arguments.fieldgw, "fieldgw")), "enip-server", "-a", f"{ADAPTER}:44818",
               "--assembly", "100=input:32", "--assembly", "150=output:32", "--assembly", "151=configuration:10"]
    if arguments.spin is not None:
        fieldgw += ["--io-spin", arguments.spin]
    adapters = [("fieldgw", fieldgw, 198)]
    if arguments.opener:
        adapters.append(("OpENer", [os.path.abspath(arguments.opener), "fgwb1"], 152))
    else:
        print("OpENer: not given (--opener PATH); fieldgw alone")
    make_namespace()
    missed = []
    try:
        for rpi in map(float, arguments.rpis.split(",")):
            for count in map(int, arguments.counts.split(",")):
                print(f"RPI {rpi:g} ms, {count} input-only connection(s), {arguments.seconds:g} s:", flush=True)
                results = {}
                for name, command, heartbeat in adapters:
                    result = results[name] = measure(name, command, heartbeat, rpi, count, arguments.seconds)
                    print(describe(name, result), flush=True)
                if all("p99" in result for result in results.values()) and len(results) == 2:
                    print(f"  p99 jitter: OpENer's is {results['OpENer']['p99'] / results['fieldgw']['p99']:.1f}× fieldgw's", flush=True)
                    if name == "fieldgw" and ("error" in result or result["p99"] >= 1000):
                        missed.append(f"fieldgw T->O jitter p99 at RPI {rpi:g} ms with {count} connections: "
                                      f"{result.get('p99', float('nan')):.0f} µs, floor under 1000 µs")
    finally:
        remove_namespace()
    for line in missed:
        print("FLOOR MISSED:", line)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
