import Foundation
import Synchronization

/// The controller's wall clock (class 0x8B, instance 1), as pylogix and
/// pycomm3 read and set it: attribute 6 is UTC and 0x0B local time, both in
/// microseconds since 1970 (ULINT); 0x0A is the DST flag. Setting the clock
/// moves an offset from this machine's clock, which is never touched.
public final class WallClock: Sendable {
    private struct State {
        var offset: Int64 = 0
        var dst: UInt8 = 0
    }

    static let getAttributeList: UInt8 = 0x03
    static let setAttributeList: UInt8 = 0x04
    private let state = Mutex(State())

    /// A clock that reads this machine's, until a client sets it.
    public init() {}

    /// Microseconds since 1970 by this clock.
    public var now: Int64 {
        Int64(Date().timeIntervalSince1970 * 1_000_000) + state.withLock { $0.offset }
    }

    /// A list whose reply would not fit `limit` is refused whole with 0x11
    /// (found by fuzzing: repeated attributes drew a reply of any size).
    func serve(_ request: CIPRequest, limit: Int) throws(CIPStatus) -> CIPReply {
        guard request.path.segments.count == 2, request.path.segments[1] == .instance(1) else { throw .pathDestinationUnknown }
        var reader = WireReader(request.data)
        let count = Int(try reader.u16())
        var out: [UInt8] = []
        out.append16(UInt16(count))
        var failed = false
        for _ in 0..<count {
            let id = try reader.u16()
            out.append16(id)
            let ok = request.service == Self.getAttributeList ? get(id, into: &out) : try set(id, from: &reader, into: &out)
            failed = failed || !ok
            guard 4 + out.count <= limit else { throw .replyTooLarge }
        }
        switch request.service {
        case Self.getAttributeList, Self.setAttributeList:
            return CIPReply(service: request.service, status: failed ? CIPStatus(0x0A) : .success, data: out)
        default:
            throw .serviceNotSupported
        }
    }

    private func get(_ id: UInt16, into out: inout [UInt8]) -> Bool {
        switch id {
        case 6, 0x0B:
            out.append16(0)
            out.append64(UInt64(bitPattern: now))
        case 0x0A:
            out.append16(0)
            out.append(state.withLock { $0.dst })
        default:
            out.append16(UInt16(CIPStatus.attributeNotSupported.general))
            return false
        }
        return true
    }

    /// An unknown attribute's value has no known size: the rest cannot be read.
    private func set(_ id: UInt16, from reader: inout WireReader, into out: inout [UInt8]) throws(CIPStatus) -> Bool {
        switch id {
        case 6, 0x0B:
            let low = UInt64(try reader.u32())
            let micros = Int64(bitPattern: low | UInt64(try reader.u32()) << 32)
            // 1970 to 3000: anything else is no time, and would overflow the offset (found by fuzzing).
            guard (0...32_503_680_000_000_000).contains(micros) else {
                out.append16(UInt16(CIPStatus.invalidAttributeValue.general))
                throw .invalidAttributeValue
            }
            let system = Int64(Date().timeIntervalSince1970 * 1_000_000)
            state.withLock { $0.offset = micros - system }
        case 0x0A:
            let dst = try reader.u8()
            state.withLock { $0.dst = dst }
        default:
            out.append16(UInt16(CIPStatus.attributeNotSupported.general))
            throw .attributeNotSupported
        }
        out.append16(0)
        return true
    }
}
