/// A moment as a UTC calendar date and time of day, by arithmetic alone.
///
/// Every reply needs its UTC day twice (the daily budget, the usage roll-up) and every message
/// the API shows carries a time, without `Calendar` or `String(format:)`. The conversion is the
/// well-known `civil_from_days` algorithm:
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
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.rfc3339Count) { text in
            writeRFC3339(to: text.baseAddress!)
            return String(decoding: text.prefix(10), as: UTF8.self)
        }
    }

    /// The length of `YYYY-MM-DDTHH:MM:SSZ`.
    static let rfc3339Count = 20

    /// Sets the `rfc3339Count` bytes at `text` to `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole
    /// seconds), as `JSONEncoder` writes a `Date` with `.iso8601`: for years 0…9,999, which every
    /// time a server stores falls in.
    ///
    /// Written in place, whole, so that a page of history appends each time once rather than
    /// byte by byte (see `JSONBytes`).
    func writeRFC3339(to text: UnsafeMutablePointer<UInt8>) {
        // A year before 0 (a negative value) traps here, as it always has.
        func put(_ value: Int64, digits: Int, at offset: Int) {
            (text + offset).setDecimal(UInt64(value), digits: digits)
        }
        put(year, digits: 4, at: 0)
        text[4] = UInt8(ascii: "-")
        put(month, digits: 2, at: 5)
        text[7] = UInt8(ascii: "-")
        put(day, digits: 2, at: 8)
        text[10] = UInt8(ascii: "T")
        put(secondOfDay / 3600, digits: 2, at: 11)
        text[13] = UInt8(ascii: ":")
        put(secondOfDay / 60 % 60, digits: 2, at: 14)
        text[16] = UInt8(ascii: ":")
        put(secondOfDay % 60, digits: 2, at: 17)
        text[19] = UInt8(ascii: "Z")
    }
}
