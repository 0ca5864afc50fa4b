extension Configuration {
    /// `[web]`: where the dashboard, the JSON API, /metrics and the status
    /// endpoint listen, who may use them, and whether the web may write.
    public struct Web: Sendable, Hashable {
        /// A user let in with HTTP Basic authentication (`[[web.user]]`).
        public struct User: Sendable, Hashable {
            /// The user name.
            public var name: String
            /// A bcrypt hash (`fieldgw web-password` makes one).
            public var passwordHash: String

            /// A user `name` with the bcrypt hash of their password.
            public init(name: String, passwordHash: String) {
                self.name = name
                self.passwordHash = passwordHash
            }
        }

        /// The address the web server binds; one other machines reach needs a token
        /// or users.
        public var host = "127.0.0.1"
        /// The web server's port.
        public var port = 8502
        /// A client must send `Authorization: Bearer TOKEN` (when set).
        public var token: String?
        /// Or `Authorization: Basic` with one of these users.
        public var users: [User] = []
        /// POST /api/devices/{name}/{member} writes through the line.
        public var writes = false

        /// Settings for a web server at `host:port`; the defaults are loopback and
        /// read-only, open to anyone on this machine.
        public init(host: String = "127.0.0.1", port: Int = 8502, token: String? = nil, users: [User] = [], writes: Bool = false) {
            self.host = host
            self.port = port
            self.token = token
            self.users = users
            self.writes = writes
        }

        /// Anyone who reaches the port may look, unless a token or users are set.
        public var open: Bool { token == nil && users.isEmpty }

        /// Whether `host` is reachable from this machine only (localhost, ::1,
        /// 127.x.x.x): the one place open access is allowed.
        public static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    /// `[web]`, or `[status]` as earlier files call it (not both).
    static func web(_ root: inout TOMLReader) throws(ConfigurationError) -> Web? {
        let web = try root.subtable("web")
        let status = try root.subtable("status")
        if web != nil && status != nil { throw root.error("status", "[status] is the older name of [web]: keep one") }
        guard var reader = web ?? status else { return Web() }
        let parsed = try Self.web(reading: &reader)
        try reader.finish()
        return parsed
    }

    private static func web(reading reader: inout TOMLReader) throws(ConfigurationError) -> Web? {
        let enabled = try reader.bool("enabled") ?? true
        let bind = try reader.string("bind") ?? "127.0.0.1:8502"
        guard let (host, port) = hostAndPort(bind) else { throw reader.error("bind", "\"\(bind)\" is not HOST:PORT") }
        var web = Web(host: host, port: port, token: try reader.string("token"), writes: try reader.bool("writes") ?? false)
        if let token = web.token, token.count < 16 { throw reader.error("token", "a token must be at least 16 characters") }
        for var user in try reader.tables("user") {
            let name = try user.required("name") { reader, key throws(ConfigurationError) in try reader.string(key) }
            let hash = try user.required("password_hash") { reader, key throws(ConfigurationError) in try reader.string(key) }
            guard hash.hasPrefix("$2") else { throw user.error("password_hash", "not a bcrypt hash (make one with `fieldgw web-password`)") }
            try user.finish()
            web.users.append(Web.User(name: name, passwordHash: hash))
        }
        guard enabled else { return nil }
        if !Web.isLoopback(host) && web.open {
            throw reader.error("bind", "\(bind) is reachable from other machines: set token, or add [[web.user]] entries")
        }
        return web
    }
}
