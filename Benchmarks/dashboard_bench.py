"""A gateway idling with the dashboard open: its CPU time over a window,
beside the same gateway with no page open (both poll one slave once a
second, on a socat pty pair with fieldgw's RTU simulator as the slave).
Floor: under 1% of a core with the dashboard open.

usage: dashboard_bench.py RELEASE_DIR [SECONDS]
"""
import os
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

import benchlib


def wait_for(process, prefix):
    for line in process.stdout:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise RuntimeError(f"no line starting {prefix!r}")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def measure(pid, seconds):
    before, start = benchlib.cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (benchlib.cpu_seconds(pid) - before) / (time.monotonic() - start)


def main():
    release_dir = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    fieldgw = os.path.join(release_dir, "fieldgw")
    with tempfile.TemporaryDirectory() as directory:
        adapter, device = os.path.join(directory, "adapter"), os.path.join(directory, "device")
        socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={adapter}", f"pty,raw,echo=0,link={device}"])
        while not (os.path.exists(adapter) and os.path.exists(device)):
            time.sleep(0.05)
        slave = subprocess.Popen([fieldgw, "modbus-sim", "-a", device, "--unit", "1", "40001-40010=7"], stdout=subprocess.DEVNULL)
        config = os.path.join(directory, "gateway.toml")
        with open(config, "w") as file:
            file.write(f'[web]\nbind = "127.0.0.1:0"\n[[line]]\nname = "idle"\nadapter = "{adapter}"\n'
                       '[[route]]\nunits = "1"\nline = "idle"\n[[listener]]\nbind = "127.0.0.1:0"\n[enip]\nbind = "127.0.0.1:0"\n'
                       '[[device]]\ntag = "Tank"\nline = "idle"\nslave = 1\nperiod_s = 1.0\n'
                       + "".join(f'[[device.member]]\nname = "R{n}"\nregister = "{40000 + n}"\n' for n in range(1, 11)))
        gateway = subprocess.Popen([fieldgw, "gateway", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            url = wait_for(gateway, "gateway: dashboard on ").split(" ")[0]
            time.sleep(3)
            closed = measure(gateway.pid, seconds)
            driver = browser()
            try:
                driver.get(url)
                time.sleep(3)
                opened = measure(gateway.pid, seconds)
            finally:
                driver.quit()
        finally:
            for process in (gateway, slave, socat):
                process.terminate()
                process.wait()
    print(f"gateway idling (one slave polled once a second), CPU over {seconds:.0f} s:")
    print(f"  no page open:        {closed:.2f}% of a core")
    print(f"  dashboard open:      {opened:.2f}% of a core (floor: under 1%)")
    if opened >= 1:
        print(f"FLOOR MISSED: the gateway with the dashboard open used {opened:.2f}% of a core: floor 1%")
        sys.exit(1)


main()
