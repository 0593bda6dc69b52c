// Image: an 8-bit RGB raster, the one image type of PEFTLib's data pipeline.
// Decoders (Image+PNG.swift, Image+JPEG.swift) produce it, the CLIP preprocessor
// consumes it, and the mini suite draws into it.
import Foundation

/// An 8-bit RGB image, row-major, three bytes per pixel, no padding.
public struct RGBImage: Sendable, Equatable, Hashable {
    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes: R, G, B of pixel (0, 0), then (1, 0), …
    public var pixels: [UInt8]

    /// An image filled with one colour.
    public init(width: Int, height: Int, fill: RGB = RGB(0, 0, 0)) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)×\(height)")
        self.width = width
        self.height = height
        var buffer = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            buffer[3 * i] = fill.r; buffer[3 * i + 1] = fill.g; buffer[3 * i + 2] = fill.b
        }
        self.pixels = buffer
    }

    /// An image over existing bytes; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3,
                     "RGBImage needs \(width)×\(height)×3 bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The colour at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = 3 * (y * width + x)
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// The rectangle `x..<x+width`, `y..<y+height`, which must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "crop \(w)×\(h) at (\(x), \(y)) outside \(width)×\(height)")
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for row in 0..<h {
            let src = 3 * ((y + row) * width + x)
            out.replaceSubrange((3 * row * w)..<(3 * (row + 1) * w), with: pixels[src..<(src + 3 * w)])
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Images laid out in a grid of `columns`, separated by `gap` pixels of `background`;
    /// all tiles are placed at the top-left of cells as large as the largest tile.
    public static func grid(_ tiles: [RGBImage], columns: Int, gap: Int = 2,
                            background: RGB = RGB(255, 255, 255)) -> RGBImage {
        precondition(!tiles.isEmpty && columns > 0, "grid needs tiles and columns")
        let cellW = tiles.map(\.width).max()!, cellH = tiles.map(\.height).max()!
        let rows = (tiles.count + columns - 1) / columns
        let cols = min(columns, tiles.count)
        var out = RGBImage(width: cols * cellW + (cols + 1) * gap,
                           height: rows * cellH + (rows + 1) * gap, fill: background)
        for (n, tile) in tiles.enumerated() {
            let ox = gap + (n % columns) * (cellW + gap), oy = gap + (n / columns) * (cellH + gap)
            for y in 0..<tile.height {
                let src = 3 * y * tile.width, dst = 3 * ((oy + y) * out.width + ox)
                out.pixels.replaceSubrange(dst..<(dst + 3 * tile.width),
                                           with: tile.pixels[src..<(src + 3 * tile.width)])
            }
        }
        return out
    }
}

/// An 8-bit RGB colour.
public struct RGB: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
}

/// Why an image could not be read or written; every case names the file (or "<memory>").
extension RGBImage {
    /// The most pixels a decoded image may have (Pillow's `MAX_IMAGE_PIXELS`, about 256 MB of
    /// RGB): a small file whose header claims more is refused before anything is allocated.
    public static let maximumPixels = 89_478_485

    /// Refuses dimensions beyond `maximumPixels`, naming the file.
    static func requireDecodable(width: Int, height: Int, file: String, format: String) throws {
        if width.multipliedReportingOverflow(by: height).partialValue > maximumPixels || width > 1 << 24 || height > 1 << 24 {
            throw ImageError.corrupt(file: file, format: format, reason: "the image is \(width) × \(height) pixels, "
                                     + "more than the \(maximumPixels) pixels allowed (a damaged or hostile header?)")
        }
    }
}

public enum ImageError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case unknownFormat(file: String)
    case corrupt(file: String, format: String, reason: String)
    case encodeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "cannot read image \(file): \(reason)"
        case let .unknownFormat(file): return "\(file) is neither PNG nor JPEG (unknown signature)"
        case let .corrupt(file, format, reason): return "cannot decode \(format) \(file): \(reason)"
        case let .encodeFailed(file, reason): return "cannot write PNG \(file): \(reason)"
        }
    }
}

extension RGBImage {
    /// Decodes PNG or JPEG bytes, chosen by signature. `name` is used in errors.
    public static func decode(_ data: [UInt8], name: String = "<memory>") throws -> RGBImage {
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try decodePNG(data, name: name) }
        if data.starts(with: [0xFF, 0xD8]) { return try decodeJPEG(data, name: name) }
        throw ImageError.unknownFormat(file: name)
    }

    /// Reads and decodes a PNG or JPEG file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw ImageError.unreadable(file: path, reason: exists ? "permission denied or not a file" : "no such file")
        }
        self = try RGBImage.decode([UInt8](data), name: path)
    }

    /// Writes the image as PNG.
    public func writePNG(to path: String) throws {
        try AtomicFiles.write(try encodePNG(), to: path)
    }
}
