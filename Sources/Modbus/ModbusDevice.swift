import Synchronization

/// A Modbus server's behaviour for one unit: answers requests from a
/// `DataStore` (which several units may share) and its identity.
public final class ModbusDevice: Sendable {
    /// The unit's data; other devices may share it.
    public let store: DataStore
    /// FC43/14 objects: 0 vendor name, 1 product code, 2 revision, 3 vendor URL, 4 product name, 5 model name…
    public let identification: [UInt8: String]
    /// FC17's server id bytes.
    public let serverID: [UInt8]
    /// FC11's event counter: successful requests, as the spec counts them.
    private let events = Atomic<UInt16>(0)

    /// A device answering from `store`; the defaults identify it as fieldgw's
    /// simulator.
    public init(store: DataStore = DataStore(),
                identification: [UInt8: String] = [0: "fieldgw", 1: "FGW-SIM", 2: "1.0"],
                serverID: [UInt8] = Array("fieldgw".utf8)) {
        self.store = store
        self.identification = identification
        self.serverID = serverID
    }

    /// The reply to `request`: data, or the exception the spec prescribes.
    public func respond(to request: Request) -> Response {
        do {
            let response = try serve(request)
            // The counter wraps at 65536, as a 16-bit counter on a device does.
            if case .getCommEventCounter = request {} else { events.wrappingAdd(1, ordering: .relaxed) }
            return response
        } catch {
            return .exception(ModbusException(function: request.function.rawValue, code: error.code))
        }
    }

    private func serve(_ request: Request) throws(ModbusException) -> Response {
        switch request {
        case .readCoils(let address, let count):
            return .bits(try store.read(.coils, address: address, count: Int(count)).map { $0 != 0 })
        case .readDiscreteInputs(let address, let count):
            return .bits(try store.read(.discreteInputs, address: address, count: Int(count)).map { $0 != 0 })
        case .readHoldingRegisters(let address, let count):
            return .registers(try store.read(.holdingRegisters, address: address, count: Int(count)))
        case .readInputRegisters(let address, let count):
            return .registers(try store.read(.inputRegisters, address: address, count: Int(count)))
        case .writeSingleCoil(let address, let value):
            try store.write(.coils, address: address, values: [value ? 1 : 0])
            return .writeSingleCoil(address: address, value: value)
        case .writeSingleRegister(let address, let value):
            try store.write(.holdingRegisters, address: address, values: [value])
            return .writeSingleRegister(address: address, value: value)
        case .writeMultipleCoils(let address, let values):
            try store.write(.coils, address: address, values: values.map { $0 ? 1 : 0 })
            return .writeMultiple(address: address, count: UInt16(values.count))
        case .writeMultipleRegisters(let address, let values):
            try store.write(.holdingRegisters, address: address, values: values)
            return .writeMultiple(address: address, count: UInt16(values.count))
        case .maskWriteRegister(let address, let andMask, let orMask):
            let current = try store.read(.holdingRegisters, address: address, count: 1)[0]
            try store.write(.holdingRegisters, address: address, values: [(current & andMask) | (orMask & ~andMask)])
            return .maskWriteRegister(address: address, andMask: andMask, orMask: orMask)
        case .readWriteMultipleRegisters(let readAddress, let readCount, let writeAddress, let values):
            // The spec performs the write before the read.
            try store.write(.holdingRegisters, address: writeAddress, values: values)
            return .registers(try store.read(.holdingRegisters, address: readAddress, count: Int(readCount)))
        case .readExceptionStatus:
            return .exceptionStatus(0)
        case .diagnostics(let subfunction, let data):
            guard subfunction == 0 else { throw ModbusException(function: 8, code: .illegalFunction) }
            return .diagnostics(subfunction: 0, data: data)
        case .getCommEventCounter:
            return .commEventCounter(status: 0, count: events.load(ordering: .relaxed))
        case .reportServerID:
            return .serverID(id: serverID, running: true)
        case .readDeviceIdentification(let category, let objectID):
            return .deviceIdentification(try identify(category: category, from: objectID))
        }
    }

    /// FC43/14: the objects of a category from `objectID` on, or one object (category 4).
    private func identify(category: UInt8, from objectID: UInt8) throws(ModbusException) -> DeviceIdentification {
        let level: UInt8 = identification.keys.contains { $0 >= 0x80 } ? 3 : identification.keys.contains { $0 >= 3 } ? 2 : 1
        let conformity = 0x80 | level
        if category == 4 {
            guard let value = identification[objectID] else { throw ModbusException(function: 0x2B, code: .illegalDataAddress) }
            return DeviceIdentification(category: 4, conformity: conformity, objects: [.init(id: objectID, value: Array(value.utf8))])
        }
        guard category <= level else { throw ModbusException(function: 0x2B, code: .illegalDataAddress) }
        let range: ClosedRange<UInt8> = switch category { case 1: 0...2; case 2: 0...0x7F; default: 0...0xFF }
        // A first object outside the category restarts it, as the spec says.
        let start = range.contains(objectID) && identification[objectID] != nil ? objectID : range.lowerBound
        let ids = identification.keys.filter { range.contains($0) && $0 >= start }.sorted()
        var objects: [DeviceIdentification.Object] = []
        var size = 8
        for id in ids {
            let value = Array(identification[id]!.utf8.prefix(240))
            guard size + 2 + value.count <= Limits.pduBytes else {
                return DeviceIdentification(category: category, conformity: conformity, moreFollows: true, nextObjectID: id, objects: objects)
            }
            size += 2 + value.count
            objects.append(.init(id: id, value: value))
        }
        return DeviceIdentification(category: category, conformity: conformity, objects: objects)
    }
}

/// Which device answers which unit id; units without their own device get the fallback, if any.
public struct UnitMap: Sendable {
    /// The device of each unit id.
    public var devices: [UInt8: ModbusDevice]
    /// The device that answers a unit with none of its own, over Modbus/TCP; an
    /// RTU slave answers only the units of ``UnitMap/devices``.
    public var fallback: ModbusDevice?

    /// A map of `devices`, and the `fallback` for the other units.
    public init(devices: [UInt8: ModbusDevice] = [:], fallback: ModbusDevice? = nil) {
        self.devices = devices
        self.fallback = fallback
    }

    /// The device that answers `unit`: its own, else the fallback.
    public func device(for unit: UInt8) -> ModbusDevice? { devices[unit] ?? fallback }

    /// The units an RTU slave answers (a fallback answers none on a shared bus).
    public var units: Set<UInt8> { Set(devices.keys) }
}
