import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` for the fieldgw command before each build: the
/// version (`FIELDGW_VERSION` when the packaging sets it, else `git describe`
/// of the checkout: a tag, or the commit, "-dirty" with changes), the commit
/// and the Swift compiler. The file is replaced only when its text changes,
/// so an unchanged checkout rebuilds nothing.
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        var environment: [String: String] = [:]
        for key in ["FIELDGW_VERSION"] { environment[key] = ProcessInfo.processInfo.environment[key] }
        // The compiler this build uses (not whichever `swift` a PATH finds).
        let compiler = (try? context.tool(named: "swiftc").url.path()) ?? "swiftc"
        return [.prebuildCommand(displayName: "fieldgw build information", executable: URL(filePath: "/bin/sh"),
                                 arguments: ["-c", Self.script, "build-info", output.path(), context.package.directoryURL.path(), compiler],
                                 environment: environment, outputFilesDirectory: output)]
    }

    /// $1: the output directory; $2: the package's checkout; $3: the compiler.
    static let script = #"""
        mkdir -p "$1"
        clean() { tr -d '"\\' | head -n 1; }
        version=$(printf '%s' "${FIELDGW_VERSION:-}" | clean)
        [ -n "$version" ] || version=$(git -C "$2" describe --tags --always --dirty 2>/dev/null | clean)
        commit=$(git -C "$2" rev-parse HEAD 2>/dev/null | clean)
        swift=$("$3" --version 2>/dev/null | clean)
        cat > "$1/BuildInfo.swift.new" <<EOF
        /// Written by the BuildInfo plugin at build time.
        enum BuildInfo {
            static let version = "${version:-unknown}"
            static let commit = "${commit:-unknown}"
            static let swift = "${swift:-unknown}"
        }
        EOF
        if cmp -s "$1/BuildInfo.swift.new" "$1/BuildInfo.swift"; then rm "$1/BuildInfo.swift.new"; else mv "$1/BuildInfo.swift.new" "$1/BuildInfo.swift"; fi
        """#
}
