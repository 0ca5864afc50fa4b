import Foundation
import Gateway
import HummingbirdBcrypt
import Modbus
import TestSupport
import Testing

/// The web server's JSON API against a gateway on a pty bus: what each
/// endpoint says, writes through the line, who is let in.
@Suite(.ownThreads) struct WebAPITests {
    @Test func theAPIServesStatusLinesDevicesEventsAndMetricsAlias() async throws {
        try await WebRig.with(extraSlaves: [9]) { rig in
            // The device's members, with their values and ages, once polled.
            #expect(try await eventually(within: .seconds(30), every: .milliseconds(100)) {
                let device = try await rig.get("/api/devices/Pump").json() as? [String: Any]
                let members = device?["members"] as? [[String: Any]] ?? []
                return members.count == 3 && members[0]["value"] as? Double == 7 && members[1]["value"] as? Double == 25
                    && members.allSatisfy { $0["fresh"] as? Bool == true }
            })
            let devices = try await rig.get("/api/devices").json() as? [[String: Any]]
            #expect(devices?.map { $0["name"] as? String } == ["Pump"])
            let status = try await rig.get("/api/status")
            #expect(status.status == 200 && status.headers["content-type"] == "application/json")
            let alias = try await rig.get("/status")
            let aliased = try alias.json() as? [String: Any]
            #expect(alias.status == 200 && aliased?["lines"] != nil)
            let line = try await rig.get("/api/lines/pumps").json() as? [String: Any]
            #expect(line?["name"] as? String == "pumps" && line?["up"] as? Bool == true)
            let lines = try await rig.get("/api/lines").json() as? [[String: Any]]
            #expect(lines?.count == 1)
            // A scan of unit 3 (routed, no such slave) leaves nothing in the list: slave 1 (a device) and 9 (polled) only.
            let port = try #require(rig.service.servers.first?.port)
            let scan = try await offPool { try Peers.run(Peers.program("mbpoll"), ["-a", "3", "-r", "1", "-1", "-p", "\(port)", "127.0.0.1"]) }
            #expect(scan.stderr.contains("Target device failed to respond"), "\(scan.stderr)")
            let listed = try await rig.get("/api/lines/pumps").json() as? [String: Any]
            #expect((listed?["slaves"] as? [[String: Any]])?.compactMap { $0["address"] as? Int } == [1, 9], "\(String(describing: listed?["slaves"]))")
            #expect(try await rig.get("/api/lines/nowhere").status == 404)
            #expect(try await rig.get("/api/devices/nothing").status == 404)
            // Slave 9 is polled and never answers: an offline event and a breaker event, each with its line and slave.
            #expect(try await eventually(within: .seconds(30), every: .milliseconds(100)) {
                let events = try await rig.get("/api/events").json() as? [[String: Any]] ?? []
                return events.contains { $0["event"] as? String == "breaker-open" && $0["slave"] as? Int == 9 && $0["line"] as? String == "pumps" }
            })
            let page = try await rig.get("/")
            let fetchesElsewhere = ["src=\"http", "href=\"http", "url(http", "@import", "fetch(\"http", "//cdn"].filter { page.text.contains($0) }
            #expect(page.status == 200 && page.text.contains("<title>fieldgw</title>") && fetchesElsewhere.isEmpty,
                    "the dashboard loads nothing from elsewhere: \(fetchesElsewhere)")
            #expect(try await rig.get("/metrics").status == 404, "no registry given: no metrics")
        }
    }

    @Test func aWriteGoesThroughTheLineOnlyWhenWritesAreOn() async throws {
        try await WebRig.with { off in
                let refused = try await off.send("POST", "/api/devices/Pump/Count", body: "5")
                #expect(refused.status == 403 && refused.text.contains("writes through the web are off"), "\(refused.text)")
                #expect(try off.store.read(.holdingRegisters, address: 0, count: 1) == [7])
        }
        try await WebRig.with(web: "writes = true", timeoutMilliseconds: 2000) { rig in
            let written = try await rig.send("POST", "/api/devices/Pump/Level", body: "{\"value\": 31.7}")
            #expect(written.status == 200, "\(written.text)")
            #expect(try rig.store.read(.holdingRegisters, address: 1, count: 1) == [317], "scaled: 31.7 / 0.1 on the slave")
            #expect(try await rig.send("POST", "/api/devices/Pump/Count", body: "70000").status == 400, "does not fit a UINT")
            #expect(try await rig.send("POST", "/api/devices/Pump/Mode", body: "1").status == 403, "read-only")
            #expect(try await rig.send("POST", "/api/devices/Pump/Nothing", body: "1").status == 404)
            #expect(try await rig.send("POST", "/api/devices/Pump/Count", body: "many").status == 400)
            #expect(try await rig.send("POST", "/api/devices/Pump/Count", body: "12.5").status == 400, "a fraction for a UINT")
            // What a page elsewhere could make a browser send is refused before it reaches the line.
            let form = try await rig.send("POST", "/api/devices/Pump/Count", body: "9", headers: ["Content-Type": "text/plain"])
            #expect(form.status == 403 && form.text.contains("must be JSON"), "\(form.text)")
            let foreign = try await rig.send("POST", "/api/devices/Pump/Count", body: "9", headers: ["Origin": "http://evil.example"])
            #expect(foreign.status == 403 && foreign.text.contains("not from this gateway's own page"), "\(foreign.text)")
            let rebound = try await rig.get("/api/status", headers: ["Host": "evil.example:8502"])
            #expect(rebound.status == 403, "a loopback server answers to a loopback name only")
            #expect(try rig.store.read(.holdingRegisters, address: 0, count: 1) == [7], "none of them wrote")
            #expect(try await eventually(within: .seconds(30), every: .milliseconds(100)) {
                let device = try await rig.get("/api/devices/Pump").json() as? [String: Any]
                return ((device?["members"] as? [[String: Any]])?[1]["value"] as? Double).map { abs($0 - 31.7) < 0.001 } ?? false
            }, "the poll reads the new value back")
        }
    }

    @Test func aTokenOrAUserIsAskedForWhenSet() async throws {
        let token = "s3cret-token-0123456789"
        let hash = Bcrypt.hash("hunter2", cost: 6)
        let web = "token = \"\(token)\"\nwrites = true\n[[web.user]]\nname = \"op\"\npassword_hash = \"\(hash)\""
        try await WebRig.with(web: web, timeoutMilliseconds: 2000) { rig in
            let none = try await rig.get("/api/status")
            #expect(none.status == 401 && none.headers["www-authenticate"]?.hasPrefix("Basic") == true)
            #expect(try await rig.get("/api/status", headers: ["Authorization": "Bearer wrong-token-0123456789"]).status == 401)
            #expect(try await rig.get("/api/status", headers: ["Authorization": "Bearer \(token)"]).status == 200)
            #expect(try await rig.get("/api/status?access_token=\(token)").status == 200)
            let basic = { (credentials: String) in ["Authorization": "Basic " + Data(credentials.utf8).base64EncodedString()] }
            #expect(try await rig.get("/api/status", headers: basic("op:hunter2")).status == 200)
            #expect(try await rig.get("/api/status", headers: basic("op:hunter3")).status == 401)
            #expect(try await rig.get("/", headers: basic("nobody:hunter2")).status == 401)
            #expect(try await rig.send("POST", "/api/devices/Pump/Count?access_token=\(token)", body: "3").status == 401,
                    "a token in the URL is for the page's GETs, not for writes")
            let written = try await rig.send("POST", "/api/devices/Pump/Count", body: "3", headers: ["Authorization": "Bearer \(token)"])
            #expect(written.status == 200, "\(written.status) \(written.text)")
        }
    }

    @Test func theStreamSendsTheStateEverySecond() async throws {
        try await WebRig.with { rig in
            // A client that keeps the stream open and reads three messages (60 s at most).
            let script = Peers.packageRoot.appendingPathComponent("Tests/WebTests/Peers/read_stream.py").path
            let url = rig.base + "/api/stream"
            let output = try await offPool { try Peers.run(Peers.python(), [script, url, "3"]) }
            let lines = output.text.split(separator: "\n")
            #expect(lines.first == "text/event-stream", "\(output.text.prefix(300)) \(output.stderr)")
            let messages = try lines.dropFirst().map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            #expect(messages.count == 3, "\(messages.count) messages: \(output.stderr)")
            #expect(messages.allSatisfy { $0["status"] != nil && $0["devices"] != nil && $0["events_total"] != nil })
            let counts = messages.compactMap { (($0["status"] as? [String: Any])?["lines"] as? [[String: Any]])?.first?["transactions"] as? Int }
            #expect(counts.count == messages.count && (counts.last ?? 0) > (counts.first ?? 0), "the polls move the counters between messages: \(counts)")
        }
    }
}
