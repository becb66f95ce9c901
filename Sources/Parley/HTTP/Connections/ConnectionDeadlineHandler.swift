import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose `ConnectionDeadline` passes: a request head or body that does not
/// arrive in time, or a kept-alive connection left idle. Sits after the HTTP codec, so it sees
/// whole request and response parts.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private let logger: Logger
    private var state: ConnectionDeadline?
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if state == nil { start(context) }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: schedule(context, state?.readHead(at: .now))
        case .body: break
        case .end: schedule(context, state?.readEnd())
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { schedule(context, state?.wroteResponseEnd(at: .now)) }
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        state = ConnectionDeadline(limits: limits, openedAt: .now)
        schedule(context, state?.deadline)
    }

    private func schedule(_ context: ChannelHandlerContext, _ deadline: ContinuousClock.Instant?) {
        timer?.cancel()
        timer = nil
        guard let deadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(deadline - .now)) { [self] in
            timer = nil
            guard let state, let current = state.deadline, current <= .now else { return }
            logger.debug("closing a connection past its deadline", metadata: ["parley.phase": "\(state.expiredPhase)"])
            context.close(promise: nil)
        }
    }
}
