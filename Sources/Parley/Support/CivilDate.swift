/// A moment as a UTC calendar date and time of day, by arithmetic alone.
///
/// Every reply needs its UTC day twice (the daily budget, the usage roll-up) and every message
/// the API shows carries a time; `Calendar` and `String(format:)` made the day cost as much as
/// one of the reply's SQL statements (perf). The conversion is H. Hinnant's `civil_from_days`:
/// exact for the proleptic Gregorian calendar, so it agrees with `Calendar(identifier: .gregorian)`
/// in UTC for every time a timestamp column can hold.
struct CivilDate: Equatable {
    var year: Int64
    /// 1…12.
    var month: Int64
    /// 1…31.
    var day: Int64
    /// 0…86,399.
    var secondOfDay: Int64

    init(millisecondsSince1970 milliseconds: Int64) {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        secondOfDay = seconds - days * 86_400
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// `YYYY-MM-DD`, the day as the usage tables key it.
    var dayString: String {
        withRFC3339 { String(decoding: $0.prefix(10), as: UTF8.self) }
    }

    /// The length of `YYYY-MM-DDTHH:MM:SSZ`, what `withRFC3339` hands over.
    static let rfc3339Count = 20

    /// Calls `body` with the moment as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole seconds), as
    /// `JSONEncoder` writes a `Date` with `.iso8601`: years 0…9,999, which every time a server
    /// stores falls in.
    ///
    /// The text is written in a scratch buffer on the stack and handed over whole, so that a
    /// page of history appends each time once rather than byte by byte: each append to an array
    /// checks its capacity and that it is the storage's one owner, and a time is 20 of them.
    func withRFC3339<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.rfc3339Count) { text in
            func put(_ value: Int64, digits: Int, at offset: Int) {
                var rest = value
                for index in (offset..<offset + digits).reversed() {
                    text.initializeElement(at: index, to: UInt8(ascii: "0") + UInt8(rest % 10))
                    rest /= 10
                }
            }
            func put(_ character: Unicode.Scalar, at offset: Int) {
                text.initializeElement(at: offset, to: UInt8(ascii: character))
            }
            put(year, digits: 4, at: 0)
            put("-", at: 4)
            put(month, digits: 2, at: 5)
            put("-", at: 7)
            put(day, digits: 2, at: 8)
            put("T", at: 10)
            put(secondOfDay / 3600, digits: 2, at: 11)
            put(":", at: 13)
            put(secondOfDay / 60 % 60, digits: 2, at: 14)
            put(":", at: 16)
            put(secondOfDay % 60, digits: 2, at: 17)
            put("Z", at: 19)
            return body(UnsafeBufferPointer(text))
        }
    }
}

extension [UInt8] {
    /// Appends a non-negative `value` in decimal, zero-padded on the left to `digits` digits.
    mutating func appendDecimal<Value: BinaryInteger>(_ value: Value, digits: Int) {
        var divisor: Value = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
