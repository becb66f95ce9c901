import Crypto
import Foundation

/// The signature of a read-only conversation link (DESIGN.md §5, seed `001_…`):
/// lowercase hex `HMAC-SHA256(view_secret, conversationId)`, or with an expiry
/// `HMAC-SHA256(view_secret, conversationId + "." + valid_until)`, `valid_until` in Unix ms.
enum ViewSignature {
    enum Verdict: Equatable {
        case valid
        case invalid
        case expired
    }

    static func sign(secret: String, conversationID: String, validUntil: Int64?) -> String {
        let message = validUntil.map { "\(conversationID).\($0)" } ?? conversationID
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).hexEncoded
    }

    /// Checks a presented signature in constant time, then the expiry: a wrong signature never
    /// learns whether the link would have expired.
    static func verify(
        _ presented: String?, secret: String, conversationID: String, validUntil rawValidUntil: String?, requireExpiry: Bool, now: Int64
    ) -> Verdict {
        guard let presented, presented.utf8.count == 64 else { return .invalid }
        var validUntil: Int64?
        if let rawValidUntil {
            guard let parsed = Int64(rawValidUntil) else { return .invalid }
            validUntil = parsed
        }
        let expected = sign(secret: secret, conversationID: conversationID, validUntil: validUntil)
        guard Data(expected.utf8).constantTimeEquals(Data(presented.lowercased().utf8)) else { return .invalid }
        guard let validUntil else { return requireExpiry ? .invalid : .valid }
        return validUntil > now ? .valid : .expired
    }
}
