// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "fieldgw",
    // fieldgw runs on Linux (Glibc, epoll, termios2, libudev). The macOS
    // entry only keeps SwiftPM's default (10.13) from claiming more: the
    // code needs Synchronization's Mutex, which macOS has from 15.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Automata", targets: ["Automata"]),
        .library(name: "Serial", targets: ["Serial"]),
        .library(name: "Discovery", targets: ["Discovery"]),
        .library(name: "Modbus", targets: ["Modbus"]),
        .library(name: "EtherNetIP", targets: ["EtherNetIP"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "Sparkplug", targets: ["Sparkplug"]),
        .library(name: "History", targets: ["History"]),
        .executable(name: "fieldgw", targets: ["fieldgw"]),
        .executable(name: "automata-bench", targets: ["AutomataBench"]),
        .executable(name: "modbus-bench", targets: ["ModbusBench"]),
        .executable(name: "mqtt-bench", targets: ["MQTTBench"]),
        .executable(name: "history-bench", targets: ["HistoryBench"]),
        .executable(name: "tag-hooks-example", targets: ["TagHooksExample"]),
        .executable(name: "fieldgw-fuzz", targets: ["FuzzHarness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation` (make docs); a plugin only, nothing it builds is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "Automata"),
        // One way to start a thread of the system's own, for every module that runs one.
        .target(name: "Threads"),
        .target(name: "CSerialShim"),
        .systemLibrary(name: "CEpoll"),
        .target(name: "Serial", dependencies: ["CSerialShim", "Threads"]),
        // The system's zlib, libbz2 and liblzma: the historian's gzip, bzip2 and xz files.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBzip2", providers: [.apt(["libbz2-dev"])]),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        // cpppo-compatible history files, timestamps with zone abbreviations (read
        // from the system's TZif files, as Python's zoneinfo does), playback.
        .target(
            name: "History",
            dependencies: ["CZlib", "CBzip2", "CLzma", "Threads", .product(name: "Logging", package: "swift-log")]
        ),
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .target(
            name: "Discovery",
            dependencies: ["CUdev", "Threads", .product(name: "Logging", package: "swift-log")]
        ),
        // The epoll TCP server loop Modbus/TCP and EtherNet/IP serve on.
        .target(
            name: "StreamServer",
            dependencies: [
                "CEpoll", "Threads",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "EtherNetIP",
            dependencies: [
                "StreamServer", "CSerialShim",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MQTT 3.1.1 and 5.0: a pure codec and a client on SwiftNIO; knows nothing of Modbus.
        .target(
            name: "MQTT",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "Modbus",
            dependencies: [
                "Automata", "Serial", "StreamServer",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "Modbus", "Serial", "Discovery", "EtherNetIP", "History", "StreamServer", "Threads",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The gateway as a Sparkplug B edge node (or a JSON publisher) through
        // the MQTT client; sparkplug_b.pb.swift is generated from the .proto
        // beside it (`make sparkplug-proto`) and committed.
        .target(
            name: "Sparkplug",
            dependencies: [
                "MQTT", "Gateway", "EtherNetIP",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["sparkplug_b.proto"]
        ),
        // The web server: JSON API, live dashboard, /metrics (Hummingbird 2).
        .target(
            name: "Web",
            dependencies: [
                "Gateway", "Modbus", "EtherNetIP", "History", "StreamServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The version, commit and toolchain `fieldgw --version` prints, written before each build.
        .plugin(name: "BuildInfo", capability: .buildTool()),
        .executableTarget(
            name: "fieldgw",
            dependencies: [
                "Automata",
                "Discovery",
                "EtherNetIP",
                "Gateway",
                "Modbus",
                "Serial",
                "Sparkplug",
                "History",
                "Web",
                "Threads",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            plugins: [.plugin(name: "BuildInfo")]
        ),
        .executableTarget(
            name: "AutomataBench",
            dependencies: ["Automata"],
            path: "Benchmarks/AutomataBench"
        ),
        .executableTarget(
            name: "ModbusBench",
            dependencies: [
                "Modbus", "Gateway", "Serial", "CSerialShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/ModbusBench"
        ),
        // A library user's tag hooks: tags computed as they are read (README, "Tag hooks").
        .executableTarget(
            name: "TagHooksExample",
            dependencies: ["EtherNetIP", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Examples/TagHooks"
        ),
        .executableTarget(
            name: "HistoryBench",
            dependencies: ["History"],
            path: "Benchmarks/HistoryBench"
        ),
        .executableTarget(
            name: "MQTTBench",
            dependencies: ["MQTT", .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/MQTTBench"
        ),
        // libFuzzer targets for every decoder of outside bytes (`make fuzz`);
        // built without the sanitizers, a replayer of their corpora.
        .executableTarget(
            name: "FuzzHarness",
            dependencies: [
                "Automata", "Modbus", "EtherNetIP", "Gateway", "MQTT", "History",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/Harness"
        ),
        // Helpers the test targets share: finding and running real peers.
        .target(
            name: "TestSupport",
            dependencies: ["Modbus", "Serial", "Gateway", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "SerialTests", dependencies: ["Serial", "Threads", "TestSupport"]),
        .testTarget(name: "HistoryTests", dependencies: ["History", "TestSupport"]),
        .testTarget(
            name: "ModbusTests",
            dependencies: [
                "Modbus", "Serial", "TestSupport", "Gateway", "StreamServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers"]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Modbus", "Serial", "TestSupport", "EtherNetIP",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Peers"]
        ),
        .testTarget(
            name: "WebTests",
            dependencies: [
                "Web", "Gateway", "Modbus", "Serial", "TestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Peers"]
        ),
        .testTarget(
            name: "EtherNetIPTests",
            dependencies: [
                "EtherNetIP", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers"]
        ),
        .testTarget(
            name: "MQTTTests",
            dependencies: ["MQTT", "Serial", "TestSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SparkplugTests",
            dependencies: [
                "Sparkplug", "MQTT", "Gateway", "Modbus", "Serial", "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Peers"]
        ),
        .testTarget(name: "DiscoveryTests", dependencies: ["Discovery", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "AutomataTests",
            dependencies: ["Automata", "TestSupport"],
            exclude: ["Oracle"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
