import Foundation
import Gateway
import TestSupport
import Testing

/// `[history]`: a gateway polling a Modbus/TCP device records what changes
/// and what is written; `fieldgw history` reads it back.
@Suite(.ownThreads) struct GatewayHistoryTests {
    @Test func polledChangesAndWritesAreRecorded() throws {
        let directory = try Peers.scratchDirectory("gwhistory").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sim = try PeerProcess(try Peers.fieldgw(), ["modbus-sim", "-a", "127.0.0.1:0", "--web", "127.0.0.1:0", "40001-40002=7"])
        defer { sim.stop() }
        let device = try sim.waitForLine(startingWith: "modbus-sim: Modbus/TCP on 127.0.0.1:")
        let web = Int(try sim.waitForLine(startingWith: "modbus-sim: web API on http://127.0.0.1:").prefix { $0.isNumber })!
        let config = directory + "/gateway.toml"
        try """
            [web]
            enabled = false
            [[line]]
            name = "plc"
            kind = "tcp"
            address = "127.0.0.1:\(device)"
            [[route]]
            units = "1"
            line = "plc"
            [[poll]]
            line = "plc"
            slave = 1
            addresses = ["40001-40002"]
            period_s = 0.1
            [[listener]]
            bind = "127.0.0.1:0"
            [history]
            path = "\(directory)/plant.hst"
            compression = "xz"
            fsync_interval = 0
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(try Peers.fieldgw(), ["gateway", "--config", config])
        defer { gateway.stop() }
        let port = String(try gateway.waitForLine(startingWith: "gateway: Modbus/TCP on 127.0.0.1:"))
        #expect(try gateway.waitForLine(startingWith: "gateway: history in ") == "\(directory)/plant.hst")
        let history = { try Peers.run(try Peers.fieldgw(), ["history", "\(directory)/plant.hst"]).text }
        func waitFor(_ text: String) throws -> String {
            let deadline = Date().addingTimeInterval(15)
            while true {
                let seen = try history()
                if seen.contains(text) || Date() > deadline { return seen }
                usleep(100_000)
            }
        }
        #expect(try waitFor("[\"plc\", 1]\t{\"40001\": 7, \"40002\": 7}").contains("[\"plc\", 1]\t{\"40001\": 7, \"40002\": 7}"))
        // A change at the device: the next poll records the one register that moved.
        _ = try Peers.run(try Peers.program("curl"), ["-sf", "http://127.0.0.1:\(web)/api/registers/40002/value=9"])
        #expect(try waitFor("[\"plc\", 1]\t{\"40002\": 9}").contains("[\"plc\", 1]\t{\"40002\": 9}"))
        // A write through the gateway: recorded as written, then as polled.
        let write = try Peers.run(try Peers.fieldgw(), ["modbus-client", "-a", "127.0.0.1:\(port)", "40001=12"])
        #expect(write.status == 0, "\(write.text) \(write.stderr)")
        let seen = try waitFor("[\"plc\", 1]\t{\"40001\": 12}")
        #expect(seen.contains("[\"plc\", 1, \"write\"]\t{\"40001\": 12}") && seen.contains("[\"plc\", 1]\t{\"40001\": 12}"), "\(seen)")
        #expect(seen.split(separator: "\n").count == 4, "nothing recorded twice: \(seen)")
    }

    @Test func aBadHistoryTableNamesItsKey() throws {
        for (text, key, reason) in [("[history]\nkeep = 3", "history.path", "required"),
                                    ("[history]\npath = \"/x.hst\"\ncompression = \"zip\"", "history.compression", "\"zip\" is not gzip, bzip2, xz or none"),
                                    ("[history]\npath = \"/x.hst\"\nmax_bytes = 10", "history.max_bytes", "10 is outside 4096")] {
            let error = #expect(throws: ConfigurationError.self) { try Configuration(toml: "[[listener]]\nbind = \"127.0.0.1:0\"\n" + text, file: "h.toml") }
            #expect(error?.key == key && (error?.reason.contains(reason) ?? false), "\(String(describing: error))")
        }
        let fine = try Configuration(toml: "[[listener]]\nbind = \"127.0.0.1:0\"\n[history]\npath = \"/x.hst\"\nmax_age = 3600\nkeep = 4", file: "h.toml")
        #expect(fine.history?.rotation?.maxAge == 3600 && fine.history?.rotation?.keep == 4 && fine.history?.sync == .never)
    }
}
