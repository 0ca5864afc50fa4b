"""Reads an Electronic Data Sheet with eds-pie, which parses it and checks
every entry against its library of CIP EDS keywords and field types, and
prints what the test compares: the device's entries, each assembly's size,
each connection's name, trigger and parameters words and path. Exits 1 when
eds-pie cannot parse the sheet or finds anything wrong in it.

    eds_check.py FILE.eds
"""
import logging
import sys

from eds_pie.eds_pie import CIP_EDS

# eds-pie logs everything at DEBUG on import; keep only what it finds wrong.
problems = []


class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            problems.append(record.getMessage())


root = logging.getLogger()
for handler in list(root.handlers):
    root.removeHandler(handler)
root.addHandler(Collect())
root.setLevel(logging.INFO)

try:
    eds = CIP_EDS(open(sys.argv[1], encoding="ascii").read())
except Exception as error:  # a sheet it cannot parse
    print(f"ERROR {type(error).__name__}: {error}")
    sys.exit(1)

for key in ("VendCode", "ProdType", "ProdCode", "MajRev", "MinRev", "ProdName"):
    print(f"{key}={eds.get_value('Device', key)}")
number = 1
while eds.has_entry("Connection Manager", f"Connection{number}"):
    name = f"Connection{number}"
    fields = [eds.get_value("Connection Manager", name, index) for index in (12, 0, 1, 14)]
    print(f"{name}={fields[0]}|{fields[1]:#010x}|{fields[2]:#010x}|{fields[3]}")
    number += 1
for instance in range(1, 65536):
    if eds.has_entry("Assembly", f"Assem{instance}"):
        print(f"Assem{instance}={eds.get_value('Assembly', f'Assem{instance}', 2)}")
for problem in problems:
    print(f"ERROR {problem}")
sys.exit(1 if problems else 0)
