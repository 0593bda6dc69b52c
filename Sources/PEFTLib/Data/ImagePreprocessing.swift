// ImagePreprocessing: CLIP's image preprocessing from a Hugging Face
// preprocessor_config.json: resize the shortest side, center crop, rescale,
// normalise, channels first. Follows transformers' CLIPImageProcessor (PIL
// backend): the resize is Pillow's separable antialiased convolution
// (libImaging/Resample.c), bicubic (a = -0.5) by default, with its 8-bit
// fixed-point rounding, so outputs match transformers to float precision.
import Foundation

/// The fields of a CLIP `preprocessor_config.json` that preprocessing uses.
public struct CLIPPreprocessorConfig: Codable, Sendable, Equatable {
    /// Target of the shortest side after resizing (`size.shortest_edge`).
    public var shortestEdge: Int
    /// Height and width of the center crop (`crop_size`).
    public var cropHeight: Int
    public var cropWidth: Int
    public var doResize: Bool
    public var doCenterCrop: Bool
    public var doRescale: Bool
    public var rescaleFactor: Double
    public var doNormalize: Bool
    public var imageMean: [Double]
    public var imageStd: [Double]
    /// PIL resampling filter: 2 bilinear, 3 bicubic (CLIP's default).
    public var resample: Int

    public static let clipMean = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd = [0.26862954, 0.26130258, 0.27577711]

    /// CLIP's defaults at a given image size (224 for the real CLIP; 64 for the mini suite).
    public init(imageSize: Int = 224, resample: Int = 3) {
        shortestEdge = imageSize; cropHeight = imageSize; cropWidth = imageSize
        doResize = true; doCenterCrop = true; doRescale = true; rescaleFactor = 1.0 / 255.0
        doNormalize = true; imageMean = Self.clipMean; imageStd = Self.clipStd
        self.resample = resample
    }

    /// Reads a `preprocessor_config.json`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.missingFile(path)
        }
        do { self = try JSONDecoder().decode(CLIPPreprocessorConfig.self, from: data) } catch {
            throw DataError.malformed(file: path, record: nil, reason: describeDecoding(error))
        }
    }

    enum CodingKeys: String, CodingKey {
        case size, cropSize = "crop_size", doResize = "do_resize", doCenterCrop = "do_center_crop"
        case doRescale = "do_rescale", rescaleFactor = "rescale_factor", doNormalize = "do_normalize"
        case imageMean = "image_mean", imageStd = "image_std", resample
    }

    private struct SizeDict: Codable { var shortest_edge: Int?; var height: Int?; var width: Int? }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        // `size` and `crop_size` are dicts in current configs and plain ints in old ones.
        if let n = try? c.decode(Int.self, forKey: .size) { shortestEdge = n }
        else if let d = try c.decodeIfPresent(SizeDict.self, forKey: .size) {
            guard let n = d.shortest_edge ?? d.height else {
                throw DecodingError.dataCorruptedError(forKey: .size, in: c,
                    debugDescription: "size needs shortest_edge (or height/width)")
            }
            shortestEdge = n
        }
        if let n = try? c.decode(Int.self, forKey: .cropSize) { cropHeight = n; cropWidth = n }
        else if let d = try c.decodeIfPresent(SizeDict.self, forKey: .cropSize) {
            cropHeight = d.height ?? shortestEdge; cropWidth = d.width ?? cropHeight
        } else { cropHeight = shortestEdge; cropWidth = shortestEdge }
        doResize = try c.decodeIfPresent(Bool.self, forKey: .doResize) ?? true
        doCenterCrop = try c.decodeIfPresent(Bool.self, forKey: .doCenterCrop) ?? true
        doRescale = try c.decodeIfPresent(Bool.self, forKey: .doRescale) ?? true
        rescaleFactor = try c.decodeIfPresent(Double.self, forKey: .rescaleFactor) ?? 1.0 / 255.0
        doNormalize = try c.decodeIfPresent(Bool.self, forKey: .doNormalize) ?? true
        imageMean = try c.decodeIfPresent([Double].self, forKey: .imageMean) ?? Self.clipMean
        imageStd = try c.decodeIfPresent([Double].self, forKey: .imageStd) ?? Self.clipStd
        resample = try c.decodeIfPresent(Int.self, forKey: .resample) ?? 3
        guard shortestEdge > 0, cropHeight > 0, cropWidth > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: c, debugDescription: "sizes must be positive")
        }
        guard imageMean.count == 3, imageStd.count == 3, imageStd.allSatisfy({ $0 != 0 }) else {
            throw DecodingError.dataCorruptedError(forKey: .imageStd, in: c,
                debugDescription: "image_mean and image_std need 3 values, std nonzero")
        }
        guard resample == 2 || resample == 3 else {
            throw DecodingError.dataCorruptedError(forKey: .resample, in: c,
                debugDescription: "resample \(resample) unsupported (2 bilinear, 3 bicubic)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(SizeDict(shortest_edge: shortestEdge), forKey: .size)
        try c.encode(SizeDict(height: cropHeight, width: cropWidth), forKey: .cropSize)
        try c.encode(doResize, forKey: .doResize); try c.encode(doCenterCrop, forKey: .doCenterCrop)
        try c.encode(doRescale, forKey: .doRescale); try c.encode(rescaleFactor, forKey: .rescaleFactor)
        try c.encode(doNormalize, forKey: .doNormalize)
        try c.encode(imageMean, forKey: .imageMean); try c.encode(imageStd, forKey: .imageStd)
        try c.encode(resample, forKey: .resample)
    }
}

extension CLIPPreprocessorConfig {
    /// The image as CLIP's input: `[3 * cropHeight * cropWidth]` floats, channels first. // (3, H, W)
    public func preprocess(_ image: RGBImage) -> [Float] {
        var img = image
        if doResize {
            let (h, w) = resizedSize(height: image.height, width: image.width)
            img = img.resizedLikePIL(width: w, height: h, bicubic: resample == 3)
        }
        let outH = doCenterCrop ? cropHeight : img.height, outW = doCenterCrop ? cropWidth : img.width
        // HF center_crop: top = (H - h) // 2 (floor), zero padding centred with ceil when the image is smaller.
        let padTop = max(0, Int((Double(outH - img.height) / 2).rounded(.up)))
        let padLeft = max(0, Int((Double(outW - img.width) / 2).rounded(.up)))
        let top = Int((Double(img.height - outH) / 2).rounded(.down)) + padTop
        let left = Int((Double(img.width - outW) / 2).rounded(.down)) + padLeft
        var out = [Float](repeating: 0, count: 3 * outH * outW)
        let scale = doRescale ? rescaleFactor : 1
        for c in 0..<3 {
            let mean = doNormalize ? imageMean[c] : 0, std = doNormalize ? imageStd[c] : 1
            for y in 0..<outH {
                for x in 0..<outW {
                    let sy = top + y - padTop, sx = left + x - padLeft
                    var v = 0.0
                    if sy >= 0, sy < img.height, sx >= 0, sx < img.width {
                        v = Double(img.pixels[3 * (sy * img.width + sx) + c])
                    }
                    // transformers rescales in float64, then normalises in float32.
                    let rescaled = Float(v * scale)
                    out[(c * outH + y) * outW + x] = (rescaled - Float(mean)) / Float(std)
                }
            }
        }
        return out
    }

    /// Images as CLIP's input, (N, 3, H, W): (cropHeight, cropWidth) with the center crop on.
    /// - Throws: for no images, or images whose outputs differ in size (center crop off).
    public func pixelValues(_ images: [RGBImage]) throws -> Tensor {
        let sizes = images.map(outputSize)
        guard let (h, w) = sizes.first, sizes.allSatisfy({ $0 == (h, w) }) else {
            throw DataError.malformed(file: "<images>", record: nil,
                                      reason: "a batch needs at least one image, all preprocessed to one size")
        }
        return try Tensor(shape: [images.count, 3, h, w], values: Array(images.map(preprocess).joined()))
    }

    /// (height, width) of `preprocess`'s output for an image.
    public func outputSize(_ image: RGBImage) -> (height: Int, width: Int) {
        if doCenterCrop { return (cropHeight, cropWidth) }
        return doResize ? resizedSize(height: image.height, width: image.width) : (image.height, image.width)
    }

    /// The (height, width) after the shortest-side resize (transformers' get_resize_output_image_size).
    public func resizedSize(height: Int, width: Int) -> (Int, Int) {
        let short = min(height, width), long = max(height, width)
        let newLong = Int(Double(shortestEdge) * Double(long) / Double(short))
        return width <= height ? (newLong, shortestEdge) : (shortestEdge, newLong)
    }
}

// MARK: - Pillow-compatible resampling

extension RGBImage {
    /// Resizes as Pillow's `Image.resize` does for RGB images: separable, antialiased
    /// (the kernel widens by the downscale factor), 22-bit fixed-point coefficients,
    /// horizontal pass then vertical pass, each rounded and clipped to 8 bits.
    public func resizedLikePIL(width newWidth: Int, height newHeight: Int, bicubic: Bool = true) -> RGBImage {
        if newWidth == width && newHeight == height { return self }
        let filter: @Sendable (Double) -> Double
        if bicubic { filter = pilBicubic } else { filter = pilTriangle }
        let support = bicubic ? 2.0 : 1.0
        var img = self
        if newWidth != width {
            let (bounds, kk, ksize) = pilCoefficients(inSize: width, outSize: newWidth, support: support, filter: filter)
            var out = [UInt8](repeating: 0, count: newWidth * height * 3)
            img.pixels.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    for x in 0..<newWidth {
                        let xmin = bounds[2 * x], n = bounds[2 * x + 1]
                        var s0 = pilHalf, s1 = pilHalf, s2 = pilHalf
                        for k in 0..<n {
                            let w = kk[x * ksize + k], p = 3 * (y * width + xmin + k)
                            s0 += Int32(src[p]) &* w; s1 += Int32(src[p + 1]) &* w; s2 += Int32(src[p + 2]) &* w
                        }
                        let o = 3 * (y * newWidth + x)
                        out[o] = pilClip8(s0); out[o + 1] = pilClip8(s1); out[o + 2] = pilClip8(s2)
                    }
                }
            }
            img = RGBImage(width: newWidth, height: height, pixels: out)
        }
        if newHeight != height {
            let (bounds, kk, ksize) = pilCoefficients(inSize: height, outSize: newHeight, support: support, filter: filter)
            var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
            let w0 = img.width
            img.pixels.withUnsafeBufferPointer { src in
                for y in 0..<newHeight {
                    let ymin = bounds[2 * y], n = bounds[2 * y + 1]
                    for x in 0..<w0 {
                        var s0 = pilHalf, s1 = pilHalf, s2 = pilHalf
                        for k in 0..<n {
                            let w = kk[y * ksize + k], p = 3 * ((ymin + k) * w0 + x)
                            s0 += Int32(src[p]) &* w; s1 += Int32(src[p + 1]) &* w; s2 += Int32(src[p + 2]) &* w
                        }
                        let o = 3 * (y * w0 + x)
                        out[o] = pilClip8(s0); out[o + 1] = pilClip8(s1); out[o + 2] = pilClip8(s2)
                    }
                }
            }
            img = RGBImage(width: newWidth, height: newHeight, pixels: out)
        }
        return img
    }
}

private let pilPrecisionBits: Int32 = 32 - 8 - 2
private let pilHalf: Int32 = 1 << (pilPrecisionBits - 1)

private func pilClip8(_ v: Int32) -> UInt8 {
    if v >= (1 << pilPrecisionBits) << 8 { return 255 }
    if v <= 0 { return 0 }
    return UInt8(v >> pilPrecisionBits)
}

private func pilBicubic(_ t: Double) -> Double {
    let a = -0.5, x = abs(t)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
}

private func pilTriangle(_ t: Double) -> Double {
    let x = abs(t)
    return x < 1 ? 1 - x : 0
}

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc: per output index, first input
/// index and count (`bounds`), and fixed-point weights, `ksize` per output.
private func pilCoefficients(inSize: Int, outSize: Int, support filterSupport: Double,
                             filter: (Double) -> Double) -> ([Int], [Int32], Int) {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1)
    let support = filterSupport * filterScale
    let ksize = Int(support.rounded(.up)) * 2 + 1
    var bounds = [Int](repeating: 0, count: 2 * outSize)
    var kk = [Int32](repeating: 0, count: outSize * ksize)
    var weights = [Double](repeating: 0, count: ksize)
    for xx in 0..<outSize {
        let center = (Double(xx) + 0.5) * scale
        let ss = 1 / filterScale
        let xmin = max(0, Int(center - support + 0.5))
        let xmax = min(inSize, Int(center + support + 0.5)) - xmin
        var ww = 0.0
        for x in 0..<xmax {
            let w = filter((Double(x + xmin) - center + 0.5) * ss)
            weights[x] = w; ww += w
        }
        for x in 0..<xmax {
            let w = ww != 0 ? weights[x] / ww : weights[x]
            let f = w * Double(1 << pilPrecisionBits)
            kk[xx * ksize + x] = Int32(w < 0 ? (-0.5 + f) : (0.5 + f))
        }
        bounds[2 * xx] = xmin; bounds[2 * xx + 1] = xmax
    }
    return (bounds, kk, ksize)
}
