import ArgumentParser
import Dispatch
import Foundation
import Gateway
import Logging
import Metrics
import NIOPosix
import Prometheus
import ServiceLifecycle
import Sparkplug
import Synchronization
import UnixSignals
import Web

#if canImport(Glibc)
import Glibc
#endif

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the gateway: serial lines on Modbus/TCP, as the configuration file says.",
        discussion: """
            etc/fieldgw.toml documents every key. A bad file is reported with its key and \
            reason, and nothing starts. SIGTERM or SIGINT closes the listeners, lets each \
            line finish the transaction in flight, and exits 0. SIGHUP (or `fieldgw reload`) \
            reads the file again and applies what changed. With --check it reads the \
            file, says what it would start, and exits (0, or 78 with the key and reason).
            """
    )

    @Option(name: [.short, .long], help: "The configuration file.")
    var config = "/etc/fieldgw/fieldgw.toml"

    @Flag(help: "Check the configuration file and exit: nothing is opened or started.")
    var check = false

    func run() async throws {
        if check { return try CommandFailure.reporting("gateway") { try checkConfiguration() } }
        try await CommandFailure.reporting("gateway") { try await serve() }
    }

    /// `--check`: the file read as `serve` reads it, and what it would start.
    private func checkConfiguration() throws {
        let configuration = try Console.configuration(file: config)
        for line in configuration.lines {
            Console.say("gateway: line \(line.name) on \(line.remote.map { "\($0.host):\($0.port)" } ?? line.adapter.description)")
        }
        for listener in configuration.listeners {
            Console.say("gateway: Modbus/TCP on \(listener.host):\(listener.port)\(listener.readOnly ? " (read-only)" : "")")
        }
        if let enip = configuration.enip {
            Console.say("gateway: EtherNet/IP on \(enip.host):\(enip.port) (device tags: \(configuration.devices.count))")
            if !configuration.assemblies.isEmpty {
                let io = enip.ioSocket
                let list = configuration.assemblies.map { "\($0.instance) \($0.role.rawValue) \($0.size) bytes" }.joined(separator: ", ")
                Console.say("gateway: EtherNet/IP I/O on \(io.host):\(io.port) (assemblies: \(list))")
            }
        }
        if let web = configuration.web { Console.say("gateway: web on \(web.host):\(web.port)") }
        let counts = "lines \(configuration.lines.count), polls \(configuration.polls.count), serial slaves \(configuration.serialSlaves.count)"
        Console.say("gateway: \(config) is good: \(counts)")
    }

    private func serve() async throws {
        // Listening from before start-up: a SIGTERM while the lines open is not lost, a SIGHUP does not kill.
        let stop = await StopSignal()
        let hangUps = await UnixSignalsSequence(trapping: .sighup)
        let configuration = try Console.configuration(file: config)
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fieldgw.gateway")
        let registry = PrometheusCollectorRegistry.bootstrapped()
        let web = Latch<WebServer>()
        let service: GatewayService
        do {
            service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger,
                                                     metrics: registry, signals: [.sigterm, .sigint]) { [config] service in
                var parts = configuration.mqtt.map { [EdgeNode.part($0, gateway: service, logger: logger)] } ?? []
                if let history = configuration.history { parts.append(GatewayHistorian.part(history, gateway: service, logger: logger)) }
                guard let settings = configuration.web else { return parts }
                let server = WebServer(settings: settings, gateway: service, metrics: registry, reload: {
                    do throws(ConfigurationError) { return .success(try await service.reload(file: config)) } catch { return .failure(error) }
                }, logger: logger)
                web.set(server)
                parts.append(server.part())
                return parts
            }
        } catch {
            // A signal during start-up stops it: that is no failure.
            if let signal = stop.came {
                logger.notice("\(signal) during start-up, stopped")
                return Console.say("gateway: stopped")
            }
            throw CommandFailure("\(error)", status: CommandFailure.unavailable)
        }
        introduce(service, configuration, web: web.value)
        let reloader = Task { [config] in
            for await _ in hangUps {
                logger.notice("SIGHUP: reading \(config) again")
                _ = try? await service.reload(file: config)
            }
        }
        defer { reloader.cancel() }
        stop.shutsDown(service.group, logger: logger)
        do {
            try await service.wait()
        } catch {
            throw CommandFailure("\(error)", status: CommandFailure.unavailable)
        }
        Console.say("gateway: stopped")
    }

    private func introduce(_ service: GatewayService, _ configuration: Configuration, web: WebServer?) {
        for (name, bus) in service.buses.sorted(by: { $0.key < $1.key }) {
            if let reason = bus.downReason {
                Console.say("gateway: line \(name) is down: \(reason); waiting for it")
            } else {
                Console.say("gateway: line \(name) on \(service.paths[name] ?? "?")")
            }
        }
        for server in service.servers {
            Console.say("gateway: Modbus/TCP on \(server.localAddress.ipAddress ?? "?"):\(server.port)")
        }
        if let enip = service.enipServer {
            let why = configuration.enipBindIsDefault ? " (no [enip] bind given: on the Modbus/TCP listeners' address, or loopback)" : ""
            Console.say("gateway: EtherNet/IP on \(enip.localAddress?.ipAddress ?? "?"):\(enip.port)\(why)")
        }
        if let bound = web?.bound.value {
            let address = "http://\(bound.host):\(bound.port)"
            Console.say("gateway: dashboard on \(address)/ (JSON API under /api)")
            Console.say("gateway: status on \(address)/status")
            Console.say("gateway: metrics on \(address)/metrics")
        }
        if let mqtt = configuration.mqtt {
            let brokers = mqtt.brokers.map { "\($0.tls ? "mqtts" : "mqtt")://\($0.host):\($0.port)" }.joined(separator: ", ")
            let name = mqtt.mode == .sparkplug ? "Sparkplug B edge node \(mqtt.groupID)/\(mqtt.edgeNodeID)" : "JSON publisher fieldgw/\(mqtt.edgeNodeID)"
            Console.say("gateway: \(name) on \(brokers)")
        }
        if let history = configuration.history {
            Console.say("gateway: history in \(history.path)")
        }
        Console.say("gateway: running as pid \(getpid()); SIGHUP or `fieldgw reload` reads \(config) again")
    }
}

/// SIGTERM or SIGINT (swift-service-lifecycle's `UnixSignalsSequence`),
/// caught from the moment it is made: a signal that comes before `wait`,
/// during start-up, is kept, not lost. The signals are unblocked first: a
/// process started by another may inherit a mask that blocks them.
final class StopSignal: Sendable {
    private let arrival = Latch<String>()
    private let listener: Task<Void, Never>

    init(_ signals: [UnixSignal] = [.sigterm, .sigint]) async {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal.rawValue) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let sequence = await UnixSignalsSequence(trapping: signals)
        listener = Task { [arrival] in
            for await signal in sequence { arrival.set("\(signal)") }
        }
    }

    deinit { listener.cancel() }

    /// The name of the signal that came (at once if one came already).
    func wait() async -> String { await arrival.wait() }

    /// The signal that came, if one did.
    var came: String? { arrival.value }

    /// Stops as a signal would (the web API's `server/control/done/true`).
    func trigger(_ reason: String) { arrival.set(reason) }

    /// Shuts `group` down gracefully when the signal comes (said in the log when given one).
    func shutsDown(_ group: ServiceGroup, logger: Logger? = nil) {
        Task {
            let signal = await wait()
            logger?.notice("\(signal), stopping")
            await group.triggerGracefulShutdown()
        }
    }
}

extension PrometheusCollectorRegistry {
    /// A registry that every swift-metrics figure of the process goes to,
    /// for `/metrics` to serve. Bootstrapping can happen once a process.
    static func bootstrapped() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}

extension Console {
    /// The configuration in `file`; a bad one fails the command with exit status 78 and the file, key and reason.
    static func configuration(file: String) throws -> Configuration {
        do {
            return try Configuration(file: file)
        } catch {
            throw CommandFailure(error.description, status: CommandFailure.configuration)
        }
    }
}
