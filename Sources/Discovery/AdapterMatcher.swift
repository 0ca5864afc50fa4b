#if canImport(Glibc)
import Glibc
#endif

/// How configuration names an adapter, so that it is found again after a
/// re-plug whatever node it gets. Written as:
///
/// | form | matches |
/// |---|---|
/// | `serial:AH06W0EQ` | the USB serial number |
/// | `serial:FT4ABC12:2` | serial number and USB interface (one port of a multi-port chip) |
/// | `0403:6001` or `usb:0403:6001` | vendor and product id (must be the only one) |
/// | `0403:6011:2` | vendor, product and interface |
/// | `/dev/serial/by-id/…`, `/dev/serial/by-path/…` | that udev link |
/// | `by-id:NAME`, `by-path:NAME` | a link by its name alone |
/// | `/dev/ttyUSB*`, `/dev/ttyS1` | the device node, with shell wildcards |
public enum AdapterMatcher: Sendable, Hashable, CustomStringConvertible {
    /// A USB serial number, and on a multi-port chip the interface (nil: any).
    case serial(String, interface: Int?)
    /// A USB vendor and product id, and the interface (nil: any); only one such
    /// adapter may be present.
    case usb(vendorID: UInt16, productID: UInt16, interface: Int?)
    /// A /dev/serial/by-id or by-path link, as a full path.
    case link(String)
    /// The device node, matched with shell wildcards (fnmatch).
    case node(pattern: String)

    /// Text that is none of the forms ``AdapterMatcher`` reads.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The text as written in the configuration.
        public let text: String
        /// What is wrong with it, and the forms expected.
        public let reason: String
        /// The text, quoted, and the reason.
        public var description: String { "adapter \"\(text)\": \(reason)" }
    }

    /// Reads one of the forms in the table; `by-id:` and `by-path:` become the
    /// full /dev/serial link.
    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("serial:") {
            let rest = text.dropFirst("serial:".count)
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard let serial = parts.first, !serial.isEmpty, parts.count <= 2 else {
                throw ParseError(text: text, reason: "expected serial:NUMBER or serial:NUMBER:INTERFACE")
            }
            self = .serial(String(serial), interface: try parts.count == 2 ? Self.interface(parts[1], in: text) : nil)
        } else if text.hasPrefix("by-id:") || text.hasPrefix("by-path:") {
            let kind = text.hasPrefix("by-id:") ? "by-id" : "by-path"
            self = .link("/dev/serial/\(kind)/\(text.dropFirst(kind.count + 1))")
        } else if text.hasPrefix("/dev/serial/") {
            self = .link(text)
        } else if text.hasPrefix("/") {
            self = .node(pattern: text)
        } else {
            self = try Self.usb(text.hasPrefix("usb:") ? String(text.dropFirst(4)) : text, whole: text)
        }
    }

    private static func usb(_ ids: String, whole text: String) throws(ParseError) -> AdapterMatcher {
        let parts = ids.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts[0].count == 4, parts[1].count == 4,
              let vendor = UInt16(parts[0], radix: 16), let product = UInt16(parts[1], radix: 16) else {
            throw ParseError(text: text, reason: "expected serial:…, VID:PID[:INTERFACE] in hex (0403:6001), a /dev/serial link or a /dev node")
        }
        return .usb(vendorID: vendor, productID: product, interface: try parts.count == 3 ? interface(parts[2], in: text) : nil)
    }

    private static func interface(_ text: Substring, in whole: String) throws(ParseError) -> Int {
        guard let number = Int(text), (0...255).contains(number) else {
            throw ParseError(text: whole, reason: "interface must be a number 0–255, not \"\(text)\"")
        }
        return number
    }

    /// Whether `adapter` answers this name; ``AdapterMatcher/resolve(in:)`` then
    /// insists on exactly one.
    public func matches(_ adapter: SerialAdapter) -> Bool {
        switch self {
        case .serial(let serial, let interface):
            return adapter.serial == serial && (interface == nil || adapter.interface == interface)
        case .usb(let vendor, let product, let interface):
            return adapter.vendorID == vendor && adapter.productID == product && (interface == nil || adapter.interface == interface)
        case .link(let link):
            return adapter.byID.contains(link) || adapter.byPath == link
        case .node(let pattern):
            return fnmatch(pattern, adapter.node, 0) == 0
        }
    }

    /// The matcher written back in the form it was parsed from, ids in hex.
    public var description: String {
        switch self {
        case .serial(let serial, let interface): interface.map { "serial:\(serial):\($0)" } ?? "serial:\(serial)"
        case .usb(let vendor, let product, let interface):
            "\(hex4(vendor)):\(hex4(product))" + (interface.map { ":\($0)" } ?? "")
        case .link(let link): link
        case .node(let pattern): pattern
        }
    }
}

/// No adapter, or more than one, answers a matcher.
public struct AdapterResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name that was looked for.
    public let matcher: AdapterMatcher
    /// The adapters that answered it: none, or more than one.
    public let candidates: [SerialAdapter]
    /// Every adapter present, so that the message can suggest names.
    public let present: [SerialAdapter]

    /// What matched (with a hint to name one by serial number or port), or what
    /// was present when nothing did.
    public var description: String {
        if candidates.isEmpty {
            let seen = present.isEmpty ? "no serial adapter is present" : "present: " + present.map(\.stableName).joined(separator: ", ")
            return "no adapter matches \(matcher) (\(seen))"
        }
        let names = candidates.map { "\($0.node) (\($0.stableName))" }.joined(separator: ", ")
        return "\(matcher) matches \(candidates.count) adapters: \(names); name one by serial number or by-path link"
    }
}

extension AdapterMatcher {
    /// The one adapter among `adapters` that this names.
    public func resolve(in adapters: [SerialAdapter]) throws(AdapterResolutionError) -> SerialAdapter {
        let candidates = adapters.filter(matches)
        guard candidates.count == 1 else {
            throw AdapterResolutionError(matcher: self, candidates: candidates, present: adapters)
        }
        return candidates[0]
    }
}
