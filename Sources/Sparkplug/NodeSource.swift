import Gateway

/// A device the node publishes, and the poller that reads it.
public struct NodeDevice: Sendable {
    public var device: Configuration.Device
    public var poller: Poller

    public init(device: Configuration.Device, poller: Poller) {
        self.device = device
        self.poller = poller
    }
}

/// One line as the node's own metrics show it.
public struct NodeLine: Sendable, Hashable {
    public var name: String
    public var up: Bool
    public var transactions: Int

    public init(name: String, up: Bool, transactions: Int) {
        self.name = name
        self.up = up
        self.transactions = transactions
    }
}

/// What the node publishes: the gateway's devices and lines, read again on
/// every tick, so that a reload's new devices are born and removed ones die.
public protocol NodeSource: Sendable {
    var nodeDevices: [NodeDevice] { get }
    var nodeLines: [NodeLine] { get }
}

extension GatewayService: NodeSource {
    public var nodeDevices: [NodeDevice] {
        configuration.devices.compactMap { device in
            poller(line: device.line, slave: device.slave).map { NodeDevice(device: device, poller: $0) }
        }
    }

    public var nodeLines: [NodeLine] {
        buses.sorted { $0.key < $1.key }.map { NodeLine(name: $0.key, up: $0.value.isUp, transactions: $0.value.counters.transactions) }
    }
}
