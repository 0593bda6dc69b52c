// Image+JPEG: JPEG decode through libjpeg(-turbo). The setjmp that recovers from
// libjpeg's fatal errors lives in the CJPEGSafe C target; this is the only file
// that calls it.
import CJPEGSafe

extension RGBImage {
    /// Decodes baseline or progressive JPEG bytes (grey, YCbCr or CMYK) into 8-bit RGB
    /// with libjpeg's defaults (islow DCT, fancy upsampling), as PIL does.
    public static func decodeJPEG(_ data: [UInt8], name: String = "<memory>") throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>? = nil
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = data.withUnsafeBufferPointer { bytes in
            message.withUnsafeMutableBufferPointer { text in
                peftlab_jpeg_decode_rgb(bytes.baseAddress, bytes.count, RGBImage.maximumPixels, &pixels, &width, &height,
                                        text.baseAddress, text.count)
            }
        }
        guard status == 0, let buffer = pixels else {
            let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                                as: UTF8.self)
            throw ImageError.corrupt(file: name, format: "JPEG", reason: reason.isEmpty ? "libjpeg error" : reason)
        }
        defer { peftlab_jpeg_free(buffer) }
        let count = Int(width) * Int(height) * 3
        return RGBImage(width: Int(width), height: Int(height),
                        pixels: Array(UnsafeBufferPointer(start: buffer, count: count)))
    }
}
