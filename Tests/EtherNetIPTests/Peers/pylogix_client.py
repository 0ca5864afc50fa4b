"""pylogix against a server on 127.0.0.1:PORT holding SCADA=INT[1000],
Temp=REAL, Grid=DINT[4,8], Flags=BOOL[64]: prints what it saw as JSON."""
import json
import sys

from pylogix import PLC

with PLC() as plc:
    plc.IPAddress, plc.Port = "127.0.0.1", int(sys.argv[1])
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
    tags = plc.GetTagList()
    seen["tags"] = sorted([tag.TagName, tag.DataType, tag.Array] for tag in tags.Value)
    seen["missing"] = plc.Read("Nope").Status
    print(json.dumps(seen))
