// swift-tools-version:6.0
// PEFTLab: a Jupyter kernel for parameter-efficient fine-tuning experiments.
import PackageDescription

let package = Package(
    name: "PEFTLab",
    products: [
        .executable(name: "peftlab", targets: ["peftlab"]),
        .library(name: "PEFTLib", targets: ["PEFTLib"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries: a module map and a one-line shim each.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg62-turbo-dev"])]),
        // libjpeg reports errors by longjmp, which Swift cannot catch: a few lines of C do it.
        .target(name: "CJPEGSafe", dependencies: ["CJPEG"]),

        // A small JSON value shared by the Kernel (wire format) and the Runtime (MIME data).
        .target(name: "PEFTLabJSON"),

        // The library: tensors, autodiff, models, PEFT methods, training, data. No Jupyter.
        .target(name: "PEFTLib", dependencies: ["COpenBLAS", "CPNG", "CJPEG", "CJPEGSafe", "PEFTLabJSON"]),

        // The language and the rendering of values as MIME bundles. No ZeroMQ.
        .target(name: "Runtime", dependencies: ["PEFTLib", "PEFTLabJSON"]),

        // The Jupyter wire protocol and its ZeroMQ channels. No DSL, no tensors.
        .target(name: "Kernel", dependencies: [
            "CZeroMQ", "PEFTLabJSON",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // The benchmarks behind `peftlab bench`: each hot path against its peer. Not in the library.
        .target(name: "PEFTLabBenchmarks", dependencies: ["PEFTLib", "Runtime"]),

        .executableTarget(name: "peftlab", dependencies: [
            "Kernel", "Runtime", "PEFTLib", "PEFTLabBenchmarks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "PEFTLibTests", dependencies: ["PEFTLib", "PEFTLabBenchmarks"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "PEFTLib", "PEFTLabJSON", "PEFTLabBenchmarks"],
                    exclude: ["Snapshots"]),  // read by path, as the expected outputs
        .testTarget(name: "KernelTests", dependencies: ["Kernel", "PEFTLabJSON"],
                    resources: [.copy("Fixtures")]),
    ]
)
