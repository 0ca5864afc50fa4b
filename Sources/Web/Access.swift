import Foundation
import Gateway
import Hummingbird
import HummingbirdBcrypt
import Synchronization

/// Who may use the web server: everyone when `[web]` sets neither a token
/// nor users (allowed on loopback only); otherwise a request carries
/// `Authorization: Bearer TOKEN` (or `?access_token=TOKEN`, for a browser's
/// event stream, which cannot set headers) or `Authorization: Basic` with a
/// user's password. A browser is asked for a user and password.
struct Access: RouterMiddleware {
    typealias Context = BasicRequestContext

    let settings: Configuration.Web
    /// Basic credentials already checked: bcrypt costs about a tenth of a
    /// second, too much for every request of a dashboard.
    private let verified = Guarded<Set<String>>([])

    init(settings: Configuration.Web) { self.settings = settings }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard settings.open || allowed(request) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = settings.users.isEmpty ? "Bearer realm=\"fieldgw\"" : "Basic realm=\"fieldgw\", charset=\"UTF-8\""
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .unauthorized, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: "this gateway asks for a token or a user and password\n")))
        }
        return try await next(request, context)
    }

    private func allowed(_ request: Request) -> Bool {
        let header = request.headers[.authorization] ?? ""
        if let token = settings.token {
            let offered = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : request.uri.queryParameters["access_token"].map(String.init)
            if let offered, Self.same(offered, token) { return true }
        }
        guard header.hasPrefix("Basic "), !settings.users.isEmpty else { return false }
        if verified.withLock({ $0.contains(header) }) { return true }
        guard let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
              let colon = decoded.firstIndex(of: ":") else { return false }
        let (name, password) = (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
        guard let user = settings.users.first(where: { $0.name == name }), Bcrypt.verify(password, hash: user.passwordHash) else { return false }
        verified.withLock { if $0.count < 64 { $0.insert(header) } }
        return true
    }

    /// Equal in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
