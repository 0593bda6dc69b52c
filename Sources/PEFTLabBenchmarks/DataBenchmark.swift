// DataBenchmark: images per second for mini-suite generation and for
// PNG decode + CLIP preprocessing, so data is never the training bottleneck
// (`peftlab bench data` prints it beside the training step rate).

import Foundation
import PEFTLib

/// Throughput of the data pipeline on this machine, one thread.
public struct DataBenchmarkResult: Sendable, Equatable {
    public var imageSize: Int
    public var samples: Int
    /// Mini-suite samples generated per second, averaged over the evaluation datasets (train split).
    public var generationImagesPerSecond: Double
    /// PNG decode + CLIP preprocessing (resize, crop, normalise to (3, H, W) floats) per second.
    public var decodePreprocessImagesPerSecond: Double
    /// CLIP preprocessing alone per second (image already decoded).
    public var preprocessImagesPerSecond: Double
}

/// Measures generation and decode+preprocess rates.
/// - Parameters:
///   - imageSize: mini-suite image side; the preprocessor crops to the same size after
///     decoding images of `1.5 × imageSize` (so the resize does real work).
///   - samples: samples per measurement.
/// Example: `benchmarkDataPipeline(imageSize: 64, samples: 200).generationImagesPerSecond`
public func benchmarkDataPipeline(imageSize: Int = 64, samples: Int = 200) -> DataBenchmarkResult {
    let clock = ContinuousClock()
    let tasks = MiniTask.evaluation
    var generated: [RGBImage] = []
    let genTime = clock.measure {
        for i in 0..<samples {
            generated.append(MiniDataset.sample(tasks[i % tasks.count], split: .train, index: i, imageSize: imageSize).image)
        }
    }
    let big = imageSize * 3 / 2
    let pngs = generated.prefix(32).map { (try? $0.resizedLikePIL(width: big, height: big).encodePNG()) ?? [] }
    let config = CLIPPreprocessorConfig(imageSize: imageSize)
    var checksum: Float = 0
    let decodeTime = clock.measure {
        for i in 0..<samples {
            if let image = try? RGBImage.decode(pngs[i % pngs.count]) { checksum += config.preprocess(image)[0] }
        }
    }
    let decoded = pngs.compactMap { try? RGBImage.decode($0) }
    let preTime = clock.measure {
        for i in 0..<samples { checksum += config.preprocess(decoded[i % decoded.count])[1] }
    }
    precondition(checksum.isFinite)
    func rate(_ d: Duration) -> Double {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        return Double(samples) / max(s, 1e-9)
    }
    return DataBenchmarkResult(imageSize: imageSize, samples: samples, generationImagesPerSecond: rate(genTime),
                               decodePreprocessImagesPerSecond: rate(decodeTime), preprocessImagesPerSecond: rate(preTime))
}
