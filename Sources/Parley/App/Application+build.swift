import CurlStream
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging

/// Builds the whole Parley server: storage (migrated), keys, routes and middleware.
///
/// `parley serve` and every test call this one function, so what is tested is what runs.
///
/// ```swift
/// let app = try await buildApplication(ParleyConfig(environment: ProcessInfo.processInfo.environment))
/// try await app.runService()
/// ```
///
/// - Parameters:
///   - config: the settings; `dataDirectory` is created (mode 0700) if missing.
///   - clock: the wall clock for token lifetimes and rate limits; tests pass one they can move.
///   - logger: where logs go. Wrap custom handlers in `RedactingLogHandler`.
/// - Throws: `ConfigError` for unusable settings, `SecretBoxError` for a bad `master.key`, and
///   storage errors when the database cannot be opened or migrated. Nothing listens until all
///   of that succeeded.
public func buildApplication(
    _ config: ParleyConfig,
    clock: WallClock = .system,
    logger: Logger? = nil
) async throws -> some ApplicationProtocol {
    let logger =
        logger
        ?? {
            var logger = Logger(label: "parley") { RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: $0)) }
            logger.logLevel = config.logLevel
            return logger
        }()
    let services = try await ParleyServices.start(config, clock: clock, logger: logger)
    let router = buildRouter(services)
    if config.demo {
        try await DemoRoutes.seed(services)
        DemoRoutes(services: services).register(on: router)
    }
    let limits = config.connectionLimits
    let descriptors = DescriptorLimit.raiseToHard()
    let maxConnections = limits.maxConnections ?? ConnectionLimits.connectionCap(forDescriptors: descriptors)
    logger.info("connection limits", metadata: ["parley.open_files": "\(descriptors)", "parley.max_connections": "\(maxConnections)"])
    return Application(
        responder: HeadResponder(wrapped: router.buildResponder()),
        server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionDeadlineHandler(limits: limits, logger: logger)])),
        configuration: .init(
            address: .hostname(config.host, port: config.port), serverName: "Parley",
            availableConnectionsDelegate: LoggedConnectionCap(maxConnections: maxConnections, logger: logger)),
        // Stopped in reverse order after the server: replies drain while libcurl still runs and
        // their text is still saved as it grows.
        services: try [
            CurlClientService(client: services.curl),
            services.replyTextFlusher,
            GenerationHubService(hub: services.hub, drainDeadline: config.shutdownDrainDeadline, logger: logger),
            RetentionService(
                sweeper: RetentionSweeper(workspaces: services.stores.workspaces, chat: services.chat, clock: clock, logger: logger),
                interval: .seconds(3600)),
            MemoryTrimmer(hub: services.hub, logger: logger),
        ] + services.storage.backgroundServices(logger: logger),
        onServerRunning: { channel in
            logger.notice(
                "parley is listening",
                metadata: ["parley.address": "\(channel.localAddress?.description ?? "?")", "parley.public_url": "\(config.publicURL)"])
        },
        logger: logger
    )
}

/// The routes, by audience, each group behind the authentication it needs.
func buildRouter(_ services: ParleyServices) -> Router<ParleyRequestContext> {
    let router = Router(context: ParleyRequestContext.self)
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: services.metrics))
    router.add(middleware: ResponseHeadersMiddleware())
    router.add(middleware: CORSMiddleware())
    router.add(middleware: ErrorMiddleware(storageHealth: services.storageHealth))

    PublicRoutes(services: services).register(on: router)
    AssetRoutes().register(on: router)
    EmbedPageRoutes(services: services).register(on: router)
    ViewRoutes(services: services).register(on: router)

    let apiKeyAuthenticator = APIKeyAuthenticator(
        credentials: services.stores.credentials,
        environmentAdminKeyHash: services.config.adminKey.map(Digest256.sha256),
        clock: services.clock)

    let issuance = router.group().add(middleware: apiKeyAuthenticator).group(context: IssuerRequestContext.self)
    TokenRoutes(services: services).register(on: issuance)

    let admin = router.group("/admin/v1").add(middleware: apiKeyAuthenticator).group(context: AdminRequestContext.self)
    AdminWorkspaceRoutes(services: services).register(on: admin)
    AdminKeyRoutes(services: services).register(on: admin)
    AdminBotRoutes(services: services).register(on: admin)
    AdminViewRoutes(services: services).register(on: admin)
    AdminConversationRoutes(services: services).register(on: admin)

    let operators = router.group().add(middleware: apiKeyAuthenticator).group(context: AdminRequestContext.self)
    operators.get("/metrics") { _, context in
        guard context.credential.isOperator else { throw ParleyError.forbidden("Metrics need the operator's admin key.") }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: services.metrics.render())))
    }

    let chat = router.group("/v1")
        .add(middleware: EmbedTokenAuthenticator(tokens: services.tokens, publicOrigin: services.config.publicOrigin))
        .group(context: EmbedRequestContext.self)
    SessionRoutes(services: services).register(on: chat)
    ChatRoutes(
        services: services,
        stream: ReplyStreamResponse(
            pingInterval: services.config.streamPingInterval, checkInterval: services.config.streamCheckInterval,
            openStreams: services.metrics.openStreams)
    ).register(on: chat)

    return router
}

extension ParleyServices {
    /// Opens storage and loads keys: everything that must succeed before the server listens.
    static func start(_ config: ParleyConfig, clock: WallClock, logger: Logger) async throws -> ParleyServices {
        if let adminKey = config.adminKey {
            guard let secret = APIKeySecret(parsing: adminKey), secret.kind == .admin else {
                throw ConfigError(variable: "PARLEY_ADMIN_KEY", reason: "must be sk_admin_ followed by 32 base62 characters")
            }
        }
        try FileManager.default.createDirectory(
            at: config.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let secretBox = try SecretBox.loadOrCreateMasterKey(at: config.masterKeyURL)
        let metrics = ParleyMetrics()
        let storage = try SQLiteBackend.open(config, onCommit: { metrics.sqliteWrite($0) })
        let storageHealth = StorageHealth(classify: storage.refusal)
        let stores = storage.stores
        let keyRing = SigningKeyRing(store: stores.signingKeys, secretBox: secretBox, clock: clock, logger: logger)
        try await keyRing.load()
        let issuer = config.publicURL.absoluteString.hasSuffix("/")
            ? String(config.publicURL.absoluteString.dropLast()) : config.publicURL.absoluteString
        let chat = stores.chat
        let abandoned = try await chat.interruptAbandonedReplies(at: clock.nowMilliseconds)
        if abandoned > 0 {
            logger.warning("replies left streaming by the last run are now interrupted", metadata: ["parley.count": "\(abandoned)"])
        }
        let upstreamGuard = UpstreamGuard(allowPrivate: config.allowPrivateUpstreams)
        let curl = CurlClient()
        let flusher = ReplyTextFlusher(
            store: chat, clock: clock, interval: config.replyFlushInterval, logger: logger, storageHealth: storageHealth)
        let generator = ReplyGenerator(
            store: chat, provider: ProviderClient(http: curl, upstreamGuard: upstreamGuard, timeouts: config.upstreamTimeouts),
            secretBox: secretBox, clock: clock, logger: logger, metrics: metrics, flusher: flusher,
            providerOverride: config.providerOverride, storageHealth: storageHealth)
        return ParleyServices(
            config: config,
            storage: storage,
            stores: stores,
            secretBox: secretBox,
            keyRing: keyRing,
            tokens: EmbedTokenService(stores: stores, keyRing: keyRing, issuer: issuer, clock: clock),
            mintLimiter: RateLimiter(clock: clock),
            messageLimiter: RateLimiter(clock: clock),
            hub: GenerationHub(
                store: chat, generator: generator, clock: clock, logger: logger, metrics: metrics, retention: config.replyEventRetention),
            replyTextFlusher: flusher,
            upstreamGuard: upstreamGuard,
            curl: curl,
            metrics: metrics,
            storageHealth: storageHealth,
            clock: clock,
            logger: logger)
    }
}
