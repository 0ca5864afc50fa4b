"""A pymodbus server for the interop tests: holding registers 0-99 hold 0-99
(FC3/FC6/FC16), coils 0-15 and input registers 0-9 (= 1000 + address).

usage: pymodbus_server.py tcp            listens on 127.0.0.1, a port of its own
       pymodbus_server.py rtu PATH BAUD  serves unit 1 on a serial device (8N1: a pty refuses
                                         parity through glibc's tcsetattr, so pyserial cannot set it)
Prints "ready PORT" (or "ready PATH") once serving; stops when stdin closes.
"""
import asyncio
import sys

from pymodbus import FramerType
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusSerialServer, ModbusTcpServer


def context():
    # pymodbus's blocks count from 1 internally: address N of the PDU is index N + 1.
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [0] * 16),
        di=ModbusSequentialDataBlock(1, [0] * 16),
        hr=ModbusSequentialDataBlock(1, list(range(100))),
        ir=ModbusSequentialDataBlock(1, [1000 + i for i in range(10)]),
    )
    return ModbusServerContext(devices={1: device}, single=False)


async def wait_for_stdin_to_close():
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


async def main():
    kind = sys.argv[1]
    if kind == "tcp":
        server = ModbusTcpServer(context(), address=("127.0.0.1", 0))
        await server.listen()
        port = server.transport.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
    else:
        path, baud = sys.argv[2], int(sys.argv[3])
        server = ModbusSerialServer(context(), framer=FramerType.RTU, port=path, baudrate=baud,
                                    bytesize=8, parity="N", stopbits=1)
        await server.listen()
        print(f"ready {path}", flush=True)
    await wait_for_stdin_to_close()
    await server.shutdown()


asyncio.run(main())
