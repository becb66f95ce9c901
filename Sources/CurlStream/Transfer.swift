import CCurl

/// One request in flight: its easy handle and what has arrived of its response.
///
/// Built on the caller's thread, then handed to the reactor thread, which alone uses it from then
/// on: libcurl calls it back there and it is destroyed there. The parts other threads touch after
/// the hand-over are `id` (immutable) and `buffer` (locked). That hand-over is why the type may
/// travel in the reactor's `Sendable` commands.
final class Transfer: @unchecked Sendable {
    let id: UInt64
    let easy: UnsafeMutableRawPointer
    let buffer: BodyBuffer
    let timeouts: CurlTimeouts
    let startedAt: ContinuousClock.Instant

    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var resolveEntries: UnsafeMutablePointer<curl_slist>?
    private var head: CheckedContinuation<CurlResponse, any Error>?
    private let makeHandle: @Sendable (BodyBuffer) -> TransferHandle

    private(set) var status = 0
    private(set) var responseHeaders: [(name: String, value: String)] = []
    private(set) var headComplete = false
    /// When the latest body byte arrived, or the transfer last resumed after a pause.
    var lastActivity: ContinuousClock.Instant?
    /// The write callback returned `CURL_WRITEFUNC_PAUSE` and no resume has been applied since.
    var isPaused = false

    init?(
        id: UInt64, request: CurlRequest, buffer: BodyBuffer, head: CheckedContinuation<CurlResponse, any Error>,
        makeHandle: @escaping @Sendable (BodyBuffer) -> TransferHandle
    ) {
        guard let easy = curl_easy_init() else { return nil }
        self.id = id
        self.easy = easy
        self.buffer = buffer
        self.timeouts = request.timeouts
        self.head = head
        self.makeHandle = makeHandle
        self.startedAt = .now
        configure(request)
    }

    private func configure(_ request: CurlRequest) {
        _ = ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, request.timeouts.connect.milliseconds)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, request.timeouts.total.milliseconds)

        switch (request.method, request.body) {
        case ("GET", nil): break
        case (_, let body?):
            _ = ccurl_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBufferPointer { bytes in
                // COPYPOSTFIELDS copies the bytes now, so the array need not outlive this call.
                _ = ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            }
            if request.method != "POST" { _ = ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
        case (let method, nil):
            _ = ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)
        }

        // An explicit empty `Expect` stops libcurl from waiting for `100 Continue` on POSTs.
        for header in request.headers + [(name: "Expect", value: "")] {
            requestHeaders = curl_slist_append(requestHeaders, "\(header.name): \(header.value)")
        }
        _ = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, requestHeaders)
        for entry in request.resolve {
            resolveEntries = curl_slist_append(resolveEntries, entry)
        }
        if resolveEntries != nil { _ = ccurl_easy_setopt_slist(easy, CURLOPT_RESOLVE, resolveEntries) }

        let this = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_easy_setopt_write_callback(easy, Transfer.onBody)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, this)
        _ = ccurl_easy_setopt_header_callback(easy, Transfer.onHeader)
        _ = ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, this)
    }

    // MARK: libcurl callbacks (reactor thread)

    private static let onHeader: curl_write_callback = { data, size, count, context in
        let length = size * count
        guard let data, let context else { return length }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        transfer.receiveHeaderLine(line)
        return length
    }

    private static let onBody: curl_write_callback = { data, size, count, context in
        let length = size * count
        guard let context else { return length }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
        transfer.completeHead()
        transfer.lastActivity = .now
        switch transfer.buffer.offer(UnsafeRawBufferPointer(start: data, count: length)) {
        case .accepted:
            return length
        case .pause:
            transfer.isPaused = true
            return ccurl_writefunc_pause()
        }
    }

    private func receiveHeaderLine(_ line: String) {
        let trimmed = line.trimmingLineEnd()
        if trimmed.hasPrefix("HTTP/") {
            // A new header block (after a 1xx, or the first): start over.
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            responseHeaders = []
        } else if trimmed.isEmpty {
            if status >= 200 { completeHead() }
        } else if let colon = trimmed.firstIndex(of: ":") {
            let name = trimmed[..<colon].lowercased()
            let value = trimmed[trimmed.index(after: colon)...].trimmingPrefixWhitespace()
            responseHeaders.append((name: name, value: value))
        }
    }

    /// Hands the status, headers and body to the caller of `execute`, once.
    func completeHead() {
        guard !headComplete, let head else { return }
        headComplete = true
        lastActivity = .now
        self.head = nil
        head.resume(returning: CurlResponse(status: status, headers: responseHeaders, body: .init(handle: makeHandle(buffer))))
    }

    /// The transfer is over: wake whoever waits, with `error` or the end of the body.
    func finish(_ error: CurlError?) {
        if let head {
            self.head = nil
            if let error {
                head.resume(throwing: error)
            } else {
                headComplete = true
                head.resume(returning: CurlResponse(status: status, headers: responseHeaders, body: .init(handle: makeHandle(buffer))))
            }
        }
        buffer.finish(error)
    }

    /// Frees the easy handle; call after it has left the multi handle.
    func release() {
        curl_easy_cleanup(easy)
        curl_slist_free_all(requestHeaders)
        curl_slist_free_all(resolveEntries)
        requestHeaders = nil
        resolveEntries = nil
    }
}

extension Duration {
    var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}

extension String {
    fileprivate func trimmingLineEnd() -> String {
        var result = self
        while let last = result.last, last.isNewline { result.removeLast() }
        return result
    }
}

extension Substring {
    fileprivate func trimmingPrefixWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" })
    }
}
