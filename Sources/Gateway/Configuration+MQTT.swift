import Foundation

extension Configuration {
    /// `[mqtt]`: the broker the gateway publishes its devices to, as a
    /// Sparkplug B edge node or as plain JSON, and where it keeps what it
    /// could not send.
    public struct MQTT: Sendable, Hashable {
        /// What the devices are published as (`mode`).
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// Sparkplug B, or plain JSON.
            case sparkplug, json
        }

        /// One broker of the list, tried in order: `mqtt://HOST[:PORT]` (1883) or `mqtts://HOST[:PORT]` (TLS, 8883).
        public struct Broker: Sendable, Hashable {
            /// The broker's host name or address.
            public var host: String
            /// The broker's port.
            public var port: Int
            /// Whether the connection is TLS (`mqtts://`).
            public var tls: Bool

            /// A broker at `host:port`, over TLS when `tls`.
            public init(host: String, port: Int, tls: Bool) {
                self.host = host
                self.port = port
                self.tls = tls
            }
        }

        /// The brokers (`brokers`), tried in order when one cannot be reached; all
        /// TLS, or none.
        public var brokers: [Broker]
        /// What the devices are published as, Sparkplug B by default.
        public var mode: Mode = .sparkplug
        /// MQTT 3.1.1 (the default) or 5.0.
        public var version5 = false
        /// The MQTT client id (`client_id`; fieldgw-GROUP-NODE by default).
        public var clientID: String
        /// The Sparkplug group id, one topic level (`group_id`; fieldgw by default).
        public var groupID: String
        /// The edge node id, one topic level (`edge_node_id`; this machine's host
        /// name by default).
        public var edgeNodeID: String
        /// The user name the broker is given, if any.
        public var username: String?
        /// The password the broker is given; it needs a user name.
        public var password: String?
        /// PEM files: the CA that signed the broker's certificate, and the client's own certificate and key.
        public var caFile: String?
        /// The client's certificate, for brokers that ask for one; it goes with
        /// ``Configuration/MQTT/keyFile``.
        public var certificateFile: String?
        /// The client certificate's private key.
        public var keyFile: String?
        /// Seconds between keep-alive pings (`keepalive_s`); 0 turns them off.
        public var keepAlive: Int = 30
        /// The longest pause between attempts to reconnect (`reconnect_max_ms`).
        public var reconnectMaximum: Duration = .seconds(30)
        /// Where data not yet sent is kept across outages and restarts.
        public var spoolDirectory: String
        /// The most the spool holds on disk (`spool_max_mb`); data beyond it is dropped.
        public var spoolMaximumBytes: Int = 16 << 20
        /// How often the node's own metrics (lines up, transactions) are looked at for a change.
        public var nodeMetricsPeriod: Duration = .seconds(10)

        /// Settings with the file's defaults for everything but the brokers, the
        /// names and the spool.
        public init(brokers: [Broker], clientID: String, groupID: String, edgeNodeID: String, spoolDirectory: String) {
            self.brokers = brokers
            self.clientID = clientID
            self.groupID = groupID
            self.edgeNodeID = edgeNodeID
            self.spoolDirectory = spoolDirectory
        }
    }

    static func mqtt(_ source: TOMLReader) throws(ConfigurationError) -> MQTT? {
        var reader = source
        // Turned off, the rest is not read: it is kept for when it is turned on.
        guard try reader.bool("enabled") ?? true else { return nil }
        let urls = try reader.required("brokers") { reader, key throws(ConfigurationError) in try reader.strings(key) }
        guard !urls.isEmpty else { throw reader.error("brokers", "name at least one broker (\"mqtt://HOST:1883\")") }
        var brokers: [MQTT.Broker] = []
        for url in urls {
            guard let broker = Self.broker(url) else {
                throw reader.error("brokers", "\"\(url)\" is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
            }
            brokers.append(broker)
        }
        let edge = try reader.string("edge_node_id") ?? Self.hostName
        let group = try reader.string("group_id") ?? "fieldgw"
        for (key, id) in [("edge_node_id", edge), ("group_id", group)] where !Self.isTopicLevel(id) {
            throw reader.error(key, "\"\(id)\" must be one topic level: not empty, no / + or #")
        }
        let spool = try reader.string("spool_directory") ?? "/var/lib/fieldgw/mqtt"
        var mqtt = MQTT(brokers: brokers, clientID: try reader.string("client_id") ?? "fieldgw-\(group)-\(edge)",
                        groupID: group, edgeNodeID: edge, spoolDirectory: spool)
        try settings(&mqtt, &reader)
        try reader.finish()
        return mqtt
    }

    /// The keys beyond the broker list and the names.
    private static func settings(_ mqtt: inout MQTT, _ reader: inout TOMLReader) throws(ConfigurationError) {
        let mode = try reader.string("mode") ?? "sparkplug"
        guard let parsed = MQTT.Mode(rawValue: mode) else { throw reader.error("mode", "\"\(mode)\" is not sparkplug or json") }
        mqtt.mode = parsed
        switch try reader.string("version") ?? "3.1.1" {
        case "3.1.1": mqtt.version5 = false
        case "5", "5.0": mqtt.version5 = true
        case let other: throw reader.error("version", "\"\(other)\" is not 3.1.1 or 5.0")
        }
        guard mqtt.clientID.utf8.count <= 65535, !mqtt.clientID.isEmpty else { throw reader.error("client_id", "1 to 65535 bytes") }
        mqtt.username = try reader.string("username")
        mqtt.password = try reader.string("password")
        if mqtt.password != nil && mqtt.username == nil { throw reader.error("password", "a password needs a username") }
        mqtt.caFile = try reader.string("ca_file")
        mqtt.certificateFile = try reader.string("cert_file")
        mqtt.keyFile = try reader.string("key_file")
        if (mqtt.certificateFile == nil) != (mqtt.keyFile == nil) { throw reader.error("cert_file", "cert_file and key_file go together") }
        let tls = mqtt.brokers.map(\.tls)
        if Set(tls).count > 1 { throw reader.error("brokers", "all mqtt:// or all mqtts://, not both") }
        if tls.first == true && mqtt.caFile == nil { throw reader.error("ca_file", "mqtts:// brokers need the CA that signed their certificate") }
        if tls.first == false && (mqtt.caFile ?? mqtt.certificateFile) != nil { throw reader.error("ca_file", "TLS files are for mqtts:// brokers") }
        mqtt.keepAlive = try reader.int("keepalive_s", in: 0...65535) ?? 30
        mqtt.reconnectMaximum = .milliseconds(try reader.int("reconnect_max_ms", in: 100...3_600_000) ?? 30_000)
        mqtt.spoolMaximumBytes = Int((try reader.double("spool_max_mb", in: 0.01...1_000_000) ?? 16) * 1_048_576)
        mqtt.nodeMetricsPeriod = .milliseconds(Int((try reader.double("node_metrics_period_s", in: 0.1...86_400) ?? 10) * 1000))
    }

    static func broker(_ url: String) -> MQTT.Broker? {
        let tls: Bool
        let rest: Substring
        if url.hasPrefix("mqtt://") {
            (tls, rest) = (false, url.dropFirst(7))
        } else if url.hasPrefix("mqtts://") {
            (tls, rest) = (true, url.dropFirst(8))
        } else {
            return nil
        }
        let address = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !address.isEmpty, !address.contains("/") else { return nil }
        if let (host, port) = hostAndPort(String(address)), !host.isEmpty, port > 0, !address.hasPrefix(":") {
            return MQTT.Broker(host: host, port: port, tls: tls)
        }
        guard !address.contains(":") else { return nil }
        return MQTT.Broker(host: String(address), port: tls ? 8883 : 1883, tls: tls)
    }

    static func isTopicLevel(_ id: String) -> Bool {
        !id.isEmpty && !id.contains(where: { "/+#".contains($0) })
    }

    /// This machine's name, the default edge node id.
    static var hostName: String {
        let name = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "fieldgw"
        return isTopicLevel(name) ? name : "fieldgw"
    }
}
