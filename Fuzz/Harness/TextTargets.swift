import Automata
import EtherNetIP
import Gateway
import Modbus

/// What users write: cpppo's operation, tag and register syntaxes, the
/// gateway's TOML configuration, and regexes.
enum TextTargets {
    /// An `enip-client` operation: a parsed operation names a path and at
    /// least one element; a write holds each element's bytes, and the values
    /// they print as parse back to the same values.
    static func tagOperation(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let operation = try? TagOperation(parsing: text) else { return }
        require(operation.elements >= 1 && !operation.path.segments.isEmpty, "\(text) parsed to \(operation)")
        guard let write = operation.write else { return }
        let whole = operation.elements * write.type.size
        let fits = operation.offset == nil ? write.data.count == whole : (1...whole).contains(write.data.count)
        require(fits, "\(text): \(write.data.count) bytes for \(operation.elements) elements")
        let values = write.type.values(write.data[...])
        let again = values.compactMap { write.type.bytes(for: $0) }.joined()
        require(write.type.values(Array(again)[...]) == values, "\(text): \(values) do not read back")
    }

    /// An `enip-server` tag (`NAME=TYPE[DIMS]`) or, with a ':', a structure:
    /// a tag added is found again by its name.
    static func tagDefinition(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var tags = TagTable()
        if text.contains(":") && !text.hasPrefix("Program:") {
            _ = try? tags.addStructure(definition: text)
        } else if let tag = try? tags.add(definition: text) {
            require(tags.tags.count == 1 && tags.tags[0].name == tag.name, "\(text) added \(tags.tags)")
        }
    }

    /// A `modbus-sim` register definition (`40001-40010=0`) or `--evil` fault:
    /// the values defined are the values the store then holds.
    static func registerSpec(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? ModbusFault(parsing: text)
        guard let spec = try? RegisterSpec(parsing: text) else { return }
        require(!spec.values.isEmpty, "\(text) defines no value")
        let store = DataStore()
        spec.apply(to: store)
        let first = ModbusAddress(table: spec.start.table, offset: spec.start.offset)
        require(store.value(at: first) != nil, "\(text): nothing at \(first)")
    }

    /// A gateway configuration file: it loads, or its error names this file.
    static func configuration(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            _ = try Configuration(toml: text, file: "fuzz.toml")
        } catch {
            require(error.file == "fuzz.toml" && !error.reason.isEmpty, "an error that does not say where or why: \(error)")
        }
    }

    /// A regex (bytes alphabet if the first byte is even, else Unicode),
    /// compiled within small limits and run on its own text. The limits are
    /// smaller than a user's: compiling stays bounded by them, but under the
    /// sanitizers `((a|.+b)(c.d)){25}` took over 10 s at 2,000 DFA states.
    static func regex(_ bytes: [UInt8]) {
        guard let pick = bytes.first else { return }
        let alphabet: Alphabet = pick & 1 == 0 ? .bytes : .unicode
        let pattern = String(decoding: bytes.dropFirst(), as: UTF8.self)
        guard let node = try? RegexParser.parse(pattern, alphabet: alphabet),
              let dfa = try? DFA(node: node, alphabet: alphabet, options: CompileOptions(maxStates: 300, maxNFAStates: 3_000))
        else { return }
        var recognizer = Recognizer(dfa)
        let input = Array(pattern.utf8)
        _ = input.withUnsafeBufferPointer { recognizer.feed($0) }
    }
}
