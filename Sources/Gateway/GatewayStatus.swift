import EtherNetIP
import Modbus

/// The running gateway's state, as `fieldgw status` shows it and the status
/// endpoint serves it (JSON).
public struct GatewayStatus: Codable, Sendable, Hashable {
    /// Load averages over about 1, 5 and 15 minutes (see ``LoadAverage``).
    public struct Load: Codable, Sendable, Hashable {
        /// Over about a minute.
        public var one: Double
        /// Over about five minutes.
        public var five: Double
        /// Over about fifteen minutes.
        public var fifteen: Double
    }

    /// A slave the line polls, a device names, or that has ever answered.
    public struct Slave: Codable, Sendable, Hashable {
        /// The slave's address on the line.
        public var address: Int
        /// closed, open or probing.
        public var breaker: String
        /// The timeout its requests get now, in milliseconds.
        public var timeoutMilliseconds: Double
        /// Its smoothed latency in milliseconds; nil before a first answer.
        public var latencyMilliseconds: Double?
        /// Timeouts in a row since it last sent anything.
        public var consecutiveTimeouts: Int
        /// When polled: whether it answered its last poll, its load, its slips.
        public var online: Bool?
        /// Its poller's load averages.
        public var load: Load?
        /// Its poll cycles that overran their period.
        public var slips: Int?
    }

    /// One line and its slaves.
    public struct Line: Codable, Sendable, Hashable {
        /// The line's name.
        public var name: String
        /// Whether its link is open.
        public var up: Bool
        /// Where its adapter was found at start-up (or that it is awaited).
        public var adapter: String
        /// Requests waiting for the line.
        public var queueDepth: Int
        /// The fraction of the last utilisation window the line was busy.
        public var utilisation: Double
        /// Transactions carried out, answered or failed.
        public var transactions: Int
        /// Transactions with no valid reply.
        public var timeouts: Int
        /// Requests answered at once while their slave's breaker was open.
        public var failedFast: Int
        /// Requests refused with 0x06, the queue full (``Bus/Counters/refusedFull``).
        public var refusedBusy: Int
        /// Requests dropped because their client had gone.
        public var droppedGone: Int
        /// Replies that were slaves' exceptions.
        public var exceptions: Int
        /// Bytes the framer skipped that belonged to no valid frame.
        public var noiseBytes: Int
        /// Frames with a bad CRC (LRC, on an ASCII line).
        public var crcErrors: Int
        /// Requests heard back from an adapter with local echo.
        public var echoes: Int
        /// Replies that matched no request in flight (a tcp line's late or unknown transaction ids).
        public var strays: Int
        /// The sum of its pollers' loads.
        public var load: Load
        /// The slaves it polls, that devices name, or that have ever answered, by address.
        public var slaves: [Slave]
    }

    /// The MQTT publisher ([mqtt]), when there is one.
    public struct MQTT: Codable, Sendable, Hashable {
        /// sparkplug or json.
        public var mode: String
        /// Whether a broker is connected now.
        public var connected: Bool
        /// The broker connected to, or last tried (HOST:PORT).
        public var broker: String?
        /// Why the last connection ended or failed.
        public var lastError: String?
        /// Connections made to a broker since start.
        public var connections: Int
        /// Messages published since start.
        public var published: Int
        /// Data messages kept on disk while the broker is away.
        public var queued: Int
        /// Data messages dropped: the spool was full, or their device is gone.
        public var dropped: Int
        /// Writes asked by DCMD (or JSON set) messages, and those refused.
        public var commands: Int
        /// Of those commands, the ones refused.
        public var refusedCommands: Int

        /// A publisher's state in `mode`; the counts start at 0.
        public init(mode: String, connected: Bool = false, broker: String? = nil, lastError: String? = nil, connections: Int = 0,
                    published: Int = 0, queued: Int = 0, dropped: Int = 0, commands: Int = 0, refusedCommands: Int = 0) {
            self.mode = mode
            self.connected = connected
            self.broker = broker
            self.lastError = lastError
            self.connections = connections
            self.published = published
            self.queued = queued
            self.dropped = dropped
            self.commands = commands
            self.refusedCommands = refusedCommands
        }
    }

    /// The Class 1 I/O connections to the assemblies ([[assembly]]).
    public struct IO: Codable, Sendable, Hashable {
        /// One open connection.
        public struct Connection: Codable, Sendable, Hashable {
            /// The PLC's (originator's) address.
            public var originator: String
            /// exclusive owner, input only or listen only.
            public var kind: String
            /// The input assembly it receives.
            public var input: Int
            /// The output assembly it sends (an exclusive owner's).
            public var output: Int?
            /// The T→O requested packet interval.
            public var rpiInMilliseconds: Double
            /// The O→T requested packet interval.
            public var rpiOutMilliseconds: Double
            /// The multicast group its inputs go to, shared with other connections; nil: to the originator alone.
            public var multicast: String?
            /// Inputs sent when they change (and every RPI), not every RPI alone.
            public var changeOfState: Bool
            /// The owner in Run (true) or Idle (false); nil before its first packet or without outputs.
            public var running: Bool?
            /// Input packets sent (to the group, for a multicast connection).
            public var produced: Int
            /// Output (or heartbeat) packets taken.
            public var consumed: Int
            /// Packets refused: another address, out of sequence, the wrong size.
            public var dropped: Int
        }

        /// The connections open now.
        public var connections: [Connection]
        /// Connections closed because their PLC stopped sending.
        public var timeouts: Int
    }

    /// Every line, by name.
    public var lines: [Line]
    /// The MQTT publisher's state; nil when there is none.
    public var mqtt: MQTT?
    /// The I/O connections; nil when there are no assemblies.
    public var io: IO?
}

extension GatewayService {
    /// The state of every line and every slave it knows, and of the MQTT publisher.
    public var status: GatewayStatus {
        var status = GatewayStatus(buses: buses, paths: paths, pollers: pollers, named: deviceSlaves)
        status.mqtt = mqttStatus.withLock { $0 }?()
        status.io = enipServer?.router.io.map(Self.io)
        return status
    }
}

extension GatewayService {
    static func io(_ exchange: IOExchange) -> GatewayStatus.IO {
        let connections = exchange.connections.map { connection in
            GatewayStatus.IO.Connection(originator: connection.originator, kind: connection.kind, input: Int(connection.input),
                                        output: connection.output.map(Int.init), rpiInMilliseconds: connection.rpiIn.milliseconds,
                                        rpiOutMilliseconds: connection.rpiOut.milliseconds, multicast: connection.multicast,
                                        changeOfState: connection.changeOfState, running: connection.running,
                                        produced: connection.produced, consumed: connection.consumed, dropped: connection.dropped)
        }
        return GatewayStatus.IO(connections: connections, timeouts: exchange.timeouts)
    }
}

extension Duration {
    fileprivate var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

extension GatewayStatus {
    /// The state of every line of `buses` and of the slaves on it that are
    /// polled, `named` (by a [[device]]) or have ever answered: a scan of
    /// absent units routed to the line leaves nothing behind.
    public init(buses: [String: Bus], paths: [String: String], pollers: [Poller], named: [String: Set<UInt8>] = [:]) {
        self.init(lines: buses.keys.sorted().map { name in
            Self.line(name, buses[name]!, paths: paths, pollers: pollers, named: named[name] ?? [])
        })
    }

    private static func line(_ name: String, _ bus: Bus, paths: [String: String], pollers: [Poller], named: Set<UInt8>) -> GatewayStatus.Line {
        let counters = bus.counters
        let framer = bus.framerCounters
        let polled = pollers.filter { $0.bus === bus }
        let load = polled.reduce(into: GatewayStatus.Load(one: 0, five: 0, fifteen: 0)) { sum, poller in
            let each = poller.load
            sum.one += each.one
            sum.five += each.five
            sum.fifteen += each.fifteen
        }
        let health = bus.slaves
        let heard = health.filter { $0.value.everHeard }.keys
        let addresses = Set(heard).union(polled.map(\.slave)).union(named).sorted()
        let slaves = addresses.map { address in
            slave(address, health[address] ?? SlaveHealth(), polled.first { $0.slave == address })
        }
        return GatewayStatus.Line(
            name: name, up: bus.isUp, adapter: paths[name] ?? "", queueDepth: bus.queueDepth, utilisation: bus.utilisation,
            transactions: counters.transactions, timeouts: counters.timeouts, failedFast: counters.failedFast,
            refusedBusy: counters.refusedFull, droppedGone: counters.droppedGone, exceptions: counters.exceptions,
            noiseBytes: framer.noiseBytes, crcErrors: framer.crcErrors, echoes: framer.echoes, strays: framer.strays, load: load, slaves: slaves
        )
    }

    private static func slave(_ address: UInt8, _ health: SlaveHealth, _ poller: Poller?) -> GatewayStatus.Slave {
        let breaker = switch health.breaker {
        case .closed: "closed"
        case .open: "open"
        case .probing: "probing"
        }
        let load = poller.map { poller in
            let each = poller.load
            return GatewayStatus.Load(one: each.one, five: each.five, fifteen: each.fifteen)
        }
        return GatewayStatus.Slave(address: Int(address), breaker: breaker, timeoutMilliseconds: health.timeout.seconds * 1000,
                                   latencyMilliseconds: health.smoothedLatency.map { $0 * 1000 }, consecutiveTimeouts: health.consecutiveTimeouts,
                                   online: poller?.online, load: load, slips: poller?.slips)
    }
}
