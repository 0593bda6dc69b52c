// SceneDrawing: raster primitives on RGBImage and the drawings of the mini
// suite's objects, each described in unit coordinates (u, v in [-1, 1], v down)
// around the object's centre, so the same icon draws at any size.
import Foundation

extension RGBImage {
    /// Fills the half-open rectangle [x0, x1) × [y0, y1), clipped to the image.
    mutating func fillRect(x0: Int, y0: Int, x1: Int, y1: Int, colour: RGB) {
        let xa = max(0, x0), xb = min(width, x1), ya = max(0, y0), yb = min(height, y1)
        guard xa < xb, ya < yb else { return }
        for y in ya..<yb {
            for x in xa..<xb { self[x, y] = colour }
        }
    }

    /// Paints every pixel whose centre, in the object's unit coordinates, satisfies `inside`.
    mutating func paint(centreX cx: Double, centreY cy: Double, half: Double, colour: RGB,
                        _ inside: (Double, Double) -> Bool) {
        let x0 = max(0, Int((cx - half).rounded(.down))), x1 = min(width - 1, Int((cx + half).rounded(.up)))
        let y0 = max(0, Int((cy - half).rounded(.down))), y1 = min(height - 1, Int((cy + half).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 where inside((Double(x) + 0.5 - cx) / half, (Double(y) + 0.5 - cy) / half) {
                self[x, y] = colour
            }
        }
    }
}

/// Point in polygon (even-odd rule).
func insidePolygon(_ u: Double, _ v: Double, _ p: [(Double, Double)]) -> Bool {
    var inside = false
    var j = p.count - 1
    for i in 0..<p.count {
        let (xi, yi) = p[i], (xj, yj) = p[j]
        if (yi > v) != (yj > v), u < (xj - xi) * (v - yi) / (yj - yi) + xi { inside.toggle() }
        j = i
    }
    return inside
}

private func disc(_ u: Double, _ v: Double, _ cu: Double, _ cv: Double, _ r: Double) -> Bool {
    (u - cu) * (u - cu) + (v - cv) * (v - cv) <= r * r
}

private func box(_ u: Double, _ v: Double, _ u0: Double, _ u1: Double, _ v0: Double, _ v1: Double) -> Bool {
    u >= u0 && u <= u1 && v >= v0 && v <= v1
}

private let starPolygon: [(Double, Double)] = (0..<10).map { k in
    let r = k % 2 == 0 ? 0.98 : 0.42, a = -Double.pi / 2 + Double(k) * Double.pi / 5
    return (r * cos(a), r * sin(a) + 0.06)
}

let sceneBrown = RGB(120, 75, 40)
let sceneLeafGreen = RGB(60, 150, 50)
let sceneDark = RGB(35, 35, 40)

private func mixed(_ c: RGB, _ d: RGB, _ t: Double) -> RGB {
    func m(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - t) + Double(b) * t).rounded()) }
    return RGB(m(c.r, d.r), m(c.g, d.g), m(c.b, d.b))
}

extension RGBImage {
    /// Draws one object of the mini suite centred at (cx, cy), `half` pixels from centre to edge.
    mutating func draw(_ kind: MiniObject, colour c: RGB, centreX cx: Double, centreY cy: Double, half h: Double) {
        func layer(_ colour: RGB, _ inside: (Double, Double) -> Bool) {
            paint(centreX: cx, centreY: cy, half: h, colour: colour, inside)
        }
        switch kind {
        case .circle: layer(c) { disc($0, $1, 0, 0, 0.9) }
        case .square: layer(c) { box($0, $1, -0.78, 0.78, -0.78, 0.78) }
        case .triangle: layer(c) { insidePolygon($0, $1, [(0, -0.92), (0.95, 0.8), (-0.95, 0.8)]) }
        case .diamond: layer(c) { abs($0) * 0.85 + abs($1) * 0.72 <= 0.72 }
        case .star: layer(c) { insidePolygon($0, $1, starPolygon) }
        case .heart:
            layer(c) { u, v in
                disc(u, v, -0.42, -0.3, 0.47) || disc(u, v, 0.42, -0.3, 0.47)
                    || insidePolygon(u, v, [(-0.88, -0.15), (0.88, -0.15), (0, 0.9)])
            }
        case .cup:
            layer(c) { u, v in
                box(u, v, -0.65, 0.35, -0.55, 0.8)
                    || (u > 0.3 && disc(u, v, 0.42, 0.1, 0.42) && !disc(u, v, 0.42, 0.1, 0.2))
            }
            layer(mixed(c, sceneDark, 0.4)) { box($0, $1, -0.65, 0.35, -0.55, -0.42) }
        case .plate:
            layer(c) { u, v in (u / 0.97) * (u / 0.97) + (v / 0.6) * (v / 0.6) <= 1 }
            layer(mixed(c, RGB(255, 255, 255), 0.55)) { u, v in (u / 0.62) * (u / 0.62) + (v / 0.36) * (v / 0.36) <= 1 }
        case .apple:
            layer(sceneBrown) { box($0, $1, -0.08, 0.08, -0.92, -0.45) }
            layer(sceneLeafGreen) { u, v in ((u - 0.3) / 0.28) * ((u - 0.3) / 0.28) + ((v + 0.72) / 0.14) * ((v + 0.72) / 0.14) <= 1 }
            layer(c) { u, v in disc(u, v, -0.28, 0.15, 0.58) || disc(u, v, 0.28, 0.15, 0.58) }
        case .tree:
            layer(sceneBrown) { box($0, $1, -0.16, 0.16, 0.2, 0.97) }
            layer(c) { u, v in disc(u, v, 0, -0.3, 0.62) || disc(u, v, -0.42, 0.0, 0.4) || disc(u, v, 0.42, 0.0, 0.4) }
        case .house:
            layer(c) { box($0, $1, -0.72, 0.72, -0.08, 0.92) }
            layer(mixed(c, sceneDark, 0.5)) { insidePolygon($0, $1, [(-0.95, -0.05), (0.95, -0.05), (0, -0.95)]) }
            layer(sceneDark) { box($0, $1, -0.17, 0.17, 0.38, 0.92) }
        case .sun:
            layer(c) { u, v in
                let r = (u * u + v * v).squareRoot()
                if r <= 0.5 { return true }
                guard r >= 0.64 && r <= 0.98 else { return false }
                let a = atan2(v, u) / (Double.pi / 4)
                return abs(a - a.rounded()) < 0.16
            }
        case .moon: layer(c) { disc($0, $1, 0, 0, 0.88) && !disc($0, $1, 0.42, -0.22, 0.7) }
        case .car:
            layer(c) { u, v in box(u, v, -0.97, 0.97, -0.12, 0.48) || box(u, v, -0.52, 0.45, -0.6, -0.1) }
            layer(mixed(c, RGB(255, 255, 255), 0.6)) { box($0, $1, -0.4, 0.33, -0.48, -0.16) }
            layer(sceneDark) { disc($0, $1, -0.55, 0.55, 0.28) || disc($0, $1, 0.55, 0.55, 0.28) }
        case .fish:
            layer(c) { u, v in
                ((u + 0.15) / 0.66) * ((u + 0.15) / 0.66) + (v / 0.44) * (v / 0.44) <= 1
                    || insidePolygon(u, v, [(0.4, 0), (0.97, -0.52), (0.97, 0.52)])
            }
            layer(sceneDark) { disc($0, $1, -0.5, -0.1, 0.09) }
        case .key:
            layer(c) { u, v in
                (disc(u, v, -0.52, 0, 0.44) && !disc(u, v, -0.52, 0, 0.2))
                    || box(u, v, -0.12, 0.97, -0.1, 0.1) || box(u, v, 0.55, 0.68, 0.1, 0.38)
                    || box(u, v, 0.8, 0.94, 0.1, 0.3)
            }
        case .umbrella:
            // A flat dome with a scalloped rim over a long hooked handle.
            layer(c) { u, v in
                (u / 0.97) * (u / 0.97) + ((v + 0.1) / 0.62) * ((v + 0.1) / 0.62) <= 1 && v <= -0.1
                    || (v <= 0.02 && v > -0.1 && (disc(u, v, -0.73, -0.1, 0.24) || disc(u, v, -0.24, -0.1, 0.24)
                        || disc(u, v, 0.24, -0.1, 0.24) || disc(u, v, 0.73, -0.1, 0.24)))
            }
            layer(sceneDark) { u, v in
                box(u, v, -0.07, 0.07, -0.1, 0.78)
                    || (v >= 0.74 && disc(u, v, -0.22, 0.74, 0.29) && !disc(u, v, -0.22, 0.74, 0.15))
            }
        }
    }

    /// Inks every background pixel that touches a drawn one (4-neighbours): a one-pixel
    /// outline around every object.
    mutating func outline(background: RGB, ink: RGB) {
        let source = self
        for y in 0..<height {
            for x in 0..<width where source[x, y] == background {
                let touches = (x > 0 && source[x - 1, y] != background) || (x + 1 < width && source[x + 1, y] != background)
                    || (y > 0 && source[x, y - 1] != background) || (y + 1 < height && source[x, y + 1] != background)
                if touches { self[x, y] = ink }
            }
        }
    }

    /// Adds noise uniform in ±`amplitude` to every channel.
    mutating func addNoise(amplitude: Int, rng: inout SceneRandom) {
        for i in 0..<pixels.count {
            let v = Int(pixels[i]) + rng.int(-amplitude...amplitude)
            pixels[i] = UInt8(min(255, max(0, v)))
        }
    }

    /// A box blur of the given radius (separable, edges clamped).
    func boxBlurred(radius: Int) -> RGBImage {
        guard radius > 0 else { return self }
        var out = self
        let n = Double(2 * radius + 1)
        for pass in 0..<2 {
            let src = out
            for y in 0..<height {
                for x in 0..<width {
                    var s = (0.0, 0.0, 0.0)
                    for k in -radius...radius {
                        let c = pass == 0 ? src[min(width - 1, max(0, x + k)), y] : src[x, min(height - 1, max(0, y + k))]
                        s.0 += Double(c.r); s.1 += Double(c.g); s.2 += Double(c.b)
                    }
                    out[x, y] = RGB(UInt8((s.0 / n).rounded()), UInt8((s.1 / n).rounded()), UInt8((s.2 / n).rounded()))
                }
            }
        }
        return out
    }

    /// Every channel multiplied by `factor` (0…1 darkens).
    mutating func scaleBrightness(_ factor: Double) {
        for i in 0..<pixels.count { pixels[i] = UInt8(min(255, (Double(pixels[i]) * factor).rounded())) }
    }
}
