import Foundation
import NIOPosix
import Gateway
import Hummingbird
import HummingbirdBcrypt
import Synchronization

/// Who may use the web server: everyone when `[web]` sets neither a token
/// nor users (allowed on loopback only, and then only by a loopback name in
/// `Host`, so that no other site can rebind a name to it); otherwise a
/// request carries `Authorization: Bearer TOKEN` (or, on a GET, a browser's
/// `?access_token=TOKEN`: an event stream cannot set headers) or
/// `Authorization: Basic` with a user's password. A browser is asked for a
/// user and password. A POST must be JSON, and from this site when it says
/// where it comes from: a page elsewhere cannot make a browser send one
/// (no cross-site write or reload).
struct Access: RouterMiddleware {
    typealias Context = BasicRequestContext

    let settings: Configuration.Web
    /// Basic credentials already checked: bcrypt costs about a tenth of a
    /// second, too much for every request of a dashboard.
    private let verified = Guarded<Set<String>>([])

    init(settings: Configuration.Web) { self.settings = settings }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if settings.open, !Self.loopbackHost(request.head.authority) {
            throw HTTPError(.forbidden, message: "this gateway answers to a loopback address only (127.0.0.1, localhost)")
        }
        if request.method == .post, let refusal = Self.refusal(of: request) { throw HTTPError(.forbidden, message: refusal) }
        let admitted = try await settings.open ? true : allowed(request)
        guard admitted else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = settings.users.isEmpty ? "Bearer realm=\"fieldgw\"" : "Basic realm=\"fieldgw\", charset=\"UTF-8\""
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .unauthorized, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "this gateway asks for a token or a user and password\n")))
        }
        return try await next(request, context)
    }

    private func allowed(_ request: Request) async throws -> Bool {
        let header = request.headers[.authorization] ?? ""
        if let token = settings.token {
            let query = request.method == .get ? request.uri.queryParameters["access_token"].map(String.init) : nil
            let offered = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : query
            if let offered, Self.same(offered, token) { return true }
        }
        guard header.hasPrefix("Basic "), !settings.users.isEmpty else { return false }
        if verified.withLock({ $0.contains(header) }) { return true }
        guard let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
              let colon = decoded.firstIndex(of: ":") else { return false }
        let (name, password) = (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
        guard let user = settings.users.first(where: { $0.name == name }) else { return false }
        // bcrypt takes a tenth of a second on purpose: off the threads that serve requests.
        let verified = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: user.passwordHash) }
        guard verified else { return false }
        self.verified.withLock { if $0.count < 64 { $0.insert(header) } }
        return true
    }

    /// Why a POST is refused: not JSON (a form or plain text is what a page
    /// elsewhere can send without asking), or from another origin.
    static func refusal(of request: Request) -> String? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            return "a POST must be JSON (Content-Type: application/json)"
        }
        if let origin = request.headers[.origin], let host = request.head.authority,
           origin != "http://\(host)" && origin != "https://\(host)" {
            return "a POST from \(origin) is not from this gateway's own page"
        }
        return nil
    }

    /// "127.0.0.1:8502", "localhost:8502", "[::1]:8502".
    static func loopbackHost(_ authority: String?) -> Bool {
        guard let authority else { return false }
        let host = authority.hasPrefix("[") ? String(authority.dropFirst().prefix { $0 != "]" })
                                              : String(authority.prefix { $0 != ":" })
        return Configuration.Web.isLoopback(host)
    }

    /// Equal in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
