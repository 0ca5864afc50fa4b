"""Plugs and unplugs fake adapters under `fieldgw discover --watch --json`.

Run under umockdev-wrapper (which preloads libumockdev so that libudev in
both processes sees the testbed): creates a testbed holding one FT232R,
starts the watcher, waits for it to report that adapter (so it is listening),
then unplugs it and plugs it in again elsewhere (another USB port, another
node), each with its uevent. Prints every event line the watcher
printed, then stops it.

usage: umockdev-wrapper python3 hotplug.py FIELDGW MODE FIXTURES_DIR
"""
import os
import select
import subprocess
import sys

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

fieldgw, mode, fixtures = sys.argv[1:4]
TTY0 = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/ttyUSB0/tty/ttyUSB0"
TTY9 = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-6/1-6:1.0/ttyUSB9/tty/ttyUSB9"


def record(name):
    with open(os.path.join(fixtures, name)) as file:
        return file.read()


def next_line(process, timeout=10.0):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise SystemExit(f"no event from the watcher within {timeout} s")
    line = process.stdout.readline()
    if not line:
        raise SystemExit("the watcher ended: " + process.stderr.read())
    print(line.strip(), flush=True)


testbed = UMockdev.Testbed.new()
testbed.add_from_string(record("ft232r.umockdev"))
arguments = [fieldgw, "discover", "--watch", "--json", "--monitor", mode, "--rescan-interval", "0.1"]
watcher = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    next_line(watcher)  # the adapter already present: the watcher is listening now
    testbed.uevent(TTY0, "remove")
    testbed.remove_device(TTY0)
    # udevd removes an unplugged device's links; umockdev leaves them behind.
    links = os.path.join(testbed.get_root_dir(), "dev/serial")
    for folder, _, names in os.walk(links):
        for name in names:
            os.unlink(os.path.join(folder, name))
    next_line(watcher)
    testbed.add_from_string(record("ft232r-replugged.umockdev"))
    testbed.uevent(TTY9, "add")
    next_line(watcher)
finally:
    watcher.terminate()
    watcher.wait(timeout=10)
    sys.stderr.write(watcher.stderr.read())
