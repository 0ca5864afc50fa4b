import TOMLKit

/// A bad configuration: the file, the key and what is wrong with it. Start-up
/// stops on it.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration file's path.
    public let file: String
    /// The key at fault, as a path (`line[1].baud`); empty for the file as a whole.
    public let key: String
    /// What is wrong, and what is expected.
    public let reason: String

    /// The file, the key (if any) and the reason, colon-separated.
    public var description: String { key.isEmpty ? "\(file): \(reason)" : "\(file): \(key): \(reason)" }
}

/// Reads one TOML table with the key path it came from, so that every error
/// names its key (`line[1].baud`), and refuses keys nobody read (a misspelt
/// key is an error, not a silent default).
struct TOMLReader {
    let file: String
    let path: String
    let table: TOMLTable
    private var read: Set<String> = []

    init(file: String, path: String, table: TOMLTable) {
        self.file = file
        self.path = path
        self.table = table
    }

    func error(_ key: String?, _ reason: String) -> ConfigurationError {
        let full = [path, key].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ".")
        return ConfigurationError(file: file, key: full, reason: reason)
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let text = value.string else { throw error(key, "expected a string, found \(value.type)") }
        return text
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let number = value.int else { throw error(key, "expected a whole number, found \(value.type)") }
        guard range.contains(number) else { throw error(key, "\(number) is outside \(range.lowerBound)–\(range.upperBound)") }
        return number
    }

    mutating func double(_ key: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let number = value.double ?? value.int.map(Double.init) else { throw error(key, "expected a number, found \(value.type)") }
        guard range.contains(number) else { throw error(key, "\(number) is outside \(range.lowerBound)–\(range.upperBound)") }
        return number
    }

    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let flag = value.bool else { throw error(key, "expected true or false, found \(value.type)") }
        return flag
    }

    mutating func strings(_ key: String) throws(ConfigurationError) -> [String]? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw error(key, "expected an array of strings, found \(value.type)") }
        var texts: [String] = []
        for (index, item) in array.enumerated() {
            guard let text = item.string else { throw error("\(key)[\(index)]", "expected a string, found \(item.type)") }
            texts.append(text)
        }
        return texts
    }

    mutating func required<T>(_ key: String, _ read: (inout TOMLReader, String) throws(ConfigurationError) -> T?) throws(ConfigurationError) -> T {
        guard let value = try read(&self, key) else { throw error(key, "is required") }
        return value
    }

    /// The tables of an array of tables (`[[line]]`), each with its own reader.
    mutating func tables(_ key: String) throws(ConfigurationError) -> [TOMLReader] {
        read.insert(key)
        guard let value = table[key] else { return [] }
        guard let array = value.array else { throw error(key, "expected [[\(key)]] tables, found \(value.type)") }
        var readers: [TOMLReader] = []
        for (index, item) in array.enumerated() {
            guard let table = item.table else { throw error("\(key)[\(index)]", "expected a table, found \(item.type)") }
            readers.append(TOMLReader(file: file, path: [path, "\(key)[\(index)]"].filter { !$0.isEmpty }.joined(separator: "."), table: table))
        }
        return readers
    }

    mutating func subtable(_ key: String) throws(ConfigurationError) -> TOMLReader? {
        read.insert(key)
        guard let value = table[key] else { return nil }
        guard let table = value.table else { throw error(key, "expected a table, found \(value.type)") }
        return TOMLReader(file: file, path: [path, key].filter { !$0.isEmpty }.joined(separator: "."), table: table)
    }

    /// Every key was read: one that was not is misspelt or misplaced.
    func finish() throws(ConfigurationError) {
        if let unknown = table.keys.sorted().first(where: { !read.contains($0) }) {
            throw error(unknown, "unknown key (see etc/fieldgw.toml for every key)")
        }
    }
}
