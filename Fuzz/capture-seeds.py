"""Captures the fuzz seed corpora from real peers: mbpoll and pymodbus
against `fieldgw modbus-sim`, pycomm3 and pylogix against `fieldgw
enip-server`, each through a recording TCP proxy. The bytes each client sent
and each server answered are cut into the seeds of every target: whole client
streams, single PDUs, RTU and ASCII frames of the same PDUs, CPF bodies, CIP
requests, paths, Multiple Service Packets, Forward Opens and CIP replies.
Text seeds come from cpppo's README examples, etc/fieldgw.toml and the regex
suite. Run from the repository root with the venv's python:

    .build/venv/bin/python Fuzz/capture-seeds.py .build/debug/fieldgw

It rewrites Fuzz/corpus/*/seed-* (crash regressions, crash-*, are kept)."""
import hashlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Benchmarks"))
import benchlib  # noqa: E402 (the benchmarks' helpers: one CRC for both)

FIELDGW = sys.argv[1]
CORPUS = "Fuzz/corpus"
# The harness's ModbusTargets.requests, by function code: a reply seed's first byte picks its request.
PICK = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 11: 8, 15: 9, 16: 10, 17: 11, 22: 12, 23: 13, 43: 14}


def seed(target, data):
    os.makedirs(f"{CORPUS}/{target}", exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(f"{CORPUS}/{target}/seed-{name}", "wb") as f:
        f.write(data)


class Recorder:
    """A TCP proxy on a free port to `port`: keeps each connection's two byte streams."""

    def __init__(self, port):
        self.target, self.streams = port, []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            stream = [bytearray(), bytearray()]
            self.streams.append(stream)
            threading.Thread(target=self.pump, args=(client, server, stream[0]), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, stream[1]), daemon=True).start()

    @staticmethod
    def pump(source, sink, record):
        while data := source.recv(65536):
            record += data
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)


def serve(arguments, ready):
    process = subprocess.Popen([FIELDGW] + arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if m := re.search(ready, line):
            return process, int(m.group(1))
    raise SystemExit(f"{arguments[0]} did not start")


def crc16(data):
    """The frame with its CRC (benchlib's, shared with the benchmarks)."""
    return data + benchlib.crc16(data)


def ascii_frame(unit, pdu):
    body = bytes([unit]) + pdu
    lrc = (-sum(body)) & 0xFF
    return b":" + (body + bytes([lrc])).hex().upper().encode() + b"\r\n"


def mbap_frames(stream):
    while len(stream) >= 7:
        length = struct.unpack(">H", stream[4:6])[0]
        yield stream[6], bytes(stream[7:6 + length])
        stream = stream[6 + length:]


def modbus():
    sim, port = serve(["modbus-sim", "-a", "127.0.0.1:0", "40001-40200=7", "30001-30200=3", "1-64=1", "10001-10064=0"],
                      r"on 127\.0\.0\.1:(\d+)")
    proxy = Recorder(port)
    # The harness's requests, as mbpoll and pymodbus send them.
    for args in (["-t", "0", "-r", "1", "-c", "10"], ["-t", "1", "-r", "1", "-c", "16"], ["-t", "4", "-r", "1", "-c", "3"],
                 ["-t", "3", "-r", "1", "-c", "125"], ["-t", "0", "-r", "2", "1"], ["-t", "4", "-r", "3", "7"],
                 ["-t", "0", "-r", "1", "1", "0", "1"], ["-t", "4", "-r", "1", "1", "2"]):
        subprocess.run(["mbpoll", "-1", "-q", "-p", str(proxy.port)] + args + ["127.0.0.1"], capture_output=True)
    subprocess.run([sys.executable, "-c", PYMODBUS, str(proxy.port)], check=True)
    time.sleep(0.3)
    sim.terminate()
    sim.wait()
    for sent, answered in proxy.streams:
        seed("mbap-server", bytes(sent))
        for (unit, request), (_, reply) in zip(mbap_frames(sent), mbap_frames(answered)):
            seed("modbus-request", request)
            seed("rtu-slave", bytes([0, 0]) + crc16(bytes([1]) + request))
            seed("rtu-slave", bytes([5, 1]) + b"\x55\xff" + crc16(bytes([17]) + request) + crc16(bytes([2]) + request))
            seed("modbus-ascii", ascii_frame(unit, request))
            seed("modbus-ascii", ascii_frame(unit, reply))
            if request[0] in PICK:
                pick = bytes([PICK[request[0]]])
                seed("modbus-response", pick + reply)
                seed("rtu-master", pick + bytes([0, 0, 0]) + crc16(bytes([1]) + reply))
                seed("rtu-master", pick + bytes([0, 1, 7]) + b"\x00" + crc16(bytes([1]) + reply))


PYMODBUS = """
import sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
c.connect()
c.mask_write_register(address=1, and_mask=0xF0F0, or_mask=0x0F0F)
c.readwrite_registers(read_address=0, read_count=2, write_address=10, values=[5])
c.write_coil(1, True)
c.write_register(2, 7)
c.write_coils(0, [True, False, True])
c.write_registers(0, [1, 2])
for call in (lambda: c.read_device_information(read_code=1, object_id=0), c.report_device_id, c.read_exception_status,
             c.diag_get_comm_event_counter, lambda: c.diag_query_data(msg=b"\\x01\\x02")):
    try:
        call()
    except Exception as error:
        print("pymodbus:", error, file=sys.stderr)
c.close()
"""

TAGS = ["--struct", "Motor=Speed:REAL,Run:BOOL,Fault:BOOL,Counts:DINT[4],Name:STRING", "SCADA=INT[1000]", "Temp=REAL",
        "Grid=DINT[4,8]", "Flags=BOOL[64]", "Label=STRING", "Pump=Motor", "Pumps=Motor[3]"]


def enip():
    server, port = serve(["enip-server", "-a", "127.0.0.1:0"] + TAGS, r"127\.0\.0\.1:(\d+)")
    proxy = Recorder(port)
    peers = "Tests/EtherNetIPTests/Peers"
    for script in ("pycomm3_client.py", "pylogix_client.py"):
        subprocess.run([sys.executable, f"{peers}/{script}", str(proxy.port)], check=True, capture_output=True)
    time.sleep(0.3)
    server.terminate()
    server.wait()
    for sent, answered in proxy.streams:
        seed("enip-server", bytes(sent))
        for data in encapsulated(sent):
            cip_seeds(data, request=True)
        for data in encapsulated(answered):
            cip_seeds(data, request=False)


def encapsulated(stream):
    """The CPF bodies of SendRRData (0x6F) and SendUnitData (0x70) messages."""
    while len(stream) >= 24:
        command, length = struct.unpack("<HH", stream[:4])
        if command in (0x6F, 0x70):
            yield bytes(stream[24:24 + length])
        stream = stream[24 + length:]


def cip_seeds(cpf, request):
    seed("cpf", cpf)
    count = struct.unpack("<H", cpf[6:8])[0]
    offset, items = 8, []
    for _ in range(count):
        kind, length = struct.unpack("<HH", cpf[offset:offset + 4])
        items.append((kind, cpf[offset + 4:offset + 4 + length]))
        offset += 4 + length
    for kind, data in items:
        body = data[2:] if kind == 0xB1 else data if kind == 0xB2 else None
        if body is None:
            continue
        if not request:
            seed("cip-reply", body)
            if body[0] == 0x8A and body[2] == 0:
                seed("multiple-service-packet", body[4 + 2 * body[3]:])
            continue
        cip_request(body)


def cip_request(body):
    seed("logix-request", body)
    words = body[1]
    path, data = body[2:2 + 2 * words], body[2 + 2 * words:]
    seed("cip-path", path)
    if body[0] in (0x54, 0x5B):
        seed("forward-open", bytes([0 if body[0] == 0x54 else 1]) + data)
    elif body[0] == 0x0A:
        seed("multiple-service-packet", data)
    elif body[0] == 0x52 and len(data) > 4:
        inner = struct.unpack("<H", data[2:4])[0]
        cip_request(data[4:4 + inner])


# cpppo's README and our tests: operations, tag definitions, registers and faults.
TEXT = {
    "tag-operation": ["SCADA[1]", "SCADA[0-10]", "SCADA[1]=99", "SCADA[0-2]=(DINT)1,2,3", "Temp=(REAL)1.5", "Pump.Speed",
                      "Grid[1,2]", "SCADA*5", "SCADA[0-9]+4", "@1/1/7", "@1/1", "Label=(STRING)hello plant",
                      "Pumps[1].Name", "Flags[33]=(BOOL)1", "SCADA[1-3]=(INT)-1,0,32767", "@0x93/3/10=(REAL)2.5"],
    "tag-definition": ["SCADA=INT[1000]", "Temp=REAL", "Grid=DINT[4,8]", "Flags=BOOL[64]", "Label=STRING",
                       "Motor=Speed:REAL,Run:BOOL,Fault:BOOL,Counts:DINT[4],Name:STRING", "Program:Main.Count=DINT",
                       "Speed@0x93/3/10=REAL", "Cube=SINT[2,3,4]", "Big=LREAL[300]"],
    "register-spec": ["40001-40100=99", "1-16=1,0", "30001=0x1F", "10001-10010=1", "400001-465536=0", "40001-40003=1,2,3",
                      "delay:0.1-0.5", "corrupt:unit", "corrupt:crc", "drop:0.5", "40001"],
    "regex": ["\x00ab+", "\x00(ab+)((, *)(ab+))*", "\x00\\x01\\x03\\x04.{4}..", "\x01[a-z]+@[a-z]+\\.(com|org)",
              "\x00[^\\x00-\\x1f]*", "\x01(a|b)*abb", "\x00.{2,5}x?", "\x01\\d{3}-\\d{4}"],
}


def text():
    for target, examples in TEXT.items():
        for example in examples:
            seed(target, example.encode())
    with open("Benchmarks/regex-suite.txt") as suite:
        for line in suite:
            if line.strip() and not line.startswith("#"):
                seed("regex", b"\x01" + line.rstrip("\n").split("\t")[0].encode())
    seed("toml-configuration", open("etc/fieldgw.toml", "rb").read())
    # The configurations the tests write, good and bad (interpolations left as they are).
    for path in ("Tests/GatewayTests/ConfigurationTests.swift", "Tests/GatewayTests/GatewayCommandTests.swift"):
        for block in re.findall(r'"""\n(.*?)"""', open(path).read(), re.S):
            if "[" in block:
                seed("toml-configuration", "\n".join(line.strip() for line in block.splitlines()).encode())


for directory in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
    for name in os.listdir(f"{CORPUS}/{directory}"):
        if name.startswith("seed-"):
            os.remove(f"{CORPUS}/{directory}/{name}")
modbus()
enip()
text()
for target in sorted(os.listdir(CORPUS)):
    print(f"{target}: {len(os.listdir(f'{CORPUS}/{target}'))} seeds")
