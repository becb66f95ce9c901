import Crypto
import CurlStream
import Foundation
import GRDB
import Logging

@testable import Parley

/// Replies without HTTP in front: one conversation (conv_1 of u-1, answered by bot_1) in a fresh
/// SQLite database, and reply generators over any store, for the hub and broker tests.
enum ReplyFixture {
    /// Runs `body` with the store of a new database whose bot talks to the provider at `base`,
    /// then removes the database.
    static func withConversation<Value: Sendable>(providerBase base: String, _ body: (SQLiteChatStore) async throws -> Value) async throws
        -> Value
    {
        let (database, folder) = try StorageTests().temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: folder) }
        var bot = StorageTests.bot
        bot.baseUrl = "\(base)/v1"
        try await database.writer.write { [bot] db in try StorageTests.insertConversation(db, bot: bot) }
        return try await body(SQLiteChatStore(writer: database.writer, committer: GroupCommitter(writer: database.writer), cache: ConfigurationRowCache()))
    }

    /// A generator that stores through `store` and calls providers over loopback.
    static func generator(store: any ChatStore) -> ReplyGenerator {
        let logger = Logger(label: "test")
        return ReplyGenerator(
            store: store,
            provider: ProviderClient(http: CurlClient(), upstreamGuard: UpstreamGuard(allowPrivate: true), timeouts: CurlTimeouts()),
            secretBox: SecretBox(key: .init(size: .bits256)), clock: .system, logger: logger,
            flusher: ReplyTextFlusher(store: store, clock: .system, interval: .seconds(3600), logger: logger))
    }
}
