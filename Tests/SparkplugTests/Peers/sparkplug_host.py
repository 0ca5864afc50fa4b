#!/usr/bin/env python3
"""A Sparkplug B host application for the tests, on pysparkplug (Tahu's
payloads, decoded by a library that is not ours) and paho-mqtt.

usage: sparkplug_host.py PORT [TOPIC_FILTER [SESSION]]

Subscribes to spBv1.0/# (or the filter) on 127.0.0.1:PORT and prints
"subscribed", then one line "message JSON" per message: its topic, kind,
seq, timestamp, the time it arrived, and its metrics (name, datatype,
value, timestamp, historical). With SESSION, it is the client id of a
persistent session (clean session off): a broker that restarts with its
sessions saved keeps what came meanwhile, and the host reconnects by
itself. Each line read on standard input is a
command as JSON:
  {"rebirth": {"group": G, "edge": E}}
  {"write": {"group": G, "edge": E, "device": D, "metrics": [{"name": N, "datatype": "INT16", "value": V}]}}
"""
import json
import sys
import time

import paho.mqtt.client as mqtt
from pysparkplug import DataType, DBirth, DCmd, DData, DDeath, Metric, NBirth, NCmd, NData, NDeath

KINDS = {"NBIRTH": NBirth, "NDATA": NData, "NDEATH": NDeath, "DBIRTH": DBirth, "DDATA": DData, "DDEATH": DDeath,
         "NCMD": NCmd, "DCMD": DCmd}
births = {}


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def metrics_of(kind, payload):
    if kind == "NDEATH":
        return [payload.bd_seq_metric]
    return list(getattr(payload, "metrics", ()))


def on_message(client, userdata, message):
    received = time.time()
    levels = message.topic.split("/")
    kind = levels[2] if len(levels) > 2 else ""
    decoder = KINDS.get(kind)
    if decoder is None:
        return
    key = tuple(levels[1:2] + levels[3:])
    try:
        payload = decoder.decode(message.payload, birth=births.get(key))
    except Exception as error:  # a payload pysparkplug cannot read is a failure the test must see
        say("undecodable " + json.dumps({"topic": message.topic, "error": repr(error)}))
        return
    if kind in ("NBIRTH", "DBIRTH"):
        births[key] = payload
    say("message " + json.dumps({
        "topic": message.topic, "kind": kind, "group": levels[1], "edge": levels[3],
        "device": levels[4] if len(levels) > 4 else None,
        "seq": getattr(payload, "seq", None), "timestamp": getattr(payload, "timestamp", None),
        "received": received, "retain": bool(message.retain),
        "metrics": [{"name": m.name, "datatype": m.datatype.name, "value": m.value, "timestamp": m.timestamp,
                     "historical": m.is_historical} for m in metrics_of(kind, payload)],
    }))


def on_connect(client, userdata, flags, rc):
    client.subscribe(userdata, qos=1)


def on_subscribe(client, userdata, mid, granted):
    say("subscribed")


def command(client, line):
    order = json.loads(line)
    now = int(time.time() * 1000)
    if "rebirth" in order:
        target = order["rebirth"]
        rebirth = Metric(timestamp=now, name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=True)
        payload = NCmd(timestamp=now, metrics=(rebirth,)).encode(include_dtypes=True)
        client.publish(f"spBv1.0/{target['group']}/NCMD/{target['edge']}", payload, qos=0)
    elif "write" in order:
        target = order["write"]
        metrics = tuple(Metric(timestamp=now, name=m["name"], datatype=DataType[m["datatype"]], value=m["value"])
                        for m in target["metrics"])
        payload = DCmd(timestamp=now, metrics=metrics).encode(include_dtypes=True)
        client.publish(f"spBv1.0/{target['group']}/DCMD/{target['edge']}/{target['device']}", payload, qos=0)
    elif "raw" in order:
        client.publish(order["raw"]["topic"], bytes.fromhex(order["raw"]["hex"]), qos=0)


def main():
    port = int(sys.argv[1])
    topic_filter = sys.argv[2] if len(sys.argv) > 2 else "spBv1.0/#"
    session = sys.argv[3] if len(sys.argv) > 3 else None
    client = mqtt.Client(client_id=session or f"sparkplug-host-{port}-{time.time_ns()}", clean_session=session is None,
                         userdata=topic_filter)
    client.reconnect_delay_set(min_delay=0.2, max_delay=1)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    for line in sys.stdin:
        if line.strip():
            command(client, line)
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
