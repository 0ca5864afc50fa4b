/// "HOST:PORT" as the configuration and the command line write it: the
/// one parser of both.
public enum Endpoint {
    /// "HOST:PORT"; ":PORT" is `anyHost` (every interface, or loopback);
    /// "HOST" alone takes `defaultPort`, or is refused when there is none.
    /// Nil when the port is not a number from 0 to 65535.
    public static func parse(_ text: String, defaultPort: Int? = nil, anyHost: String = "0.0.0.0") -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return defaultPort.map { (text, $0) } }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (text[..<colon].isEmpty ? anyHost : String(text[..<colon]), port)
    }
}
