/// A growable run of bytes for hand-written JSON, appended to through a pointer.
///
/// `[UInt8]` serves every other purpose, but each of its appends goes through `Sequence`'s
/// general path, and a page of history appends thousands of times. Here an append is a capacity
/// check, a check that the storage has one owner, and the copy.
///
/// It has value semantics, as an array does: a copy shares the storage until either side appends,
/// and the one that appends first takes a copy of its own.
struct JSONBytes {
    /// Sendable as an array's storage is: its bytes are written only through a `JSONBytes`
    /// that holds it alone (see `reserve`).
    private final class Storage: @unchecked Sendable {
        /// Room for nothing, shared: what a placeholder holds, so that making one allocates nothing.
        static let empty = Storage(capacity: 0)

        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int

        init(capacity: Int) {
            base = .allocate(capacity: capacity)
            self.capacity = capacity
        }

        deinit { base.deallocate() }
    }

    private var storage: Storage
    private(set) var count = 0

    init(capacity: Int = 64) {
        storage = Storage(capacity: Swift.max(capacity, 16))
    }

    private init(storage: Storage) {
        self.storage = storage
    }

    /// No bytes, and no storage of its own until the first append: a stand-in for bytes
    /// swapped out for a moment (see `JSONObjectWriter.appendObject(to:_:)`).
    static var placeholder: JSONBytes { JSONBytes(storage: .empty) }

    /// Makes room for `extra` more bytes, in storage of this value's own.
    mutating func reserve(_ extra: Int) {
        if storage.capacity - count < extra || !isKnownUniquelyReferenced(&storage) {
            moveToNewStorage(holding: count + extra)
        }
    }

    /// Doubles (at least), as an array does, so that a body written piece by piece is copied a
    /// logarithmic number of times.
    @inline(never)
    private mutating func moveToNewStorage(holding minimum: Int) {
        let larger = Storage(capacity: Swift.max(minimum, 2 * storage.capacity))
        larger.base.initialize(from: storage.base, count: count)
        storage = larger
    }

    mutating func append(_ byte: UInt8) {
        reserve(1)
        storage.base[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(storage.base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends exactly `length` bytes, which `write` must set, every one: for short pieces of
    /// known length (a key with its punctuation, a time), written in place rather than put
    /// together elsewhere and copied.
    mutating func append(length: Int, _ write: (UnsafeMutablePointer<UInt8>) -> Void) {
        reserve(length)
        write(storage.base + count)
        count += length
    }

    /// Appends `value` in decimal, zero-padded on the left to `digits` digits.
    mutating func appendDecimal(_ value: UInt64, digits: Int) {
        append(length: digits) { $0.setDecimal(value, digits: digits) }
    }

    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(storage) {
            try body(UnsafeRawBufferPointer(start: storage.base, count: count))
        }
    }

    /// The bytes, copied into an array.
    var array: [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

extension JSONBytes: Sendable {}

extension UnsafeMutablePointer<UInt8> {
    /// Sets the `digits` bytes here to `value` in decimal, zero-padded on the left (the lowest
    /// `digits` digits of a longer value): the one digit writer of hand-written JSON and times.
    func setDecimal(_ value: UInt64, digits: Int) {
        var rest = value
        for index in (0..<digits).reversed() {
            self[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}
