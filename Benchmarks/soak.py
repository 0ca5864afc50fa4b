"""The gateway under mixed load for a set time (`make soak`, not in CI):
`fieldgw gateway` on a socat pty pair with `fieldgw modbus-sim --rtu` as its
slave, an EtherNet/IP device tag over the same line, and at once: Modbus/TCP
clients writing their own register and reading it back, a client connecting
and disconnecting, junk senders, and pylogix reading and writing the tag.
Reports the gateway's memory, file descriptors and latency percentiles in the
first and the last part of the run, and every wrong answer (there must be
none), or device tag errors (polls starved of the line: the first soak run
found exactly that). usage: soak.py RELEASE_DIR SECONDS"""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

FIELDGW = os.path.join(sys.argv[1], "fieldgw")
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 300
WINDOW = min(60.0, SECONDS / 4)
START = time.monotonic()
stopping = threading.Event()
lock = threading.Lock()
latencies = []  # (time since start, seconds)
counts = {"right": 0, "refused": 0, "wrong": 0, "unanswered": 0, "connections": 0, "junk": 0,
          "tag writes": 0, "tag write errors": 0, "tag reads": 0, "tag read errors": 0}
tag_errors = set()
wrong = []


def count(key, n=1):
    with lock:
        counts[key] += n


def start_process(arguments, ready=None):
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = []
    if ready:
        for line in process.stdout:
            if any(line.startswith(r) for r in ready):
                found.append(line.strip())
            if len(found) == len(ready):
                break
    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
    return process, found


def mbap(transaction, pdu, unit=1):
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def receive(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def transact(sock, transaction, pdu):
    began = time.monotonic()
    sock.sendall(mbap(transaction, pdu))
    header = receive(sock, 7)
    if header is None:
        return None
    reply = receive(sock, struct.unpack(">H", header[4:6])[0] - 1)
    with lock:
        latencies.append((began - START, time.monotonic() - began))
    return reply


def writer(port, register):
    """Writes its own register and reads it back: anything but the value (or an exception) is wrong."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    transaction, value, known = 0, register << 8, {7}
    while not stopping.is_set():
        value = (value + 1) & 0xFFFF
        transaction = (transaction + 2) & 0xFFFF
        write = struct.pack(">BHH", 6, register, value)
        reply = transact(sock, transaction, write)
        if reply == write:
            known = {value}
            count("right")
        elif reply is not None and len(reply) == 2 and reply[0] == 0x86:
            known.add(value)  # a timeout says nothing of whether the slave wrote it
            count("refused")
        else:
            count("unanswered")
            return
        reply = transact(sock, transaction + 1, struct.pack(">BHH", 3, register, 1))
        if reply is not None and len(reply) == 4 and reply[:2] == b"\x03\x02":
            if struct.unpack(">H", reply[2:])[0] in known:
                count("right")
            else:
                count("wrong")
                wrong.append(f"register {register}: read {reply.hex()}, expected one of {sorted(known)}")
        elif reply is not None and len(reply) == 2 and reply[0] == 0x83:
            count("refused")
        else:
            count("unanswered")
            return


def churner(port):
    while not stopping.is_set():
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(10)
            reply = transact(sock, 1, struct.pack(">BHH", 3, 90, 2))
            count("right" if reply == b"\x03\x04\x00\x07\x00\x07" else "refused" if reply and reply[0] == 0x83 else "wrong")
            count("connections")


def junk(port):
    generator = random.Random(7)
    while not stopping.wait(0.5):
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(bytes(generator.randrange(256) for _ in range(generator.randrange(1, 300))))
                sock.settimeout(2)
                while sock.recv(4096):
                    pass
        except OSError:
            pass
        count("junk")


def tag_client(port):
    from pylogix import PLC
    with PLC() as plc:
        plc.IPAddress, plc.Port = "127.0.0.1", port
        value = 0
        while not stopping.wait(0.2):
            value = (value + 1) % 1000
            written = plc.Write("Pump.Setpoint", value).Status
            count("tag writes")
            if written != "Success":
                count("tag write errors")
                tag_errors.add(f"write: {written}")
            read = plc.Read("Pump.Speed")
            count("tag reads")
            if read.Status != "Success":
                count("tag read errors")
                tag_errors.add(f"read: {read.Status}")


def sample(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def percentiles(since, until):
    with lock:
        window = sorted(l for t, l in latencies if since <= t < until)
    if not window:
        return "no requests"
    pick = lambda q: window[min(len(window) - 1, int(q * len(window)))] * 1000
    return f"{len(window):7d} requests  p50 {pick(0.5):6.1f} ms  p99 {pick(0.99):6.1f} ms  max {window[-1] * 1000:6.1f} ms"


def main():
    directory = tempfile.mkdtemp(prefix="fieldgw-soak-")
    adapter, device = f"{directory}/adapter", f"{directory}/device"
    socat, _ = start_process(["socat", f"pty,raw,echo=0,link={adapter}", f"pty,raw,echo=0,link={device}"])
    while not (os.path.exists(adapter) and os.path.exists(device)):
        time.sleep(0.01)
    sim, _ = start_process([FIELDGW, "modbus-sim", "--rtu", device, "--unit", "1", "40001-40100=7", "30001-30010=5"])
    config = f"{directory}/gateway.toml"
    with open(config, "w") as f:
        f.write(f"""
[[line]]
name = "soak"
adapter = "{adapter}"
timeout_max_ms = 300
[[route]]
units = "1"
line = "soak"
[[listener]]
bind = "127.0.0.1:0"
[status]
bind = "127.0.0.1:0"
[enip]
bind = "127.0.0.1:0"
[[device]]
tag = "Pump"
line = "soak"
slave = 1
period_s = 0.5
  [[device.member]]
  name = "Speed"
  register = "30001"
  [[device.member]]
  name = "Setpoint"
  register = "40100"
  read_only = false
""")
    gateway, lines = start_process([FIELDGW, "gateway", "--config", config],
                                   ["gateway: Modbus/TCP on", "gateway: EtherNet/IP on", "gateway: status on"])
    port = int(lines[0].rsplit(":", 1)[1])
    enip_port = int(lines[1].split(":")[2].split()[0])
    threads = [threading.Thread(target=writer, args=(port, register)) for register in range(8)]
    threads += [threading.Thread(target=churner, args=(port,)), threading.Thread(target=junk, args=(port,)),
                threading.Thread(target=tag_client, args=(enip_port,))]
    for thread in threads:
        thread.daemon = True
        thread.start()
    time.sleep(min(5.0, WINDOW / 2))
    first = sample(gateway.pid)
    while time.monotonic() - START < SECONDS:
        time.sleep(1)
    last = sample(gateway.pid)
    stopping.set()
    for thread in threads:
        thread.join(15)
    gateway.terminate()
    status = gateway.wait(10)
    for process in (sim, socat):
        process.terminate()
        process.wait(10)
    shutil.rmtree(directory, ignore_errors=True)
    elapsed = time.monotonic() - START
    print(f"soak: {elapsed:.0f} s of mixed load on one RTU line at 19200 baud (8 writers, a connect/disconnect churner, junk senders, pylogix)")
    print(f"  start (after {min(5.0, WINDOW / 2):.0f} s): RSS {first[0]:6.1f} MB  fds {first[1]:3d}")
    print(f"  end   (at {elapsed:.0f} s): RSS {last[0]:6.1f} MB  fds {last[1]:3d}")
    print(f"  first {WINDOW:.0f} s: {percentiles(0, WINDOW)}")
    print(f"  last  {WINDOW:.0f} s: {percentiles(elapsed - WINDOW - 1, elapsed)}")
    print("  " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    print(f"  gateway exit status on SIGTERM: {status}")
    for error in sorted(tag_errors):
        print("  tag error seen:", error)
    for line in wrong[:10]:
        print("  WRONG:", line)
    grew = last[1] > first[1] + 2
    # A device tag read that fails (0x02, stale) means polls did not get the line.
    stale = counts["tag read errors"] + counts["tag write errors"] > 2
    if counts["wrong"] or grew or stale or status != 0:
        print("soak: FAILED" + (" (file descriptors grew)" if grew else "") + (" (tag errors)" if stale else ""))
        sys.exit(1)


main()
