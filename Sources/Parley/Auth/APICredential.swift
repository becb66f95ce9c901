import Foundation

/// A server-side secret as presented in `Authorization: Bearer …`: `sk_live_` + 32 base62 for a
/// workspace key, `sk_admin_` + 32 base62 for an operator key.
///
/// Only the SHA-256 of a key is stored. Keys are long random strings, not passwords, so a fast
/// hash is enough: nobody can search 190 bits.
struct APIKeySecret: Sendable {
    enum Kind: Sendable {
        case workspace
        case admin

        var prefix: String {
            switch self {
            case .workspace: "sk_live_"
            case .admin: "sk_admin_"
            }
        }
    }

    static let randomLength = 32

    let kind: Kind
    let value: String

    /// Recognizes the shape of a key, without looking it up. `nil` for anything else, including
    /// embed tokens, so the caller can answer with the one `invalid_api_key` body.
    init?(parsing text: String) {
        for kind in [Kind.workspace, .admin] where text.hasPrefix(kind.prefix) {
            let random = text.dropFirst(kind.prefix.count)
            guard random.utf8.count == Self.randomLength, RandomToken.isBase62(random) else { return nil }
            self.kind = kind
            self.value = text
            return
        }
        return nil
    }

    private init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }

    static func generate(_ kind: Kind) -> APIKeySecret {
        APIKeySecret(kind: kind, value: kind.prefix + RandomToken.base62(randomLength))
    }

    var hash: Data { Digest256.sha256(value) }
    /// Enough to recognize a key in a list (`sk_live_AbC1…`), far too little to use it.
    var displayPrefix: String { String(value.prefix(kind.prefix.count + 4)) }
}

/// Who is calling the issuance or admin API, once their key has been checked.
struct APICredential: Sendable {
    enum Authority: Sendable {
        /// The operator: every workspace.
        case operatorKey
        /// A workspace's own key.
        case workspaceKey(workspaceID: String, scope: APIKeyScope)
    }

    /// `key_…`, `adm_…` or `env` (the `PARLEY_ADMIN_KEY`): what audit lines name as the actor.
    let id: String
    let authority: Authority

    var isOperator: Bool {
        if case .operatorKey = authority { return true }
        return false
    }

    var mayAdminister: Bool {
        switch authority {
        case .operatorKey: true
        case .workspaceKey(_, let scope): scope == .admin
        }
    }

    /// The only workspace this credential reaches, or `nil` for the operator (all of them).
    var workspaceID: String? {
        if case .workspaceKey(let workspaceID, _) = authority { return workspaceID }
        return nil
    }

    func canSee(workspaceID candidate: String) -> Bool {
        switch authority {
        case .operatorKey: true
        case .workspaceKey(let workspaceID, _): Data(workspaceID.utf8) == Data(candidate.utf8)
        }
    }
}
