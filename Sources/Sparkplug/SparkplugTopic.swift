/// A Sparkplug B topic: `spBv1.0/GROUP/KIND/EDGE[/DEVICE]`.
public struct SparkplugTopic: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case nodeBirth = "NBIRTH", nodeDeath = "NDEATH", nodeData = "NDATA", nodeCommand = "NCMD"
        case deviceBirth = "DBIRTH", deviceDeath = "DDEATH", deviceData = "DDATA", deviceCommand = "DCMD"

        var isDevice: Bool { rawValue.hasPrefix("D") }
    }

    public static let namespace = "spBv1.0"

    public var group: String
    public var kind: Kind
    public var edgeNode: String
    public var device: String?

    public init(group: String, kind: Kind, edgeNode: String, device: String? = nil) {
        self.group = group
        self.kind = kind
        self.edgeNode = edgeNode
        self.device = device
    }

    /// A topic as it comes from a broker; nil when it is not a Sparkplug B node or device topic.
    public init?(_ text: String) {
        let levels = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard levels.count == 4 || levels.count == 5, levels[0] == Self.namespace, let kind = Kind(rawValue: levels[2]),
              kind.isDevice == (levels.count == 5), levels.dropFirst().allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(group: levels[1], kind: kind, edgeNode: levels[3], device: levels.count == 5 ? levels[4] : nil)
    }

    public var description: String {
        [Self.namespace, group, kind.rawValue, edgeNode].joined(separator: "/") + (device.map { "/\($0)" } ?? "")
    }
}
