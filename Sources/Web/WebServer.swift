import Foundation
import Gateway
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The gateway's web server on Hummingbird: the dashboard at `/`, the JSON
/// API under `/api`, a live stream for the dashboard (`/api/stream`,
/// Server-Sent Events), `/metrics` for Prometheus and `/status` for
/// `fieldgw status`. Without a gateway (the simulators) it serves `/metrics`.
public struct WebServer: Sendable {
    public let settings: Configuration.Web
    public let gateway: GatewayService?
    public let metrics: PrometheusCollectorRegistry?
    /// What `POST /api/reload` does (re-read the configuration file).
    public let reload: (@Sendable () async -> Result<ReloadReport, ConfigurationError>)?
    public let logger: Logger
    /// A simulator's cpppo-style `api/...` (enip-server, modbus-sim).
    public let simulator: SimulatorAPI?
    /// The address it listens on, once it does ("127.0.0.1:8502").
    public let bound = Latch<(host: String, port: Int)>()
    let history = History()
    let closing = Latch<Void>()

    public init(settings: Configuration.Web, gateway: GatewayService?, metrics: PrometheusCollectorRegistry?,
                reload: (@Sendable () async -> Result<ReloadReport, ConfigurationError>)? = nil, simulator: SimulatorAPI? = nil,
                logger: Logger) {
        self.settings = settings
        self.simulator = simulator
        self.gateway = gateway
        self.metrics = metrics
        self.reload = reload
        self.logger = logger
    }

    /// The server as a part of a service group: it serves until the group's
    /// graceful shutdown, and samples the lines for the dashboard's chart.
    public func part() -> Part {
        Part("web \(settings.host):\(settings.port)") { ready in
            try await serve(ready: ready)
        }
    }

    private func serve(ready: @escaping @Sendable () -> Void) async throws {
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "fieldgw", reuseAddress: true),
            onServerRunning: { [bound] channel in
                bound.set((settings.host, channel.localAddress?.port ?? settings.port))
                ready()
            },
            logger: logger
        )
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { tasks in
                tasks.addTask { await sample() }
                tasks.addTask {
                    do {
                        try await application.run()
                    } catch {
                        throw GatewayError(reason: "the web server cannot listen on \(settings.host):\(settings.port): \(SocketFailure.reason(of: error))")
                    }
                    closing.set(())
                }
            }
        } onGracefulShutdown: { [closing] in
            closing.set(())
        }
    }

    /// A sample of every line each `History.interval`, until the server closes.
    private func sample() async {
        guard let gateway else { return }
        while closing.value == nil {
            history.record(gateway.status)
            await closing.wait(for: History.interval)
        }
    }

    func router() -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        router.add(middleware: Access(settings: settings))
        router.get("/metrics") { _, _ in try metricsPage() }
        if gateway != nil { addGatewayRoutes(router) }
        simulator?.addRoutes(router)
        return router
    }

    private func metricsPage() throws -> Response {
        guard let metrics else { throw HTTPError(.notFound, message: "no metrics here") }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: MetricsHelp.render(metrics))))
    }
}

extension Latch where Value == Void {
    /// Returns when set, or after `duration` (looking every quarter second:
    /// a wait on the latch itself could not be abandoned).
    func wait(for duration: Duration) async {
        let end = ContinuousClock.now + duration
        while value == nil && ContinuousClock.now < end {
            try? await Task.sleep(for: min(.milliseconds(250), end - ContinuousClock.now))
        }
    }
}
