import Foundation
import Modbus
import TestSupport
import Testing

/// The dashboard in a real browser (Debian's chromium, headless, driven by
/// selenium through chromium-driver) against a gateway on a pty bus whose
/// slave's register changes: the page shows the line, the slave and the new
/// value without being loaded again, and fits a phone's width.
@Suite(.ownThreads) struct DashboardBrowserTests {
    @Test func theDashboardShowsTheLineTheSlaveAndAChangingValueLive() async throws {
        try await WebRig.with { rig in
            let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("fieldgw-dashboard-\(UUID().uuidString).png").path
            defer { try? FileManager.default.removeItem(atPath: screenshot) }
            let script = Peers.packageRoot.appendingPathComponent("Tests/WebTests/Peers/dashboard_check.py").path
            let browser = try PeerProcess(Peers.python(), [script, rig.base + "/", "Pump", "Count", screenshot])
            // The slave's counter moves twice a second while the browser watches.
            let store = rig.store
            let output = try await offPool {
                var count: UInt16 = 100
                let deadline = Date().addingTimeInterval(120)
                while browser.isRunning && Date() < deadline {
                    count &+= 1
                    try store.write(.holdingRegisters, address: 0, values: [count])
                    usleep(500_000)
                }
                if browser.isRunning { browser.stop(signal: SIGKILL) }
                return browser.standardOutput
            }
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output) \(browser.standardError)")
            #expect(seen["first"] as? String != nil && seen["changed"] as? String != nil, "\(seen)")
            #expect(seen["same_page"] as? Bool == true, "updated in place, not by loading the page again")
            #expect(seen["lines"] as? [String] == ["pumps"] && seen["line_up"] as? Bool == true, "\(seen)")
            #expect((seen["slaves"] as? [String])?.contains("1") == true, "\(seen)")
            #expect(seen["chart"] as? Int == 1, "\(seen)")
            #expect((seen["console_errors"] as? [String])?.isEmpty == true, "\(seen)")
            #expect(seen["phone_overflow"] as? Bool == false, "fits 390 px: \(seen)")
            let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "a screenshot was saved")
            if let keep = ProcessInfo.processInfo.environment["FIELDGW_DASHBOARD_SCREENSHOT"] {
                try png.write(to: URL(fileURLWithPath: keep))
            }
        }
    }
}
