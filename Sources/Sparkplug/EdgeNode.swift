import CoreMetrics
import Foundation
import Gateway
import Logging
import MQTT
import NIOCore
import NIOPosix

/// The gateway as a Sparkplug B edge node (or a plain JSON publisher): on
/// every connection to the broker an NBIRTH, then a DBIRTH for each device
/// that answers its polls; after each poll cycle a DDATA with the members
/// that changed (beyond their deadband), with the poll's timestamp; a DDEATH
/// when a device stops answering. What cannot be published while the broker
/// is away waits in the spool, on disk, and follows the births, flagged
/// historical, once it is back. DCMD writes go through the line.
///
/// Everything happens in this actor, one input at a time, in the order the
/// inputs came: poll cycles, connections made and lost, commands, ticks.
public actor EdgeNode {
    enum Input: Sendable {
        case cycle(ObjectIdentifier, online: Bool, at: Date)
        case connected(Connect, number: Int)
        case disconnected(String)
        case message(Publish)
        case tick
    }

    /// A device as the node last published it.
    struct Tracked {
        var device: Configuration.Device
        var poller: Poller
        /// Its DBIRTH went out on this connection.
        var born = false
        /// The values last published or spooled, in member order.
        var last: [Double]?
    }

    let settings: Configuration.MQTT
    let dialect: any Dialect
    let client: MQTTClient
    let source: any NodeSource
    let logger: Logger
    let counters: NodeCounters
    var spool: Spool
    let bdSeqs: BirthDeathSequence
    var devices: [String: Tracked] = [:]
    var observing: [(poller: Poller, number: Int)] = []
    var connected = false
    /// Data sent live on this connection that the broker has not yet
    /// confirmed (QoS 0 is fire and forget): kept again if it breaks first.
    var unconfirmed: [(number: Int, sample: Sample)] = []
    var lastSent = 0
    /// The last of `unconfirmed` a confirmation was asked for.
    var lastAsked = 0
    /// The client's number for the connection the node is publishing on.
    var connection = 0
    var bdSeq: UInt64 = 0
    var seq: UInt8 = 0
    var nodeMetrics: [NodeMetric] = []
    var nodeMetricsSent = ContinuousClock.now
    var tasks: [Task<Void, Never>] = []
    let (inputs, feed) = AsyncStream.makeStream(of: Input.self)

    /// Opens the spool (an error names its directory) and readies the client; `start` connects.
    public init(settings: Configuration.MQTT, source: any NodeSource, logger: Logger,
                metrics: any MetricsFactory = MetricsSystem.factory) throws {
        self.settings = settings
        self.source = source
        self.logger = logger
        dialect = settings.mode == .sparkplug ? SparkplugDialect(group: settings.groupID, edgeNode: settings.edgeNodeID)
                                              : JSONDialect(edgeNode: settings.edgeNodeID)
        let spool = try Spool(directory: settings.spoolDirectory, maximumBytes: settings.spoolMaximumBytes)
        self.spool = spool
        bdSeqs = try BirthDeathSequence(directory: settings.spoolDirectory)
        counters = NodeCounters(mode: settings.mode.rawValue, metrics: metrics)
        client = MQTTClient(try Self.options(settings, dialect: dialect, bdSeqs: bdSeqs))
        counters.update { $0.queued = spool.count; $0.dropped = spool.dropped }
    }

    /// The client's options: the brokers, the CONNECT (a will with a new `bdSeq` on every attempt), TLS.
    static func options(_ settings: Configuration.MQTT, dialect: any Dialect, bdSeqs: BirthDeathSequence) throws -> MQTTClient.Options {
        var connect = Connect(version: settings.version5 ? .v5 : .v311, clientID: settings.clientID, cleanStart: true,
                              keepAlive: UInt16(settings.keepAlive))
        connect.username = settings.username
        connect.password = settings.password.map { Array($0.utf8) }
        var options = MQTTClient.Options(brokers: settings.brokers.map { MQTTClient.Broker(host: $0.host, port: $0.port) }, connect: connect)
        options.reconnectMaximum = settings.reconnectMaximum
        if let ca = settings.caFile {
            options.tls = MQTTConnection.TLS(caFile: ca, certificateFile: settings.certificateFile, keyFile: settings.keyFile)
            _ = try options.tls?.context()
        }
        options.prepare = { connect in
            var next = connect
            next.will = dialect.will(bdSeq: bdSeqs.next())
            return next
        }
        return options
    }

    /// The node's state for `fieldgw status`, the web API and /metrics.
    public nonisolated var status: GatewayStatus.MQTT { counters.status }

    /// Subscribes to commands, watches the devices' polls and connects (in the background).
    public func start() async throws {
        for subscription in dialect.subscriptions { try await client.subscribe(subscription) }
        let client = self.client
        let feed = self.feed
        tasks.append(Task {
            for await event in client.events {
                switch event {
                case .connected(let connect, let number): feed.yield(.connected(connect, number: number))
                case .disconnected(let reason): feed.yield(.disconnected(reason))
                }
            }
        })
        tasks.append(Task { for await message in client.messages { feed.yield(.message(message)) } })
        tasks.append(Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                feed.yield(.tick)
            }
        })
        tasks.append(Task { await self.serve() })
        synchronizeDevices()
        await client.start()
    }

    /// Publishes the node's death (a clean disconnect sends no will) and disconnects; the spool stays on disk.
    public func stop() async {
        for task in tasks { task.cancel() }
        tasks = []
        for (poller, number) in observing { poller.stopObserving(number) }
        observing = []
        if connected { _ = try? await client.publish(dialect.nodeDeath(bdSeq: bdSeq, at: Self.now())) }
        await client.stop()
        spool.shut()
        feed.finish()
    }

    private func serve() async {
        for await input in inputs {
            switch input {
            case .cycle(let poller, let online, let at): await polled(poller, online: online, at: at)
            case .connected(let connect, let number): await connected(connect, number: number)
            case .disconnected(let reason): disconnected(reason)
            case .message(let message): await command(message)
            case .tick: await tick()
            }
        }
    }

    static func now(_ date: Date = Date()) -> UInt64 { UInt64(max(0, date.timeIntervalSince1970 * 1000).rounded()) }
}

extension EdgeNode {
    /// The node as a part of the gateway: started after the pollers,
    /// stopped (NDEATH, disconnect) before them. A spool directory that
    /// cannot be made, or TLS files that cannot be read, stop start-up.
    public static func part(_ settings: Configuration.MQTT, gateway: GatewayService, logger: Logger) -> Part {
        let node = Latch<EdgeNode>()
        return Part("mqtt \(settings.brokers.map { "\($0.host):\($0.port)" }.joined(separator: ","))", start: {
            // The pollers first: a device not yet polled when the node starts would miss what it says meanwhile.
            await gateway.applied.wait()
            let made = try EdgeNode(settings: settings, source: gateway, logger: logger)
            node.set(made)
            gateway.mqttStatus.withLock { $0 = { made.status } }
            try await made.start()
        }, stop: {
            await node.value?.stop()
        })
    }
}
