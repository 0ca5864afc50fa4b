import ArgumentParser
import EtherNetIP
import NIOPosix

struct ENIPServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enip-server",
        abstract: "Simulate a ControlLogix controller's tags on EtherNet/IP, with cpppo's tag syntax.",
        discussion: """
            Each TAG is NAME=TYPE or NAME=TYPE[DIMENSIONS], TYPE one of BOOL, SINT, INT, DINT, LINT, \
            USINT, UINT, UDINT, ULINT, REAL, LREAL, DWORD, with up to three dimensions \
            (Grid=DINT[4,8]); a BOOL array is held as DWORDs, 32 to each, as a Logix controller does.
            TYPE may also be STRING (Logix's 82-character string) or a structure defined with \
            --struct NAME=MEMBER:TYPE,MEMBER:TYPE[N],... (members atomic, STRING, or a structure \
            defined before it; BOOL members are packed as Logix packs them).
            Example: fieldgw enip-server -a 127.0.0.1:44818 SCADA=INT[1000] Temp=REAL \
              --struct Motor=Speed:REAL,Run:BOOL,Counts:DINT[4] Pump=Motor Label=STRING
            """
    )

    @Option(name: [.short, .long], help: "HOST:PORT to serve on (\":44818\" is every interface; port 0 picks one).")
    var address = ":44818"

    @Option(name: .customLong("struct"), help: ArgumentHelp("A structure type: NAME=MEMBER:TYPE,MEMBER:TYPE[N],... May be repeated.", valueName: "DEFINITION"))
    var structures: [String] = []

    @Argument(help: "Tags: NAME=TYPE[DIMENSIONS].")
    var tags: [String] = []

    func run() async throws {
        var table = TagTable()
        for definition in structures {
            do { try table.addStructure(definition: definition) } catch { throw ValidationError("--struct \(error.description)") }
        }
        for definition in tags {
            do { try table.add(definition: definition) } catch { throw ValidationError(error.description) }
        }
        let (host, port) = try ModbusSimCommand.endpoint(address, defaultPort: 44818)
        let server = try await ENIPServer.start(host: host, port: port, router: MessageRouter(tags: table),
                                                group: MultiThreadedEventLoopGroup.singleton)
        ModbusSimCommand.say("enip-server: EtherNet/IP on \(host):\(server.port)")
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
