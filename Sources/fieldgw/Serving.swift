import Gateway
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals
import Web

/// How the simulators serve: their parts in one ServiceGroup that SIGTERM
/// and SIGINT shut down gracefully (a signal that came during start-up,
/// kept by `stop`, does too), optionally beside a web server for /metrics.
enum Serving {
    static func run(_ command: String, parts: [Part], web: (host: String, port: Int)?, registry: PrometheusCollectorRegistry,
                    stop: StopSignal, simulator: SimulatorAPI? = nil) async throws {
        let logger = Logger(label: "fieldgw.\(command)")
        var services: [any Service] = parts
        var server: WebServer?
        if let (host, port) = web {
            server = WebServer(settings: Configuration.Web(host: host, port: port), gateway: nil, metrics: registry, simulator: simulator,
                               logger: logger)
            services.append(server!.part())
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                                          logger: logger))
        stop.shutsDown(group)
        let announce = Task {
            guard let bound = await server?.bound.wait() else { return }
            Console.say("\(command): metrics on http://\(bound.host):\(bound.port)/metrics")
            if simulator != nil { Console.say("\(command): web API on http://\(bound.host):\(bound.port)/api") }
        }
        defer { announce.cancel() }
        do {
            try await group.run()
        } catch {
            throw CommandFailure("\(error)", status: CommandFailure.unavailable)
        }
    }
}
