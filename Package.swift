// swift-tools-version:6.2
import PackageDescription

/// Our own targets build in Swift 6 mode with every warning treated as an error, so a warning can
/// never land unnoticed. Dependencies keep their own settings.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .executable(name: "parley-bench", targets: ["parley-bench"]),
        .library(name: "Parley", targets: ["Parley"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // libcurl's headers, with typed wrappers for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // The system zlib, for gzip-compressing served assets.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // glibc's malloc.h, for returning freed memory to the system after a busy spell.
        .systemLibrary(name: "CMalloc"),
        // A generic async HTTP client on libcurl's multi interface; knows nothing of Parley.
        .target(
            name: "CurlStream",
            dependencies: ["CCurl", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strict
        ),
        // Turns Migrations/ and Public/ into Swift source, so the binary carries its schema and pages.
        .executableTarget(name: "ResourceEmbedder", swiftSettings: strict),
        .plugin(
            name: "EmbedResources",
            capability: .buildTool(),
            dependencies: ["ResourceEmbedder"]
        ),
        .target(
            name: "Parley",
            dependencies: [
                "CurlStream",
                "CMalloc",
                "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The connection cap's delegate protocol.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // HTTP request and response parts, for the connection deadlines' channel handler.
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict,
            plugins: ["EmbedResources"]
        ),
        .executableTarget(
            name: "parley",
            dependencies: [
                "Parley",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // `make bench`'s compiled helpers: the fast provider every relay is measured against, the load
        // client, the idle Hummingbird server that is the floor for idle memory, the bare
        // Hummingbird-and-libcurl relay that is the floor for the relay on Parley's own stack, and
        // the bare mint (a signature and a group-committed insert) that is the floor for minting.
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "CurlStream",
                "Parley",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/ParleyBench",
            swiftSettings: strict
        ),
        // A scriptable HTTP server on loopback, standing in for LLM providers in tests.
        .target(
            name: "TestUpstream",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CurlStreamTests",
            dependencies: ["CurlStream", "TestUpstream"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ParleyTests",
            dependencies: [
                "Parley",
                "CurlStream",
                "TestUpstream",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // Raw TCP clients, for the connection deadlines' tests.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ]
)
