// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "fieldgw",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Automata", targets: ["Automata"]),
        .library(name: "Serial", targets: ["Serial"]),
        .executable(name: "fieldgw", targets: ["fieldgw"]),
        .executable(name: "automata-bench", targets: ["AutomataBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "Automata"),
        .target(name: "CSerialShim"),
        .target(name: "Serial", dependencies: ["CSerialShim"]),
        .executableTarget(
            name: "fieldgw",
            dependencies: [
                "Automata",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "AutomataBench",
            dependencies: ["Automata"],
            path: "Benchmarks/AutomataBench"
        ),
        .testTarget(name: "SerialTests", dependencies: ["Serial"]),
        .testTarget(
            name: "AutomataTests",
            dependencies: ["Automata"],
            exclude: ["Oracle"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
