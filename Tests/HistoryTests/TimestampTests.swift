import Foundation
import History
import Testing
import TestSupport

/// cpppo's history_test.py cases for `timestamp`, with its zone (Canada/Mountain) named.
@Suite(.ownThreads) struct TimestampTests {
    let mountain = "Canada/Mountain"

    @Test func rendersRoundedAsCpppoDoes() throws {
        let ts = Timestamp(1399326141.999836)
        #expect(ts >= Timestamp(1399326141.374836))
        #expect(ts.render(digits: 0) == "2014-05-05 21:42:21")
        #expect(ts.render(digits: 5) == "2014-05-05 21:42:21.99984")
        #expect(ts.render() == "2014-05-05 21:42:22.000")
        let expected = ["2014-05-05 21:42:21", "2014-05-05 21:42:22.0", "2014-05-05 21:42:22.00", "2014-05-05 21:42:22.000",
                        "2014-05-05 21:42:21.9998", "2014-05-05 21:42:21.99984", "2014-05-05 21:42:21.999836"]
        for (digits, text) in expected.enumerated() { #expect(ts.render(digits: digits) == text) }
        for value in [1414915323.122, 1414915323.123, 1414915323.124, 1414915323.125, 1414915323.126, 1414915323.127] {
            #expect(Timestamp(value).render() == "2014-11-02 08:02:03." + String(format: "%.3f", value).suffix(3))
        }
        #expect(Timestamp(1396531199).utc == "2014-04-03 13:19:59.000")
    }

    @Test func comparesWithinAMillisecond() {
        let ts = Timestamp(1399326141.999836)
        #expect(ts == ts + 0.0009 && ts == ts - 0.0009)
        #expect(ts != ts + 0.0011 && ts < ts + 0.0011 && !(ts < ts + 0.0009))
        #expect(ts > ts - 0.0011 && ts >= ts + 0.0009 && !(ts >= ts + 0.0011))
    }

    @Test func parsesUTCAndLocalTimes() throws {
        #expect(try Timestamp(parsing: "2014-01-01 07:00:00.0").value == 1388559600)
        #expect(try Timestamp(parsing: "2014-01-02 03:04:55.123").utc == "2014-01-02 03:04:55.123")
        let local = try Timestamp(parsing: "2014-11-02 00:59:59", zone: mountain)
        #expect(local.value == 1414911599)
        #expect(local.render(in: try ZoneDatabase.system.zone(mountain), digits: 0) == "2014-11-02 00:59:59 MDT")
        #expect(try Timestamp(1394355540).render(zone: mountain, digits: 0) == "2014-03-09 01:59:00 MST")
        #expect(try Timestamp(1394355540 + 61).render(zone: mountain, digits: 0) == "2014-03-09 03:00:01 MDT")
        #expect(try Timestamp(1414915140).render(zone: mountain, digits: 0) == "2014-11-02 01:59:00 MDT")
        #expect(try Timestamp(1414915140 + 61).render(zone: mountain, digits: 0) == "2014-11-02 01:00:01 MST")
        #expect(try Timestamp(1399326141.999836).render(zone: "MST", digits: 0, abbreviations: ZoneAbbreviations()) == "2014-05-05 14:42:21 MST")
    }

    @Test func missingAndRepeatedHoursNeedAnAbbreviation() throws {
        let table = ZoneAbbreviations()
        let error = #expect(throws: HistoryError.self) { try Timestamp(parsing: "2014-03-09 02:00:01 America/Edmonton", abbreviations: table) }
        #expect(error?.description.contains("NonExistentTimeError") == true)
        let twice = #expect(throws: HistoryError.self) { try Timestamp(parsing: "2014-11-02 01:00:01 America/Edmonton", abbreviations: table) }
        #expect(twice?.description.contains("AmbiguousTimeError") == true)
        try table.support(["CA", "Europe/Berlin"], at: Self.april2014)
        #expect(try Timestamp(parsing: "2014-03-09 03:00:01 MDT", abbreviations: table).value == 1394355601)
        #expect(try Timestamp(parsing: "2014-03-09 02:00:01 MST", abbreviations: table).value == 1394355601)  // no such time in MDT
        #expect(try Timestamp(parsing: "2014-11-02 01:00:01 MST", abbreviations: table).utc == "2014-11-02 08:00:01.000")
        #expect(try Timestamp(parsing: "2014-11-02 01:59:58 MDT", abbreviations: table).utc == "2014-11-02 07:59:58.000")
        let after = try Timestamp(parsing: "2014-11-02 01:02:03.123 MST", abbreviations: table)
        let before = try Timestamp(parsing: "2014-11-02 01:02:03.456 MDT", abbreviations: table)
        #expect(before < after && before.utc == "2014-11-02 07:02:03.456" && after.utc == "2014-11-02 08:02:03.123")
        let cet = try Timestamp(parsing: "2014-10-26 02:01:00.123 CET", abbreviations: table)
        let cest = try Timestamp(parsing: "2014-10-26 02:01:00.456 CEST", abbreviations: table)
        #expect(cest < cet && cest.utc == "2014-10-26 00:01:00.456" && cet.utc == "2014-10-26 01:01:00.123")
        #expect(try Timestamp(parsing: "2014-04-24 08:00:00 MDT", abbreviations: table).value == 1398348000)
        // With the abbreviations, "MST" names Edmonton, which shows its daylight time in May.
        #expect(try Timestamp(1399326141.999836).render(zone: "MST", digits: 0, abbreviations: table) == "2014-05-05 15:42:21 MDT")
    }

    static let april2014 = Date(timeIntervalSince1970: 1398348000)

    @Test func abbreviationsOfRegionsAsCpppoFindsThem() throws {
        let table = ZoneAbbreviations()
        #expect(try table.support(["CA"], at: Self.april2014, reset: true)
                == ["ADT", "AST", "CDT", "CST", "EDT", "EST", "MDT", "MST", "NDT", "NST", "PDT", "PST"])
        let america = #expect(throws: AmbiguousZoneError.self) { try table.support(["America"], at: Self.april2014, first: false) }
        #expect(america?.description.contains("America/Havana") == true)
        #expect(try table.support(["Europe/Berlin"], at: Self.april2014) == ["CEST", "CET"])
        #expect(table.meaning("CEST")?.isDST == true && table.meaning("EEST") == nil)
        let asia = #expect(throws: AmbiguousZoneError.self) {
            try table.support(["Europe/Dublin", "Asia/Jerusalem"], at: Self.april2014, first: false)
        }
        #expect(asia?.description.contains("Asia/Jerusalem") == true)
        #expect(try table.support(["Australia/Adelaide"], at: Self.april2014, reset: true) == ["ACDT", "ACST"])
        let acst = try #require(table.meaning("ACST"))
        #expect(acst.zone.name == "Australia/Adelaide" && acst.isDST == false && Offset.format(acst.offset) == "> 9:30:00")
    }

    @Test func offsetsAsCpppoWritesThem() throws {
        #expect(try Offset.parse("< 1:00:00.001") == -3600.001)
        #expect(try Offset.parse("<:1.001") == -1.001)
        #expect(try Offset.parse(">1:0.001") == 60.001)
        #expect(try Offset.parse(">1") == 1)
        #expect(throws: HistoryError.self) { try Offset.parse("1:00") }
        #expect(Offset.format(-25200) == "< 7:00:00" && Offset.format(37800) == ">10:30:00")
    }

    /// Every hour of 2014 (and the minutes around each change) in zones with
    /// two daylight changes a year, against Python's zoneinfo over the same tzdata.
    @Test(arguments: ["America/Edmonton", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata"])
    func everyHourOfAYearAgreesWithZoneinfo(zone: String) throws {
        let script = """
            import sys, datetime, zoneinfo
            z = zoneinfo.ZoneInfo(sys.argv[1])
            for t in range(1388534400 - 7200, 1420070400 + 7200, 900):
                print(t, datetime.datetime.fromtimestamp(t, z).strftime("%Y-%m-%d %H:%M:%S %Z"))
            """
        let output = try Peers.run(try Peers.python(), ["-c", script, zone])
        #expect(output.status == 0, "\(output.stderr)")
        let info = try ZoneDatabase.system.zone(zone)
        var compared = 0, wrong: [String] = []
        for line in output.text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            let expected = String(fields[1])
            let rendered = Timestamp(Double(fields[0])!).render(in: info, digits: 0)
            if rendered != expected { wrong.append("\(fields[0]): \(rendered) != \(expected)") }
            compared += 1
        }
        #expect(compared == 35_056 && wrong.isEmpty, "\(wrong.prefix(5))")
    }

    @Test func localTimesParseBackToTheSameInstant() throws {
        let table = ZoneAbbreviations()
        try table.support(["CA"], at: Self.april2014)
        let edmonton = try ZoneDatabase.system.zone("America/Edmonton")
        for instant in stride(from: 1388534400.0, to: 1420070400.0, by: 1800.25) {
            let text = Timestamp(instant).render(in: edmonton, digits: 3)
            #expect(try Timestamp(parsing: text, abbreviations: table).value == (instant * 1000).rounded() / 1000, "\(text)")
        }
    }
}
