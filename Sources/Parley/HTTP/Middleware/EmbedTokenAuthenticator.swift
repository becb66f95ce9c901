import Hummingbird
import Logging

/// Proves the embed token of the chat API and checks the browser's origin against the
/// workspace's allow-list.
///
/// The origin check runs after the token is verified, because the allow-list belongs to the
/// token's workspace. Requests without an `Origin` (server-side calls, same-origin GETs) pass;
/// Parley's own pages (`PARLEY_PUBLIC_URL`) are always allowed.
struct EmbedTokenAuthenticator: RouterMiddleware {
    typealias Context = ParleyRequestContext

    let tokens: EmbedTokenService
    let publicOrigin: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = try BearerCredential.read(from: request) else {
            return try await next(request, context)
        }
        if APIKeySecret(parsing: presented) != nil {
            throw ParleyError.invalidToken("This endpoint takes an embed token, not an API key.")
        }
        let session = try await tokens.verify(presented)
        if let origin = request.headers[.origin], origin != publicOrigin, !session.workspace.allowedOrigins.contains(origin) {
            context.logger.notice(
                "refused a browser origin", metadata: ["parley.origin": "\(origin)", "parley.workspace_id": "\(session.workspaceID)"])
            throw ParleyError.originNotAllowed
        }
        var context = context
        context.embedSession = session
        context.logger[metadataKey: "parley.workspace_id"] = .string(session.workspaceID)
        context.logger[metadataKey: "parley.user_id"] = .string(session.userID)
        return try await next(request, context)
    }
}
