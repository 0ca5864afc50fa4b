/// The outcome of one operation: its status and, for a read, the type and
/// the values (or the bytes, for a structure or an attribute).
public struct TagResult: Sendable, CustomStringConvertible {
    /// The operation this is the outcome of.
    public let operation: TagOperation
    /// The reply's status; ``CIPStatus/success`` when it was carried out.
    public let status: CIPStatus
    /// The reply's type field: 2 bytes for an atomic type, 4 for a structure.
    public let type: [UInt8]
    /// A read's values as little-endian bytes, after the type field; empty for a write.
    public let data: [UInt8]

    /// Each element as text when the type is atomic; nil otherwise.
    public var values: [String]? {
        guard type.count == 2, let atomic = CIPType(rawValue: UInt16(type[0]) | UInt16(type[1]) << 8) else { return nil }
        return atomic.values(data[...])
    }

    /// "OPERATION == [values]" for a read, "OPERATION: OK" for a write, or the failure.
    public var description: String {
        guard status == .success else { return "\(operation) failed: \(status)" }
        if operation.write != nil { return "\(operation): OK" }
        let shown = values.map { "[" + $0.joined(separator: ", ") + "]" } ?? data.map { String(hexByte: $0) }.joined(separator: " ")
        return "\(operation) == \(shown)"
    }
}

extension String {
    /// Two hex digits.
    init(hexByte byte: UInt8) {
        let text = String(byte, radix: 16)
        self = text.count == 1 ? "0" + text : text
    }
}

extension ENIPClient {
    /// Carries out `operations`, `depth` requests in flight, packed into
    /// Multiple Service Packets of up to `multiple` bytes (0: none), reads
    /// and writes always fragmented when `fragment`; results come in order
    /// as they arrive.
    public func perform(_ operations: [TagOperation], depth: Int = 1, multiple: Int = 0,
                        fragment: Bool = false) -> AsyncThrowingStream<TagResult, any Error> {
        let batches = Self.batches(operations, multiple: multiple, limit: replyLimit, fragment: fragment)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await withThrowingTaskGroup(of: (Int, [TagResult]).self) { group in
                        var next = 0, done: [Int: [TagResult]] = [:], yielded = 0
                        // Each batch's first request is written here, in order:
                        // a read after a write of the same tag sees it, however deep the pipeline.
                        func launch() {
                            let index = next, batch = batches[index]
                            next += 1
                            let reply = submit(opening(batch, fragment: fragment))
                            group.addTask { (index, try await self.complete(batch, first: try await reply.get(), fragment: fragment)) }
                        }
                        while next < min(max(depth, 1), batches.count) { launch() }
                        while let (index, results) = try await group.next() {
                            done[index] = results
                            while let ready = done.removeValue(forKey: yielded) {
                                ready.forEach { continuation.yield($0) }
                                yielded += 1
                            }
                            if next < batches.count { launch() }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Operations grouped for Multiple Service Packets: consecutive ones
    /// while their requests fit `multiple` bytes and their replies (guessed
    /// at 8 bytes an element) the reply limit.
    static func batches(_ operations: [TagOperation], multiple: Int, limit: Int, fragment: Bool) -> [[TagOperation]] {
        guard multiple > 0 else { return operations.map { [$0] } }
        var batches: [[TagOperation]] = []
        var current: [TagOperation] = [], requestBytes = 4, replyBytes = 8
        for operation in operations {
            let request = first(operation, fragment: fragment).bytes.count + 2
            let reply = 8 + 8 * operation.elements + 2
            if !current.isEmpty && (requestBytes + request > multiple || replyBytes + reply > limit) {
                batches.append(current)
                (current, requestBytes, replyBytes) = ([], 4, 8)
            }
            current.append(operation)
            requestBytes += request
            replyBytes += reply
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }

    /// The first (often only) request of an operation: Get/Set Attribute
    /// when it asks for them; the Fragmented services when asked to, or
    /// from a byte offset.
    static func first(_ operation: TagOperation, fragment: Bool) -> CIPRequest {
        if operation.attributeServices {
            if let write = operation.write { return CIPRequest(service: MessageRouter.setAttributeSingle, path: operation.path, data: write.data) }
            let single = operation.path.segments.contains { if case .attribute = $0 { true } else { false } }
            return CIPRequest(service: single ? MessageRouter.getAttributeSingle : MessageRouter.getAttributesAll, path: operation.path)
        }
        let fragmented = fragment || operation.offset != nil
        var data: [UInt8] = []
        if let write = operation.write {
            data.append16(write.type.rawValue)
            data.append16(UInt16(operation.elements))
            if fragmented { data.append32(UInt32(operation.offset ?? 0)) }
            return CIPRequest(service: fragmented ? LogixServices.writeFragmented : LogixServices.writeTag, path: operation.path, data: data + write.data)
        }
        data.append16(UInt16(operation.elements))
        if fragmented { data.append32(UInt32(operation.offset ?? 0)) }
        return CIPRequest(service: fragmented ? LogixServices.readFragmented : LogixServices.readTag, path: operation.path, data: data)
    }

    /// A batch's first request: a Multiple Service Packet of its operations'
    /// first requests, an operation's only (or first) request, or the first
    /// part of a write too big for one.
    private func opening(_ batch: [TagOperation], fragment: Bool) -> CIPRequest {
        guard batch.count > 1 else {
            if let write = batch[0].write, needsFragments(batch[0], write) { return writePart(batch[0], write, from: 0) }
            return Self.first(batch[0], fragment: fragment)
        }
        return CIPRequest(service: MessageRouter.multipleServicePacket, path: CIPPath([.classID(2), .instance(1)]),
                          data: MultipleServicePacket.pack(batch.map { Self.first($0, fragment: fragment).bytes }))
    }

    private func complete(_ batch: [TagOperation], first reply: CIPReply, fragment: Bool) async throws -> [TagResult] {
        guard batch.count > 1 else {
            if let write = batch[0].write, needsFragments(batch[0], write) { return [try await writeFragments(batch[0], write, first: reply)] }
            return [try await finish(batch[0], first: reply)]
        }
        guard reply.status == .success || reply.status == .embeddedServiceError else {
            return batch.map { TagResult(operation: $0, status: reply.status, type: [], data: []) }
        }
        var results: [TagResult] = []
        for (operation, embedded) in zip(batch, try Self.embedded(reply.data, count: batch.count)) {
            results.append(try await finish(operation, first: embedded))
        }
        return results
    }

    /// The embedded replies of a Multiple Service Packet's reply.
    static func embedded(_ data: [UInt8], count: Int) throws -> [CIPReply] {
        let parts = try MultipleServicePacket.unpack(data[...])
        guard parts.count == count else { throw Failure(description: "Multiple Service Packet reply with another count") }
        return try parts.map { part throws(CIPStatus) in try CIPReply(parsing: part) }
    }

    /// A read answered in part (0x06) goes on with Read Tag Fragmented from
    /// the bytes it has; anything else is the result.
    private func finish(_ operation: TagOperation, first reply: CIPReply) async throws -> TagResult {
        guard !operation.attributeServices, operation.write == nil else {
            return TagResult(operation: operation, status: reply.status, type: [], data: reply.data)
        }
        let typeLength = reply.data.first == 0xA0 ? 4 : 2
        guard reply.status == .success || reply.status == .partialTransfer, reply.data.count >= typeLength else {
            return TagResult(operation: operation, status: reply.status, type: [], data: [])
        }
        let type = Array(reply.data.prefix(typeLength))
        var data = Array(reply.data.dropFirst(typeLength))
        var status = reply.status
        while status == .partialTransfer {
            var request: [UInt8] = []
            request.append16(UInt16(operation.elements))
            request.append32(UInt32((operation.offset ?? 0) + data.count))
            let next = try await send(CIPRequest(service: LogixServices.readFragmented, path: operation.path, data: request))
            status = next.status
            guard status == .success || status == .partialTransfer, next.data.count > typeLength else { break }
            data += next.data.dropFirst(typeLength)
        }
        return TagResult(operation: operation, status: status, type: type, data: data)
    }

    /// A write too big for one request goes in parts (Set Attribute's cannot).
    private func needsFragments(_ operation: TagOperation, _ write: TagOperation.Write) -> Bool {
        !operation.attributeServices && write.data.count + 40 > replyLimit
    }

    /// Bytes of a write that fit one request with room for its path.
    private func writeChunk(_ write: TagOperation.Write) -> Int {
        max((replyLimit - 40) / write.type.size * write.type.size, write.type.size)
    }

    private func writePart(_ operation: TagOperation, _ write: TagOperation.Write, from offset: Int) -> CIPRequest {
        var data: [UInt8] = []
        data.append16(write.type.rawValue)
        data.append16(UInt16(operation.elements))
        data.append32(UInt32((operation.offset ?? 0) + offset))
        let part = write.data[offset..<min(offset + writeChunk(write), write.data.count)]
        return CIPRequest(service: LogixServices.writeFragmented, path: operation.path, data: data + part)
    }

    /// The rest of a fragmented write, each part once the one before succeeded.
    private func writeFragments(_ operation: TagOperation, _ write: TagOperation.Write, first: CIPReply) async throws -> TagResult {
        var reply = first
        var offset = min(writeChunk(write), write.data.count)
        while reply.status == .success && offset < write.data.count {
            reply = try await send(writePart(operation, write, from: offset))
            offset += writeChunk(write)
        }
        return TagResult(operation: operation, status: reply.status, type: [], data: [])
    }
}
