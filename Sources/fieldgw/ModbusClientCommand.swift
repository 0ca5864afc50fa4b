import ArgumentParser
import Foundation
import Modbus
import NIOPosix
import Serial

struct ModbusClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modbus-client",
        abstract: "Read and write Modbus registers over Modbus/TCP or a serial line (RTU or ASCII; local, or over TCP to a device server).",
        discussion: """
            Each OPERATION reads (BEGIN[-END]) or writes (BEGIN[-END]=VALUE[,VALUE...]) with \
            modbus-sim's addresses and values. A read prints one line per address, \
            "ADDRESS = VALUE"; a write prints what was written. An exception or a timeout \
            is printed and makes the exit status 1. \
            Example: fieldgw modbus-client -a 127.0.0.1:1502 40001-40005 40010=7,8 1-4
            """
    )

    @Option(name: [.short, .long], help: "HOST[:PORT] of a Modbus/TCP server (port 502 unless given), or a serial device path for RTU.")
    var address = "127.0.0.1:502"

    @Option(name: .long, help: "Talk Modbus/RTU on this serial device instead of TCP.")
    var rtu: String?

    @Option(name: .long, help: ArgumentHelp("Talk raw RTU frames over TCP to a serial device server (ser2net, a Moxa NPort) at HOST:PORT.", valueName: "HOST:PORT"))
    var rtuOverTcp: String?

    @Flag(name: .long, help: "Modbus ASCII instead of RTU on the serial device (or over TCP).")
    var ascii = false

    @Option(name: .long, help: "Unit id (slave address).")
    var unit: UInt8 = 1

    @Option(name: .long, help: "Seconds to wait for each reply.")
    var timeout = 1.0

    @OptionGroup(title: "Serial line (RTU)")
    var serial: SerialOptions

    @Argument(help: "Operations, e.g. 40001-40010 or 40001=5,6.")
    var operations: [String]

    func run() async throws {
        let requests = try operations.map { text in
            do { return try Operation(parsing: text) } catch let error as RegisterSpecError { throw ValidationError(error.description) }
        }
        let send = try await transport()
        var failed = false
        for operation in requests {
            do {
                let response = try await send(operation.request)
                if case .exception(let exception) = response {
                    failed = true
                    print("\(operation.text): exception \(exception.code)")
                } else {
                    print(operation.describe(response))
                }
            } catch {
                failed = true
                print("\(operation.text): \(error)")
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// A function that sends one request to the unit and returns its reply.
    private func transport() async throws -> (Request) async throws -> Response {
        let unit = unit
        if let port = try serialPort() {
            let wait = Duration.milliseconds(Int(timeout * 1000))
            let master: any SerialMaster = ascii ? ASCIIMaster(port: port, slaveTimeout: wait) : RTUMaster(port: port, slaveTimeout: wait)
            return { request in
                guard let response = try master.send(request, unit: unit) else { throw ModbusError(.timeout, "sent as a broadcast (unit 0), which no slave answers") }
                return response
            }
        }
        if ascii { throw ValidationError("--ascii needs a serial device (--rtu) or --rtu-over-tcp") }
        let (host, port) = try Console.endpoint(address)
        let client = try await ModbusTCPClient.connect(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton,
                                                       timeout: .milliseconds(Int64(timeout * 1000)))
        return { request in try await client.send(request, unit: unit) }
    }
}

extension ModbusClientCommand {
    /// The serial line the frames go on: a device, or a device server's TCP port; nil for Modbus/TCP.
    private func serialPort() throws -> SerialPort? {
        if let rtuOverTcp {
            let (host, port) = try Console.endpoint(rtuOverTcp, option: "--rtu-over-tcp")
            return try SerialPort(connectingTo: host, port: port, settings: serial.settings, timeout: .milliseconds(Int(timeout * 1000)))
        }
        guard let path = rtu ?? (address.hasPrefix("/") ? address : nil) else { return nil }
        return try SerialPort(path: path, settings: serial.settings)
    }
}

/// One read or write, in the register syntax of modbus-sim.
struct Operation {
    let text: String
    let spec: RegisterSpec
    let isWrite: Bool

    init(parsing text: String) throws {
        self.text = text
        spec = try RegisterSpec(parsing: text)
        isWrite = text.contains("=")
        if isWrite && !(spec.start.table == .coils || spec.start.table == .holdingRegisters) {
            throw ValidationError("\"\(text)\": only coils and holding registers can be written")
        }
    }

    var request: Request {
        let (address, values) = (spec.start.offset, spec.values)
        let count = UInt16(values.count)
        switch (spec.start.table, isWrite) {
        case (.coils, false): return .readCoils(address: address, count: count)
        case (.discreteInputs, _): return .readDiscreteInputs(address: address, count: count)
        case (.inputRegisters, _): return .readInputRegisters(address: address, count: count)
        case (.holdingRegisters, false): return .readHoldingRegisters(address: address, count: count)
        case (.coils, true) where count == 1: return .writeSingleCoil(address: address, value: values[0] != 0)
        case (.coils, true): return .writeMultipleCoils(address: address, values: values.map { $0 != 0 })
        case (.holdingRegisters, true) where count == 1: return .writeSingleRegister(address: address, value: values[0])
        case (.holdingRegisters, true): return .writeMultipleRegisters(address: address, values: values)
        }
    }

    /// "ADDRESS = VALUE" per value read, or what was written.
    func describe(_ response: Response) -> String {
        guard !isWrite else { return "\(text): written" }
        let values: [UInt16] = switch response {
        case .bits(let bits): bits.map { $0 ? 1 : 0 }
        case .registers(let registers): registers
        default: []
        }
        return values.enumerated().map { index, value in
            "\(ModbusAddress(table: spec.start.table, offset: spec.start.offset &+ UInt16(index))) = \(value)"
        }.joined(separator: "\n")
    }
}
