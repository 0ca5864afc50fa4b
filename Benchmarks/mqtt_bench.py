"""MQTT publish benchmark: our client, paho-mqtt (Python) and mosquitto_pub
(C), side by side on one local Mosquitto, in one run.

Usage: mqtt_bench.py RELEASE_DIR   (`make bench` builds mqtt-bench there)

Each publishes COUNT messages of 32 bytes to a Mosquitto started here, at
QoS 0 and at QoS 1, and is done when the broker has the last one (QoS 1:
every PUBACK in; QoS 0: one QoS 1 message after them acknowledged, which the
broker handles in order). mosquitto_pub is timed as a whole process
(`--repeat`), its start-up included, so it gets ten times the messages to
make that small. Figures are messages/s over ROUNDS alternated rounds, as
median (range). Floors, on the medians: ours at least 10x paho-mqtt's and
at least mosquitto_pub's, at each QoS. Beside ours: how busy the broker was
during our fastest run (its CPU time over the run's time): at 100% the broker,
not the client, sets the rate.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import mosquitto

ROUNDS = 3
COUNT = 20_000


BROKER_BUSY = {}


def ours(release_dir, port, qos, broker_pid):
    before = benchlib.cpu_seconds(broker_pid)
    output = subprocess.run([os.path.join(release_dir, "mqtt-bench"), "publish", str(port), str(COUNT), str(qos)],
                            capture_output=True, text=True, check=True)
    result = json.loads(output.stdout)
    busy = (benchlib.cpu_seconds(broker_pid) - before) / result["seconds"]
    if result["rate"] >= BROKER_BUSY.get(qos, (0, 0))[0]:
        BROKER_BUSY[qos] = (result["rate"], busy)
    return result["rate"]


def paho(port, qos):
    import paho.mqtt.client as mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"paho-bench-{os.getpid()}")
    client.max_inflight_messages_set(0 if qos else 20)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b"\x55" * 32
    start = time.perf_counter()
    infos = [client.publish("fieldgw/bench", payload, qos=qos) for _ in range(COUNT)]
    client.publish("fieldgw/bench/end", payload, qos=1).wait_for_publish()
    for info in infos:
        info.wait_for_publish()
    seconds = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return COUNT / seconds


def mosquitto_pub(port, qos):
    count = COUNT * 10
    start = time.perf_counter()
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "fieldgw/bench", "-q", str(qos),
                    "-m", "U" * 32, "--repeat", str(count)], check=True)
    return count / (time.perf_counter() - start)


def main():
    release_dir = sys.argv[1]
    missed = []
    with tempfile.TemporaryDirectory() as directory:
        broker, port = mosquitto(directory)
        try:
            print(f"MQTT publish to a local Mosquitto, 32-byte messages, messages/s: median (range) of {ROUNDS} alternated rounds")
            runners = (("fieldgw", lambda p, q: ours(release_dir, p, q, broker.pid)), ("paho-mqtt", paho), ("mosquitto_pub", mosquitto_pub))
            for qos in (0, 1):
                rounds = {name: [] for name, _ in runners}
                for _ in range(ROUNDS):
                    for name, run in runners:
                        rounds[name].append(run(port, qos))
                mine, python, c = (statistics.median(rounds[name]) for name in ("fieldgw", "paho-mqtt", "mosquitto_pub"))
                print(f"  QoS {qos}: fieldgw {benchlib.spread(rounds['fieldgw'], '{:,.0f}')}   paho-mqtt {python:>8,.0f} ({mine / python:.1f}x)"
                      f"   mosquitto_pub {c:>9,.0f} ({mine / c:.2f}x)   broker busy {BROKER_BUSY[qos][1]:.0%} during our fastest")
                if mine < 10 * python:
                    missed.append(f"MQTT QoS {qos}: under 10x paho-mqtt")
                if mine < c:
                    missed.append(f"MQTT QoS {qos}: below mosquitto_pub")
        finally:
            broker.kill()
            broker.wait()
    for floor in missed:
        print("FLOOR MISSED:", floor)
    sys.exit(1 if missed else 0)


main()
