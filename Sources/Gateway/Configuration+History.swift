import History

extension Configuration {
    /// `[history]`: every polled value that changes and every write the
    /// slaves carry out, recorded in a cpppo-compatible history file.
    public struct History: Sendable, Hashable {
        /// The history file written (`path`).
        public var path: String
        /// A file about to grow past this many bytes is rotated (`max_bytes`); nil:
        /// no size limit.
        public var maxBytes: Int?
        /// Seconds between a file's first record and the one that rotates it.
        public var maxAge: Double?
        /// How many rotated files are kept (`keep`).
        public var keep = 10
        /// How rotated files are compressed (`compression`: gzip, bzip2, xz or none).
        public var compression: Compression = .gzip
        /// nil: never fsync; 0: after every record; else at most this often (seconds).
        public var fsyncInterval: Double?

        /// Settings for the file at `path`, rotated never and synced never.
        public init(path: String) { self.path = path }

        /// When the writer rotates, or nil when neither a size nor an age is set.
        public var rotation: HistoryWriter.Rotation? {
            guard maxBytes != nil || maxAge != nil else { return nil }
            return .init(maxBytes: maxBytes, maxAge: maxAge, keep: keep, compression: compression)
        }

        /// When the writer fsyncs, from ``Configuration/History/fsyncInterval``.
        public var sync: HistoryWriter.Sync {
            guard let fsyncInterval else { return .never }
            return fsyncInterval == 0 ? .everyWrite : .interval(seconds: fsyncInterval)
        }
    }

    static func history(_ source: TOMLReader) throws(ConfigurationError) -> History? {
        var reader = source
        guard try reader.bool("enabled") ?? true else { return nil }
        let path = try reader.required("path") { reader, key throws(ConfigurationError) in try reader.string(key) }
        guard !path.isEmpty else { throw reader.error("path", "name the history file (\"/var/lib/fieldgw/plant.hst\")") }
        var history = History(path: path)
        history.maxBytes = try reader.int("max_bytes", in: 4096...(1 << 40))
        history.maxAge = try reader.double("max_age", in: 1...(366 * 86_400))
        history.keep = try reader.int("keep", in: 1...10_000) ?? 10
        if let name = try reader.string("compression") {
            guard let compression = Compression(rawValue: name == "gz" ? "gzip" : name) else {
                throw reader.error("compression", "\"\(name)\" is not gzip, bzip2, xz or none")
            }
            history.compression = compression
        }
        history.fsyncInterval = try reader.double("fsync_interval", in: 0...3600)
        try reader.finish()
        return history
    }
}
