"""What the benchmark scripts share: a free port, a Mosquitto of their own,
Modbus's CRC and a line's limit, and how a figure over rounds is told (median, and range)."""
import os
import statistics
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mosquitto(directory):
    """A Mosquitto on a free loopback port, with no queue limit: (process, port)."""
    port = free_port()
    config = os.path.join(directory, "mosquitto.conf")
    with open(config, "w") as out:
        out.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nmax_queued_messages 0\n")
    process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return listening(process, port, "mosquitto")


def cpu_seconds(pid):
    """User and system time of a process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listening(process, port, name, seconds=10):
    """(process, port) once something accepts on 127.0.0.1:port; the process killed and the run ended if not in time."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{name} did not listen")


def crc16(data):
    """Modbus RTU's CRC of `data`, low byte first, as it follows a frame."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def line_limit(baud, request_bytes, reply_bytes):
    """Transactions/s a line can carry at most: both frames' characters (8N1:
    10 bits each) and two t3.5 silences (1.75 ms each above 19200 baud)."""
    character = 10 / baud
    t35 = 0.00175 if baud > 19200 else 3.5 * character
    return 1 / ((request_bytes + reply_bytes) * character + 2 * t35)


def spread(values, form="{:,.1f}"):
    """'median (low-high)' of a figure over rounds: floors are judged on the median."""
    return f"{form.format(statistics.median(values))} ({form.format(min(values))}-{form.format(max(values))})"
