import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves the gateway's state over HTTP for `fieldgw status` (and any
/// monitoring that reads JSON): `GET /status`; and, given a registry, its
/// metrics in Prometheus's text format: `GET /metrics`. Anything else is 404.
public final class StatusServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) { self.channel = channel }

    public static func start(host: String, port: Int, group: any EventLoopGroup, metrics: PrometheusCollectorRegistry? = nil,
                             status: @escaping @Sendable () -> GatewayStatus) async throws -> StatusServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StatusHandler(status: status, metrics: metrics))
                }
            }
            .bind(host: host, port: port).get()
        return StatusServer(channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }
}

final class StatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let status: @Sendable () -> GatewayStatus
    private let metrics: PrometheusCollectorRegistry?
    private var path = ""

    init(status: @escaping @Sendable () -> GatewayStatus, metrics: PrometheusCollectorRegistry?) {
        self.status = status
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.method == .GET ? head.uri : ""
        case .body: break
        case .end: respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let (code, type, body) = answer()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: code, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Status, content type and body for the path asked.
    private func answer() -> (HTTPResponseStatus, String, [UInt8]) {
        switch (path, metrics) {
        case ("/status", _):
            return (.ok, "application/json", Array((try? Self.encoder.encode(status())) ?? Data()))
        case ("/metrics", let registry?):
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", MetricsHelp.render(registry))
        default:
            let served = metrics == nil ? "GET /status" : "GET /status and GET /metrics"
            return (.notFound, "text/plain", Array("only \(served) are served here\n".utf8))
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()
}
