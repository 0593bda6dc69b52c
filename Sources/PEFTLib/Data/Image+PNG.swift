// Image+PNG: PNG decode and encode through libpng's simplified API (png_image_*),
// which catches libpng's longjmp errors internally and reports them in `message`.
// The only file that imports CPNG.
import CPNG

extension RGBImage {
    /// Decodes PNG bytes (any bit depth, palette, grey or alpha; alpha is dropped,
    /// as PIL's `convert("RGB")` does) into 8-bit RGB.
    public static func decodePNG(_ data: [UInt8], name: String = "<memory>") throws -> RGBImage {
        // libpng keeps a pointer to the input between begin and finish: both run in one closure.
        try data.withUnsafeBytes { raw in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw ImageError.corrupt(file: name, format: "PNG", reason: pngMessage(&image))
            }
            defer { png_image_free(&image) }
            image.format = png_uint_32(PNG_FORMAT_RGB)
            let width = Int(image.width), height = Int(image.height)
            try RGBImage.requireDecodable(width: width, height: height, file: name, format: "PNG")
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            let finished = pixels.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, png_int_32(width * 3), nil)
            }
            guard finished != 0, width > 0, height > 0 else {
                throw ImageError.corrupt(file: name, format: "PNG", reason: pngMessage(&image))
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    /// Encodes the image as an 8-bit RGB PNG.
    public func encodePNG() throws -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_RGB)
        var size = 0
        // First call measures, second writes.
        let measured = pixels.withUnsafeBytes { raw in
            png_image_write_to_memory(&image, nil, &size, 0, raw.baseAddress, png_int_32(width * 3), nil)
        }
        guard measured != 0, size > 0 else {
            defer { png_image_free(&image) }
            throw ImageError.encodeFailed(file: "<memory>", reason: RGBImage.pngMessage(&image))
        }
        var out = [UInt8](repeating: 0, count: size)
        let written = pixels.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, raw.baseAddress,
                                          png_int_32(width * 3), nil)
            }
        }
        defer { png_image_free(&image) }
        guard written != 0 else {
            throw ImageError.encodeFailed(file: "<memory>", reason: RGBImage.pngMessage(&image))
        }
        return Array(out.prefix(size))
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            let text = String(decoding: bytes, as: UTF8.self)
            return text.isEmpty ? "libpng reported an error" : text
        }
    }
}
