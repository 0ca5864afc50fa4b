"""Writes the umockdev records of the discovery tests: python3 make_fixtures.py Tests/DiscoveryTests/Fixtures.

Each function builds the sysfs records of one device, as `umockdev-record` would
print them for real hardware: the tty, its usb-serial port, the USB interface
and the USB device, with udev's ID_* properties and links where udevd would
have run (the CH340 is left without them, to exercise the sysfs fallback).
"""
PCI = "/devices/pci0000:00/0000:00:14.0"

def usb_device(port, vid, pid, manufacturer, product, serial, devnum):
    lines = [f"P: {PCI}/usb1/1-{port}", f"N: bus/usb/001/{devnum:03d}", "E: DEVTYPE=usb_device", "E: DRIVER=usb",
             "E: SUBSYSTEM=usb", f"E: PRODUCT={int(vid,16):x}/{int(pid,16):x}/600", f"A: idVendor={vid}", f"A: idProduct={pid}",
             f"A: manufacturer={manufacturer}", f"A: product={product}"]
    if serial: lines.append(f"A: serial={serial}")
    lines += ["A: busnum=1", f"A: devnum={devnum}", "L: driver=../../../../bus/usb/drivers/usb"]
    return "\n".join(lines)

def interface(port, number, driver):
    return "\n".join([f"P: {PCI}/usb1/1-{port}/1-{port}:1.{number}", "E: DEVTYPE=usb_interface", f"E: DRIVER={driver}",
                      "E: SUBSYSTEM=usb", f"A: bInterfaceNumber={number:02x}", "A: bInterfaceClass=ff",
                      f"L: driver=../../../../../bus/usb/drivers/{driver}"])

def usb_serial(port, number, tty, driver, latency):
    lines = [f"P: {PCI}/usb1/1-{port}/1-{port}:1.{number}/{tty}", f"E: DRIVER={driver}", "E: SUBSYSTEM=usb-serial",
             "A: port_number=0", f"L: driver=../../../../../../bus/usb-serial/drivers/{driver}"]
    if latency: lines.insert(3, "A: latency_timer=16")
    return "\n".join(lines)

def tty(parent, name, major, minor, udev):
    """udev: dict of ID_* properties and links, or None for a device udevd never saw."""
    lines = [f"P: {parent}/tty/{name}", f"N: {name}", f"L: device=../../../{parent.split('/')[-1]}"]
    if udev:
        lines += [f"S: {link}" for link in udev["links"]]
        lines.append("E: DEVLINKS=" + " ".join("/dev/" + link for link in udev["links"]))
    lines += [f"E: DEVNAME=/dev/{name}", f"E: MAJOR={major}", f"E: MINOR={minor}", "E: SUBSYSTEM=tty"]
    if udev:
        lines += [f"E: {key}={value}" for key, value in udev["properties"].items()]
    lines.append(f"A: dev={major}:{minor}")
    return "\n".join(lines)

def ftdi_udev(port, number, pid, model, serial):
    path = f"pci-0000:00:14.0-usb-0:{port}:1.{number}"
    by_id = f"usb-FTDI_{model}_{serial}-if{number:02d}-port0"
    return {"links": [f"serial/by-id/{by_id}", f"serial/by-path/{path}-port0"],
            "properties": {"ID_BUS": "usb", "ID_VENDOR_ID": "0403", "ID_MODEL_ID": pid, "ID_VENDOR": "FTDI",
                           "ID_MODEL": model, "ID_SERIAL": f"FTDI_{model}_{serial}", "ID_SERIAL_SHORT": serial,
                           "ID_USB_INTERFACE_NUM": f"{number:02d}", "ID_USB_DRIVER": "ftdi_sio", "ID_PATH": path}}

def ft232r(port="2", serial="AH06W0EQ", tty_name="ttyUSB0", minor=0, devnum=2):
    parent = f"{PCI}/usb1/1-{port}/1-{port}:1.0/{tty_name}"
    return [tty(parent, tty_name, 188, minor, ftdi_udev(port, 0, "6001", "FT232R_USB_UART", serial)),
            usb_serial(port, 0, tty_name, "ftdi_sio", True), interface(port, 0, "ftdi_sio"),
            usb_device(port, "0403", "6001", "FTDI", "FT232R USB UART", serial, devnum)]

def ch340(port="3", tty_name="ttyUSB4", minor=4, devnum=3):
    # Plugged where udevd never ran: no ID_* properties and no links, only sysfs.
    parent = f"{PCI}/usb1/1-{port}/1-{port}:1.0/{tty_name}"
    return [tty(parent, tty_name, 188, minor, None), usb_serial(port, 0, tty_name, "ch341-uart", False),
            interface(port, 0, "ch341"), usb_device(port, "1a86", "7523", "QinHeng", "USB Serial", None, devnum)]

def ft4232h(port="4", serial="FT4XK9Q1", devnum=4):
    records = []
    for number in range(4):
        name = f"ttyUSB{number + 5}"
        parent = f"{PCI}/usb1/1-{port}/1-{port}:1.{number}/{name}"
        records += [tty(parent, name, 188, number + 5, ftdi_udev(port, number, "6011", "Quad_RS232-HS", serial)),
                    usb_serial(port, number, name, "ftdi_sio", True), interface(port, number, "ftdi_sio")]
    return records + [usb_device(port, "0403", "6011", "FTDI", "Quad RS232-HS", serial, devnum)]

def cdc_acm(port="5", devnum=5):
    path = f"pci-0000:00:14.0-usb-0:{port}:1.0"
    parent = f"{PCI}/usb1/1-{port}/1-{port}:1.0"
    udev = {"links": ["serial/by-id/usb-Arduino__www.arduino.cc__0043_75833353035351F0E0A1-if00", f"serial/by-path/{path}"],
            "properties": {"ID_BUS": "usb", "ID_VENDOR_ID": "2341", "ID_MODEL_ID": "0043", "ID_VENDOR": "Arduino__www.arduino.cc_",
                           "ID_MODEL": "0043", "ID_SERIAL_SHORT": "75833353035351F0E0A1", "ID_USB_INTERFACE_NUM": "00",
                           "ID_USB_DRIVER": "cdc_acm", "ID_PATH": path}}
    return [tty(parent, "ttyACM0", 166, 0, udev), interface(port, 0, "cdc_acm"),
            usb_device(port, "2341", "0043", "Arduino (www.arduino.cc)", "Arduino Uno", "75833353035351F0E0A1", devnum)]

def platform_uarts():
    base = "/devices/platform/serial8250"
    real = "\n".join([f"P: {base}/tty/ttyS0", "N: ttyS0", "L: device=../../../serial8250", "E: DEVNAME=/dev/ttyS0",
                      "E: MAJOR=4", "E: MINOR=64", "E: SUBSYSTEM=tty", "A: type=4", "A: dev=4:64"])
    phantom = "\n".join([f"P: {base}/tty/ttyS1", "N: ttyS1", "L: device=../../../serial8250", "E: DEVNAME=/dev/ttyS1",
                         "E: MAJOR=4", "E: MINOR=65", "E: SUBSYSTEM=tty", "A: type=0", "A: dev=4:65"])
    platform = "\n".join([f"P: {base}", "E: DRIVER=serial8250", "E: SUBSYSTEM=platform", "L: driver=../../../bus/platform/drivers/serial8250"])
    virtual = "\n".join(["P: /devices/virtual/tty/tty0", "N: tty0", "E: DEVNAME=/dev/tty0", "E: MAJOR=4", "E: MINOR=0",
                         "E: SUBSYSTEM=tty", "A: dev=4:0"])
    return [real, phantom, platform, virtual]

def controller():
    # The xHCI controller and its root hub, which udev's path_id walks up to.
    hub = "\n".join([f"P: {PCI}/usb1", "N: bus/usb/001/001", "E: DEVTYPE=usb_device", "E: DRIVER=usb", "E: SUBSYSTEM=usb",
                     "A: idVendor=1d6b", "A: idProduct=0002", "A: busnum=1", "A: devnum=1",
                     "L: driver=../../../../bus/usb/drivers/usb"])
    pci = "\n".join([f"P: {PCI}", "E: DRIVER=xhci_hcd", "E: PCI_SLOT_NAME=0000:00:14.0", "E: SUBSYSTEM=pci",
                     "A: vendor=0x8086", "A: device=0xa36d", "L: driver=../../../bus/pci/drivers/xhci_hcd"])
    return [hub, pci]

def write(name, records):
    with open(name, "w") as out:
        out.write("\n\n".join(records) + "\n")

import sys
folder = sys.argv[1]
write(f"{folder}/adapters.umockdev", ft232r() + ch340() + ft4232h() + cdc_acm() + platform_uarts() + controller())
write(f"{folder}/ft232r.umockdev", ft232r() + controller())
write(f"{folder}/ft232r-replugged.umockdev", ft232r(port="6", tty_name="ttyUSB9", minor=9, devnum=9))
