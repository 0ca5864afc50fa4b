import Foundation
import History
import Hummingbird

/// One object of cpppo's simulator web API, `<group>/<match>` (`tags/SCADA`,
/// `options/delay`): its attributes, and how to read and set one of them.
public struct SimulatorObject: Sendable {
    public var group: String
    public var match: String
    /// Every attribute, as JSON, now.
    public var attributes: @Sendable () -> [(String, JSONValue)]
    /// One attribute (`attribute[3]` too); nil when there is none.
    public var get: @Sendable (String) -> JSONValue?
    /// Sets one from the URL's text, converted to the attribute's type;
    /// returns the value set, or throws why not.
    public var set: @Sendable (String, String) async throws -> JSONValue

    public init(group: String, match: String, attributes: @escaping @Sendable () -> [(String, JSONValue)],
                get: @escaping @Sendable (String) -> JSONValue? = { _ in nil },
                set: @escaping @Sendable (String, String) async throws -> JSONValue = { name, _ in throw SimulatorAPIError("\(name) cannot be set") }) {
        (self.group, self.match, self.attributes, self.get, self.set) = (group, match, attributes, get, set)
    }
}

public struct SimulatorAPIError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// cpppo's `api/<group>/<match>/<command>/<value>`: the objects whose group
/// and name match the (glob) patterns, `*` by default, with `command`
/// (an attribute) read, or set to `value`, on each; the reply in cpppo's
/// JSON (`alarm`, `command`, `data`, `since`, `until`), or its minimal HTML
/// for a browser.
public struct SimulatorAPI: Sendable {
    public let objects: @Sendable () -> [SimulatorObject]

    public init(objects: @escaping @Sendable () -> [SimulatorObject]) { self.objects = objects }

    /// The reply's content for one request.
    public func respond(group: String?, match: String?, command: String?, value: String?) async -> JSONValue {
        let group = group ?? "*", match = match ?? "*"
        var result: JSONValue = .null
        var data: [String: [(String, JSONValue)]] = [:]
        for object in objects() where SimulatorAPI.glob(group, object.group) && SimulatorAPI.glob(match, object.match) {
            result = await run(command, value, on: object)
            data[object.group, default: []].append((object.match, .object(object.attributes())))
        }
        return .object([
            ("alarm", .array([])),
            ("command", result),
            ("data", .object(data.map { ($0.key, .object($0.value)) })),
            ("since", .null),
            ("until", .double(Date().timeIntervalSince1970)),
        ])
    }

    /// `{message, success}` for a command, `{}` for none.
    private func run(_ command: String?, _ value: String?, on object: SimulatorObject) async -> JSONValue {
        guard let command else { return .object([]) }
        let name = "\(object.group).\(object.match).\(command)"
        guard let value else {
            guard let current = object.get(command) else {
                return SimulatorAPI.result(false, "\(name)=None failed: no attribute \(command)")
            }
            return SimulatorAPI.result(true, "\(name): \(current.pythonRepr)")
        }
        guard object.get(command) != nil else {
            return SimulatorAPI.result(false, "\(name)=\(JSONValue.string(value).pythonRepr) failed: no attribute \(command)")
        }
        do {
            let set = try await object.set(command, value)
            return SimulatorAPI.result(true, "\(name)=\(JSONValue.string(value).pythonRepr) (\(set.pythonRepr))")
        } catch {
            return SimulatorAPI.result(false, "\(name)=\(JSONValue.string(value).pythonRepr) failed: \(error)")
        }
    }

    private static func result(_ success: Bool, _ message: String) -> JSONValue {
        .object([("message", .string(message)), ("success", .bool(success))])
    }

    /// Shell-style matching (`*`, `?`, `[...]`), as cpppo's fnmatch.
    static func glob(_ pattern: String, _ name: String) -> Bool { fnmatch(pattern, name, 0) == 0 }

    /// cpppo's conversions of a URL's text to an attribute's type.
    public static func bool(_ text: String) throws -> Bool {
        switch text.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default:
            guard let number = Int(text) else { throw SimulatorAPIError("invalid literal for int() with base 10: '\(text)'") }
            return number != 0
        }
    }

    public static func double(_ text: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else { throw SimulatorAPIError("could not convert string to float: '\(text)'") }
        return value
    }

    public static func int(_ text: String) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else { throw SimulatorAPIError("invalid literal for int() with base 10: '\(text)'") }
        return value
    }
}

extension SimulatorAPI {
    /// `/api`, `/api/<group>`, ... `/api/<group>/<match>/<command>/<value...>`;
    /// a last `command=value` is `command/value`; a `.json` ending asks for
    /// JSON; `group`, `match`, `command` and `value` queries override the path.
    func addRoutes(_ router: Hummingbird.Router<BasicRequestContext>) {
        router.get("/api") { request, _ in await reply(request) }
        router.get("/api/**") { request, _ in await reply(request) }
    }

    private func reply(_ request: Request) async -> Response {
        var parts = SimulatorAPI.parts(request.uri.path)
        var forced: String?
        for index in parts.indices where parts[index]?.hasSuffix(".json") == true {
            parts[index] = String(parts[index]!.dropLast(5))
            if parts[index]!.isEmpty { parts[index] = nil }
            forced = "application/json"
        }
        let queries = request.uri.queryParameters
        for (index, name) in ["group", "match", "command", "value"].enumerated() {
            if let given = queries[Substring(name)], !given.isEmpty { parts[index] = String(given) }
        }
        if parts[3] == nil, let command = parts[2], let equals = command.firstIndex(of: "=") {
            parts[2] = String(command[..<equals])
            let value = String(command[command.index(after: equals)...])
            parts[3] = value.isEmpty ? nil : value
        }
        let content = await respond(group: parts[0], match: parts[1], command: parts[2], value: parts[3])
        let accept = forced ?? SimulatorAPI.encoding(request.headers[.accept] ?? "*/*")
        var headers: HTTPFields = [.cacheControl: "no-cache", .accessControlAllowOrigin: "*"]
        guard let accept else {
            headers[.contentType] = "text/plain"
            return Response(status: .notAcceptable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "406 Not Acceptable\n")))
        }
        var body = content.pretty()
        if accept == "text/html" { body = SimulatorAPI.html(body, parts) }
        headers[.contentType] = accept
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The four parts after `/api`, percent-decoded; the fourth keeps its slashes.
    static func parts(_ path: String) -> [String?] {
        var rest = path.hasPrefix("/api") ? String(path.dropFirst(4)) : path
        var parts: [String?] = []
        for index in 0..<4 {
            guard rest.hasPrefix("/") else { parts.append(nil); continue }
            rest.removeFirst()
            let end = index == 3 ? rest.endIndex : (rest.firstIndex(of: "/") ?? rest.endIndex)
            let part = String(rest[..<end])
            rest = String(rest[end...])
            parts.append(part.isEmpty ? nil : (part.removingPercentEncoding ?? part))
        }
        return parts
    }

    /// cpppo's `deduce_encoding`: the available type an Accept header
    /// prefers (earlier ones win ties), nil when it accepts none of them.
    static func encoding(_ accept: String) -> String? {
        let available = ["application/json", "text/javascript", "text/plain", "text/html"]
        var chosen: String?, quality = 0.0
        for stanza in accept.lowercased().split(separator: ",") {
            let fields = stanza.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            let type = fields.first ?? "*/*"
            let q = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1.0
            for candidate in available where zip(candidate.split(separator: "/"), type.split(separator: "/")).allSatisfy({ $0 == $1 || $1 == "*" }) {
                if q > quality { (chosen, quality) = (candidate, q) }
            }
        }
        return chosen
    }

    /// cpppo's minimal page: the request's parts, then the JSON in `<pre>`.
    static func html(_ json: String, _ parts: [String?]) -> String {
        // Everything from the URL is escaped: a crafted link must not put markup
        // in the page (element content only, so quotes may stay).
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func show(_ part: String?) -> String { escape(part.map { JSONValue.string($0).pythonRepr } ?? "None") }
        let names = ["group", "match", "command", "value"]
        let queries = zip(names, [parts[0] ?? "*", parts[1] ?? "*"].map(Optional.some) + [parts[2], parts[3]])
            .map { "\($0 + ":")".padding(toLength: 16, withPad: " ", startingAt: 0) + " " + show($1) } + ["since:           None"]
        let title = escape("api/" + [parts[0] ?? "*", parts[1] ?? "*", parts[2] ?? ""].joined(separator: "/"))
        let escaped = escape(json)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <title>\(title)</title>
            </head>
            <body>
            <h2>
            Queries:
            </h2>
            <pre>
            \(queries.joined(separator: "\n"))
            </pre>
            <h2>
            Response:
            </h2>
            <pre>
            \(escaped)
            </pre>
            </body>
            </html>

            """
    }
}
