import Hummingbird
import Logging

/// The context every request starts with: its id, and whatever credential the authentication
/// middleware of its route group has proven.
public struct ParleyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `req_…`: echoed in `X-Request-Id`, every error body and every log line of the request.
    public var requestID: String
    /// Set by `APIKeyAuthenticator` on the issuance and admin groups.
    var apiCredential: APICredential?
    /// Set by `EmbedTokenAuthenticator` on the chat group.
    var embedSession: EmbedSession?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = RandomToken.id("req_")
        self.logger[metadataKey: "parley.request_id"] = .string(requestID)
    }

    /// The contract's request body limit (DESIGN.md §2): 1 MiB.
    public var maxUploadSize: Int { RequestLimits.maxBodyBytes }
}

enum RequestLimits {
    static let maxBodyBytes = 1 << 20
    /// Longer `Authorization` values are refused before any parsing.
    static let maxCredentialBytes = 8 * 1024
}

/// Requests that carry a server-side credential: an API key (`tokens` or `admin` scope) or the
/// operator's admin key. A handler in this group cannot run unauthenticated: building the
/// context fails first.
struct IssuerRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let requestID: String
    let credential: APICredential

    init(context: ParleyRequestContext) throws {
        guard let credential = context.apiCredential else { throw ParleyError.missingToken }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.credential = credential
    }

    var maxUploadSize: Int { RequestLimits.maxBodyBytes }
}

/// Requests to the admin API: the operator's key or an `admin`-scoped workspace key.
struct AdminRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let requestID: String
    let credential: APICredential

    init(context: ParleyRequestContext) throws {
        guard let credential = context.apiCredential else { throw ParleyError.missingToken }
        guard credential.mayAdminister else { throw ParleyError.forbidden() }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.credential = credential
    }

    var maxUploadSize: Int { RequestLimits.maxBodyBytes }
}

/// Requests from a browser holding an embed token for one user of one workspace.
struct EmbedRequestContext: ChildRequestContext {
    var coreContext: CoreRequestContextStorage
    let requestID: String
    let session: EmbedSession

    init(context: ParleyRequestContext) throws {
        guard let session = context.embedSession else { throw ParleyError.missingToken }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.session = session
    }

    var maxUploadSize: Int { RequestLimits.maxBodyBytes }
}
