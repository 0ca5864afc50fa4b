import ArgumentParser

@main
struct FieldGW: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldgw",
        abstract: "A serial-line field gateway: Modbus/RTU lines on Modbus/TCP and EtherNet/IP, and the tools around them.",
        version: FieldGW.version,
        subcommands: [RegexCommand.self, DiscoverCommand.self, ModbusSimCommand.self, ModbusClientCommand.self, ENIPServerCommand.self, ENIPClientCommand.self, GatewayCommand.self, StatusCommand.self, ReloadCommand.self, WebPasswordCommand.self, HistoryCommand.self, PlaybackCommand.self, DemoCommand.self, EDSCommand.self]
    )

    /// What `--version` prints: the version, the commit and the toolchain (from the BuildInfo plugin).
    static var version: String {
        "fieldgw \(BuildInfo.version)\ncommit \(BuildInfo.commit)\nbuilt with \(BuildInfo.swift)"
    }
}
