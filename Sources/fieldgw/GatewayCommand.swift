import ArgumentParser
import Dispatch
import Foundation
import Gateway
import Logging
import NIOPosix
import Synchronization

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
            line finish the transaction in flight, and exits 0.
            """
    )

    @Option(name: [.short, .long], help: "The configuration file.")
    var config = "/etc/fieldgw/fieldgw.toml"

    func run() async throws {
        let configuration: Configuration
        do {
            configuration = try Configuration(file: config)
        } catch {
            throw ValidationError(error.description)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fieldgw.gateway")
        let stop = StopSignal()
        let service = try await GatewayService.start(configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        for (name, path) in service.paths.sorted(by: { $0.key < $1.key }) { ModbusSimCommand.say("gateway: line \(name) on \(path)") }
        for server in service.servers {
            ModbusSimCommand.say("gateway: Modbus/TCP on \(server.localAddress.ipAddress ?? "?"):\(server.port)")
        }
        if let enip = service.enipServer {
            ModbusSimCommand.say("gateway: EtherNet/IP on \(enip.channel.localAddress?.ipAddress ?? "?"):\(enip.port)")
        }
        if let status = service.statusServer {
            ModbusSimCommand.say("gateway: status on http://\(status.channel.localAddress?.ipAddress ?? "?"):\(status.port)/status")
        }
        let signal = await stop.wait()
        logger.notice("\(signal), stopping")
        await service.stop()
        ModbusSimCommand.say("gateway: stopped")
    }
}

/// Waits for SIGTERM or SIGINT. They are unblocked first: a process started
/// by another may inherit a mask that blocks them.
final class StopSignal {
    private let sources: [any DispatchSourceSignal]

    init() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGTERM, SIGINT] {
            sigaddset(&set, number)
            signal(number, SIG_IGN)
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
    }

    /// The name of the signal that came.
    func wait() async -> String {
        await withCheckedContinuation { continuation in
            let once = OnceFlag()
            for (source, name) in zip(sources, ["SIGTERM", "SIGINT"]) {
                source.setEventHandler { if once.claim() { continuation.resume(returning: name) } }
                source.resume()
            }
        }
    }
}

final class OnceFlag: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { value in
            defer { value = true }
            return !value
        }
    }
}
