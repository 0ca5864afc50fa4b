"""pymodbus's clients against a server of ours; prints one JSON object of what they saw.

usage: pymodbus_client.py tcp HOST PORT
       pymodbus_client.py rtu PATH BAUD        (unit 1, 8N1, as a pty allows)
The server must hold registers 0-9 = 0-9 and coils 0-7 on unit 1, nothing at 9000.
"""
import json
import sys

from pymodbus.client import ModbusSerialClient, ModbusTcpClient


def run(client):
    seen = {}
    seen["read"] = client.read_holding_registers(0, count=10, device_id=1).registers
    client.write_registers(2, [222, 333], device_id=1)
    seen["after_write"] = client.read_holding_registers(0, count=5, device_id=1).registers
    client.write_register(4, 444, device_id=1)
    seen["after_single"] = client.read_holding_registers(4, count=1, device_id=1).registers
    client.write_coils(0, [True, False, True], device_id=1)
    seen["coils"] = client.read_coils(0, count=3, device_id=1).bits[:3]
    missing = client.read_holding_registers(9000, count=2, device_id=1)
    seen["missing_exception"] = missing.exception_code if missing.isError() else None
    seen["pipelined"] = [client.read_holding_registers(i, count=1, device_id=1).registers[0] for i in range(5, 10)]
    return seen


if sys.argv[1] == "tcp":
    client = ModbusTcpClient(sys.argv[2], port=int(sys.argv[3]), timeout=3, retries=0)
else:
    client = ModbusSerialClient(sys.argv[2], baudrate=int(sys.argv[3]), bytesize=8, parity="N", stopbits=1, timeout=2, retries=1)
if not client.connect():
    sys.exit("could not connect")
print(json.dumps(run(client)))
client.close()
