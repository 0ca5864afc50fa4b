"""Serial Modbus/RTU masters for the serial slave face tests: minimalmodbus
and pymodbus, one after the other, on one serial device (19200 8N1).

usage: serial_masters.py PATH
Each reads holding registers 0-4 of unit 1, writes 555 to register 10 and
reads it back, then reads unit 2 (routed to a device that is not there).
Prints one JSON object: {"minimalmodbus": {...}, "pymodbus": {...}}, where
"absent" says what unit 2 gave: "silence" or "exception".
"""
import json
import sys

import minimalmodbus
from pymodbus.client import ModbusSerialClient


def with_minimalmodbus(path):
    seen = {}
    unit1 = minimalmodbus.Instrument(path, 1)
    unit1.serial.baudrate, unit1.serial.parity, unit1.serial.timeout = 19200, "N", 3.0
    seen["read"] = unit1.read_registers(0, 5)
    unit1.write_register(10, 555, functioncode=6)
    seen["after_write"] = unit1.read_register(10)
    unit2 = minimalmodbus.Instrument(path, 2)
    unit2.serial.timeout = 1.0
    try:
        unit2.read_register(0)
        seen["absent"] = "answered"
    except minimalmodbus.NoResponseError:
        seen["absent"] = "silence"
    except minimalmodbus.SlaveReportedException:
        seen["absent"] = "exception"
    unit1.serial.close()
    return seen


def with_pymodbus(path):
    seen = {}
    client = ModbusSerialClient(port=path, baudrate=19200, parity="N", bytesize=8, stopbits=1, timeout=3, retries=0)
    client.connect()
    seen["read"] = client.read_holding_registers(0, count=5, device_id=1).registers
    client.write_register(10, 556, device_id=1)
    seen["after_write"] = client.read_holding_registers(10, count=1, device_id=1).registers[0]
    client.comm_params.timeout_connect = 1
    try:
        reply = client.read_holding_registers(0, count=1, device_id=2)
        seen["absent"] = "exception" if reply.isError() else "answered"
    except Exception:  # pymodbus raises ModbusIOException when nothing comes
        seen["absent"] = "silence"
    client.close()
    return seen


path = sys.argv[1]
print(json.dumps({"minimalmodbus": with_minimalmodbus(path), "pymodbus": with_pymodbus(path)}), flush=True)
