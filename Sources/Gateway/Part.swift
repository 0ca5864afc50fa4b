import Logging
import ServiceLifecycle
import Synchronization

/// A value behind a lock, shared by reference (a `Mutex` cannot be captured).
public final class Guarded<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    /// A box holding `value`.
    public init(_ value: Value) { state = Mutex(value) }

    /// Runs `body` with the value, under the lock.
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try state.withLock { try body(&$0) }
    }
}

/// A value set once, that any number of tasks wait for.
public final class Latch<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    /// A latch not yet set.
    public init() {}

    /// Sets the value unless it was set already; later calls change nothing.
    public func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume(returning: value) }
    }

    /// The value, or nil while it is not set.
    public var value: Value? { state.withLock { $0.value } }

    /// The value, once it is set.
    public func wait() async -> Value {
        await withCheckedContinuation { continuation in
            let value = state.withLock { state in
                if state.value == nil { state.waiters.append(continuation) }
                return state.value
            }
            if let value { continuation.resume(returning: value) }
        }
    }
}

/// One part of the gateway (a line, a poller, a listener, the web server) as
/// a `Service`: `run` starts it, says so through `started`, and stops it on
/// the group's graceful shutdown, on cancellation, or when `retire()` is
/// called by a reload that removes it.
public final class Part: Service, Sendable, CustomStringConvertible {
    /// The part's name in logs and reload reports: "line a", "Modbus/TCP 0.0.0.0:502".
    public let name: String
    /// Whether it started, or why not.
    public let started = Latch<Result<Void, GatewayError>>()
    private let retired = Latch<Void>()
    private let body: @Sendable (Part) async throws -> Void

    /// The part's name.
    public var description: String { name }

    private init(_ name: String, running body: @escaping @Sendable (Part) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// A part that runs `body`, which calls `ready()` once it serves and
    /// returns on graceful shutdown (a Hummingbird application does both).
    public convenience init(_ name: String, body: @escaping @Sendable (_ ready: @escaping @Sendable () -> Void) async throws -> Void) {
        self.init(name, running: { part in try await body { part.started.set(.success(())) } })
    }

    /// A part that `start` starts and `stop` stops.
    public convenience init(_ name: String, start: @escaping @Sendable () async throws -> Void = {},
                            stop: @escaping @Sendable () async -> Void) {
        self.init(name, running: { part in
            try await start()
            part.started.set(.success(()))
            await part.untilStopped()
            await stop()
        })
    }

    /// Runs the part until it stops; a part that fails, or ends before it
    /// started, sets ``Part/started`` to why.
    public func run() async throws {
        do {
            try await body(self)
            started.set(.failure(GatewayError(reason: "\(name) ended before it started")))
        } catch {
            let failure = error as? GatewayError ?? GatewayError(reason: "\(name): \(error)")
            started.set(.failure(failure))
            throw failure
        }
    }

    /// Stops the part as the group's shutdown would, and ends its service.
    public func retire() { retired.set(()) }

    private func untilStopped() async {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await retired.wait()
            } onGracefulShutdown: { [retired] in
                retired.set(())
            }
        } onCancel: { [retired] in
            retired.set(())
        }
    }

    /// Waits until the part started; throws why it did not.
    public func ready() async throws(GatewayError) {
        try await started.wait().get()
    }
}

extension ServiceGroup {
    /// A group of parts of one kind, which a reload adds to and retires from.
    /// It is never empty (an empty group would end at once), and a part that
    /// ends or fails ends only itself: the gateway decides what that means.
    static func parts(_ kind: String, logger: Logger) -> ServiceGroup {
        let keeper = Part("\(kind) (the group's own)", stop: {})
        return ServiceGroup(configuration: ServiceGroupConfiguration(services: [Self.member(keeper)], logger: logger))
    }

    static func member(_ part: Part) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(service: part, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)
    }
}
