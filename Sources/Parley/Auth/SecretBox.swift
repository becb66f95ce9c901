import Crypto
import Foundation

/// Seals secrets that Parley must be able to read back (provider API keys, view secrets, signing
/// keys) with AES-256-GCM under the 32-byte `master.key`.
///
/// Each value is bound to a label naming where it lives (`bot:bot_…:api_key`) as authenticated
/// data, so a sealed value copied into another row does not open.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    func seal(_ plaintext: Data, label: String) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key, authenticating: Data(label.utf8)).combined else {
            throw SecretBoxError.cannotSeal
        }
        return combined
    }

    func unseal(_ sealed: Data, label: String) throws -> Data {
        try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(label.utf8))
    }

    /// Loads `master.key` from `url`, creating it (32 random bytes, mode 0600) when absent.
    ///
    /// - Throws: `SecretBoxError` when the file has the wrong size or is readable by others: a
    ///   key that leaked, or belongs to something else, must stop the server rather than be used.
    public static func loadOrCreateMasterKey(at url: URL) throws -> SecretBox {
        let path = url.path
        if !FileManager.default.fileExists(atPath: path) {
            let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                let written = fresh.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                let synced = fsync(descriptor)
                close(descriptor)
                guard written == fresh.count, synced == 0 else { throw SecretBoxError.cannotCreate(path) }
            } else if errno != EEXIST {
                throw SecretBoxError.cannotCreate(path)
            }
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 != 0 {
            throw SecretBoxError.tooOpen(path, permissions)
        }
        let bytes = try Data(contentsOf: url)
        guard bytes.count == 32 else { throw SecretBoxError.wrongSize(path, bytes.count) }
        return SecretBox(key: SymmetricKey(data: bytes))
    }
}

public enum SecretBoxError: Error, CustomStringConvertible {
    case cannotSeal
    case cannotCreate(String)
    case tooOpen(String, Int)
    case wrongSize(String, Int)

    public var description: String {
        switch self {
        case .cannotSeal: "AES-GCM sealing failed"
        case .cannotCreate(let path): "cannot create \(path)"
        case .tooOpen(let path, let mode):
            "\(path) has mode \(String(mode, radix: 8)); it must be readable by its owner only (chmod 600)"
        case .wrongSize(let path, let size): "\(path) holds \(size) bytes; a master key is exactly 32"
        }
    }
}
