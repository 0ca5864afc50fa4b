"""A pymodbus server for the interop tests: holding registers 0-99 hold 0-99
(FC3/FC6/FC16), coils 0-15 and input registers 0-9 (= 1000 + address).

usage: pymodbus_server.py tcp [PORT]       listens on 127.0.0.1, on PORT or a port of its own
       pymodbus_server.py rtu PATH BAUD    serves unit 1 on a serial device (8N1: a pty refuses
                                           parity through glibc's tcsetattr, so pyserial cannot set it)
       pymodbus_server.py ascii PATH BAUD  the same in Modbus ASCII
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
        port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
        server = ModbusTcpServer(context(), address=("127.0.0.1", port))
        await server.listen()
        port = server.transport.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
    else:
        path, baud = sys.argv[2], int(sys.argv[3])
        framer = FramerType.ASCII if kind == "ascii" else FramerType.RTU
        server = ModbusSerialServer(context(), framer=framer, port=path, baudrate=baud,
                                    bytesize=8, parity="N", stopbits=1)
        await server.listen()
        print(f"ready {path}", flush=True)
    await wait_for_stdin_to_close()
    await server.shutdown()


asyncio.run(main())
