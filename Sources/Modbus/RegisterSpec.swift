/// One register definition in cpppo's `modbus_sim` syntax:
/// `BEGIN[-END][=VALUE[,VALUE...]]`, e.g. `40001-40100=99` (a hundred
/// registers of 99), `1-16=1,0` (coils alternating), `30001=0x1F,2`.
/// Values repeat to fill the range; with no range the values set the count;
/// with no values the registers are 0.
public struct RegisterSpec: Equatable, Sendable {
    /// The first address defined.
    public let start: ModbusAddress
    /// The value of each address from ``RegisterSpec/start`` on, one per address
    /// (0 or 1 for coils and discrete inputs).
    public let values: [UInt16]

    /// Reads one definition such as `40001-40100=99`.
    public init(parsing text: String) throws(RegisterSpecError) {
        let (range, valueText) = Self.split(text)
        let bounds = range.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(bounds.count), let first = Int(bounds[0]), let start = ModbusAddress(first) else {
            throw RegisterSpecError(text: text, reason: "\"\(range)\" is not an address or range of addresses such as 40001-40100")
        }
        var values: [UInt16] = [0]
        if let valueText { values = try Self.values(valueText, of: text, table: start.table) }
        var count = values.count
        if bounds.count == 2 {
            guard let last = Int(bounds[1]), let end = ModbusAddress(last), end.table == start.table, end.offset >= start.offset else {
                throw RegisterSpecError(text: text, reason: "\"\(bounds[1])\" does not end a range in the same table at or after \(first)")
            }
            count = Int(end.offset - start.offset) + 1
        }
        guard Int(start.offset) + count <= 65536 else {
            throw RegisterSpecError(text: text, reason: "\(count) values run past the end of the table")
        }
        self.start = start
        self.values = (0..<count).map { values[$0 % values.count] }
    }

    /// Defines these registers in `store`.
    public func apply(to store: DataStore) {
        store.define(start.table, at: start.offset, values: values)
    }

    private static func split(_ text: String) -> (range: String, values: String?) {
        guard let equals = text.firstIndex(of: "=") else { return (text, nil) }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    private static func values(_ list: String, of text: String, table: Table) throws(RegisterSpecError) -> [UInt16] {
        var values: [UInt16] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let word = String(item.filter { $0 != " " })
            let parsed = word.lowercased().hasPrefix("0x") ? UInt16(word.dropFirst(2), radix: 16) : UInt16(word)
            guard let value = parsed, !table.isBits || value <= 1 else {
                let kind = table.isBits ? "0 or 1" : "a 16-bit value (decimal or 0x hex)"
                throw RegisterSpecError(text: text, reason: "\"\(word)\" is not \(kind)")
            }
            values.append(value)
        }
        return values
    }
}

/// A register definition that cannot be read.
public struct RegisterSpecError: Error, Equatable, CustomStringConvertible {
    /// The definition as given.
    public let text: String
    /// What is wrong with it.
    public let reason: String
    /// The definition, quoted, and the reason.
    public var description: String { "register definition \"\(text)\": \(reason)" }
}
