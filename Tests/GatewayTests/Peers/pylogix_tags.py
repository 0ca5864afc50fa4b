"""pylogix reading and writing the gateway's device tags (see
GatewayTagTests): prints what it saw as JSON. With "stale", waits until a
read of Boiler.Level fails and prints its status."""
import json
import sys
import time

from pylogix import PLC

with PLC() as plc:
    plc.IPAddress, plc.Port = "127.0.0.1", int(sys.argv[1])
    deadline = time.time() + 30
    if sys.argv[2:] == ["stale"]:
        while time.time() < deadline and plc.Read("Boiler.Level").Status == "Success":
            time.sleep(0.1)
        print(json.dumps(plc.Read("Boiler.Level").Status))
        sys.exit(0)
    while time.time() < deadline and plc.Read("Boiler.Level").Status != "Success":
        time.sleep(0.1)
    seen = {"first": [plc.Read(f"Boiler.{name}").Value for name in ("Level", "Flow", "Temp", "Setpoint", "Pump")]}
    seen["writes"] = [plc.Write("Boiler.Setpoint", 21.5).Status, plc.Write("Boiler.Pump", True).Status,
                      plc.Write("Boiler.Flow", -2).Status]
    seen["after"] = [plc.Read(f"Boiler.{name}").Value for name in ("Setpoint", "Pump", "Flow")]
    seen["read_only"] = plc.Write("Boiler.Temp", 1.0).Status
    seen["never_polled"] = plc.Read("Far.Missing").Status
    tags = plc.GetTagList()
    seen["tags"] = sorted([tag.TagName, tag.DataType] for tag in tags.Value)
    print(json.dumps(seen))
