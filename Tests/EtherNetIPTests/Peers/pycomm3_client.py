"""pycomm3's LogixDriver with its full connect (identity, program name, tag
list, structure templates) against a server on 127.0.0.1:PORT holding the
tags of ENIPInteropTests.startTagServer: prints what it saw as JSON."""
import json
import sys

from pycomm3 import LogixDriver

with LogixDriver(f"127.0.0.1:{sys.argv[1]}") as plc:
    seen = {"name": plc.info["name"], "product": plc.info["product_name"], "tags": sorted(plc.tags),
            "types": sorted(plc.data_types)}
    written = plc.write(("SCADA[5]", 7), ("Temp", 3.25), ("Grid[2,3]", -5), ("Flags[33]", True),
                        ("Label", "hello plant"), ("Pump.Counts[2]", 77), ("Pumps[1].Name", "second"),
                        ("Pumps[2]", {"Speed": 1.5, "Run": False, "Fault": True, "Counts": [1, 2, 3, 4], "Name": "x"}))
    seen["write_errors"] = [tag.error for tag in written]
    seen["read"] = [tag.value for tag in plc.read("SCADA[5]", "Temp", "Grid[2,3]", "Flags[33]", "Flags[32]", "Label",
                                                   "Pump.Counts[2]", "Pumps[1].Name", "Pumps[2]")]
    plc.write("SCADA[999]", 6)
    array = plc.read("SCADA{1000}").value
    seen["array"] = [len(array), array[5], array[999]]
    seen["missing"] = plc.read("Nope").error is not None
    print(json.dumps(seen))
