"""Sparkplug latency benchmark: from a register change on a pty bus to a
host application receiving the DDATA, fieldgw against a Python edge node
(pymodbus polling + paho-mqtt publishing on change), side by side in one run.

Usage: sparkplug_latency.py RELEASE_DIR   (`make bench` builds fieldgw there)

A small RTU slave of this script serves unit 1 on one end of a socat pty pair; the
edge node polls it every PERIOD on the other end and publishes what
changed to a local Mosquitto; a subscriber in this process notes when each
message arrives. CHANGES times, at random moments, this process sets
holding register 40001 to a new value and waits for the first data message
after it: the latency is arrival minus change, on one clock. Figures:
median, 95th percentile and worst, in ms. Floor: fieldgw's 95th percentile
within one poll period plus 20 ms (a change just after a poll waits for
the next one).
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import crc16, mosquitto

PERIOD = 0.1
CHANGES = 60
FLOOR_MS = PERIOD * 1000 + 20


def pty_pair(directory, name):
    """Two linked ptys (socat), raw: the slave's end and the master's."""
    slave, master = os.path.join(directory, f"{name}-slave"), os.path.join(directory, f"{name}-master")
    process = subprocess.Popen(["socat", f"pty,raw,echo=0,link={slave}", f"pty,raw,echo=0,link={master}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 5
    while not (os.path.exists(slave) and os.path.exists(master)):
        if time.time() > deadline:
            sys.exit("socat made no ptys")
        time.sleep(0.02)
    return process, slave, master


class Slave:
    """A minimal RTU slave (unit 1, function 3 on 40001-40010) on a thread
    of its own, the same for both edge nodes; `set` changes 40001."""

    def __init__(self, path):
        import termios
        import tty
        self.registers = [0] * 10
        self.descriptor = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.descriptor)
        termios.tcflush(self.descriptor, termios.TCIOFLUSH)
        self.running = True
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        pending = b""
        while self.running:
            try:
                pending += os.read(self.descriptor, 256)
            except OSError:
                return
            while len(pending) >= 8:
                frame, pending = pending[:8], pending[8:]
                if frame[0] != 1 or frame[1] != 3 or crc16(frame[:6]) != frame[6:]:
                    pending = b""  # out of step: wait for the next request
                    break
                address, count = int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
                values = self.registers[address:address + count]
                body = bytes((1, 3, 2 * len(values))) + b"".join(v.to_bytes(2, "big") for v in values)
                os.write(self.descriptor, body + crc16(body))

    def set(self, value):
        self.registers[0] = value

    def stop(self):
        self.running = False
        os.close(self.descriptor)


class Arrivals:
    """A subscriber: when each message on `topic_filter` arrived."""

    def __init__(self, port, topic_filter):
        import paho.mqtt.client as mqtt
        self.times = []
        self.lock = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"latency-host-{os.getpid()}-{time.time_ns()}")
        self.client.on_message = self.arrived
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(topic_filter)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            sys.exit("the subscriber did not subscribe")

    def arrived(self, client, userdata, message):
        with self.lock:
            self.times.append(time.perf_counter())
            self.lock.notify_all()

    def first_after(self, moment, timeout=5):
        deadline = time.perf_counter() + timeout
        with self.lock:
            while True:
                later = [t for t in self.times if t > moment]
                if later:
                    return later[0]
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self.lock.wait(remaining)

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


def measure(slave, arrivals, ready):
    """Latencies (ms) of CHANGES changes; `ready()` tells when the node publishes."""
    deadline = time.time() + 20
    while not ready():
        if time.time() > deadline:
            sys.exit("the edge node never published")
        time.sleep(0.05)
    latencies = []
    for value in range(1, CHANGES + 1):
        time.sleep(random.uniform(0.15, 0.35))
        changed = time.perf_counter()
        slave.set(value)
        arrival = arrivals.first_after(changed)
        if arrival is None:
            sys.exit(f"no data message within 5 s of change {value}")
        latencies.append((arrival - changed) * 1000)
    return latencies


def fieldgw(release_dir, directory, broker):
    socat, slave_path, master_path = pty_pair(directory, "fieldgw")
    slave = Slave(slave_path)
    arrivals = Arrivals(broker, "spBv1.0/bench/DDATA/#")
    births = Arrivals(broker, "spBv1.0/bench/DBIRTH/#")
    config = os.path.join(directory, "fieldgw.toml")
    with open(config, "w") as out:
        out.write(f"""
[web]
enabled = false
[mqtt]
brokers = ["mqtt://127.0.0.1:{broker}"]
group_id = "bench"
edge_node_id = "latency"
spool_directory = "{directory}/spool"
[[line]]
name = "bench"
adapter = "{master_path}"
baud = 115200
parity = "none"
[[device]]
tag = "Pump"
line = "bench"
slave = 1
period_s = {PERIOD}
[[device.member]]
name = "Count"
register = "40001"
type = "UINT"
""")
    gateway = subprocess.Popen([os.path.join(release_dir, "fieldgw"), "gateway", "-c", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        return measure(slave, arrivals, lambda: births.first_after(0, timeout=0) is not None)
    finally:
        gateway.terminate()
        gateway.wait()
        for thing in (arrivals, births, slave):
            thing.stop()
        socat.kill()
        socat.wait()


def python_node(directory, broker):
    """The peer: what a user would script with pymodbus and paho-mqtt."""
    import paho.mqtt.client as mqtt
    from pymodbus.client import ModbusSerialClient
    socat, slave_path, master_path = pty_pair(directory, "python")
    slave = Slave(slave_path)
    arrivals = Arrivals(broker, "bench/python/#")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"latency-python-{os.getpid()}")
    publisher.connect("127.0.0.1", broker)
    publisher.loop_start()
    client = ModbusSerialClient(master_path, baudrate=115200, bytesize=8, parity="N", stopbits=1, timeout=1)
    client.connect()
    running = threading.Event()
    running.set()
    published = threading.Event()

    def poll():
        last = None
        while running.is_set():
            started = time.perf_counter()
            reply = client.read_holding_registers(0, count=1, device_id=1)
            if not reply.isError() and reply.registers[0] != last:
                last = reply.registers[0]
                publisher.publish("bench/python/Pump", str(last).encode())
                published.set()
            time.sleep(max(0.0, PERIOD - (time.perf_counter() - started)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        return measure(slave, arrivals, published.is_set)
    finally:
        running.clear()
        poller.join()
        client.close()
        publisher.loop_stop()
        publisher.disconnect()
        arrivals.stop()
        slave.stop()
        socat.kill()
        socat.wait()


def summary(latencies):
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1], ordered[-1]


def main():
    release_dir = sys.argv[1]
    with tempfile.TemporaryDirectory() as directory:
        broker, port = mosquitto(directory)
        try:
            ours = summary(fieldgw(release_dir, directory, port))
            peer = summary(python_node(directory, port))
        finally:
            broker.kill()
            broker.wait()
    print(f"Sparkplug latency, register change on a pty bus to the host's DDATA, poll period {PERIOD * 1000:.0f} ms,"
          f" {CHANGES} changes (ms: median / 95th percentile / worst)")
    print(f"  fieldgw        {ours[0]:6.1f} / {ours[1]:6.1f} / {ours[2]:6.1f}")
    print(f"  pymodbus+paho  {peer[0]:6.1f} / {peer[1]:6.1f} / {peer[2]:6.1f}   (95th: {peer[1] / ours[1]:.2f}x ours)")
    if ours[1] > FLOOR_MS:
        print(f"FLOOR MISSED: Sparkplug latency: 95th percentile {ours[1]:.1f} ms above one period + 20 ms ({FLOOR_MS:.0f} ms)")
        sys.exit(1)


main()
