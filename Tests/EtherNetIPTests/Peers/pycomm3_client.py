"""pycomm3's LogixDriver with its full connect (identity, program name, tag
list) against a server on 127.0.0.1:PORT holding SCADA=INT[1000], Temp=REAL,
Grid=DINT[4,8], Flags=BOOL[64]: prints what it saw as JSON."""
import json
import sys

from pycomm3 import LogixDriver

with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
    seen = {"name": plc.info["name"], "product": plc.info["product_name"], "tags": sorted(plc.tags)}
    written = plc.write(("SCADA[5]", 7), ("Temp", 3.25), ("Grid[2,3]", -5), ("Flags[33]", True))
    seen["write_errors"] = [tag.error for tag in written]
    seen["read"] = [tag.value for tag in plc.read("SCADA[5]", "Temp", "Grid[2,3]", "Flags[33]", "Flags[32]")]
    plc.write("SCADA[999]", 6)
    array = plc.read("SCADA{1000}").value
    seen["array"] = [len(array), array[5], array[999]]
    seen["missing"] = plc.read("Nope").error is not None
    print(json.dumps(seen))
