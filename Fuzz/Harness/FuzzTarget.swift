/// Every decoder that reads bytes or text from outside, by name. Each run
/// checks what must hold of its result (a decoded frame re-encodes to the
/// same bytes, a delivered RTU frame has a good CRC, a reply fits its
/// protocol's limit); a broken invariant stops the run as a crash would.
enum FuzzTarget: String, CaseIterable {
    case mbapServer = "mbap-server"
    case modbusRequest = "modbus-request"
    case modbusResponse = "modbus-response"
    case rtuMaster = "rtu-master"
    case rtuSlave = "rtu-slave"
    case modbusASCII = "modbus-ascii"
    case enipServer = "enip-server"
    case cpf
    case cipPath = "cip-path"
    case cipReply = "cip-reply"
    case multipleServicePacket = "multiple-service-packet"
    case forwardOpen = "forward-open"
    case ioPacket = "io-packet"
    case logixRequest = "logix-request"
    case tagOperation = "tag-operation"
    case tagDefinition = "tag-definition"
    case registerSpec = "register-spec"
    case tomlConfiguration = "toml-configuration"
    case regex
    case mqttClient = "mqtt-client"
    case historyLine = "history-line"
    case tzif

    func run(_ bytes: [UInt8]) {
        switch self {
        case .mbapServer: ModbusTargets.mbapServer(bytes)
        case .modbusRequest: ModbusTargets.request(bytes)
        case .modbusResponse: ModbusTargets.response(bytes)
        case .rtuMaster: ModbusTargets.rtuMaster(bytes)
        case .rtuSlave: ModbusTargets.rtuSlave(bytes)
        case .modbusASCII: ModbusTargets.ascii(bytes)
        case .enipServer: ENIPTargets.server(bytes)
        case .cpf: ENIPTargets.commonPacket(bytes)
        case .cipPath: ENIPTargets.path(bytes)
        case .cipReply: ENIPTargets.reply(bytes)
        case .multipleServicePacket: ENIPTargets.multipleServicePacket(bytes)
        case .forwardOpen: ENIPTargets.forwardOpen(bytes)
        case .ioPacket: ENIPTargets.ioPacket(bytes)
        case .logixRequest: ENIPTargets.logixRequest(bytes)
        case .mqttClient: MQTTTargets.client(bytes)
        case .tagOperation: TextTargets.tagOperation(bytes)
        case .tagDefinition: TextTargets.tagDefinition(bytes)
        case .registerSpec: TextTargets.registerSpec(bytes)
        case .tomlConfiguration: TextTargets.configuration(bytes)
        case .regex: TextTargets.regex(bytes)
        case .historyLine: HistoryTargets.line(bytes)
        case .tzif: HistoryTargets.tzif(bytes)
        }
    }
}

/// A broken invariant: stops the run, so that libFuzzer keeps the input.
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(what())") }
}
