/// What the chat routes ask of replies: start one, follow one from a point, cancel one. The seam
/// between the HTTP routes and whatever runs replies.
///
/// `GenerationHub` is the in-process broker: it runs each reply here and keeps its events in
/// memory. A broker for several instances would mirror another instance's reply into a local
/// `ReplyRun` and forward cancels; `ReplyBrokerContractTests` is what any broker must pass.
protocol ReplyBroker: Sendable {
    /// Checks and stores the post, then starts its reply (see `GenerationHub.start`).
    func start(_ post: ReplyPost) async throws -> ReplyRun
    /// The events of the stored assistant message `reply` to stream after seq `after` (all for
    /// `nil`): live while it runs, rebuilt from storage once it has ended and left memory.
    /// `nil` when it cannot be followed (a reply with no user message to rebuild from).
    func follow(_ reply: MessageRecord, after: Int?) async throws -> ReplyFollow?
    /// Asks a running reply to stop; `false` when it is not running.
    func cancel(_ messageID: String) async -> Bool
    /// Stops the reply streaming in a conversation, if any (before the conversation is deleted).
    func cancelReply(inConversation conversationID: String) async
}

/// A reply to stream, and the seq to stream it after.
struct ReplyFollow: Sendable {
    let run: ReplyRun
    let after: Int?
}
