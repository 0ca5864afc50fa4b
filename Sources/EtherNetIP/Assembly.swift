import Synchronization

/// One instance of the Assembly object (class 0x04): a block of bytes that a
/// Class 1 I/O connection exchanges whole every RPI, and that Get and Set
/// Attribute Single read and write as attribute 3.
///
/// An input assembly (device to PLC) is produced: its bytes come from
/// `read` when one is given (the gateway's poll cache), else from what was
/// last stored. An output assembly (PLC to device) is consumed: the owner's
/// data is stored and `written` hears of each change, as it does of the
/// action taken when the owner goes to Idle or stops sending.
public final class Assembly: Sendable {
    /// Which way its bytes go.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        /// Device to PLC: produced on T→O.
        case input
        /// PLC to device: consumed from O→T.
        case output
        /// Sent once with the Forward Open: the device's settings.
        case configuration
    }

    /// What an output assembly does when its owner goes to Idle or its
    /// connection times out.
    public enum Action: Sendable, Hashable {
        /// The outputs keep their last values.
        case hold
        /// The outputs take these bytes (the assembly's whole size).
        case safe([UInt8])
    }

    /// The instance number connection paths and attribute paths name.
    public let instance: UInt32
    /// Input, output or configuration.
    public let role: Role
    /// Its size in bytes, as every connection to it must carry.
    public let size: Int
    /// What an output takes when its owner goes to Idle.
    public let onIdle: Action
    /// What an output takes when its connection times out.
    public let onTimeout: Action
    private let stored: Mutex<[UInt8]>
    private let read: (@Sendable () -> [UInt8])?
    private let written: (@Sendable ([UInt8]) -> Void)?
    private let hooks = Mutex(Hooks())

    private struct Hooks {
        /// The I/O exchange producing this input, told of each change.
        var wake: (@Sendable (UInt32) -> Void)?
        /// Run when the assembly is freed: whatever watches the input's sources stops.
        var release: (@Sendable () -> Void)?
    }

    /// An assembly of `size` zero bytes. `read` supplies an input's bytes
    /// each time they are produced; `written` hears each change of an
    /// output's (or configuration's) bytes, the actions' included.
    public init(instance: UInt32, role: Role, size: Int, onIdle: Action = .hold, onTimeout: Action = .hold,
                read: (@Sendable () -> [UInt8])? = nil, written: (@Sendable ([UInt8]) -> Void)? = nil) {
        self.instance = instance
        self.role = role
        self.size = size
        self.onIdle = onIdle
        self.onTimeout = onTimeout
        self.read = read
        self.written = written
        stored = Mutex([UInt8](repeating: 0, count: size))
    }

    deinit { hooks.withLock { $0.release }?() }

    /// Its bytes now: an input's from `read` (cut or padded to `size`), else the last stored.
    public var bytes: [UInt8] {
        guard let read else { return stored.withLock { $0 } }
        let fresh = read()
        return fresh.count == size ? fresh : Array((fresh + [UInt8](repeating: 0, count: size)).prefix(size))
    }

    /// Stores `data` (exactly `size` bytes); `written` hears of it when it differs from before.
    public func store(_ data: [UInt8]) {
        precondition(data.count == size, "assembly \(instance) holds \(size) bytes, not \(data.count)")
        let changed = stored.withLock { old in
            defer { old = data }
            return old != data
        }
        guard changed else { return }
        written?(data)
        self.changed()
    }

    /// Says that an input's bytes may have changed, so change-of-state
    /// connections produce it now rather than at their next RPI. `store`
    /// says so itself; an input with `read` is told by whoever feeds it
    /// (the gateway, after each poll of its slaves).
    public func changed() {
        hooks.withLock { $0.wake }?(instance)
    }

    /// Runs `release` when the assembly is freed (to stop watching what `read` reads).
    public func onRelease(_ release: @escaping @Sendable () -> Void) {
        hooks.withLock { $0.release = release }
    }

    /// The exchange producing this input hears of its changes through `wake` (nil: nobody).
    func wake(_ wake: (@Sendable (UInt32) -> Void)?) {
        hooks.withLock { $0.wake = wake }
    }

    /// Carries out `action` (an owner gone Idle, or silent).
    func apply(_ action: Action) {
        if case .safe(let bytes) = action { store(bytes) }
    }
}

/// The assemblies a server offers, by instance, and the two heartbeat
/// connection points that input-only and listen-only connections name as
/// their O→T point.
public struct AssemblySet: Sendable {
    /// The assemblies, by instance number.
    public let assemblies: [UInt32: Assembly]
    /// The O→T point of an input-only connection (no outputs; 198 by custom).
    public let inputOnlyHeartbeat: UInt32
    /// The O→T point of a listen-only connection (199 by custom).
    public let listenOnlyHeartbeat: UInt32

    /// The set of `assemblies`; two with one instance number are a programming error.
    public init(_ assemblies: [Assembly], inputOnlyHeartbeat: UInt32 = 198, listenOnlyHeartbeat: UInt32 = 199) {
        self.assemblies = Dictionary(assemblies.map { ($0.instance, $0) }, uniquingKeysWith: { first, _ in
            preconditionFailure("assembly \(first.instance) is defined twice")
        })
        self.inputOnlyHeartbeat = inputOnlyHeartbeat
        self.listenOnlyHeartbeat = listenOnlyHeartbeat
    }

    static let getAttributeSingle: UInt8 = 0x0E
    static let setAttributeSingle: UInt8 = 0x10

    /// Get and Set Attribute Single on `20 04 24 INSTANCE 30 ATTRIBUTE`:
    /// attribute 3 is the data, 4 its size. An input's data is the
    /// device's and is not set here (0x0E).
    func serve(_ request: CIPRequest) throws(CIPStatus) -> CIPReply {
        let segments = request.path.segments
        guard segments.count == 3, case .instance(let instance) = segments[1], case .attribute(let attribute) = segments[2] else {
            throw segments.count < 2 ? .pathDestinationUnknown : .pathSegmentError
        }
        guard let assembly = assemblies[instance] else { throw .pathDestinationUnknown }
        switch (request.service, attribute) {
        case (Self.getAttributeSingle, 3):
            return CIPReply(service: request.service, data: assembly.bytes)
        case (Self.getAttributeSingle, 4):
            var size: [UInt8] = []
            size.append16(UInt16(assembly.size))
            return CIPReply(service: request.service, data: size)
        case (Self.setAttributeSingle, 3):
            guard assembly.role != .input else { throw .attributeNotSettable }
            guard request.data.count >= assembly.size else { throw .notEnoughData }
            guard request.data.count == assembly.size else { throw .tooMuchData }
            assembly.store(request.data)
            return CIPReply(service: request.service)
        case (Self.setAttributeSingle, 4):
            throw .attributeNotSettable
        case (Self.getAttributeSingle, _), (Self.setAttributeSingle, _):
            throw .attributeNotSupported
        default:
            throw .serviceNotSupported
        }
    }
}
