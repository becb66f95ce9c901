import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// How the fast provider paces every reply.
struct ReplyPacing: Sendable {
    var chunks: Int
    var interval: TimeAmount
}

/// An OpenAI-compatible chat-completions endpoint written straight on SwiftNIO, as cheap as a
/// streaming server can be, so that what the benchmark measures on top of it is the relay's cost.
///
/// Every POST gets `200 text/event-stream`: one content chunk at once, the rest `interval` apart,
/// then a `finish_reason` chunk, a usage chunk and `data: [DONE]`. The request body is read and
/// ignored. Connections are kept alive, as a real provider's would be.
struct FastProvider {
    let pacing: ReplyPacing
    let threads: Int

    func run(port: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let pacing = self.pacing
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 8192)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(PacedReplyHandler(pacing: pacing))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        // Written unbuffered: the benchmark reads this line from a pipe before it goes on.
        FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? port)\n".utf8))
        try await channel.closeFuture.get()
    }
}

/// Answers each request on one connection with a paced SSE reply.
final class PacedReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let contentChunk = #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}"# + "\n\n"
    private static let closing =
        #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n"
        + #"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","model":"bench","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":50,"total_tokens":62}}"# + "\n\n"
        + "data: [DONE]\n\n"

    private let pacing: ReplyPacing
    private var keepAlive = true
    private var next: Scheduled<Void>?

    init(pacing: ReplyPacing) {
        self.pacing = pacing
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/event-stream")
            headers.add(name: "Cache-Control", value: "no-cache")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            send(chunk: 0, context: context)
        }
    }

    private func send(chunk index: Int, context: ChannelHandlerContext) {
        guard index < pacing.chunks else {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: Self.closing)))), promise: nil)
            let keepAlive = self.keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: Self.contentChunk)))), promise: nil)
        next = context.eventLoop.assumeIsolated().scheduleTask(in: pacing.interval) { [self] in
            self.send(chunk: index + 1, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        next?.cancel()
        next = nil
        context.fireChannelInactive()
    }
}
