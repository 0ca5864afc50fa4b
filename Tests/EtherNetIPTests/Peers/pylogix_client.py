"""pylogix against a server on 127.0.0.1:PORT holding the tags of
ENIPInteropTests.startTagServer: prints what it saw as JSON. With
"discover", only discovers (a broadcast to PORT) and prints what answered."""
import datetime
import json
import sys

from pylogix import PLC

with PLC() as plc:
    plc.IPAddress, plc.Port = "127.0.0.1", int(sys.argv[1])
    if sys.argv[2:] == ["discover"]:
        found = plc.Discover()
        print(json.dumps(sorted({(d.IPAddress, d.ProductName, d.Revision) for d in found.Value})))
        sys.exit(0)
    seen = {}
    seen["write"] = plc.Write("SCADA[3]", 99).Status
    seen["read"] = plc.Read("SCADA[3]").Value
    seen["range"] = plc.Read("SCADA[0]", 5).Value
    plc.Write("Temp", 21.5)
    seen["real"] = plc.Read("Temp").Value
    plc.Write("Grid[1,2]", -123456)
    seen["grid"] = plc.Read("Grid[1,2]").Value
    # A read bigger than one unconnected reply: pylogix follows 0x06 with 0x52 fragments.
    plc.Write("SCADA[999]", 5)
    whole = plc.Read("SCADA[0]", 1000).Value
    seen["whole"] = [len(whole), whole[3], whole[999]]
    plc.Write("Label", "from pylogix")
    plc.Write("Pump.Speed", 12.5)
    plc.Write("Pump.Run", True)
    plc.Write("Pumps[1].Name", "second")
    seen["structure"] = [plc.Read(name).Value for name in ("Label", "Pump.Speed", "Pump.Run", "Pump.Fault", "Pumps[1].Name")]
    tags = plc.GetTagList()
    seen["tags"] = sorted([tag.TagName, tag.DataType, tag.Array] for tag in tags.Value)
    seen["missing"] = plc.Read("Nope").Status
    plc.SetPLCTime()
    clock = plc.GetPLCTime().Value
    seen["clock_skew_s"] = abs((clock - datetime.datetime.utcnow()).total_seconds())
    print(json.dumps(seen))
