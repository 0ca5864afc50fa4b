import EtherNetIP

/// The Electronic Data Sheet of a configuration's assemblies: what Studio
/// 5000's EDS wizard or RSLinx imports to know the gateway as an I/O
/// adapter. Sections [File], [Device], [Device Classification], [Params]
/// (the RPI, and one parameter per status byte and member), [Assembly] and
/// [Connection Manager] (an exclusive owner per output, and input-only and
/// listen-only connections per input), as CIP Vol. 1, chapter 7, lays them out.
public enum EDS {
    /// The sheet's text; `date` ("MM-DD-YYYY") and `time` ("HH:MM:SS") stamp it.
    public static func text(for configuration: Configuration, date: String, time: String) -> String {
        let identity = configuration.enip?.identity ?? Configuration.defaultIdentity
        var parameters = ["Param1 = 0,,,0x0000,0xC8,4,\"RPI\",\"microseconds\",\"Requested packet interval\",1000,10000000,10000,,,,,,,,,;"]
        var assemblies: [String] = []
        for assembly in configuration.assemblies {
            assemblies.append(entry(assembly, parameters: &parameters))
        }
        return """
            $ Electronic Data Sheet of a fieldgw gateway, written by `fieldgw eds`.
            [File]
                    DescText = "fieldgw serial gateway";
                    CreateDate = \(date);
                    CreateTime = \(time);
                    ModDate = \(date);
                    ModTime = \(time);
                    Revision = 1.0;

            [Device]
                    VendCode = \(identity.vendor);
                    VendName = "fieldgw";
                    ProdType = \(identity.deviceType);
                    ProdTypeStr = "\(typeName(identity.deviceType))";
                    ProdCode = \(identity.productCode);
                    MajRev = \(identity.revision.major);
                    MinRev = \(identity.revision.minor);
                    ProdName = "\(identity.productName)";
                    Catalog = "fieldgw";

            [Device Classification]
                    Class1 = EtherNetIP;

            [Params]
            \(parameters.map { "        " + $0 }.joined(separator: "\n"))

            [Assembly]
                    Object_Name = "Assembly Object";
                    Object_Class_Code = 0x04;
            \(assemblies.map { "        " + $0 }.joined(separator: "\n"))

            [Connection Manager]
                    Object_Name = "Connection Manager Object";
                    Object_Class_Code = 0x06;
            \(connections(configuration.assemblies).map { "        " + $0 }.joined(separator: "\n"))

            """
    }

    /// `AssemN = "Name", "", SIZE, DESCRIPTOR, , , BITS,ParamN, ...;` with a parameter for each status byte and member.
    private static func entry(_ assembly: Configuration.IOAssembly, parameters: inout [String]) -> String {
        var members: [String] = []
        func parameter(_ name: String, code: Int, size: Int) {
            parameters.append("Param\(parameters.count + 1) = 0,,,0x0000,0x\(String(code, radix: 16, uppercase: true)),\(size),\"\(name)\",\"\",\"\",,,0,,,,,,,,,;")
            members.append("\(size * 8),Param\(parameters.count)")
        }
        if assembly.role == .input {
            for index in 0..<(assembly.slaves.count + 7) / 8 { parameter("Status\(index)", code: 0xD1, size: 1) }
        }
        for member in assembly.members {
            parameter("\(member.register.name)", code: Int(member.register.type.rawValue), size: member.register.type.size)
        }
        let name = assembly.role.rawValue.prefix(1).uppercased() + assembly.role.rawValue.dropFirst()
        // Descriptor bit 0: the assembly may be written (outputs and configuration).
        let descriptor = assembly.role == .input ? "0x0000" : "0x0001"
        let fields = ["\"\(name) \(assembly.instance)\"", "\"\"", "\(assembly.size)", descriptor, "", ""] + members
        return "Assem\(assembly.instance) = " + fields.joined(separator: ", ") + ";"
    }

    /// The connections a PLC may open: for each input, an exclusive owner
    /// with each output, input only (O→T heartbeat 198) and listen only (199).
    private static func connections(_ assemblies: [Configuration.IOAssembly]) -> [String] {
        let inputs = assemblies.filter { $0.role == .input }, outputs = assemblies.filter { $0.role == .output }
        let configuration = assemblies.first { $0.role == .configuration }
        let config = configuration.map { "Assem\($0.instance)" } ?? ""
        // With no configuration assembly the path names instance 1, which the server does not check.
        let instance = segment(0x24, configuration?.instance ?? 1)
        var lines: [String] = []
        func connection(_ trigger: String, _ parameters: String, out: String, input: Configuration.IOAssembly, name: String, outPoint: UInt32) {
            let path = "20 04 \(instance) \(segment(0x2C, outPoint)) \(segment(0x2C, input.instance))"
            lines.append("""
                Connection\(lines.count + 1) = \(trigger), \(parameters), Param1,\(out.isEmpty ? "0" : ""),\(out), Param1,,Assem\(input.instance), ,, ,\(config), "\(name)", "", "\(path)";
                """)
        }
        for input in inputs {
            // Word 1: class 1, cyclic and change of state; bit 26 exclusive owner, 25 input only, 24 listen only.
            // Word 2: fixed sizes, O→T 32-bit run/idle header (4) or heartbeat (3), T→O modeless; O→T point-to-point,
            // T→O point-to-point or multicast (bits 21-22); scheduled.
            for output in outputs {
                connection("0x04030002", "0x44640405", out: "Assem\(output.instance)", input: input,
                           name: "Exclusive Owner \(output.instance)/\(input.instance)", outPoint: output.instance)
            }
            connection("0x02030002", "0x44640305", out: "", input: input, name: "Input Only \(input.instance)", outPoint: 198)
            connection("0x01030002", "0x44640305", out: "", input: input, name: "Listen Only \(input.instance)", outPoint: 199)
        }
        return lines
    }

    /// A logical segment in hex: `24 97`, or its 16-bit form `25 00 2C 01` past 255.
    private static func segment(_ kind: UInt8, _ value: UInt32) -> String {
        func byte(_ value: UInt32) -> String {
            let digits = String(value & 0xFF, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }
        guard value > 0xFF else { return "\(byte(UInt32(kind))) \(byte(value))" }
        return "\(byte(UInt32(kind | 1))) 00 \(byte(value)) \(byte(value >> 8))"
    }

    private static func typeName(_ type: UInt16) -> String {
        switch type {
        case 0x0C: "Communications Adapter"
        case 0x0E: "Programmable Logic Controller"
        case 0x2B: "Generic Device (keyable)"
        default: "Device type \(type)"
        }
    }
}
